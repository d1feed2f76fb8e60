"""Operators, signing-key rotation and the daily licence-expiry sweep, on an identity with a
movable clock and a Vault of its own."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from rapport.events.v1 import identity_pb2 as events_pb
from rapport_identity.jobs import Periodic, expire_licenses


def kid(token: str) -> str:
    return jwt.get_unverified_header(token)["kid"]


async def jwks_kids(api) -> list[str]:
    r = await api.http.get("/.well-known/jwks.json")
    assert r.status_code == 200
    return [k["kid"] for k in r.json()["keys"]]


def twin(clocked) -> Periodic:
    """A second replica's job runner over the same database and Vault key."""
    p = clocked.periodic
    return Periodic(
        p.store, p.outbox, p.keys, check_every=3600, key_max_age=p.key_max_age, clock=p.now
    )


async def test_operators_administer_the_marketplace_and_rotate_signing_keys(clocked, clocked_api):
    api = clocked_api
    operator = await api.register("client", email=clocked.operator)
    me = (await api.http.get("/v1/me", headers=operator.h)).json()
    assert (me["role"], me["clinic_id"]) == ("clinic_admin", "marketplace")

    # Rotation needs an operator signed in with multi-factor.
    r = await api.http.post("/v1/ops/signing-keys/rotate", headers=operator.h)
    assert "multi-factor" in api.problem(r, 403)["detail"]
    bystander = await api.therapist()
    await api.enable_mfa(bystander)
    api.problem(await api.http.post("/v1/ops/signing-keys/rotate", headers=bystander.h), 403)
    await api.enable_mfa(operator)

    # The operator is the marketplace's admin: verifies a self-registered therapist's licence.
    therapist = await api.therapist()
    lic = await api.add_license(therapist, "GB-ENG", kind="counsellor", number="BACP-1")
    r = await api.verify(operator, therapist, lic["license_id"])
    assert r.status_code == 200 and r.json()["status"] == "verified"

    before = await jwks_kids(api)
    old_token = operator.access
    assert kid(old_token) == before[-1]
    r = await api.http.post("/v1/ops/signing-keys/rotate", headers=operator.h)
    assert r.status_code == 200, r.text
    rotated = r.json()
    assert rotated["kid"] not in before
    assert rotated["published_kids"] == [*before, rotated["kid"]]
    assert await jwks_kids(api) == [*before, rotated["kid"]]

    # Published first, the new kid soon signs, and verifiers know it at once; tokens the old
    # one signed still work until they expire.
    fresh = await api.register("client")
    for _ in range(50):
        if kid(fresh.access) == rotated["kid"]:
            break
        await asyncio.sleep(0.1)
        await api.login(fresh)
    assert kid(fresh.access) == rotated["kid"]
    assert (await api.http.get("/v1/me", headers=fresh.h)).status_code == 200
    assert (
        await api.http.get("/v1/me", headers={"Authorization": f"Bearer {old_token}"})
    ).status_code == 200

    # Once every token the old key signed has expired, the JWKS stops publishing it.
    ttl = clocked.identity.settings.access_token_ttl_seconds
    clocked.clock.offset = timedelta(seconds=ttl - 60)
    assert await jwks_kids(api) == [*before, rotated["kid"]]
    clocked.clock.offset = timedelta(seconds=ttl + 1 + 30 + 5)  # + activation + key cache
    assert await jwks_kids(api) == [rotated["kid"]]


async def test_periodic_rotation_happens_once_across_replicas(clocked):
    keys = clocked.periodic.keys
    version, _ = await keys.latest()
    # Nothing is due while the key is young.
    assert await clocked.periodic.rotate_if_due() is None
    clocked.clock.offset = timedelta(days=clocked.identity.settings.signing_key_rotation_days)
    try:
        results = await asyncio.gather(
            clocked.periodic.rotate_if_due(), twin(clocked).rotate_if_due()
        )
    finally:
        clocked.clock.offset = timedelta(0)
    assert sorted(r is None for r in results) == [False, True]
    assert (await keys.latest())[0] == version + 1
    assert keys.kid(version + 1) in results


async def expired_events(db, license_id: str) -> list:
    found = []
    async for doc in db["outbox"].find({"subject": "rapport.identity.license_expired"}):
        event = events_pb.LicenseExpired.FromString(bytes(doc["data"]))
        if event.license_id == license_id:
            found.append((event, doc))
    return found


async def test_daily_sweep_expires_a_licence_once_and_eligibility_follows(
    clocked, clocked_api, clocked_db
):
    api = clocked_api
    admin = await api.admin()
    therapist = await api.therapist()
    r = await api.http.post(
        f"/v1/clinics/{admin.clinic_id}/invitations",
        headers=admin.h,
        json={"email": therapist.email},
    )
    token = r.json()["invitation_token"]
    assert (await api.http.post(f"/v1/invitations/{token}/accept", headers=therapist.h)).is_success
    await api.login(therapist)
    assert (await api.put_profile(therapist)).status_code == 200
    today = datetime.now(UTC).date()
    lic = await api.add_license(therapist, "US-WA", expires_on=today.isoformat(), number="WA-1")
    assert (await api.verify(admin, therapist, lic["license_id"])).status_code == 200
    url = f"/v1/therapists/{therapist.user_id}/eligibility"
    r = await api.http.get(url, params={"jurisdiction": "US-WA"}, headers=therapist.h)
    assert r.json()["eligible"] is True  # valid through its expiry day

    # The next day, two replicas wake up at once: one sweeps, the other finds it taken.
    clocked.clock.offset = timedelta(days=1)
    try:
        results = await asyncio.gather(
            clocked.periodic.sweep_if_due(), twin(clocked).sweep_if_due()
        )
        assert sorted(r is None for r in results) == [False, True]
        assert await clocked.periodic.sweep_if_due() is None  # done for that day
        # Even two sweeps forced to run together record one event per licence.
        p = clocked.periodic
        marked = await asyncio.gather(
            expire_licenses(p.store, p.outbox, now=p.now()),
            expire_licenses(p.store, p.outbox, now=p.now()),
        )
        assert marked == [0, 0]
    finally:
        clocked.clock.offset = timedelta(0)

    events = await expired_events(clocked_db, lic["license_id"])
    assert len(events) == 1
    event, doc = events[0]
    assert (event.therapist_id, event.clinic_id, event.jurisdiction, event.expires_on) == (
        therapist.user_id,
        admin.clinic_id,
        "US-WA",
        today.isoformat(),
    )
    assert therapist.email not in str(doc)
    for _ in range(100):  # the relay publishes it to NATS
        if (await clocked_db["outbox"].find_one({"_id": doc["_id"]})).get("published_at"):
            break
        await asyncio.sleep(0.05)
    else:
        pytest.fail("license_expired was never published")

    r = await api.http.get(url, params={"jurisdiction": "US-WA"}, headers=therapist.h)
    assert r.json()["eligible"] is False and r.json()["reason"] == "license_expired"
    r = await api.http.get(f"/v1/therapists/{therapist.user_id}/licenses", headers=admin.h)
    assert [x["status"] for x in r.json()["items"]] == ["expired"]
    r = await api.http.get("/v1/therapists", params={"jurisdiction": "US-WA", "limit": 100})
    assert therapist.user_id not in [i["therapist_id"] for i in r.json()["items"]]
    # An expired licence cannot be verified again.
    api.problem(await api.verify(admin, therapist, lic["license_id"]), 409)
