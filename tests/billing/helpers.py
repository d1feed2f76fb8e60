"""Helpers for billing's tests: a clinic with a therapist and a client made through the gateway,
waiting for asynchronous effects with a bounded timeout, and publishing relay events."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import httpx
from rapport.events.v1 import sessions_pb2
from rapport_platform.bus import Bus
from rapport_platform.timestamps import to_timestamp

from tests.people import Person
from tests.scheduling.helpers import Practice, on_grid

T = TypeVar("T")
SESSION_ENDED = "rapport.sessions.session_ended"


async def eventually(
    probe: Callable[[], Awaitable[T]], ok: Callable[[T], bool], *, timeout: float = 30.0
) -> T:
    """Poll until ok(probe()) or fail after `timeout` seconds (no fixed sleeps in assertions)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = await probe()
        if ok(value):
            return value
        if loop.time() > deadline:
            raise AssertionError(f"condition not reached in {timeout}s; last value: {value!r}")
        await asyncio.sleep(0.1)


class Clinic(Practice):
    """A Practice (USD, 15 % commission, 24 h window, 30.00 late fee) with billing helpers."""

    def __init__(self, http: httpx.AsyncClient, stack: Any) -> None:
        super().__init__(http)
        self.stack = stack

    async def settings(self, **body: Any) -> dict[str, Any]:
        assert self.admin is not None
        r = await self.http.put(
            f"/v1/clinics/{self.admin.clinic_id}/billing", headers=self.admin.h, json=body
        )
        assert r.status_code == 200, r.text
        return r.json()

    async def invoices(self, who: Person) -> list[dict[str, Any]]:
        r = await self.http.get("/v1/invoices", headers=who.h, params={"limit": 200})
        assert r.status_code == 200, r.text
        return r.json()["items"]

    async def invoice_of(self, who: Person, appointment_id: str) -> dict[str, Any] | None:
        return next(
            (i for i in await self.invoices(who) if i["appointment_id"] == appointment_id), None
        )

    async def wait_invoice(
        self, who: Person, appointment_id: str, ok: Callable[[dict[str, Any]], bool] = bool
    ) -> dict[str, Any]:
        return await eventually(
            lambda: self.invoice_of(who, appointment_id), lambda i: i is not None and ok(i)
        )

    async def appointment(self, who: Person, appointment_id: str) -> dict[str, Any]:
        r = await self.http.get(f"/v1/appointments/{appointment_id}", headers=who.h)
        assert r.status_code == 200, r.text
        return r.json()

    async def ledger(self) -> dict[str, Any]:
        assert self.admin is not None
        r = await self.http.get(
            f"/v1/clinics/{self.admin.clinic_id}/ledger/check", headers=self.admin.h
        )
        assert r.status_code == 200, r.text
        return r.json()

    async def booked(
        self, client: Person, therapist: Person, *, hours: float = 72, **kw: Any
    ) -> dict[str, Any]:
        start = on_grid(datetime.now(UTC) + timedelta(hours=hours))
        r = await self.book(client, therapist, start, **kw)
        assert r.status_code == 201, r.text
        return r.json()


def balance(ledger: dict[str, Any], account: str) -> int:
    return next(
        (b["balance"]["amount_minor"] for b in ledger["balances"] if b["account"] == account), 0
    )


async def session_ended(
    bus: Bus,
    appointment_id: str,
    *,
    minutes: int = 50,
    modality: str = "video",
    event_id: str | None = None,
    deliveries: int = 1,
) -> str:
    """Publish rapport.sessions.session_ended as the relay would. deliveries > 1 sends the same
    event (same ce-id) several times past JetStream's deduplication, as a redelivery would."""
    event_id = event_id or str(uuid.uuid4())
    now = datetime.now(UTC)
    msg = sessions_pb2.SessionEnded(
        appointment_id=appointment_id,
        session_id=f"s-{uuid.uuid4().hex[:8]}",
        started_at=to_timestamp(now - timedelta(minutes=minutes)),
        ended_at=to_timestamp(now),
        connected_seconds=minutes * 60,
        modality=modality,
        occurred_at=to_timestamp(now),
    )
    await bus.publish(SESSION_ENDED, msg, event_id=event_id)
    for n in range(1, deliveries):
        headers = {
            "ce-specversion": "1.0",
            "ce-id": event_id,
            "ce-type": SESSION_ENDED,
            "ce-source": "rapport/session-relay",
            "ce-time": now.isoformat(),
            "Nats-Msg-Id": f"{event_id}:again:{n}",
        }
        await bus.js.publish(SESSION_ENDED, msg.SerializeToString(), headers=headers)
    return event_id


async def billing_events(bus: Bus) -> list[tuple[str, bytes]]:
    """Every event on billing's stream so far (subject, body), read by an ephemeral consumer."""
    await bus.ensure_domain_stream("billing")
    sub = await bus.js.pull_subscribe("rapport.billing.>", stream="RAPPORT_BILLING")
    out: list[tuple[str, bytes]] = []
    try:
        while True:
            try:
                msgs = await sub.fetch(100, timeout=1.0)
            except Exception:  # nats TimeoutError: nothing more
                break
            for m in msgs:
                out.append((m.subject, m.data))
                await m.ack()
    finally:
        await sub.unsubscribe()
    return out
