"""Scheduling's pure rules: availability expansion across DST changes, validation, time cells,
state changes, cancellation policy, reminders. No I/O."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from rapport_platform.auth import CLIENT, CLINIC_ADMIN, THERAPIST, Principal
from rapport_platform.errors import FailedPrecondition, InvalidArgument, PermissionDenied
from rapport_scheduling import domain

NY = ZoneInfo("America/New_York")
LONDON = ZoneInfo("Europe/London")
HOUR = timedelta(hours=1)


def availability(**overrides) -> domain.Availability:
    values = {
        "therapist_id": "t1",
        "timezone": "America/New_York",
        "weekly": [(d, "09:00", "12:00") for d in range(7)],
        "overrides": [],
        "time_off": [],
        "buffer_before_minutes": 0,
        "buffer_after_minutes": 0,
        "min_notice_minutes": 0,
        "horizon_days": 365,
        "slot_step_minutes": 60,
        "now": datetime(2026, 1, 1, tzinfo=UTC),
    }
    values.update(overrides)
    return domain.new_availability(**values)


def slots(av, start, end, *, duration=HOUR, now=datetime(2026, 1, 1, tzinfo=UTC)):
    return list(domain.candidate_starts(av, duration, start, end, now))


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


# --- DST ------------------------------------------------------------------------------------


def test_spring_forward_week_keeps_wall_clock_hours_in_new_york():
    """2026-03-08 02:00 EST -> 03:00 EDT. 09:00-12:00 local stays 09:00-12:00 local all week,
    so the UTC times move an hour earlier from Sunday on."""
    av = availability()
    found = slots(av, utc(2026, 3, 5), utc(2026, 3, 12))
    by_day: dict = {}
    for s in found:
        local = s.astimezone(NY)
        by_day.setdefault(local.date(), []).append(local.hour)
    assert all(hours == [9, 10, 11] for hours in by_day.values()), by_day
    assert len(by_day) == 7
    assert utc(2026, 3, 7, 14) in found  # Saturday 09:00 EST
    assert utc(2026, 3, 8, 13) in found  # Sunday 09:00 EDT
    assert utc(2026, 3, 8, 14) in found and utc(2026, 3, 8, 16) not in found


def test_spring_forward_night_window_loses_the_skipped_hour():
    """Sunday 01:00-04:00 local is two real hours on 2026-03-08: no slot at 02:00, which does
    not exist, and no session straddles the jump as if it were three hours."""
    av = availability(weekly=[(6, "01:00", "04:00")])
    normal = slots(av, utc(2026, 3, 1), utc(2026, 3, 2))
    assert [s.astimezone(NY).hour for s in normal] == [1, 2, 3]
    changed = slots(av, utc(2026, 3, 8), utc(2026, 3, 9))
    assert changed == [utc(2026, 3, 8, 6), utc(2026, 3, 8, 7)]
    assert [s.astimezone(NY).hour for s in changed] == [1, 3]


def test_window_starting_inside_the_gap_starts_at_the_change():
    av = availability(weekly=[(6, "02:00", "04:00")])
    assert slots(av, utc(2026, 3, 8), utc(2026, 3, 9)) == [utc(2026, 3, 8, 7)]  # 03:00 EDT
    av = availability(weekly=[(6, "02:00", "02:30")])
    assert slots(av, utc(2026, 3, 8), utc(2026, 3, 9), duration=timedelta(minutes=5)) == []


def test_fall_back_week_keeps_wall_clock_hours_and_the_repeated_hour_counts_twice():
    """2026-11-01 02:00 EDT -> 01:00 EST. Sunday 01:00-03:00 local is three real hours."""
    av = availability(weekly=[*[(d, "09:00", "12:00") for d in range(6)], (6, "01:00", "03:00")])
    week = slots(av, utc(2026, 10, 29), utc(2026, 11, 5))
    weekdays = [s for s in week if s.astimezone(NY).weekday() != 6]
    assert all(s.astimezone(NY).hour in (9, 10, 11) for s in weekdays)
    assert utc(2026, 10, 31, 13) in week  # Saturday 09:00 EDT
    assert utc(2026, 11, 2, 14) in week  # Monday 09:00 EST
    sunday = [s for s in week if s.astimezone(NY).weekday() == 6]
    assert sunday == [utc(2026, 11, 1, 5), utc(2026, 11, 1, 6), utc(2026, 11, 1, 7)]
    assert [s.astimezone(NY).strftime("%H:%M%z") for s in sunday] == [
        "01:00-0400",
        "01:00-0500",
        "02:00-0500",
    ]


def test_ambiguous_wall_time_means_its_first_occurrence():
    assert domain.local_to_utc(datetime(2026, 11, 1).date(), 90, NY) == utc(2026, 11, 1, 5, 30)


def test_london_spring_and_autumn():
    av = availability(timezone="Europe/London", weekly=[(d, "09:00", "10:00") for d in range(7)])
    spring = slots(av, utc(2026, 3, 28), utc(2026, 3, 30))
    assert spring == [utc(2026, 3, 28, 9), utc(2026, 3, 29, 8)]
    autumn = slots(av, utc(2026, 10, 24), utc(2026, 10, 26))
    assert autumn == [utc(2026, 10, 24, 8), utc(2026, 10, 25, 9)]
    assert all(s.astimezone(LONDON).hour == 9 for s in spring + autumn)


# --- windows, overrides, time off, notice, horizon -------------------------------------------


def test_overrides_replace_the_weekly_rules_of_their_date():
    av = availability(
        overrides=[("2026-03-10", [("14:00", "16:00")]), ("2026-03-11", [])],
    )
    tuesday = slots(av, utc(2026, 3, 10, 4), utc(2026, 3, 11, 4))
    assert [s.astimezone(NY).hour for s in tuesday] == [14, 15]
    assert slots(av, utc(2026, 3, 11, 4), utc(2026, 3, 12, 4)) == []


def test_time_off_notice_and_horizon_remove_slots():
    now = utc(2026, 3, 2, 12)  # Monday 07:00 EST
    av = availability(
        time_off=[(utc(2026, 3, 3, 15, 30), utc(2026, 3, 3, 16))],  # Tuesday 10:30-11:00 EST
        min_notice_minutes=180,
        horizon_days=2,
    )
    found = slots(av, utc(2026, 3, 1), utc(2026, 3, 10), now=now)
    local = [s.astimezone(NY).strftime("%a %H") for s in found]
    # Monday 09:00 is inside 3 h of notice; Tuesday 10:00 overlaps the time off;
    # Wednesday 09:00 is beyond two days.
    assert local == ["Mon 10", "Mon 11", "Tue 09", "Tue 11"]


def test_steps_and_durations():
    av = availability(slot_step_minutes=15)
    found = slots(av, utc(2026, 3, 2), utc(2026, 3, 3), duration=timedelta(minutes=50))
    local = [s.astimezone(NY).strftime("%H:%M") for s in found]
    assert local[0] == "09:00" and local[-1] == "11:00" and "11:15" not in local
    assert len(local) == 9


def test_sessions_may_run_on_into_a_touching_window():
    """Monday 18:00-24:00 and Tuesday 00:00-02:00 are one stretch: a 90-minute session may
    start as late as 00:30; a lone window's end still bounds it."""
    av = availability(
        timezone="UTC",
        weekly=[(0, "18:00", "24:00"), (1, "00:00", "02:00"), (2, "18:00", "24:00")],
        slot_step_minutes=30,
    )
    ninety = timedelta(minutes=90)
    monday = slots(av, utc(2026, 3, 2, 22), utc(2026, 3, 3, 4), duration=ninety)
    start = utc(2026, 3, 2, 22)
    assert monday == [start + i * timedelta(minutes=30) for i in range(6)]  # 22:00 ... 00:30
    wednesday = slots(av, utc(2026, 3, 4, 22), utc(2026, 3, 5, 4), duration=ninety)
    assert wednesday == [utc(2026, 3, 4, 22), utc(2026, 3, 4, 22, 30)]


