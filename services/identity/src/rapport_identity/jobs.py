"""Identity's periodic work, safe with any number of replicas.

- The licence-expiry sweep runs once per UTC day (a lease in Mongo picks the replica); each
  licence is marked expired by a conditional update in the same transaction as its
  `license_expired` outbox record, so the event is recorded exactly once even if two sweeps overlap.
- Signing-key rotation: when the signing version is older than the configured age, one replica
  (the one that claims that version's rotation) rotates it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from rapport_platform.outbox import Outbox
from rapport_platform.store import Session, Store

from rapport_identity import events
from rapport_identity.domain import License
from rapport_identity.keys import SigningKeys
from rapport_identity.store import Jobs, Licenses

log = logging.getLogger(__name__)
LICENSE_SWEEP = "license-expiry-sweep"
KEY_ROTATION = "signing-key-rotation"
_LEASE = timedelta(minutes=10)


async def expire_licenses(store: Store, outbox: Outbox, *, now: datetime, batch: int = 200) -> int:
    """Mark every licence past its expiry day as expired and record `license_expired` for each.
    Returns how many this call marked (another sweep running at once marks the rest)."""
    licenses = Licenses(store)
    marked = 0
    while True:
        due = await licenses.due_to_expire(now.date(), batch)
        if not due:
            break
        for lic in due:
            marked += await _expire_one(store, outbox, licenses, lic, now)
        outbox.wake()
    return marked


async def record_expiry(
    session: Session, outbox: Outbox, licenses: Licenses, lic: License, now: datetime
) -> bool:
    """Mark one licence expired and record `license_expired`, inside the caller's transaction;
    False if another sweep (or a renewal) marked it first."""
    if not await licenses.mark_expired(session, lic.license_id, now):
        return False
    await outbox.add(
        session,
        events.LICENSE_EXPIRED,
        events.license_expired(lic, now),
        # One event id per licence: even a duplicate record would be deduplicated.
        event_id=f"license-expired:{lic.license_id}",
    )
    return True


async def _expire_one(
    store: Store, outbox: Outbox, licenses: Licenses, lic: License, now: datetime
) -> bool:
    async def write(session: Session) -> bool:
        return await record_expiry(session, outbox, licenses, lic, now)

    return await store.transaction(write)


class Periodic:
    def __init__(
        self,
        store: Store,
        outbox: Outbox,
        keys: SigningKeys,
        *,
        check_every: float,
        key_max_age: timedelta | None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.outbox = outbox
        self.keys = keys
        self.jobs = Jobs(store)
        self.check_every = check_every
        self.key_max_age = key_max_age
        self.now = clock

    async def sweep_if_due(self) -> int | None:
        """Today's sweep, if no replica has done it yet; None when it was not this one's turn."""
        now = self.now()
        day = now.date().isoformat()
        if not await self.jobs.claim(LICENSE_SWEEP, day, now=now, lease=_LEASE):
            return None
        marked = await expire_licenses(self.store, self.outbox, now=now)
        await self.jobs.done(LICENSE_SWEEP, day)
        log.info("licence sweep for %s: %d expired", day, marked)
        return marked

    async def rotate_if_due(self) -> str | None:
        if self.key_max_age is None:
            return None
        now = self.now()
        version, created = await self.keys.latest()
        if now - created < self.key_max_age:
            return None
        period = f"v{version}"
        if not await self.jobs.claim(KEY_ROTATION, period, now=now, lease=_LEASE):
            return None
        kid = await self.keys.rotate()
        await self.jobs.done(KEY_ROTATION, period)
        log.info("signing key v%d reached its age limit: %s signs now", version, kid)
        return kid

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            for job in (self.sweep_if_due, self.rotate_if_due):
                try:
                    await job()
                except Exception as exc:  # a dependency is down: try again next round
                    log.warning("%s failed: %s", job.__name__, type(exc).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.check_every)
