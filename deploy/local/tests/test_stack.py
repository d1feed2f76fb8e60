from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from rapport_local.procs import ProcError, free_port, vault_client
from rapport_local.stack import (
    SERVICES_BY_NAME,
    ServiceSpec,
    StackConfig,
    nats_passwords,
    service_env,
)
from rapport_local.stack import start_service as start_service_proc

# -- env construction (no processes) ---------------------------------------------------------


def _cfg(tmp_path: Path) -> StackConfig:
    return StackConfig.from_env({"RAPPORT_HOME": str(tmp_path)})


def test_defaults_and_service_env_names(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path)
    assert (cfg.nats_port, cfg.bao_port, cfg.bao_cluster_port, cfg.mongo_port) == (
        14222,
        18200,
        18201,
        27018,
    )
    env = service_env(SERVICES_BY_NAME["notes-vault"], cfg, {"notes-vault": "tok"}, {})
    assert env == {
        "OTEL_SERVICE_NAME": "notes-vault",
        "RAPPORT_NOTES_VAULT_DRAIN_SECONDS": "1",
        "RAPPORT_NOTES_VAULT_GRPC_HOST": "127.0.0.1",
        "RAPPORT_NOTES_VAULT_GRPC_PORT": "50054",
        "RAPPORT_NOTES_VAULT_MONGO_URI": "mongodb://127.0.0.1:27018/?directConnection=true",
        "RAPPORT_NOTES_VAULT_MONGO_DB": "rapport_notes_vault",
        "RAPPORT_NOTES_VAULT_NATS_URL": (
            f"nats://notes-vault:{nats_passwords(cfg)['notes-vault']}@127.0.0.1:14222"
        ),
        "RAPPORT_NOTES_VAULT_IDENTITY_ADDR": "127.0.0.1:50051",
        "RAPPORT_NOTES_VAULT_VAULT_ADDR": "http://127.0.0.1:18200",
        "RAPPORT_NOTES_VAULT_VAULT_TOKEN": "tok",
    }
    # Each service its own NATS user; the gateway and identity share the service-token key.
    assert len(set(nats_passwords(cfg).values())) == 5
    gateway_key = service_env(SERVICES_BY_NAME["gateway"], cfg, {}, {})[
        "RAPPORT_GATEWAY_SERVICE_TOKEN_KEY"
    ]
    identity = service_env(SERVICES_BY_NAME["identity"], cfg, {}, {})
    assert identity["RAPPORT_IDENTITY_SERVICE_TOKEN_KEY"] == gateway_key
    assert len(gateway_key) >= 32
    relay = service_env(SERVICES_BY_NAME["session-relay"], cfg, {}, {})
    assert relay["RAPPORT_SESSION_RELAY_HTTP_PORT"] == "8081"
    assert relay["RAPPORT_SESSION_RELAY_GRPC_PORT"] == "50053"
    assert relay["RAPPORT_SESSION_RELAY_SCHEDULING_ADDR"] == "127.0.0.1:50052"
    assert relay["RAPPORT_SESSION_RELAY_PUBLIC_URL"] == "http://127.0.0.1:8081"
    # The join-token key is made once and kept: the same on the next start.
    secret = relay["RAPPORT_SESSION_RELAY_TOKEN_SECRET"]
    assert len(secret) >= 32
    assert (
        service_env(SERVICES_BY_NAME["session-relay"], cfg, {}, {})[
            "RAPPORT_SESSION_RELAY_TOKEN_SECRET"
        ]
        == secret
    )


