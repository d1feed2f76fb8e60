import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class NoteMetadata(_message.Message):
    __slots__ = ("note_id", "client_id", "author_id", "clinic_id", "appointment_id", "kind", "sud", "shared_with_client", "status", "version", "root_note_id", "amends_note_id", "created_at", "signed_at", "format", "clinical_withheld")
    NOTE_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    AUTHOR_ID_FIELD_NUMBER: _ClassVar[int]
    CLINIC_ID_FIELD_NUMBER: _ClassVar[int]
    APPOINTMENT_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    SUD_FIELD_NUMBER: _ClassVar[int]
    SHARED_WITH_CLIENT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    ROOT_NOTE_ID_FIELD_NUMBER: _ClassVar[int]
    AMENDS_NOTE_ID_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    SIGNED_AT_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    CLINICAL_WITHHELD_FIELD_NUMBER: _ClassVar[int]
    note_id: str
    client_id: str
    author_id: str
    clinic_id: str
    appointment_id: str
    kind: str
    sud: bool
    shared_with_client: bool
    status: str
    version: int
    root_note_id: str
    amends_note_id: str
    created_at: _timestamp_pb2.Timestamp
    signed_at: _timestamp_pb2.Timestamp
    format: str
    clinical_withheld: bool
    def __init__(self, note_id: _Optional[str] = ..., client_id: _Optional[str] = ..., author_id: _Optional[str] = ..., clinic_id: _Optional[str] = ..., appointment_id: _Optional[str] = ..., kind: _Optional[str] = ..., sud: _Optional[bool] = ..., shared_with_client: _Optional[bool] = ..., status: _Optional[str] = ..., version: _Optional[int] = ..., root_note_id: _Optional[str] = ..., amends_note_id: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., signed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., format: _Optional[str] = ..., clinical_withheld: _Optional[bool] = ...) -> None: ...

class NoteContent(_message.Message):
    __slots__ = ("format", "sections", "body")
    class SectionsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    SECTIONS_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELD_NUMBER: _ClassVar[int]
    format: str
    sections: _containers.ScalarMap[str, str]
    body: str
    def __init__(self, format: _Optional[str] = ..., sections: _Optional[_Mapping[str, str]] = ..., body: _Optional[str] = ...) -> None: ...

class CreateNoteRequest(_message.Message):
    __slots__ = ("client_id", "appointment_id", "kind", "content", "sud", "shared_with_client")
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    APPOINTMENT_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    SUD_FIELD_NUMBER: _ClassVar[int]
    SHARED_WITH_CLIENT_FIELD_NUMBER: _ClassVar[int]
    client_id: str
    appointment_id: str
    kind: str
    content: NoteContent
    sud: bool
    shared_with_client: bool
    def __init__(self, client_id: _Optional[str] = ..., appointment_id: _Optional[str] = ..., kind: _Optional[str] = ..., content: _Optional[_Union[NoteContent, _Mapping]] = ..., sud: _Optional[bool] = ..., shared_with_client: _Optional[bool] = ...) -> None: ...

class CreateNoteResponse(_message.Message):
    __slots__ = ("note",)
    NOTE_FIELD_NUMBER: _ClassVar[int]
    note: NoteMetadata
    def __init__(self, note: _Optional[_Union[NoteMetadata, _Mapping]] = ...) -> None: ...

class UpdateNoteRequest(_message.Message):
    __slots__ = ("note_id", "content")
    NOTE_ID_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    note_id: str
    content: NoteContent
    def __init__(self, note_id: _Optional[str] = ..., content: _Optional[_Union[NoteContent, _Mapping]] = ...) -> None: ...

class UpdateNoteResponse(_message.Message):
    __slots__ = ("note",)
    NOTE_FIELD_NUMBER: _ClassVar[int]
    note: NoteMetadata
    def __init__(self, note: _Optional[_Union[NoteMetadata, _Mapping]] = ...) -> None: ...

class ListNotesRequest(_message.Message):
    __slots__ = ("client_id", "limit", "cursor")
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    client_id: str
    limit: int
    cursor: str
    def __init__(self, client_id: _Optional[str] = ..., limit: _Optional[int] = ..., cursor: _Optional[str] = ...) -> None: ...

