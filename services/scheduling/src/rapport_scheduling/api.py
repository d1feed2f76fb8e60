"""Scheduling's gRPC API: proto <-> domain, the identity questions booking needs, and the
transactions that keep appointments, claims, reminders and outbox events together."""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import hashlib
import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from icalendar import Calendar
from icalendar import Event as IcsEvent
from pymongo.errors import DuplicateKeyError
from rapport.identity.v1 import identity_pb2 as idpb
from rapport.identity.v1 import identity_pb2_grpc
from rapport.scheduling.v1 import scheduling_pb2 as pb
from rapport.scheduling.v1 import scheduling_pb2_grpc
from rapport.types.v1.money_pb2 import Money
from rapport_platform import service_auth
from rapport_platform.auth import CLIENT, CLINIC_ADMIN, THERAPIST, Principal, TokenVerifier
from rapport_platform.errors import (
    DomainError,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
    Unauthenticated,
    Unavailable,
)
from rapport_platform.outbox import Outbox
from rapport_platform.rpc import bearer, call_as_caller
from rapport_platform.store import Session, Store
from rapport_platform.timestamps import to_timestamp

from rapport_scheduling import domain, events
from rapport_scheduling.settings import SchedulingSettings
from rapport_scheduling.store import SchedulingStore

Clock = Callable[[], datetime]

MODALITY_TO_PB = {"video": pb.MODALITY_VIDEO, "chat": pb.MODALITY_CHAT}
PB_TO_MODALITY = {v: k for k, v in MODALITY_TO_PB.items()}
IDENTITY_MODALITY = {idpb.MODALITY_VIDEO: "video", idpb.MODALITY_CHAT: "chat"}
STATUS_TO_PB = {
    domain.HELD: pb.APPOINTMENT_STATUS_HELD,
    domain.CONFIRMED: pb.APPOINTMENT_STATUS_CONFIRMED,
    domain.CANCELLED: pb.APPOINTMENT_STATUS_CANCELLED,
    domain.NO_SHOW: pb.APPOINTMENT_STATUS_NO_SHOW,
    domain.COMPLETED: pb.APPOINTMENT_STATUS_COMPLETED,
    domain.EXPIRED: pb.APPOINTMENT_STATUS_EXPIRED,
}
PB_TO_STATUS = {v: k for k, v in STATUS_TO_PB.items()}
FEED_LIMIT = 2000
_SLOT_SEARCH = concurrent.futures.ThreadPoolExecutor(2, thread_name_prefix="slots")


def from_ts(value: Timestamp, *, field: str) -> datetime:
    if value.seconds == 0 and value.nanos == 0:
        raise InvalidArgument(f"{field} is required", field=field)
    # Far-off instants would overflow date arithmetic (buffers, margins) further on.
    if not EARLIEST <= value.seconds <= LATEST:
        raise InvalidArgument(f"{field} must be between 1970 and 2200", field=field)
    return value.ToDatetime(tzinfo=UTC)


EARLIEST = 0
LATEST = int(datetime(2200, 1, 1, tzinfo=UTC).timestamp())


def feed_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# --- proto <-> domain -----------------------------------------------------------------------


def availability_to_pb(av: domain.Availability) -> pb.Availability:
    return pb.Availability(
        therapist_id=av.therapist_id,
        timezone=av.timezone,
        weekly=[
            pb.WeeklyRule(
                weekday=r.weekday,
                start=domain.format_hhmm(r.window.start),
                end=domain.format_hhmm(r.window.end),
            )
            for r in av.weekly
        ],
        overrides=[
            pb.DateOverride(
                date=o.day.isoformat(),
                windows=[
                    pb.TimeWindow(start=domain.format_hhmm(w.start), end=domain.format_hhmm(w.end))
                    for w in o.windows
                ],
            )
            for o in av.overrides
        ],
        time_off=[
            pb.TimeOff(start=to_timestamp(t.start), end=to_timestamp(t.end)) for t in av.time_off
        ],
        buffer_before_minutes=av.buffer_before_minutes,
        buffer_after_minutes=av.buffer_after_minutes,
        min_notice_minutes=av.min_notice_minutes,
        horizon_days=av.horizon_days,
        slot_step_minutes=av.slot_step_minutes,
        updated_at=to_timestamp(av.updated_at),
    )


