"""Client deadlines: every call carries the channel's deadline (or its method's) and the server
sees it, so a handler can keep its own waits inside what the caller gives it."""

from __future__ import annotations

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from rapport_platform.rpc import client_channel

CHECK = "grpc.health.v1.Health/Check"


async def test_the_server_sees_the_default_and_the_per_method_deadlines():
    seen: list[float | None] = []

    class Recorder(health.aio.HealthServicer):
        async def Check(self, request, context):
            seen.append(context.time_remaining())
            return health_pb2.HealthCheckResponse(status=health_pb2.HealthCheckResponse.SERVING)

        async def Watch(self, request, context):  # pragma: no cover - not called
            raise NotImplementedError

    server = grpc.aio.server()
    health_pb2_grpc.add_HealthServicer_to_server(Recorder(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    plain = client_channel(f"127.0.0.1:{port}", timeout_s=2.0)
    slow = client_channel(f"127.0.0.1:{port}", timeout_s=2.0, method_timeouts={CHECK: 60.0})
    try:
        await health_pb2_grpc.HealthStub(plain).Check(health_pb2.HealthCheckRequest())
        await health_pb2_grpc.HealthStub(slow).Check(health_pb2.HealthCheckRequest())
        # A deadline the call sets itself wins over the channel's.
        await health_pb2_grpc.HealthStub(slow).Check(health_pb2.HealthCheckRequest(), timeout=1.0)
    finally:
        await plain.close()
        await slow.close()
        await server.stop(0)
    default, per_method, own = seen
    assert None not in seen  # every call carried a deadline the server could read
    # 1 s (the call's own) < 2 s (the channel's) < 60 s (the method's): far apart, so no timing
    # slack matters.
    assert 0 < own < default < per_method
