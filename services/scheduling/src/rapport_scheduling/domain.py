"""Scheduling's rules: availability and its expansion into slots, the time cells an appointment
claims, appointment state changes, cancellation policy and reminders. Pure: no I/O.

Times are aware datetimes in UTC everywhere except availability rules, which are local wall-clock
times in the therapist's IANA zone and are expanded with `zoneinfo` one local date at a time, so
a rule means the same wall-clock hours on both sides of a DST change.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import itertools
import json
import re
import uuid
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from rapport_platform.auth import CLIENT, CLINIC_ADMIN, THERAPIST, Principal
from rapport_platform.errors import FailedPrecondition, InvalidArgument, PermissionDenied
from rapport_platform.text import TextRefused, check_text

# Appointments claim their time as cells of this many minutes (see `cells`). Every time a rule can
# express (HH:MM on a 5-minute grid, buffers and steps in multiples of 5) falls on a cell edge.
CELL_MINUTES = 5
CELL = timedelta(minutes=CELL_MINUTES)
MAX_SLOT_RANGE = timedelta(days=31)
MAX_WEEKLY_RULES = 70
MAX_OVERRIDES = 400
MAX_TIME_OFF = 500
# Slots one ListSlots call computes and returns at most (a 31-day range of 5-minute steps around
# the clock is 8,928); the caller pages on for the rest.
MAX_SLOTS = 2000
MAX_REASON = 500

MODALITIES = ("video", "chat")
HELD, CONFIRMED, CANCELLED, NO_SHOW, COMPLETED, EXPIRED = (
    "held",
    "confirmed",
    "cancelled",
    "no_show",
    "completed",
    "expired",
)
STATUSES = (HELD, CONFIRMED, CANCELLED, NO_SHOW, COMPLETED, EXPIRED)
# Statuses whose appointment still holds its time cells.
ACTIVE = (HELD, CONFIRMED)

_HHMM = re.compile(r"^([01]\d|2[0-4]):([0-5]\d)$")


# --- availability ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    """Local wall-clock minutes since midnight, [start, end); end may be 1440 (24:00)."""

    start: int
    end: int


@dataclass(frozen=True)
class WeeklyRule:
    weekday: int  # 0 = Monday
    window: Window


@dataclass(frozen=True)
class DateOverride:
    day: date
    windows: tuple[Window, ...]


@dataclass(frozen=True)
class TimeOff:
    start: datetime
    end: datetime


@dataclass(frozen=True)
class Availability:
    therapist_id: str
    timezone: str
    weekly: tuple[WeeklyRule, ...]
    overrides: tuple[DateOverride, ...]
    time_off: tuple[TimeOff, ...]
    buffer_before_minutes: int
    buffer_after_minutes: int
    min_notice_minutes: int
    horizon_days: int
    slot_step_minutes: int
    updated_at: datetime

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def buffer_before(self) -> timedelta:
        return timedelta(minutes=self.buffer_before_minutes)

    @property
    def buffer_after(self) -> timedelta:
        return timedelta(minutes=self.buffer_after_minutes)


@lru_cache(maxsize=1)
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


def check_timezone(name: str, *, field: str = "timezone") -> str:
    """An IANA zone name that zoneinfo knows (Europe/Paris, America/New_York, UTC)."""
    if name not in _zones():
        raise InvalidArgument(
            "timezone must be an IANA time zone such as Europe/Paris", field=field
        )
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidArgument("unknown time zone", field=field) from None
    return name


def parse_hhmm(text: str, *, field: str, allow_24: bool) -> int:
    m = _HHMM.match(text.strip())
    if not m:
        raise InvalidArgument("times must be HH:MM (24-hour)", field=field)
    minutes = int(m.group(1)) * 60 + int(m.group(2))
    if minutes > 1440 or (minutes == 1440 and not allow_24):
        raise InvalidArgument("24:00 is only allowed as the end of a window", field=field)
    if minutes % CELL_MINUTES:
        raise InvalidArgument(f"times must be multiples of {CELL_MINUTES} minutes", field=field)
    return minutes


def format_hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def parse_window(start: str, end: str, *, field: str) -> Window:
    w = Window(
        parse_hhmm(start, field=f"{field}.start", allow_24=False),
        parse_hhmm(end, field=f"{field}.end", allow_24=True),
    )
    if w.end <= w.start:
        raise InvalidArgument("a window's end must be after its start", field=f"{field}.end")
    return w


def _check_no_overlap(windows: Sequence[Window], *, field: str, what: str) -> None:
    ordered = sorted(windows, key=lambda w: w.start)
    for a, b in itertools.pairwise(ordered):
        if b.start < a.end:
            raise InvalidArgument(f"{what} overlap", field=field)


def _bounded(value: int, lo: int, hi: int, *, field: str, step: int = 1) -> int:
    if not lo <= value <= hi or value % step:
        extra = f" in multiples of {step}" if step > 1 else ""
        raise InvalidArgument(f"{field} must be between {lo} and {hi}{extra}", field=field)
    return value


def new_availability(
    *,
    therapist_id: str,
    timezone: str,
    weekly: Sequence[tuple[int, str, str]],
    overrides: Sequence[tuple[str, Sequence[tuple[str, str]]]],
    time_off: Sequence[tuple[datetime, datetime]],
    buffer_before_minutes: int,
    buffer_after_minutes: int,
    min_notice_minutes: int,
    horizon_days: int,
    slot_step_minutes: int,
    now: datetime,
) -> Availability:
    """Validate everything a therapist sends; raise InvalidArgument naming the first bad field."""
    check_timezone(timezone)
    if len(weekly) > MAX_WEEKLY_RULES:
        raise InvalidArgument("too many weekly rules", field="weekly")
    rules: list[WeeklyRule] = []
    for i, (weekday, start, end) in enumerate(weekly):
        if not 0 <= weekday <= 6:
            raise InvalidArgument(
                "weekday must be 0 (Monday) to 6 (Sunday)", field=f"weekly[{i}].weekday"
            )
        rules.append(WeeklyRule(weekday, parse_window(start, end, field=f"weekly[{i}]")))
    for weekday in range(7):
        _check_no_overlap(
            [r.window for r in rules if r.weekday == weekday],
            field="weekly",
            what="weekly rules of the same weekday",
        )
    if len(overrides) > MAX_OVERRIDES:
        raise InvalidArgument("too many date overrides", field="overrides")
    parsed_overrides: list[DateOverride] = []
    for i, (day_text, windows) in enumerate(overrides):
        try:
            day = date.fromisoformat(day_text)
        except ValueError:
            raise InvalidArgument("date must be YYYY-MM-DD", field=f"overrides[{i}].date") from None
        ws = tuple(
            parse_window(s, e, field=f"overrides[{i}].windows[{j}]")
            for j, (s, e) in enumerate(windows)
        )
        _check_no_overlap(ws, field=f"overrides[{i}].windows", what="windows of one date")
        parsed_overrides.append(DateOverride(day, ws))
    if len({o.day for o in parsed_overrides}) != len(parsed_overrides):
        raise InvalidArgument("each date may be overridden once", field="overrides")
    if len(time_off) > MAX_TIME_OFF:
        raise InvalidArgument("too many time-off periods", field="time_off")
    offs: list[TimeOff] = []
    for i, (start_at, end_at) in enumerate(time_off):
        start_utc = as_utc(start_at, field=f"time_off[{i}].start")
        end_utc = as_utc(end_at, field=f"time_off[{i}].end")
        if end_utc <= start_utc:
            raise InvalidArgument("time off must end after it starts", field=f"time_off[{i}].end")
        offs.append(TimeOff(start_utc, end_utc))
    return Availability(
        therapist_id=therapist_id,
        timezone=timezone,
        weekly=tuple(sorted(rules, key=lambda r: (r.weekday, r.window.start))),
        overrides=tuple(sorted(parsed_overrides, key=lambda o: o.day)),
        time_off=tuple(sorted(offs, key=lambda t: t.start)),
        buffer_before_minutes=_bounded(
            buffer_before_minutes, 0, 240, field="buffer_before_minutes", step=CELL_MINUTES
        ),
        buffer_after_minutes=_bounded(
            buffer_after_minutes, 0, 240, field="buffer_after_minutes", step=CELL_MINUTES
        ),
        min_notice_minutes=_bounded(
            min_notice_minutes, 0, 30 * 24 * 60, field="min_notice_minutes"
        ),
        horizon_days=_bounded(horizon_days, 1, 365, field="horizon_days"),
        slot_step_minutes=_bounded(
            slot_step_minutes, CELL_MINUTES, 240, field="slot_step_minutes", step=CELL_MINUTES
        ),
        updated_at=now,
    )


def as_utc(value: datetime, *, field: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidArgument("times must carry a UTC offset", field=field)
    return value.astimezone(UTC)


def local_to_utc(day: date, minutes: int, zone: ZoneInfo) -> datetime:
    """The instant a wall clock in `zone` shows `minutes` after midnight of `day`.

    An ambiguous wall time (the repeated hour when clocks fall back) means its first occurrence.
    A wall time that does not exist (skipped when clocks spring forward) means the instant of the
    change itself, so a window reaching into the gap loses exactly the skipped time."""
    naive = datetime(day.year, day.month, day.day) + timedelta(minutes=minutes)
    first = naive.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if first.astimezone(zone).replace(tzinfo=None) == naive:
        return first
    # In a gap: fold=1 applies the offset after the change (an instant before it), fold=0 the
    # offset before (an instant after it). Find the change between the two, to the second.
    lo = naive.replace(tzinfo=zone, fold=1).astimezone(UTC)
    hi = first
    before = lo.astimezone(zone).utcoffset()
    while hi - lo > timedelta(seconds=1):
        mid = lo + (hi - lo) / 2
        if mid.astimezone(zone).utcoffset() == before:
            lo = mid
        else:
            hi = mid
    return hi.replace(microsecond=0)


def windows_on(av: Availability, day: date) -> list[tuple[datetime, datetime]]:
    """The UTC intervals the therapist is available on one local date (overrides win)."""
    zone = av.zone
    override = next((o for o in av.overrides if o.day == day), None)
    if override is not None:
        windows: Iterable[Window] = override.windows
    else:
        windows = (r.window for r in av.weekly if r.weekday == day.weekday())
    out = []
    for w in windows:
        start = local_to_utc(day, w.start, zone)
        end = local_to_utc(day, w.end, zone)
        if end > start:
            out.append((start, end))
    return out


def candidate_starts(
    av: Availability, duration: timedelta, range_from: datetime, range_to: datetime, now: datetime
) -> Iterator[datetime]:
    """Start times in [range_from, range_to) where a session of `duration` fits in the windows,
    misses all time off, respects minimum notice and horizon. Ignores other appointments.

    Starts step from each window's start in real (UTC) time, so a window that a DST change makes
    longer or shorter offers more or fewer slots, never a slot at a wall time that does not
    exist."""
    earliest = max(range_from, now + timedelta(minutes=av.min_notice_minutes))
    latest = min(range_to, now + timedelta(days=av.horizon_days))
    if latest <= earliest:
        return
    step = timedelta(minutes=av.slot_step_minutes)
    day = earliest.astimezone(av.zone).date() - timedelta(days=1)
    last_day = (latest + duration).astimezone(av.zone).date() + timedelta(days=1)
    windows: list[tuple[datetime, datetime]] = []
    while day <= last_day:
        windows.extend(windows_on(av, day))
        day += timedelta(days=1)
    windows.sort()
    # A session may run on into a window that touches its own (Monday 24:00 = Tuesday 00:00);
    # starts still follow the grid of the window they start in.
    merged: list[list[datetime]] = []
    for w_start, w_end in windows:
        if merged and w_start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], w_end)
        else:
            merged.append([w_start, w_end])
    merged_starts = [m[0] for m in merged]
    off = _TimeOffIndex(av.time_off)
    seen: set[datetime] = set()
    for w_start, w_end in windows:
        cover_end = merged[bisect_right(merged_starts, w_start) - 1][1]
        s = w_start
        while s < w_end and s < latest and s + duration <= cover_end:
            if s >= earliest and s not in seen and not off.overlaps(s, s + duration):
                seen.add(s)
                yield s
            s += step


class _TimeOffIndex:
    """Time off merged into disjoint, sorted periods: an overlap check is one binary search,
    not a scan of every period for every candidate start."""

    def __init__(self, periods: Sequence[TimeOff]) -> None:
        merged: list[list[datetime]] = []
        for t in sorted(periods, key=lambda t: t.start):
            if merged and t.start <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], t.end)
            else:
                merged.append([t.start, t.end])
        self.starts = [m[0] for m in merged]
        self.ends = [m[1] for m in merged]

    def overlaps(self, start: datetime, end: datetime) -> bool:
        i = bisect_left(self.starts, end) - 1  # the last period starting before `end`
        return i >= 0 and self.ends[i] > start


def check_slot_range(range_from: datetime, range_to: datetime) -> None:
    if range_to <= range_from:
        raise InvalidArgument("`to` must be after `from`", field="to")
    if range_to - range_from > MAX_SLOT_RANGE:
        raise InvalidArgument("ask for at most 31 days of slots at a time", field="to")


def check_bookable_start(
    av: Availability, duration: timedelta, start: datetime, now: datetime
) -> None:
    """The start must be one of the therapist's slots (other appointments aside: the store's
    claim decides those). Each failure is its own clear message."""
    if start <= now:
        raise InvalidArgument("start is in the past", field="start")
    if start < now + timedelta(minutes=av.min_notice_minutes):
        raise InvalidArgument(
            f"start is inside the minimum notice of {av.min_notice_minutes} minutes",
            field="start",
        )
    if start >= now + timedelta(days=av.horizon_days):
        raise InvalidArgument(
            f"start is beyond the booking horizon of {av.horizon_days} days", field="start"
        )
    if start not in set(candidate_starts(av, duration, start, start + CELL, now)):
        raise InvalidArgument("start is not one of the therapist's available slots", field="start")


# --- time cells -----------------------------------------------------------------------------


def cells(start: datetime, end: datetime) -> list[datetime]:
    """The cells covering [start, end), rounded outwards to the cell grid (so an odd duration
    over-claims a little rather than ever under-claim)."""
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    first = epoch + ((start - epoch) // CELL) * CELL
    out = []
    c = first
    while c < end:
        out.append(c)
        c += CELL
    return out


def padded(start: datetime, end: datetime, before: timedelta, after: timedelta) -> list[datetime]:
    """The cells an appointment claims: its interval widened by the buffers. Two appointments of
    one therapist overlap (buffers included) if and only if they share a cell."""
    return cells(start - before, end + after)


def free_slots(
    av: Availability,
    duration: timedelta,
    range_from: datetime,
    range_to: datetime,
    now: datetime,
    claimed: set[datetime],
    limit: int = MAX_SLOTS,
) -> list[tuple[datetime, datetime]]:
    """Candidate starts whose padded cells are all unclaimed (live claims only): at most
    `limit` + 1 of them (the extra one tells the caller that more follow), in time order."""
    out = []
    for s in sorted(candidate_starts(av, duration, range_from, range_to, now)):
        if not any(
            c in claimed for c in padded(s, s + duration, av.buffer_before, av.buffer_after)
        ):
            out.append((s, s + duration))
            if len(out) > limit:
                break
    return out


def check_slot_limit(limit: int) -> int:
    if limit == 0:
        return MAX_SLOTS
    return _bounded(limit, 1, MAX_SLOTS, field="limit")


# --- appointments ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SessionType:
    name: str
    duration_minutes: int
    price_minor: int
    currency: str


@dataclass(frozen=True)
class CancellationPolicy:
    window_hours: int
    late_fee_minor: int
    currency: str


@dataclass(frozen=True)
class Appointment:
    appointment_id: str
    therapist_id: str
    client_id: str
    clinic_id: str
    session_type: str
    duration_minutes: int
    modality: str
    start: datetime
    end: datetime
    buffer_before_minutes: int
    buffer_after_minutes: int
    price_minor: int
    currency: str
    status: str
    created_at: datetime
    policy: CancellationPolicy
    hold_expires_at: datetime | None = None
    cancelled_at: datetime | None = None
    cancelled_by: str = ""
    cancelled_by_user_id: str = ""
    cancel_reason: str = ""
    late_cancellation: bool = False
    late_fee_minor: int = 0
    no_show_at: datetime | None = None
    completed_at: datetime | None = None
    session_id: str = ""
    # The therapist or the clinic moved the session last: the client may then cancel without a
    # fee. Cleared when the client moves it themself (their choice of time binds them again).
    late_fee_waived: bool = False

    @property
    def claim_cells(self) -> list[datetime]:
        return padded(
            self.start,
            self.end,
            timedelta(minutes=self.buffer_before_minutes),
            timedelta(minutes=self.buffer_after_minutes),
        )

    def status_at(self, now: datetime) -> str:
        """What a reader sees: a hold past its expiry is expired (nothing needs to write that)."""
        if self.status == HELD and self.hold_expires_at is not None and self.hold_expires_at <= now:
            return EXPIRED
        return self.status


def pick_session_type(types: Sequence[SessionType], name: str) -> SessionType:
    for t in types:
        if t.name == name:
            return t
    raise InvalidArgument("the therapist offers no session type of that name", field="session_type")


def check_modality(modality: str, offered: Sequence[str]) -> str:
    if modality not in MODALITIES:
        raise InvalidArgument("modality must be video or chat", field="modality")
    if offered and modality not in offered:
        raise InvalidArgument("the therapist does not offer this modality", field="modality")
    return modality


def new_appointment(
    *,
    av: Availability,
    therapist_id: str,
    client_id: str,
    clinic_id: str,
    session_type: SessionType,
    modality: str,
    start: datetime,
    hold: bool,
    hold_ttl: timedelta,
    policy: CancellationPolicy,
    now: datetime,
) -> Appointment:
    duration = timedelta(minutes=session_type.duration_minutes)
    check_bookable_start(av, duration, start, now)
    return Appointment(
        appointment_id=str(uuid.uuid4()),
        therapist_id=therapist_id,
        client_id=client_id,
        clinic_id=clinic_id,
        session_type=session_type.name,
        duration_minutes=session_type.duration_minutes,
        modality=modality,
        start=start,
        end=start + duration,
        buffer_before_minutes=av.buffer_before_minutes,
        buffer_after_minutes=av.buffer_after_minutes,
        price_minor=session_type.price_minor,
        currency=session_type.currency,
        status=HELD if hold else CONFIRMED,
        created_at=now,
        policy=policy,
        # A hold never outlives the start: nobody confirms a session that has begun.
        hold_expires_at=min(now + hold_ttl, start) if hold else None,
    )


@dataclass(frozen=True)
class BookingLimits:
    """Active bookings (held or confirmed, not over) one client may have at once: with one
    therapist and with one clinic (the clinic's terms, from identity), and on the whole platform
    (scheduling's setting)."""

    per_therapist: int
    per_clinic: int
    overall: int


@dataclass(frozen=True)
class ActiveBooking:
    therapist_id: str
    clinic_id: str


def check_booking_limits(
    active: Sequence[ActiveBooking], limits: BookingLimits, *, therapist_id: str, clinic_id: str
) -> None:
    """One more booking must stay within every limit: bookings are not free to hoard (a client
    could otherwise empty a therapist's calendar, then cancel early at no cost)."""
    with_therapist = sum(1 for a in active if a.therapist_id == therapist_id)
    in_clinic = sum(1 for a in active if a.clinic_id == clinic_id)
    for count, limit, what in (
        (with_therapist, limits.per_therapist, "with this therapist"),
        (in_clinic, limits.per_clinic, "with this clinic"),
        (len(active), limits.overall, "in all"),
    ):
        if limit > 0 and count >= limit:
            raise FailedPrecondition(
                f"at most {limit} upcoming sessions {what} at a time; "
                "cancel one or wait until one is over",
                field="therapist_id",
            )


def role_in(appt: Appointment, who: Principal) -> str:
    """Which party the caller is to this appointment, or PermissionDenied. The client is the
    account that booked, whatever its role became since (a client who founded a clinic keeps
    seeing, moving and cancelling their own sessions, as a client, fees included)."""
    if who.user_id == appt.client_id:
        return CLIENT
    if who.role == THERAPIST and who.user_id == appt.therapist_id:
        return THERAPIST
    if who.role == CLINIC_ADMIN and appt.clinic_id and who.clinic_id == appt.clinic_id:
        return CLINIC_ADMIN
    raise PermissionDenied("this appointment is not yours")


def confirm(appt: Appointment, who: Principal, now: datetime) -> Appointment:
    if role_in(appt, who) != CLIENT:
        raise PermissionDenied("only the client who placed the hold confirms it")
    status = appt.status_at(now)
    if status == EXPIRED:
        raise FailedPrecondition("the hold has expired; book again", field="appointment_id")
    if status != HELD:
        raise FailedPrecondition(f"the appointment is {status}, not held")
    if appt.start <= now:
        raise FailedPrecondition("the session has already started; book another time")
    return dataclasses.replace(appt, status=CONFIRMED, hold_expires_at=None)


def confirm_paid(appt: Appointment, now: datetime) -> Appointment | None:
    """Billing reports the hold paid for: confirm it if it is still a live hold before its start
    (None otherwise: nothing to do, e.g. the hold expired or was already confirmed)."""
    if appt.status_at(now) != HELD or appt.start <= now:
        return None
    return dataclasses.replace(appt, status=CONFIRMED, hold_expires_at=None)


def is_late(appt: Appointment, by: str, now: datetime) -> bool:
    """A client cancelling less than the clinic's window before the start cancels late, unless
    the therapist or the clinic moved the session."""
    return (
        by == CLIENT
        and not appt.late_fee_waived
        and appt.start - now < timedelta(hours=appt.policy.window_hours)
    )


def cancel(appt: Appointment, who: Principal, reason: str, now: datetime) -> Appointment:
    by = role_in(appt, who)
    try:  # the platform's character policy: no control or invisible formatting characters
        reason = check_text(reason, multiline=True, allow_blank=True)
    except TextRefused as refused:
        raise InvalidArgument(f"reason {refused}", field="reason") from None
    if len(reason) > MAX_REASON:
        raise InvalidArgument(f"reason must be at most {MAX_REASON} characters", field="reason")
    status = appt.status_at(now)
    if status not in ACTIVE:
        raise FailedPrecondition(f"the appointment is already {status}")
    if appt.end <= now:
        raise FailedPrecondition("the appointment is over; it can no longer be cancelled")
    # A hold was never paid for: releasing it is never late.
    late = status == CONFIRMED and is_late(appt, by, now)
    return dataclasses.replace(
        appt,
        status=CANCELLED,
        cancelled_at=now,
        cancelled_by=by,
        cancelled_by_user_id=who.user_id,
        cancel_reason=reason.strip(),
        late_cancellation=late,
        late_fee_minor=appt.policy.late_fee_minor if late else 0,
    )


def reschedule(
    appt: Appointment, who: Principal, av: Availability, new_start: datetime, now: datetime
) -> Appointment:
    by = role_in(appt, who)
    status = appt.status_at(now)
    if status != CONFIRMED:
        raise FailedPrecondition(f"only a confirmed appointment can be moved; this one is {status}")
    if appt.start <= now:
        raise FailedPrecondition("the appointment has started; it can no longer be moved")
    if is_late(appt, by, now):
        # Moving it away would dodge the late-cancellation fee: inside the window, cancel.
        raise FailedPrecondition(
            "inside the clinic's cancellation window a session cannot be moved by the client; "
            "cancel it instead",
            field="start",
        )
    if new_start == appt.start:
        raise InvalidArgument("the new start is the current start", field="start")
    duration = timedelta(minutes=appt.duration_minutes)
    check_bookable_start(av, duration, new_start, now)
    return dataclasses.replace(
        appt,
        start=new_start,
        end=new_start + duration,
        buffer_before_minutes=av.buffer_before_minutes,
        buffer_after_minutes=av.buffer_after_minutes,
        # The waiver answers for a time the client did not choose: the client's own move
        # chooses the time, so the in-window rules apply to it again.
        late_fee_waived=by != CLIENT,
    )


def mark_no_show(appt: Appointment, who: Principal, now: datetime) -> Appointment:
    if role_in(appt, who) != THERAPIST:
        raise PermissionDenied("only the appointment's therapist marks a no-show")
    status = appt.status_at(now)
    if status != CONFIRMED:
        raise FailedPrecondition(
            f"the appointment is {status}; only a confirmed one can be a no-show"
        )
    if now < appt.start:
        raise FailedPrecondition("a no-show can only be marked after the start time")
    return dataclasses.replace(appt, status=NO_SHOW, no_show_at=now)


def complete(appt: Appointment, session_id: str, ended_at: datetime) -> Appointment | None:
    """The session relay reported the session ended. None when there is nothing to do (already
    completed, cancelled, ...): events may arrive late or twice."""
    if appt.status != CONFIRMED:
        return None
    return dataclasses.replace(appt, status=COMPLETED, completed_at=ended_at, session_id=session_id)


# --- reminders ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reminder:
    reminder_id: str
    appointment_id: str
    lead_minutes: int
    due_at: datetime


def reminders_for(appt: Appointment, leads_minutes: Sequence[int], now: datetime) -> list[Reminder]:
    """One reminder per lead time still in the future. Ids are new each time: an appointment
    moved away and back gets fresh reminders beside the cancelled ones."""
    out = []
    for lead in leads_minutes:
        due = appt.start - timedelta(minutes=lead)
        if due > now:
            rid = f"{appt.appointment_id}:{lead}:{uuid.uuid4().hex[:12]}"
            out.append(Reminder(rid, appt.appointment_id, lead, due))
    return out


# --- idempotency and paging -----------------------------------------------------------------


def request_fingerprint(
    *, therapist_id: str, session_type: str, start: datetime, modality: str, hold: bool
) -> str:
    """What makes two booking requests "the same" for an Idempotency-Key."""
    canonical = json.dumps(
        [therapist_id, session_type, start.astimezone(UTC).isoformat(), modality, hold]
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def check_idempotency_key(key: str) -> str:
    if len(key) > 200 or not key.isprintable():
        raise InvalidArgument(
            "Idempotency-Key must be at most 200 printable characters", field="idempotency_key"
        )
    return key


def encode_cursor(start: datetime, appointment_id: str) -> str:
    raw = json.dumps([start.astimezone(UTC).isoformat(), appointment_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        start_text, appointment_id = json.loads(raw)
        start = datetime.fromisoformat(start_text)
        if not isinstance(appointment_id, str) or start.tzinfo is None:
            raise ValueError
        start = start.astimezone(UTC)  # a forged far-off value overflows here, not in the store
    except (
        ValueError,
        TypeError,
        OverflowError,
        RecursionError,  # "[[[[...]]]]": json.loads recurses once per level
        binascii.Error,
        UnicodeDecodeError,
    ):
        raise InvalidArgument("cursor is not one this API handed out", field="cursor") from None
    return start, appointment_id


def check_limit(limit: int) -> int:
    if limit == 0:
        return 50
    return _bounded(limit, 1, 200, field="limit")
