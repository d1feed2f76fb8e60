"""Settings as a user writes them, read by the real process: the documented list format starts
the service; bad values exit 2 with one line per bad variable, never a traceback."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from rapport_local import procs

from conftest import unique_db


def scheduling_env(deps, port: int, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAPPORT_")}
    env.update(
        {
            "RAPPORT_SCHEDULING_GRPC_PORT": str(port),
            "RAPPORT_SCHEDULING_MONGO_URI": deps.mongo_uri,
            "RAPPORT_SCHEDULING_MONGO_DB": unique_db("scheduling"),
            "RAPPORT_SCHEDULING_NATS_URL": deps.nats_url_for("scheduling"),
            "RAPPORT_SCHEDULING_DRAIN_SECONDS": "0",
            **extra,
        }
    )
    return env


def run_scheduling(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rapport_scheduling"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_bad_values_exit_2_with_one_line_per_bad_variable(deps):
    done = run_scheduling(
        scheduling_env(
            deps,
            procs.free_port(),
            RAPPORT_SCHEDULING_REMINDER_LEADS_MINUTES="1440,soon",
            RAPPORT_SCHEDULING_HOLD_TTL_SECONDS="forever",
        )
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert lines[0] == "invalid configuration for SchedulingSettings:"
    assert len(lines) == 3, lines
    assert any(
        line.strip().startswith("RAPPORT_SCHEDULING_REMINDER_LEADS_MINUTES (item 2):")
        for line in lines
    )
    assert any(line.strip().startswith("RAPPORT_SCHEDULING_HOLD_TTL_SECONDS:") for line in lines)


def test_a_broken_json_list_exits_2_without_a_traceback(deps):
    done = run_scheduling(
        scheduling_env(deps, procs.free_port(), RAPPORT_SCHEDULING_REMINDER_LEADS_MINUTES="[1440,")
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "RAPPORT_SCHEDULING_REMINDER_LEADS_MINUTES" in done.stderr


async def test_the_documented_list_format_starts_the_service(deps):
    port = procs.free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "rapport_scheduling"],
        env=scheduling_env(deps, port, RAPPORT_SCHEDULING_REMINDER_LEADS_MINUTES="1440,60"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    stub = health_pb2_grpc.HealthStub(channel)

    async def serving() -> bool:
        try:
            reply = await stub.Check(health_pb2.HealthCheckRequest(), timeout=1)
        except grpc.aio.AioRpcError:
            return False
        return reply.status == health_pb2.HealthCheckResponse.SERVING

    try:
        for _ in range(300):
            if await serving() or proc.poll() is not None:
                break
            await asyncio.sleep(0.1)
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        assert await serving()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        await channel.close()
        if proc.poll() is None:
            proc.kill()
