"""Notes-vault's gRPC entrypoint: authenticate, proto <-> domain, call the use case."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from rapport.notes.v1 import notes_pb2 as pb
from rapport.notes.v1 import notes_pb2_grpc
from rapport_platform.auth import TokenVerifier
from rapport_platform.errors import InvalidArgument
from rapport_platform.timestamps import to_timestamp

from rapport_notes_vault import domain
from rapport_notes_vault.service import MeasureView, NotesVault, caller_of

Ctx = grpc.aio.ServicerContext
ID_MAX = 64


def _id(value: str, name: str) -> str:
    if not value or len(value) > ID_MAX or not value.replace("-", "").replace("_", "").isalnum():
        raise InvalidArgument(f"{name} is required (letters, digits, - and _)", field=name)
    return value


def _time(value: Timestamp) -> datetime | None:
    if value.seconds == 0 and value.nanos == 0:
        return None
    return value.ToDatetime(tzinfo=UTC)


def content_of(c: pb.NoteContent) -> domain.Content:
    return domain.Content(format=c.format, sections=dict(c.sections), body=c.body)


def content_pb(c: domain.Content) -> pb.NoteContent:
    return pb.NoteContent(format=c.format, sections=dict(c.sections), body=c.body)


def note_pb(n: domain.Note, *, clinical: bool = True) -> pb.NoteMetadata:
    """`clinical` False (a clinic admin's listing): kind, format, sud and shared_with_client are
    left out, and clinical_withheld says so (an unset sud is not a "no")."""
    meta = pb.NoteMetadata(
        note_id=n.note_id,
        client_id=n.client_id,
        author_id=n.author_id,
        clinic_id=n.clinic_id,
        appointment_id=n.appointment_id,
        status=n.status,
        version=n.version,
        root_note_id=n.root_note_id,
        amends_note_id=n.amends_note_id,
        created_at=to_timestamp(n.created_at),
        signed_at=to_timestamp(n.signed_at),
        clinical_withheld=not clinical,
    )
    if clinical:
        meta.kind, meta.format = n.kind, n.format
        meta.sud, meta.shared_with_client = n.sud, n.shared_with_client
    return meta


def consent_pb(c: domain.Consent, now: datetime) -> pb.Consent:
    return pb.Consent(
        consent_id=c.consent_id,
        client_id=c.client_id,
        recipient_id=c.recipient_id,
        purpose=c.purpose,
        covers_sud=c.covers_sud,
        created_at=to_timestamp(c.created_at),
        expires_at=to_timestamp(c.expires_at),
        revoked_at=to_timestamp(c.revoked_at),
        status=c.status(now),
    )


def measure_pb(m: MeasureView) -> pb.Measure:
    return pb.Measure(
        measure_id=m.measure_id,
        client_id=m.client_id,
        therapist_id=m.therapist_id,
        instrument=m.instrument,
        score=m.score,
        severity=m.severity,
        flags=list(m.flags),
        taken_at=to_timestamp(m.taken_at),
        recorded_by=m.recorded_by,
    )


class NotesApi(notes_pb2_grpc.NotesServiceServicer):
    def __init__(self, service: NotesVault, verifier: TokenVerifier) -> None:
        self.service = service
        self.verifier = verifier

    async def _caller(self, context: Ctx) -> domain.Caller:
        return caller_of(await self.verifier.authenticate(context))

    async def CreateNote(
        self, request: pb.CreateNoteRequest, context: Ctx
    ) -> pb.CreateNoteResponse:
        caller = await self._caller(context)
        note = await self.service.create_note(
            caller,
            client_id=_id(request.client_id, "client_id"),
            appointment_id=_id(request.appointment_id, "appointment_id"),
            kind=request.kind,
            content=content_of(request.content),
            sud=request.sud,
            shared_with_client=request.shared_with_client,
        )
        return pb.CreateNoteResponse(note=note_pb(note))

    async def UpdateNote(
        self, request: pb.UpdateNoteRequest, context: Ctx
    ) -> pb.UpdateNoteResponse:
        caller = await self._caller(context)
        note = await self.service.update_note(
            caller, _id(request.note_id, "note_id"), content_of(request.content)
        )
        return pb.UpdateNoteResponse(note=note_pb(note))

    async def ListNotes(self, request: pb.ListNotesRequest, context: Ctx) -> pb.ListNotesResponse:
        caller = await self._caller(context)
        notes, cursor = await self.service.list_notes(
            caller,
            _id(request.client_id, "client_id"),
            limit=request.limit,
            cursor=request.cursor,
        )
        return pb.ListNotesResponse(
            notes=[note_pb(n.note, clinical=n.clinical) for n in notes], next_cursor=cursor
        )

    async def GetNote(self, request: pb.GetNoteRequest, context: Ctx) -> pb.GetNoteResponse:
        caller = await self._caller(context)
        view = await self.service.get_note(caller, _id(request.note_id, "note_id"))
        return pb.GetNoteResponse(
            note=note_pb(view.note),
            content=content_pb(view.content),
            version_ids=view.version_ids,
            redisclosure_notice=view.notice,
            access=view.access,
        )

    async def SignNote(self, request: pb.SignNoteRequest, context: Ctx) -> pb.SignNoteResponse:
        caller = await self._caller(context)
        note = await self.service.sign_note(caller, _id(request.note_id, "note_id"))
        return pb.SignNoteResponse(note=note_pb(note))

    async def AmendNote(self, request: pb.AmendNoteRequest, context: Ctx) -> pb.AmendNoteResponse:
        caller = await self._caller(context)
        note = await self.service.amend_note(
            caller, _id(request.note_id, "note_id"), content_of(request.content)
        )
        return pb.AmendNoteResponse(note=note_pb(note))

    async def GrantConsent(
        self, request: pb.GrantConsentRequest, context: Ctx
    ) -> pb.GrantConsentResponse:
        caller = await self._caller(context)
        consent = await self.service.grant_consent(
            caller,
            client_id=_id(request.client_id, "client_id"),
            recipient_id=_id(request.recipient_id, "recipient_id"),
            purpose=request.purpose,
            covers_sud=request.covers_sud,
            expires_at=_time(request.expires_at),
        )
        return pb.GrantConsentResponse(consent=consent_pb(consent, self.service.now()))

    async def RevokeConsent(
        self, request: pb.RevokeConsentRequest, context: Ctx
    ) -> pb.RevokeConsentResponse:
        caller = await self._caller(context)
        consent = await self.service.revoke_consent(caller, _id(request.consent_id, "consent_id"))
        return pb.RevokeConsentResponse(consent=consent_pb(consent, self.service.now()))

    async def ListConsents(
        self, request: pb.ListConsentsRequest, context: Ctx
    ) -> pb.ListConsentsResponse:
        caller = await self._caller(context)
        consents = await self.service.list_consents(caller, _id(request.client_id, "client_id"))
        now = self.service.now()
        return pb.ListConsentsResponse(consents=[consent_pb(c, now) for c in consents])

    async def ListDisclosures(
        self, request: pb.ListDisclosuresRequest, context: Ctx
    ) -> pb.ListDisclosuresResponse:
        caller = await self._caller(context)
        items, cursor = await self.service.list_disclosures(
            caller, _id(request.client_id, "client_id"), limit=request.limit, cursor=request.cursor
        )
        return pb.ListDisclosuresResponse(
            disclosures=[
                pb.Disclosure(
                    disclosure_id=d["_id"],
                    client_id=d["client_id"],
                    note_id=d["note_id"],
                    recipient_id=d["recipient_id"],
                    purpose=d["purpose"],
                    consent_id=d["consent_id"],
                    basis=d["basis"],
                    sud=d["sud"],
                    disclosed_at=to_timestamp(d["disclosed_at"]),
                )
                for d in items
            ],
            next_cursor=cursor,
        )

    async def BreakGlass(
        self, request: pb.BreakGlassRequest, context: Ctx
    ) -> pb.BreakGlassResponse:
        caller = await self._caller(context)
        grant = await self.service.break_glass(
            caller,
            client_id=_id(request.client_id, "client_id"),
            reason=request.reason,
            minutes=request.minutes,
        )
        return pb.BreakGlassResponse(
            grant_id=grant.grant_id, expires_at=to_timestamp(grant.expires_at)
        )

    async def ListBreakGlass(
        self, request: pb.ListBreakGlassRequest, context: Ctx
    ) -> pb.ListBreakGlassResponse:
        caller = await self._caller(context)
        views, cursor = await self.service.list_break_glass(
            caller,
            _id(request.clinic_id, "clinic_id"),
            pending_only=request.pending_only,
            limit=request.limit,
            cursor=request.cursor,
        )
        return pb.ListBreakGlassResponse(grants=[_grant_pb(v) for v in views], next_cursor=cursor)

    async def ReviewBreakGlass(
        self, request: pb.ReviewBreakGlassRequest, context: Ctx
    ) -> pb.ReviewBreakGlassResponse:
        caller = await self._caller(context)
        view = await self.service.review_break_glass(
            caller, _id(request.grant_id, "grant_id"), request.outcome
        )
        return pb.ReviewBreakGlassResponse(grant=_grant_pb(view))

    async def GetClinicRetention(
        self, request: pb.GetClinicRetentionRequest, context: Ctx
    ) -> pb.GetClinicRetentionResponse:
        caller = await self._caller(context)
        view = await self.service.clinic_retention(caller, _id(request.clinic_id, "clinic_id"))
        return pb.GetClinicRetentionResponse(retention=pb.ClinicRetention(**view))

    async def SetClinicRetention(
        self, request: pb.SetClinicRetentionRequest, context: Ctx
    ) -> pb.SetClinicRetentionResponse:
        caller = await self._caller(context)
        view = await self.service.set_clinic_retention(
            caller, _id(request.clinic_id, "clinic_id"), request.retention_days
        )
        return pb.SetClinicRetentionResponse(retention=pb.ClinicRetention(**view))

    async def RequestErasure(
        self, request: pb.RequestErasureRequest, context: Ctx
    ) -> pb.RequestErasureResponse:
        caller = await self._caller(context)
        r = await self.service.request_erasure(caller, _id(request.client_id, "client_id"))
        return pb.RequestErasureResponse(
            client_id=r["client_id"],
            shred_after=to_timestamp(r["shred_after"]),
            legal_hold=r["legal_hold"],
            drafts_destroyed=r["drafts_destroyed"],
            consents_ended=r["consents_ended"],
        )

    async def SetLegalHold(
        self, request: pb.SetLegalHoldRequest, context: Ctx
    ) -> pb.SetLegalHoldResponse:
        caller = await self._caller(context)
        client_id = _id(request.client_id, "client_id")
        hold = await self.service.set_legal_hold(caller, client_id, request.hold)
        return pb.SetLegalHoldResponse(client_id=client_id, legal_hold=hold)

    async def VerifyAudit(
        self, request: pb.VerifyAuditRequest, context: Ctx
    ) -> pb.VerifyAuditResponse:
        caller = await self._caller(context)
        report = await self.service.verify_audit(caller)
        return pb.VerifyAuditResponse(
            intact=report.intact,
            entries=report.entries,
            first_broken_seq=report.first_broken_seq,
            problem=report.problem,
        )

    async def RecordMeasure(
        self, request: pb.RecordMeasureRequest, context: Ctx
    ) -> pb.RecordMeasureResponse:
        principal = await self.verifier.authenticate(context)
        view, resources = await self.service.record_measure(
            caller_of(principal),
            client_id=_id(request.client_id, "client_id"),
            instrument=request.instrument,
            answers=list(request.answers),
            therapist_id=request.therapist_id and _id(request.therapist_id, "therapist_id"),
            token=principal.token,
        )
        return pb.RecordMeasureResponse(
            measure=measure_pb(view),
            crisis_resources=[pb.CrisisResource(name=r.name, contact=r.contact) for r in resources],
        )

    async def ListMeasures(
        self, request: pb.ListMeasuresRequest, context: Ctx
    ) -> pb.ListMeasuresResponse:
        caller = await self._caller(context)
        views, trends = await self.service.list_measures(
            caller, _id(request.client_id, "client_id"), request.instrument
        )
        return pb.ListMeasuresResponse(
            measures=[measure_pb(v) for v in views],
            trends=[
                pb.Trend(
                    instrument=t.instrument,
                    baseline=t.baseline,
                    latest=t.latest,
                    change=t.change,
                    improvement_percent=t.improvement_percent,
                    count=t.count,
                )
                for t in trends
            ],
        )

    async def GetOutcomes(
        self, request: pb.GetOutcomesRequest, context: Ctx
    ) -> pb.GetOutcomesResponse:
        caller = await self._caller(context)
        o = await self.service.outcomes(
            caller,
            clinic_id=request.clinic_id and _id(request.clinic_id, "clinic_id"),
            therapist_id=request.therapist_id and _id(request.therapist_id, "therapist_id"),
            instrument=request.instrument,
        )
        return pb.GetOutcomesResponse(
            instrument=o.instrument,
            suppressed=o.suppressed,
            min_cell_size=o.min_cell_size,
            clients_measured=o.clients_measured,
            share_improved_50=o.share_improved_50,
            share_remission=o.share_remission,
            median_change=o.median_change,
        )


def _grant_pb(view: dict[str, Any]) -> pb.BreakGlassGrant:
    g = view["grant"]
    out = pb.BreakGlassGrant(
        grant_id=g.grant_id,
        client_id=g.client_id,
        therapist_id=g.therapist_id,
        clinic_id=g.clinic_id,
        created_at=to_timestamp(g.created_at),
        expires_at=to_timestamp(g.expires_at),
        records_read=view["records_read"],
        reviewed_by=g.reviewed_by,
        review_outcome=g.review_outcome,
    )
    if view["reason"] is not None:
        out.reason = view["reason"]
    if g.reviewed_at is not None:
        out.reviewed_at.CopyFrom(to_timestamp(g.reviewed_at))
    return out
