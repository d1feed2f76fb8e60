"""Billing's rules: a double-entry ledger, invoices that follow appointments, the fee split,
payout statements and superbills. Pure: no I/O; every function takes `now`.

Money is integer minor units of an ISO 4217 currency, never floats. A posting's amount is signed:
positive debits an account, negative credits it. Every journal entry's postings sum to zero per
currency, so the whole ledger does too. Postings are never changed: a correction is a new entry.

Accounts (each per currency; balances are sums of postings):
  client_receivable:<client>    what a client owes (debit = owes more)
  deferred_revenue:<clinic>     invoiced, session not yet delivered
  payment_clearing:<provider>   money received through a provider (manual, stripe)
  therapist_payable:<therapist> what the practice owes a therapist
  clinic_revenue:<clinic>       the clinic's commission
  platform_fees                 the platform's application fee (Stripe Connect)
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from rapport_platform.errors import FailedPrecondition, InvalidArgument

BPS = 10_000
INDEPENDENT = "independent"  # the clinic key of a therapist outside any clinic
PROVIDERS = ("manual", "stripe")
MANUAL_METHODS = ("cash", "cheque", "bank_transfer", "insurance")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
# An admin's own reference for money moved by hand (a receipt or transfer number): a short code,
# never free text, so it cannot carry a name.
_REFERENCE = re.compile(r"^[A-Za-z0-9 _./-]{0,64}$")
# ICD-10-CM: a letter (U is reserved), a digit, a digit or letter, then optionally a dot and 1-4
# more characters (e.g. F41.1, F32.A, F10.20, Z63.0).
_ICD10 = re.compile(r"^[A-TV-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?$")
_PERIOD = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")

# Invoice statuses.
OPEN, AUTHORIZED, PAID, VOID, REFUNDED = "open", "authorized", "paid", "void", "refunded"
# Journal entry kinds.
ISSUE, ADJUST, PAYMENT, EARN, VOID_ENTRY, REFUND_ENTRY, PAYOUT = (
    "issue",
    "adjust",
    "payment",
    "earn",
    "void",
    "refund",
    "payout",
)
# Provider-side work an invoice waits for (done by the billing worker, outside transactions).
NO_ACTION, CAPTURE, RELEASE, REFUND = "", "capture", "release", "refund"
_STRIPE_ACCOUNT = re.compile(r"^acct_[A-Za-z0-9]{1,64}$")


# --- accounts ---------------------------------------------------------------------------------


def client_receivable(client_id: str) -> str:
    return f"client_receivable:{client_id}"


def deferred_revenue(clinic_id: str) -> str:
    return f"deferred_revenue:{clinic_id or INDEPENDENT}"


def payment_clearing(provider: str) -> str:
    return f"payment_clearing:{provider}"


def therapist_payable(therapist_id: str) -> str:
    return f"therapist_payable:{therapist_id}"


def clinic_revenue(clinic_id: str) -> str:
    return f"clinic_revenue:{clinic_id or INDEPENDENT}"


PLATFORM_FEES = "platform_fees"


# --- money and the ledger ---------------------------------------------------------------------


def check_currency(currency: str, *, field: str = "currency") -> str:
    if not _CURRENCY.match(currency):
        raise InvalidArgument("currency must be an ISO 4217 code such as USD", field=field)
    return currency


def check_reference(reference: str) -> str:
    if not _REFERENCE.match(reference):
        raise InvalidArgument(
            "reference: at most 64 letters, digits, spaces and _ . / -", field="reference"
        )
    return reference


def check_amount(amount_minor: int, *, field: str = "amount") -> int:
    """A money amount someone asks to move: a positive integer of minor units."""
    if isinstance(amount_minor, bool) or not isinstance(amount_minor, int):
        raise InvalidArgument("amounts are integers of minor units", field=field)
    if amount_minor <= 0:
        raise InvalidArgument("amount must be positive", field=field)
    if amount_minor > 10**12:
        raise InvalidArgument("amount is too large", field=field)
    return amount_minor


@dataclass(frozen=True)
class Posting:
    account: str
    amount_minor: int  # positive: debit; negative: credit
    currency: str


@dataclass(frozen=True)
class JournalEntry:
    entry_id: str
    kind: str
    invoice_id: str
    clinic_id: str
    at: datetime
    postings: tuple[Posting, ...]


class UnbalancedEntry(InvalidArgument):
    pass


def journal(
    entry_id: str,
    kind: str,
    invoice_id: str,
    clinic_id: str,
    at: datetime,
    postings: Iterable[tuple[str, int, str]],
) -> JournalEntry:
    """One balanced entry. Zero postings are dropped; what is left must balance per currency."""
    kept = tuple(Posting(a, n, c) for a, n, c in postings if n != 0)
    for p in kept:
        check_currency(p.currency)
        if isinstance(p.amount_minor, bool) or not isinstance(p.amount_minor, int):
            raise UnbalancedEntry("postings are integers of minor units")
    if len(kept) < 2:
        raise UnbalancedEntry("an entry moves money between at least two accounts")
    if any(total != 0 for total in sums_by_currency(kept).values()):
        raise UnbalancedEntry("an entry's postings must sum to zero in each currency")
    return JournalEntry(entry_id, kind, invoice_id, clinic_id, at, kept)


def sums_by_currency(postings: Iterable[Posting]) -> dict[str, int]:
    totals: dict[str, int] = defaultdict(int)
    for p in postings:
        totals[p.currency] += p.amount_minor
    return dict(totals)


def balances(entries: Iterable[JournalEntry]) -> dict[tuple[str, str], int]:
    """(account, currency) -> balance, derived from postings only."""
    out: dict[tuple[str, str], int] = defaultdict(int)
    for e in entries:
        for p in e.postings:
            out[(p.account, p.currency)] += p.amount_minor
    return dict(out)


@dataclass(frozen=True)
class LedgerCheck:
    balanced: bool
    entries_checked: int
    unbalanced_entries: tuple[str, ...]
    totals: Mapping[str, int]


def check_ledger(entries: Iterable[JournalEntry]) -> LedgerCheck:
    """The invariant: every entry and the whole ledger sum to zero in each currency."""
    totals: dict[str, int] = defaultdict(int)
    bad: list[str] = []
    count = 0
    for e in entries:
        count += 1
        sums = sums_by_currency(e.postings)
        if any(v != 0 for v in sums.values()):
            bad.append(e.entry_id)
        for currency, v in sums.items():
            totals[currency] += v
    return LedgerCheck(
        balanced=not bad and all(v == 0 for v in totals.values()),
        entries_checked=count,
        unbalanced_entries=tuple(bad),
        totals=dict(totals),
    )


# --- fees -------------------------------------------------------------------------------------


def bps_part(amount_minor: int, bps: int) -> int:
    """amount * bps / 10000, rounded half up, in integers (no float ever sees money)."""
    return (amount_minor * bps + BPS // 2) // BPS


def check_bps(bps: int, *, field: str) -> int:
    if isinstance(bps, bool) or not isinstance(bps, int) or not 0 <= bps <= BPS:
        raise InvalidArgument("basis points are an integer from 0 to 10000", field=field)
    return bps


@dataclass(frozen=True)
class Split:
    therapist: int
    clinic: int
    platform: int


def split(gross: int, commission_bps: int, platform_fee_bps: int = 0) -> Split:
    """The platform's fee and the clinic's commission, each rounded half up; the therapist gets
    the remainder, so the three always add up to `gross`: no cent is created or lost."""
    if gross < 0:
        raise InvalidArgument("gross must not be negative")
    check_bps(commission_bps, field="commission_bps")
    check_bps(platform_fee_bps, field="platform_fee_bps")
    platform = bps_part(gross, platform_fee_bps)
    clinic = min(bps_part(gross, commission_bps), gross - platform)
    return Split(therapist=gross - platform - clinic, clinic=clinic, platform=platform)


def sliding_scale(list_price: int, rate_bps: int | None) -> int:
    """What a client with a sliding-scale rate pays (rounded half up); no rate: the list price."""
    if rate_bps is None:
        return list_price
    return bps_part(list_price, rate_bps)


def check_rate(rate_bps: int) -> int:
    if isinstance(rate_bps, bool) or not isinstance(rate_bps, int) or not 1 <= rate_bps <= BPS:
        raise InvalidArgument(
            "a sliding-scale rate is 1 to 10000 basis points of the list price",
            field="sliding_scale",
        )
    return rate_bps


# --- invoices ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class StatusChange:
    status: str
    at: datetime


@dataclass(frozen=True)
class ByHand:
    """Money a clinic admin recorded as received or returned outside the processor: how, with
    their reference, and who recorded it (for reconciling the till and the bank statement)."""

    kind: str  # payment or refund
    amount: int
    method: str  # one of MANUAL_METHODS
    reference: str
    at: datetime
    recorded_by: str  # the admin's user id


@dataclass(frozen=True)
class Invoice:
    """One per appointment. `amount` is what the client owes (after sliding scale, or the policy
    fee after a late cancellation); `paid` what has been received for it."""

    invoice_id: str
    appointment_id: str
    client_id: str
    therapist_id: str
    clinic_id: str
    currency: str
    list_price: int
    amount: int
    start: datetime
    end: datetime
    modality: str
    created_at: datetime
    paid: int = 0
    status: str = OPEN
    earned: bool = False
    earned_at: datetime | None = None
    # The split posted when earned (for payout statements).
    therapist_share: int = 0
    commission: int = 0
    platform_fee: int = 0
    held: bool = False
    hold_expires_at: datetime | None = None
    confirmed: bool = False
    # Provider payment (authorization with manual capture).
    provider: str = ""
    payment_id: str = ""
    authorized: int = 0
    attempt: int = 0
    pending_action: str = NO_ACTION
    next_action_at: datetime | None = None
    action_attempts: int = 0
    # What the relay measured (for the superbill).
    connected_seconds: int | None = None
    # The Connect account the charge's funds go to (a destination charge); "" for none.
    destination: str = ""
    # Received through Stripe (a refund of it goes back through Stripe).
    stripe_paid: int = 0
    # Owed back to the client, not yet confirmed returned; `refund_stripe` of it goes through
    # Stripe (requested as `refund_id`), the rest is returned by hand and recorded by an admin.
    refund_due: int = 0
    refund_stripe: int = 0
    refund_id: str = ""
    history: tuple[StatusChange, ...] = field(default=())
    by_hand: tuple[ByHand, ...] = field(default=())

    @property
    def due(self) -> int:
        return self.amount - self.paid


@dataclass(frozen=True)
class Outcome:
    """What a change produced: the new invoice, entries to append, events to publish."""

    invoice: Invoice
    entries: tuple[JournalEntry, ...] = ()
    events: tuple[str, ...] = ()
    refunded: int = 0


def note(inv: Invoice, label: str, now: datetime, /, **changes: Any) -> Invoice:
    """The invoice with `changes` and one more history entry: every status change is recorded."""
    return dataclasses.replace(inv, history=(*inv.history, StatusChange(label, now)), **changes)


@dataclass(frozen=True)
class AppointmentFacts:
    appointment_id: str
    client_id: str
    therapist_id: str
    clinic_id: str
    list_price: int
    currency: str
    start: datetime
    end: datetime
    modality: str
    held: bool = False
    hold_expires_at: datetime | None = None


def issue(
    invoice_id: str,
    facts: AppointmentFacts,
    rate_bps: int | None,
    now: datetime,
    *,
    confirmed: bool,
) -> Outcome:
    """booked or confirmed -> the invoice, and its receivable against deferred revenue."""
    check_currency(facts.currency)
    if facts.list_price < 0:
        raise InvalidArgument("a session price cannot be negative", field="price")
    amount = sliding_scale(facts.list_price, rate_bps)
    inv = Invoice(
        invoice_id=invoice_id,
        appointment_id=facts.appointment_id,
        client_id=facts.client_id,
        therapist_id=facts.therapist_id,
        clinic_id=facts.clinic_id,
        currency=facts.currency,
        list_price=facts.list_price,
        amount=amount,
        start=facts.start,
        end=facts.end,
        modality=facts.modality,
        created_at=now,
        held=facts.held and not confirmed,
        hold_expires_at=facts.hold_expires_at if facts.held and not confirmed else None,
        confirmed=confirmed,
        status=OPEN if amount > 0 else PAID,
        history=(StatusChange(OPEN if amount > 0 else PAID, now),),
    )
    entries: tuple[JournalEntry, ...] = ()
    if amount > 0:
        entries = (
            journal(
                f"{invoice_id}:issue",
                ISSUE,
                invoice_id,
                inv.clinic_id,
                now,
                [
                    (client_receivable(inv.client_id), amount, inv.currency),
                    (deferred_revenue(inv.clinic_id), -amount, inv.currency),
                ],
            ),
        )
    return Outcome(inv, entries, ("invoice_issued",))


def confirm(inv: Invoice, now: datetime) -> Outcome:
    if inv.confirmed:
        return Outcome(inv)
    return Outcome(note(inv, "confirmed", now, confirmed=True, held=False, hold_expires_at=None))


def reschedule(
    inv: Invoice,
    start: datetime,
    end: datetime,
    list_price: int,
    rate_bps: int | None,
    now: datetime,
) -> Outcome:
    """The invoice follows the appointment; a new price adjusts what is owed (before delivery)."""
    if inv.status in (VOID, REFUNDED) or inv.earned:
        return Outcome(inv)
    moved = note(inv, "rescheduled", now, start=start, end=end)
    new_amount = sliding_scale(list_price, rate_bps) if list_price != inv.list_price else inv.amount
    delta = new_amount - inv.amount
    if delta == 0 or new_amount < inv.paid or new_amount < inv.authorized:
        return Outcome(moved)
    entry = journal(
        f"{inv.invoice_id}:adjust:{len(moved.history)}",
        ADJUST,
        inv.invoice_id,
        inv.clinic_id,
        now,
        [
            (client_receivable(inv.client_id), delta, inv.currency),
            (deferred_revenue(inv.clinic_id), -delta, inv.currency),
        ],
    )
    status = PAID if inv.paid >= new_amount else (AUTHORIZED if inv.authorized else OPEN)
    return Outcome(
        dataclasses.replace(moved, amount=new_amount, list_price=list_price, status=status),
        (entry,),
    )


def authorize(inv: Invoice, provider: str, payment_id: str, amount: int, now: datetime) -> Outcome:
    """The provider holds the client's money (manual capture): no money moved yet, no postings."""
    if inv.status in (VOID, REFUNDED):
        raise FailedPrecondition("this invoice is void", field="invoice_id")
    if inv.status == PAID:
        raise FailedPrecondition("this invoice is already paid", field="invoice_id")
    if inv.status == AUTHORIZED and inv.payment_id == payment_id:
        return Outcome(inv)  # the provider told us twice
    check_amount(amount)
    if amount > inv.due:
        raise FailedPrecondition("authorization exceeds what is due", field="amount")
    after = note(
        inv,
        AUTHORIZED,
        now,
        status=AUTHORIZED,
        provider=provider,
        payment_id=payment_id,
        authorized=amount,
    )
    if after.earned:  # the session already took place: capture at once
        after = dataclasses.replace(after, pending_action=CAPTURE, next_action_at=now)
    return Outcome(after, (), ("payment_authorized",))


