"""Auth: every service verifies the caller's access token itself, against identity's JWKS.

Tokens are ES256 JWTs with a `kid`. The JWKS is cached and fetched again when a token names a kid
the cache does not know (key rotation), at most once per `min_refresh_s`. Role and tenancy checks
are one small API so that each service reads the same way.

Revocation on a role change: a token carries its account's token version (`ver`); identity bumps
the version whenever the account's role or clinic changes and lists, for as long as an access token
may live, each such account with its new minimum version. A verifier holds that short list in a
RevocationCache, fetched again when older than `max_age_s` (5 s): a check on use is a dict lookup,
one small call per replica every few seconds whatever the traffic, and a revoked token stops
working everywhere within that interval (at once where identity reads the account itself).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import grpc
import jwt

from rapport_platform.errors import PermissionDenied, Unauthenticated

ISSUER = "rapport-identity"
AUDIENCE = "rapport"
ALGORITHM = "ES256"

CLIENT = "client"
THERAPIST = "therapist"
CLINIC_ADMIN = "clinic_admin"
ROLES = (CLIENT, THERAPIST, CLINIC_ADMIN)

JwksFetcher = Callable[[], Awaitable[Sequence[dict[str, Any]]]]
# (user_id, min_version) of every account whose tokens below that version are void.
RevocationFetcher = Callable[[], Awaitable[Iterable[tuple[str, int]]]]
REVOCATION_MAX_AGE_S = 5.0
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Principal:
    """Who is calling, as the verified token says. Ids only."""

    user_id: str
    role: str
    clinic_id: str
    mfa: bool
    token: str
    # The account's token version when the token was issued (`ver`; 0 before versions existed).
    token_version: int = 0

    def require_role(self, *roles: str) -> Principal:
        if self.role not in roles:
            raise PermissionDenied(f"this action needs the role {' or '.join(roles)}")
        return self

    def require_clinic(self, clinic_id: str) -> Principal:
        """Tenancy: a caller acts only inside their own clinic."""
        if not clinic_id or self.clinic_id != clinic_id:
            raise PermissionDenied("this resource belongs to another clinic")
        return self

    def require_self(self, user_id: str) -> Principal:
        if self.user_id != user_id:
            raise PermissionDenied("a caller may only act on their own account")
        return self

    def require_mfa(self) -> Principal:
        if not self.mfa:
            raise PermissionDenied("multi-factor authentication is required for this action")
        return self


class JwksCache:
    def __init__(
        self,
        fetch: JwksFetcher,
        *,
        min_refresh_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch = fetch
        self._min_refresh = min_refresh_s
        self._clock = clock  # injectable so tests step time instead of waiting
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at = float("-inf")
        self._lock = asyncio.Lock()

    def load(self, keys: Iterable[dict[str, Any]]) -> None:
        self._keys = {k["kid"]: jwt.PyJWK(k, algorithm=ALGORITHM) for k in keys}
        self._fetched_at = self._clock()

    async def key(self, kid: str) -> jwt.PyJWK | None:
        if kid not in self._keys:
            async with self._lock:
                if kid not in self._keys and self._clock() - self._fetched_at >= self._min_refresh:
                    self.load(await self._fetch())
        return self._keys.get(kid)


class RevocationCache:
    """The accounts whose older tokens are void, fetched again once older than `max_age_s`.

    The first call after that waits for the fetch (so a revocation is never older than
    max_age_s plus one fetch when traffic resumes after a pause); concurrent callers share it.
    A failed fetch keeps the last list and is tried again after max_age_s: role changes happen
    in identity, so while identity is unreachable no new revocation can be missed beyond those
    of the last interval (a warning is logged)."""

    def __init__(
        self,
        fetch: RevocationFetcher,
        *,
        max_age_s: float = REVOCATION_MAX_AGE_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch = fetch
        self._max_age = max_age_s
        self._clock = clock
        self._min: dict[str, int] = {}
        self._fetched_at = float("-inf")
        self._lock = asyncio.Lock()

    async def min_version(self, user_id: str) -> int:
        if self._clock() - self._fetched_at >= self._max_age:
            async with self._lock:
                if self._clock() - self._fetched_at >= self._max_age:
                    try:
                        self._min = dict(await self._fetch())
                    except Exception as exc:  # keep the last list; a verifier must not crash
                        log.warning("token revocations not refreshed: %s", type(exc).__name__)
                    self._fetched_at = self._clock()
        return self._min.get(user_id, 0)


class TokenVerifier:
    def __init__(
        self,
        jwks: JwksCache,
        *,
        issuer: str = ISSUER,
        audience: str = AUDIENCE,
        leeway: int = 5,
        revocations: RevocationCache | None = None,
    ) -> None:
        self._jwks = jwks
        self._revocations = revocations
        self._issuer = issuer
        self._audience = audience
        self._leeway = leeway

    async def verify(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise Unauthenticated("malformed access token") from None
        kid = header.get("kid")
        if header.get("alg") != ALGORITHM or not isinstance(kid, str):
            raise Unauthenticated("access token is not signed the way Rapport signs")
        key = await self._jwks.key(kid)
        if key is None:
            raise Unauthenticated("access token signed by an unknown key")
        try:
            claims = jwt.decode(
                token,
                key=key,
                algorithms=[ALGORITHM],
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
                options={"require": ["exp", "iat", "sub", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("access token expired") from None
        except jwt.InvalidTokenError:
            raise Unauthenticated("access token is invalid") from None
        version = claims.get("ver", 0)
        if (
            claims.get("typ") != "access"
            or claims.get("role") not in ROLES
            or not isinstance(version, int)
            or isinstance(version, bool)
        ):
            raise Unauthenticated("access token is invalid")
        user_id = str(claims["sub"])
        if self._revocations is not None and version < await self._revocations.min_version(user_id):
            raise Unauthenticated(
                "access token was revoked: the account's role changed; refresh or sign in again"
            )
        return Principal(
            user_id=user_id,
            role=str(claims["role"]),
            clinic_id=str(claims.get("clinic_id") or ""),
            mfa=bool(claims.get("mfa", False)),
            token=token,
            token_version=version,
        )

    async def authenticate(self, context: grpc.aio.ServicerContext) -> Principal:
        """The caller of this RPC, from the `authorization: Bearer` metadata."""
        return await self.verify(token_from_metadata(context.invocation_metadata() or ()))


def token_from_metadata(metadata: Iterable[tuple[str, str | bytes]]) -> str:
    for key, value in metadata:
        if key == "authorization":
            text = value.decode() if isinstance(value, bytes) else value
            scheme, _, token = text.partition(" ")
            if scheme.lower() == "bearer" and token:
                return token.strip()
    raise Unauthenticated("missing access token")


def identity_jwks_fetcher(channel: grpc.aio.Channel) -> JwksFetcher:
    """Fetch identity's JWKS over gRPC (the way every service other than identity does it)."""
    from google.protobuf.json_format import MessageToDict
    from rapport.identity.v1 import identity_pb2, identity_pb2_grpc

    stub = identity_pb2_grpc.IdentityServiceStub(channel)

    async def fetch() -> Sequence[dict[str, Any]]:
        reply = await stub.GetJwks(identity_pb2.GetJwksRequest())
        return [MessageToDict(k, preserving_proto_field_name=True) for k in reply.keys]

    return fetch


def identity_revocations_fetcher(channel: grpc.aio.Channel) -> RevocationFetcher:
    """Fetch identity's list of token revocations over gRPC (for RevocationCache)."""
    from rapport.identity.v1 import identity_pb2, identity_pb2_grpc

    stub = identity_pb2_grpc.IdentityServiceStub(channel)

    async def fetch() -> list[tuple[str, int]]:
        reply = await stub.ListTokenRevocations(identity_pb2.ListTokenRevocationsRequest())
        return [(r.user_id, r.min_version) for r in reply.revocations]

    return fetch


def identity_verifier(channel: grpc.aio.Channel) -> TokenVerifier:
    """The verifier every service other than identity uses: identity's JWKS and revocations."""
    return TokenVerifier(
        JwksCache(identity_jwks_fetcher(channel)),
        revocations=RevocationCache(identity_revocations_fetcher(channel)),
    )
