"""gRPC server bootstrap: health transitions, graceful drain, error mapping, client retries."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from pymongo.errors import OperationFailure, ServerSelectionTimeoutError
from rapport.identity.v1 import identity_pb2 as pb
from rapport.identity.v1 import identity_pb2_grpc
from rapport_local.procs import free_port
from rapport_platform import errors
from rapport_platform.rpc import (
    GrpcServer,
    Servicer,
    call_as_caller,
    check_health,
    client_channel,
)

from tests.waiting import eventually

FULL_NAME = "rapport.identity.v1.IdentityService"


class Scripted(identity_pb2_grpc.IdentityServiceServicer):
    """A servicer each test scripts (it stands in for a domain, not for a dependency)."""

    def __init__(self) -> None:
        self.raise_next: list[BaseException] = []
        self.calls = 0
        self.release = asyncio.Event()
        self.entered = asyncio.Event()

    async def Register(self, request, context):
        self.calls += 1
        if self.raise_next:
            raise self.raise_next.pop(0)
        return pb.RegisterResponse(user_id="u1")

    async def GetMe(self, request, context):
        self.entered.set()
        await self.release.wait()  # an in-flight call, to prove the drain
        return pb.GetMeResponse()


class Dependency:
    def __init__(self) -> None:
        self.up = False

    async def check(self) -> None:
        if not self.up:
            raise ConnectionError("down")


async def _status(channel, service=""):
    stub = health_pb2_grpc.HealthStub(channel)
    return (await stub.Check(health_pb2.HealthCheckRequest(service=service))).status


@pytest.fixture
async def served():
    impl, dep = Scripted(), Dependency()
    server = GrpcServer(
        host="127.0.0.1",
        port=free_port(),
        servicers=[
            Servicer(identity_pb2_grpc.add_IdentityServiceServicer_to_server, impl, FULL_NAME)
        ],
        checks={"db": dep.check},
        drain_seconds=1,
        check_interval=3600,
    )
    port = await server.start()
    channel = client_channel(f"127.0.0.1:{port}", timeout_s=5)
    channel.rapport_target = f"127.0.0.1:{port}"
    yield server, impl, dep, channel
    await channel.close()
    await server.stop(0)


async def test_health_follows_dependencies_then_shutdown(served):
    server, _, dep, channel = served
    NOT, OK = health_pb2.HealthCheckResponse.NOT_SERVING, health_pb2.HealthCheckResponse.SERVING
    assert await _status(channel) == NOT and await _status(channel, FULL_NAME) == NOT
    dep.up = True
    assert await server.probe_once()
    assert await _status(channel) == OK and await _status(channel, FULL_NAME) == OK
    dep.up = False
    await server.probe_once()
    assert await _status(channel) == NOT
    dep.up = True
    await server.probe_once()
    assert await check_health(channel)
    stop = asyncio.create_task(server.stop())
    # Once stopping, NOT_SERVING and it stays so even if the dependencies still answer.
    await eventually(lambda: server.serving is False)
    assert await _status(channel) == NOT
    await server.probe_once()
    assert server.serving is False
    await stop


async def test_in_flight_call_finishes_during_the_drain(served):
    """An in-flight call outlives both phases' start: it is still running when the server stops
    accepting calls (the grace period has begun), and still completes."""
    server, impl, _dep, channel = served
    stub = identity_pb2_grpc.IdentityServiceStub(channel)
    call = asyncio.ensure_future(stub.GetMe(pb.GetMeRequest(), timeout=60))
    await asyncio.wait_for(impl.entered.wait(), 30)
    stopping = asyncio.create_task(server.stop(drain_seconds=3))
    one_shot = client_channel(channel.rapport_target, attempts=1)
    probe = identity_pb2_grpc.IdentityServiceStub(one_shot)
    # Phase one: NOT_SERVING, yet new calls are still answered.
    await eventually(lambda: server.serving is False)
    assert (await probe.Register(pb.RegisterRequest())).user_id == "u1"

    async def refused() -> bool:
        try:
            await probe.Register(pb.RegisterRequest(), timeout=5)
        except grpc.aio.AioRpcError as e:
            return e.code() == grpc.StatusCode.UNAVAILABLE
        return False

    # Phase two: new calls are refused, so the grace period for in-flight calls has begun.
    await eventually(refused, what="the server to stop accepting calls")
    assert not call.done()
    impl.release.set()
    assert isinstance(await call, pb.GetMeResponse)  # completed, not cut off
    await stopping
    await one_shot.close()


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (errors.InvalidArgument("bad", field="email"), grpc.StatusCode.INVALID_ARGUMENT),
        (errors.NotFound("gone"), grpc.StatusCode.NOT_FOUND),
        (errors.AlreadyExists("dup"), grpc.StatusCode.ALREADY_EXISTS),
        (errors.PermissionDenied("no"), grpc.StatusCode.PERMISSION_DENIED),
        (errors.Unauthenticated("who"), grpc.StatusCode.UNAUTHENTICATED),
        (errors.FailedPrecondition("not now"), grpc.StatusCode.FAILED_PRECONDITION),
        (ServerSelectionTimeoutError("mongo down"), grpc.StatusCode.UNAVAILABLE),
        # A write conflict that outlived the transaction's retries: worth a retry, not a 500.
        (
            OperationFailure("WriteConflict", 112, {"errorLabels": ["TransientTransactionError"]}),
            grpc.StatusCode.UNAVAILABLE,
        ),
        (OperationFailure("BadValue", 2), grpc.StatusCode.INTERNAL),
        (KeyError("secret@example.org"), grpc.StatusCode.INTERNAL),
    ],
)
async def test_errors_map_to_status_codes(served, error, code):
    _, impl, _, channel = served
    # attempts=1: UNAVAILABLE would otherwise be retried by the channel.
    one_shot = client_channel(channel.rapport_target, attempts=1)
    impl.raise_next = [error]
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await identity_pb2_grpc.IdentityServiceStub(one_shot).Register(pb.RegisterRequest())
    await one_shot.close()
    assert info.value.code() == code
    assert "secret@example.org" not in (info.value.details() or "")
    if isinstance(error, errors.InvalidArgument):
        assert ("rapport-field", "email") in tuple(info.value.trailing_metadata())


async def test_client_retries_unavailable(served):
    _, impl, _, channel = served
    impl.raise_next = [errors.Unavailable("blip"), errors.Unavailable("blip")]
    reply = await identity_pb2_grpc.IdentityServiceStub(channel).Register(pb.RegisterRequest())
    assert reply.user_id == "u1" and impl.calls == 3


async def test_client_deadline(served):
    _, _, _, channel = served
    short = client_channel(channel.rapport_target, timeout_s=0.2)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await identity_pb2_grpc.IdentityServiceStub(short).GetMe(pb.GetMeRequest())
    await short.close()
    assert info.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED


async def test_reflection_lists_the_service(served):
    _, _, _, channel = served
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)

    async def requests():
        yield reflection_pb2.ServerReflectionRequest(list_services="")

    async for reply in stub.ServerReflectionInfo(requests()):
        names = {s.name for s in reply.list_services_response.service}
        break
    assert FULL_NAME in names and "grpc.health.v1.Health" in names


async def test_liveness_stays_serving_while_dependencies_are_down(served):
    server, _, dep, channel = served
    dep.up = False
    await server.probe_once()
    assert await _status(channel) == health_pb2.HealthCheckResponse.NOT_SERVING
    assert await _status(channel, "liveness") == health_pb2.HealthCheckResponse.SERVING


async def test_calls_are_measured_with_method_and_status(served, telemetry):
    _, impl, _, channel = served
    impl.raise_next = [errors.NotFound("gone")]
    stub = identity_pb2_grpc.IdentityServiceStub(channel)
    with pytest.raises(grpc.aio.AioRpcError):
        await stub.Register(pb.RegisterRequest())
    await stub.Register(pb.RegisterRequest())
    points = [
        dict(p.attributes)
        for rm in telemetry.metrics.get_metrics_data().resource_metrics
        for sm in rm.scope_metrics
        for m in sm.metrics
        if m.name == "rpc.server.duration"
        for p in m.data.data_points
        if p.attributes.get("rpc.method") == "Register"
    ]
    codes = {p["rpc.grpc.status_code"] for p in points}
    assert {0, grpc.StatusCode.NOT_FOUND.value[0]} <= codes
    assert all(p["rpc.service"] == FULL_NAME for p in points)


@pytest.mark.parametrize(
    ("raised", "passed"),
    [
        (errors.PermissionDenied("not your clinic"), errors.PermissionDenied),
        (errors.NotFound("no such therapist"), errors.NotFound),
        (errors.Unauthenticated("token revoked"), errors.Unauthenticated),
        (errors.FailedPrecondition("not now"), errors.FailedPrecondition),
        (errors.InvalidArgument("bad id"), errors.InvalidArgument),
        # Not a refusal our caller could act on: the downstream is as good as down.
        (errors.AlreadyExists("dup"), errors.Unavailable),
        (RuntimeError("bug"), errors.Unavailable),
    ],
)
async def test_a_downstream_refusal_is_passed_on_with_its_meaning(served, raised, passed):
    _server, impl, _dep, channel = served
    impl.raise_next.append(raised)
    stub = identity_pb2_grpc.IdentityServiceStub(channel)
    with pytest.raises(errors.DomainError) as caught:
        await call_as_caller(
            stub.Register, pb.RegisterRequest(), "t0ken", timeout=5, service="identity"
        )
    assert type(caught.value) is passed
    if passed is not errors.Unavailable:
        assert caught.value.message == raised.message  # the downstream's own words
    else:
        assert caught.value.message == "identity is unavailable"


async def test_a_downstream_answer_comes_back_as_is(served):
    _server, _impl, _dep, channel = served
    stub = identity_pb2_grpc.IdentityServiceStub(channel)
    reply = await call_as_caller(
        stub.Register, pb.RegisterRequest(), "t0ken", timeout=5, service="identity"
    )
    assert reply.user_id == "u1"
