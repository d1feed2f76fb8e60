"""Sign-in throttling: failures on one account or from one address slow sign-in down, then
lock it; a known and an unknown email get exactly the same answers."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import grpc
import httpx
import pytest
from pymongo import AsyncMongoClient
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
            with clock.stopped():  # however long each attempt takes here
                steps = [
                    await attempt(http, address, "wrong password!"),
                    await attempt(http, address, "wrong password!"),
                ]
                # Slowed down: even the right password must wait now.
                steps.append(await attempt(http, address, right))
                clock.offset += timedelta(seconds=int(steps[-1][2]))
                steps.append(await attempt(http, address, "wrong password!"))
                # Locked: the right password is refused for the lockout period.
                steps.append(await attempt(http, address, right))
            journeys[address] = steps

        for steps in journeys.values():
            assert [s[0] for s in steps] == [401, 401, 429, 401, 429]
            assert steps[2][2] == "1"  # the first wait of the slow-down
            assert steps[4][2] == "600"  # the lockout, counted from the locking failure
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
        with clock.stopped():  # each step of time is the test's own
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


async def test_a_burst_of_parallel_guesses_gets_no_more_than_the_limit(throttled):
    """Each attempt is counted, atomically with the check, before its password is checked: 30
    wrong passwords sent at once get at most lock_after real checks (401), the rest 429 without
    one. The bound is lock_after, with nothing added for concurrency: an attempt passes only if
    its own atomic reservation found the account neither locked nor slowed down, and the
    reservation that reaches lock_after locks the account for every later one (a slow-down
    lapsing during the burst can let attempts through between slowdown_after and lock_after)."""
    throttled.clock.offset = timedelta(0)
    settings = throttled.identity.settings
    channel = client_channel(throttled.identity_addr, attempts=1)
    stub = identity_pb2_grpc.IdentityServiceStub(channel)
    victim = email()
    await stub.Register(
        pb.RegisterRequest(
            email=victim,
            password=PASSWORD,
            role=pb.ROLE_CLIENT,
            display_name="V",
            jurisdiction="US-CA",
        )
    )

    async def guess(i: int) -> grpc.StatusCode:
        # A different address each time (a botnet): only the account's counter can stop it.
        request = pb.LoginRequest(
            email=victim, password=f"guess number {i:04}", client_address=f"198.18.0.{i}"
        )
        try:
            await stub.Login(request)
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.RESOURCE_EXHAUSTED:
                assert dict(exc.trailing_metadata())["retry-after"].isdigit()
            return exc.code()
        return grpc.StatusCode.OK

    try:
        # Identity's clock stands still: a slow-down cannot lapse however long the burst takes
        # on a loaded machine (the owner's attempt below then meets the lock or the slow-down).
        with throttled.clock.stopped():
            outcomes = await asyncio.gather(*(guess(i) for i in range(1, 31)))
            checked = outcomes.count(grpc.StatusCode.UNAUTHENTICATED)
            refused = outcomes.count(grpc.StatusCode.RESOURCE_EXHAUSTED)
            assert 1 <= checked <= settings.login_account_lock_after, outcomes
            assert checked + refused == 30, outcomes
            # The account is held back even for its owner's right password now.
            owner = pb.LoginRequest(email=victim, password=PASSWORD, client_address="192.0.2.1")
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await stub.Login(owner)
        assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    finally:
        await channel.close()


async def test_sign_ups_from_one_address_are_limited(make_stack, deps):
    async with make_stack(register_address_limit=3) as stack:
        channel = client_channel(stack.identity_addr, attempts=1)
        stub = identity_pb2_grpc.IdentityServiceStub(channel)
        try:
            async with httpx.AsyncClient(base_url=stack.url) as http:

                def body(address: str, **overrides) -> dict:
                    return {
                        "email": address,
                        "password": PASSWORD,
                        "role": "client",
                        "display_name": "S",
                        "jurisdiction": "US-CA",
                        **overrides,
                    }

                with stack.clock.stopped():  # however slowly the sign-ups run
                    # Bad input is refused before it is counted (and writes nothing).
                    bad = await http.post("/v1/auth/register", json=body("nope"))
                    assert bad.status_code == 422
                    first = email()
                    assert (
                        await http.post("/v1/auth/register", json=body(first))
                    ).status_code == 201
                    # A duplicate email keeps its clear 409, and counts: it tells an account exists.
                    dup = await http.post("/v1/auth/register", json=body(first.upper()))
                    assert dup.status_code == 409
                    assert (
                        await http.post("/v1/auth/register", json=body(email()))
                    ).status_code == 201
                    refused_email = email()
                    r = await http.post("/v1/auth/register", json=body(refused_email))
                    assert r.status_code == 429, r.text
                    assert r.headers["content-type"].startswith("application/problem+json")
                    # The whole window of the first counted sign-up (identity's time stood still).
                    assert r.headers["Retry-After"] == "3600"
                    assert "sign-ups" in r.json()["detail"]
                    client = AsyncMongoClient(deps.mongo_uri, tz_aware=True)
                    try:
                        users = client[stack.db_name]["users"]
                        assert await users.count_documents({"email": refused_email}) == 0
                        assert await users.count_documents({}) == 2
                    finally:
                        await client.close()
                # Sign-in is untouched, and another address may still sign up.
                login = {"email": first, "password": PASSWORD}
                assert (await http.post("/v1/auth/login", json=login)).status_code == 200
            await stub.Register(
                pb.RegisterRequest(
                    email=email(),
                    password=PASSWORD,
                    role=pb.ROLE_CLIENT,
                    display_name="S",
                    jurisdiction="US-CA",
                    client_address="203.0.113.77",
                )
            )
        finally:
            await channel.close()
