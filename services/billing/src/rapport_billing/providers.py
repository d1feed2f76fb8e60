"""Payment providers behind one small interface: `manual` (a clinic admin records money that
arrived some other way) and `stripe` (the official library: PaymentIntents with manual capture,
Connect destination charges with an application fee, idempotency keys from invoice + attempt).

Nothing about the person or the session goes to a processor: opaque ids in metadata and a
generic statement descriptor only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import stripe

from rapport_billing.settings import BillingSettings


class ProviderDown(Exception):
    """The provider did not answer (or answered 5xx/429): try again later; nothing changed."""


class ProviderRefused(Exception):
    """The provider said no for good (declined, invalid request); `code` is its machine code."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class Authorization:
    payment_id: str
    client_secret: str
    # pending: the client app still has to complete it; authorized: money is held.
    status: str


@dataclass(frozen=True)
class Transfer:
    """A refund or a payout the processor accepted: its id and status (pending, in_transit,
    succeeded/paid, failed)."""

    ref: str
    status: str


class Provider(Protocol):
    name: str

    async def authorize(
        self,
        *,
        invoice_id: str,
        amount: int,
        currency: str,
        fee: int,
        attempt: int,
        destination: str = "",
    ) -> Authorization: ...

    async def capture(self, *, payment_id: str, amount: int, key: str) -> None: ...

    async def release(self, *, payment_id: str, key: str) -> None: ...

    async def refund(
        self, *, payment_id: str, invoice_id: str, amount: int, key: str
    ) -> Transfer: ...

    async def payout(
        self, *, account: str, amount: int, currency: str, payout_id: str, key: str
    ) -> Transfer: ...

    async def check_account(self, account: str) -> None: ...


class ManualProvider:
    """No processor: the 'authorization' waits for a clinic admin to record the payment."""

    name = "manual"

    async def authorize(
        self,
        *,
        invoice_id: str,
        amount: int,
        currency: str,
        fee: int,
        attempt: int,
        destination: str = "",
    ) -> Authorization:
        return Authorization(payment_id=f"manual:{invoice_id}", client_secret="", status="pending")

    async def capture(self, *, payment_id: str, amount: int, key: str) -> None:
        return None

    async def release(self, *, payment_id: str, key: str) -> None:
        return None

    async def refund(self, *, payment_id: str, invoice_id: str, amount: int, key: str) -> Transfer:
        # Never asked: money received by hand is returned by hand, and an admin records it.
        raise ProviderRefused("manual_provider")

    async def payout(
        self, *, account: str, amount: int, currency: str, payout_id: str, key: str
    ) -> Transfer:
        raise ProviderRefused("manual_provider")

    async def check_account(self, account: str) -> None:
        return None


class StripeProvider:
    name = "stripe"

    def __init__(self, settings: BillingSettings) -> None:
        base: Any = {"api": settings.stripe_api_base} if settings.stripe_api_base else None
        self.client = stripe.StripeClient(
            settings.stripe_api_key.get_secret_value(),
            base_addresses=base,
            http_client=stripe.HTTPXClient(timeout=settings.provider_timeout_seconds),
            max_network_retries=0,  # billing retries with its own backoff, with the same key
        )
        # The platform's endpoint, and the Connect endpoint (connected accounts' events).
        self.webhook_secrets = [
            s.get_secret_value()
            for s in (settings.stripe_webhook_secret, settings.stripe_connect_webhook_secret)
            if s.get_secret_value()
        ]
        self.descriptor = settings.statement_descriptor

    async def authorize(
        self,
        *,
        invoice_id: str,
        amount: int,
        currency: str,
        fee: int,
        attempt: int,
        destination: str = "",
    ) -> Authorization:
        params: dict[str, Any] = {
            "amount": amount,
            "currency": currency.lower(),
            "capture_method": "manual",
            "automatic_payment_methods": {"enabled": True},
            "statement_descriptor_suffix": self.descriptor[:22],
            "metadata": {"invoice_id": invoice_id},
        }
        if destination:
            params["transfer_data"] = {"destination": destination}
            if fee:
                params["application_fee_amount"] = fee
        intent = await self._call(
            self.client.v1.payment_intents.create_async(
                params,
                {"idempotency_key": f"{invoice_id}:authorize:{attempt}"},  # type: ignore[arg-type]
            )
        )
        status = "authorized" if intent.status == "requires_capture" else "pending"
        return Authorization(intent.id, intent.client_secret or "", status)

    async def capture(self, *, payment_id: str, amount: int, key: str) -> None:
        await self._call(
            self.client.v1.payment_intents.capture_async(
                payment_id, {"amount_to_capture": amount}, {"idempotency_key": key}
            )
        )

    async def release(self, *, payment_id: str, key: str) -> None:
        await self._call(
            self.client.v1.payment_intents.cancel_async(payment_id, None, {"idempotency_key": key})
        )

    async def refund(self, *, payment_id: str, invoice_id: str, amount: int, key: str) -> Transfer:
        """A Refund of a captured PaymentIntent. With a destination charge the transfer to the
        connected account and the application fee are reversed in proportion, so the clinic
        and the platform give back their shares."""
        params: dict[str, Any] = {
            "payment_intent": payment_id,
            "amount": amount,
            "metadata": {"invoice_id": invoice_id},
            "reverse_transfer": True,
            "refund_application_fee": True,
        }
        refund = await self._call(
            self.client.v1.refunds.create_async(params, {"idempotency_key": key})  # type: ignore[arg-type]
        )
        return Transfer(str(refund.id), str(refund.status or "pending"))

    async def payout(
        self, *, account: str, amount: int, currency: str, payout_id: str, key: str
    ) -> Transfer:
        """A payout from the connected account's Stripe balance (where destination charges put
        the money) to its bank: the platform triggers it for a reconciled statement."""
        params: dict[str, Any] = {
            "amount": amount,
            "currency": currency.lower(),
            "statement_descriptor": self.descriptor[:22],
            "metadata": {"payout_id": payout_id},
        }
        payout = await self._call(
            self.client.v1.payouts.create_async(
                params,
                {"idempotency_key": key, "stripe_account": account},  # type: ignore[arg-type]
            )
        )
        return Transfer(str(payout.id), str(payout.status or "pending"))

    async def check_account(self, account: str) -> None:
        """The account exists and this platform may act for it (Stripe answers 403/404 if not)."""
        await self._call(self.client.v1.accounts.retrieve_async(account))

    def verify(self, payload: bytes, signature: str) -> stripe.Event:
        """The library's signature check (HMAC over timestamp.payload, with a replay tolerance)."""
        for secret in self.webhook_secrets[:-1]:
            try:
                return self.client.construct_event(payload, signature, secret)
            except stripe.SignatureVerificationError:
                continue
        return self.client.construct_event(payload, signature, self.webhook_secrets[-1])

    @staticmethod
    async def _call(awaitable: Any) -> Any:
        try:
            return await awaitable
        except (stripe.APIConnectionError, stripe.RateLimitError) as exc:
            raise ProviderDown(type(exc).__name__) from None
        except stripe.StripeError as exc:
            status = exc.http_status or 0
            if status >= 500 or status == 0:
                raise ProviderDown(type(exc).__name__) from None
            raise ProviderRefused(exc.code or "refused") from None


def make_provider(settings: BillingSettings) -> ManualProvider | StripeProvider:
    return StripeProvider(settings) if settings.provider == "stripe" else ManualProvider()
