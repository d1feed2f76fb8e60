"""Vault (OpenBao locally, HashiCorp Vault in Kubernetes) through hvac.

hvac is synchronous; calls run in worker threads of Vault's own so the event loop never blocks,
and a slow or frozen Vault never holds the threads of the loop's default executor: PyMongo's
monitor resolves the database's address there (getaddrinfo) to reconnect after an outage, and
waits, unbounded, for a free one. Token auth locally, Kubernetes auth in a cluster. Each call
is timed in `rapport.vault.request.duration`.
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import contextlib
import contextvars
import functools
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import hvac

from rapport_platform.settings import VaultSettings
from rapport_platform.telemetry import meter

T = TypeVar("T")
log = logging.getLogger(__name__)
SA_TOKEN = Path("/var/run/secrets/kubernetes.io/serviceaccount/token")
_duration = meter("rapport.vault").create_histogram(
    "rapport.vault.request.duration", unit="s", description="Vault request latency"
)


class Vault:
    def __init__(self, settings: VaultSettings, *, timeout: float = 5.0, workers: int = 8) -> None:
        self.mount = settings.vault_transit_mount
        self.client = hvac.Client(url=settings.vault_addr, timeout=timeout)
        self._pool = concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="vault")
        self._settings = settings
        if settings.vault_auth == "token":
            self.client.token = settings.vault_token

    async def login(self) -> None:
        if self._settings.vault_auth == "kubernetes":
            jwt = await self._run(SA_TOKEN.read_text)
            await self.call(
                "login",
                lambda c: c.auth.kubernetes.login(role=self._settings.vault_role, jwt=jwt),
            )

    async def call(self, operation: str, fn: Callable[[hvac.Client], T]) -> T:
        """Run fn(client) off the event loop, timing it under `operation` (never a key's data)."""
        started = time.perf_counter()
        try:
            return await self._run(fn, self.client)
        finally:
            _duration.record(time.perf_counter() - started, {"operation": operation})

    async def _run(self, fn: Callable[..., T], *args: object) -> T:
        # As asyncio.to_thread, with the caller's context (its span), on Vault's own threads.
        call = functools.partial(contextvars.copy_context().run, fn, *args)
        return await asyncio.get_running_loop().run_in_executor(self._pool, call)

    async def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    async def keep_token_alive(self, stop: asyncio.Event, interval_s: float = 3600.0) -> None:
        """Periodic tokens die unless renewed; Kubernetes logins expire: refresh hourly."""
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval_s)
            if stop.is_set():
                return
            try:
                if self._settings.vault_auth == "kubernetes":
                    await self.login()
                else:
                    await self.call("renew_self", lambda c: c.auth.token.renew_self())
            except Exception as exc:  # Vault down: readiness reports it; try again next round
                log.warning("vault token renewal failed: %s", type(exc).__name__)

    async def check(self) -> None:
        """Readiness: Vault answers, is unsealed, and our token is valid."""
        if await self.call("seal_status", lambda c: c.sys.is_sealed()):
            raise ConnectionError("vault is sealed")
        await self.call("lookup_self", lambda c: c.auth.token.lookup_self())


class SecretBox:
    """Small per-account secrets (TOTP seeds) sealed by a derived transit key: Mongo holds only
    ciphertext, and a ciphertext opens only under the account id it was sealed for."""

    def __init__(self, vault: Vault, name: str) -> None:
        self._vault = vault
        self._name = name

    @staticmethod
    def _b64(text: str) -> str:
        return base64.b64encode(text.encode()).decode()

    async def seal(self, account_id: str, plaintext: str) -> str:
        reply = await self._vault.call(
            "transit.encrypt",
            lambda c: c.secrets.transit.encrypt_data(
                self._name,
                plaintext=self._b64(plaintext),
                context=self._b64(account_id),
                mount_point=self._vault.mount,
            ),
        )
        return str(reply["data"]["ciphertext"])

    async def open(self, account_id: str, ciphertext: str) -> str:
        reply = await self._vault.call(
            "transit.decrypt",
            lambda c: c.secrets.transit.decrypt_data(
                self._name,
                ciphertext=ciphertext,
                context=self._b64(account_id),
                mount_point=self._vault.mount,
            ),
        )
        return base64.b64decode(reply["data"]["plaintext"]).decode()
