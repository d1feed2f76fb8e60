"""Wait until the platform has finished reacting to what was done so far.

A call's effects do not all land before its response: the booked event is published after the
commit and billing writes the invoice when it consumes it. A test that compares the databases
before and after other calls ("a refused call changed nothing") must first let those effects
land, or a late invoice looks like a write by the refused caller."""

from __future__ import annotations

import nats
from pymongo import AsyncMongoClient
from rapport_platform.bus import Consumer

from tests.waiting import eventually


async def settled(
    mongo: AsyncMongoClient,
    databases: list[str],
    consumers: list[Consumer],
    nats_url: str,
    timeout: float = 120,
) -> None:
    """No outbox record left to publish in any of `databases`, and each of the live services'
    `consumers` (ServiceApp.consumers) has every event of its stream delivered and acknowledged.
    Only live consumers count: a stopped test's durable keeps its backlog forever."""
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()

        last: list[object] = [None]

        async def quiet() -> bool:
            # Consumers, then outboxes: a handler commits its own outbox record before it acks.
            before, last[0] = last[0], None
            seen = []
            for c in consumers:
                info = await js.consumer_info(c.stream, c.durable)
                assert not (info.num_pending or info.num_ack_pending), f"{c.durable} behind"
                seen.append(info.delivered.stream_seq)
            for name in databases:
                pending = await mongo[name]["outbox"].find_one({"pending": True}, {"_id": 1})
                assert pending is None, f"{name}: an outbox record is not published yet"
            # Twice quiet with nothing delivered in between: nothing was in flight in the gap.
            last[0] = seen
            return before == seen

        await eventually(quiet, timeout=timeout, interval=0.05, what="the platform settles")
    finally:
        await nc.close()
