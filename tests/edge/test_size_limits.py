"""Size limits at the gateway (issue 13, item 1): a body over the limit is 413 without being
read in full, an oversized head is refused, and a 422 lists a bounded number of errors."""

from __future__ import annotations

import asyncio

import httpx
import pytest

LOGIN = "/v1/auth/login"


@pytest.fixture
async def http(stack):
    async with httpx.AsyncClient(base_url=stack.url, timeout=30) as client:
        yield client


def assert_problem(r: httpx.Response, status: int) -> dict:
    assert r.status_code == status, r.text[:500]
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["status"] == status
    return body


async def test_a_body_over_the_limit_is_413_by_its_content_length(stack, http):
    limit = stack.gateway.settings.max_body_bytes
    body = b'{"email": "' + b"a" * limit + b'"}'
    problem = assert_problem(
        await http.post(LOGIN, content=body, headers={"content-type": "application/json"}), 413
    )
    assert str(limit) in problem["detail"]


async def test_a_chunked_body_is_cut_off_at_the_limit(stack, http):
    """No Content-Length: the gateway counts what arrives and refuses past the limit (without
    the limit this 64-times-the-limit body would be parsed in full, and answered 400)."""
    limit = stack.gateway.settings.max_body_bytes

    async def chunks():
        yield b'{"email": "'
        for _ in range(64):
            yield b"a" * limit

    try:
        r = await http.post(LOGIN, content=chunks(), headers={"content-type": "application/json"})
    except (httpx.WriteError, httpx.RemoteProtocolError, httpx.ReadError):
        pass  # the gateway closed the connection while we were still sending: also a refusal
    else:
        assert_problem(r, 413)
    # The gateway is fine afterwards.
    assert (await http.get("/healthz")).status_code == 200


async def test_a_body_at_the_limit_is_still_read(stack, http):
    r = await http.post(LOGIN, json={"email": "x@example.org", "password": "p" * 100})
    assert r.status_code != 413


async def test_an_oversized_header_is_refused(stack, http):
    huge = "a" * (2 * stack.gateway.settings.max_header_bytes)
    r = await http.get("/healthz", headers={"x-filler": huge})
    assert r.status_code in (400, 431), r.status_code
    assert (await http.get("/healthz")).status_code == 200


async def test_a_fifty_megabyte_header_does_not_take_the_gateway_down(stack):
    """Raw socket: the gateway answers or closes long before 50 MB have been sent."""
    host, port = "127.0.0.1", stack.gateway.settings.http_port
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Filler: ")
    sent = 0
    chunk = b"a" * 65536
    try:
        while sent < 50 << 20:
            writer.write(chunk)
            await asyncio.wait_for(writer.drain(), 30)
            sent += len(chunk)
            if reader.at_eof() or reader._buffer:  # type: ignore[attr-defined]
                break
    except (ConnectionError, TimeoutError):
        pass
    finally:
        writer.close()
    assert sent < 50 << 20
    async with httpx.AsyncClient(base_url=stack.url) as http:
        assert (await http.get("/healthz")).status_code == 200


async def test_a_422_lists_a_bounded_number_of_errors(stack, http):
    body = {f"k{i}": i for i in range(5000)}
    problem = assert_problem(await http.post(LOGIN, json=body), 422)
    limit = stack.gateway.settings.max_validation_errors
    assert len(problem["errors"]) == limit
    assert problem["errors_omitted"] > 0
