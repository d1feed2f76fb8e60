"""The notes vault's rules, free of I/O: note content and versions, who may read what (HIPAA,
the psychotherapy-note rule, 42 CFR Part 2), consents, break-glass, the audit hash chain,
erasure timing, and PHQ-9/GAD-7 scoring with the care-review and safety rules."""

from __future__ import annotations

import hashlib
import json
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from rapport_platform.errors import FailedPrecondition, InvalidArgument, PermissionDenied

CLIENT = "client"
THERAPIST = "therapist"
CLINIC_ADMIN = "clinic_admin"
# identity makes platform operators the admins of this clinic (rapport_identity.domain).
OPERATOR_CLINIC_ID = "marketplace"

PROGRESS = "progress"
INTAKE = "intake"
PSYCHOTHERAPY = "psychotherapy"
KINDS = (PROGRESS, INTAKE, PSYCHOTHERAPY)
SOAP = ("subjective", "objective", "assessment", "plan")
DAP = ("data", "assessment", "plan")
FORMATS: dict[str, tuple[str, ...]] = {"soap": SOAP, "dap": DAP, "text": ()}
DRAFT = "draft"
SIGNED = "signed"
SECTION_LIMIT = 16384

# An appointment in these states means the therapist treats (or treated) the client.
TREATING = frozenset({"confirmed", "completed", "no_show"})

# 42 CFR 2.32: the notice that accompanies every disclosure of a Part 2 record.
REDISCLOSURE_NOTICE = (
    "This record which has been disclosed to you is protected by federal confidentiality rules "
    "(42 CFR part 2). These rules prohibit you from using or disclosing this record, or "
    "testimony that describes the information contained in this record, in any civil, "
    "criminal, administrative, or legislative proceedings by any Federal, State, or local "
    "authority, against the patient, unless authorized by the consent of the patient, except "
    "as provided at 42 CFR 2.12(c)(5) or as authorized by a court in accordance with 42 CFR "
    "2.64 or 2.65. In addition, the Federal rules prohibit you from making any other use or "
    "disclosure of this record unless at least one of the following applies: further use or "
    "disclosure is expressly permitted by the written consent of the individual whose "
    "information is being disclosed in this record or as otherwise permitted by 42 CFR part 2."
)


@dataclass(frozen=True)
class Caller:
    user_id: str
    role: str
    clinic_id: str
    mfa: bool

    @property
    def operator(self) -> bool:
        return self.role == CLINIC_ADMIN and self.clinic_id == OPERATOR_CLINIC_ID


# --- notes ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Content:
    format: str
    sections: Mapping[str, str]
    body: str

    def to_bytes(self) -> bytes:
        return json.dumps(
            {"format": self.format, "sections": dict(self.sections), "body": self.body},
            sort_keys=True,
            separators=(",", ":"),
        ).encode()

    @staticmethod
    def from_bytes(data: bytes) -> Content:
        raw = json.loads(data)
        return Content(format=raw["format"], sections=raw["sections"], body=raw["body"])


def validate_content(kind: str, content: Content, max_bytes: int) -> Content:
    """Progress notes are SOAP or DAP with every section filled; intake and psychotherapy notes
    are text. Messages name fields, never echo them."""
    if kind not in KINDS:
        raise InvalidArgument(f"kind must be one of {', '.join(KINDS)}", field="kind")
    fmt = content.format or ("text" if kind != PROGRESS else "")
    if kind == PROGRESS and fmt not in ("soap", "dap"):
        raise InvalidArgument("a progress note is soap or dap", field="content.format")
    if kind != PROGRESS and fmt != "text":
        raise InvalidArgument(f"an {kind} note is text", field="content.format")
    if fmt == "text":
        if content.sections:
            raise InvalidArgument("a text note has no sections", field="content.sections")
        if not content.body.strip():
            raise InvalidArgument("the note is empty", field="content.body")
        sections: dict[str, str] = {}
    else:
        expected = FORMATS[fmt]
        if content.body:
            raise InvalidArgument(f"a {fmt} note has sections, not a body", field="content.body")
        if set(content.sections) != set(expected):
            raise InvalidArgument(
                f"a {fmt} note has exactly the sections {', '.join(expected)}",
                field="content.sections",
            )
        for name in expected:
            if not content.sections[name].strip():
                raise InvalidArgument(f"the section {name} is empty", field="content.sections")
            if len(content.sections[name]) > SECTION_LIMIT:
                raise InvalidArgument(f"the section {name} is too long", field="content.sections")
        sections = {k: content.sections[k] for k in expected}
    checked = Content(format=fmt, sections=sections, body=content.body)
    if len(checked.to_bytes()) > max_bytes:
        raise InvalidArgument(f"the note exceeds {max_bytes} bytes", field="content")
    return checked


