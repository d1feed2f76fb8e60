import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ParticipantSeconds(_message.Message):
    __slots__ = ("user_id", "role", "seconds")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    SECONDS_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    role: str
    seconds: int
    def __init__(self, user_id: _Optional[str] = ..., role: _Optional[str] = ..., seconds: _Optional[int] = ...) -> None: ...

class SessionStarted(_message.Message):
    __slots__ = ("appointment_id", "session_id", "started_at", "modality", "therapist_id", "client_id", "occurred_at")
    APPOINTMENT_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    MODALITY_FIELD_NUMBER: _ClassVar[int]
    THERAPIST_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    appointment_id: str
    session_id: str
    started_at: _timestamp_pb2.Timestamp
    modality: str
    therapist_id: str
    client_id: str
    occurred_at: _timestamp_pb2.Timestamp
    def __init__(self, appointment_id: _Optional[str] = ..., session_id: _Optional[str] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., modality: _Optional[str] = ..., therapist_id: _Optional[str] = ..., client_id: _Optional[str] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class SessionEnded(_message.Message):
    __slots__ = ("appointment_id", "session_id", "started_at", "ended_at", "connected_seconds", "modality", "occurred_at", "participants", "ended_by", "client_joined", "therapist_id", "client_id")
    APPOINTMENT_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    ENDED_AT_FIELD_NUMBER: _ClassVar[int]
    CONNECTED_SECONDS_FIELD_NUMBER: _ClassVar[int]
    MODALITY_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    PARTICIPANTS_FIELD_NUMBER: _ClassVar[int]
    ENDED_BY_FIELD_NUMBER: _ClassVar[int]
    CLIENT_JOINED_FIELD_NUMBER: _ClassVar[int]
    THERAPIST_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    appointment_id: str
    session_id: str
    started_at: _timestamp_pb2.Timestamp
    ended_at: _timestamp_pb2.Timestamp
    connected_seconds: int
    modality: str
    occurred_at: _timestamp_pb2.Timestamp
    participants: _containers.RepeatedCompositeFieldContainer[ParticipantSeconds]
    ended_by: str
    client_joined: bool
    therapist_id: str
    client_id: str
    def __init__(self, appointment_id: _Optional[str] = ..., session_id: _Optional[str] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., ended_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., connected_seconds: _Optional[int] = ..., modality: _Optional[str] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., participants: _Optional[_Iterable[_Union[ParticipantSeconds, _Mapping]]] = ..., ended_by: _Optional[str] = ..., client_joined: _Optional[bool] = ..., therapist_id: _Optional[str] = ..., client_id: _Optional[str] = ...) -> None: ...