def appointment_to_pb(a: domain.Appointment, now: datetime) -> pb.Appointment:
    return pb.Appointment(
        appointment_id=a.appointment_id,
        therapist_id=a.therapist_id,
        client_id=a.client_id,
        clinic_id=a.clinic_id,
        session_type=a.session_type,
        duration_minutes=a.duration_minutes,
        modality=MODALITY_TO_PB[a.modality],
        start=to_timestamp(a.start),
        end=to_timestamp(a.end),
        status=STATUS_TO_PB[a.status_at(now)],
        price=Money(amount_minor=a.price_minor, currency=a.currency),
        hold_expires_at=to_timestamp(a.hold_expires_at),
        created_at=to_timestamp(a.created_at),
        cancelled_at=to_timestamp(a.cancelled_at),
        cancelled_by=a.cancelled_by,
        cancel_reason=a.cancel_reason,
        late_cancellation=a.late_cancellation,
        late_fee=Money(amount_minor=a.late_fee_minor, currency=a.currency),
        no_show_at=to_timestamp(a.no_show_at),
        completed_at=to_timestamp(a.completed_at),
        session_id=a.session_id,
        buffer_before_minutes=a.buffer_before_minutes,
        buffer_after_minutes=a.buffer_after_minutes,
    )


def calendar_ics(therapist_id: str, appointments: list[domain.Appointment], now: datetime) -> str:
    """The therapist's calendar: times, session type and modality; never who the client is."""
    cal = Calendar()
    cal.add("prodid", "-//Rapport//Scheduling//EN")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", "Rapport sessions")
    for a in appointments:
        status = a.status_at(now)
        if status == domain.EXPIRED:
            continue
        item = IcsEvent()
        item.add("uid", f"{a.appointment_id}@rapport")
        item.add("dtstamp", now)
        item.add("dtstart", a.start)
        item.add("dtend", a.end)
        item.add("summary", f"Rapport session: {a.session_type} ({a.modality})")
        item.add(
            "status",
            {domain.HELD: "TENTATIVE", domain.CANCELLED: "CANCELLED"}.get(status, "CONFIRMED"),
        )
        item.add("x-rapport-status", status)
        cal.add_component(item)
    ics: bytes = cal.to_ical()
    return ics.decode()


# --- identity -------------------------------------------------------------------------------

