"""The embedded local stack behind `make up`: real dependencies plus every service, on loopback.

State lives under `$RAPPORT_HOME` (default `<repo>/.rapport/`) and survives restarts:
nats/ (JetStream), bao/ (raft data, init.json, tokens.json), mongo/ (SecantusDB), logs/.
"""

from __future__ import annotations

import importlib.util
import json
import os
import secrets
import shlex
import signal
import socket
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from rapport_local import nats_auth
from rapport_local.procs import (
    HOST,
    Proc,
    ProcError,
    ensure_alive,
    find_binary,
    start_bao_persistent,
    start_nats,
    start_secantus,
    timeout_error,
    wait_for_http,
)
from rapport_local.vault_bootstrap import bootstrap

SERVICE_READY_TIMEOUT = 60.0
SERVICE_STOP_TIMEOUT = 15.0  # services drain on SIGTERM before exiting
# On one machine no load balancer has to notice a replica leaving: a short drain lets Ctrl-C stop
# the stack in seconds (the services' own default, 10 s, is meant for a cluster).
LOCAL_DRAIN_SECONDS = "1"


@dataclass(frozen=True)
class ServiceSpec:
    """One service of the platform, as the local stack runs it."""

    name: str  # OTEL_SERVICE_NAME, Vault token and policy name
    module: str  # run as `python -m <module>`
    prefix: str  # its settings' env prefix
    grpc_port: int | None  # default gRPC port (None: no gRPC server)
    http_port: int | None = None  # default HTTP port (gateway, the relay's WebSocket edge)

    @property
    def mongo_db(self) -> str:
        return self.module  # rapport_identity, rapport_scheduling, ...

    def port(self, kind: str, environ: Mapping[str, str]) -> int | None:
        """The port to use: `<PREFIX><KIND>_PORT` from the environment, else the default."""
        default = self.grpc_port if kind == "GRPC" else self.http_port
        if default is None:
            return None
        return int(environ.get(f"{self.prefix}{kind}_PORT", default))

    def has_main(self) -> bool:
        """Empty shells (no `__main__` yet) are skipped so `make up` works as the platform grows."""
        try:
            return importlib.util.find_spec(f"{self.module}.__main__") is not None
        except ModuleNotFoundError:
            return False


# Start order: identity first (everyone verifies JWTs against its JWKS), the gateway last.
SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec("identity", "rapport_identity", "RAPPORT_IDENTITY_", 50051),
    ServiceSpec("scheduling", "rapport_scheduling", "RAPPORT_SCHEDULING_", 50052),
    ServiceSpec("session-relay", "rapport_session_relay", "RAPPORT_SESSION_RELAY_", 50053, 8081),
    ServiceSpec("notes-vault", "rapport_notes_vault", "RAPPORT_NOTES_VAULT_", 50054),
    ServiceSpec("billing", "rapport_billing", "RAPPORT_BILLING_", 50055),
    ServiceSpec("gateway", "rapport_gateway", "RAPPORT_GATEWAY_", None, 8080),
)
SERVICES_BY_NAME = {s.name: s for s in SERVICES}


def _find_repo_root() -> Path:
    for start in (Path.cwd(), Path(__file__).resolve()):
        for d in (start, *start.parents):
            if (d / "deploy" / "local" / "pyproject.toml").is_file():
                return d
    return Path.cwd()


@dataclass(frozen=True)
class StackConfig:
    home: Path
    nats_port: int
    bao_port: int
    bao_cluster_port: int
    mongo_port: int

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> StackConfig:
        home = environ.get("RAPPORT_HOME") or str(_find_repo_root() / ".rapport")
        return cls(
            home=Path(home).resolve(),
            nats_port=int(environ.get("RAPPORT_NATS_PORT", 14222)),
            bao_port=int(environ.get("RAPPORT_BAO_PORT", 18200)),
            bao_cluster_port=int(environ.get("RAPPORT_BAO_CLUSTER_PORT", 18201)),
            mongo_port=int(environ.get("RAPPORT_MONGO_PORT", 27018)),
        )

    @property
    def logs(self) -> Path:
        return self.home / "logs"

    @property
    def tokens_file(self) -> Path:
        return self.home / "bao" / "tokens.json"

    @property
    def nats_url(self) -> str:
        return f"nats://{HOST}:{self.nats_port}"

    @property
    def vault_addr(self) -> str:
        return f"http://{HOST}:{self.bao_port}"

    @property
    def mongo_uri(self) -> str:
        return f"mongodb://{HOST}:{self.mongo_port}/?directConnection=true"