@dataclass(frozen=True)
class Note:
    note_id: str
    client_id: str
    author_id: str
    clinic_id: str
    appointment_id: str
    kind: str
    format: str
    sud: bool
    shared_with_client: bool
    status: str
    version: int
    root_note_id: str
    amends_note_id: str
    created_at: datetime
    signed_at: datetime | None = None


def new_note(
    *,
    note_id: str,
    client_id: str,
    author: Caller,
    clinic_id: str,
    appointment_id: str,
    kind: str,
    content: Content,
    sud: bool,
    shared_with_client: bool,
    now: datetime,
) -> Note:
    if kind == PSYCHOTHERAPY and shared_with_client:
        raise InvalidArgument(
            "psychotherapy notes are the author's alone and never shared",
            field="shared_with_client",
        )
    return Note(
        note_id=note_id,
        client_id=client_id,
        author_id=author.user_id,
        clinic_id=clinic_id,
        appointment_id=appointment_id,
        kind=kind,
        format=content.format,
        sud=sud,
        shared_with_client=shared_with_client,
        status=DRAFT,
        version=1,
        root_note_id=note_id,
        amends_note_id="",
        created_at=now,
    )


def require_author(note: Note, caller: Caller) -> None:
    if caller.role != THERAPIST or caller.user_id != note.author_id:
        raise PermissionDenied("only the note's author may change it")


def editable(note: Note) -> None:
    if note.status != DRAFT:
        raise FailedPrecondition("a signed note is never edited: amend it")


def sign(note: Note, now: datetime) -> Note:
    editable(note)
    return replace(note, status=SIGNED, signed_at=now)


def amendment(
    note: Note, latest_version: int, *, note_id: str, content: Content, now: datetime
) -> Note:
    """A new, signed version linked to the one it amends; the original is kept as it was."""
    if note.status != SIGNED:
        raise FailedPrecondition("only a signed note is amended; edit the draft instead")
    if note.version != latest_version:
        raise FailedPrecondition("amend the latest version of the note")
    if content.format != note.format:
        raise InvalidArgument("an amendment keeps the note's format", field="content.format")
    return replace(
        note,
        note_id=note_id,
        version=note.version + 1,
        amends_note_id=note.note_id,
        status=SIGNED,
        created_at=now,
        signed_at=now,
    )


def aad(note_id: str, version: int) -> bytes:
    """AES-GCM associated data: a ciphertext opens only as the note version it was sealed for."""
    return f"rapport-note:{note_id}:v{version}".encode()


# --- consents and break-glass ---------------------------------------------------------------

ACTIVE = "active"
EXPIRED = "expired"
REVOKED = "revoked"
PURPOSE_LIMIT = 200
REASON_LIMIT = 500


@dataclass(frozen=True)
class Consent:
    consent_id: str
    client_id: str
    recipient_id: str
    purpose: str
    covers_sud: bool
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None = None

    def status(self, now: datetime) -> str:
        if self.revoked_at is not None:
            return REVOKED
        return ACTIVE if now < self.expires_at else EXPIRED


def new_consent(
    *,
    consent_id: str,
    caller: Caller,
    client_id: str,
    recipient_id: str,
    purpose: str,
    covers_sud: bool,
    expires_at: datetime | None,
    now: datetime,
) -> Consent:
    if caller.role != CLIENT or caller.user_id != client_id:
        raise PermissionDenied("only the client gives consent to disclose their records")
    if not recipient_id or recipient_id == client_id:
        raise InvalidArgument("name the recipient", field="recipient_id")
    purpose = purpose.strip()
    if not purpose or len(purpose) > PURPOSE_LIMIT:
        raise InvalidArgument("state the purpose (up to 200 characters)", field="purpose")
    if expires_at is None or expires_at <= now:
        raise InvalidArgument("a consent ends at a time in the future", field="expires_at")
    if expires_at > now + timedelta(days=3 * 366):
        raise InvalidArgument("a consent lasts at most three years", field="expires_at")
    return Consent(
        consent_id=consent_id,
        client_id=client_id,
        recipient_id=recipient_id,
        purpose=purpose,
        covers_sud=covers_sud,
        created_at=now,
        expires_at=expires_at,
    )


