"""`make bench`'s notes figures, run small against the test stack (counts and shape, never
speed)."""

from __future__ import annotations


async def test_notes_bench_writes_reads_and_measures_bare_transit(stack, notes_app, http):
    from tests.bench.notes import bare_transit, notes_report, notes_through_gateway

    figures = await notes_through_gateway(
        http, notes_app.store.db, notes=4, concurrency=2, max_seconds=60
    )
    assert len(figures.samples["note write (gateway)"]) == 4
    assert len(figures.samples["note read (gateway)"]) == 4
    bare = await bare_transit(
        stack.deps.vault_addr,
        stack.deps.vault_tokens["notes-vault"],
        ops=4,
        concurrency=2,
        max_seconds=60,
    )
    assert len(bare.samples["bare datakey + AES-GCM seal"]) == 4
    text = notes_report(figures, bare)
    assert text.count("p50") == 4 and text.count("p99") == 4