def service_env(
    spec: ServiceSpec,
    cfg: StackConfig,
    tokens: Mapping[str, str],
    environ: Mapping[str, str] = os.environ,
) -> dict[str, str]:
    """The Rapport-specific environment of one service (not the inherited rest)."""

    def grpc_addr(name: str) -> str:
        return f"{HOST}:{SERVICES_BY_NAME[name].port('GRPC', environ)}"

    p = spec.prefix
    env: dict[str, str] = {
        "OTEL_SERVICE_NAME": spec.name,
        f"{p}DRAIN_SECONDS": environ.get(f"{p}DRAIN_SECONDS", LOCAL_DRAIN_SECONDS),
    }
    if otlp := environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        env["OTEL_EXPORTER_OTLP_ENDPOINT"] = otlp
    if spec.grpc_port is not None:
        env |= {
            f"{p}GRPC_HOST": HOST,
            f"{p}GRPC_PORT": str(spec.port("GRPC", environ)),
            f"{p}MONGO_URI": cfg.mongo_uri,
            f"{p}MONGO_DB": spec.mongo_db,
            # Its own NATS user, limited to its own subjects (rapport_local.nats_auth).
            f"{p}NATS_URL": service_nats_url(cfg, spec.name),
            f"{p}IDENTITY_ADDR": grpc_addr("identity"),
        }
    if spec.http_port is not None:
        env |= {f"{p}HTTP_HOST": HOST, f"{p}HTTP_PORT": str(spec.port("HTTP", environ))}
    if spec.name == "gateway":
        for other in SERVICES:
            if other.grpc_port is not None:
                key = other.prefix.removeprefix("RAPPORT_")
                env[f"{p}{key}ADDR"] = grpc_addr(other.name)
        env[f"{p}PUBLIC_URL"] = f"http://{HOST}:{spec.port('HTTP', environ)}"
    if spec.name == "session-relay":
        env |= {
            f"{p}SCHEDULING_ADDR": grpc_addr("scheduling"),
            f"{p}PUBLIC_URL": f"http://{HOST}:{spec.port('HTTP', environ)}",
            f"{p}TOKEN_SECRET": environ.get(f"{p}TOKEN_SECRET") or relay_secret(cfg),
        }
    if spec.name in ("gateway", "identity"):
        # Signs and checks the gateway's word on internal calls (rapport_platform.service_auth).
        env[f"{p}SERVICE_TOKEN_KEY"] = environ.get(f"{p}SERVICE_TOKEN_KEY") or kept_secret(
            cfg, "service-token-key"
        )
    if spec.name in ("scheduling", "identity"):
        # Scheduling's own key: its consumers re-check facts with identity.
        name = "SERVICE_TOKEN_KEY" if spec.name == "scheduling" else "SCHEDULING_TOKEN_KEY"
        env[f"{p}{name}"] = environ.get(f"{p}{name}") or kept_secret(cfg, "scheduling-token-key")
    if spec.name in ("billing", "identity"):
        # Billing's own key: it asks identity for a clinic's current commission.
        name = "SERVICE_TOKEN_KEY" if spec.name == "billing" else "BILLING_TOKEN_KEY"
        env[f"{p}{name}"] = environ.get(f"{p}{name}") or kept_secret(cfg, "billing-token-key")
    env[f"{p}VAULT_ADDR"] = cfg.vault_addr
    if token := tokens.get(spec.name):
        env[f"{p}VAULT_TOKEN"] = token
    return env


def kept_secret(cfg: StackConfig, name: str) -> str:
    """A random key made once and kept (0600) under the stack's home; a Secret in a cluster."""
    path = cfg.home / "secrets" / name
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
    return path.read_text().strip()


def nats_passwords(cfg: StackConfig) -> dict[str, str]:
    """Each service's NATS password: made once, kept (0600) under the stack's home."""
    path = cfg.home / "secrets" / "nats-users.json"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(nats_auth.new_passwords(), f)
    return dict(json.loads(path.read_text()))


def service_nats_url(cfg: StackConfig, name: str) -> str:
    password = nats_passwords(cfg).get(name)
    return nats_auth.url_for(cfg.nats_url, name, password) if password else cfg.nats_url


def nats_config(cfg: StackConfig) -> Path:
    """nats-server's config with the users and their permissions, written at each start."""
    path = cfg.home / "secrets" / "nats.conf"
    nats_passwords(cfg)  # the directory and the passwords exist
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(nats_auth.server_config(nats_passwords(cfg)))
    return path


