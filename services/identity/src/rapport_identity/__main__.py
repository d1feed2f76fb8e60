"""Wiring only: settings -> telemetry -> store -> bus -> gRPC server -> run. With arguments,
an administration command instead (see rapport_identity.cli): `python -m rapport_identity
operator grant <user_id>`."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from rapport.identity.v1 import identity_pb2, identity_pb2_grpc
from rapport_platform.app import ServiceApp, run_service
from rapport_platform.auth import JwksCache, RevocationCache, TokenVerifier
from rapport_platform.bus import Bus
from rapport_platform.outbox import Outbox
from rapport_platform.rpc import Servicer
from rapport_platform.store import Store
from rapport_platform.vault import Vault

from rapport_identity import domain
from rapport_identity.api import IdentityApi, SignInPolicy
from rapport_identity.jobs import Periodic
from rapport_identity.keys import SecretBox, SigningKeys
from rapport_identity.passwords import PasswordHashing
from rapport_identity.settings import IdentitySettings
from rapport_identity.store import INDEXES, RETIRED_INDEXES, Clinics, Users

NAME = "identity"


def marketplace(settings: IdentitySettings) -> domain.Clinic:
    """The default clinic self-registered therapists practise under (fixed id `marketplace`)."""
    return domain.new_clinic(
        clinic_id=domain.MARKETPLACE_CLINIC_ID,
        # The operators run it: nobody else administers it, so there is nothing to vet.
        status=domain.CLINIC_APPROVED,
        name=settings.marketplace_name,
        currency=settings.marketplace_currency,
        timezone=settings.marketplace_timezone,
        commission_bps=settings.marketplace_commission_bps,
        cancellation_window_hours=settings.marketplace_cancellation_window_hours,
        late_fee_minor=settings.marketplace_late_fee_minor,
        now=datetime.now(UTC),
    )


def sign_in_policy(settings: IdentitySettings) -> SignInPolicy:
    def throttle(slowdown_after: int, lock_after: int) -> domain.ThrottlePolicy:
        return domain.ThrottlePolicy(
            slowdown_after=slowdown_after,
            lock_after=lock_after,
            lockout=timedelta(seconds=settings.login_lockout_seconds),
            window=timedelta(seconds=settings.login_failure_window_seconds),
            max_delay=timedelta(seconds=settings.login_max_delay_seconds),
        )

    register_window = timedelta(seconds=settings.register_window_seconds)
    return SignInPolicy(
        refresh_ttl=timedelta(seconds=settings.refresh_token_ttl_seconds),
        account=throttle(settings.login_account_slowdown_after, settings.login_account_lock_after),
        address=throttle(settings.login_address_slowdown_after, settings.login_address_lock_after),
        pair=throttle(settings.login_pair_slowdown_after, settings.login_pair_lock_after),
        device_ttl=timedelta(days=settings.known_device_days),
        # The limit-th sign-up within the window locks the address for a window.
        register=domain.ThrottlePolicy(
            slowdown_after=settings.register_address_limit,
            lock_after=settings.register_address_limit,
            lockout=register_window,
            window=register_window,
            max_delay=register_window,
        ),
    )


def create(
    settings: IdentitySettings, *, clock: Callable[[], datetime] | None = None
) -> ServiceApp:
    """clock: tests pass one to move time (key retirement, sweeps); the service uses UTC now."""
    now = clock or (lambda: datetime.now(UTC))
    market = marketplace(settings)  # invalid marketplace settings fail here, at start
    store = Store(settings.mongo_uri, settings.mongo_db)
    bus = Bus(settings.nats_url, source=f"rapport/{NAME}")
    outbox = Outbox(store, bus, service=NAME)
    vault = Vault(settings)
    ttl = timedelta(seconds=settings.access_token_ttl_seconds)
    keys = SigningKeys(
        vault,
        settings.jwt_key_name,
        ttl,
        activation=timedelta(seconds=settings.signing_key_activation_seconds),
        clock=now,
    )
    # Identity verifies its own tokens against the same keys it publishes, without a network hop.
    # ...and its revocations from its own database (the exact check is in IdentityApi._caller).
    verifier = TokenVerifier(
        JwksCache(lambda: keys.jwks(fresh=True), min_refresh_s=1.0),
        revocations=RevocationCache(Users(store).revocations),
    )
    passwords = PasswordHashing(
        workers=settings.password_hash_workers,
        queue_seconds=settings.password_hash_queue_seconds,
    )
    api = IdentityApi(
        store=store,
        outbox=outbox,
        keys=keys,
        totp_box=SecretBox(vault, settings.totp_key_name),
        verifier=verifier,
        token_ttl=ttl,
        sign_in=sign_in_policy(settings),
        invitation_ttl=timedelta(hours=settings.invitation_ttl_hours),
        passwords=passwords,
        booking_defaults=domain.BookingLimits(
            per_therapist=settings.default_max_active_bookings_per_therapist,
            per_client=settings.default_max_active_bookings_per_client,
        ),
        clock=now,
        service_token_key=settings.service_token_key,
        scheduling_token_key=settings.scheduling_token_key,
        billing_token_key=settings.billing_token_key,
    )
    periodic = Periodic(
        store,
        outbox,
        keys,
        check_every=settings.license_sweep_check_seconds,
        key_max_age=(
            timedelta(days=settings.signing_key_rotation_days)
            if settings.signing_key_rotation_days
            else None
        ),
        clock=now,
    )

    async def ensure_marketplace() -> None:
        await Clinics(store).ensure(market)

    async def close_passwords() -> None:
        passwords.close()

    app = ServiceApp(
        NAME,
        settings,
        store=store,
        bus=bus,
        outbox=outbox,
        indexes=INDEXES,
        retired_indexes=RETIRED_INDEXES,
        checks={"vault": vault.check},
        on_start=[vault.login, ensure_marketplace],
        loops=[vault.keep_token_alive, periodic.run],
        on_stop=[close_passwords, vault.close],
    )
    app.periodic = periodic  # type: ignore[attr-defined]  # tests drive the jobs directly
    app.passwords = passwords  # type: ignore[attr-defined]  # tests occupy the hashing workers
    app.serve(
        [
            Servicer(
                identity_pb2_grpc.add_IdentityServiceServicer_to_server,
                api,
                identity_pb2.DESCRIPTOR.services_by_name["IdentityService"].full_name,
            )
        ]
    )
    return app


def main() -> None:
    if len(sys.argv) > 1:
        from rapport_identity import cli

        raise SystemExit(cli.main(sys.argv[1:]))
    run_service(NAME, IdentitySettings, create)


if __name__ == "__main__":
    main()