@dataclass(frozen=True)
class BreakGlass:
    grant_id: str
    therapist_id: str
    client_id: str
    clinic_id: str
    created_at: datetime
    expires_at: datetime
    # The clinic admin's review afterwards (none until then).
    reviewed_at: datetime | None = None
    reviewed_by: str = ""
    review_outcome: str = ""

    def active(self, now: datetime) -> bool:
        return self.created_at <= now < self.expires_at


def break_glass(
    *,
    grant_id: str,
    caller: Caller,
    client_id: str,
    client_clinics: Iterable[str],
    reason: str,
    minutes: int,
    max_minutes: int,
    now: datetime,
) -> BreakGlass:
    """A therapist of a clinic where the client is seen may open the client's records in an
    emergency: a stated reason, a bounded time, and a review afterwards."""
    if caller.role != THERAPIST:
        raise PermissionDenied("only a therapist may break the glass")
    if not caller.mfa:
        raise PermissionDenied("multi-factor authentication is required for this action")
    if not reason.strip() or len(reason) > REASON_LIMIT:
        raise InvalidArgument("state the reason (up to 500 characters)", field="reason")
    if not 1 <= minutes <= max_minutes:
        raise InvalidArgument(f"minutes must be between 1 and {max_minutes}", field="minutes")
    # Independent (marketplace) therapists share no practice: no colleague's records to open.
    if caller.clinic_id in ("", OPERATOR_CLINIC_ID) or caller.clinic_id not in set(client_clinics):
        raise PermissionDenied("the client is not seen in your clinic")
    return BreakGlass(
        grant_id=grant_id,
        therapist_id=caller.user_id,
        client_id=client_id,
        clinic_id=caller.clinic_id,
        created_at=now,
        expires_at=now + timedelta(minutes=minutes),
    )


REVIEW_OUTCOMES = ("justified", "unjustified")


def may_review_break_glass(caller: Caller, clinic_id: str) -> None:
    """Emergency access is reviewed by the admin of the clinic where the glass was broken (the
    practice's privacy officer), signed in with multi-factor."""
    if not (caller.role == CLINIC_ADMIN and caller.clinic_id == clinic_id):
        raise Denied("only the clinic's admin reviews its emergency access", "not_admin")
    if not caller.mfa:
        raise Denied("multi-factor authentication is required for this action", "no_mfa")


def review_break_glass(
    grant: BreakGlass, *, reviewer_id: str, outcome: str, now: datetime
) -> BreakGlass:
    """Once: a review stands as the record of what the practice decided."""
    if outcome not in REVIEW_OUTCOMES:
        raise InvalidArgument("outcome must be justified or unjustified", field="outcome")
    if grant.reviewed_at is not None:
        raise FailedPrecondition("this emergency access was reviewed already")
    return replace(grant, reviewed_at=now, reviewed_by=reviewer_id, review_outcome=outcome)


# --- access ---------------------------------------------------------------------------------

AUTHOR = "author"
BY_CONSENT = "consent"
BY_CLIENT = "client"
BY_BREAK_GLASS = "break_glass"


@dataclass(frozen=True)
class Access:
    basis: str
    consent: Consent | None = None
    grant: BreakGlass | None = None

    @property
    def disclosure(self) -> bool:
        """Reading by anyone but the author or the client is a disclosure (accounted for)."""
        return self.basis in (BY_CONSENT, BY_BREAK_GLASS)


