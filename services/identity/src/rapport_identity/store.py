"""Identity's repository: users, clinics, profiles, licences, invitations, refresh tokens and
sign-in throttling counters, in identity's own database. Every clinic-owned record carries its
clinic id, and the queries that serve a clinic admin filter on it."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from pymongo import ASCENDING, IndexModel, ReturnDocument
from pymongo.errors import DuplicateKeyError
from rapport_platform.store import Session, Store, from_document, to_document

from rapport_identity.domain import (
    Clinic,
    Invitation,
    License,
    Profile,
    SessionType,
    User,
)

USERS = "users"
CLINICS = "clinics"
PROFILES = "profiles"
LICENSES = "licenses"
INVITATIONS = "invitations"
REFRESH_TOKENS = "refresh_tokens"
THROTTLE = "login_throttle"
JOBS = "jobs"

INDEXES = {
    USERS: [
        IndexModel([("email", ASCENDING)], unique=True),
        IndexModel([("clinic_id", ASCENDING), ("role", ASCENDING), ("_id", ASCENDING)]),
    ],
    PROFILES: [
        IndexModel([("clinic_id", ASCENDING), ("_id", ASCENDING)]),
    ],
    LICENSES: [
        IndexModel([("therapist_id", ASCENDING)]),
        IndexModel([("jurisdiction", ASCENDING), ("verified_at", ASCENDING)]),
        IndexModel([("expires_on", ASCENDING), ("expired_at", ASCENDING)]),
        # One record per real licence of a holder.
        IndexModel(
            [
                ("therapist_id", ASCENDING),
                ("kind", ASCENDING),
                ("jurisdiction", ASCENDING),
                ("number", ASCENDING),
            ],
            unique=True,
        ),
    ],
    INVITATIONS: [IndexModel([("expires_at", ASCENDING)], expireAfterSeconds=30 * 24 * 3600)],
    REFRESH_TOKENS: [
        IndexModel([("family_id", ASCENDING)]),
        # Spent tokens are kept until the family would have expired: reuse is still detected.
        IndexModel([("expires_at", ASCENDING)], expireAfterSeconds=0),
    ],
    THROTTLE: [IndexModel([("expires_at", ASCENDING)], expireAfterSeconds=0)],
}


def _day(d: date | None) -> str:
    # ISO dates compare as strings, so the expiry sweep and the directory query on them.
    return d.isoformat() if d else ""


# --- users -----------------------------------------------------------------------------------


def _user_doc(user: User, password_hash: str) -> dict[str, Any]:
    return to_document(user, id_field="user_id", password_hash=password_hash)


def _to_user(doc: dict[str, Any]) -> User:
    return from_document(User, doc, id_field="user_id")


class Users:
    def __init__(self, store: Store) -> None:
        self._col = store.db[USERS]

    async def add(self, session: Session, user: User, password_hash: str) -> None:
        await self._col.insert_one(_user_doc(user, password_hash), session=session)

    async def by_id(self, user_id: str, session: Session | None = None) -> User | None:
        doc = await self._col.find_one({"_id": user_id}, session=session)
        return _to_user(doc) if doc else None

    async def credentials(self, email: str) -> tuple[User, str] | None:
        doc = await self._col.find_one({"email": email})
        return (_to_user(doc), doc["password_hash"]) if doc else None

    async def mfa(self, user_id: str) -> dict[str, Any]:
        """{secret (transit ciphertext), enabled, last_step} of the TOTP factor, or empty."""
        doc = await self._col.find_one({"_id": user_id}, {"mfa": 1})
        return dict((doc or {}).get("mfa") or {})

    async def set_pending_mfa(self, user_id: str, secret: str) -> bool:
        """A new secret, unless one is already confirmed (that needs a deliberate reset)."""
        result = await self._col.update_one(
            {"_id": user_id, "mfa.enabled": {"$ne": True}},
            {"$set": {"mfa": {"secret": secret, "enabled": False, "last_step": 0}}},
        )
        return result.matched_count == 1

    async def use_totp_step(self, user_id: str, step: int, *, enable: bool) -> bool:
        """Record the step of an accepted code, atomically, so a code is accepted once."""
        update: dict[str, Any] = {"mfa.last_step": step}
        if enable:
            update["mfa.enabled"] = True
        result = await self._col.update_one(
            {"_id": user_id, "mfa.secret": {"$exists": True}, "mfa.last_step": {"$lt": step}},
            {"$set": update},
        )
        return result.modified_count == 1

    async def set_clinic(
        self,
        session: Session,
        user_id: str,
        *,
        role: str,
        clinic_id: str,
        expect_role: str,
        expect_clinic: str,
    ) -> bool:
        """Compare-and-set: the change applies only if nobody changed the account meanwhile."""
        result = await self._col.update_one(
            {"_id": user_id, "role": expect_role, "clinic_id": expect_clinic},
            {"$set": {"role": role, "clinic_id": clinic_id}},
            session=session,
        )
        return result.modified_count == 1

    async def therapists_of(
        self, clinic_id: str, *, after: str, limit: int, also_blank: bool
    ) -> list[User]:
        clinics = [clinic_id, ""] if also_blank else [clinic_id]
        cursor = (
            self._col.find(
                {"role": "therapist", "clinic_id": {"$in": clinics}, "_id": {"$gt": after}}
            )
            .sort("_id", ASCENDING)
            .limit(limit)
        )
        return [_to_user(d) async for d in cursor]


# --- clinics ---------------------------------------------------------------------------------


def _clinic_doc(c: Clinic) -> dict[str, Any]:
    return to_document(c, id_field="clinic_id")


def _to_clinic(d: dict[str, Any]) -> Clinic:
    return from_document(Clinic, d, id_field="clinic_id")


class Clinics:
    def __init__(self, store: Store) -> None:
        self._col = store.db[CLINICS]

    async def add(self, session: Session | None, clinic: Clinic) -> None:
        await self._col.insert_one(_clinic_doc(clinic), session=session)

    async def ensure(self, clinic: Clinic) -> bool:
        """Insert unless it exists (idempotent across replicas starting at once)."""
        try:
            await self._col.insert_one(_clinic_doc(clinic))
        except DuplicateKeyError:
            return False
        return True

    async def by_id(self, clinic_id: str, session: Session | None = None) -> Clinic | None:
        d = await self._col.find_one({"_id": clinic_id}, session=session)
        return _to_clinic(d) if d else None


# --- therapist profiles ----------------------------------------------------------------------


def _profile_doc(p: Profile) -> dict[str, Any]:
    # Primary language subtags too, so the directory matches `en` to `en-GB` with an index.
    return to_document(p, id_field="therapist_id", language_primaries=list(p.primary_languages))


def _to_profile(d: dict[str, Any]) -> Profile:
    return from_document(
        Profile,
        d,
        id_field="therapist_id",
        languages=tuple(d.get("languages", ())),
        modalities=tuple(d.get("modalities", ())),
        specialties=tuple(d.get("specialties", ())),
        session_types=tuple(SessionType(**s) for s in d.get("session_types", ())),
    )


class Profiles:
    def __init__(self, store: Store) -> None:
        self._col = store.db[PROFILES]

    async def put(self, session: Session, profile: Profile) -> None:
        await self._col.replace_one(
            {"_id": profile.therapist_id}, _profile_doc(profile), upsert=True, session=session
        )

    async def by_id(self, therapist_id: str, session: Session | None = None) -> Profile | None:
        d = await self._col.find_one({"_id": therapist_id}, session=session)
        return _to_profile(d) if d else None

    async def by_ids(self, ids: list[str]) -> dict[str, Profile]:
        return {d["_id"]: _to_profile(d) async for d in self._col.find({"_id": {"$in": ids}})}

    async def move(
        self, session: Session, therapist_id: str, clinic_id: str, *, clear_prices: bool
    ) -> None:
        update: dict[str, Any] = {"clinic_id": clinic_id}
        if clear_prices:
            # Prices are amounts in the clinic's currency: a new currency needs new prices.
            update["session_types"] = []
        await self._col.update_one({"_id": therapist_id}, {"$set": update}, session=session)

    async def search(
        self,
        therapist_ids: list[str],
        *,
        specialty: str,
        language: str,
        modality: str,
        after: str,
        limit: int,
    ) -> list[Profile]:
        query: dict[str, Any] = {"_id": {"$in": therapist_ids, "$gt": after}}
        if specialty:
            query["specialties"] = specialty
        if language:
            query["language_primaries"] = language
        if modality:
            query["modalities"] = modality
        cursor = self._col.find(query).sort("_id", ASCENDING).limit(limit)
        return [_to_profile(d) async for d in cursor]


# --- licences --------------------------------------------------------------------------------


def _license_doc(lic: License) -> dict[str, Any]:
    return to_document(lic, id_field="license_id", expires_on=_day(lic.expires_on))


def _to_license(d: dict[str, Any]) -> License:
    expires = d.get("expires_on")
    return from_document(
        License,
        d,
        id_field="license_id",
        expires_on=date.fromisoformat(expires) if expires else None,
    )


class Licenses:
    def __init__(self, store: Store) -> None:
        self._col = store.db[LICENSES]

    async def add(self, session: Session, lic: License) -> None:
        await self._col.insert_one(_license_doc(lic), session=session)

    async def by_id(self, license_id: str, session: Session | None = None) -> License | None:
        d = await self._col.find_one({"_id": license_id}, session=session)
        return _to_license(d) if d else None

    async def of(self, therapist_id: str, session: Session | None = None) -> list[License]:
        cursor = self._col.find({"therapist_id": therapist_id}, session=session).sort(
            "_id", ASCENDING
        )
        return [_to_license(d) async for d in cursor]

    async def of_many(self, therapist_ids: list[str]) -> dict[str, list[License]]:
        found: dict[str, list[License]] = {t: [] for t in therapist_ids}
        cursor = self._col.find({"therapist_id": {"$in": therapist_ids}}).sort("_id", ASCENDING)
        async for d in cursor:
            found[d["therapist_id"]].append(_to_license(d))
        return found

    async def mark_verified(self, session: Session, lic: License) -> bool:
        """Only a pending, unexpired record turns verified: a concurrent verify writes nothing."""
        result = await self._col.update_one(
            {"_id": lic.license_id, "verified_at": None, "expired_at": None},
            {"$set": {"verified_by": lic.verified_by, "verified_at": lic.verified_at}},
            session=session,
        )
        return result.modified_count == 1

    async def move(self, session: Session, therapist_id: str, clinic_id: str) -> None:
        await self._col.update_many(
            {"therapist_id": therapist_id}, {"$set": {"clinic_id": clinic_id}}, session=session
        )

    async def eligible_therapists(self, jurisdictions: tuple[str, ...], today: date) -> list[str]:
        """Ids of therapists with a verified, unexpired licence in one of these jurisdictions."""
        cursor = self._col.find(
            {
                "jurisdiction": {"$in": list(jurisdictions)},
                "verified_at": {"$ne": None},
                "expired_at": None,
                "$or": [{"expires_on": ""}, {"expires_on": {"$gte": _day(today)}}],
            },
            {"therapist_id": 1},
        )
        return sorted({d["therapist_id"] async for d in cursor})

    async def due_to_expire(self, today: date, limit: int) -> list[License]:
        """Records past their expiry day that the sweep has not marked yet."""
        cursor = self._col.find(
            {"expires_on": {"$gt": "", "$lt": _day(today)}, "expired_at": None}
        ).limit(limit)
        return [_to_license(d) async for d in cursor]

    async def mark_expired(self, session: Session, license_id: str, now: datetime) -> bool:
        """Conditional: of two replicas sweeping at once, exactly one marks (and publishes)."""
        result = await self._col.update_one(
            {"_id": license_id, "expired_at": None},
            {"$set": {"expired_at": now}},
            session=session,
        )
        return result.modified_count == 1


# --- invitations -----------------------------------------------------------------------------


def _to_invitation(d: dict[str, Any]) -> Invitation:
    return from_document(Invitation, d, id_field="token_hash")


class Invitations:
    def __init__(self, store: Store) -> None:
        self._col = store.db[INVITATIONS]

    async def add(self, inv: Invitation) -> None:
        await self._col.insert_one(to_document(inv, id_field="token_hash"))

    async def by_hash(self, token_hash: str, session: Session | None = None) -> Invitation | None:
        d = await self._col.find_one({"_id": token_hash}, session=session)
        return _to_invitation(d) if d else None

    async def use(self, session: Session, token_hash: str, user_id: str, now: datetime) -> bool:
        """Single use: only an unused, unexpired invitation is spent."""
        result = await self._col.update_one(
            {"_id": token_hash, "used_at": None, "expires_at": {"$gt": now}},
            {"$set": {"used_at": now, "used_by": user_id}},
            session=session,
        )
        return result.modified_count == 1


# --- refresh tokens --------------------------------------------------------------------------


class RefreshTokens:
    """Opaque tokens stored by hash, in families: one family per sign-in."""

    def __init__(self, store: Store) -> None:
        self._col = store.db[REFRESH_TOKENS]

    async def add(
        self,
        session: Session | None,
        token_hash: str,
        *,
        family_id: str,
        user_id: str,
        mfa: bool,
        now: datetime,
        expires_at: datetime,
    ) -> None:
        await self._col.insert_one(
            {
                "_id": token_hash,
                "family_id": family_id,
                "user_id": user_id,
                "mfa": mfa,
                "created_at": now,
                "expires_at": expires_at,
                "spent_at": None,
                "revoked": False,
            },
            session=session,
        )

    async def by_hash(self, token_hash: str) -> dict[str, Any] | None:
        return await self._col.find_one({"_id": token_hash})

    async def spend(self, session: Session, token_hash: str, now: datetime) -> bool:
        result = await self._col.update_one(
            {"_id": token_hash, "spent_at": None, "revoked": False, "expires_at": {"$gt": now}},
            {"$set": {"spent_at": now}},
            session=session,
        )
        return result.modified_count == 1

    async def revoke_family(self, family_id: str) -> int:
        result = await self._col.update_many({"family_id": family_id}, {"$set": {"revoked": True}})
        return result.modified_count


# --- sign-in throttling ----------------------------------------------------------------------


class Throttle:
    """Failure counters shared by every replica (so throttling holds behind a load balancer)."""

    def __init__(self, store: Store) -> None:
        self._col = store.db[THROTTLE]

    async def blocked_until(self, keys: list[str], now: datetime) -> datetime | None:
        latest: datetime | None = None
        async for d in self._col.find({"_id": {"$in": keys}}):
            for field in ("locked_until", "next_allowed_at"):
                at = d.get(field)
                if at is not None and at > now and (latest is None or at > latest):
                    latest = at
        return latest

    async def failed(self, key: str, *, now: datetime, window: timedelta, keep: timedelta) -> int:
        """Count one failure; a window that has lapsed starts again. Returns the count."""
        await self._col.update_one(
            {"_id": key, "window_start": {"$lt": now - window}},
            {"$set": {"failures": 0, "window_start": now}},
        )
        doc = await self._col.find_one_and_update(
            {"_id": key},
            {
                "$inc": {"failures": 1},
                "$setOnInsert": {"window_start": now},
                "$set": {"expires_at": now + keep},
            },
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        assert doc is not None  # upserted
        return int(doc["failures"])

    async def hold(self, key: str, *, field: str, until: datetime) -> None:
        await self._col.update_one({"_id": key}, {"$max": {field: until}})

    async def clear(self, key: str) -> None:
        await self._col.delete_one({"_id": key})


# --- once-per-period jobs across replicas ----------------------------------------------------


class Jobs:
    def __init__(self, store: Store) -> None:
        self._col = store.db[JOBS]

    async def claim(self, job: str, period: str, *, now: datetime, lease: timedelta) -> bool:
        """True for the one replica that may run `job` for `period` now: the period is not done
        and nobody holds a live lease on it."""
        try:
            doc = await self._col.find_one_and_update(
                {
                    "_id": job,
                    "done_period": {"$ne": period},
                    "$or": [{"lease_until": None}, {"lease_until": {"$lte": now}}],
                },
                {"$set": {"lease_until": now + lease}},
                upsert=True,
                return_document=ReturnDocument.AFTER,
            )
        except DuplicateKeyError:
            return False  # another replica holds it (the upsert collided with its record)
        return doc is not None

    async def done(self, job: str, period: str) -> None:
        await self._col.update_one(
            {"_id": job}, {"$set": {"done_period": period, "lease_until": None}}
        )
