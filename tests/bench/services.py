"""Each service as its own OS process for `make bench`, configured by environment as in
production: how long each takes from spawn to SERVING (gRPC health) or ready (/readyz), and its
resident memory idle and under load, measured from /proc."""

from __future__ import annotations

import os
import resource
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from pydantic import BaseModel, SecretStr
from rapport_local import procs


def rss_mib(pid: int | str = "self", field: str = "VmHWM") -> float:
    """Resident memory from /proc (Linux): VmHWM is the peak, VmRSS the current."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    if pid == "self":  # not Linux: getrusage knows this process's peak
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return float("nan")


def cpu_seconds(pid: int | str = "self") -> float:
    """User + system CPU time the process has used so far (/proc/PID/stat)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


class CpuMeter:
    """CPU seconds each named process used between enter and exit."""

    def __init__(self, pids: dict[str, int | str]) -> None:
        self.pids = pids
        self.used: dict[str, float] = {}

    def __enter__(self) -> CpuMeter:
        self._start = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
        return self

    def __exit__(self, *exc: object) -> None:
        self.used = {n: cpu_seconds(p) - self._start[n] for n, p in self.pids.items()}


def env_value(value: Any) -> str:
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple | list):
        return ",".join(str(v) for v in value)
    return str(value)


def environment(prefix: str, settings: BaseModel) -> dict[str, str]:
    """The process environment that gives a service exactly these settings (the values set
    explicitly; the rest keep their defaults, as in a deployment)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefix)}
    for name in settings.model_fields_set:
        env[f"{prefix}{name.upper()}"] = env_value(getattr(settings, name))
    return env


def wait_grpc_serving(proc: procs.Proc, port: int, timeout: float) -> None:
    """Polls every 20 ms (a cold start is the figure measured here)."""
    deadline = time.monotonic() + timeout
    with grpc.insecure_channel(f"127.0.0.1:{port}", options=[("grpc.enable_http_proxy", 0)]) as ch:
        stub = health_pb2_grpc.HealthStub(ch)
        while time.monotonic() < deadline:
            procs.ensure_alive(proc, "SERVING")
            try:
                reply = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=1)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError:
                pass
            time.sleep(0.02)
    raise procs.timeout_error(proc, "SERVING", timeout)


def wait_http_ready(proc: procs.Proc, url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        procs.ensure_alive(proc, url)
        if procs.http_status(url) == 200:
            return
        time.sleep(0.02)
    raise procs.timeout_error(proc, url, timeout)


@dataclass
class ServiceProc:
    """One service process, with what was measured of it."""

    name: str
    proc: procs.Proc
    cold_start_s: float = 0.0
    idle_rss_mib: float = 0.0
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def pid(self) -> int:
        return self.proc.pid or 0

    def peak_rss_mib(self) -> float:
        return rss_mib(self.pid, "VmHWM")

    def stop(self) -> None:
        self.proc.stop()


def start(
    name: str, module: str, prefix: str, settings: BaseModel, log_dir: Path, *, http: str = ""
) -> ServiceProc:
    """Spawn `python -m module`; time until SERVING (gRPC) or `http` answers 200."""
    port = getattr(settings, "grpc_port", None) or settings.http_port  # type: ignore[attr-defined]

    def ready(proc: procs.Proc, timeout: float) -> None:
        if http:
            wait_http_ready(proc, http, timeout)
        else:
            wait_grpc_serving(proc, port, timeout)

    proc = procs.Proc(
        name,
        [sys.executable, "-m", module],
        port=port,
        url=f"127.0.0.1:{port}",
        log_path=log_dir / f"{name}.log",
        env=environment(prefix, settings),
        ready=ready,
        ready_timeout=120,
    )
    t0 = time.perf_counter()
    proc.start()
    sp = ServiceProc(name, proc, cold_start_s=time.perf_counter() - t0)
    time.sleep(0.5)  # let start-up work (index creation, first fetches) settle before "idle"
    sp.idle_rss_mib = rss_mib(sp.pid, "VmRSS")
    return sp


def report(services: list[ServiceProc]) -> list[str]:
    lines = [
        "| service | cold start to SERVING | RSS idle | peak RSS (after the load above) |",
        "|---|---:|---:|---:|",
    ]
    for s in services:
        lines.append(
            f"| {s.name} | {s.cold_start_s:.2f} s | {s.idle_rss_mib:.0f} MiB | "
            f"{s.extra.get('peak_rss_mib', s.peak_rss_mib()):.0f} MiB |"
        )
    return lines
