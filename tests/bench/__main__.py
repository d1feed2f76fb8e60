"""`make bench`: what each operation costs next to the bare work it cannot avoid, measured in the
same run on the same machine, written to bench/results.md (and printed).

Starts the real dependencies (nats-server, OpenBao dev, SecantusDB) on free loopback ports and
every service as its own process, configured by environment as in production (identity,
scheduling, notes-vault, billing, gateway; two session relays for the chat figures). Then:
- cold start to SERVING and idle memory of each service, beside a bare import of its code;
- a burst of sign-ups, beside one bare password hash;
- booking through the gateway at concurrency 1, 8 and 32, beside the same documents written by
  one bare PyMongo transaction (tests/bench/booking.py);
- note write and read, beside bare transit datakey + AES-GCM + insert (tests/bench/notes.py);
- relayed chat at 1, 100 and 500 rooms, one relay and two, beside a raw NATS round trip
  (tests/bench/relay.py);
- billing's ledger entries, beside bare transactions of the same postings (tests/bench/ledger.py);
- every service's peak memory after all that.
Every loop is bounded in count and in time (--max-seconds per phase); nothing fails on speed.
--profile DIR records py-spy flame graphs of identity, scheduling and the gateway while they
book at the highest concurrency (docs/performance.md).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx

from tests.bench import booking
from tests.bench.services import CpuMeter, ServiceProc, rss_mib
from tests.bench.services import start as start_service_process
from tests.identity import operators

ROOT = Path(__file__).resolve().parents[2]


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

    def percentile(self, p: int) -> float:
        return booking.Run("", 0, latencies=self.latencies).percentile(p)


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


def report_sign_ups(s: SignUps) -> list[str]:
    ms = 1000
    serial = s.bare_hash_seconds * s.attempted
    return [
        f"{s.attempted} sign-ups at once: {s.created} created, {s.throttled} answered 429 "
        f"(Retry-After), {s.server_errors} 5xx, in {s.seconds:.2f} s.",
        "",
        "| figure | value |",
        "|---|---:|",
        f"| sign-up p50 / p99 / max | {s.percentile(50) * ms:.0f} / {s.percentile(99) * ms:.0f}"
        f" / {max(s.latencies, default=0) * ms:.0f} ms |",
        f"| one bare argon2id hash (this process, no queue) | {s.bare_hash_seconds * ms:.1f} ms |",
        f"| the burst's hashes back to back | {serial:.2f} s |",
        f"| ratio burst wall time / hashes back to back | "
        f"{s.seconds / serial if serial else float('nan'):.2f} |",
    ]


def import_floor(module: str) -> tuple[float, float]:
    """A bare interpreter importing the service's code and nothing more: seconds, peak MiB."""
    code = (
        f"import time; t = time.perf_counter(); import {module}.__main__; "
        "d = time.perf_counter() - t; "
        "print(d, [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1])"
    )
    t0 = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    ).stdout.split()
    return time.perf_counter() - t0, int(out[1]) / 1024


def machine() -> list[str]:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    ).stdout.strip()
    mem = "?"
    try:
        mem = f"{int(Path('/proc/meminfo').read_text().split()[1]) / 1024 / 1024:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return [
        f"- when: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; commit {commit or '?'}"
        f"{' (with local changes)' if dirty else ''}",
        f"- machine: {os.cpu_count()} CPUs ({cpu}), {mem} RAM, {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}",
        f"- load average at the start: {' '.join(f'{x:.2f}' for x in os.getloadavg())} "
        "(the machine may be shared: compare ratios within one run, not figures across runs)",
        "- everything on loopback: SecantusDB (in memory), nats-server, OpenBao dev, each service "
        "its own process",
    ]


