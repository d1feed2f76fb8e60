"""Invoices, payments, clinic billing settings, the ledger check, payouts, superbills and the
Stripe webhook (billing service).

Paths:
  GET  /v1/invoices                                   the caller's, by role; paginated
  POST /v1/appointments/{appointment_id}/payment      the client authorizes payment (manual capture)
  POST /v1/invoices/{invoice_id}/payments             a clinic admin records a manual payment
  POST /v1/invoices/{invoice_id}/refunds              a clinic admin records a refund made by hand
  PUT  /v1/clinics/{clinic_id}/stripe-account         the clinic admin links its Connect account
  GET  /v1/clinics/{clinic_id}/billing                payment-first, sliding scale, no-show fee
  PUT  /v1/clinics/{clinic_id}/billing
  GET  /v1/clinics/{clinic_id}/ledger/check           the ledger invariant, for clinic admins
  GET  /v1/therapists/{therapist_id}/payouts          ?period=YYYY-MM, a payout statement
  POST /v1/therapists/{therapist_id}/payouts/{period}/retry   a failed payout sent again
  PUT  /v1/appointments/{appointment_id}/diagnosis    the therapist's ICD-10-CM code
  GET  /v1/appointments/{appointment_id}/superbill    JSON
  GET  /v1/appointments/{appointment_id}/superbill.html   printable
  POST /v1/billing/stripe/webhook                     Stripe's events (billing checks signatures)
"""

from __future__ import annotations

import html
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Path, Query, Request
from fastapi.responses import HTMLResponse
from google.protobuf.timestamp_pb2 import Timestamp
from pydantic import BaseModel, ConfigDict, Field
from rapport.billing.v1 import billing_pb2 as pb
from rapport.billing.v1 import billing_pb2_grpc
from rapport.types.v1.money_pb2 import Money
from starlette.exceptions import HTTPException

from rapport_gateway.deps import Token, auth, stub
from rapport_gateway.paging import Page, next_cursor, paged
from rapport_gateway.text import Ascii

DOWNSTREAM = "billing"
# The gateway stays ready without billing: only its routes answer 503 meanwhile.
REQUIRED = False
router = APIRouter(tags=["billing"])
# The printable superbill loads nothing and runs nothing: only its own inline style is allowed.
SUPERBILL_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
}

Id = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
STATUS_NAMES = {
    pb.INVOICE_STATUS_OPEN: "open",
    pb.INVOICE_STATUS_AUTHORIZED: "authorized",
    pb.INVOICE_STATUS_PAID: "paid",
    pb.INVOICE_STATUS_VOID: "void",
    pb.INVOICE_STATUS_REFUNDED: "refunded",
}
MAX_WEBHOOK_BYTES = 256 * 1024


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def billing(request: Request) -> billing_pb2_grpc.BillingServiceStub:
    return stub(request, DOWNSTREAM, billing_pb2_grpc.BillingServiceStub)


def _time(value: Timestamp) -> datetime | None:
    if value.seconds == 0 and value.nanos == 0:
        return None
    return value.ToDatetime(tzinfo=UTC)


class MoneyReply(BaseModel):
    amount_minor: int
    currency: str


def _money(m: Money) -> MoneyReply:
    return MoneyReply(amount_minor=m.amount_minor, currency=m.currency)


class StatusChangeReply(BaseModel):
    status: str
    at: datetime | None


class ByHandReply(BaseModel):
    kind: Literal["payment", "refund"]
    amount: MoneyReply
    method: str
    # The admin's own reference (receipt or transfer number).
    reference: str | None
    at: datetime | None
    # The admin who recorded it (a user id).
    recorded_by: str


class InvoiceReply(BaseModel):
    invoice_id: str
    appointment_id: str
    client_id: str
    therapist_id: str
    clinic_id: str
    status: str
    amount: MoneyReply
    paid: MoneyReply
    list_price: MoneyReply
    # Owed back to the client and not yet confirmed returned.
    refund_due: MoneyReply
    earned: bool
    appointment_start: datetime | None
    created_at: datetime | None
    history: list[StatusChangeReply]
    # Money a clinic admin recorded as received or returned by hand, oldest first.
    by_hand: list[ByHandReply]


