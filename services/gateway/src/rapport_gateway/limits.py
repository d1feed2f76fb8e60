"""Size limits at the edge (docs/security.md).

Bodies: FastAPI's own `max_body_size` (413 from the Content-Length, or as soon as a chunked
body passes the limit). Request heads: uvicorn's h11 parser stops reading past the limit
(server_limits); SizeLimits answers problem+json 431 for a head that got through a more
lenient server, and 413 for a declared Content-Length over the limit.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

PROBLEM = b"application/problem+json"


def _problem(status: int, title: str, detail: str, path: str, request_id: str) -> bytes:
    return json.dumps(
        {
            "type": f"https://rapport.dev/problems/{status}",
            "title": title,
            "status": status,
            "detail": detail,
            "instance": path,
            "request_id": request_id,
        }
    ).encode()


class SizeLimits:
    def __init__(self, app: ASGIApp, *, max_header_bytes: int, max_body_bytes: int) -> None:
        self.app = app
        self.max_head = max_header_bytes
        self.max_body = max_body_bytes

    async def _refuse(self, scope: Scope, send: Send, status: int, title: str, detail: str) -> None:
        request_id = str(uuid.uuid4())
        body = _problem(status, title, detail, scope.get("path", ""), request_id)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", PROBLEM),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                    (b"x-request-id", request_id.encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers: list[tuple[bytes, bytes]] = scope.get("headers", [])
        head = len(scope.get("raw_path", b"")) + len(scope.get("query_string", b""))
        head += sum(len(k) + len(v) + 4 for k, v in headers)
        if head > self.max_head:
            await self._refuse(
                scope,
                send,
                431,
                "Request header fields too large",
                f"request headers must be at most {self.max_head} bytes",
            )
            return
        # A declared length over the limit: problem+json here (Starlette's answer is plain text).
        declared = next((v for k, v in headers if k == b"content-length"), b"0")
        if not declared.isdigit() or int(declared) > self.max_body:
            await self._refuse(
                scope,
                send,
                413,
                "Payload too large",
                f"request body must be at most {self.max_body} bytes",
            )
            return
        await self.app(scope, receive, send)


class EdgeApp(FastAPI):
    """FastAPI with SizeLimits in front of everything, FastAPI's own body limit included (its
    answer to a declared length is plain text; clients here get problem+json)."""

    def set_limits(self, *, max_header_bytes: int, max_body_bytes: int) -> None:
        self._limits = SizeLimits(
            super().__call__, max_header_bytes=max_header_bytes, max_body_bytes=max_body_bytes
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._limits(scope, receive, send)


def server_limits(settings: Any) -> dict[str, Any]:
    """uvicorn options: h11 stops reading a request head past the header limit (httptools
    has no such bound and took a 50 MB header)."""
    return {"http": "h11", "h11_max_incomplete_event_size": settings.max_header_bytes}