def test_check_bookable_start_says_what_is_wrong():
    now = utc(2026, 3, 2, 12)
    av = availability(min_notice_minutes=120, horizon_days=10)

    def problem(start):
        with pytest.raises(InvalidArgument) as err:
            domain.check_bookable_start(av, HOUR, start, now)
        assert err.value.field == "start"
        return err.value.message

    assert "past" in problem(utc(2026, 3, 1, 14))
    assert "minimum notice" in problem(utc(2026, 3, 2, 13))
    assert "horizon" in problem(utc(2026, 3, 20, 14))
    assert "not one of" in problem(utc(2026, 3, 3, 14, 5))  # off the hourly grid
    assert "not one of" in problem(utc(2026, 3, 3, 20))  # outside the window
    domain.check_bookable_start(av, HOUR, utc(2026, 3, 3, 14), now)


# --- validation -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"timezone": "../../etc/passwd"}, "timezone"),
        ({"timezone": ""}, "timezone"),
        ({"weekly": [(0, "10:00", "09:00")]}, "weekly[0].end"),
        ({"weekly": [(0, "10:00", "10:00")]}, "weekly[0].end"),
        ({"weekly": [(0, "09:00", "12:00"), (0, "11:00", "13:00")]}, "weekly"),
        ({"weekly": [(7, "09:00", "12:00")]}, "weekly[0].weekday"),
        ({"weekly": [(0, "9am", "12:00")]}, "weekly[0].start"),
        ({"weekly": [(0, "09:03", "12:00")]}, "weekly[0].start"),
        ({"weekly": [(0, "24:00", "24:00")]}, "weekly[0].start"),
        ({"overrides": [("2026-02-30", [])]}, "overrides[0].date"),
        ({"overrides": [("2026-03-01", []), ("2026-03-01", [])]}, "overrides"),
        (
            {"overrides": [("2026-03-01", [("09:00", "11:00"), ("10:00", "12:00")])]},
            "overrides[0].windows",
        ),
        ({"time_off": [(utc(2026, 3, 2), utc(2026, 3, 1))]}, "time_off[0].end"),
        ({"time_off": [(datetime(2026, 3, 1), datetime(2026, 3, 2))]}, "time_off[0].start"),
        ({"buffer_before_minutes": 7}, "buffer_before_minutes"),
        ({"buffer_after_minutes": -5}, "buffer_after_minutes"),
        ({"horizon_days": 0}, "horizon_days"),
        ({"min_notice_minutes": -1}, "min_notice_minutes"),
        ({"slot_step_minutes": 0}, "slot_step_minutes"),
    ],
)
def test_bad_availability_names_the_field(overrides, field):
    with pytest.raises(InvalidArgument) as err:
        availability(**overrides)
    assert err.value.field == field


