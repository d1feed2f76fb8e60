"""What identity publishes (through the outbox)."""

from __future__ import annotations

from google.protobuf.timestamp_pb2 import Timestamp
from rapport.events.v1 import identity_pb2

from rapport_identity.domain import User

USER_REGISTERED = "rapport.identity.user_registered"


def user_registered(user: User) -> identity_pb2.UserRegistered:
    occurred = Timestamp()
    occurred.FromDatetime(user.created_at)
    return identity_pb2.UserRegistered(
        user_id=user.user_id,
        role=user.role,
        clinic_id=user.clinic_id,
        jurisdiction=user.jurisdiction,
        occurred_at=occurred,
    )
