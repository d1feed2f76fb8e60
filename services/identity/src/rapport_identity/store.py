"""Identity's repository: users, clinics, profiles, licences, invitations, refresh tokens and
sign-in throttling counters, in identity's own database. Every clinic-owned record carries its
clinic id, and the queries that serve a clinic admin filter on it."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from pymongo import ASCENDING, IndexModel, ReturnDocument
from pymongo.errors import DuplicateKeyError
from rapport_platform.auth import THERAPIST
from rapport_platform.store import Session, Store, from_document, to_document

from rapport_identity.domain import (
    CLINIC_APPROVED,
    REVOCATION_KEEP,
    Clinic,
    Invitation,
    License,
    Profile,
    SessionType,
    ThrottlePolicy,
    User,
)

USERS = "users"
CLINICS = "clinics"
PROFILES = "profiles"
LICENSES = "licenses"
INVITATIONS = "invitations"
REFRESH_TOKENS = "refresh_tokens"
THROTTLE = "login_throttle"
REVOCATIONS = "token_revocations"
DEVICES = "known_devices"
JOBS = "jobs"
CURRENT_LICENSE_INDEX = "one_current_license"
# Dropped at start (Store.ensure_indexes): replaced by CURRENT_LICENSE_INDEX (it made an expired
# licence impossible to renew).
RETIRED_INDEXES = {LICENSES: ["therapist_id_1_kind_1_jurisdiction_1_number_1"]}

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
        # One current record per real licence of a holder; once a record has expired the same
        # licence can be added again (renewed). `$type: null` rather than `expired_at: null`:
        # MongoDB's partial filters take $type, and every record stores expired_at (null or a
        # time). A new name: an index's options cannot change under its old one.
        IndexModel(
            [
                ("therapist_id", ASCENDING),
                ("kind", ASCENDING),
                ("jurisdiction", ASCENDING),
                ("number", ASCENDING),
            ],
            unique=True,
            name=CURRENT_LICENSE_INDEX,
            partialFilterExpression={"expired_at": {"$type": "null"}},
        ),
    ],
    INVITATIONS: [IndexModel([("expires_at", ASCENDING)], expireAfterSeconds=30 * 24 * 3600)],
    REFRESH_TOKENS: [
        IndexModel([("family_id", ASCENDING)]),
        IndexModel([("user_id", ASCENDING)]),
        # Spent tokens are kept until the family would have expired: reuse is still detected.
        IndexModel([("expires_at", ASCENDING)], expireAfterSeconds=0),
    ],
    THROTTLE: [IndexModel([("expires_at", ASCENDING)], expireAfterSeconds=0)],
    REVOCATIONS: [IndexModel([("expires_at", ASCENDING)], expireAfterSeconds=0)],
    DEVICES: [IndexModel([("expires_at", ASCENDING)], expireAfterSeconds=0)],
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
        self._revocations = store.db[REVOCATIONS]

    async def _bump(
        self, session: Session | None, filter: dict[str, Any], set_: dict[str, Any]
    ) -> bool:
        """Change the account and its token version together, and list the new version as the
        minimum every verifier accepts (ListTokenRevocations) until older tokens have expired.
        In the caller's transaction when it passes one."""
        doc = await self._col.find_one_and_update(
            filter,
            {"$set": set_, "$inc": {"token_version": 1}},
            projection={"token_version": 1},
            return_document=ReturnDocument.AFTER,
            session=session,
        )
        if doc is None:
            return False
        now = datetime.now(UTC)
        await self._revocations.update_one(
            {"_id": doc["_id"]},
            {
                "$max": {"min_version": doc["token_version"]},
                "$set": {"at": now, "expires_at": now + REVOCATION_KEEP},
            },
            upsert=True,
            session=session,
        )
        return True

    async def revocations(self) -> list[tuple[str, int]]:
        now = datetime.now(UTC)
        cursor = self._revocations.find({"expires_at": {"$gt": now}}, {"min_version": 1})
        return [(d["_id"], int(d["min_version"])) async for d in cursor]

    async def add(self, session: Session, user: User, password_hash: str) -> None:
        await self._col.insert_one(_user_doc(user, password_hash), session=session)

    async def by_id(self, user_id: str, session: Session | None = None) -> User | None:
        doc = await self._col.find_one({"_id": user_id}, session=session)
        return _to_user(doc) if doc else None

    async def by_ids(self, user_ids: list[str]) -> dict[str, User]:
        """Several accounts in one read (a booking's caller and therapist)."""
        wanted = sorted({u for u in user_ids if u})
        cursor = self._col.find({"_id": {"$in": wanted}})
        return {doc["_id"]: _to_user(doc) async for doc in cursor}

    async def credentials(self, email: str) -> tuple[User, str] | None:
        doc = await self._col.find_one({"email": email})
        return (_to_user(doc), doc["password_hash"]) if doc else None

    async def replace_password_hash(self, user_id: str, old_hash: str, new_hash: str) -> bool:
        """The same password hashed with today's parameters; only if it has not changed since."""
        result = await self._col.update_one(
            {"_id": user_id, "password_hash": old_hash}, {"$set": {"password_hash": new_hash}}
        )
        return result.modified_count == 1

    async def set_operator(self, user_id: str, flag: bool) -> bool:
        """A grant or a revocation voids the account's access tokens (a revoked operator keeps
        no marketplace-admin token)."""
        return await self._bump(None, {"_id": user_id}, {"operator": flag})

    async def operators(self) -> list[User]:
        cursor = self._col.find({"operator": True}).sort("_id", ASCENDING)
        return [_to_user(d) async for d in cursor]

    async def pin_clinic(self, session: Session, user_id: str, stored_clinic: str) -> bool:
        """Inside a transaction that writes a therapist's clinic-owned records: a write to the
        account, conditional on the clinic just read. Accepting an invitation writes the account
        too, so of two such transactions at once one conflicts and runs again (and then sees the
        new clinic), or this one finds the clinic changed; a stale clinic is never written."""
        result = await self._col.update_one(
            {"_id": user_id, "role": THERAPIST, "clinic_id": stored_clinic},
            {"$inc": {"clinic_pin": 1}},
            session=session,
        )
        return result.modified_count == 1

    async def reset_mfa(self, session: Session, user_id: str) -> bool:
        """Remove the authenticator; the token version moves on, so every access token of the
        account (with or without `mfa`) is void. False: no such account."""
        doc = await self._col.find_one({"_id": user_id}, {"mfa": 1}, session=session)
        if doc is None:
            return False
        await self._bump(session, {"_id": user_id}, {"mfa": None})
        return bool(doc.get("mfa"))

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

    async def use_totp_step(self, user_id: str, step: int, *, secret: str, enable: bool) -> bool:
        """Record the step of an accepted code, atomically, so a code is accepted once. Only for
        the sealed secret the code was checked against: an enrolment racing a confirmation
        replaces the secret, and a secret the user never confirmed must not be enabled."""
        update: dict[str, Any] = {"mfa.last_step": step}
        if enable:
            update["mfa.enabled"] = True
        result = await self._col.update_one(
            {"_id": user_id, "mfa.secret": secret, "mfa.last_step": {"$lt": step}},
            {"$set": update},
        )
        return result.modified_count == 1

    async def set_clinic(
        self,
        session: Session | None,
        user_id: str,
        *,
        role: str,
        clinic_id: str,
        expect_role: str,
        expect_clinic: str,
    ) -> bool:
        """Compare-and-set: the change applies only if nobody changed the account meanwhile.
        It voids the account's access tokens (their role or clinic claim is stale now)."""
        return await self._bump(
            session,
            {"_id": user_id, "role": expect_role, "clinic_id": expect_clinic},
            {"role": role, "clinic_id": clinic_id},
        )

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

    async def set_payment_first(self, clinic_id: str, payment_first: bool) -> None:
        await self._col.update_one({"_id": clinic_id}, {"$set": {"payment_first": payment_first}})

    async def approve(self, clinic: Clinic) -> bool:
        """Conditional on the clinic not approved yet (a record from before vetting existed has no
        status): of two approvals at once, one writes."""
        result = await self._col.update_one(
            {"_id": clinic.clinic_id, "status": {"$ne": CLINIC_APPROVED}},
            {
                "$set": {
                    "status": clinic.status,
                    "approved_at": clinic.approved_at,
                    "approved_by": clinic.approved_by,
                }
            },
        )
        return result.modified_count == 1

    async def update_terms(self, before: Clinic, after: Clinic) -> bool:
        """Conditional on the terms read before (a compare-and-set): two changes at once cannot
        combine into terms nobody checked (a per-client limit below the per-therapist one)."""
        fields = (
            "commission_bps",
            "cancellation_window_hours",
            "late_fee_minor",
            "max_active_per_therapist",
            "max_active_per_client",
        )
        # A record from before the limits carries none: 0 is what it means.
        match: dict[str, Any] = {"_id": before.clinic_id}
        for f in fields:
            value = getattr(before, f)
            match[f] = {"$in": [value, None]} if value == 0 else value
        result = await self._col.update_one(match, {"$set": {f: getattr(after, f) for f in fields}})
        return result.matched_count == 1


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
        """Filtered on the clinic too: a profile another clinic owns by now is not overwritten
        (the upsert then collides on _id: DuplicateKeyError)."""
        await self._col.replace_one(
            {"_id": profile.therapist_id, "clinic_id": profile.clinic_id},
            _profile_doc(profile),
            upsert=True,
            session=session,
        )

    async def by_id(self, therapist_id: str, session: Session | None = None) -> Profile | None:
        d = await self._col.find_one({"_id": therapist_id}, session=session)
        return _to_profile(d) if d else None

    async def by_ids(self, ids: list[str]) -> dict[str, Profile]:
        return {d["_id"]: _to_profile(d) async for d in self._col.find({"_id": {"$in": ids}})}

    async def for_booking(
        self, therapist_id: str
    ) -> tuple[Profile, list[License], Clinic | None] | None:
        """The profile with the therapist's licences and clinic, read as one command (joined on
        indexed fields) instead of three: what every booking asks. None: no profile."""
        pipeline: list[dict[str, Any]] = [
            {"$match": {"_id": therapist_id}},
            {"$lookup": _join(LICENSES, "_id", "therapist_id", "_licenses")},
            {"$lookup": _join(CLINICS, "clinic_id", "_id", "_clinic")},
        ]
        async for d in await self._col.aggregate(pipeline):
            licenses = sorted(d.pop("_licenses"), key=lambda x: str(x["_id"]))
            clinics = d.pop("_clinic")
            return (
                _to_profile(d),
                [_to_license(x) for x in licenses],
                _to_clinic(clinics[0]) if clinics else None,
            )
        return None

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


