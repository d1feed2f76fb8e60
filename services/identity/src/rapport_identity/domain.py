"""Identity's rules: who may register, what a valid account looks like, what a token claims."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import unicodedata
import uuid
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import langcodes
import pycountry
import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from rapport_platform.auth import AUDIENCE, CLIENT, CLINIC_ADMIN, ISSUER, THERAPIST
from rapport_platform.errors import (
    FailedPrecondition,
    InvalidArgument,
    PermissionDenied,
)
from rapport_platform.text import TextRefused, check_text

MARKETPLACE_CLINIC_ID = "marketplace"
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
    # A platform operator: set only by a deliberate admin action (`python -m rapport_identity
    # operator grant`), never by anything an account can do or claim (such as its email).
    operator: bool = False
    # Bumped by every change of role, clinic or operator flag; access tokens carry it (`ver`)
    # and one below the account's current version is refused (the change revoked it).
    token_version: int = 0


def normalise_email(email: str) -> str:
    # NFC: an address typed with combining marks is the same account as the composed one.
    return unicodedata.normalize("NFC", email).strip().lower()


def clean_text(value: str, *, field: str, multiline: bool = False) -> str:
    """The platform's character policy (rapport_platform.text), as this domain's error; blank
    and length are each field's own rule."""
    try:
        return check_text(value, multiline=multiline, allow_blank=True)
    except TextRefused as refused:
        raise InvalidArgument(f"{field} {refused}", field=field) from None


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
    email = normalise_email(clean_text(email, field="email"))
    if not _EMAIL.match(email) or len(email) > 254:
        raise InvalidArgument("email is not a valid address", field="email")
    check_password(password)
    if role not in SELF_REGISTERED_ROLES:
        raise InvalidArgument("role must be client or therapist", field="role")
    display_name = clean_text(display_name, field="display_name")
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
        # A therapist who signs up alone practises under the marketplace clinic until a clinic
        # admin's invitation moves them; clients belong to no clinic.
        clinic_id=MARKETPLACE_CLINIC_ID if role == THERAPIST else "",
        created_at=now,
    )


def clinic_of(user: User) -> str:
    """The clinic a therapist practises under (older accounts without one: the marketplace)."""
    if user.role == THERAPIST:
        return user.clinic_id or MARKETPLACE_CLINIC_ID
    return user.clinic_id


# --- operators ---------------------------------------------------------------------------------


def may_become_operator(user: User) -> None:
    """Operators use dedicated accounts: a client with no clinic (or one already administering
    the marketplace). Flagging a therapist or another clinic's admin would move them out of their
    clinic at their next sign-in."""
    if user.operator:
        return
    if (user.role, user.clinic_id) not in ((CLIENT, ""), (CLINIC_ADMIN, MARKETPLACE_CLINIC_ID)):
        raise FailedPrecondition(
            "only a client account with no clinic can be made an operator; "
            "create a dedicated account for the operator"
        )


def operator_placement(user: User) -> tuple[str, str] | None:
    """The (role, clinic) an account must be moved to at sign-in so that it matches its operator
    flag, or None. A flagged account administers the marketplace clinic; a marketplace admin
    whose flag was revoked goes back to being a client."""
    if user.operator and (user.role, user.clinic_id) == (CLIENT, ""):
        return CLINIC_ADMIN, MARKETPLACE_CLINIC_ID
    if not user.operator and (user.role, user.clinic_id) == (CLINIC_ADMIN, MARKETPLACE_CLINIC_ID):
        return CLIENT, ""
    return None


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
        "ver": user.token_version,
        "iat": int(now.timestamp()),
        "exp": int((now + ttl).timestamp()),
        "jti": str(uuid.uuid4()),
    }


# How long a revocation is listed: the longest an access token may live (the settings' bound)
# plus the verifiers' leeway; any token it voids has expired by then.
REVOCATION_KEEP = timedelta(seconds=3600 + 60)


def token_revoked(user: User, token_version: int) -> bool:
    """The token was issued before the account's last role, clinic or operator change."""
    return token_version < user.token_version