_IDENTITY_ERRORS: dict[grpc.StatusCode, type[DomainError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgument,
    grpc.StatusCode.NOT_FOUND: NotFound,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDenied,
    grpc.StatusCode.UNAUTHENTICATED: Unauthenticated,
    grpc.StatusCode.FAILED_PRECONDITION: FailedPrecondition,
}


class Identity:
    """The identity questions scheduling asks, with the caller's own token (or, from a consumer
    with no caller, scheduling's own service token)."""

    def __init__(
        self, channel: grpc.aio.Channel, timeout: float, service_token_key: str = ""
    ) -> None:
        self.stub = identity_pb2_grpc.IdentityServiceStub(channel)
        self.timeout = timeout
        self.service_token_key = service_token_key

    async def clinic_of(self, therapist_id: str) -> str:
        """The therapist's clinic now, as identity knows it; "" when it has no such therapist."""
        metadata = service_auth.mint(
            self.service_token_key,
            issuer=service_auth.SCHEDULING,
            audience=service_auth.IDENTITY,
            claims={"therapist_id": therapist_id},
        )
        try:
            reply: idpb.GetTherapistProfileResponse = await self.stub.GetTherapistProfile(
                idpb.GetTherapistProfileRequest(therapist_id=therapist_id),
                metadata=metadata,
                timeout=self.timeout,
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                return ""
            # Refused or down: the event is retried later, never applied unchecked.
            raise Unavailable("identity could not confirm the fact") from None
        return str(reply.profile.clinic_id)

    async def _call(self, method: str, request: object, who: Principal) -> Any:
        rpc = getattr(self.stub, method)
        return await call_as_caller(
            rpc, request, who.token, timeout=self.timeout, service="identity"
        )

    async def me(self, who: Principal) -> idpb.User:
        reply: idpb.GetMeResponse = await self._call("GetMe", idpb.GetMeRequest(), who)
        return reply.user

    async def profile(self, therapist_id: str, who: Principal) -> idpb.TherapistProfile:
        try:
            reply: idpb.GetTherapistProfileResponse = await self._call(
                "GetTherapistProfile",
                idpb.GetTherapistProfileRequest(therapist_id=therapist_id),
                who,
            )
        except NotFound:
            raise NotFound("no such therapist", field="therapist_id") from None
        return reply.profile

    async def eligibility(
        self, therapist_id: str, jurisdiction: str, who: Principal
    ) -> idpb.CheckEligibilityResponse:
        reply: idpb.CheckEligibilityResponse = await self._call(
            "CheckEligibility",
            idpb.CheckEligibilityRequest(
                therapist_id=therapist_id, client_jurisdiction=jurisdiction
            ),
            who,
        )
        return reply

    async def booking_context(
        self, therapist_id: str, who: Principal
    ) -> idpb.GetBookingContextResponse:
        """The caller, the therapist's profile, their clinic's terms and the eligibility, in one
        call (one token check and five reads in identity, instead of four calls and six reads).
        An identity from before GetBookingContext answers UNIMPLEMENTED: then the four calls."""
        try:
            reply: idpb.GetBookingContextResponse = await self.stub.GetBookingContext(
                idpb.GetBookingContextRequest(therapist_id=therapist_id),
                metadata=bearer(who.token),
                timeout=self.timeout,
            )
            return reply
        except grpc.aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.UNIMPLEMENTED:
                cls = _IDENTITY_ERRORS.get(exc.code())
                if cls is not None:
                    raise cls(exc.details() or "identity refused") from None
                raise Unavailable("identity is unavailable") from None
        me, profile = await asyncio.gather(self.me(who), self.profile(therapist_id, who))
        eligible, clinic = await asyncio.gather(
            self.eligibility(therapist_id, me.jurisdiction, who),
            self.clinic(profile.clinic_id, who) if profile.clinic_id else _no_clinic(),
        )
        out = idpb.GetBookingContextResponse(user=me, profile=profile, eligibility=eligible)
        if clinic is not None:
            out.clinic.CopyFrom(clinic)
        return out

    async def clinic(self, clinic_id: str, who: Principal) -> idpb.Clinic:
        reply: idpb.GetClinicResponse = await self._call(
            "GetClinic", idpb.GetClinicRequest(clinic_id=clinic_id), who
        )
        return reply.clinic


async def _no_clinic() -> None:
    return None


def session_types(profile: idpb.TherapistProfile) -> list[domain.SessionType]:
    return [
        domain.SessionType(
            name=t.name,
            duration_minutes=t.duration_minutes,
            price_minor=t.price.amount_minor,
            currency=t.price.currency,
        )
        for t in profile.session_types
        if t.duration_minutes > 0
    ]


# --- the servicer ---------------------------------------------------------------------------


class SchedulingApi(scheduling_pb2_grpc.SchedulingServiceServicer):
    def __init__(
        self,
        *,
        store: Store,
        outbox: Outbox,
        verifier: TokenVerifier,
        identity: Identity,
        settings: SchedulingSettings,
        clock: Clock,
    ) -> None:
        self.store = store
        self.repo = SchedulingStore(store)
        self.outbox = outbox
        self.verifier = verifier
        self.identity = identity
        self.settings = settings
        self.clock = clock
        self.hold_ttl = timedelta(seconds=settings.hold_ttl_seconds)

    async def _availability(self, therapist_id: str) -> domain.Availability:
        av = await self.repo.get_availability(therapist_id)
        if av is None:
            raise NotFound("this therapist has not published availability", field="therapist_id")
        return av

    async def _appointment(
        self, appointment_id: str, session: Session | None = None
    ) -> domain.Appointment:
        appt = (
            await self.repo.get_appointment(appointment_id, session=session)
            if appointment_id
            else None
        )
        if appt is None:
            raise NotFound("no such appointment", field="appointment_id")
        return appt

    # availability and slots
    async def SetAvailability(
        self, request: pb.SetAvailabilityRequest, context: grpc.aio.ServicerContext
    ) -> pb.SetAvailabilityResponse:
        who = await self.verifier.authenticate(context)
        a = request.availability
        who.require_role(THERAPIST).require_self(a.therapist_id)
        av = domain.new_availability(
            therapist_id=a.therapist_id,
            timezone=a.timezone,
            weekly=[(r.weekday, r.start, r.end) for r in a.weekly],
            overrides=[(o.date, [(w.start, w.end) for w in o.windows]) for o in a.overrides],
            time_off=[
                (
                    from_ts(t.start, field=f"time_off[{i}].start"),
                    from_ts(t.end, field=f"time_off[{i}].end"),
                )
                for i, t in enumerate(a.time_off)
            ],
            buffer_before_minutes=a.buffer_before_minutes,
            buffer_after_minutes=a.buffer_after_minutes,
            min_notice_minutes=a.min_notice_minutes,
            horizon_days=a.horizon_days,
            slot_step_minutes=a.slot_step_minutes,
            now=self.clock(),
        )
        await self.repo.put_availability(av)
        return pb.SetAvailabilityResponse(availability=availability_to_pb(av))

    async def GetAvailability(
        self, request: pb.GetAvailabilityRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetAvailabilityResponse:
        await self.verifier.authenticate(context)
        av = await self._availability(request.therapist_id)
        return pb.GetAvailabilityResponse(availability=availability_to_pb(av))

    async def ListSlots(
        self, request: pb.ListSlotsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListSlotsResponse:
        who = await self.verifier.authenticate(context)
        range_from = from_ts(request.start_from, field="from")
        range_to = from_ts(request.start_before, field="to")
        domain.check_slot_range(range_from, range_to)
        limit = domain.check_slot_limit(request.limit)
        if request.timezone:
            domain.check_timezone(request.timezone)
        av = await self._availability(request.therapist_id)
        profile = await self.identity.profile(request.therapist_id, who)
        st = domain.pick_session_type(session_types(profile), request.session_type)
        duration = timedelta(minutes=st.duration_minutes)
        now = self.clock()
        margin = av.buffer_before + av.buffer_after + duration + domain.CELL
        claimed = await self.repo.live_cells(
            av.therapist_id, range_from - margin, range_to + margin, now
        )
        # CPU-bound (up to a month of candidate starts): in a worker thread, so the event loop
        # keeps answering other callers meanwhile; threads of its own, so a burst of slot
        # searches never holds the default executor the database driver reconnects through.
        slots = await asyncio.get_running_loop().run_in_executor(
            _SLOT_SEARCH,
            functools.partial(
                domain.free_slots, av, duration, range_from, range_to, now, claimed, limit
            ),
        )
        return pb.ListSlotsResponse(
            slots=[pb.Slot(start=to_timestamp(s), end=to_timestamp(e)) for s, e in slots[:limit]],
            timezone=request.timezone or av.timezone,
            duration_minutes=st.duration_minutes,
            more=len(slots) > limit,
        )

    # booking
    async def BookAppointment(
        self, request: pb.BookAppointmentRequest, context: grpc.aio.ServicerContext
    ) -> pb.BookAppointmentResponse:
        who = await self.verifier.authenticate(context)
        who.require_role(CLIENT)
        start = from_ts(request.start, field="start")
        modality = PB_TO_MODALITY.get(request.modality)
        if modality is None:
            raise InvalidArgument("modality must be video or chat", field="modality")
        if not request.therapist_id:
            raise InvalidArgument("therapist_id is required", field="therapist_id")
        key = domain.check_idempotency_key(request.idempotency_key)
        fingerprint = domain.request_fingerprint(
            therapist_id=request.therapist_id,
            session_type=request.session_type,
            start=start,
            modality=modality,
            hold=request.hold,
        )
        if key and (replay := await self._replay(who, key, fingerprint)) is not None:
            return replay

        # The availability and identity's answers at once; errors in the order they were asked.
        av_or_error, ctx = await asyncio.gather(
            self._availability(request.therapist_id),
            self.identity.booking_context(request.therapist_id, who),
            return_exceptions=True,
        )
        for outcome in (av_or_error, ctx):
            if isinstance(outcome, BaseException):
                raise outcome
        assert isinstance(av_or_error, domain.Availability)
        assert isinstance(ctx, idpb.GetBookingContextResponse)
        av = av_or_error
        if not ctx.HasField("profile"):
            raise NotFound("no such therapist", field="therapist_id")
        profile, eligible = ctx.profile, ctx.eligibility
        st = domain.pick_session_type(session_types(profile), request.session_type)
        domain.check_modality(
            modality, [IDENTITY_MODALITY[m] for m in profile.modalities if m in IDENTITY_MODALITY]
        )
        policy, limits = self._terms(
            profile, st, ctx.clinic if ctx.HasField("clinic") else None, hold=request.hold
        )
        if not eligible.eligible:
            raise PermissionDenied(
                eligible.explanation or "this therapist cannot see clients where you live",
                field="therapist_id",
            )
        if not st.currency:
            st = domain.SessionType(st.name, st.duration_minutes, st.price_minor, policy.currency)
        now = self.clock()
        appt = domain.new_appointment(
            av=av,
            therapist_id=request.therapist_id,
            client_id=who.user_id,
            clinic_id=profile.clinic_id,
            session_type=st,
            modality=modality,
            start=start,
            hold=request.hold,
            hold_ttl=self.hold_ttl,
            policy=policy,
            now=now,
        )

        booked_event = ""

        async def write(session: Session) -> None:
            nonlocal booked_event
            # The key first: a concurrent retry with the same key fails here, not on the claim.
            if key:
                await self.repo.remember_key(
                    session, who.user_id, key, fingerprint, appt.appointment_id, now
                )
            domain.check_booking_limits(
                await self.repo.active_bookings(session, who.user_id, now),
                limits,
                therapist_id=appt.therapist_id,
                clinic_id=appt.clinic_id,
            )
            if appt.status == domain.HELD:
                held = await self.repo.live_holds(session, who.user_id, now)
                if held >= self.settings.max_live_holds:
                    # Holds cost nothing: without a cap one account could block a calendar.
                    raise ResourceExhausted(
                        f"at most {self.settings.max_live_holds} holds at a time; "
                        "confirm or let one expire first"
                    )
            await self.repo.claim(session, appt, now)
            await self.repo.insert_appointment(session, appt)
            if appt.status == domain.CONFIRMED:
                await self.repo.add_reminders(
                    session,
                    domain.reminders_for(appt, self.settings.reminder_leads_minutes, now),
                    appt,
                )
            booked_event = await self.outbox.add(
                session, events.BOOKED, events.booked(appt, now), publish_after_commit=True
            )
            # Last, so two bookings of one client conflict only if they commit at nearly the
            # same time (the later one runs again and counts the other); earlier, it would make
            # a client's parallel bookings spin on each other for the whole transaction.
            await self.repo.pin_client(session, who.user_id)

        async def commit() -> None:
            await self.store.transaction(write)
            self.outbox.publish_committed(booked_event)
            events.bookings.add(1, {"status": appt.status, "modality": appt.modality})

        try:
            # Shielded: a caller whose deadline ends mid-commit does not cut the booking short
            # between its commit and its count (the SRE's bookings metric would miss it); the
            # caller's retry with its idempotency key gets the replay.
            await asyncio.shield(commit())
        except DuplicateKeyError:
            # Lost a race with the same key: answer what the winner got.
            replay = await self._replay(who, key, fingerprint) if key else None
            if replay is None:
                raise
            return replay
        return pb.BookAppointmentResponse(appointment=appointment_to_pb(appt, now))

    async def _replay(
        self, who: Principal, key: str, fingerprint: str
    ) -> pb.BookAppointmentResponse | None:
        record = await self.repo.idempotent_reply(who.user_id, key)
        if record is None:
            return None
        if record["fingerprint"] != fingerprint:
            raise InvalidArgument(
                "this Idempotency-Key was used with a different request", field="idempotency_key"
            )
        appt = await self._appointment(record["appointment_id"])
        return pb.BookAppointmentResponse(
            appointment=appointment_to_pb(appt, self.clock()), replayed=True
        )

    def _terms(
        self,
        profile: idpb.TherapistProfile,
        st: domain.SessionType,
        clinic: idpb.Clinic | None,
        *,
        hold: bool = True,
    ) -> tuple[domain.CancellationPolicy, domain.BookingLimits]:
        """The clinic's cancellation policy and booking limits (identity owns clinic terms).
        A payment-first clinic takes only held bookings: the client pays, then it is confirmed."""
        overall = self.settings.max_active_bookings
        if not profile.clinic_id or clinic is None:
            policy = domain.CancellationPolicy(
                window_hours=self.settings.default_cancellation_window_hours,
                late_fee_minor=0,
                currency=st.currency,
            )
            return policy, domain.BookingLimits(overall, overall, overall)
        if clinic.payment_first and not hold:
            raise FailedPrecondition(
                "this clinic takes payment first: book with hold true, then pay", field="hold"
            )
        p = clinic.cancellation_policy
        policy = domain.CancellationPolicy(
            window_hours=p.window_hours,
            late_fee_minor=p.late_fee.amount_minor,
            currency=p.late_fee.currency or clinic.currency,
        )
        # 0 (an identity from before the limits): only the platform's bound applies.
        limits = domain.BookingLimits(
            per_therapist=clinic.booking_limits.per_therapist,
            per_clinic=clinic.booking_limits.per_client,
            overall=overall,
        )
        return policy, limits

    async def ConfirmAppointment(
        self, request: pb.ConfirmAppointmentRequest, context: grpc.aio.ServicerContext
    ) -> pb.ConfirmAppointmentResponse:
        who = await self.verifier.authenticate(context)
        now = self.clock()

        async def write(session: Session) -> domain.Appointment:
            appt = await self._appointment(request.appointment_id, session)
            done = domain.confirm(appt, who, now)
            if not await self.repo.make_permanent(session, appt, now):
                raise FailedPrecondition("the hold has expired; book again")
            await self.repo.replace_appointment(session, done, appt.status)
            await self.repo.add_reminders(
                session, domain.reminders_for(done, self.settings.reminder_leads_minutes, now), done
            )
            await self.outbox.add(session, events.CONFIRMED, events.confirmed(done, now))
            return done

        done = await self.store.transaction(write)
        self.outbox.wake()
        return pb.ConfirmAppointmentResponse(appointment=appointment_to_pb(done, now))

    # reads
    async def GetAppointment(
        self, request: pb.GetAppointmentRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetAppointmentResponse:
        who = await self.verifier.authenticate(context)
        appt = await self._appointment(request.appointment_id)
        domain.role_in(appt, who)
        return pb.GetAppointmentResponse(appointment=appointment_to_pb(appt, self.clock()))

    async def ListAppointments(
        self, request: pb.ListAppointmentsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListAppointmentsResponse:
        who = await self.verifier.authenticate(context)
        if who.role == CLIENT:
            scope: dict[str, Any] = {"client_id": who.user_id}
        elif who.role == THERAPIST:
            scope = {"therapist_id": who.user_id}
        elif who.role == CLINIC_ADMIN and who.clinic_id:
            # Their clinic's, and the ones they booked as a client before founding it.
            scope = {"$or": [{"clinic_id": who.clinic_id}, {"client_id": who.user_id}]}
        else:
            raise PermissionDenied("no appointments to show for this account")
        limit = domain.check_limit(request.limit)
        after = domain.decode_cursor(request.cursor) if request.cursor else None
        wanted = [PB_TO_STATUS[s] for s in request.statuses if s in PB_TO_STATUS]
        if len(wanted) != len(request.statuses):
            raise InvalidArgument("unknown status", field="status")
        stored = sorted({domain.HELD if s == domain.EXPIRED else s for s in wanted})
        page = await self.repo.list_appointments(
            scope,
            limit=limit,
            after=after,
            start_from=from_ts(request.start_from, field="from")
            if request.HasField("start_from")
            else None,
            start_to=from_ts(request.start_before, field="to")
            if request.HasField("start_before")
            else None,
            statuses=stored,
        )
        now = self.clock()
        items = [a for a in page if not wanted or a.status_at(now) in wanted]
        next_cursor = (
            domain.encode_cursor(page[-1].start, page[-1].appointment_id)
            if len(page) == limit
            else ""
        )
        return pb.ListAppointmentsResponse(
            items=[appointment_to_pb(a, now) for a in items], next_cursor=next_cursor
        )

    # changes
    async def CancelAppointment(
        self, request: pb.CancelAppointmentRequest, context: grpc.aio.ServicerContext
    ) -> pb.CancelAppointmentResponse:
        who = await self.verifier.authenticate(context)
        now = self.clock()

        async def write(session: Session) -> domain.Appointment:
            appt = await self._appointment(request.appointment_id, session)
            done = domain.cancel(appt, who, request.reason, now)
            await self.repo.replace_appointment(session, done, appt.status)
            await self.repo.release(session, appt)
            await self.repo.cancel_reminders(session, appt.appointment_id)
            await self.outbox.add(session, events.CANCELLED, events.cancelled(done, now))
            return done

        done = await self.store.transaction(write)
        self.outbox.wake()
        return pb.CancelAppointmentResponse(appointment=appointment_to_pb(done, now))

    async def RescheduleAppointment(
        self, request: pb.RescheduleAppointmentRequest, context: grpc.aio.ServicerContext
    ) -> pb.RescheduleAppointmentResponse:
        who = await self.verifier.authenticate(context)
        new_start = from_ts(request.start, field="start")
        now = self.clock()
        current = await self._appointment(request.appointment_id)
        if domain.role_in(current, who) == CLIENT:
            # Booking anew, in effect: the therapist must still be licensed where the client lives.
            me = await self.identity.me(who)
            eligible = await self.identity.eligibility(current.therapist_id, me.jurisdiction, who)
            if not eligible.eligible:
                raise PermissionDenied(
                    eligible.explanation or "this therapist cannot see clients where you live",
                    field="therapist_id",
                )

        async def write(session: Session) -> domain.Appointment:
            appt = await self._appointment(request.appointment_id, session)
            by = domain.role_in(appt, who)
            av = await self._availability(appt.therapist_id)
            moved = domain.reschedule(appt, who, av, new_start, now)
            # Claim the new time first (keeping cells both times share), then release the rest of
            # the old: one transaction, so the appointment is never without a time nor holds two.
            await self.repo.claim(session, moved, now)
            await self.repo.release(session, appt, keep=moved.claim_cells)
            await self.repo.replace_appointment(session, moved, appt.status)
            await self.repo.cancel_reminders(session, appt.appointment_id)
            await self.repo.add_reminders(
                session,
                domain.reminders_for(moved, self.settings.reminder_leads_minutes, now),
                moved,
            )
            await self.outbox.add(
                session, events.RESCHEDULED, events.rescheduled(appt, moved, by, now)
            )
            return moved

        moved = await self.store.transaction(write)
        self.outbox.wake()
        return pb.RescheduleAppointmentResponse(appointment=appointment_to_pb(moved, now))

    async def MarkNoShow(
        self, request: pb.MarkNoShowRequest, context: grpc.aio.ServicerContext
    ) -> pb.MarkNoShowResponse:
        who = await self.verifier.authenticate(context)
        now = self.clock()

        async def write(session: Session) -> domain.Appointment:
            appt = await self._appointment(request.appointment_id, session)
            done = domain.mark_no_show(appt, who, now)
            await self.repo.replace_appointment(session, done, appt.status)
            await self.repo.cancel_reminders(session, appt.appointment_id)
            await self.outbox.add(session, events.NO_SHOW, events.no_show(done, who.user_id, now))
            return done

        done = await self.store.transaction(write)
        self.outbox.wake()
        return pb.MarkNoShowResponse(appointment=appointment_to_pb(done, now))

    # calendar feed
    async def CreateCalendarFeed(
        self, request: pb.CreateCalendarFeedRequest, context: grpc.aio.ServicerContext
    ) -> pb.CreateCalendarFeedResponse:
        who = await self.verifier.authenticate(context)
        who.require_role(THERAPIST).require_self(request.therapist_id)
        token = secrets.token_urlsafe(32)
        await self.repo.set_feed(who.user_id, feed_hash(token), self.clock())
        return pb.CreateCalendarFeedResponse(feed_token=token)

    async def GetCalendarFeed(
        self, request: pb.GetCalendarFeedRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetCalendarFeedResponse:
        # The unguessable token is the credential (calendar apps cannot send a bearer token).
        owner = (
            await self.repo.feed_owner(feed_hash(request.feed_token))
            if request.feed_token
            else None
        )
        if owner is None:
            raise NotFound("no such calendar feed")
        now = self.clock()
        since = now - timedelta(days=self.settings.feed_past_days)
        appointments = await self.repo.therapist_feed(owner, since, FEED_LIMIT)
        return pb.GetCalendarFeedResponse(ics=calendar_ics(owner, appointments, now))
