"""Wiring only: settings -> telemetry -> store -> bus -> gRPC server -> run."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from rapport.scheduling.v1 import scheduling_pb2, scheduling_pb2_grpc
from rapport_platform.app import ServiceApp, run_service
from rapport_platform.auth import identity_verifier
from rapport_platform.bus import Bus, Consumer
from rapport_platform.outbox import Outbox
from rapport_platform.rpc import Servicer, client_channel
from rapport_platform.store import Store
from rapport_platform.timestamps import millisecond_clock, utc_now

from rapport_scheduling.api import Identity, SchedulingApi
from rapport_scheduling.events import (
    CLINIC_CONSUMER,
    CONSUMER,
    PAYMENT_AUTHORIZED,
    PAYMENT_CONSUMER,
    SESSION_ENDED,
    THERAPIST_JOINED_CLINIC,
    PaymentAuthorizedHandler,
    ReminderScheduler,
    SessionEndedHandler,
    TherapistJoinedClinicHandler,
)
from rapport_scheduling.settings import SchedulingSettings
from rapport_scheduling.store import INDEXES, RETIRED_INDEXES, SchedulingStore

NAME = "scheduling"


def create(settings: SchedulingSettings, *, clock: Callable[[], datetime] = utc_now) -> ServiceApp:
    """`clock` is injectable so tests can stand a day before an appointment without waiting."""
    clock = millisecond_clock(clock)
    store = Store(settings.mongo_uri, settings.mongo_db)
    bus = Bus(settings.nats_url, source=f"rapport/{NAME}")
    outbox = Outbox(store, bus, service=NAME)
    identity_channel = client_channel(
        settings.identity_addr, timeout_s=settings.identity_timeout_seconds
    )
    verifier = identity_verifier(identity_channel)
    identity = Identity(
        identity_channel, settings.identity_timeout_seconds, settings.service_token_key
    )
    api = SchedulingApi(
        store=store,
        outbox=outbox,
        verifier=verifier,
        identity=identity,
        settings=settings,
        clock=clock,
    )
    repo = SchedulingStore(store)
    reminders = ReminderScheduler(
        store, repo, outbox, clock=clock, poll_seconds=settings.reminder_poll_seconds
    )
    session_ended = Consumer(
        bus,
        durable=CONSUMER,
        subject=SESSION_ENDED,
        handler=SessionEndedHandler(store, repo, outbox, clock=clock),
    )
    joined_clinic = Consumer(
        bus,
        durable=CLINIC_CONSUMER,
        subject=THERAPIST_JOINED_CLINIC,
        handler=TherapistJoinedClinicHandler(store, repo, clock=clock, identity=identity),
    )
    payment_authorized = Consumer(
        bus,
        durable=PAYMENT_CONSUMER,
        subject=PAYMENT_AUTHORIZED,
        handler=PaymentAuthorizedHandler(
            store,
            repo,
            outbox,
            clock=clock,
            reminder_leads_minutes=settings.reminder_leads_minutes,
        ),
    )
    app = ServiceApp(
        NAME,
        settings,
        store=store,
        bus=bus,
        outbox=outbox,
        indexes=INDEXES,
        retired_indexes=RETIRED_INDEXES,
        loops=[reminders.run, session_ended.run, joined_clinic.run, payment_authorized.run]
        if settings.workers_enabled
        else [],
        on_stop=[identity_channel.close],
    )
    app.serve(
        [
            Servicer(
                scheduling_pb2_grpc.add_SchedulingServiceServicer_to_server,
                api,
                scheduling_pb2.DESCRIPTOR.services_by_name["SchedulingService"].full_name,
            )
        ]
    )
    return app


def main() -> None:
    run_service(NAME, SchedulingSettings, create)


if __name__ == "__main__":
    main()
