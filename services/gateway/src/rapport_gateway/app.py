"""The public REST/JSON edge. Routers (one per domain, in routes/) forward the caller's token to
the service that owns the answer; services verify it themselves. Errors are problem+json."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from opentelemetry import trace
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.trace import Span

from rapport_gateway import docs, problems
from rapport_gateway.deps import downstream
from rapport_gateway.downstream import Downstream
from rapport_gateway.limits import EdgeApp
from rapport_gateway.routes import auth, billing, identity, notes, scheduling, sessions
from rapport_gateway.settings import GatewaySettings

ROUTERS = [auth, identity, scheduling, sessions, notes, billing]
# Credentials that travel in a path (the calendar feed's secret URL, invitation tokens) never
# reach a span.
SECRET_PATHS = re.compile(r"(/v1/calendar-feeds/|/v1/invitations/)[^/?.]+")
URL_ATTRIBUTES = ("http.target", "http.url", "url.full", "url.path", "url.query")


def scrub_url(value: str) -> str:
    """Keep the shape of a URL, not its data: query values (a directory search for `addiction`
    says something about the person searching) and path secrets are dropped."""
    path, sep, query = value.partition("?")
    path = SECRET_PATHS.sub(r"\1{secret}", path)
    if not sep:
        return path
    names = [part.partition("=")[0] for part in query.split("&") if part]
    return f"{path}?{'&'.join(f'{n}=' for n in names)}"


def _scrub_span(span: Span, scope: dict[str, Any]) -> None:
    attributes = getattr(span, "attributes", None) or {}
    for key in URL_ATTRIBUTES:
        value = attributes.get(key)
        if isinstance(value, str):
            span.set_attribute(key, scrub_url(value) if key != "url.query" else "")


def create_app(settings: GatewaySettings) -> EdgeApp:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.downstream = Downstream(
            settings, required={r.DOWNSTREAM for r in ROUTERS if getattr(r, "REQUIRED", True)}
        )
        yield
        await app.state.downstream.close()

    app = EdgeApp(
        title="Rapport API",
        version="1.0.0",
        description="The public REST contract of Rapport. Errors are application/problem+json "
        "(RFC 9457); lists are paginated with `limit` and `cursor`.",
        lifespan=lifespan,
        # Served by docs.install from packaged assets (no CDN); no ReDoc page.
        docs_url=None,
        redoc_url=None,
        max_body_size=settings.max_body_bytes,  # 413 beyond it, read no further
    )
    docs.install(app)
    problems.install(app, settings.retry_after_seconds, settings.max_validation_errors)

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
        if getattr(request.app.state, "draining", False):  # SIGTERM: traffic moves away first
            return JSONResponse(
                {"status": "draining", "checks": {}},
                status_code=503,
                headers={"Retry-After": str(settings.retry_after_seconds)},
            )
        checks = await downstream(request).readiness()
        ready = all(checks.values())
        return JSONResponse(
            {"status": "ready" if ready else "unavailable", "checks": checks},
            status_code=200 if ready else 503,
            headers=None if ready else {"Retry-After": str(settings.retry_after_seconds)},
        )

    for module in ROUTERS:
        app.include_router(module.router)
    app.set_limits(
        max_header_bytes=settings.max_header_bytes, max_body_bytes=settings.max_body_bytes
    )
    problems.document(app)  # every route's error answers, problem+json, in the OpenAPI
    FastAPIInstrumentor.instrument_app(
        app, excluded_urls="healthz,readyz", server_request_hook=_scrub_span
    )
    return app