def receive(
    inv: Invoice,
    amount: int,
    currency: str,
    provider: str,
    now: datetime,
    *,
    entry_suffix: str,
) -> Outcome:
    """Money arrived (a capture, or a manual payment): clearing against the receivable."""
    check_amount(amount)
    check_currency(currency)
    if currency != inv.currency:
        raise InvalidArgument(f"this invoice is in {inv.currency}", field="currency")
    if inv.status in (VOID, REFUNDED):
        raise FailedPrecondition("this invoice is void; nothing can be paid", field="invoice_id")
    if inv.status == PAID or inv.due <= 0:
        raise FailedPrecondition("this invoice is already paid", field="invoice_id")
    if amount > inv.due:
        raise FailedPrecondition(
            f"payment exceeds what is due ({inv.due} minor units)", field="amount"
        )
    entry = journal(
        f"{inv.invoice_id}:payment:{entry_suffix}",
        PAYMENT,
        inv.invoice_id,
        inv.clinic_id,
        now,
        [
            (payment_clearing(provider), amount, inv.currency),
            (client_receivable(inv.client_id), -amount, inv.currency),
        ],
    )
    paid = inv.paid + amount
    changes: dict[str, Any] = {"paid": paid}
    if provider == "stripe":
        changes["stripe_paid"] = inv.stripe_paid + amount
    status = inv.status
    if paid >= inv.amount:
        status = PAID
        changes.update(status=PAID, pending_action=NO_ACTION, next_action_at=None)
        if inv.authorized and provider == "manual":
            # Paid another way: the card authorization is not needed any more.
            changes.update(pending_action=RELEASE, next_action_at=now)
    after = (
        note(inv, status, now, **changes)
        if status != inv.status
        else dataclasses.replace(inv, **changes)
    )
    return Outcome(after, (entry,), ("payment_captured",))


