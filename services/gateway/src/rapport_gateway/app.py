"""The public REST/JSON edge. Each route forwards the caller's token to the service that owns the
answer; services verify it themselves. Errors are problem+json (see problems.py)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Literal

from fastapi import Depends, FastAPI, Header, Request, Response
from fastapi.responses import JSONResponse
from google.protobuf.json_format import MessageToDict
from opentelemetry import trace
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from pydantic import BaseModel, ConfigDict, Field
from rapport.identity.v1 import identity_pb2 as idpb
from rapport_platform.rpc import bearer

from rapport_gateway import problems
from rapport_gateway.downstream import Downstream
from rapport_gateway.settings import GatewaySettings

ROLES = {"client": idpb.ROLE_CLIENT, "therapist": idpb.ROLE_THERAPIST}
ROLE_NAMES = {
    idpb.ROLE_CLIENT: "client",
    idpb.ROLE_THERAPIST: "therapist",
    idpb.ROLE_CLINIC_ADMIN: "clinic_admin",
}


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RegisterBody(Strict):
    email: str = Field(max_length=254)
    password: str = Field(max_length=1024)
    role: Literal["client", "therapist"]
    display_name: str = Field(max_length=100)
    jurisdiction: str = Field("", max_length=10, description="ISO 3166-2, e.g. US-CA")


class RegisterReply(BaseModel):
    user_id: str


class LoginBody(Strict):
    email: str = Field(max_length=254)
    password: str = Field(max_length=1024)
    totp_code: str = Field("", max_length=10)


class TokenReply(BaseModel):
    access_token: str
    refresh_token: str | None = None
    token_type: str
    expires_in: int


class MeReply(BaseModel):
    user_id: str
    email: str
    role: str
    display_name: str
    jurisdiction: str
    clinic_id: str


def access_token(authorization: Annotated[str | None, Header()] = None) -> str:
    """The caller's bearer token, passed through untouched: the services verify it."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        from starlette.exceptions import HTTPException

        raise HTTPException(401, "missing bearer token", headers={"WWW-Authenticate": "Bearer"})
    return token.strip()


Token = Annotated[str, Depends(access_token)]


def create_app(settings: GatewaySettings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.downstream = Downstream(settings)
        yield
        await app.state.downstream.close()

    app = FastAPI(
        title="Rapport API",
        version="1.0.0",
        description="The public REST contract of Rapport. Errors are application/problem+json.",
        lifespan=lifespan,
    )
    problems.install(app, settings.retry_after_seconds)

    def ds(request: Request) -> Downstream:
        return request.app.state.downstream  # type: ignore[no-any-return]

    @app.middleware("http")
    async def request_ids(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        incoming = request.headers.get("x-request-id", "")
        request_id = (
            incoming if 0 < len(incoming) <= 128 and incoming.isprintable() else str(uuid.uuid4())
        )
        request.state.request_id = request_id
        span = trace.get_current_span()
        span.set_attribute("rapport.request_id", request_id)
        response = await call_next(request)
        response.headers["X-Request-ID"] = request_id
        ctx = span.get_span_context()
        if ctx.is_valid:
            response.headers["X-Trace-Id"] = format(ctx.trace_id, "032x")
        return response

    @app.get("/healthz", tags=["ops"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["ops"])
    async def readyz(request: Request) -> JSONResponse:
        checks = await ds(request).readiness()
        ready = all(checks.values())
        return JSONResponse(
            {"status": "ready" if ready else "unavailable", "checks": checks},
            status_code=200 if ready else 503,
            headers=None if ready else {"Retry-After": str(settings.retry_after_seconds)},
        )

    @app.get("/.well-known/jwks.json", tags=["auth"])
    async def jwks(request: Request, response: Response) -> dict[str, object]:
        reply = await ds(request).identity.GetJwks(idpb.GetJwksRequest())
        response.headers["Cache-Control"] = "public, max-age=60"
        return {"keys": [MessageToDict(k, preserving_proto_field_name=True) for k in reply.keys]}

    @app.post("/v1/auth/register", status_code=201, response_model=RegisterReply, tags=["auth"])
    async def register(body: RegisterBody, request: Request) -> RegisterReply:
        reply = await ds(request).identity.Register(
            idpb.RegisterRequest(
                email=body.email,
                password=body.password,
                role=ROLES[body.role],
                display_name=body.display_name,
                jurisdiction=body.jurisdiction,
            )
        )
        return RegisterReply(user_id=reply.user_id)

    @app.post("/v1/auth/login", response_model=TokenReply, tags=["auth"])
    async def login(body: LoginBody, request: Request) -> TokenReply:
        reply = await ds(request).identity.Login(
            idpb.LoginRequest(
                email=body.email,
                password=body.password,
                totp_code=body.totp_code,
                client_address=request.client.host if request.client else "",
            )
        )
        return TokenReply(
            access_token=reply.access_token,
            refresh_token=reply.refresh_token or None,
            token_type=reply.token_type,
            expires_in=reply.expires_in,
        )

    @app.get("/v1/me", response_model=MeReply, tags=["auth"])
    async def me(request: Request, token: Token) -> MeReply:
        reply = await ds(request).identity.GetMe(idpb.GetMeRequest(), metadata=bearer(token))
        u = reply.user
        return MeReply(
            user_id=u.user_id,
            email=u.email,
            role=ROLE_NAMES.get(u.role, "unknown"),
            display_name=u.display_name,
            jurisdiction=u.jurisdiction,
            clinic_id=u.clinic_id,
        )

    FastAPIInstrumentor.instrument_app(app, excluded_urls="healthz,readyz")
    return app
