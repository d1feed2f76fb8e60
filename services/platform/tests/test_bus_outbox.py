"""Bus and outbox against a real nats-server and SecantusDB."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from opentelemetry import trace
from opentelemetry.trace import SpanKind
from pymongo.errors import BulkWriteError, DuplicateKeyError
from rapport.events.v1 import envelope_pb2, identity_pb2
from rapport_platform.bus import Bus, Consumer, Event, domain_of, stream_name
from rapport_platform.outbox import INDEXES, Outbox, consume_many, consume_once
from rapport_platform.store import Store

from conftest import Deps, unique_db
from tests.waiting import eventually


async def _caught_up(bus: Bus, subject: str, durable: str) -> bool:
    """The consumer has been given every message of its stream and settled each one: a
    duplicate or a further delivery would have shown by now (instead of sleeping, then counting)."""
    info = await bus.js.consumer_info(stream_name(domain_of(subject)), durable)
    return info.num_pending == 0 and info.num_ack_pending == 0


async def _collect(bus: Bus, subject: str, durable: str, *, fail_times: int = 0, max_deliver=5):
    """Run a consumer that fails its first `fail_times` deliveries; returns (events, stop)."""
    seen: list[Event] = []
    stop = asyncio.Event()

    async def handler(event: Event) -> None:
        seen.append(event)
        if len(seen) <= fail_times:
            raise RuntimeError("boom")

    consumer = Consumer(
        bus,
        durable=durable,
        subject=subject,
        handler=handler,
        max_deliver=max_deliver,
        backoff=(0.05,),
        fetch_timeout=0.2,
    )
    task = asyncio.create_task(consumer.run(stop))
    return seen, stop, task


async def _until(pred, timeout=30.0):
    await eventually(pred, timeout=timeout)


@pytest.fixture
async def bus(deps: Deps):
    b = Bus(deps.nats_url, source="rapport/test")
    await b.start()
    await b.wait_connected()
    yield b
    await b.close()


@pytest.fixture
async def store(deps: Deps):
    s = Store(deps.mongo_uri, unique_db("platform"))
    await s.ensure_indexes(INDEXES)
    yield s
    await s.close()


async def test_publish_carries_cloudevents_headers_and_consumer_joins_the_trace(bus, telemetry):
    domain = f"t{uuid.uuid4().hex[:8]}"
    subject = f"rapport.{domain}.user_registered"
    seen, stop, task = await _collect(bus, subject, "reader")
    tracer = trace.get_tracer("test")
    with tracer.start_as_current_span("request") as root:
        event_id = await bus.publish(subject, identity_pb2.UserRegistered(user_id="u1"))
    await _until(lambda: len(seen) == 1)
    stop.set()
    await task
    event = seen[0]
    assert event.id == event_id and event.headers["Nats-Msg-Id"] == event_id
    assert event.headers["ce-type"] == subject
    assert event.headers["ce-source"] == "rapport/test"
    assert event.headers["ce-specversion"] == "1.0"
    assert event.headers["ce-dataschema"] == "rapport.events.v1.UserRegistered"
    assert event.parse(identity_pb2.UserRegistered).user_id == "u1"
    trace_id = root.get_span_context().trace_id
    consumer_spans = [
        s for s in telemetry.finished(f"{subject} process") if s.kind == SpanKind.CONSUMER
    ]
    producer = telemetry.finished(f"{subject} publish")[0]
    assert consumer_spans[0].context.trace_id == trace_id
    assert consumer_spans[0].parent.span_id == producer.context.span_id


async def test_duplicate_publish_is_dropped_by_jetstream(bus):
    subject = f"rapport.d{uuid.uuid4().hex[:8]}.thing"
    seen, stop, task = await _collect(bus, subject, "reader")
    await bus.publish(subject, b"x", event_id="same")
    await bus.publish(subject, b"x", event_id="same")
    await bus.publish(subject, b"y", event_id="other")
    await _until(lambda: len(seen) == 2)
    await eventually(lambda: _caught_up(bus, subject, "reader"))
    stop.set()
    await task
    assert [e.id for e in seen] == ["same", "other"]


async def test_failed_message_is_redelivered_then_acked(bus):
    subject = f"rapport.r{uuid.uuid4().hex[:8]}.thing"
    seen, stop, task = await _collect(bus, subject, "flaky", fail_times=2)
    await bus.publish(subject, b"x")
    await _until(lambda: len(seen) == 3)
    await eventually(lambda: _caught_up(bus, subject, "flaky"))
    stop.set()
    await task
    assert [e.deliveries for e in seen] == [1, 2, 3]


async def test_poison_message_goes_to_the_dead_letter_subject(bus):
    domain = f"p{uuid.uuid4().hex[:8]}"
    subject = f"rapport.{domain}.thing"
    seen, stop, task = await _collect(bus, subject, "picky", fail_times=99, max_deliver=3)
    dlq_seen, dlq_stop, dlq_task = await _collect(
        bus, f"rapport.dlq.RAPPORT_{domain.upper()}.picky", f"dlq{domain}"
    )
    event_id = await bus.publish(subject, b"poison")
    await _until(lambda: len(dlq_seen) == 1)
    await eventually(lambda: _caught_up(bus, subject, "picky"))
    for s in (stop, dlq_stop):
        s.set()
    await asyncio.gather(task, dlq_task)
    assert len(seen) == 3  # delivered max_deliver times, then given up
    dead = dlq_seen[0].parse(envelope_pb2.DeadLetter)
    assert dead.original_subject == subject and dead.deliveries == 3
    assert dead.data == b"poison" and dead.error_type == "RuntimeError"
    assert dlq_seen[0].headers["ce-id"] == event_id


async def test_outbox_record_commits_with_the_write_and_not_without(store, bus):
    outbox = Outbox(store, bus, service="test")
    subject = f"rapport.o{uuid.uuid4().hex[:8]}.thing"

    async def write(session):
        await store.db.things.insert_one({"_id": "a"}, session=session)
        await outbox.add(session, subject, identity_pb2.UserRegistered(user_id="a"))

    await store.transaction(write)

    async def failing(session):
        await store.db.things.insert_one({"_id": "b"}, session=session)
        await outbox.add(session, subject, identity_pb2.UserRegistered(user_id="b"))
        raise ValueError("domain rule broken after the writes")

    with pytest.raises(ValueError):
        await store.transaction(failing)
    assert await store.db.things.count_documents({}) == 1
    assert await outbox.pending_count() == 1


async def test_outbox_relay_publishes_what_is_pending_after_a_nats_outage(deps, store):
    bus = Bus(deps.nats_url, source="rapport/test")
    await bus.start()
    await bus.wait_connected()
    outbox = Outbox(store, bus, service="test")
    subject = f"rapport.n{uuid.uuid4().hex[:8]}.thing"
    await bus.ensure_domain_stream(subject.split(".")[1])
    deps.nats.kill()
    try:
        for i in range(3):
            await store.transaction(
                lambda s, i=i: outbox.add(s, subject, identity_pb2.UserRegistered(user_id=f"u{i}"))
            )
        assert await outbox.relay_once() == 0  # NATS is down: nothing lost, all still pending
        assert await outbox.pending_count() == 3
    finally:
        deps.nats.restart()
    await bus.wait_connected()
    await _until(lambda: bus.nc.is_connected)
    # A fresh relay (as after a service restart) finds the records and publishes them.
    relay = Outbox(store, bus, service="test")
    published: list[int] = []

    async def all_relayed() -> bool:
        published.append(await relay.relay_once())
        return sum(published) >= 3

    await eventually(all_relayed, interval=0.2, what="the pending records published")
    assert sum(published) == 3 and await relay.pending_count() == 0
    seen, stop, task = await _collect(bus, subject, "after-outage")
    await _until(lambda: len(seen) == 3)
    stop.set()
    await task
    assert sorted(e.parse(identity_pb2.UserRegistered).user_id for e in seen) == ["u0", "u1", "u2"]
    await bus.close()


async def test_redelivered_event_changes_nothing(store):
    async def effect(session):
        await store.db.counters.update_one(
            {"_id": "c"}, {"$inc": {"n": 1}}, upsert=True, session=session
        )
        return "done"

    first = await consume_once(store, "billing", "evt-1", effect)
    again = await consume_once(store, "billing", "evt-1", effect)
    other = await consume_once(store, "billing", "evt-2", effect)
    assert first == (True, "done") and again == (False, None) and other == (True, "done")
    assert (await store.db.counters.find_one({"_id": "c"}))["n"] == 2


async def test_concurrent_deliveries_of_one_event_apply_once(store):
    async def effect(session):
        await store.db.counters.update_one(
            {"_id": "d"}, {"$inc": {"n": 1}}, upsert=True, session=session
        )
        return "done"

    results = await asyncio.gather(
        *(consume_once(store, "billing", "evt-9", effect) for _ in range(6))
    )
    assert sorted(results, key=str) == [(False, None)] * 5 + [(True, "done")]
    assert (await store.db.counters.find_one({"_id": "d"}))["n"] == 1


async def test_duplicate_key_of_the_effect_is_raised_and_nothing_recorded(store):
    await store.db.things.insert_one({"_id": "taken"})

    async def effect(session):
        await store.db.things.insert_one({"_id": "taken"}, session=session)

    with pytest.raises(DuplicateKeyError):
        await consume_once(store, "billing", "evt-10", effect)
    assert await store.db.processed_events.find_one({"_id": "billing:evt-10"}) is None


async def test_transaction_retries_write_conflicts(store):
    await store.db.counters.insert_one({"_id": "x", "n": 0})

    attempts = []

    async def bump(session):
        attempts.append(1)
        doc = await store.db.counters.find_one({"_id": "x"}, session=session)
        await asyncio.sleep(0)  # let the other transactions interleave
        await store.db.counters.update_one(
            {"_id": "x"}, {"$set": {"n": doc["n"] + 1}}, session=session
        )

    await asyncio.gather(*(store.transaction(bump) for _ in range(10)))
    assert (await store.db.counters.find_one({"_id": "x"}))["n"] == 10
    # They really ran at once: some met a write conflict and were retried (one after another,
    # ten attempts would do, and the retry would be untested).
    assert len(attempts) > 10


async def test_a_writer_publishes_its_own_record_after_commit_and_the_relay_is_the_net(store, bus):
    outbox = Outbox(store, bus, service="test")
    subject = f"rapport.w{uuid.uuid4().hex[:8]}.thing"
    await bus.ensure_domain_stream(subject.split(".")[1])
    ids: list[str] = []

    async def write(session, user_id: str) -> None:
        await store.db.things.insert_one({"_id": user_id}, session=session)
        ids.append(
            await outbox.add(
                session,
                subject,
                identity_pb2.UserRegistered(user_id=user_id),
                publish_after_commit=True,
            )
        )

    await store.transaction(lambda s: write(s, "w1"))
    # Leased to its writer: the relay leaves it alone meanwhile.
    assert await outbox.relay_once() == 0
    outbox.publish_committed(ids[-1])

    async def published() -> bool:
        return await outbox.pending_count() == 0

    await eventually(published, what="the writer published its own record")

    # An aborted attempt's record never commits, so it is never published: nothing pending.
    async def aborted(session) -> None:
        await write(session, "w2")
        raise ValueError("rule broken after the writes")

    with pytest.raises(ValueError):
        await store.transaction(aborted)
    assert await outbox.pending_count() == 0

    # A writer that died before publishing: once its lease has run out the relay publishes it.
    await store.transaction(lambda s: write(s, "w3"))
    assert await outbox.relay_once() == 0
    await store.db["outbox"].update_one({"_id": ids[-1]}, {"$set": {"lease_until": _past()}})
    assert await Outbox(store, bus, service="test").relay_once() == 1

    seen, stop, task = await _collect(bus, subject, "own-publish")
    await _until(lambda: len(seen) == 2)
    assert await _caught_up(bus, subject, "own-publish")
    stop.set()
    await task
    assert sorted(e.parse(identity_pb2.UserRegistered).user_id for e in seen) == ["w1", "w3"]


def _past():
    from datetime import UTC, datetime, timedelta

    return datetime.now(UTC) - timedelta(seconds=1)


async def test_a_stopping_relay_publishes_what_was_committed_before_the_stop(store, bus):
    """A rolling restart: a commit wakes the relay and the stop comes at once. The record is
    published and marked before the relay ends, not left for another replica once its lease
    runs out; an idle relay and an idle consumer end at once."""
    outbox = Outbox(store, bus, service="test", poll_interval=30.0)
    subject = f"rapport.s{uuid.uuid4().hex[:8]}.thing"
    await bus.ensure_domain_stream(subject.split(".")[1])
    stop = asyncio.Event()
    relay = asyncio.create_task(outbox.run(stop))
    await asyncio.sleep(0.2)  # the relay's first round found nothing; it waits for a wake-up
    await store.transaction(
        lambda s: outbox.add(s, subject, identity_pb2.UserRegistered(user_id="last"))
    )
    outbox.wake()
    stop.set()
    await asyncio.wait_for(relay, timeout=10)  # not the 30 s poll
    assert await outbox.pending_count() == 0

    seen, halt, task = await _collect(bus, subject, "after-stop")
    await _until(lambda: len(seen) == 1)
    consumer = Consumer(
        bus, durable="idle", subject=subject, handler=lambda e: asyncio.sleep(0), fetch_timeout=30
    )
    idle = asyncio.create_task(consumer.run(halt))
    await asyncio.sleep(0.5)  # waiting in a fetch
    halt.set()
    await asyncio.wait_for(asyncio.gather(task, idle), timeout=10)  # not the 30 s fetch
    assert seen[0].parse(identity_pb2.UserRegistered).user_id == "last"


async def test_consume_many_applies_a_backlog_in_one_transaction_all_or_nothing(store):
    async def effect(session, n: int = 1) -> None:
        await store.db.counts.update_one(
            {"_id": "c"}, {"$inc": {"n": n}}, upsert=True, session=session
        )

    await consume_many(store, "billing", [("m-1", effect), ("m-2", effect)])
    assert (await store.db.counts.find_one({"_id": "c"}))["n"] == 2
    # One of them applied before: the whole batch raises and writes nothing (no record of m-3
    # either); one at a time, m-3 applies and m-2 changes nothing.
    with pytest.raises(BulkWriteError):  # m-2's record: a duplicate key
        await consume_many(store, "billing", [("m-3", effect), ("m-2", effect)])
    assert await store.db.processed_events.find_one({"_id": "billing:m-3"}) is None
    assert (await store.db.counts.find_one({"_id": "c"}))["n"] == 2
    assert (await consume_once(store, "billing", "m-3", effect))[0] is True
    assert (await consume_once(store, "billing", "m-2", effect))[0] is False
    assert (await store.db.counts.find_one({"_id": "c"}))["n"] == 3


class Batching:
    """A handler that applies a fetch's events together, and refuses a batch holding a poison
    event (which then fails on its own, one at a time)."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.single: list[str] = []

    async def __call__(self, event: Event) -> None:
        user = event.parse(identity_pb2.UserRegistered).user_id
        if user == "poison":
            raise RuntimeError("boom")
        self.single.append(user)

    async def many(self, events) -> None:
        users = [e.parse(identity_pb2.UserRegistered).user_id for e in events]
        if "poison" in users:
            raise RuntimeError("not as a batch")
        self.batches.append(users)


