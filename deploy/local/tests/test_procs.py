from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest
from pymongo import MongoClient
from rapport_local.procs import (
    Proc,
    ProcError,
    free_port,
    start_nats,
    start_secantus,
    vault_client,
    wait_for_port,
)


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def test_free_port_is_bindable() -> None:
    port = free_port()
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))


def test_nats_start_kill_restart_stop(tmp_path: Path) -> None:
    port = free_port()
    with start_nats(port, str(tmp_path / "js")) as nats:
        assert nats.url == f"nats://127.0.0.1:{port}"
        assert nats.name == "nats" and nats.port == port and _listening(port)
        nats.kill()  # outage
        assert not nats.running and not _listening(port)
        nats.restart()  # same port, same store dir
        assert nats.running and _listening(port)
        assert (tmp_path / "js" / "jetstream").is_dir()
    assert not nats.running and not _listening(port)


def test_secantus_answers_ping_and_stops() -> None:
    port = free_port()
    mongo = start_secantus(port)
    try:
        assert mongo.url == f"mongodb://127.0.0.1:{port}/?directConnection=true"
        client: MongoClient[dict[str, object]] = MongoClient(
            mongo.url, serverSelectionTimeoutMS=5000
        )
        try:
            assert client.admin.command("ping")["ok"] == 1
        finally:
            client.close()
    finally:
        mongo.stop()
    assert not mongo.running


def test_process_that_dies_reports_its_log_tail(tmp_path: Path) -> None:
    argv = [sys.executable, "-c", "import sys; print('boom: bad flag'); sys.exit(3)"]
    proc = Proc("broken", argv, port=free_port(), url="", log_path=tmp_path / "broken.log")
    with pytest.raises(ProcError, match=r"(?s)exited with code 3.*boom: bad flag"):
        proc.start()


def test_wait_for_port_times_out() -> None:
    with pytest.raises(ProcError, match="timed out"):
        wait_for_port("127.0.0.1", free_port(), 0.3)


def test_bao_dev_health(bao_dev: tuple[Proc, str]) -> None:
    proc, token = bao_dev
    client = vault_client(proc.url, token)
    assert client.is_authenticated()
    assert not client.sys.is_sealed()
