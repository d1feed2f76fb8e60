"""Identity's gRPC API: proto <-> domain; domain errors become status codes in the platform."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from pymongo.errors import DuplicateKeyError
from rapport.identity.v1 import identity_pb2 as pb
from rapport.identity.v1 import identity_pb2_grpc
from rapport_platform.auth import CLIENT, CLINIC_ADMIN, THERAPIST, TokenVerifier
from rapport_platform.errors import AlreadyExists, NotFound, Unauthenticated
from rapport_platform.outbox import Outbox
from rapport_platform.store import Session, Store

from rapport_identity import domain, events
from rapport_identity.keys import SigningKeys
from rapport_identity.store import Users

ROLE_TO_PB = {
    CLIENT: pb.ROLE_CLIENT,
    THERAPIST: pb.ROLE_THERAPIST,
    CLINIC_ADMIN: pb.ROLE_CLINIC_ADMIN,
}
PB_TO_ROLE = {v: k for k, v in ROLE_TO_PB.items()}


def user_to_pb(user: domain.User) -> pb.User:
    created = Timestamp()
    created.FromDatetime(user.created_at)
    return pb.User(
        user_id=user.user_id,
        email=user.email,
        role=ROLE_TO_PB[user.role],
        display_name=user.display_name,
        jurisdiction=user.jurisdiction,
        clinic_id=user.clinic_id,
        created_at=created,
    )


class IdentityApi(identity_pb2_grpc.IdentityServiceServicer):
    def __init__(
        self,
        *,
        store: Store,
        outbox: Outbox,
        keys: SigningKeys,
        verifier: TokenVerifier,
        token_ttl: timedelta,
    ) -> None:
        self.store = store
        self.outbox = outbox
        self.users = Users(store)
        self.keys = keys
        self.verifier = verifier
        self.ttl = token_ttl

    async def Register(
        self, request: pb.RegisterRequest, context: grpc.aio.ServicerContext
    ) -> pb.RegisterResponse:
        user = domain.new_user(
            email=request.email,
            password=request.password,
            role=PB_TO_ROLE.get(request.role, ""),
            display_name=request.display_name,
            jurisdiction=request.jurisdiction,
            now=datetime.now(UTC),
        )
        password_hash = await asyncio.to_thread(domain.hash_password, request.password)

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

    async def Login(
        self, request: pb.LoginRequest, context: grpc.aio.ServicerContext
    ) -> pb.LoginResponse:
        found = await self.users.credentials(domain.normalise_email(request.email))
        stored_hash = found[1] if found else None
        if not await asyncio.to_thread(domain.password_matches, stored_hash, request.password):
            # One answer for an unknown email and a wrong password: never reveal who has an account.
            raise Unauthenticated("email or password is wrong")
        assert found is not None
        claims = domain.access_claims(found[0], now=datetime.now(UTC), ttl=self.ttl)
        token = await self.keys.sign(claims)
        return pb.LoginResponse(
            access_token=token, token_type="Bearer", expires_in=int(self.ttl.total_seconds())
        )

    async def GetMe(
        self, request: pb.GetMeRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetMeResponse:
        principal = await self.verifier.authenticate(context)
        user = await self.users.by_id(principal.user_id)
        if user is None:
            raise NotFound("this account no longer exists")
        return pb.GetMeResponse(user=user_to_pb(user))

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
