"""The web room in a real Chromium (Debian's, driven by playwright; no browser download): the
pre-session check passes with fake devices, the therapist admits the client, chat goes both ways,
each RTCPeerConnection connects and decodes the other's video, the therapist ends."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess

import pytest

from tests.session_relay.helpers import book_session

FLAGS = [
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-features=WebRtcHideLocalIpsWithMdns",
]
T = 30_000  # ms: bound of each wait in the browser


def system_chromium() -> str:
    """Debian's chromium; installed with apt-get when missing (the tests run as root)."""
    path = shutil.which("chromium")
    if path is None:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update"], check=True, env=env, capture_output=True)
        subprocess.run(
            ["apt-get", "install", "-y", "--no-install-recommends", "chromium"],
            check=True,
            env=env,
            capture_output=True,
        )
        path = shutil.which("chromium")
    assert path, "chromium could not be installed"
    return path


@pytest.fixture(scope="module")
async def browser():
    os.environ["PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD"] = "1"
    from playwright.async_api import async_playwright

    executable = await asyncio.to_thread(system_chromium)
    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=executable, args=FLAGS, headless=True)
        yield b
        await b.close()


DECODING = """async () => {
  const pc = window.rapport && window.rapport.pc;
  if (!pc || pc.connectionState !== "connected") return false;
  const stats = await pc.getStats();
  let frames = 0;
  stats.forEach((s) => {
    if (s.type === "inbound-rtp" && s.kind === "video") frames += s.framesDecoded || 0;
  });
  return frames > 0;
}"""


async def test_two_browsers_hold_a_video_session(browser, relay, rpractice, rhttp, tmp_path):
    booked = await book_session(rpractice, rhttp)
    pages = {}
    for role in ("therapist", "client"):
        # bypass_csp: the page forbids eval; the test's own probes need it.
        context = await browser.new_context(
            viewport={"width": 1100, "height": 800}, bypass_csp=True
        )
        page = await context.new_page()
        page.on("dialog", lambda d: asyncio.ensure_future(d.accept()))
        await page.goto(booked.tokens[role]["room_link"])
        pages[role] = page
    t, c = pages["therapist"], pages["client"]
    for page in (t, c):
        # The token left the address bar at once.
        assert "#t=" not in page.url and booked.tokens["client"]["token"] not in page.url
        await page.wait_for_selector("#check-camera[data-state=ok]", timeout=T)
        await page.wait_for_selector("#check-mic[data-state=ok]", timeout=T)
        await page.wait_for_selector("#check-relay[data-state=ok]", timeout=T)
        await page.wait_for_selector("#join:enabled", timeout=T)
    await t.screenshot(path=tmp_path / "therapist-check.png")
    await t.click("#join")
    await c.click("#join")
    await c.wait_for_function(
        "document.getElementById('status').textContent.includes('waiting room')", timeout=T
    )
    await t.wait_for_selector("#admit-bar:not([hidden])", timeout=T)
    await t.click("#admit")

    await t.wait_for_selector("#chat-input:enabled", timeout=T)
    assert not await t.is_visible("#admit-bar")  # admitted: no more waiting-room prompt
    await t.fill("#chat-input", "Welcome. Can you see and hear me?")
    await t.press("#chat-input", "Enter")
    await c.wait_for_selector("#messages li.theirs", timeout=T)
    assert await c.inner_text("#messages li.theirs") == "Welcome. Can you see and hear me?"
    await c.fill("#chat-input", "Yes, clearly.")
    await c.press("#chat-input", "Enter")
    await t.wait_for_selector("#messages li.theirs", timeout=T)
    assert await t.inner_text("#messages li.theirs") == "Yes, clearly."

    for page in (t, c):
        await page.wait_for_function(DECODING, timeout=T, polling=500)
        await page.wait_for_function(
            "document.getElementById('quality').dataset.level !== 'unknown'", timeout=T
        )
    await t.screenshot(path=tmp_path / "therapist.png")
    await c.screenshot(path=tmp_path / "client.png")
    assert (tmp_path / "therapist.png").stat().st_size > 0

    await t.click("#end")
    for page in (t, c):
        await page.wait_for_selector("#over:not([hidden])", timeout=T)
    assert "ended" in await c.inner_text("#over-reason")


async def test_a_text_session_needs_no_camera(browser, relay, rpractice, rhttp, tmp_path):
    booked = await book_session(rpractice, rhttp, modality="chat", minutes=30)
    pages = {}
    for role in ("therapist", "client"):
        context = await browser.new_context(bypass_csp=True)
        page = await context.new_page()
        await page.goto(booked.tokens[role]["room_link"])
        # No device is asked for: the check skips camera and microphone.
        await page.wait_for_selector("#check-camera[data-state=skip]", timeout=T)
        await page.wait_for_selector("#join:enabled", timeout=T)
        await page.click("#join")
        pages[role] = page
    t, c = pages["therapist"], pages["client"]
    await t.wait_for_selector("#admit-bar:not([hidden])", timeout=T)
    await t.click("#admit")
    await c.wait_for_selector("#chat-input:enabled", timeout=T)
    assert not await c.is_visible("#remote")  # no video area in a text session
    await c.fill("#chat-input", "Typing is easier for me.")
    await c.press("#chat-input", "Enter")
    await t.wait_for_selector("#messages li.theirs", timeout=T)
    assert await t.inner_text("#messages li.theirs") == "Typing is easier for me."
    assert await t.evaluate("window.rapport.pc") is None  # no media connection at all
    await c.screenshot(path=tmp_path / "client-text.png")
