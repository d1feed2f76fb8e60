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
from pydantic import BaseModel, ConfigDict, Field
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


# --- the error answers, declared in the OpenAPI document ---------------------------------------


class FieldProblem(BaseModel):
    field: str
    problem: str


class Problem(BaseModel):
    """RFC 9457 problem details, as every error answer of the gateway carries them."""

    model_config = ConfigDict(extra="allow", title="Problem")

    type: str
    title: str
    status: int
    detail: str
    instance: str
    request_id: str | None = None
    field: str | None = Field(None, description="the request field at fault, when one is")
    errors: list[FieldProblem] | None = Field(None, description="422: each field at fault")
    errors_omitted: int | None = Field(None, description="422: fields at fault not listed")


# What any call at this edge may answer besides its success: FastAPI's routes only declare
# what they return, and generated client SDKs should know every problem they may meet.
ERRORS: dict[int, str] = {
    400: "the body is not valid JSON, or a webhook is not signed",
    401: "no valid bearer token (missing, expired, revoked), or wrong credentials",
    403: "the caller's role, clinic or relation to the resource does not allow this",
    404: "no such resource, or none the caller may know of",
    409: "conflicts with the resource's state (taken, already done, changed meanwhile)",
    413: "the request body is too large",
    422: "the request failed validation; `field` and `errors` say where",
    429: "too many attempts; see Retry-After",
    431: "the request headers are too large",
    503: "a service Rapport depends on is unavailable; see Retry-After",
}
OPS_ERRORS = (413, 431, 503)  # health probes take no token and no input
REF = "#/components/schemas/Problem"


def document(app: Any) -> None:
    """Declare every operation's error answers as application/problem+json in the app's OpenAPI
    document, once for all routes (a new route is covered without a word)."""
    plain_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema  # type: ignore[no-any-return]
        schema: dict[str, Any] = plain_openapi()
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        problem = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(problem.pop("$defs", {}))
        components["Problem"] = problem
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                responses = operation.setdefault("responses", {})
                statuses = OPS_ERRORS if "ops" in operation.get("tags", ()) else ERRORS
                for status in statuses:
                    said = responses.get(str(status), {}).get("description")
                    responses[str(status)] = {
                        "description": said
                        if said not in (None, "Validation Error")
                        else ERRORS[status],
                        "content": {PROBLEM: {"schema": {"$ref": REF}}},
                    }
        # FastAPI's own 422 body is never sent (problem+json is): drop its schemas.
        for name in ("HTTPValidationError", "ValidationError"):
            components.pop(name, None)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi
