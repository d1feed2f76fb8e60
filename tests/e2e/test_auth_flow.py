"""Register, log in and read /v1/me through the gateway; the event arrives in the same trace."""

from __future__ import annotations

import asyncio
import uuid

import httpx
from opentelemetry.trace import SpanKind
from rapport.events.v1 import identity_pb2
from rapport_platform.bus import Bus, Consumer, Event

from tests.waiting import eventually


def new_email() -> str:
    return f"person-{uuid.uuid4().hex[:12]}@example.org"


async def test_register_login_me_and_the_event_in_the_same_trace(stack, telemetry):
    bus = Bus(stack.deps.nats_url, source="rapport/e2e")
    await bus.start()
    await bus.wait_connected()
    received: list[Event] = []
    stop = asyncio.Event()
    consumer = Consumer(
        bus,
        durable=f"e2e-{uuid.uuid4().hex[:8]}",
        subject="rapport.identity.user_registered",
        handler=lambda e: asyncio.sleep(0, received.append(e)),
        fetch_timeout=0.2,
    )
    task = asyncio.create_task(consumer.run(stop))
    email = new_email()
    try:
        async with httpx.AsyncClient(base_url=stack.url) as http:
            r = await http.post(
                "/v1/auth/register",
                json={
                    "email": email,
                    "password": "correct horse battery",
                    "role": "client",
                    "display_name": "Sam",
                    "jurisdiction": "US-CA",
                },
            )
            assert r.status_code == 201, r.text
            user_id = r.json()["user_id"]
            trace_id = r.headers["X-Trace-Id"]
            assert r.headers["X-Request-ID"]

            r = await http.post(
                "/v1/auth/login", json={"email": email.upper(), "password": "correct horse battery"}
            )
            assert r.status_code == 200, r.text
            tokens = r.json()
            assert tokens["token_type"] == "Bearer" and tokens["expires_in"] > 0

            r = await http.get(
                "/v1/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}
            )
            assert r.status_code == 200, r.text
            assert r.json() == {
                "user_id": user_id,
                "email": email,
                "role": "client",
                "display_name": "Sam",
                "jurisdiction": "US-CA",
                "clinic_id": "",
            }

            jwks = (await http.get("/.well-known/jwks.json")).json()
            assert jwks["keys"] and all(
                k["kty"] == "EC" and k["alg"] == "ES256" for k in jwks["keys"]
            )

        mine = await eventually(
            lambda: [
                e for e in received if e.parse(identity_pb2.UserRegistered).user_id == user_id
            ],
            what="user_registered",
        )
        event = mine[0]
        assert event.parse(identity_pb2.UserRegistered).role == "client"
        assert email not in str(event.headers) and "Sam" not in str(event.headers)
        spans = [
            s
            for s in telemetry.finished("rapport.identity.user_registered process")
            if s.kind == SpanKind.CONSUMER and s.attributes["messaging.message.id"] == event.id
        ]
        assert spans and format(spans[0].context.trace_id, "032x") == trace_id
        # The gateway's own HTTP span is the root of that same trace.
        http_spans = [
            s
            for s in telemetry.finished()
            if s.kind == SpanKind.SERVER
            and format(s.context.trace_id, "032x") == trace_id
            and s.parent is None
        ]
        assert http_spans, "no gateway server span in the trace"
    finally:
        stop.set()
        await task
        await bus.close()
