from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict
from rapport_platform.settings import ConsumerPrefix, GrpcServiceSettings


class SessionRelaySettings(GrpcServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="RAPPORT_SESSION_RELAY_", extra="ignore", frozen=True
    )

    grpc_port: int = Field(50053, ge=1, le=65535)
    http_host: str = "127.0.0.1"
    http_port: int = Field(8081, ge=1, le=65535)
    # The relay keeps no session data: its database holds only the outbox, revocations and the
    # transient state of live rooms (membership, admission, presence times).
    mongo_db: str = "rapport_session_relay"
    scheduling_addr: str = "127.0.0.1:50052"
    scheduling_timeout_seconds: float = Field(3.0, gt=0, le=30)
    public_url: str = Field(
        "http://127.0.0.1:8081",
        description="public base URL of the relay: room links and the WebSocket URL are built "
        "from it, never from a request's Host header",
    )
    allowed_origins: tuple[str, ...] = Field(
        (), description="browser origins allowed to open the WebSocket; empty: public_url's"
    )
    token_secret: SecretStr = Field(
        SecretStr(""), description="HMAC key of join tokens, shared by every replica (a Secret)"
    )
    join_lead_minutes: int = Field(
        15, ge=0, le=24 * 60, description="a room opens this long before the booked start"
    )
    grace_minutes: int = Field(
        10, ge=0, le=120, description="a room closes this long after the booked end"
    )
    turn_urls: tuple[str, ...] = Field((), description="TURN/STUN URLs given to browsers")
    turn_secret: SecretStr = Field(
        SecretStr(""), description="coturn static-auth-secret (TURN REST credentials; a Secret)"
    )
    max_frame_bytes: int = Field(65536, ge=1024, le=1 << 20, description="bigger: close 1009")
    max_chat_chars: int = Field(4000, ge=1, le=65536)
    rate_per_second: float = Field(20.0, gt=0, le=1000, description="frames per connection")
    rate_burst: int = Field(60, ge=1, le=10000, description="frames allowed in a burst")
    max_rooms: int = Field(2000, ge=1, le=1_000_000, description="live rooms per process")
    max_connections: int = Field(4000, ge=1, le=1_000_000, description="sockets per process")
    hello_timeout_seconds: float = Field(10.0, gt=0, le=120)
    sweep_seconds: float = Field(5.0, gt=0, le=300, description="time-up checks of live rooms")
    consumer_prefix: ConsumerPrefix = Field(
        "session-relay",
        description="JetStream durable consumer names start with this "
        "(<prefix>-appointment-cancelled, <prefix>-appointment-rescheduled); two deployments "
        "sharing one NATS need different prefixes",
    )

    @field_validator("public_url")
    @classmethod
    def _url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("an absolute http(s) URL")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _secrets(self) -> "SessionRelaySettings":
        if len(self.token_secret.get_secret_value()) < 32:
            raise ValueError("token_secret must be at least 32 characters")
        if self.turn_urls and any(u.startswith("turn") for u in self.turn_urls):
            if not self.turn_secret.get_secret_value():
                raise ValueError("turn_secret is required with TURN URLs")
        return self

    @property
    def origins(self) -> frozenset[str]:
        if self.allowed_origins:
            return frozenset(o.rstrip("/") for o in self.allowed_origins)
        parts = urlsplit(self.public_url)
        return frozenset({f"{parts.scheme}://{parts.netloc}"})

    @property
    def ws_base(self) -> str:
        return "ws" + self.public_url.removeprefix("http")
