"""Billing's gRPC entrypoint: proto <-> domain, the caller's token; use cases in service.py."""

from __future__ import annotations

from typing import Any

import grpc
from rapport.billing.v1 import billing_pb2 as pb
from rapport.billing.v1 import billing_pb2_grpc
from rapport_platform.auth import TokenVerifier
from rapport_platform.timestamps import to_timestamp

from rapport_billing import domain
from rapport_billing.service import Billing, money

STATUS_TO_PB = {
    domain.OPEN: pb.INVOICE_STATUS_OPEN,
    domain.AUTHORIZED: pb.INVOICE_STATUS_AUTHORIZED,
    domain.PAID: pb.INVOICE_STATUS_PAID,
    domain.VOID: pb.INVOICE_STATUS_VOID,
    domain.REFUNDED: pb.INVOICE_STATUS_REFUNDED,
}


def invoice_to_pb(i: domain.Invoice) -> pb.Invoice:
    return pb.Invoice(
        invoice_id=i.invoice_id,
        appointment_id=i.appointment_id,
        client_id=i.client_id,
        therapist_id=i.therapist_id,
        clinic_id=i.clinic_id,
        amount=money(i.amount, i.currency),
        paid=money(i.paid, i.currency),
        status=STATUS_TO_PB[i.status],
        earned=i.earned,
        history=[pb.StatusChange(status=h.status, at=to_timestamp(h.at)) for h in i.history],
        appointment_start=to_timestamp(i.start),
        created_at=to_timestamp(i.created_at),
        list_price=money(i.list_price, i.currency),
        refund_due=money(i.refund_due, i.currency),
        by_hand=[
            pb.ByHand(
                kind=r.kind,
                amount=money(r.amount, i.currency),
                method=r.method,
                reference=r.reference,
                at=to_timestamp(r.at),
                recorded_by=r.recorded_by,
            )
            for r in i.by_hand
        ],
    )


def clinic_to_pb(doc: dict[str, Any]) -> pb.ClinicBilling:
    return pb.ClinicBilling(
        clinic_id=doc["_id"],
        payment_first=bool(doc.get("payment_first", False)),
        sliding_scale=[
            pb.SlidingScaleRate(client_id=r["client_id"], rate_bps=r["rate_bps"])
            for r in doc.get("sliding_scale", [])
        ],
        has_no_show_fee=bool(doc.get("has_no_show_fee", False)),
        no_show_fee_minor=int(doc.get("no_show_fee_minor", 0)),
        commission_bps=int(doc.get("commission_bps", 0)),
        currency=str(doc.get("currency", "")),
        stripe_account=str(doc.get("stripe_account", "")),
    )


