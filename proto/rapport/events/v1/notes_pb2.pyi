import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class NoteSigned(_message.Message):
    __slots__ = ("note_id", "client_id", "author_id", "clinic_id", "appointment_id", "version", "occurred_at")
    NOTE_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    AUTHOR_ID_FIELD_NUMBER: _ClassVar[int]
    CLINIC_ID_FIELD_NUMBER: _ClassVar[int]
    APPOINTMENT_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    note_id: str
    client_id: str
    author_id: str
    clinic_id: str
    appointment_id: str
    version: int
    occurred_at: _timestamp_pb2.Timestamp
    def __init__(self, note_id: _Optional[str] = ..., client_id: _Optional[str] = ..., author_id: _Optional[str] = ..., clinic_id: _Optional[str] = ..., appointment_id: _Optional[str] = ..., version: _Optional[int] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class BreakGlassUsed(_message.Message):
    __slots__ = ("grant_id", "client_id", "therapist_id", "clinic_id", "expires_at", "review_required", "occurred_at")
    GRANT_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    THERAPIST_ID_FIELD_NUMBER: _ClassVar[int]
    CLINIC_ID_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    REVIEW_REQUIRED_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    grant_id: str
    client_id: str
    therapist_id: str
    clinic_id: str
    expires_at: _timestamp_pb2.Timestamp
    review_required: bool
    occurred_at: _timestamp_pb2.Timestamp
    def __init__(self, grant_id: _Optional[str] = ..., client_id: _Optional[str] = ..., therapist_id: _Optional[str] = ..., clinic_id: _Optional[str] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., review_required: _Optional[bool] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CareReviewSuggested(_message.Message):
    __slots__ = ("client_id", "therapist_id", "clinic_id", "instrument", "measure_id", "reason", "sessions", "occurred_at")
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    THERAPIST_ID_FIELD_NUMBER: _ClassVar[int]
    CLINIC_ID_FIELD_NUMBER: _ClassVar[int]
    INSTRUMENT_FIELD_NUMBER: _ClassVar[int]
    MEASURE_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    SESSIONS_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    client_id: str
    therapist_id: str
    clinic_id: str
    instrument: str
    measure_id: str
    reason: str
    sessions: int
    occurred_at: _timestamp_pb2.Timestamp
    def __init__(self, client_id: _Optional[str] = ..., therapist_id: _Optional[str] = ..., clinic_id: _Optional[str] = ..., instrument: _Optional[str] = ..., measure_id: _Optional[str] = ..., reason: _Optional[str] = ..., sessions: _Optional[int] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class SafetyFlag(_message.Message):
    __slots__ = ("client_id", "therapist_id", "clinic_id", "measure_id", "occurred_at")
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    THERAPIST_ID_FIELD_NUMBER: _ClassVar[int]
    CLINIC_ID_FIELD_NUMBER: _ClassVar[int]
    MEASURE_ID_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    client_id: str
    therapist_id: str
    clinic_id: str
    measure_id: str
    occurred_at: _timestamp_pb2.Timestamp
    def __init__(self, client_id: _Optional[str] = ..., therapist_id: _Optional[str] = ..., clinic_id: _Optional[str] = ..., measure_id: _Optional[str] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ClientErasureRequested(_message.Message):
    __slots__ = ("client_id", "shred_after", "occurred_at")
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    SHRED_AFTER_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    client_id: str
    shred_after: _timestamp_pb2.Timestamp
    occurred_at: _timestamp_pb2.Timestamp
    def __init__(self, client_id: _Optional[str] = ..., shred_after: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ClientRecordsShredded(_message.Message):
    __slots__ = ("client_id", "occurred_at")
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    client_id: str
    occurred_at: _timestamp_pb2.Timestamp
    def __init__(self, client_id: _Optional[str] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
