"""Idempotent OpenBao/Vault setup for Rapport: transit engine, identity's signing key,
one least-privilege policy per service and one periodic token per service.

The policy text lives in `policies/<service>.hcl` beside this module so the Helm chart can
ship the very same files. The root token is used here only; it is never handed to a service.
"""

from __future__ import annotations

from importlib import resources

import hvac
from hvac.exceptions import InvalidPath

from rapport_local.procs import vault_client

SERVICES: tuple[str, ...] = (
    "identity",
    "notes-vault",
    "scheduling",
    "session-relay",
    "billing",
    "gateway",
)
TRANSIT_MOUNT = "transit"
IDENTITY_JWT_KEY = "identity-jwt"
# Encrypts identity's TOTP secrets; derived, so a ciphertext only opens for its own account.
IDENTITY_TOTP_KEY = "identity-totp"
# Encrypts billing's diagnosis codes (PHI); derived, so a ciphertext opens only for its appointment.
BILLING_DIAGNOSIS_KEY = "billing-diagnosis"
TOKEN_META_KEY = "rapport_service"


def policy_name(service: str) -> str:
    return f"rapport-{service}"


def policy_hcl(service: str) -> str:
    return (resources.files(__package__) / "policies" / f"{service}.hcl").read_text()


def _ensure_transit(client: hvac.Client) -> None:
    mounts = client.sys.list_mounted_secrets_engines()
    mounts = mounts.get("data", mounts)
    if f"{TRANSIT_MOUNT}/" not in mounts:
        client.sys.enable_secrets_engine("transit", path=TRANSIT_MOUNT)


def _ensure_identity_key(client: hvac.Client) -> None:
    for derived in (IDENTITY_TOTP_KEY, BILLING_DIAGNOSIS_KEY):
        try:
            client.secrets.transit.read_key(derived, mount_point=TRANSIT_MOUNT)
        except InvalidPath:
            client.secrets.transit.create_key(
                derived, key_type="aes256-gcm96", derived=True, mount_point=TRANSIT_MOUNT
            )
    try:
        client.secrets.transit.read_key(IDENTITY_JWT_KEY, mount_point=TRANSIT_MOUNT)
    except InvalidPath:
        client.secrets.transit.create_key(
            IDENTITY_JWT_KEY, key_type="ecdsa-p256", mount_point=TRANSIT_MOUNT
        )


def _revoke_previous(client: hvac.Client, services: set[str]) -> None:
    """Revoke tokens an earlier bootstrap issued, found by their metadata."""
    try:
        accessors = client.auth.token.list_accessors()["data"]["keys"]
    except InvalidPath:
        return
    for accessor in accessors:
        try:
            data = client.auth.token.lookup_accessor(accessor)["data"]
        except InvalidPath:
            continue  # expired between list and lookup
        if (data.get("meta") or {}).get(TOKEN_META_KEY) in services:
            client.auth.token.revoke_accessor(accessor)


def bootstrap(
    addr: str,
    root_token: str,
    *,
    period: str = "768h",
    revoke_previous: bool = False,
) -> dict[str, str]:
    """Set up Vault for every service; returns {service: token}.

    Safe to run again: engine, key and policies are created only if absent/overwritten with
    the same text. Each call issues fresh tokens; `revoke_previous=True` (the local stack,
    whose old services are gone) revokes the ones issued by earlier calls.
    """
    client = vault_client(addr, root_token)
    _ensure_transit(client)
    _ensure_identity_key(client)
    for service in SERVICES:
        client.sys.create_or_update_policy(policy_name(service), policy_hcl(service))
    if revoke_previous:
        _revoke_previous(client, set(SERVICES))
    tokens: dict[str, str] = {}
    for service in SERVICES:
        created = client.auth.token.create(
            policies=[policy_name(service)],
            # Only its own policy: not even `default` (no cubbyhole, no sys/ lookups).
            no_default_policy=True,
            # Orphan: it outlives neither more nor less because of the token that made it.
            no_parent=True,
            renewable=True,
            period=period,
            display_name=service,
            meta={TOKEN_META_KEY: service},
        )
        tokens[service] = created["auth"]["client_token"]
    return tokens
