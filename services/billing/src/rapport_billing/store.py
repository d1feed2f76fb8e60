"""Billing's Mongo repository. Journal entries are only ever inserted (their ids derive from the
invoice and the change, so a retried write is a duplicate key, never a second entry); balances
are aggregations over postings. Invoices are the one mutable record, always changed in the same
transaction as the entries that justify the change."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel, ReturnDocument
from rapport_platform.store import Session, Store, from_document, to_document

from rapport_billing import domain

INVOICES, ENTRIES, CLINICS, SUPERBILLS, PAYOUTS = (
    "invoices",
    "entries",
    "clinics",
    "superbills",
    "payouts",
)

INDEXES = {
    INVOICES: [
        IndexModel([("appointment_id", ASCENDING)], unique=True),
        IndexModel([("client_id", ASCENDING), ("created_at", DESCENDING), ("_id", DESCENDING)]),
        IndexModel([("therapist_id", ASCENDING), ("created_at", DESCENDING), ("_id", DESCENDING)]),
        IndexModel([("clinic_id", ASCENDING), ("created_at", DESCENDING), ("_id", DESCENDING)]),
        IndexModel([("therapist_id", ASCENDING), ("earned_at", ASCENDING)]),
        IndexModel([("pending_action", ASCENDING), ("next_action_at", ASCENDING)]),
        IndexModel([("held", ASCENDING), ("hold_expires_at", ASCENDING)]),
        IndexModel([("payment_id", ASCENDING)]),
    ],
    ENTRIES: [
        IndexModel([("postings.account", ASCENDING), ("at", ASCENDING)]),
        IndexModel([("clinic_id", ASCENDING), ("at", ASCENDING)]),
        IndexModel([("invoice_id", ASCENDING)]),
    ],
    CLINICS: [],
    SUPERBILLS: [],
    PAYOUTS: [IndexModel([("status", ASCENDING), ("next_action_at", ASCENDING)])],
}


def invoice_to_doc(inv: domain.Invoice) -> dict[str, Any]:
    return to_document(inv, id_field="invoice_id")


def invoice_from_doc(doc: dict[str, Any]) -> domain.Invoice:
    history = tuple(domain.StatusChange(h["status"], h["at"]) for h in doc.get("history", []))
    by_hand = tuple(domain.ByHand(**r) for r in doc.get("by_hand", []))
    return from_document(
        domain.Invoice, doc, id_field="invoice_id", history=history, by_hand=by_hand
    )


def entry_to_doc(e: domain.JournalEntry) -> dict[str, Any]:
    return {
        "_id": e.entry_id,
        "kind": e.kind,
        "invoice_id": e.invoice_id,
        "clinic_id": e.clinic_id,
        "at": e.at,
        "postings": [
            {"account": p.account, "amount_minor": p.amount_minor, "currency": p.currency}
            for p in e.postings
        ],
    }


def entry_from_doc(doc: dict[str, Any]) -> domain.JournalEntry:
    return domain.JournalEntry(
        entry_id=doc["_id"],
        kind=doc["kind"],
        invoice_id=doc["invoice_id"],
        clinic_id=doc["clinic_id"],
        at=doc["at"],
        postings=tuple(
            domain.Posting(p["account"], int(p["amount_minor"]), p["currency"])
            for p in doc["postings"]
        ),
    )


class BillingStore:
    def __init__(self, store: Store) -> None:
        self.store = store
        db = store.db
        self.invoices = db[INVOICES]
        self.entries = db[ENTRIES]
        self.clinics = db[CLINICS]
        self.superbills = db[SUPERBILLS]
        self.payouts = db[PAYOUTS]

    # invoices
    async def invoice_for(
        self, appointment_id: str, session: Session | None = None
    ) -> domain.Invoice | None:
        doc = await self.invoices.find_one({"appointment_id": appointment_id}, session=session)
        return invoice_from_doc(doc) if doc else None

    async def invoice(
        self, invoice_id: str, session: Session | None = None
    ) -> domain.Invoice | None:
        doc = await self.invoices.find_one({"_id": invoice_id}, session=session)
        return invoice_from_doc(doc) if doc else None

    async def invoice_by_payment(
        self, payment_id: str, session: Session | None = None
    ) -> domain.Invoice | None:
        doc = await self.invoices.find_one({"payment_id": payment_id}, session=session)
        return invoice_from_doc(doc) if doc else None

    async def save_invoice(self, session: Session, inv: domain.Invoice) -> None:
        await self.invoices.replace_one(
            {"_id": inv.invoice_id}, invoice_to_doc(inv), upsert=True, session=session
        )

    async def next_attempt(self, invoice_id: str) -> int:
        doc = await self.invoices.find_one_and_update(
            {"_id": invoice_id}, {"$inc": {"attempt": 1}}, return_document=ReturnDocument.AFTER
        )
        assert doc is not None
        return int(doc["attempt"])

    async def append(self, session: Session, entries: Iterable[domain.JournalEntry]) -> None:
        """Append-only: insert, never update or delete a posting."""
        docs = [entry_to_doc(e) for e in entries]
        if docs:
            await self.entries.insert_many(docs, ordered=True, session=session)

    async def list_invoices(
        self, scope: dict[str, str], limit: int, after: tuple[datetime, str] | None
    ) -> list[domain.Invoice]:
        query: dict[str, Any] = dict(scope)
        if after is not None:
            at, iid = after
            query["$or"] = [{"created_at": {"$lt": at}}, {"created_at": at, "_id": {"$lt": iid}}]
        cursor = (
            self.invoices.find(query)
            .sort([("created_at", DESCENDING), ("_id", DESCENDING)])
            .limit(limit + 1)
        )
        return [invoice_from_doc(d) async for d in cursor]

    async def due_actions(self, now: datetime, limit: int = 50) -> list[domain.Invoice]:
        cursor = self.invoices.find(
            {
                "pending_action": {"$in": [domain.CAPTURE, domain.RELEASE, domain.REFUND]},
                "next_action_at": {"$lte": now},
            }
        ).limit(limit)
        return [invoice_from_doc(d) async for d in cursor]

    async def lapsed_holds(self, before: datetime, limit: int = 50) -> list[domain.Invoice]:
        cursor = self.invoices.find(
            {
                "held": True,
                "confirmed": False,
                "hold_expires_at": {"$lte": before},
                "status": {"$in": [domain.OPEN, domain.AUTHORIZED]},
            }
        ).limit(limit)
        return [invoice_from_doc(d) async for d in cursor]

    async def earned_in(
        self, therapist_id: str, start: datetime, end: datetime
    ) -> list[domain.Invoice]:
        cursor = self.invoices.find(
            {"therapist_id": therapist_id, "earned_at": {"$gte": start, "$lt": end}}
        )
        return [invoice_from_doc(d) async for d in cursor]

    # ledger
    async def credited(self, account: str, currency: str, start: datetime, end: datetime) -> int:
        """What the ledger credited `account` between start and end (a positive number)."""
        pipeline: list[dict[str, Any]] = [
            # Earned sessions only: a payout (a debit) or its reversal after a failure, in a later
            # month, must not change how a closed month reconciles.
            {
                "$match": {
                    "postings.account": account,
                    "kind": domain.EARN,
                    "at": {"$gte": start, "$lt": end},
                }
            },
            {"$unwind": "$postings"},
            {
                "$match": {
                    "postings.account": account,
                    "postings.currency": currency,
                    "postings.amount_minor": {"$lt": 0},
                }
            },
            {"$group": {"_id": None, "total": {"$sum": "$postings.amount_minor"}}},
        ]
        rows = [r async for r in await self.entries.aggregate(pipeline)]
        return -int(rows[0]["total"]) if rows else 0

    async def ledger(self, clinic_id: str | None = None) -> list[domain.JournalEntry]:
        query = {"clinic_id": clinic_id} if clinic_id is not None else {}
        return [entry_from_doc(d) async for d in self.entries.find(query).sort("at", ASCENDING)]

    async def entries_of(self, invoice_id: str) -> list[domain.JournalEntry]:
        cursor = self.entries.find({"invoice_id": invoice_id}).sort("at", ASCENDING)
        return [entry_from_doc(d) async for d in cursor]

    # clinics
    async def clinic(self, clinic_id: str, session: Session | None = None) -> dict[str, Any] | None:
        return await self.clinics.find_one({"_id": clinic_id}, session=session)

    async def learn_clinic(
        self, clinic_id: str, commission_bps: int, currency: str, session: Session | None = None
    ) -> None:
        await self.clinics.update_one(
            {"_id": clinic_id},
            {"$set": {"commission_bps": commission_bps, "currency": currency}},
            upsert=True,
            session=session,
        )

    async def set_commission(
        self, clinic_id: str, commission_bps: int, session: Session | None = None
    ) -> None:
        await self.clinics.update_one(
            {"_id": clinic_id}, {"$set": {"commission_bps": commission_bps}}, session=session
        )

    async def put_clinic_billing(self, clinic_id: str, fields: dict[str, Any]) -> dict[str, Any]:
        await self.clinics.update_one({"_id": clinic_id}, {"$set": fields}, upsert=True)
        doc = await self.clinic(clinic_id)
        assert doc is not None
        return doc
