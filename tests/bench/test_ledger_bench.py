"""The ledger bench's own code, run small: counts and the report's shape, never speed."""

from __future__ import annotations

from tests.bench.ledger import ledger_bench


async def test_ledger_bench_counts_and_reports(deps):
    f = await ledger_bench(deps.mongo_uri, entries=20, concurrency=2, max_seconds=60)
    assert (f.entries, f.bare_entries, f.replays_ignored) == (20, 20, 10)
    assert f.per_second > 0 and f.bare_per_second > 0
    text = "\n".join(f.report())
    for words in ("entries/s", "bare transactions", "ratio", "replays ignored"):
        assert words in text
