"""Sign-up bursts: password hashing has its own bounded pool. A burst through the gateway gets
no 5xx; a call that finds every worker busy queues, then is told when to come back (429 with
Retry-After), before its deadline; hashes made with older parameters are upgraded at sign-in."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from argon2 import PasswordHasher
from pymongo import AsyncMongoClient
from rapport_gateway.settings import GatewaySettings
from rapport_identity import domain
from rapport_identity.__main__ import create as create_identity
from rapport_identity.passwords import Busy, PasswordHashing
from rapport_local import procs

from tests.people import PASSWORD, assert_problem

CURRENT = f"$argon2id$v=19$m={domain.PASSWORD_MEMORY_KIB},t={domain.PASSWORD_TIME_COST},p=1$"


def sign_up_body(email: str | None = None) -> dict:
    return {
        "email": email or f"burst-{uuid.uuid4().hex[:12]}@example.org",
        "password": PASSWORD,
        "role": "client",
        "display_name": "Sam",
        "jurisdiction": "US-CA",
    }


async def wait_until(condition, what: str, timeout: float = 30.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)
    assert condition(), what


def test_parameters_meet_the_owasp_minimum():
    # OWASP password storage: argon2id with at least m=19 MiB, t=2, p=1 (or a trade with more
    # memory or passes). A hash made now says so in its own header.
    assert domain.PASSWORD_MEMORY_KIB >= 19 * 1024 and domain.PASSWORD_TIME_COST >= 2
    assert domain.hash_password(PASSWORD).startswith(CURRENT)


def test_old_hashes_verify_and_ask_to_be_remade():
    old = PasswordHasher().hash(PASSWORD)  # the library's defaults, used before
    assert not old.startswith(CURRENT)
    assert domain.password_matches(old, PASSWORD) and not domain.password_matches(old, "nope")
    assert domain.password_needs_rehash(old)
    assert not domain.password_needs_rehash(domain.hash_password(PASSWORD))


async def test_twenty_concurrent_sign_ups_through_the_gateway_give_no_5xx(stack, db_identity):
    async with httpx.AsyncClient(base_url=stack.url, timeout=60) as http:
        bodies = [sign_up_body() for _ in range(20)]
        answers = await asyncio.gather(*(http.post("/v1/auth/register", json=b) for b in bodies))
        assert [r.status_code for r in answers if r.status_code >= 500] == [], answers[0].text
        for body, r in zip(bodies, answers, strict=True):
            if r.status_code == 429:  # asked to come back: a client does, and gets in
                assert_problem(r, 429)
                await asyncio.sleep(int(r.headers["Retry-After"]))
                r = await http.post("/v1/auth/register", json=body)
            assert r.status_code == 201, r.text
    emails = [b["email"] for b in bodies]
    stored = [d async for d in db_identity["users"].find({"email": {"$in": emails}})]
    assert len(stored) == 20 and all(d["password_hash"].startswith(CURRENT) for d in stored)


@pytest.fixture
async def db_identity(stack):
    client = AsyncMongoClient(stack.deps.mongo_uri, tz_aware=True)
    yield client[stack.identity.settings.mongo_db]
    await client.close()


@contextlib.asynccontextmanager
async def one_worker_stack(
    root, deps, *, auth_timeout: float, rpc_timeout: float = 5.0
) -> AsyncIterator:
    """Identity with one hashing thread that waits long for it, behind a gateway whose sign-up
    deadline is shorter than that wait."""
    identity = await root.start_service(
        create_identity(
            root.identity_settings(deps, password_hash_workers=1, password_hash_queue_seconds=30.0)
        )
    )
    settings = GatewaySettings(
        http_port=procs.free_port(),
        identity_addr=f"127.0.0.1:{identity.server.port}",
        auth_timeout_seconds=auth_timeout,
        rpc_timeout_seconds=rpc_timeout,
    )
    try:
        async with root.Gateway(settings) as gateway:
            yield identity, gateway
    finally:
        await identity.stop(0)


@pytest.fixture
def root(request):
    path = str(request.config.rootpath / "conftest.py")
    for plugin in request.config.pluginmanager.get_plugins():
        if getattr(plugin, "__file__", None) == path:
            return plugin
    raise LookupError(path)


@contextlib.asynccontextmanager
async def occupied(passwords: PasswordHashing) -> AsyncIterator[None]:
    """Every hashing worker busy until the block ends."""
    release = threading.Event()
    holders = [asyncio.create_task(passwords.run(release.wait)) for _ in range(passwords.workers)]
    await wait_until(lambda: passwords._slots.locked(), "the workers are taken")
    try:
        yield
    finally:
        release.set()
        await asyncio.gather(*holders)


async def test_a_queued_sign_up_goes_through_once_a_worker_frees(root, deps):
    # Other calls' deadline is 1 s; sign-up has its own (30 s): it may wait past the first.
    stack = one_worker_stack(root, deps, auth_timeout=30.0, rpc_timeout=1.0)
    async with stack as (identity, gateway):
        passwords = identity.passwords
        async with httpx.AsyncClient(base_url=gateway.url, timeout=60) as http:
            async with occupied(passwords):
                pending = asyncio.create_task(http.post("/v1/auth/register", json=sign_up_body()))
                await wait_until(lambda: passwords.waiting == 1, "the sign-up is queued")
                # Held past the ordinary deadline (nothing to wait for but time itself).
                await asyncio.sleep(1.5)
                assert not pending.done()
            r = await pending
            assert r.status_code == 201, r.text


async def test_busy_workers_answer_429_with_retry_after_before_the_deadline(root, deps):
    # Identity would queue for 30 s, but the gateway's deadline is 3 s: the queue gives up in
    # time to answer 429 with Retry-After, never a 503 from a deadline that ran out.
    async with one_worker_stack(root, deps, auth_timeout=3.0) as (identity, gateway):
        body = sign_up_body()
        async with (
            httpx.AsyncClient(base_url=gateway.url, timeout=60) as http,
            occupied(identity.passwords),
        ):
            r = await http.post("/v1/auth/register", json=body)
            problem = assert_problem(r, 429)
            assert int(r.headers["Retry-After"]) >= 1
            assert "right now" in problem["detail"]
            # Nothing written, and the address is not charged for it.
            client = AsyncMongoClient(deps.mongo_uri)
            try:
                users = client[identity.settings.mongo_db]["users"]
                assert await users.count_documents({"email": body["email"]}) == 0
            finally:
                await client.close()
            # Sign-in too: the same answer, and it is not counted as a failed attempt.
            r = await http.post(
                "/v1/auth/login", json={"email": body["email"], "password": PASSWORD}
            )
            assert_problem(r, 429)
        async with httpx.AsyncClient(base_url=gateway.url, timeout=60) as http:
            r = await http.post("/v1/auth/register", json=body)
            assert r.status_code == 201, r.text


async def test_the_queue_wait_is_bounded_without_a_deadline():
    passwords = PasswordHashing(workers=1, queue_seconds=0.05)
    try:
        async with occupied(passwords):
            with pytest.raises(Busy) as busy:
                await passwords.hash(PASSWORD)
            assert busy.value.retry_after >= 1
            with pytest.raises(Busy):  # not waiting at all when told so
                await passwords.hash(PASSWORD, wait=False)
        assert (await passwords.hash(PASSWORD)).startswith(CURRENT)
    finally:
        passwords.close()


async def test_an_old_hash_signs_in_and_is_upgraded(stack, db_identity):
    async with httpx.AsyncClient(base_url=stack.url, timeout=60) as http:
        body = sign_up_body()
        r = await http.post("/v1/auth/register", json=body)
        assert r.status_code == 201, r.text
        old = PasswordHasher().hash(PASSWORD)  # as stored before the parameters changed
        await db_identity["users"].update_one(
            {"email": body["email"]}, {"$set": {"password_hash": old}}
        )
        login = {"email": body["email"], "password": PASSWORD}

        r = await http.post("/v1/auth/login", json={**login, "password": "wrong password"})
        assert_problem(r, 401)
        doc = await db_identity["users"].find_one({"email": body["email"]})
        assert doc["password_hash"] == old  # a failed sign-in changes nothing

        r = await http.post("/v1/auth/login", json=login)
        assert r.status_code == 200, r.text
        doc = await db_identity["users"].find_one({"email": body["email"]})
        assert doc["password_hash"].startswith(CURRENT)
        assert domain.password_matches(doc["password_hash"], PASSWORD)

        r = await http.post("/v1/auth/login", json=login)  # and it keeps working
        assert r.status_code == 200, r.text
