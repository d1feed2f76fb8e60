"""Slots through the gateway across the next spring-forward and fall-back weeks of New York:
the same wall-clock hours every day, the skipped hour never offered, the repeated one twice."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

NY = ZoneInfo("America/New_York")


def next_change(after: date, *, forward: bool) -> date:
    """The next local date whose UTC offset at noon differs from the day before's."""
    day = after
    for _ in range(400):
        nxt = day + timedelta(days=1)
        before = datetime.combine(day, time(12), NY).utcoffset()
        now = datetime.combine(nxt, time(12), NY).utcoffset()
        if before != now and (now > before) == forward:
            return nxt
        day = nxt
    raise AssertionError("no DST change within a year")


async def week_of_slots(practice, who, therapist, change: date, **params):
    start = datetime.combine(change - timedelta(days=3), time(0), NY)
    return await practice.slots(
        who, therapist, start, start + timedelta(days=7), session_type="talk-50", **params
    )


async def test_spring_forward_and_fall_back_weeks_through_the_gateway(practice):
    today = datetime.now(UTC).date()
    spring = next_change(today, forward=True)
    autumn = next_change(today, forward=False)
    t = await practice.therapist(
        availability=practice.availability(
            timezone="America/New_York",
            weekly=[
                *({"weekday": d, "start": "09:00", "end": "12:00"} for d in range(6)),
                {"weekday": 6, "start": "01:00", "end": "04:00"},
            ],
            slot_step_minutes=60,
            horizon_days=365,
        )
    )
    c = await practice.client()
    for change in (spring, autumn):
        assert change.weekday() == 6  # both changes happen on a Sunday in New York
        slots = await week_of_slots(practice, c, t, change, timezone="America/New_York")
        weekdays = [s.astimezone(NY) for s in slots if s.astimezone(NY).date() != change]
        assert len(weekdays) == 6 * 3
        assert {(s.hour, s.minute) for s in weekdays} == {(9, 0), (10, 0), (11, 0)}
        offsets = {s.utcoffset() for s in weekdays}
        assert offsets == {timedelta(hours=-5), timedelta(hours=-4)}  # both sides of the change
        sunday = [s.astimezone(NY) for s in slots if s.astimezone(NY).date() == change]
        if change == spring:
            # 01:00-04:00 is two real hours: 01:00 EST and 03:00 EDT; 02:00 never existed.
            assert [(s.hour, s.utcoffset().total_seconds() / 3600) for s in sunday] == [
                (1, -5),
                (3, -4),
            ]
        else:
            # Three wall-clock hours are four real ones: 01:00 twice, then 02:00 and 03:00.
            assert [(s.hour, s.utcoffset().total_seconds() / 3600) for s in sunday] == [
                (1, -4),
                (1, -5),
                (2, -5),
                (3, -5),
            ]