def invoice_reply(i: pb.Invoice) -> InvoiceReply:
    return InvoiceReply(
        invoice_id=i.invoice_id,
        appointment_id=i.appointment_id,
        client_id=i.client_id,
        therapist_id=i.therapist_id,
        clinic_id=i.clinic_id,
        status=STATUS_NAMES.get(i.status, "unknown"),
        amount=_money(i.amount),
        paid=_money(i.paid),
        list_price=_money(i.list_price),
        refund_due=_money(i.refund_due),
        earned=i.earned,
        appointment_start=_time(i.appointment_start),
        created_at=_time(i.created_at),
        history=[StatusChangeReply(status=h.status, at=_time(h.at)) for h in i.history],
        by_hand=[
            ByHandReply(
                kind=r.kind,
                amount=_money(r.amount),
                method=r.method,
                reference=r.reference or None,
                at=_time(r.at),
                recorded_by=r.recorded_by,
            )
            for r in i.by_hand
        ],
    )


class InvoicesReply(BaseModel):
    items: list[InvoiceReply]
    next_cursor: str | None


@router.get("/v1/invoices", response_model=InvoicesReply)
async def list_invoices(
    request: Request,
    token: Token,
    page: Annotated[Page, paged(50, 200)],
) -> InvoicesReply:
    reply = await billing(request).ListInvoices(
        pb.ListInvoicesRequest(limit=page.limit, cursor=page.cursor), metadata=auth(token)
    )
    return InvoicesReply(
        items=[invoice_reply(i) for i in reply.items], next_cursor=next_cursor(reply.next_cursor)
    )


class PaymentReply(BaseModel):
    invoice: InvoiceReply
    payment_id: str
    provider: str
    client_secret: str | None
    payment_status: str


@router.post(
    "/v1/appointments/{appointment_id}/payment", status_code=201, response_model=PaymentReply
)
async def start_payment(appointment_id: Id, request: Request, token: Token) -> PaymentReply:
    reply = await billing(request).StartPayment(
        pb.StartPaymentRequest(appointment_id=appointment_id), metadata=auth(token)
    )
    return PaymentReply(
        invoice=invoice_reply(reply.invoice),
        payment_id=reply.payment_id,
        provider=reply.provider,
        client_secret=reply.client_secret or None,
        payment_status=reply.payment_status,
    )


class ManualPaymentBody(Strict):
    amount_minor: int = Field(gt=0, le=10**12)
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    method: Literal["cash", "cheque", "bank_transfer", "insurance"]
    reference: str = Field("", max_length=64, pattern=r"^[A-Za-z0-9 _./-]*$")


async def _by_hand(
    rpc: Callable[..., Awaitable[Any]],
    message: type[pb.RecordManualPaymentRequest] | type[pb.RecordManualRefundRequest],
    invoice_id: str,
    body: ManualPaymentBody,
    token: str,
) -> InvoiceReply:
    """Money received or returned by hand: the same body, the same answer."""
    reply = await rpc(
        message(
            invoice_id=invoice_id,
            amount=Money(amount_minor=body.amount_minor, currency=body.currency),
            method=body.method,
            reference=body.reference,
        ),
        metadata=auth(token),
    )
    return invoice_reply(reply.invoice)


@router.post("/v1/invoices/{invoice_id}/payments", status_code=201, response_model=InvoiceReply)
async def record_payment(
    invoice_id: Id, body: ManualPaymentBody, request: Request, token: Token
) -> InvoiceReply:
    rpc = billing(request).RecordManualPayment
    return await _by_hand(rpc, pb.RecordManualPaymentRequest, invoice_id, body, token)


