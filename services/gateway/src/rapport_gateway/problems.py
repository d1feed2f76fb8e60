"""Errors at the edge: every failure is an RFC 9457 application/problem+json answer.

gRPC status codes from the services map to HTTP statuses here, once. A downstream that does not
answer is 503 with Retry-After. Details never echo request bodies (they may carry PHI).
"""

from __future__ import annotations

import logging
from typing import Any

import grpc
from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

PROBLEM = "application/problem+json"
log = logging.getLogger(__name__)

GRPC_TO_HTTP = {
    grpc.StatusCode.INVALID_ARGUMENT: 422,
    grpc.StatusCode.OUT_OF_RANGE: 422,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.FAILED_PRECONDITION: 409,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DEADLINE_EXCEEDED: 503,
    grpc.StatusCode.UNIMPLEMENTED: 501,
}
TITLES = {
    400: "Bad request",
    401: "Not authenticated",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Payload too large",
    422: "Invalid request",
    429: "Too many requests",
    500: "Internal error",
    501: "Not implemented",
    503: "Service unavailable",
}


def problem(
    request: Request,
    status: int,
    detail: str,
    *,
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"https://rapport.dev/problems/{status}",
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "instance": request.url.path,
        "request_id": getattr(request.state, "request_id", None),
    }
    body.update(extra or {})
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def install(app: Any, retry_after_seconds: int, max_errors: int = 20) -> None:
    @app.exception_handler(grpc.aio.AioRpcError)
    async def _rpc_error(request: Request, exc: grpc.aio.AioRpcError) -> JSONResponse:
        status = GRPC_TO_HTTP.get(exc.code(), 500)
        extra = {}
        headers = None
        for key, value in exc.trailing_metadata() or ():
            if key == "rapport-field":
                extra["field"] = value
            elif key == "retry-after" and str(value).isdigit():
                headers = {"Retry-After": str(value)}  # throttled: when to try again
        if status == 503:
            return problem(
                request,
                503,
                "a service Rapport depends on is unavailable; retry shortly",
                headers={"Retry-After": str(retry_after_seconds)},
            )
        detail = exc.details() if status < 500 else "internal error"
        return problem(
            request, status, detail or TITLES.get(status, "Error"), extra=extra, headers=headers
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            return problem(request, 400, "request body is not valid JSON")
        # Only where and what kind of problem, never the offending value (it may be PHI).
        # At most max_errors of them: 200,000 unknown keys must not make a 12 MB answer.
        fields = [
            {"field": ".".join(str(p) for p in e["loc"] if p != "body"), "problem": e["msg"]}
            for e in errors[:max_errors]
        ]
        extra: dict[str, Any] = {"errors": fields}
        if fields:  # as the services' 422s do: the (first) field at fault
            extra["field"] = fields[0]["field"]
        if len(errors) > max_errors:
            extra["errors_omitted"] = len(errors) - max_errors
        return problem(request, 422, "request failed validation", extra=extra)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Still problem+json; the type only in the log (a message may carry request data).
        log.error("unhandled %s on a %s request", type(exc).__name__, request.method)
        return problem(request, 500, "internal error")

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        return problem(request, exc.status_code, str(exc.detail), headers=exc.headers)
