from pydantic import Field
from pydantic_settings import SettingsConfigDict
from rapport_platform.settings import BaseServiceSettings, ServiceTokenKey


class GatewaySettings(BaseServiceSettings):
    model_config = SettingsConfigDict(env_prefix="RAPPORT_GATEWAY_", extra="ignore", frozen=True)

    http_host: str = "127.0.0.1"
    http_port: int = Field(8080, ge=1, le=65535)
    identity_addr: str = "127.0.0.1:50051"
    scheduling_addr: str = "127.0.0.1:50052"
    session_relay_addr: str = "127.0.0.1:50053"
    notes_vault_addr: str = "127.0.0.1:50054"
    billing_addr: str = "127.0.0.1:50055"
    rpc_timeout_seconds: float = Field(5.0, gt=0, le=60)
    # Sign-up, sign-in and MFA enrolment hash a password; in a burst they queue for a hashing
    # thread (identity's PASSWORD_HASH_QUEUE_SECONDS), so they get a longer deadline.
    auth_timeout_seconds: float = Field(
        10.0, gt=0, le=60, description="deadline of the calls that hash a password"
    )
    retry_after_seconds: int = Field(5, ge=1, le=300, description="Retry-After on 503")
    # Signs the gateway's word on internal calls (a client's address to identity).
    service_token_key: ServiceTokenKey = ""
