"""Concurrent writes that must not leave a therapist's records under a clinic they no longer
practise in, and an MFA secret that must not be enabled unseen."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime

import httpx
import pyotp
from rapport_identity.store import Licenses, Users
from rapport_platform.store import Store

from tests.people import PASSWORD, Person

ROUNDS = 6


async def test_profile_and_licence_writes_racing_a_move_never_keep_the_old_clinic(api, db):
    """A therapist writes their profile and adds a licence while accepting an invitation to
    another clinic. Whatever the order, each record ends under the clinic the therapist is in
    (or the write is refused with 409): a licence left under the old clinic could be verified by
    the old clinic's admin after the therapist has left."""
    admin = await api.admin(currency="USD")  # same currency: the move keeps the prices
    outcomes: set[tuple[int, int, int]] = set()
    for i in range(ROUNDS):
        therapist = await api.therapist()
        r = await api.http.post(
            f"/v1/clinics/{admin.clinic_id}/invitations",
            headers=admin.h,
            json={"email": therapist.email},
        )
        token = r.json()["invitation_token"]
        accept, licence, profile = await asyncio.gather(
            api.http.post(f"/v1/invitations/{token}/accept", headers=therapist.h),
            api.http.post(
                f"/v1/therapists/{therapist.user_id}/licenses",
                headers=therapist.h,
                json={
                    "kind": "lpc",
                    "jurisdiction": "US-TX",
                    "number": f"LPC-{i}",
                    "expires_on": api.FUTURE,
                },
            ),
            api.put_profile(therapist),
        )
        outcomes.add((accept.status_code, licence.status_code, profile.status_code))
        assert accept.status_code == 200, accept.text
        assert licence.status_code in (201, 409), licence.text
        assert profile.status_code in (200, 409), profile.text
        user = await db.users.find_one({"_id": therapist.user_id})
        assert user["clinic_id"] == admin.clinic_id
        async for lic in db.licenses.find({"therapist_id": therapist.user_id}):
            assert lic["clinic_id"] == admin.clinic_id, (i, outcomes)
        stored = await db.profiles.find_one({"_id": therapist.user_id})
        assert stored is None or stored["clinic_id"] == admin.clinic_id, (i, outcomes)
        if licence.status_code == 409:
            assert "clinic changed" in licence.json()["detail"]
            assert await db.licenses.count_documents({"therapist_id": therapist.user_id}) == 0


async def test_a_verification_only_writes_a_licence_still_in_the_admins_clinic(stack, api, db):
    """The verifying write is filtered on the clinic the permission check saw: once the holder
    has moved on (an acceptance committed between the check and the write), it writes nothing."""
    first, second = await api.admin(), await api.admin()
    therapist = await api.therapist()
    await api.invite(first, therapist)
    lic = await api.add_license(therapist, "US-CA", number="PSY-77")
    store = _store(stack)
    try:
        seen = await Licenses(store).by_id(lic["license_id"])  # what the check read
        assert seen is not None
        await api.invite(second, therapist)  # then the therapist moves
        verified = replace(seen, verified_by=first.user_id, verified_at=datetime.now(UTC))

        async def write(session):
            return await Licenses(store).mark_verified(session, verified)

        assert await store.transaction(write) is False
    finally:
        await store.close()
    stored = await db.licenses.find_one({"_id": lic["license_id"]})
    assert stored["clinic_id"] == second.clinic_id and stored["verified_at"] is None
    # Through the API the first clinic's admin is refused, the new one's admin may verify.
    api.problem(await api.verify(first, therapist, lic["license_id"]), 403)
    r = await api.verify(second, therapist, lic["license_id"])
    assert r.status_code == 200 and r.json()["status"] == "verified"


def _store(stack) -> Store:
    return Store(stack.deps.mongo_uri, stack.identity.settings.mongo_db)


async def test_enrolment_needs_the_password(api, db):
    person = await api.therapist()
    url = "/v1/auth/mfa/enroll"
    before = await db.users.find_one({"_id": person.user_id})
    # A stolen access token alone cannot enrol the thief's authenticator.
    assert api.problem(await api.http.post(url, headers=person.h, json={}), 422)
    r = await api.http.post(url, headers=person.h, json={"password": "not the password"})
    assert api.problem(r, 403)["field"] == "password"
    assert await db.users.find_one({"_id": person.user_id}) == before
    r = await api.http.post(url, headers=person.h, json={"password": api.PASSWORD})
    assert r.status_code == 200 and r.json()["secret"]


async def test_wrong_enrolment_passwords_count_against_the_account(throttled):
    """Enrolment checks a password, so it is throttled like sign-in (slowdown after 2)."""
    async with httpx.AsyncClient(base_url=throttled.url) as http:
        email = f"enrol-{uuid.uuid4().hex[:12]}@example.org"
        r = await http.post(
            "/v1/auth/register",
            json={
                "email": email,
                "password": PASSWORD,
                "role": "client",
                "display_name": "E",
                "jurisdiction": "US-CA",
            },
        )
        person = Person(user_id=r.json()["user_id"], email=email, role="client")
        r = await http.post("/v1/auth/login", json={"email": email, "password": PASSWORD})
        person.access = r.json()["access_token"]
        codes = []
        for _ in range(3):
            r = await http.post(
                "/v1/auth/mfa/enroll", headers=person.h, json={"password": "wrong guess!"}
            )
            codes.append(r.status_code)
        assert codes == [403, 403, 429]
        assert r.headers["Retry-After"].isdigit()


async def test_a_confirmation_enables_only_the_secret_its_code_was_checked_against(stack, api):
    """Confirmation reads the sealed secret, checks the code, then enables: if an enrolment
    replaced the secret in between, the write must not enable the new one (nobody confirmed
    it). The store's write is conditional on the sealed secret that was read."""
    person = await api.therapist()
    enrol = {"password": api.PASSWORD}
    r = await api.http.post("/v1/auth/mfa/enroll", headers=person.h, json=enrol)
    first = r.json()["secret"]
    store = _store(stack)
    try:
        users = Users(store)
        read = (await users.mfa(person.user_id))["secret"]  # what the confirmation read
        r = await api.http.post("/v1/auth/mfa/enroll", headers=person.h, json=enrol)
        assert r.status_code == 200  # ...and an enrolment races in: a new secret
        step = pyotp.TOTP(first).timecode(time.time())
        assert not await users.use_totp_step(person.user_id, step, secret=read, enable=True)
        assert (await users.mfa(person.user_id))["enabled"] is False
    finally:
        await store.close()
    # The user confirms the secret they saw last; sign-in then asks for its codes.
    person.totp_secret = r.json()["secret"]
    r = await api.http.post(
        "/v1/auth/mfa/confirm", headers=person.h, json={"totp_code": await person.next_code()}
    )
    assert r.status_code == 200
    await api.login(person, mfa=True)
