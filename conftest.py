"""Fixtures shared by every test: the real dependencies on free loopback ports, one per session.

nats-server (JetStream), OpenBao (dev, in memory, bootstrapped with the per-service policies)
and SecantusDB (in memory) are started as processes; nothing is mocked. Spans and metrics are
captured in memory for the whole test process.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from rapport_local import procs, vault_bootstrap
from rapport_platform.telemetry import Capture, capture_in_memory


@dataclass
class Deps:
    nats: procs.Proc
    mongo: procs.Proc
    vault: procs.Proc
    vault_tokens: dict[str, str]

    @property
    def nats_url(self) -> str:
        return self.nats.url

    @property
    def mongo_uri(self) -> str:
        return self.mongo.url

    @property
    def vault_addr(self) -> str:
        return self.vault.url


@pytest.fixture(scope="session")
def telemetry() -> Capture:
    return capture_in_memory()


@pytest.fixture(scope="session")
def deps(tmp_path_factory: pytest.TempPathFactory, telemetry: Capture) -> Iterator[Deps]:
    base: Path = tmp_path_factory.mktemp("deps")
    nats = procs.start_nats(procs.free_port(), base / "nats", log_path=base / "nats.log")
    mongo = procs.start_secantus(procs.free_port(), ":memory:", log_path=base / "mongo.log")
    root = f"root-{uuid.uuid4()}"
    vault = procs.start_bao_dev(procs.free_port(), root, log_path=base / "bao.log")
    try:
        tokens = vault_bootstrap.bootstrap(vault.url, root)
        yield Deps(nats=nats, mongo=mongo, vault=vault, vault_tokens=tokens)
    finally:
        for p in (vault, mongo, nats):
            p.stop()


def unique_db(prefix: str) -> str:
    """A database name per test, so tests sharing one server never see each other's records."""
    return f"{prefix}_{uuid.uuid4().hex[:10]}"
