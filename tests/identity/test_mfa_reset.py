"""A lost authenticator, through the gateway: the admin of a therapist's clinic (or a platform
operator) removes it. Every session of the account ends, it signs in with its password alone and
enrols again; nobody else may do it, refusals and bad input change nothing, and the notifier's
event carries ids only."""

from __future__ import annotations

import base64
import json

import httpx
from pymongo import AsyncMongoClient
from rapport.events.v1 import identity_pb2 as events

from tests.identity import operators
from tests.people import PASSWORD, Person, assert_problem
from tests.scheduling.helpers import Practice


def claims(access: str) -> dict:
    payload = access.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


async def enrol(http: httpx.AsyncClient, person: Person) -> str:
    """Enrol an authenticator and sign in with a code; returns the refresh token."""
    r = await http.post("/v1/auth/mfa/enroll", headers=person.h, json={"password": PASSWORD})
    assert r.status_code == 200, r.text
    person.totp_secret, person.last_step = r.json()["secret"], 0
    code = await person.next_code()
    r = await http.post("/v1/auth/mfa/confirm", headers=person.h, json={"totp_code": code})
    assert r.status_code == 200, r.text
    body = {"email": person.email, "password": PASSWORD, "totp_code": await person.next_code()}
    r = await http.post("/v1/auth/login", json=body)
    assert r.status_code == 200, r.text
    person.access = r.json()["access_token"]
    assert claims(person.access)["mfa"] is True
    return r.json()["refresh_token"]


async def test_the_clinic_admin_resets_a_therapist_s_lost_authenticator(stack):
    async with httpx.AsyncClient(base_url=stack.url, timeout=30) as http:
        practice = await Practice(http).open()
        admin = practice.admin
        assert admin is not None
        other = await Practice(http).open()
        assert other.admin is not None
        t = await practice.therapist()
        c = await practice.client()
        refresh = await enrol(http, t)
        url = f"/v1/users/{t.user_id}/mfa/reset"
        mongo = AsyncMongoClient(stack.deps.mongo_uri, tz_aware=True)
        try:
            users = mongo[stack.identity.settings.mongo_db]["users"]
            before = await users.find_one({"_id": t.user_id})
            assert before["mfa"]["enabled"] is True

            # Nobody else, and not oneself; bad input is a clear 4xx. Nothing changes.
            assert_problem(await http.post(url), 401)
            for who in (t, c, other.admin):
                assert_problem(await http.post(url, headers=who.h), 403)
            for own in (admin, c):  # the admin's own, a client's: not the admin's to reset
                r = await http.post(f"/v1/users/{own.user_id}/mfa/reset", headers=admin.h)
                assert_problem(r, 403)
            assert_problem(
                await http.post("/v1/users/no-such-user/mfa/reset", headers=admin.h), 404
            )
            assert_problem(await http.post("/v1/users/bad%20id/mfa/reset", headers=admin.h), 422)
            assert await users.find_one({"_id": t.user_id}) == before
            assert (await http.get("/v1/me", headers=t.h)).status_code == 200

            r = await http.post(url, headers=admin.h)
            assert r.status_code == 200, r.text
            assert r.json() == {"user_id": t.user_id, "was_enrolled": True}

            # Every session ended: the access token and the refresh token are void.
            assert_problem(await http.get("/v1/me", headers=t.h), 401)
            assert_problem(
                await http.post("/v1/auth/refresh", json={"refresh_token": refresh}), 401
            )
            # The password alone signs in now (a token without mfa), and enrolment starts over.
            r = await http.post("/v1/auth/login", json={"email": t.email, "password": PASSWORD})
            assert r.status_code == 200, r.text
            t.access = r.json()["access_token"]
            assert claims(t.access)["mfa"] is False
            await enrol(http, t)

            # The notifier's event: ids only, in the same transaction as the reset.
            outbox = mongo[stack.identity.settings.mongo_db]["outbox"]
            record = await outbox.find_one(
                {"subject": "rapport.identity.mfa_reset"}, sort=[("created_at", -1)]
            )
            event = events.MfaReset.FromString(record["data"])
            assert (event.user_id, event.reset_by) == (t.user_id, admin.user_id)
            assert t.email.encode() not in record["data"]

            # A platform operator resets the clinic admin's; never an operator's (its own here).
            op = await operators.operator(http)
            r = await http.post(f"/v1/users/{op.user_id}/mfa/reset", headers=op.h)
            if r.status_code == 401:  # the shared operator's token expired: refresh keeps MFA
                tokens = (
                    await http.post("/v1/auth/refresh", json={"refresh_token": op.refresh})
                ).json()
                op.access, op.refresh = tokens["access_token"], tokens["refresh_token"]
                r = await http.post(f"/v1/users/{op.user_id}/mfa/reset", headers=op.h)
            assert_problem(r, 403)
            r = await http.post(f"/v1/users/{admin.user_id}/mfa/reset", headers=op.h)
            assert r.status_code == 200 and r.json()["was_enrolled"] is True, r.text
            assert_problem(await http.get("/v1/me", headers=admin.h), 401)
        finally:
            await mongo.close()
