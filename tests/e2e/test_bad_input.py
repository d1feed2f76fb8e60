"""Bad input at the edge: a clear 4xx problem+json, and nothing written."""

from __future__ import annotations

import uuid

import httpx
import pytest
from pymongo import AsyncMongoClient

PASSWORD = "correct horse battery"


def email() -> str:
    return f"p-{uuid.uuid4().hex[:12]}@example.org"


@pytest.fixture
async def http(stack):
    async with httpx.AsyncClient(base_url=stack.url) as client:
        yield client


@pytest.fixture
async def users(stack):
    client = AsyncMongoClient(stack.deps.mongo_uri)
    yield client[stack.identity.settings.mongo_db]["users"]
    await client.close()


def assert_problem(r: httpx.Response, status: int) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["status"] == status and body["title"] and body["detail"]
    assert body["request_id"] == r.headers["X-Request-ID"]
    return body


def register_body(**overrides) -> dict:
    body = {
        "email": email(),
        "password": PASSWORD,
        "role": "client",
        "display_name": "Alex",
        "jurisdiction": "GB-ENG",
    }
    body.update(overrides)
    return body


async def test_malformed_json_is_400(http, users):
    before = await users.count_documents({})
    r = await http.post(
        "/v1/auth/register", content=b'{"email": ', headers={"content-type": "application/json"}
    )
    assert_problem(r, 400)
    assert await users.count_documents({}) == before


async def test_missing_and_unknown_fields_are_422_without_echoing_values(http, users):
    before = await users.count_documents({})
    body = register_body()
    del body["password"]
    problem = assert_problem(await http.post("/v1/auth/register", json=body), 422)
    assert {"field": "password", "problem": "Field required"} in problem["errors"]
    assert body["email"] not in str(problem)
    assert_problem(await http.post("/v1/auth/register", json=register_body(is_admin=True)), 422)
    assert_problem(
        await http.post("/v1/auth/register", json=register_body(role="clinic_admin")), 422
    )
    assert await users.count_documents({}) == before


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"password": "short-pass1"}, "password"),
        ({"email": "not-an-email"}, "email"),
        ({"jurisdiction": "XX-ZZ"}, "jurisdiction"),
        ({"jurisdiction": ""}, "jurisdiction"),  # clients must say where they live
        ({"display_name": "   "}, "display_name"),
    ],
)
async def test_invalid_values_are_422_naming_the_field(http, users, overrides, field):
    before = await users.count_documents({})
    problem = assert_problem(
        await http.post("/v1/auth/register", json=register_body(**overrides)), 422
    )
    assert problem["field"] == field
    assert await users.count_documents({}) == before


async def test_email_already_registered_is_409(http, users):
    body = register_body()
    assert (await http.post("/v1/auth/register", json=body)).status_code == 201
    again = register_body(email=body["email"].upper(), display_name="Other")
    assert_problem(await http.post("/v1/auth/register", json=again), 409)
    assert await users.count_documents({"email": body["email"]}) == 1


async def test_therapist_may_register_without_jurisdiction(http):
    r = await http.post("/v1/auth/register", json=register_body(role="therapist", jurisdiction=""))
    assert r.status_code == 201, r.text


async def test_wrong_password_and_unknown_email_get_the_same_401(http):
    body = register_body()
    await http.post("/v1/auth/register", json=body)
    wrong = assert_problem(
        await http.post("/v1/auth/login", json={"email": body["email"], "password": "x" * 12}), 401
    )
    unknown = assert_problem(
        await http.post("/v1/auth/login", json={"email": email(), "password": PASSWORD}), 401
    )
    assert wrong["detail"] == unknown["detail"]


async def test_me_without_or_with_a_bad_token_is_401(http):
    assert_problem(await http.get("/v1/me"), 401)
    assert_problem(await http.get("/v1/me", headers={"Authorization": "Bearer nonsense"}), 401)
    assert_problem(await http.get("/v1/me", headers={"Authorization": "Basic abc"}), 401)


async def test_openapi_docs_are_served(http):
    assert (await http.get("/docs")).status_code == 200
    spec = (await http.get("/openapi.json")).json()
    for path in ("/v1/auth/register", "/v1/auth/login", "/v1/me", "/.well-known/jwks.json"):
        assert path in spec["paths"]
