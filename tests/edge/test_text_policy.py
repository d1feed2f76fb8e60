"""Every string field has a character policy (issue 13, item 2): NFC, no control or invisible
formatting characters, not blank; ASCII where only ASCII is meant. Refused at the edge (422)
and by the services themselves (INVALID_ARGUMENT); non-ASCII where it is legitimate (an IDN
mailbox) works all the way through."""

from __future__ import annotations

import typing
import uuid
from datetime import UTC, datetime

import grpc
import httpx
import pytest
from fastapi.routing import APIRoute
from pydantic import BaseModel
from rapport.identity.v1 import identity_pb2 as idpb
from rapport.identity.v1 import identity_pb2_grpc
from rapport_gateway.app import ROUTERS, create_app
from rapport_gateway.settings import GatewaySettings
from rapport_gateway.text import POLICIES
from rapport_identity import domain as identity_domain
from rapport_platform.rpc import client_channel

from tests.people import PASSWORD, assert_problem
from tests.scheduling.helpers import Practice

BAD = {
    "NUL": "Al\x00ex",
    "bidi override": "Alex\u202egnp.exe",
    "ANSI escape": "\x1b[31mAlex",
    "zero-width only": "\u200b\u200c",
}


@pytest.fixture
async def http(stack):
    async with httpx.AsyncClient(base_url=stack.url, timeout=30) as client:
        yield client


# --- every field has a policy -------------------------------------------------------------


def _has_policy(metadata: list) -> bool:
    for m in metadata:
        if getattr(m, "func", None) in POLICIES:
            return True
        if getattr(m, "pattern", None):  # a path id: ^[A-Za-z0-9_-]+$
            return True
    return False


def _string_fields(annotation, metadata, where: str):
    """(where, has_policy) for every str inside annotation (models, lists, optionals)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        base, *extra = typing.get_args(annotation)
        yield from _string_fields(base, [*metadata, *extra], where)
    elif origin is typing.Literal:
        return
    elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
        for name, f in annotation.model_fields.items():
            yield from _string_fields(f.annotation, f.metadata, f"{where}.{name}")
    elif origin is not None:
        for arg in typing.get_args(annotation):
            yield from _string_fields(arg, metadata, where)
    elif annotation is str:
        yield where, _has_policy(metadata)


def _lists(annotation, metadata, where: str):
    """(where, bounded) for every list inside annotation: each needs a max_length."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        base, *extra = typing.get_args(annotation)
        yield from _lists(base, [*metadata, *extra], where)
    elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
        for name, f in annotation.model_fields.items():
            yield from _lists(f.annotation, f.metadata, f"{where}.{name}")
    elif origin is list:
        yield where, any(getattr(m, "max_length", None) for m in metadata)
        for arg in typing.get_args(annotation):
            yield from _lists(arg, [], where)
    elif origin is not None and origin is not typing.Literal:
        for arg in typing.get_args(annotation):
            yield from _lists(arg, metadata, where)


def _params(route: APIRoute) -> list:
    d = route.dependant
    params = [*d.path_params, *d.query_params, *d.header_params, *d.body_params]
    for sub in d.dependencies:
        params += [*sub.path_params, *sub.query_params, *sub.body_params]
    return [p for p in params if p.name != "authorization"]


def test_every_list_the_api_accepts_is_bounded():
    app = create_app(GatewaySettings())
    routes = [*app.routes, *(r for module in ROUTERS for r in module.router.routes)]
    found, unbounded = 0, []
    for route in routes:
        if isinstance(route, APIRoute):
            for p in _params(route):
                info = p.field_info
                for where, ok in _lists(info.annotation, info.metadata, f"{route.path} {p.name}"):
                    found += 1
                    if not ok:
                        unbounded.append(where)
    assert found >= 8
    assert unbounded == []


def test_every_string_the_api_accepts_has_a_character_policy():
    app = create_app(GatewaySettings())
    routes = [*app.routes, *(r for module in ROUTERS for r in module.router.routes)]
    checked, missing = 0, []
    for route in routes:
        if not isinstance(route, APIRoute):
            continue
        d = route.dependant
        params = [*d.path_params, *d.query_params, *d.header_params, *d.body_params]
        for sub in d.dependencies:
            params += [*sub.path_params, *sub.query_params, *sub.body_params]
        for p in params:
            if p.name == "authorization":
                continue  # the bearer token: passed through, verified by the services
            info = p.field_info
            for where, ok in _string_fields(
                info.annotation, info.metadata, f"{route.path} {p.name}"
            ):
                checked += 1
                if not ok:
                    missing.append(where)
    assert checked > 40
    assert missing == []


