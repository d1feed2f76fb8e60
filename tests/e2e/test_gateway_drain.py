"""The gateway as the real process: on SIGTERM /readyz fails while every route still answers,
then it stops listening and a request already in flight still gets its answer; exit 0."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import threading
import uuid

import httpx
from rapport_identity.__main__ import create as create_identity
from rapport_local import procs

from tests.people import PASSWORD

# The grace for in-flight requests is the drain again: long enough for identity to finish the
# held sign-up (a hash, a transaction) on a loaded machine once the test lets it go.
DRAIN_SECONDS = 5


async def wait_for(check, what: str, timeout: float = 60.0):
    """Poll an async check until it returns something truthy, within a bound."""
    async with asyncio.timeout(timeout):
        while True:
            result = await check()
            if result:
                return result
            await asyncio.sleep(0.05)


def root_plugin(request):
    path = str(request.config.rootpath / "conftest.py")
    for plugin in request.config.pluginmanager.get_plugins():
        if getattr(plugin, "__file__", None) == path:
            return plugin
    raise LookupError(path)


async def test_sigterm_fails_readyz_while_answering_then_finishes_in_flight_requests(
    request, stack
):
    root = root_plugin(request)
    # Identity of the test's own with one hashing thread that waits long for it: the test holds
    # that thread, so a sign-up stays in flight for as long as it likes.
    identity = await root.start_service(
        create_identity(
            root.identity_settings(
                stack.deps, password_hash_workers=1, password_hash_queue_seconds=30.0
            )
        )
    )
    port = procs.free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAPPORT_")}
    env.update(
        {
            "RAPPORT_GATEWAY_HTTP_PORT": str(port),
            "RAPPORT_GATEWAY_IDENTITY_ADDR": f"127.0.0.1:{identity.server.port}",
            "RAPPORT_GATEWAY_SCHEDULING_ADDR": stack.scheduling_addr,
            "RAPPORT_GATEWAY_DRAIN_SECONDS": str(DRAIN_SECONDS),
            "RAPPORT_GATEWAY_AUTH_TIMEOUT_SECONDS": "60",
        }
    )
    gateway = subprocess.Popen(
        [sys.executable, "-m", "rapport_gateway"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    # A fresh connection for every probe, as a load balancer's checks would.
    fresh = httpx.Limits(max_keepalive_connections=0)
    release = threading.Event()
    holder = None
    try:
        async with (
            httpx.AsyncClient(base_url=url, timeout=5, limits=fresh) as probe,
            httpx.AsyncClient(base_url=url, timeout=60) as user,
        ):

            async def ready() -> bool:
                with contextlib.suppress(httpx.TransportError):
                    return (await probe.get("/readyz")).status_code == 200
                return False

            await wait_for(ready, "the gateway is ready")

            passwords = identity.passwords
            holder = asyncio.create_task(passwords.run(release.wait))
            in_flight = asyncio.create_task(
                user.post(
                    "/v1/auth/register",
                    json={
                        "email": f"drain-{uuid.uuid4().hex[:12]}@example.org",
                        "password": PASSWORD,
                        "role": "client",
                        "display_name": "Sam",
                        "jurisdiction": "US-CA",
                    },
                )
            )

            async def queued() -> bool:
                return passwords.waiting == 1

            await wait_for(queued, "the sign-up is in flight")

            gateway.send_signal(signal.SIGTERM)

            async def draining() -> tuple[int, int] | None:
                r = await probe.get("/readyz")
                if r.status_code != 503:
                    return None
                assert r.json()["status"] == "draining" and r.headers["Retry-After"]
                # Not ready, yet still answering every route.
                return r.status_code, (await probe.get("/healthz")).status_code

            assert await wait_for(draining, "readyz fails while answering") == (503, 200)

            async def closed() -> bool:
                try:
                    await probe.get("/healthz")
                except httpx.ConnectError:
                    return True
                return False

            await wait_for(closed, "the listener closes after the drain")
            assert not in_flight.done(), in_flight.result().text  # still waiting for its answer
            release.set()
            r = await in_flight
            assert r.status_code == 201, r.text

        assert gateway.wait(timeout=30) == 0
        assert "signal received: draining" in gateway.stderr.read().decode()
    finally:
        release.set()
        if holder is not None:
            await holder
        if gateway.poll() is None:
            gateway.kill()
        await identity.stop(0)
