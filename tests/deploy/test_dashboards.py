"""Grafana dashboards provisioned from the chart: valid, wired to the provisioned
datasource, and built only on the metrics the services export (Prometheus names after the
collector's OTLP -> Prometheus conversion)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

DASHBOARDS = (
    Path(__file__).resolve().parents[2] / "deploy" / "helm" / "rapport" / "files" / "dashboards"
)

# OTel instrument -> Prometheus metric family (unit and _total suffixes added by the
# collector's prometheus exporter). The runbook documents the same table.
METRICS = {
    "rpc.server.duration": "rpc_server_duration_milliseconds",  # histogram, ms
    "http.server.request.duration": "http_server_request_duration_seconds",  # histogram, s
    "rapport.outbox.pending": "rapport_outbox_pending",  # gauge
    "rapport.bus.redeliveries": "rapport_bus_redeliveries_total",  # counter
    "rapport.bus.dead_letters": "rapport_bus_dead_letters_total",  # counter
    "rapport.bus.consumer.lag": "rapport_bus_consumer_lag",  # gauge
    "rapport.scheduling.bookings": "rapport_scheduling_bookings_total",  # counter
    "rapport.sessions.active": "rapport_sessions_active",  # up-down counter -> gauge
    "rapport.vault.request.duration": "rapport_vault_request_duration_seconds",  # histogram, s
    "rapport.notes.break_glass.unreviewed": "rapport_notes_break_glass_unreviewed",  # gauge
}
HISTOGRAM_SERIES = ("_bucket", "_count", "_sum")


def _dashboards() -> dict[str, dict[str, Any]]:
    return {p.name: json.loads(p.read_text()) for p in sorted(DASHBOARDS.glob("*.json"))}


def _panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in dashboard["panels"] if p["type"] != "row"]


def _metric_names(expr: str) -> set[str]:
    # Label matchers and grouping clauses name labels, not metrics.
    expr = re.sub(r"\{[^}]*\}", "", expr)
    expr = re.sub(r"\b(by|without)\s*\([^)]*\)", "", expr)
    expr = re.sub(r"label_values\((\w+),[^)]*\)", r"\1", expr)
    return set(re.findall(r"\b((?:rpc|http|rapport)_[a-z0-9_]+)", expr))


def test_dashboards_exist_and_are_distinct() -> None:
    dashboards = _dashboards()
    assert set(dashboards) == {"rapport-red.json", "rapport-events.json", "rapport-product.json"}
    uids = [d["uid"] for d in dashboards.values()]
    assert len(set(uids)) == len(uids)
    for name, d in dashboards.items():
        assert f"{d['uid']}.json" == name
        assert d["title"].startswith("Rapport / ")
        ids = [p["id"] for p in d["panels"]]
        assert len(set(ids)) == len(ids), name


def test_every_query_uses_known_metrics_and_the_provisioned_datasource() -> None:
    allowed = set()
    for family in METRICS.values():
        allowed |= {family, *(family + s for s in HISTOGRAM_SERIES)}
    used: set[str] = set()
    for name, d in _dashboards().items():
        for panel in _panels(d):
            assert panel["description"], f"{name}: {panel['title']} explains nothing"
            assert panel["datasource"]["uid"] == "rapport-prometheus"
            assert panel["targets"], panel["title"]
            for target in panel["targets"]:
                assert target["datasource"]["uid"] == "rapport-prometheus"
                names = _metric_names(target["expr"])
                assert names, target["expr"]
                assert names <= allowed, (panel["title"], names - allowed)
                used |= names
        for var in d["templating"]["list"]:
            used |= _metric_names(var["definition"])
    # Every metric the issue lists is on some dashboard.
    families = {n.removesuffix(s) for n in used for s in (*HISTOGRAM_SERIES, "") if n.endswith(s)}
    assert set(METRICS.values()) <= families


def test_red_dashboard_has_rate_errors_duration_quantiles() -> None:
    red = _dashboards()["rapport-red.json"]
    exprs = " ".join(t["expr"] for p in _panels(red) for t in p["targets"])
    for q in ("0.5", "0.95", "0.99"):
        rpc = "rpc_server_duration_milliseconds_bucket"
        http = "http_server_request_duration_seconds_bucket"
        assert f"histogram_quantile({q}, sum by (le, service_name) (rate({rpc}" in exprs
        assert f"histogram_quantile({q}, sum by (le) (rate({http}" in exprs
    assert 'rpc_grpc_status_code=~"2|4|8|12|13|14|15"' in exprs
    assert 'http_response_status_code=~"5.."' in exprs


def test_dashboards_are_provisioned(renders: dict[str, Any]) -> None:
    r = renders["observability"]
    cm = r.get("ConfigMap", "grafana-dashboards-rapport")
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    for name, d in _dashboards().items():
        assert json.loads(cm["data"][name]) == d
    provisioning = r.get("ConfigMap", "grafana-provisioning")["data"]
    datasources = yaml.safe_load(provisioning["datasources.yaml"])["datasources"]
    assert {ds["uid"]: ds["type"] for ds in datasources} == {
        "rapport-prometheus": "prometheus",
        "rapport-jaeger": "jaeger",
    }
    providers = yaml.safe_load(provisioning["dashboards.yaml"])["providers"]
    deployment = r.get("Deployment", "grafana")["spec"]["template"]["spec"]
    mounts = {m["mountPath"] for m in deployment["containers"][0]["volumeMounts"]}
    assert providers[0]["options"]["path"] in mounts


def test_collector_converts_otlp_to_prometheus_with_resource_labels(
    renders: dict[str, Any], kit: ModuleType
) -> None:
    r = renders["observability"]
    config = yaml.safe_load(r.get("ConfigMap", "otel-collector")["data"]["config.yaml"])
    assert config["exporters"]["prometheus"]["resource_to_telemetry_conversion"]["enabled"] is True
    assert config["exporters"]["otlp/traces"]["endpoint"] == "jaeger:4317"
    pipelines = config["service"]["pipelines"]
    assert pipelines["metrics"]["exporters"] == ["prometheus"]
    assert pipelines["traces"]["exporters"] == ["otlp/traces"]
    prometheus = yaml.safe_load(r.get("ConfigMap", "prometheus")["data"]["prometheus.yml"])
    (job,) = prometheus["scrape_configs"]
    assert job["static_configs"][0]["targets"] == ["otel-collector:8889"]
