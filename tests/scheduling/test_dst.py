"""Slots across New York's spring-forward and fall-back weeks: the same wall-clock hours every
day, the skipped hour never offered, the repeated one twice.

The tests pin their own clock: which weeks are visible depends on "now" (the 365-day horizon
ends a year ahead, the past is never offered), so a test reading the real date would see a
different week, or none, on some days of the year. The domain test runs with "now" on every
day of a leap year; the gateway test runs against a scheduling replica whose clock is fixed."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from rapport_gateway.settings import GatewaySettings
from rapport_local import procs
from rapport_scheduling import domain

from tests.scheduling.helpers import Practice, replica_settings, start_replica

NY = ZoneInfo("America/New_York")
EST, EDT = timedelta(hours=-5), timedelta(hours=-4)
WEEKLY = [
    *({"weekday": d, "start": "09:00", "end": "12:00"} for d in range(6)),
    {"weekday": 6, "start": "01:00", "end": "04:00"},
]
HORIZON_DAYS = 365
FIFTY = timedelta(minutes=50)


def changes_between(first: date, last: date) -> list[tuple[date, bool]]:
    """(local date, forward?) of each change of New York's UTC offset (seen at noon)."""
    out = []
    day = first
    while day < last:
        nxt = day + timedelta(days=1)
        before = datetime.combine(day, time(12), NY).utcoffset()
        after = datetime.combine(nxt, time(12), NY).utcoffset()
        if before != after:
            assert before is not None and after is not None
            out.append((nxt, after > before))
        day = nxt
    return out


def expected_day(day: date) -> list[tuple[int, timedelta]]:
    """The (local hour, UTC offset) of each slot one local date must offer: an oracle written
    out by hand, independent of how the domain expands windows."""
    noon = datetime.combine(day, time(12), NY).utcoffset()
    assert noon is not None
    if day.weekday() != 6:
        return [(h, noon) for h in (9, 10, 11)]
    eve = datetime.combine(day - timedelta(days=1), time(12), NY).utcoffset()
    if eve == EST and noon == EDT:
        # 01:00-04:00 is two real hours: 01:00 EST and 03:00 EDT; 02:00 never existed.
        return [(1, EST), (3, EDT)]
    if eve == EDT and noon == EST:
        # Three wall-clock hours are four real ones: 01:00 twice, then 02:00 and 03:00.
        return [(1, EDT), (1, EST), (2, EST), (3, EST)]
    return [(h, noon) for h in (1, 2, 3)]


def check_days(slots: Iterable[datetime], days: Iterable[date]) -> None:
    by_day: dict[date, list[tuple[int, timedelta]]] = {}
    for s in sorted(slots):
        local = s.astimezone(NY)
        offset = local.utcoffset()
        assert offset is not None
        by_day.setdefault(local.date(), []).append((local.hour, offset))
    for day in days:
        assert by_day.get(day, []) == expected_day(day), day


def full_days(start: datetime, end: datetime) -> list[date]:
    """The local dates that lie wholly inside [start, end)."""
    day = start.astimezone(NY).date()
    if datetime.combine(day, time(0), NY) < start:
        day += timedelta(days=1)
    out = []
    while datetime.combine(day + timedelta(days=1), time(0), NY) <= end:
        out.append(day)
        day += timedelta(days=1)
    return out


def week_of(change: date) -> tuple[datetime, datetime]:
    """Thursday 00:00 to Thursday 00:00 New York time around a Sunday change."""
    start = datetime.combine(change - timedelta(days=3), time(0), NY)
    return start, datetime.combine(change + timedelta(days=4), time(0), NY)


# --- the domain, with "now" on every day of a year -------------------------------------------

LEAP_YEAR = [datetime(2028, 1, 1, tzinfo=UTC) + timedelta(days=i) for i in range(366)]


