from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from rapport_local.procs import ProcError, free_port, start_bao_persistent, vault_client
from rapport_local.vault_bootstrap import bootstrap


def test_persistent_bao_keeps_keys_and_root_token_across_restart(tmp_path: Path) -> None:
    data = tmp_path / "bao"
    port, cluster = free_port(), free_port()
    proc, root = start_bao_persistent(port, cluster, data)
    try:
        init = data / "init.json"
        assert stat.S_IMODE(init.stat().st_mode) == 0o600
        assert json.loads(init.read_text())["root_token"] == root
        tokens = bootstrap(proc.url, root)
        client = vault_client(proc.url, root)
        pub = client.secrets.transit.read_key("identity-jwt")["data"]["keys"]["1"]["public_key"]
        # declared in the config file (OpenBao refuses sys/audit over the API)
        assert "file/" in client.sys.list_enabled_audit_devices()["data"]
    finally:
        proc.stop()

    proc, root2 = start_bao_persistent(port, cluster, data)  # unseals with the saved key
    try:
        assert root2 == root
        client = vault_client(proc.url, root)
        again = client.secrets.transit.read_key("identity-jwt")["data"]["keys"]["1"]["public_key"]
        assert again == pub
        # tokens issued before the restart still work
        assert vault_client(proc.url, tokens["identity"]).is_authenticated()
        proc.kill()
        proc.restart()  # restart() redoes the unseal too
        assert vault_client(proc.url, root).is_authenticated()
    finally:
        proc.stop()
    assert (data / "audit.log").stat().st_size > 0


def test_interrupted_first_init_recovers_and_lost_keys_fail_clearly(tmp_path: Path) -> None:
    data = tmp_path / "bao"
    port, cluster = free_port(), free_port()
    proc, root = start_bao_persistent(port, cluster, data)
    proc.stop()
    (data / "init.json").unlink()  # keys lost: the data can never be unsealed again
    with pytest.raises(ProcError, match="is missing"):
        start_bao_persistent(port, cluster, data, log_path=tmp_path / "bao.log")
    # The same state after a first start killed mid-init (marker left) is wiped and redone.
    (data / "init.pending").touch()
    proc, root2 = start_bao_persistent(port, cluster, data)
    try:
        assert root2 != root and not (data / "init.pending").exists()
        assert vault_client(proc.url, root2).is_authenticated()
    finally:
        proc.stop()
