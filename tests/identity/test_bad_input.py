"""Bad input and abuse: each a clear 4xx problem+json, and nothing written (proved in Mongo)."""

from __future__ import annotations

import datetime as dt

import pytest


async def counts(db) -> dict[str, int]:
    return {
        name: await db[name].count_documents({})
        for name in ("users", "clinics", "profiles", "licenses", "invitations", "outbox")
    }


@pytest.fixture
async def clinic_and_therapist(api):
    """An admin (with MFA) whose clinic the therapist joined, the therapist with a profile and
    a pending licence."""
    admin = await api.admin()
    therapist = await api.therapist()
    r = await api.http.post(
        f"/v1/clinics/{admin.clinic_id}/invitations",
        headers=admin.h,
        json={"email": therapist.email},
    )
    token = r.json()["invitation_token"]
    r = await api.http.post(f"/v1/invitations/{token}/accept", headers=therapist.h)
    assert r.status_code == 200, r.text
    await api.login(therapist)
    assert (await api.put_profile(therapist)).status_code == 200
    lic = await api.add_license(therapist, "US-CA")
    return admin, therapist, lic, token


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"specialties": ["astrology"]}, "specialties"),
        ({"specialties": []}, "specialties"),
        ({"languages": ["english"]}, "languages"),
        ({"languages": ["xx-YY"]}, "languages"),
        (
            {"session_types": [{"name": "Bad Name", "duration_minutes": 50, "price_minor": 1}]},
            "session_types",
        ),
        (
            {"session_types": [{"name": "a", "duration_minutes": 5, "price_minor": 1}]},
            "session_types",
        ),
        ({"display_name": "  "}, "display_name"),
    ],
)
async def test_bad_profile_values_are_422_and_the_profile_is_unchanged(
    api, db, clinic_and_therapist, overrides, field
):
    _, therapist, _, _ = clinic_and_therapist
    before_doc = await db["profiles"].find_one({"_id": therapist.user_id})
    before = await counts(db)
    problem = api.problem(await api.put_profile(therapist, **overrides), 422)
    assert problem["field"] == field
    assert await db["profiles"].find_one({"_id": therapist.user_id}) == before_doc
    assert await counts(db) == before


async def test_unknown_modality_and_negative_price_are_422_at_the_edge(
    api, db, clinic_and_therapist
):
    _, therapist, _, _ = clinic_and_therapist
    before = await counts(db)
    api.problem(await api.put_profile(therapist, modalities=["phone"]), 422)
    bad_price = [{"name": "x", "duration_minutes": 50, "price_minor": -1}]
    api.problem(await api.put_profile(therapist, session_types=bad_price), 422)
    assert await counts(db) == before


async def test_a_client_or_another_therapist_cannot_edit_a_therapist_profile(
    api, db, clinic_and_therapist
):
    _, therapist, _, _ = clinic_and_therapist
    client = await api.register("client")
    other = await api.therapist()
    before_doc = await db["profiles"].find_one({"_id": therapist.user_id})
    before = await counts(db)
    for intruder in (client, other):
        r = await api.http.put(
            f"/v1/therapists/{therapist.user_id}/profile",
            headers=intruder.h,
            json=api.profile_body(display_name="Hijacked"),
        )
        api.problem(r, 403)
    # A client writing a profile under their own id is refused too: no profile for clients.
    r = await api.http.put(
        f"/v1/therapists/{client.user_id}/profile", headers=client.h, json=api.profile_body()
    )
    api.problem(r, 403)
    assert await db["profiles"].find_one({"_id": therapist.user_id}) == before_doc
    assert await counts(db) == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"jurisdiction": "US-ZZ"}, "jurisdiction"),
        ({"jurisdiction": "California"}, "jurisdiction"),
        ({"expires_on": "2001-01-01"}, "expires_on"),
        ({"expires_on": "31/12/2030"}, "expires_on"),
        ({"expires_on": ""}, "expires_on"),
        ({"kind": "wizard"}, "kind"),
        ({"number": ""}, "number"),
    ],
)
async def test_bad_licences_are_422_and_nothing_is_written(
    api, db, clinic_and_therapist, body, field
):
    _, therapist, _, _ = clinic_and_therapist
    before = await counts(db)
    full = {"kind": "lmft", "jurisdiction": "US-TX", "number": "LMFT-7", "expires_on": api.FUTURE}
    r = await api.http.post(
        f"/v1/therapists/{therapist.user_id}/licenses", headers=therapist.h, json={**full, **body}
    )
    assert api.problem(r, 422)["field"] == field
    assert await counts(db) == before