def earn(inv: Invoice, commission_bps: int, platform_fee_bps: int, now: datetime) -> Outcome:
    """The session was delivered (session_ended / completed): recognise the revenue and split it
    between the therapist, the clinic and the platform. An authorization is then captured."""
    if inv.earned or inv.status in (VOID, REFUNDED):
        return Outcome(inv)
    parts = split(inv.amount, commission_bps if inv.clinic_id else 0, platform_fee_bps)
    entries: tuple[JournalEntry, ...] = ()
    if inv.amount > 0:
        entries = (
            journal(
                f"{inv.invoice_id}:earn",
                EARN,
                inv.invoice_id,
                inv.clinic_id,
                now,
                [
                    (deferred_revenue(inv.clinic_id), inv.amount, inv.currency),
                    (therapist_payable(inv.therapist_id), -parts.therapist, inv.currency),
                    (clinic_revenue(inv.clinic_id), -parts.clinic, inv.currency),
                    (PLATFORM_FEES, -parts.platform, inv.currency),
                ],
            ),
        )
    changes: dict[str, Any] = {
        "earned": True,
        "earned_at": now,
        "therapist_share": parts.therapist,
        "commission": parts.clinic,
        "platform_fee": parts.platform,
    }
    if inv.status == AUTHORIZED and inv.due > 0:
        changes.update(pending_action=CAPTURE, next_action_at=now, action_attempts=0)
    return Outcome(note(inv, "earned", now, **changes), entries)


