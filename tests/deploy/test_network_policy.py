"""The NetworkPolicies, evaluated: who may open a connection to whom inside the release.

A small evaluator of NetworkPolicy semantics (pod selectors, ports, policy types) runs over
the rendered policies and every pair of pods, and the result must be exactly the allow-list:
default deny; only the gateway reaches scheduling, notes-vault and billing (and session-relay
scheduling, for join tokens); identity also answers the other gRPC services (JWKS); only what
must reaches NATS, MongoDB and Vault.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest

Pod = dict[str, str]  # labels

DB_USERS = ("identity", "scheduling", "session-relay", "notes-vault", "billing")
BUS_USERS = ("identity", "scheduling", "session-relay", "notes-vault", "billing")
VAULT_USERS = ("identity", "notes-vault", "billing")
GRPC = ("identity", "scheduling", "session-relay", "notes-vault", "billing")


def _matches(selector: dict[str, Any], labels: Pod) -> bool:
    assert set(selector) <= {"matchLabels"}, selector  # matchExpressions are not used
    return all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items())


def _pods(r: Any, kit: ModuleType) -> dict[str, tuple[Pod, set[int]]]:
    pods = {}
    for w in r.workloads():
        labels = w["spec"]["template"]["metadata"]["labels"]
        ports = {
            p["containerPort"] for c in kit.containers(kit.pod_spec(w)) for p in c.get("ports", [])
        }
        pods[w["metadata"]["name"]] = (labels, ports)
    return pods


def _peer_allows(peers: list[dict[str, Any]] | None, labels: Pod) -> bool:
    if not peers:  # no from/to: every peer
        return True
    for peer in peers:
        if "ipBlock" in peer or "namespaceSelector" in peer:
            continue  # outside the release's namespace: not a pod of ours
        if _matches(peer["podSelector"], labels):
            return True
    return False


def _port_allows(ports: list[dict[str, Any]] | None, port: int) -> bool:
    return not ports or any(p.get("port") == port for p in ports)


def _allowed(policies: list[dict[str, Any]], src: Pod, dst: Pod, port: int) -> bool:
    def side(pod: Pod, kind: str, other: Pod) -> bool:
        selecting = [
            p for p in policies
            if _matches(p["spec"]["podSelector"], pod) and kind in p["spec"]["policyTypes"]
        ]  # fmt: skip
        if not selecting:
            return True  # not isolated (never the case here: default-deny selects all)
        key, peers_key = ("ingress", "from") if kind == "Ingress" else ("egress", "to")
        return any(
            _peer_allows(rule.get(peers_key), other) and _port_allows(rule.get("ports"), port)
            for p in selecting
            for rule in (p["spec"].get(key) or [])
        )

    return side(src, "Egress", dst) and side(dst, "Ingress", src)


def _reachable(r: Any, kit: ModuleType) -> set[tuple[str, str, int]]:
    policies = r.of_kind("NetworkPolicy")
    pods = _pods(r, kit)
    edges = set()
    for src, (src_labels, _) in pods.items():
        for dst, (dst_labels, dst_ports) in pods.items():
            for port in dst_ports:
                if _allowed(policies, src_labels, dst_labels, port):
                    edges.add((src, dst, port))
    return edges


def _expected(r: Any, kit: ModuleType) -> set[tuple[str, str, int]]:
    present = set(_pods(r, kit))
    edges = {("gateway", s, kit.GRPC_PORTS[s]) for s in GRPC}
    edges |= {(s, "identity", 50051) for s in GRPC if s != "identity"}
    edges.add(("session-relay", "scheduling", 50052))  # GetAppointment for join tokens
    edges |= {(s, "mongodb", 27017) for s in (*DB_USERS, "mongodb-init", "mongodb")}
    edges |= {(s, "nats", 4222) for s in BUS_USERS}
    edges |= {(s, "vault", 8200) for s in (*VAULT_USERS, "vault-bootstrap")}
    edges |= {(s, "otel-collector", 4317) for s in kit.SERVICES}
    edges |= {
        ("otel-collector", "jaeger", 4317),
        ("prometheus", "otel-collector", 8889),
        ("grafana", "prometheus", 9090),
        ("grafana", "jaeger", 16686),
    }
    return {e for e in edges if e[0] in present and e[1] in present}


@pytest.mark.parametrize(
    "values_set", ["minimal", "production", "observability", "production-like"]
)
def test_reachability_is_exactly_the_allow_list(
    renders: dict[str, Any], kit: ModuleType, values_set: str
) -> None:
    r = renders[values_set]
    reachable, expected = _reachable(r, kit), _expected(r, kit)
    assert sorted(reachable - expected) == [], "allowed but should not be"
    assert sorted(expected - reachable) == [], "needed but denied"


def test_default_deny_covers_every_pod(renders: dict[str, Any], kit: ModuleType) -> None:
    for r in renders.values():
        deny = r.get("NetworkPolicy", "default-deny")["spec"]
        assert deny["policyTypes"] == ["Ingress", "Egress"]
        assert "ingress" not in deny and "egress" not in deny
        for name, (labels, _) in _pods(r, kit).items():
            assert _matches(deny["podSelector"], labels), name


def test_only_the_edge_is_reachable_from_the_ingress_controller(renders: dict[str, Any]) -> None:
    r = renders["observability"]
    from_controller = {}
    for policy in r.of_kind("NetworkPolicy"):
        for rule in policy["spec"].get("ingress") or []:
            if any("namespaceSelector" in peer for peer in rule.get("from", [])):
                from_controller[policy["metadata"]["name"]] = sorted(
                    p["port"] for p in rule["ports"]
                )
    assert from_controller == {
        "gateway": [8080],
        "session-relay": [8081],
        "grafana": [3000],
        "jaeger": [16686],
    }


def test_external_dependencies_only_for_their_users(
    renders: dict[str, Any], kit: ModuleType
) -> None:
    """Production: MongoDB, NATS and Vault are outside; egress to them only where needed."""
    r = renders["production"]
    for service in kit.SERVICES:
        policy = r.get("NetworkPolicy", service)
        ports = {
            p["port"]
            for rule in policy["spec"]["egress"]
            if any("namespaceSelector" in peer or "ipBlock" in peer for peer in rule.get("to", []))
            for p in rule["ports"]
        }
        assert (27017 in ports) == (service in DB_USERS), service
        assert (4222 in ports) == (service in BUS_USERS), service
        assert (8200 in ports) == (service in VAULT_USERS), service
        assert (443 in ports) == (service == "billing"), service  # Stripe
        assert 4317 in ports  # the platform's OTel collector