def _join(other: str, local: str, foreign: str, into: str) -> dict[str, str]:
    return {"from": other, "localField": local, "foreignField": foreign, "as": into}


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
        """Only a pending, unexpired record of the verifying admin's clinic turns verified: a
        concurrent verify, or a licence whose holder moved to another clinic, writes nothing."""
        result = await self._col.update_one(
            {
                "_id": lic.license_id,
                "clinic_id": lic.clinic_id,
                "verified_at": None,
                "expired_at": None,
            },
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

    async def lapsed_copies(self, session: Session, lic: License, today: date) -> list[License]:
        """Records of the same licence (holder, kind, jurisdiction, number) past their expiry day
        that the daily sweep has not marked yet: a renewal marks them first."""
        cursor = self._col.find(
            {
                "therapist_id": lic.therapist_id,
                "kind": lic.kind,
                "jurisdiction": lic.jurisdiction,
                "number": lic.number,
                "expires_on": {"$gt": "", "$lt": _day(today)},
                "expired_at": None,
            },
            session=session,
        )
        return [_to_license(d) async for d in cursor]

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

    async def revoke_user(self, session: Session, user_id: str) -> int:
        """Every sign-in of the account (refreshing one would bring its `mfa` back)."""
        result = await self._col.update_many(
            {"user_id": user_id, "revoked": False}, {"$set": {"revoked": True}}, session=session
        )
        return result.modified_count


# --- sign-in throttling ----------------------------------------------------------------------


class Throttle:
    """Attempt counters shared by every replica (so throttling holds behind a load balancer).

    An attempt is counted *before* it is made, by one atomic update that also refuses it while
    the key is locked or slowed down: a burst of parallel attempts cannot all pass a check made
    before any of them was counted. An attempt that turns out not to be a failure is refunded
    (or the counter cleared on success)."""

    def __init__(self, store: Store) -> None:
        self._col = store.db[THROTTLE]

    async def reserve(self, key: str, policy: ThrottlePolicy, now: datetime) -> datetime | None:
        """Count one attempt on `key`, or refuse it: None when it may go ahead, else the time
        from which the key accepts attempts again."""
        free = {
            "$and": [
                {"$or": [{"locked_until": None}, {"locked_until": {"$lte": now}}]},
                {"$or": [{"next_allowed_at": None}, {"next_allowed_at": {"$lte": now}}]},
            ]
        }
        lapsed = {
            "$or": [
                {"$eq": [{"$ifNull": ["$window_start", None]}, None]},
                {"$lt": ["$window_start", now - policy.window]},
            ]
        }
        # Only read once attempts >= slowdown_after, so the index is never negative.
        step = {
            "$subtract": [{"$min": ["$attempts", policy.delay_table_last]}, policy.slowdown_after]
        }
        # An update pipeline, so the waits follow from the count in the same atomic write.
        pipeline: list[dict[str, Any]] = [
            {"$set": {"_lapsed": lapsed}},
            {
                "$set": {
                    "attempts": {
                        "$cond": ["$_lapsed", 1, {"$add": [{"$ifNull": ["$attempts", 0]}, 1]}]
                    },
                    "window_start": {"$cond": ["$_lapsed", now, "$window_start"]},
                    "expires_at": now + policy.keep,
                }
            },
            {
                "$set": {
                    "next_allowed_at": {
                        "$cond": [
                            {"$gte": ["$attempts", policy.slowdown_after]},
                            {"$add": [now, {"$arrayElemAt": [policy.delay_table_ms(), step]}]},
                            {"$ifNull": ["$next_allowed_at", None]},
                        ]
                    },
                    "locked_until": {
                        "$cond": [
                            {"$gte": ["$attempts", policy.lock_after]},
                            now + policy.lockout,
                            {"$ifNull": ["$locked_until", None]},
                        ]
                    },
                }
            },
            {"$unset": "_lapsed"},
        ]
        for _ in range(3):
            try:
                await self._col.update_one({"_id": key, **free}, pipeline, upsert=True)
                return None
            except DuplicateKeyError:
                # The key exists and the filter refused it: it is locked or slowed down (or it
                # was cleared in between: try again).
                until = await self._blocked_until(key, now)
                if until is not None:
                    return until
        return now + timedelta(seconds=1)

    async def _blocked_until(self, key: str, now: datetime) -> datetime | None:
        d = await self._col.find_one({"_id": key})
        times = [d.get(f) for f in ("locked_until", "next_allowed_at")] if d else []
        later = [at for at in times if at is not None and at > now]
        return max(later) if later else None

    async def refund(self, key: str) -> None:
        """The reserved attempt was not a failure (a right password that now needs its code)."""
        await self._col.update_one({"_id": key, "attempts": {"$gt": 0}}, {"$inc": {"attempts": -1}})

    async def clear(self, key: str) -> None:
        await self._col.delete_one({"_id": key})


# --- known devices ----------------------------------------------------------------------------


class Devices:
    """Devices an account signed in from, by the hash of the token each was given."""

    def __init__(self, store: Store) -> None:
        self._col = store.db[DEVICES]

    async def owner(self, token_hash: str, now: datetime) -> str | None:
        d = await self._col.find_one({"_id": token_hash, "expires_at": {"$gt": now}})
        return str(d["user_id"]) if d else None

    async def remember(self, token_hash: str, user_id: str, now: datetime, ttl: timedelta) -> None:
        await self._col.update_one(
            {"_id": token_hash},
            {"$set": {"user_id": user_id, "last_used_at": now, "expires_at": now + ttl}},
            upsert=True,
        )


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