@pytest.mark.parametrize("now", LEAP_YEAR, ids=lambda d: d.date().isoformat())
def test_dst_weeks_are_right_whatever_the_date(now: datetime) -> None:
    # A different hour each day, so "now" also falls around UTC and New York midnights.
    now += timedelta(hours=now.timetuple().tm_yday % 24, minutes=7)
    av = domain.new_availability(
        therapist_id="t",
        timezone="America/New_York",
        weekly=[(w["weekday"], w["start"], w["end"]) for w in WEEKLY],
        overrides=[],
        time_off=[],
        buffer_before_minutes=0,
        buffer_after_minutes=0,
        min_notice_minutes=0,
        horizon_days=HORIZON_DAYS,
        slot_step_minutes=60,
        now=now,
    )
    visible_to = now + timedelta(days=HORIZON_DAYS)
    changes = changes_between(now.date() - timedelta(days=7), visible_to.date() + timedelta(days=7))
    sundays_seen = 0
    for change, _ in changes:
        start, end = week_of(change)
        start, end = max(start, now), min(end, visible_to)
        if end <= start:
            continue  # this change's week lies wholly in the past or beyond the horizon
        slots = list(domain.candidate_starts(av, FIFTY, start, end, now))
        assert all(start <= s < end for s in slots)
        days = full_days(start, end)
        check_days(slots, days)
        sundays_seen += change in days
    # A 365-day horizon always reaches at least one change of the offset (the longest stretch
    # between two is under eight months), and a DST Sunday then lies in full view.
    assert sundays_seen >= 1


def test_the_oracle_knows_both_changes() -> None:
    """The expectations above really contain both kinds of Sunday (so they check something)."""
    assert changes_between(date(2028, 1, 1), date(2029, 1, 1)) == [
        (date(2028, 3, 12), True),
        (date(2028, 11, 5), False),
    ]
    assert expected_day(date(2028, 3, 12)) == [(1, EST), (3, EDT)]
    assert expected_day(date(2028, 11, 5)) == [(1, EDT), (1, EST), (2, EST), (3, EST)]


# --- through the gateway, against a replica whose clock is pinned ----------------------------

PINNED = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


@pytest.fixture
async def pinned_http(request, stack):
    """A scheduling replica on the stack's database whose clock stands still at PINNED, and a
    gateway of its own in front of it (identity is the stack's)."""
    path = str(request.config.rootpath / "conftest.py")
    root = next(
        p
        for p in request.config.pluginmanager.get_plugins()
        if getattr(p, "__file__", None) == path
    )
    app = await start_replica(replica_settings(stack, workers_enabled=False), lambda: PINNED)
    settings = GatewaySettings(
        http_port=procs.free_port(),
        identity_addr=stack.identity_addr,
        scheduling_addr=f"127.0.0.1:{app.server.port}",
    )
    try:
        async with (
            root.Gateway(settings) as gateway,
            httpx.AsyncClient(base_url=gateway.url, timeout=30) as client,
        ):
            yield client
    finally:
        await app.stop(0)


async def test_spring_forward_and_fall_back_weeks_through_the_gateway(practice, pinned_http):
    t = await practice.therapist(
        availability=practice.availability(
            timezone="America/New_York",
            weekly=WEEKLY,
            slot_step_minutes=60,
            horizon_days=HORIZON_DAYS,
        )
    )
    c = await practice.client()
    pinned = Practice(pinned_http)
    changes = changes_between(PINNED.date(), (PINNED + timedelta(days=HORIZON_DAYS)).date())
    assert changes == [(date(2026, 3, 8), True), (date(2026, 11, 1), False)]
    for change, _ in changes:
        start, end = week_of(change)
        slots = await pinned.slots(
            c, t, start, end, session_type="talk-50", timezone="America/New_York"
        )
        assert all(start <= s < end for s in slots)
        days = full_days(start, end)
        assert len(days) == 7 and change in days
        check_days(slots, days)
        assert {s.astimezone(NY).utcoffset() for s in slots} == {EST, EDT}
