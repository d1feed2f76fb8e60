from __future__ import annotations

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict
from rapport_platform.settings import GrpcServiceSettings, ServiceTokenKey, VaultSettings

from rapport_identity.keys import MIN_ACTIVATION_SECONDS


class IdentitySettings(GrpcServiceSettings, VaultSettings):
    model_config = SettingsConfigDict(env_prefix="RAPPORT_IDENTITY_", extra="ignore", frozen=True)

    grpc_port: int = Field(50051, ge=1, le=65535)
    mongo_db: str = "rapport_identity"
    jwt_key_name: str = Field("identity-jwt", description="Vault transit key that signs tokens")
    totp_key_name: str = Field(
        "identity-totp", description="Vault transit key (derived) that seals TOTP secrets"
    )
    access_token_ttl_seconds: int = Field(900, ge=60, le=3600)
    refresh_token_ttl_seconds: int = Field(
        30 * 24 * 3600, ge=3600, le=90 * 24 * 3600, description="absolute life of a sign-in"
    )
    signing_key_rotation_days: int = Field(
        30, ge=0, le=365, description="rotate the signing key when older than this; 0: never"
    )
    signing_key_activation_seconds: int = Field(
        10,
        ge=0,
        le=3600,
        description=(
            "a new signing key is published this long before it signs; at least the key cache "
            "plus the verifiers' JWKS refresh interval (10 s)"
        ),
    )

    # The marketplace clinic: where self-registered therapists practise.
    marketplace_name: str = "Rapport marketplace"
    marketplace_currency: str = "USD"
    marketplace_timezone: str = "UTC"
    marketplace_commission_bps: int = Field(2000, ge=0, le=10_000)
    marketplace_cancellation_window_hours: int = Field(24, ge=0, le=336)
    marketplace_late_fee_minor: int = Field(0, ge=0)

    # Checks the gateway's service tokens: only a call signed with it may assert a client address.
    service_token_key: ServiceTokenKey = ""
    # Checks scheduling's service tokens: its consumers re-check facts with identity.
    scheduling_token_key: ServiceTokenKey = ""
    # Checks billing's service tokens: it reads a clinic's current commission when it earns.
    billing_token_key: ServiceTokenKey = ""

    # Active bookings (held or confirmed, not over) one client may have at once, for clinics
    # that set no limits of their own (the marketplace included).
    default_max_active_bookings_per_therapist: int = Field(
        8, ge=1, le=200, description="with one therapist, unless the clinic sets its own"
    )
    default_max_active_bookings_per_client: int = Field(
        12, ge=1, le=200, description="with one clinic's therapists, unless it sets its own"
    )

    invitation_ttl_hours: int = Field(7 * 24, ge=1, le=30 * 24)
    license_sweep_check_seconds: float = Field(
        600, gt=0, description="how often a replica checks whether today's sweep has run"
    )

    # Sign-in throttling: failures within the window on one account (any email, known or not)
    # or from one address first slow sign-in down (doubling waits), then lock it for a while.
    login_account_slowdown_after: int = Field(3, ge=1)
    login_account_lock_after: int = Field(10, ge=1)
    login_address_slowdown_after: int = Field(20, ge=1)
    login_address_lock_after: int = Field(100, ge=1)
    # Failures on one account from one address: these bite first, so a stranger at one address
    # is stopped long before the account's own lock (which a known device, or the right
    # password with a valid one-time code, still passes).
    login_pair_slowdown_after: int = Field(3, ge=1)
    login_pair_lock_after: int = Field(5, ge=1)
    known_device_days: int = Field(
        90, ge=1, le=400, description="how long a device that signed in counts as known"
    )
    login_lockout_seconds: int = Field(900, ge=1)
    login_failure_window_seconds: int = Field(900, ge=1)
    login_max_delay_seconds: int = Field(60, ge=1)

    # Sign-up throttling: at most this many registrations from one client address per window
    # (attempts that reach the database count, a duplicate email included), then 429.
    register_address_limit: int = Field(20, ge=1)
    register_window_seconds: int = Field(3600, ge=1)

    # Password hashing (argon2id, CPU-bound): its own pool of this many threads (0: one per
    # CPU the process may use); a call finding them all busy waits at most this long (and never
    # into its caller's deadline), then gets 429 with Retry-After.
    password_hash_workers: int = Field(
        0, ge=0, le=64, description="threads that hash passwords; 0: one per CPU"
    )
    password_hash_queue_seconds: float = Field(
        3.0,
        ge=0,
        le=30,
        description="how long a sign-up or sign-in waits for a free hashing thread before 429",
    )

    @model_validator(mode="after")
    def _activation_outlasts_caches(self) -> IdentitySettings:
        if self.signing_key_activation_seconds < MIN_ACTIVATION_SECONDS:
            raise ValueError(
                f"signing_key_activation_seconds must be at least {MIN_ACTIVATION_SECONDS:g}: "
                "a replica's key cache plus the verifiers' JWKS refresh interval, or a verifier "
                "could meet a kid it cannot fetch yet"
            )
        return self
