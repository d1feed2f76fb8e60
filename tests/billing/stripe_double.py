"""A local HTTP double of the part of Stripe's API billing uses, shaped like Stripe's documented
responses (PaymentIntent objects, error envelopes, idempotent replays), on 127.0.0.1. The
official `stripe` library talks to it unchanged (its API base points here). It records every
request so tests can check idempotency keys and that no PHI reaches the processor.

Also Refunds, payouts on a connected account and account look-ups, and it signs webhook payloads
the way Stripe does (t=<unix>,v1=HMAC-SHA256(secret, "t.payload")).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import uvicorn
from rapport_local import procs
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

WEBHOOK_SECRET = "whsec_test_double"
# The Connect endpoint's own secret (connected accounts' events, such as payouts).
CONNECT_WEBHOOK_SECRET = "whsec_test_double_connect"
API_KEY = "sk_test_double"


def _nest(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """metadata[invoice_id]=x -> {"metadata": {"invoice_id": "x"}} (Stripe's form encoding)."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        parts = key.replace("]", "").split("[")
        node = out
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = value
    return out


@dataclass
class Recorded:
    method: str
    path: str
    params: dict[str, Any]
    idempotency_key: str | None
    body: str
    stripe_account: str | None = None


@dataclass
class StripeDouble:
    port: int = field(default_factory=procs.free_port)
    intents: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    replies_by_key: dict[str, dict[str, Any]] = field(default_factory=dict)
    refunds: dict[str, dict[str, Any]] = field(default_factory=dict)
    payouts: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Connected accounts this platform may act for (GET /v1/accounts/{id} answers 200).
    accounts: set[str] = field(default_factory=lambda: {"acct_clinicdouble"})
    down: bool = False
    decline_capture: bool = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _record(self, request: Request) -> tuple[dict[str, Any], str | None]:
        body = (await request.body()).decode()
        params = _nest(parse_qsl(body, keep_blank_values=True))
        key = request.headers.get("idempotency-key")
        account = request.headers.get("stripe-account")
        self.requests.append(Recorded(request.method, request.url.path, params, key, body, account))
        return params, key

    def _unavailable(self) -> JSONResponse:
        return JSONResponse(
            {"error": {"type": "api_error", "message": "The service is unavailable."}},
            status_code=503,
        )

    async def create(self, request: Request) -> JSONResponse:
        params, key = await self._record(request)
        if self.down:
            return self._unavailable()
        if key and key in self.replies_by_key:  # Stripe replays the first answer for a key
            return JSONResponse(self.replies_by_key[key], headers={"Idempotent-Replayed": "true"})
        pid = f"pi_{uuid.uuid4().hex[:24]}"
        intent = {
            "id": pid,
            "object": "payment_intent",
            "amount": int(params["amount"]),
            "amount_capturable": 0,
            "amount_received": 0,
            "currency": params["currency"],
            "capture_method": params.get("capture_method", "automatic"),
            "client_secret": f"{pid}_secret_{uuid.uuid4().hex[:16]}",
            "metadata": params.get("metadata", {}),
            "status": "requires_payment_method",
            "statement_descriptor_suffix": params.get("statement_descriptor_suffix"),
            "transfer_data": params.get("transfer_data"),
            "application_fee_amount": int(params["application_fee_amount"])
            if "application_fee_amount" in params
            else None,
            "livemode": False,
            "created": int(time.time()),
        }
        self.intents[pid] = intent
        if key:
            self.replies_by_key[key] = intent
        return JSONResponse(intent)

    async def capture(self, request: Request) -> JSONResponse:
        params, key = await self._record(request)
        if self.down:
            return self._unavailable()
        if key and key in self.replies_by_key:
            return JSONResponse(self.replies_by_key[key], headers={"Idempotent-Replayed": "true"})
        intent = self.intents.get(request.path_params["pid"])
        if intent is None:
            return self._error(404, "resource_missing", "No such payment_intent")
        if self.decline_capture:
            return self._error(402, "card_declined", "Your card was declined.", "card_error")
        if intent["status"] != "requires_capture":
            return self._error(
                400, "payment_intent_unexpected_state", "This PaymentIntent could not be captured"
            )
        amount = int(params.get("amount_to_capture", intent["amount_capturable"]))
        intent.update(status="succeeded", amount_received=amount, amount_capturable=0)
        if key:
            self.replies_by_key[key] = dict(intent)
        return JSONResponse(intent)

    async def cancel(self, request: Request) -> JSONResponse:
        await self._record(request)
        if self.down:
            return self._unavailable()
        intent = self.intents.get(request.path_params["pid"])
        if intent is None:
            return self._error(404, "resource_missing", "No such payment_intent")
        intent.update(status="canceled", amount_capturable=0)
        return JSONResponse(intent)

    async def refund(self, request: Request) -> JSONResponse:
        """POST /v1/refunds: a Refund object, status pending (the result comes by webhook)."""
        params, key = await self._record(request)
        if self.down:
            return self._unavailable()
        if key and key in self.replies_by_key:
            return JSONResponse(self.replies_by_key[key], headers={"Idempotent-Replayed": "true"})
        intent = self.intents.get(params.get("payment_intent", ""))
        if intent is None:
            return self._error(404, "resource_missing", "No such payment_intent")
        amount = int(params.get("amount", intent["amount_received"]))
        if intent["status"] != "succeeded" or amount > intent["amount_received"]:
            return self._error(400, "charge_already_refunded", "Nothing left to refund")
        rid = f"re_{uuid.uuid4().hex[:24]}"
        refund = {
            "id": rid,
            "object": "refund",
            "amount": amount,
            "currency": intent["currency"],
            "payment_intent": intent["id"],
            "metadata": params.get("metadata", {}),
            "status": "pending",
            "created": int(time.time()),
        }
        intent["amount_received"] -= amount
        self.refunds[rid] = refund
        if key:
            self.replies_by_key[key] = refund
        return JSONResponse(refund)

    async def payout(self, request: Request) -> JSONResponse:
        """POST /v1/payouts on a connected account (Stripe-Account header)."""
        params, key = await self._record(request)
        if self.down:
            return self._unavailable()
        if key and key in self.replies_by_key:
            return JSONResponse(self.replies_by_key[key], headers={"Idempotent-Replayed": "true"})
        if request.headers.get("stripe-account") not in self.accounts:
            return self._error(403, "account_invalid", "No such connected account")
        pid = f"po_{uuid.uuid4().hex[:24]}"
        payout = {
            "id": pid,
            "object": "payout",
            "amount": int(params["amount"]),
            "currency": params["currency"],
            "metadata": params.get("metadata", {}),
            "status": "pending",
            "created": int(time.time()),
        }
        self.payouts[pid] = payout
        if key:
            self.replies_by_key[key] = payout
        return JSONResponse(payout)

    async def account(self, request: Request) -> JSONResponse:
        await self._record(request)
        if self.down:
            return self._unavailable()
        aid = request.path_params["aid"]
        if aid not in self.accounts:
            return self._error(
                403, "account_invalid", "The provided key does not have access to account"
            )
        return JSONResponse(
            {"id": aid, "object": "account", "charges_enabled": True, "payouts_enabled": True}
        )

    @staticmethod
    def _error(
        status: int, code: str, message: str, kind: str = "invalid_request_error"
    ) -> JSONResponse:
        return JSONResponse(
            {"error": {"type": kind, "code": code, "message": message}}, status_code=status
        )

    # --- what the client app and Stripe would do --------------------------------------------

    def authorize(self, pid: str) -> None:
        """The client completed the PaymentIntent with Stripe.js: funds held."""
        intent = self.intents[pid]
        intent.update(status="requires_capture", amount_capturable=intent["amount"])

    def event(self, kind: str, pid: str, event_id: str | None = None) -> bytes:
        if pid.startswith("re_"):
            obj = dict(self.refunds[pid])
        elif pid.startswith("po_"):
            obj = dict(self.payouts[pid])
        else:
            obj = dict(self.intents[pid])
        return json.dumps(
            {
                "id": event_id or f"evt_{uuid.uuid4().hex[:24]}",
                "object": "event",
                "api_version": "2025-01-27.acacia",
                "created": int(time.time()),
                "livemode": False,
                "type": kind,
                "data": {"object": obj},
            }
        ).encode()

    @staticmethod
    def sign(payload: bytes, secret: str = WEBHOOK_SECRET, at: int | None = None) -> str:
        t = int(time.time()) if at is None else at
        mac = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
        return f"t={t},v1={mac}"

    # --- lifecycle --------------------------------------------------------------------------

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1/payment_intents", self.create, methods=["POST"]),
                Route("/v1/payment_intents/{pid}/capture", self.capture, methods=["POST"]),
                Route("/v1/payment_intents/{pid}/cancel", self.cancel, methods=["POST"]),
                Route("/v1/refunds", self.refund, methods=["POST"]),
                Route("/v1/payouts", self.payout, methods=["POST"]),
                Route("/v1/accounts/{aid}", self.account, methods=["GET"]),
            ]
        )

    async def __aenter__(self) -> StripeDouble:
        config = uvicorn.Config(
            self.app(), host="127.0.0.1", port=self.port, log_config=None, access_log=False
        )
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server.serve())
        while not self._server.started:
            if self._task.done():
                self._task.result()
            await asyncio.sleep(0.02)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
