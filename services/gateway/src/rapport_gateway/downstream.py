"""The gateway's gRPC clients: one channel per service, deadlines and retries from the platform.

Channels are lazy: a channel to a service no route uses is never opened, and readiness checks
only the services the mounted routes depend on.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import grpc
from rapport_platform.rpc import check_health, client_channel

from rapport_gateway.settings import GatewaySettings

# Calls that hash a password (argon2id) and may queue for a hashing thread in a burst of
# sign-ups: their deadline is RAPPORT_GATEWAY_AUTH_TIMEOUT_SECONDS, not the RPC timeout.
HASHING_METHODS = {
    "identity": tuple(
        f"rapport.identity.v1.IdentityService/{m}" for m in ("Register", "Login", "EnrollMfa")
    )
}


class Downstream:
    def __init__(self, settings: GatewaySettings, required: Iterable[str]) -> None:
        self.settings = settings
        self._channels: dict[str, grpc.aio.Channel] = {}
        self.required = sorted(set(required))

    def channel(self, service: str) -> grpc.aio.Channel:
        """service: identity, scheduling, session_relay, notes_vault or billing."""
        if service not in self._channels:
            target = getattr(self.settings, f"{service}_addr")
            slow = HASHING_METHODS.get(service, ())
            self._channels[service] = client_channel(
                target,
                timeout_s=self.settings.rpc_timeout_seconds,
                method_timeouts=dict.fromkeys(slow, self.settings.auth_timeout_seconds),
            )
        return self._channels[service]

    def stub(self, service: str, stub_class: type[Any]) -> Any:
        return stub_class(self.channel(service))

    async def readiness(self) -> dict[str, bool]:
        return {name: await check_health(self.channel(name)) for name in self.required}

    async def close(self) -> None:
        for ch in self._channels.values():
            await ch.close()