async def test_a_batch_handler_gets_a_fetch_at_once_and_a_failed_batch_goes_one_at_a_time(
    bus, telemetry
):
    subject = f"rapport.b{uuid.uuid4().hex[:8]}.user_registered"
    for user in ("u1", "u2", "u3"):
        await bus.publish(subject, identity_pb2.UserRegistered(user_id=user))
    handler = Batching()
    stop = asyncio.Event()
    consumer = Consumer(bus, durable="batcher", subject=subject, handler=handler,
                        max_deliver=2, backoff=(0.05,), fetch_timeout=0.2)  # fmt: skip
    task = asyncio.create_task(consumer.run(stop))
    await _until(lambda: sum(map(len, handler.batches)) == 3)
    assert handler.batches == [["u1", "u2", "u3"]] and handler.single == []
    # Each message of the batch has its own consumer span.
    spans = [s for s in telemetry.finished(f"{subject} process") if s.kind == SpanKind.CONSUMER]
    assert len(spans) == 3 and {s.attributes["messaging.batch.message_count"] for s in spans} == {3}

    stop.set()
    await task
    for user in ("u4", "poison", "u5"):
        await bus.publish(subject, identity_pb2.UserRegistered(user_id=user))
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop))
    await _until(lambda: _caught_up(bus, subject, "batcher"))
    await _until(lambda: {"u4", "u5"} <= set(handler.single))
    stop.set()
    await task
    assert handler.single == ["u4", "u5"]  # the poison one was refused alone, the rest applied
    assert handler.batches == [["u1", "u2", "u3"]]