class BillingApi(billing_pb2_grpc.BillingServiceServicer):
    def __init__(self, billing: Billing, verifier: TokenVerifier) -> None:
        self.billing = billing
        self.verifier = verifier

    async def ListInvoices(
        self, request: pb.ListInvoicesRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListInvoicesResponse:
        who = await self.verifier.authenticate(context)
        page, cursor = await self.billing.list_invoices(who, request.limit, request.cursor)
        return pb.ListInvoicesResponse(items=[invoice_to_pb(i) for i in page], next_cursor=cursor)

    async def StartPayment(
        self, request: pb.StartPaymentRequest, context: grpc.aio.ServicerContext
    ) -> pb.StartPaymentResponse:
        who = await self.verifier.authenticate(context)
        inv, payment_id, secret, status = await self.billing.start_payment(
            who, request.appointment_id
        )
        return pb.StartPaymentResponse(
            invoice=invoice_to_pb(inv),
            payment_id=payment_id,
            provider=self.billing.provider.name,
            client_secret=secret,
            payment_status=status,
        )

    async def _by_hand(
        self,
        kind: str,
        request: pb.RecordManualPaymentRequest | pb.RecordManualRefundRequest,
        context: grpc.aio.ServicerContext,
    ) -> pb.Invoice:
        """Money received or returned by hand: the same request shape, the same answer."""
        who = await self.verifier.authenticate(context)
        inv = await self.billing.record_by_hand(
            who,
            kind,
            request.invoice_id,
            request.amount.amount_minor,
            request.amount.currency,
            request.method,
            request.reference,
        )
        return invoice_to_pb(inv)

    async def RecordManualPayment(
        self, request: pb.RecordManualPaymentRequest, context: grpc.aio.ServicerContext
    ) -> pb.RecordManualPaymentResponse:
        invoice = await self._by_hand("payment", request, context)
        return pb.RecordManualPaymentResponse(invoice=invoice)

    async def RecordManualRefund(
        self, request: pb.RecordManualRefundRequest, context: grpc.aio.ServicerContext
    ) -> pb.RecordManualRefundResponse:
        invoice = await self._by_hand("refund", request, context)
        return pb.RecordManualRefundResponse(invoice=invoice)

    async def SetClinicStripeAccount(
        self, request: pb.SetClinicStripeAccountRequest, context: grpc.aio.ServicerContext
    ) -> pb.SetClinicStripeAccountResponse:
        who = await self.verifier.authenticate(context)
        doc = await self.billing.set_stripe_account(who, request.clinic_id, request.account_id)
        return pb.SetClinicStripeAccountResponse(billing=clinic_to_pb(doc))

    async def GetClinicBilling(
        self, request: pb.GetClinicBillingRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetClinicBillingResponse:
        who = await self.verifier.authenticate(context)
        doc = await self.billing.clinic_billing(who, request.clinic_id)
        return pb.GetClinicBillingResponse(billing=clinic_to_pb(doc))

    async def PutClinicBilling(
        self, request: pb.PutClinicBillingRequest, context: grpc.aio.ServicerContext
    ) -> pb.PutClinicBillingResponse:
        who = await self.verifier.authenticate(context)
        doc = await self.billing.put_clinic_billing(
            who,
            request.clinic_id,
            payment_first=request.payment_first,
            sliding_scale=[(r.client_id, r.rate_bps) for r in request.sliding_scale],
            no_show_fee=request.no_show_fee_minor if request.has_no_show_fee else None,
        )
        return pb.PutClinicBillingResponse(billing=clinic_to_pb(doc))

    async def CheckLedger(
        self, request: pb.CheckLedgerRequest, context: grpc.aio.ServicerContext
    ) -> pb.CheckLedgerResponse:
        who = await self.verifier.authenticate(context)
        check, balances = await self.billing.check_ledger(who, request.clinic_id)
        return pb.CheckLedgerResponse(
            balanced=check.balanced,
            entries_checked=check.entries_checked,
            unbalanced_entries=list(check.unbalanced_entries),
            totals=[money(v, c) for c, v in sorted(check.totals.items())],
            balances=[
                pb.AccountBalance(account=a, balance=money(v, c))
                for (a, c), v in sorted(balances.items())
            ],
        )

    async def GetPayoutStatement(
        self, request: pb.GetPayoutStatementRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetPayoutStatementResponse:
        who = await self.verifier.authenticate(context)
        s = await self.billing.payout_statement(who, request.therapist_id, request.period)
        return pb.GetPayoutStatementResponse(statement=statement_to_pb(s))

    async def RetryPayout(
        self, request: pb.RetryPayoutRequest, context: grpc.aio.ServicerContext
    ) -> pb.RetryPayoutResponse:
        who = await self.verifier.authenticate(context)
        s = await self.billing.retry_payout(who, request.therapist_id, request.period)
        return pb.RetryPayoutResponse(statement=statement_to_pb(s))

    async def SetDiagnosis(
        self, request: pb.SetDiagnosisRequest, context: grpc.aio.ServicerContext
    ) -> pb.SetDiagnosisResponse:
        who = await self.verifier.authenticate(context)
        bill = await self.billing.set_diagnosis(who, request.appointment_id, request.diagnosis_code)
        return pb.SetDiagnosisResponse(superbill=superbill_to_pb(bill))

    async def GetSuperbill(
        self, request: pb.GetSuperbillRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetSuperbillResponse:
        who = await self.verifier.authenticate(context)
        bill = await self.billing.superbill(who, request.appointment_id)
        return pb.GetSuperbillResponse(superbill=superbill_to_pb(bill))

    async def HandleStripeWebhook(
        self, request: pb.HandleStripeWebhookRequest, context: grpc.aio.ServicerContext
    ) -> pb.HandleStripeWebhookResponse:
        # No token: Stripe calls this, and the signature is the authentication.
        applied = await self.billing.stripe_webhook(request.payload, request.signature)
        return pb.HandleStripeWebhookResponse(applied=applied)


def superbill_to_pb(b: dict[str, Any]) -> pb.Superbill:
    c = b["currency"]
    return pb.Superbill(
        appointment_id=b["appointment_id"],
        invoice_id=b["invoice_id"],
        client_id=b["client_id"],
        therapist_id=b["therapist_id"],
        clinic_id=b["clinic_id"],
        service_date=to_timestamp(b["service_date"]),
        connected_minutes=b["connected_minutes"],
        cpt_code=b["cpt_code"],
        modifier=b["modifier"],
        diagnosis_code=b["diagnosis_code"],
        licenses=[pb.TherapistLicense(**lic) for lic in b["licenses"]],
        charge=money(b["charge"], c),
        paid=money(b["paid"], c),
        modality=b["modality"],
    )


def statement_to_pb(s: domain.PayoutStatement) -> pb.PayoutStatement:
    c = s.currency
    return pb.PayoutStatement(
        therapist_id=s.therapist_id,
        period=s.period,
        currency=c,
        lines=[
            pb.PayoutLine(
                invoice_id=x.invoice_id,
                appointment_id=x.appointment_id,
                earned_at=to_timestamp(x.earned_at),
                gross=money(x.gross, c),
                commission=money(x.commission, c),
                fees=money(x.fees, c),
                net=money(x.net, c),
            )
            for x in s.lines
        ],
        sessions=len(s.lines),
        gross=money(s.gross, c),
        commission=money(s.commission, c),
        fees=money(s.fees, c),
        net=money(s.net, c),
        ledger_net=money(s.ledger_net, c),
        reconciled=s.reconciled,
        payout_status=s.payout_status,
        payout_reference=s.payout_reference,
    )
