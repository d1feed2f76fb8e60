"""Build the six service images with podman, without a Docker daemon or a registry (`make images`).

What it does, each step skipped when already done:
1. podman (and runc, mmdebstrap) from Debian apt when missing;
2. a local Python base image from Debian packages (`mmdebstrap --variant=minbase` with python3,
   imported with `podman import`), because no registry may be reachable; any other base can be
   named instead (`--python-image`, e.g. the official one when a registry is reachable);
3. the six images from deploy/docker/Dockerfile, `--pull=never`: the first build fills the
   stages all six share (the dependency venv, the workspace wheels), the other five only add
   their own small layers. An image whose inputs (context files, Dockerfile, base, arguments)
   have not changed since it was built is not rebuilt at all.

Every podman call reads deploy/docker/containers.conf (CONTAINERS_CONF) unless the caller set
CONTAINERS_CONF already. tests/deploy/test_images.py uses the same functions. docs/images.md
explains the layout and the traps.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import hashlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[4]
DOCKERFILE = REPO / "deploy" / "docker" / "Dockerfile"
CONTAINERS_CONF = REPO / "deploy" / "docker" / "containers.conf"
SERVICES = ("gateway", "identity", "scheduling", "session-relay", "notes-vault", "billing")

# The local base: Debian's python3 (3.11 in bookworm), the packages the Dockerfile's base
# stage needs (useradd from passwd, python3-venv for the builder's uv) and CA certificates.
BASE_IMAGE = "localhost/rapport-python:3.11-bookworm"
BASE_SUITE = "bookworm"
BASE_PACKAGES = ("python3", "python3-venv", "ca-certificates", "passwd")
_BASE_DPKG_OPTS = (
    "force-unsafe-io",  # no fsync per file: the tarball is written once at the end
    "path-exclude=/usr/share/man/*",
    "path-exclude=/usr/share/info/*",
    "path-exclude=/usr/share/locale/*",
    "path-exclude=/usr/share/doc/*",
    "path-include=/usr/share/doc/*/copyright",
)
# Merged /usr set up by mmdebstrap's hook: without it apt pulls usrmerge, and perl with it.
_MERGED_USR_HOOK = Path("/usr/share/mmdebstrap/hooks/merged-usr")
RECIPE_LABEL = "org.rapport.base.recipe"
INPUTS_LABEL = "org.rapport.build.inputs"
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
APT_PACKAGES = ("podman", "runc", "mmdebstrap")

# The build context (as .dockerignore allows it): hashed to decide whether to build at all.
_CONTEXT_FILES = ("uv.lock", "pyproject.toml", "deploy/local/pyproject.toml", ".dockerignore")
_CONTEXT_DIRS = ("proto", "services")
_SKIP_PARTS = {
    "__pycache__",
    ".pytest_cache",
    ".mypy_cache",
    ".ruff_cache",
    "tests",
    "node_modules",
}


class Unavailable(RuntimeError):
    """podman is missing and cannot be installed, or cannot run containers on this machine."""


@dataclass
class Built:
    service: str
    image: str  # the tag
    image_id: str
    seconds: float  # wall time of its podman build (0 when it was up to date)
    rebuilt: bool
    size: int = 0  # bytes, every layer
    own_size: int = 0  # bytes in layers no other of the six images has
    layers: list[str] = field(default_factory=list)


def _exec(
    argv: Sequence[str],
    *,
    env: dict[str, str] | None = None,
    timeout: float = 900,
    capture: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Run a tool by its absolute path (argv is always built by this module)."""
    exe = shutil.which(argv[0]) or argv[0]
    return subprocess.run(  # noqa: S603 - argv is built here, never from input
        [exe, *argv[1:]],
        env=env,
        capture_output=capture,
        text=True,
        timeout=timeout,
        check=False,
    )


def podman_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("CONTAINERS_CONF", str(CONTAINERS_CONF))
    return env