async def test_expiry_yesterday_is_refused_and_today_is_accepted(clocked, clocked_api, clocked_db):
    api, db = clocked_api, clocked_db
    admin = await api.admin()
    therapist = await api.therapist()
    await api.invite(admin, therapist)
    body = {"kind": "lpc", "jurisdiction": "US-OR", "number": "LPC-1"}
    with clocked.clock.at_midday() as today:
        before = await counts(db)
        r = await api.http.post(
            f"/v1/therapists/{therapist.user_id}/licenses",
            headers=therapist.h,
            json={**body, "expires_on": (today - dt.timedelta(days=1)).isoformat()},
        )
        api.problem(r, 422)
        assert await counts(db) == before
        lic = await api.add_license(therapist, "US-OR", kind="lpc", expires_on=today.isoformat())
    assert lic["status"] == "pending" and lic["expires_on"] == today.isoformat()


async def test_the_same_licence_twice_is_409(api, db, clinic_and_therapist):
    _, therapist, _, _ = clinic_and_therapist
    before = await counts(db)
    r = await api.http.post(
        f"/v1/therapists/{therapist.user_id}/licenses",
        headers=therapist.h,
        json={
            "kind": "psychologist",
            "jurisdiction": "US-CA",
            "number": "PSY-1",
            "expires_on": api.FUTURE,
        },
    )
    api.problem(r, 409)
    assert await counts(db) == before


async def test_a_therapist_adds_licences_only_to_their_own_record(api, db, clinic_and_therapist):
    _, therapist, _, _ = clinic_and_therapist
    other = await api.therapist()
    before = await counts(db)
    r = await api.http.post(
        f"/v1/therapists/{therapist.user_id}/licenses",
        headers=other.h,
        json={"kind": "lpc", "jurisdiction": "US-WA", "number": "X1", "expires_on": api.FUTURE},
    )
    api.problem(r, 403)
    assert await counts(db) == before


async def test_licence_verified_by_an_admin_of_another_clinic_is_403(api, db, clinic_and_therapist):
    _, therapist, lic, _ = clinic_and_therapist
    stranger = await api.admin()  # has MFA, but administers another clinic
    before_doc = await db["licenses"].find_one({"_id": lic["license_id"]})
    before = await counts(db)
    api.problem(await api.verify(stranger, therapist, lic["license_id"]), 403)
    # Nor may the therapist verify their own licence.
    api.problem(await api.verify(therapist, therapist, lic["license_id"]), 403)
    assert await db["licenses"].find_one({"_id": lic["license_id"]}) == before_doc
    assert before_doc["verified_at"] is None
    assert await counts(db) == before
    # And the stranger sees neither the clinic's people nor the therapist's licences.
    r = await api.http.get(f"/v1/therapists/{therapist.user_id}/licenses", headers=stranger.h)
    api.problem(r, 403)
    admin = clinic_and_therapist[0]
    r = await api.http.get(f"/v1/clinics/{admin.clinic_id}/therapists", headers=stranger.h)
    api.problem(r, 403)
    r = await api.http.get(f"/v1/clinics/{admin.clinic_id}/therapists", headers=admin.h)
    assert [t["therapist_id"] for t in r.json()["items"]] == [therapist.user_id]
    assert r.json()["items"][0]["licenses"][0]["status"] == "pending"