def relay_secret(cfg: StackConfig) -> str:
    """The local relay's join-token key: made once, kept (0600) under the stack's home, so
    links handed out survive a restart. In a cluster it comes from a Secret."""
    path = cfg.home / "session-relay" / "token-secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


# -- readiness -----------------------------------------------------------------------------
def wait_grpc_serving(proc: Proc, port: int, timeout: float) -> None:
    """Until `grpc.health.v1` Check (overall server, service "") answers SERVING."""
    deadline = time.monotonic() + timeout
    what = f"grpc.health.v1 SERVING on {HOST}:{port}"
    # No proxy: a developer's http_proxy must not capture loopback gRPC.
    with grpc.insecure_channel(f"{HOST}:{port}", options=[("grpc.enable_http_proxy", 0)]) as ch:
        stub = health_pb2_grpc.HealthStub(ch)
        while time.monotonic() < deadline:
            ensure_alive(proc, what)
            try:
                reply = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=1)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError:
                pass  # not listening yet, or NOT_SERVING until its dependencies answer
            time.sleep(0.2)
    raise timeout_error(proc, what, timeout)


def ensure_port_free(port: int, what: str) -> None:
    """Fail clearly instead of health-checking someone else's server on the same port."""
    with socket.socket() as s:
        # Like the servers themselves: TIME_WAIT leftovers of a previous run are no conflict.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((HOST, port))
        except OSError:
            raise ProcError(
                f"port {port} for {what} is already in use (another `make up`?); "
                "free it or choose another port through its environment variable"
            ) from None


def start_service(
    spec: ServiceSpec,
    cfg: StackConfig,
    tokens: Mapping[str, str],
    environ: Mapping[str, str] = os.environ,
    timeout: float = SERVICE_READY_TIMEOUT,
) -> Proc:
    env = {**environ, **service_env(spec, cfg, tokens, environ)}
    grpc_port = spec.port("GRPC", environ)
    http_port = spec.port("HTTP", environ)
    for port in (grpc_port, http_port):
        if port is not None:
            ensure_port_free(port, spec.name)

    def ready(proc: Proc, timeout: float) -> None:
        if grpc_port is not None:
            wait_grpc_serving(proc, grpc_port, timeout)
        if spec.name == "gateway" and http_port is not None:
            readyz = f"http://{HOST}:{http_port}/readyz"
            wait_for_http(readyz, timeout, ok=lambda s: s == 200, proc=proc)

    port = grpc_port if grpc_port is not None else http_port
    assert port is not None
    url = f"http://{HOST}:{http_port}" if http_port else f"{HOST}:{grpc_port}"
    proc = Proc(
        spec.name,
        [sys.executable, "-m", spec.module],
        port=port,
        url=url,
        log_path=cfg.logs / f"{spec.module.removeprefix('rapport_')}.log",
        env=env,
        ready=ready,
        ready_timeout=timeout,
    )
    return proc.start()


# -- up --------------------------------------------------------------------------------------
class Shutdown(Exception):
    """Raised from the SIGINT/SIGTERM handler to unwind into the orderly stop."""


def _on_signal(signum: int, frame: FrameType | None) -> None:
    raise Shutdown(signal.Signals(signum).name)


def _save_tokens(path: Path, tokens: Mapping[str, str]) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(dict(tokens), f, indent=2)


def load_tokens(cfg: StackConfig) -> dict[str, str]:
    try:
        return dict(json.loads(cfg.tokens_file.read_text()))
    except (OSError, ValueError):
        return {}


def _say(msg: str) -> None:
    print(msg, flush=True)


def _start_deps(cfg: StackConfig, procs: list[Proc]) -> dict[str, str]:
    for d in ("nats", "bao", "mongo", "logs"):
        (cfg.home / d).mkdir(parents=True, exist_ok=True)
    # Check before starting: a health probe could otherwise succeed against a stranger.
    for port, what in (
        (cfg.nats_port, "NATS (RAPPORT_NATS_PORT)"),
        (cfg.bao_port, "OpenBao (RAPPORT_BAO_PORT)"),
        (cfg.bao_cluster_port, "OpenBao cluster (RAPPORT_BAO_CLUSTER_PORT)"),
        (cfg.mongo_port, "MongoDB wire (RAPPORT_MONGO_PORT)"),
    ):
        ensure_port_free(port, what)
    for name in ("nats-server", "bao", "secantusd-py"):
        find_binary(name)  # fail before starting anything if one is missing

    _say(f"starting NATS on {cfg.nats_url}")
    procs.append(
        start_nats(
            cfg.nats_port,
            cfg.home / "nats",
            log_path=cfg.logs / "nats.log",
            config=nats_config(cfg),
        )
    )
    _say(f"starting OpenBao on {cfg.vault_addr}")
    bao, root_token = start_bao_persistent(
        cfg.bao_port, cfg.bao_cluster_port, cfg.home / "bao", log_path=cfg.logs / "bao.log"
    )
    procs.append(bao)
    # Fresh per-service tokens each start; the previous run's services are gone.
    tokens = bootstrap(bao.url, root_token, revoke_previous=True)
    _save_tokens(cfg.tokens_file, tokens)
    _say(f"starting SecantusDB on {HOST}:{cfg.mongo_port}")
    procs.append(
        start_secantus(cfg.mongo_port, cfg.home / "mongo", log_path=cfg.logs / "mongo.log")
    )
    return tokens


