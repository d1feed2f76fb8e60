"""Trust between services in the chart (issue 13, items 9 and 10): each service its own NATS
user with the permissions of the one table, nobody on NATS without a password, and the
service-token key given to the gateway and identity only, from a Secret."""

from __future__ import annotations

import base64
import json
import re
from types import ModuleType
from typing import Any

from rapport_local import nats_auth

NATS_USERS = ("identity", "scheduling", "session-relay", "notes-vault", "billing")


def _env(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in container.get("env", [])}


def _service_env(r: Any, kit: ModuleType, service: str) -> dict[str, dict[str, Any]]:
    (container,) = [
        c
        for c in kit.containers(kit.pod_spec(r.get("Deployment", service)))
        if c["name"] == service
    ]
    return _env(container)


def test_the_chart_carries_the_one_table_of_nats_permissions(kit: ModuleType) -> None:
    path = kit.CHART / "files" / "nats" / "permissions.json"
    assert json.loads(path.read_text()) == nats_auth.all_permissions(), (
        "run `python -m rapport_local.nats_auth` after changing its GRANTS"
    )


def test_each_service_is_its_own_nats_user_with_only_its_permissions(
    renders: dict[str, Any], kit: ModuleType
) -> None:
    r = renders["dev"]
    conf = r.get("Secret", "nats")["stringData"]["nats.conf"]
    users_json = re.search(r"users = (\[.*\])\n", conf)
    assert users_json, conf
    users = {u["user"]: u for u in json.loads(users_json.group(1))}
    assert set(users) == set(NATS_USERS)
    for name, user in users.items():
        assert user["permissions"] == nats_auth.all_permissions()[name]
        assert len(user["password"]) >= 32
    # Only identity may publish identity's facts (a forged therapist_joined_clinic is refused).
    publishers = {
        n for n, u in users.items() if "rapport.identity.>" in u["permissions"]["publish"]["allow"]
    }
    assert publishers == {"identity"}
    assert len({u["password"] for u in users.values()}) == len(users)

    kept = r.get("Secret", "rapport-nats-users")
    assert kept["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    for name in NATS_USERS:
        url = _service_env(r, kit, name)[f"RAPPORT_{name.upper().replace('-', '_')}_NATS_URL"]
        ref = url["valueFrom"]["secretKeyRef"]
        assert ref == {"name": "rapport-nats-users", "key": f"{name}-url"}
        decoded = base64.b64decode(kept["data"][f"{name}-url"]).decode()
        assert decoded == f"nats://{name}:{users[name]['password']}@nats:4222"
    # The server config holds passwords: never a ConfigMap.
    assert not r.has("ConfigMap", "nats")


def test_only_the_services_that_sign_or_check_hold_a_service_token_key(
    renders: dict[str, Any], kit: ModuleType
) -> None:
    # variable suffix -> (key in the Secret, the services that get it)
    holders = {
        "SERVICE_TOKEN_KEY": {"gateway": "service-token-key", "identity": "service-token-key",
                              "scheduling": "scheduling-token-key",
                              "billing": "billing-token-key"},
        "SCHEDULING_TOKEN_KEY": {"identity": "scheduling-token-key"},
        "BILLING_TOKEN_KEY": {"identity": "billing-token-key"},
    }  # fmt: skip
    for values_set, generated in (("dev", True), ("production", False)):
        r = renders[values_set]
        for service in kit.SERVICES:
            if not r.has("Deployment", service):
                continue
            env = _service_env(r, kit, service)
            prefix = f"RAPPORT_{service.upper().replace('-', '_')}_"
            for suffix, keys in holders.items():
                if service in keys:
                    ref = env[prefix + suffix]["valueFrom"]["secretKeyRef"]
                    assert ref == {"name": "rapport-service-token", "key": keys[service]}
                else:
                    assert prefix + suffix not in env
        assert r.has("Secret", "rapport-service-token") == generated
