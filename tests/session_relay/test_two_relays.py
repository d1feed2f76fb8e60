"""Two relay processes behave as one: the therapist on one, the client on the other, one room
(membership, admission, chat, signalling, end). A relay that restarts: its clients reconnect
(here to the other replica) and carry on. Chat text is never in a log line or a span."""

from __future__ import annotations

import asyncio
import logging
import os
import sys

import pytest
from rapport_local import procs

from tests.session_relay.helpers import (
    TOKEN_SECRET,
    admitted_pair,
    book_session,
    join,
    relay_settings,
)

SECRET_TEXT = "my brother does not know I drink"


@pytest.fixture
async def second_relay(stack, relay, tmp_path):
    """A second relay as its own OS process, on the same database and NATS."""
    settings = relay_settings(stack, relay.settings.mongo_db)
    env = {
        **os.environ,
        "RAPPORT_SESSION_RELAY_GRPC_PORT": str(settings.grpc_port),
        "RAPPORT_SESSION_RELAY_HTTP_PORT": str(settings.http_port),
        "RAPPORT_SESSION_RELAY_MONGO_URI": settings.mongo_uri,
        "RAPPORT_SESSION_RELAY_MONGO_DB": settings.mongo_db,
        "RAPPORT_SESSION_RELAY_NATS_URL": settings.nats_url,
        "RAPPORT_SESSION_RELAY_IDENTITY_ADDR": settings.identity_addr,
        "RAPPORT_SESSION_RELAY_SCHEDULING_ADDR": settings.scheduling_addr,
        "RAPPORT_SESSION_RELAY_TOKEN_SECRET": TOKEN_SECRET,
        "RAPPORT_SESSION_RELAY_JOIN_LEAD_MINUTES": str(settings.join_lead_minutes),
        "RAPPORT_SESSION_RELAY_PUBLIC_URL": settings.public_url,
        "RAPPORT_SESSION_RELAY_DRAIN_SECONDS": "0.2",
        "RAPPORT_SESSION_RELAY_LOG_LEVEL": "DEBUG",
    }
    proc = procs.Proc(
        "relay-b",
        [sys.executable, "-m", "rapport_session_relay"],
        port=settings.http_port,
        url=settings.public_url,
        env=env,
        log_path=tmp_path / "relay-b.log",
        ready=lambda p, t: procs.wait_for_http(f"{settings.public_url}/readyz", t, proc=p),
    )
    await asyncio.to_thread(proc.start)
    yield settings, proc
    await asyncio.to_thread(proc.stop)


async def test_one_participant_on_each_relay(
    relay, second_relay, rpractice, rhttp, caplog, telemetry
):
    caplog.set_level(logging.DEBUG)
    b, proc = second_relay
    a = relay.settings
    booked = await book_session(rpractice, rhttp)
    therapist, client = await admitted_pair(a, b, booked)  # therapist on A, client on B
    await client.send({"type": "chat", "text": SECRET_TEXT, "id": "c1"})
    assert (await therapist.wait_type("chat", id="c1"))["text"] == SECRET_TEXT
    await therapist.send({"type": "chat", "text": "thank you for telling me", "id": "t1"})
    assert (await client.wait_type("chat", id="t1"))["text"] == "thank you for telling me"
    await therapist.send({"type": "signal", "data": {"candidate": "a=candidate:1 1 udp 1 ..."}})
    assert (await client.wait_type("signal"))["data"]["candidate"].startswith("a=candidate")

    # Exactly two identities across replicas: the client's second socket, on the other relay,
    # replaces the first one.
    client2 = await join(a, booked, "client")
    assert await client.closed() == 4009
    assert client2.frames[0]["admitted"] is True

    # Relay B restarts (SIGTERM): its sockets are told to reconnect (1012); they do, elsewhere.
    client_b = await join(b, booked, "client")
    assert await client2.closed() == 4009
    await asyncio.to_thread(proc.stop)
    assert await client_b.closed() == 1012
    client3 = await join(a, booked, "client")
    await client3.send({"type": "chat", "text": "I am back", "id": "c2"})
    assert (await therapist.wait_type("chat", id="c2"))["text"] == "I am back"
    await therapist.send({"type": "end"})
    assert await client3.closed() == 4000

    # Privacy: the chat text is in no log line (either process) and no span.
    log_text = proc.log_path.read_text()
    assert log_text, "relay B wrote no log at all"
    assert SECRET_TEXT not in log_text
    relay_records = [r for r in caplog.records if not r.name.startswith("websockets.client")]
    assert relay_records and all(SECRET_TEXT not in r.getMessage() for r in relay_records)
    for span in telemetry.spans.get_finished_spans():
        assert SECRET_TEXT not in span.name
        assert all(SECRET_TEXT not in str(v) for v in (span.attributes or {}).values())
        for event in span.events:
            assert all(SECRET_TEXT not in str(v) for v in (event.attributes or {}).values())