@router.post("/v1/invoices/{invoice_id}/refunds", status_code=201, response_model=InvoiceReply)
async def record_refund(
    invoice_id: Id, body: ManualPaymentBody, request: Request, token: Token
) -> InvoiceReply:
    rpc = billing(request).RecordManualRefund
    return await _by_hand(rpc, pb.RecordManualRefundRequest, invoice_id, body, token)


class Rate(Strict):
    client_id: Ascii = Field(min_length=1, max_length=64)
    rate_bps: int = Field(ge=1, le=10_000)


class ClinicBillingBody(Strict):
    payment_first: bool = False
    sliding_scale: list[Rate] = Field(default_factory=list, max_length=5000)
    no_show_fee_minor: int | None = Field(None, ge=0, le=10**9)


class ClinicBillingReply(BaseModel):
    clinic_id: str
    payment_first: bool
    sliding_scale: list[Rate]
    no_show_fee_minor: int | None
    commission_bps: int
    currency: str
    stripe_account: str | None


class StripeAccountBody(Strict):
    account_id: str = Field(min_length=6, max_length=80, pattern=r"^acct_[A-Za-z0-9]+$")


def clinic_reply(b: pb.ClinicBilling) -> ClinicBillingReply:
    return ClinicBillingReply(
        clinic_id=b.clinic_id,
        payment_first=b.payment_first,
        sliding_scale=[Rate(client_id=r.client_id, rate_bps=r.rate_bps) for r in b.sliding_scale],
        no_show_fee_minor=b.no_show_fee_minor if b.has_no_show_fee else None,
        commission_bps=b.commission_bps,
        currency=b.currency,
        stripe_account=b.stripe_account or None,
    )


@router.get("/v1/clinics/{clinic_id}/billing", response_model=ClinicBillingReply)
async def get_clinic_billing(clinic_id: Id, request: Request, token: Token) -> ClinicBillingReply:
    reply = await billing(request).GetClinicBilling(
        pb.GetClinicBillingRequest(clinic_id=clinic_id), metadata=auth(token)
    )
    return clinic_reply(reply.billing)


@router.put("/v1/clinics/{clinic_id}/billing", response_model=ClinicBillingReply)
async def put_clinic_billing(
    clinic_id: Id, body: ClinicBillingBody, request: Request, token: Token
) -> ClinicBillingReply:
    reply = await billing(request).PutClinicBilling(
        pb.PutClinicBillingRequest(
            clinic_id=clinic_id,
            payment_first=body.payment_first,
            sliding_scale=[
                pb.SlidingScaleRate(client_id=r.client_id, rate_bps=r.rate_bps)
                for r in body.sliding_scale
            ],
            has_no_show_fee=body.no_show_fee_minor is not None,
            no_show_fee_minor=body.no_show_fee_minor or 0,
        ),
        metadata=auth(token),
    )
    return clinic_reply(reply.billing)


@router.put("/v1/clinics/{clinic_id}/stripe-account", response_model=ClinicBillingReply)
async def put_stripe_account(
    clinic_id: Id, body: StripeAccountBody, request: Request, token: Token
) -> ClinicBillingReply:
    reply = await billing(request).SetClinicStripeAccount(
        pb.SetClinicStripeAccountRequest(clinic_id=clinic_id, account_id=body.account_id),
        metadata=auth(token),
    )
    return clinic_reply(reply.billing)


class BalanceReply(BaseModel):
    account: str
    balance: MoneyReply


class LedgerCheckReply(BaseModel):
    balanced: bool
    entries_checked: int
    unbalanced_entries: list[str]
    totals: list[MoneyReply]
    balances: list[BalanceReply]


@router.get("/v1/clinics/{clinic_id}/ledger/check", response_model=LedgerCheckReply)
async def check_ledger(clinic_id: Id, request: Request, token: Token) -> LedgerCheckReply:
    r = await billing(request).CheckLedger(
        pb.CheckLedgerRequest(clinic_id=clinic_id), metadata=auth(token)
    )
    return LedgerCheckReply(
        balanced=r.balanced,
        entries_checked=r.entries_checked,
        unbalanced_entries=list(r.unbalanced_entries),
        totals=[_money(m) for m in r.totals],
        balances=[BalanceReply(account=b.account, balance=_money(b.balance)) for b in r.balances],
    )


