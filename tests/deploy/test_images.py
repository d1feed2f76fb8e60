"""The six images, built with podman and run exactly as the rendered chart runs them.

Each container gets what its rendered Deployment gives it: its env (Secrets resolved to the
test's own nats-server, OpenBao and SecantusDB from the root conftest's `deps`), the image's
uid 10001, a read-only root filesystem, its emptyDir mounts as tmpfs, every capability
dropped, no new privileges, its CPU and memory limits, and its grace period. Ports come from
the values (free ones, the network being the host's); the chart's Service names resolve to
127.0.0.1. The probes asked are the rendered ones.

Images are built once per test session (rapport_local.images: shared layers, and no build at
all when nothing they are built from changed), in the background from collection on, and these
tests run last (tests/deploy/conftest.py). Skipped only where podman cannot run.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import re
import secrets
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import grpc
import httpx
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from rapport_local import images, procs

# A cold build (base image, dependency layer) on a loaded 2-core machine.
pytestmark = pytest.mark.timeout(1800)

# Bounded waits (a slow machine makes them long, never flaky).
START_TIMEOUT = 240.0
PROBE_TIMEOUT = 5.0
# The context the Dockerfile needs is a few MB; .venv alone is over 1 GB.
MAX_CONTEXT_BYTES = 20 * 1024 * 1024
ALLOWED_TOP = {"uv.lock", "pyproject.toml", "proto", "services", "deploy"}


def _podman(*args: str, timeout: float = 300, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        ["podman", *args],
        env=images.podman_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if check:
        assert proc.returncode == 0, f"podman {' '.join(args[:2])}: {proc.stderr[-3000:]}"
    return proc


def _say(request: pytest.FixtureRequest, text: str) -> None:
    """Straight to the terminal (sizes, build and start times), captured output or not."""
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is None or capture is None:
        return
    with capture.global_and_fixture_disabled():
        reporter.write_line("")
        for line in text.splitlines():
            reporter.write_line(f"[images] {line}")


@pytest.fixture(scope="session")
def prepared(kit: ModuleType) -> images.Prepared:
    """The tools, base image and six images: from the build tests/deploy/conftest.py started
    at collection, or built here."""
    job = kit.images_build or images.Background(tag="test").start()
    try:
        return job.result()
    except images.Unavailable as exc:
        pytest.skip(f"podman cannot run here: {exc}")


@pytest.fixture(scope="session")
def base_image(prepared: images.Prepared) -> str:
    return prepared.base


@pytest.fixture(scope="session")
def built(prepared: images.Prepared, request: pytest.FixtureRequest) -> dict[str, images.Built]:
    _say(
        request,
        images.report(prepared.built)
        + f"\ntools, base image and six images ready {prepared.seconds:.0f} s after the build"
        " started (in the background since collection)",
    )
    return {b.service: b for b in prepared.built}


# --- the build context ------------------------------------------------------------------


def test_build_context_holds_only_what_the_image_needs(base_image: str, tmp_path: Path) -> None:
    """What podman sends for a build from the repository root, as .dockerignore leaves it."""
    containerfile = tmp_path / "Containerfile"
    containerfile.write_text("FROM scratch\nCOPY . /\n")
    out = tmp_path / "context"
    _podman("build", "--pull=never", "--file", str(containerfile),
            "--output", f"type=local,dest={out}", str(images.REPO))  # fmt: skip
    files = [p for p in out.rglob("*") if p.is_file()]
    size = sum(p.stat().st_size for p in files)
    top = {p.name for p in out.iterdir()}
    assert top <= ALLOWED_TOP, top - ALLOWED_TOP
    assert {"uv.lock", "pyproject.toml", "proto", "services"} <= top
    assert [p.relative_to(out).as_posix() for p in (out / "deploy").rglob("*") if p.is_file()] == [
        "deploy/local/pyproject.toml"
    ]
    leaked = [
        p.relative_to(out).as_posix()
        for p in files
        if {".venv", ".tools", ".rapport", ".git", "__pycache__", "tests"} & set(p.parts)
        or p.suffix == ".pyc"
    ]
    assert leaked == []
    assert size < MAX_CONTEXT_BYTES, f"build context is {size / 1e6:.1f} MB"
    print(f"build context: {len(files)} files, {size / 1e6:.1f} MB")


# --- the images -------------------------------------------------------------------------


def test_six_images_share_one_dependency_layer(built: dict[str, images.Built]) -> None:
    assert set(built) == set(images.SERVICES)
    layer_sets = [set(b.layers) for b in built.values()]
    shared = set.intersection(*layer_sets)
    biggest = max((b for b in built.values()), key=lambda b: b.size)
    # The shared layers (base and the dependency venv) are most of every image.
    for b in built.values():
        assert b.size - b.own_size > 0.8 * b.size, (b.service, b.size, b.own_size)
        assert b.own_size < 10 * 1024 * 1024, (b.service, b.own_size)
    assert len(shared) >= 2, shared
    assert biggest.size < 600 * 1024 * 1024, biggest
    for b in built.values():
        labels = json.loads(
            _podman("image", "inspect", "--format", "{{json .Labels}}", b.image).stdout
        )
        assert labels["org.opencontainers.image.title"] == f"rapport-{b.service}"
        config = json.loads(
            _podman("image", "inspect", "--format", "{{json .Config}}", b.image).stdout
        )
        assert config["User"] == "10001:10001"
        assert config["Entrypoint"] == ["/app/entrypoint"]


# --- running them as the chart does ----------------------------------------------------


@dataclass
class Container:
    service: str
    name: str
    env: dict[str, str]
    container: dict[str, Any]  # the rendered container spec
    grace: int  # terminationGracePeriodSeconds
    ports: dict[str, int]
    probes_passed: dict[str, float] = field(default_factory=dict)  # probe -> seconds to pass
    error: str | None = None


def _quantity_bytes(q: str) -> int:
    units = {"Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "k": 10**3, "M": 10**6, "G": 10**9}
    m = re.fullmatch(r"(\d+)([A-Za-z]*)", str(q))
    assert m and m.group(2) in ("", *units), q
    return int(m.group(1)) * units.get(m.group(2), 1)


def _cpus(q: str) -> str:
    q = str(q)
    return str(int(q[:-1]) / 1000) if q.endswith("m") else q


def _resolve_env(container: dict[str, Any], secret: dict[tuple[str, str], str]) -> dict[str, str]:
    """The container's env as a kubelet would set it, Secrets from `secret`."""
    out: dict[str, str] = {}
    for e in container.get("env", []):
        name = e["name"]
        if "value" in e:
            value = str(e["value"])
            # $(VAR) refers to an earlier variable, as in Kubernetes.
            out[name] = re.sub(r"\$\((\w+)\)", lambda m: out.get(m.group(1), m.group(0)), value)
            continue
        ref = e["valueFrom"]
        if "secretKeyRef" in ref:
            s = ref["secretKeyRef"]
            key = (s["name"], s["key"])
            if key in secret:
                out[name] = secret[key]
            else:
                assert s.get("optional"), f"{name}: Secret {key} is not provided by the test"
        elif "fieldRef" in ref:
            assert ref["fieldRef"]["fieldPath"] == "metadata.name", ref
            out[name] = f"{container['name']}-0"
        else:
            raise AssertionError(f"{name}: unsupported valueFrom {ref}")
    return out


