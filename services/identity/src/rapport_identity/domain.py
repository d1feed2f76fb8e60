"""Identity's rules: who may register, what a valid account looks like, what a token claims."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pycountry
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from rapport_platform.auth import AUDIENCE, CLIENT, ISSUER, THERAPIST
from rapport_platform.errors import InvalidArgument

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024  # argon2 hashes any length; this bounds the work one request can ask
MAX_DISPLAY_NAME = 100
SELF_REGISTERED_ROLES = (CLIENT, THERAPIST)
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")


@dataclass(frozen=True)
class User:
    user_id: str
    email: str
    role: str
    display_name: str
    jurisdiction: str
    clinic_id: str
    created_at: datetime


def normalise_email(email: str) -> str:
    return email.strip().lower()


def check_jurisdiction(code: str) -> str:
    """An ISO 3166-2 subdivision code such as US-CA or GB-ENG."""
    code = code.strip().upper()
    if pycountry.subdivisions.get(code=code) is None:
        raise InvalidArgument(
            "jurisdiction must be an ISO 3166-2 code such as US-CA", field="jurisdiction"
        )
    return code


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidArgument(
            f"password must be at least {MIN_PASSWORD_LENGTH} characters", field="password"
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidArgument("password is too long", field="password")


def new_user(
    *, email: str, password: str, role: str, display_name: str, jurisdiction: str, now: datetime
) -> User:
    """Validate a self-registration. Clients must say where they live (licensure depends on it)."""
    email = normalise_email(email)
    if not _EMAIL.match(email) or len(email) > 254:
        raise InvalidArgument("email is not a valid address", field="email")
    check_password(password)
    if role not in SELF_REGISTERED_ROLES:
        raise InvalidArgument("role must be client or therapist", field="role")
    display_name = display_name.strip()
    if not display_name or len(display_name) > MAX_DISPLAY_NAME:
        raise InvalidArgument(
            f"display_name must be 1 to {MAX_DISPLAY_NAME} characters", field="display_name"
        )
    if jurisdiction.strip() or role == CLIENT:
        jurisdiction = check_jurisdiction(jurisdiction)
    return User(
        user_id=str(uuid.uuid4()),
        email=email,
        role=role,
        display_name=display_name,
        jurisdiction=jurisdiction,
        clinic_id="",
        created_at=now,
    )


def access_claims(
    user: User, *, now: datetime, ttl: timedelta, mfa: bool = False
) -> dict[str, Any]:
    """The claims of a short-lived access token. Ids and role only: no email, no name."""
    return {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": user.user_id,
        "typ": "access",
        "role": user.role,
        "clinic_id": user.clinic_id,
        "mfa": mfa,
        "iat": int(now.timestamp()),
        "exp": int((now + ttl).timestamp()),
        "jti": str(uuid.uuid4()),
    }


# argon2id with the library's defaults (RFC 9106 low-memory profile). CPU-bound: callers run it
# in a worker thread.
_hasher = PasswordHasher()
# Verified when an email is unknown, so a wrong email costs the same time as a wrong password.
_DUMMY_HASH = _hasher.hash("not-a-real-password-for-timing")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def password_matches(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False
