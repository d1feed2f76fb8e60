"""Identity's gRPC API: proto <-> domain; domain errors become status codes in the platform."""

from __future__ import annotations

import asyncio
import logging
import math
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import grpc
from pymongo.errors import DuplicateKeyError
from rapport.identity.v1 import identity_pb2 as pb
from rapport.identity.v1 import identity_pb2_grpc
from rapport.types.v1 import money_pb2
from rapport_platform import service_auth
from rapport_platform.auth import CLIENT, CLINIC_ADMIN, THERAPIST, Principal, TokenVerifier
from rapport_platform.errors import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
    Unauthenticated,
)
from rapport_platform.outbox import Outbox
from rapport_platform.store import Session, Store
from rapport_platform.telemetry import meter
from rapport_platform.timestamps import to_timestamp

from rapport_identity import domain, events
from rapport_identity.jobs import record_expiry
from rapport_identity.keys import SecretBox, SigningKeys
from rapport_identity.passwords import Busy, PasswordHashing
from rapport_identity.store import (
    Clinics,
    Devices,
    Invitations,
    Licenses,
    Profiles,
    RefreshTokens,
    Throttle,
    Users,
)

log = logging.getLogger(__name__)
_logins = meter("rapport.identity").create_counter(
    "rapport.identity.logins", description="sign-in attempts by outcome"
)
_refresh_reuse = meter("rapport.identity").create_counter(
    "rapport.identity.refresh_reuse", description="spent refresh tokens presented again"
)

ROLE_TO_PB = {
    CLIENT: pb.ROLE_CLIENT,
    THERAPIST: pb.ROLE_THERAPIST,
    CLINIC_ADMIN: pb.ROLE_CLINIC_ADMIN,
}
PB_TO_ROLE = {v: k for k, v in ROLE_TO_PB.items()}
MODALITY_TO_PB = {"video": pb.MODALITY_VIDEO, "chat": pb.MODALITY_CHAT}
PB_TO_MODALITY = {v: k for k, v in MODALITY_TO_PB.items()}
STATUS_TO_PB = {
    domain.PENDING: pb.LICENSE_STATUS_PENDING,
    domain.VERIFIED: pb.LICENSE_STATUS_VERIFIED,
    domain.EXPIRED: pb.LICENSE_STATUS_EXPIRED,
}
REASON_TO_PB = {
    domain.NO_LICENSE_IN_JURISDICTION: pb.INELIGIBILITY_REASON_NO_LICENSE_IN_JURISDICTION,
    domain.LICENSE_NOT_VERIFIED: pb.INELIGIBILITY_REASON_LICENSE_NOT_VERIFIED,
    domain.LICENSE_EXPIRED: pb.INELIGIBILITY_REASON_LICENSE_EXPIRED,
    domain.NOT_A_THERAPIST: pb.INELIGIBILITY_REASON_NOT_A_THERAPIST,
}
RETRY_AFTER = "retry-after"  # trailing metadata on RESOURCE_EXHAUSTED: seconds to wait


def user_to_pb(user: domain.User) -> pb.User:
    return pb.User(
        user_id=user.user_id,
        email=user.email,
        role=ROLE_TO_PB[user.role],
        display_name=user.display_name,
        jurisdiction=user.jurisdiction,
        clinic_id=user.clinic_id,
        created_at=to_timestamp(user.created_at),
    )


def clinic_to_pb(c: domain.Clinic, *, full: bool, limits: domain.BookingLimits) -> pb.Clinic:
    """`full`: with commission and vetting status (the clinic's admin, operators)."""
    out = pb.Clinic(
        clinic_id=c.clinic_id,
        name=c.name,
        currency=c.currency,
        timezone=c.timezone,
        cancellation_policy=pb.CancellationPolicy(
            window_hours=c.cancellation_window_hours,
            late_fee=money_pb2.Money(amount_minor=c.late_fee_minor, currency=c.currency),
        ),
        booking_limits=pb.BookingLimits(
            per_therapist=limits.per_therapist, per_client=limits.per_client
        ),
        full_view=full,
        payment_first=c.payment_first,
    )
    if full:
        out.commission_bps = c.commission_bps
        out.status = pb.CLINIC_STATUS_APPROVED if c.approved else pb.CLINIC_STATUS_PENDING
        if c.approved_at is not None:
            out.approved_at.CopyFrom(to_timestamp(c.approved_at))
    return out


def profile_to_pb(p: domain.Profile, currency: str) -> pb.TherapistProfile:
    return pb.TherapistProfile(
        therapist_id=p.therapist_id,
        clinic_id=p.clinic_id,
        display_name=p.display_name,
        bio=p.bio,
        languages=list(p.languages),
        modalities=[MODALITY_TO_PB[m] for m in p.modalities],
        specialties=list(p.specialties),
        session_types=[
            pb.SessionType(
                name=s.name,
                duration_minutes=s.duration_minutes,
                price=money_pb2.Money(amount_minor=s.price_minor, currency=currency),
            )
            for s in p.session_types
        ],
        updated_at=to_timestamp(p.updated_at),
    )


def license_to_pb(lic: domain.License, today: date) -> pb.License:
    return pb.License(
        license_id=lic.license_id,
        therapist_id=lic.therapist_id,
        clinic_id=lic.clinic_id,
        kind=lic.kind,
        jurisdiction=lic.jurisdiction,
        number=lic.number,
        expires_on=lic.expires_on.isoformat() if lic.expires_on else "",
        status=STATUS_TO_PB[lic.status(today)],
        prescriber=lic.prescriber,
        scope_note=domain.SCOPE_NOTE if lic.prescriber else "",
        verified_at=to_timestamp(lic.verified_at),
        created_at=to_timestamp(lic.created_at),
    )


@dataclass(frozen=True)
class SignInPolicy:
    refresh_ttl: timedelta
    account: domain.ThrottlePolicy
    address: domain.ThrottlePolicy
    register: domain.ThrottlePolicy
    pair: domain.ThrottlePolicy | None = None  # one account from one address (None: account's)
    device_ttl: timedelta = timedelta(days=90)