class PayoutLineReply(BaseModel):
    invoice_id: str
    appointment_id: str
    earned_at: datetime | None
    gross: MoneyReply
    commission: MoneyReply
    fees: MoneyReply
    net: MoneyReply


class PayoutReply(BaseModel):
    therapist_id: str
    period: str
    currency: str
    sessions: int
    lines: list[PayoutLineReply]
    gross: MoneyReply
    commission: MoneyReply
    fees: MoneyReply
    net: MoneyReply
    ledger_net: MoneyReply
    reconciled: bool
    # The closed month's payout: pending, in_transit, paid, failed, not_connected; null: none.
    payout_status: str | None
    payout_reference: str | None


Period = Annotated[str, Query(pattern=r"^\d{4}-\d{2}$", description="YYYY-MM (UTC)")]


@router.get("/v1/therapists/{therapist_id}/payouts", response_model=PayoutReply)
async def payouts(therapist_id: Id, request: Request, token: Token, period: Period) -> PayoutReply:
    r = await billing(request).GetPayoutStatement(
        pb.GetPayoutStatementRequest(therapist_id=therapist_id, period=period),
        metadata=auth(token),
    )
    return payout_reply(r.statement)


@router.post("/v1/therapists/{therapist_id}/payouts/{period}/retry", response_model=PayoutReply)
async def retry_payout(
    therapist_id: Id,
    period: Annotated[str, Path(pattern=r"^\d{4}-\d{2}$", description="YYYY-MM (UTC)")],
    request: Request,
    token: Token,
) -> PayoutReply:
    """The clinic's admin (MFA) sends a payout that failed at the bank again, once the bank
    details are put right: a new attempt from the clinic's linked Stripe account, with its own
    idempotency key and ledger entry. 409 when the month has no failed payout."""
    r = await billing(request).RetryPayout(
        pb.RetryPayoutRequest(therapist_id=therapist_id, period=period), metadata=auth(token)
    )
    return payout_reply(r.statement)


def payout_reply(s: pb.PayoutStatement) -> PayoutReply:
    return PayoutReply(
        therapist_id=s.therapist_id,
        period=s.period,
        currency=s.currency,
        sessions=s.sessions,
        lines=[
            PayoutLineReply(
                invoice_id=x.invoice_id,
                appointment_id=x.appointment_id,
                earned_at=_time(x.earned_at),
                gross=_money(x.gross),
                commission=_money(x.commission),
                fees=_money(x.fees),
                net=_money(x.net),
            )
            for x in s.lines
        ],
        gross=_money(s.gross),
        commission=_money(s.commission),
        fees=_money(s.fees),
        net=_money(s.net),
        ledger_net=_money(s.ledger_net),
        reconciled=s.reconciled,
        payout_status=s.payout_status or None,
        payout_reference=s.payout_reference or None,
    )


class DiagnosisBody(Strict):
    diagnosis_code: Ascii = Field(min_length=3, max_length=8)


class LicenseReply(BaseModel):
    kind: str
    jurisdiction: str
    number: str


class SuperbillReply(BaseModel):
    appointment_id: str
    invoice_id: str
    client_id: str
    therapist_id: str
    clinic_id: str
    service_date: datetime | None
    connected_minutes: int
    cpt_code: str
    modifier: str | None
    diagnosis_code: str
    licenses: list[LicenseReply]
    charge: MoneyReply
    paid: MoneyReply
    modality: str


def superbill_reply(b: pb.Superbill) -> SuperbillReply:
    return SuperbillReply(
        appointment_id=b.appointment_id,
        invoice_id=b.invoice_id,
        client_id=b.client_id,
        therapist_id=b.therapist_id,
        clinic_id=b.clinic_id,
        service_date=_time(b.service_date),
        connected_minutes=b.connected_minutes,
        cpt_code=b.cpt_code,
        modifier=b.modifier or None,
        diagnosis_code=b.diagnosis_code,
        licenses=[
            LicenseReply(kind=x.kind, jurisdiction=x.jurisdiction, number=x.number)
            for x in b.licenses
        ],
        charge=_money(b.charge),
        paid=_money(b.paid),
        modality=b.modality,
    )