class Denied(PermissionDenied):
    """A refusal with a short machine reason for the audit log (no PHI)."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


def _consent_for(
    note: Note, caller: Caller, consents: Sequence[Consent], now: datetime
) -> Consent | None:
    for c in consents:
        if (
            c.client_id == note.client_id
            and c.recipient_id == caller.user_id
            and c.status(now) == ACTIVE
            and (c.covers_sud or not note.sud)
        ):
            return c
    return None


def read_access(
    note: Note,
    caller: Caller,
    *,
    treats: bool,
    consents: Sequence[Consent],
    grants: Sequence[BreakGlass],
    now: datetime,
) -> Access:
    """May the caller read this note's content, and on what basis. `treats`: the caller is a
    therapist who treats the note's client (scheduling's appointments say so)."""
    if not caller.mfa:
        raise Denied("multi-factor authentication is required to read note content", "no_mfa")
    if caller.role == THERAPIST and caller.user_id == note.author_id:
        return Access(AUTHOR)
    if caller.role == CLIENT:
        if caller.user_id == note.client_id and note.shared_with_client and note.status == SIGNED:
            return Access(BY_CLIENT)
        raise Denied("this note is not shared with you", "not_shared")
    if caller.role != THERAPIST:
        raise Denied("a clinic admin sees metadata, never content", "admin_content")
    if note.kind == PSYCHOTHERAPY:
        raise Denied("psychotherapy notes are the author's alone", "psychotherapy")
    if note.status != SIGNED:
        raise Denied("a draft is the author's alone", "draft")
    for g in grants:
        if g.therapist_id == caller.user_id and g.client_id == note.client_id and g.active(now):
            return Access(BY_BREAK_GLASS, grant=g)
    if not treats:
        raise Denied("you do not treat this client", "not_treating")
    consent = _consent_for(note, caller, consents, now)
    if consent is None:
        reason = "no_part2_consent" if note.sud else "no_consent"
        raise Denied("no active consent of the client covers this note", reason)
    return Access(BY_CONSENT, consent=consent)


def require_listing(
    caller: Caller,
    client_id: str,
    *,
    treats: bool,
    grants: Sequence[BreakGlass],
    authored: bool,
    clinic_seen: bool,
    now: datetime,
) -> None:
    """Who may ask for a client's note listing at all: the client; a therapist who treats them,
    wrote a note of theirs or holds an active break-glass grant; the admin of a clinic where they
    are or were seen (`clinic_seen`). Anyone else is refused, never answered an empty page: a
    list filtered by tenancy is no answer for an outsider."""
    if caller.role == CLIENT:
        if caller.user_id != client_id:
            raise Denied("not your records", "not_self")
    elif caller.role == THERAPIST:
        granted = any(g.client_id == client_id and g.active(now) for g in grants)
        if not (treats or authored or granted):
            raise Denied("you do not treat this client", "not_treating")
    elif caller.role == CLINIC_ADMIN:
        if not (caller.clinic_id and clinic_seen):
            raise Denied("the client is not seen in your clinic", "not_clinic")
    else:
        raise Denied("no access to client records", "role")


@dataclass(frozen=True)
class Listed:
    """A note as a listing shows it. `clinical` False: the caller may not read the note itself
    (a clinic admin keeping the records), so its clinical metadata (kind, format, sud,
    shared_with_client) is withheld: whether a client has Part 2 (substance use) or
    psychotherapy notes is not an administrator's to learn."""

    note: Note
    clinical: bool


def listing(
    note: Note,
    caller: Caller,
    *,
    treats: bool,
    consents: Sequence[Consent],
    grants: Sequence[BreakGlass],
    now: datetime,
) -> Listed | None:
    """What a listing shows of this note, if anything: all of its metadata to whoever
    read_access would let read it (MFA aside): the author, a treating therapist by consent or
    break-glass (the sud flag is what binds them to the redisclosure rule), the client their own
    shared note; the administrative fields only (ids, author, appointment, status, versions,
    times) to a clinic admin of the note's clinic; nothing to anyone else."""
    if caller.role == CLINIC_ADMIN:
        if caller.clinic_id and caller.clinic_id == note.clinic_id:
            return Listed(note, clinical=False)
        return None
    try:
        read_access(
            note,
            replace(caller, mfa=True),
            treats=treats,
            consents=consents,
            grants=grants,
            now=now,
        )
    except Denied:
        return None
    return Listed(note, clinical=True)


# --- audit chain ----------------------------------------------------------------------------

GENESIS = "0" * 64


@dataclass(frozen=True)
class AuditEntry:
    """One audit record: who did what to which ids, and whether it was allowed. Never content,
    names, reasons in words or scores."""

    seq: int
    at: str
    actor_id: str
    actor_role: str
    action: str
    outcome: str
    client_id: str = ""
    resource_id: str = ""
    detail: str = ""
    prev_hash: str = GENESIS
    hash: str = ""

    def payload(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "at": self.at,
            "actor_id": self.actor_id,
            "actor_role": self.actor_role,
            "action": self.action,
            "outcome": self.outcome,
            "client_id": self.client_id,
            "resource_id": self.resource_id,
            "detail": self.detail,
            "prev_hash": self.prev_hash,
        }

    def compute_hash(self) -> str:
        data = json.dumps(self.payload(), sort_keys=True, separators=(",", ":")).encode()
        return hashlib.sha256(data).hexdigest()