def test_touching_rules_and_24_00_are_fine():
    av = availability(weekly=[(0, "09:00", "12:00"), (0, "12:00", "24:00")])
    assert [domain.format_hhmm(r.window.end) for r in av.weekly] == ["12:00", "24:00"]


def test_slot_range_checks():
    with pytest.raises(InvalidArgument):
        domain.check_slot_range(utc(2026, 3, 2), utc(2026, 3, 1))
    with pytest.raises(InvalidArgument):
        domain.check_slot_range(utc(2026, 3, 1), utc(2026, 5, 1))


# --- cells ----------------------------------------------------------------------------------


def test_cells_cover_the_interval_rounded_outwards():
    assert len(domain.cells(utc(2026, 3, 2, 9), utc(2026, 3, 2, 10))) == 12
    odd = domain.cells(utc(2026, 3, 2, 9, 2), utc(2026, 3, 2, 9, 58))
    assert odd[0] == utc(2026, 3, 2, 9) and odd[-1] == utc(2026, 3, 2, 9, 55)
    tm = timedelta(minutes=10)
    assert len(domain.padded(utc(2026, 3, 2, 9), utc(2026, 3, 2, 10), tm, tm)) == 16


def test_padded_intervals_overlap_exactly_when_they_share_a_cell():
    rng = random.Random(4)
    base = utc(2026, 3, 2, 9)
    for _ in range(2000):
        a0 = base + timedelta(minutes=5 * rng.randrange(0, 60))
        b0 = base + timedelta(minutes=5 * rng.randrange(0, 60))
        a1 = a0 + timedelta(minutes=5 * rng.randrange(1, 20))
        b1 = b0 + timedelta(minutes=5 * rng.randrange(1, 20))
        before = timedelta(minutes=5 * rng.randrange(0, 4))
        after = timedelta(minutes=5 * rng.randrange(0, 4))
        overlap = (a0 - before) < (b1 + after) and (b0 - before) < (a1 + after)
        shared = set(domain.padded(a0, a1, before, after)) & set(
            domain.padded(b0, b1, before, after)
        )
        assert overlap == bool(shared)


