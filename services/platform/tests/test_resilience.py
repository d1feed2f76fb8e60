"""Background work never dies silently: a consumer survives a failure while settling a message,
and a crashed service loop is restarted."""

from __future__ import annotations

import asyncio
import uuid

from rapport_local.procs import free_port
from rapport_platform.app import ServiceApp
from rapport_platform.bus import Bus, Consumer, Event
from rapport_platform.settings import GrpcServiceSettings
from rapport_platform.store import Store

from conftest import unique_db
from tests.waiting import eventually


async def _until(pred, timeout=30.0):
    await eventually(pred, timeout=timeout)


async def test_consumer_survives_nats_vanishing_while_it_dead_letters(deps):
    bus = Bus(deps.nats_url, source="rapport/test")
    await bus.start()
    await bus.wait_connected()
    domain = f"v{uuid.uuid4().hex[:8]}"
    subject = f"rapport.{domain}.thing"
    seen: list[Event] = []

    async def handler(event: Event) -> None:
        seen.append(event)
        if len(seen) == 2:
            deps.nats.kill()  # the last delivery fails and the DLQ publish cannot reach NATS
        raise RuntimeError("poison")

    stop = asyncio.Event()
    consumer = Consumer(
        bus,
        durable="fragile",
        subject=subject,
        handler=handler,
        max_deliver=2,
        backoff=(0.05,),
        fetch_timeout=0.2,
        ack_wait=1.0,
    )
    task = asyncio.create_task(consumer.run(stop))
    await bus.publish(subject, b"x")
    try:
        await _until(lambda: len(seen) >= 2)
    finally:
        deps.nats.restart()
    # Back online, the unsettled message comes again and now reaches the dead-letter subject.
    dead: list[Event] = []

    async def keep(event: Event) -> None:
        dead.append(event)

    dlq = Consumer(
        bus,
        durable=f"dlq-{domain}",
        subject=f"rapport.dlq.RAPPORT_{domain.upper()}.fragile",
        handler=keep,
        fetch_timeout=0.2,
    )
    dlq_task = asyncio.create_task(dlq.run(stop))
    await _until(lambda: len(dead) == 1)
    # The loop lived through the outage: it is what redelivered the message and dead-lettered it.
    assert not task.done(), "the consumer loop died"
    stop.set()
    await asyncio.gather(task, dlq_task)
    await bus.close()


async def test_a_crashed_background_loop_is_restarted(deps):
    runs: list[int] = []

    async def flaky(stop: asyncio.Event) -> None:
        runs.append(1)
        if len(runs) == 1:
            raise RuntimeError("first run crashes")
        await stop.wait()

    settings = GrpcServiceSettings(
        grpc_port=free_port(),
        mongo_uri=deps.mongo_uri,
        mongo_db=unique_db("loops"),
        nats_url=deps.nats_url,
    )
    app = ServiceApp(
        "loops",
        settings,
        store=Store(settings.mongo_uri, settings.mongo_db),
        bus=Bus(settings.nats_url, source="rapport/loops"),
        loops=[flaky],
    )
    app.serve([])
    await app.start()
    try:
        await _until(lambda: len(runs) == 2)
    finally:
        await app.stop(0)
