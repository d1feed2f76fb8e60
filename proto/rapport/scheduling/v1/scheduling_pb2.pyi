import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from rapport.types.v1 import money_pb2 as _money_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Modality(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MODALITY_UNSPECIFIED: _ClassVar[Modality]
    MODALITY_VIDEO: _ClassVar[Modality]
    MODALITY_CHAT: _ClassVar[Modality]

class AppointmentStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    APPOINTMENT_STATUS_UNSPECIFIED: _ClassVar[AppointmentStatus]
    APPOINTMENT_STATUS_HELD: _ClassVar[AppointmentStatus]
    APPOINTMENT_STATUS_CONFIRMED: _ClassVar[AppointmentStatus]
    APPOINTMENT_STATUS_CANCELLED: _ClassVar[AppointmentStatus]
    APPOINTMENT_STATUS_NO_SHOW: _ClassVar[AppointmentStatus]
    APPOINTMENT_STATUS_COMPLETED: _ClassVar[AppointmentStatus]
    APPOINTMENT_STATUS_EXPIRED: _ClassVar[AppointmentStatus]
MODALITY_UNSPECIFIED: Modality
MODALITY_VIDEO: Modality
MODALITY_CHAT: Modality
APPOINTMENT_STATUS_UNSPECIFIED: AppointmentStatus
APPOINTMENT_STATUS_HELD: AppointmentStatus
APPOINTMENT_STATUS_CONFIRMED: AppointmentStatus
APPOINTMENT_STATUS_CANCELLED: AppointmentStatus
APPOINTMENT_STATUS_NO_SHOW: AppointmentStatus
APPOINTMENT_STATUS_COMPLETED: AppointmentStatus
APPOINTMENT_STATUS_EXPIRED: AppointmentStatus

class TimeWindow(_message.Message):
    __slots__ = ("start", "end")
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    start: str
    end: str
    def __init__(self, start: _Optional[str] = ..., end: _Optional[str] = ...) -> None: ...

class WeeklyRule(_message.Message):
    __slots__ = ("weekday", "start", "end")
    WEEKDAY_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    weekday: int
    start: str
    end: str
    def __init__(self, weekday: _Optional[int] = ..., start: _Optional[str] = ..., end: _Optional[str] = ...) -> None: ...

class DateOverride(_message.Message):
    __slots__ = ("date", "windows")
    DATE_FIELD_NUMBER: _ClassVar[int]
    WINDOWS_FIELD_NUMBER: _ClassVar[int]
    date: str
    windows: _containers.RepeatedCompositeFieldContainer[TimeWindow]
    def __init__(self, date: _Optional[str] = ..., windows: _Optional[_Iterable[_Union[TimeWindow, _Mapping]]] = ...) -> None: ...

class TimeOff(_message.Message):
    __slots__ = ("start", "end")
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    start: _timestamp_pb2.Timestamp
    end: _timestamp_pb2.Timestamp
    def __init__(self, start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Availability(_message.Message):
    __slots__ = ("therapist_id", "timezone", "weekly", "overrides", "time_off", "buffer_before_minutes", "buffer_after_minutes", "min_notice_minutes", "horizon_days", "slot_step_minutes", "updated_at")
    THERAPIST_ID_FIELD_NUMBER: _ClassVar[int]
    TIMEZONE_FIELD_NUMBER: _ClassVar[int]
    WEEKLY_FIELD_NUMBER: _ClassVar[int]
    OVERRIDES_FIELD_NUMBER: _ClassVar[int]
    TIME_OFF_FIELD_NUMBER: _ClassVar[int]
    BUFFER_BEFORE_MINUTES_FIELD_NUMBER: _ClassVar[int]
    BUFFER_AFTER_MINUTES_FIELD_NUMBER: _ClassVar[int]
    MIN_NOTICE_MINUTES_FIELD_NUMBER: _ClassVar[int]
    HORIZON_DAYS_FIELD_NUMBER: _ClassVar[int]
    SLOT_STEP_MINUTES_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    therapist_id: str
    timezone: str
    weekly: _containers.RepeatedCompositeFieldContainer[WeeklyRule]
    overrides: _containers.RepeatedCompositeFieldContainer[DateOverride]
    time_off: _containers.RepeatedCompositeFieldContainer[TimeOff]
    buffer_before_minutes: int
    buffer_after_minutes: int
    min_notice_minutes: int
    horizon_days: int
    slot_step_minutes: int
    updated_at: _timestamp_pb2.Timestamp
    def __init__(self, therapist_id: _Optional[str] = ..., timezone: _Optional[str] = ..., weekly: _Optional[_Iterable[_Union[WeeklyRule, _Mapping]]] = ..., overrides: _Optional[_Iterable[_Union[DateOverride, _Mapping]]] = ..., time_off: _Optional[_Iterable[_Union[TimeOff, _Mapping]]] = ..., buffer_before_minutes: _Optional[int] = ..., buffer_after_minutes: _Optional[int] = ..., min_notice_minutes: _Optional[int] = ..., horizon_days: _Optional[int] = ..., slot_step_minutes: _Optional[int] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class SetAvailabilityRequest(_message.Message):
    __slots__ = ("availability",)
    AVAILABILITY_FIELD_NUMBER: _ClassVar[int]
    availability: Availability
    def __init__(self, availability: _Optional[_Union[Availability, _Mapping]] = ...) -> None: ...

class SetAvailabilityResponse(_message.Message):
    __slots__ = ("availability",)
    AVAILABILITY_FIELD_NUMBER: _ClassVar[int]
    availability: Availability
    def __init__(self, availability: _Optional[_Union[Availability, _Mapping]] = ...) -> None: ...

class GetAvailabilityRequest(_message.Message):
    __slots__ = ("therapist_id",)
    THERAPIST_ID_FIELD_NUMBER: _ClassVar[int]
    therapist_id: str
    def __init__(self, therapist_id: _Optional[str] = ...) -> None: ...

class GetAvailabilityResponse(_message.Message):
    __slots__ = ("availability",)
    AVAILABILITY_FIELD_NUMBER: _ClassVar[int]
    availability: Availability
    def __init__(self, availability: _Optional[_Union[Availability, _Mapping]] = ...) -> None: ...

class ListSlotsRequest(_message.Message):
    __slots__ = ("therapist_id", "session_type", "start_from", "start_before", "timezone", "limit")
    THERAPIST_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_TYPE_FIELD_NUMBER: _ClassVar[int]
    START_FROM_FIELD_NUMBER: _ClassVar[int]
    START_BEFORE_FIELD_NUMBER: _ClassVar[int]
    TIMEZONE_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    therapist_id: str
    session_type: str
    start_from: _timestamp_pb2.Timestamp
    start_before: _timestamp_pb2.Timestamp
    timezone: str
    limit: int
    def __init__(self, therapist_id: _Optional[str] = ..., session_type: _Optional[str] = ..., start_from: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., start_before: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., timezone: _Optional[str] = ..., limit: _Optional[int] = ...) -> None: ...

class Slot(_message.Message):
    __slots__ = ("start", "end")
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    start: _timestamp_pb2.Timestamp
    end: _timestamp_pb2.Timestamp
    def __init__(self, start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListSlotsResponse(_message.Message):
    __slots__ = ("slots", "timezone", "duration_minutes", "more")
    SLOTS_FIELD_NUMBER: _ClassVar[int]
    TIMEZONE_FIELD_NUMBER: _ClassVar[int]
    DURATION_MINUTES_FIELD_NUMBER: _ClassVar[int]
    MORE_FIELD_NUMBER: _ClassVar[int]
    slots: _containers.RepeatedCompositeFieldContainer[Slot]
    timezone: str
    duration_minutes: int
    more: bool
    def __init__(self, slots: _Optional[_Iterable[_Union[Slot, _Mapping]]] = ..., timezone: _Optional[str] = ..., duration_minutes: _Optional[int] = ..., more: _Optional[bool] = ...) -> None: ...

class Appointment(_message.Message):
    __slots__ = ("appointment_id", "therapist_id", "client_id", "clinic_id", "session_type", "duration_minutes", "modality", "start", "end", "status", "price", "hold_expires_at", "created_at", "cancelled_at", "cancelled_by", "cancel_reason", "late_cancellation", "late_fee", "no_show_at", "completed_at", "session_id", "buffer_before_minutes", "buffer_after_minutes")
    APPOINTMENT_ID_FIELD_NUMBER: _ClassVar[int]
    THERAPIST_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    CLINIC_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_TYPE_FIELD_NUMBER: _ClassVar[int]
    DURATION_MINUTES_FIELD_NUMBER: _ClassVar[int]
    MODALITY_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    HOLD_EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    CANCELLED_AT_FIELD_NUMBER: _ClassVar[int]
    CANCELLED_BY_FIELD_NUMBER: _ClassVar[int]
    CANCEL_REASON_FIELD_NUMBER: _ClassVar[int]
    LATE_CANCELLATION_FIELD_NUMBER: _ClassVar[int]
    LATE_FEE_FIELD_NUMBER: _ClassVar[int]
    NO_SHOW_AT_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_AT_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    BUFFER_BEFORE_MINUTES_FIELD_NUMBER: _ClassVar[int]
    BUFFER_AFTER_MINUTES_FIELD_NUMBER: _ClassVar[int]
    appointment_id: str
    therapist_id: str
    client_id: str
    clinic_id: str
    session_type: str
    duration_minutes: int
    modality: Modality
    start: _timestamp_pb2.Timestamp
    end: _timestamp_pb2.Timestamp
    status: AppointmentStatus
    price: _money_pb2.Money
    hold_expires_at: _timestamp_pb2.Timestamp
    created_at: _timestamp_pb2.Timestamp
    cancelled_at: _timestamp_pb2.Timestamp
    cancelled_by: str
    cancel_reason: str
    late_cancellation: bool
    late_fee: _money_pb2.Money
    no_show_at: _timestamp_pb2.Timestamp
    completed_at: _timestamp_pb2.Timestamp
    session_id: str
    buffer_before_minutes: int
    buffer_after_minutes: int
    def __init__(self, appointment_id: _Optional[str] = ..., therapist_id: _Optional[str] = ..., client_id: _Optional[str] = ..., clinic_id: _Optional[str] = ..., session_type: _Optional[str] = ..., duration_minutes: _Optional[int] = ..., modality: _Optional[_Union[Modality, str]] = ..., start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., status: _Optional[_Union[AppointmentStatus, str]] = ..., price: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., hold_expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., cancelled_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., cancelled_by: _Optional[str] = ..., cancel_reason: _Optional[str] = ..., late_cancellation: _Optional[bool] = ..., late_fee: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., no_show_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., completed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., session_id: _Optional[str] = ..., buffer_before_minutes: _Optional[int] = ..., buffer_after_minutes: _Optional[int] = ...) -> None: ...

class BookAppointmentRequest(_message.Message):
    __slots__ = ("therapist_id", "session_type", "start", "modality", "hold", "idempotency_key")
    THERAPIST_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_TYPE_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    MODALITY_FIELD_NUMBER: _ClassVar[int]
    HOLD_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    therapist_id: str
    session_type: str
    start: _timestamp_pb2.Timestamp
    modality: Modality
    hold: bool
    idempotency_key: str
    def __init__(self, therapist_id: _Optional[str] = ..., session_type: _Optional[str] = ..., start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., modality: _Optional[_Union[Modality, str]] = ..., hold: _Optional[bool] = ..., idempotency_key: _Optional[str] = ...) -> None: ...

class BookAppointmentResponse(_message.Message):
    __slots__ = ("appointment", "replayed")
    APPOINTMENT_FIELD_NUMBER: _ClassVar[int]
    REPLAYED_FIELD_NUMBER: _ClassVar[int]
    appointment: Appointment
    replayed: bool
    def __init__(self, appointment: _Optional[_Union[Appointment, _Mapping]] = ..., replayed: _Optional[bool] = ...) -> None: ...

class ConfirmAppointmentRequest(_message.Message):
    __slots__ = ("appointment_id",)
    APPOINTMENT_ID_FIELD_NUMBER: _ClassVar[int]
    appointment_id: str
    def __init__(self, appointment_id: _Optional[str] = ...) -> None: ...

class ConfirmAppointmentResponse(_message.Message):
    __slots__ = ("appointment",)
    APPOINTMENT_FIELD_NUMBER: _ClassVar[int]
    appointment: Appointment
    def __init__(self, appointment: _Optional[_Union[Appointment, _Mapping]] = ...) -> None: ...

class GetAppointmentRequest(_message.Message):
    __slots__ = ("appointment_id",)
    APPOINTMENT_ID_FIELD_NUMBER: _ClassVar[int]
    appointment_id: str
    def __init__(self, appointment_id: _Optional[str] = ...) -> None: ...

class GetAppointmentResponse(_message.Message):
    __slots__ = ("appointment",)
    APPOINTMENT_FIELD_NUMBER: _ClassVar[int]
    appointment: Appointment
    def __init__(self, appointment: _Optional[_Union[Appointment, _Mapping]] = ...) -> None: ...

class ListAppointmentsRequest(_message.Message):
    __slots__ = ("limit", "cursor", "start_from", "start_before", "statuses")
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    START_FROM_FIELD_NUMBER: _ClassVar[int]
    START_BEFORE_FIELD_NUMBER: _ClassVar[int]
    STATUSES_FIELD_NUMBER: _ClassVar[int]
    limit: int
    cursor: str
    start_from: _timestamp_pb2.Timestamp
    start_before: _timestamp_pb2.Timestamp
    statuses: _containers.RepeatedScalarFieldContainer[AppointmentStatus]
    def __init__(self, limit: _Optional[int] = ..., cursor: _Optional[str] = ..., start_from: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., start_before: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., statuses: _Optional[_Iterable[_Union[AppointmentStatus, str]]] = ...) -> None: ...

class ListAppointmentsResponse(_message.Message):
    __slots__ = ("items", "next_cursor")
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    NEXT_CURSOR_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[Appointment]
    next_cursor: str
    def __init__(self, items: _Optional[_Iterable[_Union[Appointment, _Mapping]]] = ..., next_cursor: _Optional[str] = ...) -> None: ...

class CancelAppointmentRequest(_message.Message):
    __slots__ = ("appointment_id", "reason")
    APPOINTMENT_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    appointment_id: str
    reason: str
    def __init__(self, appointment_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class CancelAppointmentResponse(_message.Message):
    __slots__ = ("appointment",)
    APPOINTMENT_FIELD_NUMBER: _ClassVar[int]
    appointment: Appointment
    def __init__(self, appointment: _Optional[_Union[Appointment, _Mapping]] = ...) -> None: ...

class RescheduleAppointmentRequest(_message.Message):
    __slots__ = ("appointment_id", "start")
    APPOINTMENT_ID_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    appointment_id: str
    start: _timestamp_pb2.Timestamp
    def __init__(self, appointment_id: _Optional[str] = ..., start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RescheduleAppointmentResponse(_message.Message):
    __slots__ = ("appointment",)
    APPOINTMENT_FIELD_NUMBER: _ClassVar[int]
    appointment: Appointment
    def __init__(self, appointment: _Optional[_Union[Appointment, _Mapping]] = ...) -> None: ...

class MarkNoShowRequest(_message.Message):
    __slots__ = ("appointment_id",)
    APPOINTMENT_ID_FIELD_NUMBER: _ClassVar[int]
    appointment_id: str
    def __init__(self, appointment_id: _Optional[str] = ...) -> None: ...

class MarkNoShowResponse(_message.Message):
    __slots__ = ("appointment",)
    APPOINTMENT_FIELD_NUMBER: _ClassVar[int]
    appointment: Appointment
    def __init__(self, appointment: _Optional[_Union[Appointment, _Mapping]] = ...) -> None: ...

class CreateCalendarFeedRequest(_message.Message):
    __slots__ = ("therapist_id",)
    THERAPIST_ID_FIELD_NUMBER: _ClassVar[int]
    therapist_id: str
    def __init__(self, therapist_id: _Optional[str] = ...) -> None: ...

class CreateCalendarFeedResponse(_message.Message):
    __slots__ = ("feed_token",)
    FEED_TOKEN_FIELD_NUMBER: _ClassVar[int]
    feed_token: str
    def __init__(self, feed_token: _Optional[str] = ...) -> None: ...

class GetCalendarFeedRequest(_message.Message):
    __slots__ = ("feed_token",)
    FEED_TOKEN_FIELD_NUMBER: _ClassVar[int]
    feed_token: str
    def __init__(self, feed_token: _Optional[str] = ...) -> None: ...

class GetCalendarFeedResponse(_message.Message):
    __slots__ = ("ics",)
    ICS_FIELD_NUMBER: _ClassVar[int]
    ics: str
    def __init__(self, ics: _Optional[str] = ...) -> None: ...
