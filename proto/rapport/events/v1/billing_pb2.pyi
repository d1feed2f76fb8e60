import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from rapport.types.v1 import money_pb2 as _money_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class InvoiceIssued(_message.Message):
    __slots__ = ("invoice_id", "appointment_id", "client_id", "clinic_id", "amount", "occurred_at")
    INVOICE_ID_FIELD_NUMBER: _ClassVar[int]
    APPOINTMENT_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    CLINIC_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    invoice_id: str
    appointment_id: str
    client_id: str
    clinic_id: str
    amount: _money_pb2.Money
    occurred_at: _timestamp_pb2.Timestamp
    def __init__(self, invoice_id: _Optional[str] = ..., appointment_id: _Optional[str] = ..., client_id: _Optional[str] = ..., clinic_id: _Optional[str] = ..., amount: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class PaymentAuthorized(_message.Message):
    __slots__ = ("invoice_id", "appointment_id", "payment_id", "provider", "amount", "occurred_at")
    INVOICE_ID_FIELD_NUMBER: _ClassVar[int]
    APPOINTMENT_ID_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    invoice_id: str
    appointment_id: str
    payment_id: str
    provider: str
    amount: _money_pb2.Money
    occurred_at: _timestamp_pb2.Timestamp
    def __init__(self, invoice_id: _Optional[str] = ..., appointment_id: _Optional[str] = ..., payment_id: _Optional[str] = ..., provider: _Optional[str] = ..., amount: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class PaymentCaptured(_message.Message):
    __slots__ = ("invoice_id", "appointment_id", "payment_id", "provider", "amount", "occurred_at")
    INVOICE_ID_FIELD_NUMBER: _ClassVar[int]
    APPOINTMENT_ID_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    invoice_id: str
    appointment_id: str
    payment_id: str
    provider: str
    amount: _money_pb2.Money
    occurred_at: _timestamp_pb2.Timestamp
    def __init__(self, invoice_id: _Optional[str] = ..., appointment_id: _Optional[str] = ..., payment_id: _Optional[str] = ..., provider: _Optional[str] = ..., amount: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class PaymentFailed(_message.Message):
    __slots__ = ("invoice_id", "appointment_id", "payment_id", "provider", "code", "occurred_at")
    INVOICE_ID_FIELD_NUMBER: _ClassVar[int]
    APPOINTMENT_ID_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    invoice_id: str
    appointment_id: str
    payment_id: str
    provider: str
    code: str
    occurred_at: _timestamp_pb2.Timestamp
    def __init__(self, invoice_id: _Optional[str] = ..., appointment_id: _Optional[str] = ..., payment_id: _Optional[str] = ..., provider: _Optional[str] = ..., code: _Optional[str] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RefundIssued(_message.Message):
    __slots__ = ("invoice_id", "appointment_id", "amount", "occurred_at")
    INVOICE_ID_FIELD_NUMBER: _ClassVar[int]
    APPOINTMENT_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    invoice_id: str
    appointment_id: str
    amount: _money_pb2.Money
    occurred_at: _timestamp_pb2.Timestamp
    def __init__(self, invoice_id: _Optional[str] = ..., appointment_id: _Optional[str] = ..., amount: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class PayoutReady(_message.Message):
    __slots__ = ("therapist_id", "period", "net", "sessions", "occurred_at")
    THERAPIST_ID_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    NET_FIELD_NUMBER: _ClassVar[int]
    SESSIONS_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    therapist_id: str
    period: str
    net: _money_pb2.Money
    sessions: int
    occurred_at: _timestamp_pb2.Timestamp
    def __init__(self, therapist_id: _Optional[str] = ..., period: _Optional[str] = ..., net: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., sessions: _Optional[int] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
