"""Clinical notes, consents, disclosures, break-glass, erasure, audit and outcome measures
(notes-vault service). Content needs an access token that carries `mfa`; the service decides.

Paths:
  POST /v1/clients/{client_id}/notes              the treating therapist writes a note (draft)
  GET  /v1/clients/{client_id}/notes              metadata the caller may see; paginated
  GET  /v1/notes/{note_id}                        the content, to those allowed
  PUT  /v1/notes/{note_id}                        the author edits a draft
  POST /v1/notes/{note_id}/sign                   the author locks it
  POST /v1/notes/{note_id}/amend                  a new version of a signed note
  POST /v1/clients/{client_id}/consents           the client consents to a disclosure
  GET  /v1/clients/{client_id}/consents
  POST /v1/consents/{consent_id}/revoke
  GET  /v1/clients/{client_id}/disclosures        the accounting of disclosures (the client)
  POST /v1/clients/{client_id}/break-glass        emergency access (reason, minutes)
  GET  /v1/clinics/{clinic_id}/break-glass        the clinic admin's review list (reasons opened)
  POST /v1/break-glass/{grant_id}/review          the clinic admin records the review, once
  POST /v1/clients/{client_id}/erasure            crypto-shredding after retention
  GET  /v1/clinics/{clinic_id}/records-retention  the clinic's retention (its admin)
  PUT  /v1/clinics/{clinic_id}/records-retention  {retention_days}, never below the deployment's
  PUT  /v1/clients/{client_id}/legal-hold         {hold: bool} by the clinic admin
  POST /v1/clients/{client_id}/measures           PHQ9 / GAD7
  GET  /v1/clients/{client_id}/measures           the trend
  GET  /v1/clinics/{clinic_id}/outcomes           de-identified aggregates (clinic admin)
  GET  /v1/therapists/{therapist_id}/outcomes     the therapist's own
  POST /v1/audit/verify                           a platform operator checks the audit chain
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request
from google.protobuf.timestamp_pb2 import Timestamp
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from rapport.notes.v1 import notes_pb2 as pb
from rapport.notes.v1 import notes_pb2_grpc
from rapport_platform.timestamps import to_timestamp

from rapport_gateway.deps import Token, auth, stub
from rapport_gateway.paging import Page, next_cursor, paged
from rapport_gateway.text import Ascii, Line, Paragraph

DOWNSTREAM = "notes_vault"
# The gateway stays ready without notes-vault: only its routes answer 503 meanwhile.
REQUIRED = False
router = APIRouter(tags=["notes"])

Id = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
# The service enforces its own, smaller limit (422); this only keeps absurd bodies out.
TEXT_MAX = 1_048_576


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def notes(request: Request) -> notes_pb2_grpc.NotesServiceStub:
    return stub(request, DOWNSTREAM, notes_pb2_grpc.NotesServiceStub)


def _time(value: Timestamp) -> datetime | None:
    if value.seconds == 0 and value.nanos == 0:
        return None
    return value.ToDatetime(tzinfo=UTC)


class NoteBody(Strict):
    appointment_id: Ascii = Field(min_length=1, max_length=64)
    kind: Literal["progress", "intake", "psychotherapy"]
    format: Literal["soap", "dap", "text"] | None = None
    sections: dict[Line, Annotated[Paragraph, Field(max_length=TEXT_MAX)]] = Field(
        default_factory=dict, max_length=8
    )
    body: Paragraph = Field("", max_length=TEXT_MAX)
    sud: bool = False
    shared_with_client: bool = False


class ContentBody(Strict):
    format: Literal["soap", "dap", "text"] | None = None
    sections: dict[Line, Annotated[Paragraph, Field(max_length=TEXT_MAX)]] = Field(
        default_factory=dict, max_length=8
    )
    body: Paragraph = Field("", max_length=TEXT_MAX)


def _content(b: NoteBody | ContentBody) -> pb.NoteContent:
    fmt = b.format or ("text" if b.body and not b.sections else "")
    if not fmt and b.sections:
        fmt = "soap" if "subjective" in b.sections else "dap"
    return pb.NoteContent(format=fmt, sections=b.sections, body=b.body)


# Only those who may read a note see its clinical metadata; a clinic admin's listing gets null.
_WITHHELD = "null: withheld from this caller (a clinic admin's listing)"


class NoteReply(BaseModel):
    note_id: str
    client_id: str
    author_id: str
    clinic_id: str
    appointment_id: str
    kind: str | None = Field(description=_WITHHELD)
    format: str | None = Field(description=_WITHHELD)
    sud: bool | None = Field(description="42 CFR Part 2 (substance use) record; " + _WITHHELD)
    shared_with_client: bool | None = Field(description=_WITHHELD)
    status: str
    version: int
    root_note_id: str
    amends_note_id: str
    created_at: datetime | None
    signed_at: datetime | None


def note_reply(n: pb.NoteMetadata) -> NoteReply:
    shown = not n.clinical_withheld
    return NoteReply(
        note_id=n.note_id,
        client_id=n.client_id,
        author_id=n.author_id,
        clinic_id=n.clinic_id,
        appointment_id=n.appointment_id,
        kind=n.kind if shown else None,
        format=n.format if shown else None,
        sud=n.sud if shown else None,
        shared_with_client=n.shared_with_client if shown else None,
        status=n.status,
        version=n.version,
        root_note_id=n.root_note_id,
        amends_note_id=n.amends_note_id,
        created_at=_time(n.created_at),
        signed_at=_time(n.signed_at),
    )


class NotesReply(BaseModel):
    items: list[NoteReply]
    next_cursor: str | None


class NoteContentReply(NoteReply):
    sections: dict[str, str]
    body: str
    version_ids: list[str]
    access: str
    redisclosure_notice: str | None


@router.post("/v1/clients/{client_id}/notes", status_code=201, response_model=NoteReply)
async def create_note(client_id: Id, body: NoteBody, request: Request, token: Token) -> NoteReply:
    reply = await notes(request).CreateNote(
        pb.CreateNoteRequest(
            client_id=client_id,
            appointment_id=body.appointment_id,
            kind=body.kind,
            content=_content(body),
            sud=body.sud,
            shared_with_client=body.shared_with_client,
        ),
        metadata=auth(token),
    )
    return note_reply(reply.note)


@router.get("/v1/clients/{client_id}/notes", response_model=NotesReply)
async def list_notes(
    client_id: Id,
    request: Request,
    token: Token,
    page: Annotated[Page, paged(20, 100)],
) -> NotesReply:
    reply = await notes(request).ListNotes(
        pb.ListNotesRequest(client_id=client_id, limit=page.limit, cursor=page.cursor),
        metadata=auth(token),
    )
    return NotesReply(
        items=[note_reply(n) for n in reply.notes], next_cursor=next_cursor(reply.next_cursor)
    )


@router.get("/v1/notes/{note_id}", response_model=NoteContentReply)
async def get_note(note_id: Id, request: Request, token: Token) -> NoteContentReply:
    reply = await notes(request).GetNote(pb.GetNoteRequest(note_id=note_id), metadata=auth(token))
    return NoteContentReply(
        **note_reply(reply.note).model_dump(),
        sections=dict(reply.content.sections),
        body=reply.content.body,
        version_ids=list(reply.version_ids),
        access=reply.access,
        redisclosure_notice=reply.redisclosure_notice or None,
    )


@router.put("/v1/notes/{note_id}", response_model=NoteReply)
async def update_note(note_id: Id, body: ContentBody, request: Request, token: Token) -> NoteReply:
    reply = await notes(request).UpdateNote(
        pb.UpdateNoteRequest(note_id=note_id, content=_content(body)), metadata=auth(token)
    )
    return note_reply(reply.note)


@router.post("/v1/notes/{note_id}/sign", response_model=NoteReply)
async def sign_note(note_id: Id, request: Request, token: Token) -> NoteReply:
    reply = await notes(request).SignNote(pb.SignNoteRequest(note_id=note_id), metadata=auth(token))
    return note_reply(reply.note)


@router.post("/v1/notes/{note_id}/amend", status_code=201, response_model=NoteReply)
async def amend_note(note_id: Id, body: ContentBody, request: Request, token: Token) -> NoteReply:
    reply = await notes(request).AmendNote(
        pb.AmendNoteRequest(note_id=note_id, content=_content(body)), metadata=auth(token)
    )
    return note_reply(reply.note)


# --- consents, disclosures, break-glass ---------------------------------------------------


class ConsentBody(Strict):
    recipient_id: Ascii = Field(min_length=1, max_length=64)
    purpose: Line = Field(min_length=1, max_length=200)
    covers_sud: bool = False
    expires_at: AwareDatetime


class ConsentReply(BaseModel):
    consent_id: str
    client_id: str
    recipient_id: str
    purpose: str
    covers_sud: bool
    created_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None
    status: str


def consent_reply(c: pb.Consent) -> ConsentReply:
    return ConsentReply(
        consent_id=c.consent_id,
        client_id=c.client_id,
        recipient_id=c.recipient_id,
        purpose=c.purpose,
        covers_sud=c.covers_sud,
        created_at=_time(c.created_at),
        expires_at=_time(c.expires_at),
        revoked_at=_time(c.revoked_at),
        status=c.status,
    )


class ConsentsReply(BaseModel):
    items: list[ConsentReply]
    next_cursor: str | None = None


@router.post("/v1/clients/{client_id}/consents", status_code=201, response_model=ConsentReply)
async def grant_consent(
    client_id: Id, body: ConsentBody, request: Request, token: Token
) -> ConsentReply:
    reply = await notes(request).GrantConsent(
        pb.GrantConsentRequest(
            client_id=client_id,
            recipient_id=body.recipient_id,
            purpose=body.purpose,
            covers_sud=body.covers_sud,
            expires_at=to_timestamp(body.expires_at),
        ),
        metadata=auth(token),
    )
    return consent_reply(reply.consent)


@router.get("/v1/clients/{client_id}/consents", response_model=ConsentsReply)
async def list_consents(client_id: Id, request: Request, token: Token) -> ConsentsReply:
    reply = await notes(request).ListConsents(
        pb.ListConsentsRequest(client_id=client_id), metadata=auth(token)
    )
    return ConsentsReply(items=[consent_reply(c) for c in reply.consents])


@router.post("/v1/consents/{consent_id}/revoke", response_model=ConsentReply)
async def revoke_consent(consent_id: Id, request: Request, token: Token) -> ConsentReply:
    reply = await notes(request).RevokeConsent(
        pb.RevokeConsentRequest(consent_id=consent_id), metadata=auth(token)
    )
    return consent_reply(reply.consent)


class DisclosureReply(BaseModel):
    disclosure_id: str
    note_id: str
    recipient_id: str
    purpose: str
    consent_id: str | None
    basis: str
    sud: bool
    disclosed_at: datetime | None


class DisclosuresReply(BaseModel):
    items: list[DisclosureReply]
    next_cursor: str | None


@router.get("/v1/clients/{client_id}/disclosures", response_model=DisclosuresReply)
async def list_disclosures(
    client_id: Id,
    request: Request,
    token: Token,
    page: Annotated[Page, paged(20, 100)],
) -> DisclosuresReply:
    reply = await notes(request).ListDisclosures(
        pb.ListDisclosuresRequest(client_id=client_id, limit=page.limit, cursor=page.cursor),
        metadata=auth(token),
    )
    return DisclosuresReply(
        items=[
            DisclosureReply(
                disclosure_id=d.disclosure_id,
                note_id=d.note_id,
                recipient_id=d.recipient_id,
                purpose=d.purpose,
                consent_id=d.consent_id or None,
                basis=d.basis,
                sud=d.sud,
                disclosed_at=_time(d.disclosed_at),
            )
            for d in reply.disclosures
        ],
        next_cursor=next_cursor(reply.next_cursor),
    )


class BreakGlassBody(Strict):
    reason: Paragraph = Field(min_length=1, max_length=500)
    minutes: int = Field(ge=1, le=1440)


class BreakGlassReply(BaseModel):
    grant_id: str
    expires_at: datetime | None


@router.post("/v1/clients/{client_id}/break-glass", status_code=201, response_model=BreakGlassReply)
async def break_glass(
    client_id: Id, body: BreakGlassBody, request: Request, token: Token
) -> BreakGlassReply:
    reply = await notes(request).BreakGlass(
        pb.BreakGlassRequest(client_id=client_id, reason=body.reason, minutes=body.minutes),
        metadata=auth(token),
    )
    return BreakGlassReply(grant_id=reply.grant_id, expires_at=_time(reply.expires_at))


class GrantReply(BaseModel):
    grant_id: str
    client_id: str
    therapist_id: str
    reason: str | None = Field(description="null once the client's records were erased")
    created_at: datetime | None
    expires_at: datetime | None
    records_read: int = Field(description="records the therapist opened under the grant")
    reviewed_at: datetime | None
    reviewed_by: str | None
    review_outcome: Literal["justified", "unjustified"] | None


def grant_reply(g: pb.BreakGlassGrant) -> GrantReply:
    return GrantReply(
        grant_id=g.grant_id,
        client_id=g.client_id,
        therapist_id=g.therapist_id,
        reason=g.reason if g.HasField("reason") else None,
        created_at=_time(g.created_at),
        expires_at=_time(g.expires_at),
        records_read=g.records_read,
        reviewed_at=_time(g.reviewed_at),
        reviewed_by=g.reviewed_by or None,
        review_outcome=g.review_outcome or None,  # type: ignore[arg-type]
    )


class GrantsReply(BaseModel):
    items: list[GrantReply]
    next_cursor: str | None


@router.get("/v1/clinics/{clinic_id}/break-glass", response_model=GrantsReply)
async def list_break_glass(
    clinic_id: Id,
    request: Request,
    token: Token,
    page: Annotated[Page, paged(20, 100)],
    status: Annotated[Literal["pending", "all"], Query()] = "pending",
) -> GrantsReply:
    """The clinic's admin (MFA) reviews emergency access: each grant, newest first, with the
    therapist's reason and how many records were opened under it. Each reason shown is audited
    as a read of that client's record."""
    reply = await notes(request).ListBreakGlass(
        pb.ListBreakGlassRequest(
            clinic_id=clinic_id,
            pending_only=status == "pending",
            limit=page.limit,
            cursor=page.cursor,
        ),
        metadata=auth(token),
    )
    return GrantsReply(
        items=[grant_reply(g) for g in reply.grants],
        next_cursor=next_cursor(reply.next_cursor),
    )


