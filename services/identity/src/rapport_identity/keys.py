"""Signing keys in Vault transit: the private key never leaves Vault (never in Mongo or the image).

Tokens are signed by transit (`marshaling_algorithm=jws` gives the raw r||s signature JWS needs).
The kid names the key version. A new version is published at once but signs only after
`activation`, so no service ever meets a kid it cannot fetch yet (the invariant is below, at
MIN_ACTIVATION_SECONDS). A rotated-out version stays in the JWKS until every token it signed has
expired: until v+1 became active, plus the token TTL, plus this cache's age (a replica may sign
with v a little longer).
"""

from __future__ import annotations

import base64
import inspect
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from jwt.algorithms import ECAlgorithm
from rapport_platform.auth import ALGORITHM, JwksCache
from rapport_platform.vault import SecretBox, Vault

__all__ = ["SecretBox", "SigningKeys"]  # SecretBox moved to the platform (billing uses it too)

# How long a replica reuses what it read of the transit key (versions, creation times, public
# keys) for signing and for GetJwks.
KEY_CACHE_SECONDS = 5.0
# How soon a verifier that fetched the JWKS may fetch it again (JwksCache's default).
VERIFIER_JWKS_REFRESH_SECONDS = float(
    inspect.signature(JwksCache.__init__).parameters["min_refresh_s"].default
)
# The invariant: activation >= KEY_CACHE_SECONDS + VERIFIER_JWKS_REFRESH_SECONDS. A replica
# whose cache predates version v+1 publishes it at most KEY_CACHE_SECONDS after it was created; a
# verifier that fetched a JWKS without it just before that fetches again at most
# VERIFIER_JWKS_REFRESH_SECONDS later. Only after both may any replica sign with v+1, so every
# verifier that meets the new kid can fetch it. The settings refuse a shorter activation.
MIN_ACTIVATION_SECONDS = KEY_CACHE_SECONDS + VERIFIER_JWKS_REFRESH_SECONDS


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class SigningKeys:
    def __init__(
        self,
        vault: Vault,
        name: str,
        token_ttl: timedelta,
        *,
        cache_s: float = KEY_CACHE_SECONDS,
        activation: timedelta = timedelta(seconds=MIN_ACTIVATION_SECONDS),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._activation = activation
        self._vault = vault
        self._name = name
        self._ttl = token_ttl
        self._cache_s = cache_s
        self._clock = clock
        self._key: dict[str, Any] | None = None
        self._read_at = float("-inf")

    def kid(self, version: int) -> str:
        return f"{self._name}-v{version}"

    async def _read(self, *, fresh: bool = False) -> dict[str, Any]:
        if fresh or self._key is None or time.monotonic() - self._read_at > self._cache_s:
            reply = await self._vault.call(
                "transit.read_key",
                lambda c: c.secrets.transit.read_key(self._name, mount_point=self._vault.mount),
            )
            self._key = reply["data"]
            self._read_at = time.monotonic()
        return self._key

    def _signing_version(self, key: dict[str, Any]) -> int:
        """The latest version once it is active, else the one before it."""
        latest = int(key["latest_version"])
        created = datetime.fromisoformat(key["keys"][str(latest)]["creation_time"])
        if latest > 1 and created + self._activation > self._clock():
            return latest - 1
        return latest

    async def sign(self, claims: dict[str, Any]) -> str:
        version = self._signing_version(await self._read())
        header = {"alg": ALGORITHM, "typ": "JWT", "kid": self.kid(version)}
        signing_input = (
            _b64url(json.dumps(header, separators=(",", ":")).encode())
            + "."
            + _b64url(json.dumps(claims, separators=(",", ":")).encode())
        )
        reply = await self._vault.call(
            "transit.sign",
            lambda c: c.secrets.transit.sign_data(
                self._name,
                hash_input=base64.b64encode(signing_input.encode()).decode(),
                hash_algorithm="sha2-256",
                marshaling_algorithm="jws",
                key_version=version,
                mount_point=self._vault.mount,
            ),
        )
        signature = reply["data"]["signature"].rsplit(":", 1)[1]
        return f"{signing_input}.{signature}"

    async def jwks(self, *, fresh: bool = False) -> list[dict[str, Any]]:
        key = await self._read(fresh=fresh)
        versions = {int(v): d for v, d in key["keys"].items()}
        latest = int(key["latest_version"])
        now = self._clock()
        published = []
        for version, data in sorted(versions.items()):
            successor = versions.get(version + 1)
            if version != latest and successor is not None:
                retired_at = datetime.fromisoformat(successor["creation_time"])
                retired_at += self._activation + timedelta(seconds=self._cache_s)
                if retired_at + self._ttl < now:
                    continue
            public = load_pem_public_key(data["public_key"].encode())
            assert isinstance(public, EllipticCurvePublicKey)  # the key type is ecdsa-p256
            jwk = ECAlgorithm.to_jwk(public, as_dict=True)
            published.append({**jwk, "kid": self.kid(version), "alg": ALGORITHM, "use": "sig"})
        return published

    async def latest(self) -> tuple[int, datetime]:
        """The signing version and when it was created (fresh from Vault)."""
        key = await self._read(fresh=True)
        version = int(key["latest_version"])
        return version, datetime.fromisoformat(key["keys"][str(version)]["creation_time"])

    async def rotate(self) -> str:
        """A new version, published now, signing after `activation` (every replica within
        `cache_s` more); returns its kid."""
        await self._vault.call(
            "transit.rotate",
            lambda c: c.secrets.transit.rotate_key(self._name, mount_point=self._vault.mount),
        )
        key = await self._read(fresh=True)
        return self.kid(int(key["latest_version"]))