def void(inv: Invoice, now: datetime) -> Outcome:
    """Early cancellation or an expired hold: reverse what is owed and release an authorization.
    What was paid becomes owed back (the receivable goes negative); it is refunded through Stripe
    (a pending action) or by an admin, and posted only once confirmed."""
    if inv.status in (VOID, REFUNDED):
        return Outcome(inv)
    if inv.earned:
        raise FailedPrecondition("the session was delivered; it cannot be voided")
    entries: list[JournalEntry] = []
    if inv.amount > 0:
        entries.append(
            journal(
                f"{inv.invoice_id}:void",
                VOID_ENTRY,
                inv.invoice_id,
                inv.clinic_id,
                now,
                [
                    (deferred_revenue(inv.clinic_id), inv.amount, inv.currency),
                    (client_receivable(inv.client_id), -inv.amount, inv.currency),
                ],
            )
        )
    owed = inv.refund_due + inv.paid
    via_stripe = inv.refund_stripe + min(inv.paid, inv.stripe_paid)
    # An open payment at the processor (authorized, or still awaiting the client) is cancelled,
    # so nobody can complete it later; money it already took is refunded instead.
    release = bool(inv.payment_id) and inv.provider not in ("", "manual") and not inv.stripe_paid
    action = REFUND if via_stripe > inv.refund_stripe else (RELEASE if release else NO_ACTION)
    after = note(
        inv,
        VOID,
        now,
        status=VOID,
        amount=0,
        paid=0,
        stripe_paid=inv.stripe_paid - min(inv.paid, inv.stripe_paid),
        refund_due=owed,
        refund_stripe=via_stripe,
        pending_action=action,
        next_action_at=now if action else None,
        action_attempts=0,
    )
    return Outcome(after, tuple(entries))