def test_free_slots_skip_claimed_cells_with_buffers():
    av = availability(buffer_before_minutes=10, buffer_after_minutes=10, slot_step_minutes=30)
    ten = utc(2026, 3, 2, 15)  # Monday 10:00 EST, booked for an hour
    booked = set(domain.padded(ten, ten + HOUR, av.buffer_before, av.buffer_after))
    day = (utc(2026, 3, 2), utc(2026, 3, 3))
    free = domain.free_slots(av, HOUR, *day, utc(2026, 1, 1), booked)
    # Every hour-long start in 09:00-12:00 comes within 10 + 10 minutes of 10:00-11:00.
    assert free == []
    free = domain.free_slots(av, HOUR / 2, *day, utc(2026, 1, 1), booked)
    assert [s.astimezone(NY).strftime("%H:%M") for s, _ in free] == ["09:00", "11:30"]


# --- appointments ---------------------------------------------------------------------------

CLIENT_P = Principal("c1", CLIENT, "", False, "tok")
THERAPIST_P = Principal("t1", THERAPIST, "k1", False, "tok")
ADMIN_P = Principal("a1", CLINIC_ADMIN, "k1", False, "tok")
STRANGER = Principal("c2", CLIENT, "", False, "tok")


def appointment(start=utc(2026, 3, 3, 14), **overrides) -> domain.Appointment:
    now = overrides.pop("now", utc(2026, 3, 1))
    a = domain.new_appointment(
        av=availability(),
        therapist_id="t1",
        client_id="c1",
        clinic_id="k1",
        session_type=domain.SessionType("talk-60", 60, 12000, "USD"),
        modality="video",
        start=start,
        hold=overrides.pop("hold", False),
        hold_ttl=timedelta(minutes=10),
        policy=domain.CancellationPolicy(24, 5000, "USD"),
        now=now,
    )
    return a


def test_client_cancelling_inside_the_window_is_late_and_billable():
    a = appointment()
    late = domain.cancel(a, CLIENT_P, "running late", a.start - timedelta(hours=23))
    assert (
        late.status == domain.CANCELLED and late.late_cancellation and late.late_fee_minor == 5000
    )
    assert late.cancelled_by == CLIENT
    early = domain.cancel(a, CLIENT_P, "", a.start - timedelta(hours=25))
    assert not early.late_cancellation and early.late_fee_minor == 0
    by_therapist = domain.cancel(a, THERAPIST_P, "ill", a.start - timedelta(hours=1))
    assert not by_therapist.late_cancellation and by_therapist.cancelled_by == THERAPIST
    assert domain.cancel(a, ADMIN_P, "", a.start - HOUR).cancelled_by == CLINIC_ADMIN


def test_cancel_rules():
    a = appointment()
    with pytest.raises(PermissionDenied):
        domain.cancel(a, STRANGER, "", a.start - HOUR)
    with pytest.raises(PermissionDenied):
        domain.cancel(a, Principal("a2", CLINIC_ADMIN, "other", False, "t"), "", a.start - HOUR)
    done = domain.cancel(a, CLIENT_P, "", a.start - 48 * HOUR)
    with pytest.raises(FailedPrecondition):
        domain.cancel(done, CLIENT_P, "", a.start - 47 * HOUR)
    with pytest.raises(FailedPrecondition):
        domain.cancel(a, CLIENT_P, "", a.end + HOUR)
    with pytest.raises(InvalidArgument):
        domain.cancel(a, CLIENT_P, "x" * 501, a.start - 48 * HOUR)


