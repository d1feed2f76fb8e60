"""No double booking, ever: 50 concurrent overlapping requests through the gateway, of different
durations and start times, find exactly one winner per overlapping set; the rest get 409."""

from __future__ import annotations

import asyncio
import itertools
import random
import uuid
from datetime import UTC, datetime, timedelta

from tests.people import assert_problem
from tests.scheduling.helpers import in_flight_at_once, on_grid, parse

DURATIONS = {"talk-30": 30, "talk-50": 50, "long-90": 90}


def _bookings_counted(telemetry) -> int:
    return sum(
        p.value
        for rm in telemetry.metrics.get_metrics_data().resource_metrics
        for sm in rm.scope_metrics
        for m in sm.metrics
        if m.name == "rapport.scheduling.bookings"
        for p in m.data.data_points
    )


async def test_fifty_concurrent_overlapping_bookings_one_winner_per_set(
    practice, sched_db, telemetry
):
    counted_before = _bookings_counted(telemetry)
    buffer = timedelta(minutes=10)
    t = await practice.therapist(
        availability=practice.availability(buffer_minutes=10, slot_step_minutes=15)
    )
    # Set-up, one after another (sign-up bursts have their own test); the race is the booking.
    clients = [await practice.client() for _ in range(10)]
    base = on_grid(datetime.now(UTC) + timedelta(days=2), 24 * 60)
    # Five sets, six hours apart. In a set every request starts between anchor - 30 min and
    # anchor + 15 min and lasts 30 to 90 minutes, so with 10-minute buffers every padded
    # interval contains [anchor + 5, anchor + 10): they all overlap one another.
    anchors = [base + timedelta(hours=6 * g) for g in range(5)]
    rng = random.Random(50)
    requests = []
    for i in range(50):
        anchor = anchors[i % 5]
        start = anchor + timedelta(minutes=rng.choice([-30, -15, 0, 15]))
        session_type = rng.choice(list(DURATIONS))
        requests.append((clients[i % 10], anchor, start, session_type))
    assert len({(s, st) for _, _, s, st in requests}) > 10  # really different requests

    async def book(client, start, session_type):
        """As a client app does: a 503 (busy: conflicts beyond the retries, or a deadline on a
        loaded machine) is tried again with the same idempotency key, so a booking that did
        commit is answered by its replay, never booked twice."""
        key = str(uuid.uuid4())
        for attempt in range(6):
            r = await practice.book(client, t, start, session_type=session_type, key=key)
            if r.status_code != 503:
                return r
            await asyncio.sleep(0.1 * 2**attempt + rng.random() / 10)
        return r

    answers = await asyncio.gather(*(book(c, start, st) for c, _, start, st in requests))

    winners: dict[datetime, list[dict]] = {a: [] for a in anchors}
    for (_, anchor, _, _), r in zip(requests, answers, strict=True):
        if r.status_code in (200, 201):  # 200: the replay of a booking that committed
            winners[anchor].append(r.json())
        else:
            problem = assert_problem(r, 409)
            assert problem["field"] == "start"
    assert {a: len(w) for a, w in winners.items()} == {a: 1 for a in anchors}
    # The race really was run: scheduling had requests of one overlapping set in flight at the
    # same time (its server spans, found by each answer's trace id, overlap). Requests served
    # one after another would give the same winners and prove nothing about the claims.
    overlapping = {
        anchor: in_flight_at_once(
            telemetry,
            [r for (_, a, _, _), r in zip(requests, answers, strict=True) if a == anchor],
        )
        for anchor in anchors
    }
    assert max(overlapping.values()) >= 2, overlapping
    # The SRE's bookings-per-minute metric counts the winners only.
    assert _bookings_counted(telemetry) - counted_before == 5

    # The database agrees: five confirmed appointments, no two padded intervals overlapping,
    # and every claim belongs to one of them.
    stored = [d async for d in sched_db["appointments"].find({"therapist_id": t.user_id})]
    assert len(stored) == 5 and {d["status"] for d in stored} == {"confirmed"}
    for a, b in itertools.combinations(stored, 2):
        assert not (
            a["start"] - buffer < b["end"] + buffer and b["start"] - buffer < a["end"] + buffer
        )
    won = {w[0]["appointment_id"] for w in winners.values()}
    assert {d["_id"] for d in stored} == won
    owners = {
        d["appointment_id"] async for d in sched_db["claims"].find({"therapist_id": t.user_id})
    }
    assert owners == won
    for w in winners.values():
        appt = w[0]
        assert parse(appt["end"]) - parse(appt["start"]) == timedelta(
            minutes=DURATIONS[appt["session_type"]]
        )