# argon2id at OWASP's password-storage minimum (m=19 MiB, t=2, p=1), chosen by measurement:
# the library's defaults (m=64 MiB, t=3, p=4) cost about 0.26 s of CPU per hash on the 2-core
# reference machine, these about 0.03 s (README, `make bench`), so a burst of sign-ups fits its
# deadline and each concurrent hash holds 19 MiB instead of 64. Hashes made with other
# parameters keep verifying and are re-made at the next sign-in (password_needs_rehash).
# CPU-bound: callers run it on identity's hashing pool (passwords.py).
PASSWORD_TIME_COST = 2
PASSWORD_MEMORY_KIB = 19 * 1024
PASSWORD_PARALLELISM = 1
_hasher = PasswordHasher(
    time_cost=PASSWORD_TIME_COST, memory_cost=PASSWORD_MEMORY_KIB, parallelism=PASSWORD_PARALLELISM
)
# Verified when an email is unknown, so a wrong email costs the same time as a wrong password.
_DUMMY_HASH = _hasher.hash("not-a-real-password-for-timing")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def password_matches(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def password_needs_rehash(password_hash: str) -> bool:
    """True for a hash made with other parameters than today's (e.g. before they changed)."""
    try:
        return _hasher.check_needs_rehash(password_hash)
    except (InvalidHashError, ValueError):
        return False


def hash_secret(token: str) -> str:
    """Refresh and invitation tokens are 256 random bits: a plain SHA-256 is enough to store them
    (no dictionary to attack), and it lets us look the token up by its hash."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_secret_token() -> str:
    return secrets.token_urlsafe(32)


# --- clinics ---------------------------------------------------------------------------------

MAX_CLINIC_NAME = 200
MAX_CANCELLATION_WINDOW_HOURS = 24 * 14
MAX_FEE_MINOR = 100_000_000
MAX_ACTIVE_BOOKINGS = 200
# A clinic is vetted by a platform operator before its admin may verify licences: otherwise
# anyone could found a clinic, invite their own therapist account and vouch for invented licences.
CLINIC_PENDING, CLINIC_APPROVED = "pending", "approved"


@dataclass(frozen=True)
class Clinic:
    clinic_id: str
    name: str
    currency: str
    timezone: str
    commission_bps: int
    cancellation_window_hours: int
    late_fee_minor: int
    created_at: datetime
    admin_user_id: str = ""
    status: str = CLINIC_PENDING
    approved_at: datetime | None = None
    approved_by: str = ""
    # Active bookings one client may have at once with one therapist / with the whole clinic;
    # 0: the platform's default (identity's settings), also for records from before the limits.
    max_active_per_therapist: int = 0
    max_active_per_client: int = 0
    # Clients pay before a booking is confirmed (they book with a hold); scheduling enforces it.
    payment_first: bool = False

    @property
    def approved(self) -> bool:
        # The marketplace is run by the operators themselves (a record from before vetting
        # existed carries no status).
        return self.status == CLINIC_APPROVED or self.clinic_id == MARKETPLACE_CLINIC_ID


def check_currency(code: str) -> str:
    code = code.strip().upper()
    if len(code) != 3 or pycountry.currencies.get(alpha_3=code) is None:
        raise InvalidArgument("currency must be an ISO 4217 code such as USD", field="currency")
    return code


def check_timezone(name: str) -> str:
    name = name.strip()
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidArgument(
            "timezone must be an IANA time zone such as Europe/London", field="timezone"
        ) from None
    return name


def check_terms(
    *,
    commission_bps: int,
    cancellation_window_hours: int,
    late_fee_minor: int,
    max_active_per_therapist: int,
    max_active_per_client: int,
) -> None:
    """A clinic's terms, at founding and at every change."""
    if not 0 <= commission_bps <= 10_000:
        raise InvalidArgument(
            "commission_bps must be 0 to 10000 basis points", field="commission_bps"
        )
    if not 0 <= cancellation_window_hours <= MAX_CANCELLATION_WINDOW_HOURS:
        raise InvalidArgument(
            f"cancellation_window_hours must be 0 to {MAX_CANCELLATION_WINDOW_HOURS}",
            field="cancellation_window_hours",
        )
    if not 0 <= late_fee_minor <= MAX_FEE_MINOR:
        raise InvalidArgument(
            "late_cancellation_fee_minor must be a non-negative amount in minor units",
            field="late_cancellation_fee_minor",
        )
    for field, value in (
        ("max_active_bookings_per_therapist", max_active_per_therapist),
        ("max_active_bookings_per_client", max_active_per_client),
    ):
        if not 0 <= value <= MAX_ACTIVE_BOOKINGS:
            raise InvalidArgument(
                f"{field} must be 0 (the platform's default) to {MAX_ACTIVE_BOOKINGS}",
                field=field,
            )
    if 0 < max_active_per_client < max_active_per_therapist:
        raise InvalidArgument(
            "max_active_bookings_per_client must not be below the per-therapist limit",
            field="max_active_bookings_per_client",
        )


def new_clinic(
    *,
    name: str,
    currency: str,
    timezone: str,
    commission_bps: int,
    cancellation_window_hours: int,
    late_fee_minor: int,
    now: datetime,
    admin_user_id: str = "",
    clinic_id: str | None = None,
    status: str = CLINIC_PENDING,
    max_active_per_therapist: int = 0,
    max_active_per_client: int = 0,
) -> Clinic:
    name = clean_text(name, field="name")
    if not name or len(name) > MAX_CLINIC_NAME:
        raise InvalidArgument(f"name must be 1 to {MAX_CLINIC_NAME} characters", field="name")
    check_terms(
        commission_bps=commission_bps,
        cancellation_window_hours=cancellation_window_hours,
        late_fee_minor=late_fee_minor,
        max_active_per_therapist=max_active_per_therapist,
        max_active_per_client=max_active_per_client,
    )
    return Clinic(
        clinic_id=clinic_id or str(uuid.uuid4()),
        name=name,
        currency=check_currency(currency),
        timezone=check_timezone(timezone),
        commission_bps=commission_bps,
        cancellation_window_hours=cancellation_window_hours,
        late_fee_minor=late_fee_minor,
        created_at=now,
        admin_user_id=admin_user_id,
        status=status,
        approved_at=now if status == CLINIC_APPROVED else None,
        max_active_per_therapist=max_active_per_therapist,
        max_active_per_client=max_active_per_client,
    )


@dataclass(frozen=True)
class BookingLimits:
    per_therapist: int
    per_client: int


def booking_limits(clinic: Clinic, defaults: BookingLimits) -> BookingLimits:
    """The clinic's own limits, the platform's default where it set none."""
    return BookingLimits(
        per_therapist=clinic.max_active_per_therapist or defaults.per_therapist,
        per_client=clinic.max_active_per_client or defaults.per_client,
    )


def update_terms(
    clinic: Clinic,
    *,
    commission_bps: int | None = None,
    cancellation_window_hours: int | None = None,
    late_fee_minor: int | None = None,
    max_active_per_therapist: int | None = None,
    max_active_per_client: int | None = None,
) -> Clinic:
    """The clinic with the given terms changed (None: unchanged), checked as a whole: the
    per-client limit is compared with the per-therapist one as they will both be."""
    changed = replace(
        clinic,
        commission_bps=clinic.commission_bps if commission_bps is None else commission_bps,
        cancellation_window_hours=clinic.cancellation_window_hours
        if cancellation_window_hours is None
        else cancellation_window_hours,
        late_fee_minor=clinic.late_fee_minor if late_fee_minor is None else late_fee_minor,
        max_active_per_therapist=clinic.max_active_per_therapist
        if max_active_per_therapist is None
        else max_active_per_therapist,
        max_active_per_client=clinic.max_active_per_client
        if max_active_per_client is None
        else max_active_per_client,
    )
    check_terms(
        commission_bps=changed.commission_bps,
        cancellation_window_hours=changed.cancellation_window_hours,
        late_fee_minor=changed.late_fee_minor,
        max_active_per_therapist=changed.max_active_per_therapist,
        max_active_per_client=changed.max_active_per_client,
    )
    return changed


def may_reset_mfa(actor: User, target: User) -> None:
    """Who removes a lost authenticator: the admin of the clinic a therapist belongs to, or a
    platform operator for any account but an operator's (an operator is never reset through
    the API an operator's stolen session could reach)."""
    if target.operator:
        raise PermissionDenied("an operator's multi-factor is not reset through the API")
    if actor.user_id == target.user_id:
        raise PermissionDenied("ask your clinic's admin or a platform operator")
    if actor.operator:
        return
    if actor.role == CLINIC_ADMIN and target.role == THERAPIST and actor.clinic_id:
        if target.clinic_id == actor.clinic_id:
            return
    raise PermissionDenied("only the admin of the account's clinic or an operator may reset it")


def sees_full_clinic(clinic: Clinic, *, role: str, clinic_id: str, operator: bool) -> bool:
    """Commission and vetting status are for the clinic's admin and platform operators; anyone
    else sees what a client needs to book (name, cancellation policy, booking limits)."""
    return operator or (role == CLINIC_ADMIN and clinic_id == clinic.clinic_id)


def approve_clinic(clinic: Clinic, *, operator_id: str, now: datetime) -> Clinic:
    """The clinic once an operator has vetted it; the same object if it was approved already."""
    if clinic.approved:
        return clinic
    return replace(clinic, status=CLINIC_APPROVED, approved_at=now, approved_by=operator_id)


def may_create_clinic(user: User) -> None:
    """One role per account: a client account that belongs to no clinic may found one and becomes
    its admin. A therapist keeps practising and uses a separate account to administer."""
    if user.operator:
        raise PermissionDenied("an operator account cannot found a clinic; use another account")
    if user.role != CLIENT or user.clinic_id:
        raise PermissionDenied(
            "only an account with the client role and no clinic may create a clinic; "
            "use a separate account to administer one"
        )


# --- invitations -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Invitation:
    token_hash: str
    clinic_id: str
    email: str
    invited_by: str
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None = None


def new_invitation(
    *, clinic_id: str, email: str, invited_by: str, now: datetime, ttl: timedelta
) -> tuple[Invitation, str]:
    email = normalise_email(clean_text(email, field="email"))
    if not _EMAIL.match(email) or len(email) > 254:
        raise InvalidArgument("email is not a valid address", field="email")
    token = new_secret_token()
    invitation = Invitation(
        token_hash=hash_secret(token),
        clinic_id=clinic_id,
        email=email,
        invited_by=invited_by,
        created_at=now,
        expires_at=now + ttl,
    )
    return invitation, token


def check_acceptance(invitation: Invitation, user: User, *, now: datetime) -> None:
    if invitation.used_at is not None:
        raise FailedPrecondition("this invitation has already been used")
    if invitation.expires_at <= now:
        raise FailedPrecondition("this invitation has expired; ask the clinic for a new one")
    if user.role != THERAPIST:
        raise PermissionDenied("only a therapist account can join a clinic")
    # As bytes: compare_digest raises TypeError on a str that is not ASCII (an IDN mailbox).
    if not hmac.compare_digest(user.email.encode(), invitation.email.encode()):
        raise PermissionDenied("this invitation was sent to another account")


# --- therapist profiles ----------------------------------------------------------------------

SPECIALTIES = frozenset(
    {
        "addiction",
        "adhd",
        "anxiety",
        "career",
        "depression",
        "eating_disorders",
        "grief",
        "life_coaching",
        "lgbtq",
        "ocd",
        "parenting",
        "relationships",
        "shyness",
        "sleep",
        "social_anxiety",
        "stress",
        "trauma",
    }
)
MODALITIES = ("video", "chat")
MAX_BIO = 4000
MAX_LIST = 20
MAX_SESSION_TYPES = 10
MIN_SESSION_MINUTES = 10
MAX_SESSION_MINUTES = 240
_SESSION_TYPE_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")


@dataclass(frozen=True)
class SessionType:
    name: str
    duration_minutes: int
    price_minor: int


@dataclass(frozen=True)
class Profile:
    therapist_id: str
    clinic_id: str
    display_name: str
    bio: str
    languages: tuple[str, ...]
    modalities: tuple[str, ...]
    specialties: tuple[str, ...]
    session_types: tuple[SessionType, ...]
    updated_at: datetime

    @property
    def primary_languages(self) -> tuple[str, ...]:
        return tuple(sorted({primary_language(t) for t in self.languages}))


def check_language(tag: str) -> str:
    """A well-formed, registered BCP 47 tag, in its canonical form (EN-us -> en-US)."""
    tag = tag.strip()
    if not tag or len(tag) > 35 or not langcodes.tag_is_valid(tag):
        raise InvalidArgument(
            "languages must be BCP 47 tags such as en, es-MX or zh-Hant", field="languages"
        )
    return str(langcodes.standardize_tag(tag))


def primary_language(tag: str) -> str:
    return tag.split("-", 1)[0].lower()


def check_specialty(name: str) -> str:
    name = name.strip().lower()
    if name not in SPECIALTIES:
        raise InvalidArgument(
            f"specialty must be one of {', '.join(sorted(SPECIALTIES))}", field="specialties"
        )
    return name


def check_modality(name: str) -> str:
    if name not in MODALITIES:
        raise InvalidArgument("modalities must be video or chat", field="modalities")
    return name


def _unique(items: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


def new_profile(
    *,
    therapist_id: str,
    clinic_id: str,
    display_name: str,
    bio: str,
    languages: list[str],
    modalities: list[str],
    specialties: list[str],
    session_types: list[SessionType],
    now: datetime,
) -> Profile:
    display_name = clean_text(display_name, field="display_name")
    if not display_name or len(display_name) > MAX_DISPLAY_NAME:
        raise InvalidArgument(
            f"display_name must be 1 to {MAX_DISPLAY_NAME} characters", field="display_name"
        )
    bio = clean_text(bio, field="bio", multiline=True)
    if len(bio) > MAX_BIO:
        raise InvalidArgument(f"bio must be at most {MAX_BIO} characters", field="bio")
    for name, values in (
        ("languages", languages),
        ("modalities", modalities),
        ("specialties", specialties),
    ):
        if not values or len(values) > MAX_LIST:
            raise InvalidArgument(f"{name} must list 1 to {MAX_LIST} entries", field=name)
    if not session_types or len(session_types) > MAX_SESSION_TYPES:
        raise InvalidArgument(
            f"session_types must list 1 to {MAX_SESSION_TYPES} entries", field="session_types"
        )
    names = set()
    for st in session_types:
        if not _SESSION_TYPE_NAME.match(st.name):
            raise InvalidArgument(
                "a session type name is 1 to 40 lowercase letters, digits or dashes",
                field="session_types",
            )
        if st.name in names:
            raise InvalidArgument("session type names must be unique", field="session_types")
        names.add(st.name)
        if not MIN_SESSION_MINUTES <= st.duration_minutes <= MAX_SESSION_MINUTES:
            raise InvalidArgument(
                f"duration_minutes must be {MIN_SESSION_MINUTES} to {MAX_SESSION_MINUTES}",
                field="session_types",
            )
        if not 0 <= st.price_minor <= MAX_FEE_MINOR:
            raise InvalidArgument(
                "price_minor must be a non-negative amount in minor units", field="session_types"
            )
    return Profile(
        therapist_id=therapist_id,
        clinic_id=clinic_id,
        display_name=display_name,
        bio=bio,
        languages=_unique([check_language(t) for t in languages]),
        modalities=_unique([check_modality(m) for m in modalities]),
        specialties=_unique([check_specialty(s) for s in specialties]),
        session_types=tuple(session_types),
        updated_at=now,
    )


# --- licences --------------------------------------------------------------------------------

LICENSE_KINDS = frozenset(
    {
        "psychologist",
        "psychotherapist",
        "counsellor",
        "lpc",
        "lcsw",
        "lmft",
        "psychiatrist",
        "psychiatric_nurse_practitioner",
        "coach",
    }
)
PRESCRIBER_KINDS = frozenset({"psychiatrist", "psychiatric_nurse_practitioner"})
# Coaching is not a licensed profession: no number, no expiry; it is still verified by the admin.
UNLICENSED_KINDS = frozenset({"coach"})
SCOPE_NOTE = (
    "Rapport offers no prescribing service: this licence is listed for talking therapy only."
)
PENDING, VERIFIED, EXPIRED = "pending", "verified", "expired"
_LICENSE_NUMBER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ./-]{0,39}$")


@dataclass(frozen=True)
class License:
    license_id: str
    therapist_id: str
    clinic_id: str
    kind: str
    jurisdiction: str
    number: str
    expires_on: date | None
    verified_by: str
    verified_at: datetime | None
    created_at: datetime
    expired_at: datetime | None = None

    @property
    def prescriber(self) -> bool:
        return self.kind in PRESCRIBER_KINDS

    def expired(self, today: date) -> bool:
        """Valid through its expiry day (UTC)."""
        return self.expires_on is not None and self.expires_on < today

    def status(self, today: date) -> str:
        if self.expired_at is not None or self.expired(today):
            return EXPIRED
        return VERIFIED if self.verified_at is not None else PENDING

    def counts(self, today: date) -> bool:
        """A licence makes its holder eligible only while verified and unexpired."""
        return self.status(today) == VERIFIED


def parse_date(text: str, field: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise InvalidArgument(f"{field} must be a date such as 2027-06-30", field=field) from None


def new_license(
    *,
    therapist: User,
    kind: str,
    jurisdiction: str,
    number: str,
    expires_on: str,
    now: datetime,
) -> License:
    if therapist.role != THERAPIST:
        raise PermissionDenied("only a therapist holds licences")
    kind = kind.strip().lower()
    if kind not in LICENSE_KINDS:
        raise InvalidArgument(
            f"kind must be one of {', '.join(sorted(LICENSE_KINDS))}", field="kind"
        )
    code = check_jurisdiction(jurisdiction)
    number = clean_text(number, field="number")
    expiry: date | None = None
    if kind in UNLICENSED_KINDS:
        if expires_on.strip():
            expiry = parse_date(expires_on, "expires_on")
    else:
        if not _LICENSE_NUMBER.match(number):
            raise InvalidArgument(
                "number must be 1 to 40 letters, digits, spaces, dots, slashes or dashes",
                field="number",
            )
        if not expires_on.strip():
            raise InvalidArgument("expires_on is required for a licence", field="expires_on")
        expiry = parse_date(expires_on, "expires_on")
    if number and not _LICENSE_NUMBER.match(number):
        raise InvalidArgument("number has characters a licence number never has", field="number")
    if expiry is not None and expiry < now.date():
        raise InvalidArgument("expires_on is in the past", field="expires_on")
    return License(
        license_id=str(uuid.uuid4()),
        therapist_id=therapist.user_id,
        clinic_id=clinic_of(therapist),
        kind=kind,
        jurisdiction=code,
        number=number,
        expires_on=expiry,
        verified_by="",
        verified_at=None,
        created_at=now,
    )


def verify_license(
    license: License,
    *,
    admin_id: str,
    admin_role: str,
    admin_clinic: str,
    clinic: Clinic | None,
    now: datetime,
) -> License:
    """The admin of the clinic the licence's holder practises under confirms it, once a platform
    operator has approved that clinic."""
    if admin_role != CLINIC_ADMIN or admin_clinic != license.clinic_id:
        raise PermissionDenied("only an admin of the therapist's clinic may verify this licence")
    if clinic is None or clinic.clinic_id != license.clinic_id:
        raise FailedPrecondition("the therapist's clinic does not exist")
    if not clinic.approved:
        raise FailedPrecondition(
            "this clinic has not been approved by the platform yet; its admin can verify "
            "licences once a platform operator has vetted the clinic"
        )
    if license.status(now.date()) == EXPIRED:
        raise FailedPrecondition("this licence has expired and cannot be verified")
    if license.verified_at is not None:
        return license
    return replace(license, verified_by=admin_id, verified_at=now)


def jurisdiction_chain(code: str) -> tuple[str, ...]:
    """The code and the subdivisions that contain it (GB-LND, GB-ENG): a licence for a parent
    jurisdiction covers a client living in one of its parts."""
    chain = [code]
    sub = pycountry.subdivisions.get(code=code)
    while sub is not None and getattr(sub, "parent_code", None):
        parent = str(sub.parent_code)
        if parent in chain:
            break
        chain.append(parent)
        sub = pycountry.subdivisions.get(code=parent)
    return tuple(chain)


NO_LICENSE_IN_JURISDICTION = "no_license_in_jurisdiction"
LICENSE_NOT_VERIFIED = "license_not_verified"
LICENSE_EXPIRED = "license_expired"
NOT_A_THERAPIST = "not_a_therapist"

_EXPLANATIONS = {
    NO_LICENSE_IN_JURISDICTION: "the therapist holds no licence for the client's jurisdiction",
    LICENSE_NOT_VERIFIED: "the therapist's licence there has not been verified yet",
    LICENSE_EXPIRED: "the therapist's licence there has expired",
    NOT_A_THERAPIST: "this id is not a therapist's",
}


@dataclass(frozen=True)
class Eligibility:
    eligible: bool
    reason: str = ""
    license_id: str = ""

    @property
    def explanation(self) -> str:
        if self.eligible:
            return "the therapist holds a verified licence for the client's jurisdiction"
        return _EXPLANATIONS[self.reason]


def eligibility(
    therapist: User | None, licenses: list[License], client_jurisdiction: str, *, today: date
) -> Eligibility:
    """May this therapist see a client living in client_jurisdiction, and if not, the most useful
    reason (expired before pending before none)."""
    if therapist is None or therapist.role != THERAPIST:
        return Eligibility(False, NOT_A_THERAPIST)
    chain = set(jurisdiction_chain(client_jurisdiction))
    here = sorted(
        (lic for lic in licenses if lic.jurisdiction in chain), key=lambda lic: lic.license_id
    )
    for lic in here:
        if lic.counts(today):
            return Eligibility(True, license_id=lic.license_id)
    if any(lic.verified_at is not None for lic in here):
        return Eligibility(False, LICENSE_EXPIRED)
    if any(lic.status(today) == PENDING for lic in here):
        return Eligibility(False, LICENSE_NOT_VERIFIED)
    if here:
        return Eligibility(False, LICENSE_EXPIRED)
    return Eligibility(False, NO_LICENSE_IN_JURISDICTION)


# --- multi-factor (TOTP, RFC 6238) -----------------------------------------------------------

TOTP_ISSUER = "Rapport"


def new_totp_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, account_id: str) -> str:
    # The account id, not the email, labels the entry: nothing personal in a QR code.
    return pyotp.TOTP(secret).provisioning_uri(name=account_id, issuer_name=TOTP_ISSUER)


def totp_step(secret: str, code: str, *, now: datetime, last_step: int) -> int | None:
    """The time step a code belongs to (one step of clock drift either way), or None. A step at
    or before last_step is refused, so a code cannot be replayed."""
    code = code.strip()
    # ASCII digits only: \d also matches Arabic-Indic or fullwidth digits, which reached
    # compare_digest as non-ASCII str (TypeError, a 500).
    if not re.fullmatch(r"[0-9]{6}", code):
        return None
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now)
    for step in (current - 1, current, current + 1):
        expected = totp.generate_otp(step)
        if step > last_step and hmac.compare_digest(expected, code):
            return step
    return None