def _run_args(pod: dict[str, Any], c: dict[str, Any], image_id: str, name: str,
              env_file: Path, hosts: set[str], grace: int) -> list[str]:  # fmt: skip
    """`podman run` arguments for one rendered container: every field it sets is honoured or
    the test fails, so a chart change cannot silently drift from what is proven here."""
    psc, sc = pod["securityContext"], c["securityContext"]
    assert set(sc) <= {
        "allowPrivilegeEscalation", "privileged", "readOnlyRootFilesystem", "runAsNonRoot",
        "runAsUser", "runAsGroup", "capabilities", "seccompProfile",
    }, sc  # fmt: skip
    assert set(psc) <= {
        "runAsNonRoot", "runAsUser", "runAsGroup", "fsGroup", "seccompProfile"
    }, psc  # fmt: skip
    assert not c.get("command") and not c.get("args"), "the chart runs the image's entrypoint"
    args = ["run", "--detach", "--name", name, "--network", "host", *images.ulimit_args()]
    args += ["--env-file", str(env_file), "--stop-timeout", str(grace)]
    args += [a for h in sorted(hosts) for a in ("--add-host", f"{h}:127.0.0.1")]
    uid = sc.get("runAsUser", psc.get("runAsUser"))
    gid = sc.get("runAsGroup", psc.get("runAsGroup"))
    args += ["--user", f"{uid}:{gid}"]
    if "fsGroup" in psc:
        args += ["--group-add", str(psc["fsGroup"])]
    if sc.get("runAsNonRoot") or psc.get("runAsNonRoot"):
        assert uid and int(uid) != 0
    assert sc.get("privileged") is False
    if sc.get("readOnlyRootFilesystem"):
        args += ["--read-only", "--read-only-tmpfs=false"]
    if sc.get("allowPrivilegeEscalation") is False:
        args += ["--security-opt", "no-new-privileges"]
    for cap in sc.get("capabilities", {}).get("drop", []):
        args += ["--cap-drop", cap]
    for cap in sc.get("capabilities", {}).get("add", []):
        args += ["--cap-add", cap]
    for ctx in (sc, psc):  # RuntimeDefault is podman's default profile
        assert ctx.get("seccompProfile", {"type": "RuntimeDefault"})["type"] == "RuntimeDefault"
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    for mount in c.get("volumeMounts", []):
        vol = volumes[mount["name"]]
        assert "emptyDir" in vol, f"{mount['name']}: only emptyDir volumes are run here"
        size = _quantity_bytes(vol["emptyDir"].get("sizeLimit", "64Mi"))
        args += ["--tmpfs", f"{mount['mountPath']}:rw,size={size},mode=1777"]
    limits = c.get("resources", {}).get("limits", {})
    if "memory" in limits:
        args += ["--memory", str(_quantity_bytes(limits["memory"]))]
    if "cpu" in limits:
        args += ["--cpus", _cpus(limits["cpu"])]
    return [*args, image_id]


