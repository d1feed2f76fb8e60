"""Billing's pure rules: the ledger, the split, invoice changes, superbill codes; and a property
test that random sequences of appointment events keep every balance consistent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rapport_billing import domain as d
from rapport_platform.errors import FailedPrecondition, InvalidArgument

NOW = datetime(2026, 3, 10, 12, tzinfo=UTC)


def facts(price: int = 9000, *, held: bool = False, clinic: str = "c1") -> d.AppointmentFacts:
    return d.AppointmentFacts(
        appointment_id="a1",
        client_id="cl1",
        therapist_id="t1",
        clinic_id=clinic,
        list_price=price,
        currency="USD",
        start=NOW + timedelta(days=2),
        end=NOW + timedelta(days=2, minutes=50),
        modality="video",
        held=held,
        hold_expires_at=NOW + timedelta(minutes=10) if held else None,
    )


def test_an_entry_must_balance_per_currency():
    with pytest.raises(d.UnbalancedEntry):
        d.journal("e", "x", "i", "c", NOW, [("a", 100, "USD"), ("b", -99, "USD")])
    with pytest.raises(d.UnbalancedEntry):
        d.journal("e", "x", "i", "c", NOW, [("a", 100, "USD"), ("b", -100, "EUR")])
    with pytest.raises(InvalidArgument):
        d.journal("e", "x", "i", "c", NOW, [("a", 100, "usd"), ("b", -100, "usd")])
    with pytest.raises(d.UnbalancedEntry):  # floats are not money
        d.journal("e", "x", "i", "c", NOW, [("a", 1.5, "USD"), ("b", -1.5, "USD")])  # type: ignore[list-item]
    e = d.journal("e", "x", "i", "c", NOW, [("a", 100, "USD"), ("b", -100, "USD"), ("z", 0, "USD")])
    assert len(e.postings) == 2


def test_check_ledger_names_an_unbalanced_entry():
    good = d.journal("g", "x", "i", "c", NOW, [("a", 5, "USD"), ("b", -5, "USD")])
    bad = d.JournalEntry("b", "x", "i", "c", NOW, (d.Posting("a", 5, "USD"),))
    check = d.check_ledger([good, bad])
    assert not check.balanced and check.unbalanced_entries == ("b",)
    assert check.totals == {"USD": 5}
    assert d.check_ledger([good]).balanced


@given(
    gross=st.integers(0, 10**9),
    commission=st.integers(0, 10_000),
    platform=st.integers(0, 10_000),
)
def test_split_never_creates_or_loses_a_cent(gross, commission, platform):
    s = d.split(gross, commission, platform)
    assert s.therapist + s.clinic + s.platform == gross
    assert min(s.therapist, s.clinic, s.platform) >= 0


def test_split_rounds_half_up_deterministically():
    assert d.split(10001, 1500) == d.Split(therapist=8501, clinic=1500, platform=0)
    assert d.split(3, 5000) == d.Split(therapist=1, clinic=2, platform=0)
    assert d.split(1, 5000, 5000) == d.Split(therapist=0, clinic=0, platform=1)
    with pytest.raises(InvalidArgument):
        d.split(100, 10_001)


def test_sliding_scale_and_rates():
    assert d.sliding_scale(9000, None) == 9000
    assert d.sliding_scale(9000, 5000) == 4500
    assert d.sliding_scale(9999, 3333) == 3333  # 3332.667 rounds up
    for bad in (0, 10_001, -1):
        with pytest.raises(InvalidArgument):
            d.check_rate(bad)


def test_amounts_and_currencies_are_checked():
    for bad in (0, -5, True, 1.0):
        with pytest.raises(InvalidArgument):
            d.check_amount(bad)  # type: ignore[arg-type]
    inv = d.issue("i1", facts(), None, NOW, confirmed=True).invoice
    with pytest.raises(InvalidArgument):
        d.receive(inv, 100, "EUR", "manual", NOW, entry_suffix="1")
    with pytest.raises(FailedPrecondition):
        d.receive(inv, 9001, "USD", "manual", NOW, entry_suffix="1")


def test_paying_a_void_invoice_and_double_capture_are_refused():
    inv = d.issue("i1", facts(), None, NOW, confirmed=True).invoice
    voided = d.void(inv, NOW).invoice
    with pytest.raises(FailedPrecondition):
        d.receive(voided, 100, "USD", "manual", NOW, entry_suffix="1")
    paid = d.receive(inv, 9000, "USD", "stripe", NOW, entry_suffix="1").invoice
    assert paid.status == d.PAID
    with pytest.raises(FailedPrecondition):
        d.receive(paid, 9000, "USD", "stripe", NOW, entry_suffix="2")
    with pytest.raises(FailedPrecondition):
        d.authorize(voided, "stripe", "pi_1", 9000, NOW)


def test_late_fee_is_earned_and_shared_and_overpayment_refunded():
    inv = d.issue("i1", facts(), None, NOW, confirmed=True).invoice
    inv = d.receive(inv, 9000, "USD", "manual", NOW, entry_suffix="1").invoice
    out = d.charge_fee(inv, 3000, 1500, 0, NOW)
    assert out.invoice.amount == 3000 and out.invoice.paid == 3000
    assert out.invoice.earned and out.invoice.commission == 450
    assert out.invoice.therapist_share == 2550
    # The overpayment is owed back; posted (and published) only once it is returned.
    assert out.invoice.refund_due == 6000 and out.invoice.refund_stripe == 0
    assert "refund_issued" not in out.events and out.refunded == 0
    with pytest.raises(FailedPrecondition):
        d.refunded(out.invoice, 6001, "manual", "r1", NOW)
    back = d.refunded(out.invoice, 6000, "manual", "r1", NOW)
    assert back.refunded == 6000 and back.events == ("refund_issued",)
    assert back.invoice.refund_due == 0 and back.invoice.status == d.PAID


def test_money_taken_through_stripe_is_refunded_through_stripe():
    inv = d.issue("i1", facts(), None, NOW, confirmed=True).invoice
    inv = d.receive(inv, 9000, "USD", "stripe", NOW, entry_suffix="1").invoice
    inv = d.void(inv, NOW).invoice
    assert (inv.status, inv.refund_due, inv.refund_stripe) == (d.VOID, 9000, 9000)
    assert inv.pending_action == d.REFUND
    with pytest.raises(FailedPrecondition):  # not by hand while Stripe owes it back
        d.refunded(inv, 100, "manual", "r", NOW)
    failed = d.refund_failed(inv, NOW)
    assert failed.refund_stripe == 0 and failed.refund_due == 9000  # now by hand
    done = d.refunded(inv, 9000, "stripe", "re_1", NOW)
    assert done.invoice.status == d.REFUNDED and done.invoice.refund_due == 0
    assert d.check_ledger(done.entries).balanced


def test_a_cancelled_authorization_reopens_the_invoice():
    inv = d.issue("i1", facts(), None, NOW, confirmed=True).invoice
    inv = d.authorize(inv, "stripe", "pi_1", 9000, NOW).invoice
    out = d.authorization_canceled(inv, "pi_1", NOW)
    assert out.invoice.status == d.OPEN and out.invoice.authorized == 0
    assert out.events == ("payment_failed",)
    assert d.authorization_canceled(inv, "pi_other", NOW).invoice is inv


def test_superbill_codes():
    assert [d.cpt_for(m) for m in (16, 37, 38, 52, 53, 90)] == [
        "90832",
        "90832",
        "90834",
        "90834",
        "90837",
        "90837",
    ]
    with pytest.raises(FailedPrecondition):
        d.cpt_for(15)
    assert d.modifier_for("video") == "95" and d.modifier_for("chat") == ""
    for ok in ("F41.1", "f32.a", "F10.20", "Z63.0", "F43"):
        assert d.check_icd10(ok)
    for bad in ("", "41.1", "U07.1", "F4", "F41.12345", "F41-1", "DROP TABLE"):
        with pytest.raises(InvalidArgument):
            d.check_icd10(bad)


def test_period_parsing():
    assert d.parse_period("2026-12") == (
        datetime(2026, 12, 1, tzinfo=UTC),
        datetime(2027, 1, 1, tzinfo=UTC),
    )
    for bad in ("2026-13", "2026-1", "26-01", "", "9999-01"):
        with pytest.raises(InvalidArgument):
            d.parse_period(bad)


# --- property: random event sequences keep the ledger consistent ----------------------------

OPS = st.sampled_from(
    [
        "confirm",
        "authorize",
        "pay_part",
        "pay_all",
        "pay_stripe",
        "earn",
        "void",
        "late",
        "no_show",
        "move",
        "refund_stripe",
        "refund_hand",
        "refund_fails",
    ]
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    price=st.integers(0, 50_000),
    rate=st.one_of(st.none(), st.integers(1, 10_000)),
    commission=st.integers(0, 10_000),
    platform=st.integers(0, 2_000),
    fee=st.integers(0, 60_000),
    new_price=st.integers(0, 50_000),
    ops=st.lists(OPS, max_size=12),
)
def test_random_event_sequences_keep_every_balance_consistent(
    price, rate, commission, platform, fee, new_price, ops
):
    platform = min(platform, 10_000 - commission)
    out = d.issue("i1", facts(price), rate, NOW, confirmed=False)
    inv, entries = out.invoice, list(out.entries)
    received = 0
    refunded = 0
    for n, op in enumerate(ops):
        now = NOW + timedelta(minutes=n + 1)
        try:
            if op == "confirm":
                out = d.confirm(inv, now)
            elif op == "authorize":
                out = d.authorize(inv, "stripe", "pi_1", inv.due, now)
            elif op in ("pay_part", "pay_all", "pay_stripe"):
                amount = inv.due if op != "pay_part" else max(inv.due // 2, 1)
                by = "stripe" if op == "pay_stripe" else "manual"
                out = d.receive(inv, amount, "USD", by, now, entry_suffix=str(n))
                received += amount
            elif op == "refund_stripe":
                out = d.refunded(inv, inv.refund_stripe, "stripe", f"re_{n}", now)
            elif op == "refund_hand":
                out = d.refunded(inv, inv.refund_due - inv.refund_stripe, "manual", str(n), now)
            elif op == "refund_fails":
                out = d.Outcome(d.refund_failed(inv, now))
            elif op == "earn":
                out = d.earn(inv, commission, platform, now)
            elif op == "void":
                out = d.void(inv, now)
            elif op == "late":
                out = d.charge_fee(inv, fee, commission, platform, now)
            elif op == "no_show":
                out = d.charge_fee(inv, inv.amount, commission, platform, now)
            else:
                out = d.reschedule(inv, inv.start, inv.end, new_price, rate, now)
        except (InvalidArgument, FailedPrecondition):
            continue  # refused: nothing changed
        inv = out.invoice
        entries.extend(out.entries)
        refunded += out.refunded
        assert inv.paid <= inv.amount or inv.status in (d.VOID, d.REFUNDED)

    check = d.check_ledger(entries)
    assert check.balanced, check
    assert len({e.entry_id for e in entries}) == len(entries)  # idempotent entry ids
    bal = d.balances(entries)
    cur = "USD"
    receivable = bal.get((d.client_receivable("cl1"), cur), 0)
    deferred = bal.get((d.deferred_revenue("c1"), cur), 0)
    clearing = bal.get((d.payment_clearing("manual"), cur), 0) + bal.get(
        (d.payment_clearing("stripe"), cur), 0
    )
    earned = -(
        bal.get((d.therapist_payable("t1"), cur), 0)
        + bal.get((d.clinic_revenue("c1"), cur), 0)
        + bal.get((d.PLATFORM_FEES, cur), 0)
    )
    # What the client still owes, what was received net of refunds, what was delivered.
    assert receivable == inv.amount - inv.paid - inv.refund_due  # negative: owed back
    assert clearing == received - refunded == inv.paid + inv.refund_due
    assert 0 <= inv.refund_stripe <= inv.refund_due
    assert deferred == (0 if inv.earned or inv.status in (d.VOID, d.REFUNDED) else -inv.amount)
    assert earned == (inv.amount if inv.earned else 0)
    assert inv.therapist_share + inv.commission + inv.platform_fee == (
        inv.amount if inv.earned else 0
    )


def test_a_payout_sent_again_is_an_entry_and_a_key_of_its_own():
    first = d.payout_entry("t1:2026-02", "t1", "c1", 5000, "USD", "stripe", NOW)
    again = d.payout_entry("t1:2026-02", "t1", "c1", 5000, "USD", "stripe", NOW, attempt=2)
    assert first.entry_id == d.payout_key("t1:2026-02", 1) == "payout:t1:2026-02"
    assert again.entry_id == d.payout_key("t1:2026-02", 2) == "payout:t1:2026-02:2"
    assert [(p.account, p.amount_minor) for p in again.postings] == [
        (p.account, p.amount_minor) for p in first.postings
    ]