class ReviewBody(Strict):
    outcome: Literal["justified", "unjustified"]


@router.post("/v1/break-glass/{grant_id}/review", response_model=GrantReply)
async def review_break_glass(
    grant_id: Id, body: ReviewBody, request: Request, token: Token
) -> GrantReply:
    """The clinic's admin (MFA) records whether the emergency access was justified. Once: a
    second review is 409. The review is in the audit chain."""
    reply = await notes(request).ReviewBreakGlass(
        pb.ReviewBreakGlassRequest(grant_id=grant_id, outcome=body.outcome),
        metadata=auth(token),
    )
    return grant_reply(reply.grant)


# --- erasure, legal hold, audit -----------------------------------------------------------


class RetentionBody(Strict):
    retention_days: int = Field(ge=1, le=36500)


class RetentionReply(BaseModel):
    clinic_id: str
    retention_days: int = Field(description="records outlive an erasure request this long")
    minimum_days: int = Field(description="the deployment's retention: never less")


def retention_reply(r: pb.ClinicRetention) -> RetentionReply:
    return RetentionReply(
        clinic_id=r.clinic_id, retention_days=r.retention_days, minimum_days=r.minimum_days
    )


@router.get("/v1/clinics/{clinic_id}/records-retention", response_model=RetentionReply)
async def get_retention(clinic_id: Id, request: Request, token: Token) -> RetentionReply:
    """The clinic's admin reads how long its clients' records outlive an erasure request."""
    reply = await notes(request).GetClinicRetention(
        pb.GetClinicRetentionRequest(clinic_id=clinic_id), metadata=auth(token)
    )
    return retention_reply(reply.retention)


