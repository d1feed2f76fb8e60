"""Strong sign-in through the gateway: TOTP multi-factor, refresh rotation with reuse
detection, logout."""

from __future__ import annotations

import asyncio
import hashlib

import jwt


def claims(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


async def test_totp_enrol_confirm_then_login_asks_for_the_code(api, db):
    person = await api.therapist()
    assert claims(person.access)["mfa"] is False

    r = await api.http.post(
        "/v1/auth/mfa/enroll", headers=person.h, json={"password": api.PASSWORD}
    )
    assert r.status_code == 200, r.text
    enrol = r.json()
    person.totp_secret = enrol["secret"]
    assert enrol["provisioning_uri"].startswith("otpauth://totp/")
    assert person.user_id in enrol["provisioning_uri"]
    assert person.email.split("@")[0] not in enrol["provisioning_uri"]
    # The seed is kept only as Vault transit ciphertext, never in clear in the database.
    stored = (await db.users.find_one({"_id": person.user_id}))["mfa"]["secret"]
    assert stored.startswith("vault:v") and enrol["secret"] not in stored

    # A wrong code does not confirm; until confirmed, login needs no code.
    r = await api.http.post("/v1/auth/mfa/confirm", headers=person.h, json={"totp_code": "000000"})
    assert api.problem(r, 422)["field"] == "totp_code"
    assert claims((await api.login(person))["access_token"])["mfa"] is False

    r = await api.http.post(
        "/v1/auth/mfa/confirm", headers=person.h, json={"totp_code": await person.next_code()}
    )
    assert r.status_code == 200 and r.json() == {"mfa_enabled": True}
    api.problem(
        await api.http.post(
            "/v1/auth/mfa/confirm", headers=person.h, json={"totp_code": await person.next_code()}
        ),
        409,
    )
    again = {"password": api.PASSWORD}
    api.problem(await api.http.post("/v1/auth/mfa/enroll", headers=person.h, json=again), 409)

    login = {"email": person.email, "password": api.PASSWORD}
    problem = api.problem(await api.http.post("/v1/auth/login", json=login), 401)
    assert problem["field"] == "totp_code"
    wrong = api.problem(
        await api.http.post("/v1/auth/login", json={**login, "totp_code": "123456"}), 401
    )
    assert wrong["field"] == "totp_code"

    code = await person.next_code()
    r = await api.http.post("/v1/auth/login", json={**login, "totp_code": code})
    assert r.status_code == 200, r.text
    tokens = r.json()
    assert claims(tokens["access_token"])["mfa"] is True
    # A code is accepted once: replaying it fails even with the right password.
    replay = await api.http.post("/v1/auth/login", json={**login, "totp_code": code})
    api.problem(replay, 401)

    # Refreshing an MFA sign-in keeps its strength.
    r = await api.http.post("/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert claims(r.json()["access_token"])["mfa"] is True
    # The secret is never echoed by /v1/me.
    me = await api.http.get("/v1/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert person.totp_secret not in me.text


async def test_confirm_without_enrolment_is_409(api):
    person = await api.register("client")
    r = await api.http.post("/v1/auth/mfa/confirm", headers=person.h, json={"totp_code": "123456"})
    api.problem(r, 409)
    api.problem(await api.http.post("/v1/auth/mfa/enroll"), 401)


async def test_refresh_rotates_and_reuse_revokes_the_whole_family(api, db):
    person = await api.register("client")
    first = person.refresh
    # Stored by hash only.
    assert await db["refresh_tokens"].find_one({"_id": first}) is None
    stored = await db["refresh_tokens"].find_one(
        {"_id": hashlib.sha256(first.encode()).hexdigest()}
    )
    assert stored is not None and stored["user_id"] == person.user_id

    other_signin = await api.login(person)  # a second, independent sign-in (another device)
    person.refresh = first

    r = await api.http.post("/v1/auth/refresh", json={"refresh_token": first})
    assert r.status_code == 200, r.text
    second = r.json()
    assert second["refresh_token"] != first and second["token_type"] == "Bearer"
    me = await api.http.get("/v1/me", headers={"Authorization": f"Bearer {second['access_token']}"})
    assert me.json()["user_id"] == person.user_id

    r = await api.http.post("/v1/auth/refresh", json={"refresh_token": second["refresh_token"]})
    assert r.status_code == 200
    third = r.json()

    # The first token comes back (a thief's copy): refused, and the whole family dies.
    api.problem(await api.http.post("/v1/auth/refresh", json={"refresh_token": first}), 401)
    api.problem(
        await api.http.post("/v1/auth/refresh", json={"refresh_token": third["refresh_token"]}),
        401,
    )
    # The other sign-in is a different family and lives on.
    r = await api.http.post(
        "/v1/auth/refresh", json={"refresh_token": other_signin["refresh_token"]}
    )
    assert r.status_code == 200


async def test_two_refreshes_racing_with_one_token_count_as_reuse(api):
    person = await api.register("client")
    results = await asyncio.gather(
        *(
            api.http.post("/v1/auth/refresh", json={"refresh_token": person.refresh})
            for _ in range(2)
        )
    )
    statuses = sorted(r.status_code for r in results)
    assert statuses == [200, 401]
    winner = next(r for r in results if r.status_code == 200).json()
    r = await api.http.post("/v1/auth/refresh", json={"refresh_token": winner["refresh_token"]})
    api.problem(r, 401)


async def test_logout_ends_the_sign_in(api):
    person = await api.register("client")
    r = await api.http.post("/v1/auth/logout", json={"refresh_token": person.refresh})
    assert r.status_code == 204
    api.problem(
        await api.http.post("/v1/auth/refresh", json={"refresh_token": person.refresh}), 401
    )
    # Unknown or repeated: the same quiet 204; a malformed body is 422.
    assert (
        await api.http.post("/v1/auth/logout", json={"refresh_token": "nope"})
    ).status_code == 204
    assert (
        await api.http.post("/v1/auth/logout", json={"refresh_token": person.refresh})
    ).status_code == 204
    api.problem(await api.http.post("/v1/auth/logout", json={}), 422)
    api.problem(await api.http.post("/v1/auth/refresh", json={"refresh_token": ""}), 422)
    api.problem(await api.http.post("/v1/auth/refresh", json={"refresh_token": "forged"}), 401)
