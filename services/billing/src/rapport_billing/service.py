"""Billing's use cases, callable without gRPC: reactions to appointment events (each inside the
transaction that records the event id), payments, the provider worker, reads and superbills.

Every change is one transaction: the invoice, its journal entries and its outbox events commit
together or not at all. Provider calls happen outside transactions; their outcome is recorded
afterwards, and a call that failed for want of an answer is retried with backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import stripe
from pymongo.errors import DuplicateKeyError
from rapport.events.v1 import billing_pb2 as ev
from rapport.identity.v1 import identity_pb2 as idpb
from rapport.identity.v1 import identity_pb2_grpc
from rapport.types.v1.money_pb2 import Money
from rapport_platform import service_auth
from rapport_platform.auth import CLIENT, CLINIC_ADMIN, THERAPIST, Principal
from rapport_platform.errors import (
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Unavailable,
)
from rapport_platform.outbox import Outbox, consume_once
from rapport_platform.rpc import call_as_caller
from rapport_platform.store import Session, Store
from rapport_platform.telemetry import meter
from rapport_platform.timestamps import to_timestamp
from rapport_platform.vault import SecretBox

from rapport_billing import domain
from rapport_billing.providers import (
    ManualProvider,
    ProviderDown,
    ProviderRefused,
    StripeProvider,
    Transfer,
)
from rapport_billing.settings import BillingSettings
from rapport_billing.store import BillingStore

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]
_entries = meter("rapport.billing").create_counter(
    "rapport.billing.journal_entries", description="journal entries appended"
)

SUBJECT = "rapport.billing.{}"
WEBHOOK_CONSUMER = "billing-stripe-webhook"
PAYOUT_POLL_SECONDS = 60.0


class UnknownAppointment(Exception):
    """An event about an appointment billing has not seen yet: parked (nak with backoff) and
    retried, then dead-lettered by the consumer. Never dropped silently."""


class UnknownClinic(Exception):
    """The clinic's terms (commission) are not known yet: parked like an unknown appointment."""


class Identity:
    """The identity questions billing asks, with the caller's own token (or, from a consumer
    with no caller, billing's own service token)."""

    def __init__(
        self, channel: grpc.aio.Channel, timeout: float, service_token_key: str = ""
    ) -> None:
        self.stub = identity_pb2_grpc.IdentityServiceStub(channel)
        self.timeout = timeout
        self.service_token_key = service_token_key

    async def commission(self, clinic_id: str) -> int | None:
        """The clinic's commission now, as identity knows it (a service token bound to the
        clinic). None without a key (the learnt value applies); identity down: Unavailable, so
        the event is retried, never split at a stale rate."""
        if not self.service_token_key:
            return None
        metadata = service_auth.mint(
            self.service_token_key,
            issuer=service_auth.BILLING,
            audience=service_auth.IDENTITY,
            claims={"clinic_id": clinic_id},
        )
        try:
            reply = await self.stub.GetClinic(
                idpb.GetClinicRequest(clinic_id=clinic_id), metadata=metadata, timeout=self.timeout
            )
        except grpc.aio.AioRpcError:
            raise Unavailable("identity could not tell the clinic's commission") from None
        if not reply.clinic.full_view:
            raise Unavailable("identity did not accept billing's service token")
        return int(reply.clinic.commission_bps)

    async def set_payment_first(
        self, clinic_id: str, payment_first: bool, who: Principal
    ) -> idpb.Clinic:
        reply = await self._call(
            "SetClinicPaymentFirst",
            idpb.SetClinicPaymentFirstRequest(clinic_id=clinic_id, payment_first=payment_first),
            who,
        )
        return reply.clinic  # type: ignore[no-any-return]

    async def _call(self, method: str, request: object, who: Principal) -> Any:
        rpc = getattr(self.stub, method)
        return await call_as_caller(
            rpc, request, who.token, timeout=self.timeout, service="identity"
        )

    async def clinic(self, clinic_id: str, who: Principal) -> idpb.Clinic:
        reply = await self._call("GetClinic", idpb.GetClinicRequest(clinic_id=clinic_id), who)
        return reply.clinic  # type: ignore[no-any-return]

    async def require_admin_of(self, therapist_id: str, who: Principal) -> None:
        """Identity answers a therapist's licences only to the therapist and the admin of the
        therapist's own clinic: its refusal (PERMISSION_DENIED, NOT_FOUND) is billing's."""
        await self._call("ListLicenses", idpb.ListLicensesRequest(therapist_id=therapist_id), who)

    async def licenses(self, therapist_id: str, who: Principal) -> list[idpb.License]:
        reply = await self._call(
            "ListLicenses", idpb.ListLicensesRequest(therapist_id=therapist_id), who
        )
        return [lic for lic in reply.licenses if lic.status == idpb.LICENSE_STATUS_VERIFIED]


def money(amount: int, currency: str) -> Money:
    return Money(amount_minor=amount, currency=currency)


