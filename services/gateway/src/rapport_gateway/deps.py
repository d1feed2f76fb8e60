"""FastAPI dependencies shared by every router: the caller's token and the gRPC stubs."""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from rapport_platform.rpc import bearer
from starlette.exceptions import HTTPException

from rapport_gateway.downstream import Downstream

S = TypeVar("S")


# Declared as the OpenAPI security scheme (client SDKs and Swagger UI know to send it); the
# missing-token answer stays ours (problem+json).
bearer_scheme = HTTPBearer(auto_error=False, description="an access token from /v1/auth/login")


def access_token(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> str:
    """The caller's bearer token, passed through untouched: the services verify it themselves."""
    token = credentials.credentials.strip() if credentials else ""
    if not token:
        raise HTTPException(401, "missing bearer token", headers={"WWW-Authenticate": "Bearer"})
    return token


Token = Annotated[str, Depends(access_token)]


def downstream(request: Request) -> Downstream:
    return request.app.state.downstream  # type: ignore[no-any-return]


def stub(request: Request, service: str, stub_class: type[S]) -> S:
    result: Any = downstream(request).stub(service, stub_class)
    return result  # type: ignore[no-any-return]


def auth(token: str) -> tuple[tuple[str, str], ...]:
    """gRPC call metadata that forwards the caller's token."""
    return bearer(token)
