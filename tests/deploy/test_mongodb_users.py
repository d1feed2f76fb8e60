"""One database credential per service (issue 13, item 11): the chart's in-cluster MongoDB
runs with auth, and each service connects as its own user, allowed readWrite on its own
database only; nothing about it is a plain value."""

from __future__ import annotations

import base64
import json
import re
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

DB_SERVICES = ("identity", "scheduling", "session-relay", "notes-vault", "billing")


def _container(r: Any, kit: ModuleType, kind: str, name: str, container: str) -> dict[str, Any]:
    spec = kit.pod_spec(r.get(kind, name))
    found = [
        c for c in [*spec.get("initContainers", []), *spec["containers"]] if c["name"] == container
    ]
    assert found, f"{kind}/{name} has no container {container}"
    return found[0]


def test_mongod_requires_authentication(renders: dict[str, Any], kit: ModuleType) -> None:
    r = renders["dev"]
    mongod = _container(r, kit, "StatefulSet", "mongodb", "mongodb")
    assert "--auth" in mongod["command"]
    assert "--keyFile=/keyfile/keyfile" in mongod["command"]
    init = _container(r, kit, "StatefulSet", "mongodb", "auth-init")
    script = init["command"][-1]
    # The administrator is created on a loopback-only mongod, before auth is ever off on a port.
    assert "--bind_ip=127.0.0.1" in script and "createUser" in script
    assert "chmod 0400" in script


def test_each_service_has_its_own_user_on_its_own_database(
    renders: dict[str, Any], kit: ModuleType
) -> None:
    r = renders["dev"]
    uris = r.get("Secret", "mongodb-uri")["data"]
    seen_users, seen_passwords = set(), set()
    for service in DB_SERVICES:
        if not r.has("Deployment", service):
            continue
        prefix = f"RAPPORT_{service.upper().replace('-', '_')}_"
        env = {e["name"]: e for e in _container(r, kit, "Deployment", service, service)["env"]}
        ref = env[prefix + "MONGO_URI"]["valueFrom"]["secretKeyRef"]
        assert ref == {"name": "mongodb-uri", "key": f"{service}-uri"}
        uri = urlsplit(base64.b64decode(uris[f"{service}-uri"]).decode())
        database = env[prefix + "MONGO_DB"]["value"]
        assert uri.username == service
        assert uri.password and len(uri.password) >= 32
        assert uri.path == f"/{database}"
        assert "authSource=admin" in uri.query
        seen_users.add(uri.username)
        seen_passwords.add(uri.password)
    assert len(seen_users) == len(seen_passwords) >= 4

    # The init Job grants each user readWrite on its own database and nothing else.
    job = _container(r, kit, "Job", "mongodb-init", "init")
    users = json.loads({e["name"]: e for e in job["env"]}["SERVICE_USERS"]["value"])
    script = job["command"][-1]
    assert re.search(r'roles = \[\{ role: "readWrite", db: u\.database \}\]', script)
    for u in users:
        svc_env = {
            e["name"]: e for e in _container(r, kit, "Deployment", u["name"], u["name"])["env"]
        }
        prefix = f"RAPPORT_{u['name'].upper().replace('-', '_')}_"
        assert u["database"] == svc_env[prefix + "MONGO_DB"]["value"]
    assert {u["name"] for u in users} == seen_users


def test_the_credentials_are_kept_across_upgrades(renders: dict[str, Any]) -> None:
    r = renders["dev"]
    for name in ("mongodb-uri", "mongodb-auth"):
        annotations = r.get("Secret", name)["metadata"]["annotations"]
        assert annotations["helm.sh/resource-policy"] == "keep"
