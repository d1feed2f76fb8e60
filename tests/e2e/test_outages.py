"""Dependency outages: 503 with Retry-After, NOT_SERVING inside, nothing half-written."""

from __future__ import annotations

import asyncio
import io
import uuid

import grpc
import httpx
import pytest
from rapport.identity.v1 import identity_pb2 as pb
from rapport.identity.v1 import identity_pb2_grpc
from rapport_gateway.settings import GatewaySettings
from rapport_identity.__main__ import create as create_identity
from rapport_local import procs
from rapport_platform.rpc import client_channel

from conftest import Gateway, identity_settings, start_service
from tests.waiting import eventually


async def test_gateway_answers_503_and_not_ready_when_identity_is_down():
    dead = f"127.0.0.1:{procs.free_port()}"
    settings = GatewaySettings(
        http_port=procs.free_port(), identity_addr=dead, rpc_timeout_seconds=1
    )
    async with Gateway(settings) as gw, httpx.AsyncClient(base_url=gw.url) as http:
        assert (await http.get("/healthz")).status_code == 200
        ready = await http.get("/readyz")
        assert ready.status_code == 503 and ready.json()["checks"]["identity"] is False
        r = await http.post("/v1/auth/login", json={"email": "a@b.org", "password": "x" * 12})
        assert r.status_code == 503
        assert r.headers["Retry-After"] == "5"
        assert r.headers["content-type"].startswith("application/problem+json")


async def test_identity_goes_not_serving_and_unavailable_when_mongo_dies(deps, tmp_path):
    mongo = procs.start_secantus(
        procs.free_port(), str(tmp_path / "db"), log_path=tmp_path / "mongo.log"
    )
    settings = identity_settings(deps, mongo_uri=mongo.url)
    app = await start_service(create_identity(settings))
    channel = client_channel(f"127.0.0.1:{app.server.port}", attempts=1, timeout_s=10)
    stub = identity_pb2_grpc.IdentityServiceStub(channel)
    try:
        mongo.kill()
        assert not await app.server.probe_once()
        # Each step is bounded, so a hang fails here, naming the step, not at the suite's timeout.
        with pytest.raises(grpc.aio.AioRpcError) as info:
            async with asyncio.timeout(60):
                await stub.Register(
                    pb.RegisterRequest(
                        email=f"x{uuid.uuid4().hex[:6]}@example.org",
                        password="long enough pass",
                        role=pb.ROLE_CLIENT,
                        display_name="X",
                        jurisdiction="US-NY",
                    )
                )
        assert info.value.code() == grpc.StatusCode.UNAVAILABLE
        mongo.restart()
        try:
            await eventually(app.server.probe_once, timeout=60, what="SERVING once Mongo is back")
        except AssertionError as e:  # say what the driver and the server saw
            topology = app.store.client.topology_description
            stacks = io.StringIO()
            for task in asyncio.all_tasks():
                try:
                    task.print_stack(limit=12, file=stacks)
                except Exception as exc:  # a frame in compiled code has no line to show
                    print(f"{task.get_name()}: {type(exc).__name__}", file=stacks)
            pool = asyncio.get_running_loop()._default_executor  # type: ignore[attr-defined]
            queued = pool._work_queue.qsize() if pool else 0  # the driver resolves addresses there
            raise AssertionError(
                f"{e}\n{topology!r}\ndefault executor: {queued} queued\n"
                f"{mongo.log_tail()}\n{stacks.getvalue()}"
            ) from None
        assert app.server.serving
        # Nothing was half-written: no user and no orphan event from the failed attempt.
        assert await app.store.db.users.count_documents({}) == 0
        assert await app.store.db.outbox.count_documents({}) == 0
    finally:
        await channel.close()
        try:
            await asyncio.wait_for(app.stop(0), 60)  # a stop that hangs is a failure, named
        finally:
            mongo.stop()


async def test_identity_not_serving_while_vault_is_down(deps, tmp_path):
    root = "root-" + uuid.uuid4().hex
    vault = procs.start_bao_dev(procs.free_port(), root, log_path=tmp_path / "bao.log")
    from rapport_local import vault_bootstrap

    tokens = vault_bootstrap.bootstrap(vault.url, root)
    app = await start_service(
        create_identity(
            identity_settings(deps, vault_addr=vault.url, vault_token=tokens["identity"])
        )
    )
    channel = client_channel(f"127.0.0.1:{app.server.port}", attempts=1, timeout_s=15)
    stub = identity_pb2_grpc.IdentityServiceStub(channel)
    try:
        email = f"v{uuid.uuid4().hex[:6]}@example.org"
        await stub.Register(
            pb.RegisterRequest(
                email=email,
                password="long enough pass",
                role=pb.ROLE_CLIENT,
                display_name="V",
                jurisdiction="US-NY",
            )
        )
        vault.kill()
        assert not await app.server.probe_once()
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await stub.Login(pb.LoginRequest(email=email, password="long enough pass"))
        assert info.value.code() == grpc.StatusCode.UNAVAILABLE
    finally:
        await channel.close()
        await app.stop(0)
        vault.stop()
