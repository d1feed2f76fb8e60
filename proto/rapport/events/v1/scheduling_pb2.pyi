import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from rapport.types.v1 import money_pb2 as _money_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ScheduledAppointment(_message.Message):
    __slots__ = ("appointment_id", "therapist_id", "client_id", "clinic_id", "session_type", "duration_minutes", "modality", "start", "end", "price", "status")
    APPOINTMENT_ID_FIELD_NUMBER: _ClassVar[int]
    THERAPIST_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    CLINIC_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_TYPE_FIELD_NUMBER: _ClassVar[int]
    DURATION_MINUTES_FIELD_NUMBER: _ClassVar[int]
    MODALITY_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    appointment_id: str
    therapist_id: str
    client_id: str
    clinic_id: str
    session_type: str
    duration_minutes: int
    modality: str
    start: _timestamp_pb2.Timestamp
    end: _timestamp_pb2.Timestamp
    price: _money_pb2.Money
    status: str
    def __init__(self, appointment_id: _Optional[str] = ..., therapist_id: _Optional[str] = ..., client_id: _Optional[str] = ..., clinic_id: _Optional[str] = ..., session_type: _Optional[str] = ..., duration_minutes: _Optional[int] = ..., modality: _Optional[str] = ..., start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., price: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., status: _Optional[str] = ...) -> None: ...

class AppointmentBooked(_message.Message):
    __slots__ = ("appointment", "held", "hold_expires_at", "occurred_at")
    APPOINTMENT_FIELD_NUMBER: _ClassVar[int]
    HELD_FIELD_NUMBER: _ClassVar[int]
    HOLD_EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    appointment: ScheduledAppointment
    held: bool
    hold_expires_at: _timestamp_pb2.Timestamp
    occurred_at: _timestamp_pb2.Timestamp
    def __init__(self, appointment: _Optional[_Union[ScheduledAppointment, _Mapping]] = ..., held: _Optional[bool] = ..., hold_expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class AppointmentConfirmed(_message.Message):
    __slots__ = ("appointment", "occurred_at")
    APPOINTMENT_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    appointment: ScheduledAppointment
    occurred_at: _timestamp_pb2.Timestamp
    def __init__(self, appointment: _Optional[_Union[ScheduledAppointment, _Mapping]] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class AppointmentRescheduled(_message.Message):
    __slots__ = ("appointment", "previous_start", "previous_end", "rescheduled_by", "occurred_at")
    APPOINTMENT_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_START_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_END_FIELD_NUMBER: _ClassVar[int]
    RESCHEDULED_BY_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    appointment: ScheduledAppointment
    previous_start: _timestamp_pb2.Timestamp
    previous_end: _timestamp_pb2.Timestamp
    rescheduled_by: str
    occurred_at: _timestamp_pb2.Timestamp
    def __init__(self, appointment: _Optional[_Union[ScheduledAppointment, _Mapping]] = ..., previous_start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., previous_end: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., rescheduled_by: _Optional[str] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class AppointmentCancelled(_message.Message):
    __slots__ = ("appointment", "cancelled_by", "cancelled_by_user_id", "late", "late_fee", "occurred_at")
    APPOINTMENT_FIELD_NUMBER: _ClassVar[int]
    CANCELLED_BY_FIELD_NUMBER: _ClassVar[int]
    CANCELLED_BY_USER_ID_FIELD_NUMBER: _ClassVar[int]
    LATE_FIELD_NUMBER: _ClassVar[int]
    LATE_FEE_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    appointment: ScheduledAppointment
    cancelled_by: str
    cancelled_by_user_id: str
    late: bool
    late_fee: _money_pb2.Money
    occurred_at: _timestamp_pb2.Timestamp
    def __init__(self, appointment: _Optional[_Union[ScheduledAppointment, _Mapping]] = ..., cancelled_by: _Optional[str] = ..., cancelled_by_user_id: _Optional[str] = ..., late: _Optional[bool] = ..., late_fee: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class AppointmentNoShow(_message.Message):
    __slots__ = ("appointment", "marked_by_user_id", "occurred_at")
    APPOINTMENT_FIELD_NUMBER: _ClassVar[int]
    MARKED_BY_USER_ID_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    appointment: ScheduledAppointment
    marked_by_user_id: str
    occurred_at: _timestamp_pb2.Timestamp
    def __init__(self, appointment: _Optional[_Union[ScheduledAppointment, _Mapping]] = ..., marked_by_user_id: _Optional[str] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class AppointmentCompleted(_message.Message):
    __slots__ = ("appointment", "session_id", "ended_at", "occurred_at")
    APPOINTMENT_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    ENDED_AT_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    appointment: ScheduledAppointment
    session_id: str
    ended_at: _timestamp_pb2.Timestamp
    occurred_at: _timestamp_pb2.Timestamp
    def __init__(self, appointment: _Optional[_Union[ScheduledAppointment, _Mapping]] = ..., session_id: _Optional[str] = ..., ended_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ReminderDue(_message.Message):
    __slots__ = ("reminder_id", "appointment", "lead_minutes", "due_at", "occurred_at")
    REMINDER_ID_FIELD_NUMBER: _ClassVar[int]
    APPOINTMENT_FIELD_NUMBER: _ClassVar[int]
    LEAD_MINUTES_FIELD_NUMBER: _ClassVar[int]
    DUE_AT_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    reminder_id: str
    appointment: ScheduledAppointment
    lead_minutes: int
    due_at: _timestamp_pb2.Timestamp
    occurred_at: _timestamp_pb2.Timestamp
    def __init__(self, reminder_id: _Optional[str] = ..., appointment: _Optional[_Union[ScheduledAppointment, _Mapping]] = ..., lead_minutes: _Optional[int] = ..., due_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