@router.put("/v1/appointments/{appointment_id}/diagnosis", response_model=SuperbillReply)
async def set_diagnosis(
    appointment_id: Id, body: DiagnosisBody, request: Request, token: Token
) -> SuperbillReply:
    r = await billing(request).SetDiagnosis(
        pb.SetDiagnosisRequest(appointment_id=appointment_id, diagnosis_code=body.diagnosis_code),
        metadata=auth(token),
    )
    return superbill_reply(r.superbill)


@router.get("/v1/appointments/{appointment_id}/superbill", response_model=SuperbillReply)
async def superbill(appointment_id: Id, request: Request, token: Token) -> SuperbillReply:
    r = await billing(request).GetSuperbill(
        pb.GetSuperbillRequest(appointment_id=appointment_id), metadata=auth(token)
    )
    return superbill_reply(r.superbill)


def _amount(m: MoneyReply) -> str:
    return f"{m.amount_minor // 100}.{m.amount_minor % 100:02d} {m.currency}"


@router.get("/v1/appointments/{appointment_id}/superbill.html", response_class=HTMLResponse)
async def superbill_html(appointment_id: Id, request: Request, token: Token) -> HTMLResponse:
    r = await billing(request).GetSuperbill(
        pb.GetSuperbillRequest(appointment_id=appointment_id), metadata=auth(token)
    )
    b = superbill_reply(r.superbill)
    e = html.escape
    licenses = "".join(
        f"<li>{e(x.kind)} · {e(x.jurisdiction)} · {e(x.number)}</li>" for x in b.licenses
    )
    code = e(b.cpt_code + (f"-{b.modifier}" if b.modifier else ""))
    date = e(b.service_date.date().isoformat() if b.service_date else "")
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Superbill</title>
<style>body{{font-family:sans-serif;max-width:40em;margin:2em auto}}
td,th{{border:1px solid #999;padding:.3em .6em;text-align:left}}table{{border-collapse:collapse}}
</style></head>
<body><h1>Superbill</h1>
<table>
<tr><th>Appointment</th><td>{e(b.appointment_id)}</td></tr>
<tr><th>Invoice</th><td>{e(b.invoice_id)}</td></tr>
<tr><th>Date of service</th><td>{date}</td></tr>
<tr><th>Place of service</th><td>02 (telehealth)</td></tr>
<tr><th>Procedure (CPT)</th><td>{code}</td></tr>
<tr><th>Minutes together</th><td>{b.connected_minutes}</td></tr>
<tr><th>Diagnosis (ICD-10-CM)</th><td>{e(b.diagnosis_code)}</td></tr>
<tr><th>Charge</th><td>{e(_amount(b.charge))}</td></tr>
<tr><th>Paid</th><td>{e(_amount(b.paid))}</td></tr>
</table>
<h2>Therapist licences</h2><ul>{licenses}</ul>
</body></html>"""
    return HTMLResponse(page, headers=SUPERBILL_HEADERS)


class WebhookReply(BaseModel):
    received: bool
    applied: bool


@router.post("/v1/billing/stripe/webhook", response_model=WebhookReply)
async def stripe_webhook(
    request: Request,
    stripe_signature: Annotated[Ascii, Header(alias="Stripe-Signature", max_length=2000)],
) -> WebhookReply:
    payload = await request.body()
    if len(payload) > MAX_WEBHOOK_BYTES:
        raise HTTPException(413, "webhook payload too large")
    r = await billing(request).HandleStripeWebhook(
        pb.HandleStripeWebhookRequest(payload=payload, signature=stripe_signature)
    )
    return WebhookReply(received=True, applied=r.applied)