def test_a_hold_never_outlives_its_start():
    start = utc(2026, 3, 3, 14)
    a = appointment(start, hold=True, now=start - timedelta(minutes=4))
    assert a.hold_expires_at == start  # not now + 10 minutes
    assert a.status_at(start - timedelta(seconds=1)) == domain.HELD
    assert a.status_at(start) == domain.EXPIRED
    with pytest.raises(FailedPrecondition):
        domain.confirm(a, CLIENT_P, start)


def test_holds_expire_by_time_and_are_never_late():
    a = appointment(hold=True)
    assert a.status == domain.HELD and a.hold_expires_at == utc(2026, 3, 1, 0, 10)
    assert a.status_at(utc(2026, 3, 1, 0, 9)) == domain.HELD
    assert a.status_at(utc(2026, 3, 1, 0, 10)) == domain.EXPIRED
    with pytest.raises(FailedPrecondition):
        domain.confirm(a, CLIENT_P, utc(2026, 3, 1, 0, 11))
    assert domain.confirm(a, CLIENT_P, utc(2026, 3, 1, 0, 5)).status == domain.CONFIRMED
    released = domain.cancel(a, CLIENT_P, "", utc(2026, 3, 1, 0, 5))
    assert not released.late_cancellation


def test_reschedule_and_no_show_and_complete():
    a = appointment()
    now = utc(2026, 3, 2)
    moved = domain.reschedule(a, CLIENT_P, availability(), utc(2026, 3, 4, 15), now)
    assert moved.start == utc(2026, 3, 4, 15) and moved.end == utc(2026, 3, 4, 16)
    with pytest.raises(InvalidArgument):
        domain.reschedule(a, CLIENT_P, availability(), utc(2026, 3, 4, 15, 30), now)
    with pytest.raises(FailedPrecondition):
        domain.mark_no_show(a, THERAPIST_P, a.start - HOUR)
    with pytest.raises(PermissionDenied):
        domain.mark_no_show(a, CLIENT_P, a.start + HOUR)
    ns = domain.mark_no_show(a, THERAPIST_P, a.start + timedelta(minutes=15))
    assert ns.status == domain.NO_SHOW
    done = domain.complete(a, "s1", a.end)
    assert done is not None and done.status == domain.COMPLETED
    assert domain.complete(done, "s1", a.end) is None
    with pytest.raises(FailedPrecondition):
        domain.reschedule(done, CLIENT_P, availability(), utc(2026, 3, 4, 15), now)
    with pytest.raises(FailedPrecondition):
        domain.cancel(done, CLIENT_P, "", a.start - HOUR)


def test_reminders_only_in_the_future():
    a = appointment()
    both = domain.reminders_for(a, (1440, 60), a.start - 48 * HOUR)
    assert [r.due_at for r in both] == [a.start - 24 * HOUR, a.start - HOUR]
    assert len({r.reminder_id for r in both}) == 2
    only_one = domain.reminders_for(a, (1440, 60), a.start - 2 * HOUR)
    assert [r.lead_minutes for r in only_one] == [60]


def test_modality_and_session_type():
    types = [domain.SessionType("a", 30, 100, "EUR")]
    assert domain.pick_session_type(types, "a").duration_minutes == 30
    with pytest.raises(InvalidArgument):
        domain.pick_session_type(types, "b")
    with pytest.raises(InvalidArgument):
        domain.check_modality("phone", ["video"])
    with pytest.raises(InvalidArgument):
        domain.check_modality("chat", ["video"])


def test_cursor_and_fingerprint():
    start = utc(2026, 3, 2, 9)
    assert domain.decode_cursor(domain.encode_cursor(start, "a-1")) == (start, "a-1")
    for bad in ("nonsense", "e30", "W10"):
        with pytest.raises(InvalidArgument):
            domain.decode_cursor(bad)
    f = dict(therapist_id="t", session_type="s", modality="video", hold=False)
    one = domain.request_fingerprint(start=start, **f)
    assert one == domain.request_fingerprint(start=start.astimezone(NY), **f)
    assert one != domain.request_fingerprint(start=start + HOUR, **f)


# --- boundaries: each found by a one-line mutation of domain.py that no test caught ----------


