"""The whole identity flow through the gateway: a clinic, an invited therapist, a profile,
licences in two jurisdictions, one verified; the directory and eligibility follow."""

from __future__ import annotations

import grpc
import pytest
from rapport.events.v1 import identity_pb2 as events_pb
from rapport.identity.v1 import identity_pb2 as pb
from rapport_identity.__main__ import create as create_identity
from rapport_platform.rpc import bearer


async def directory_ids(api, **params) -> list[str]:
    ids, cursor = [], ""
    while True:
        r = await api.http.get("/v1/therapists", params={**params, "limit": 2, "cursor": cursor})
        assert r.status_code == 200, r.text
        page = r.json()
        ids += [item["therapist_id"] for item in page["items"]]
        if not page["next_cursor"]:
            return ids
        cursor = page["next_cursor"]


async def outbox_events(db, subject: str, message_type):
    return [
        message_type.FromString(bytes(doc["data"]))
        async for doc in db["outbox"].find({"subject": subject})
    ]


async def test_clinic_invitation_profile_licences_directory_and_eligibility(api, db, grpc_identity):
    admin = await api.admin(currency="EUR")
    therapist = await api.therapist()

    # A self-registered therapist practises under the marketplace clinic until invited.
    me = (await api.http.get("/v1/me", headers=therapist.h)).json()
    assert me["clinic_id"] == "marketplace" and me["role"] == "therapist"

    r = await api.http.post(
        f"/v1/clinics/{admin.clinic_id}/invitations",
        headers=admin.h,
        json={"email": therapist.email.upper()},
    )
    assert r.status_code == 201, r.text
    invitation = r.json()
    assert invitation["expires_at"].endswith("+00:00")
    r = await api.http.post(
        f"/v1/invitations/{invitation['invitation_token']}/accept", headers=therapist.h
    )
    assert r.status_code == 200, r.text
    assert r.json() == {"clinic_id": admin.clinic_id}
    await api.login(therapist)  # a fresh token carries the new clinic

    r = await api.put_profile(therapist, specialties=["addiction", "social_anxiety"])
    assert r.status_code == 200, r.text
    profile = r.json()
    assert profile["clinic_id"] == admin.clinic_id
    assert profile["languages"] == ["en", "fr-FR"]
    assert profile["session_types"][0] == {
        "name": "intake-50",
        "duration_minutes": 50,
        "price_minor": 9000,
        "currency": "EUR",
    }

    in_ca = await api.add_license(therapist, "US-CA", number="PSY 12345")
    await api.add_license(therapist, "US-NY", kind="lcsw", number="LCSW-9")
    assert in_ca["status"] == "pending" and in_ca["clinic_id"] == admin.clinic_id
    r = await api.verify(admin, therapist, in_ca["license_id"])
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "verified" and r.json()["verified_at"]

    # The directory shows the therapist for California only, with the verified licence only.
    assert therapist.user_id in await directory_ids(api, jurisdiction="US-CA")
    assert therapist.user_id not in await directory_ids(api, jurisdiction="US-NY")
    assert therapist.user_id not in await directory_ids(api, jurisdiction="GB-ENG")
    r = await api.http.get(
        "/v1/therapists",
        params={
            "jurisdiction": "US-CA",
            "specialty": "addiction",
            "language": "en",
            "modality": "video",
            "limit": 100,
        },
    )
    mine = [i for i in r.json()["items"] if i["therapist_id"] == therapist.user_id]
    assert len(mine) == 1
    entry = mine[0]
    assert [lic["license_id"] for lic in entry["licenses"]] == [in_ca["license_id"]]
    assert entry["licenses"][0]["number"] == "PSY 12345"
    assert therapist.email not in r.text and "email" not in entry
    for params in ({"specialty": "trauma"}, {"language": "de"}):
        assert therapist.user_id not in await directory_ids(api, jurisdiction="US-CA", **params)
    assert therapist.user_id in await directory_ids(api, jurisdiction="US-CA", language="fr-CA")

    r = await api.http.get(f"/v1/therapists/{therapist.user_id}/profile", headers=admin.h)
    assert r.status_code == 200 and r.json()["specialties"] == ["addiction", "social_anxiety"]

    # Eligibility through the gateway and over gRPC (how scheduling asks at booking).
    client = await api.register("client", jurisdiction="US-CA")
    url = f"/v1/therapists/{therapist.user_id}/eligibility"
    yes = (await api.http.get(url, params={"jurisdiction": "US-CA"}, headers=client.h)).json()
    assert yes["eligible"] is True and yes["license_id"] == in_ca["license_id"]
    no = (await api.http.get(url, params={"jurisdiction": "US-NY"}, headers=client.h)).json()
    assert no["eligible"] is False and no["reason"] == "license_not_verified"
    none = (await api.http.get(url, params={"jurisdiction": "GB-ENG"}, headers=client.h)).json()
    assert none["reason"] == "no_license_in_jurisdiction" and none["explanation"]

    reply = await grpc_identity.CheckEligibility(
        pb.CheckEligibilityRequest(therapist_id=therapist.user_id, client_jurisdiction="US-NY"),
        metadata=bearer(client.access),
    )
    assert not reply.eligible
    assert reply.reason == pb.INELIGIBILITY_REASON_LICENSE_NOT_VERIFIED
    reply = await grpc_identity.CheckEligibility(
        pb.CheckEligibilityRequest(therapist_id=client.user_id, client_jurisdiction="US-CA"),
        metadata=bearer(client.access),
    )
    assert reply.reason == pb.INELIGIBILITY_REASON_NOT_A_THERAPIST
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await grpc_identity.CheckEligibility(
            pb.CheckEligibilityRequest(therapist_id=therapist.user_id, client_jurisdiction="US")
        )
    assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED

    # What scheduling reads at booking: session types and prices, then the clinic's terms.
    prof = (
        await grpc_identity.GetTherapistProfile(
            pb.GetTherapistProfileRequest(therapist_id=therapist.user_id),
            metadata=bearer(client.access),
        )
    ).profile
    assert prof.clinic_id == admin.clinic_id
    assert list(prof.modalities) == [pb.MODALITY_VIDEO, pb.MODALITY_CHAT]
    assert prof.session_types[0].price.amount_minor == 9000
    assert prof.session_types[0].price.currency == "EUR"
    clinic = (
        await grpc_identity.GetClinic(
            pb.GetClinicRequest(clinic_id=prof.clinic_id), metadata=bearer(client.access)
        )
    ).clinic
    # A client sees what booking needs, not the clinic's commission (issue 13, item 8).
    assert (clinic.currency, clinic.timezone, clinic.commission_bps) == ("EUR", "Europe/Paris", 0)
    assert not clinic.full_view
    assert clinic.cancellation_policy.window_hours == 24
    assert clinic.cancellation_policy.late_fee.amount_minor == 3000
    assert clinic.cancellation_policy.late_fee.currency == "EUR"

    # Every step recorded its event in the outbox, ids and codes only.
    created = await outbox_events(db, "rapport.identity.clinic_created", events_pb.ClinicCreated)
    assert any(e.clinic_id == admin.clinic_id and e.admin_user_id == admin.user_id for e in created)
    updated = await outbox_events(
        db, "rapport.identity.therapist_profile_updated", events_pb.TherapistProfileUpdated
    )
    assert any(e.therapist_id == therapist.user_id for e in updated)
    verified = await outbox_events(
        db, "rapport.identity.license_verified", events_pb.LicenseVerified
    )
    mine = [e for e in verified if e.license_id == in_ca["license_id"]]
    assert len(mine) == 1 and mine[0].jurisdiction == "US-CA"
    assert mine[0].verified_by == admin.user_id
    joined = await outbox_events(
        db, "rapport.identity.therapist_joined_clinic", events_pb.TherapistJoinedClinic
    )
    assert any(
        e.therapist_id == therapist.user_id and e.previous_clinic_id == "marketplace"
        for e in joined
    )


