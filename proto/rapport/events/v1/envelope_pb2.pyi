from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class DeadLetter(_message.Message):
    __slots__ = ("original_subject", "stream", "consumer", "deliveries", "data", "error_type")
    ORIGINAL_SUBJECT_FIELD_NUMBER: _ClassVar[int]
    STREAM_FIELD_NUMBER: _ClassVar[int]
    CONSUMER_FIELD_NUMBER: _ClassVar[int]
    DELIVERIES_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    ERROR_TYPE_FIELD_NUMBER: _ClassVar[int]
    original_subject: str
    stream: str
    consumer: str
    deliveries: int
    data: bytes
    error_type: str
    def __init__(self, original_subject: _Optional[str] = ..., stream: _Optional[str] = ..., consumer: _Optional[str] = ..., deliveries: _Optional[int] = ..., data: _Optional[bytes] = ..., error_type: _Optional[str] = ...) -> None: ...