def test_bookable_start_boundaries():
    now = utc(2026, 3, 3, 14)  # Tuesday 09:00 EST, itself a slot
    with pytest.raises(InvalidArgument, match="past"):
        domain.check_bookable_start(availability(), HOUR, now, now)
    # Exactly the minimum notice ahead is bookable.
    domain.check_bookable_start(availability(min_notice_minutes=60), HOUR, now + HOUR, now)
    # Exactly the horizon ahead is not (the horizon is [now, now + horizon_days)).
    with pytest.raises(InvalidArgument, match="horizon"):
        domain.check_bookable_start(
            availability(horizon_days=1), HOUR, now + timedelta(days=1), now
        )
    with pytest.raises(InvalidArgument, match="horizon_days"):
        availability(horizon_days=366)
    assert availability(horizon_days=365).horizon_days == 365


def test_slot_range_is_at_most_31_days():
    start = utc(2026, 3, 1)
    domain.check_slot_range(start, start + timedelta(days=31))
    with pytest.raises(InvalidArgument):
        domain.check_slot_range(start, start + timedelta(days=31, seconds=1))


def test_cancellation_window_boundaries():
    a = appointment()
    # Exactly the window (24 h) before the start is still in time.
    on_time = domain.cancel(a, CLIENT_P, "", a.start - 24 * HOUR)
    assert not on_time.late_cancellation and on_time.late_fee_minor == 0
    # A hold released inside the window was never paid for: never late.
    hold = appointment(hold=True, now=a.start - 2 * HOUR)
    released = domain.cancel(hold, CLIENT_P, "", a.start - 2 * HOUR + timedelta(minutes=5))
    assert not released.late_cancellation and released.late_fee_minor == 0
    # Once it is over, it cannot be cancelled, from its very end.
    with pytest.raises(FailedPrecondition, match="over"):
        domain.cancel(a, CLIENT_P, "", a.end)


def test_a_session_the_therapist_moved_is_never_late_for_the_client():
    a = appointment()  # Tuesday 09:00 EST
    now = a.start - 72 * HOUR
    moved = domain.reschedule(a, THERAPIST_P, availability(), a.start + HOUR, now)
    late = domain.cancel(moved, CLIENT_P, "", moved.start - HOUR)
    assert not late.late_cancellation and late.late_fee_minor == 0
    # Moved by the client, the fee still applies inside the window.
    own = domain.reschedule(a, CLIENT_P, availability(), a.start + HOUR, now)
    assert domain.cancel(own, CLIENT_P, "", own.start - HOUR).late_cancellation


def test_no_show_from_the_start_on_and_not_a_second_before():
    a = appointment()
    with pytest.raises(FailedPrecondition, match="after the start"):
        domain.mark_no_show(a, THERAPIST_P, a.start - timedelta(seconds=1))
    assert domain.mark_no_show(a, THERAPIST_P, a.start).status == domain.NO_SHOW


def test_a_reminder_due_right_now_is_not_created():
    a = appointment()
    assert domain.reminders_for(a, (60,), a.start - HOUR) == []
    assert len(domain.reminders_for(a, (60,), a.start - HOUR - timedelta(seconds=1))) == 1


def test_booking_limits_count_per_therapist_per_clinic_and_overall():
    from rapport_platform.errors import FailedPrecondition
    from rapport_scheduling.domain import ActiveBooking, BookingLimits, check_booking_limits

    active = [ActiveBooking("t1", "c1"), ActiveBooking("t2", "c1"), ActiveBooking("t3", "c2")]
    check_booking_limits(active, BookingLimits(2, 3, 4), therapist_id="t1", clinic_id="c1")
    for limits, therapist, clinic, words in (
        (BookingLimits(1, 9, 9), "t1", "c1", "with this therapist"),
        (BookingLimits(9, 2, 9), "t4", "c1", "with this clinic"),
        (BookingLimits(9, 9, 3), "t4", "c3", "in all"),
    ):
        with pytest.raises(FailedPrecondition, match=words):
            check_booking_limits(active, limits, therapist_id=therapist, clinic_id=clinic)
    # 0: no bound of that kind (an identity from before the limits).
    check_booking_limits(active, BookingLimits(0, 0, 4), therapist_id="t1", clinic_id="c1")
