from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict
from rapport_platform.settings import CommaSeparatedInts, GrpcServiceSettings, ServiceTokenKey


class SchedulingSettings(GrpcServiceSettings):
    model_config = SettingsConfigDict(env_prefix="RAPPORT_SCHEDULING_", extra="ignore", frozen=True)

    grpc_port: int = Field(50052, ge=1, le=65535)
    mongo_db: str = "rapport_scheduling"
    hold_ttl_seconds: int = Field(
        600, ge=30, le=3600, description="how long a hold blocks its slot before it expires"
    )
    max_live_holds: int = Field(
        3, ge=1, le=50, description="live holds one client may have at once (no free blocking)"
    )
    max_active_bookings: int = Field(
        30,
        ge=1,
        le=1000,
        description="a client's active bookings (held or confirmed, not over) on the whole "
        "platform; each clinic bounds them per therapist and per clinic in its own terms",
    )
    reminder_leads_minutes: CommaSeparatedInts = Field(
        (1440, 60),
        description="reminders go out this many minutes before each start, e.g. `1440,60`",
    )
    reminder_poll_seconds: float = Field(5.0, gt=0, le=300)
    default_cancellation_window_hours: int = Field(
        24, ge=0, le=720, description="for therapists outside any clinic (no late fee)"
    )
    workers_enabled: bool = Field(
        True,
        description="run the reminder scheduler and the session_ended consumer in this replica "
        "(any number of replicas may: each reminder and event still takes effect once)",
    )
    identity_timeout_seconds: float = Field(3.0, gt=0, le=30)
    # Signs scheduling's questions to identity from consumers that have no caller's token.
    service_token_key: ServiceTokenKey = ""
    feed_past_days: int = Field(
        30, ge=0, le=365, description="how far back the iCalendar feed goes"
    )

    @field_validator("reminder_leads_minutes")
    @classmethod
    def _leads(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if (
            not value
            or any(not 1 <= v <= 30 * 24 * 60 for v in value)
            or len(set(value)) != len(value)
        ):
            raise ValueError("distinct lead times between 1 minute and 30 days")
        return value
