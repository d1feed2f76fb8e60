"""JetStream durable consumer names come from a setting (CONSUMER_PREFIX), so two deployments,
or two test instances, on one NATS never share (and split) a consumer's events (issue 13)."""

from __future__ import annotations

import nats


async def test_durable_names_follow_the_consumer_prefix(full_stack):
    notes = full_stack.notes.settings.consumer_prefix
    relay = full_stack.relay.settings.consumer_prefix
    assert notes != "notes-vault" and relay != "session-relay"  # not the defaults
    nc = await nats.connect(full_stack.stack.deps.nats_url)
    try:
        js = nc.jetstream()
        expected = [
            f"{notes}-appointments",
            f"{relay}-appointment-cancelled",
            f"{relay}-appointment-rescheduled",
        ]
        for name in expected:
            info = await js.consumer_info("RAPPORT_SCHEDULING", name)
            assert info.name == name
    finally:
        await nc.close()