# --- sign-in throttling ----------------------------------------------------------------------


@dataclass(frozen=True)
class ThrottlePolicy:
    """Failures within `window` slow an account (or an address) down, then lock it."""

    slowdown_after: int
    lock_after: int
    lockout: timedelta
    window: timedelta
    max_delay: timedelta

    def delay_after(self, failures: int) -> timedelta:
        """The wait imposed after the n-th failure: none at first, then doubling, capped."""
        if failures < self.slowdown_after:
            return timedelta(0)
        doubled = timedelta(seconds=2 ** min(failures - self.slowdown_after, 16))
        return min(doubled, self.max_delay)

    @property
    def delay_table_last(self) -> int:
        """The last count whose wait can differ from the one before: the doubling stops after
        16 steps, and from lock_after on the lock rules."""
        return max(self.slowdown_after, min(self.lock_after, self.slowdown_after + 16))

    def delay_table_ms(self) -> list[int]:
        """delay_after(n) in milliseconds for n = slowdown_after..delay_table_last: the store
        indexes it by min(count, last) - slowdown_after inside one atomic update, where the
        count is known. At most 17 entries whatever the limits: every update carries it."""
        return [
            int(self.delay_after(n).total_seconds() * 1000)
            for n in range(self.slowdown_after, self.delay_table_last + 1)
        ]

    @property
    def keep(self) -> timedelta:
        """How long a counter must live to outlast its window, lock and longest wait."""
        return self.window + self.lockout + self.max_delay


def throttle_key(kind: str, value: str) -> str:
    """Counters are keyed by a hash: the same for known and unknown emails (nothing revealed),
    and no address or email stored in clear."""
    return f"{kind}:{hash_secret(value)}"


def encode_cursor(value: str) -> str:
    return base64.urlsafe_b64encode(value.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    if not cursor:
        return ""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = base64.b64decode(padded, altchars=b"-_", validate=True).decode()
    except (ValueError, UnicodeDecodeError):
        value = ""
    if not value:
        raise InvalidArgument("cursor is not one this API returned", field="cursor")
    return value


def page_limit(limit: int, *, default: int = 20, maximum: int = 100) -> int:
    if limit < 0 or limit > maximum:
        raise InvalidArgument(f"limit must be 1 to {maximum}", field="limit")
    return limit or default
