from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict
from rapport_platform.settings import GrpcServiceSettings, ServiceTokenKey, VaultSettings


class BillingSettings(GrpcServiceSettings, VaultSettings):
    model_config = SettingsConfigDict(env_prefix="RAPPORT_BILLING_", extra="ignore", frozen=True)

    grpc_port: int = Field(50055, ge=1, le=65535)
    mongo_db: str = "rapport_billing"
    provider: Literal["manual", "stripe"] = Field(
        "manual", description="who takes card payments (manual: admins record payments)"
    )
    stripe_api_key: SecretStr = Field(SecretStr(""), description="secret key (sk_...)")
    stripe_webhook_secret: SecretStr = Field(SecretStr(""), description="signing secret (whsec_)")
    stripe_connect_webhook_secret: SecretStr = Field(
        SecretStr(""),
        description="signing secret of the Connect endpoint (connected accounts' payouts)",
    )
    stripe_api_base: str = Field("", description="override the Stripe API base (tests only)")
    stripe_connect_account: str = Field(
        "",
        description="default connected account (acct_...) for clinics that linked none; "
        "each clinic links its own (PUT /v1/clinics/{id}/stripe-account)",
    )
    statement_descriptor: str = Field(
        "RAPPORT SESSION", min_length=5, max_length=22, description="generic; never PHI"
    )
    platform_fee_bps: int = Field(
        0, ge=0, le=10_000, description="the platform's application fee on each session"
    )
    provider_timeout_seconds: float = Field(10.0, gt=0, le=60)
    action_backoff_seconds: tuple[float, ...] = Field(
        (2.0, 10.0, 60.0, 300.0), description="retry delays for provider calls that failed"
    )
    worker_poll_seconds: float = Field(2.0, gt=0, le=300)
    hold_grace_seconds: float = Field(
        60.0, ge=0, le=3600, description="after a hold expires, before billing voids it"
    )
    park_max_deliver: int = Field(
        6, ge=1, le=100, description="deliveries of an event for an unknown appointment before DLQ"
    )
    park_backoff_seconds: tuple[float, ...] = Field((1.0, 5.0, 15.0, 60.0, 300.0))
    identity_timeout_seconds: float = Field(3.0, gt=0, le=30)
    workers_enabled: bool = Field(True, description="run the consumers and the provider worker")
    diagnosis_key_name: str = Field(
        "billing-diagnosis", min_length=1, description="derived transit key sealing ICD-10 codes"
    )
    # Signs billing's own questions to identity (a clinic's current commission at earning time).
    service_token_key: ServiceTokenKey = ""

    @field_validator("action_backoff_seconds", "park_backoff_seconds")
    @classmethod
    def _backoff(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if not value or any(not 0 < v <= 3600 for v in value):
            raise ValueError("one or more delays between 0 and 3600 seconds")
        return value

    @model_validator(mode="after")
    def _stripe_keys(self) -> "BillingSettings":
        if self.provider == "stripe" and not (
            self.stripe_api_key.get_secret_value() and self.stripe_webhook_secret.get_secret_value()
        ):
            raise ValueError("provider stripe needs stripe_api_key and stripe_webhook_secret")
        return self