async def test_verifying_needs_multi_factor(api, db):
    admin = await api.admin(mfa=False)
    therapist = await api.therapist()
    r = await api.http.post(
        f"/v1/clinics/{admin.clinic_id}/invitations",
        headers=admin.h,
        json={"email": therapist.email},
    )
    token = r.json()["invitation_token"]
    assert (await api.http.post(f"/v1/invitations/{token}/accept", headers=therapist.h)).is_success
    await api.login(therapist)  # joining a clinic revoked the old token
    lic = await api.add_license(therapist, "US-CA")
    before = await counts(db)
    r = await api.verify(admin, therapist, lic["license_id"])
    assert "multi-factor" in api.problem(r, 403)["detail"]
    assert await counts(db) == before
    assert (await db["licenses"].find_one({"_id": lic["license_id"]}))["verified_at"] is None
    await api.enable_mfa(admin)  # enrol, confirm, sign in again with a code
    r = await api.verify(admin, therapist, lic["license_id"])
    assert r.status_code == 200 and r.json()["status"] == "verified"
    # Verifying again is harmless: still verified, no second event.
    r = await api.verify(admin, therapist, lic["license_id"])
    assert r.status_code == 200
    from rapport.events.v1 import identity_pb2 as events_pb

    mine = [
        doc
        async for doc in db["outbox"].find({"subject": "rapport.identity.license_verified"})
        if events_pb.LicenseVerified.FromString(bytes(doc["data"])).license_id == lic["license_id"]
    ]
    assert len(mine) == 1


async def test_unknown_licence_is_404(api, clinic_and_therapist):
    admin, therapist, lic, _ = clinic_and_therapist
    api.problem(await api.verify(admin, therapist, "no-such-licence"), 404)
    other = await api.therapist()
    api.problem(await api.verify(admin, other, lic["license_id"]), 404)


async def test_reused_invitation_is_409_and_changes_nothing(api, db, clinic_and_therapist):
    _, therapist, _, token = clinic_and_therapist
    before_user = await db["users"].find_one({"_id": therapist.user_id})
    before = await counts(db)
    api.problem(await api.http.post(f"/v1/invitations/{token}/accept", headers=therapist.h), 409)
    assert await db["users"].find_one({"_id": therapist.user_id}) == before_user
    assert await counts(db) == before


async def test_expired_invitation_is_409_and_changes_nothing(api, db):
    admin = await api.admin()
    therapist = await api.therapist()
    r = await api.http.post(
        f"/v1/clinics/{admin.clinic_id}/invitations",
        headers=admin.h,
        json={"email": therapist.email},
    )
    token = r.json()["invitation_token"]
    # Time passes: the invitation's expiry is now behind us.
    past = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    from rapport_identity.domain import hash_secret

    await db["invitations"].update_one({"_id": hash_secret(token)}, {"$set": {"expires_at": past}})
    before = await counts(db)
    r = await api.http.post(f"/v1/invitations/{token}/accept", headers=therapist.h)
    assert "expired" in api.problem(r, 409)["detail"]
    me = (await api.http.get("/v1/me", headers=therapist.h)).json()
    assert me["clinic_id"] == "marketplace"
    assert await counts(db) == before


async def test_invitation_abuse(api, db):
    admin = await api.admin()
    other_admin = await api.admin()
    therapist = await api.therapist()
    before = await counts(db)
    # An admin invites only into their own clinic; a therapist invites nobody.
    for who in (other_admin, therapist):
        r = await api.http.post(
            f"/v1/clinics/{admin.clinic_id}/invitations",
            headers=who.h,
            json={"email": therapist.email},
        )
        api.problem(r, 403)
    r = await api.http.post(
        f"/v1/clinics/{admin.clinic_id}/invitations", headers=admin.h, json={"email": "nope"}
    )
    assert api.problem(r, 422)["field"] == "email"
    assert await counts(db) == before
    r = await api.http.post(
        f"/v1/clinics/{admin.clinic_id}/invitations",
        headers=admin.h,
        json={"email": therapist.email},
    )
    token = r.json()["invitation_token"]
    # Someone else (another therapist, a client) cannot use it; an unknown token is 404.
    intruder = await api.therapist()
    client = await api.register("client")
    before = await counts(db)
    for who in (intruder, client):
        api.problem(await api.http.post(f"/v1/invitations/{token}/accept", headers=who.h), 403)
    api.problem(await api.http.post("/v1/invitations/nope/accept", headers=therapist.h), 404)
    assert await db["invitations"].count_documents({"used_at": {"$ne": None}}) == (
        await db["invitations"].count_documents({"used_by": {"$exists": True}})
    )
    assert await counts(db) == before
    r = await api.http.post(f"/v1/invitations/{token}/accept", headers=therapist.h)
    assert r.status_code == 200


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"currency": "ABC"}, "currency"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"name": " "}, "name"),
    ],
)
async def test_bad_clinics_are_422_and_the_caller_stays_a_client(api, db, overrides, field):
    person = await api.register("client")
    before = await counts(db)
    r = await api.http.post("/v1/clinics", headers=person.h, json=api.clinic_body(**overrides))
    assert api.problem(r, 422)["field"] == field
    assert await counts(db) == before
    assert (await db["users"].find_one({"_id": person.user_id}))["role"] == "client"