@router.put("/v1/clinics/{clinic_id}/records-retention", response_model=RetentionReply)
async def set_retention(
    clinic_id: Id, body: RetentionBody, request: Request, token: Token
) -> RetentionReply:
    """The clinic's admin (MFA) keeps its records longer than the deployment's minimum (a
    stricter state's law, records of minors); never shorter (422). A client's erasure waits for
    the longest retention of the clinics that saw them, rechecked when the date comes."""
    reply = await notes(request).SetClinicRetention(
        pb.SetClinicRetentionRequest(clinic_id=clinic_id, retention_days=body.retention_days),
        metadata=auth(token),
    )
    return retention_reply(reply.retention)


class ErasureReply(BaseModel):
    client_id: str
    shred_after: datetime | None
    legal_hold: bool
    drafts_destroyed: int
    consents_ended: int


@router.post("/v1/clients/{client_id}/erasure", status_code=202, response_model=ErasureReply)
async def request_erasure(client_id: Id, request: Request, token: Token) -> ErasureReply:
    r = await notes(request).RequestErasure(
        pb.RequestErasureRequest(client_id=client_id), metadata=auth(token)
    )
    return ErasureReply(
        client_id=r.client_id,
        shred_after=_time(r.shred_after),
        legal_hold=r.legal_hold,
        drafts_destroyed=r.drafts_destroyed,
        consents_ended=r.consents_ended,
    )


