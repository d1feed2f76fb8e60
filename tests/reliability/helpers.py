"""A stream of bookings through the gateway, as clients make them, while a test breaks things.

Each intended booking has its own Idempotency-Key and is retried with it while the platform
answers 503 (as a well-behaved client does with Retry-After), a bounded number of times; every
answer is kept, so a test can say what each client was told."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from tests.people import Person
from tests.scheduling.helpers import Practice

RETRYABLE = {502, 503, 504}
MAX_TRIES = 200  # a bound, not a threshold: a booking that never gets an answer fails the test
# Once the test says the platform is back, a booking still refused this many times in a row is
# left unresolved (the test then checks it left nothing behind). A client whose transaction was
# open when its server died is refused until the database drops that orphan (mongod's
# transactionLifetimeLimitSeconds, 60 s by default): the suite does not wait a minute for it,
# and skips that client's later bookings (the orphan holds the client's pin too).
TRIES_AFTER_RECOVERY = 2


@dataclass
class Intent:
    client: Person
    start: datetime
    key: str = field(default_factory=lambda: f"rel-{uuid.uuid4().hex}")
    statuses: list[int] = field(default_factory=list)
    appointment_id: str = ""
    replayed: bool = False
    tries_after_recovery: int = 0

    @property
    def booked(self) -> bool:
        return bool(self.appointment_id)


class Stream:
    """Books `intents` with `concurrency` workers; `progress` counts final answers."""

    def __init__(
        self, practice: Practice, therapist: Person, intents: list[Intent], *, concurrency: int
    ) -> None:
        self.practice = practice
        self.therapist = therapist
        self.intents = intents
        self.concurrency = concurrency
        self.answered = 0
        self.recovered = asyncio.Event()  # set by the test: retries are now bounded
        self._queue: asyncio.Queue[Intent] = asyncio.Queue()
        for i in intents:
            self._queue.put_nowait(i)
        self._tasks: list[asyncio.Task[None]] = []
        self._blocked: set[str] = set()  # clients with a booking left unresolved

    def start(self) -> Stream:
        self._tasks = [asyncio.create_task(self._worker()) for _ in range(self.concurrency)]
        return self

    async def wait(self) -> None:
        await asyncio.gather(*self._tasks)

    async def _worker(self) -> None:
        while not self._queue.empty():
            intent = self._queue.get_nowait()
            await self._book(intent)
            self.answered += 1

    async def _book(self, intent: Intent) -> None:
        for _ in range(MAX_TRIES):
            if self.recovered.is_set():
                if (
                    intent.tries_after_recovery >= TRIES_AFTER_RECOVERY
                    or intent.client.user_id in self._blocked
                ):
                    self._blocked.add(intent.client.user_id)
                    return
                intent.tries_after_recovery += 1
            r = await self.practice.book(
                intent.client, self.therapist, intent.start, key=intent.key
            )
            intent.statuses.append(r.status_code)
            if r.status_code in RETRYABLE:
                await asyncio.sleep(0.1)  # a client's pause before its retry, not a measurement
                continue
            assert r.status_code in (200, 201), r.text
            body = r.json()
            intent.appointment_id = body["appointment_id"]
            intent.replayed = r.headers.get("Idempotent-Replayed") == "true"
            return
        raise AssertionError(f"no final answer after {MAX_TRIES} tries: {intent.statuses}")

    def unexpected(self) -> Counter[int]:
        """Answers other than a success or a retryable outage (e.g. a 500): each is a bug."""
        return Counter(s for i in self.intents for s in i.statuses if s not in {200, 201, 503})


async def stream_messages(bus, stream: str, subject: str) -> list:
    """Every message of `subject` the stream holds now, read by a throwaway pull consumer."""
    sub = await bus.js.pull_subscribe(subject, stream=stream)
    out: list = []
    try:
        while True:
            try:
                msgs = await sub.fetch(100, timeout=1.0)
            except Exception:  # nats TimeoutError: nothing more
                break
            for m in msgs:
                out.append(m)
                await m.ack()
    finally:
        await sub.unsubscribe()
    return out
