"""What the rendered workloads must be, whatever a policy scanner thinks: hardened pods,
native gRPC probes, a grace period longer than the drain, no secret in clear."""

from __future__ import annotations

import ipaddress
from types import ModuleType
from typing import Any

import pytest

VALUE_SETS = ["minimal", "production", "observability", "dev", "production-like"]


def _env(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in container.get("env", [])}


@pytest.mark.parametrize("values_set", VALUE_SETS)
def test_every_pod_is_hardened(renders: dict[str, Any], kit: ModuleType, values_set: str) -> None:
    r = renders[values_set]
    assert r.workloads()
    for w in r.workloads():
        name = w["metadata"]["name"]
        spec = kit.pod_spec(w)
        psc = spec["securityContext"]
        assert psc["runAsNonRoot"] is True, name
        assert psc["seccompProfile"]["type"] == "RuntimeDefault", name
        assert spec["serviceAccountName"] == name, name
        # Only Vault's own pod carries an API token (it reviews the services' tokens).
        assert spec["automountServiceAccountToken"] is (name == "vault"), name
        for c in kit.containers(spec):
            sc = c["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False, name
            assert sc["privileged"] is False, name
            assert sc["capabilities"]["drop"] == ["ALL"], name
            assert "add" not in sc["capabilities"], name
            assert sc["runAsNonRoot"] is True, name
            assert sc["seccompProfile"]["type"] == "RuntimeDefault", name
            writable = values_set == "dev" and name in kit.SERVICES
            assert sc["readOnlyRootFilesystem"] is (not writable), name
            for kind in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(c["resources"][kind]), name


@pytest.mark.parametrize("values_set", VALUE_SETS)
def test_services_probes_and_drain(
    renders: dict[str, Any], kit: ModuleType, values_set: str
) -> None:
    r = renders[values_set]
    for service in kit.SERVICES:
        spec = kit.pod_spec(r.get("Deployment", service))
        (c,) = spec["containers"]
        env = _env(c)
        if service == "gateway":
            assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
            assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
            assert c["startupProbe"]["httpGet"]["path"] == "/healthz"
            # Trusted proxies are networks, never "*" (uvicorn would then believe the leftmost,
            # client-chosen X-Forwarded-For entry).
            trusted = _env(c)["FORWARDED_ALLOW_IPS"]["value"].split(",")
            assert "*" not in trusted
            assert all(ipaddress.ip_network(n.strip()) for n in trusted)
        else:
            port = kit.GRPC_PORTS[service]
            for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
                assert c[probe]["grpc"]["port"] == port, (service, probe)
        prefix = "RAPPORT_" + service.upper().replace("-", "_") + "_"
        drain = float(env[prefix + "DRAIN_SECONDS"]["value"])
        # NOT_SERVING for the drain while answering, then the drain again for in-flight
        # calls (rapport_platform.rpc): only after both may SIGKILL come.
        assert spec["terminationGracePeriodSeconds"] > 2 * drain, service
        # Every service drains by itself (the gateway too: /readyz fails first): no preStop.
        assert "lifecycle" not in c, service
        ports = {p["name"]: p["containerPort"] for p in c["ports"]}
        expected = {
            "gateway": {"http": 8080},
            "session-relay": {"http": 8081, "grpc": 50053},
        }.get(service, {"grpc": kit.GRPC_PORTS.get(service)})
        assert ports == expected, service


@pytest.mark.parametrize("values_set", VALUE_SETS)
def test_no_secret_in_clear(renders: dict[str, Any], kit: ModuleType, values_set: str) -> None:
    r = renders[values_set]
    for w in r.workloads():
        for c in kit.containers(kit.pod_spec(w)):
            for name, e in _env(c).items():
                if name.endswith("__FILE"):  # a path to a mounted Secret (Grafana)
                    continue
                if name.endswith(("_URI", "_TOKEN", "_PASSWORD", "_SECRET")):
                    assert "valueFrom" in e, f"{w['metadata']['name']}: {name} is a plain value"
            for name in ("RAPPORT_IDENTITY_MONGO_URI", "RAPPORT_BILLING_MONGO_URI"):
                if name in _env(c):
                    assert "secretKeyRef" in _env(c)[name]["valueFrom"]
    # The only Secrets the chart writes are generated (never taken from values); production
    # writes none at all.
    generated = {
        "mongodb-uri",
        "vault-dev-root-token",
        "grafana-admin",
        "rapport-session-relay",
        # NATS users' passwords and the server config holding them; the service-token key.
        "rapport-nats-users",
        "nats",
        "rapport-service-token",
        # MongoDB's administrator and keyfile (mongodb-uri holds each service's own user).
        "mongodb-auth",
    }
    assert {s["metadata"]["name"] for s in r.of_kind("Secret")} <= generated
    if values_set == "production":
        assert r.of_kind("Secret") == []


def test_vault_login_token_only_where_needed(renders: dict[str, Any], kit: ModuleType) -> None:
    r = renders["production"]
    for service in kit.SERVICES:
        spec = kit.pod_spec(r.get("Deployment", service))
        volumes = {v["name"]: v for v in spec["volumes"]}
        if service in ("identity", "notes-vault", "billing"):
            (source,) = volumes["vault-token"]["projected"]["sources"]
            assert source["serviceAccountToken"]["audience"] == "vault"
            mount = {m["name"]: m for m in spec["containers"][0]["volumeMounts"]}["vault-token"]
            assert mount["mountPath"] == "/var/run/secrets/kubernetes.io/serviceaccount"
            assert mount["readOnly"] is True
        else:
            assert "vault-token" not in volumes, service


def test_production_scales_and_survives_disruption(
    renders: dict[str, Any], kit: ModuleType
) -> None:
    r = renders["production"]
    for service in kit.SERVICES:
        hpa = r.get("HorizontalPodAutoscaler", service)
        assert hpa["spec"]["minReplicas"] >= 2
        metrics = {m["type"]: m for m in hpa["spec"]["metrics"]}
        assert metrics["Resource"]["resource"]["name"] == "cpu"
        if service == "session-relay":
            assert metrics["Pods"]["pods"]["metric"]["name"] == "rapport_sessions_active"
        else:
            assert "Pods" not in metrics
        assert r.get("PodDisruptionBudget", service)["spec"]["maxUnavailable"] == 1
        assert "replicas" not in r.get("Deployment", service)["spec"]  # the HPA owns it
        assert r.has("ServiceAccount", service)
    # External dependencies: nothing in-chart.
    for name in ("nats", "mongodb", "vault", "otel-collector"):
        assert not r.has("Service", name), name
    assert r.has("Job", "vault-bootstrap")


def test_ingress_routes_and_websocket_timeouts(renders: dict[str, Any]) -> None:
    r = renders["production"]
    routes = {}
    for ing in r.of_kind("Ingress"):
        assert ing["spec"]["ingressClassName"] == "nginx"
        assert ing["spec"]["tls"][0]["secretName"] == "rapport-tls"
        for rule in ing["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                routes[path["path"]] = (ing["metadata"]["name"], path["backend"]["service"]["name"])
    assert routes["/v1/"] == ("gateway", "gateway")
    assert routes["/v1/sessions/"] == ("session-relay", "session-relay")
    assert routes["/rooms/"] == ("session-relay", "session-relay")
    relay = r.get("Ingress", "session-relay")["metadata"]["annotations"]
    assert int(relay["nginx.ingress.kubernetes.io/proxy-read-timeout"]) >= 3600
    assert int(relay["nginx.ingress.kubernetes.io/proxy-send-timeout"]) >= 3600
    gateway = r.get("Ingress", "gateway")["metadata"].get("annotations", {})
    assert "nginx.ingress.kubernetes.io/proxy-read-timeout" not in gateway


def test_otel_export_settings(renders: dict[str, Any], kit: ModuleType) -> None:
    for values_set, endpoint, ratio in (
        ("observability", "http://otel-collector:4317", "1.0"),
        ("production", "http://otel-collector.observability.svc.cluster.local:4317", "0.1"),
    ):
        r = renders[values_set]
        for service in kit.SERVICES:
            env = _env(kit.pod_spec(r.get("Deployment", service))["containers"][0])
            assert env["OTEL_EXPORTER_OTLP_ENDPOINT"]["value"] == endpoint
            assert env["OTEL_SERVICE_NAME"]["value"] == service
            assert env["OTEL_TRACES_SAMPLER"]["value"] == "parentbased_traceidratio"
            assert float(env["OTEL_TRACES_SAMPLER_ARG"]["value"]) == float(ratio)
    # No collector, no endpoint: nothing exported, nothing pointed at a missing host.
    env = _env(kit.pod_spec(renders["minimal"].get("Deployment", "identity"))["containers"][0])
    assert "OTEL_EXPORTER_OTLP_ENDPOINT" not in env


def test_vault_bootstrap_job(renders: dict[str, Any]) -> None:
    r = renders["minimal"]
    job = r.get("Job", "vault-bootstrap")
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "post-install,post-upgrade"
    script = r.get("ConfigMap", "vault-bootstrap")["data"]["bootstrap.sh"]
    # Idempotent: everything is checked before it is created, or is an overwrite.
    assert 'grep -q "\\"transit/\\""' in script
    assert "vault read transit/keys/identity-jwt" in script
    assert "vault write -f transit/keys/identity-jwt type=ecdsa-p256" in script
    assert "vault auth enable -path=kubernetes kubernetes" in script
    assert "vault write -f transit/keys/billing-diagnosis type=aes256-gcm96 derived=true" in script
    for service in ("identity", "notes-vault", "billing"):
        assert f"vault policy write rapport-{service} /bootstrap/policy-{service}.hcl" in script
        assert f"auth/kubernetes/role/rapport-{service}" in script
        assert f"bound_service_account_names={service}" in script
    assert "audience=vault" in script
    for service in ("gateway", "scheduling", "session-relay"):
        assert f"role/rapport-{service}" not in script