class LegalHoldBody(Strict):
    hold: bool


class LegalHoldReply(BaseModel):
    client_id: str
    legal_hold: bool


@router.put("/v1/clients/{client_id}/legal-hold", response_model=LegalHoldReply)
async def legal_hold(
    client_id: Id, body: LegalHoldBody, request: Request, token: Token
) -> LegalHoldReply:
    r = await notes(request).SetLegalHold(
        pb.SetLegalHoldRequest(client_id=client_id, hold=body.hold), metadata=auth(token)
    )
    return LegalHoldReply(client_id=r.client_id, legal_hold=r.legal_hold)


class AuditReply(BaseModel):
    intact: bool
    entries: int
    first_broken_seq: int | None
    problem: str | None


@router.post("/v1/audit/verify", response_model=AuditReply)
async def verify_audit(request: Request, token: Token) -> AuditReply:
    r = await notes(request).VerifyAudit(pb.VerifyAuditRequest(), metadata=auth(token))
    return AuditReply(
        intact=r.intact,
        entries=r.entries,
        first_broken_seq=r.first_broken_seq or None,
        problem=r.problem or None,
    )


# --- measures and outcomes ----------------------------------------------------------------


class MeasureBody(Strict):
    instrument: Literal["PHQ9", "GAD7"]
    # Each answer scores 0 to 3 (notes-vault checks); bounded here so no value overflows the
    # gRPC int32 on its way (a 500 otherwise).
    answers: list[Annotated[int, Field(ge=0, le=3)]] = Field(min_length=1, max_length=20)
    therapist_id: Ascii = Field("", max_length=64)