def refunded(inv: Invoice, amount: int, provider: str, ref: str, now: datetime) -> Outcome:
    """The money went back to the client (Stripe confirmed the refund, or an admin recorded it):
    the refund entry is posted now, and refund_issued published."""
    check_amount(amount)
    limit = inv.refund_stripe if provider == "stripe" else inv.refund_due - inv.refund_stripe
    if amount > limit:
        raise FailedPrecondition(
            f"refund exceeds what is owed back ({max(limit, 0)} minor units)", field="amount"
        )
    entry = _refund_entry(inv, amount, now, ref, provider)
    due = inv.refund_due - amount
    changes: dict[str, Any] = {"refund_due": due}
    if provider == "stripe":
        changes["refund_stripe"] = inv.refund_stripe - amount
        if changes["refund_stripe"] == 0:
            changes["refund_id"] = ""
    status = REFUNDED if due == 0 and inv.status == VOID else inv.status
    after = note(inv, "refunded" if status == inv.status else status, now, status=status, **changes)
    return Outcome(after, (entry,), ("refund_issued",), refunded=amount)


def refund_failed(inv: Invoice, now: datetime) -> Invoice:
    """The processor could not return the money: it is still owed, now to be returned by hand
    (an admin records it)."""
    return note(inv, "refund_failed", now, refund_stripe=0, refund_id="", pending_action=NO_ACTION)


