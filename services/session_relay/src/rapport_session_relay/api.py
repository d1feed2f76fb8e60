"""gRPC entrypoint: IssueJoinToken. The relay verifies the caller's access token itself, then asks
scheduling (with the caller's token) whether the appointment exists and who is in it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import grpc
from rapport.scheduling.v1 import scheduling_pb2 as spb
from rapport.scheduling.v1 import scheduling_pb2_grpc
from rapport.sessions.v1 import sessions_pb2 as pb
from rapport_platform.auth import CLIENT, CLINIC_ADMIN, THERAPIST, TokenVerifier
from rapport_platform.errors import (
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Unauthenticated,
    Unavailable,
)
from rapport_platform.rpc import bearer
from rapport_platform.timestamps import to_timestamp

from rapport_session_relay import domain
from rapport_session_relay.settings import SessionRelaySettings

MODALITIES = {spb.MODALITY_VIDEO: "video", spb.MODALITY_CHAT: "chat"}
_RPC_ERRORS = {
    grpc.StatusCode.NOT_FOUND: NotFound,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDenied,
    grpc.StatusCode.UNAUTHENTICATED: Unauthenticated,
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgument,
}


class SessionRelayApi:
    def __init__(
        self,
        *,
        settings: SessionRelaySettings,
        verifier: TokenVerifier,
        scheduling: scheduling_pb2_grpc.SchedulingServiceStub,
        clock: Callable[[], datetime],
    ) -> None:
        self.settings = settings
        self.verifier = verifier
        self.scheduling = scheduling
        self.clock = clock

    async def _appointment(self, appointment_id: str, token: str) -> spb.Appointment:
        try:
            reply = await self.scheduling.GetAppointment(
                spb.GetAppointmentRequest(appointment_id=appointment_id),
                metadata=bearer(token),
                timeout=self.settings.scheduling_timeout_seconds,
            )
        except grpc.aio.AioRpcError as exc:
            error = _RPC_ERRORS.get(exc.code())
            if error is not None:
                raise error(exc.details() or "refused by scheduling") from None
            raise Unavailable("scheduling is unavailable") from None
        return reply.appointment

    async def IssueJoinToken(
        self, request: pb.IssueJoinTokenRequest, context: grpc.aio.ServicerContext
    ) -> pb.IssueJoinTokenResponse:
        who = await self.verifier.authenticate(context)
        if not domain_id_ok(request.appointment_id):
            raise InvalidArgument("appointment_id is malformed", field="appointment_id")
        who.require_role(CLIENT, THERAPIST, CLINIC_ADMIN)
        appt = await self._appointment(request.appointment_id, who.token)
        role = {appt.therapist_id: domain.THERAPIST, appt.client_id: domain.CLIENT}.get(who.user_id)
        # The client is the account that booked, whatever its role became since (a client who
        # founded a clinic still attends their own sessions); a therapist joins as a therapist.
        if role is None or (role == domain.THERAPIST and who.role != THERAPIST):
            raise PermissionDenied("only the appointment's client and therapist may join")
        if appt.status != spb.APPOINTMENT_STATUS_CONFIRMED:
            raise FailedPrecondition("only a confirmed appointment has a session")
        start = appt.start.ToDatetime(tzinfo=UTC)
        end = appt.end.ToDatetime(tzinfo=UTC)
        opens_at, closes_at = domain.session_window(
            start,
            end,
            timedelta(minutes=self.settings.join_lead_minutes),
            timedelta(minutes=self.settings.grace_minutes),
        )
        now = self.clock()
        if now >= closes_at:
            raise FailedPrecondition("this session is over")
        modality = MODALITIES.get(appt.modality, "video")
        claims = domain.JoinClaims(
            appointment_id=appt.appointment_id,
            user_id=who.user_id,
            role=role,
            therapist_id=appt.therapist_id,
            client_id=appt.client_id,
            modality=modality,
            start=start,
            end=end,
            opens_at=opens_at,
            closes_at=closes_at,
            issued_at=now,
        )
        token = domain.issue_token(self.settings.token_secret.get_secret_value(), claims)
        base = self.settings.public_url
        return pb.IssueJoinTokenResponse(
            token=token,
            url=f"{self.settings.ws_base}/v1/sessions/{appt.appointment_id}/live",
            room_link=f"{base}/rooms/{appt.appointment_id}#t={token}",
            expires_at=to_timestamp(closes_at),
            opens_at=to_timestamp(opens_at),
            closes_at=to_timestamp(closes_at),
            ice_servers=self._ice_servers(who.user_id, closes_at),
            role=role,
            modality=modality,
        )

    def _ice_servers(self, user_id: str, expires_at: datetime) -> list[pb.IceServer]:
        servers = domain.ice_servers(
            self.settings.turn_urls,
            self.settings.turn_secret.get_secret_value(),
            user_id,
            expires_at,
        )
        return [pb.IceServer(**s) for s in servers]


def domain_id_ok(value: str) -> bool:
    return 0 < len(value) <= 64 and all(c.isalnum() or c in "-_" for c in value)