def _values(deps: Any, ports: dict[str, dict[str, int]]) -> dict[str, Any]:
    services: dict[str, Any] = {
        s: {"ports": p, "drainSeconds": 1} for s, p in ports.items()
    }  # a short drain keeps the SIGTERM test short; the grace period follows it
    for s in images.SERVICES:
        if s != "gateway":
            services[s]["mongo"] = {"database": f"img_{s.replace('-', '_')}_{uuid.uuid4().hex[:8]}"}
    return {
        "services": services,
        "vault": {
            "mode": "external",
            "external": {"addr": deps.vault_addr},
            "auth": "token",
            "token": {"existingSecret": "vault-tokens"},
        },
    }


def _secrets(deps: Any, r: Any, kit: ModuleType) -> dict[tuple[str, str], str]:
    out: dict[tuple[str, str], str] = {
        ("rapport-service-token", "service-token-key"): secrets.token_hex(32),
        ("rapport-service-token", "scheduling-token-key"): secrets.token_hex(32),
        ("rapport-service-token", "billing-token-key"): secrets.token_hex(32),
        ("rapport-session-relay", "token-secret"): secrets.token_urlsafe(32),
        ("rapport-session-relay", "turn-secret"): secrets.token_urlsafe(32),
    }
    # The keys of the token Secret as the chart reads them: its defaults, then these values.
    values = kit.deep_merge(kit.load_values(kit.CHART / "values.yaml"), r.values)
    for s, key in values["vault"]["token"]["keys"].items():
        out[("vault-tokens", key)] = deps.vault_tokens[s]
    for s in images.SERVICES:
        out[("mongodb-uri", f"{s}-uri")] = deps.mongo_uri
        if s in deps.nats_passwords:
            out[("rapport-nats-users", f"{s}-url")] = deps.nats_url_for(s)
    return out