async def test_who_may_create_a_clinic(api, db):
    therapist = await api.therapist()
    admin = await api.admin()
    before = await counts(db)
    for who in (therapist, admin):
        api.problem(await api.http.post("/v1/clinics", headers=who.h, json=api.clinic_body()), 403)
    api.problem(await api.http.post("/v1/clinics", json=api.clinic_body()), 401)
    r = await api.http.post("/v1/clinics", headers=admin.h, json={**api.clinic_body(), "x": 1})
    api.problem(r, 422)
    r = await api.http.post(
        "/v1/clinics", headers=admin.h, json=api.clinic_body(commission_bps=10_001)
    )
    api.problem(r, 422)
    assert await counts(db) == before


async def test_a_new_clinic_admin_gets_the_role_with_a_fresh_token(api):
    person = await api.register("client")
    old_access, old_refresh = person.access, person.refresh
    r = await api.http.post("/v1/clinics", headers=person.h, json=api.clinic_body())
    clinic_id = r.json()["clinic_id"]
    # The old token cannot act as the admin: it says client (403), or, once the verifiers'
    # revocation list has caught up with the role change, it is void (401).
    r = await api.http.post(
        f"/v1/clinics/{clinic_id}/invitations", headers=person.h, json={"email": "a@b.org"}
    )
    assert r.status_code in (401, 403), r.text
    api.problem(r, r.status_code)
    r = await api.http.post("/v1/auth/refresh", json={"refresh_token": old_refresh})
    assert r.status_code == 200
    person.access = r.json()["access_token"]
    assert person.access != old_access
    me = (await api.http.get("/v1/me", headers=person.h)).json()
    assert (me["role"], me["clinic_id"]) == ("clinic_admin", clinic_id)
    r = await api.http.post(
        f"/v1/clinics/{clinic_id}/invitations", headers=person.h, json={"email": "a@b.org"}
    )
    assert r.status_code == 201


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({}, 422),
        ({"jurisdiction": "Narnia"}, 422),
        ({"jurisdiction": "US-CA", "specialty": "astrology"}, 422),
        ({"jurisdiction": "US-CA", "language": "klingonese"}, 422),
        ({"jurisdiction": "US-CA", "modality": "phone"}, 422),
        ({"jurisdiction": "US-CA", "cursor": "%%%"}, 422),
        ({"jurisdiction": "US-CA", "limit": 0}, 422),
        ({"jurisdiction": "US-CA", "limit": 1000}, 422),
    ],
)
async def test_bad_directory_queries_are_4xx(api, params, status):
    api.problem(await api.http.get("/v1/therapists", params=params), status)


async def test_eligibility_with_a_bad_jurisdiction_is_422(api, clinic_and_therapist):
    _, therapist, _, _ = clinic_and_therapist
    r = await api.http.get(
        f"/v1/therapists/{therapist.user_id}/eligibility",
        params={"jurisdiction": "XX-YY"},
        headers=therapist.h,
    )
    assert api.problem(r, 422)["field"] == "jurisdiction"


async def test_prescriber_licences_say_no_prescribing_and_coaches_need_no_number(
    api, clinic_and_therapist
):
    _, therapist, _, _ = clinic_and_therapist
    lic = await api.add_license(therapist, "US-NY", kind="psychiatrist", number="MD-77")
    assert lic["prescriber"] is True and "no prescribing" in lic["scope_note"]
    coach = await api.add_license(therapist, "GB-ENG", kind="coach", number="", expires_on="")
    assert coach["prescriber"] is False and coach["scope_note"] is None
    assert coach["expires_on"] is None and coach["status"] == "pending"
