"""Helpers for notes-vault's whole-system tests: a clinic with therapists and clients made
through the gateway, MFA sign-ins, bookings that notes-vault's projection has seen."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import httpx
from pymongo.asynchronous.database import AsyncDatabase

from tests.people import PASSWORD, Person
from tests.scheduling.helpers import Practice, on_grid

SOAP = {
    "subjective": "Reports better sleep this week.",
    "objective": "Calm, good eye contact.",
    "assessment": "Improving.",
    "plan": "Continue weekly sessions.",
}


def soap(marker: str = "") -> dict:
    return {k: f"{v} {marker}".strip() for k, v in SOAP.items()}


async def wait_for(predicate, timeout: float = 20.0, what: str = "condition"):
    """Poll an async predicate until it returns something truthy (bounded)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await predicate()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


class Care:
    """One clinic; therapists and clients with MFA; bookings notes-vault knows about."""

    def __init__(self, http: httpx.AsyncClient, db: AsyncDatabase) -> None:
        self.http = http
        self.db = db
        self.practice = Practice(http)
        self._next = on_grid(datetime.now(UTC) + timedelta(days=2), 60)

    async def open(self) -> Care:
        await self.practice.open()
        return self

    @property
    def admin(self) -> Person:
        assert self.practice.admin is not None
        return self.practice.admin

    async def mfa(self, person: Person) -> Person:
        r = await self.http.post(
            "/v1/auth/mfa/enroll", headers=person.h, json={"password": PASSWORD}
        )
        assert r.status_code == 200, r.text
        person.totp_secret = r.json()["secret"]
        r = await self.http.post(
            "/v1/auth/mfa/confirm", headers=person.h, json={"totp_code": await person.next_code()}
        )
        assert r.status_code == 200, r.text
        await self.practice.login(person, mfa=True)
        person.extra["mfa"] = True
        return person

    async def staff(self, i: int) -> Person:
        """One of a few therapists shared by the tests (made once): tests that assert on a
        client's view only need fresh clients, and therapists are the costly accounts."""
        pool = self.__dict__.setdefault("_staff", {})
        if i not in pool:
            pool[i] = await self.therapist(jurisdictions=("US-CA", "US-NY", "GB-ENG"))
        return pool[i]

    async def therapist(self, *, mfa: bool = True, jurisdictions=("US-CA",)) -> Person:
        t = await self.practice.therapist(jurisdictions=tuple(jurisdictions))
        return await self.mfa(t) if mfa else t

    async def client(self, *, mfa: bool = True, jurisdiction: str = "US-CA") -> Person:
        c = await self.practice.client(jurisdiction)
        return await self.mfa(c) if mfa else c

    async def book(self, client: Person, therapist: Person) -> str:
        """A confirmed appointment, once notes-vault's projection has it."""
        start = self._next
        self._next += timedelta(hours=2)
        r = await self.practice.book(client, therapist, start)
        assert r.status_code == 201, r.text
        appointment_id = r.json()["appointment_id"]
        await wait_for(
            lambda: self.db["appointments"].find_one(
                {"_id": appointment_id, "status": "confirmed"}
            ),
            timeout=90,  # the consumer may first catch up with the session's earlier bookings
            what="the projection to see the booking",
        )
        return appointment_id

    async def note(
        self,
        therapist: Person,
        client: Person,
        appointment_id: str,
        *,
        kind: str = "progress",
        marker: str = "",
        sign: bool = True,
        **extra,
    ) -> dict:
        body: dict = {"appointment_id": appointment_id, "kind": kind, **extra}
        if kind == "progress":
            body.setdefault("sections", soap(marker))
        else:
            body.setdefault("body", f"Session text {marker}".strip())
        r = await self.http.post(
            f"/v1/clients/{client.user_id}/notes", headers=therapist.h, json=body
        )
        assert r.status_code == 201, r.text
        note = r.json()
        if sign:
            r = await self.http.post(f"/v1/notes/{note['note_id']}/sign", headers=therapist.h)
            assert r.status_code == 200, r.text
            note = r.json()
        return note

    async def consent(
        self, client: Person, recipient: Person, *, covers_sud: bool = False, days: int = 30
    ) -> dict:
        r = await self.http.post(
            f"/v1/clients/{client.user_id}/consents",
            headers=client.h,
            json={
                "recipient_id": recipient.user_id,
                "purpose": "treatment",
                "covers_sud": covers_sud,
                "expires_at": (datetime.now(UTC) + timedelta(days=days)).isoformat(),
            },
        )
        assert r.status_code == 201, r.text
        return r.json()

    async def audit_count(self, **query) -> int:
        return await self.db["audit"].count_documents(query)


def marker() -> str:
    """A unique text to look for (in the vault's documents, logs, spans, events)."""
    return f"MARKER-{uuid.uuid4().hex}"