def authorization_canceled(inv: Invoice, payment_id: str, now: datetime) -> Outcome:
    """The processor cancelled the payment (released by us, expired, or by the client): nothing
    is held any more. An authorized invoice is open again (paid another way, or a new attempt);
    a held booking that stays unpaid lapses as usual. Publishes payment_failed when billing
    relied on that authorization."""
    holding = inv.authorized or inv.pending_action in (CAPTURE, RELEASE)
    if inv.payment_id != payment_id or not (holding or inv.status == AUTHORIZED):
        return Outcome(inv)  # another payment, or told twice
    relied = inv.status == AUTHORIZED
    changes: dict[str, Any] = {"authorized": 0}
    if inv.pending_action in (CAPTURE, RELEASE):
        changes.update(pending_action=NO_ACTION, next_action_at=None)
    if relied:
        changes["status"] = OPEN
    after = note(inv, "authorization_canceled", now, **changes)
    return Outcome(after, (), ("payment_failed",) if relied else ())


def check_stripe_account(account_id: str) -> str:
    if not _STRIPE_ACCOUNT.match(account_id):
        raise InvalidArgument(
            "account_id must be a Stripe account id (acct_...)", field="account_id"
        )
    return account_id


def _refund_entry(
    inv: Invoice, amount: int, now: datetime, why: str, provider: str = ""
) -> JournalEntry:
    return journal(
        f"{inv.invoice_id}:refund:{why}",
        REFUND_ENTRY,
        inv.invoice_id,
        inv.clinic_id,
        now,
        [
            (client_receivable(inv.client_id), amount, inv.currency),
            (payment_clearing(provider or inv.provider or "manual"), -amount, inv.currency),
        ],
    )


