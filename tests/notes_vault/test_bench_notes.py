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
        stack.deps.mongo_uri,
        ops=4,
        concurrency=2,
        max_seconds=60,
    )
    assert len(bare.samples["bare datakey + AES-GCM + insert"]) == 4
    assert len(bare.samples["bare find + decrypt + AES-GCM"]) == 4
    lines = notes_report(figures, bare)
    for name in ("note write (gateway)", "note read (gateway)", "bare datakey + AES-GCM + insert"):
        assert any(line.startswith(f"| {name} | 4 |") for line in lines), lines
    # Each figure beside its floor: a ratio line for writes and one for reads.
    assert sum(line.startswith("| ratio") for line in lines) == 2, lines
