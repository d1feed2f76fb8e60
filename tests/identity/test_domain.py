"""Identity's pure rules: operator placement, clinic approval, throttle waits."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from rapport_identity import domain
from rapport_platform.errors import FailedPrecondition, InvalidArgument, PermissionDenied

NOW = datetime(2030, 1, 1, tzinfo=UTC)


def user(role: str = "client", clinic_id: str = "", operator: bool = False) -> domain.User:
    return domain.User("u1", "u@example.org", role, "U", "US-CA", clinic_id, NOW, operator)


@pytest.mark.parametrize(
    ("account", "placement"),
    [
        (user(operator=True), ("clinic_admin", "marketplace")),
        (user("clinic_admin", "marketplace", operator=True), None),
        (user("clinic_admin", "marketplace"), ("client", "")),  # revoked
        (user("clinic_admin", "c1"), None),
        (user("clinic_admin", "c1", operator=True), None),  # never moved out of a clinic
        (user("therapist", "marketplace", operator=True), None),
        (user(), None),
    ],
)
def test_operator_placement(account, placement):
    assert domain.operator_placement(account) == placement


def test_only_dedicated_accounts_become_operators():
    domain.may_become_operator(user())
    domain.may_become_operator(user("clinic_admin", "marketplace"))
    for account in (user("therapist", "marketplace"), user("clinic_admin", "c1")):
        with pytest.raises(FailedPrecondition, match="dedicated account"):
            domain.may_become_operator(account)
    with pytest.raises(PermissionDenied):
        domain.may_create_clinic(user(operator=True))


def test_clinics_start_pending_and_the_marketplace_is_approved():
    terms = {
        "name": "C",
        "currency": "EUR",
        "timezone": "UTC",
        "commission_bps": 0,
        "cancellation_window_hours": 0,
        "late_fee_minor": 0,
        "now": NOW,
    }
    clinic = domain.new_clinic(**terms)
    assert not clinic.approved and clinic.status == "pending"
    approved = domain.approve_clinic(clinic, operator_id="op", now=NOW)
    assert approved.approved and (approved.approved_by, approved.approved_at) == ("op", NOW)
    assert domain.approve_clinic(approved, operator_id="other", now=NOW) is approved
    # A marketplace record from before vetting existed carries no status, and is approved.
    market = replace(domain.new_clinic(**terms, clinic_id="marketplace"), status="")
    assert market.approved


def test_a_terms_change_keeps_what_it_does_not_name_and_checks_the_commission():
    clinic = domain.new_clinic(
        name="C",
        currency="EUR",
        timezone="UTC",
        commission_bps=1500,
        cancellation_window_hours=24,
        late_fee_minor=3000,
        now=NOW,
    )
    changed = domain.update_terms(clinic, commission_bps=2500)
    assert changed.commission_bps == 2500
    assert replace(changed, commission_bps=1500) == clinic
    for bad in (-1, 10_001):
        with pytest.raises(InvalidArgument) as refused:
            domain.update_terms(clinic, commission_bps=bad)
        assert refused.value.field == "commission_bps"


def test_who_may_reset_an_authenticator():
    def user(uid: str, role: str, clinic: str = "", operator: bool = False) -> domain.User:
        return domain.User(uid, f"{uid}@example.org", role, uid, "", clinic, NOW, operator)

    admin = user("a", "clinic_admin", "c1")
    therapist = user("t", "therapist", "c1")
    operator = user("op", "clinic_admin", "marketplace", operator=True)
    domain.may_reset_mfa(admin, therapist)
    domain.may_reset_mfa(operator, therapist)
    domain.may_reset_mfa(operator, admin)
    refused = [
        (admin, admin),  # nobody resets their own
        (admin, user("c", "client")),  # a client is not the clinic's
        (admin, user("t2", "therapist", "c2")),  # another clinic's therapist
        (user("a2", "clinic_admin", "c2"), therapist),
        (therapist, user("t3", "therapist", "c1")),
        (operator, user("op2", "client", operator=True)),  # never an operator's
        (operator, operator),
    ]
    for actor, target in refused:
        with pytest.raises(PermissionDenied):
            domain.may_reset_mfa(actor, target)


def test_licences_are_verified_only_in_an_approved_clinic():
    therapist = user("therapist", "c1")
    lic = domain.new_license(
        therapist=therapist,
        kind="lpc",
        jurisdiction="US-TX",
        number="L-1",
        expires_on="2099-01-01",
        now=NOW,
    )
    clinic = replace(
        domain.new_clinic(
            name="C",
            currency="EUR",
            timezone="UTC",
            commission_bps=0,
            cancellation_window_hours=0,
            late_fee_minor=0,
            now=NOW,
        ),
        clinic_id="c1",
    )
    admin = {"admin_id": "a", "admin_role": "clinic_admin", "admin_clinic": "c1", "now": NOW}
    with pytest.raises(FailedPrecondition, match="not been approved"):
        domain.verify_license(lic, clinic=clinic, **admin)
    ok = domain.approve_clinic(clinic, operator_id="op", now=NOW)
    assert domain.verify_license(lic, clinic=ok, **admin).verified_at == NOW
    with pytest.raises(PermissionDenied):
        domain.verify_license(lic, clinic=ok, **{**admin, "admin_clinic": "c2"})


def test_the_throttle_delay_table_follows_delay_after():
    policy = domain.ThrottlePolicy(
        slowdown_after=3,
        lock_after=7,
        lockout=timedelta(minutes=15),
        window=timedelta(minutes=15),
        max_delay=timedelta(seconds=5),
    )
    # From the 3rd failure on; the store indexes it by min(count, 7) - 3.
    assert policy.delay_table_ms() == [1000, 2000, 4000, 5000, 5000]
    assert policy.delay_table_last == 7
    # A huge limit (sign-ups from one address) keeps the table short: every update carries it.
    huge = replace(policy, slowdown_after=100_000, lock_after=100_000)
    assert huge.delay_table_ms() == [1000] and huge.delay_table_last == 100_000
    loose = replace(policy, lock_after=1_000, max_delay=timedelta(days=1))
    assert len(loose.delay_table_ms()) == 17 and loose.delay_table_ms()[-1] == 2**16 * 1000
    assert policy.keep == timedelta(minutes=30, seconds=5)
