"""Helpers for scheduling's whole-system tests: a clinic, therapists with profiles, verified
licences and availability, and clients, all made through the gateway's public API."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
from rapport_local import procs
from rapport_scheduling.__main__ import create as create_scheduling
from rapport_scheduling.settings import SchedulingSettings

from tests.identity import operators
from tests.people import PASSWORD, Person

SESSION_TYPES = [
    {"name": "talk-30", "duration_minutes": 30, "price_minor": 6000},
    {"name": "talk-50", "duration_minutes": 50, "price_minor": 9000},
    {"name": "long-90", "duration_minutes": 90, "price_minor": 15000},
]
# Every day, all day: tests pick their own times without worrying about weekdays.
ALL_WEEK = [{"weekday": d, "start": "00:00", "end": "24:00"} for d in range(7)]


def rfc3339(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


def parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def on_grid(value: datetime, minutes: int = 60) -> datetime:
    """The next UTC time on a `minutes` grid (slots of an all-week UTC availability)."""
    step = timedelta(minutes=minutes)
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return epoch + -((epoch - value) // step) * step


class Practice:
    """One clinic (USD, 24 h cancellation window, 30.00 late fee) and helpers around it."""

    CURRENCY = "USD"
    WINDOW_HOURS = 24
    LATE_FEE = 3000

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http
        self.admin: Person | None = None

    async def register(self, role: str, jurisdiction: str = "US-CA") -> Person:
        email = f"s-{uuid.uuid4().hex[:12]}@example.org"
        r = await self.http.post(
            "/v1/auth/register",
            json={
                "email": email,
                "password": PASSWORD,
                "role": role,
                "display_name": "Casey Example",
                "jurisdiction": jurisdiction,
            },
        )
        assert r.status_code == 201, r.text
        person = Person(user_id=r.json()["user_id"], email=email, role=role)
        await self.login(person)
        return person

    async def login(self, person: Person, *, mfa: bool = False) -> None:
        body = {"email": person.email, "password": PASSWORD}
        if mfa:
            body["totp_code"] = await person.next_code()
        r = await self.http.post("/v1/auth/login", json=body)
        assert r.status_code == 200, r.text
        person.access = r.json()["access_token"]

    async def open(self, **terms: int) -> Practice:
        """`terms`: more clinic terms, e.g. max_active_bookings_per_therapist=2."""
        admin = await self.register("client", jurisdiction="US-NY")
        r = await self.http.post(
            "/v1/clinics",
            headers=admin.h,
            json={
                "name": "Harbor Counseling",
                "currency": self.CURRENCY,
                "timezone": "America/New_York",
                "commission_bps": 1500,
                "cancellation_window_hours": self.WINDOW_HOURS,
                "late_cancellation_fee_minor": self.LATE_FEE,
                **terms,
            },
        )
        assert r.status_code == 201, r.text
        admin.clinic_id = r.json()["clinic_id"]
        admin.role = "clinic_admin"
        await self.login(admin)  # the role change revoked the client token
        # A platform operator vets the clinic before its admin may verify licences.
        await operators.approve(self.http, admin.clinic_id)
        r = await self.http.post(
            "/v1/auth/mfa/enroll", headers=admin.h, json={"password": PASSWORD}
        )
        assert r.status_code == 200, r.text
        admin.totp_secret = r.json()["secret"]
        r = await self.http.post(
            "/v1/auth/mfa/confirm", headers=admin.h, json={"totp_code": await admin.next_code()}
        )
        assert r.status_code == 200, r.text
        await self.login(admin, mfa=True)
        self.admin = admin
        return self

    async def therapist(
        self,
        *,
        jurisdictions: tuple[str, ...] = ("US-CA",),
        availability: dict | None = None,
        modalities: tuple[str, ...] = ("video", "chat"),
    ) -> Person:
        """A therapist of the clinic with a profile, verified licences and (by default) an
        all-week availability in UTC with no buffers, notice or step surprises."""
        assert self.admin is not None
        t = await self.register("therapist", jurisdiction="")
        r = await self.http.post(
            f"/v1/clinics/{self.admin.clinic_id}/invitations",
            headers=self.admin.h,
            json={"email": t.email},
        )
        assert r.status_code == 201, r.text
        r = await self.http.post(
            f"/v1/invitations/{r.json()['invitation_token']}/accept", headers=t.h
        )
        assert r.status_code == 200, r.text
        await self.login(t)
        t.clinic_id = self.admin.clinic_id
        r = await self.http.put(
            f"/v1/therapists/{t.user_id}/profile",
            headers=t.h,
            json={
                "display_name": "Dr Jordan Example",
                "bio": "",
                "languages": ["en"],
                "modalities": list(modalities),
                "specialties": ["anxiety"],
                "session_types": SESSION_TYPES,
            },
        )
        assert r.status_code == 200, r.text
        for jurisdiction in jurisdictions:
            r = await self.http.post(
                f"/v1/therapists/{t.user_id}/licenses",
                headers=t.h,
                json={
                    "kind": "psychologist",
                    "jurisdiction": jurisdiction,
                    "number": "PSY-1",
                    "expires_on": "2099-12-31",
                },
            )
            assert r.status_code == 201, r.text
            r = await self.http.post(
                f"/v1/therapists/{t.user_id}/licenses/{r.json()['license_id']}/verify",
                headers=self.admin.h,
            )
            assert r.status_code == 200, r.text
        body = availability if availability is not None else self.availability()
        r = await self.http.put(f"/v1/therapists/{t.user_id}/availability", headers=t.h, json=body)
        assert r.status_code == 200, r.text
        return t

    @staticmethod
    def availability(**overrides) -> dict:
        body = {
            "timezone": "UTC",
            "weekly": ALL_WEEK,
            "buffer_minutes": 0,
            "min_notice_minutes": 0,
            "horizon_days": 60,
            "slot_step_minutes": 15,
        }
        body.update(overrides)
        return body

    async def client(self, jurisdiction: str = "US-CA") -> Person:
        return await self.register("client", jurisdiction=jurisdiction)

    async def book(
        self,
        client: Person,
        therapist: Person,
        start: datetime,
        *,
        session_type: str = "talk-50",
        modality: str = "video",
        hold: bool = False,
        key: str | None = None,
    ) -> httpx.Response:
        headers = dict(client.h)
        if key:
            headers["Idempotency-Key"] = key
        return await self.http.post(
            "/v1/appointments",
            headers=headers,
            json={
                "therapist_id": therapist.user_id,
                "session_type": session_type,
                "start": rfc3339(start),
                "modality": modality,
                "hold": hold,
            },
        )

    async def slots(
        self, who: Person, therapist: Person, start: datetime, end: datetime, **params
    ) -> list[datetime]:
        r = await self.http.get(
            f"/v1/therapists/{therapist.user_id}/slots",
            headers=who.h,
            params={
                "from": rfc3339(start),
                "to": rfc3339(end),
                "session_type": params.pop("session_type", "talk-50"),
                **params,
            },
        )
        assert r.status_code == 200, r.text
        return [parse(i["start"]) for i in r.json()["items"]]


def replica_settings(stack, **overrides) -> SchedulingSettings:
    """Settings of one more scheduling replica beside the stack's (same database by default)."""
    values = {
        "grpc_port": procs.free_port(),
        "mongo_uri": stack.deps.mongo_uri,
        "mongo_db": stack.scheduling.settings.mongo_db,
        "nats_url": stack.deps.nats_url_for("scheduling"),
        "identity_addr": stack.identity_addr,
        "drain_seconds": 0.2,
    }
    values.update(overrides)
    return SchedulingSettings(**values)


