"""schemathesis against the gateway's OpenAPI document, as a client app's developer would try it
(issue 13): every operation, signed in as each role, a few generated cases each (derandomized:
the same cases every run), asserting no 5xx, no answer outside its declared schema or content
type, and no status code the document does not declare.

Path ids are the first clinic's real ones (so the checks reach the services, not only the
gateway's validation). The gateway runs in this event loop; schemathesis' blocking
calls run in a worker thread meanwhile."""

from __future__ import annotations

import asyncio
import os

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.security.test_authz_matrix import PATH_IDS

pytestmark = [
    pytest.mark.timeout(900),
    # schemathesis' own strategies use `random` (its warning, not ours).
    pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning"),
]

ROLES = ("anonymous", "client", "therapist", "admin", "operator")
EXAMPLES = int(os.environ.get("RAPPORT_SCHEMATHESIS_EXAMPLES", "1"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# Calls that would change what the other roles' cases stand on: sign-out and a multi-factor
# reset end the sessions the cases use, key rotation and erasure are covered by the matrix and
# their own tests.
SKIP = {
    ("POST", "/v1/auth/logout"),
    ("POST", "/v1/users/{user_id}/mfa/reset"),
    ("POST", "/v1/ops/signing-keys/rotate"),
    ("POST", "/v1/clients/{client_id}/erasure"),
}


def run_operation(
    operation, base_url: str, headers_by_role: list[dict[str, str]], ids: dict[str, str]
) -> list[str]:
    params = [p.name for p in operation.path_parameters]
    real = {name: ids[name] for name in params if name in ids}
    # The first clinic's real ids where the path takes them, so the cases reach the services
    # (random ids stop at a 404); bodies and queries stay generated. One strategy for every
    # role: building and validating it costs about as much as the calls.
    strategy = operation.as_strategy(path_parameters=real) if real else operation.as_strategy()
    failures: list[str] = []

    def as_role(headers: dict[str, str]) -> None:
        @settings(
            max_examples=EXAMPLES,
            derandomize=True,
            database=None,
            deadline=None,
            phases=[Phase.explicit, Phase.generate],  # no shrinking: report, don't search
            suppress_health_check=list(HealthCheck),
        )
        @given(strategy)
        def check(case) -> None:
            try:
                case.call_and_validate(
                    base_url=base_url, headers=headers, checks=CHECKS, timeout=30
                )
            except (Exception, BaseExceptionGroup) as exc:  # every failure, not the first
                failures.append(f"{case.method} {case.formatted_path}: {str(exc)[:600]}")

        check()

    for headers in headers_by_role:
        as_role(headers)
    return failures


async def test_schemathesis_finds_no_5xx_no_schema_violation_no_undeclared_status(
    full_stack, world
):
    app = full_stack.gateway.server.config.app
    schema = schemathesis.openapi.from_dict(app.openapi())
    ids = {path: world.ids[name] for path, name in PATH_IDS.items() if name in world.ids}
    failures: list[str] = []
    cases = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if (operation.method.upper(), operation.path) in SKIP:
            continue
        headers = [world.token(role) for role in ROLES]
        failures += await asyncio.to_thread(run_operation, operation, full_stack.url, headers, ids)
        cases += EXAMPLES * len(ROLES)
    assert cases > 0
    assert not failures, "\n".join(failures)
