"""Identity's pure rules: licences and eligibility, profiles, TOTP, throttling, cursors."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pyotp
import pytest
from rapport_identity import domain
from rapport_platform.errors import FailedPrecondition, InvalidArgument, PermissionDenied

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
TODAY = NOW.date()


# The marketplace clinic, approved from creation: its admins (operators) may verify licences.
MARKET = domain.Clinic(
    clinic_id=domain.MARKETPLACE_CLINIC_ID,
    name="Marketplace",
    currency="USD",
    timezone="UTC",
    commission_bps=0,
    cancellation_window_hours=24,
    late_fee_minor=0,
    created_at=NOW,
    status=domain.CLINIC_APPROVED,
)


def verify(license: domain.License, **kw) -> domain.License:
    return domain.verify_license(license, clinic=MARKET, **kw)


def therapist() -> domain.User:
    return domain.new_user(
        email="t@example.org",
        password="x" * 12,
        role="therapist",
        display_name="T",
        jurisdiction="",
        now=NOW,
    )


def lic(jurisdiction: str = "US-CA", **kw) -> domain.License:
    made = domain.new_license(
        therapist=kw.pop("holder", None) or therapist(),
        kind=kw.pop("kind", "lpc"),
        jurisdiction=jurisdiction,
        number="N-1",
        expires_on=kw.pop("expires_on", "2027-01-01"),
        now=NOW,
    )
    return replace(made, **kw)


def test_self_registered_therapists_practise_under_the_marketplace():
    assert therapist().clinic_id == domain.MARKETPLACE_CLINIC_ID
    client = domain.new_user(
        email="c@example.org",
        password="x" * 12,
        role="client",
        display_name="C",
        jurisdiction="us-ca",
        now=NOW,
    )
    assert (client.clinic_id, client.jurisdiction) == ("", "US-CA")
    assert domain.clinic_of(replace(therapist(), clinic_id="")) == "marketplace"


def test_licence_status_pending_verified_expired():
    pending = lic(expires_on="2026-06-01")
    assert pending.status(TODAY) == "pending" and not pending.counts(TODAY)
    verified = verify(
        pending, admin_id="a", admin_role="clinic_admin", admin_clinic="marketplace", now=NOW
    )
    assert verified.counts(TODAY)  # valid through its expiry day
    assert verified.status(TODAY + timedelta(days=1)) == "expired"
    assert replace(verified, expired_at=NOW).status(TODAY) == "expired"


def test_only_the_admin_of_the_licence_clinic_verifies_and_never_an_expired_one():
    pending = lic()
    with pytest.raises(PermissionDenied):
        verify(pending, admin_id="a", admin_role="clinic_admin", admin_clinic="other", now=NOW)
    with pytest.raises(PermissionDenied):
        verify(pending, admin_id="a", admin_role="therapist", admin_clinic="marketplace", now=NOW)
    with pytest.raises(FailedPrecondition):
        verify(
            pending,
            admin_id="a",
            admin_role="clinic_admin",
            admin_clinic="marketplace",
            now=NOW + timedelta(days=400),
        )


@pytest.mark.parametrize(
    ("expires_on", "field"),
    [("2026-05-31", "expires_on"), ("tomorrow", "expires_on"), ("", "expires_on")],
)
def test_licence_expiry_must_be_a_date_not_in_the_past(expires_on, field):
    with pytest.raises(InvalidArgument) as info:
        lic(expires_on=expires_on)
    assert info.value.field == field


def test_coaching_needs_no_number_and_prescribers_carry_the_scope_flag():
    coach = domain.new_license(
        therapist=therapist(),
        kind="coach",
        jurisdiction="GB-ENG",
        number="",
        expires_on="",
        now=NOW,
    )
    assert coach.expires_on is None and not coach.expired(date(2100, 1, 1))
    assert lic(kind="psychiatrist").prescriber and not coach.prescriber


def test_eligibility_reasons():
    t = therapist()
    ok = verify(
        lic(holder=t),
        admin_id="a",
        admin_role="clinic_admin",
        admin_clinic="marketplace",
        now=NOW,
    )
    assert domain.eligibility(t, [ok], "US-CA", today=TODAY).eligible
    assert domain.eligibility(t, [ok], "US-NY", today=TODAY).reason == (
        domain.NO_LICENSE_IN_JURISDICTION
    )
    assert domain.eligibility(t, [lic(holder=t)], "US-CA", today=TODAY).reason == (
        domain.LICENSE_NOT_VERIFIED
    )
    later = date(2027, 1, 2)
    assert domain.eligibility(t, [ok], "US-CA", today=later).reason == domain.LICENSE_EXPIRED
    # A lapsed verified licence is the reason given even beside a pending renewal.
    fresh = lic(holder=t, expires_on="2028-01-01", license_id="z")
    assert domain.eligibility(t, [ok, fresh], "US-CA", today=later).reason == (
        domain.LICENSE_EXPIRED
    )
    client = replace(t, role="client")
    assert domain.eligibility(client, [ok], "US-CA", today=TODAY).reason == (domain.NOT_A_THERAPIST)
    assert domain.eligibility(None, [], "US-CA", today=TODAY).reason == domain.NOT_A_THERAPIST


def test_a_licence_for_a_country_part_covers_its_subdivisions():
    assert domain.jurisdiction_chain("GB-LND") == ("GB-LND", "GB-ENG")
    t = therapist()
    england = verify(
        lic("GB-ENG", holder=t),
        admin_id="a",
        admin_role="clinic_admin",
        admin_clinic="marketplace",
        now=NOW,
    )
    assert domain.eligibility(t, [england], "GB-LND", today=TODAY).eligible
    assert not domain.eligibility(t, [england], "GB-SCT", today=TODAY).eligible


def test_profile_validation_and_canonical_languages():
    profile = domain.new_profile(
        therapist_id="t",
        clinic_id="c",
        display_name=" Dr T ",
        bio="",
        languages=["EN-us", "fr"],
        modalities=["video"],
        specialties=["Addiction", "shyness", "social_anxiety"],
        session_types=[domain.SessionType("intake-50", 50, 9000)],
        now=NOW,
    )
    assert profile.languages == ("en-US", "fr")
    assert profile.primary_languages == ("en", "fr")
    assert profile.specialties == ("addiction", "shyness", "social_anxiety")
    for bad in ("zz-top-language", "english", ""):
        with pytest.raises(InvalidArgument):
            domain.check_language(bad)
    with pytest.raises(InvalidArgument):
        domain.check_specialty("astrology")
    for needed in (
        "addiction",
        "anxiety",
        "depression",
        "shyness",
        "social_anxiety",
        "career",
        "relationships",
        "trauma",
        "life_coaching",
    ):
        assert needed in domain.SPECIALTIES


def test_totp_codes_are_accepted_once_and_within_one_step_of_drift():
    secret = domain.new_totp_secret()
    totp = pyotp.TOTP(secret)
    step = totp.timecode(NOW)
    code = totp.generate_otp(step)
    assert domain.totp_step(secret, code, now=NOW, last_step=0) == step
    assert domain.totp_step(secret, code, now=NOW, last_step=step) is None  # replay
    assert domain.totp_step(secret, code, now=NOW + timedelta(seconds=30), last_step=0) == step
    assert domain.totp_step(secret, code, now=NOW - timedelta(seconds=30), last_step=0) == step
    # Two steps away either side is too far (NOW sits on a step boundary).
    assert domain.totp_step(secret, code, now=NOW + timedelta(seconds=60), last_step=0) is None
    assert domain.totp_step(secret, code, now=NOW - timedelta(seconds=31), last_step=0) is None
    assert domain.totp_step(secret, "12345a", now=NOW, last_step=0) is None


def test_throttle_delay_doubles_then_caps():
    policy = domain.ThrottlePolicy(
        slowdown_after=3,
        lock_after=10,
        lockout=timedelta(minutes=15),
        window=timedelta(minutes=15),
        max_delay=timedelta(seconds=60),
    )
    delays = [policy.delay_after(n).total_seconds() for n in range(1, 11)]
    assert delays == [0, 0, 1, 2, 4, 8, 16, 32, 60, 60]
    assert domain.throttle_key("account", "a@b.org") == domain.throttle_key("account", "a@b.org")
    assert "a@b.org" not in domain.throttle_key("account", "a@b.org")


def test_cursors_round_trip_and_garbage_is_refused():
    assert domain.decode_cursor(domain.encode_cursor("abc-123")) == "abc-123"
    assert domain.decode_cursor("") == ""
    for bad in ("%%%", "a", "!!"):
        with pytest.raises(InvalidArgument):
            domain.decode_cursor(bad)


def test_clinic_terms_are_validated():
    clinic = domain.new_clinic(
        name="C",
        currency="eur",
        timezone="Europe/Paris",
        commission_bps=0,
        cancellation_window_hours=0,
        late_fee_minor=0,
        now=NOW,
    )
    assert clinic.currency == "EUR"
    for field, kw in (
        ("currency", {"currency": "XYZ"}),
        ("timezone", {"timezone": "Europe/Atlantis"}),
        ("commission_bps", {"commission_bps": 10_001}),
        ("late_cancellation_fee_minor", {"late_fee_minor": -1}),
    ):
        args = {
            "name": "C",
            "currency": "EUR",
            "timezone": "UTC",
            "commission_bps": 0,
            "cancellation_window_hours": 0,
            "late_fee_minor": 0,
            **kw,
        }
        with pytest.raises(InvalidArgument) as info:
            domain.new_clinic(now=NOW, **args)
        assert info.value.field == field


def test_an_invitation_expires_at_its_expiry_instant():
    t = therapist()
    invitation, _ = domain.new_invitation(
        clinic_id="k1", email=t.email, invited_by="a1", now=NOW, ttl=timedelta(hours=1)
    )
    domain.check_acceptance(invitation, t, now=NOW + timedelta(minutes=59, seconds=59))
    with pytest.raises(FailedPrecondition, match="expired"):
        domain.check_acceptance(invitation, t, now=NOW + timedelta(hours=1))
