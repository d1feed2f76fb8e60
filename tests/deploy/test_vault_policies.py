"""The chart's Vault policies are the local stack's policies, byte for byte."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any

REPO = Path(__file__).resolve().parents[2]
LOCAL = REPO / "deploy" / "local" / "src" / "rapport_local" / "policies"
CHART = REPO / "deploy" / "helm" / "rapport" / "files" / "vault" / "policies"


def test_chart_policies_are_the_local_stacks() -> None:
    local = {p.name: p.read_text() for p in LOCAL.glob("*.hcl")}
    chart = {p.name: p.read_text() for p in CHART.glob("*.hcl")}
    assert local, f"no policies in {LOCAL}"
    assert chart == local, "copy deploy/local/src/rapport_local/policies/*.hcl into the chart"


def test_policies_grant_what_the_services_need() -> None:
    identity = (CHART / "identity.hcl").read_text()
    for path in (
        "transit/keys/identity-jwt",
        "transit/sign/identity-jwt",
        "transit/keys/identity-jwt/rotate",
    ):
        assert f'path "{path}"' in identity
    notes = (CHART / "notes-vault.hcl").read_text()
    for path in ("keys", "encrypt", "decrypt", "datakey/plaintext", "rewrap"):
        assert f'path "transit/{path}/notes-*"' in notes
    for text in (identity, notes):
        assert "sudo" not in text and '"*"' not in text


def test_bootstrap_ships_the_policies_with_the_mount(
    kit: ModuleType, renders: dict[str, Any]
) -> None:
    data = renders["minimal"].get("ConfigMap", "vault-bootstrap")["data"]
    assert set(data) == {
        "bootstrap.sh",
        "policy-identity.hcl",
        "policy-notes-vault.hcl",
        "policy-billing.hcl",
    }
    assert data["policy-identity.hcl"].strip() == (CHART / "identity.hcl").read_text().strip()
    moved = kit.render({"vault": {"mode": "dev", "transitMount": "rapport-transit"}})
    text = moved.get("ConfigMap", "vault-bootstrap")["data"]["policy-notes-vault.hcl"]
    assert 'path "rapport-transit/encrypt/notes-*"' in text and '"transit/' not in text
