"""`make bench`: booking throughput and latency through the gateway, next to the raw store's own
insert rate measured in the same run (their ratio is what the services add); and a burst of
concurrent sign-ups, next to one bare password hash measured in the same run.

Starts the real dependencies (nats-server, OpenBao dev, SecantusDB) on free loopback ports,
identity as its own process (so its memory is its own) and scheduling + gateway in this
process; signs up a burst of clients, sets up a clinic, a therapist and clients through the
public API, then books. Bounded in count and time; prints figures and never fails on speed.
Options: --bookings N (200), --concurrency C (8), --inserts N (1000), --max-seconds S (60),
--sign-ups N (20), --notes N (200),
--rooms 1,100,500 and --chat-messages 20 (relayed chat, tests/bench/relay.py); notes write/read
next to bare transit (tests/bench/notes.py); --entries N (300): billing's ledger
(tests/bench/ledger.py).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import resource
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from pymongo import AsyncMongoClient

from tests.bench.ledger import ledger_bench
from tests.identity import operators
from tests.scheduling.helpers import Practice, on_grid


@dataclass
class Figures:
    bookings: int = 0
    conflicts: int = 0
    errors: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    inserts: int = 0
    insert_seconds: float = 0.0

    @property
    def bookings_per_second(self) -> float:
        return self.bookings / self.seconds if self.seconds else 0.0

    @property
    def inserts_per_second(self) -> float:
        return self.inserts / self.insert_seconds if self.insert_seconds else 0.0

    def percentile(self, p: float) -> float:
        if not self.latencies:
            return 0.0
        if len(self.latencies) == 1:
            return self.latencies[0]
        return statistics.quantiles(self.latencies, n=100, method="inclusive")[int(p) - 1]


@dataclass
class SignUps:
    """A burst of concurrent sign-ups through the gateway."""

    attempted: int = 0
    created: int = 0
    throttled: int = 0  # 429: asked to come back (Retry-After)
    server_errors: int = 0  # 5xx: what must never happen
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    bare_hash_seconds: float = 0.0  # one argon2id hash alone, in this process, same run

    def percentile(self, p: float) -> float:
        return Figures(latencies=self.latencies).percentile(p)


def bare_hash_seconds(samples: int = 5) -> float:
    """The median wall time of one password hash with identity's parameters, nothing else."""
    from rapport_identity import domain

    times = []
    for _ in range(samples):
        t0 = time.perf_counter()
        domain.hash_password("correct horse battery staple")
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


async def sign_up_burst(http: httpx.AsyncClient, *, count: int) -> SignUps:
    """`count` clients register at the same moment (a clinic's office behind one address)."""
    result = SignUps(attempted=count, bare_hash_seconds=bare_hash_seconds())

    async def one() -> None:
        body = {
            "email": f"bench-{uuid.uuid4().hex[:12]}@example.org",
            "password": "correct horse battery staple",
            "role": "client",
            "display_name": "Sam",
            "jurisdiction": "US-CA",
        }
        t0 = time.perf_counter()
        r = await http.post("/v1/auth/register", json=body)
        result.latencies.append(time.perf_counter() - t0)
        if r.status_code == 201:
            result.created += 1
        elif r.status_code == 429:
            result.throttled += 1
        elif r.status_code >= 500:
            result.server_errors += 1

    t0 = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(count)))
    result.seconds = time.perf_counter() - t0
    return result


async def book_all(
    http: httpx.AsyncClient,
    practice: Practice,
    *,
    bookings: int,
    concurrency: int,
    max_seconds: float,
) -> Figures:
    """Book `bookings` distinct hour slots of one therapist from `concurrency` clients at once."""
    therapist = await practice.therapist(
        availability=practice.availability(horizon_days=60, slot_step_minutes=60)
    )
    clients = await asyncio.gather(*(practice.client() for _ in range(concurrency)))
    first = on_grid(datetime.now(UTC) + timedelta(hours=2))
    starts = iter([first + timedelta(hours=i) for i in range(bookings)])
    figures = Figures()
    deadline = time.monotonic() + max_seconds

    async def worker(client) -> None:
        for start in starts:
            if time.monotonic() > deadline:
                return
            t0 = time.perf_counter()
            r = await practice.book(client, therapist, start)
            elapsed = time.perf_counter() - t0
            if r.status_code == 201:
                figures.bookings += 1
                figures.latencies.append(elapsed)
            elif r.status_code == 409:
                figures.conflicts += 1
            else:
                figures.errors += 1

    t0 = time.perf_counter()
    await asyncio.gather(*(worker(c) for c in clients))
    figures.seconds = time.perf_counter() - t0
    return figures


