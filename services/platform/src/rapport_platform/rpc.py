"""gRPC plumbing: the server bootstrap every service uses, and the client channel factory.

Server: grpc.aio with grpc.health.v1 (NOT_SERVING until the dependencies answer, NOT_SERVING again
on SIGTERM, then a graceful drain), reflection, OpenTelemetry, and domain errors mapped to status
codes in one interceptor. Client: deadlines and retries on UNAVAILABLE from the service config.
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import time
import traceback
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from opentelemetry.instrumentation.grpc import aio_client_interceptors, aio_server_interceptor
from pymongo.errors import PyMongoError

from rapport_platform import errors
from rapport_platform.errors import DomainError, dependency_errors
from rapport_platform.telemetry import meter

log = logging.getLogger(__name__)
_duration = meter("rapport.rpc").create_histogram(
    "rpc.server.duration", unit="ms", description="gRPC server call duration (RED metrics)"
)

Check = Callable[[], Awaitable[object]]
"""A readiness probe: returns when the dependency answers, raises otherwise."""

LIVENESS = "liveness"
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


@dataclass(frozen=True)
class Servicer:
    """One gRPC service to mount: the generated add_*_to_server function and its implementation."""

    add_to_server: Callable[[Any, grpc.aio.Server], None]
    implementation: Any
    full_name: str  # e.g. "rapport.identity.v1.IdentityService"


def _transient(exc: Exception) -> bool:
    """A database error the server itself labels as worth retrying the whole transaction."""
    return isinstance(exc, PyMongoError) and exc.has_error_label("TransientTransactionError")


class _ErrorInterceptor(grpc.aio.ServerInterceptor):
    """Domain errors become their status code; dependency outages become UNAVAILABLE; anything else
    INTERNAL. Only the exception type and frames are logged: messages may carry PHI."""

    def __init__(self) -> None:
        self._outages = dependency_errors()

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None or handler.unary_unary is None:
            return handler
        inner = handler.unary_unary
        method = handler_call_details.method
        service, _, name = method.lstrip("/").rpartition("/")

        async def measured(request: Any, context: grpc.aio.ServicerContext) -> Any:
            started = time.perf_counter()
            try:
                return await guarded(request, context)
            finally:
                code = context.code() or grpc.StatusCode.OK
                _duration.record(
                    (time.perf_counter() - started) * 1000,
                    {
                        "rpc.system": "grpc",
                        "rpc.service": service,
                        "rpc.method": name,
                        "rpc.grpc.status_code": code.value[0],
                    },
                )

        async def guarded(request: Any, context: grpc.aio.ServicerContext) -> Any:
            try:
                return await inner(request, context)
            except DomainError as exc:
                if exc.field:
                    context.set_trailing_metadata((("rapport-field", exc.field),))
                await context.abort(exc.code, exc.message)
            except self._outages as exc:
                log.warning("dependency unavailable in %s: %s", method, type(exc).__name__)
                await context.abort(grpc.StatusCode.UNAVAILABLE, "a dependency is unavailable")
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if isinstance(exc, grpc.aio.AbortError):
                    raise
                if _transient(exc):
                    # A write conflict that outlasted Store.transaction's retries, e.g. with the
                    # open transaction of a replica that was SIGKILLed (the database keeps it
                    # for its transaction lifetime, 60 s): a retry will succeed, so UNAVAILABLE
                    # (the gateway's 503 + Retry-After), not INTERNAL (found by tests/reliability).
                    log.warning("transient conflict in %s: %s", method, type(exc).__name__)
                    await context.abort(grpc.StatusCode.UNAVAILABLE, "busy, retry shortly")
                log.error(
                    "unhandled %s in %s\n%s",
                    type(exc).__name__,
                    method,
                    "".join(traceback.format_tb(exc.__traceback__)),
                )
                await context.abort(grpc.StatusCode.INTERNAL, "internal error")

        return grpc.unary_unary_rpc_method_handler(
            measured,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )


class GrpcServer:
    """A service's gRPC server with health, reflection, telemetry and a graceful drain."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        servicers: Sequence[Servicer],
        checks: Mapping[str, Check] | None = None,
        drain_seconds: float = 10.0,
        check_interval: float = 2.0,
        check_timeout: float = 2.0,
    ) -> None:
        self._address = f"{host}:{port}"
        self._servicers = list(servicers)
        self._checks = dict(checks or {})
        self._drain = drain_seconds
        self._interval = check_interval
        self._check_timeout = check_timeout
        self.health = health.aio.HealthServicer()
        self.server = grpc.aio.server(
            interceptors=[aio_server_interceptor(), _ErrorInterceptor()],
            # Connections are recycled so clients re-resolve and spread over new replicas.
            options=[
                ("grpc.max_connection_age_ms", 300_000),
                ("grpc.max_connection_age_grace_ms", 30_000),
            ],
        )
        self.port = 0
        self.serving = False
        self._ready = asyncio.Event()
        self._probe_task: asyncio.Task[None] | None = None
        self._stopping = False

    async def start(self) -> int:
        for s in self._servicers:
            s.add_to_server(s.implementation, self.server)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        names = [s.full_name for s in self._servicers]
        reflection.enable_server_reflection(
            [
                *names,
                health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
                reflection.SERVICE_NAME,
            ],
            self.server,
        )
        await self._set(NOT_SERVING)
        # Liveness answers SERVING while the process runs: an outage of a dependency makes the
        # service unready, never restarted.
        await self.health.set(LIVENESS, SERVING)
        self.port = self.server.add_insecure_port(self._address)
        await self.server.start()
        self._probe_task = asyncio.create_task(self._probe_loop(), name="readiness-probe")
        return self.port

    async def _set(self, status: int) -> None:
        self.serving = status == SERVING
        for name in ["", *(s.full_name for s in self._servicers)]:
            await self.health.set(name, status)

    async def probe_once(self) -> bool:
        """Run every check; SERVING only when all answer."""
        failed = []
        for name, check in self._checks.items():
            try:
                await asyncio.wait_for(check(), self._check_timeout)
            except Exception as exc:  # any failure means not ready
                failed.append(f"{name}: {type(exc).__name__}")
        if self._stopping:
            return False
        ok = not failed
        if ok != self.serving:
            log.info(
                "health %s%s", "SERVING" if ok else "NOT_SERVING", f" ({failed})" * bool(failed)
            )
        await self._set(SERVING if ok else NOT_SERVING)
        if ok:
            self._ready.set()
        return ok

    async def _probe_loop(self) -> None:
        while not self._stopping:
            await self.probe_once()
            await asyncio.sleep(self._interval)

    async def wait_ready(self, timeout: float = 30.0) -> None:
        await asyncio.wait_for(self._ready.wait(), timeout)

    async def stop(self, drain_seconds: float | None = None) -> None:
        """Drain: NOT_SERVING first while still answering, so probes and load balancers move
        traffic away; then stop accepting calls and give in-flight ones the same time to finish.
        Kubernetes' terminationGracePeriodSeconds must exceed twice the drain."""
        if self._stopping:
            return
        self._stopping = True
        await self.health.enter_graceful_shutdown()
        self.serving = False
        if self._probe_task:
            self._probe_task.cancel()
        drain = self._drain if drain_seconds is None else drain_seconds
        await asyncio.sleep(drain)
        await self.server.stop(grace=drain)

    async def run_until_signal(self) -> None:
        """Serve until SIGTERM or SIGINT, then drain."""
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        log.info("signal received: draining for %.1fs", self._drain)
        await self.stop()