def podman(*args: str, check: bool = True, timeout: float = 900, capture: bool = True) -> str:
    proc = _exec(["podman", *args], env=podman_env(), timeout=timeout, capture=capture)
    if check and proc.returncode != 0:
        tail = (proc.stderr or "")[-4000:] if capture else ""
        raise RuntimeError(f"podman {' '.join(args[:3])} … failed ({proc.returncode}):\n{tail}")
    return proc.stdout or ""


def _log(message: str) -> None:
    print(f"[images] {message}", file=sys.stderr, flush=True)


def _apt_install(packages: Iterable[str]) -> None:
    """Debian packages, as root or through password-less sudo; Unavailable otherwise."""
    if not shutil.which("apt-get"):
        raise Unavailable(f"{', '.join(packages)} missing and there is no apt-get to install them")
    prefix: list[str] = []
    if os.geteuid() != 0:
        sudo = shutil.which("sudo")
        ok = sudo and _exec([sudo, "-n", "true"], timeout=30).returncode == 0
        if not ok:
            raise Unavailable(f"{', '.join(packages)} missing; installing needs root or sudo")
        prefix = [str(sudo), "-n"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    _log(f"apt-get install {' '.join(packages)}")
    for cmd in (
        [*prefix, "apt-get", "update", "-qq"],
        [*prefix, "apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages],
    ):
        proc = _exec(cmd, env=env)
        if proc.returncode != 0:
            raise Unavailable(f"{' '.join(cmd)} failed: {proc.stderr[-2000:]}")


def ensure_tools() -> None:
    """podman, runc (see containers.conf) and mmdebstrap, installed from apt when missing."""
    missing = [p for p in APT_PACKAGES if not shutil.which(p)]
    if missing:
        _apt_install(missing)
    proc = _exec(
        ["podman", "info", "--format", "{{.Host.OCIRuntime.Name}}"], env=podman_env(), timeout=120
    )
    if proc.returncode != 0:
        raise Unavailable(f"podman cannot run here: {proc.stderr.strip()[-2000:]}")


def _recipe() -> str:
    text = json.dumps([BASE_SUITE, BASE_PACKAGES, _BASE_DPKG_OPTS, "minbase", "merged-usr"])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _label(image: str, label: str) -> str | None:
    proc = _exec(
        ["podman", "image", "inspect", "--format", f'{{{{index .Labels "{label}"}}}}', image],
        env=podman_env(),
        timeout=120,
    )
    if proc.returncode != 0:
        return None
    value = proc.stdout.strip()
    return None if value in ("", "<no value>") else value


def ensure_base(image: str = BASE_IMAGE) -> str:
    """The local Debian Python base image, built once (again only when its recipe changes)."""
    if _label(image, RECIPE_LABEL) == _recipe():
        return image
    if not shutil.which("mmdebstrap"):
        _apt_install(["mmdebstrap"])
    # The host's apt sources when it runs the same Debian release (its mirror and proxy).
    sources = Path("/etc/apt/sources.list.d/debian.sources")
    mirror = [str(sources)] if sources.exists() and _host_suite() == BASE_SUITE else []
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="rapport-base-") as tmp:
        tarball = Path(tmp) / "rootfs.tar"
        cmd = [
            "mmdebstrap",
            "--quiet",
            "--variant=minbase",
            f"--include={','.join(BASE_PACKAGES)}",
            *([f"--hook-dir={_MERGED_USR_HOOK}"] if _MERGED_USR_HOOK.is_dir() else []),
            *(f"--dpkgopt={o}" for o in _BASE_DPKG_OPTS),
            '--aptopt=Acquire::Languages "none"',
            BASE_SUITE,
            str(tarball),
            *mirror,
        ]
        _log(f"building the base image {image} with mmdebstrap (once)")
        proc = _exec(cmd)
        if proc.returncode != 0:
            raise RuntimeError(f"mmdebstrap failed:\n{proc.stderr[-4000:]}")
        podman(
            "import",
            "--change", 'CMD ["python3"]',
            "--change", f"LABEL {RECIPE_LABEL}={_recipe()}",
            str(tarball),
            image,
        )  # fmt: skip
    _log(f"base image {image} built in {time.monotonic() - started:.0f} s")
    return image


def _host_suite() -> str | None:
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("VERSION_CODENAME="):
                return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return None


def inputs_digest(python_image_id: str, build_args: Sequence[str]) -> str:
    """What a build reads: the context files, the Dockerfile, the base image and arguments."""
    h = hashlib.sha256()
    h.update(python_image_id.encode())
    for arg in build_args:
        h.update(b"\0" + arg.encode())
    paths = [REPO / f for f in _CONTEXT_FILES] + [DOCKERFILE]
    for d in _CONTEXT_DIRS:
        paths += [
            p
            for p in (REPO / d).rglob("*")
            if p.is_file()
            and not _SKIP_PARTS.intersection(p.relative_to(REPO).parts)
            and p.suffix != ".pyc"
        ]
    for p in sorted(paths):
        h.update(b"\0" + str(p.relative_to(REPO)).encode() + b"\0")
        h.update(p.read_bytes() if p.exists() else b"<missing>")
    return h.hexdigest()[:24]


def _build_one(
    service: str, tag: str, python_image: str, extra: Sequence[str], digest: str
) -> Built:
    image = f"localhost/rapport-{service}:{tag}"
    if _label(image, INPUTS_LABEL) == digest:
        return Built(service, image, _image_id(image), 0.0, rebuilt=False)
    args = [
        "build",
        "--file", str(DOCKERFILE),
        "--target", "runtime",
        "--format", "docker",  # SHELL and the rest of the Dockerfile as docker reads it
        "--layers",
        "--pull=never",
        "--network", "host",
        "--build-arg", f"PYTHON_IMAGE={python_image}",
        "--build-arg", f"SERVICE={service}",
        "--label", f"{INPUTS_LABEL}={digest}",
        *extra,
        "--tag", image,
        str(REPO),
    ]  # fmt: skip
    if HOST_CA_BUNDLE.exists():
        # A proxy's CA, if any, is in the host's bundle: mounted for downloads, never stored.
        args[1:1] = ["--secret", f"id=ca-certificates,src={HOST_CA_BUNDLE}"]
    started = time.monotonic()
    podman(*args, timeout=1800)
    return Built(service, image, _image_id(image), time.monotonic() - started, rebuilt=True)


def _image_id(image: str) -> str:
    return podman("image", "inspect", "--format", "{{.Id}}", image).strip()


def _layers(image: str) -> list[tuple[str, int]]:
    """(diff id, size) of each layer, bottom first: the history entries that are not empty
    layers map, in order, to RootFS.Layers; `podman history` gives their sizes."""
    (info,) = json.loads(podman("image", "inspect", image))
    history = info.get("History") or []
    diff_ids = list(info["RootFS"]["Layers"])
    sizes = [
        int(r.get("size", 0)) for r in json.loads(podman("history", "--format", "json", image))
    ]
    sizes.reverse()
    steps = [s for h, s in zip(history, sizes, strict=False) if not h.get("empty_layer")]
    if len(history) != len(sizes) or len(steps) != len(diff_ids):
        return [(d, 0) for d in diff_ids]  # sizes unknown: report the total only
    return list(zip(diff_ids, steps, strict=True))


def build(
    services: Sequence[str] = SERVICES,
    *,
    tag: str = "latest",
    python_image: str | None = None,
    version: str | None = None,
    revision: str | None = None,
    parallel: int = 2,
) -> list[Built]:
    """Build the images (local base unless python_image names another). The first build fills
    the shared stages; the rest run `parallel` at a time and mostly hit the layer cache."""
    ensure_tools()
    base = python_image or ensure_base()
    extra: list[str] = []
    if version:
        extra += ["--build-arg", f"VERSION={version}"]
    if revision:
        extra += ["--build-arg", f"REVISION={revision}"]
    digest = inputs_digest(_image_id(base), [base, *extra])
    first, *rest = services
    done = [_build_one(first, tag, base, extra, digest)]
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
        done += list(pool.map(lambda s: _build_one(s, tag, base, extra, digest), rest))
    _sizes(done)
    return done


def _sizes(built: list[Built]) -> None:
    layers = {b.service: _layers(b.image) for b in built}
    for b in built:
        b.layers = [d for d, _ in layers[b.service]]
        b.size = int(podman("image", "inspect", "--format", "{{.Size}}", b.image).strip())
        others = {d for s, ls in layers.items() if s != b.service for d, _ in ls}
        b.own_size = sum(size for d, size in layers[b.service] if d not in others)


def report(built: Sequence[Built]) -> str:
    mb = 1024 * 1024
    lines = [f"{'image':44} {'size':>8} {'own':>8} {'build':>8}"]
    for b in built:
        took = f"{b.seconds:.0f} s" if b.rebuilt else "cached"
        lines.append(f"{b.image:44} {b.size / mb:6.0f}MB {b.own_size / mb:6.1f}MB {took:>8}")
    if built:
        shared = max(b.size - b.own_size for b in built)
        total = shared + sum(b.own_size for b in built)
        lines.append(f"six images: {total / mb:.0f} MB on disk ({shared / mb:.0f} MB shared)")
    return "\n".join(lines)


def ulimit_args() -> list[str]:
    """containers.conf's nofile limit, lowered to this host's hard limit when that is lower
    (runc refuses a container whose limit exceeds it)."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 16384:
        return ["--ulimit", f"nofile={hard}:{hard}"]
    return []


def check_runs(base: str) -> None:
    """Unavailable unless podman can start a container (of the base image) on this machine."""
    proc = _exec(
        ["podman", "run", "--rm", "--network", "host", *ulimit_args(), base, "true"],
        env=podman_env(),
        timeout=300,
    )
    if proc.returncode != 0:
        raise Unavailable(f"podman cannot start a container here: {proc.stderr.strip()[-1000:]}")


@dataclass
class Prepared:
    base: str
    built: list[Built]
    seconds: float  # from start to the last image


class Background:
    """Tools, base image and the six images, prepared in a thread: the test session starts it
    at collection and the image tests, run last, collect it (tests/deploy/conftest.py), so the
    build overlaps the rest of the suite instead of adding to it."""

    def __init__(self, tag: str) -> None:
        self.tag = tag
        self._done = threading.Event()
        self._result: Prepared | None = None
        self._error: BaseException | None = None

    def start(self) -> Background:
        threading.Thread(target=self._run, name="rapport-images", daemon=True).start()
        return self

    def _run(self) -> None:
        started = time.monotonic()
        try:
            ensure_tools()
            base = ensure_base()
            check_runs(base)
            built = build(tag=self.tag, python_image=base)
            self._result = Prepared(base, built, time.monotonic() - started)
        except BaseException as exc:  # handed to whoever waits for the result
            self._error = exc
        finally:
            self._done.set()

    def result(self, timeout: float = 1800) -> Prepared:
        if not self._done.wait(timeout):
            raise TimeoutError(f"images not built within {timeout:.0f} s")
        if self._error is not None:
            raise self._error
        assert self._result is not None
        return self._result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make images", description=__doc__.split("\n")[0])
    parser.add_argument("services", nargs="*", help=f"default: all of {', '.join(SERVICES)}")
    parser.add_argument("--tag", default=os.environ.get("TAG", "latest"))
    parser.add_argument(
        "--python-image",
        default=os.environ.get("PYTHON_IMAGE") or None,
        help="base image instead of the local Debian one (e.g. the official python image)",
    )
    parser.add_argument("--version", default=os.environ.get("VERSION") or None)
    parser.add_argument("--revision", default=os.environ.get("REVISION") or None)
    ns = parser.parse_args(argv)
    unknown = set(ns.services) - set(SERVICES)
    if unknown:
        parser.error(f"unknown services {sorted(unknown)}; choose from {', '.join(SERVICES)}")
    try:
        built = build(
            ns.services or SERVICES,
            tag=ns.tag,
            python_image=ns.python_image,
            version=ns.version,
            revision=ns.revision,
        )
    except Unavailable as exc:
        print(f"make images: {exc}", file=sys.stderr)
        return 2
    print(report(built))
    return 0


if __name__ == "__main__":
    sys.exit(main())