def chain(entry: AuditEntry, prev_seq: int, prev_hash: str) -> AuditEntry:
    linked = replace(entry, seq=prev_seq + 1, prev_hash=prev_hash)
    return replace(linked, hash=linked.compute_hash())


@dataclass(frozen=True)
class ChainReport:
    intact: bool
    entries: int
    first_broken_seq: int = 0
    problem: str = ""


def verify_chain(entries: Iterable[AuditEntry], head_seq: int, head_hash: str) -> ChainReport:
    """Entries in seq order. A changed entry fails its hash; a removed one leaves a gap (or a
    head that points past the end); a re-linked one fails the next prev_hash."""
    expected_seq, prev_hash, count = 1, GENESIS, 0
    for e in entries:
        count += 1
        if e.seq != expected_seq:
            return ChainReport(False, count, expected_seq, "entry missing")
        if e.prev_hash != prev_hash:
            return ChainReport(False, count, e.seq, "link to the previous entry broken")
        if e.compute_hash() != e.hash:
            return ChainReport(False, count, e.seq, "entry altered")
        prev_hash, expected_seq = e.hash, expected_seq + 1
    if head_seq != expected_seq - 1 or (head_seq and head_hash != prev_hash):
        return ChainReport(False, count, expected_seq, "entries missing at the end")
    return ChainReport(True, count)


# --- erasure --------------------------------------------------------------------------------


MAX_RETENTION_DAYS = 36500


def check_retention(days: int, minimum: int) -> int:
    """A clinic may keep records longer than the deployment's retention (a stricter state,
    records of minors), never shorter."""
    if not minimum <= days <= MAX_RETENTION_DAYS:
        raise InvalidArgument(
            f"retention_days must be {minimum} (the deployment's minimum) to {MAX_RETENTION_DAYS}",
            field="retention_days",
        )
    return days


def retention_for(clinics: Iterable[str], per_clinic: Mapping[str, int], default: int) -> int:
    """The longest retention of the clinics that saw the client, and at least the default."""
    return max([default, *(per_clinic.get(c, default) for c in clinics)])


def shred_after(
    requested_at: datetime, last_record_at: datetime | None, retention_days: int
) -> datetime:
    """The key goes once the retention period has passed since the last clinical record."""
    start = max(requested_at, last_record_at or requested_at)
    return start + timedelta(days=retention_days)


def may_shred(*, requested: bool, due: datetime | None, legal_hold: bool, now: datetime) -> bool:
    return requested and due is not None and due <= now and not legal_hold


# --- outcome measures -----------------------------------------------------------------------

PHQ9 = "PHQ9"
GAD7 = "GAD7"
ITEMS = {PHQ9: 9, GAD7: 7}
BANDS: dict[str, tuple[tuple[int, str], ...]] = {
    # (lowest score of the band, band), highest first (Kroenke 2001; Spitzer 2006)
    PHQ9: (
        (20, "severe"),
        (15, "moderately_severe"),
        (10, "moderate"),
        (5, "mild"),
        (0, "minimal"),
    ),
    GAD7: ((15, "severe"), (10, "moderate"), (5, "mild"), (0, "minimal")),
}
REMISSION_BELOW = 5
WORSENED_BY = 5
SAFETY = "safety"
CARE_REVIEW = "care_review_suggested"
NOT_IMPROVED = "not_improved"
WORSENED = "worsened"


@dataclass(frozen=True)
class Scored:
    instrument: str
    answers: tuple[int, ...]
    score: int
    severity: str
    safety: bool


def score(instrument: str, answers: Sequence[int]) -> Scored:
    if instrument not in ITEMS:
        raise InvalidArgument("instrument must be PHQ9 or GAD7", field="instrument")
    n = ITEMS[instrument]
    if len(answers) != n:
        raise InvalidArgument(f"{instrument} has {n} answers", field="answers")
    if any(not 0 <= a <= 3 for a in answers):
        raise InvalidArgument("each answer is 0, 1, 2 or 3", field="answers")
    total = sum(answers)
    severity = next(band for low, band in BANDS[instrument] if total >= low)
    return Scored(
        instrument=instrument,
        answers=tuple(answers),
        score=total,
        severity=severity,
        safety=instrument == PHQ9 and answers[8] > 0,
    )