class Results:
    """bench/results.md, rewritten after every section so a cut-short run still leaves figures."""

    def __init__(self, path: Path, argv: list[str]) -> None:
        self.path = path
        self.parts: list[str] = [
            "# Rapport bench results",
            "",
            "Written by `make bench` (`python -m tests.bench"
            + (" " + " ".join(argv) if argv else "")
            + "`). Each figure sits beside a baseline measured in the same run: the bare work "
            "the operation cannot avoid. Ratios compare within this run; how the bench works "
            "and what the profiles changed: docs/performance.md.",
            "",
            *machine(),
        ]
        self.write()

    def section(self, title: str, lines: list[str], note: str = "") -> None:
        self.parts += ["", f"## {title}", ""]
        if note:
            self.parts += [note, ""]
        self.parts += lines
        self.write()
        print("\n".join(["", f"## {title}", *lines]), flush=True)

    def write(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text("\n".join(self.parts) + "\n")


async def guarded(results: Results, title: str, fn: Callable[[], Awaitable[Any]]) -> Any:
    """One section: its failure is written down and the run goes on with the next."""
    t0 = time.perf_counter()
    print(f"... {title}", file=sys.stderr, flush=True)
    try:
        return await fn()
    except Exception as exc:
        traceback.print_exc()
        results.section(title, [f"**Failed**: {type(exc).__name__}: {exc}"[:500]])
        return None
    finally:
        print(f"    ({time.perf_counter() - t0:.0f} s)", file=sys.stderr, flush=True)


class Profiler:
    """py-spy flame graphs of running service processes (SVG), for one phase."""

    def __init__(self, out_dir: Path | None, label: str, services: list[tuple[str, int]]) -> None:
        self.out_dir, self.label, self.services = out_dir, label, services
        self.procs: list[subprocess.Popen[bytes]] = []
        self.format = os.environ.get("BENCH_PROFILE_FORMAT", "flamegraph")  # or raw (collapsed)

    def __enter__(self) -> Profiler:
        if self.out_dir is None:
            return self
        self.out_dir.mkdir(parents=True, exist_ok=True)
        spy = Path(sys.executable).parent / "py-spy"
        for name, pid in self.services:
            ext = "svg" if self.format == "flamegraph" else "txt"
            out = self.out_dir / f"{name}-{self.label}.{ext}"
            self.procs.append(
                subprocess.Popen(
                    [
                        str(spy),
                        "record",
                        "--pid",
                        str(pid),
                        "--rate",
                        "100",
                        # Only the thread holding the GIL: a server thread blocked in recv is
                        # idle, not work (SecantusDB serves each connection from a thread).
                        "--gil",
                        "--format",
                        self.format,
                        "--output",
                        str(out),
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        time.sleep(1.0)  # py-spy attaches
        return self

    def __exit__(self, *exc: object) -> None:
        for p in self.procs:
            p.send_signal(signal.SIGINT)  # py-spy writes the flame graph on SIGINT
        for p in self.procs:
            try:
                p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                p.kill()


# Billing's records of scheduling events it applied: an _id range, which the _id index answers
# (a regex would scan every record at each poll, and that CPU would count as the bookings');
# the outbox's size from the collection's count, not a scan.
BILLING_PROCESSED = {"_id": {"$gte": "billing-scheduling:", "$lt": "billing-scheduling;"}}


async def billing_caught_up(mongo_uri: str, scheduling: Any, billing: Any) -> None:
    """Until billing has consumed every scheduling event so far and both outboxes are empty
    (at most two minutes)."""
    from pymongo import AsyncMongoClient

    probe: AsyncMongoClient = AsyncMongoClient(mongo_uri)
    try:
        for _ in range(1200):
            events = await probe[scheduling.mongo_db]["outbox"].estimated_document_count()
            done = await probe[billing.mongo_db]["processed_events"].count_documents(
                BILLING_PROCESSED
            )
            pending = 0
            for name in (scheduling.mongo_db, billing.mongo_db):
                pending += await probe[name]["outbox"].count_documents({"pending": True})
            if done >= events and not pending:
                return
            await asyncio.sleep(0.1)
    finally:
        await probe.close()


async def main(args: argparse.Namespace, argv: list[str]) -> int:
    from rapport_billing.settings import BillingSettings
    from rapport_gateway.settings import GatewaySettings
    from rapport_local import nats_auth, procs, vault_bootstrap

    import conftest
    from tests.bench.ledger import ledger_bench
    from tests.bench.notes import bare_transit, notes_report, notes_through_gateway
    from tests.notes_vault.conftest import notes_settings
    from tests.scheduling.helpers import Practice

    results = Results(Path(args.output), argv)
    base = Path(tempfile.mkdtemp(prefix="rapport-bench-"))
    profile_dir = Path(args.profile) if args.profile else None
    passwords = nats_auth.new_passwords(extra=(nats_auth.TEST_USER,))
    (base / "nats.conf").write_text(nats_auth.server_config(passwords))
    nats = procs.start_nats(
        procs.free_port(), base / "nats", log_path=base / "nats.log", config=base / "nats.conf"
    )
    mongo = procs.start_secantus(procs.free_port(), ":memory:", log_path=base / "mongo.log")
    root = f"root-{uuid.uuid4()}"
    vault = procs.start_bao_dev(procs.free_port(), root, log_path=base / "bao.log")
    services: list[ServiceProc] = []
    try:
        tokens = vault_bootstrap.bootstrap(vault.url, root)
        deps = conftest.Deps(
            nats=nats, mongo=mongo, vault=vault, vault_tokens=tokens, nats_passwords=passwords
        )
        # --- every service as its own process; cold start and idle memory --------------------
        identity_settings = conftest.identity_settings(deps)
        identity = start_service_process(
            "identity", "rapport_identity", "RAPPORT_IDENTITY_", identity_settings, base
        )
        services.append(identity)
        identity_addr = f"127.0.0.1:{identity_settings.grpc_port}"
        operators.serving(identity_addr, identity_settings)
        scheduling_settings = conftest.scheduling_settings(deps, identity_addr)
        services.append(
            start_service_process(
                "scheduling", "rapport_scheduling", "RAPPORT_SCHEDULING_", scheduling_settings, base
            )
        )
        stack = SimpleNamespace(deps=deps, identity_addr=identity_addr)
        notes_cfg = notes_settings(stack)
        services.append(
            start_service_process(
                "notes-vault", "rapport_notes_vault", "RAPPORT_NOTES_VAULT_", notes_cfg, base
            )
        )
        billing_cfg = BillingSettings(
            grpc_port=procs.free_port(),
            mongo_uri=deps.mongo_uri,
            mongo_db=conftest.unique_db("billing"),
            nats_url=deps.nats_url_for("billing"),
            identity_addr=identity_addr,
            vault_addr=deps.vault_addr,
            vault_token=deps.vault_tokens["billing"],
            provider="manual",
        )
        services.append(
            start_service_process(
                "billing", "rapport_billing", "RAPPORT_BILLING_", billing_cfg, base
            )
        )
        gateway_cfg = GatewaySettings(
            http_port=procs.free_port(),
            identity_addr=identity_addr,
            scheduling_addr=f"127.0.0.1:{scheduling_settings.grpc_port}",
            notes_vault_addr=f"127.0.0.1:{notes_cfg.grpc_port}",
            billing_addr=f"127.0.0.1:{billing_cfg.grpc_port}",
        )
        gateway_url = f"http://127.0.0.1:{gateway_cfg.http_port}"
        gateway = start_service_process(
            "gateway",
            "rapport_gateway",
            "RAPPORT_GATEWAY_",
            gateway_cfg,
            base,
            http=f"{gateway_url}/readyz",
        )
        services.append(gateway)
        operators.routing(gateway_url, identity_addr)
        by_name = {s.name: s for s in services}
        pids: dict[str, int | str] = {
            "gateway": gateway.pid,
            "scheduling": by_name["scheduling"].pid,
            "identity": identity.pid,
            "billing (invoices each booking)": by_name["billing"].pid,
            "notes-vault (projects each booking)": by_name["notes-vault"].pid,
            "SecantusDB": mongo.pid or 0,
            "nats-server": nats.pid or 0,
            "bench client": "self",
        }
        floors = {s.name: import_floor("rapport_" + s.name.replace("-", "_")) for s in services}
        results.section(
            "Cold start and idle memory",
            [
                "| service | spawn to SERVING | bare import of its code | ratio | RSS idle "
                "| RSS of the bare import |",
                "|---|---:|---:|---:|---:|---:|",
                *(
                    f"| {s.name} | {s.cold_start_s:.2f} s | {floors[s.name][0]:.2f} s "
                    f"| {s.cold_start_s / floors[s.name][0]:.2f} | {s.idle_rss_mib:.0f} MiB "
                    f"| {floors[s.name][1]:.0f} MiB |"
                    for s in services
                ),
            ],
            "Spawn of `python -m rapport_<service>` until gRPC health answers SERVING (the "
            "gateway: until /readyz answers 200), polled every 20 ms; started one after another. "
            "The baseline is a bare interpreter importing the same code and nothing else.",
        )

        async with httpx.AsyncClient(base_url=gateway_url, timeout=60) as http:
            # --- sign-ups ---------------------------------------------------------------------
            async def sign_ups() -> None:
                burst = await sign_up_burst(http, count=args.sign_ups)
                results.section("Sign-up burst", report_sign_ups(burst))

            await guarded(results, "Sign-up burst", sign_ups)

            # --- booking ----------------------------------------------------------------------
            async def bookings() -> None:
                practice = await Practice(http).open(**booking.CLINIC_TERMS)
                pairs = []
                levels = [int(c) for c in args.concurrency.split(",") if c]
                first = booking.on_grid(datetime.now(UTC) + timedelta(hours=2))
                cpu_rows = []
                for c in levels:
                    party = await booking.prepare(practice, bookings=args.bookings, concurrency=c)
                    with (
                        Profiler(
                            profile_dir if c == max(levels) else None,
                            f"booking-c{c}",
                            [
                                (n.split()[0], int(p))
                                for n, p in pids.items()
                                if n != "bench client"
                            ],
                        ),
                        CpuMeter(pids) as cpu,
                    ):
                        svc, therapist_id = await booking.book_through_gateway(
                            http,
                            practice,
                            bookings=args.bookings,
                            concurrency=c,
                            max_seconds=args.max_seconds,
                            first=first,
                            party=party,
                        )
                        # Billing invoices behind the bookings at high concurrency: its backlog
                        # (and the database's part of it) belongs to these bookings' CPU.
                        await billing_caught_up(deps.mongo_uri, scheduling_settings, billing_cfg)
                    per = max(svc.done, 1)
                    templates = await booking.booking_documents(
                        deps.mongo_uri, scheduling_settings.mongo_db, therapist_id
                    )
                    # The floor's own CPU: what writing a booking's documents costs the database
                    # server and a client with nothing else around it.
                    with CpuMeter({n: pids[n] for n in ("SecantusDB", "bench client")}) as floor:
                        bare = await booking.bare_transactions(
                            deps.mongo_uri,
                            templates,
                            count=args.bookings,
                            concurrency=c,
                            max_seconds=args.max_seconds,
                        )
                    cpu_rows.append(
                        f"| {c} | "
                        + " | ".join(f"{cpu.used[n] * 1000 / per:.1f}" for n in pids)
                        + f" | {sum(cpu.used.values()) * 1000 / per:.1f} "
                        + f"| {sum(floor.used.values()) * 1000 / max(bare.done, 1):.1f} |"
                    )
                    pairs.append((svc, bare))
                    print("\n".join(booking.table(pairs[-1:])), file=sys.stderr, flush=True)
                docs = (
                    f"1 appointment, {len(templates['claims'])} time-cell claims, "
                    f"{len(templates['reminders'])} reminders, "
                    f"{1 if templates['outbox'] else 0} outbox record"
                )
                results.section(
                    "Booking through the gateway",
                    [
                        *booking.table(pairs),
                        "",
                        "CPU milliseconds per booking, by process (where the time goes), and "
                        "the CPU of one bare transaction (SecantusDB and the bench client):",
                        "",
                        "| concurrency | " + " | ".join(pids) + " | all | bare transaction |",
                        "|---:|" + "---:|" * (len(pids) + 2),
                        *cpu_rows,
                    ],
                    "`POST /v1/appointments` (a 50-minute session, distinct hour slots of one "
                    "therapist per concurrency level, clients that stay under the booking limits) "
                    f"beside one bare PyMongo transaction writing the same documents ({docs}, "
                    "copied from a real booking) at the same concurrency. Ratio tx/s: bare "
                    "transactions per second over bookings per second; ratio p50: booking p50 "
                    "over bare p50.",
                )

            if args.bookings:
                await guarded(results, "Booking through the gateway", bookings)

            # --- database commands per booking -------------------------------------------------
            async def db_commands() -> None:
                from pymongo import AsyncMongoClient

                from tests.bench.dbcommands import count_commands

                practice = await Practice(http).open(**booking.CLINIC_TERMS)
                party = await booking.prepare(practice, bookings=args.db_commands, concurrency=1)
                probe: AsyncMongoClient = AsyncMongoClient(deps.mongo_uri)
                processed = probe[billing_cfg.mongo_db]["processed_events"]
                first = booking.on_grid(datetime.now(UTC) + timedelta(days=20))

                async def settled() -> bool:
                    # Billing has consumed every scheduling event so far (it lags behind a
                    # concurrency-32 run: its backlog must not be counted as these bookings').
                    sched_outbox = probe[scheduling_settings.mongo_db]["outbox"]
                    events = await sched_outbox.estimated_document_count()
                    n = await processed.count_documents(BILLING_PROCESSED)
                    if n < events:
                        return False
                    for name in (scheduling_settings.mongo_db, billing_cfg.mongo_db):
                        if await probe[name]["outbox"].count_documents({"pending": True}):
                            return False
                    return True

                await billing_caught_up(deps.mongo_uri, scheduling_settings, billing_cfg)

                async def book() -> int:
                    run, _ = await booking.book_through_gateway(
                        http, practice, bookings=args.db_commands, concurrency=1,
                        max_seconds=args.max_seconds, first=first, party=party,
                    )  # fmt: skip
                    return run.done

                labels = {
                    identity_settings.mongo_db: "identity",
                    scheduling_settings.mongo_db: "scheduling",
                    billing_cfg.mongo_db: "billing",
                    notes_cfg.mongo_db: "notes-vault",
                }
                try:
                    lines = await count_commands(deps.mongo_uri, book, settled, labels=labels)
                finally:
                    await probe.close()
                results.section(
                    "Database commands per booking",
                    lines,
                    "Every command the database server served because of a booking, from "
                    "SecantusDB's own profiler, by the database of the service that sent it "
                    "(what the gateway, scheduling, identity, billing and notes-vault do for one "
                    "booking, including billing's invoice and every outbox relay).",
                )

            if args.db_commands:
                await guarded(results, "Database commands per booking", db_commands)

            # --- notes ------------------------------------------------------------------------
            async def notes() -> None:
                from pymongo import AsyncMongoClient

                mongo_client: AsyncMongoClient = AsyncMongoClient(deps.mongo_uri, tz_aware=True)
                try:
                    service = await notes_through_gateway(
                        http,
                        mongo_client[notes_cfg.mongo_db],
                        notes=args.notes,
                        concurrency=args.notes_concurrency,
                        max_seconds=args.max_seconds,
                    )
                finally:
                    await mongo_client.close()
                bare = await bare_transit(
                    vault.url,
                    root,
                    deps.mongo_uri,
                    ops=args.notes,
                    concurrency=args.notes_concurrency,
                    max_seconds=args.max_seconds,
                )
                results.section(
                    "Notes: write and read",
                    notes_report(service, bare),
                    f"Through the gateway at concurrency {args.notes_concurrency} (one therapist, "
                    "one client, one appointment), beside a bare transit datakey + AES-GCM seal "
                    "+ insert, and a bare find + transit decrypt + AES-GCM open, same OpenBao, "
                    "same database server.",
                )

            if args.notes:
                await guarded(results, "Notes: write and read", notes)

        # --- relayed chat ---------------------------------------------------------------------
        async def chat() -> None:
            from tests.bench import relay as relay_bench

            figures = await relay_bench.run(
                deps.nats_url_for("session-relay"),
                deps.mongo_uri,
                base,
                room_counts=[int(n) for n in args.rooms.split(",") if n],
                messages=args.chat_messages,
                max_seconds=args.max_seconds,
                budget=args.chat_budget,
            )
            results.section(
                "Session relay: chat",
                relay_bench.report(figures),
                "Rooms open at once, each a therapist and a client WebSocket sending "
                f"{args.chat_messages} chat messages one after another (each waits for its "
                f"delivery; at most {args.chat_budget} messages per run, so many rooms send "
                "fewer each: the messages column); one relay process, or therapist on one "
                "relay and client on another (NATS core between). Baseline: a raw NATS "
                "publish received on a subscription.",
            )

        if args.rooms:
            await guarded(results, "Session relay: chat", chat)

        # --- ledger ---------------------------------------------------------------------------
        async def ledger() -> None:
            figures = await ledger_bench(
                deps.mongo_uri, entries=args.entries, concurrency=8, max_seconds=args.max_seconds
            )
            results.section(
                "Billing ledger",
                figures.report(),
                "Journal entries written the way billing writes them (inside `consume_once`: the "
                "event id recorded in the same transaction), beside bare transactions of the same "
                "postings; concurrency 8.",
            )

        if args.entries:
            await guarded(results, "Billing ledger", ledger)

        results.section(
            "Memory after the load",
            [
                "| service | RSS idle | peak RSS |",
                "|---|---:|---:|",
                *(
                    f"| {s.name} | {s.idle_rss_mib:.0f} MiB | {s.peak_rss_mib():.0f} MiB |"
                    for s in services
                ),
                f"| SecantusDB | | {rss_mib(mongo.pid or 0):.0f} MiB |",
                f"| nats-server | | {rss_mib(nats.pid or 0):.0f} MiB |",
            ],
            "Peak resident memory (VmHWM) of each process once every section above has run.",
        )
        return 0
    finally:
        for s in reversed(services):
            s.stop()
        for p in (vault, mongo, nats):
            p.stop()


__all__ = ["Results", "SignUps", "main", "report_sign_ups", "rss_mib"]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.bench", description=__doc__)
    parser.add_argument("--output", default=str(ROOT / "bench" / "results.md"))
    parser.add_argument("--bookings", type=int, default=200, help="per concurrency level")
    parser.add_argument("--concurrency", default="1,8,32", help="booking concurrency levels")
    parser.add_argument("--notes", type=int, default=60)
    parser.add_argument("--notes-concurrency", type=int, default=8)
    parser.add_argument("--entries", type=int, default=300, help="ledger bench entries")
    parser.add_argument("--max-seconds", type=float, default=30.0, help="bound of each phase")
    parser.add_argument("--sign-ups", type=int, default=20)
    parser.add_argument(
        "--rooms", default="1,100,500", help="relayed chat: concurrent rooms per run ('' skips)"
    )
    parser.add_argument("--chat-messages", type=int, default=10, help="per room")
    parser.add_argument(
        "--chat-budget", type=int, default=1000, help="most messages per chat run (0: no bound)"
    )
    parser.add_argument(
        "--db-commands", type=int, default=10, help="bookings whose database commands are counted"
    )
    parser.add_argument("--profile", default="", help="directory for py-spy flame graphs")
    return parser.parse_args(argv)


if __name__ == "__main__":
    logging.basicConfig(level=logging.ERROR)
    raise SystemExit(asyncio.run(main(parse_args(), sys.argv[1:])))