class MeasureReply(BaseModel):
    measure_id: str
    therapist_id: str
    instrument: str
    score: int
    severity: str
    flags: list[str]
    taken_at: datetime | None
    recorded_by: str


class CrisisResourceReply(BaseModel):
    name: str
    contact: str


class RecordedMeasureReply(MeasureReply):
    crisis_resources: list[CrisisResourceReply]


def measure_reply(m: pb.Measure) -> MeasureReply:
    return MeasureReply(
        measure_id=m.measure_id,
        therapist_id=m.therapist_id,
        instrument=m.instrument,
        score=m.score,
        severity=m.severity,
        flags=list(m.flags),
        taken_at=_time(m.taken_at),
        recorded_by=m.recorded_by,
    )


@router.post(
    "/v1/clients/{client_id}/measures", status_code=201, response_model=RecordedMeasureReply
)
async def record_measure(
    client_id: Id, body: MeasureBody, request: Request, token: Token
) -> RecordedMeasureReply:
    r = await notes(request).RecordMeasure(
        pb.RecordMeasureRequest(
            client_id=client_id,
            instrument=body.instrument,
            answers=body.answers,
            therapist_id=body.therapist_id,
        ),
        metadata=auth(token),
    )
    return RecordedMeasureReply(
        **measure_reply(r.measure).model_dump(),
        crisis_resources=[
            CrisisResourceReply(name=c.name, contact=c.contact) for c in r.crisis_resources
        ],
    )


