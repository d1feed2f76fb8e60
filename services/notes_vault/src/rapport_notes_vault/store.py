"""Notes-vault's repository, in its own database. Notes and measures hold only ids, kinds,
times, the wrapped data key and the ciphertext; the audit log is append-only and hash-chained
(a `head` document serialises appends: two writers conflict on it and one retries)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from bson.binary import Binary
from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.errors import DuplicateKeyError, OperationFailure
from rapport_platform.store import Session, Store, from_document, to_document

from rapport_notes_vault import domain
from rapport_notes_vault.crypto import Sealed

APPOINTMENTS = "appointments"  # the care-relationship projection (from scheduling's events)
NOTES = "notes"
CONSENTS = "consents"
DISCLOSURES = "disclosures"
GRANTS = "break_glass"
AUDIT = "audit"
AUDIT_HEAD = "audit_head"
MEASURES = "measures"
CLIENTS = "clients"  # per-client key state: version, erasure, legal hold, last jurisdiction
CLINICS = "clinics"  # per-clinic record keeping: a retention longer than the deployment's

INDEXES = {
    APPOINTMENTS: [
        IndexModel([("therapist_id", ASCENDING), ("client_id", ASCENDING)]),
        IndexModel([("client_id", ASCENDING)]),
    ],
    NOTES: [
        IndexModel([("client_id", ASCENDING), ("created_at", DESCENDING), ("_id", DESCENDING)]),
        IndexModel([("root_note_id", ASCENDING), ("version", ASCENDING)], unique=True),
        IndexModel([("client_id", ASCENDING), ("key_version", ASCENDING)]),
    ],
    CONSENTS: [IndexModel([("client_id", ASCENDING), ("recipient_id", ASCENDING)])],
    DISCLOSURES: [
        IndexModel([("client_id", ASCENDING), ("disclosed_at", DESCENDING), ("_id", DESCENDING)])
    ],
    GRANTS: [
        IndexModel([("therapist_id", ASCENDING), ("client_id", ASCENDING)]),
        # The clinic's review list, newest first.
        IndexModel([("clinic_id", ASCENDING), ("created_at", DESCENDING), ("_id", DESCENDING)]),
    ],
    MEASURES: [
        IndexModel([("client_id", ASCENDING), ("taken_at", ASCENDING)]),
        IndexModel([("clinic_id", ASCENDING), ("instrument", ASCENDING)]),
        IndexModel([("therapist_id", ASCENDING), ("instrument", ASCENDING)]),
        IndexModel([("client_id", ASCENDING), ("key_version", ASCENDING)]),
    ],
    CLIENTS: [IndexModel([("shred_after", ASCENDING)])],
}


def sealed_fields(sealed: Sealed) -> dict[str, Any]:
    from rapport_notes_vault.crypto import key_version

    return {
        "wrapped_key": sealed.wrapped_key,
        "nonce": Binary(sealed.nonce),
        "ciphertext": Binary(sealed.ciphertext),
        "key_version": key_version(sealed.wrapped_key),
    }


def sealed_of(doc: dict[str, Any]) -> Sealed:
    return Sealed(doc["wrapped_key"], bytes(doc["nonce"]), bytes(doc["ciphertext"]))


class NotesStore:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.db = store.db

    # --- projection ---------------------------------------------------------------------

    async def apply_appointment(
        self, session: Session, snapshot: dict[str, Any], as_of: datetime
    ) -> None:
        """Keep the newest state of each appointment (events may arrive out of order): one
        update that keeps the stored document when it is newer, instead of a read and a write."""
        newest = {
            "$cond": [
                {"$gt": ["$as_of", as_of]},
                "$$ROOT",
                {"$literal": {**snapshot, "as_of": as_of}},
            ]
        }
        await self.db[APPOINTMENTS].update_one(
            {"_id": snapshot["_id"]}, [{"$replaceWith": newest}], upsert=True, session=session
        )

    async def appointment(self, appointment_id: str) -> dict[str, Any] | None:
        return await self.db[APPOINTMENTS].find_one({"_id": appointment_id})

    async def treats(self, therapist_id: str, client_id: str) -> bool:
        doc = await self.db[APPOINTMENTS].find_one(
            {
                "therapist_id": therapist_id,
                "client_id": client_id,
                "status": {"$in": sorted(domain.TREATING)},
            }
        )
        return doc is not None

    async def clinics_seen(self, client_id: str) -> set[str]:
        """Every clinic the client had an appointment with, whatever became of it."""
        cursor = self.db[APPOINTMENTS].find({"client_id": client_id}, {"clinic_id": 1})
        return {d["clinic_id"] async for d in cursor if d.get("clinic_id")}

    async def retentions(self, clinic_ids: set[str]) -> dict[str, int]:
        cursor = self.db[CLINICS].find({"_id": {"$in": sorted(clinic_ids)}})
        return {d["_id"]: int(d["retention_days"]) async for d in cursor}

    async def set_retention(
        self, session: Session, clinic_id: str, days: int, *, by: str, at: datetime
    ) -> None:
        await self.db[CLINICS].update_one(
            {"_id": clinic_id},
            {"$set": {"retention_days": days, "updated_by": by, "updated_at": at}},
            upsert=True,
            session=session,
        )

    async def client_clinics(self, client_id: str) -> set[str]:
        cursor = self.db[APPOINTMENTS].find(
            {"client_id": client_id, "status": {"$in": sorted(domain.TREATING)}}
        )
        return {d["clinic_id"] async for d in cursor if d.get("clinic_id")}

    async def has_notes(
        self, client_id: str, *, author_id: str | None = None, clinic_id: str | None = None
    ) -> bool:
        query: dict[str, Any] = {"client_id": client_id}
        if author_id is not None:
            query["author_id"] = author_id
        if clinic_id is not None:
            query["clinic_id"] = clinic_id
        return await self.db[NOTES].find_one(query, projection={"_id": 1}) is not None

    async def therapists_of(self, client_id: str) -> dict[str, str]:
        """{therapist_id: clinic_id} of everyone treating the client."""
        cursor = self.db[APPOINTMENTS].find(
            {"client_id": client_id, "status": {"$in": sorted(domain.TREATING)}}
        )
        return {d["therapist_id"]: d.get("clinic_id", "") async for d in cursor}

    # --- notes --------------------------------------------------------------------------

    async def insert_note(self, session: Session, note: domain.Note, sealed: Sealed) -> None:
        await self.db[NOTES].insert_one(
            to_document(note, id_field="note_id", **sealed_fields(sealed)), session=session
        )

    async def replace_note(
        self, session: Session, note: domain.Note, sealed: Sealed | None = None
    ) -> bool:
        extra = sealed_fields(sealed) if sealed else {}
        update = {k: v for k, v in to_document(note, id_field="note_id").items() if k != "_id"}
        result = await self.db[NOTES].update_one(
            {"_id": note.note_id, "status": domain.DRAFT},
            {"$set": {**update, **extra}},
            session=session,
        )
        return result.modified_count == 1

    async def note_doc(self, note_id: str, session: Session | None = None) -> dict[str, Any] | None:
        return await self.db[NOTES].find_one({"_id": note_id}, session=session)

    @staticmethod
    def note_of(doc: dict[str, Any]) -> domain.Note:
        return from_document(domain.Note, doc, id_field="note_id")

    async def versions(self, root_note_id: str) -> list[domain.Note]:
        cursor = self.db[NOTES].find({"root_note_id": root_note_id}).sort("version", ASCENDING)
        return [self.note_of(d) async for d in cursor]

    async def client_notes(
        self, client_id: str, *, before: tuple[datetime, str] | None, limit: int
    ) -> list[domain.Note]:
        query: dict[str, Any] = {"client_id": client_id}
        if before is not None:
            at, nid = before
            query["$or"] = [{"created_at": {"$lt": at}}, {"created_at": at, "_id": {"$lt": nid}}]
        cursor = (
            self.db[NOTES]
            .find(query, projection={"ciphertext": 0, "nonce": 0, "wrapped_key": 0})
            .sort([("created_at", DESCENDING), ("_id", DESCENDING)])
            .limit(limit)
        )
        return [self.note_of(d) async for d in cursor]

    async def delete_drafts(self, session: Session, client_id: str) -> int:
        result = await self.db[NOTES].delete_many(
            {"client_id": client_id, "status": domain.DRAFT}, session=session
        )
        return int(result.deleted_count)

    async def last_record_at(self, client_id: str) -> datetime | None:
        latest = None
        for coll, f in ((NOTES, "created_at"), (MEASURES, "taken_at")):
            doc = await self.db[coll].find_one({"client_id": client_id}, sort=[(f, DESCENDING)])
            if doc is not None and (latest is None or doc[f] > latest):
                latest = doc[f]
        return latest

    # --- consents, grants, disclosures ----------------------------------------------------

    async def insert_consent(self, session: Session, consent: domain.Consent) -> None:
        await self.db[CONSENTS].insert_one(
            to_document(consent, id_field="consent_id"), session=session
        )

    async def consent(self, consent_id: str) -> domain.Consent | None:
        doc = await self.db[CONSENTS].find_one({"_id": consent_id})
        return from_document(domain.Consent, doc, id_field="consent_id") if doc else None

    async def revoke_consent(self, session: Session, consent_id: str, at: datetime) -> None:
        await self.db[CONSENTS].update_one(
            {"_id": consent_id, "revoked_at": None}, {"$set": {"revoked_at": at}}, session=session
        )

    async def consents(
        self, client_id: str, recipient_id: str | None = None
    ) -> list[domain.Consent]:
        query: dict[str, Any] = {"client_id": client_id}
        if recipient_id is not None:
            query["recipient_id"] = recipient_id
        cursor = self.db[CONSENTS].find(query).sort("created_at", ASCENDING)
        return [from_document(domain.Consent, d, id_field="consent_id") async for d in cursor]

    async def end_consents(self, session: Session, client_id: str, at: datetime) -> int:
        result = await self.db[CONSENTS].update_many(
            {"client_id": client_id, "revoked_at": None, "expires_at": {"$gt": at}},
            {"$set": {"revoked_at": at}},
            session=session,
        )
        return int(result.modified_count)

    async def insert_grant(self, session: Session, grant: domain.BreakGlass) -> None:
        await self.db[GRANTS].insert_one(to_document(grant, id_field="grant_id"), session=session)

    async def grants(self, therapist_id: str, client_id: str) -> list[domain.BreakGlass]:
        cursor = self.db[GRANTS].find({"therapist_id": therapist_id, "client_id": client_id})
        return [from_document(domain.BreakGlass, d, id_field="grant_id") async for d in cursor]

    async def grant(self, grant_id: str) -> dict[str, Any] | None:
        """The grant's document: its fields and its sealed reason."""
        return await self.db[GRANTS].find_one({"_id": grant_id})

    @staticmethod
    def grant_of(doc: dict[str, Any]) -> domain.BreakGlass:
        return from_document(domain.BreakGlass, doc, id_field="grant_id")

    async def clinic_grants(
        self,
        clinic_id: str,
        *,
        pending_only: bool,
        before: tuple[datetime, str] | None,
        limit: int,
    ) -> list[dict[str, Any]]:
        query: dict[str, Any] = {"clinic_id": clinic_id}
        if pending_only:
            query["reviewed_at"] = None
        if before is not None:
            at, gid = before
            query["$or"] = [{"created_at": {"$lt": at}}, {"created_at": at, "_id": {"$lt": gid}}]
        cursor = (
            self.db[GRANTS]
            .find(query)
            .sort([("created_at", DESCENDING), ("_id", DESCENDING)])
            .limit(limit)
        )
        return [d async for d in cursor]

    async def unreviewed_grants(self, now: datetime) -> int:
        return await self.db[GRANTS].count_documents(
            {"reviewed_at": None, "expires_at": {"$lte": now}}
        )

    async def review_grant(self, session: Session, reviewed: domain.BreakGlass) -> bool:
        """Conditional on no review yet: two admins at once cannot both record one."""
        result = await self.db[GRANTS].update_one(
            {"_id": reviewed.grant_id, "reviewed_at": None},
            {
                "$set": {
                    "reviewed_at": reviewed.reviewed_at,
                    "reviewed_by": reviewed.reviewed_by,
                    "review_outcome": reviewed.review_outcome,
                }
            },
            session=session,
        )
        return result.matched_count == 1

    async def read_under(self, grant: domain.BreakGlass) -> int:
        """Records the therapist opened by break-glass while the grant ran (its disclosures)."""
        return await self.db[DISCLOSURES].count_documents(
            {
                "client_id": grant.client_id,
                "recipient_id": grant.therapist_id,
                "basis": domain.BY_BREAK_GLASS,
                "disclosed_at": {"$gte": grant.created_at, "$lt": grant.expires_at},
            }
        )

    async def insert_disclosure(self, session: Session, doc: dict[str, Any]) -> None:
        await self.db[DISCLOSURES].insert_one(doc, session=session)

    async def disclosures(
        self, client_id: str, *, before: tuple[datetime, str] | None, limit: int
    ) -> list[dict[str, Any]]:
        query: dict[str, Any] = {"client_id": client_id}
        if before is not None:
            at, did = before
            query["$or"] = [
                {"disclosed_at": {"$lt": at}},
                {"disclosed_at": at, "_id": {"$lt": did}},
            ]
        cursor = (
            self.db[DISCLOSURES]
            .find(query)
            .sort([("disclosed_at", DESCENDING), ("_id", DESCENDING)])
            .limit(limit)
        )
        return [d async for d in cursor]

    # --- audit --------------------------------------------------------------------------

    async def append_audit(self, session: Session, entry: domain.AuditEntry) -> domain.AuditEntry:
        head = await self.db[AUDIT_HEAD].find_one({"_id": "head"}, session=session)
        seq, prev = (head["seq"], head["hash"]) if head else (0, domain.GENESIS)
        linked = domain.chain(entry, seq, prev)
        try:
            await self.db[AUDIT].insert_one(
                {**linked.payload(), "_id": linked.seq, "hash": linked.hash}, session=session
            )
            # Every append writes the head: concurrent appends conflict here and one retries.
            await self.db[AUDIT_HEAD].update_one(
                {"_id": "head"},
                {"$set": {"seq": linked.seq, "hash": linked.hash}},
                upsert=True,
                session=session,
            )
        except DuplicateKeyError:
            # Another append committed this sequence number (or the first head) after we read
            # the head: the chain moved, exactly like a write conflict, so the whole transaction
            # runs again on the new head (Store.transaction retries this label), not a 500.
            raise OperationFailure(
                "the audit chain moved; retry",
                code=112,  # WriteConflict
                details={"errorLabels": ["TransientTransactionError"]},
            ) from None
        return linked

    async def audit_entries(self) -> tuple[list[domain.AuditEntry], int, str]:
        head = await self.db[AUDIT_HEAD].find_one({"_id": "head"})
        cursor = self.db[AUDIT].find({}).sort("_id", ASCENDING)
        fields = {f for f in domain.AuditEntry.__dataclass_fields__}
        entries = [
            domain.AuditEntry(**{k: v for k, v in d.items() if k in fields}) async for d in cursor
        ]
        return entries, (head or {}).get("seq", 0), (head or {}).get("hash", "")

    # --- measures -----------------------------------------------------------------------

    async def insert_measure(
        self, session: Session, record: domain.MeasureRecord, sealed: Sealed
    ) -> None:
        doc = to_document(record, id_field="measure_id", **sealed_fields(sealed))
        doc["flags"] = list(record.flags)
        await self.db[MEASURES].insert_one(doc, session=session)

    async def measures(self, query: dict[str, Any]) -> list[dict[str, Any]]:
        cursor = self.db[MEASURES].find(query).sort([("taken_at", ASCENDING), ("_id", ASCENDING)])
        return [d async for d in cursor]

    # --- client key state ---------------------------------------------------------------

    async def client(self, client_id: str, session: Session | None = None) -> dict[str, Any]:
        doc = await self.db[CLIENTS].find_one({"_id": client_id}, session=session)
        return doc or {"_id": client_id}

    async def update_client(
        self, client_id: str, fields: dict[str, Any], session: Session | None = None
    ) -> None:
        await self.db[CLIENTS].update_one(
            {"_id": client_id}, {"$set": fields}, upsert=True, session=session
        )

    async def clients_due(self, now: datetime) -> list[dict[str, Any]]:
        cursor = self.db[CLIENTS].find(
            {
                "erasure_requested_at": {"$ne": None},
                "shred_after": {"$lte": now},
                "shredded_at": None,
                "legal_hold": {"$ne": True},
            }
        )
        return [d async for d in cursor]

    async def clients_with_keys(self) -> list[dict[str, Any]]:
        cursor = self.db[CLIENTS].find({"key_created_at": {"$ne": None}, "shredded_at": None})
        return [d async for d in cursor]

    async def stale_wrapped(
        self, collection: str, client_id: str, latest: int, limit: int = 100
    ) -> Sequence[dict[str, Any]]:
        cursor = (
            self.db[collection]
            .find(
                {"client_id": client_id, "key_version": {"$lt": latest}},
                projection={"wrapped_key": 1, "key_version": 1},
            )
            .limit(limit)
        )
        return [d async for d in cursor]

    async def set_wrapped(
        self, collection: str, record_id: str, old: str, new: str, version: int
    ) -> None:
        # Only if unchanged meanwhile (another replica may have rewrapped it already).
        await self.db[collection].update_one(
            {"_id": record_id, "wrapped_key": old},
            {"$set": {"wrapped_key": new, "key_version": version}},
        )
