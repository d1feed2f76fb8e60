"""Availability, slots, appointments and the therapist's iCalendar feed (scheduling service).

Paths:
  PUT  /v1/therapists/{therapist_id}/availability      the therapist's own rules
  GET  /v1/therapists/{therapist_id}/availability
  GET  /v1/therapists/{therapist_id}/slots             ?from=&to=&session_type=&timezone=
  POST /v1/therapists/{therapist_id}/calendar-feed     new secret feed URL (old one stops working)
  GET  /v1/calendar-feeds/{feed_token}.ics             the feed itself; the token is the secret
  POST /v1/appointments                                book or hold (honours Idempotency-Key)
  GET  /v1/appointments                                the caller's, by role; paginated
  GET  /v1/appointments/{appointment_id}
  POST /v1/appointments/{appointment_id}/confirm       turn a live hold into a booking
  POST /v1/appointments/{appointment_id}/cancel
  POST /v1/appointments/{appointment_id}/reschedule
  POST /v1/appointments/{appointment_id}/no-show       the therapist, after the start time
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Header, Path, Query, Request, Response
from google.protobuf.timestamp_pb2 import Timestamp
from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field
from rapport.scheduling.v1 import scheduling_pb2 as pb
from rapport.scheduling.v1 import scheduling_pb2_grpc
from rapport_platform.timestamps import to_timestamp
from starlette.exceptions import HTTPException

from rapport_gateway.deps import Token, auth, downstream, stub
from rapport_gateway.paging import Page, next_cursor, paged
from rapport_gateway.text import Ascii, Line, Paragraph

DOWNSTREAM = "scheduling"
router = APIRouter(tags=["scheduling"])

Id = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
MODALITIES = {"video": pb.MODALITY_VIDEO, "chat": pb.MODALITY_CHAT}
MODALITY_NAMES = {v: k for k, v in MODALITIES.items()}
STATUSES = {
    "held": pb.APPOINTMENT_STATUS_HELD,
    "confirmed": pb.APPOINTMENT_STATUS_CONFIRMED,
    "cancelled": pb.APPOINTMENT_STATUS_CANCELLED,
    "no_show": pb.APPOINTMENT_STATUS_NO_SHOW,
    "completed": pb.APPOINTMENT_STATUS_COMPLETED,
    "expired": pb.APPOINTMENT_STATUS_EXPIRED,
}
STATUS_NAMES = {v: k for k, v in STATUSES.items()}
Status = Literal["held", "confirmed", "cancelled", "no_show", "completed", "expired"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def scheduling(request: Request) -> scheduling_pb2_grpc.SchedulingServiceStub:
    return stub(request, DOWNSTREAM, scheduling_pb2_grpc.SchedulingServiceStub)


def _in_range(value: datetime) -> datetime:
    # Years at the ends of the calendar overflow once an offset or a buffer is applied.
    if not 1970 <= value.year <= 2199:
        raise ValueError("must be between 1970 and 2200")
    return value


# Every time the API accepts: with an offset (RFC 3339), within a sane range.
Instant = Annotated[AwareDatetime, AfterValidator(_in_range)]


def from_ts(value: Timestamp) -> datetime | None:
    if value.seconds == 0 and value.nanos == 0:
        return None
    return value.ToDatetime(tzinfo=UTC)


# --- availability ---------------------------------------------------------------------------

HHMM = Annotated[Ascii, Field(max_length=5, description="local wall-clock time, HH:MM (24-hour)")]


class WindowBody(Strict):
    start: HHMM
    end: HHMM


class WeeklyBody(Strict):
    weekday: int = Field(ge=0, le=6, description="0 = Monday ... 6 = Sunday")
    start: HHMM
    end: HHMM


class OverrideBody(Strict):
    date: Ascii = Field(max_length=10, description="YYYY-MM-DD in the availability's zone")
    windows: list[WindowBody] = Field(default_factory=list, max_length=24)


class TimeOffBody(Strict):
    start: Instant
    end: Instant


class AvailabilityBody(Strict):
    timezone: Ascii = Field(max_length=64, description="IANA zone, e.g. America/New_York")
    weekly: list[WeeklyBody] = Field(default_factory=list, max_length=70)
    overrides: list[OverrideBody] = Field(default_factory=list, max_length=400)
    time_off: list[TimeOffBody] = Field(default_factory=list, max_length=500)
    buffer_minutes: int | None = Field(
        None, ge=0, le=240, description="both buffers at once, unless given separately"
    )
    buffer_before_minutes: int | None = Field(None, ge=0, le=240)
    buffer_after_minutes: int | None = Field(None, ge=0, le=240)
    min_notice_minutes: int = Field(0, ge=0, le=43200)
    horizon_days: int = Field(60, ge=1, le=365)
    slot_step_minutes: int = Field(15, ge=5, le=240)


class AvailabilityReply(BaseModel):
    therapist_id: str
    timezone: str
    weekly: list[WeeklyBody]
    overrides: list[OverrideBody]
    time_off: list[TimeOffBody]
    buffer_before_minutes: int
    buffer_after_minutes: int
    min_notice_minutes: int
    horizon_days: int
    slot_step_minutes: int
    updated_at: datetime | None


def availability_reply(a: pb.Availability) -> AvailabilityReply:
    return AvailabilityReply(
        therapist_id=a.therapist_id,
        timezone=a.timezone,
        weekly=[WeeklyBody(weekday=r.weekday, start=r.start, end=r.end) for r in a.weekly],
        overrides=[
            OverrideBody(
                date=o.date, windows=[WindowBody(start=w.start, end=w.end) for w in o.windows]
            )
            for o in a.overrides
        ],
        time_off=[
            TimeOffBody(start=t.start.ToDatetime(tzinfo=UTC), end=t.end.ToDatetime(tzinfo=UTC))
            for t in a.time_off
        ],
        buffer_before_minutes=a.buffer_before_minutes,
        buffer_after_minutes=a.buffer_after_minutes,
        min_notice_minutes=a.min_notice_minutes,
        horizon_days=a.horizon_days,
        slot_step_minutes=a.slot_step_minutes,
        updated_at=from_ts(a.updated_at),
    )


@router.put("/v1/therapists/{therapist_id}/availability", response_model=AvailabilityReply)
async def put_availability(
    therapist_id: Id, body: AvailabilityBody, request: Request, token: Token
) -> AvailabilityReply:
    both = body.buffer_minutes or 0
    before = body.buffer_before_minutes if body.buffer_before_minutes is not None else both
    after = body.buffer_after_minutes if body.buffer_after_minutes is not None else both
    reply = await scheduling(request).SetAvailability(
        pb.SetAvailabilityRequest(
            availability=pb.Availability(
                therapist_id=therapist_id,
                timezone=body.timezone,
                weekly=[
                    pb.WeeklyRule(weekday=r.weekday, start=r.start, end=r.end) for r in body.weekly
                ],
                overrides=[
                    pb.DateOverride(
                        date=o.date,
                        windows=[pb.TimeWindow(start=w.start, end=w.end) for w in o.windows],
                    )
                    for o in body.overrides
                ],
                time_off=[
                    pb.TimeOff(start=to_timestamp(t.start), end=to_timestamp(t.end))
                    for t in body.time_off
                ],
                buffer_before_minutes=before,
                buffer_after_minutes=after,
                min_notice_minutes=body.min_notice_minutes,
                horizon_days=body.horizon_days,
                slot_step_minutes=body.slot_step_minutes,
            )
        ),
        metadata=auth(token),
    )
    return availability_reply(reply.availability)


@router.get("/v1/therapists/{therapist_id}/availability", response_model=AvailabilityReply)
async def get_availability(therapist_id: Id, request: Request, token: Token) -> AvailabilityReply:
    reply = await scheduling(request).GetAvailability(
        pb.GetAvailabilityRequest(therapist_id=therapist_id), metadata=auth(token)
    )
    return availability_reply(reply.availability)


# --- slots ----------------------------------------------------------------------------------


class SlotItem(BaseModel):
    start: datetime = Field(description="UTC")
    end: datetime
    local_start: datetime | None = Field(None, description="in the zone asked for")
    local_end: datetime | None = None


class SlotsReply(BaseModel):
    items: list[SlotItem]
    next_cursor: str | None
    timezone: str
    duration_minutes: int


def _slot_cursor(start: datetime) -> str:
    return base64.urlsafe_b64encode(start.isoformat().encode()).decode().rstrip("=")


def _from_slot_cursor(cursor: str) -> datetime:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        value = datetime.fromisoformat(raw)
        if value.tzinfo is None:
            raise ValueError
        return _in_range(value)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise HTTPException(422, "cursor is not one this API handed out") from None


@router.get("/v1/therapists/{therapist_id}/slots", response_model=SlotsReply)
async def list_slots(
    therapist_id: Id,
    request: Request,
    token: Token,
    range_from: Annotated[Instant, Query(alias="from")],
    to: Instant,
    session_type: Annotated[Line, Query(max_length=64)],
    timezone: Annotated[Ascii, Query(max_length=64, description="show local times too")] = "",
    limit: Annotated[int, Query(ge=1, le=2000)] = 500,
    cursor: Annotated[Ascii, Query(max_length=200)] = "",
) -> SlotsReply:
    start = range_from
    if cursor:
        # Continue after the last slot handed out; ranges stay as asked.
        start = max(range_from, _from_slot_cursor(cursor) + timedelta(seconds=1))
    reply = await scheduling(request).ListSlots(
        pb.ListSlotsRequest(
            therapist_id=therapist_id,
            session_type=session_type,
            start_from=to_timestamp(start),
            start_before=to_timestamp(to),
            timezone=timezone,
            limit=limit,
        ),
        metadata=auth(token),
    )
    zone = ZoneInfo(timezone) if timezone else None  # validated by the service
    items = []
    for s in reply.slots:
        s_start, s_end = s.start.ToDatetime(tzinfo=UTC), s.end.ToDatetime(tzinfo=UTC)
        items.append(
            SlotItem(
                start=s_start,
                end=s_end,
                local_start=s_start.astimezone(zone) if zone else None,
                local_end=s_end.astimezone(zone) if zone else None,
            )
        )
    return SlotsReply(
        items=items,
        next_cursor=_slot_cursor(items[-1].start) if reply.more and items else None,
        timezone=reply.timezone,
        duration_minutes=reply.duration_minutes,
    )


# --- appointments ---------------------------------------------------------------------------


class BookBody(Strict):
    therapist_id: Ascii = Field(min_length=1, max_length=64)
    session_type: Line = Field(min_length=1, max_length=64)
    start: Instant
    modality: Literal["video", "chat"]
    hold: bool = Field(False, description="hold the slot (status held) while payment is secured")


class CancelBody(Strict):
    reason: Paragraph = Field("", max_length=500)


class RescheduleBody(Strict):
    start: Instant


class AppointmentReply(BaseModel):
    appointment_id: str
    status: str
    therapist_id: str
    client_id: str
    clinic_id: str
    session_type: str
    duration_minutes: int
    modality: str
    start: datetime
    end: datetime
    price_minor: int
    currency: str
    hold_expires_at: datetime | None = None
    created_at: datetime | None = None
    cancelled_at: datetime | None = None
    cancelled_by: str | None = None
    cancel_reason: str | None = None
    late_cancellation: bool = False
    late_fee_minor: int = 0
    no_show_at: datetime | None = None
    completed_at: datetime | None = None
    session_id: str | None = None


class AppointmentsReply(BaseModel):
    items: list[AppointmentReply]
    next_cursor: str | None


class FeedReply(BaseModel):
    feed_url: str
    feed_token: str


def appointment_reply(a: pb.Appointment) -> AppointmentReply:
    return AppointmentReply(
        appointment_id=a.appointment_id,
        status=STATUS_NAMES.get(a.status, "unknown"),
        therapist_id=a.therapist_id,
        client_id=a.client_id,
        clinic_id=a.clinic_id,
        session_type=a.session_type,
        duration_minutes=a.duration_minutes,
        modality=MODALITY_NAMES.get(a.modality, "unknown"),
        start=a.start.ToDatetime(tzinfo=UTC),
        end=a.end.ToDatetime(tzinfo=UTC),
        price_minor=a.price.amount_minor,
        currency=a.price.currency,
        hold_expires_at=from_ts(a.hold_expires_at),
        created_at=from_ts(a.created_at),
        cancelled_at=from_ts(a.cancelled_at),
        cancelled_by=a.cancelled_by or None,
        cancel_reason=a.cancel_reason or None,
        late_cancellation=a.late_cancellation,
        late_fee_minor=a.late_fee.amount_minor,
        no_show_at=from_ts(a.no_show_at),
        completed_at=from_ts(a.completed_at),
        session_id=a.session_id or None,
    )


@router.post("/v1/appointments", status_code=201, response_model=AppointmentReply)
async def book(
    body: BookBody,
    request: Request,
    response: Response,
    token: Token,
    idempotency_key: Annotated[
        Ascii | None,
        Header(
            alias="Idempotency-Key",
            max_length=200,
            description="retrying with the same key and body returns the same appointment",
        ),
    ] = None,
) -> AppointmentReply:
    reply = await scheduling(request).BookAppointment(
        pb.BookAppointmentRequest(
            therapist_id=body.therapist_id,
            session_type=body.session_type,
            start=to_timestamp(body.start),
            modality=MODALITIES[body.modality],
            hold=body.hold,
            idempotency_key=idempotency_key or "",
        ),
        metadata=auth(token),
    )
    if reply.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return appointment_reply(reply.appointment)


@router.get("/v1/appointments", response_model=AppointmentsReply)
async def list_appointments(
    request: Request,
    token: Token,
    page: Annotated[Page, paged(50, 200)],
    status: Annotated[list[Status] | None, Query(max_length=len(STATUSES))] = None,
    range_from: Annotated[Instant | None, Query(alias="from")] = None,
    to: Instant | None = None,
) -> AppointmentsReply:
    req = pb.ListAppointmentsRequest(
        limit=page.limit, cursor=page.cursor, statuses=[STATUSES[s] for s in status or []]
    )
    if range_from is not None:
        req.start_from.CopyFrom(to_timestamp(range_from))
    if to is not None:
        req.start_before.CopyFrom(to_timestamp(to))
    reply = await scheduling(request).ListAppointments(req, metadata=auth(token))
    return AppointmentsReply(
        items=[appointment_reply(a) for a in reply.items],
        next_cursor=next_cursor(reply.next_cursor),
    )


@router.get("/v1/appointments/{appointment_id}", response_model=AppointmentReply)
async def get_appointment(appointment_id: Id, request: Request, token: Token) -> AppointmentReply:
    reply = await scheduling(request).GetAppointment(
        pb.GetAppointmentRequest(appointment_id=appointment_id), metadata=auth(token)
    )
    return appointment_reply(reply.appointment)


@router.post("/v1/appointments/{appointment_id}/confirm", response_model=AppointmentReply)
async def confirm(appointment_id: Id, request: Request, token: Token) -> AppointmentReply:
    reply = await scheduling(request).ConfirmAppointment(
        pb.ConfirmAppointmentRequest(appointment_id=appointment_id), metadata=auth(token)
    )
    return appointment_reply(reply.appointment)


@router.post("/v1/appointments/{appointment_id}/cancel", response_model=AppointmentReply)
async def cancel(
    appointment_id: Id, body: CancelBody, request: Request, token: Token
) -> AppointmentReply:
    reply = await scheduling(request).CancelAppointment(
        pb.CancelAppointmentRequest(appointment_id=appointment_id, reason=body.reason),
        metadata=auth(token),
    )
    return appointment_reply(reply.appointment)


@router.post("/v1/appointments/{appointment_id}/reschedule", response_model=AppointmentReply)
async def reschedule(
    appointment_id: Id, body: RescheduleBody, request: Request, token: Token
) -> AppointmentReply:
    reply = await scheduling(request).RescheduleAppointment(
        pb.RescheduleAppointmentRequest(
            appointment_id=appointment_id, start=to_timestamp(body.start)
        ),
        metadata=auth(token),
    )
    return appointment_reply(reply.appointment)


@router.post("/v1/appointments/{appointment_id}/no-show", response_model=AppointmentReply)
async def no_show(appointment_id: Id, request: Request, token: Token) -> AppointmentReply:
    reply = await scheduling(request).MarkNoShow(
        pb.MarkNoShowRequest(appointment_id=appointment_id), metadata=auth(token)
    )
    return appointment_reply(reply.appointment)


# --- calendar feed --------------------------------------------------------------------------


@router.post(
    "/v1/therapists/{therapist_id}/calendar-feed", status_code=201, response_model=FeedReply
)
async def create_feed(therapist_id: Id, request: Request, token: Token) -> FeedReply:
    reply = await scheduling(request).CreateCalendarFeed(
        pb.CreateCalendarFeedRequest(therapist_id=therapist_id), metadata=auth(token)
    )
    # From the configured public URL: the Host header is the caller's to choose.
    path = request.app.url_path_for("calendar_feed", feed_token=reply.feed_token)
    url = f"{downstream(request).settings.public_url}{path}"
    return FeedReply(feed_url=url, feed_token=reply.feed_token)


@router.get(
    "/v1/calendar-feeds/{feed_token}.ics",
    name="calendar_feed",
    response_class=Response,
    responses={200: {"content": {"text/calendar": {}}}},
)
async def calendar_feed(
    feed_token: Annotated[str, Path(min_length=16, max_length=128, pattern=r"^[A-Za-z0-9_-]+$")],
    request: Request,
) -> Response:
    reply = await scheduling(request).GetCalendarFeed(
        pb.GetCalendarFeedRequest(feed_token=feed_token)
    )
    return Response(
        reply.ics,
        media_type="text/calendar; charset=utf-8",
        headers={"Cache-Control": "private, max-age=300", "Referrer-Policy": "no-referrer"},
    )