def _service_config(attempts: int) -> str:
    method: dict[str, Any] = {"name": [{}]}
    if attempts > 1:  # gRPC rejects a retry policy of fewer than two attempts
        method["retryPolicy"] = {
            "maxAttempts": attempts,
            "initialBackoff": "0.1s",
            "maxBackoff": "1s",
            "backoffMultiplier": 2,
            "retryableStatusCodes": ["UNAVAILABLE"],
        }
    # round_robin over every address the name resolves to (a headless Service lists each pod).
    return json.dumps({"loadBalancingConfig": [{"round_robin": {}}], "methodConfig": [method]})


class _DefaultDeadline(grpc.aio.UnaryUnaryClientInterceptor):
    """Gives every call without a deadline the channel's (or its method's). Set per call, not
    as the service config's `timeout`: that one ends calls about 1.4 s early (grpcio 1.85) and
    never reaches the server, where a handler needs it to budget its waits."""

    def __init__(self, timeout_s: float, method_timeouts: Mapping[str, float]) -> None:
        self._default = timeout_s
        self._methods = {f"/{name.lstrip('/')}": t for name, t in method_timeouts.items()}

    async def intercept_unary_unary(
        self, continuation: Callable[..., Any], details: Any, request: Any
    ) -> Any:
        if details.timeout is None:
            method = (
                details.method.decode() if isinstance(details.method, bytes) else details.method
            )
            details = grpc.aio.ClientCallDetails(
                details.method,
                self._methods.get(method, self._default),
                details.metadata,
                details.credentials,
                details.wait_for_ready,
            )
        return await continuation(details, request)


