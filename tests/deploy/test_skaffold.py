"""skaffold.yaml: valid against the v4beta13 schema, and consistent with the Dockerfile and
the chart (every profile's values files render with the images skaffold would set)."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import helm_python as helm
import jsonschema
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
SKAFFOLD = REPO / "skaffold.yaml"
# Vendored (see deploy/schemas/README.md for its public source): a clone tests on its own.
SCHEMA = REPO / "deploy" / "schemas" / "skaffold-v4beta13.json"
FAKE_DIGEST = "sha256:" + "a" * 64


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    data = yaml.safe_load(SKAFFOLD.read_text())
    assert isinstance(data, dict)
    return data


def _patched(config: dict[str, Any], profiles: list[str]) -> dict[str, Any]:
    """Apply profiles as skaffold does: replace sections, then JSON patches (add/replace)."""
    out = copy.deepcopy(config)
    by_name = {p["name"]: p for p in out.get("profiles", [])}
    for name in profiles:
        profile = by_name[name]
        for section in ("build", "deploy", "portForward", "manifests"):
            if section in profile:
                out[section] = copy.deepcopy(profile[section])
        for patch in profile.get("patches", []):
            *parents, last = patch["path"].strip("/").split("/")
            node: Any = out
            for part in parents:
                node = node[int(part)] if isinstance(node, list) else node[part]
            if patch["op"] == "add" and last == "-":
                node.append(patch["value"])
            elif patch["op"] in ("add", "replace"):
                if isinstance(node, list):
                    node[int(last)] = patch["value"]
                else:
                    node[last] = patch["value"]
            else:
                raise AssertionError(f"unsupported patch op {patch['op']}")
    return out


def _deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _template_name(image: str) -> str:
    return re.sub(r"[/\-]", "_", image)


def test_validates_against_the_v4beta13_schema(config: dict[str, Any]) -> None:
    assert SCHEMA.is_file(), f"{SCHEMA} is missing"
    schema = json.loads(SCHEMA.read_text())
    validator = jsonschema.Draft7Validator(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: list(e.path))
    assert [f"{list(e.path)}: {e.message}" for e in errors] == []
    assert config["apiVersion"] == "skaffold/v4beta13"
    assert config["kind"] == "Config"


def test_one_artifact_per_service_from_the_one_dockerfile(
    config: dict[str, Any], kit: ModuleType
) -> None:
    for build in [config["build"], *[p["build"] for p in config["profiles"] if "build" in p]]:
        artifacts = build["artifacts"]
        assert [a["image"] for a in artifacts] == [f"rapport-{s}" for s in kit.SERVICES]
        for service, artifact in zip(kit.SERVICES, artifacts, strict=True):
            assert artifact["context"] == "."
            docker = artifact["docker"]
            assert docker["dockerfile"] == "deploy/docker/Dockerfile"
            assert docker["buildArgs"] == {"SERVICE": service}
            assert docker["target"] in ("runtime", "dev")
            stage = re.search(
                rf"^FROM \S+ AS {docker['target']}$",
                (REPO / docker["dockerfile"]).read_text(),
                re.M,
            )
            assert stage, docker["target"]


def test_profiles(config: dict[str, Any]) -> None:
    assert [p["name"] for p in config["profiles"]] == ["dev", "observability", "production-like"]


def test_dev_profile_syncs_python_sources(config: dict[str, Any], kit: ModuleType) -> None:
    dev = _patched(config, ["dev"])
    for service, artifact in zip(kit.SERVICES, dev["build"]["artifacts"], strict=True):
        assert artifact["docker"]["target"] == "dev"
        rules = artifact["sync"]["manual"]
        srcs = {r["src"] for r in rules}
        package_dir = service.replace("-", "_")
        assert f"services/{package_dir}/src/**/*.py" in srcs
        assert "services/platform/src/**/*.py" in srcs
        for rule in rules:
            assert rule["dest"] == "/app"  # the editable workspace in the dev image
            assert (REPO / rule["src"].split("/**")[0]).is_dir(), rule["src"]


@pytest.mark.parametrize(
    "profiles",
    [[], ["dev"], ["observability"], ["dev", "observability"], ["production-like"]],
    ids=lambda p: "+".join(p) or "default",
)
def test_every_profile_deploys_through_the_chart(
    config: dict[str, Any], kit: ModuleType, profiles: list[str]
) -> None:
    cfg = _patched(config, profiles)
    (release,) = cfg["deploy"]["helm"]["releases"]
    assert (REPO / release["chartPath"]).resolve() == kit.CHART
    values: dict[str, Any] = {}
    for path in release["valuesFiles"]:
        values = _deep_merge(values, kit.load_values(REPO / path))
    images = [a["image"] for a in cfg["build"]["artifacts"]]
    context = {}
    for image in images:
        name = _template_name(image)
        context[f"IMAGE_REPO_{name}"] = f"registry.local/{image}"
        context[f"IMAGE_TAG_{name}"] = "v1-dirty"
        context[f"IMAGE_DIGEST_{name}"] = FAKE_DIGEST
    for key, template in release["setValueTemplates"].items():
        rendered = re.sub(r"\{\{\s*\.(\w+)\s*\}\}", lambda m: context[m.group(1)], template)
        values = _deep_merge(values, helm.parse_set_string_values(f"{key}={rendered}"))
    r = kit.render(values, "+".join(profiles) or "default")
    for service in kit.SERVICES:
        image = r.get("Deployment", service)["spec"]["template"]["spec"]["containers"][0]["image"]
        assert image == f"registry.local/rapport-{service}:v1-dirty@{FAKE_DIGEST}"
