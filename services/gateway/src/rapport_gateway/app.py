"""The public REST/JSON edge. Routers (one per domain, in routes/) forward the caller's token to
the service that owns the answer; services verify it themselves. Errors are problem+json."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from opentelemetry import trace
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

from rapport_gateway import problems
from rapport_gateway.deps import downstream
from rapport_gateway.downstream import Downstream
from rapport_gateway.routes import auth, identity, scheduling
from rapport_gateway.settings import GatewaySettings

ROUTERS = [auth, identity, scheduling]


def create_app(settings: GatewaySettings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.downstream = Downstream(settings, required={r.DOWNSTREAM for r in ROUTERS})
        yield
        await app.state.downstream.close()

    app = FastAPI(
        title="Rapport API",
        version="1.0.0",
        description="The public REST contract of Rapport. Errors are application/problem+json "
        "(RFC 9457); lists are paginated with `limit` and `cursor`.",
        lifespan=lifespan,
    )
    problems.install(app, settings.retry_after_seconds)

    @app.middleware("http")
    async def request_ids(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        incoming = request.headers.get("x-request-id", "")
        ok = 0 < len(incoming) <= 128 and incoming.isprintable()
        request.state.request_id = incoming if ok else str(uuid.uuid4())
        span = trace.get_current_span()
        span.set_attribute("rapport.request_id", request.state.request_id)
        response = await call_next(request)
        response.headers["X-Request-ID"] = request.state.request_id
        ctx = span.get_span_context()
        if ctx.is_valid:
            response.headers["X-Trace-Id"] = format(ctx.trace_id, "032x")
        return response

    @app.get("/healthz", tags=["ops"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["ops"])
    async def readyz(request: Request) -> JSONResponse:
        checks = await downstream(request).readiness()
        ready = all(checks.values())
        return JSONResponse(
            {"status": "ready" if ready else "unavailable", "checks": checks},
            status_code=200 if ready else 503,
            headers=None if ready else {"Retry-After": str(settings.retry_after_seconds)},
        )

    for module in ROUTERS:
        app.include_router(module.router)
    FastAPIInstrumentor.instrument_app(app, excluded_urls="healthz,readyz")
    return app