def event_message(name: str, inv: domain.Invoice, now: datetime, **extra: Any) -> Any:
    ts = to_timestamp(now)
    if name == "invoice_issued":
        return ev.InvoiceIssued(
            invoice_id=inv.invoice_id,
            appointment_id=inv.appointment_id,
            client_id=inv.client_id,
            clinic_id=inv.clinic_id,
            amount=money(inv.amount, inv.currency),
            occurred_at=ts,
        )
    if name == "payment_authorized":
        return ev.PaymentAuthorized(
            invoice_id=inv.invoice_id,
            appointment_id=inv.appointment_id,
            payment_id=inv.payment_id,
            provider=inv.provider or "manual",
            amount=money(extra.get("amount", inv.authorized), inv.currency),
            occurred_at=ts,
        )
    if name == "payment_captured":
        return ev.PaymentCaptured(
            invoice_id=inv.invoice_id,
            appointment_id=inv.appointment_id,
            payment_id=inv.payment_id,
            provider=extra.get("provider", inv.provider or "manual"),
            amount=money(extra.get("amount", inv.paid), inv.currency),
            occurred_at=ts,
        )
    if name == "payment_failed":
        return ev.PaymentFailed(
            invoice_id=inv.invoice_id,
            appointment_id=inv.appointment_id,
            payment_id=inv.payment_id,
            provider=inv.provider,
            code=extra.get("code", ""),
            occurred_at=ts,
        )
    if name == "refund_issued":
        return ev.RefundIssued(
            invoice_id=inv.invoice_id,
            appointment_id=inv.appointment_id,
            amount=money(extra.get("amount", 0), inv.currency),
            occurred_at=ts,
        )
    raise ValueError(name)


