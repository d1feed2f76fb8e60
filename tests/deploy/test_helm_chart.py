"""`helm lint --strict` and renders of every ci/ value set, through Helm's Go SDK."""

from __future__ import annotations

import json
from types import ModuleType
from typing import Any

import helm_python as helm
import jsonschema
import pytest
import yaml

from_ci = pytest.mark.parametrize(
    "values_file",
    ["(defaults)", "minimal", "production", "observability", "dev", "production-like"],
)


@from_ci
def test_helm_lint_strict(kit: ModuleType, values_file: str) -> None:
    values = (
        {} if values_file == "(defaults)" else kit.load_values(kit.CI_DIR / f"{values_file}.yaml")
    )
    report = helm.lint(
        kit.CHART,
        values,
        strict=True,
        namespace=kit.NAMESPACE,
        kube_version=f"v{kit.KUBE_VERSION}",
    )
    # --strict: a warning is a failure. Severity 1 is INFO ("icon is recommended").
    problems = [m for m in report["messages"] if m["severity"] >= 2]
    assert report["errors"] == [], report["errors"]
    assert problems == [], problems
    assert report["total_charts_linted"] == 1


def test_every_ci_value_set_is_covered(kit: ModuleType) -> None:
    names = {p.stem for p in kit.CI_FILES}
    assert {"minimal", "production", "observability"} <= names
    assert names == {"minimal", "production", "observability", "dev", "production-like"}


def test_every_ci_value_set_renders(renders: dict[str, Any]) -> None:
    for name, r in renders.items():
        kinds = {d["kind"] for d in r.docs}
        assert {"Deployment", "Service", "ServiceAccount", "NetworkPolicy"} <= kinds, name
        for d in r.docs:
            assert d["metadata"].get("namespace", "rapport") == "rapport", d["metadata"]


def test_defaults_render(kit: ModuleType) -> None:
    r = kit.render({}, "defaults")
    assert {d["metadata"]["name"] for d in r.of_kind("Deployment")} == set(kit.SERVICES)


def test_values_yaml_matches_its_schema(kit: ModuleType) -> None:
    schema = json.loads((kit.CHART / "values.schema.json").read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    validator = jsonschema.Draft7Validator(schema)
    validator.validate(yaml.safe_load((kit.CHART / "values.yaml").read_text()))
    with helm.Chart.load(kit.CHART) as chart:
        for path in kit.CI_FILES:
            # The overlay coalesced with the defaults, as an install sees it.
            validator.validate(chart.merge_values(kit.load_values(path)))


@pytest.mark.parametrize(
    "typo",
    [
        {"services": {"gatway": {"enabled": True}}},
        {"default": {"replcas": 3}},
        {"services": {"gateway": {"hpa": {"enabeld": True}}}},
        {"services": {"billing": {"calls": ["identiy"]}}},
        {"nats": {"enable": False}},
        {"mongodb": {"external": {"existingSecrets": "x"}}},
        {"vault": {"mode": "prod"}},
        {"vault": {"auth": "approle"}},
        {"otel": {"samplerRatio": 2}},
        {"observability": {"grafana": {"adminPassword": "hunter2"}}},
        {"ingress": {"tls": {"secret": "x"}}},
        {"unknownTopLevel": True},
    ],
)
def test_schema_rejects_typos(kit: ModuleType, typo: dict[str, Any]) -> None:
    with helm.Chart.load(kit.CHART) as chart, pytest.raises(helm.HelmValuesError):
        chart.validate_schema(typo)
    # And a render (what `helm install` does) refuses it too.
    with pytest.raises(helm.HelmValuesError):
        kit.render({**typo, "vault": {"mode": "dev", **typo.get("vault", {})}})


def test_missing_required_settings_fail_clearly(kit: ModuleType) -> None:
    with pytest.raises(helm.HelmRenderError, match=r"mongodb\.external\.existingSecret"):
        kit.render({"mongodb": {"enabled": False}})
    with pytest.raises(helm.HelmRenderError, match=r"nats\.external\.url"):
        kit.render({"nats": {"enabled": False}})
    with pytest.raises(helm.HelmRenderError, match=r"vault\.token\.existingSecret"):
        kit.render({"vault": {"auth": "token"}})


def test_images_are_pinned(renders: dict[str, Any], kit: ModuleType) -> None:
    for name, r in renders.items():
        for w in r.workloads():
            for c in kit.containers(kit.pod_spec(w)):
                image = c["image"]
                tag = image.rsplit(":", 1)[-1] if ":" in image.split("/")[-1] else ""
                assert tag and tag != "latest", f"{name}: {image} is not pinned to a version"


def test_skaffold_style_image_values(kit: ModuleType) -> None:
    r = kit.render(
        {
            "vault": {"mode": "dev"},
            "global": {"imageRegistry": "registry.local/"},
            "services": {
                "gateway": {
                    "image": {
                        "repository": "rapport-gateway",
                        "tag": "abc123",
                        "digest": "sha256:" + "0" * 64,
                    }
                }
            },
        }
    )
    image = r.get("Deployment", "gateway")["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == "registry.local/rapport-gateway:abc123@sha256:" + "0" * 64
