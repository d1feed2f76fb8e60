from __future__ import annotations

import base64

import hvac
import pytest
from hvac.exceptions import Forbidden
from rapport_local.procs import Proc, vault_client
from rapport_local.vault_bootstrap import SERVICES, bootstrap, policy_name


@pytest.fixture(scope="module")
def tokens(bao_dev: tuple[Proc, str]) -> dict[str, str]:
    proc, root = bao_dev
    bootstrap(proc.url, root)
    return bootstrap(proc.url, root)  # twice: must be harmless


def _client(bao_dev: tuple[Proc, str], token: str) -> hvac.Client:
    return vault_client(bao_dev[0].url, token)


def test_one_token_per_service_bound_to_its_policy(
    bao_dev: tuple[Proc, str], tokens: dict[str, str]
) -> None:
    assert set(tokens) == set(SERVICES)
    root = bao_dev[1]
    assert root not in tokens.values()
    for service, token in tokens.items():
        info = _client(bao_dev, token).auth.token.lookup_self()["data"]
        assert info["policies"] == [policy_name(service)]
        assert info["renewable"] is True and info["period"] > 0
    # still exactly one ecdsa-p256 key after two bootstraps
    key = _client(bao_dev, root).secrets.transit.read_key("identity-jwt")["data"]
    assert key["type"] == "ecdsa-p256" and key["latest_version"] == 1


def test_identity_signs_reads_and_rotates(
    bao_dev: tuple[Proc, str], tokens: dict[str, str]
) -> None:
    identity = _client(bao_dev, tokens["identity"])
    signed = identity.secrets.transit.sign_data(
        "identity-jwt",
        hash_input=base64.b64encode(b"header.payload").decode(),
        marshaling_algorithm="jws",
    )
    assert signed["data"]["signature"].startswith("vault:v")
    keys = identity.secrets.transit.read_key("identity-jwt")["data"]["keys"]
    assert "BEGIN PUBLIC KEY" in keys["1"]["public_key"]
    identity.secrets.transit.rotate_key("identity-jwt")
    # Not allowed: notes keys, creating other keys.
    with pytest.raises(Forbidden):
        identity.secrets.transit.decrypt_data("notes-x", ciphertext="vault:v1:AAAA")
    with pytest.raises(Forbidden):
        identity.secrets.transit.create_key("other")


def test_notes_vault_keys_encrypt_decrypt_shred(
    bao_dev: tuple[Proc, str], tokens: dict[str, str]
) -> None:
    notes = _client(bao_dev, tokens["notes-vault"])
    notes.secrets.transit.create_key("notes-x", key_type="aes256-gcm96", derived=True)
    ctx = base64.b64encode(b"client-123").decode()
    plain = base64.b64encode(b"session went well").decode()
    ct = notes.secrets.transit.encrypt_data("notes-x", plaintext=plain, context=ctx)["data"][
        "ciphertext"
    ]
    out = notes.secrets.transit.decrypt_data("notes-x", ciphertext=ct, context=ctx)
    assert out["data"]["plaintext"] == plain
    dk = notes.secrets.transit.generate_data_key("notes-x", key_type="plaintext", context=ctx)
    assert dk["data"]["ciphertext"].startswith("vault:v1:")
    notes.secrets.transit.rewrap_data("notes-x", ciphertext=ct, context=ctx)
    # Not allowed: identity's signing key.
    with pytest.raises(Forbidden):
        notes.secrets.transit.sign_data("identity-jwt", hash_input=plain)
    # Crypto-shredding: allow deletion, delete, and the ciphertext is gone for good.
    notes.secrets.transit.update_key_configuration("notes-x", deletion_allowed=True)
    notes.secrets.transit.delete_key("notes-x")
    with pytest.raises(hvac.exceptions.InvalidRequest):
        notes.secrets.transit.decrypt_data("notes-x", ciphertext=ct, context=ctx)


@pytest.mark.parametrize("service", ["scheduling", "session-relay", "billing", "gateway"])
def test_other_services_can_only_look_themselves_up(
    bao_dev: tuple[Proc, str], tokens: dict[str, str], service: str
) -> None:
    client = _client(bao_dev, tokens[service])
    assert client.auth.token.lookup_self()["data"]["display_name"] == f"token-{service}"
    client.auth.token.renew_self()
    with pytest.raises(Forbidden):
        client.secrets.transit.sign_data("identity-jwt", hash_input="aGk=")
    with pytest.raises(Forbidden):
        client.secrets.transit.encrypt_data("notes-x", plaintext="aGk=")
    with pytest.raises(Forbidden):
        client.sys.list_mounted_secrets_engines()


def test_revoke_previous_revokes_old_tokens(bao_dev: tuple[Proc, str]) -> None:
    proc, root = bao_dev
    old = bootstrap(proc.url, root)
    new = bootstrap(proc.url, root, revoke_previous=True)
    assert _client(bao_dev, new["gateway"]).is_authenticated()
    assert not _client(bao_dev, old["gateway"]).is_authenticated()
