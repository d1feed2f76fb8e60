"""The relay's own database: the transient state of live rooms, revocations, and the outbox.
No chat, no media, no names: ids, roles, times and counters only. Everything expires (TTL)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pymongo import ASCENDING, IndexModel
from rapport_platform.store import Session, Store

from rapport_session_relay.domain import Member, Revocation, Room

ROOMS = "rooms"
REVOCATIONS = "revocations"
# Room state is kept a day past the close (a late reconnect finds the ended room), then dropped.
KEEP = timedelta(days=1)

INDEXES = {
    ROOMS: [
        IndexModel([("expire_at", ASCENDING)], expireAfterSeconds=0),
        IndexModel([("ended_at", ASCENDING), ("closes_at", ASCENDING)]),
    ],
    REVOCATIONS: [IndexModel([("expire_at", ASCENDING)], expireAfterSeconds=0)],
}


def room_to_doc(room: Room) -> dict[str, Any]:
    return {
        "_id": room.appointment_id,
        "session_id": room.session_id,
        "modality": room.modality,
        "therapist_id": room.therapist_id,
        "client_id": room.client_id,
        "closes_at": room.closes_at,
        "members": {
            role: {"user_id": m.user_id, "conn_id": m.conn_id, "present": m.present,
                   "since": m.since, "seconds": m.seconds}
            for role, m in room.members.items()
        },
        "admitted": room.admitted,
        "client_joined": room.client_joined,
        "started_at": room.started_at,
        "both_since": room.both_since,
        "both_seconds": room.both_seconds,
        "ended_at": room.ended_at,
        "ended_by": room.ended_by,
        "expire_at": room.closes_at + KEEP,
    }  # fmt: skip


def room_from_doc(doc: dict[str, Any]) -> Room:
    return Room(
        appointment_id=doc["_id"],
        session_id=doc["session_id"],
        modality=doc["modality"],
        therapist_id=doc["therapist_id"],
        client_id=doc["client_id"],
        closes_at=doc["closes_at"],
        members={role: Member(**m) for role, m in doc.get("members", {}).items()},
        admitted=doc.get("admitted", False),
        client_joined=doc.get("client_joined", False),
        started_at=doc.get("started_at"),
        both_since=doc.get("both_since"),
        both_seconds=doc.get("both_seconds", 0.0),
        ended_at=doc.get("ended_at"),
        ended_by=doc.get("ended_by", ""),
    )


class RelayStore:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.rooms = store.db[ROOMS]
        self.revocations = store.db[REVOCATIONS]

    async def get_room(self, appointment_id: str, session: Session | None = None) -> Room | None:
        doc = await self.rooms.find_one({"_id": appointment_id}, session=session)
        return room_from_doc(doc) if doc else None

    async def save_room(self, session: Session, room: Room) -> None:
        await self.rooms.replace_one(
            {"_id": room.appointment_id}, room_to_doc(room), upsert=True, session=session
        )

    async def delete_room(self, session: Session, appointment_id: str) -> None:
        await self.rooms.delete_one({"_id": appointment_id}, session=session)

    async def due_rooms(self, now: datetime, limit: int = 100) -> list[str]:
        """Rooms whose time is up but that nobody ended yet."""
        cursor = self.rooms.find(
            {"ended_at": None, "closes_at": {"$lte": now}}, {"_id": 1}, limit=limit
        )
        return [doc["_id"] async for doc in cursor]

    async def revocation(self, appointment_id: str) -> Revocation | None:
        doc = await self.revocations.find_one({"_id": appointment_id})
        if doc is None:
            return None
        return Revocation(appointment_id, bool(doc["cancelled"]), doc["revoked_at"])

    async def revoke(self, session: Session, rev: Revocation, keep_until: datetime) -> None:
        """Cancellation is final; a reschedule revokes the tokens issued before it."""
        old = await self.revocations.find_one({"_id": rev.appointment_id}, session=session)
        cancelled = rev.cancelled or bool(old and old["cancelled"])
        revoked_at = max(rev.revoked_at, old["revoked_at"]) if old else rev.revoked_at
        await self.revocations.replace_one(
            {"_id": rev.appointment_id},
            {"cancelled": cancelled, "revoked_at": revoked_at, "expire_at": keep_until},
            upsert=True,
            session=session,
        )
