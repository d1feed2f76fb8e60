"""The bench's own code, run small against the test stack so `make bench` cannot rot unseen.
It checks counts and the report's shape, never speed."""

from __future__ import annotations

import math

import httpx

from tests.bench import booking
from tests.bench.__main__ import Results, report_sign_ups, rss_mib, sign_up_burst
from tests.bench.services import environment
from tests.scheduling.helpers import Practice


async def test_bench_books_and_writes_the_same_documents_bare(stack):
    async with httpx.AsyncClient(base_url=stack.url, timeout=30) as http:
        practice = await Practice(http).open(**booking.CLINIC_TERMS)
        # More bookings than one client may hold: the bench spreads them over its clients.
        run, therapist_id = await booking.book_through_gateway(
            http, practice, bookings=12, concurrency=1, max_seconds=60
        )
    assert (run.done, run.refused, run.errors) == (12, 0, 0)
    assert len(run.latencies) == 12 and run.percentile(99) >= run.percentile(50) > 0
    templates = await booking.booking_documents(
        stack.deps.mongo_uri, stack.scheduling.settings.mongo_db, therapist_id
    )
    # A 50-minute session with no buffers covers ten 5-minute cells.
    assert len(templates["claims"]) == 10 and templates["outbox"] is not None
    bare = await booking.bare_transactions(
        stack.deps.mongo_uri, templates, count=6, concurrency=2, max_seconds=60
    )
    assert (bare.done, bare.errors) == (6, 0)
    text = "\n".join(booking.table([(run, bare)]))
    for words in ("bookings/s", "p50", "p99", "bare tx/s", "ratio", "12 ok"):
        assert words in text
    assert rss_mib() > 0 and math.isnan(rss_mib(2**22 + 1))  # above any pid Linux hands out


def test_run_percentiles():
    run = booking.Run("x", 1, latencies=[i / 1000 for i in range(1, 101)])
    assert abs(run.percentile(50) - 0.0505) < 1e-9
    assert abs(run.percentile(99) - 0.09901) < 1e-6
    assert booking.Run("x", 1).percentile(99) == 0.0
    assert booking.Run("x", 1, latencies=[0.2]).percentile(50) == 0.2


def test_service_environment_from_settings():
    from rapport_scheduling.settings import SchedulingSettings

    s = SchedulingSettings(grpc_port=1234, reminder_leads_minutes=(1440, 60), workers_enabled=False)
    env = environment("RAPPORT_SCHEDULING_", s)
    assert env["RAPPORT_SCHEDULING_GRPC_PORT"] == "1234"
    assert env["RAPPORT_SCHEDULING_REMINDER_LEADS_MINUTES"] == "1440,60"
    assert env["RAPPORT_SCHEDULING_WORKERS_ENABLED"] == "false"
    assert "RAPPORT_SCHEDULING_MONGO_DB" not in env  # defaults stay defaults


def test_results_file_keeps_every_section(tmp_path):
    out = tmp_path / "results.md"
    results = Results(out, ["--bookings", "3"])
    results.section("First", ["| a |"], "why")
    results.section("Second", ["**Failed**: X"])
    text = out.read_text()
    assert "--bookings 3" in text and "machine:" in text
    assert text.index("## First") < text.index("why") < text.index("## Second")


async def test_bench_signs_up_a_burst_and_reports(stack):
    async with httpx.AsyncClient(base_url=stack.url, timeout=60) as http:
        burst = await sign_up_burst(http, count=6)
    assert (burst.attempted, burst.created + burst.throttled, burst.server_errors) == (6, 6, 0)
    assert len(burst.latencies) == 6 and burst.percentile(99) >= burst.percentile(50) > 0
    assert burst.bare_hash_seconds > 0
    text = "\n".join(report_sign_ups(burst))
    for words in ("sign-ups", "6 sign-ups at once", "0 5xx", "p50", "one bare argon2id", "ratio"):
        assert words in text


async def test_relay_bench_relays_chat_and_reports(stack, tmp_path):
    from tests.bench import relay

    figures = await relay.run(
        stack.deps.nats_url_for("session-relay"),
        stack.deps.mongo_uri,
        tmp_path,
        room_counts=[2],
        messages=3,
        max_seconds=60,
    )
    labels = [f.label for f in figures]
    assert labels == ["raw NATS pub/sub round trip", "one relay", "across two relays"]
    for f in figures[1:]:
        assert (f.rooms, f.messages, f.errors) == (2, 6, 0)
        assert f.percentile(99) >= f.percentile(50) > 0
    text = "\n".join(relay.report(figures))
    assert "msg/s" in text and "p99" in text and "raw NATS" in text


async def test_bench_counts_database_commands_per_booking(stack):
    from pymongo import AsyncMongoClient

    from tests.bench.dbcommands import count_commands

    sched_db = stack.scheduling.settings.mongo_db
    async with httpx.AsyncClient(base_url=stack.url, timeout=30) as http:
        practice = await Practice(http).open(**booking.CLINIC_TERMS)
        party = await booking.prepare(practice, bookings=3, concurrency=1)
        probe: AsyncMongoClient = AsyncMongoClient(stack.deps.mongo_uri)

        async def book() -> int:
            run, _ = await booking.book_through_gateway(
                http, practice, bookings=3, concurrency=1, max_seconds=60, party=party
            )
            return run.done

        async def settled() -> bool:
            return not await probe[sched_db]["outbox"].count_documents({"pending": True})

        try:
            lines = await count_commands(
                stack.deps.mongo_uri, book, settled, labels={sched_db: "scheduling"}
            )
        finally:
            await probe.close()
    text = "\n".join(lines)
    assert lines[0].startswith("3 bookings")
    # Each booking inserts its appointment and its claims (one insert_many) exactly once.
    assert "| scheduling | `insert appointments` | 1.0 |" in text
    assert "| scheduling | `insert claims` | 1.0 |" in text
    assert "| **every service** | **all** |" in text