def client_channel(
    target: str,
    *,
    timeout_s: float = 5.0,
    attempts: int = 3,
    method_timeouts: Mapping[str, float] | None = None,
) -> grpc.aio.Channel:
    """A channel whose calls carry a deadline (timeout_s, or method_timeouts["pkg.Service/
    Method"]) unless the call sets one, and retry UNAVAILABLE with backoff."""
    return grpc.aio.insecure_channel(
        target,
        options=[
            ("grpc.service_config", _service_config(attempts)),
            ("grpc.enable_retries", 1),
            # gRPC's reconnect backoff grows to 120 s: after a peer's outage of half a minute
            # the channel could stay down for many seconds after the peer was back (calls fail
            # fast with UNAVAILABLE meanwhile). A peer restarts in seconds: look again soon.
            ("grpc.max_reconnect_backoff_ms", 3000),
        ],
        interceptors=[
            _DefaultDeadline(timeout_s, method_timeouts or {}),
            *aio_client_interceptors(),
        ],
    )


async def check_health(channel: grpc.aio.Channel, service: str = "", timeout: float = 2.0) -> bool:
    """True when the peer reports SERVING."""
    try:
        stub = health_pb2_grpc.HealthStub(channel)
        reply = await stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=timeout)
    except grpc.aio.AioRpcError:
        return False
    return bool(reply.status == SERVING)


def bearer(token: str) -> tuple[tuple[str, str], ...]:
    """Call metadata forwarding the caller's access token."""
    return (("authorization", f"Bearer {token}"),)


# A downstream's refusals that mean the same to our caller: passed on with their code.
_REFUSALS: dict[grpc.StatusCode, type[errors.DomainError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: errors.InvalidArgument,
    grpc.StatusCode.NOT_FOUND: errors.NotFound,
    grpc.StatusCode.PERMISSION_DENIED: errors.PermissionDenied,
    grpc.StatusCode.UNAUTHENTICATED: errors.Unauthenticated,
    grpc.StatusCode.FAILED_PRECONDITION: errors.FailedPrecondition,
}


def passed_on(exc: grpc.aio.AioRpcError, service: str) -> errors.DomainError:
    """A downstream service's refusal as the same domain error (its code and message reach our
    caller); anything else (down, deadline, internal) as Unavailable."""
    cls = _REFUSALS.get(exc.code())
    if cls is not None:
        return cls(exc.details() or f"{service} refused")
    return errors.Unavailable(f"{service} is unavailable")


async def call_as_caller(
    rpc: Callable[..., Awaitable[Any]],
    request: object,
    token: str,
    *,
    timeout: float,
    service: str,
) -> Any:
    """Ask another service a question with the caller's own token (it checks the caller's
    rights itself); its refusal or outage becomes a domain error (`passed_on`)."""
    try:
        return await rpc(request, metadata=bearer(token), timeout=timeout)
    except grpc.aio.AioRpcError as exc:
        raise passed_on(exc, service) from None