def charge_fee(
    inv: Invoice, fee: int, commission_bps: int, platform_fee_bps: int, now: datetime
) -> Outcome:
    """Late client cancellation or no-show: the invoice shrinks to the policy fee (never grows),
    which is earned and shared like a session; an overpayment is refunded."""
    if inv.status in (VOID, REFUNDED) or inv.earned:
        return Outcome(inv)
    if fee < 0:
        raise InvalidArgument("a fee cannot be negative", field="fee")
    fee = min(fee, inv.amount)
    if fee == 0:
        return void(inv, now)
    entries: list[JournalEntry] = []
    events: list[str] = []
    reduce = inv.amount - fee
    if reduce:
        entries.append(
            journal(
                f"{inv.invoice_id}:fee",
                ADJUST,
                inv.invoice_id,
                inv.clinic_id,
                now,
                [
                    (deferred_revenue(inv.clinic_id), reduce, inv.currency),
                    (client_receivable(inv.client_id), -reduce, inv.currency),
                ],
            )
        )
    # An overpayment becomes owed back (posted when returned, like a void's).
    back = max(inv.paid - fee, 0)
    back_stripe = min(back, inv.stripe_paid)
    paid = inv.paid - back
    status = PAID if paid >= fee else inv.status
    changes: dict[str, Any] = {}
    if back:
        changes = {
            "refund_due": inv.refund_due + back,
            "refund_stripe": inv.refund_stripe + back_stripe,
            "stripe_paid": inv.stripe_paid - back_stripe,
        }
        if back_stripe:
            changes.update(pending_action=REFUND, next_action_at=now, action_attempts=0)
    reduced = note(
        inv,
        "fee_only",
        now,
        amount=fee,
        paid=paid,
        status=status,
        authorized=min(inv.authorized, fee) if inv.status == AUTHORIZED else inv.authorized,
        **changes,
    )
    earned = earn(reduced, commission_bps, platform_fee_bps, now)
    return Outcome(earned.invoice, (*entries, *earned.entries), (*events, *earned.events))


def action_failed(inv: Invoice, now: datetime, backoff_s: Sequence[float]) -> Invoice:
    """A provider call failed (down or refused for now): keep it pending, try again later."""
    attempts = inv.action_attempts + 1
    delay = backoff_s[min(attempts, len(backoff_s)) - 1]
    return dataclasses.replace(
        inv, action_attempts=attempts, next_action_at=now + timedelta(seconds=delay)
    )


def hold_lapsed(inv: Invoice, now: datetime, grace_s: float) -> bool:
    """A hold nobody confirmed in time: its invoice is voided and its authorization released."""
    return (
        inv.held
        and not inv.confirmed
        and inv.hold_expires_at is not None
        and inv.hold_expires_at + timedelta(seconds=grace_s) <= now
        and inv.status in (OPEN, AUTHORIZED)
    )


# --- superbill --------------------------------------------------------------------------------


def check_icd10(code: str) -> str:
    code = code.strip().upper()
    if not _ICD10.match(code):
        raise InvalidArgument(
            "diagnosis_code must be an ICD-10-CM code such as F41.1", field="diagnosis_code"
        )
    return code


def cpt_for(connected_minutes: int) -> str:
    """Psychotherapy codes by time actually spent together (CMS timing rules)."""
    if connected_minutes >= 53:
        return "90837"
    if connected_minutes >= 38:
        return "90834"
    if connected_minutes >= 16:
        return "90832"
    raise FailedPrecondition("under 16 minutes together: not billable as psychotherapy")


def modifier_for(modality: str) -> str:
    """95: synchronous telemedicine over real-time audio and video."""
    return "95" if modality == "video" else ""


# --- payouts ----------------------------------------------------------------------------------


