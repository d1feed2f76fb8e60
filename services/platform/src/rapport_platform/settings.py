"""Settings: pydantic-settings from environment variables only (12-factor), failing fast."""

from __future__ import annotations

import json
import re
import sys
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BeforeValidator, Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict, SettingsError

S = TypeVar("S", bound=BaseSettings)


def _split_list(value: Any) -> Any:
    """`1440,60` (the documented form) or a JSON list `[1440, 60]`; pydantic checks the items."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if text.startswith("["):
        try:
            return json.loads(text)
        except ValueError:
            raise ValueError("not a JSON list; write the values separated by commas") from None
    return [part.strip() for part in text.split(",")] if text else []


# A list-valued setting read from one variable as comma-separated values, e.g. `1440,60`
# (pydantic-settings would otherwise demand JSON and fail with a traceback on anything else).
CommaSeparatedInts = Annotated[tuple[int, ...], NoDecode, BeforeValidator(_split_list)]


def _service_token_key(value: Any) -> Any:
    if isinstance(value, str) and value and len(value.encode()) < 32:
        raise ValueError("must be at least 32 bytes (generate one with `openssl rand -hex 32`)")
    return value


# The key that signs and checks service tokens on internal calls (rapport_platform.service_auth);
# empty: this process neither asserts nor trusts anything a service token would prove.
ServiceTokenKey = Annotated[
    str,
    BeforeValidator(_service_token_key),
    Field(repr=False, description="HS256 key of internal service tokens (a Secret)"),
]


# The start of a consumer service's JetStream durable names (a setting, so that two deployments
# sharing one NATS keep their durables apart); the service's field gives default and description.
ConsumerPrefix = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


class BaseServiceSettings(BaseSettings):
    """What every Rapport process reads. Subclasses set `env_prefix` to `RAPPORT_<NAME>_`."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    drain_seconds: float = Field(10.0, ge=0, le=300, description="graceful drain after SIGTERM")


class GrpcServiceSettings(BaseServiceSettings):
    """A gRPC service with its own database and the bus."""

    grpc_host: str = "127.0.0.1"
    grpc_port: int = Field(ge=1, le=65535)
    mongo_uri: str = "mongodb://127.0.0.1:27018/?directConnection=true"
    mongo_db: str
    nats_url: str = "nats://127.0.0.1:14222"
    identity_addr: str = Field("127.0.0.1:50051", description="where the JWKS comes from")


class VaultSettings(BaseSettings):
    """Mixin for services that hold keys in Vault (identity, notes-vault)."""

    vault_addr: str = "http://127.0.0.1:18200"
    vault_auth: Literal["token", "kubernetes"] = "token"
    vault_token: str = Field("", repr=False)
    vault_role: str = ""
    vault_transit_mount: str = "transit"

    @model_validator(mode="after")
    def _credentials_present(self) -> VaultSettings:
        if self.vault_auth == "token" and not self.vault_token:
            raise ValueError("vault_token is required when vault_auth is token")
        if self.vault_auth == "kubernetes" and not self.vault_role:
            raise ValueError("vault_role is required when vault_auth is kubernetes")
        return self


def load_settings(cls: type[S]) -> S:
    """Read settings or exit at once with a message naming each bad variable (never a traceback)."""
    prefix = str(cls.model_config.get("env_prefix", ""))
    try:
        return cls()
    except SettingsError as exc:  # a value the source could not even decode
        found = re.search(r'field "(\w+)"', str(exc))
        name = f"{prefix}{found.group(1).upper()}" if found else cls.__name__
        print(
            f"invalid configuration for {cls.__name__}:\n  {name}: cannot be read", file=sys.stderr
        )
        raise SystemExit(2) from None
    except ValidationError as exc:
        lines = [f"invalid configuration for {cls.__name__}:"]
        for err in exc.errors():
            field, inner = (err["loc"][0], err["loc"][1:]) if err["loc"] else ("", ())
            name = f"{prefix}{str(field).upper()}" if field else prefix.rstrip("_") or cls.__name__
            where = f" (item {int(inner[0]) + 1})" if inner and isinstance(inner[0], int) else ""
            lines.append(f"  {name}{where}: {err['msg']}")
        print("\n".join(lines), file=sys.stderr)
        raise SystemExit(2) from None
