"""The metrics the SRE dashboards are built on are really exported by the services."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from rapport_platform.bus import Bus, Consumer

from tests.deploy.test_dashboards import METRICS
from tests.scheduling.helpers import on_grid
from tests.waiting import eventually

NOT_YET = {"rapport.sessions.active"}  # exported by the session relay, which is not built yet


def exported(telemetry) -> set[str]:
    return {
        m.name
        for rm in telemetry.metrics.get_metrics_data().resource_metrics
        for sm in rm.scope_metrics
        for m in sm.metrics
    }


async def test_every_dashboard_metric_is_exported(practice, stack, telemetry):
    # HTTP, gRPC, Vault (signing at sign-in), the outbox and a booking.
    t = await practice.therapist()
    c = await practice.client()
    start = on_grid(datetime.now(UTC) + timedelta(days=3))
    assert (await practice.book(c, t, start)).status_code == 201
    # A consumer that fails: redelivery, then the dead-letter subject; its lag is observed.
    bus = Bus(stack.deps.nats_url, source="rapport/test")
    await bus.start()
    await bus.wait_connected()
    stop = asyncio.Event()

    async def failing(event):
        raise RuntimeError("poison")

    subject = f"rapport.m{uuid.uuid4().hex[:8]}.thing"
    consumer = Consumer(
        bus,
        durable="metrics",
        subject=subject,
        handler=failing,
        max_deliver=2,
        backoff=(0.05,),
        fetch_timeout=0.2,
    )
    task = asyncio.create_task(consumer.run(stop))
    await bus.publish(subject, b"x")
    await eventually(
        lambda: {"rapport.bus.dead_letters", "rapport.bus.redeliveries"} <= exported(telemetry),
        what="a redelivery and a dead letter",
    )
    stop.set()
    await task
    await bus.close()
    missing = set(METRICS) - NOT_YET - exported(telemetry)
    assert not missing, f"dashboards use metrics nobody exports: {sorted(missing)}"