class ListNotesResponse(_message.Message):
    __slots__ = ("notes", "next_cursor")
    NOTES_FIELD_NUMBER: _ClassVar[int]
    NEXT_CURSOR_FIELD_NUMBER: _ClassVar[int]
    notes: _containers.RepeatedCompositeFieldContainer[NoteMetadata]
    next_cursor: str
    def __init__(self, notes: _Optional[_Iterable[_Union[NoteMetadata, _Mapping]]] = ..., next_cursor: _Optional[str] = ...) -> None: ...

class GetNoteRequest(_message.Message):
    __slots__ = ("note_id",)
    NOTE_ID_FIELD_NUMBER: _ClassVar[int]
    note_id: str
    def __init__(self, note_id: _Optional[str] = ...) -> None: ...

class GetNoteResponse(_message.Message):
    __slots__ = ("note", "content", "version_ids", "redisclosure_notice", "access")
    NOTE_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    VERSION_IDS_FIELD_NUMBER: _ClassVar[int]
    REDISCLOSURE_NOTICE_FIELD_NUMBER: _ClassVar[int]
    ACCESS_FIELD_NUMBER: _ClassVar[int]
    note: NoteMetadata
    content: NoteContent
    version_ids: _containers.RepeatedScalarFieldContainer[str]
    redisclosure_notice: str
    access: str
    def __init__(self, note: _Optional[_Union[NoteMetadata, _Mapping]] = ..., content: _Optional[_Union[NoteContent, _Mapping]] = ..., version_ids: _Optional[_Iterable[str]] = ..., redisclosure_notice: _Optional[str] = ..., access: _Optional[str] = ...) -> None: ...

class SignNoteRequest(_message.Message):
    __slots__ = ("note_id",)
    NOTE_ID_FIELD_NUMBER: _ClassVar[int]
    note_id: str
    def __init__(self, note_id: _Optional[str] = ...) -> None: ...

class SignNoteResponse(_message.Message):
    __slots__ = ("note",)
    NOTE_FIELD_NUMBER: _ClassVar[int]
    note: NoteMetadata
    def __init__(self, note: _Optional[_Union[NoteMetadata, _Mapping]] = ...) -> None: ...

class AmendNoteRequest(_message.Message):
    __slots__ = ("note_id", "content")
    NOTE_ID_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    note_id: str
    content: NoteContent
    def __init__(self, note_id: _Optional[str] = ..., content: _Optional[_Union[NoteContent, _Mapping]] = ...) -> None: ...

class AmendNoteResponse(_message.Message):
    __slots__ = ("note",)
    NOTE_FIELD_NUMBER: _ClassVar[int]
    note: NoteMetadata
    def __init__(self, note: _Optional[_Union[NoteMetadata, _Mapping]] = ...) -> None: ...

class Consent(_message.Message):
    __slots__ = ("consent_id", "client_id", "recipient_id", "purpose", "covers_sud", "created_at", "expires_at", "revoked_at", "status")
    CONSENT_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    RECIPIENT_ID_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    COVERS_SUD_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    REVOKED_AT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    consent_id: str
    client_id: str
    recipient_id: str
    purpose: str
    covers_sud: bool
    created_at: _timestamp_pb2.Timestamp
    expires_at: _timestamp_pb2.Timestamp
    revoked_at: _timestamp_pb2.Timestamp
    status: str
    def __init__(self, consent_id: _Optional[str] = ..., client_id: _Optional[str] = ..., recipient_id: _Optional[str] = ..., purpose: _Optional[str] = ..., covers_sud: _Optional[bool] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., revoked_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., status: _Optional[str] = ...) -> None: ...