def test_gateway_env_follows_port_overrides(tmp_path: Path) -> None:
    environ = {
        "RAPPORT_IDENTITY_GRPC_PORT": "61051",
        "RAPPORT_GATEWAY_HTTP_PORT": "9090",
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4317",
    }
    env = service_env(SERVICES_BY_NAME["gateway"], _cfg(tmp_path), {}, environ)
    assert env["RAPPORT_GATEWAY_HTTP_HOST"] == "127.0.0.1"
    # Short drains locally (Ctrl-C stops the stack in seconds), unless the developer sets one.
    assert env["RAPPORT_GATEWAY_DRAIN_SECONDS"] == "1"
    assert (
        service_env(
            SERVICES_BY_NAME["identity"],
            _cfg(tmp_path),
            {},
            {"RAPPORT_IDENTITY_DRAIN_SECONDS": "4"},
        )["RAPPORT_IDENTITY_DRAIN_SECONDS"]
        == "4"
    )
    assert env["RAPPORT_GATEWAY_HTTP_PORT"] == "9090"
    assert env["RAPPORT_GATEWAY_IDENTITY_ADDR"] == "127.0.0.1:61051"
    assert env["RAPPORT_GATEWAY_SCHEDULING_ADDR"] == "127.0.0.1:50052"
    assert env["RAPPORT_GATEWAY_SESSION_RELAY_ADDR"] == "127.0.0.1:50053"
    assert env["RAPPORT_GATEWAY_NOTES_VAULT_ADDR"] == "127.0.0.1:50054"
    assert env["RAPPORT_GATEWAY_BILLING_ADDR"] == "127.0.0.1:50055"
    assert env["OTEL_SERVICE_NAME"] == "gateway"
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://127.0.0.1:4317"
    assert not any("MONGO" in k for k in env)


# -- a service process: waits for grpc.health.v1 SERVING, reports a crash ----------------------

FAKE_SERVICE = """
import os, signal, threading
from concurrent import futures
import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

if os.environ.get("FAKE_CRASH"):
    raise SystemExit("fake: cannot reach its database")
server = grpc.server(futures.ThreadPoolExecutor(2))
servicer = health.HealthServicer()
health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
server.add_insecure_port(
    os.environ["RAPPORT_FAKE_GRPC_HOST"] + ":" + os.environ["RAPPORT_FAKE_GRPC_PORT"]
)
server.start()
servicer.set("", health_pb2.HealthCheckResponse.NOT_SERVING)
threading.Timer(0.5, servicer.set, ("", health_pb2.HealthCheckResponse.SERVING)).start()
stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: stop.set())
stop.wait()
server.stop(1).wait()
"""


@pytest.fixture
def fake_env(tmp_path: Path) -> dict[str, str]:
    pkg = tmp_path / "pkgs" / "fake_svc"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "__main__.py").write_text(textwrap.dedent(FAKE_SERVICE))
    return {**os.environ, "PYTHONPATH": str(tmp_path / "pkgs")}


def test_start_service_waits_for_serving_and_stops(
    tmp_path: Path, fake_env: dict[str, str]
) -> None:
    spec = ServiceSpec("fake", "fake_svc", "RAPPORT_FAKE_", free_port())
    assert spec.has_main() is False  # not on this interpreter's path: would be skipped
    proc = start_service_proc(spec, _cfg(tmp_path), {"fake": "tok"}, fake_env, timeout=20)
    try:
        assert proc.running
        assert proc.env is not None and proc.env["RAPPORT_FAKE_VAULT_TOKEN"] == "tok"
        assert (tmp_path / "logs" / "fake_svc.log").exists()
    finally:
        assert proc.stop() == 0  # drained on SIGTERM


def test_start_service_crash_shows_log_tail(tmp_path: Path, fake_env: dict[str, str]) -> None:
    spec = ServiceSpec("fake", "fake_svc", "RAPPORT_FAKE_", free_port())
    with pytest.raises(ProcError, match=r"(?s)exited with code 1.*cannot reach its database"):
        start_service_proc(spec, _cfg(tmp_path), {}, {**fake_env, "FAKE_CRASH": "1"}, timeout=20)


# -- `python -m rapport_local up --deps-only` as a subprocess ----------------------------------


