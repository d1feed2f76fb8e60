"""The OpenAPI document declares every operation's error answers as application/problem+json
with one shared Problem schema (generated client SDKs know them), and the bearer scheme."""

from __future__ import annotations

from rapport_gateway.app import create_app
from rapport_gateway.settings import GatewaySettings

PROBLEM = "application/problem+json"


def test_every_operation_declares_its_problem_answers():
    spec = create_app(GatewaySettings()).openapi()
    problem = spec["components"]["schemas"]["Problem"]
    assert set(problem["required"]) >= {"type", "title", "status", "detail", "instance"}
    # FastAPI's own validation body is never sent, so it is not advertised either.
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    operations = [
        (method, path, op) for path, ops in spec["paths"].items() for method, op in ops.items()
    ]
    assert len(operations) > 60
    for method, path, op in operations:
        responses = op["responses"]
        ops_route = "ops" in op.get("tags", ())
        expected = {"413", "431", "503"} | (
            set() if ops_route else {"400", "401", "403", "404", "409", "422", "429"}
        )
        assert expected <= responses.keys(), (method, path, sorted(responses))
        for status, answer in responses.items():
            if int(status) >= 400:
                schema = answer["content"][PROBLEM]["schema"]
                assert schema == {"$ref": "#/components/schemas/Problem"}, (method, path)
                assert "application/json" not in answer["content"]
        # A route that takes a bearer token says so (and no longer as a bare header).
        assert not any(p["name"].lower() == "authorization" for p in op.get("parameters", []))


def test_a_route_s_own_words_survive():
    spec = create_app(GatewaySettings()).openapi()
    register = spec["paths"]["/v1/auth/register"]["post"]["responses"]
    assert register["409"]["description"] == "an account with this email already exists"
    me = spec["paths"]["/v1/me"]["get"]
    assert me["security"] == [{"HTTPBearer": []}]
