"""Bus: NATS JetStream with CloudEvents headers, deduplication ids and trace propagation.

Subjects are `rapport.<domain>.<event_name>`; each producing domain has one stream RAPPORT_<DOMAIN>.
Messages carry the protobuf event as body and CloudEvents binary-mode headers, `Nats-Msg-Id`
(= event id, so JetStream drops retried duplicates) and W3C `traceparent`. A consumer's span is a
child of the producer's, so one request is one trace across services. Headers carry ids only.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar, runtime_checkable

import nats
import nats.errors
import nats.js.errors
from google.protobuf.message import Message
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StreamConfig
from nats.js.client import JetStreamContext
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.trace import SpanKind, Status, StatusCode
from rapport.events.v1 import envelope_pb2

from rapport_platform.telemetry import meter, tracer

log = logging.getLogger(__name__)
_tracer = tracer("rapport.bus")
_meter = meter("rapport.bus")
_redeliveries = _meter.create_counter(
    "rapport.bus.redeliveries", description="messages delivered more than once"
)
_dead_letters = _meter.create_counter(
    "rapport.bus.dead_letters", description="messages given up on and sent to the DLQ"
)
_lag: dict[tuple[str, str], int] = {}


def _observe_lag(_options: CallbackOptions) -> list[Observation]:
    return [Observation(v, {"stream": s, "consumer": c}) for (s, c), v in list(_lag.items())]


_meter.create_observable_gauge(
    "rapport.bus.consumer.lag",
    callbacks=[_observe_lag],
    description="messages waiting for a consumer (num_pending)",
)

DLQ_STREAM = "RAPPORT_DLQ"
DEDUP_WINDOW_S = 24 * 3600.0
M = TypeVar("M", bound=Message)


def stream_name(domain: str) -> str:
    return f"RAPPORT_{domain.upper()}"


def domain_of(subject: str) -> str:
    parts = subject.split(".")
    if len(parts) < 3 or parts[0] != "rapport":
        raise ValueError(f"not a rapport event subject: {subject}")
    return parts[1]


@dataclass(frozen=True)
class Event:
    """A received event: CloudEvents attributes from the headers, the protobuf body as bytes."""

    id: str
    type: str
    source: str
    time: str
    subject: str
    data: bytes
    deliveries: int
    headers: Mapping[str, str] = field(repr=False)

    def parse(self, cls: builtins.type[M]) -> M:
        msg = cls()
        msg.ParseFromString(self.data)
        return msg


Handler = Callable[[Event], Awaitable[None]]


@runtime_checkable
class BatchHandler(Protocol):
    """A handler that can also apply several events at once (one transaction for all, see
    outbox.consume_many). `many` is all or nothing: when it raises, the consumer applies the
    events one at a time."""

    async def __call__(self, event: Event) -> None: ...

    async def many(self, events: Sequence[Event]) -> None: ...


class Bus:
    """One NATS connection per process, reconnecting for ever; JetStream for events."""

    def __init__(self, url: str, *, source: str, connect_timeout: float = 2.0) -> None:
        self.url = url
        self.source = source  # CloudEvents source, e.g. "rapport/identity"
        self._connect_timeout = connect_timeout
        self.nc: NatsClient | None = None
        self._connected = asyncio.Event()
        self._connector: asyncio.Task[None] | None = None
        self._streams: set[str] = set()

    async def start(self) -> None:
        """Connect in the background: a service starts (NOT_SERVING) even while NATS is down."""
        self._connector = asyncio.create_task(self._connect_forever(), name="nats-connect")

    async def _connect_forever(self) -> None:
        delay = 0.2
        while True:
            try:
                self.nc = await nats.connect(
                    self.url,
                    name=self.source,
                    connect_timeout=self._connect_timeout,
                    allow_reconnect=True,
                    max_reconnect_attempts=-1,
                    reconnect_time_wait=0.5,
                    drain_timeout=5,
                    error_cb=self._on_error,
                    disconnected_cb=self._on_disconnect,
                    reconnected_cb=self._on_reconnect,
                )
                self._connected.set()
                return
            except (nats.errors.NoServersError, OSError, TimeoutError) as exc:
                log.warning("nats not reachable yet: %s", type(exc).__name__)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _on_error(self, exc: Exception) -> None:
        log.debug("nats error: %s", type(exc).__name__)

    async def _on_disconnect(self) -> None:
        log.warning("nats disconnected")

    async def _on_reconnect(self) -> None:
        log.info("nats reconnected")

    async def wait_connected(self, timeout: float = 10.0) -> None:
        await asyncio.wait_for(self._connected.wait(), timeout)

    async def check(self) -> None:
        """Readiness: the connection is up and JetStream answers."""
        js = self.js
        await js.account_info()

    @property
    def js(self) -> JetStreamContext:
        if self.nc is None or not self.nc.is_connected:
            raise nats.errors.ConnectionClosedError()
        return self.nc.jetstream(timeout=self._connect_timeout)

    async def ensure_stream(self, name: str, subjects: Sequence[str]) -> None:
        if name in self._streams:
            return
        # Deduplication by Nats-Msg-Id lasts a day: an outbox record re-published after a long
        # outage or a crash between publish and mark is still recognised as a duplicate.
        config = StreamConfig(name=name, subjects=list(subjects), duplicate_window=DEDUP_WINDOW_S)
        try:
            await self.js.add_stream(config)
        except nats.js.errors.BadRequestError:
            await self.js.update_stream(config)  # exists with another config: converge
        self._streams.add(name)

    async def ensure_domain_stream(self, domain: str) -> None:
        await self.ensure_stream(stream_name(domain), [f"rapport.{domain}.>"])

    async def publish(
        self,
        subject: str,
        message: Message | bytes,
        *,
        event_id: str | None = None,
        occurred_at: datetime | None = None,
        schema: str | None = None,
        parent: Mapping[str, str] | None = None,
    ) -> str:
        """Publish one event to its domain's stream and wait for the stream's ack.

        `parent` is a stored trace carrier (the outbox keeps the writer's context), so the
        producer span joins the request that caused the event even when published later."""
        event_id = event_id or str(uuid.uuid4())
        data = message if isinstance(message, bytes) else message.SerializeToString()
        if schema is None and isinstance(message, Message):
            schema = message.DESCRIPTOR.full_name
        await self.ensure_domain_stream(domain_of(subject))
        ctx = propagate.extract(dict(parent)) if parent else None
        with _tracer.start_as_current_span(
            f"{subject} publish",
            context=ctx,
            kind=SpanKind.PRODUCER,
            attributes={
                "messaging.system": "nats",
                "messaging.operation.type": "publish",
                "messaging.destination.name": subject,
                "messaging.message.id": event_id,
            },
        ):
            headers = {
                "ce-specversion": "1.0",
                "ce-id": event_id,
                "ce-type": subject,
                "ce-source": self.source,
                "ce-time": (occurred_at or datetime.now(UTC)).isoformat(),
                "content-type": "application/protobuf",
                "Nats-Msg-Id": event_id,
            }
            if schema:
                headers["ce-dataschema"] = schema
            propagate.inject(headers)
            await self.js.publish(subject, data, headers=headers)
        return event_id

    async def close(self) -> None:
        if self._connector:
            self._connector.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._connector
        if self.nc is not None and not self.nc.is_closed:
            await self.nc.drain()


@dataclass
class Consumer:
    """A durable pull consumer: ack on success, nak with backoff on failure, dead-letter after
    `max_deliver` deliveries."""

    bus: Bus
    durable: str
    subject: str  # may be a wildcard inside one domain, e.g. "rapport.scheduling.>"
    handler: Handler
    max_deliver: int = 5
    backoff: Sequence[float] = (0.5, 2.0, 10.0, 30.0)
    batch: int = 16
    fetch_timeout: float = 1.0
    ack_wait: float = 30.0

    @property
    def stream(self) -> str:
        return stream_name(domain_of(self.subject))

    async def run(self, stop: asyncio.Event) -> None:
        """Until stop is set; survives NATS outages by retrying."""
        sub = None
        try:
            while not stop.is_set():
                try:
                    if sub is None:
                        await self.bus.wait_connected(timeout=3600)
                        sub = await self._subscribe()
                    msgs = await self._fetch(sub, stop)
                except (nats.errors.TimeoutError, TimeoutError):
                    continue
                except (nats.errors.Error, nats.js.errors.Error, OSError) as exc:
                    log.warning("consumer %s: %s; retrying", self.durable, type(exc).__name__)
                    sub = None
                    await asyncio.sleep(0.5)
                    continue
                try:
                    await self._settle(msgs)
                except Exception as exc:  # e.g. NATS gone mid-ack: redelivered after ack_wait
                    log.warning(
                        "consumer %s could not settle a message: %s",
                        self.durable,
                        type(exc).__name__,
                    )
                    sub = None
                    await asyncio.sleep(0.5)
        finally:
            if sub is not None:
                with contextlib.suppress(Exception):
                    await sub.unsubscribe()

    async def _settle(self, msgs: list[Msg]) -> None:
        """A fetch's messages: at once through the handler's `many` where it has one, else (or
        when the batch was not applied) one at a time."""
        counted = False
        if len(msgs) > 1 and isinstance(self.handler, BatchHandler):
            if await self._handle_many(msgs):
                return
            counted = True  # a batch that was not applied has counted its redeliveries
        for msg in msgs:
            await self._handle(msg, count=not counted)

    async def _fetch(self, sub: Any, stop: asyncio.Event) -> list[Msg]:
        """The next batch, or nothing once stop is set: a stop does not wait out the fetch
        (no message is in hand while waiting for one)."""
        fetch = asyncio.ensure_future(sub.fetch(self.batch, timeout=self.fetch_timeout))
        halt = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({fetch, halt}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            halt.cancel()
            if not fetch.done():
                fetch.cancel()
        return list(fetch.result()) if fetch.done() and not fetch.cancelled() else []

    async def _subscribe(self) -> Any:
        await self.bus.ensure_domain_stream(domain_of(self.subject))
        config = ConsumerConfig(
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            ack_wait=self.ack_wait,
            max_ack_pending=1000,
        )
        return await self.bus.js.pull_subscribe(
            self.subject, durable=self.durable, stream=self.stream, config=config
        )

    def _event(self, msg: Msg, *, count: bool = True) -> Event:
        headers = dict(msg.headers or {})
        meta = msg.metadata
        deliveries = int(meta.num_delivered or 1)
        if count:
            _lag[(self.stream, self.durable)] = int(meta.num_pending or 0)
            if deliveries > 1:
                _redeliveries.add(1, {"stream": self.stream, "consumer": self.durable})
        return Event(
            id=headers.get("ce-id", ""),
            type=headers.get("ce-type", msg.subject),
            source=headers.get("ce-source", ""),
            time=headers.get("ce-time", ""),
            subject=msg.subject,
            data=msg.data,
            deliveries=deliveries,
            headers=headers,
        )

    def _attributes(self, event: Event, **more: Any) -> dict[str, Any]:
        return {
            "messaging.system": "nats",
            "messaging.operation.type": "process",
            "messaging.destination.name": event.subject,
            "messaging.consumer.group.name": self.durable,
            "messaging.message.id": event.id,
            "messaging.message.delivery_count": event.deliveries,
            **more,
        }

    async def _handle_many(self, msgs: list[Msg]) -> bool:
        """A fetch's messages through the handler's `many` (one transaction for all, where the
        handler can), each with its own span, a child of its producer's, and all acked once
        applied. False: nothing was applied, they go one at a time."""
        events = [self._event(m) for m in msgs]
        spans = [
            _tracer.start_span(
                f"{e.subject} process",
                context=propagate.extract(e.headers),
                kind=SpanKind.CONSUMER,
                attributes=self._attributes(e, **{"messaging.batch.message_count": len(msgs)}),
            )
            for e in events
        ]
        token = otel_context.attach(trace.set_span_in_context(spans[0]))
        try:
            await self.handler.many(events)  # type: ignore[attr-defined]
        except Exception as exc:
            log.info(
                "consumer %s: a batch of %d was not applied (%s); one at a time",
                self.durable,
                len(msgs),
                type(exc).__name__,
            )
            for span in spans:
                span.add_event("applied one at a time")
                span.end()
            return False
        finally:
            otel_context.detach(token)
        try:
            for msg in msgs:
                await msg.ack()
        finally:
            for span in spans:
                span.end()
        return True

    async def _handle(self, msg: Msg, *, count: bool = True) -> None:
        event = self._event(msg, count=count)
        parent = propagate.extract(event.headers)
        token = otel_context.attach(parent)
        try:
            with _tracer.start_as_current_span(
                f"{msg.subject} process",
                kind=SpanKind.CONSUMER,
                attributes=self._attributes(event),
            ) as span:
                try:
                    await self.handler(event)
                except Exception as exc:
                    span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
                    await self._failed(msg, event, exc)
                    return
            await msg.ack()
        finally:
            otel_context.detach(token)

    async def _failed(self, msg: Msg, event: Event, exc: Exception) -> None:
        log.warning(
            "consumer %s failed on %s (delivery %d): %s",
            self.durable,
            event.id,
            event.deliveries,
            type(exc).__name__,
        )
        if event.deliveries < self.max_deliver:
            delay = self.backoff[min(event.deliveries, len(self.backoff)) - 1]
            await msg.nak(delay=delay)
            return
        dead = envelope_pb2.DeadLetter(
            original_subject=msg.subject,
            stream=self.stream,
            consumer=self.durable,
            deliveries=event.deliveries,
            data=msg.data,
            error_type=type(exc).__name__,
        )
        await self.bus.ensure_stream(DLQ_STREAM, ["rapport.dlq.>"])
        headers = {k: v for k, v in event.headers.items() if k != "Nats-Msg-Id"}
        headers["Nats-Msg-Id"] = f"dlq:{self.durable}:{event.id}"
        await self.bus.js.publish(
            f"rapport.dlq.{self.stream}.{self.durable}", dead.SerializeToString(), headers=headers
        )
        _dead_letters.add(1, {"stream": self.stream, "consumer": self.durable})
        await msg.term()


def current_trace_id() -> str:
    ctx = trace.get_current_span().get_span_context()
    return format(ctx.trace_id, "032x") if ctx.is_valid else ""
