"""Signing keys in Vault transit: the private key never leaves Vault (never in Mongo or the image).

Tokens are signed by transit (`marshaling_algorithm=jws` gives the raw r||s signature JWS needs).
The kid names the key version. A rotated-out version stays in the JWKS until every token it signed
has expired: version v is published while v is the latest or v+1 is younger than the token TTL.
"""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.serialization import load_pem_public_key
from jwt.algorithms import ECAlgorithm
from rapport_platform.auth import ALGORITHM
from rapport_platform.vault import Vault


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class SigningKeys:
    def __init__(
        self, vault: Vault, name: str, token_ttl: timedelta, *, cache_s: float = 30
    ) -> None:
        self._vault = vault
        self._name = name
        self._ttl = token_ttl
        self._cache_s = cache_s
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

    async def sign(self, claims: dict[str, Any]) -> str:
        version = int((await self._read())["latest_version"])
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
        now = datetime.now(UTC)
        published = []
        for version, data in sorted(versions.items()):
            successor = versions.get(version + 1)
            if version != latest and successor is not None:
                retired_at = datetime.fromisoformat(successor["creation_time"])
                if retired_at + self._ttl < now:
                    continue
            jwk = ECAlgorithm.to_jwk(load_pem_public_key(data["public_key"].encode()), as_dict=True)
            published.append({**jwk, "kid": self.kid(version), "alg": ALGORITHM, "use": "sig"})
        return published

    async def rotate(self) -> None:
        await self._vault.call(
            "transit.rotate",
            lambda c: c.secrets.transit.rotate_key(self._name, mount_point=self._vault.mount),
        )
        await self._read(fresh=True)