async def start_replica(settings: SchedulingSettings, clock: Callable[[], datetime]):
    app = create_scheduling(settings, clock=clock)
    await app.start()
    await app.server.wait_ready()
    return app


async def consumer_caught_up(bus, stream: str, durable: str) -> bool:
    """Every message of the stream reached the durable consumer and was acknowledged (handled):
    what "no duplicate appeared" is measured after, instead of sleeping."""
    info = await bus.js.consumer_info(stream, durable)
    return info.num_pending == 0 and info.num_ack_pending == 0


async def outbox_events(sched_db, subject: str, cls, appointment_id: str) -> list:
    """The outbox rows of one appointment's events of one kind (the collection is shared by
    every test of the session: count only this test's own rows)."""
    out = []
    async for d in sched_db["outbox"].find({"subject": subject}):
        msg = cls.FromString(bytes(d["data"]))
        if msg.appointment.appointment_id == appointment_id:
            out.append((d, msg))
    return out


class Received(list):
    """Events as a test's own durable consumer receives them; `caught_up()` says when it has
    every message its stream holds so far (count after that, not after a sleep)."""

    def __init__(self, bus, stream: str) -> None:
        super().__init__()
        self.bus = bus
        self.stream = stream
        self.durable = f"tests-{uuid.uuid4().hex[:8]}"

    async def caught_up(self) -> bool:
        return await consumer_caught_up(self.bus, self.stream, self.durable)


def in_flight_at_once(telemetry, answers, method: str = "BookAppointment") -> int:
    """The most of these requests that scheduling was serving at the same instant, from its
    server spans (found by each answer's X-Trace-Id): a race test checks it really raced."""
    by_trace = {
        span.context.trace_id: span
        for span in telemetry.finished()
        if span.kind.name == "SERVER" and span.name.endswith(f"/{method}")
    }
    spans = [by_trace[int(r.headers["X-Trace-Id"], 16)] for r in answers]
    edges = sorted([(s.start_time, 1) for s in spans] + [(s.end_time, -1) for s in spans])
    most = now = 0
    for _, step in edges:  # an end sorts before a start at the same instant
        now += step
        most = max(most, now)
    return most
