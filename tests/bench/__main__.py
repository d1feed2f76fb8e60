"""`make bench`: booking throughput and latency through the gateway, next to the raw store's own
insert rate measured in the same run (their ratio is what the services add).

Starts the real dependencies (nats-server, OpenBao dev, SecantusDB) on free loopback ports and
identity + scheduling + gateway in this process, sets up a clinic, a therapist and clients
through the public API, then books. Bounded in count and time; prints figures and never fails on
speed. Options: --bookings N (200), --concurrency C (8), --inserts N (1000), --entries N (300),
--max-seconds S (60). Also billing's ledger: tests/bench/ledger.py.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import resource
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from pymongo import AsyncMongoClient

from tests.bench.ledger import ledger_bench
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
    lines.append(
        f"                      (this process now: {rss_mib(field='VmRSS'):.0f} MiB; its peak "
        "comes from identity's argon2 password hashing while the clients register)"
    )
    return "\n".join(lines)


async def main(args: argparse.Namespace) -> int:
    # The root conftest's launchers: the same real dependencies and in-process services as tests.
    from rapport_identity.__main__ import create as create_identity
    from rapport_local import procs, vault_bootstrap
    from rapport_scheduling.__main__ import create as create_scheduling

    import conftest

    base = Path(tempfile.mkdtemp(prefix="rapport-bench-"))
    nats = procs.start_nats(procs.free_port(), base / "nats", log_path=base / "nats.log")
    mongo = procs.start_secantus(procs.free_port(), ":memory:", log_path=base / "mongo.log")
    root = f"root-{uuid.uuid4()}"
    vault = procs.start_bao_dev(procs.free_port(), root, log_path=base / "bao.log")
    apps = []
    try:
        tokens = vault_bootstrap.bootstrap(vault.url, root)
        deps = conftest.Deps(nats=nats, mongo=mongo, vault=vault, vault_tokens=tokens)
        identity = await conftest.start_service(create_identity(conftest.identity_settings(deps)))
        apps.append(identity)
        identity_addr = f"127.0.0.1:{identity.server.port}"
        scheduling = await conftest.start_service(
            create_scheduling(conftest.scheduling_settings(deps, identity_addr))
        )
        apps.append(scheduling)
        settings = conftest.GatewaySettings(
            http_port=procs.free_port(),
            identity_addr=identity_addr,
            scheduling_addr=f"127.0.0.1:{scheduling.server.port}",
        )
        async with (
            conftest.Gateway(settings) as gateway,
            httpx.AsyncClient(base_url=gateway.url, timeout=30) as http,
        ):
            print("setting up a clinic, a therapist and clients...", file=sys.stderr)
            practice = await Practice(http).open()
            figures = await book_all(
                http,
                practice,
                bookings=args.bookings,
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
            "services (identity+scheduling+gateway, this process)": rss_mib(),
            "SecantusDB": rss_mib(mongo.pid or 0),
            "nats-server": rss_mib(nats.pid or 0),
        }
        print(report(figures, args, rss))
        print(ledger.report())
        return 0
    finally:
        for app in reversed(apps):
            await app.stop(0)
        for p in (vault, mongo, nats):
            p.stop()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.bench", description=__doc__)
    parser.add_argument("--bookings", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--inserts", type=int, default=1000)
    parser.add_argument("--entries", type=int, default=300, help="ledger bench entries")
    parser.add_argument("--max-seconds", type=float, default=60.0)
    return parser.parse_args(argv)


if __name__ == "__main__":
    logging.basicConfig(level=logging.ERROR)
    raise SystemExit(asyncio.run(main(parse_args())))
