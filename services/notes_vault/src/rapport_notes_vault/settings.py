from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict
from rapport_platform.settings import ConsumerPrefix, GrpcServiceSettings, VaultSettings


class NotesVaultSettings(GrpcServiceSettings, VaultSettings):
    model_config = SettingsConfigDict(
        env_prefix="RAPPORT_NOTES_VAULT_", extra="ignore", frozen=True
    )

    grpc_port: int = Field(50054, ge=1, le=65535)
    mongo_db: str = "rapport_notes_vault"
    key_prefix: str = Field(
        "notes-client-", description="Vault transit key per client: <prefix><client_id>"
    )
    max_body_bytes: int = Field(
        65536, ge=1024, le=1048576, description="largest note content (UTF-8 bytes)"
    )
    retention_days: int = Field(
        7 * 365 + 2,
        ge=0,
        le=36500,
        description="how long records outlive an erasure request before the key is destroyed",
    )
    key_rotation_days: int = Field(
        90, ge=0, le=3650, description="rotate a client's key when older than this; 0: never"
    )
    jobs_interval_seconds: float = Field(
        300.0, gt=0, le=86400, description="how often the rewrap and shredding jobs run"
    )
    workers_enabled: bool = Field(
        True, description="run the projection consumer and the key jobs in this replica"
    )
    consumer_prefix: ConsumerPrefix = Field(
        "notes-vault",
        description="JetStream durable consumer names start with this (<prefix>-appointments); "
        "two deployments sharing one NATS need different prefixes",
    )
    break_glass_max_minutes: int = Field(
        240, ge=5, le=1440, description="longest emergency access a therapist may open"
    )
    care_review_after_sessions: int = Field(
        6, ge=2, le=52, description="measured sessions before non-response suggests a review"
    )
    min_cell_size: int = Field(
        10, ge=2, le=1000, description="outcome aggregates below this many clients are withheld"
    )
    identity_timeout_seconds: float = Field(3.0, gt=0, le=30)
