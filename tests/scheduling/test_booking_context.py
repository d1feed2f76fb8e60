"""GetBookingContext: what scheduling asks identity at every booking, in one call (the caller,
the therapist's profile, the clinic's terms, eligibility), and the exactness it must keep."""

from __future__ import annotations

import grpc
import pytest
from rapport.identity.v1 import identity_pb2 as idpb
from rapport.identity.v1 import identity_pb2_grpc
from rapport_platform.rpc import bearer, client_channel


@pytest.fixture
async def identity(stack):
    channel = client_channel(stack.identity_addr)
    yield identity_pb2_grpc.IdentityServiceStub(channel)
    await channel.close()


async def context(identity, who, therapist_id: str) -> idpb.GetBookingContextResponse:
    return await identity.GetBookingContext(
        idpb.GetBookingContextRequest(therapist_id=therapist_id), metadata=bearer(who.access)
    )


async def test_one_call_answers_what_four_did(practice, http, identity):
    t = await practice.therapist(jurisdictions=("US-CA",))
    c = await practice.client()
    got = await context(identity, c, t.user_id)
    assert got.user.user_id == c.user_id and got.user.jurisdiction == "US-CA"
    assert got.profile.therapist_id == t.user_id
    assert [s.name for s in got.profile.session_types] == ["talk-30", "talk-50", "long-90"]
    # The clinic as a client sees it: its terms, not its commission.
    assert got.clinic.clinic_id == practice.admin.clinic_id and not got.clinic.full_view
    assert got.clinic.cancellation_policy.window_hours == practice.WINDOW_HOURS
    assert got.clinic.cancellation_policy.late_fee.amount_minor == practice.LATE_FEE
    assert got.clinic.commission_bps == 0
    assert got.eligibility.eligible and got.eligibility.license_id
    # The same answers as the separate calls.
    separate = await identity.CheckEligibility(
        idpb.CheckEligibilityRequest(therapist_id=t.user_id, client_jurisdiction="US-CA"),
        metadata=bearer(c.access),
    )
    assert separate == got.eligibility

    texan = await practice.client(jurisdiction="US-TX")
    got = await context(identity, texan, t.user_id)
    assert not got.eligibility.eligible
    assert got.eligibility.reason == idpb.INELIGIBILITY_REASON_NO_LICENSE_IN_JURISDICTION

    # No such therapist: no profile, no clinic (scheduling answers 404), nothing eligible.
    got = await context(identity, c, "no-such-therapist")
    assert not got.HasField("profile") and not got.HasField("clinic")
    assert not got.eligibility.eligible


async def test_a_revoked_token_is_refused_at_once(practice, http, identity):
    c = await practice.client()
    t = await practice.therapist()
    old = c.access
    r = await http.post(
        "/v1/clinics",
        headers=c.h,
        json={
            "name": "Another Practice",
            "currency": "USD",
            "timezone": "UTC",
            "commission_bps": 1000,
            "cancellation_window_hours": 24,
            "late_cancellation_fee_minor": 0,
        },
    )
    assert r.status_code == 201, r.text
    # Identity reads the account itself: no cached revocation list to wait for.
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await identity.GetBookingContext(
            idpb.GetBookingContextRequest(therapist_id=t.user_id), metadata=bearer(old)
        )
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
