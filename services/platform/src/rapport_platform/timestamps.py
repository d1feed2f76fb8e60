"""datetime <-> google.protobuf.Timestamp, once for every service (times are UTC on the wire)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import overload

from google.protobuf.timestamp_pb2 import Timestamp


@overload
def to_timestamp(value: datetime) -> Timestamp: ...
@overload
def to_timestamp(value: None) -> None: ...
def to_timestamp(value: datetime | None) -> Timestamp | None:
    """None stays None, so an unset proto field stays unset."""
    if value is None:
        return None
    stamp = Timestamp()
    stamp.FromDatetime(value.astimezone(UTC))
    return stamp


def utc_now() -> datetime:
    """The real clock, in UTC: the default wherever a service takes an injectable clock."""
    return datetime.now(UTC)


def millisecond_clock(clock: Callable[[], datetime]) -> Callable[[], datetime]:
    """BSON dates keep milliseconds: a clock that answers with what a later read will find."""

    def now() -> datetime:
        t = clock()
        return t.replace(microsecond=t.microsecond // 1000 * 1000)

    return now