# --- refused at the edge ------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(BAD))
async def test_bad_names_are_422_at_sign_up(http, kind):
    r = await http.post(
        "/v1/auth/register",
        json={
            "email": f"t-{uuid.uuid4().hex[:10]}@example.org",
            "password": PASSWORD,
            "role": "client",
            "display_name": BAD[kind],
            "jurisdiction": "US-CA",
        },
    )
    problem = assert_problem(r, 422)
    assert problem["errors"][0]["field"] == "display_name"
    assert BAD[kind] not in r.text


async def test_bad_clinic_names_and_non_ascii_codes_are_422(http):
    practice = await Practice(http).open()
    admin = practice.admin
    for name in BAD.values():
        body = {
            "name": name,
            "currency": "USD",
            "timezone": "UTC",
            "commission_bps": 0,
            "cancellation_window_hours": 0,
            "late_cancellation_fee_minor": 0,
        }
        assert_problem(await http.post("/v1/clinics", headers=admin.h, json=body), 422)
    # One-time codes in Arabic-Indic or fullwidth digits: 422, not 500.
    for code in ("١٢٣٤٥٦", "\uff11\uff12\uff13\uff14\uff15\uff16"):
        r = await http.post("/v1/auth/mfa/confirm", headers=admin.h, json={"totp_code": code})
        assert_problem(r, 422)
        r = await http.post(
            "/v1/auth/login", json={"email": admin.email, "password": PASSWORD, "totp_code": code}
        )
        assert_problem(r, 422)


# --- refused by the service itself (a caller that skips the gateway) ----------------------


@pytest.mark.parametrize("kind", list(BAD))
async def test_identity_refuses_bad_names_over_grpc(stack, kind):
    channel = client_channel(stack.identity_addr)
    try:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await identity_pb2_grpc.IdentityServiceStub(channel).Register(
                idpb.RegisterRequest(
                    email=f"g-{uuid.uuid4().hex[:10]}@example.org",
                    password=PASSWORD,
                    role=idpb.ROLE_CLIENT,
                    display_name=BAD[kind],
                    jurisdiction="US-CA",
                )
            )
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    finally:
        await channel.close()


def test_non_ascii_one_time_codes_are_wrong_codes_not_errors():
    secret = identity_domain.new_totp_secret()
    now = datetime(2026, 1, 1, tzinfo=UTC)
    for code in ("١٢٣٤٥٦", "\uff11\uff12\uff13\uff14\uff15\uff16", "12345\uff16"):
        assert identity_domain.totp_step(secret, code, now=now, last_step=0) is None


def test_names_are_stored_in_nfc():
    user = identity_domain.new_user(
        email="A@Example.org",
        password=PASSWORD,
        role="client",
        display_name="Zoe\u0308",
        jurisdiction="US-CA",
        now=datetime(2026, 1, 1, tzinfo=UTC),
    )
    assert user.display_name == "Zoë"


# --- non-ASCII where it is legitimate ------------------------------------------------------


async def test_a_therapist_with_a_non_ascii_email_joins_a_clinic(http):
    practice = await Practice(http).open()
    email = f"zoë-{uuid.uuid4().hex[:8]}@exämple.org"
    r = await http.post(
        "/v1/auth/register",
        json={
            "email": email,
            "password": PASSWORD,
            "role": "therapist",
            "display_name": "Zoë Example",
            "jurisdiction": "",
        },
    )
    assert r.status_code == 201, r.text
    r = await http.post("/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert r.status_code == 200, r.text
    therapist = {"Authorization": f"Bearer {r.json()['access_token']}"}
    r = await http.post(
        f"/v1/clinics/{practice.admin.clinic_id}/invitations",
        headers=practice.admin.h,
        json={"email": email},
    )
    assert r.status_code == 201, r.text
    r = await http.post(f"/v1/invitations/{r.json()['invitation_token']}/accept", headers=therapist)
    assert r.status_code == 200, r.text
    assert r.json()["clinic_id"] == practice.admin.clinic_id


async def test_a_repeated_query_list_is_bounded(http):
    query = "&".join(["status=held"] * 50)
    r = await http.get(f"/v1/appointments?{query}", headers={"Authorization": "Bearer x"})
    assert_problem(r, 422)