async def _probe_once(c: Container, probe: str) -> bool:
    spec = c.container[probe]
    try:
        if "grpc" in spec:
            port = spec["grpc"]["port"]
            async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
                reply = await health_pb2_grpc.HealthStub(channel).Check(
                    health_pb2.HealthCheckRequest(service=spec["grpc"].get("service", "")),
                    timeout=PROBE_TIMEOUT,
                )
            return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)
        port = spec["httpGet"]["port"]
        port = c.ports.get(port, port)
        async with httpx.AsyncClient(timeout=PROBE_TIMEOUT) as client:
            response = await client.get(f"http://127.0.0.1:{port}{spec['httpGet']['path']}")
        return 200 <= response.status_code < 400
    except (grpc.aio.AioRpcError, httpx.HTTPError):
        return False


def _running(name: str) -> bool:
    proc = _podman("inspect", "--format", "{{.State.Running}}", name, check=False)
    return proc.stdout.strip() == "true"


def _logs(name: str) -> str:
    proc = _podman("logs", "--tail", "40", name, check=False)
    return (proc.stdout + proc.stderr)[-4000:]


async def _wait_probe(c: Container, probe: str, started: float) -> None:
    """Until the rendered probe passes (bounded); fails fast when the container exits."""
    deadline = time.monotonic() + START_TIMEOUT
    checks = 0
    while time.monotonic() < deadline:
        if await _probe_once(c, probe):
            c.probes_passed[probe] = time.monotonic() - started
            return
        checks += 1
        if checks % 10 == 0 and not await asyncio.to_thread(_running, c.name):
            raise AssertionError(f"{c.service} exited before its {probe} passed:\n{_logs(c.name)}")
        await asyncio.sleep(0.2)
    raise AssertionError(f"{c.service}: {probe} did not pass in {START_TIMEOUT:.0f} s")


@dataclass
class Fleet:
    containers: dict[str, Container]
    gateway_ready_alone: bool | None = None  # /readyz while no downstream runs yet
    exits: dict[str, tuple[int, str]] = field(default_factory=dict)


def _start(c: Container, pod: dict[str, Any], image_id: str, env_dir: Path) -> None:
    env_file = env_dir / f"{c.service}.env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in c.env.items()))
    hosts = {v.split(":")[0] for k, v in c.env.items() if k.endswith("_ADDR")}
    _podman(*_run_args(pod, c.container, image_id, c.name, env_file, hosts, c.grace))


@pytest.fixture(scope="session")
def fleet(
    built: dict[str, images.Built], deps: Any, kit: ModuleType, request: pytest.FixtureRequest
) -> Iterator[Fleet]:
    """All six containers, started as the chart would, probes awaited. The gateway starts
    first, alone: its startup and liveness probes must pass while no downstream runs."""
    ports: dict[str, dict[str, int]] = {}
    for s in images.SERVICES:
        rendered_ports = kit.load_values(kit.CHART / "values.yaml")["services"][s]["ports"]
        ports[s] = {name: procs.free_port() for name in rendered_ports}
    r = kit.render(_values(deps, ports), "images")
    secret = _secrets(deps, r, kit)
    session = uuid.uuid4().hex[:8]
    fleet = Fleet(containers={})
    pods: dict[str, dict[str, Any]] = {}
    for s in images.SERVICES:
        pod = kit.pod_spec(r.get("Deployment", s))
        (c,) = pod["containers"]
        assert c["image"].split("/")[-1].startswith(f"rapport-{s}:"), c["image"]
        pods[s] = pod
        fleet.containers[s] = Container(
            service=s,
            name=f"rapport-test-{s}-{session}",
            env=_resolve_env(c, secret),
            container=c,
            grace=int(pod["terminationGracePeriodSeconds"]),
            ports={p["name"]: p["containerPort"] for p in c["ports"]},
        )
    env_dir = Path(tempfile.mkdtemp(prefix="rapport-images-env-"))

    async def bring_up() -> None:
        gateway = fleet.containers["gateway"]
        started = time.monotonic()
        await asyncio.to_thread(
            _start, gateway, pods["gateway"], built["gateway"].image_id, env_dir
        )
        await _wait_probe(gateway, "startupProbe", started)
        await _wait_probe(gateway, "livenessProbe", started)
        fleet.gateway_ready_alone = await _probe_once(gateway, "readinessProbe")
        others = [c for s, c in fleet.containers.items() if s != "gateway"]
        started = time.monotonic()
        await asyncio.gather(*(
            asyncio.to_thread(_start, c, pods[c.service], built[c.service].image_id, env_dir)
            for c in others
        ))  # fmt: skip

        async def up(c: Container) -> None:
            try:
                for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
                    await _wait_probe(c, probe, started)
            except AssertionError as exc:
                c.error = str(exc)

        await asyncio.gather(*(up(c) for c in fleet.containers.values()))

    try:
        asyncio.run(bring_up())
        _say(request, "probes passed after (s): " + ", ".join(
            f"{c.service} {c.probes_passed.get('readinessProbe', float('nan')):.1f}"
            for c in fleet.containers.values()
        ))  # fmt: skip
        yield fleet
    finally:
        with concurrent.futures.ThreadPoolExecutor(len(fleet.containers)) as pool:
            list(pool.map(lambda c: _podman("rm", "--force", "--time", "0", c.name,
                                            check=False), fleet.containers.values()))  # fmt: skip