def _print_table(cfg: StackConfig, started: list[str], environ: Mapping[str, str]) -> None:
    rows: list[tuple[str, str]] = []
    gw, relay = SERVICES_BY_NAME["gateway"], SERVICES_BY_NAME["session-relay"]
    if "gateway" in started:
        base = f"http://{HOST}:{gw.port('HTTP', environ)}"
        rows += [("gateway", base), ("API docs", f"{base}/docs")]
    if "session-relay" in started:
        rows.append(("session relay", f"http://{HOST}:{relay.port('HTTP', environ)}"))
    for spec in SERVICES:
        if spec.name in started and spec.grpc_port is not None:
            rows.append((f"{spec.name} gRPC", f"{HOST}:{spec.port('GRPC', environ)}"))
    rows += [
        ("NATS", cfg.nats_url),
        ("OpenBao", cfg.vault_addr),
        ("MongoDB", cfg.mongo_uri),
        ("logs", str(cfg.logs)),
    ]
    width = max(len(k) for k, _ in rows)
    _say("\nRapport local stack is up:")
    for k, v in rows:
        _say(f"  {k:<{width}}  {v}")
    _say("Ctrl-C to stop.")


def up(*, deps_only: bool = False, environ: Mapping[str, str] = os.environ) -> int:
    cfg = StackConfig.from_env(environ)
    procs: list[Proc] = []  # in start order; stopped in reverse (services, then dependencies)
    old = {s: signal.signal(s, _on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    code = 0
    try:
        tokens = _start_deps(cfg, procs)
        started: list[str] = []
        for spec in () if deps_only else SERVICES:
            if not spec.has_main():
                _say(f"skipping {spec.name}: {spec.module} has no __main__ yet")
                continue
            _say(f"starting {spec.name}")
            procs.append(start_service(spec, cfg, tokens, environ))
            started.append(spec.name)
        _print_table(cfg, started, environ)
        while True:  # watch: a process dying after startup stops the stack, loudly
            for proc in procs:
                if not proc.running:
                    raise ProcError(
                        f"{proc.name} exited unexpectedly; log {proc.log_path}:\n{proc.log_tail()}"
                    )
            time.sleep(0.5)
    except Shutdown as e:
        _say(f"\n{e}: stopping")
    except ProcError as e:
        print(f"error: {e}", file=sys.stderr, flush=True)
        code = 1
    finally:
        # No second signal may interrupt the teardown (each stop is bounded by SIGKILL).
        for s in old:
            signal.signal(s, signal.SIG_IGN)
        for proc in reversed(procs):
            proc.stop(timeout=SERVICE_STOP_TIMEOUT)
        for s, handler in old.items():
            signal.signal(s, handler)
    _say("stopped")
    return code


def env_lines(service: str | None = None, environ: Mapping[str, str] = os.environ) -> list[str]:
    """`export` lines for running one service (or each, in turn) by hand against the stack."""
    cfg = StackConfig.from_env(environ)
    tokens = load_tokens(cfg)
    lines = [
        f"# dependencies: NATS {cfg.nats_url}, OpenBao {cfg.vault_addr}, MongoDB {cfg.mongo_uri}"
    ]
    if not tokens:
        lines.append("# no Vault tokens yet: start `python -m rapport_local up --deps-only` first")
    specs = [SERVICES_BY_NAME[service]] if service else list(SERVICES)
    for spec in specs:
        lines.append(f"# {spec.name}: python -m {spec.module}")
        for key, value in service_env(spec, cfg, tokens, environ).items():
            if key == "OTEL_SERVICE_NAME" and service is None:
                continue  # would be overwritten by the next service
            lines.append(f"export {key}={shlex.quote(value)}")
    return lines
