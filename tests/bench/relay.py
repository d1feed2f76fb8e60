"""Relayed chat through the session relay: messages per second and p50/p99 latency for N
concurrent rooms on one relay process and across two (therapist on one, client on the other),
next to a raw NATS publish/subscribe round trip measured in the same run.

Relays run as their own processes (`python -m rapport_session_relay`) on the real NATS and
SecantusDB; the participants are WebSocket clients in this process. Join tokens are minted with
the relay's key (token issuance has its own tests). Bounded by rooms, messages and seconds.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import statistics
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import nats
from rapport_local import procs
from rapport_session_relay import domain
from websockets.asyncio.client import connect

from tests.session_relay.helpers import Peer


@dataclass
class ChatFigures:
    label: str
    rooms: int
    messages: int = 0
    errors: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    failure: str = ""  # why this configuration stopped short, if it did

    @property
    def per_second(self) -> float:
        return self.messages / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        if len(self.latencies) < 2:
            return self.latencies[0] if self.latencies else 0.0
        return statistics.quantiles(self.latencies, n=100, method="inclusive")[int(p) - 1]

    def line(self, floor: ChatFigures | None = None) -> str:
        ratio = ""
        if floor is not None and floor.percentile(50) and self.percentile(50):
            ratio = f"{self.percentile(50) / floor.percentile(50):.1f}"
        note = f" ({self.failure})" if self.failure else ""
        return (
            f"| {self.label} | {self.rooms} | {self.messages} | {self.errors}{note} "
            f"| {self.per_second:.1f} | {self.percentile(50) * 1000:.2f} ms "
            f"| {self.percentile(99) * 1000:.2f} ms | {ratio} |"
        )


class RelayProc:
    """One relay as its own OS process."""

    def __init__(self, nats_url: str, mongo_uri: str, db: str, secret: str, log_dir: Path):
        self.http_port = procs.free_port()
        self.url = f"http://127.0.0.1:{self.http_port}"
        env = {
            **os.environ,
            "RAPPORT_SESSION_RELAY_GRPC_PORT": str(procs.free_port()),
            "RAPPORT_SESSION_RELAY_HTTP_PORT": str(self.http_port),
            "RAPPORT_SESSION_RELAY_MONGO_URI": mongo_uri,
            "RAPPORT_SESSION_RELAY_MONGO_DB": db,
            "RAPPORT_SESSION_RELAY_NATS_URL": nats_url,
            "RAPPORT_SESSION_RELAY_TOKEN_SECRET": secret,
            "RAPPORT_SESSION_RELAY_PUBLIC_URL": "http://127.0.0.1:1",  # one origin for all
            "RAPPORT_SESSION_RELAY_DRAIN_SECONDS": "0",
            "RAPPORT_SESSION_RELAY_LOG_LEVEL": "WARNING",
            # A bench sends faster than a person types.
            "RAPPORT_SESSION_RELAY_RATE_PER_SECOND": "1000",
            "RAPPORT_SESSION_RELAY_RATE_BURST": "1000",
        }
        self.proc = procs.Proc(
            f"relay-{self.http_port}",
            [sys.executable, "-m", "rapport_session_relay"],
            port=self.http_port,
            url=self.url,
            env=env,
            log_path=log_dir / f"relay-{self.http_port}.log",
            ready=lambda p, t: procs.wait_for_http(f"{self.url}/readyz", t, proc=p),
        )

    def ws(self, appointment_id: str) -> str:
        return f"ws://127.0.0.1:{self.http_port}/v1/sessions/{appointment_id}/live"


def _token(secret: str, appointment_id: str, role: str, therapist: str, client: str) -> str:
    now = datetime.now(UTC)
    return domain.issue_token(
        secret,
        domain.JoinClaims(
            appointment_id=appointment_id,
            user_id=therapist if role == "therapist" else client,
            role=role,
            therapist_id=therapist,
            client_id=client,
            modality="chat",
            start=now,
            end=now + timedelta(hours=1),
            opens_at=now - timedelta(minutes=1),
            closes_at=now + timedelta(hours=1),
            issued_at=now,
        ),
    )


async def _peer(relay: RelayProc, apt: str, token: str) -> Peer:
    ws = await connect(relay.ws(apt), origin="http://127.0.0.1:1", max_size=None)  # type: ignore[arg-type]
    peer = Peer(ws)
    await peer.send({"type": "hello", "token": token})
    await peer.wait_for(lambda f: f.get("type") == "welcome", timeout=60)
    return peer


async def _room(secret: str, a: RelayProc, b: RelayProc) -> tuple[Peer, Peer]:
    apt, therapist_id, client_id = (uuid.uuid4().hex for _ in range(3))
    t = await _peer(a, apt, _token(secret, apt, "therapist", therapist_id, client_id))
    c = await _peer(b, apt, _token(secret, apt, "client", therapist_id, client_id))
    await t.send({"type": "admit"})
    await c.wait_for(
        lambda f: f.get("type") == "presence" and f.get("client") == "present", timeout=60
    )
    await t.wait_for(
        lambda f: f.get("type") == "presence" and f.get("client") == "present", timeout=60
    )
    return t, c


async def chat_bench(
    label: str, secret: str, a: RelayProc, b: RelayProc, *, rooms: int, messages: int,
    max_seconds: float,
) -> ChatFigures:  # fmt: skip
    """Open `rooms` rooms (therapist on a, client on b), then in every room at once send
    `messages` chat messages one after another (each waits for its delivery)."""
    figures = ChatFigures(label, rooms)
    sem = asyncio.Semaphore(16)  # joins are database transactions: open rooms 16 at a time

    async def opened() -> tuple[Peer, Peer]:
        async with sem:
            return await _room(secret, a, b)

    pairs = await asyncio.gather(*(opened() for _ in range(rooms)))
    deadline = time.monotonic() + max_seconds

    async def converse(t: Peer, c: Peer) -> None:
        for i in range(messages):
            if time.monotonic() > deadline:
                return
            mid = f"m{i}"
            sent = time.perf_counter()
            await t.send({"type": "chat", "text": f"message {i}", "id": mid})
            try:
                await c.wait_type("chat", id=mid)
            except (AssertionError, TimeoutError):
                figures.errors += 1
                return
            figures.latencies.append(time.perf_counter() - sent)
            figures.messages += 1

    started = time.perf_counter()
    await asyncio.gather(*(converse(t, c) for t, c in pairs))
    figures.seconds = time.perf_counter() - started
    await asyncio.gather(*(p.close() for pair in pairs for p in pair), return_exceptions=True)
    return figures


async def nats_round_trip(nats_url: str, *, count: int) -> ChatFigures:
    """Raw NATS core: publish, receive on a subscription, one at a time."""
    figures = ChatFigures("raw NATS pub/sub round trip", 0)
    nc = await nats.connect(nats_url)
    try:
        got: asyncio.Queue[bytes] = asyncio.Queue()

        async def on_msg(msg) -> None:
            await got.put(msg.data)

        subject = f"rapport.relay.room.bench-{uuid.uuid4().hex}"  # the relay user's subjects
        await nc.subscribe(subject, cb=on_msg)
        await nc.flush()
        started = time.perf_counter()
        for i in range(count):
            sent = time.perf_counter()
            await nc.publish(subject, str(i).encode())
            await asyncio.wait_for(got.get(), 10)
            figures.latencies.append(time.perf_counter() - sent)
            figures.messages += 1
        figures.seconds = time.perf_counter() - started
    finally:
        await nc.close()
    return figures


async def run(
    nats_url: str, mongo_uri: str, log_dir: Path, *, room_counts: list[int], messages: int,
    max_seconds: float, budget: int = 0,
) -> list[ChatFigures]:  # fmt: skip
    secret = secrets.token_urlsafe(32)
    db = f"bench_relay_{uuid.uuid4().hex[:8]}"
    a = RelayProc(nats_url, mongo_uri, db, secret, log_dir)
    b = RelayProc(nats_url, mongo_uri, db, secret, log_dir)
    await asyncio.gather(asyncio.to_thread(a.proc.start), asyncio.to_thread(b.proc.start))
    out = [await nats_round_trip(nats_url, count=max(200, messages * 10))]
    try:
        for rooms in room_counts:
            # At most `budget` messages per run: 500 rooms send 2 each, not 10 (the latency under
            # that many open rooms is the figure; the bench must end within minutes on 2 cores).
            per_room = max(2, min(messages, budget // rooms)) if budget else messages
            for label, second in (("one relay", a), ("across two relays", b)):
                try:
                    figures = await chat_bench(
                        label,
                        secret,
                        a,
                        second,
                        rooms=rooms,
                        messages=per_room,
                        max_seconds=max_seconds,
                    )
                    out.append(figures)
                except (TimeoutError, OSError) as exc:  # report it; the other figures still count
                    out.append(ChatFigures(label, rooms, errors=1, failure=type(exc).__name__))
    finally:
        await asyncio.gather(asyncio.to_thread(a.proc.stop), asyncio.to_thread(b.proc.stop))
    return out


def report(figures: list[ChatFigures]) -> list[str]:
    """A markdown table; the ratio is each p50 over the raw NATS round trip's p50."""
    floor = figures[0] if figures and figures[0].rooms == 0 else None
    lines = [
        "| path | rooms | messages | errors | msg/s | p50 | p99 | p50 / raw NATS p50 |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [f.line(floor) for f in figures]
    return lines
