"""Notes-vault figures for `make bench`: note write and read p50/p99 through the gateway, next
to a bare Vault transit datakey + AES-GCM seal and transit decrypt + AES-GCM open measured in
the same run against the same OpenBao (their difference is what the service adds: auth, access
rules, the projection lookup, the audit chain's transaction, gRPC and HTTP)."""

from __future__ import annotations

import asyncio
import base64
import os
import statistics
import time
import uuid
from dataclasses import dataclass, field

import httpx
import hvac
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from tests.notes_vault.helpers import Care, soap


@dataclass
class Latencies:
    samples: dict[str, list[float]] = field(default_factory=dict)

    def add(self, name: str, seconds: float) -> None:
        self.samples.setdefault(name, []).append(seconds)

    def pct(self, name: str, p: int) -> float:
        xs = self.samples.get(name, [])
        if len(xs) < 2:
            return xs[0] if xs else 0.0
        return statistics.quantiles(xs, n=100, method="inclusive")[p - 1]

    def line(self, name: str) -> str:
        n = len(self.samples.get(name, []))
        return (
            f"  {name:<28} n={n:<4} p50 {self.pct(name, 50) * 1000:7.1f} ms   "
            f"p99 {self.pct(name, 99) * 1000:7.1f} ms"
        )


async def _bounded(n: int, concurrency: int, deadline: float, op) -> None:
    todo = iter(range(n))

    async def worker() -> None:
        for i in todo:
            if time.monotonic() > deadline:
                return
            await op(i)

    await asyncio.gather(*(worker() for _ in range(concurrency)))


async def notes_through_gateway(
    http: httpx.AsyncClient, db, *, notes: int, concurrency: int, max_seconds: float
) -> Latencies:
    care = await Care(http, db).open()
    t, c = await care.therapist(), await care.client()
    appt = await care.book(c, t)
    out, ids = Latencies(), []
    deadline = time.monotonic() + max_seconds
    body = {"appointment_id": appt, "kind": "progress", "sections": soap("bench")}

    async def write(_: int) -> None:
        t0 = time.perf_counter()
        r = await http.post(f"/v1/clients/{c.user_id}/notes", headers=t.h, json=body)
        if r.status_code == 201:
            out.add("note write (gateway)", time.perf_counter() - t0)
            ids.append(r.json()["note_id"])

    async def read(i: int) -> None:
        t0 = time.perf_counter()
        r = await http.get(f"/v1/notes/{ids[i % len(ids)]}", headers=t.h)
        if r.status_code == 200:
            out.add("note read (gateway)", time.perf_counter() - t0)

    await _bounded(notes, concurrency, deadline, write)
    if ids:
        await _bounded(notes, concurrency, deadline + max_seconds, read)
    return out


async def bare_transit(
    vault_addr: str, token: str, *, ops: int, concurrency: int, max_seconds: float
) -> Latencies:
    """The floor: what the envelope costs with nothing around it (same key type, same calls)."""
    client = hvac.Client(url=vault_addr, token=token)
    name = f"notes-client-bench-{uuid.uuid4().hex[:8]}"
    client.secrets.transit.create_key(name, key_type="aes256-gcm96", derived=True)
    out, sealed = Latencies(), []
    plaintext = os.urandom(600)

    def seal(i: int) -> None:
        ctx = base64.b64encode(f"n{i}".encode()).decode()
        t0 = time.perf_counter()
        r = client.secrets.transit.generate_data_key(name, key_type="plaintext", context=ctx)
        key = base64.b64decode(r["data"]["plaintext"])
        nonce = os.urandom(12)
        ct = AESGCM(key).encrypt(nonce, plaintext, b"aad")
        out.add("bare datakey + AES-GCM seal", time.perf_counter() - t0)
        sealed.append((ctx, r["data"]["ciphertext"], nonce, ct))

    def open_(i: int) -> None:
        ctx, wrapped, nonce, ct = sealed[i % len(sealed)]
        t0 = time.perf_counter()
        r = client.secrets.transit.decrypt_data(name, wrapped, context=ctx)
        AESGCM(base64.b64decode(r["data"]["plaintext"])).decrypt(nonce, ct, b"aad")
        out.add("bare decrypt + AES-GCM open", time.perf_counter() - t0)

    deadline = time.monotonic() + max_seconds

    async def run(fn, i: int) -> None:
        await asyncio.to_thread(fn, i)

    await _bounded(ops, concurrency, deadline, lambda i: run(seal, i))
    if sealed:
        await _bounded(ops, concurrency, deadline + max_seconds, lambda i: run(open_, i))
    return out


def notes_report(service: Latencies, bare: Latencies) -> str:
    lines = ["", "Notes vault: envelope encryption through the service vs bare Vault transit"]
    lines += [service.line("note write (gateway)"), bare.line("bare datakey + AES-GCM seal")]
    lines += [service.line("note read (gateway)"), bare.line("bare decrypt + AES-GCM open")]
    return "\n".join(lines)
