"""Tests that stand in for the gateway on identity's gRPC API sign what they assert, as it does."""

from __future__ import annotations

import os

from rapport_platform import service_auth


def as_gateway(address: str, key: str = "") -> tuple[tuple[str, str], ...]:
    return service_auth.mint(
        key or os.environ["RAPPORT_IDENTITY_SERVICE_TOKEN_KEY"],
        issuer=service_auth.GATEWAY,
        audience=service_auth.IDENTITY,
        claims={"client_address": address},
    )
