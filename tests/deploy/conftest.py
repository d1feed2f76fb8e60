"""Shared fixtures for the deployment checks: the chart rendered offline with the Helm Go SDK.

Nothing here needs a cluster, a Docker engine or the network: helm-python-sdk binds Helm's
Go SDK (a native library in the wheel) and renders templates the way `helm template` does.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import helm_python as helm
import kubernetes_validate.utils as k8s_validate
import pytest
import yaml
from rapport_local import images

# libyaml's safe loader and dumper (the same YAML, parsed in C): renders are hundreds of documents.
SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
SafeDumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "deploy" / "helm" / "rapport"
CI_DIR = CHART / "ci"
CI_FILES = sorted(CI_DIR.glob("*.yaml"))
RELEASE = "rapport"
NAMESPACE = "rapport"
# The Kubernetes version the manifests are linted and validated against (the newest one
# kubernetes-validate ships schemas for); Chart.yaml's kubeVersion is the floor.
KUBE_VERSION = "1.37.0"

# kubernetes-validate reads and parses its schemas (the definitions are megabytes of JSON) again
# for every document it validates: the same files give the same schemas, read once here.
k8s_validate.schema_contents = functools.cache(k8s_validate.schema_contents)

SERVICES = ("gateway", "identity", "scheduling", "session-relay", "notes-vault", "billing")
GRPC_PORTS = {
    "identity": 50051,
    "scheduling": 50052,
    "session-relay": 50053,
    "notes-vault": 50054,
    "billing": 50055,
}


@dataclass
class Rendered:
    """One render of the chart: its documents, and lookups over them."""

    name: str
    values: dict[str, Any]
    docs: list[dict[str, Any]] = field(default_factory=list)
    text: str = ""

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [d for d in self.docs if d["kind"] == kind]

    def get(self, kind: str, name: str) -> dict[str, Any]:
        for d in self.docs:
            if d["kind"] == kind and d["metadata"]["name"] == name:
                return d
        raise KeyError(f"{kind}/{name} not rendered in {self.name}")

    def has(self, kind: str, name: str) -> bool:
        return any(d["kind"] == kind and d["metadata"]["name"] == name for d in self.docs)

    def workloads(self) -> list[dict[str, Any]]:
        return [d for d in self.docs if d["kind"] in ("Deployment", "StatefulSet", "Job")]


def load_values(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text()) or {}
    assert isinstance(data, dict), f"{path} is not a mapping"
    return data


# Services not built yet are off by default (services.<name>.enabled). The checks render every
# service unless told otherwise, so each template stays proven for the day it is switched on.
EVERY_SERVICE_ON: dict[str, Any] = {"services": {s: {"enabled": True} for s in SERVICES}}


def deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def render(values: dict[str, Any], name: str = "inline", *, every_service: bool = True) -> Rendered:
    """Render the chart offline (schema validated first, as `helm install` does). every_service:
    switch every service on first (values may still switch one off); False: the chart's own
    defaults, as a user installs it."""
    if every_service:
        values = deep_merge(EVERY_SERVICE_ON, values)
    with helm.Chart.load(CHART) as chart:
        chart.validate_schema(values)
        manifests = chart.render(values=values, name=RELEASE, namespace=NAMESPACE, is_install=True)
    out = Rendered(name=name, values=values)
    texts = []
    for template in sorted(manifests):
        if template.endswith("NOTES.txt"):
            continue
        body = manifests[template]
        for doc in yaml.load_all(body, Loader=SafeLoader):
            if doc:
                out.docs.append(doc)
                texts.append(yaml.dump(doc, Dumper=SafeDumper, sort_keys=False))
    out.text = "---\n".join(texts)
    return out


@pytest.fixture(scope="session")
def kit() -> ModuleType:
    """This module: its constants and helpers (render, load_values, pod_spec, ...).

    Test modules are imported in importlib mode, where they cannot import conftest."""
    return sys.modules[__name__]


@functools.cache
def ci_renders() -> dict[str, Rendered]:
    """Every ci/*.yaml value set rendered once per test session."""
    assert CI_FILES, "deploy/helm/rapport/ci/ holds no value sets"
    return {p.stem: render(load_values(p), p.stem) for p in CI_FILES}


# Directories ci_rendered_dir made, removed when the session ends.
_made: list[Path] = []


@functools.cache
def ci_rendered_dir() -> Path:
    """The renders written out as one multi-document file per value set."""
    out = Path(tempfile.mkdtemp(prefix="rapport-rendered-"))
    _made.append(out)
    for name, r in ci_renders().items():
        (out / f"{name}.yaml").write_text(r.text)
    return out


@pytest.fixture(scope="session")
def renders() -> dict[str, Rendered]:
    return ci_renders()


@pytest.fixture(scope="session")
def rendered_dir() -> Path:
    return ci_rendered_dir()


def containers(pod_spec: dict[str, Any]) -> list[dict[str, Any]]:
    return list(pod_spec.get("initContainers", [])) + list(pod_spec["containers"])


def pod_spec(workload: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = workload["spec"]["template"]["spec"]
    return spec


# --- checkov (test_checkov.py): scanning in the background from collection on ---------------

CHECKOV_TESTS = Path(__file__).with_name("test_checkov.py")
# checkov cannot join the workspace lock (its exact pins clash with ours): it has its own
# locked environment, which `uv run --frozen` installs on first use, exactly as locked.
CHECKOV_PROJECT = REPO / "tools" / "checkov"
# The version the lock holds: the report must come from exactly that checkov.
CHECKOV_VERSION = next(
    p["version"]
    for p in tomllib.loads((CHECKOV_PROJECT / "uv.lock").read_text())["package"]
    if p["name"] == "checkov"
)


class Checkov:
    """checkov's Kubernetes checks over a directory of manifests, as a process of its own.
    Most of its time is importing itself (every framework it knows), so it starts at
    collection and overlaps the tests. Its report goes to a file: a pipe nobody reads until
    the end would stall it."""

    def __init__(self, directory: Path) -> None:
        uv = shutil.which("uv")
        assert uv, "uv is needed to run checkov in its own locked environment"
        cmd = [
            uv, "run", "--frozen", "--project", str(CHECKOV_PROJECT), "checkov",
            "--directory", str(directory),
            "--framework", "kubernetes",
            "--output", "json",
            "--skip-download",  # no calls to a SaaS: local checks only
            "--compact",
        ]  # fmt: skip
        self.stdout = tempfile.TemporaryFile("w+")
        self.stderr = tempfile.TemporaryFile("w+")
        self.proc = subprocess.Popen(cmd, stdout=self.stdout, stderr=self.stderr, text=True)

    def result(self, timeout: float = 600) -> tuple[int, str, str]:
        """(exit code, stdout, stderr), once it has finished (bounded)."""
        code = self.proc.wait(timeout)
        self.stdout.seek(0)
        self.stderr.seek(0)
        return code, self.stdout.read(), self.stderr.read()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.stdout.close()
        self.stderr.close()


# The scan started at collection (None when test_checkov.py is not selected).
checkov_run: Checkov | None = None


# --- the image tests (test_images.py): built in the background, run last ---------------------

IMAGES_TESTS = Path(__file__).with_name("test_images.py")
# The build started at collection (None when the image tests are not selected, or when
# RAPPORT_IMAGES_BACKGROUND=0 asks for a build in the tests' own fixture).
images_build: images.Background | None = None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Start checkov's scan now, and move the image tests to the end of the session and start
    their build now: their minutes (a cold build: podman from apt, the base image, the
    dependency layer) overlap the rest of the suite instead of adding to it."""
    global images_build, checkov_run
    if config.option.collectonly:
        return
    if checkov_run is None and shutil.which("uv") and any(i.path == CHECKOV_TESTS for i in items):
        checkov_run = Checkov(ci_rendered_dir())
    mine = [item for item in items if item.path == IMAGES_TESTS]
    if not mine:
        return
    items[:] = [item for item in items if item.path != IMAGES_TESTS] + mine
    if images_build is None and os.environ.get("RAPPORT_IMAGES_BACKGROUND", "1") != "0":
        images_build = images.Background(tag="test").start()


def pytest_unconfigure(config: pytest.Config) -> None:
    if checkov_run is not None:
        checkov_run.stop()
    for d in _made:
        shutil.rmtree(d, ignore_errors=True)
