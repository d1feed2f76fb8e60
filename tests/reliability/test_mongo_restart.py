"""The MongoDB-wire server restarted under identity, scheduling (a real process) and billing:
readiness shows the outage everywhere (each service NOT_SERVING, the gateway's /readyz 503 naming
those it needs),
requests meanwhile get 503, and when it is back every service reconnects by itself: no restart,
the data from before is there, and a new booking flows through to billing again."""

from __future__ import annotations

import asyncio

import httpx
from rapport_platform.rpc import check_health, client_channel

from tests.people import assert_problem
from tests.waiting import eventually


async def test_mongo_restart_services_reconnect_and_readiness_shows_it(rstack, rclinic, rtherapist):
    client = await rclinic.client()
    start = rstack.next_start()
    r = await rclinic.book(client, rtherapist, start)
    assert r.status_code == 201, r.text
    before = r.json()["appointment_id"]
    await rclinic.wait_invoice(client, before)
    scheduling = client_channel(rstack.scheduling_addr, attempts=1, timeout_s=5)
    http = httpx.AsyncClient(base_url=rstack.url, timeout=60)

    async def readiness() -> dict[str, bool]:
        r = await http.get("/readyz")
        checks = r.json()["checks"]
        assert (r.status_code == 200) == all(checks.values()), r.text
        assert {"identity", "scheduling"} <= set(checks)
        return checks

    try:
        await asyncio.to_thread(rstack.mongo.stop)  # a clean stop: it keeps what it flushed
        try:
            # Every service notices on its own (its health loop), and the gateway reports it.
            await eventually(
                lambda: _all_false(readiness()), timeout=60, what="readyz showing the outage"
            )
            assert not await check_health(scheduling)
            assert not await rstack.identity.server.probe_once()
            assert not await rstack.billing.server.probe_once()
            r = await rclinic.book(client, rtherapist, rstack.next_start())
            assert_problem(r, 503)
            assert r.headers["Retry-After"]
        finally:
            await asyncio.to_thread(rstack.mongo.restart)

        async def all_ready() -> bool:
            return all((await readiness()).values())

        await eventually(all_ready, timeout=90, what="every service SERVING again")
        assert await check_health(scheduling)
        # Nothing was restarted but the database: what was there is there, and work flows.
        got = await rclinic.appointment(client, before)
        assert got["status"] == "confirmed"
        r = await rclinic.book(client, rtherapist, rstack.next_start())
        assert r.status_code == 201, r.text
        after = r.json()["appointment_id"]
        invoice = await rclinic.wait_invoice(client, after)
        assert invoice["appointment_id"] == after
        ids = sorted(i["appointment_id"] for i in await rclinic.invoices(client))
        assert ids == sorted([before, after])
    finally:
        await http.aclose()
        await scheduling.close()


async def _all_false(checks) -> bool:
    return not any((await checks).values())
