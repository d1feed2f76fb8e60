"""A service as the real process it is in production: fail-fast config, SIGTERM drain."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from rapport_local import procs

from conftest import unique_db
from tests.waiting import eventually


def identity_env(deps, port: int, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAPPORT_")}
    env.update(
        {
            "RAPPORT_IDENTITY_GRPC_PORT": str(port),
            "RAPPORT_IDENTITY_MONGO_URI": deps.mongo_uri,
            "RAPPORT_IDENTITY_MONGO_DB": unique_db("identity"),
            "RAPPORT_IDENTITY_NATS_URL": deps.nats_url_for("identity"),
            "RAPPORT_IDENTITY_VAULT_ADDR": deps.vault_addr,
            "RAPPORT_IDENTITY_VAULT_TOKEN": deps.vault_tokens["identity"],
            "RAPPORT_IDENTITY_DRAIN_SECONDS": "2",
            **extra,
        }
    )
    return env


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"RAPPORT_IDENTITY_GRPC_PORT": "not-a-port"}, "RAPPORT_IDENTITY_GRPC_PORT"),
        ({"RAPPORT_IDENTITY_VAULT_TOKEN": ""}, "vault_token is required"),
        ({"RAPPORT_IDENTITY_ACCESS_TOKEN_TTL_SECONDS": "5"}, "ACCESS_TOKEN_TTL_SECONDS"),
    ],
)
def test_bad_config_exits_at_once_with_a_clear_message(deps, override, message):
    env = identity_env(deps, procs.free_port(), **override)
    done = subprocess.run(
        [sys.executable, "-m", "rapport_identity"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr


async def test_sigterm_turns_health_not_serving_then_drains_and_exits(deps):
    port = procs.free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "rapport_identity"],
        env=identity_env(deps, port),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    stub = health_pb2_grpc.HealthStub(channel)

    async def status():
        try:
            reply = await stub.Check(health_pb2.HealthCheckRequest(), timeout=1)
            return reply.status
        except grpc.aio.AioRpcError as exc:
            return exc.code()

    async def says(expected) -> bool:
        return await status() == expected

    try:
        await eventually(lambda: says(health_pb2.HealthCheckResponse.SERVING), timeout=60)
        proc.send_signal(signal.SIGTERM)
        # It says so while draining (it still answers), then exits cleanly; waiting for the exit
        # without blocking the event loop the session's services share.
        await eventually(lambda: says(health_pb2.HealthCheckResponse.NOT_SERVING))
        await eventually(lambda: proc.poll() is not None, timeout=60, what="the process exits")
        assert proc.returncode == 0
        err = proc.stderr.read().decode()
        assert "signal received: draining" in err
    finally:
        await channel.close()
        if proc.poll() is None:
            proc.kill()