def _run_up(home: Path, ports: dict[str, str]) -> tuple[subprocess.Popen[str], queue.Queue[str]]:
    env = {**os.environ, "RAPPORT_HOME": str(home), **ports}
    proc = subprocess.Popen(
        [sys.executable, "-m", "rapport_local", "up", "--deps-only"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    assert proc.stdout is not None
    stdout = proc.stdout
    threading.Thread(target=lambda: [lines.put(line) for line in stdout], daemon=True).start()
    return proc, lines


def _wait_for_line(lines: queue.Queue[str], text: str, timeout: float = 40) -> str:
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.5)
        except queue.Empty:
            continue
        seen.append(line)
        if text in line:
            return "".join(seen)
    raise AssertionError(f"{text!r} not printed; got:\n{''.join(seen)}")


def _interrupt(proc: subprocess.Popen[str], lines: queue.Queue[str]) -> None:
    proc.send_signal(signal.SIGINT)
    assert proc.wait(30) == 0
    _wait_for_line(lines, "stopped", timeout=5)


def test_up_deps_only_persists_and_stops_cleanly_on_sigint(tmp_path: Path) -> None:
    home = tmp_path / "rapport"
    ports = {
        "RAPPORT_NATS_PORT": str(free_port()),
        "RAPPORT_BAO_PORT": str(free_port()),
        "RAPPORT_BAO_CLUSTER_PORT": str(free_port()),
        "RAPPORT_MONGO_PORT": str(free_port()),
    }
    addr = f"http://127.0.0.1:{ports['RAPPORT_BAO_PORT']}"
    proc, lines = _run_up(home, ports)
    try:
        out = _wait_for_line(lines, "Ctrl-C to stop")
        assert f"nats://127.0.0.1:{ports['RAPPORT_NATS_PORT']}" in out
        assert "gateway" not in out  # --deps-only
        for d in ("nats", "bao", "mongo", "logs"):
            assert (home / d).is_dir()
        root = json.loads((home / "bao" / "init.json").read_text())["root_token"]
        tokens = json.loads((home / "bao" / "tokens.json").read_text())
        assert root not in tokens.values()
        assert vault_client(addr, tokens["identity"]).is_authenticated()
        key = vault_client(addr, root).secrets.transit.read_key("identity-jwt")["data"]
        _interrupt(proc, lines)
    finally:
        proc.kill()

    # Second run on the same home: same root token, same signing key, fresh service tokens.
    proc, lines = _run_up(home, ports)
    try:
        _wait_for_line(lines, "Ctrl-C to stop")
        assert json.loads((home / "bao" / "init.json").read_text())["root_token"] == root
        again = vault_client(addr, root).secrets.transit.read_key("identity-jwt")["data"]
        assert again["keys"] == key["keys"]
        assert not vault_client(addr, tokens["identity"]).is_authenticated()  # revoked
        env_out = subprocess.run(
            [sys.executable, "-m", "rapport_local", "env", "identity"],
            env={**os.environ, "RAPPORT_HOME": str(home), **ports},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        new_token = json.loads((home / "bao" / "tokens.json").read_text())["identity"]
        assert f"export RAPPORT_IDENTITY_VAULT_TOKEN={new_token}" in env_out
        assert root not in env_out
        # SIGTERM stops it cleanly too.
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        proc.kill()


def test_up_fails_clearly_when_a_port_is_taken(tmp_path: Path) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        ports = {
            "RAPPORT_NATS_PORT": str(busy.getsockname()[1]),
            "RAPPORT_BAO_PORT": str(free_port()),
            "RAPPORT_BAO_CLUSTER_PORT": str(free_port()),
            "RAPPORT_MONGO_PORT": str(free_port()),
        }
        proc, lines = _run_up(tmp_path / "rapport", ports)
        assert proc.wait(30) == 1
        assert "RAPPORT_NATS_PORT" in _wait_for_line(lines, "already in use", timeout=5)
