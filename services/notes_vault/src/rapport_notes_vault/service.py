"""Notes-vault's use cases, one method each, callable without gRPC (tests drive jobs directly).

The order inside every write is the same: check who asks, validate, seal with Vault (the slow,
fallible step), then one Mongo transaction with the record, its audit entry and any outbox event.
A Vault outage therefore fails before anything is written, a Mongo outage writes nothing, and no
record exists without its audit entry. Reads are audited before the content is returned."""

from __future__ import annotations

import base64
import json
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, TypeVar

import grpc
from opentelemetry.metrics import CallbackOptions, Observation
from rapport.events.v1 import notes_pb2 as ev
from rapport.identity.v1 import identity_pb2, identity_pb2_grpc
from rapport_platform.auth import Principal
from rapport_platform.errors import (
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
)
from rapport_platform.outbox import Outbox
from rapport_platform.rpc import bearer
from rapport_platform.store import Session, Store
from rapport_platform.telemetry import meter, tracer
from rapport_platform.timestamps import to_timestamp

from rapport_notes_vault import domain
from rapport_notes_vault.crypto import Envelope, KeyGone, Sealed
from rapport_notes_vault.settings import NotesVaultSettings
from rapport_notes_vault.store import MEASURES, NOTES, NotesStore, sealed_of

log = logging.getLogger(__name__)
_tracer = tracer("rapport.notes_vault")
T = TypeVar("T")
Clock = Callable[[], datetime]

NOTE_SIGNED = "rapport.notes.note_signed"
BREAK_GLASS_USED = "rapport.notes.break_glass_used"
CARE_REVIEW_SUGGESTED = "rapport.notes.care_review_suggested"
SAFETY_FLAG = "rapport.notes.safety_flag"
ERASURE_REQUESTED = "rapport.notes.client_erasure_requested"
RECORDS_SHREDDED = "rapport.notes.client_records_shredded"
SYSTEM = domain.Caller("system", "system", "", True)
MAX_PAGE = 100
# Counted by the jobs round (a gauge's callback cannot ask the database); no labels: a count.
_unreviewed: list[int] = []


def _observe_unreviewed(_options: CallbackOptions) -> list[Observation]:
    return [Observation(_unreviewed[-1])] if _unreviewed else []


meter("rapport.notes_vault").create_observable_gauge(
    "rapport.notes.break_glass.unreviewed",
    callbacks=[_observe_unreviewed],
    description="emergency accesses that have ended and await their clinic admin's review",
)


def caller_of(p: Principal) -> domain.Caller:
    return domain.Caller(user_id=p.user_id, role=p.role, clinic_id=p.clinic_id, mfa=p.mfa)


def encode_cursor(at: datetime, record_id: str) -> str:
    return base64.urlsafe_b64encode(f"{at.isoformat()}|{record_id}".encode()).decode()


def decode_cursor(cursor: str) -> tuple[datetime, str] | None:
    if not cursor:
        return None
    try:
        at, _, rid = base64.urlsafe_b64decode(cursor.encode()).decode().partition("|")
        value = datetime.fromisoformat(at)
    except (ValueError, UnicodeDecodeError):
        raise InvalidArgument("cursor is not one this API gave", field="cursor") from None
    if not rid or value.tzinfo is None:
        raise InvalidArgument("cursor is not one this API gave", field="cursor")
    return value, rid


def page_limit(limit: int) -> int:
    if limit < 0 or limit > MAX_PAGE:
        raise InvalidArgument(f"limit must be between 1 and {MAX_PAGE}", field="limit")
    return limit or 20


@dataclass(frozen=True)
class NoteView:
    note: domain.Note
    content: domain.Content
    version_ids: list[str]
    access: str
    notice: str


@dataclass(frozen=True)
class MeasureView:
    measure_id: str
    client_id: str
    therapist_id: str
    instrument: str
    score: int
    severity: str
    flags: tuple[str, ...]
    taken_at: datetime
    recorded_by: str


