"""Launchers for the real dependencies (NATS, OpenBao, SecantusDB) on loopback.

Used by test fixtures (free ports, temp dirs) and by the local stack (fixed ports, `.rapport/`).
Every process runs in its own process group so that stopping it also stops anything it forked.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType

import hvac
import requests

HOST = "127.0.0.1"


class ProcError(RuntimeError):
    """A dependency failed to start or to become ready."""


def free_port() -> int:
    """A port the kernel just handed out on loopback (racy by nature, fine for tests)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def find_binary(name: str) -> str:
    """The venv's bin dir first (so `uv run` and a bare `.venv/bin/python` agree), then PATH."""
    candidate = Path(sys.executable).parent / name
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise ProcError(f"{name!r} not found next to {sys.executable} nor on PATH; run `uv sync`")
    return found


def log_tail(path: Path | str, lines: int = 40) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 64 * 1024))
            text = f.read().decode("utf-8", "replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


class Proc:
    """A subprocess in its own process group, logging to a file, with a readiness hook.

    `ready(proc, timeout)` is called after every (re)start and raises if the process
    does not become usable; it lets `restart()` redo e.g. an OpenBao unseal.
    """

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        port: int,
        url: str,
        log_path: Path | str | None = None,
        env: dict[str, str] | None = None,
        cwd: Path | str | None = None,
        ready: Callable[[Proc, float], None] | None = None,
        ready_timeout: float = 30.0,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.port = port
        self.url = url
        # Without a log path, a temp file that a clean stop() removes (no state left behind);
        # it is kept when the process fails to start, so the error can point at it.
        self._owns_log = log_path is None
        if log_path is None:
            fd, tmp = tempfile.mkstemp(prefix=f"rapport-{name}-", suffix=".log")
            os.close(fd)
            log_path = tmp
        self.log_path = Path(log_path)
        self.env = env
        self.cwd = cwd
        self._ready = ready
        self._ready_timeout = ready_timeout
        self.popen: subprocess.Popen[bytes] | None = None

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> Proc:
        if self.running:
            return self
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        # Append, so a restart keeps the log of the previous run (useful after a fault test).
        with open(self.log_path, "ab") as log:
            self.popen = subprocess.Popen(  # noqa: S603 - argv is built by this module
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=self.cwd,
                start_new_session=True,  # own process group: killpg reaches its children
            )
        try:
            if self._ready is not None:
                self._ready(self, self._ready_timeout)
            else:
                wait_for_port(HOST, self.port, self._ready_timeout, proc=self)
        except BaseException:
            self._halt(timeout=5)
            raise
        return self

    @property
    def pid(self) -> int | None:
        return self.popen.pid if self.popen else None

    @property
    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def _signal_group(self, sig: signal.Signals) -> None:
        assert self.popen is not None
        try:
            os.killpg(self.popen.pid, sig)
        except ProcessLookupError:
            pass

    def stop(self, timeout: float = 10) -> int | None:
        """SIGTERM the group (graceful), SIGKILL it if still there after `timeout`."""
        code = self._halt(timeout)
        if self._owns_log:
            self.log_path.unlink(missing_ok=True)
        return code

    def _halt(self, timeout: float) -> int | None:
        if self.popen is None:
            return None
        if self.popen.poll() is None:
            self._signal_group(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self._signal_group(signal.SIGKILL)
                self.popen.wait(5)
            # Children that outlived their leader; only now, while the group id is surely ours.
            self._signal_group(signal.SIGKILL)
        return self.popen.returncode

    def kill(self) -> None:
        """SIGKILL the group with no grace: simulates an outage in fault tests."""
        if not self.running:
            return
        assert self.popen is not None
        self._signal_group(signal.SIGKILL)
        self.popen.wait(10)

    def restart(self, timeout: float = 10) -> Proc:
        """Start again with the same argv, port and data dir (after `stop()` or `kill()`)."""
        self._halt(timeout)  # keeps the log: it continues across the restart
        self.popen = None
        return self.start()

    def log_tail(self, lines: int = 40) -> str:
        return log_tail(self.log_path, lines)

    def __enter__(self) -> Proc:
        return self.start() if self.popen is None else self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"Proc({self.name!r}, pid={self.pid}, url={self.url!r})"


def ensure_alive(proc: Proc | None, what: str) -> None:
    if proc is not None and proc.popen is not None and proc.popen.poll() is not None:
        raise ProcError(
            f"{proc.name} exited with code {proc.popen.returncode} while waiting for {what}; "
            f"log {proc.log_path}:\n{proc.log_tail()}"
        )


def timeout_error(proc: Proc | None, what: str, timeout: float) -> ProcError:
    tail = f"; log {proc.log_path}:\n{proc.log_tail()}" if proc else ""
    return ProcError(f"timed out after {timeout:.0f}s waiting for {what}{tail}")


def wait_for_port(host: str, port: int, timeout: float, *, proc: Proc | None = None) -> None:
    """Until a TCP connect succeeds; fails early (with the log tail) if `proc` died."""
    deadline = time.monotonic() + timeout
    what = f"{host}:{port}"
    while time.monotonic() < deadline:
        ensure_alive(proc, what)
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise timeout_error(proc, what, timeout)


# Loopback only: never route our own health probes through a developer's HTTP proxy.
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http_status(url: str) -> int | None:
    """The HTTP status of a GET, or None if nothing answered."""
    try:
        with _NO_PROXY.open(url, timeout=2) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as e:
        return e.code
    except OSError:
        return None


def wait_for_http(
    url: str,
    timeout: float,
    *,
    ok: Callable[[int], bool] = lambda s: s == 200,
    proc: Proc | None = None,
) -> int:
    """Until a GET of `url` answers a status `ok` accepts (200 by default)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ensure_alive(proc, url)
        status = http_status(url)
        if status is not None and ok(status):
            return status
        time.sleep(0.1)
    raise timeout_error(proc, url, timeout)


# -- NATS ----------------------------------------------------------------------------------
def start_nats(
    port: int,
    store_dir: str | Path,
    *,
    log_path: Path | str | None = None,
    config: Path | None = None,
) -> Proc:
    """nats-server with JetStream, loopback only (without -a it binds every interface).
    `config`: a config file (users and permissions, rapport_local.nats_auth)."""
    Path(store_dir).mkdir(parents=True, exist_ok=True)
    argv = [find_binary("nats-server"), "-a", HOST, "-p", str(port), "-js", "-sd", str(store_dir)]
    if config is not None:
        argv += ["-c", str(config)]
    return Proc("nats", argv, port=port, url=f"nats://{HOST}:{port}", log_path=log_path).start()


# -- SecantusDB (MongoDB wire) -------------------------------------------------------------
def start_secantus(
    port: int, storage_path: str | Path = ":memory:", *, log_path: Path | str | None = None
) -> Proc:
    """Its own process: it is a Python server and would otherwise share our interpreter."""
    if str(storage_path) != ":memory:":
        Path(storage_path).mkdir(parents=True, exist_ok=True)
    argv = [
        find_binary("secantusd-py"),
        *("--host", HOST, "--port", str(port), "--storage-path", str(storage_path)),
    ]
    url = f"mongodb://{HOST}:{port}/?directConnection=true"
    # An empty cwd keeps it from auto-discovering a stray ./secantusd.toml.
    cwd = tempfile.gettempdir()
    return Proc("mongo", argv, port=port, url=url, log_path=log_path, cwd=cwd).start()


# -- OpenBao -------------------------------------------------------------------------------
def vault_client(url: str, token: str | None = None, timeout: float = 30) -> hvac.Client:
    """An hvac client that ignores proxy env vars (loopback must never go via a proxy)."""
    session = requests.Session()
    session.trust_env = False
    return hvac.Client(url=url, token=token, timeout=timeout, session=session)


def _bao_env() -> dict[str, str]:
    env = dict(os.environ)
    # Never let a developer's shell VAULT_*/BAO_* settings leak into the server we start.
    for key in list(env):
        if key.startswith(("VAULT_", "BAO_")):
            del env[key]
    return env


def _health_url(port: int) -> str:
    return f"http://{HOST}:{port}/v1/sys/health"


def start_bao_dev(port: int, root_token: str, *, log_path: Path | str | None = None) -> Proc:
    """In-memory dev server (tests): unsealed, root token known, nothing persisted."""
    argv = [
        find_binary("bao"),
        *("server", "-dev", f"-dev-root-token-id={root_token}"),
        f"-dev-listen-address={HOST}:{port}",
    ]

    def ready(proc: Proc, timeout: float) -> None:
        wait_for_http(_health_url(port), timeout, ok=lambda s: s == 200, proc=proc)

    url = f"http://{HOST}:{port}"
    proc = Proc("bao", argv, port=port, url=url, log_path=log_path, env=_bao_env(), ready=ready)
    return proc.start()


def _bao_config(port: int, cluster_port: int, data_dir: Path) -> str:
    raft = data_dir / "raft"
    audit = data_dir / "audit.log"
    # OpenBao refuses `sys/audit` over the API; audit devices are declared here instead.
    return f"""\
storage "raft" {{
  path    = "{raft}"
  node_id = "rapport-local"
  # A lone node still waits one election timeout before leading; 1 makes that ~1 s, not ~5 s.
  performance_multiplier = 1
}}

listener "tcp" {{
  address         = "{HOST}:{port}"
  cluster_address = "{HOST}:{cluster_port}"
  tls_disable     = true
}}

api_addr     = "http://{HOST}:{port}"
cluster_addr = "https://{HOST}:{cluster_port}"
ui           = false
# No disable_mlock: OpenBao 2.x dropped mlock and warns about the field.

audit "file" "file" {{
  description = "local stack audit log"
  options {{
    file_path = "{audit}"
  }}
}}
"""


def _write_secret_json(path: Path, data: dict[str, str]) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(data, f, indent=2)
    os.chmod(path, 0o600)


class _SignalsDeferred:
    """Hold SIGINT/SIGTERM until the block ends: an interrupted first `sys/init` would leave
    an initialised OpenBao whose unseal key and root token were never saved."""

    _sigs = {signal.SIGINT, signal.SIGTERM}

    def __enter__(self) -> None:
        signal.pthread_sigmask(signal.SIG_BLOCK, self._sigs)

    def __exit__(self, *exc: object) -> None:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, self._sigs)


def _init_and_unseal(proc: Proc, data_dir: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    wait_for_port(HOST, proc.port, timeout, proc=proc)
    # Generous timeout: sys/init blocks until raft has elected itself leader.
    client = vault_client(proc.url)
    init_file, pending = data_dir / "init.json", data_dir / "init.pending"
    if not client.sys.is_initialized():
        if init_file.exists():
            raise ProcError(f"{init_file} exists but OpenBao at {data_dir} is not initialised")
        with _SignalsDeferred():
            pending.touch()
            result = client.sys.initialize(secret_shares=1, secret_threshold=1)
            # Local development only: in Kubernetes the unseal key never sits next to the data.
            creds = {"unseal_key": result["keys_base64"][0], "root_token": result["root_token"]}
            _write_secret_json(init_file, creds)
            pending.unlink()
    elif not init_file.exists():
        raise ProcError(
            f"OpenBao under {data_dir} is initialised but {init_file} is missing: its data can "
            f"never be unsealed again. Delete {data_dir} (losing its keys) and start again."
        )
    creds = json.loads(init_file.read_text())
    if client.sys.is_sealed():
        client.sys.submit_unseal_key(creds["unseal_key"])
    # Raft must elect itself leader before requests succeed: health is 200 only when active.
    wait_for_http(
        _health_url(proc.port),
        max(1.0, deadline - time.monotonic()),
        ok=lambda s: s == 200,
        proc=proc,
    )


def bao_root_token(data_dir: Path) -> str:
    return str(json.loads((Path(data_dir) / "init.json").read_text())["root_token"])


def start_bao_persistent(
    port: int, cluster_port: int, data_dir: Path, *, log_path: Path | str | None = None
) -> tuple[Proc, str]:
    """Raft-backed OpenBao under `data_dir`: initialised once, unsealed at every (re)start."""
    data_dir = Path(data_dir)
    if (data_dir / "init.pending").exists() and not (data_dir / "init.json").exists():
        # A first start died mid-init (e.g. SIGKILL): nothing but the barrier was ever
        # written and its keys are lost, so the raft data is safe and necessary to discard.
        shutil.rmtree(data_dir / "raft", ignore_errors=True)
        (data_dir / "init.pending").unlink()
    (data_dir / "raft").mkdir(parents=True, exist_ok=True)
    os.chmod(data_dir, 0o700)
    config = data_dir / "config.hcl"
    config.write_text(_bao_config(port, cluster_port, data_dir))
    argv = [find_binary("bao"), "server", f"-config={config}"]
    proc = Proc(
        "bao",
        argv,
        port=port,
        url=f"http://{HOST}:{port}",
        log_path=log_path,
        env=_bao_env(),
        ready=lambda p, timeout: _init_and_unseal(p, data_dir, timeout),
        ready_timeout=60,
    )
    proc.start()
    return proc, bao_root_token(data_dir)
