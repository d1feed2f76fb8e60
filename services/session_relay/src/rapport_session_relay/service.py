"""The relay's use cases, one transaction each: a participant joins or leaves, the therapist
admits or ends, time is up, scheduling revokes. Room state lives in the relay's database so
every replica sees one room; events go through the outbox in the same transaction."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from rapport_platform.errors import Unavailable
from rapport_platform.outbox import Outbox, consume_once
from rapport_platform.store import Session, Store

from rapport_session_relay import domain, events
from rapport_session_relay.store import RelayStore

Clock = Callable[[], datetime]


class Rooms:
    def __init__(self, store: Store, repo: RelayStore, outbox: Outbox, clock: Clock) -> None:
        self.store = store
        self.repo = repo
        self.outbox = outbox
        self.clock = clock

    async def _effects(self, session: Session, change: domain.Change, now: datetime) -> None:
        await self.repo.save_room(session, change.room)
        if change.started:
            await self.outbox.add(session, events.STARTED, events.started(change.room, now))
        if change.ended:
            await self.outbox.add(session, events.ENDED, events.ended(change.room, now))

    def _wake(self, change: domain.Change | None) -> None:
        if change is not None and (change.started or change.ended):
            self.outbox.wake()

    async def join(self, claims: domain.JoinClaims, conn_id: str) -> domain.Change:
        rev = await self.repo.revocation(claims.appointment_id)
        if rev is not None and rev.revokes(claims):
            raise domain.RelayError(domain.REVOKED, "this session was cancelled or moved")
        now = self.clock()

        async def tx(session: Session) -> domain.Change:
            room = await self.repo.get_room(claims.appointment_id, session)
            change = domain.connect(room or domain.Room.open(claims), claims, conn_id, now)
            await self._effects(session, change, now)
            return change

        change = await self.store.transaction(tx)
        self._wake(change)
        return change

    async def leave(self, appointment_id: str, conn_id: str) -> domain.Change | None:
        now = self.clock()

        async def tx(session: Session) -> domain.Change | None:
            room = await self.repo.get_room(appointment_id, session)
            change = domain.disconnect(room, conn_id, now) if room else None
            if change is not None:
                await self._effects(session, change, now)
            return change

        return await self.store.transaction(tx)

    async def admit(self, appointment_id: str, role: str) -> domain.Change:
        now = self.clock()

        async def tx(session: Session) -> domain.Change:
            room = await self.repo.get_room(appointment_id, session)
            if room is None:
                raise Unavailable("room state is gone")
            change = domain.admit(room, role, now)
            await self._effects(session, change, now)
            return change

        change = await self.store.transaction(tx)
        self._wake(change)
        return change

    async def end(self, appointment_id: str, by: str) -> domain.Change | None:
        """Ends the room once (session_ended once); None when there is no room."""
        now = self.clock()

        async def tx(session: Session) -> domain.Change | None:
            room = await self.repo.get_room(appointment_id, session)
            if room is None:
                return None
            change = domain.end(room, by, now)
            if change.ended:
                await self._effects(session, change, now)
            return change

        change = await self.store.transaction(tx)
        self._wake(change)
        return change

    async def revoke(self, event_id: str, rev: domain.Revocation, consumer: str) -> bool:
        """Record the revocation once per event; end a started room (session_ended, revoked),
        forget one that never started (a reschedule opens a fresh room at the new time).
        Returns whether a room was there to close."""
        now = self.clock()

        async def effect(session: Session) -> bool:
            await self.repo.revoke(session, rev, now + timedelta(days=400))
            room = await self.repo.get_room(rev.appointment_id, session)
            if room is None or room.ended_at is not None:
                return False
            if room.started_at is None:
                await self.repo.delete_room(session, rev.appointment_id)
                return True
            await self._effects(session, domain.end(room, domain.ENDED_REVOKED, now), now)
            return True

        applied, closed = await consume_once(self.store, consumer, event_id, effect)
        if applied:
            self.outbox.wake()
        return bool(closed)
