"""Bounded work per request (issue 13, item 3): time off is checked by binary search, one
ListSlots call computes and returns at most MAX_SLOTS slots (the caller pages on), the slot
computation runs off the event loop, and a deeply nested cursor is INVALID_ARGUMENT."""

from __future__ import annotations

import base64
import dataclasses
import threading
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from rapport.scheduling.v1 import scheduling_pb2 as pb
from rapport_platform.errors import InvalidArgument
from rapport_platform.rpc import bearer
from rapport_scheduling import domain

from tests.scheduling.helpers import ALL_WEEK, on_grid, parse

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def ts(value: datetime) -> Timestamp:
    out = Timestamp()
    out.FromDatetime(value)
    return out


def heavy_availability() -> domain.Availability:
    """Around the clock, 5-minute steps, a year's horizon and 500 periods of time off."""
    offs = [
        (NOW + timedelta(hours=7 * i), NOW + timedelta(hours=7 * i, minutes=30)) for i in range(500)
    ]
    return domain.new_availability(
        therapist_id="t1",
        timezone="UTC",
        weekly=[(d, "00:00", "24:00") for d in range(7)],
        overrides=[],
        time_off=offs,
        buffer_before_minutes=0,
        buffer_after_minutes=0,
        min_notice_minutes=0,
        horizon_days=365,
        slot_step_minutes=5,
        now=NOW,
    )


class Counted(tuple):
    """A tuple that counts how many of its items are looked at."""

    seen = 0

    def __iter__(self):
        for item in super().__iter__():
            Counted.seen += 1
            yield item


def test_time_off_is_looked_at_once_per_request_not_once_per_candidate():
    av = heavy_availability()
    Counted.seen = 0
    counted = dataclasses.replace(av, time_off=Counted(av.time_off))
    starts = list(
        domain.candidate_starts(
            counted, timedelta(minutes=50), NOW, NOW + domain.MAX_SLOT_RANGE, NOW
        )
    )
    assert len(starts) > 5000
    # A scan per candidate start would be 500 x ~8,900 looks.
    assert Counted.seen <= 2 * len(av.time_off)
    # And the answer is the same as checking every period.
    for s in starts[:: len(starts) // 50]:
        assert not any(t.start < s + timedelta(minutes=50) and s < t.end for t in av.time_off)
    assert NOW + timedelta(hours=7) not in starts  # inside the second period


def test_free_slots_stop_after_the_limit():
    av = heavy_availability()
    out = domain.free_slots(
        av, timedelta(minutes=50), NOW, NOW + domain.MAX_SLOT_RANGE, NOW, set(), limit=100
    )
    assert len(out) == 101  # the extra one says "more"
    assert out == sorted(out)


def test_a_deeply_nested_cursor_is_invalid_not_a_crash():
    cursor = base64.urlsafe_b64encode(b"[" * 100_000).decode()
    with pytest.raises(InvalidArgument):
        domain.decode_cursor(cursor)


async def test_a_deeply_nested_cursor_over_grpc_is_invalid_argument(practice, grpc_scheduling):
    c = await practice.client()
    cursor = base64.urlsafe_b64encode(b"[" * 100_000).decode()
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await grpc_scheduling.ListAppointments(
            pb.ListAppointmentsRequest(cursor=cursor), metadata=bearer(c.access)
        )
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_one_slots_call_is_capped_and_the_gateway_pages_on(
    practice, http, grpc_scheduling, monkeypatch
):
    body = practice.availability(
        weekly=ALL_WEEK, slot_step_minutes=5, horizon_days=365, min_notice_minutes=0
    )
    t = await practice.therapist(availability=body)
    c = await practice.client()
    start = on_grid(datetime.now(UTC) + timedelta(days=1))
    end = start + domain.MAX_SLOT_RANGE

    threads: list[threading.Thread] = []
    real = domain.free_slots

    def spy(*args, **kwargs):
        threads.append(threading.current_thread())
        return real(*args, **kwargs)

    monkeypatch.setattr(domain, "free_slots", spy)
    reply = await grpc_scheduling.ListSlots(
        pb.ListSlotsRequest(
            therapist_id=t.user_id,
            session_type="talk-50",
            start_from=ts(start),
            start_before=ts(end),
        ),
        metadata=bearer(c.access),
    )
    # A month of 5-minute steps is ~8,900 slots: one call hands out MAX_SLOTS and says more.
    assert len(reply.slots) == domain.MAX_SLOTS and reply.more
    # The computation ran in a worker thread, not on the event loop's.
    assert threads and all(th is not threading.main_thread() for th in threads)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await grpc_scheduling.ListSlots(
            pb.ListSlotsRequest(
                therapist_id=t.user_id,
                session_type="talk-50",
                start_from=ts(start),
                start_before=ts(end),
                limit=domain.MAX_SLOTS + 1,
            ),
            metadata=bearer(c.access),
        )
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT

    # Through the gateway: pages of `limit`, every slot once, in order.
    seen: list[datetime] = []
    cursor = ""
    for _ in range(10):
        params = {
            "from": start.isoformat(),
            "to": (start + timedelta(days=3)).isoformat(),
            "session_type": "talk-50",
            "limit": 300,
        }
        if cursor:
            params["cursor"] = cursor
        r = await http.get(f"/v1/therapists/{t.user_id}/slots", headers=c.h, params=params)
        assert r.status_code == 200, r.text
        seen += [parse(i["start"]) for i in r.json()["items"]]
        cursor = r.json()["next_cursor"]
        if not cursor:
            break
    assert cursor is None
    # Every 5-minute start of the three days (the availability runs on past the range).
    assert seen == sorted(set(seen)) and len(seen) == 3 * 24 * 12
