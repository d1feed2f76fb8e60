"""FastAPI dependencies shared by every router: the caller's token and the gRPC stubs."""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from fastapi import Depends, Header, Request
from rapport_platform.rpc import bearer
from starlette.exceptions import HTTPException

from rapport_gateway.downstream import Downstream

S = TypeVar("S")


def access_token(authorization: Annotated[str | None, Header()] = None) -> str:
    """The caller's bearer token, passed through untouched: the services verify it themselves."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise HTTPException(401, "missing bearer token", headers={"WWW-Authenticate": "Bearer"})
    return token.strip()


Token = Annotated[str, Depends(access_token)]


def downstream(request: Request) -> Downstream:
    return request.app.state.downstream  # type: ignore[no-any-return]


def stub(request: Request, service: str, stub_class: type[S]) -> S:
    result: Any = downstream(request).stub(service, stub_class)
    return result  # type: ignore[no-any-return]


def auth(token: str) -> tuple[tuple[str, str], ...]:
    """gRPC call metadata that forwards the caller's token."""
    return bearer(token)