async def raw_inserts(
    mongo_uri: str, *, inserts: int, concurrency: int, max_seconds: float, figures: Figures
) -> None:
    """Plain insert_one of appointment-sized documents, same server, same concurrency."""
    client: AsyncMongoClient = AsyncMongoClient(mongo_uri, tz_aware=True)
    col = client[f"bench_raw_{uuid.uuid4().hex[:8]}"]["inserts"]
    remaining = iter(range(inserts))
    deadline = time.monotonic() + max_seconds
    now = datetime.now(UTC)

    async def worker() -> None:
        for i in remaining:
            if time.monotonic() > deadline:
                return
            await col.insert_one(
                {
                    "_id": str(uuid.uuid4()),
                    "therapist_id": "t",
                    "client_id": "c",
                    "start": now + timedelta(hours=i),
                    "end": now + timedelta(hours=i, minutes=50),
                    "status": "confirmed",
                    "price_minor": 9000,
                    "currency": "USD",
                }
            )
            figures.inserts += 1

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    figures.insert_seconds = time.perf_counter() - t0
    await client.drop_database(col.database.name)
    await client.close()


def rss_mib(pid: int | str = "self", field: str = "VmHWM") -> float:
    """Resident memory from /proc (Linux): VmHWM is the peak, VmRSS the current."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    if pid == "self":  # not Linux: getrusage knows this process's peak
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return float("nan")


def report_sign_ups(s: SignUps, identity_peak_mib: float) -> str:
    ms = 1000
    return "\n".join(
        [
            "",
            "Rapport bench: a burst of concurrent sign-ups through the gateway (same run)",
            f"  sign-ups            {s.attempted} at once: {s.created} created, {s.throttled} "
            f"429 (Retry-After), {s.server_errors} 5xx, in {s.seconds:.2f} s",
            f"  sign-up latency     p50 {s.percentile(50) * ms:.1f} ms   "
            f"p99 {s.percentile(99) * ms:.1f} ms   max {max(s.latencies, default=0) * ms:.1f} ms",
            f"  one bare hash       {s.bare_hash_seconds * ms:.1f} ms (argon2id alone, this "
            "process, no queue)",
            f"  identity peak RSS   {identity_peak_mib:.0f} MiB (its own process)",
        ]
    )


def report(f: Figures, args: argparse.Namespace, rss: dict[str, float]) -> str:
    ms = 1000
    lines = [
        "",
        "Rapport bench: booking through the gateway vs the raw store (same run, loopback)",
        f"  bookings            {f.bookings} booked, {f.conflicts} conflicts, {f.errors} errors "
        f"in {f.seconds:.2f} s at concurrency {args.concurrency}",
        f"  booking throughput  {f.bookings_per_second:.1f} bookings/s",
        f"  booking latency     p50 {f.percentile(50) * ms:.1f} ms   "
        f"p99 {f.percentile(99) * ms:.1f} ms   max {max(f.latencies, default=0) * ms:.1f} ms",
        f"  raw store inserts   {f.inserts} insert_one in {f.insert_seconds:.2f} s = "
        f"{f.inserts_per_second:.1f} inserts/s",
    ]
    if f.bookings_per_second:
        lines.append(
            f"  ratio               {f.inserts_per_second / f.bookings_per_second:.1f} raw inserts "
            "per booking's time (what auth, identity calls, cell claims, reminders, the outbox "
            "and HTTP+gRPC add)"
        )
    lines.append(
        "  peak RSS            "
        + ", ".join(f"{name} {value:.0f} MiB" for name, value in rss.items())
    )
    return "\n".join(lines)


async def main(args: argparse.Namespace) -> int:
    # The root conftest's launchers: the same real dependencies and in-process services as tests.
    from rapport_local import nats_auth, procs, vault_bootstrap
    from rapport_notes_vault.__main__ import create as create_notes
    from rapport_scheduling.__main__ import create as create_scheduling

    import conftest
    from tests.bench.notes import bare_transit, notes_report, notes_through_gateway
    from tests.notes_vault.conftest import notes_settings

    base = Path(tempfile.mkdtemp(prefix="rapport-bench-"))
    passwords = nats_auth.new_passwords(extra=(nats_auth.TEST_USER,))
    (base / "nats.conf").write_text(nats_auth.server_config(passwords))
    nats = procs.start_nats(
        procs.free_port(), base / "nats", log_path=base / "nats.log", config=base / "nats.conf"
    )
    mongo = procs.start_secantus(procs.free_port(), ":memory:", log_path=base / "mongo.log")
    root = f"root-{uuid.uuid4()}"
    vault = procs.start_bao_dev(procs.free_port(), root, log_path=base / "bao.log")
    apps = []
    identity: procs.Proc | None = None
    try:
        tokens = vault_bootstrap.bootstrap(vault.url, root)
        deps = conftest.Deps(
            nats=nats, mongo=mongo, vault=vault, vault_tokens=tokens, nats_passwords=passwords
        )
        identity_settings = conftest.identity_settings(deps)
        identity = start_identity_process(identity_settings, base / "identity.log")
        identity_addr = f"127.0.0.1:{identity_settings.grpc_port}"
        operators.serving(identity_addr, identity_settings)
        scheduling = await conftest.start_service(
            create_scheduling(conftest.scheduling_settings(deps, identity_addr))
        )
        apps.append(scheduling)
        stack = conftest.Stack(deps, identity, identity_addr, None, scheduling)  # type: ignore[arg-type]
        notes_app = await conftest.start_service(create_notes(notes_settings(stack)))
        apps.append(notes_app)
        settings = conftest.GatewaySettings(
            http_port=procs.free_port(),
            identity_addr=identity_addr,
            scheduling_addr=f"127.0.0.1:{scheduling.server.port}",
            notes_vault_addr=f"127.0.0.1:{notes_app.server.port}",
        )
        async with (
            conftest.Gateway(settings) as gateway,
            httpx.AsyncClient(base_url=gateway.url, timeout=30) as http,
        ):
            print(f"signing up {args.sign_ups} clients at once...", file=sys.stderr)
            sign_ups = await sign_up_burst(http, count=args.sign_ups)
            identity_peak = rss_mib(identity.pid or 0)
            figures = Figures()
            if args.bookings:  # --bookings 0: the other figures only
                print("setting up a clinic, a therapist and clients...", file=sys.stderr)
                practice = await Practice(http).open()
                figures = await book_all(
                    http,
                    practice,
                    bookings=args.bookings,
                    concurrency=args.concurrency,
                    max_seconds=args.max_seconds,
                )
            print("writing and reading notes...", file=sys.stderr)
            notes_figures = await notes_through_gateway(
                http,
                notes_app.store.db,
                notes=args.notes,
                concurrency=args.concurrency,
                max_seconds=args.max_seconds,
            )
        if args.rooms:
            from tests.bench import relay as relay_bench

            print("relayed chat: starting two relay processes...", file=sys.stderr)
            chat = await relay_bench.run(
                deps.nats_url_for("session-relay"),
                mongo.url,
                base,
                room_counts=[int(n) for n in args.rooms.split(",") if n],
                messages=args.chat_messages,
                max_seconds=args.max_seconds,
            )
        bare = await bare_transit(
            vault.url,
            root,
            ops=args.notes,
            concurrency=args.concurrency,
            max_seconds=args.max_seconds,
        )
        await raw_inserts(
            mongo.url,
            inserts=args.inserts,
            concurrency=args.concurrency,
            max_seconds=args.max_seconds,
            figures=figures,
        )
        ledger = await ledger_bench(
            mongo.url,
            entries=args.entries,
            concurrency=args.concurrency,
            max_seconds=args.max_seconds,
        )
        rss = {
            "identity (own process)": rss_mib(identity.pid or 0),
            "scheduling+gateway (this process)": rss_mib(),
            "SecantusDB": rss_mib(mongo.pid or 0),
            "nats-server": rss_mib(nats.pid or 0),
        }
        print(report_sign_ups(sign_ups, identity_peak))
        print(report(figures, args, rss))
        print(notes_report(notes_figures, bare))
        if args.rooms:
            print(relay_bench.report(chat))
        print(ledger.report())
        return 0
    finally:
        for app in reversed(apps):
            await app.stop(0)
        for p in (identity, vault, mongo, nats):
            if p is not None:
                p.stop()


def start_identity_process(settings: Any, log_path: Path) -> Any:
    """identity as `python -m rapport_identity`, configured by environment as in production."""
    from rapport_local import procs
    from rapport_local.stack import wait_grpc_serving

    env = {k: v for k, v in os.environ.items() if not k.startswith("RAPPORT_")}
    for name, value in settings.model_dump().items():
        env[f"RAPPORT_IDENTITY_{name.upper()}"] = str(value)
    port = settings.grpc_port
    return procs.Proc(
        "identity",
        [sys.executable, "-m", "rapport_identity"],
        port=port,
        url=f"127.0.0.1:{port}",
        log_path=log_path,
        env=env,
        ready=lambda proc, timeout: wait_grpc_serving(proc, port, timeout),
        ready_timeout=60,
    ).start()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.bench", description=__doc__)
    parser.add_argument("--bookings", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--inserts", type=int, default=1000)
    parser.add_argument("--notes", type=int, default=200)
    parser.add_argument("--entries", type=int, default=300, help="ledger bench entries")
    parser.add_argument("--max-seconds", type=float, default=60.0)
    parser.add_argument("--sign-ups", type=int, default=20)
    parser.add_argument(
        "--rooms", default="1,100,500", help="relayed chat: concurrent rooms per run ('' skips)"
    )
    parser.add_argument("--chat-messages", type=int, default=20, help="per room")
    return parser.parse_args(argv)


if __name__ == "__main__":
    logging.basicConfig(level=logging.ERROR)
    raise SystemExit(asyncio.run(main(parse_args())))
