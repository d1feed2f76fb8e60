"""Every page Rapport serves works with no network but Rapport's own (issue 13, item 13):
`/docs` renders in a real Chromium while every request to any other origin is blocked, and no
page references another origin."""

from __future__ import annotations

import asyncio
import os
import re
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.session_relay.test_browser import FLAGS, system_chromium

T = 30_000  # ms: bound of each wait in the browser
ROOT = Path(__file__).resolve().parents[2]
RELAY_STATIC = ROOT / "services/session_relay/src/rapport_session_relay/static"
# An absolute URL in markup, a stylesheet or a script: http(s)://host or protocol-relative //host.
FOREIGN = re.compile(r"""(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}""", re.IGNORECASE)


def self_contained(r: httpx.Response) -> bool:
    """No other origin named in the page, and a policy that allows none."""
    policy = r.headers.get("content-security-policy", "")
    return FOREIGN.findall(r.text) == [] and (
        "default-src 'self'" in policy or "default-src 'none'" in policy
    )


@pytest.fixture(scope="module")
async def browser():
    os.environ["PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD"] = "1"
    from playwright.async_api import async_playwright

    executable = await asyncio.to_thread(system_chromium)
    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=executable, args=FLAGS, headless=True)
        yield b
        await b.close()


async def test_docs_render_with_every_other_origin_blocked(browser, stack):
    origin = stack.url
    blocked: list[str] = []
    served: list[str] = []
    context = await browser.new_context()

    async def gate(route):
        url = route.request.url
        parts = urlsplit(url)
        if f"{parts.scheme}://{parts.netloc}" == origin or parts.scheme == "data":
            served.append(url)
            await route.continue_()
        else:
            blocked.append(url)
            await route.abort("internetdisconnected")

    await context.route("**/*", gate)
    page = await context.new_page()
    await page.goto(f"{origin}/docs")
    # Swagger UI drew the API: its title and the operations it read from /openapi.json.
    await page.wait_for_selector(".swagger-ui .info .title", timeout=T)
    assert "Rapport API" in await page.inner_text(".swagger-ui .info .title")
    await page.wait_for_selector(".swagger-ui .opblock", timeout=T)
    assert await page.locator(".swagger-ui .opblock").count() > 10
    await context.close()
    assert blocked == []
    assert any(u.endswith("/docs/assets/swagger-ui-bundle.js") for u in served)
    assert any(u.endswith("/openapi.json") for u in served)


async def test_every_html_page_of_the_gateway_is_self_contained(stack):
    """Every HTML page the gateway serves: no other origin in it, and a policy that keeps it so."""
    async with httpx.AsyncClient(base_url=stack.url) as http:
        spec = (await http.get("/openapi.json")).json()
        pages = ["/docs", "/docs/oauth2-redirect", "/redoc"]
        for path, ops in spec["paths"].items():
            for op in ops.values():
                if "text/html" in op.get("responses", {}).get("200", {}).get("content", {}):
                    pages.append(path)
        for path in pages:
            r = await http.get(path)
            if r.status_code == 404:
                continue  # not served at all (ReDoc: its fonts and script come from CDNs)
            if "{" in path:
                # A page about one record (the superbill) is for signed-in people only; its
                # content is checked with the same rule where a test makes one
                # (tests/billing/test_flow.py, self_contained below).
                assert r.status_code == 401, (path, r.status_code)
                continue
            assert r.status_code == 200, (path, r.status_code)
            assert self_contained(r), path
        for name in ("swagger-ui.css", "swagger-ui-bundle.js"):
            r = await http.get(f"/docs/assets/{name}")
            assert r.status_code == 200 and len(r.content) > 10_000, name


def test_the_session_room_page_loads_nothing_from_elsewhere():
    for path in RELAY_STATIC.iterdir():
        text = path.read_text()
        assert FOREIGN.findall(text) == [], path.name
