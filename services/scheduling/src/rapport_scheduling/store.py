"""Scheduling's repository: availability, appointments, time-cell claims, reminders, idempotency
records and calendar feeds, in scheduling's own database.

No double booking, ever, is the claims collection's job. An appointment (or hold) inserts one
document per time cell it covers, buffers included, `_id` = therapist + cell, in the same
transaction as the appointment itself. The `_id` index is unique, so two appointments sharing a
cell cannot both commit, whatever Python believed when it started: the loser gets a duplicate key
error or a write conflict (retried, then it sees the winner's claim). A hold's claims carry
`expires_at`; readers ignore expired ones, a booking may delete an expired one inside its own
transaction (a write conflict if two try at once), and the TTL index cleans up the rest later.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from pymongo import ASCENDING, IndexModel, ReturnDocument
from pymongo.errors import BulkWriteError, DuplicateKeyError
from rapport_platform.errors import AlreadyExists
from rapport_platform.store import Session, Store, from_document, to_document

from rapport_scheduling.domain import (
    CONFIRMED,
    HELD,
    ActiveBooking,
    Appointment,
    Availability,
    CancellationPolicy,
    DateOverride,
    Reminder,
    TimeOff,
    WeeklyRule,
    Window,
)

AVAILABILITY = "availability"
APPOINTMENTS = "appointments"
CLAIMS = "claims"
REMINDERS = "reminders"
IDEMPOTENCY = "idempotency_keys"
FEEDS = "calendar_feeds"
CLIENT_PINS = "client_pins"

PENDING, FIRED, CANCELLED, SKIPPED = "pending", "fired", "cancelled", "skipped"
IDEMPOTENCY_TTL = timedelta(days=7)

INDEXES = {
    APPOINTMENTS: [
        IndexModel([("client_id", ASCENDING), ("start", ASCENDING), ("_id", ASCENDING)]),
        IndexModel([("therapist_id", ASCENDING), ("start", ASCENDING), ("_id", ASCENDING)]),
        IndexModel([("clinic_id", ASCENDING), ("start", ASCENDING), ("_id", ASCENDING)]),
    ],
    # Every index entry costs the database server work on each of a booking's ten claims: no
    # index on appointment_id (an appointment's claim ids follow from its cells, claim_id), and
    # the expiry index holds only the holds' claims (a booked claim's expires_at is null).
    CLAIMS: [
        IndexModel([("therapist_id", ASCENDING), ("cell", ASCENDING)]),
        # Expired holds' claims are ignored at once by every query; this only tidies up later.
        IndexModel(
            [("expires_at", ASCENDING)],
            expireAfterSeconds=0,
            partialFilterExpression={"expires_at": {"$type": "date"}},
            name="holds_expire",
        ),
    ],
    REMINDERS: [
        IndexModel([("status", ASCENDING), ("due_at", ASCENDING)]),
        IndexModel([("appointment_id", ASCENDING)]),
    ],
    IDEMPOTENCY: [
        IndexModel(
            [("created_at", ASCENDING)], expireAfterSeconds=int(IDEMPOTENCY_TTL.total_seconds())
        )
    ],
    FEEDS: [IndexModel([("therapist_id", ASCENDING)], unique=True)],
}

# Indexes earlier versions made and this one drops at start: claims are found by their ids now,
# and the expiry index holds only the holds' claims (see CLAIMS above).
RETIRED_INDEXES = {CLAIMS: ["appointment_id_1", "expires_at_1"]}


class SlotTaken(AlreadyExists):
    def __init__(self) -> None:
        super().__init__("this time is no longer available", field="start")


def claim_id(therapist_id: str, cell: datetime) -> str:
    return f"{therapist_id}|{int(cell.timestamp()) // 60:012d}"


def _live(now: datetime) -> dict[str, Any]:
    """Claims that block: booked ones (no expiry) and holds not yet expired."""
    return {"$or": [{"expires_at": None}, {"expires_at": {"$gt": now}}]}


# --- mapping --------------------------------------------------------------------------------


def availability_to_doc(av: Availability) -> dict[str, Any]:
    doc = dataclasses.asdict(av)
    doc["_id"] = doc.pop("therapist_id")
    doc["overrides"] = [
        {"day": o.day.isoformat(), "windows": [dataclasses.asdict(w) for w in o.windows]}
        for o in av.overrides
    ]
    return doc


def doc_to_availability(doc: dict[str, Any]) -> Availability:
    from datetime import date

    return Availability(
        therapist_id=doc["_id"],
        timezone=doc["timezone"],
        weekly=tuple(
            WeeklyRule(r["weekday"], Window(r["window"]["start"], r["window"]["end"]))
            for r in doc["weekly"]
        ),
        overrides=tuple(
            DateOverride(
                date.fromisoformat(o["day"]),
                tuple(Window(w["start"], w["end"]) for w in o["windows"]),
            )
            for o in doc["overrides"]
        ),
        time_off=tuple(TimeOff(t["start"], t["end"]) for t in doc["time_off"]),
        buffer_before_minutes=doc["buffer_before_minutes"],
        buffer_after_minutes=doc["buffer_after_minutes"],
        min_notice_minutes=doc["min_notice_minutes"],
        horizon_days=doc["horizon_days"],
        slot_step_minutes=doc["slot_step_minutes"],
        updated_at=doc["updated_at"],
    )


def appointment_to_doc(a: Appointment) -> dict[str, Any]:
    return to_document(a, id_field="appointment_id")


def doc_to_appointment(doc: dict[str, Any]) -> Appointment:
    return from_document(
        Appointment, doc, id_field="appointment_id", policy=CancellationPolicy(**doc["policy"])
    )


def reminder_to_doc(r: Reminder, appt: Appointment) -> dict[str, Any]:
    return {
        "_id": r.reminder_id,
        "appointment_id": r.appointment_id,
        "lead_minutes": r.lead_minutes,
        "due_at": r.due_at,
        "start": appt.start,
        "status": PENDING,
    }


# --- repository -----------------------------------------------------------------------------


class SchedulingStore:
    def __init__(self, store: Store) -> None:
        self.store = store
        db = store.db
        self.availability = db[AVAILABILITY]
        self.appointments = db[APPOINTMENTS]
        self.claims = db[CLAIMS]
        self.reminders = db[REMINDERS]
        self.idempotency = db[IDEMPOTENCY]
        self.feeds = db[FEEDS]
        self.client_pins = db[CLIENT_PINS]

    # availability
    async def put_availability(self, av: Availability) -> None:
        doc = availability_to_doc(av)
        await self.availability.replace_one({"_id": doc["_id"]}, doc, upsert=True)

    async def get_availability(self, therapist_id: str) -> Availability | None:
        doc = await self.availability.find_one({"_id": therapist_id})
        return doc_to_availability(doc) if doc else None

    # claims
    async def live_cells(
        self, therapist_id: str, start: datetime, end: datetime, now: datetime
    ) -> set[datetime]:
        cursor = self.claims.find(
            {"therapist_id": therapist_id, "cell": {"$gte": start, "$lt": end}, **_live(now)},
            {"cell": 1},
        )
        return {d["cell"] async for d in cursor}

    async def claim(self, session: Session, appt: Appointment, now: datetime) -> None:
        """Claim every cell of `appt` (keeping the cells it already holds, for a reschedule).
        Raises SlotTaken when another live appointment holds any of them."""
        wanted = {claim_id(appt.therapist_id, c): c for c in appt.claim_cells}
        existing = await self.claims.find({"_id": {"$in": list(wanted)}}, session=session).to_list()
        others = [d for d in existing if d["appointment_id"] != appt.appointment_id]
        if any(d.get("expires_at") is None or d["expires_at"] > now for d in others):
            raise SlotTaken
        if others:
            # Only expired holds are left among them: take their cells over, in this transaction.
            stale = [d["_id"] for d in others]
            gone = await self.claims.delete_many(
                {"_id": {"$in": stale}, "expires_at": {"$lte": now}}, session=session
            )
            if gone.deleted_count != len(stale):
                raise SlotTaken
        mine = {d["_id"] for d in existing if d["appointment_id"] == appt.appointment_id}
        docs = [
            {
                "_id": cid,
                "therapist_id": appt.therapist_id,
                "cell": cell,
                "appointment_id": appt.appointment_id,
                "expires_at": appt.hold_expires_at,
            }
            for cid, cell in wanted.items()
            if cid not in mine
        ]
        if docs:
            try:
                await self.claims.insert_many(docs, ordered=True, session=session)
            except DuplicateKeyError:
                raise SlotTaken from None
            except BulkWriteError as exc:
                if all(e.get("code") == 11000 for e in exc.details.get("writeErrors", [])):
                    raise SlotTaken from None
                raise

    async def release(
        self, session: Session, appt: Appointment, keep: Sequence[datetime] = ()
    ) -> None:
        """Drop the claims of `appt` as stored (its cells), except the cells in `keep` (a
        reschedule passes the old appointment and keeps the new time's cells)."""
        kept = {claim_id(appt.therapist_id, c) for c in keep}
        ids = [claim_id(appt.therapist_id, c) for c in appt.claim_cells]
        await self.claims.delete_many(
            {
                "_id": {"$in": [i for i in ids if i not in kept]},
                "appointment_id": appt.appointment_id,
            },
            session=session,
        )

    async def make_permanent(self, session: Session, appt: Appointment, now: datetime) -> bool:
        """A confirmed hold keeps its cells for good; False if any cell was lost to expiry."""
        ids = [claim_id(appt.therapist_id, c) for c in appt.claim_cells]
        result = await self.claims.update_many(
            {
                "_id": {"$in": ids},
                "appointment_id": appt.appointment_id,
                "expires_at": {"$gt": now},
            },
            {"$set": {"expires_at": None}},
            session=session,
        )
        return result.modified_count == len(appt.claim_cells)

    async def pin_client(self, session: Session, client_id: str) -> None:
        """A write to one document per client inside each booking transaction: of two bookings
        of one client at once, the one whose snapshot predates the other's commit conflicts here
        and runs again (then counts the other), so the count-then-insert of the booking limits
        cannot be raced past."""
        await self.client_pins.update_one(
            {"_id": client_id}, {"$inc": {"bookings": 1}}, upsert=True, session=session
        )

    async def active_bookings(
        self, session: Session, client_id: str, now: datetime
    ) -> list[ActiveBooking]:
        """The client's appointments that still hold a time: confirmed or a live hold, not over."""
        cursor = self.appointments.find(
            {
                "client_id": client_id,
                "end": {"$gt": now},
                "$or": [
                    {"status": CONFIRMED},
                    {"status": HELD, "hold_expires_at": {"$gt": now}},
                ],
            },
            {"therapist_id": 1, "clinic_id": 1},
            session=session,
        )
        return [ActiveBooking(d["therapist_id"], d.get("clinic_id", "")) async for d in cursor]

    async def live_holds(self, session: Session, client_id: str, now: datetime) -> int:
        return await self.appointments.count_documents(
            {"client_id": client_id, "status": HELD, "hold_expires_at": {"$gt": now}},
            session=session,
        )

    async def move_to_clinic(
        self, session: Session, therapist_id: str, clinic_id: str, *, now: datetime
    ) -> int:
        """Re-home the therapist's appointments that are still to come (held or confirmed)."""
        result = await self.appointments.update_many(
            {
                "therapist_id": therapist_id,
                "status": {"$in": [HELD, CONFIRMED]},
                "end": {"$gt": now},
            },
            {"$set": {"clinic_id": clinic_id}},
            session=session,
        )
        return result.modified_count

    # appointments
    async def insert_appointment(self, session: Session, appt: Appointment) -> None:
        await self.appointments.insert_one(appointment_to_doc(appt), session=session)

    async def replace_appointment(
        self, session: Session, appt: Appointment, expected_status: str
    ) -> None:
        """Write the new state; the status condition (and the transaction's write conflicts) stop
        two concurrent changes from both applying."""
        result = await self.appointments.replace_one(
            {"_id": appt.appointment_id, "status": expected_status},
            appointment_to_doc(appt),
            session=session,
        )
        if result.matched_count != 1:
            raise AlreadyExists("the appointment changed meanwhile; read it again")

    async def get_appointment(
        self, appointment_id: str, session: Session | None = None
    ) -> Appointment | None:
        doc = await self.appointments.find_one({"_id": appointment_id}, session=session)
        return doc_to_appointment(doc) if doc else None

    async def list_appointments(
        self,
        scope: dict[str, Any],
        *,
        limit: int,
        after: tuple[datetime, str] | None,
        start_from: datetime | None,
        start_to: datetime | None,
        statuses: Sequence[str],
    ) -> list[Appointment]:
        query: dict[str, Any] = dict(scope)
        start: dict[str, Any] = {}
        if start_from is not None:
            start["$gte"] = start_from
        if start_to is not None:
            start["$lt"] = start_to
        if start:
            query["start"] = start
        if statuses:
            query["status"] = {"$in": list(statuses)}
        if after is not None:
            a_start, a_id = after
            # $and: the scope may hold an $or of its own.
            query["$and"] = [
                {
                    "$or": [
                        {"start": {"$gt": a_start}},
                        {"start": a_start, "_id": {"$gt": a_id}},
                    ]
                }
            ]
        cursor = self.appointments.find(query).sort([("start", ASCENDING), ("_id", ASCENDING)])
        return [doc_to_appointment(d) async for d in cursor.limit(limit)]

    async def therapist_feed(
        self, therapist_id: str, since: datetime, limit: int
    ) -> list[Appointment]:
        cursor = (
            self.appointments.find({"therapist_id": therapist_id, "start": {"$gte": since}})
            .sort([("start", ASCENDING), ("_id", ASCENDING)])
            .limit(limit)
        )
        return [doc_to_appointment(d) async for d in cursor]

    # idempotency
    async def idempotent_reply(self, client_id: str, key: str) -> dict[str, Any] | None:
        return await self.idempotency.find_one({"_id": f"{client_id}|{key}"})

    async def remember_key(
        self,
        session: Session,
        client_id: str,
        key: str,
        fingerprint: str,
        appointment_id: str,
        now: datetime,
    ) -> None:
        await self.idempotency.insert_one(
            {
                "_id": f"{client_id}|{key}",
                "fingerprint": fingerprint,
                "appointment_id": appointment_id,
                "created_at": now,
            },
            session=session,
        )

    # reminders
    async def add_reminders(
        self, session: Session, reminders: Sequence[Reminder], appt: Appointment
    ) -> None:
        if reminders:
            await self.reminders.insert_many(
                [reminder_to_doc(r, appt) for r in reminders], session=session
            )

    async def cancel_reminders(self, session: Session, appointment_id: str) -> None:
        await self.reminders.update_many(
            {"appointment_id": appointment_id, "status": PENDING},
            {"$set": {"status": CANCELLED}},
            session=session,
        )

    async def take_due_reminder(self, session: Session, now: datetime) -> dict[str, Any] | None:
        """Move one due reminder from pending to fired, inside the caller's transaction. Two
        replicas taking the same one conflict; the transaction retry makes one of them move on."""
        return await self.reminders.find_one_and_update(
            {"status": PENDING, "due_at": {"$lte": now}},
            {"$set": {"status": FIRED, "fired_at": now}},
            sort=[("due_at", ASCENDING)],
            return_document=ReturnDocument.AFTER,
            session=session,
        )

    async def skip_reminder(self, session: Session, reminder_id: str) -> None:
        await self.reminders.update_one(
            {"_id": reminder_id}, {"$set": {"status": SKIPPED}}, session=session
        )

    # calendar feeds
    async def set_feed(self, therapist_id: str, token_hash: str, now: datetime) -> None:
        async def tx(session: Session) -> None:
            await self.feeds.delete_many({"therapist_id": therapist_id}, session=session)
            await self.feeds.insert_one(
                {"_id": token_hash, "therapist_id": therapist_id, "created_at": now},
                session=session,
            )

        await self.store.transaction(tx)

    async def feed_owner(self, token_hash: str) -> str | None:
        doc = await self.feeds.find_one({"_id": token_hash})
        return str(doc["therapist_id"]) if doc else None