class Billing:
    def __init__(
        self,
        store: Store,
        outbox: Outbox,
        provider: ManualProvider | StripeProvider,
        settings: BillingSettings,
        *,
        identity: Identity | None,
        clock: Clock,
        diagnoses: SecretBox | None = None,
    ) -> None:
        self.diagnoses = diagnoses
        self.store = store
        self.repo = BillingStore(store)
        self.outbox = outbox
        self.provider = provider
        self.settings = settings
        self.identity = identity
        self.clock = clock

    # --- the one way a change is written --------------------------------------------------

    async def _apply(
        self,
        session: Session,
        out: domain.Outcome,
        now: datetime,
        *,
        own: list[str] | None = None,
        **extra: Any,
    ) -> domain.Invoice:
        """`own`: the caller publishes the events itself once committed (their ids go there;
        Outbox.publish_committed), instead of waking the relay."""
        await self.repo.save_invoice(session, out.invoice)
        await self.repo.append(session, out.entries)
        for name in out.events:
            kw = dict(extra)
            if name == "refund_issued":
                kw["amount"] = out.refunded
            event_id = await self.outbox.add(
                session,
                SUBJECT.format(name),
                event_message(name, out.invoice, now, **kw),
                publish_after_commit=own is not None,
            )
            if own is not None:
                own.append(event_id)
        if out.entries:
            _entries.add(len(out.entries))
        return out.invoice

    async def _clinic_terms(self, session: Session | None, clinic_id: str) -> dict[str, Any]:
        if not clinic_id:
            return {"commission_bps": 0, "sliding_scale": [], "payment_first": False}
        doc = await self.repo.clinic(clinic_id, session)
        return doc or {}

    async def fresh_commission(self, appointment_id: str) -> int | None:
        """Before an event that splits money: the clinic's current commission from identity
        (asked outside the transaction). None: unknown yet, or no service key (learnt value)."""
        inv = await self.repo.invoice_for(appointment_id)
        if inv is None or not inv.clinic_id or self.identity is None:
            return None
        return await self.identity.commission(inv.clinic_id)

    async def _commission(self, session: Session, clinic_id: str, fresh: int | None = None) -> int:
        if fresh is not None and clinic_id:
            await self.repo.set_commission(clinic_id, fresh, session)
            return fresh
        terms = await self._clinic_terms(session, clinic_id)
        if "commission_bps" not in terms:
            raise UnknownClinic(clinic_id)
        return int(terms["commission_bps"])

    @staticmethod
    def _rate(terms: dict[str, Any], client_id: str) -> int | None:
        for row in terms.get("sliding_scale", []):
            if row["client_id"] == client_id:
                return int(row["rate_bps"])
        return None

    # --- reactions to events (inside consume_once's transaction) ---------------------------

    async def on_booked(
        self,
        session: Session,
        facts: domain.AppointmentFacts,
        *,
        confirmed: bool,
        own: list[str] | None = None,
    ) -> None:
        now = self.clock()
        inv = await self.repo.invoice_for(facts.appointment_id, session)
        if inv is not None:
            if confirmed:
                await self._apply(session, domain.confirm(inv, now), now, own=own)
            return
        terms = await self._clinic_terms(session, facts.clinic_id)
        out = domain.issue(
            f"inv_{uuid.uuid4().hex}",
            facts,
            self._rate(terms, facts.client_id),
            now,
            confirmed=confirmed,
        )
        await self._apply(session, out, now, own=own)

    async def _known(self, session: Session, appointment_id: str) -> domain.Invoice:
        inv = await self.repo.invoice_for(appointment_id, session)
        if inv is None:
            raise UnknownAppointment(appointment_id)
        return inv

    async def on_rescheduled(self, session: Session, facts: domain.AppointmentFacts) -> None:
        now = self.clock()
        inv = await self._known(session, facts.appointment_id)
        terms = await self._clinic_terms(session, inv.clinic_id)
        out = domain.reschedule(
            inv, facts.start, facts.end, facts.list_price, self._rate(terms, inv.client_id), now
        )
        await self._apply(session, out, now)

    async def on_cancelled(
        self,
        session: Session,
        appointment_id: str,
        *,
        late: bool,
        fee: int,
        commission_bps: int | None = None,
    ) -> None:
        now = self.clock()
        inv = await self._known(session, appointment_id)
        if late and fee > 0:
            commission = await self._commission(session, inv.clinic_id, commission_bps)
            out = domain.charge_fee(inv, fee, commission, self.settings.platform_fee_bps, now)
        else:
            out = domain.void(inv, now)
        await self._apply(session, out, now)

    async def on_no_show(
        self, session: Session, appointment_id: str, *, commission_bps: int | None = None
    ) -> None:
        now = self.clock()
        inv = await self._known(session, appointment_id)
        terms = await self._clinic_terms(session, inv.clinic_id)
        fee = int(terms["no_show_fee_minor"]) if terms.get("has_no_show_fee") else inv.amount
        commission = await self._commission(session, inv.clinic_id, commission_bps)
        out = domain.charge_fee(inv, fee, commission, self.settings.platform_fee_bps, now)
        await self._apply(session, out, now)

    async def on_delivered(
        self,
        session: Session,
        appointment_id: str,
        *,
        connected_seconds: int | None = None,
        modality: str = "",
        commission_bps: int | None = None,
    ) -> None:
        """session_ended (from the relay) or appointment_completed (from scheduling), whichever
        comes first: the revenue is earned once; the relay's measures are kept for the superbill."""
        now = self.clock()
        inv = await self._known(session, appointment_id)
        if connected_seconds is not None:
            changes: dict[str, Any] = {"connected_seconds": connected_seconds}
            if modality:
                changes["modality"] = modality
            inv = dataclasses.replace(inv, **changes)
        commission = await self._commission(session, inv.clinic_id, commission_bps)
        out = domain.earn(inv, commission, self.settings.platform_fee_bps, now)
        await self._apply(session, out, now)

    async def on_clinic_created(
        self, session: Session, clinic_id: str, commission_bps: int, currency: str
    ) -> None:
        await self.repo.learn_clinic(clinic_id, commission_bps, currency, session)

    # --- payments ---------------------------------------------------------------------------

    async def start_payment(
        self, who: Principal, appointment_id: str
    ) -> tuple[domain.Invoice, str, str, str]:
        """The client's authorization (manual capture). Returns (invoice, payment id,
        client secret, payment status)."""
        who.require_role(CLIENT)
        inv = await self.repo.invoice_for(appointment_id)
        if inv is None:
            raise NotFound("no invoice for this appointment yet", field="appointment_id")
        if inv.client_id != who.user_id:
            raise PermissionDenied("this invoice is not yours")
        if inv.status in (domain.VOID, domain.REFUNDED):
            raise FailedPrecondition("this invoice is void", field="appointment_id")
        if inv.status == domain.PAID or inv.due <= 0:
            raise FailedPrecondition("this invoice is already paid", field="appointment_id")
        if inv.status == domain.AUTHORIZED:
            raise FailedPrecondition("payment is already authorized", field="appointment_id")
        fee = domain.bps_part(inv.due, self.settings.platform_fee_bps)
        destination = await self._destination(inv.clinic_id)
        # Each attempt gets its own idempotency key, recorded before the call: a retry after a
        # failure never replays the processor's stored answer to the failed attempt.
        attempt = await self.repo.next_attempt(inv.invoice_id)
        try:
            auth = await self.provider.authorize(
                invoice_id=inv.invoice_id,
                amount=inv.due,
                currency=inv.currency,
                fee=fee,
                attempt=attempt,
                destination=destination,
            )
        except ProviderDown:
            raise Unavailable("the payment provider is not answering; try again") from None
        except ProviderRefused as exc:
            raise FailedPrecondition(f"the payment provider refused: {exc.code}") from None
        now = self.clock()

        async def tx(session: Session) -> domain.Invoice:
            current = await self.repo.invoice(inv.invoice_id, session)
            assert current is not None
            current = dataclasses.replace(
                current,
                provider=self.provider.name,
                payment_id=auth.payment_id,
                attempt=attempt,
                destination=destination,
            )
            if auth.status == "authorized":
                return await self._apply(
                    session,
                    domain.authorize(current, self.provider.name, auth.payment_id, inv.due, now),
                    now,
                )
            await self.repo.save_invoice(session, current)
            return current

        done = await self.store.transaction(tx)
        self.outbox.wake()
        return done, auth.payment_id, auth.client_secret, auth.status

    async def _destination(self, clinic_id: str) -> str:
        """The Connect account a clinic's charges go to: its own, else the deployment's."""
        terms = await self._clinic_terms(None, clinic_id) if clinic_id else {}
        return str(terms.get("stripe_account") or self.settings.stripe_connect_account)

    async def set_stripe_account(
        self, who: Principal, clinic_id: str, account_id: str
    ) -> dict[str, Any]:
        """A clinic admin (with MFA) links the clinic's Connect account; Stripe must know it."""
        who.require_role(CLINIC_ADMIN).require_mfa().require_clinic(clinic_id)
        account_id = domain.check_stripe_account(account_id.strip())
        try:
            await self.provider.check_account(account_id)
        except ProviderDown:
            raise Unavailable("the payment provider is not answering; try again") from None
        except ProviderRefused:
            raise FailedPrecondition(
                "Stripe does not know this account as connected to the platform",
                field="account_id",
            ) from None
        await self._refresh_terms(who, clinic_id)
        return await self.repo.put_clinic_billing(clinic_id, {"stripe_account": account_id})

    async def record_by_hand(
        self,
        who: Principal,
        kind: str,
        invoice_id: str,
        amount: int,
        currency: str,
        method: str,
        reference: str = "",
    ) -> domain.Invoice:
        """Money a clinic admin received ("payment") or returned ("refund") outside the
        processor, against one of the clinic's invoices: checked first, then applied in one
        transaction with the invoice as stored, which keeps the record (how, their reference,
        who) beside the money it moved."""
        change = {"payment": self._received_by_hand, "refund": self._returned_by_hand}[kind]
        who.require_role(CLINIC_ADMIN).require_mfa()
        if method not in domain.MANUAL_METHODS:
            raise InvalidArgument(
                f"method must be one of {', '.join(domain.MANUAL_METHODS)}", field="method"
            )
        domain.check_amount(amount)
        domain.check_currency(currency)
        domain.check_reference(reference)
        now = self.clock()
        record = domain.ByHand(kind, amount, method, reference, now, who.user_id)

        async def tx(session: Session) -> domain.Invoice:
            inv = await self.repo.invoice(invoice_id, session) if invoice_id else None
            if inv is None:
                raise NotFound("no such invoice", field="invoice_id")
            who.require_clinic(inv.clinic_id)
            kept = dataclasses.replace(inv, by_hand=(*inv.by_hand, record))
            return await change(session, kept, amount, currency, now)

        done = await self.store.transaction(tx)
        self.outbox.wake()
        return done

    async def _received_by_hand(
        self, session: Session, inv: domain.Invoice, amount: int, currency: str, now: datetime
    ) -> domain.Invoice:
        out = domain.receive(inv, amount, currency, "manual", now, entry_suffix=uuid.uuid4().hex)
        if inv.held and not inv.confirmed and inv.status == domain.OPEN:
            # Payment-first paid in person: the hold may be confirmed now.
            out = domain.Outcome(out.invoice, out.entries, ("payment_authorized", *out.events))
        return await self._apply(session, out, now, amount=amount, provider="manual")

    async def _returned_by_hand(
        self, session: Session, inv: domain.Invoice, amount: int, currency: str, now: datetime
    ) -> domain.Invoice:
        if currency != inv.currency:
            raise InvalidArgument(f"this invoice is in {inv.currency}", field="currency")
        out = domain.refunded(inv, amount, "manual", f"manual:{uuid.uuid4().hex}", now)
        return await self._apply(session, out, now)

    async def stripe_webhook(self, payload: bytes, signature: str) -> bool:
        if not isinstance(self.provider, StripeProvider):
            raise FailedPrecondition("stripe is not this deployment's payment provider")
        try:
            event = self.provider.verify(payload, signature)
        except (stripe.SignatureVerificationError, ValueError):
            raise InvalidArgument("webhook signature is not valid", field="signature") from None
        # Verified above; read the object as plain JSON (ids and amounts only).
        obj: dict[str, Any] = json.loads(payload)["data"]["object"]
        now = self.clock()

        async def effect(session: Session) -> bool:
            if event.type in ("payout.paid", "payout.failed"):
                return await self._payout_update(session, event.type, obj, now)
            inv = None
            invoice_id = (obj.get("metadata") or {}).get("invoice_id", "")
            if invoice_id:
                inv = await self.repo.invoice(invoice_id, session)
            intent_id = str(obj.get("payment_intent") or obj.get("id") or "")
            if inv is None and intent_id:
                inv = await self.repo.invoice_by_payment(intent_id, session)
            if inv is None:
                log.warning("stripe event %s for no known invoice", event.id)
                return False
            kind = event.type
            if kind in ("refund.updated", "refund.failed", "refund.created"):
                return await self._refund_update(session, inv, obj, now)
            if kind == "payment_intent.canceled":
                out = domain.authorization_canceled(inv, str(obj.get("id", "")), now)
                if out.invoice is inv:
                    return False
                await self._apply(session, out, now, code="canceled")
                return True
            if inv.status in (domain.VOID, domain.REFUNDED):
                return False  # the worker releases whatever the processor still holds
            if kind == "payment_intent.amount_capturable_updated":
                if inv.status != domain.OPEN:
                    return False
                amount = int(obj.get("amount_capturable") or 0)
                out = domain.authorize(inv, "stripe", str(obj["id"]), amount, now)
                await self._apply(session, out, now)
                return True
            if kind == "payment_intent.succeeded":
                received = int(obj.get("amount_received") or 0)
                missing = min(received, inv.amount) - inv.paid
                if missing <= 0 or inv.status in (domain.VOID, domain.REFUNDED):
                    return False
                out = domain.receive(
                    inv, missing, inv.currency, "stripe", now, entry_suffix=f"webhook:{event.id}"
                )
                await self._apply(session, out, now, amount=missing, provider="stripe")
                return True
            if kind == "payment_intent.payment_failed":
                error = obj.get("last_payment_error") or {}
                failed = dataclasses.replace(
                    inv,
                    history=(*inv.history, domain.StatusChange("payment_failed", now)),
                )
                await self.repo.save_invoice(session, failed)
                await self.outbox.add(
                    session,
                    SUBJECT.format("payment_failed"),
                    event_message("payment_failed", failed, now, code=str(error.get("code", ""))),
                )
                return True
            return False

        applied, changed = await consume_once(self.store, WEBHOOK_CONSUMER, event.id, effect)
        self.outbox.wake()
        # Applied: a new event that changed something (a replay, or news billing already had,
        # changes nothing).
        return applied and bool(changed)

    async def _payout_update(
        self, session: Session, kind: str, obj: dict[str, Any], now: datetime
    ) -> bool:
        """A connected account's payout arrived or failed at the bank. Failed: the payout entry
        is reversed, so the therapist is owed the money again (a person takes it from there)."""
        pid = str((obj.get("metadata") or {}).get("payout_id", ""))
        ref = str(obj.get("id", ""))
        doc = await self.repo.payouts.find_one({"_id": pid}, session=session) if pid else None
        if doc is None or doc.get("reference") != ref or doc.get("status") in ("paid", "failed"):
            return False
        status = "paid" if kind == "payout.paid" else "failed"
        await self.repo.payouts.update_one(
            {"_id": pid}, {"$set": {"status": status, f"{status}_at": now}}, session=session
        )
        if status == "failed":
            entry = domain.payout_entry(
                pid,
                str(doc["therapist_id"]),
                str(doc["clinic_id"]),
                int(doc["net"]),
                str(doc["currency"]),
                self.provider.name,
                now,
                int(doc.get("attempt", 1)),
            )
            # The reversing entry: the same postings, negated (postings are never changed).
            reversal = domain.journal(
                f"{entry.entry_id}:reversed",
                domain.PAYOUT,
                "",
                entry.clinic_id,
                now,
                [(p.account, -p.amount_minor, p.currency) for p in entry.postings],
            )
            await self.repo.append(session, [reversal])
            log.warning("payout %s failed at the bank", pid)
        return True

    async def _refund_update(
        self, session: Session, inv: domain.Invoice, obj: dict[str, Any], now: datetime
    ) -> bool:
        """A Stripe Refund changed: succeeded posts the refund entry (once: the invoice forgets
        the refund id when it is settled); failed leaves the money owed, to return by hand."""
        ref = str(obj.get("id", ""))
        if not ref or ref != inv.refund_id:
            return False
        status = str(obj.get("status", ""))
        if status == "succeeded":
            amount = min(int(obj.get("amount") or 0), inv.refund_stripe)
            if amount <= 0:
                return False
            await self._apply(session, domain.refunded(inv, amount, "stripe", ref, now), now)
            return True
        if status in ("failed", "canceled"):
            await self.repo.save_invoice(session, domain.refund_failed(inv, now))
            log.warning("stripe refund %s of invoice %s failed", ref, inv.invoice_id)
            return True
        return False

    # --- the worker: provider actions and lapsed holds --------------------------------------

    async def run_actions_once(self) -> int:
        done = 0
        now = self.clock()
        for inv in await self.repo.due_actions(now):
            await self._act(inv)
            done += 1
        before = now - _seconds(self.settings.hold_grace_seconds)
        for inv in await self.repo.lapsed_holds(before):
            await self._void_lapsed(inv.invoice_id)
            done += 1
        if done:
            self.outbox.wake()
        return done

    async def _void_lapsed(self, invoice_id: str) -> None:
        now = self.clock()

        async def tx(session: Session) -> None:
            inv = await self.repo.invoice(invoice_id, session)
            if inv is None or not domain.hold_lapsed(inv, now, self.settings.hold_grace_seconds):
                return
            await self._apply(session, domain.void(inv, now), now)

        await self.store.transaction(tx)

    async def _act(self, inv: domain.Invoice) -> None:
        key = f"{inv.invoice_id}:{inv.pending_action}:{inv.attempt}"
        amount = inv.due
        refund: Transfer | None = None
        try:
            if inv.pending_action == domain.CAPTURE:
                await self.provider.capture(payment_id=inv.payment_id, amount=amount, key=key)
            elif inv.pending_action == domain.REFUND:
                # One refund per payment attempt (<invoice>:refund:<attempt>); a retry after no
                # answer reuses the key, so Stripe never refunds twice.
                amount = inv.refund_stripe
                refund = await self.provider.refund(
                    payment_id=inv.payment_id, invoice_id=inv.invoice_id, amount=amount, key=key
                )
            else:
                await self.provider.release(payment_id=inv.payment_id, key=key)
        except ProviderDown:
            log.warning("provider down for invoice %s; retrying later", inv.invoice_id)
            await self._settle(
                inv,
                lambda cur, now: domain.action_failed(
                    cur, now, self.settings.action_backoff_seconds
                ),
            )
            return
        except ProviderRefused as exc:
            if inv.pending_action == domain.REFUND:
                log.warning("stripe refused the refund of invoice %s: %s", inv.invoice_id, exc.code)
                await self._settle(inv, lambda cur, now: domain.refund_failed(cur, now))
                return
            await self._refused(inv, exc.code)
            return
        if inv.pending_action == domain.CAPTURE:
            await self._captured(inv, amount)
        elif refund is not None:
            await self._refund_requested(inv, refund)
        else:
            await self._settle(
                inv,
                lambda cur, now: dataclasses.replace(
                    cur, pending_action=domain.NO_ACTION, next_action_at=None, authorized=0
                ),
            )

    async def _settle(
        self,
        inv: domain.Invoice,
        change: Callable[[domain.Invoice, datetime], domain.Invoice],
    ) -> None:
        now = self.clock()

        async def tx(session: Session) -> None:
            cur = await self.repo.invoice(inv.invoice_id, session)
            if cur is None or cur.pending_action != inv.pending_action:
                return
            await self.repo.save_invoice(session, change(cur, now))

        await self.store.transaction(tx)

    async def _refund_requested(self, inv: domain.Invoice, refund: Transfer) -> None:
        """Stripe took the refund request: remember its id; the ledger moves when it succeeds
        (now, if Stripe says so already, else on its refund.updated webhook)."""
        now = self.clock()

        async def tx(session: Session) -> None:
            cur = await self.repo.invoice(inv.invoice_id, session)
            if cur is None or cur.pending_action != domain.REFUND:
                return
            cur = domain.note(
                cur,
                "refund_requested",
                now,
                pending_action=domain.NO_ACTION,
                next_action_at=None,
                refund_id=refund.ref,
            )
            if refund.status == "succeeded":
                await self._apply(
                    session, domain.refunded(cur, cur.refund_stripe, "stripe", refund.ref, now), now
                )
            elif refund.status in ("failed", "canceled"):
                await self.repo.save_invoice(session, domain.refund_failed(cur, now))
            else:
                await self.repo.save_invoice(session, cur)

        await self.store.transaction(tx)

    async def _captured(self, inv: domain.Invoice, amount: int) -> None:
        now = self.clock()

        async def tx(session: Session) -> None:
            cur = await self.repo.invoice(inv.invoice_id, session)
            if cur is None or cur.pending_action != domain.CAPTURE or cur.due <= 0:
                return
            out = domain.receive(
                cur,
                min(amount, cur.due),
                cur.currency,
                cur.provider,
                now,
                entry_suffix=f"capture:{cur.attempt}",
            )
            await self._apply(session, out, now, amount=min(amount, cur.due))

        await self.store.transaction(tx)

    async def _refused(self, inv: domain.Invoice, code: str) -> None:
        now = self.clock()

        async def tx(session: Session) -> None:
            cur = await self.repo.invoice(inv.invoice_id, session)
            if cur is None or cur.pending_action != inv.pending_action:
                return
            failed = domain.note(
                cur, "payment_failed", now, pending_action=domain.NO_ACTION, next_action_at=None
            )
            await self.repo.save_invoice(session, failed)
            await self.outbox.add(
                session,
                SUBJECT.format("payment_failed"),
                event_message("payment_failed", failed, now, code=code),
            )

        await self.store.transaction(tx)

    async def run_payouts_once(self) -> int:
        """Send due payouts (idempotency key payout:<therapist>:<period>): a payout Stripe
        accepted is posted at once (payable -> cash); no answer: retried with backoff."""
        now = self.clock()
        sent = 0
        due = self.repo.payouts.find({"status": "pending", "next_action_at": {"$lte": now}})
        for doc in await due.to_list(50):
            pid = str(doc["_id"])
            try:
                done = await self.provider.payout(
                    account=doc["account"],
                    amount=int(doc["net"]),
                    currency=doc["currency"],
                    payout_id=pid,
                    key=domain.payout_key(pid, int(doc.get("attempt", 1))),
                )
            except ProviderDown:
                attempts = int(doc.get("attempts", 0)) + 1
                backoff = self.settings.action_backoff_seconds
                delay = backoff[min(attempts, len(backoff)) - 1]
                await self.repo.payouts.update_one(
                    {"_id": pid, "status": "pending"},
                    {"$set": {"attempts": attempts, "next_action_at": now + _seconds(delay)}},
                )
                continue
            except ProviderRefused as exc:
                log.warning("payout %s refused: %s", pid, exc.code)
                await self.repo.payouts.update_one(
                    {"_id": pid, "status": "pending"},
                    {"$set": {"status": "failed", "code": exc.code, "next_action_at": None}},
                )
                continue
            await self._payout_sent(doc, done, now)
            sent += 1
        return sent

    async def _payout_sent(self, doc: dict[str, Any], done: Transfer, now: datetime) -> None:
        async def tx(session: Session) -> None:
            result = await self.repo.payouts.update_one(
                {"_id": doc["_id"], "status": "pending"},
                {
                    "$set": {
                        "status": "paid" if done.status == "paid" else "in_transit",
                        "reference": done.ref,
                        "next_action_at": None,
                        "sent_at": now,
                    }
                },
                session=session,
            )
            if result.modified_count != 1:
                return  # another replica recorded it
            entry = domain.payout_entry(
                str(doc["_id"]),
                str(doc["therapist_id"]),
                str(doc["clinic_id"]),
                int(doc["net"]),
                str(doc["currency"]),
                self.provider.name,
                now,
                int(doc.get("attempt", 1)),
            )
            await self.repo.append(session, [entry])

        await self.store.transaction(tx)

    async def run(self, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        payouts_due = loop.time()
        while not stop.is_set():
            try:
                await self.run_actions_once()
                # Payouts come once a month: no need to ask the database at every round.
                if loop.time() >= payouts_due:
                    payouts_due = loop.time() + PAYOUT_POLL_SECONDS
                    await self.run_payouts_once()
            except Exception as exc:  # Mongo down: next round
                log.warning("billing worker round failed: %s", type(exc).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.settings.worker_poll_seconds)

    # --- reads ------------------------------------------------------------------------------

    async def list_invoices(
        self, who: Principal, limit: int, cursor: str
    ) -> tuple[list[domain.Invoice], str]:
        if who.role == CLIENT:
            scope = {"client_id": who.user_id}
        elif who.role == THERAPIST:
            scope = {"therapist_id": who.user_id}
        elif who.role == CLINIC_ADMIN and who.clinic_id:
            scope = {"clinic_id": who.clinic_id}
        else:
            raise PermissionDenied("no invoices to show for this account")
        limit = domain.check_limit(limit)
        after = domain.decode_cursor(cursor) if cursor else None
        page = await self.repo.list_invoices(scope, limit, after)
        next_cursor = ""
        if len(page) > limit:
            page = page[:limit]
            next_cursor = domain.encode_cursor(page[-1].created_at, page[-1].invoice_id)
        return page, next_cursor

    async def clinic_billing(self, who: Principal, clinic_id: str) -> dict[str, Any]:
        who.require_role(CLINIC_ADMIN).require_clinic(clinic_id)
        await self._refresh_terms(who, clinic_id)
        doc = await self.repo.clinic(clinic_id)
        return doc or {"_id": clinic_id}

    async def _refresh_terms(self, who: Principal, clinic_id: str) -> None:
        """Commission, currency and payment-first from identity's clinic terms (the owner of
        those facts; billing keeps a copy to show)."""
        if self.identity is None:
            return
        clinic = await self.identity.clinic(clinic_id, who)
        await self.repo.learn_clinic(clinic_id, clinic.commission_bps, clinic.currency)
        await self.repo.put_clinic_billing(clinic_id, {"payment_first": clinic.payment_first})

    async def put_clinic_billing(
        self,
        who: Principal,
        clinic_id: str,
        *,
        payment_first: bool,
        sliding_scale: list[tuple[str, int]],
        no_show_fee: int | None,
    ) -> dict[str, Any]:
        who.require_role(CLINIC_ADMIN).require_clinic(clinic_id)
        if len(sliding_scale) > 5000:
            raise InvalidArgument("at most 5000 sliding-scale rates", field="sliding_scale")
        seen: set[str] = set()
        rows = []
        for client_id, rate in sliding_scale:
            if not client_id or len(client_id) > 64 or client_id in seen:
                raise InvalidArgument("one rate per client id", field="sliding_scale")
            seen.add(client_id)
            rows.append({"client_id": client_id, "rate_bps": domain.check_rate(rate)})
        if no_show_fee is not None and (no_show_fee < 0 or no_show_fee > 10**9):
            raise InvalidArgument("no_show_fee_minor must be 0 or more", field="no_show_fee_minor")
        # Payment-first is a booking rule scheduling enforces from identity's clinic terms (like
        # the cancellation policy): it is written there, with the admin's own token.
        if self.identity is not None:
            await self.identity.set_payment_first(clinic_id, payment_first, who)
        await self._refresh_terms(who, clinic_id)
        return await self.repo.put_clinic_billing(
            clinic_id,
            {
                "sliding_scale": rows,
                "has_no_show_fee": no_show_fee is not None,
                "no_show_fee_minor": no_show_fee or 0,
            },
        )

    async def check_ledger(
        self, who: Principal, clinic_id: str
    ) -> tuple[domain.LedgerCheck, dict[tuple[str, str], int]]:
        who.require_role(CLINIC_ADMIN).require_clinic(clinic_id)
        entries = await self.repo.ledger(clinic_id)
        return domain.check_ledger(entries), domain.balances(entries)

    async def payout_statement(
        self, who: Principal, therapist_id: str, period: str
    ) -> domain.PayoutStatement:
        start, end = domain.parse_period(period)
        if who.role == THERAPIST:
            who.require_self(therapist_id)
        else:
            who.require_role(CLINIC_ADMIN)
        invoices = await self.repo.earned_in(therapist_id, start, end)
        if who.role == CLINIC_ADMIN:
            # The period's sessions say whose statement it is (a therapist who moved on stays
            # visible to the old clinic for its months). With none, identity says whose
            # therapist this is: an outsider gets 403, never an empty statement. Operators are
            # the marketplace's admins: its independent therapists only (docs/billing.md).
            if any(i.clinic_id != who.clinic_id for i in invoices):
                raise PermissionDenied("this therapist's sessions belong to another clinic")
            if not invoices:
                if self.identity is None:
                    raise PermissionDenied("cannot tell whose therapist this is")
                await self.identity.require_admin_of(therapist_id, who)
        currencies = {i.currency for i in invoices}
        if len(currencies) > 1:
            raise FailedPrecondition("sessions in several currencies: one statement each")
        currency = currencies.pop() if currencies else ""
        credited = (
            await self.repo.credited(domain.therapist_payable(therapist_id), currency, start, end)
            if currency
            else 0
        )
        statement = domain.payout_statement(therapist_id, period, currency, invoices, credited)
        now = self.clock()
        if end <= now and statement.lines and statement.reconciled:
            clinics = {i.clinic_id for i in invoices}
            await self._payout_ready(statement, clinics.pop() if len(clinics) == 1 else "", now)
        payout = await self.repo.payouts.find_one({"_id": f"{therapist_id}:{period}"})
        if payout is not None:
            statement = dataclasses.replace(
                statement,
                payout_status=str(payout.get("status", "")),
                payout_reference=str(payout.get("reference", "")),
            )
        return statement

    async def retry_payout(
        self, who: Principal, therapist_id: str, period: str
    ) -> domain.PayoutStatement:
        """The clinic's admin (MFA), once the bank details are put right, sends a failed payout
        again: a new attempt with its own idempotency key and ledger entry (the failed one was
        reversed). From the account the clinic has linked now."""
        await self.payout_statement(who, therapist_id, period)  # whose statement it is
        who.require_role(CLINIC_ADMIN).require_mfa()
        pid = f"{therapist_id}:{period}"
        doc = await self.repo.payouts.find_one({"_id": pid})
        if doc is None or doc.get("status") != "failed":
            raise FailedPrecondition("no failed payout to send again for this month")
        if doc.get("clinic_id") != who.clinic_id:
            raise PermissionDenied("this payout belongs to another clinic")
        account = await self._destination(str(doc["clinic_id"]))
        if not account or not isinstance(self.provider, StripeProvider):
            raise FailedPrecondition("link the clinic's Stripe account first")
        retried = await self.repo.payouts.update_one(
            {"_id": pid, "status": "failed", "attempt": doc.get("attempt")},
            {
                "$set": {
                    "status": "pending",
                    "account": account,
                    "attempt": int(doc.get("attempt", 1)) + 1,
                    "attempts": 0,
                    "next_action_at": self.clock(),
                    "retried_by": who.user_id,
                },
                "$unset": {"reference": "", "code": ""},
            },
        )
        if retried.modified_count != 1:
            raise FailedPrecondition("this payout changed meanwhile; look again")
        log.info("payout %s sent again by %s", pid, who.user_id)
        return await self.payout_statement(who, therapist_id, period)

    async def _payout_ready(self, s: domain.PayoutStatement, clinic_id: str, now: datetime) -> None:
        """Once per therapist and closed month: payout_ready through the outbox, and a payout
        for the worker to send from the clinic's Connect account (none linked: the clinic pays
        the therapist itself, outside Rapport)."""
        account = ""
        if isinstance(self.provider, StripeProvider) and clinic_id and s.net > 0:
            account = await self._destination(clinic_id)

        async def tx(session: Session) -> None:
            await self.repo.payouts.insert_one(
                {
                    "_id": f"{s.therapist_id}:{s.period}",
                    "therapist_id": s.therapist_id,
                    "clinic_id": clinic_id,
                    "net": s.net,
                    "currency": s.currency,
                    "at": now,
                    "account": account,
                    "status": "pending" if account else "not_connected",
                    "next_action_at": now if account else None,
                    "attempt": 1,
                    "attempts": 0,
                },
                session=session,
            )
            await self.outbox.add(
                session,
                SUBJECT.format("payout_ready"),
                ev.PayoutReady(
                    therapist_id=s.therapist_id,
                    period=s.period,
                    net=money(s.net, s.currency),
                    sessions=len(s.lines),
                    occurred_at=to_timestamp(now),
                ),
            )

        with contextlib.suppress(DuplicateKeyError):
            await self.store.transaction(tx)
            self.outbox.wake()

    # --- superbills -------------------------------------------------------------------------

    async def _visible(self, who: Principal, appointment_id: str) -> domain.Invoice:
        inv = await self.repo.invoice_for(appointment_id)
        if inv is None:
            raise NotFound("no billing record for this appointment", field="appointment_id")
        if not (
            (who.role == CLIENT and who.user_id == inv.client_id)
            or (who.role == THERAPIST and who.user_id == inv.therapist_id)
            or (who.role == CLINIC_ADMIN and inv.clinic_id and who.clinic_id == inv.clinic_id)
        ):
            raise PermissionDenied("this appointment is not yours")
        return inv

    async def set_diagnosis(self, who: Principal, appointment_id: str, code: str) -> dict[str, Any]:
        who.require_role(THERAPIST)
        code = domain.check_icd10(code)
        inv = await self._visible(who, appointment_id)
        if inv.connected_seconds is None:  # before writing: a refused call changes nothing
            raise FailedPrecondition("the session has not taken place yet")
        licenses: list[dict[str, str]] = []
        if self.identity is not None:
            licenses = [
                {"kind": lic.kind, "jurisdiction": lic.jurisdiction, "number": lic.number}
                for lic in await self.identity.licenses(inv.therapist_id, who)
            ]
        # PHI: only Vault transit's ciphertext is stored (derived key, context: the appointment),
        # so a copied ciphertext opens for no other appointment.
        doc = {
            "_id": appointment_id,
            "diagnosis_sealed": await self._diagnosis_box().seal(appointment_id, code),
            "licenses": licenses,
            "at": self.clock(),
        }
        await self.repo.superbills.replace_one({"_id": appointment_id}, doc, upsert=True)
        return await self.superbill(who, appointment_id)

    def _diagnosis_box(self) -> _Sealing:
        if self.diagnoses is None:
            raise Unavailable("diagnosis codes cannot be sealed: no Vault configured")
        return _Sealing(self.diagnoses)

    async def superbill(self, who: Principal, appointment_id: str) -> dict[str, Any]:
        inv = await self._visible(who, appointment_id)
        doc = await self.repo.superbills.find_one({"_id": appointment_id})
        if doc is None:
            raise FailedPrecondition("the therapist has not entered a diagnosis code yet")
        if inv.connected_seconds is None:
            raise FailedPrecondition("the session has not taken place yet")
        minutes = inv.connected_seconds // 60
        cpt = domain.cpt_for(minutes)
        code = await self._diagnosis_box().open(appointment_id, doc["diagnosis_sealed"])
        return {
            "appointment_id": inv.appointment_id,
            "invoice_id": inv.invoice_id,
            "client_id": inv.client_id,
            "therapist_id": inv.therapist_id,
            "clinic_id": inv.clinic_id,
            "service_date": inv.start,
            "connected_minutes": minutes,
            "cpt_code": cpt,
            "modifier": domain.modifier_for(inv.modality),
            "diagnosis_code": code,
            "licenses": doc.get("licenses", []),
            "charge": inv.amount,
            "paid": inv.paid,
            "currency": inv.currency,
            "modality": inv.modality,
        }


class _Sealing:
    """The SecretBox with Vault's failures as UNAVAILABLE (never the code in a message)."""

    def __init__(self, box: SecretBox) -> None:
        self.box = box

    async def seal(self, appointment_id: str, code: str) -> str:
        try:
            return await self.box.seal(appointment_id, code)
        except Exception as exc:
            log.warning("vault could not seal a diagnosis: %s", type(exc).__name__)
            raise Unavailable("the key service is unavailable; try again") from None

    async def open(self, appointment_id: str, sealed: str) -> str:
        try:
            return await self.box.open(appointment_id, sealed)
        except Exception as exc:
            log.warning("vault could not open a diagnosis: %s", type(exc).__name__)
            raise Unavailable("the key service is unavailable; try again") from None


def _seconds(value: float) -> timedelta:
    return timedelta(seconds=value)


def utc_now() -> datetime:
    return datetime.now(UTC)
