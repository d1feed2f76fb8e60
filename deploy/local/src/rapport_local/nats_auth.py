"""Least privilege on NATS: each service its own user, publishing only its own subjects and
consuming only the streams it reads (ARCHITECTURE.md's table).

This table is the one source. `python -m rapport_local.nats_auth` writes the expanded
permissions to the chart (deploy/helm/rapport/files/nats/permissions.json, checked by
tests/deploy/test_nats_permissions.py); the local stack and the tests' nats-server get the same
permissions in the config written here.
"""

from __future__ import annotations

import json
import secrets
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CHART_FILE = (
    Path(__file__).resolve().parents[3] / "helm" / "rapport" / "files" / "nats" / "permissions.json"
)
DLQ_STREAM = "RAPPORT_DLQ"  # rapport_platform.bus.DLQ_STREAM
TEST_USER = "tests"


@dataclass(frozen=True)
class Grant:
    publishes: str | None  # the domain whose events (and stream) it owns
    consumes: tuple[str, ...] = ()  # domains whose streams it reads with durable consumers
    core: tuple[str, ...] = field(default=())  # core NATS subjects it both publishes and reads


GRANTS: Mapping[str, Grant] = {
    "identity": Grant("identity"),
    # therapist_joined_clinic (identity), session_ended (sessions), payment_authorized (billing)
    "scheduling": Grant("scheduling", ("identity", "sessions", "billing")),
    # Cross-replica fan-out of a room's frames over core NATS.
    "session-relay": Grant("sessions", ("scheduling",), ("rapport.relay.room.>",)),
    # notes-vault projects who treats whom from scheduling's events.
    "notes-vault": Grant("notes", ("scheduling",)),
    # billing learns a clinic's currency and commission from identity's clinic_created.
    "billing": Grant("billing", ("identity", "scheduling", "sessions")),
}


def _stream(domain: str) -> str:
    return f"RAPPORT_{domain.upper()}"


def _stream_admin(stream: str, *, owner: bool = False) -> list[str]:
    # Whoever first touches a stream creates it with the one fixed config (bus.ensure_stream);
    # only its owner may change its config.
    ops = ("CREATE", "UPDATE", "INFO") if owner else ("CREATE", "INFO")
    return [f"$JS.API.STREAM.{op}.{stream}" for op in ops]


def permissions(grant: Grant) -> dict[str, Any]:
    """nats-server permissions of one user: allow lists, everything else denied."""
    publish = ["$JS.API.INFO"]
    subscribe = ["_INBOX.>"]  # JetStream replies, pull consumers' deliveries
    if grant.publishes:
        publish += [
            f"rapport.{grant.publishes}.>",
            *_stream_admin(_stream(grant.publishes), owner=True),
        ]
    for domain in grant.consumes:
        stream = _stream(domain)
        publish += [
            *_stream_admin(stream),
            f"$JS.API.CONSUMER.CREATE.{stream}.>",
            f"$JS.API.CONSUMER.DURABLE.CREATE.{stream}.>",
            f"$JS.API.CONSUMER.INFO.{stream}.>",
            f"$JS.API.CONSUMER.MSG.NEXT.{stream}.>",
            f"$JS.ACK.{stream}.>",
            # Its own dead letters about this stream (bus.Consumer._failed).
            f"rapport.dlq.{stream}.>",
        ]
    if grant.consumes:
        publish += _stream_admin(DLQ_STREAM)
    publish += list(grant.core)
    subscribe += list(grant.core)
    return {"publish": {"allow": publish}, "subscribe": {"allow": subscribe}}


def all_permissions() -> dict[str, dict[str, Any]]:
    return {name: permissions(grant) for name, grant in GRANTS.items()}


def new_passwords(extra: tuple[str, ...] = ()) -> dict[str, str]:
    return {name: secrets.token_urlsafe(24) for name in (*GRANTS, *extra)}


def server_config(passwords: Mapping[str, str]) -> str:
    """The `authorization` block of a nats-server config: one user per service; a name that is
    not a service (the tests' own user) may do anything. Nobody connects without a password."""
    users = []
    for name, password in passwords.items():
        user: dict[str, Any] = {"user": name, "password": password}
        if name in GRANTS:
            user["permissions"] = permissions(GRANTS[name])
        users.append(user)
    # nats-server's config format reads JSON values.
    return f"authorization {{\n  users = {json.dumps(users, indent=2)}\n}}\n"


def url_for(base_url: str, user: str, password: str) -> str:
    scheme, _, rest = base_url.partition("://")
    return f"{scheme}://{user}:{password}@{rest}"


if __name__ == "__main__":
    text = json.dumps(all_permissions(), indent=2) + "\n"
    if sys.argv[1:] == ["--check"]:
        raise SystemExit(0 if CHART_FILE.read_text() == text else 1)
    CHART_FILE.write_text(text)
