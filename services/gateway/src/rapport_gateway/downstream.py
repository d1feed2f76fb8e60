"""The gateway's gRPC clients: one channel per service, deadlines and retries from the platform."""

from __future__ import annotations

from dataclasses import dataclass, field

import grpc
from rapport.identity.v1 import identity_pb2_grpc
from rapport_platform.rpc import check_health, client_channel

from rapport_gateway.settings import GatewaySettings


@dataclass
class Downstream:
    settings: GatewaySettings
    channels: dict[str, grpc.aio.Channel] = field(default_factory=dict)

    def __post_init__(self) -> None:
        s = self.settings
        # Readiness covers the services the gateway routes to today; add each as it arrives.
        targets = {"identity": s.identity_addr}
        self.channels = {
            name: client_channel(addr, timeout_s=s.rpc_timeout_seconds)
            for name, addr in targets.items()
        }
        self.identity = identity_pb2_grpc.IdentityServiceStub(self.channels["identity"])

    async def readiness(self) -> dict[str, bool]:
        return {name: await check_health(ch) for name, ch in self.channels.items()}

    async def close(self) -> None:
        for ch in self.channels.values():
            await ch.close()
