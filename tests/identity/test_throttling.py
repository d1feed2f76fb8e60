"""Sign-in throttling: failures on one account or from one address slow sign-in down, then
lock it; a known and an unknown email get exactly the same answers."""

from __future__ import annotations

import uuid
from datetime import timedelta

import grpc
import httpx
from rapport.identity.v1 import identity_pb2 as pb
from rapport.identity.v1 import identity_pb2_grpc
from rapport_platform.rpc import client_channel

PASSWORD = "correct horse battery"


def email() -> str:
    return f"t-{uuid.uuid4().hex[:12]}@example.org"


async def attempt(http: httpx.AsyncClient, address: str, password: str) -> tuple:
    r = await http.post("/v1/auth/login", json={"email": address, "password": password})
    retry = r.headers.get("Retry-After")
    return r.status_code, r.json().get("detail"), retry


async def test_an_account_slows_down_then_locks_and_unknown_emails_look_the_same(throttled):
    clock = throttled.clock
    async with httpx.AsyncClient(base_url=throttled.url) as http:
        known = email()
        r = await http.post(
            "/v1/auth/register",
            json={
                "email": known,
                "password": PASSWORD,
                "role": "client",
                "display_name": "K",
                "jurisdiction": "US-CA",
            },
        )
        assert r.status_code == 201
        unknown = email()

        journeys = {}
        for address, right in ((known, PASSWORD), (unknown, PASSWORD)):
            clock.offset = timedelta(0)
            steps = [
                await attempt(http, address, "wrong password!"),
                await attempt(http, address, "wrong password!"),
            ]
            # Slowed down: even the right password must wait now.
            steps.append(await attempt(http, address, right))
            clock.offset += timedelta(seconds=int(steps[-1][2]) + 1)
            steps.append(await attempt(http, address, "wrong password!"))
            # Locked: the right password is refused for the lockout period.
            steps.append(await attempt(http, address, right))
            journeys[address] = steps

        for steps in journeys.values():
            assert [s[0] for s in steps] == [401, 401, 429, 401, 429]
            assert steps[2][2] == "1"  # the first wait of the slow-down
            assert 590 <= int(steps[4][2]) <= 600  # the lockout
        # Nothing tells the known account from the unknown email.
        assert [s[:2] for s in journeys[known]] == [s[:2] for s in journeys[unknown]]
        problem = await http.post("/v1/auth/login", json={"email": known, "password": PASSWORD})
        assert problem.headers["content-type"].startswith("application/problem+json")

        # After the lockout the right password works again, and success clears the counter.
        clock.offset += timedelta(seconds=601)
        status, _, _ = await attempt(http, known, PASSWORD)
        assert status == 200
        assert (await attempt(http, known, "wrong password!"))[0] == 401


async def test_one_address_failing_on_many_accounts_is_slowed_then_locked(throttled):
    clock = throttled.clock
    clock.offset = timedelta(0)
    channel = client_channel(throttled.identity_addr, attempts=1)
    stub = identity_pb2_grpc.IdentityServiceStub(channel)
    attacker, other = "198.51.100.7", "203.0.113.9"
    known = email()
    await stub.Register(
        pb.RegisterRequest(
            email=known,
            password=PASSWORD,
            role=pb.ROLE_CLIENT,
            display_name="K",
            jurisdiction="US-CA",
        )
    )

    async def login(who: str, password: str, address: str) -> grpc.StatusCode:
        try:
            await stub.Login(pb.LoginRequest(email=who, password=password, client_address=address))
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.RESOURCE_EXHAUSTED:
                assert dict(exc.trailing_metadata())["retry-after"].isdigit()
            return exc.code()
        return grpc.StatusCode.OK

    try:
        # One failure on each of eight accounts: no account is throttled, the address is.
        for _ in range(8):
            assert await login(email(), "wrong password!", attacker) == (
                grpc.StatusCode.UNAUTHENTICATED
            )
        fresh = email()
        assert await login(fresh, "wrong password!", attacker) == (
            grpc.StatusCode.RESOURCE_EXHAUSTED
        )
        assert await login(fresh, "wrong password!", other) == grpc.StatusCode.UNAUTHENTICATED
        clock.offset += timedelta(seconds=31)
        assert await login(email(), "wrong password!", attacker) == (
            grpc.StatusCode.UNAUTHENTICATED
        )
        clock.offset += timedelta(seconds=31)
        assert await login(email(), "wrong password!", attacker) == (
            grpc.StatusCode.UNAUTHENTICATED
        )
        # Ten failures: the address is locked, even for a right password; elsewhere it works.
        clock.offset += timedelta(seconds=31)
        assert await login(known, PASSWORD, attacker) == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert await login(known, PASSWORD, other) == grpc.StatusCode.OK
    finally:
        await channel.close()
