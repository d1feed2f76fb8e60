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
from pymongo import MongoClient

from tests.notes_vault.helpers import Care, soap


@dataclass
class Latencies:
    samples: dict[str, list[float]] = field(default_factory=dict)
    failures: dict[str, list[int]] = field(default_factory=dict)  # status codes
    seconds: dict[str, float] = field(default_factory=dict)  # wall time of each phase

    def fail(self, name: str, status: int) -> None:
        self.failures.setdefault(name, []).append(status)

    def add(self, name: str, seconds: float) -> None:
        self.samples.setdefault(name, []).append(seconds)

    def pct(self, name: str, p: int) -> float:
        xs = self.samples.get(name, [])
        if len(xs) < 2:
            return xs[0] if xs else 0.0
        return statistics.quantiles(xs, n=100, method="inclusive")[p - 1]

    def per_second(self, name: str) -> float:
        return (
            len(self.samples.get(name, [])) / self.seconds.get(name, 0)
            if self.seconds.get(name)
            else 0.0
        )

    def line(self, name: str) -> str:
        n = len(self.samples.get(name, []))
        failed = self.failures.get(name, [])
        codes = ", ".join(f"{c}x{failed.count(c)}" for c in sorted(set(failed)))
        return (
            f"| {name} | {n} | {len(failed)}{f' ({codes})' if codes else ''} "
            f"| {self.per_second(name):.1f} | {self.pct(name, 50) * 1000:.1f} ms "
            f"| {self.pct(name, 99) * 1000:.1f} ms |"
        )


async def _bounded(
    n: int, concurrency: int, deadline: float, op, out: Latencies | None = None, name: str = ""
) -> None:
    todo = iter(range(n))
    t0 = time.perf_counter()

    async def worker() -> None:
        for i in todo:
            if time.monotonic() > deadline:
                return
            await op(i)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    if out is not None:
        out.seconds[name] = time.perf_counter() - t0


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
        else:
            out.fail("note write (gateway)", r.status_code)

    async def read(i: int) -> None:
        t0 = time.perf_counter()
        r = await http.get(f"/v1/notes/{ids[i % len(ids)]}", headers=t.h)
        if r.status_code == 200:
            out.add("note read (gateway)", time.perf_counter() - t0)
        else:
            out.fail("note read (gateway)", r.status_code)

    await _bounded(notes, concurrency, deadline, write, out, "note write (gateway)")
    if ids:
        await _bounded(notes, concurrency, deadline + max_seconds, read, out, "note read (gateway)")
    return out


async def bare_transit(
    vault_addr: str, token: str, mongo_uri: str, *, ops: int, concurrency: int,
    max_seconds: float,
) -> Latencies:  # fmt: skip
    """The floor: what the envelope costs with nothing around it (same key type, same calls),
    plus the insert of the sealed note and, to read, its find by id."""
    client = hvac.Client(url=vault_addr, token=token)
    mongo: MongoClient = MongoClient(mongo_uri)
    col = mongo[f"bench_notes_{uuid.uuid4().hex[:8]}"]["notes"]
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
        doc_id = uuid.uuid4().hex
        col.insert_one(
            {"_id": doc_id, "wrapped": r["data"]["ciphertext"], "nonce": nonce, "ct": ct}
        )
        out.add("bare datakey + AES-GCM + insert", time.perf_counter() - t0)
        sealed.append((ctx, doc_id))

    def open_(i: int) -> None:
        ctx, doc_id = sealed[i % len(sealed)]
        t0 = time.perf_counter()
        doc = col.find_one({"_id": doc_id})
        assert doc is not None
        r = client.secrets.transit.decrypt_data(name, doc["wrapped"], context=ctx)
        AESGCM(base64.b64decode(r["data"]["plaintext"])).decrypt(doc["nonce"], doc["ct"], b"aad")
        out.add("bare find + decrypt + AES-GCM", time.perf_counter() - t0)

    deadline = time.monotonic() + max_seconds

    async def run(fn, i: int) -> None:
        await asyncio.to_thread(fn, i)

    try:
        await _bounded(
            ops,
            concurrency,
            deadline,
            lambda i: run(seal, i),
            out,
            "bare datakey + AES-GCM + insert",
        )
        if sealed:
            await _bounded(
                ops,
                concurrency,
                deadline + max_seconds,
                lambda i: run(open_, i),
                out,
                "bare find + decrypt + AES-GCM",
            )
    finally:
        mongo.drop_database(col.database.name)
        mongo.close()
    return out


def notes_report(service: Latencies, bare: Latencies) -> list[str]:
    lines = ["| operation | ok | failed | per s | p50 | p99 |", "|---|---:|---:|---:|---:|---:|"]
    lines += [service.line("note write (gateway)"), bare.line("bare datakey + AES-GCM + insert")]
    lines += [service.line("note read (gateway)"), bare.line("bare find + decrypt + AES-GCM")]
    for op, floor in (
        ("note write (gateway)", "bare datakey + AES-GCM + insert"),
        ("note read (gateway)", "bare find + decrypt + AES-GCM"),
    ):
        if service.pct(op, 50) and bare.pct(floor, 50):
            lines.append(
                f"| ratio {op.split(' (')[0]} / bare | | | "
                f"{bare.per_second(floor) / max(service.per_second(op), 1e-9):.2f} "
                f"| {service.pct(op, 50) / bare.pct(floor, 50):.2f} "
                f"| {service.pct(op, 99) / bare.pct(floor, 99):.2f} |"
            )
    return lines
