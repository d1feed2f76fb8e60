"""With `vault.auth=token` every service that uses Vault reads its own token, from its own key:
identity, notes-vault and billing never share one (each has its own least-privilege policy)."""

from __future__ import annotations

from types import ModuleType

import pytest

VAULT_USERS = {
    "identity": "RAPPORT_IDENTITY_VAULT_TOKEN",
    "notes-vault": "RAPPORT_NOTES_VAULT_VAULT_TOKEN",
    "billing": "RAPPORT_BILLING_VAULT_TOKEN",
}


def _token_refs(kit: ModuleType, values: dict) -> dict[str, tuple[str, str]]:
    r = kit.render(values)
    refs = {}
    for service, var in VAULT_USERS.items():
        (container,) = kit.pod_spec(r.get("Deployment", service))["containers"]
        (entry,) = [e for e in container["env"] if e["name"] == var]
        ref = entry["valueFrom"]["secretKeyRef"]
        refs[service] = (ref["name"], ref["key"])
    return refs


def test_each_service_reads_its_own_key(kit: ModuleType) -> None:
    token = {"vault": {"mode": "dev", "auth": "token", "token": {"existingSecret": "vault-tokens"}}}
    refs = _token_refs(kit, token)
    assert refs == {
        "identity": ("vault-tokens", "identity-token"),
        "notes-vault": ("vault-tokens", "notes-vault-token"),
        "billing": ("vault-tokens", "billing-token"),
    }


def test_keys_are_set_per_service(kit: ModuleType) -> None:
    keys = {"identity": "id", "notes-vault": "notes", "billing": "bill"}
    values = {
        "vault": {
            "mode": "dev",
            "auth": "token",
            "token": {"existingSecret": "s", "keys": keys},
        }
    }
    assert _token_refs(kit, values) == {s: ("s", k) for s, k in keys.items()}


def test_a_shared_single_key_is_no_longer_accepted(kit: ModuleType) -> None:
    # The old `vault.token.key` gave both services one token: the schema rejects it now.
    with pytest.raises(Exception, match="key"):
        kit.render(
            {
                "vault": {
                    "mode": "dev",
                    "auth": "token",
                    "token": {"existingSecret": "s", "key": "t"},
                }
            }
        )


def test_two_services_on_one_key_fail_the_install(kit: ModuleType) -> None:
    keys = {"identity": "same", "notes-vault": "same"}
    with pytest.raises(Exception, match="its own key"):
        kit.render(
            {
                "vault": {
                    "mode": "dev",
                    "auth": "token",
                    "token": {"existingSecret": "s", "keys": keys},
                }
            }
        )
