"""The bench's own code, run small against the test stack so `make bench` cannot rot unseen.
It checks counts and the report's shape, never speed."""

from __future__ import annotations

import argparse
import math

import httpx

from tests.bench.__main__ import (
    Figures,
    book_all,
    raw_inserts,
    report,
    report_sign_ups,
    rss_mib,
    sign_up_burst,
)
from tests.scheduling.helpers import Practice


async def test_bench_books_inserts_and_reports(stack):
    async with httpx.AsyncClient(base_url=stack.url, timeout=30) as http:
        practice = await Practice(http).open()
        figures = await book_all(http, practice, bookings=12, concurrency=3, max_seconds=60)
    assert (figures.bookings, figures.conflicts, figures.errors) == (12, 0, 0)
    assert len(figures.latencies) == 12 and figures.percentile(99) >= figures.percentile(50) > 0
    await raw_inserts(
        stack.deps.mongo_uri, inserts=30, concurrency=3, max_seconds=60, figures=figures
    )
    assert figures.inserts == 30 and figures.inserts_per_second > 0
    args = argparse.Namespace(concurrency=3)
    text = report(figures, args, {"mongo": rss_mib(stack.deps.mongo.pid)})
    for words in ("bookings/s", "p50", "p99", "inserts/s", "ratio", "peak RSS"):
        assert words in text
    assert rss_mib() > 0 and math.isnan(rss_mib(2**22 + 1))  # above any pid Linux hands out


def test_figures_percentiles():
    f = Figures(latencies=[i / 1000 for i in range(1, 101)])
    assert abs(f.percentile(50) - 0.0505) < 1e-9
    assert abs(f.percentile(99) - 0.09901) < 1e-6
    assert Figures().percentile(99) == 0.0 and Figures(latencies=[0.2]).percentile(50) == 0.2


async def test_bench_signs_up_a_burst_and_reports(stack):
    async with httpx.AsyncClient(base_url=stack.url, timeout=60) as http:
        burst = await sign_up_burst(http, count=6)
    assert (burst.attempted, burst.created + burst.throttled, burst.server_errors) == (6, 6, 0)
    assert len(burst.latencies) == 6 and burst.percentile(99) >= burst.percentile(50) > 0
    assert burst.bare_hash_seconds > 0
    text = report_sign_ups(burst, rss_mib())
    for words in (
        "sign-ups",
        "6 at once",
        "0 5xx",
        "p50",
        "p99",
        "one bare hash",
        "identity peak RSS",
    ):
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
    text = relay.report(figures)
    assert "msg/s" in text and "p99" in text