def _clinic_changed() -> FailedPrecondition:
    return FailedPrecondition(
        "the therapist's clinic changed while this request was handled; try again"
    )


class _RefreshRaced(Exception):
    """Two presentations of one refresh token at once: the loser is treated as reuse."""


class IdentityApi(identity_pb2_grpc.IdentityServiceServicer):
    def __init__(
        self,
        *,
        store: Store,
        outbox: Outbox,
        keys: SigningKeys,
        totp_box: SecretBox,
        verifier: TokenVerifier,
        token_ttl: timedelta,
        sign_in: SignInPolicy,
        invitation_ttl: timedelta,
        passwords: PasswordHashing,
        booking_defaults: domain.BookingLimits | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        service_token_key: str = "",
        scheduling_token_key: str = "",
        billing_token_key: str = "",
    ) -> None:
        self.store = store
        self.service_token_key = service_token_key
        self.scheduling_token_key = scheduling_token_key
        self.billing_token_key = billing_token_key
        self.passwords = passwords
        self.outbox = outbox
        self.users = Users(store)
        self.clinics = Clinics(store)
        self.profiles = Profiles(store)
        self.licenses = Licenses(store)
        self.invitations = Invitations(store)
        self.refresh_tokens = RefreshTokens(store)
        self.throttle = Throttle(store)
        self.devices = Devices(store)
        self.keys = keys
        self.totp_box = totp_box
        self.verifier = verifier
        self.ttl = token_ttl
        self.sign_in = sign_in
        self.invitation_ttl = invitation_ttl
        self.booking_defaults = booking_defaults or domain.BookingLimits(8, 12)
        self.now = clock

    def _client_address(self, context: grpc.aio.ServicerContext, asserted: str) -> str:
        """The address to throttle: the gateway's word when the call proves it comes from the
        gateway (a service token bound to this very address); anyone else is throttled by its
        own network address, whatever it put in the field (empty or rotating values included)."""
        if asserted and service_auth.asserted(
            context.invocation_metadata(),
            self.service_token_key,
            issuer=service_auth.GATEWAY,
            audience=service_auth.IDENTITY,
            claims={"client_address": asserted},
        ):
            return asserted
        return f"peer:{service_auth.peer_host(context.peer())}"

    async def _principal(self, context: grpc.aio.ServicerContext) -> Principal:
        return await self.verifier.authenticate(context)

    async def _caller(self, principal: Principal) -> domain.User:
        """The account as stored. Its token version is checked here exactly (the verifier's
        cached list may be a few seconds behind): a role change voids older tokens at once."""
        user = await self.users.by_id(principal.user_id)
        if user is None:
            raise Unauthenticated("this account no longer exists")
        if domain.token_revoked(user, principal.token_version):
            raise Unauthenticated(
                "access token was revoked: the account's role changed; refresh or sign in again"
            )
        return user

    # --- accounts and sign-in ----------------------------------------------------------------

    async def Register(
        self, request: pb.RegisterRequest, context: grpc.aio.ServicerContext
    ) -> pb.RegisterResponse:
        user = domain.new_user(
            email=request.email,
            password=request.password,
            role=PB_TO_ROLE.get(request.role, ""),
            display_name=request.display_name,
            jurisdiction=request.jurisdiction,
            now=self.now(),
        )
        # Counted once the input is valid (bad input writes nothing), before the costly hash and
        # the insert; a duplicate email counts too (it tells an account exists).
        address = self._client_address(context, request.client_address)
        register_key = domain.throttle_key("register", address)
        await self._reserve(
            context, [(register_key, self.sign_in.register)], self.now(), sign_up=True
        )
        try:
            password_hash = await self.passwords.hash(request.password, context)
        except Busy:  # not this address's fault: it may try again
            await self.throttle.refund(register_key)
            raise

        async def write(session: Session) -> None:
            await self.users.add(session, user, password_hash)
            await self.outbox.add(session, events.USER_REGISTERED, events.user_registered(user))

        try:
            await self.store.transaction(write)
        except DuplicateKeyError:
            raise AlreadyExists(
                "an account with this email already exists", field="email"
            ) from None
        self.outbox.wake()
        return pb.RegisterResponse(user_id=user.user_id)

    async def _reserve(
        self,
        context: grpc.aio.ServicerContext,
        keys: list[tuple[str, domain.ThrottlePolicy]],
        now: datetime,
        *,
        sign_up: bool = False,
    ) -> None:
        """Count this attempt on every key, atomically with the check, before it is made; or
        refuse it (429 with retry-after) while any key is locked or slowed down. Keys go in
        order (the address before the account, so a throttled address does not count against
        the accounts it tries); a refusal refunds the keys already counted."""
        counted: list[str] = []
        for key, policy in keys:
            until = await self.throttle.reserve(key, policy, now)
            if until is None:
                counted.append(key)
                continue
            for done in counted:
                await self.throttle.refund(done)
            seconds = max(1, math.ceil((until - now).total_seconds()))
            context.set_trailing_metadata(((RETRY_AFTER, str(seconds)),))
            if sign_up:
                raise ResourceExhausted("too many sign-ups from this address; try again later")
            _logins.add(1, {"outcome": "throttled"})
            # The same answer whether or not the email has an account.
            raise ResourceExhausted("too many failed sign-in attempts; try again later")

    async def _upgrade_hash(self, user_id: str, stored_hash: str, password: str) -> None:
        """A hash made with older parameters is made again from the password just verified.
        Only when a hashing worker is free at once: a busy moment never slows a sign-in down,
        and the next sign-in tries again."""
        if not domain.password_needs_rehash(stored_hash):
            return
        try:
            new_hash = await self.passwords.hash(password, wait=False)
        except Busy:
            return
        await self.users.replace_password_hash(user_id, stored_hash, new_hash)

    def _address_keys(
        self, email: str, client_address: str
    ) -> list[tuple[str, domain.ThrottlePolicy]]:
        """Per-address counters, checked before the account's own: the address on every account,
        then this account from this address (which bites first, so one stranger is stopped long
        before the account locks)."""
        if not client_address:
            return []
        return [
            (domain.throttle_key("address", client_address), self.sign_in.address),
            (
                domain.throttle_key("pair", f"{client_address}|{email}"),
                self.sign_in.pair or self.sign_in.account,
            ),
        ]

    def _refuse(self, context: grpc.aio.ServicerContext, until: datetime, now: datetime) -> None:
        seconds = max(1, math.ceil((until - now).total_seconds()))
        context.set_trailing_metadata(((RETRY_AFTER, str(seconds)),))
        _logins.add(1, {"outcome": "throttled"})
        raise ResourceExhausted("too many failed sign-in attempts; try again later")

    async def Login(
        self, request: pb.LoginRequest, context: grpc.aio.ServicerContext
    ) -> pb.LoginResponse:
        now = self.now()
        email = domain.normalise_email(request.email)
        address = self._client_address(context, request.client_address)
        # The address counters first: a throttled address is refused before anything else.
        await self._reserve(context, self._address_keys(email, address), now)
        pre = [key for key, _ in self._address_keys(email, address)]
        found = await self.users.credentials(email)
        # A device this account signed in from before has its own counter instead of the
        # account's: strangers failing elsewhere do not lock its owner out.
        device_hash = domain.hash_secret(request.device_token) if request.device_token else ""
        known_device = bool(
            device_hash
            and found is not None
            and await self.devices.owner(device_hash, now) == found[0].user_id
        )
        own_key = domain.throttle_key(
            "device" if known_device else "account", device_hash if known_device else email
        )
        locked_until = await self.throttle.reserve(own_key, self.sign_in.account, now)
        # Locked (or slowed down) by failures: only the right password with a valid one-time
        # code still passes, and every other answer is this same refusal (no oracle for the
        # password), still counted on the address counters.
        strict = locked_until is not None
        if strict and not request.totp_code:
            for key in pre:
                await self.throttle.refund(key)
            assert locked_until is not None
            self._refuse(context, locked_until, now)
        keys = pre if strict else [*pre, own_key]
        stored_hash = found[1] if found else None
        try:
            matches = await self.passwords.matches(stored_hash, request.password, context)
        except Busy:
            for key in keys:  # not a failed attempt: nothing was checked
                await self.throttle.refund(key)
            _logins.add(1, {"outcome": "busy"})
            raise
        if not matches:
            if strict:
                assert locked_until is not None
                self._refuse(context, locked_until, now)
            _logins.add(1, {"outcome": "failure"})
            # One answer for an unknown email and a wrong password: never reveal who has an account.
            raise Unauthenticated("email or password is wrong")
        assert found is not None
        user = found[0]
        mfa = await self.users.mfa(user.user_id)
        if strict and not mfa.get("enabled"):
            assert locked_until is not None
            self._refuse(context, locked_until, now)
        if mfa.get("enabled"):
            if not request.totp_code:
                # The right password, asked for its code: not a failure.
                for key in keys:
                    await self.throttle.refund(key)
                _logins.add(1, {"outcome": "mfa_required"})
                raise Unauthenticated(
                    "a one-time code from your authenticator app is required", field="totp_code"
                )
            secret = await self.totp_box.open(user.user_id, mfa["secret"])
            step = domain.totp_step(
                secret, request.totp_code, now=now, last_step=int(mfa.get("last_step", 0))
            )
            if step is None or not await self.users.use_totp_step(
                user.user_id, step, secret=mfa["secret"], enable=False
            ):
                if strict:
                    assert locked_until is not None
                    self._refuse(context, locked_until, now)
                _logins.add(1, {"outcome": "failure"})
                raise Unauthenticated(
                    "the one-time code is wrong or was used already", field="totp_code"
                )
        # Success: the account's (or device's) counter starts again, unless strangers locked it
        # (their lock runs out on its own); the addresses keep their other failures.
        if not strict:
            await self.throttle.clear(own_key)
        for key in pre:
            await self.throttle.refund(key)
        assert stored_hash is not None
        await self._upgrade_hash(user.user_id, stored_hash, request.password)
        user = await self._place_operator(user)
        device_token = request.device_token if known_device else domain.new_secret_token()
        await self.devices.remember(
            domain.hash_secret(device_token), user.user_id, now, self.sign_in.device_ttl
        )
        _logins.add(1, {"outcome": "success"})
        access, refresh = await self._issue(
            user,
            mfa=bool(mfa.get("enabled")),
            family_id=str(uuid.uuid4()),
            now=now,
            expires_at=now + self.sign_in.refresh_ttl,
            session=None,
        )
        return pb.LoginResponse(
            access_token=access,
            refresh_token=refresh,
            token_type="Bearer",
            expires_in=int(self.ttl.total_seconds()),
            device_token=device_token,
        )

    async def _place_operator(self, user: domain.User) -> domain.User:
        """At sign-in and refresh, the account's role follows its operator flag: a flagged
        account administers the marketplace clinic; a marketplace admin whose flag was revoked is
        a client again (so a revocation takes effect at the next refresh)."""
        placement = domain.operator_placement(user)
        if placement is None:
            return user
        role, clinic_id = placement

        # Compare-and-set: if the account changed meanwhile, the fresh record decides.
        async def place(session: Session) -> bool:
            return await self.users.set_clinic(
                session,
                user.user_id,
                role=role,
                clinic_id=clinic_id,
                expect_role=user.role,
                expect_clinic=user.clinic_id,
            )

        await self.store.transaction(place)
        log.info("account %s is %s of %r now (operator flag)", user.user_id, role, clinic_id)
        return await self._caller_by_id(user.user_id)

    async def _caller_by_id(self, user_id: str) -> domain.User:
        user = await self.users.by_id(user_id)
        if user is None:
            raise Unauthenticated("this account no longer exists")
        return user

    async def _issue(
        self,
        user: domain.User,
        *,
        mfa: bool,
        family_id: str,
        now: datetime,
        expires_at: datetime,
        session: Session | None,
    ) -> tuple[str, str]:
        """An access token and the next refresh token of the family."""
        refresh = domain.new_secret_token()
        await self.refresh_tokens.add(
            session,
            domain.hash_secret(refresh),
            family_id=family_id,
            user_id=user.user_id,
            mfa=mfa,
            now=now,
            expires_at=expires_at,
        )
        claims = domain.access_claims(user, now=now, ttl=self.ttl, mfa=mfa)
        return await self.keys.sign(claims), refresh

    async def Refresh(
        self, request: pb.RefreshRequest, context: grpc.aio.ServicerContext
    ) -> pb.RefreshResponse:
        now = self.now()
        token_hash = domain.hash_secret(request.refresh_token)
        record = await self.refresh_tokens.by_hash(token_hash) if request.refresh_token else None
        if record is None or record["revoked"] or record["expires_at"] <= now:
            raise Unauthenticated("the refresh token is not valid; sign in again")
        if record["spent_at"] is not None:
            await self._reuse_detected(record["family_id"])
        user = await self.users.by_id(record["user_id"])
        if user is None:
            raise Unauthenticated("the refresh token is not valid; sign in again")
        user = await self._place_operator(user)

        async def rotate(session: Session) -> tuple[str, str]:
            if not await self.refresh_tokens.spend(session, token_hash, now):
                raise _RefreshRaced
            # The new token keeps the family's absolute expiry: a sign-in does not live forever.
            return await self._issue(
                user,
                mfa=bool(record["mfa"]),
                family_id=record["family_id"],
                now=now,
                expires_at=record["expires_at"],
                session=session,
            )

        try:
            access, refresh = await self.store.transaction(rotate)
        except _RefreshRaced:
            await self._reuse_detected(record["family_id"])
        return pb.RefreshResponse(
            access_token=access,
            refresh_token=refresh,
            token_type="Bearer",
            expires_in=int(self.ttl.total_seconds()),
        )

    async def _reuse_detected(self, family_id: str) -> None:
        """A spent token came back: someone else holds a copy. End the whole sign-in."""
        revoked = await self.refresh_tokens.revoke_family(family_id)
        _refresh_reuse.add(1)
        log.warning("refresh token reuse: family %s revoked (%d tokens)", family_id, revoked)
        raise Unauthenticated("the refresh token is not valid; sign in again")

    async def Logout(
        self, request: pb.LogoutRequest, context: grpc.aio.ServicerContext
    ) -> pb.LogoutResponse:
        if request.refresh_token:
            record = await self.refresh_tokens.by_hash(domain.hash_secret(request.refresh_token))
            if record is not None:
                await self.refresh_tokens.revoke_family(record["family_id"])
        # The same answer for an unknown token: logging out twice is not an error.
        return pb.LogoutResponse()

    async def EnrollMfa(
        self, request: pb.EnrollMfaRequest, context: grpc.aio.ServicerContext
    ) -> pb.EnrollMfaResponse:
        principal = await self._principal(context)
        if not request.password:
            raise InvalidArgument(
                "enter the account password to enrol an authenticator", field="password"
            )
        user = await self._caller(principal)
        # Re-authentication: a stolen access token alone cannot enrol the thief's authenticator.
        # Wrong passwords here count against the account like failed sign-ins.
        account_key = domain.throttle_key("account", user.email)
        await self._reserve(context, [(account_key, self.sign_in.account)], self.now())
        found = await self.users.credentials(user.email)
        stored_hash = found[1] if found and found[0].user_id == user.user_id else None
        try:
            matches = await self.passwords.matches(stored_hash, request.password, context)
        except Busy:
            await self.throttle.refund(account_key)
            raise
        if not matches:
            raise PermissionDenied("the password is wrong", field="password")
        await self.throttle.clear(account_key)
        secret = domain.new_totp_secret()
        sealed = await self.totp_box.seal(principal.user_id, secret)
        if not await self.users.set_pending_mfa(principal.user_id, sealed):
            raise FailedPrecondition("multi-factor authentication is already enabled")
        return pb.EnrollMfaResponse(
            secret=secret, provisioning_uri=domain.provisioning_uri(secret, principal.user_id)
        )

    async def ConfirmMfa(
        self, request: pb.ConfirmMfaRequest, context: grpc.aio.ServicerContext
    ) -> pb.ConfirmMfaResponse:
        principal = await self._principal(context)
        mfa = await self.users.mfa(principal.user_id)
        if not mfa.get("secret"):
            raise FailedPrecondition("start enrolment first")
        if mfa.get("enabled"):
            raise FailedPrecondition("multi-factor authentication is already enabled")
        secret = await self.totp_box.open(principal.user_id, mfa["secret"])
        step = domain.totp_step(
            secret, request.totp_code, now=self.now(), last_step=int(mfa.get("last_step", 0))
        )
        if step is None or not await self.users.use_totp_step(
            principal.user_id, step, secret=mfa["secret"], enable=True
        ):
            raise InvalidArgument("the one-time code is wrong or expired", field="totp_code")
        return pb.ConfirmMfaResponse(mfa_enabled=True)

    async def ResetMfa(
        self, request: pb.ResetMfaRequest, context: grpc.aio.ServicerContext
    ) -> pb.ResetMfaResponse:
        principal = (await self._principal(context)).require_mfa()
        actor = await self._caller(principal)
        if not request.user_id or len(request.user_id) > 64:
            raise InvalidArgument("user_id is required", field="user_id")
        target = await self.users.by_id(request.user_id)
        if target is None:
            raise NotFound("no such account")
        # The flags and clinics in the database decide, not the token.
        domain.may_reset_mfa(actor, target)
        now = self.now()

        async def write(session: Session) -> bool:
            was = await self.users.reset_mfa(session, target.user_id)
            await self.refresh_tokens.revoke_user(session, target.user_id)
            await self.outbox.add(
                session,
                events.MFA_RESET,
                events.mfa_reset(target.user_id, actor.user_id, now),
            )
            return was

        was_enrolled = await self.store.transaction(write)
        self.outbox.wake()
        log.info("multi-factor of %s reset by %s", target.user_id, actor.user_id)
        return pb.ResetMfaResponse(user_id=target.user_id, was_enrolled=was_enrolled)

    async def GetMe(
        self, request: pb.GetMeRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetMeResponse:
        principal = await self._principal(context)
        user = await self.users.by_id(principal.user_id)
        if user is None:
            raise NotFound("this account no longer exists")
        # Exact, not cached: scheduling asks this at every booking with the caller's token.
        if domain.token_revoked(user, principal.token_version):
            raise Unauthenticated(
                "access token was revoked: the account's role changed; refresh or sign in again"
            )
        return pb.GetMeResponse(user=user_to_pb(user))

    async def ListTokenRevocations(
        self, request: pb.ListTokenRevocationsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListTokenRevocationsResponse:
        return pb.ListTokenRevocationsResponse(
            revocations=[
                pb.TokenRevocation(user_id=user_id, min_version=version)
                for user_id, version in await self.users.revocations()
            ]
        )

    async def GetJwks(
        self, request: pb.GetJwksRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetJwksResponse:
        keys = await self.keys.jwks()
        return pb.GetJwksResponse(
            keys=[
                pb.JsonWebKey(**{f: k[f] for f in pb.JsonWebKey.DESCRIPTOR.fields_by_name})
                for k in keys
            ]
        )

    async def RotateSigningKey(
        self, request: pb.RotateSigningKeyRequest, context: grpc.aio.ServicerContext
    ) -> pb.RotateSigningKeyResponse:
        principal = (await self._principal(context)).require_mfa()
        user = await self._caller(principal)
        if not user.operator:
            raise PermissionDenied("only a platform operator may rotate signing keys")
        kid = await self.keys.rotate()
        log.info("signing key rotated by %s: %s signs now", user.user_id, kid)
        published = [k["kid"] for k in await self.keys.jwks(fresh=True)]
        return pb.RotateSigningKeyResponse(kid=kid, published_kids=published)

    # --- clinics -----------------------------------------------------------------------------

    async def CreateClinic(
        self, request: pb.CreateClinicRequest, context: grpc.aio.ServicerContext
    ) -> pb.CreateClinicResponse:
        principal = await self._principal(context)
        user = await self._caller(principal)
        domain.may_create_clinic(user)
        clinic = domain.new_clinic(
            name=request.name,
            currency=request.currency,
            timezone=request.timezone,
            commission_bps=request.commission_bps,
            cancellation_window_hours=request.cancellation_window_hours,
            late_fee_minor=request.late_cancellation_fee_minor,
            max_active_per_therapist=request.max_active_bookings_per_therapist,
            max_active_per_client=request.max_active_bookings_per_client,
            admin_user_id=user.user_id,
            now=self.now(),
        )

        async def write(session: Session) -> None:
            await self.clinics.add(session, clinic)
            # The caller's role changes in the same transaction; a fresh token carries it.
            if not await self.users.set_clinic(
                session,
                user.user_id,
                role=CLINIC_ADMIN,
                clinic_id=clinic.clinic_id,
                expect_role=CLIENT,
                expect_clinic="",
            ):
                raise FailedPrecondition("this account changed meanwhile; try again")
            await self.outbox.add(session, events.CLINIC_CREATED, events.clinic_created(clinic))

        await self.store.transaction(write)
        self.outbox.wake()
        return pb.CreateClinicResponse(clinic=self._clinic_pb(clinic, full=True))

    async def GetClinic(
        self, request: pb.GetClinicRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetClinicResponse:
        # Billing, splitting a session's price, needs the clinic's current commission (a
        # service token bound to this clinic): the full view, with no account behind it.
        if request.clinic_id and service_auth.asserted(
            context.invocation_metadata(),
            self.billing_token_key,
            issuer=service_auth.BILLING,
            audience=service_auth.IDENTITY,
            claims={"clinic_id": request.clinic_id},
        ):
            found = await self.clinics.by_id(request.clinic_id)
            if found is None:
                raise NotFound("no such clinic")
            return pb.GetClinicResponse(clinic=self._clinic_pb(found, full=True))
        principal = await self._principal(context)
        clinic = await self.clinics.by_id(request.clinic_id) if request.clinic_id else None
        if clinic is None:
            raise NotFound("no such clinic")
        # Operators administer the marketplace, so only an admin's token needs the flag read
        # (clients, who ask at every booking, cost no extra read).
        operator = False
        if principal.role == CLINIC_ADMIN and principal.clinic_id != clinic.clinic_id:
            caller = await self.users.by_id(principal.user_id)
            operator = caller is not None and caller.operator
        full = domain.sees_full_clinic(
            clinic, role=principal.role, clinic_id=principal.clinic_id, operator=operator
        )
        return pb.GetClinicResponse(clinic=self._clinic_pb(clinic, full=full))

    async def GetBookingContext(
        self, request: pb.GetBookingContextRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetBookingContextResponse:
        """GetMe, GetTherapistProfile, GetClinic and CheckEligibility in one call: one token
        verification and two reads at once (the caller and the therapist's account; the profile
        with its licences and clinic)."""
        principal = await self._principal(context)
        wanted = request.therapist_id
        users, found = await asyncio.gather(
            self.users.by_ids([principal.user_id, wanted]),
            self.profiles.for_booking(wanted) if wanted else _none(),
        )
        if found is not None:
            profile, licenses, clinic = found
        else:  # no profile: eligibility still answers from the licences, as CheckEligibility does
            profile, clinic = None, None
            licenses = await self.licenses.of(wanted) if wanted else []
        user, therapist = users.get(principal.user_id), users.get(wanted)
        if user is None:
            raise NotFound("this account no longer exists")
        # Exact, as GetMe: a token voided by a role change books nothing, even a second later.
        if domain.token_revoked(user, principal.token_version):
            raise Unauthenticated(
                "access token was revoked: the account's role changed; refresh or sign in again"
            )
        answer = domain.eligibility(
            therapist,
            licenses,
            domain.check_jurisdiction(user.jurisdiction),
            today=self.now().date(),
        )
        reply = pb.GetBookingContextResponse(
            user=user_to_pb(user),
            eligibility=pb.CheckEligibilityResponse(
                eligible=answer.eligible,
                reason=REASON_TO_PB.get(answer.reason, pb.INELIGIBILITY_REASON_UNSPECIFIED),
                explanation=answer.explanation,
                license_id=answer.license_id,
            ),
        )
        if profile is None:  # the caller learns "no such therapist" from scheduling
            return reply
        if clinic is None:
            raise FailedPrecondition("the therapist's clinic does not exist")
        # The clinic as GetClinic shows it to this caller (a client: the public view).
        full = domain.sees_full_clinic(
            clinic, role=principal.role, clinic_id=principal.clinic_id, operator=False
        )
        reply.profile.CopyFrom(profile_to_pb(profile, clinic.currency))
        reply.clinic.CopyFrom(self._clinic_pb(clinic, full=full))
        return reply

    async def SetClinicPaymentFirst(
        self, request: pb.SetClinicPaymentFirstRequest, context: grpc.aio.ServicerContext
    ) -> pb.SetClinicPaymentFirstResponse:
        principal = await self._principal(context)
        principal.require_role(CLINIC_ADMIN).require_clinic(request.clinic_id)
        if await self.clinics.by_id(request.clinic_id) is None:
            raise NotFound("no such clinic")
        await self.clinics.set_payment_first(request.clinic_id, request.payment_first)
        clinic = await self.clinics.by_id(request.clinic_id)
        assert clinic is not None
        return pb.SetClinicPaymentFirstResponse(clinic=self._clinic_pb(clinic, full=True))

    def _clinic_pb(self, clinic: domain.Clinic, *, full: bool) -> pb.Clinic:
        return clinic_to_pb(
            clinic, full=full, limits=domain.booking_limits(clinic, self.booking_defaults)
        )

    async def ApproveClinic(
        self, request: pb.ApproveClinicRequest, context: grpc.aio.ServicerContext
    ) -> pb.ApproveClinicResponse:
        principal = (await self._principal(context)).require_mfa()
        operator = await self._caller(principal)
        # The flag in the database decides, not the token: a revocation applies at once.
        if not operator.operator:
            raise PermissionDenied("only a platform operator may approve a clinic")
        clinic = await self.clinics.by_id(request.clinic_id) if request.clinic_id else None
        if clinic is None:
            raise NotFound("no such clinic")
        approved = domain.approve_clinic(clinic, operator_id=operator.user_id, now=self.now())
        if approved is not clinic and await self.clinics.approve(approved):
            log.info("clinic %s approved by operator %s", clinic.clinic_id, operator.user_id)
        current = await self.clinics.by_id(clinic.clinic_id)
        assert current is not None
        return pb.ApproveClinicResponse(clinic=self._clinic_pb(current, full=True))

    async def UpdateClinicTerms(
        self, request: pb.UpdateClinicTermsRequest, context: grpc.aio.ServicerContext
    ) -> pb.UpdateClinicTermsResponse:
        principal = await self._principal(context)
        if not (principal.role == CLINIC_ADMIN and principal.clinic_id == request.clinic_id):
            # Another clinic's admin is refused unless they are an operator (the flag in the
            # database decides, and operators act with multi-factor).
            principal.require_role(CLINIC_ADMIN)
            caller = await self._caller(principal)
            if not caller.operator:
                raise PermissionDenied("only the clinic's admin may change its terms")
            principal.require_mfa()
        clinic = await self.clinics.by_id(request.clinic_id) if request.clinic_id else None
        if clinic is None:
            raise NotFound("no such clinic")

        def given(name: str) -> int | None:
            return getattr(request, name) if request.HasField(name) else None

        changed = domain.update_terms(
            clinic,
            commission_bps=given("commission_bps"),
            cancellation_window_hours=given("cancellation_window_hours"),
            late_fee_minor=given("late_cancellation_fee_minor"),
            max_active_per_therapist=given("max_active_bookings_per_therapist"),
            max_active_per_client=given("max_active_bookings_per_client"),
        )
        if not await self.clinics.update_terms(clinic, changed):
            raise FailedPrecondition("the clinic's terms changed meanwhile; try again")
        fields = sorted(k.name for k, _ in request.ListFields() if k.name != "clinic_id")
        log.info("clinic %s terms changed by %s: %s", clinic.clinic_id, principal.user_id, fields)
        return pb.UpdateClinicTermsResponse(clinic=self._clinic_pb(changed, full=True))

    async def CreateInvitation(
        self, request: pb.CreateInvitationRequest, context: grpc.aio.ServicerContext
    ) -> pb.CreateInvitationResponse:
        principal = await self._principal(context)
        principal.require_role(CLINIC_ADMIN).require_clinic(request.clinic_id)
        invitation, token = domain.new_invitation(
            clinic_id=request.clinic_id,
            email=request.email,
            invited_by=principal.user_id,
            now=self.now(),
            ttl=self.invitation_ttl,
        )
        await self.invitations.add(invitation)
        return pb.CreateInvitationResponse(
            invitation_token=token, expires_at=to_timestamp(invitation.expires_at)
        )

    async def AcceptInvitation(
        self, request: pb.AcceptInvitationRequest, context: grpc.aio.ServicerContext
    ) -> pb.AcceptInvitationResponse:
        principal = (await self._principal(context)).require_role(THERAPIST)
        token_hash = domain.hash_secret(request.invitation_token)
        now = self.now()

        async def accept(session: Session) -> str:
            invitation = await self.invitations.by_hash(token_hash, session)
            if invitation is None:
                raise NotFound("no such invitation")
            user = await self.users.by_id(principal.user_id, session)
            if user is None:
                raise Unauthenticated("this account no longer exists")
            domain.check_acceptance(invitation, user, now=now)
            if not await self.invitations.use(session, token_hash, user.user_id, now):
                raise FailedPrecondition("this invitation has already been used")
            previous = domain.clinic_of(user)
            old = await self.clinics.by_id(previous, session)
            new = await self.clinics.by_id(invitation.clinic_id, session)
            if new is None:
                raise FailedPrecondition("the inviting clinic no longer exists")
            if not await self.users.set_clinic(
                session,
                user.user_id,
                role=THERAPIST,
                clinic_id=new.clinic_id,
                expect_role=THERAPIST,
                expect_clinic=user.clinic_id,
            ):
                raise FailedPrecondition("this account changed meanwhile; try again")
            await self.profiles.move(
                session,
                user.user_id,
                new.clinic_id,
                clear_prices=old is None or old.currency != new.currency,
            )
            # The new clinic's admin answers for the licences from now on.
            await self.licenses.move(session, user.user_id, new.clinic_id)
            await self.outbox.add(
                session,
                events.THERAPIST_JOINED_CLINIC,
                events.therapist_joined_clinic(user.user_id, new.clinic_id, previous, now),
            )
            return new.clinic_id

        clinic_id = await self.store.transaction(accept)
        self.outbox.wake()
        return pb.AcceptInvitationResponse(clinic_id=clinic_id)

    async def ListClinicTherapists(
        self, request: pb.ListClinicTherapistsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListClinicTherapistsResponse:
        principal = await self._principal(context)
        principal.require_role(CLINIC_ADMIN).require_clinic(request.clinic_id)
        limit = domain.page_limit(request.limit)
        therapists = await self.users.therapists_of(
            request.clinic_id,
            after=domain.decode_cursor(request.cursor),
            limit=limit + 1,
            also_blank=request.clinic_id == domain.MARKETPLACE_CLINIC_ID,
        )
        page, more = therapists[:limit], len(therapists) > limit
        licenses = await self.licenses.of_many([t.user_id for t in page])
        today = self.now().date()
        return pb.ListClinicTherapistsResponse(
            items=[
                pb.ClinicTherapist(
                    therapist_id=t.user_id,
                    display_name=t.display_name,
                    licenses=[license_to_pb(lic, today) for lic in licenses[t.user_id]],
                )
                for t in page
            ],
            next_cursor=domain.encode_cursor(page[-1].user_id) if more else "",
        )

    # --- therapist profiles and licences ----------------------------------------------------

    async def _pin_clinic(self, session: Session, therapist_id: str, clinic_id: str) -> None:
        """Inside the transaction that writes a therapist's clinic-owned records: the therapist
        still practises under `clinic_id` (what the request was checked against), and stays
        there until this transaction commits (see Users.pin_clinic)."""
        therapist = await self.users.by_id(therapist_id, session)
        if therapist is None:
            raise Unauthenticated("this account no longer exists")
        if domain.clinic_of(therapist) != clinic_id or not await self.users.pin_clinic(
            session, therapist_id, therapist.clinic_id
        ):
            raise _clinic_changed()

    async def _therapist_clinic(self, therapist: domain.User) -> domain.Clinic:
        clinic = await self.clinics.by_id(domain.clinic_of(therapist))
        if clinic is None:
            raise FailedPrecondition("the therapist's clinic does not exist")
        return clinic

    async def PutTherapistProfile(
        self, request: pb.PutTherapistProfileRequest, context: grpc.aio.ServicerContext
    ) -> pb.PutTherapistProfileResponse:
        principal = await self._principal(context)
        principal.require_role(THERAPIST).require_self(request.therapist_id)
        therapist = await self._caller(principal)
        clinic = await self._therapist_clinic(therapist)
        for st in request.session_types:
            if st.price.currency and st.price.currency.upper() != clinic.currency:
                raise InvalidArgument(
                    f"prices are in the clinic's currency, {clinic.currency}",
                    field="session_types",
                )
        unknown = [m for m in request.modalities if m not in PB_TO_MODALITY]
        if unknown:
            raise InvalidArgument("modalities must be video or chat", field="modalities")
        profile = domain.new_profile(
            therapist_id=therapist.user_id,
            clinic_id=clinic.clinic_id,
            display_name=request.display_name,
            bio=request.bio,
            languages=list(request.languages),
            modalities=[PB_TO_MODALITY[m] for m in request.modalities],
            specialties=list(request.specialties),
            session_types=[
                domain.SessionType(
                    name=st.name,
                    duration_minutes=st.duration_minutes,
                    price_minor=st.price.amount_minor,
                )
                for st in request.session_types
            ],
            now=self.now(),
        )

        async def write(session: Session) -> None:
            await self._pin_clinic(session, therapist.user_id, clinic.clinic_id)
            await self.profiles.put(session, profile)
            await self.outbox.add(
                session,
                events.THERAPIST_PROFILE_UPDATED,
                events.therapist_profile_updated(profile),
            )

        try:
            await self.store.transaction(write)
        except DuplicateKeyError:  # the profile belongs to another clinic by now
            raise _clinic_changed() from None
        self.outbox.wake()
        return pb.PutTherapistProfileResponse(profile=profile_to_pb(profile, clinic.currency))

    async def GetTherapistProfile(
        self, request: pb.GetTherapistProfileRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetTherapistProfileResponse:
        # Signed-in accounts, or scheduling re-checking a fact before it moves data across
        # clinics (a service token bound to this therapist).
        if not (
            request.therapist_id
            and service_auth.asserted(
                context.invocation_metadata(),
                self.scheduling_token_key,
                issuer=service_auth.SCHEDULING,
                audience=service_auth.IDENTITY,
                claims={"therapist_id": request.therapist_id},
            )
        ):
            await self._principal(context)
        profile = await self.profiles.by_id(request.therapist_id) if request.therapist_id else None
        if profile is None:
            raise NotFound("this therapist has no profile")
        clinic = await self.clinics.by_id(profile.clinic_id)
        if clinic is None:
            raise FailedPrecondition("the therapist's clinic does not exist")
        return pb.GetTherapistProfileResponse(profile=profile_to_pb(profile, clinic.currency))

    async def AddLicense(
        self, request: pb.AddLicenseRequest, context: grpc.aio.ServicerContext
    ) -> pb.AddLicenseResponse:
        principal = await self._principal(context)
        principal.require_role(THERAPIST).require_self(request.therapist_id)
        therapist = await self._caller(principal)
        now = self.now()
        lic = domain.new_license(
            therapist=therapist,
            kind=request.kind,
            jurisdiction=request.jurisdiction,
            number=request.number,
            expires_on=request.expires_on,
            now=now,
        )

        async def write(session: Session) -> None:
            await self._pin_clinic(session, therapist.user_id, lic.clinic_id)
            # A renewal: the record of the same licence past its expiry day is marked expired
            # now (as the daily sweep would), so the new record is the current one.
            for lapsed in await self.licenses.lapsed_copies(session, lic, now.date()):
                await record_expiry(session, self.outbox, self.licenses, lapsed, now)
            await self.licenses.add(session, lic)

        try:
            await self.store.transaction(write)
        except DuplicateKeyError:
            raise AlreadyExists("this licence is already on file", field="number") from None
        self.outbox.wake()
        return pb.AddLicenseResponse(license=license_to_pb(lic, now.date()))

    async def VerifyLicense(
        self, request: pb.VerifyLicenseRequest, context: grpc.aio.ServicerContext
    ) -> pb.VerifyLicenseResponse:
        principal = await self._principal(context)
        principal.require_role(CLINIC_ADMIN).require_mfa()
        lic = await self.licenses.by_id(request.license_id) if request.license_id else None
        if lic is None or lic.therapist_id != request.therapist_id:
            raise NotFound("no such licence")
        now = self.now()
        principal.require_clinic(lic.clinic_id)
        # The account as it is now, not as the token says: a demoted operator or an admin who
        # left the clinic loses the right at once.
        admin = await self._caller(principal)
        verified = domain.verify_license(
            lic,
            admin_id=admin.user_id,
            admin_role=admin.role,
            admin_clinic=admin.clinic_id,
            clinic=await self.clinics.by_id(lic.clinic_id),
            now=now,
        )
        if verified is lic:  # already verified: nothing to write, nothing to announce
            return pb.VerifyLicenseResponse(license=license_to_pb(lic, now.date()))

        async def write(session: Session) -> None:
            if await self.licenses.mark_verified(session, verified):
                await self.outbox.add(
                    session, events.LICENSE_VERIFIED, events.license_verified(verified)
                )
                return
            current = await self.licenses.by_id(lic.license_id, session)
            if current is None or current.clinic_id != lic.clinic_id:
                # The holder moved to another clinic since the licence was read.
                raise _clinic_changed()

        await self.store.transaction(write)
        self.outbox.wake()
        current = await self.licenses.by_id(lic.license_id)
        assert current is not None
        return pb.VerifyLicenseResponse(license=license_to_pb(current, now.date()))

    async def ListLicenses(
        self, request: pb.ListLicensesRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListLicensesResponse:
        principal = await self._principal(context)
        licenses = await self.licenses.of(request.therapist_id) if request.therapist_id else []
        if principal.user_id != request.therapist_id:
            # Only the therapist's own clinic admin sees pending licences; tenancy by record.
            principal.require_role(CLINIC_ADMIN)
            therapist = await self.users.by_id(request.therapist_id)
            if therapist is None or therapist.role != THERAPIST:
                raise NotFound("no such therapist")
            principal.require_clinic(domain.clinic_of(therapist))
        today = self.now().date()
        return pb.ListLicensesResponse(licenses=[license_to_pb(lic, today) for lic in licenses])

    async def CheckEligibility(
        self, request: pb.CheckEligibilityRequest, context: grpc.aio.ServicerContext
    ) -> pb.CheckEligibilityResponse:
        await self._principal(context)
        jurisdiction = domain.check_jurisdiction(request.client_jurisdiction)
        therapist = await self.users.by_id(request.therapist_id) if request.therapist_id else None
        licenses = await self.licenses.of(therapist.user_id) if therapist else []
        answer = domain.eligibility(therapist, licenses, jurisdiction, today=self.now().date())
        return pb.CheckEligibilityResponse(
            eligible=answer.eligible,
            reason=REASON_TO_PB.get(answer.reason, pb.INELIGIBILITY_REASON_UNSPECIFIED),
            explanation=answer.explanation,
            license_id=answer.license_id,
        )

    async def SearchTherapists(
        self, request: pb.SearchTherapistsRequest, context: grpc.aio.ServicerContext
    ) -> pb.SearchTherapistsResponse:
        """Public: only what a client needs to trust and choose (no email, verified licences)."""
        if not request.jurisdiction:
            raise InvalidArgument("jurisdiction is required", field="jurisdiction")
        jurisdiction = domain.check_jurisdiction(request.jurisdiction)
        specialty = domain.check_specialty(request.specialty) if request.specialty else ""
        language = (
            domain.primary_language(domain.check_language(request.language))
            if request.language
            else ""
        )
        if request.modality and request.modality not in PB_TO_MODALITY:
            raise InvalidArgument("modality must be video or chat", field="modality")
        modality = PB_TO_MODALITY.get(request.modality, "")
        limit = domain.page_limit(request.limit)
        after = domain.decode_cursor(request.cursor)
        today = self.now().date()
        ids = await self.licenses.eligible_therapists(
            domain.jurisdiction_chain(jurisdiction), today
        )
        profiles = await self.profiles.search(
            ids,
            specialty=specialty,
            language=language,
            modality=modality,
            after=after,
            limit=limit + 1,
        )
        page, more = profiles[:limit], len(profiles) > limit
        licenses = await self.licenses.of_many([p.therapist_id for p in page])
        currencies: dict[str, str] = {}
        for p in page:
            if p.clinic_id not in currencies:
                clinic = await self.clinics.by_id(p.clinic_id)
                currencies[p.clinic_id] = clinic.currency if clinic else ""
        return pb.SearchTherapistsResponse(
            items=[
                pb.DirectoryEntry(
                    profile=profile_to_pb(p, currencies[p.clinic_id]),
                    licenses=[
                        license_to_pb(lic, today)
                        for lic in licenses[p.therapist_id]
                        if lic.counts(today)
                    ],
                )
                for p in page
            ],
            next_cursor=domain.encode_cursor(page[-1].therapist_id) if more else "",
        )


async def _none() -> None:
    return None
