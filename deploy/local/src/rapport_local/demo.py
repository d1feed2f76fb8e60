"""`make demo` (with `make up` running): seeds, through the public API only, an approved clinic,
a verified therapist with MFA, a client and a video appointment starting in a few minutes, and
prints the two room links to open in two browser tabs.

The one step that is not an API call is what no API may do: granting the platform operator who
approves the clinic (`python -m rapport_identity operator grant`, run where identity runs).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pyotp
import requests

from rapport_local.stack import SERVICES_BY_NAME, StackConfig, load_tokens, service_env

PASSWORD = "correct horse battery staple"


class Api:
    def __init__(self, base: str) -> None:
        self.base = base.rstrip("/")
        self.http = requests.Session()

    def call(self, method: str, path: str, token: str = "", **body: Any) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        r = self.http.request(
            method, self.base + path, json=body or None, headers=headers, timeout=30
        )
        if r.status_code >= 400:
            raise SystemExit(f"{method} {path}: {r.status_code} {r.text}")
        return r.json() if r.content else {}


class Person:
    def __init__(self, api: Api, role: str, name: str, jurisdiction: str = "US-CA") -> None:
        self.api = api
        self.email = f"demo-{role}-{uuid.uuid4().hex[:8]}@example.org"
        self.user_id = api.call(
            "POST",
            "/v1/auth/register",
            email=self.email,
            password=PASSWORD,
            role=role,
            display_name=name,
            jurisdiction=jurisdiction,
        )["user_id"]
        self.totp: pyotp.TOTP | None = None
        self.step = 0
        self.token = ""
        self.login()

    def code(self) -> str:
        assert self.totp is not None
        step = max(self.step + 1, self.totp.timecode(datetime.now(UTC)))
        while step > self.totp.timecode(datetime.now(UTC)) + 1:
            time.sleep(1)  # identity refuses a replayed step: wait for the next one
        self.step = step
        return str(self.totp.generate_otp(step))

    def login(self) -> None:
        body: dict[str, Any] = {"email": self.email, "password": PASSWORD}
        if self.totp:
            body["totp_code"] = self.code()
        self.token = self.api.call("POST", "/v1/auth/login", **body)["access_token"]

    def enrol_mfa(self) -> None:
        secret = self.api.call("POST", "/v1/auth/mfa/enroll", self.token, password=PASSWORD)
        self.totp = pyotp.TOTP(secret["secret"])
        self.api.call("POST", "/v1/auth/mfa/confirm", self.token, totp_code=self.code())
        self.login()


def grant_operator(user_id: str) -> None:
    cfg = StackConfig.from_env()
    env = {
        **os.environ,
        **service_env(SERVICES_BY_NAME["identity"], cfg, load_tokens(cfg)),
    }
    subprocess.run(  # noqa: S603 - our own CLI
        [sys.executable, "-m", "rapport_identity", "operator", "grant", user_id],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )


def main() -> int:
    api = Api(os.environ.get("RAPPORT_GATEWAY_URL", "http://127.0.0.1:8080"))
    print("seeding through the public API…", flush=True)
    operator = Person(api, "client", "Platform Operator")
    grant_operator(operator.user_id)
    operator.login()  # the new sign-in carries the operator flag
    operator.enrol_mfa()

    admin = Person(api, "client", "Clinic Admin", "US-NY")
    clinic = api.call(
        "POST",
        "/v1/clinics",
        admin.token,
        name="Demo Counseling",
        currency="USD",
        timezone="UTC",
        commission_bps=1500,
        cancellation_window_hours=24,
        late_cancellation_fee_minor=3000,
    )["clinic_id"]
    api.call("POST", f"/v1/clinics/{clinic}/approve", operator.token)
    admin.login()
    admin.enrol_mfa()

    therapist = Person(api, "therapist", "Dr Demo", "")
    invite = api.call(
        "POST", f"/v1/clinics/{clinic}/invitations", admin.token, email=therapist.email
    )
    api.call("POST", f"/v1/invitations/{invite['invitation_token']}/accept", therapist.token)
    therapist.login()
    therapist.enrol_mfa()
    api.call(
        "PUT",
        f"/v1/therapists/{therapist.user_id}/profile",
        therapist.token,
        display_name="Dr Demo",
        bio="",
        languages=["en"],
        modalities=["video", "chat"],
        specialties=["anxiety"],
        session_types=[{"name": "talk-50", "duration_minutes": 50, "price_minor": 9000}],
    )
    lic = api.call(
        "POST",
        f"/v1/therapists/{therapist.user_id}/licenses",
        therapist.token,
        kind="psychologist",
        jurisdiction="US-CA",
        number="PSY-DEMO",
        expires_on="2099-12-31",
    )
    api.call(
        "POST", f"/v1/therapists/{therapist.user_id}/licenses/{lic['license_id']}/verify",
        admin.token,
    )  # fmt: skip
    api.call(
        "PUT",
        f"/v1/therapists/{therapist.user_id}/availability",
        therapist.token,
        timezone="UTC",
        weekly=[{"weekday": d, "start": "00:00", "end": "24:00"} for d in range(7)],
        buffer_minutes=0,
        min_notice_minutes=0,
        horizon_days=30,
        slot_step_minutes=5,
    )

    client = Person(api, "client", "Demo Client")
    soon = datetime.now(UTC) + timedelta(minutes=3)
    start = soon.replace(second=0, microsecond=0) + timedelta(minutes=5 - soon.minute % 5)
    appt = api.call(
        "POST",
        "/v1/appointments",
        client.token,
        therapist_id=therapist.user_id,
        session_type="talk-50",
        start=start.isoformat(),
        modality="video",
    )
    links = {}
    for who, person in (("therapist", therapist), ("client", client)):
        body = api.call(
            "POST", f"/v1/appointments/{appt['appointment_id']}/session-token", person.token
        )
        links[who] = body["room_link"]
    print(f"\nappointment {appt['appointment_id']} starts at {appt['start']} (video, 50 min)")
    print("open each link in its own browser tab (or browser):\n")
    print(f"  therapist: {links['therapist']}\n")
    print(f"  client:    {links['client']}\n")
    print("The therapist admits the client from the waiting room; either may chat; the")
    print("therapist ends the session. The links are personal: the token is in the fragment.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