class NotesVault:
    def __init__(
        self,
        *,
        store: Store,
        outbox: Outbox,
        envelope: Envelope,
        settings: NotesVaultSettings,
        clock: Clock,
        identity: identity_pb2_grpc.IdentityServiceStub | None = None,
    ) -> None:
        self.store = store
        self.repo = NotesStore(store)
        self.outbox = outbox
        self.envelope = envelope
        self.settings = settings
        self.clock = clock
        self.identity = identity

    def now(self) -> datetime:
        t = self.clock()
        return t.replace(microsecond=t.microsecond // 1000 * 1000)  # what BSON keeps

    # --- audit ----------------------------------------------------------------------------

    def _entry(
        self,
        caller: domain.Caller,
        action: str,
        outcome: str,
        *,
        client_id: str = "",
        resource_id: str = "",
        detail: str = "",
    ) -> domain.AuditEntry:
        return domain.AuditEntry(
            seq=0,
            at=self.now().isoformat(),
            actor_id=caller.user_id,
            actor_role=caller.role,
            action=action,
            outcome=outcome,
            client_id=client_id,
            resource_id=resource_id,
            detail=detail,
        )

    async def _write(
        self,
        entry: domain.AuditEntry | Sequence[domain.AuditEntry],
        effect: Callable[[Session], Awaitable[T]] | None = None,
    ) -> T | None:
        """The effect and its audit entry (or entries), in one transaction."""
        entries = [entry] if isinstance(entry, domain.AuditEntry) else list(entry)

        async def tx(session: Session) -> T | None:
            result = await effect(session) if effect else None
            for e in entries:
                await self.repo.append_audit(session, e)
            return result

        result = await self.store.transaction(tx)
        self.outbox.wake()
        return result

    async def _deny(
        self,
        caller: domain.Caller,
        action: str,
        exc: PermissionDenied,
        *,
        client_id: str = "",
        resource_id: str = "",
    ) -> None:
        reason = getattr(exc, "reason", "denied")
        await self._write(
            self._entry(
                caller,
                action,
                "denied",
                client_id=client_id,
                resource_id=resource_id,
                detail=reason,
            )
        )
        raise exc

    async def _guard(
        self,
        caller: domain.Caller,
        action: str,
        check: Callable[[], T],
        *,
        client_id: str = "",
        resource_id: str = "",
    ) -> T:
        """Run a permission check; a refusal is audited, then raised."""
        try:
            return check()
        except PermissionDenied as exc:
            await self._deny(caller, action, exc, client_id=client_id, resource_id=resource_id)
            raise AssertionError("unreachable") from None

    @staticmethod
    def _need(ok: bool, message: str, reason: str) -> None:
        if not ok:
            raise domain.Denied(message, reason)

    async def _not_erased(self, client_id: str) -> dict[str, Any]:
        state = await self.repo.client(client_id)
        if state.get("shredded_at") is not None:
            raise NotFound("this client's records were erased")
        return state

    # --- notes ----------------------------------------------------------------------------

    async def create_note(
        self,
        caller: domain.Caller,
        *,
        client_id: str,
        appointment_id: str,
        kind: str,
        content: domain.Content,
        sud: bool,
        shared_with_client: bool,
    ) -> domain.Note:
        action = "note.create"

        def allowed() -> None:
            self._need(caller.role == domain.THERAPIST, "only a therapist writes notes", "role")
            self._need(caller.mfa, "multi-factor authentication is required", "no_mfa")

        await self._guard(caller, action, allowed, client_id=client_id)
        checked = domain.validate_content(kind, content, self.settings.max_body_bytes)
        if not appointment_id:
            raise InvalidArgument("appointment_id is required", field="appointment_id")
        appt = await self.repo.appointment(appointment_id)
        await self._guard(
            caller,
            action,
            lambda: self._need(
                appt is not None
                and appt["therapist_id"] == caller.user_id
                and appt["client_id"] == client_id
                and appt["status"] in domain.TREATING,
                "no appointment of yours with this client",
                "not_treating",
            ),
            client_id=client_id,
        )
        assert appt is not None
        await self._not_erased(client_id)
        now = self.now()
        note = domain.new_note(
            note_id=str(uuid.uuid4()),
            client_id=client_id,
            author=caller,
            clinic_id=appt.get("clinic_id", ""),
            appointment_id=appointment_id,
            kind=kind,
            content=checked,
            sud=sud,
            shared_with_client=shared_with_client,
            now=now,
        )
        with _tracer.start_as_current_span(
            "notes.seal", attributes={"rapport.note_id": note.note_id}
        ):
            sealed = await self.envelope.seal(
                client_id, note.note_id, domain.aad(note.note_id, note.version), checked.to_bytes()
            )

        async def effect(session: Session) -> None:
            await self.repo.insert_note(session, note, sealed)
            await self._key_in_use(session, client_id, now)

        await self._write(
            self._entry(caller, action, "allowed", client_id=client_id, resource_id=note.note_id),
            effect,
        )
        return note

    async def _key_in_use(self, session: Session, client_id: str, now: datetime) -> None:
        await self.store.db["clients"].update_one(
            {"_id": client_id},
            {"$setOnInsert": {"key_created_at": now, "rotated_at": now, "shredded_at": None}},
            upsert=True,
            session=session,
        )

    async def _own_note(self, caller: domain.Caller, note_id: str, action: str) -> domain.Note:
        doc = await self.repo.note_doc(note_id)
        if doc is None:
            raise NotFound("no such note")
        note = self.repo.note_of(doc)

        def allowed() -> None:
            domain.require_author(note, caller)
            self._need(caller.mfa, "multi-factor authentication is required", "no_mfa")

        await self._guard(caller, action, allowed, client_id=note.client_id, resource_id=note_id)
        await self._not_erased(note.client_id)
        return note

    async def update_note(
        self, caller: domain.Caller, note_id: str, content: domain.Content
    ) -> domain.Note:
        note = await self._own_note(caller, note_id, "note.update")
        domain.editable(note)
        checked = domain.validate_content(note.kind, content, self.settings.max_body_bytes)
        updated = replace(note, format=checked.format)
        sealed = await self.envelope.seal(
            note.client_id, note.note_id, domain.aad(note.note_id, note.version), checked.to_bytes()
        )

        async def effect(session: Session) -> None:
            if not await self.repo.replace_note(session, updated, sealed):
                raise FailedPrecondition("a signed note is never edited: amend it")

        await self._write(
            self._entry(
                caller, "note.update", "allowed", client_id=note.client_id, resource_id=note_id
            ),
            effect,
        )
        return updated

    async def sign_note(self, caller: domain.Caller, note_id: str) -> domain.Note:
        note = await self._own_note(caller, note_id, "note.sign")
        signed = domain.sign(note, self.now())

        async def effect(session: Session) -> None:
            if not await self.repo.replace_note(session, signed):
                raise FailedPrecondition("this note is already signed")
            await self.outbox.add(
                session,
                NOTE_SIGNED,
                ev.NoteSigned(
                    note_id=signed.note_id,
                    client_id=signed.client_id,
                    author_id=signed.author_id,
                    clinic_id=signed.clinic_id,
                    appointment_id=signed.appointment_id,
                    version=signed.version,
                    occurred_at=to_timestamp(signed.signed_at),
                ),
            )

        await self._write(
            self._entry(
                caller, "note.sign", "allowed", client_id=note.client_id, resource_id=note_id
            ),
            effect,
        )
        return signed

    async def amend_note(
        self, caller: domain.Caller, note_id: str, content: domain.Content
    ) -> domain.Note:
        note = await self._own_note(caller, note_id, "note.amend")
        checked = domain.validate_content(note.kind, content, self.settings.max_body_bytes)
        versions = await self.repo.versions(note.root_note_id)
        new = domain.amendment(
            note,
            versions[-1].version,
            note_id=str(uuid.uuid4()),
            content=checked,
            now=self.now(),
        )
        sealed = await self.envelope.seal(
            new.client_id, new.note_id, domain.aad(new.note_id, new.version), checked.to_bytes()
        )

        async def effect(session: Session) -> None:
            await self.repo.insert_note(session, new, sealed)

        await self._write(
            self._entry(
                caller, "note.amend", "allowed", client_id=note.client_id, resource_id=new.note_id
            ),
            effect,
        )
        return new

    async def _context(
        self, caller: domain.Caller, client_id: str
    ) -> tuple[bool, list[domain.Consent], list[domain.BreakGlass]]:
        if caller.role != domain.THERAPIST:
            return False, [], []
        treats = await self.repo.treats(caller.user_id, client_id)
        consents = await self.repo.consents(client_id, caller.user_id)
        grants = await self.repo.grants(caller.user_id, client_id)
        return treats, consents, grants

    async def get_note(self, caller: domain.Caller, note_id: str) -> NoteView:
        doc = await self.repo.note_doc(note_id)
        if doc is None:
            raise NotFound("no such note")
        note = self.repo.note_of(doc)
        await self._not_erased(note.client_id)
        now = self.now()
        treats, consents, grants = await self._context(caller, note.client_id)
        access = await self._guard(
            caller,
            "note.read",
            lambda: domain.read_access(
                note, caller, treats=treats, consents=consents, grants=grants, now=now
            ),
            client_id=note.client_id,
            resource_id=note_id,
        )
        with _tracer.start_as_current_span("notes.open", attributes={"rapport.note_id": note_id}):
            try:
                plaintext = await self.envelope.open(
                    note.client_id,
                    note.note_id,
                    domain.aad(note.note_id, note.version),
                    sealed_of(doc),
                )
            except KeyGone:
                raise NotFound("this client's records were erased") from None
        content = domain.Content.from_bytes(plaintext)

        async def effect(session: Session) -> None:
            if access.disclosure:
                consent = access.consent
                await self.repo.insert_disclosure(
                    session,
                    {
                        "_id": str(uuid.uuid4()),
                        "client_id": note.client_id,
                        "note_id": note.note_id,
                        "recipient_id": caller.user_id,
                        "purpose": consent.purpose if consent else "emergency (break-glass)",
                        "consent_id": consent.consent_id if consent else "",
                        "basis": access.basis,
                        "sud": note.sud,
                        "disclosed_at": now,
                    },
                )

        await self._write(
            self._entry(
                caller,
                "note.read",
                "allowed",
                client_id=note.client_id,
                resource_id=note_id,
                detail=access.basis,
            ),
            effect,
        )
        versions = await self.repo.versions(note.root_note_id)
        notice = domain.REDISCLOSURE_NOTICE if note.sud and access.disclosure else ""
        return NoteView(note, content, [v.note_id for v in versions], access.basis, notice)

    async def list_notes(
        self, caller: domain.Caller, client_id: str, *, limit: int, cursor: str
    ) -> tuple[list[domain.Listed], str]:
        limit = page_limit(limit)
        before = decode_cursor(cursor)
        now = self.now()
        treats, consents, grants = await self._context(caller, client_id)
        authored = clinic_seen = False
        if caller.role == domain.THERAPIST and not treats:
            authored = await self.repo.has_notes(client_id, author_id=caller.user_id)
        elif caller.role == domain.CLINIC_ADMIN and caller.clinic_id:
            clinic_seen = caller.clinic_id in await self.repo.client_clinics(
                client_id
            ) or await self.repo.has_notes(client_id, clinic_id=caller.clinic_id)
        await self._guard(
            caller,
            "note.list",
            lambda: domain.require_listing(
                caller,
                client_id,
                treats=treats,
                grants=grants,
                authored=authored,
                clinic_seen=clinic_seen,
                now=now,
            ),
            client_id=client_id,
        )
        found: list[domain.Listed] = []
        next_cursor = ""
        while len(found) < limit:
            batch = await self.repo.client_notes(client_id, before=before, limit=limit * 2)
            for n in batch:
                before = (n.created_at, n.note_id)
                shown = domain.listing(
                    n, caller, treats=treats, consents=consents, grants=grants, now=now
                )
                if shown is not None:
                    found.append(shown)
                    if len(found) == limit:
                        next_cursor = encode_cursor(n.created_at, n.note_id)
                        break
            if len(batch) < limit * 2:
                break
        await self._write(self._entry(caller, "note.list", "allowed", client_id=client_id))
        return found, next_cursor

    # --- consents, disclosures, break-glass ------------------------------------------------

    async def grant_consent(
        self,
        caller: domain.Caller,
        *,
        client_id: str,
        recipient_id: str,
        purpose: str,
        covers_sud: bool,
        expires_at: datetime | None,
    ) -> domain.Consent:
        now = self.now()
        await self._guard(
            caller,
            "consent.grant",
            lambda: self._need(
                caller.role == domain.CLIENT and caller.user_id == client_id,
                "only the client gives consent to disclose their records",
                "not_self",
            ),
            client_id=client_id,
        )
        consent = domain.new_consent(
            consent_id=str(uuid.uuid4()),
            caller=caller,
            client_id=client_id,
            recipient_id=recipient_id,
            purpose=purpose,
            covers_sud=covers_sud,
            expires_at=expires_at,
            now=now,
        )

        async def effect(session: Session) -> None:
            await self.repo.insert_consent(session, consent)

        await self._write(
            self._entry(
                caller,
                "consent.grant",
                "allowed",
                client_id=client_id,
                resource_id=consent.consent_id,
                detail="part2" if covers_sud else "",
            ),
            effect,
        )
        return consent

    async def revoke_consent(self, caller: domain.Caller, consent_id: str) -> domain.Consent:
        consent = await self.repo.consent(consent_id)
        if consent is None:
            raise NotFound("no such consent")
        await self._guard(
            caller,
            "consent.revoke",
            lambda: self._need(
                caller.role == domain.CLIENT and caller.user_id == consent.client_id,
                "only the client revokes their consent",
                "not_self",
            ),
            client_id=consent.client_id,
            resource_id=consent_id,
        )
        now = self.now()

        async def effect(session: Session) -> None:
            await self.repo.revoke_consent(session, consent_id, now)

        await self._write(
            self._entry(
                caller,
                "consent.revoke",
                "allowed",
                client_id=consent.client_id,
                resource_id=consent_id,
            ),
            effect,
        )
        return await self.repo.consent(consent_id) or consent

    async def list_consents(self, caller: domain.Caller, client_id: str) -> list[domain.Consent]:
        if caller.role == domain.CLIENT and caller.user_id == client_id:
            return await self.repo.consents(client_id)
        if caller.role == domain.THERAPIST:
            # The consents naming the caller; a therapist neither named nor treating the client
            # is refused, not answered an empty list.
            mine = await self.repo.consents(client_id, caller.user_id)
            if mine or await self.repo.treats(caller.user_id, client_id):
                return mine
            await self._deny(
                caller,
                "consent.list",
                domain.Denied("you neither treat this client nor hold their consent", "stranger"),
                client_id=client_id,
            )
        await self._deny(
            caller,
            "consent.list",
            domain.Denied("only the client or a named recipient", "not_self"),
            client_id=client_id,
        )
        return []

    async def list_disclosures(
        self, caller: domain.Caller, client_id: str, *, limit: int, cursor: str
    ) -> tuple[list[dict[str, Any]], str]:
        limit = page_limit(limit)
        before = decode_cursor(cursor)
        await self._guard(
            caller,
            "disclosure.list",
            lambda: self._need(
                caller.role == domain.CLIENT and caller.user_id == client_id,
                "only the client lists the accounting of their disclosures",
                "not_self",
            ),
            client_id=client_id,
        )
        items = await self.repo.disclosures(client_id, before=before, limit=limit)
        await self._write(self._entry(caller, "disclosure.list", "allowed", client_id=client_id))
        nxt = (
            encode_cursor(items[-1]["disclosed_at"], items[-1]["_id"])
            if len(items) == limit
            else ""
        )
        return items, nxt

    async def break_glass(
        self, caller: domain.Caller, *, client_id: str, reason: str, minutes: int
    ) -> domain.BreakGlass:
        clinics = await self.repo.client_clinics(client_id)
        now = self.now()
        grant = await self._guard(
            caller,
            "break_glass",
            lambda: domain.break_glass(
                grant_id=str(uuid.uuid4()),
                caller=caller,
                client_id=client_id,
                client_clinics=clinics,
                reason=reason,
                minutes=minutes,
                max_minutes=self.settings.break_glass_max_minutes,
                now=now,
            ),
            client_id=client_id,
        )
        # The reason may describe the client: it is sealed like a note, never logged.
        sealed = await self.envelope.seal(
            client_id, grant.grant_id, domain.aad(grant.grant_id, 1), reason.encode()
        )

        async def effect(session: Session) -> None:
            await self.repo.insert_grant(session, grant)
            await self.store.db["break_glass"].update_one(
                {"_id": grant.grant_id},
                {
                    "$set": {
                        "reason_wrapped_key": sealed.wrapped_key,
                        "reason_nonce": sealed.nonce,
                        "reason_ciphertext": sealed.ciphertext,
                    }
                },
                session=session,
            )
            await self._key_in_use(session, client_id, now)
            await self.outbox.add(
                session,
                BREAK_GLASS_USED,
                ev.BreakGlassUsed(
                    grant_id=grant.grant_id,
                    client_id=client_id,
                    therapist_id=caller.user_id,
                    clinic_id=grant.clinic_id,
                    expires_at=to_timestamp(grant.expires_at),
                    review_required=True,
                    occurred_at=to_timestamp(now),
                ),
                event_id=f"break-glass:{grant.grant_id}",
            )

        await self._write(
            self._entry(
                caller, "break_glass", "allowed", client_id=client_id, resource_id=grant.grant_id
            ),
            effect,
        )
        return grant

    async def _grant_view(self, doc: dict[str, Any]) -> dict[str, Any]:
        """A grant as its reviewer sees it: the reason opened (None once the client's records
        were erased) and how many records the therapist read under it."""
        grant = self.repo.grant_of(doc)
        reason: str | None = None
        if doc.get("reason_ciphertext") is not None:
            sealed = Sealed(
                doc["reason_wrapped_key"],
                bytes(doc["reason_nonce"]),
                bytes(doc["reason_ciphertext"]),
            )
            try:
                opened = await self.envelope.open(
                    grant.client_id, grant.grant_id, domain.aad(grant.grant_id, 1), sealed
                )
                reason = opened.decode()
            except KeyGone:
                reason = None
        return {"grant": grant, "reason": reason, "records_read": await self.repo.read_under(grant)}

    async def list_break_glass(
        self, caller: domain.Caller, clinic_id: str, *, pending_only: bool, limit: int, cursor: str
    ) -> tuple[list[dict[str, Any]], str]:
        limit = page_limit(limit)
        before = decode_cursor(cursor)
        await self._guard(
            caller,
            "break_glass.list",
            lambda: domain.may_review_break_glass(caller, clinic_id),
            resource_id=clinic_id,
        )
        docs = await self.repo.clinic_grants(
            clinic_id, pending_only=pending_only, before=before, limit=limit
        )
        views = [await self._grant_view(d) for d in docs]
        # Each reason shown is a read of that client's record: one audit entry per grant.
        await self._write(
            [
                self._entry(
                    caller,
                    "break_glass.read",
                    "allowed",
                    client_id=v["grant"].client_id,
                    resource_id=v["grant"].grant_id,
                )
                for v in views
            ]
            or self._entry(caller, "break_glass.list", "allowed", resource_id=clinic_id)
        )
        nxt = encode_cursor(docs[-1]["created_at"], docs[-1]["_id"]) if len(docs) == limit else ""
        return views, nxt

    async def review_break_glass(
        self, caller: domain.Caller, grant_id: str, outcome: str
    ) -> dict[str, Any]:
        doc = await self.repo.grant(grant_id)
        if doc is None:
            raise NotFound("no such emergency access")
        grant = self.repo.grant_of(doc)
        await self._guard(
            caller,
            "break_glass.review",
            lambda: domain.may_review_break_glass(caller, grant.clinic_id),
            client_id=grant.client_id,
            resource_id=grant_id,
        )
        reviewed = domain.review_break_glass(
            grant, reviewer_id=caller.user_id, outcome=outcome, now=self.now()
        )

        async def effect(session: Session) -> None:
            if not await self.repo.review_grant(session, reviewed):
                raise FailedPrecondition("this emergency access was reviewed already")

        await self._write(
            self._entry(
                caller,
                "break_glass.review",
                "allowed",
                client_id=grant.client_id,
                resource_id=grant_id,
                detail=outcome,
            ),
            effect,
        )
        return await self._grant_view(
            doc
            | {
                "reviewed_at": reviewed.reviewed_at,
                "reviewed_by": reviewed.reviewed_by,
                "review_outcome": reviewed.review_outcome,
            }
        )

    # --- erasure, legal hold, keys --------------------------------------------------------

    async def request_erasure(self, caller: domain.Caller, client_id: str) -> dict[str, Any]:
        await self._guard(
            caller,
            "erasure.request",
            lambda: self._need(
                (caller.role == domain.CLIENT and caller.user_id == client_id)
                or (caller.operator and caller.mfa),
                "only the client (or a platform operator) asks for erasure",
                "not_self",
            ),
            client_id=client_id,
        )
        state = await self._not_erased(client_id)
        now = self.now()
        last = await self.repo.last_record_at(client_id)
        due = domain.shred_after(now, last, await self._retention_of(client_id))
        counts: dict[str, int] = {}

        async def effect(session: Session) -> None:
            counts["drafts"] = await self.repo.delete_drafts(session, client_id)
            counts["consents"] = await self.repo.end_consents(session, client_id, now)
            await self.store.db["break_glass"].delete_many(
                {"client_id": client_id}, session=session
            )
            await self.repo.update_client(
                client_id,
                {
                    "erasure_requested_at": now,
                    "shred_after": due,
                    "jurisdiction": None,
                    "shredded_at": None,
                },
                session=session,
            )
            await self.outbox.add(
                session,
                ERASURE_REQUESTED,
                ev.ClientErasureRequested(
                    client_id=client_id,
                    shred_after=to_timestamp(due),
                    occurred_at=to_timestamp(now),
                ),
            )

        await self._write(
            self._entry(caller, "erasure.request", "allowed", client_id=client_id), effect
        )
        return {
            "client_id": client_id,
            "shred_after": due,
            "legal_hold": bool(state.get("legal_hold")),
            "drafts_destroyed": counts.get("drafts", 0),
            "consents_ended": counts.get("consents", 0),
        }

    async def _retention_of(self, client_id: str) -> int:
        clinics = await self.repo.clinics_seen(client_id)
        per_clinic = await self.repo.retentions(clinics) if clinics else {}
        return domain.retention_for(clinics, per_clinic, self.settings.retention_days)

    def _clinic_admin(self, caller: domain.Caller, clinic_id: str, *, write: bool) -> None:
        self._need(
            caller.role == domain.CLINIC_ADMIN
            and caller.clinic_id == clinic_id
            and (caller.mfa or not write),
            "the clinic's admin (with MFA to change it) sets its record retention",
            "not_admin",
        )

    async def clinic_retention(self, caller: domain.Caller, clinic_id: str) -> dict[str, Any]:
        await self._guard(
            caller,
            "retention.read",
            lambda: self._clinic_admin(caller, clinic_id, write=False),
            resource_id=clinic_id,
        )
        days = (await self.repo.retentions({clinic_id})).get(clinic_id)
        return self._retention_view(clinic_id, days)

    async def set_clinic_retention(
        self, caller: domain.Caller, clinic_id: str, days: int
    ) -> dict[str, Any]:
        await self._guard(
            caller,
            "retention.set",
            lambda: self._clinic_admin(caller, clinic_id, write=True),
            resource_id=clinic_id,
        )
        domain.check_retention(days, self.settings.retention_days)
        now = self.now()

        async def effect(session: Session) -> None:
            await self.repo.set_retention(session, clinic_id, days, by=caller.user_id, at=now)

        await self._write(
            self._entry(
                caller, "retention.set", "allowed", resource_id=clinic_id, detail=f"{days}d"
            ),
            effect,
        )
        return self._retention_view(clinic_id, days)

    def _retention_view(self, clinic_id: str, days: int | None) -> dict[str, Any]:
        minimum = self.settings.retention_days
        return {
            "clinic_id": clinic_id,
            "retention_days": max(days or minimum, minimum),
            "minimum_days": minimum,
        }

    async def set_legal_hold(self, caller: domain.Caller, client_id: str, hold: bool) -> bool:
        clinics = await self.repo.client_clinics(client_id)
        await self._guard(
            caller,
            "legal_hold",
            lambda: self._need(
                caller.mfa
                and (
                    caller.operator
                    or (caller.role == domain.CLINIC_ADMIN and caller.clinic_id in clinics)
                ),
                "a clinic admin of the client's clinic (with MFA) sets legal holds",
                "not_admin",
            ),
            client_id=client_id,
        )

        async def effect(session: Session) -> None:
            await self.repo.update_client(client_id, {"legal_hold": hold}, session=session)

        await self._write(
            self._entry(
                caller, "legal_hold", "allowed", client_id=client_id, detail="on" if hold else "off"
            ),
            effect,
        )
        return hold

    async def shred_due(self) -> list[str]:
        """Destroy the keys of clients whose retention ended (no legal hold). Vault first: a
        crash after it leaves a key already gone, which the next round records."""
        now = self.now()
        done = []
        for state in await self.repo.clients_due(now):
            client_id = state["_id"]
            if not domain.may_shred(
                requested=True,
                due=state.get("shred_after"),
                legal_hold=bool(state.get("legal_hold")),
                now=now,
            ):
                continue
            # A clinic may have lengthened its retention since the request: the date moves on.
            due = domain.shred_after(
                state["erasure_requested_at"],
                await self.repo.last_record_at(client_id),
                await self._retention_of(client_id),
            )
            if due > now:
                await self.repo.update_client(client_id, {"shred_after": due})
                continue
            await self.envelope.shred(client_id)

            async def effect(session: Session, client_id: str = client_id) -> None:
                await self.repo.update_client(client_id, {"shredded_at": now}, session=session)
                await self.outbox.add(
                    session,
                    RECORDS_SHREDDED,
                    ev.ClientRecordsShredded(client_id=client_id, occurred_at=to_timestamp(now)),
                    event_id=f"shredded:{client_id}",
                )

            await self._write(
                self._entry(SYSTEM, "key.shred", "allowed", client_id=client_id), effect
            )
            done.append(client_id)
        return done

    async def rotate_key(self, client_id: str) -> int:
        version = await self.envelope.rotate(client_id)
        now = self.now()

        async def effect(session: Session) -> None:
            await self.repo.update_client(
                client_id, {"rotated_at": now, "key_version": version}, session=session
            )

        await self._write(
            self._entry(SYSTEM, "key.rotate", "allowed", client_id=client_id, detail=f"v{version}"),
            effect,
        )
        return version

    async def rotate_due(self) -> int:
        days = self.settings.key_rotation_days
        if not days:
            return 0
        now = self.now()
        rotated = 0
        for state in await self.repo.clients_with_keys():
            at = state.get("rotated_at") or state.get("key_created_at")
            if at is not None and (now - at).days >= days:
                await self.rotate_key(state["_id"])
                rotated += 1
        return rotated

    async def rewrap(self, client_id: str) -> int:
        """Re-encrypt the client's wrapped data keys under the newest key version, in Vault."""
        state = await self.repo.client(client_id)
        latest = int(state.get("key_version") or await self.envelope.latest_version(client_id))
        count = 0
        for collection in (NOTES, MEASURES):
            while True:
                stale = await self.repo.stale_wrapped(collection, client_id, latest)
                if not stale:
                    break
                for doc in stale:
                    new = await self.envelope.rewrap(client_id, doc["_id"], doc["wrapped_key"])
                    await self.repo.set_wrapped(
                        collection, doc["_id"], doc["wrapped_key"], new, latest
                    )
                    count += 1
        return count

    async def run_jobs(self) -> None:
        await self.rotate_due()
        for state in await self.repo.clients_with_keys():
            await self.rewrap(state["_id"])
        await self.shred_due()
        await self.count_unreviewed()

    async def count_unreviewed(self) -> int:
        """Ended emergency accesses not reviewed yet: the gauge an alert watches."""
        n = await self.repo.unreviewed_grants(self.now())
        _unreviewed[:] = [n]
        return n

    async def verify_audit(self, caller: domain.Caller) -> domain.ChainReport:
        await self._guard(
            caller,
            "audit.verify",
            lambda: self._need(
                caller.operator and caller.mfa,
                "only a platform operator (with MFA) verifies the audit log",
                "not_operator",
            ),
        )
        entries, head_seq, head_hash = await self.repo.audit_entries()
        report = domain.verify_chain(entries, head_seq, head_hash)
        if report.intact:  # appending to a broken chain would bury the break under new entries
            await self._write(self._entry(caller, "audit.verify", "allowed"))
        return report

    # --- measures -------------------------------------------------------------------------

    async def _jurisdiction(self, caller: domain.Caller, principal_token: str) -> str:
        if self.identity is None or caller.role != domain.CLIENT:
            return ""
        try:
            reply = await self.identity.GetMe(
                identity_pb2.GetMeRequest(),
                metadata=bearer(principal_token),
                timeout=self.settings.identity_timeout_seconds,
            )
        except grpc.aio.AioRpcError:
            return ""  # never hold back a safety answer for identity: generic resources then
        return str(reply.user.jurisdiction)

    async def _scores(
        self, docs: list[dict[str, Any]]
    ) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        out = []
        for d in docs:
            try:
                plain = await self.envelope.open(
                    d["client_id"], d["_id"], domain.aad(d["_id"], 1), sealed_of(d)
                )
            except KeyGone:
                continue  # an erased client counts no more
            out.append((d, json.loads(plain)))
        return out

    async def record_measure(
        self,
        caller: domain.Caller,
        *,
        client_id: str,
        instrument: str,
        answers: list[int],
        therapist_id: str,
        token: str = "",
    ) -> tuple[MeasureView, tuple[domain.CrisisResource, ...]]:
        therapists = await self.repo.therapists_of(client_id)
        if caller.role == domain.CLIENT:
            await self._guard(
                caller,
                "measure.record",
                lambda: self._need(caller.user_id == client_id, "not your record", "not_self"),
                client_id=client_id,
            )
        else:
            await self._guard(
                caller,
                "measure.record",
                lambda: self._need(
                    caller.role == domain.THERAPIST and caller.user_id in therapists and caller.mfa,
                    "only the client or their treating therapist (with MFA) records measures",
                    "not_treating",
                ),
                client_id=client_id,
            )
            therapist_id = caller.user_id
        scored = domain.score(instrument, answers)
        if therapist_id:
            if therapist_id not in therapists:
                raise InvalidArgument(
                    "therapist_id is not treating this client", field="therapist_id"
                )
        elif len(therapists) == 1:
            therapist_id = next(iter(therapists))
        elif not therapists:
            raise FailedPrecondition("a measure follows a booked session: none yet")
        else:
            raise InvalidArgument("name the therapist this measure is for", field="therapist_id")
        await self._not_erased(client_id)
        now = self.now()
        jurisdiction = await self._jurisdiction(caller, token)
        if not jurisdiction:
            jurisdiction = str((await self.repo.client(client_id)).get("jurisdiction") or "")
        prior = await self._scores(
            await self.repo.measures(
                {"client_id": client_id, "therapist_id": therapist_id, "instrument": instrument}
            )
        )
        series = [p["score"] for _, p in prior] + [scored.score]
        review = domain.care_review(series, self.settings.care_review_after_sessions)
        flags = tuple(
            f
            for f, on in ((domain.SAFETY, scored.safety), (domain.CARE_REVIEW, bool(review)))
            if on
        )
        measure_id = str(uuid.uuid4())
        record = domain.MeasureRecord(
            measure_id=measure_id,
            client_id=client_id,
            therapist_id=therapist_id,
            clinic_id=therapists[therapist_id],
            instrument=instrument,
            recorded_by=caller.role,
            taken_at=now,
        )
        payload = json.dumps(
            {
                "answers": list(scored.answers),
                "score": scored.score,
                "severity": scored.severity,
                "flags": list(flags),
            }
        ).encode()
        sealed = await self.envelope.seal(client_id, measure_id, domain.aad(measure_id, 1), payload)

        async def effect(session: Session) -> None:
            await self.repo.insert_measure(session, record, sealed)
            await self._key_in_use(session, client_id, now)
            if jurisdiction:
                await self.repo.update_client(
                    client_id, {"jurisdiction": jurisdiction}, session=session
                )
            if scored.safety:
                await self.outbox.add(
                    session,
                    SAFETY_FLAG,
                    ev.SafetyFlag(
                        client_id=client_id,
                        therapist_id=therapist_id,
                        clinic_id=record.clinic_id,
                        measure_id=measure_id,
                        occurred_at=to_timestamp(now),
                    ),
                    event_id=f"safety:{measure_id}",
                )
            if review:
                await self.outbox.add(
                    session,
                    CARE_REVIEW_SUGGESTED,
                    ev.CareReviewSuggested(
                        client_id=client_id,
                        therapist_id=therapist_id,
                        clinic_id=record.clinic_id,
                        instrument=instrument,
                        measure_id=measure_id,
                        reason=review,
                        sessions=len(series),
                        occurred_at=to_timestamp(now),
                    ),
                    event_id=f"care-review:{measure_id}",
                )

        await self._write(
            self._entry(
                caller, "measure.record", "allowed", client_id=client_id, resource_id=measure_id
            ),
            effect,
        )
        view = MeasureView(
            measure_id,
            client_id,
            therapist_id,
            instrument,
            scored.score,
            scored.severity,
            flags,
            now,
            caller.role,
        )
        resources = domain.crisis_resources(jurisdiction) if scored.safety else ()
        return view, resources

    async def list_measures(
        self, caller: domain.Caller, client_id: str, instrument: str
    ) -> tuple[list[MeasureView], list[domain.Trend]]:
        treats = caller.role == domain.THERAPIST and await self.repo.treats(
            caller.user_id, client_id
        )
        await self._guard(
            caller,
            "measure.list",
            lambda: self._need(
                (caller.role == domain.CLIENT and caller.user_id == client_id)
                or (treats and caller.mfa),
                "only the client or their treating therapist (with MFA)",
                "not_treating",
            ),
            client_id=client_id,
        )
        if instrument and instrument not in domain.ITEMS:
            raise InvalidArgument("instrument must be PHQ9 or GAD7", field="instrument")
        await self._not_erased(client_id)
        query: dict[str, Any] = {"client_id": client_id}
        if instrument:
            query["instrument"] = instrument
        views = [
            MeasureView(
                d["_id"],
                d["client_id"],
                d["therapist_id"],
                d["instrument"],
                p["score"],
                p["severity"],
                tuple(p.get("flags", ())),
                d["taken_at"],
                d["recorded_by"],
            )
            for d, p in await self._scores(await self.repo.measures(query))
        ]
        await self._write(self._entry(caller, "measure.list", "allowed", client_id=client_id))
        return views, domain.trends([(v.instrument, v.score) for v in views])

    async def outcomes(
        self, caller: domain.Caller, *, clinic_id: str, therapist_id: str, instrument: str
    ) -> domain.Outcomes:
        if bool(clinic_id) == bool(therapist_id):
            raise InvalidArgument("ask for one clinic or one therapist", field="clinic_id")
        instrument = instrument or domain.PHQ9
        if instrument not in domain.ITEMS:
            raise InvalidArgument("instrument must be PHQ9 or GAD7", field="instrument")
        await self._guard(
            caller,
            "outcomes.read",
            lambda: self._need(
                (caller.role == domain.CLINIC_ADMIN and clinic_id and caller.clinic_id == clinic_id)
                or (caller.role == domain.THERAPIST and caller.user_id == therapist_id),
                "a clinic's admin or the therapist themself",
                "not_owner",
            ),
            resource_id=clinic_id or therapist_id,
        )
        query: dict[str, Any] = {"instrument": instrument}
        query.update({"clinic_id": clinic_id} if clinic_id else {"therapist_id": therapist_id})
        per_client: dict[str, list[int]] = {}
        for d, p in await self._scores(await self.repo.measures(query)):
            per_client.setdefault(d["client_id"], []).append(p["score"])
        await self._write(
            self._entry(caller, "outcomes.read", "allowed", resource_id=clinic_id or therapist_id)
        )
        return domain.outcomes(instrument, per_client, self.settings.min_cell_size)


def utc_now() -> datetime:
    return datetime.now(UTC)