def test_gateway_startup_and_liveness_pass_while_no_downstream_runs(fleet: Fleet) -> None:
    gateway = fleet.containers["gateway"]
    assert {"startupProbe", "livenessProbe"} <= set(gateway.probes_passed), gateway.error
    # Not ready (503) meanwhile: it would be taken out of the endpoints, never restarted.
    assert fleet.gateway_ready_alone is False


@pytest.mark.parametrize("service", ["identity", "scheduling", "session-relay", "notes-vault",
                                     "billing"])  # fmt: skip
def test_grpc_service_reaches_serving(fleet: Fleet, service: str) -> None:
    c = fleet.containers[service]
    assert c.error is None, c.error
    assert c.container["readinessProbe"]["grpc"].get("service", "") == ""

    async def check() -> tuple[int, int]:
        port = c.ports["grpc"]
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            whole = await stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=5)
            alive = await stub.Check(health_pb2.HealthCheckRequest(service="liveness"), timeout=5)
        return whole.status, alive.status

    serving = health_pb2.HealthCheckResponse.SERVING
    assert asyncio.run(check()) == (serving, serving)


def test_gateway_answers_healthz_then_readyz(fleet: Fleet) -> None:
    gateway = fleet.containers["gateway"]
    assert gateway.error is None, gateway.error
    base = f"http://127.0.0.1:{gateway.ports['http']}"
    with httpx.Client(timeout=10) as client:
        assert client.get(f"{base}/healthz").status_code == 200
        ready = client.get(f"{base}/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["status"] == "ready"


def test_relay_serves_its_room_page(fleet: Fleet) -> None:
    relay = fleet.containers["session-relay"]
    assert relay.error is None, relay.error
    url = f"http://127.0.0.1:{relay.ports['http']}/rooms/{uuid.uuid4()}"
    response = httpx.get(url, timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "<html" in response.text.lower()


def test_sigterm_stops_each_cleanly_within_its_grace_period(fleet: Fleet) -> None:
    """podman stop sends SIGTERM and kills after the chart's terminationGracePeriodSeconds: an
    exit code of 0 means the service drained and stopped by itself in time."""
    running = [c for c in fleet.containers.values() if c.error is None]
    assert len(running) == len(fleet.containers)

    def stop(c: Container) -> tuple[str, int, str]:
        _podman("stop", "--time", str(c.grace), c.name, timeout=c.grace + 60)
        code = _podman("inspect", "--format", "{{.State.ExitCode}}", c.name).stdout.strip()
        return c.service, int(code), _logs(c.name)

    with concurrent.futures.ThreadPoolExecutor(len(running)) as pool:
        results = list(pool.map(stop, running))
    for service, code, logs in results:
        assert code == 0, f"{service} exited {code} on SIGTERM:\n{logs}"
        assert "Traceback" not in logs, f"{service}:\n{logs}"
