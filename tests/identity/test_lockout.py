"""Account lockout is not a weapon (issue 13, item 12): failures on one account from one address
bite first; once strangers from many addresses have locked an account, its owner still signs in
with the right password and a valid one-time code, or from a device that signed in before; and
while locked, every other answer is the same refusal (no oracle for the password)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import grpc
import pyotp
import pytest
from rapport.identity.v1 import identity_pb2 as pb
from rapport.identity.v1 import identity_pb2_grpc
from rapport_platform.rpc import bearer, client_channel

from tests.identity.conftest import own_stack
from tests.identity.gateway_word import as_gateway

PASSWORD = "correct horse battery"
WRONG = "wrong password!"
OK = grpc.StatusCode.OK
NO = grpc.StatusCode.UNAUTHENTICATED
LOCKED = grpc.StatusCode.RESOURCE_EXHAUSTED


@pytest.fixture(scope="module")
async def guarded(root, deps):
    async with own_stack(
        root,
        deps,
        login_pair_slowdown_after=2,
        login_pair_lock_after=3,
        login_account_slowdown_after=5,
        login_account_lock_after=6,
        login_address_slowdown_after=50,
        login_address_lock_after=60,
        login_lockout_seconds=600,
        login_max_delay_seconds=30,
    ) as stack:
        channel = client_channel(stack.identity_addr, attempts=1)
        stack.stub = identity_pb2_grpc.IdentityServiceStub(channel)
        yield stack
        await channel.close()


async def login(stub, email: str, password: str, address: str, **extra) -> tuple:
    try:
        reply = await stub.Login(
            pb.LoginRequest(email=email, password=password, client_address=address, **extra),
            metadata=as_gateway(address),  # the address is the gateway's word, signed
        )
    except grpc.aio.AioRpcError as exc:
        return exc.code(), None
    return OK, reply


async def account(stub, *, mfa_at=None) -> tuple[str, str]:
    email = f"v-{uuid.uuid4().hex[:12]}@example.org"
    await stub.Register(
        pb.RegisterRequest(
            email=email,
            password=PASSWORD,
            role=pb.ROLE_CLIENT,
            display_name="V",
            jurisdiction="US-CA",
        )
    )
    if mfa_at is None:
        return email, ""
    _, reply = await login(stub, email, PASSWORD, "192.0.2.10")
    secret = (
        await stub.EnrollMfa(
            pb.EnrollMfaRequest(password=PASSWORD), metadata=bearer(reply.access_token)
        )
    ).secret
    await stub.ConfirmMfa(
        pb.ConfirmMfaRequest(totp_code=pyotp.TOTP(secret).at(mfa_at())),
        metadata=bearer(reply.access_token),
    )
    return email, secret


async def lock_out(stub, email: str) -> None:
    """Strangers at many addresses, each stopped by its own per-address counter first."""
    first = "198.51.100.1"
    assert [(await login(stub, email, WRONG, first))[0] for _ in range(2)] == [NO, NO]
    # One address on one account: slowed after 2, before the account notices anything.
    assert (await login(stub, email, WRONG, first))[0] == LOCKED
    for i in range(2, 6):
        assert (await login(stub, email, WRONG, f"198.51.100.{i}"))[0] in (NO, LOCKED)
    # Enough failures from enough addresses: the account itself is locked now.
    assert (await login(stub, email, PASSWORD, "198.51.100.99"))[0] == LOCKED


async def test_one_address_is_stopped_before_the_account_locks(guarded):
    stub, clock = guarded.stub, guarded.clock
    email, _ = await account(stub)
    with clock.stopped():
        for _ in range(2):
            assert (await login(stub, email, WRONG, "203.0.113.5"))[0] == NO
        assert (await login(stub, email, WRONG, "203.0.113.5"))[0] == LOCKED
        # The account is not locked: its owner, elsewhere, signs in.
        assert (await login(stub, email, PASSWORD, "192.0.2.77"))[0] == OK


async def test_right_password_and_code_pass_a_lock_strangers_caused(guarded):
    stub, clock = guarded.stub, guarded.clock
    email, secret = await account(stub, mfa_at=clock)
    clock.offset += timedelta(seconds=30)  # the next code
    with clock.stopped() as now:
        await lock_out(stub, email)
        code = pyotp.TOTP(secret).at(now + clock.offset)
        wrong_code = f"{(int(code) + 1) % 1_000_000:06d}"
        # While locked, every failure looks the same: no way to tell a right password.
        probes = ((PASSWORD, ""), (PASSWORD, wrong_code), (WRONG, code))
        for i, (password, totp) in enumerate(probes):
            status, _ = await login(stub, email, password, f"198.18.7.{i}", totp_code=totp)
            assert status == LOCKED, (password, totp)
        status, reply = await login(stub, email, PASSWORD, "192.0.2.20", totp_code=code)
        assert status == OK and reply.access_token


async def test_a_known_device_passes_a_lock_strangers_caused(guarded):
    stub, clock = guarded.stub, guarded.clock
    email, _ = await account(stub)
    status, reply = await login(stub, email, PASSWORD, "192.0.2.30")
    assert status == OK and reply.device_token
    device = reply.device_token
    with clock.stopped():
        await lock_out(stub, email)
        owner = "192.0.2.31"
        assert (await login(stub, email, PASSWORD, owner))[0] == LOCKED
        # A device token of another account, or an invented one, is not this account's device.
        _, other = await login(stub, (await account(stub))[0], PASSWORD, "192.0.2.32")
        for token in (other.device_token, "invented"):
            assert (await login(stub, email, PASSWORD, owner, device_token=token))[0] == LOCKED
        status, again = await login(stub, email, PASSWORD, owner, device_token=device)
        assert status == OK and again.device_token == device
        # The device has a counter of its own: guessing from it is throttled too.
        outcomes = [
            (await login(stub, email, WRONG, f"192.0.2.{40 + i}", device_token=device))[0]
            for i in range(7)
        ]
        assert outcomes[:5] == [NO] * 5 and outcomes[-1] == LOCKED, outcomes
