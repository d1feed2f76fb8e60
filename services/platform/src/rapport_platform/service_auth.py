"""Service identity on internal gRPC calls: a short-lived token the calling service signs.

Some request fields may only be asserted by one service (the gateway's view of a client's network
address). The caller proves who it is with a JWT (HS256) in the `x-rapport-service` metadata,
signed with a key both sides read from a Secret (the chart) or `.rapport/` (the local stack),
valid for a minute, addressed to one audience and bound to the asserted values: replaying it
with other values, to another service or later, proves nothing.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta

import jwt

METADATA_KEY = "x-rapport-service"
GATEWAY = "gateway"
SCHEDULING = "scheduling"
BILLING = "billing"
IDENTITY = "identity"
ALGORITHM = "HS256"
MIN_KEY_BYTES = 32  # RFC 7518 §3.2: an HS256 key at least as long as the hash
TTL = timedelta(seconds=60)
LEEWAY = timedelta(seconds=5)


def mint(
    key: str, *, issuer: str, audience: str, claims: Mapping[str, str], now: datetime | None = None
) -> tuple[tuple[str, str], ...]:
    """Call metadata proving `issuer` asserts `claims` to `audience`."""
    issued = now or datetime.now(UTC)
    payload = {"iss": issuer, "aud": audience, "iat": issued, "exp": issued + TTL, **claims}
    return ((METADATA_KEY, jwt.encode(payload, key, algorithm=ALGORITHM)),)


def asserted(
    metadata: Iterable[tuple[str, str | bytes]] | None,
    key: str,
    *,
    issuer: str,
    audience: str,
    claims: Mapping[str, str],
) -> bool:
    """True only when the metadata carries a valid token from `issuer` to `audience` that binds
    exactly these claims. No key configured: nobody is trusted."""
    if not key:
        return False
    token = next((v for k, v in metadata or () if k == METADATA_KEY), None)
    if not isinstance(token, str):
        return False
    try:
        payload = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            audience=audience,
            issuer=issuer,
            leeway=LEEWAY,
            options={"require": ["exp", "iat", "iss", "aud"]},
        )
    except jwt.PyJWTError:
        return False
    return all(
        isinstance(payload.get(name), str)
        and hmac.compare_digest(payload[name].encode(), value.encode())
        for name, value in claims.items()
    )


def peer_host(peer: str) -> str:
    """The host part of a grpc peer string (`ipv4:10.0.0.5:5123`, `ipv6:[::1]:5123`)."""
    kind, _, rest = peer.partition(":")
    if kind == "ipv6":
        return rest.rpartition("]")[0].lstrip("[") or rest
    if kind == "ipv4":
        return rest.rpartition(":")[0] or rest
    return peer
