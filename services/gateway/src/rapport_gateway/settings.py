from urllib.parse import urlsplit

from pydantic import Field, field_validator
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
    # Edge limits (docs/security.md). A body over max_body_bytes is 413 before it is read in
    # full; headers over max_header_bytes are 431; a 422 lists at most max_validation_errors.
    max_body_bytes: int = Field(
        1 << 20, ge=1024, le=64 << 20, description="largest request body accepted (413 above)"
    )
    max_header_bytes: int = Field(
        16384, ge=1024, le=1 << 20, description="largest request head accepted (431 above)"
    )
    max_validation_errors: int = Field(
        20, ge=1, le=1000, description="most errors one 422 answer lists"
    )
    public_url: str = Field(
        "http://127.0.0.1:8080",
        description="public base URL of the API: links it hands out (calendar feeds) are built "
        "from it, never from a request's Host header",
    )

    @field_validator("public_url")
    @classmethod
    def _url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.query:
            raise ValueError("an absolute http(s) URL")
        return value.rstrip("/")