def parse_period(period: str) -> tuple[datetime, datetime]:
    m = _PERIOD.match(period)
    if not m:
        raise InvalidArgument("period must be a month, YYYY-MM", field="period")
    year, month = int(m.group(1)), int(m.group(2))
    if not 1970 <= year <= 2199:
        raise InvalidArgument("period must be between 1970 and 2199", field="period")
    start = datetime(year, month, 1, tzinfo=UTC)
    end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=UTC)
    return start, end


@dataclass(frozen=True)
class PayoutLine:
    invoice_id: str
    appointment_id: str
    earned_at: datetime
    gross: int
    commission: int
    fees: int
    net: int


@dataclass(frozen=True)
class PayoutStatement:
    therapist_id: str
    period: str
    currency: str
    lines: tuple[PayoutLine, ...]
    gross: int
    commission: int
    fees: int
    net: int
    ledger_net: int
    # The closed month's payout: "", pending, in_transit, paid, failed or not_connected.
    payout_status: str = ""
    payout_reference: str = ""

    @property
    def reconciled(self) -> bool:
        return self.net == self.ledger_net and self.gross == self.commission + self.fees + self.net


def payout_statement(
    therapist_id: str,
    period: str,
    currency: str,
    invoices: Iterable[Invoice],
    ledger_credit: int,
) -> PayoutStatement:
    """Sessions earned in the period; `ledger_credit` is what the ledger credited the
    therapist's payable account in the same period (positive)."""
    lines = tuple(
        PayoutLine(
            invoice_id=i.invoice_id,
            appointment_id=i.appointment_id,
            earned_at=i.earned_at or i.created_at,
            gross=i.amount,
            commission=i.commission,
            fees=i.platform_fee,
            net=i.therapist_share,
        )
        for i in sorted(invoices, key=lambda i: (i.earned_at or i.created_at, i.invoice_id))
        if i.amount > 0
    )
    return PayoutStatement(
        therapist_id=therapist_id,
        period=period,
        currency=currency,
        lines=lines,
        gross=sum(x.gross for x in lines),
        commission=sum(x.commission for x in lines),
        fees=sum(x.fees for x in lines),
        net=sum(x.net for x in lines),
        ledger_net=ledger_credit,
    )


def payout_key(payout_id: str, attempt: int) -> str:
    """The id of an attempt's ledger entry, and the processor's idempotency key for it: the
    first keeps the plain form, a retry must not be taken for the attempt that failed."""
    return f"payout:{payout_id}" if attempt <= 1 else f"payout:{payout_id}:{attempt}"


def payout_entry(
    payout_id: str,
    therapist_id: str,
    clinic_id: str,
    amount: int,
    currency: str,
    provider: str,
    now: datetime,
    attempt: int = 1,
) -> JournalEntry:
    """A statement paid out: what the practice owed the therapist leaves as cash. An attempt
    after a failed one (retried by the clinic's admin) is an entry of its own."""
    check_amount(amount)
    return journal(
        payout_key(payout_id, attempt),
        PAYOUT,
        "",
        clinic_id,
        now,
        [
            (therapist_payable(therapist_id), amount, currency),
            (payment_clearing(provider), -amount, currency),
        ],
    )


# --- paging -----------------------------------------------------------------------------------


def check_limit(limit: int) -> int:
    if limit == 0:
        return 50
    if not 1 <= limit <= 200:
        raise InvalidArgument("limit must be between 1 and 200", field="limit")
    return limit


def encode_cursor(created_at: datetime, invoice_id: str) -> str:
    raw = json.dumps([created_at.astimezone(UTC).isoformat(), invoice_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        at_text, invoice_id = json.loads(raw)
        at = datetime.fromisoformat(at_text)
        if not isinstance(invoice_id, str) or at.tzinfo is None:
            raise ValueError
        at = at.astimezone(UTC)
    except (ValueError, TypeError, OverflowError, binascii.Error, UnicodeDecodeError):
        raise InvalidArgument("cursor is not one this API handed out", field="cursor") from None
    return at, invoice_id