class TrendReply(BaseModel):
    instrument: str
    baseline: int
    latest: int
    change: int
    improvement_percent: int
    count: int


class MeasuresReply(BaseModel):
    items: list[MeasureReply]
    trends: list[TrendReply]
    next_cursor: str | None = None


@router.get("/v1/clients/{client_id}/measures", response_model=MeasuresReply)
async def list_measures(
    client_id: Id,
    request: Request,
    token: Token,
    instrument: Literal["PHQ9", "GAD7"] | None = None,
) -> MeasuresReply:
    r = await notes(request).ListMeasures(
        pb.ListMeasuresRequest(client_id=client_id, instrument=instrument or ""),
        metadata=auth(token),
    )
    return MeasuresReply(
        items=[measure_reply(m) for m in r.measures],
        trends=[
            TrendReply(
                instrument=t.instrument,
                baseline=t.baseline,
                latest=t.latest,
                change=t.change,
                improvement_percent=t.improvement_percent,
                count=t.count,
            )
            for t in r.trends
        ],
    )


class OutcomesReply(BaseModel):
    instrument: str
    suppressed: bool
    min_cell_size: int
    clients_measured: int | None
    share_improved_50: float | None
    share_remission: float | None
    median_change: float | None


def outcomes_reply(o: pb.GetOutcomesResponse) -> OutcomesReply:
    hidden = o.suppressed
    return OutcomesReply(
        instrument=o.instrument,
        suppressed=hidden,
        min_cell_size=o.min_cell_size,
        clients_measured=None if hidden else o.clients_measured,
        share_improved_50=None if hidden else o.share_improved_50,
        share_remission=None if hidden else o.share_remission,
        median_change=None if hidden else o.median_change,
    )


Instrument = Annotated[Literal["PHQ9", "GAD7"], Query()]


@router.get("/v1/clinics/{clinic_id}/outcomes", response_model=OutcomesReply)
async def clinic_outcomes(
    clinic_id: Id, request: Request, token: Token, instrument: Instrument = "PHQ9"
) -> OutcomesReply:
    r = await notes(request).GetOutcomes(
        pb.GetOutcomesRequest(clinic_id=clinic_id, instrument=instrument), metadata=auth(token)
    )
    return outcomes_reply(r)


@router.get("/v1/therapists/{therapist_id}/outcomes", response_model=OutcomesReply)
async def therapist_outcomes(
    therapist_id: Id, request: Request, token: Token, instrument: Instrument = "PHQ9"
) -> OutcomesReply:
    r = await notes(request).GetOutcomes(
        pb.GetOutcomesRequest(therapist_id=therapist_id, instrument=instrument),
        metadata=auth(token),
    )
    return outcomes_reply(r)
