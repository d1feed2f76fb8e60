"""Every rendered manifest validates against the Kubernetes OpenAPI schemas (strict)."""

from __future__ import annotations

import copy
from types import ModuleType
from typing import Any

import kubernetes_validate
import pytest


def test_kubernetes_validate_knows_the_version(kit: ModuleType) -> None:
    # A current Kubernetes: the newest minor kubernetes-validate ships schemas for.
    utils = kubernetes_validate.utils
    assert utils.major_minor(utils.latest_version()) == utils.major_minor(kit.KUBE_VERSION)


def test_the_validator_is_not_vacuous(renders: dict[str, Any], kit: ModuleType) -> None:
    deployment = copy.deepcopy(renders["minimal"].get("Deployment", "gateway"))
    deployment["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, kit.KUBE_VERSION, strict=True)


@pytest.mark.parametrize(
    "values_set", ["minimal", "production", "observability", "dev", "production-like"]
)
def test_rendered_manifests_are_valid_kubernetes(
    renders: dict[str, Any], kit: ModuleType, values_set: str
) -> None:
    failures = []
    for doc in renders[values_set].docs:
        ref = f"{doc['kind']}/{doc['metadata']['name']}"
        try:
            # strict: unknown fields (a misspelt key the API server would drop) fail too.
            kubernetes_validate.validate(doc, kit.KUBE_VERSION, strict=True)
        except kubernetes_validate.ValidationError as e:
            failures.append(f"{ref}: {'.'.join(str(p) for p in e.path)}: {e.message}")
        except kubernetes_validate.SchemaNotFoundError as e:
            failures.append(f"{ref}: {e.message}")
    assert failures == []


_SERVICES = ("gateway", "identity", "scheduling", "session-relay", "notes-vault", "billing")
EDGE_CASES = {
    **{f"only-{s}": {"services": {o: {"enabled": o == s} for o in _SERVICES}} for s in _SERVICES},
    "no-network-policies": {"networkPolicy": {"enabled": False}},
    "ingress-without-tls": {"ingress": {"enabled": True, "tls": {"enabled": False}}},
    "collector-only": {"observability": {"collector": {"enabled": True}}},
    "grafana-only": {"observability": {"grafana": {"enabled": True}}},
    "external-nats-url": {"nats": {"enabled": False, "external": {"url": "nats://nats.bus:4222"}}},
    "vault-external-token-auth": {
        "vault": {"mode": "external", "auth": "token", "token": {"existingSecret": "t"}}
    },
}


@pytest.mark.parametrize("case", sorted(EDGE_CASES))
def test_edge_value_sets_render_valid_kubernetes(kit: ModuleType, case: str) -> None:
    values = {"vault": {"mode": "dev"}, **EDGE_CASES[case]}
    for doc in kit.render(values, case).docs:
        kubernetes_validate.validate(doc, kit.KUBE_VERSION, strict=True)
