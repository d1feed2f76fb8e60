import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from rapport.types.v1 import money_pb2 as _money_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class InvoiceStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    INVOICE_STATUS_UNSPECIFIED: _ClassVar[InvoiceStatus]
    INVOICE_STATUS_OPEN: _ClassVar[InvoiceStatus]
    INVOICE_STATUS_AUTHORIZED: _ClassVar[InvoiceStatus]
    INVOICE_STATUS_PAID: _ClassVar[InvoiceStatus]
    INVOICE_STATUS_VOID: _ClassVar[InvoiceStatus]
    INVOICE_STATUS_REFUNDED: _ClassVar[InvoiceStatus]
INVOICE_STATUS_UNSPECIFIED: InvoiceStatus
INVOICE_STATUS_OPEN: InvoiceStatus
INVOICE_STATUS_AUTHORIZED: InvoiceStatus
INVOICE_STATUS_PAID: InvoiceStatus
INVOICE_STATUS_VOID: InvoiceStatus
INVOICE_STATUS_REFUNDED: InvoiceStatus

class StatusChange(_message.Message):
    __slots__ = ("status", "at")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    status: str
    at: _timestamp_pb2.Timestamp
    def __init__(self, status: _Optional[str] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Invoice(_message.Message):
    __slots__ = ("invoice_id", "appointment_id", "client_id", "therapist_id", "clinic_id", "amount", "paid", "status", "earned", "history", "appointment_start", "created_at", "list_price", "refund_due", "by_hand")
    INVOICE_ID_FIELD_NUMBER: _ClassVar[int]
    APPOINTMENT_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    THERAPIST_ID_FIELD_NUMBER: _ClassVar[int]
    CLINIC_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    PAID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    EARNED_FIELD_NUMBER: _ClassVar[int]
    HISTORY_FIELD_NUMBER: _ClassVar[int]
    APPOINTMENT_START_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    LIST_PRICE_FIELD_NUMBER: _ClassVar[int]
    REFUND_DUE_FIELD_NUMBER: _ClassVar[int]
    BY_HAND_FIELD_NUMBER: _ClassVar[int]
    invoice_id: str
    appointment_id: str
    client_id: str
    therapist_id: str
    clinic_id: str
    amount: _money_pb2.Money
    paid: _money_pb2.Money
    status: InvoiceStatus
    earned: bool
    history: _containers.RepeatedCompositeFieldContainer[StatusChange]
    appointment_start: _timestamp_pb2.Timestamp
    created_at: _timestamp_pb2.Timestamp
    list_price: _money_pb2.Money
    refund_due: _money_pb2.Money
    by_hand: _containers.RepeatedCompositeFieldContainer[ByHand]
    def __init__(self, invoice_id: _Optional[str] = ..., appointment_id: _Optional[str] = ..., client_id: _Optional[str] = ..., therapist_id: _Optional[str] = ..., clinic_id: _Optional[str] = ..., amount: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., paid: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., status: _Optional[_Union[InvoiceStatus, str]] = ..., earned: _Optional[bool] = ..., history: _Optional[_Iterable[_Union[StatusChange, _Mapping]]] = ..., appointment_start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., list_price: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., refund_due: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., by_hand: _Optional[_Iterable[_Union[ByHand, _Mapping]]] = ...) -> None: ...

class ByHand(_message.Message):
    __slots__ = ("kind", "amount", "method", "reference", "at", "recorded_by")
    KIND_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    RECORDED_BY_FIELD_NUMBER: _ClassVar[int]
    kind: str
    amount: _money_pb2.Money
    method: str
    reference: str
    at: _timestamp_pb2.Timestamp
    recorded_by: str
    def __init__(self, kind: _Optional[str] = ..., amount: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., method: _Optional[str] = ..., reference: _Optional[str] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., recorded_by: _Optional[str] = ...) -> None: ...

class ListInvoicesRequest(_message.Message):
    __slots__ = ("limit", "cursor")
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    limit: int
    cursor: str
    def __init__(self, limit: _Optional[int] = ..., cursor: _Optional[str] = ...) -> None: ...

class ListInvoicesResponse(_message.Message):
    __slots__ = ("items", "next_cursor")
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    NEXT_CURSOR_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[Invoice]
    next_cursor: str
    def __init__(self, items: _Optional[_Iterable[_Union[Invoice, _Mapping]]] = ..., next_cursor: _Optional[str] = ...) -> None: ...

class StartPaymentRequest(_message.Message):
    __slots__ = ("appointment_id",)
    APPOINTMENT_ID_FIELD_NUMBER: _ClassVar[int]
    appointment_id: str
    def __init__(self, appointment_id: _Optional[str] = ...) -> None: ...

class StartPaymentResponse(_message.Message):
    __slots__ = ("invoice", "payment_id", "provider", "client_secret", "payment_status")
    INVOICE_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    CLIENT_SECRET_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_STATUS_FIELD_NUMBER: _ClassVar[int]
    invoice: Invoice
    payment_id: str
    provider: str
    client_secret: str
    payment_status: str
    def __init__(self, invoice: _Optional[_Union[Invoice, _Mapping]] = ..., payment_id: _Optional[str] = ..., provider: _Optional[str] = ..., client_secret: _Optional[str] = ..., payment_status: _Optional[str] = ...) -> None: ...

class RecordManualPaymentRequest(_message.Message):
    __slots__ = ("invoice_id", "amount", "method", "reference")
    INVOICE_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    invoice_id: str
    amount: _money_pb2.Money
    method: str
    reference: str
    def __init__(self, invoice_id: _Optional[str] = ..., amount: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., method: _Optional[str] = ..., reference: _Optional[str] = ...) -> None: ...

class RecordManualPaymentResponse(_message.Message):
    __slots__ = ("invoice",)
    INVOICE_FIELD_NUMBER: _ClassVar[int]
    invoice: Invoice
    def __init__(self, invoice: _Optional[_Union[Invoice, _Mapping]] = ...) -> None: ...

class SlidingScaleRate(_message.Message):
    __slots__ = ("client_id", "rate_bps")
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    RATE_BPS_FIELD_NUMBER: _ClassVar[int]
    client_id: str
    rate_bps: int
    def __init__(self, client_id: _Optional[str] = ..., rate_bps: _Optional[int] = ...) -> None: ...

class ClinicBilling(_message.Message):
    __slots__ = ("clinic_id", "payment_first", "sliding_scale", "has_no_show_fee", "no_show_fee_minor", "commission_bps", "currency", "stripe_account")
    CLINIC_ID_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_FIRST_FIELD_NUMBER: _ClassVar[int]
    SLIDING_SCALE_FIELD_NUMBER: _ClassVar[int]
    HAS_NO_SHOW_FEE_FIELD_NUMBER: _ClassVar[int]
    NO_SHOW_FEE_MINOR_FIELD_NUMBER: _ClassVar[int]
    COMMISSION_BPS_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    STRIPE_ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    clinic_id: str
    payment_first: bool
    sliding_scale: _containers.RepeatedCompositeFieldContainer[SlidingScaleRate]
    has_no_show_fee: bool
    no_show_fee_minor: int
    commission_bps: int
    currency: str
    stripe_account: str
    def __init__(self, clinic_id: _Optional[str] = ..., payment_first: _Optional[bool] = ..., sliding_scale: _Optional[_Iterable[_Union[SlidingScaleRate, _Mapping]]] = ..., has_no_show_fee: _Optional[bool] = ..., no_show_fee_minor: _Optional[int] = ..., commission_bps: _Optional[int] = ..., currency: _Optional[str] = ..., stripe_account: _Optional[str] = ...) -> None: ...

class GetClinicBillingRequest(_message.Message):
    __slots__ = ("clinic_id",)
    CLINIC_ID_FIELD_NUMBER: _ClassVar[int]
    clinic_id: str
    def __init__(self, clinic_id: _Optional[str] = ...) -> None: ...

class GetClinicBillingResponse(_message.Message):
    __slots__ = ("billing",)
    BILLING_FIELD_NUMBER: _ClassVar[int]
    billing: ClinicBilling
    def __init__(self, billing: _Optional[_Union[ClinicBilling, _Mapping]] = ...) -> None: ...

class PutClinicBillingRequest(_message.Message):
    __slots__ = ("clinic_id", "payment_first", "sliding_scale", "has_no_show_fee", "no_show_fee_minor")
    CLINIC_ID_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_FIRST_FIELD_NUMBER: _ClassVar[int]
    SLIDING_SCALE_FIELD_NUMBER: _ClassVar[int]
    HAS_NO_SHOW_FEE_FIELD_NUMBER: _ClassVar[int]
    NO_SHOW_FEE_MINOR_FIELD_NUMBER: _ClassVar[int]
    clinic_id: str
    payment_first: bool
    sliding_scale: _containers.RepeatedCompositeFieldContainer[SlidingScaleRate]
    has_no_show_fee: bool
    no_show_fee_minor: int
    def __init__(self, clinic_id: _Optional[str] = ..., payment_first: _Optional[bool] = ..., sliding_scale: _Optional[_Iterable[_Union[SlidingScaleRate, _Mapping]]] = ..., has_no_show_fee: _Optional[bool] = ..., no_show_fee_minor: _Optional[int] = ...) -> None: ...

class PutClinicBillingResponse(_message.Message):
    __slots__ = ("billing",)
    BILLING_FIELD_NUMBER: _ClassVar[int]
    billing: ClinicBilling
    def __init__(self, billing: _Optional[_Union[ClinicBilling, _Mapping]] = ...) -> None: ...

class CheckLedgerRequest(_message.Message):
    __slots__ = ("clinic_id",)
    CLINIC_ID_FIELD_NUMBER: _ClassVar[int]
    clinic_id: str
    def __init__(self, clinic_id: _Optional[str] = ...) -> None: ...

class AccountBalance(_message.Message):
    __slots__ = ("account", "balance")
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    BALANCE_FIELD_NUMBER: _ClassVar[int]
    account: str
    balance: _money_pb2.Money
    def __init__(self, account: _Optional[str] = ..., balance: _Optional[_Union[_money_pb2.Money, _Mapping]] = ...) -> None: ...

class CheckLedgerResponse(_message.Message):
    __slots__ = ("balanced", "entries_checked", "unbalanced_entries", "totals", "balances")
    BALANCED_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_CHECKED_FIELD_NUMBER: _ClassVar[int]
    UNBALANCED_ENTRIES_FIELD_NUMBER: _ClassVar[int]
    TOTALS_FIELD_NUMBER: _ClassVar[int]
    BALANCES_FIELD_NUMBER: _ClassVar[int]
    balanced: bool
    entries_checked: int
    unbalanced_entries: _containers.RepeatedScalarFieldContainer[str]
    totals: _containers.RepeatedCompositeFieldContainer[_money_pb2.Money]
    balances: _containers.RepeatedCompositeFieldContainer[AccountBalance]
    def __init__(self, balanced: _Optional[bool] = ..., entries_checked: _Optional[int] = ..., unbalanced_entries: _Optional[_Iterable[str]] = ..., totals: _Optional[_Iterable[_Union[_money_pb2.Money, _Mapping]]] = ..., balances: _Optional[_Iterable[_Union[AccountBalance, _Mapping]]] = ...) -> None: ...

class GetPayoutStatementRequest(_message.Message):
    __slots__ = ("therapist_id", "period")
    THERAPIST_ID_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    therapist_id: str
    period: str
    def __init__(self, therapist_id: _Optional[str] = ..., period: _Optional[str] = ...) -> None: ...

class PayoutLine(_message.Message):
    __slots__ = ("invoice_id", "appointment_id", "earned_at", "gross", "commission", "fees", "net")
    INVOICE_ID_FIELD_NUMBER: _ClassVar[int]
    APPOINTMENT_ID_FIELD_NUMBER: _ClassVar[int]
    EARNED_AT_FIELD_NUMBER: _ClassVar[int]
    GROSS_FIELD_NUMBER: _ClassVar[int]
    COMMISSION_FIELD_NUMBER: _ClassVar[int]
    FEES_FIELD_NUMBER: _ClassVar[int]
    NET_FIELD_NUMBER: _ClassVar[int]
    invoice_id: str
    appointment_id: str
    earned_at: _timestamp_pb2.Timestamp
    gross: _money_pb2.Money
    commission: _money_pb2.Money
    fees: _money_pb2.Money
    net: _money_pb2.Money
    def __init__(self, invoice_id: _Optional[str] = ..., appointment_id: _Optional[str] = ..., earned_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., gross: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., commission: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., fees: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., net: _Optional[_Union[_money_pb2.Money, _Mapping]] = ...) -> None: ...

class PayoutStatement(_message.Message):
    __slots__ = ("therapist_id", "period", "currency", "lines", "sessions", "gross", "commission", "fees", "net", "ledger_net", "reconciled", "payout_status", "payout_reference")
    THERAPIST_ID_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    LINES_FIELD_NUMBER: _ClassVar[int]
    SESSIONS_FIELD_NUMBER: _ClassVar[int]
    GROSS_FIELD_NUMBER: _ClassVar[int]
    COMMISSION_FIELD_NUMBER: _ClassVar[int]
    FEES_FIELD_NUMBER: _ClassVar[int]
    NET_FIELD_NUMBER: _ClassVar[int]
    LEDGER_NET_FIELD_NUMBER: _ClassVar[int]
    RECONCILED_FIELD_NUMBER: _ClassVar[int]
    PAYOUT_STATUS_FIELD_NUMBER: _ClassVar[int]
    PAYOUT_REFERENCE_FIELD_NUMBER: _ClassVar[int]
    therapist_id: str
    period: str
    currency: str
    lines: _containers.RepeatedCompositeFieldContainer[PayoutLine]
    sessions: int
    gross: _money_pb2.Money
    commission: _money_pb2.Money
    fees: _money_pb2.Money
    net: _money_pb2.Money
    ledger_net: _money_pb2.Money
    reconciled: bool
    payout_status: str
    payout_reference: str
    def __init__(self, therapist_id: _Optional[str] = ..., period: _Optional[str] = ..., currency: _Optional[str] = ..., lines: _Optional[_Iterable[_Union[PayoutLine, _Mapping]]] = ..., sessions: _Optional[int] = ..., gross: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., commission: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., fees: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., net: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., ledger_net: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., reconciled: _Optional[bool] = ..., payout_status: _Optional[str] = ..., payout_reference: _Optional[str] = ...) -> None: ...

class GetPayoutStatementResponse(_message.Message):
    __slots__ = ("statement",)
    STATEMENT_FIELD_NUMBER: _ClassVar[int]
    statement: PayoutStatement
    def __init__(self, statement: _Optional[_Union[PayoutStatement, _Mapping]] = ...) -> None: ...

class RetryPayoutRequest(_message.Message):
    __slots__ = ("therapist_id", "period")
    THERAPIST_ID_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    therapist_id: str
    period: str
    def __init__(self, therapist_id: _Optional[str] = ..., period: _Optional[str] = ...) -> None: ...

class RetryPayoutResponse(_message.Message):
    __slots__ = ("statement",)
    STATEMENT_FIELD_NUMBER: _ClassVar[int]
    statement: PayoutStatement
    def __init__(self, statement: _Optional[_Union[PayoutStatement, _Mapping]] = ...) -> None: ...

class SetDiagnosisRequest(_message.Message):
    __slots__ = ("appointment_id", "diagnosis_code")
    APPOINTMENT_ID_FIELD_NUMBER: _ClassVar[int]
    DIAGNOSIS_CODE_FIELD_NUMBER: _ClassVar[int]
    appointment_id: str
    diagnosis_code: str
    def __init__(self, appointment_id: _Optional[str] = ..., diagnosis_code: _Optional[str] = ...) -> None: ...

class SetDiagnosisResponse(_message.Message):
    __slots__ = ("superbill",)
    SUPERBILL_FIELD_NUMBER: _ClassVar[int]
    superbill: Superbill
    def __init__(self, superbill: _Optional[_Union[Superbill, _Mapping]] = ...) -> None: ...

class TherapistLicense(_message.Message):
    __slots__ = ("kind", "jurisdiction", "number")
    KIND_FIELD_NUMBER: _ClassVar[int]
    JURISDICTION_FIELD_NUMBER: _ClassVar[int]
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    kind: str
    jurisdiction: str
    number: str
    def __init__(self, kind: _Optional[str] = ..., jurisdiction: _Optional[str] = ..., number: _Optional[str] = ...) -> None: ...

class Superbill(_message.Message):
    __slots__ = ("appointment_id", "invoice_id", "client_id", "therapist_id", "clinic_id", "service_date", "connected_minutes", "cpt_code", "modifier", "diagnosis_code", "licenses", "charge", "paid", "modality")
    APPOINTMENT_ID_FIELD_NUMBER: _ClassVar[int]
    INVOICE_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    THERAPIST_ID_FIELD_NUMBER: _ClassVar[int]
    CLINIC_ID_FIELD_NUMBER: _ClassVar[int]
    SERVICE_DATE_FIELD_NUMBER: _ClassVar[int]
    CONNECTED_MINUTES_FIELD_NUMBER: _ClassVar[int]
    CPT_CODE_FIELD_NUMBER: _ClassVar[int]
    MODIFIER_FIELD_NUMBER: _ClassVar[int]
    DIAGNOSIS_CODE_FIELD_NUMBER: _ClassVar[int]
    LICENSES_FIELD_NUMBER: _ClassVar[int]
    CHARGE_FIELD_NUMBER: _ClassVar[int]
    PAID_FIELD_NUMBER: _ClassVar[int]
    MODALITY_FIELD_NUMBER: _ClassVar[int]
    appointment_id: str
    invoice_id: str
    client_id: str
    therapist_id: str
    clinic_id: str
    service_date: _timestamp_pb2.Timestamp
    connected_minutes: int
    cpt_code: str
    modifier: str
    diagnosis_code: str
    licenses: _containers.RepeatedCompositeFieldContainer[TherapistLicense]
    charge: _money_pb2.Money
    paid: _money_pb2.Money
    modality: str
    def __init__(self, appointment_id: _Optional[str] = ..., invoice_id: _Optional[str] = ..., client_id: _Optional[str] = ..., therapist_id: _Optional[str] = ..., clinic_id: _Optional[str] = ..., service_date: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., connected_minutes: _Optional[int] = ..., cpt_code: _Optional[str] = ..., modifier: _Optional[str] = ..., diagnosis_code: _Optional[str] = ..., licenses: _Optional[_Iterable[_Union[TherapistLicense, _Mapping]]] = ..., charge: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., paid: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., modality: _Optional[str] = ...) -> None: ...

class GetSuperbillRequest(_message.Message):
    __slots__ = ("appointment_id",)
    APPOINTMENT_ID_FIELD_NUMBER: _ClassVar[int]
    appointment_id: str
    def __init__(self, appointment_id: _Optional[str] = ...) -> None: ...

class GetSuperbillResponse(_message.Message):
    __slots__ = ("superbill",)
    SUPERBILL_FIELD_NUMBER: _ClassVar[int]
    superbill: Superbill
    def __init__(self, superbill: _Optional[_Union[Superbill, _Mapping]] = ...) -> None: ...

class HandleStripeWebhookRequest(_message.Message):
    __slots__ = ("payload", "signature")
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    payload: bytes
    signature: str
    def __init__(self, payload: _Optional[bytes] = ..., signature: _Optional[str] = ...) -> None: ...

class HandleStripeWebhookResponse(_message.Message):
    __slots__ = ("applied",)
    APPLIED_FIELD_NUMBER: _ClassVar[int]
    applied: bool
    def __init__(self, applied: _Optional[bool] = ...) -> None: ...

class RecordManualRefundRequest(_message.Message):
    __slots__ = ("invoice_id", "amount", "method", "reference")
    INVOICE_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    invoice_id: str
    amount: _money_pb2.Money
    method: str
    reference: str
    def __init__(self, invoice_id: _Optional[str] = ..., amount: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., method: _Optional[str] = ..., reference: _Optional[str] = ...) -> None: ...

class RecordManualRefundResponse(_message.Message):
    __slots__ = ("invoice",)
    INVOICE_FIELD_NUMBER: _ClassVar[int]
    invoice: Invoice
    def __init__(self, invoice: _Optional[_Union[Invoice, _Mapping]] = ...) -> None: ...

class SetClinicStripeAccountRequest(_message.Message):
    __slots__ = ("clinic_id", "account_id")
    CLINIC_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    clinic_id: str
    account_id: str
    def __init__(self, clinic_id: _Optional[str] = ..., account_id: _Optional[str] = ...) -> None: ...

class SetClinicStripeAccountResponse(_message.Message):
    __slots__ = ("billing",)
    BILLING_FIELD_NUMBER: _ClassVar[int]
    billing: ClinicBilling
    def __init__(self, billing: _Optional[_Union[ClinicBilling, _Mapping]] = ...) -> None: ...
