"""Token verification: good, expired, tampered, unknown kid, key rotation, roles and tenancy."""

from __future__ import annotations

import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm
from rapport_platform.auth import (
    AUDIENCE,
    ISSUER,
    JwksCache,
    Principal,
    RevocationCache,
    TokenVerifier,
    token_from_metadata,
)
from rapport_platform.errors import PermissionDenied, Unauthenticated


class Keys:
    """A local key set standing in for identity's JWKS endpoint (a data source, not a mock)."""

    def __init__(self) -> None:
        self.private: dict[str, ec.EllipticCurvePrivateKey] = {}
        self.fetches = 0

    def add(self, kid: str) -> None:
        self.private[kid] = ec.generate_private_key(ec.SECP256R1())

    async def fetch(self):
        self.fetches += 1
        return [
            {**ECAlgorithm.to_jwk(k.public_key(), as_dict=True), "kid": kid, "alg": "ES256"}
            for kid, k in self.private.items()
        ]

    def token(self, kid: str, key: str | None = None, **claims) -> str:
        now = int(time.time())
        body = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": "u1",
            "typ": "access",
            "role": "therapist",
            "clinic_id": "c1",
            "mfa": True,
            "iat": now,
            "exp": now + 60,
            **claims,
        }
        return jwt.encode(body, self.private[key or kid], algorithm="ES256", headers={"kid": kid})


@pytest.fixture
def keys() -> Keys:
    k = Keys()
    k.add("k1")
    return k


async def test_valid_token_gives_the_principal(keys):
    verifier = TokenVerifier(JwksCache(keys.fetch))
    p = await verifier.verify(keys.token("k1"))
    assert (p.user_id, p.role, p.clinic_id, p.mfa) == ("u1", "therapist", "c1", True)


async def test_expired_token_is_refused(keys):
    verifier = TokenVerifier(JwksCache(keys.fetch), leeway=0)
    with pytest.raises(Unauthenticated, match="expired"):
        await verifier.verify(keys.token("k1", exp=int(time.time()) - 10))


async def test_tampered_token_is_refused(keys):
    verifier = TokenVerifier(JwksCache(keys.fetch))
    header, _payload, sig = keys.token("k1").split(".")
    forged = jwt.utils.base64url_encode(b'{"sub":"admin","role":"clinic_admin"}').decode()
    with pytest.raises(Unauthenticated):
        await verifier.verify(f"{header}.{forged}.{sig}")
    # Signed by a key that claims to be k1 but is not.
    keys.add("evil")
    with pytest.raises(Unauthenticated):
        await verifier.verify(keys.token("k1", key="evil"))


async def test_hmac_and_none_algorithms_are_refused(keys):
    verifier = TokenVerifier(JwksCache(keys.fetch))
    hs = jwt.encode({"sub": "u1"}, "x" * 32, algorithm="HS256", headers={"kid": "k1"})
    with pytest.raises(Unauthenticated):
        await verifier.verify(hs)
    with pytest.raises(Unauthenticated):
        await verifier.verify("not-a-jwt")


async def test_unknown_kid_refetches_once_then_refuses(keys):
    cache = JwksCache(keys.fetch, min_refresh_s=60)
    verifier = TokenVerifier(cache)
    await verifier.verify(keys.token("k1"))
    assert keys.fetches == 1
    # A key identity rotated in after our fetch: the verifier fetches again and accepts it...
    cache._fetched_at -= 120
    keys.add("k2")
    assert (await verifier.verify(keys.token("k2"))).user_id == "u1"
    assert keys.fetches == 2
    # ...but a kid nobody publishes is refused, and does not hammer identity with refetches.
    keys.private["ghost"] = ec.generate_private_key(ec.SECP256R1())
    ghost = keys.token("ghost")
    del keys.private["ghost"]
    for _ in range(3):
        with pytest.raises(Unauthenticated, match="unknown key"):
            await verifier.verify(ghost)
    assert keys.fetches == 2


async def test_wrong_audience_issuer_or_type_refused(keys):
    verifier = TokenVerifier(JwksCache(keys.fetch))
    for claims in ({"aud": "other"}, {"iss": "someone"}, {"typ": "refresh"}, {"role": "root"}):
        with pytest.raises(Unauthenticated):
            await verifier.verify(keys.token("k1", **claims))


def test_role_tenancy_and_mfa_checks():
    p = Principal(user_id="u1", role="therapist", clinic_id="c1", mfa=False, token="t")
    assert p.require_role("therapist", "clinic_admin") is p
    assert p.require_clinic("c1") is p
    with pytest.raises(PermissionDenied):
        p.require_role("clinic_admin")
    with pytest.raises(PermissionDenied):
        p.require_clinic("c2")
    with pytest.raises(PermissionDenied):
        p.require_clinic("")
    with pytest.raises(PermissionDenied):
        p.require_mfa()
    with pytest.raises(PermissionDenied):
        p.require_self("u2")


def test_token_from_metadata():
    assert token_from_metadata([("x", "y"), ("authorization", "Bearer abc")]) == "abc"
    for md in ([], [("authorization", "Basic abc")], [("authorization", "Bearer ")]):
        with pytest.raises(Unauthenticated):
            token_from_metadata(md)


class Revocations:
    """Identity's revocation list as a data source: (user_id, min_version) pairs."""

    def __init__(self) -> None:
        self.entries: dict[str, int] = {}
        self.fetches = 0
        self.down = False

    async def fetch(self):
        self.fetches += 1
        if self.down:
            raise ConnectionError("identity unreachable")
        return list(self.entries.items())


async def test_a_token_below_the_account_s_listed_version_is_refused_within_max_age(keys):
    now = [0.0]
    source = Revocations()
    cache = RevocationCache(source.fetch, max_age_s=5, clock=lambda: now[0])
    verifier = TokenVerifier(JwksCache(keys.fetch), revocations=cache)
    old, new = keys.token("k1", ver=0), keys.token("k1", ver=1)
    assert (await verifier.verify(old)).token_version == 0
    source.entries["u1"] = 1  # identity: the account's role changed
    await verifier.verify(old)  # the cached list is still fresh: one lookup, no fetch
    assert source.fetches == 1
    now[0] = 5.0
    with pytest.raises(Unauthenticated, match="revoked"):
        await verifier.verify(old)
    assert (await verifier.verify(new)).token_version == 1
    assert source.fetches == 2
    # Other accounts, and tokens from before versions existed, are untouched.
    assert (await verifier.verify(keys.token("k1", sub="u2"))).user_id == "u2"
    # A failed fetch keeps the last list (and is not retried before max_age again).
    source.down = True
    now[0] = 10.0
    with pytest.raises(Unauthenticated, match="revoked"):
        await verifier.verify(old)
    await verifier.verify(new)
    assert source.fetches == 3
    with pytest.raises(Unauthenticated):
        await verifier.verify(keys.token("k1", ver="1"))  # a version is an integer