def care_review(scores: Sequence[int], after_sessions: int) -> str | None:
    """Scores of one client, one therapist, one instrument, oldest first, the newest included.
    Worsening by 5 or more from the baseline is flagged when it happens; no 50% improvement is
    flagged once `after_sessions` measured sessions have passed, and every as many again."""
    if len(scores) < 2:
        return None
    baseline, latest, previous = scores[0], scores[-1], scores[-2]
    if latest - baseline >= WORSENED_BY and previous - baseline < WORSENED_BY:
        return WORSENED
    n = len(scores)
    if n >= after_sessions and (n - after_sessions) % after_sessions == 0:
        if baseline >= REMISSION_BELOW and latest * 2 > baseline:
            return NOT_IMPROVED
    return None


@dataclass(frozen=True)
class Trend:
    instrument: str
    baseline: int
    latest: int
    change: int
    improvement_percent: int
    count: int


def trends(measures: Sequence[tuple[str, int]]) -> list[Trend]:
    """(instrument, score) oldest first -> one trend per instrument."""
    by: dict[str, list[int]] = {}
    for instrument, s in measures:
        by.setdefault(instrument, []).append(s)
    out = []
    for instrument, scores in sorted(by.items()):
        base, last = scores[0], scores[-1]
        pct = round((base - last) * 100 / base) if base else 0
        out.append(Trend(instrument, base, last, last - base, pct, len(scores)))
    return out


@dataclass(frozen=True)
class Outcomes:
    instrument: str
    suppressed: bool
    min_cell_size: int
    clients_measured: int = 0
    share_improved_50: float = 0.0
    share_remission: float = 0.0
    median_change: float = 0.0


def outcomes(
    instrument: str, per_client: Mapping[str, Sequence[int]], min_cell_size: int
) -> Outcomes:
    """De-identified aggregates over clients with a baseline and a later score. Below the
    minimum cell size nothing but the fact of suppression is told (not even the count)."""
    pairs = [(s[0], s[-1]) for s in per_client.values() if len(s) >= 2]
    if len(pairs) < min_cell_size:
        return Outcomes(instrument, True, min_cell_size)
    n = len(pairs)
    improved = sum(1 for b, last in pairs if b > 0 and last * 2 <= b)
    remission = sum(1 for _, last in pairs if last < REMISSION_BELOW)
    return Outcomes(
        instrument,
        False,
        min_cell_size,
        clients_measured=n,
        share_improved_50=round(improved / n, 4),
        share_remission=round(remission / n, 4),
        median_change=float(statistics.median(last - b for b, last in pairs)),
    )


@dataclass(frozen=True)
class CrisisResource:
    name: str
    contact: str


CRISIS: dict[str, tuple[CrisisResource, ...]] = {
    "US": (
        CrisisResource("988 Suicide & Crisis Lifeline", "call or text 988"),
        CrisisResource("Emergency services", "911"),
    ),
    "CA": (
        CrisisResource("9-8-8 Suicide Crisis Helpline", "call or text 988"),
        CrisisResource("Emergency services", "911"),
    ),
    "GB": (
        CrisisResource("Samaritans", "116 123"),
        CrisisResource("Emergency services", "999"),
    ),
    "IE": (
        CrisisResource("Samaritans", "116 123"),
        CrisisResource("Emergency services", "112"),
    ),
    "AU": (
        CrisisResource("Lifeline", "13 11 14"),
        CrisisResource("Emergency services", "000"),
    ),
    "NZ": (
        CrisisResource("Need to talk?", "call or text 1737"),
        CrisisResource("Emergency services", "111"),
    ),
}
CRISIS_ELSEWHERE = (
    CrisisResource("Local emergency services", "your local emergency number"),
    CrisisResource("Find A Helpline", "https://findahelpline.com"),
)


def crisis_resources(jurisdiction: str) -> tuple[CrisisResource, ...]:
    """By ISO 3166 country (a subdivision such as US-CA counts as its country)."""
    return CRISIS.get(jurisdiction.split("-")[0].upper(), CRISIS_ELSEWHERE)


@dataclass(frozen=True)
class MeasureRecord:
    measure_id: str
    client_id: str
    therapist_id: str
    clinic_id: str
    instrument: str
    recorded_by: str
    taken_at: datetime
    flags: tuple[str, ...] = field(default=())
