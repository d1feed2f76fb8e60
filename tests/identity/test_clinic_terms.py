"""GET /v1/clinics/{id} (and GetClinic over gRPC): any signed-in account sees what a client needs
to book; commission and vetting status only the clinic's admin and platform operators (issue 13,
item 8). A clinic sets its own booking limits; the platform's defaults apply otherwise."""

from __future__ import annotations

from rapport.identity.v1 import identity_pb2 as pb
from rapport_platform.rpc import bearer

PRIVATE = ("commission_bps", "status", "approved_at")


async def test_only_the_clinic_s_admin_and_operators_see_commission_and_vetting(api, grpc_identity):
    admin = await api.admin()
    other_admin = await api.admin()
    therapist = await api.therapist()
    await api.invite(admin, therapist)
    outsider_therapist = await api.therapist()
    client = await api.register("client")
    operator = await api.operator()
    url = f"/v1/clinics/{admin.clinic_id}"

    for who in (client, therapist, outsider_therapist, other_admin):
        r = await api.http.get(url, headers=who.h)
        assert r.status_code == 200, r.text
        seen = r.json()
        assert seen["name"] == "Clinique du Parc" and seen["currency"] == "EUR"
        assert seen["cancellation_window_hours"] == 24
        assert seen["late_cancellation_fee_minor"] == 3000
        assert all(seen[f] is None for f in PRIVATE), seen
        assert "1500" not in r.text
    for who in (admin, operator):
        seen = (await api.http.get(url, headers=who.h)).json()
        assert seen["commission_bps"] == 1500 and seen["status"] == "approved"
        assert seen["approved_at"].endswith("+00:00")

    # Over gRPC too: the same rule, not only the gateway's rendering.
    reply = await grpc_identity.GetClinic(
        pb.GetClinicRequest(clinic_id=admin.clinic_id), metadata=bearer(client.access)
    )
    assert not reply.clinic.full_view and reply.clinic.commission_bps == 0
    assert reply.clinic.status == pb.CLINIC_STATUS_UNSPECIFIED
    assert not reply.clinic.HasField("approved_at")
    assert reply.clinic.cancellation_policy.late_fee.amount_minor == 3000
    reply = await grpc_identity.GetClinic(
        pb.GetClinicRequest(clinic_id=admin.clinic_id), metadata=bearer(admin.access)
    )
    assert reply.clinic.full_view and reply.clinic.commission_bps == 1500


async def test_a_clinic_sets_its_booking_limits_or_gets_the_platform_s(api, stack):
    person = await api.register("client", jurisdiction="FR-75C")
    r = await api.http.post(
        "/v1/clinics",
        headers=person.h,
        json=api.clinic_body(max_active_bookings_per_therapist=2, max_active_bookings_per_client=3),
    )
    assert r.status_code == 201, r.text
    assert r.json()["max_active_bookings_per_therapist"] == 2
    assert r.json()["max_active_bookings_per_client"] == 3
    client = await api.register("client")
    seen = (await api.http.get(f"/v1/clinics/{r.json()['clinic_id']}", headers=client.h)).json()
    assert (seen["max_active_bookings_per_therapist"], seen["max_active_bookings_per_client"]) == (
        2,
        3,
    )
    settings = stack.identity.settings
    market = (await api.http.get("/v1/clinics/marketplace", headers=client.h)).json()
    assert market["max_active_bookings_per_therapist"] == (
        settings.default_max_active_bookings_per_therapist
    )
    assert (
        market["max_active_bookings_per_client"] == settings.default_max_active_bookings_per_client
    )
    # A per-clinic limit below the per-therapist one makes no sense: 422, nothing created.
    other = await api.register("client", jurisdiction="FR-75C")
    bad = api.clinic_body(max_active_bookings_per_therapist=5, max_active_bookings_per_client=2)
    api.problem(await api.http.post("/v1/clinics", headers=other.h, json=bad), 422)
    me = (await api.http.get("/v1/me", headers=other.h)).json()
    assert me["role"] == "client" and not me["clinic_id"]