class GrantConsentRequest(_message.Message):
    __slots__ = ("client_id", "recipient_id", "purpose", "covers_sud", "expires_at")
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    RECIPIENT_ID_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    COVERS_SUD_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    client_id: str
    recipient_id: str
    purpose: str
    covers_sud: bool
    expires_at: _timestamp_pb2.Timestamp
    def __init__(self, client_id: _Optional[str] = ..., recipient_id: _Optional[str] = ..., purpose: _Optional[str] = ..., covers_sud: _Optional[bool] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GrantConsentResponse(_message.Message):
    __slots__ = ("consent",)
    CONSENT_FIELD_NUMBER: _ClassVar[int]
    consent: Consent
    def __init__(self, consent: _Optional[_Union[Consent, _Mapping]] = ...) -> None: ...

class RevokeConsentRequest(_message.Message):
    __slots__ = ("consent_id",)
    CONSENT_ID_FIELD_NUMBER: _ClassVar[int]
    consent_id: str
    def __init__(self, consent_id: _Optional[str] = ...) -> None: ...

class RevokeConsentResponse(_message.Message):
    __slots__ = ("consent",)
    CONSENT_FIELD_NUMBER: _ClassVar[int]
    consent: Consent
    def __init__(self, consent: _Optional[_Union[Consent, _Mapping]] = ...) -> None: ...

class ListConsentsRequest(_message.Message):
    __slots__ = ("client_id",)
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    client_id: str
    def __init__(self, client_id: _Optional[str] = ...) -> None: ...

class ListConsentsResponse(_message.Message):
    __slots__ = ("consents",)
    CONSENTS_FIELD_NUMBER: _ClassVar[int]
    consents: _containers.RepeatedCompositeFieldContainer[Consent]
    def __init__(self, consents: _Optional[_Iterable[_Union[Consent, _Mapping]]] = ...) -> None: ...

class Disclosure(_message.Message):
    __slots__ = ("disclosure_id", "client_id", "note_id", "recipient_id", "purpose", "consent_id", "basis", "sud", "disclosed_at")
    DISCLOSURE_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    NOTE_ID_FIELD_NUMBER: _ClassVar[int]
    RECIPIENT_ID_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    CONSENT_ID_FIELD_NUMBER: _ClassVar[int]
    BASIS_FIELD_NUMBER: _ClassVar[int]
    SUD_FIELD_NUMBER: _ClassVar[int]
    DISCLOSED_AT_FIELD_NUMBER: _ClassVar[int]
    disclosure_id: str
    client_id: str
    note_id: str
    recipient_id: str
    purpose: str
    consent_id: str
    basis: str
    sud: bool
    disclosed_at: _timestamp_pb2.Timestamp
    def __init__(self, disclosure_id: _Optional[str] = ..., client_id: _Optional[str] = ..., note_id: _Optional[str] = ..., recipient_id: _Optional[str] = ..., purpose: _Optional[str] = ..., consent_id: _Optional[str] = ..., basis: _Optional[str] = ..., sud: _Optional[bool] = ..., disclosed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListDisclosuresRequest(_message.Message):
    __slots__ = ("client_id", "limit", "cursor")
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    client_id: str
    limit: int
    cursor: str
    def __init__(self, client_id: _Optional[str] = ..., limit: _Optional[int] = ..., cursor: _Optional[str] = ...) -> None: ...

class ListDisclosuresResponse(_message.Message):
    __slots__ = ("disclosures", "next_cursor")
    DISCLOSURES_FIELD_NUMBER: _ClassVar[int]
    NEXT_CURSOR_FIELD_NUMBER: _ClassVar[int]
    disclosures: _containers.RepeatedCompositeFieldContainer[Disclosure]
    next_cursor: str
    def __init__(self, disclosures: _Optional[_Iterable[_Union[Disclosure, _Mapping]]] = ..., next_cursor: _Optional[str] = ...) -> None: ...

class BreakGlassRequest(_message.Message):
    __slots__ = ("client_id", "reason", "minutes")
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    MINUTES_FIELD_NUMBER: _ClassVar[int]
    client_id: str
    reason: str
    minutes: int
    def __init__(self, client_id: _Optional[str] = ..., reason: _Optional[str] = ..., minutes: _Optional[int] = ...) -> None: ...

class BreakGlassResponse(_message.Message):
    __slots__ = ("grant_id", "expires_at")
    GRANT_ID_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    grant_id: str
    expires_at: _timestamp_pb2.Timestamp
    def __init__(self, grant_id: _Optional[str] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class BreakGlassGrant(_message.Message):
    __slots__ = ("grant_id", "client_id", "therapist_id", "clinic_id", "reason", "created_at", "expires_at", "records_read", "reviewed_at", "reviewed_by", "review_outcome")
    GRANT_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    THERAPIST_ID_FIELD_NUMBER: _ClassVar[int]
    CLINIC_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    RECORDS_READ_FIELD_NUMBER: _ClassVar[int]
    REVIEWED_AT_FIELD_NUMBER: _ClassVar[int]
    REVIEWED_BY_FIELD_NUMBER: _ClassVar[int]
    REVIEW_OUTCOME_FIELD_NUMBER: _ClassVar[int]
    grant_id: str
    client_id: str
    therapist_id: str
    clinic_id: str
    reason: str
    created_at: _timestamp_pb2.Timestamp
    expires_at: _timestamp_pb2.Timestamp
    records_read: int
    reviewed_at: _timestamp_pb2.Timestamp
    reviewed_by: str
    review_outcome: str
    def __init__(self, grant_id: _Optional[str] = ..., client_id: _Optional[str] = ..., therapist_id: _Optional[str] = ..., clinic_id: _Optional[str] = ..., reason: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., records_read: _Optional[int] = ..., reviewed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., reviewed_by: _Optional[str] = ..., review_outcome: _Optional[str] = ...) -> None: ...

class ListBreakGlassRequest(_message.Message):
    __slots__ = ("clinic_id", "pending_only", "limit", "cursor")
    CLINIC_ID_FIELD_NUMBER: _ClassVar[int]
    PENDING_ONLY_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    clinic_id: str
    pending_only: bool
    limit: int
    cursor: str
    def __init__(self, clinic_id: _Optional[str] = ..., pending_only: _Optional[bool] = ..., limit: _Optional[int] = ..., cursor: _Optional[str] = ...) -> None: ...

class ListBreakGlassResponse(_message.Message):
    __slots__ = ("grants", "next_cursor")
    GRANTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_CURSOR_FIELD_NUMBER: _ClassVar[int]
    grants: _containers.RepeatedCompositeFieldContainer[BreakGlassGrant]
    next_cursor: str
    def __init__(self, grants: _Optional[_Iterable[_Union[BreakGlassGrant, _Mapping]]] = ..., next_cursor: _Optional[str] = ...) -> None: ...

class ReviewBreakGlassRequest(_message.Message):
    __slots__ = ("grant_id", "outcome")
    GRANT_ID_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    grant_id: str
    outcome: str
    def __init__(self, grant_id: _Optional[str] = ..., outcome: _Optional[str] = ...) -> None: ...

class ReviewBreakGlassResponse(_message.Message):
    __slots__ = ("grant",)
    GRANT_FIELD_NUMBER: _ClassVar[int]
    grant: BreakGlassGrant
    def __init__(self, grant: _Optional[_Union[BreakGlassGrant, _Mapping]] = ...) -> None: ...

class ClinicRetention(_message.Message):
    __slots__ = ("clinic_id", "retention_days", "minimum_days")
    CLINIC_ID_FIELD_NUMBER: _ClassVar[int]
    RETENTION_DAYS_FIELD_NUMBER: _ClassVar[int]
    MINIMUM_DAYS_FIELD_NUMBER: _ClassVar[int]
    clinic_id: str
    retention_days: int
    minimum_days: int
    def __init__(self, clinic_id: _Optional[str] = ..., retention_days: _Optional[int] = ..., minimum_days: _Optional[int] = ...) -> None: ...

class GetClinicRetentionRequest(_message.Message):
    __slots__ = ("clinic_id",)
    CLINIC_ID_FIELD_NUMBER: _ClassVar[int]
    clinic_id: str
    def __init__(self, clinic_id: _Optional[str] = ...) -> None: ...

class GetClinicRetentionResponse(_message.Message):
    __slots__ = ("retention",)
    RETENTION_FIELD_NUMBER: _ClassVar[int]
    retention: ClinicRetention
    def __init__(self, retention: _Optional[_Union[ClinicRetention, _Mapping]] = ...) -> None: ...

class SetClinicRetentionRequest(_message.Message):
    __slots__ = ("clinic_id", "retention_days")
    CLINIC_ID_FIELD_NUMBER: _ClassVar[int]
    RETENTION_DAYS_FIELD_NUMBER: _ClassVar[int]
    clinic_id: str
    retention_days: int
    def __init__(self, clinic_id: _Optional[str] = ..., retention_days: _Optional[int] = ...) -> None: ...

class SetClinicRetentionResponse(_message.Message):
    __slots__ = ("retention",)
    RETENTION_FIELD_NUMBER: _ClassVar[int]
    retention: ClinicRetention
    def __init__(self, retention: _Optional[_Union[ClinicRetention, _Mapping]] = ...) -> None: ...

class RequestErasureRequest(_message.Message):
    __slots__ = ("client_id",)
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    client_id: str
    def __init__(self, client_id: _Optional[str] = ...) -> None: ...

class RequestErasureResponse(_message.Message):
    __slots__ = ("client_id", "shred_after", "legal_hold", "drafts_destroyed", "consents_ended")
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    SHRED_AFTER_FIELD_NUMBER: _ClassVar[int]
    LEGAL_HOLD_FIELD_NUMBER: _ClassVar[int]
    DRAFTS_DESTROYED_FIELD_NUMBER: _ClassVar[int]
    CONSENTS_ENDED_FIELD_NUMBER: _ClassVar[int]
    client_id: str
    shred_after: _timestamp_pb2.Timestamp
    legal_hold: bool
    drafts_destroyed: int
    consents_ended: int
    def __init__(self, client_id: _Optional[str] = ..., shred_after: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., legal_hold: _Optional[bool] = ..., drafts_destroyed: _Optional[int] = ..., consents_ended: _Optional[int] = ...) -> None: ...

class SetLegalHoldRequest(_message.Message):
    __slots__ = ("client_id", "hold")
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    HOLD_FIELD_NUMBER: _ClassVar[int]
    client_id: str
    hold: bool
    def __init__(self, client_id: _Optional[str] = ..., hold: _Optional[bool] = ...) -> None: ...

class SetLegalHoldResponse(_message.Message):
    __slots__ = ("client_id", "legal_hold")
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    LEGAL_HOLD_FIELD_NUMBER: _ClassVar[int]
    client_id: str
    legal_hold: bool
    def __init__(self, client_id: _Optional[str] = ..., legal_hold: _Optional[bool] = ...) -> None: ...

class VerifyAuditRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class VerifyAuditResponse(_message.Message):
    __slots__ = ("intact", "entries", "first_broken_seq", "problem")
    INTACT_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    FIRST_BROKEN_SEQ_FIELD_NUMBER: _ClassVar[int]
    PROBLEM_FIELD_NUMBER: _ClassVar[int]
    intact: bool
    entries: int
    first_broken_seq: int
    problem: str
    def __init__(self, intact: _Optional[bool] = ..., entries: _Optional[int] = ..., first_broken_seq: _Optional[int] = ..., problem: _Optional[str] = ...) -> None: ...

class CrisisResource(_message.Message):
    __slots__ = ("name", "contact")
    NAME_FIELD_NUMBER: _ClassVar[int]
    CONTACT_FIELD_NUMBER: _ClassVar[int]
    name: str
    contact: str
    def __init__(self, name: _Optional[str] = ..., contact: _Optional[str] = ...) -> None: ...

class Measure(_message.Message):
    __slots__ = ("measure_id", "client_id", "therapist_id", "instrument", "score", "severity", "flags", "taken_at", "recorded_by")
    MEASURE_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    THERAPIST_ID_FIELD_NUMBER: _ClassVar[int]
    INSTRUMENT_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    FLAGS_FIELD_NUMBER: _ClassVar[int]
    TAKEN_AT_FIELD_NUMBER: _ClassVar[int]
    RECORDED_BY_FIELD_NUMBER: _ClassVar[int]
    measure_id: str
    client_id: str
    therapist_id: str
    instrument: str
    score: int
    severity: str
    flags: _containers.RepeatedScalarFieldContainer[str]
    taken_at: _timestamp_pb2.Timestamp
    recorded_by: str
    def __init__(self, measure_id: _Optional[str] = ..., client_id: _Optional[str] = ..., therapist_id: _Optional[str] = ..., instrument: _Optional[str] = ..., score: _Optional[int] = ..., severity: _Optional[str] = ..., flags: _Optional[_Iterable[str]] = ..., taken_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., recorded_by: _Optional[str] = ...) -> None: ...

class RecordMeasureRequest(_message.Message):
    __slots__ = ("client_id", "instrument", "answers", "therapist_id")
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    INSTRUMENT_FIELD_NUMBER: _ClassVar[int]
    ANSWERS_FIELD_NUMBER: _ClassVar[int]
    THERAPIST_ID_FIELD_NUMBER: _ClassVar[int]
    client_id: str
    instrument: str
    answers: _containers.RepeatedScalarFieldContainer[int]
    therapist_id: str
    def __init__(self, client_id: _Optional[str] = ..., instrument: _Optional[str] = ..., answers: _Optional[_Iterable[int]] = ..., therapist_id: _Optional[str] = ...) -> None: ...

class RecordMeasureResponse(_message.Message):
    __slots__ = ("measure", "crisis_resources")
    MEASURE_FIELD_NUMBER: _ClassVar[int]
    CRISIS_RESOURCES_FIELD_NUMBER: _ClassVar[int]
    measure: Measure
    crisis_resources: _containers.RepeatedCompositeFieldContainer[CrisisResource]
    def __init__(self, measure: _Optional[_Union[Measure, _Mapping]] = ..., crisis_resources: _Optional[_Iterable[_Union[CrisisResource, _Mapping]]] = ...) -> None: ...

class ListMeasuresRequest(_message.Message):
    __slots__ = ("client_id", "instrument")
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    INSTRUMENT_FIELD_NUMBER: _ClassVar[int]
    client_id: str
    instrument: str
    def __init__(self, client_id: _Optional[str] = ..., instrument: _Optional[str] = ...) -> None: ...

class Trend(_message.Message):
    __slots__ = ("instrument", "baseline", "latest", "change", "improvement_percent", "count")
    INSTRUMENT_FIELD_NUMBER: _ClassVar[int]
    BASELINE_FIELD_NUMBER: _ClassVar[int]
    LATEST_FIELD_NUMBER: _ClassVar[int]
    CHANGE_FIELD_NUMBER: _ClassVar[int]
    IMPROVEMENT_PERCENT_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    instrument: str
    baseline: int
    latest: int
    change: int
    improvement_percent: int
    count: int
    def __init__(self, instrument: _Optional[str] = ..., baseline: _Optional[int] = ..., latest: _Optional[int] = ..., change: _Optional[int] = ..., improvement_percent: _Optional[int] = ..., count: _Optional[int] = ...) -> None: ...

class ListMeasuresResponse(_message.Message):
    __slots__ = ("measures", "trends")
    MEASURES_FIELD_NUMBER: _ClassVar[int]
    TRENDS_FIELD_NUMBER: _ClassVar[int]
    measures: _containers.RepeatedCompositeFieldContainer[Measure]
    trends: _containers.RepeatedCompositeFieldContainer[Trend]
    def __init__(self, measures: _Optional[_Iterable[_Union[Measure, _Mapping]]] = ..., trends: _Optional[_Iterable[_Union[Trend, _Mapping]]] = ...) -> None: ...

class GetOutcomesRequest(_message.Message):
    __slots__ = ("clinic_id", "therapist_id", "instrument")
    CLINIC_ID_FIELD_NUMBER: _ClassVar[int]
    THERAPIST_ID_FIELD_NUMBER: _ClassVar[int]
    INSTRUMENT_FIELD_NUMBER: _ClassVar[int]
    clinic_id: str
    therapist_id: str
    instrument: str
    def __init__(self, clinic_id: _Optional[str] = ..., therapist_id: _Optional[str] = ..., instrument: _Optional[str] = ...) -> None: ...

class GetOutcomesResponse(_message.Message):
    __slots__ = ("instrument", "suppressed", "min_cell_size", "clients_measured", "share_improved_50", "share_remission", "median_change")
    INSTRUMENT_FIELD_NUMBER: _ClassVar[int]
    SUPPRESSED_FIELD_NUMBER: _ClassVar[int]
    MIN_CELL_SIZE_FIELD_NUMBER: _ClassVar[int]
    CLIENTS_MEASURED_FIELD_NUMBER: _ClassVar[int]
    SHARE_IMPROVED_50_FIELD_NUMBER: _ClassVar[int]
    SHARE_REMISSION_FIELD_NUMBER: _ClassVar[int]
    MEDIAN_CHANGE_FIELD_NUMBER: _ClassVar[int]
    instrument: str
    suppressed: bool
    min_cell_size: int
    clients_measured: int
    share_improved_50: float
    share_remission: float
    median_change: float
    def __init__(self, instrument: _Optional[str] = ..., suppressed: _Optional[bool] = ..., min_cell_size: _Optional[int] = ..., clients_measured: _Optional[int] = ..., share_improved_50: _Optional[float] = ..., share_remission: _Optional[float] = ..., median_change: _Optional[float] = ...) -> None: ...
