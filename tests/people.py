"""What every whole-system test needs about people: accounts made through the public API, their
tokens and one-time codes, and the problem+json check."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field

import httpx
import pyotp

from tests.waiting import eventually

PASSWORD = "correct horse battery"


def new_email(prefix: str = "p") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}@example.org"


def assert_problem(r: httpx.Response, status: int) -> dict:
    """A problem+json answer (RFC 9457) with the expected status."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["status"] == status and body["title"] and body["detail"]
    return body


# A request reaches identity this long after its code was made, at worst, on a loaded machine.
STEP_MARGIN_S = 10


@dataclass
class Person:
    user_id: str
    email: str
    role: str
    access: str = ""
    refresh: str = ""
    clinic_id: str = ""
    totp_secret: str = ""
    last_step: int = 0
    extra: dict = field(default_factory=dict)

    @property
    def h(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access}"}

    async def next_code(self) -> str:
        """A code for a step after the last one used (identity refuses a replayed step and
        accepts one step either side of its clock). Three codes in one 30-second step use the
        steps either side; a fourth waits, without blocking the services in this event loop,
        until its step is within reach."""
        totp = pyotp.TOTP(self.totp_secret)
        now = time.time()
        # The step before this one is accepted only until this step ends: use it only while
        # there is margin left for a slow request to arrive within this step.
        left = totp.interval - now % totp.interval
        step = max(self.last_step + 1, totp.timecode(now) - (1 if left > STEP_MARGIN_S else 0))
        await eventually(
            lambda: step <= totp.timecode(time.time()) + 1,
            timeout=totp.interval * 3,
            interval=0.25,
            what="the next TOTP step",
        )
        self.last_step = step
        return totp.generate_otp(step)
