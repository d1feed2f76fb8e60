"""Only the gateway may assert a client's address to identity (issue 13, item 10).

A caller that reaches identity's gRPC port directly (any pod, any process on the host) used to
set `client_address` to anything, so empty or rotating values were never throttled. Now identity
believes the field only with a gateway service token bound to that very address; anyone else is
throttled by its own network address."""

from __future__ import annotations

import os
import secrets
import uuid
from datetime import timedelta

import grpc
import httpx
import pytest
from rapport.identity.v1 import identity_pb2 as pb
from rapport.identity.v1 import identity_pb2_grpc
from rapport_platform import service_auth
from rapport_platform.rpc import client_channel

from tests.identity.gateway_word import as_gateway

PASSWORD = "correct horse battery"
LIMIT = 3


def sign_up(n: int) -> pb.RegisterRequest:
    return pb.RegisterRequest(
        email=f"trust-{uuid.uuid4().hex[:10]}-{n}@example.org",
        password=PASSWORD,
        role=pb.ROLE_CLIENT,
        display_name="T",
        jurisdiction="US-CA",
        # A fresh address each time: a botnet's, or a lie.
        client_address=f"198.18.{n // 250}.{n % 250 + 1}" if n % 2 else "",
    )


async def code(call) -> grpc.StatusCode:
    try:
        await call
    except grpc.aio.AioRpcError as exc:
        return exc.code()
    return grpc.StatusCode.OK


async def test_a_direct_caller_cannot_defeat_the_sign_up_throttle(make_stack):
    async with make_stack(register_address_limit=LIMIT) as stack:
        channel = client_channel(stack.identity_addr, attempts=1)
        stub = identity_pb2_grpc.IdentityServiceStub(channel)
        try:
            with stack.clock.stopped():
                forged = [
                    # No token, a token signed with another key, an expired one, one bound to
                    # another address, one addressed to another service: all the caller's word.
                    (),
                    as_gateway("198.18.9.9", key=secrets.token_hex(32)),
                    service_auth.mint(
                        service_auth_key(),
                        issuer=service_auth.GATEWAY,
                        audience=service_auth.IDENTITY,
                        claims={"client_address": "198.18.9.9"},
                        now=stack.clock() - timedelta(hours=1),
                    ),
                    as_gateway("203.0.113.1"),
                    service_auth.mint(
                        service_auth_key(),
                        issuer=service_auth.GATEWAY,
                        audience="scheduling",
                        claims={"client_address": "198.18.9.9"},
                    ),
                ]
                outcomes = []
                for n in range(LIMIT + len(forged)):
                    request = sign_up(n)
                    metadata = forged[n % len(forged)]
                    if n % len(forged) in (1, 2, 4):
                        request.client_address = "198.18.9.9"
                    outcomes.append(await code(stub.Register(request, metadata=metadata)))
                # Counted against the caller's own address: the limit holds.
                assert outcomes[:LIMIT] == [grpc.StatusCode.OK] * LIMIT, outcomes
                assert set(outcomes[LIMIT:]) == {grpc.StatusCode.RESOURCE_EXHAUSTED}, outcomes

                # The gateway's word still counts per client address: another client may sign up.
                vouched = sign_up(1001)
                assert (
                    await code(stub.Register(vouched, metadata=as_gateway(vouched.client_address)))
                    == grpc.StatusCode.OK
                )
                # Through the gateway (which signs its word), sign-ups count per client address,
                # not against the direct caller's budget.
                async with httpx.AsyncClient(base_url=stack.url) as http:
                    r = await http.post(
                        "/v1/auth/register",
                        json={
                            "email": f"trust-{uuid.uuid4().hex[:10]}@example.org",
                            "password": PASSWORD,
                            "role": "client",
                            "display_name": "G",
                            "jurisdiction": "US-CA",
                        },
                    )
                    assert r.status_code == 201, r.text
        finally:
            await channel.close()


async def test_rotating_addresses_on_sign_in_are_one_address_without_the_gateway(make_stack):
    async with make_stack(login_address_slowdown_after=3, login_address_lock_after=5) as stack:
        channel = client_channel(stack.identity_addr, attempts=1)
        stub = identity_pb2_grpc.IdentityServiceStub(channel)
        try:
            with stack.clock.stopped():
                outcomes = [
                    await code(
                        stub.Login(
                            pb.LoginRequest(
                                email=f"nobody-{n}@example.org",
                                password="wrong password!",
                                client_address=f"198.19.0.{n + 1}",
                            )
                        )
                    )
                    for n in range(4)
                ]
            assert outcomes[:3] == [grpc.StatusCode.UNAUTHENTICATED] * 3
            assert outcomes[3] == grpc.StatusCode.RESOURCE_EXHAUSTED
        finally:
            await channel.close()


def service_auth_key() -> str:
    return os.environ["RAPPORT_IDENTITY_SERVICE_TOKEN_KEY"]


def test_a_short_key_is_refused_at_start():
    from rapport_identity.settings import IdentitySettings

    with pytest.raises(ValueError, match="32 bytes"):
        IdentitySettings(grpc_port=1, vault_token="t", service_token_key="short")
