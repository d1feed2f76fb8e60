import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class UserRegistered(_message.Message):
    __slots__ = ("user_id", "role", "clinic_id", "jurisdiction", "occurred_at")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    CLINIC_ID_FIELD_NUMBER: _ClassVar[int]
    JURISDICTION_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    role: str
    clinic_id: str
    jurisdiction: str
    occurred_at: _timestamp_pb2.Timestamp
    def __init__(self, user_id: _Optional[str] = ..., role: _Optional[str] = ..., clinic_id: _Optional[str] = ..., jurisdiction: _Optional[str] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ClinicCreated(_message.Message):
    __slots__ = ("clinic_id", "admin_user_id", "currency", "commission_bps", "occurred_at")
    CLINIC_ID_FIELD_NUMBER: _ClassVar[int]
    ADMIN_USER_ID_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    COMMISSION_BPS_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    clinic_id: str
    admin_user_id: str
    currency: str
    commission_bps: int
    occurred_at: _timestamp_pb2.Timestamp
    def __init__(self, clinic_id: _Optional[str] = ..., admin_user_id: _Optional[str] = ..., currency: _Optional[str] = ..., commission_bps: _Optional[int] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class TherapistProfileUpdated(_message.Message):
    __slots__ = ("therapist_id", "clinic_id", "occurred_at")
    THERAPIST_ID_FIELD_NUMBER: _ClassVar[int]
    CLINIC_ID_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    therapist_id: str
    clinic_id: str
    occurred_at: _timestamp_pb2.Timestamp
    def __init__(self, therapist_id: _Optional[str] = ..., clinic_id: _Optional[str] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class TherapistJoinedClinic(_message.Message):
    __slots__ = ("therapist_id", "clinic_id", "previous_clinic_id", "occurred_at")
    THERAPIST_ID_FIELD_NUMBER: _ClassVar[int]
    CLINIC_ID_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_CLINIC_ID_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    therapist_id: str
    clinic_id: str
    previous_clinic_id: str
    occurred_at: _timestamp_pb2.Timestamp
    def __init__(self, therapist_id: _Optional[str] = ..., clinic_id: _Optional[str] = ..., previous_clinic_id: _Optional[str] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class LicenseVerified(_message.Message):
    __slots__ = ("license_id", "therapist_id", "clinic_id", "kind", "jurisdiction", "expires_on", "verified_by", "occurred_at")
    LICENSE_ID_FIELD_NUMBER: _ClassVar[int]
    THERAPIST_ID_FIELD_NUMBER: _ClassVar[int]
    CLINIC_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    JURISDICTION_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_ON_FIELD_NUMBER: _ClassVar[int]
    VERIFIED_BY_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    license_id: str
    therapist_id: str
    clinic_id: str
    kind: str
    jurisdiction: str
    expires_on: str
    verified_by: str
    occurred_at: _timestamp_pb2.Timestamp
    def __init__(self, license_id: _Optional[str] = ..., therapist_id: _Optional[str] = ..., clinic_id: _Optional[str] = ..., kind: _Optional[str] = ..., jurisdiction: _Optional[str] = ..., expires_on: _Optional[str] = ..., verified_by: _Optional[str] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class LicenseExpired(_message.Message):
    __slots__ = ("license_id", "therapist_id", "clinic_id", "kind", "jurisdiction", "expires_on", "occurred_at")
    LICENSE_ID_FIELD_NUMBER: _ClassVar[int]
    THERAPIST_ID_FIELD_NUMBER: _ClassVar[int]
    CLINIC_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    JURISDICTION_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_ON_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    license_id: str
    therapist_id: str
    clinic_id: str
    kind: str
    jurisdiction: str
    expires_on: str
    occurred_at: _timestamp_pb2.Timestamp
    def __init__(self, license_id: _Optional[str] = ..., therapist_id: _Optional[str] = ..., clinic_id: _Optional[str] = ..., kind: _Optional[str] = ..., jurisdiction: _Optional[str] = ..., expires_on: _Optional[str] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class MfaReset(_message.Message):
    __slots__ = ("user_id", "reset_by", "occurred_at")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    RESET_BY_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    reset_by: str
    occurred_at: _timestamp_pb2.Timestamp
    def __init__(self, user_id: _Optional[str] = ..., reset_by: _Optional[str] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