async def test_marketplace_clinic_exists_with_the_configured_terms(
    api, db, grpc_identity, root, deps, stack
):
    client = await api.register("client")
    clinic = (
        await grpc_identity.GetClinic(
            pb.GetClinicRequest(clinic_id="marketplace"), metadata=bearer(client.access)
        )
    ).clinic
    assert clinic.currency == "USD" and clinic.timezone == "UTC"
    operator = await api.operator()
    r = await api.http.get("/v1/clinics/marketplace", headers=operator.h)
    assert r.status_code == 200 and r.json()["commission_bps"] == 2000

    # A second replica starting on the same database finds it there: still exactly one.
    settings = root.identity_settings(deps, mongo_db=stack.identity.settings.mongo_db)
    replica = await root.start_service(create_identity(settings))
    await replica.stop(0)
    assert await db["clinics"].count_documents({"_id": "marketplace"}) == 1


async def test_the_directory_pages_through_every_eligible_therapist(api):
    admin = await api.admin()
    therapists = []
    for _ in range(3):
        therapist = await api.therapist()
        r = await api.http.post(
            f"/v1/clinics/{admin.clinic_id}/invitations",
            headers=admin.h,
            json={"email": therapist.email},
        )
        token = r.json()["invitation_token"]
        assert (
            await api.http.post(f"/v1/invitations/{token}/accept", headers=therapist.h)
        ).status_code == 200
        await api.login(therapist)  # joining a clinic revoked the old token
        assert (await api.put_profile(therapist)).status_code == 200
        lic = await api.add_license(therapist, "US-VT", number=f"VT-{len(therapists)}")
        assert (await api.verify(admin, therapist, lic["license_id"])).status_code == 200
        therapists.append(therapist.user_id)
    pages, cursor = [], ""
    while True:
        r = await api.http.get(
            "/v1/therapists", params={"jurisdiction": "US-VT", "limit": 2, "cursor": cursor}
        )
        page = r.json()
        assert len(page["items"]) <= 2
        pages.append([i["therapist_id"] for i in page["items"]])
        if not page["next_cursor"]:
            break
        cursor = page["next_cursor"]
    found = [t for page in pages for t in page]
    assert len(found) == len(set(found))  # no therapist twice across pages
    assert set(therapists) <= set(found) and len(pages) >= 2
