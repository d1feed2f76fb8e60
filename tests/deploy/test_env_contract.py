"""Settings ↔ chart ↔ README: every environment variable a service reads is set by the chart
and documented in README.md, and the chart sets no RAPPORT_ variable a service ignores.

The settings classes are the truth: each service's `rapport_<name>.settings` module is
imported and its pydantic-settings class (env_prefix RAPPORT_<NAME>_) read field by field.
A service whose settings module does not exist yet falls back to the list below (the
contract agreed for it); once the module exists the list is no longer consulted.

README format checked: each variable name in backticks anywhere in README.md at the
repository root, e.g. `RAPPORT_GATEWAY_HTTP_PORT`; and a "Deploy on Kubernetes" heading.
"""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from pydantic_settings import BaseSettings

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"

_GRPC_COMMON = ("GRPC_HOST", "GRPC_PORT", "IDENTITY_ADDR", "DRAIN_SECONDS", "LOG_LEVEL")
_DB = ("MONGO_URI", "MONGO_DB")
_VAULT = ("VAULT_ADDR", "VAULT_AUTH", "VAULT_TOKEN", "VAULT_ROLE", "VAULT_TRANSIT_MOUNT")
# The agreed settings of services whose settings module does not exist yet.
FALLBACK: dict[str, tuple[str, ...]] = {
    "gateway": (
        "HTTP_HOST", "HTTP_PORT", "IDENTITY_ADDR", "SCHEDULING_ADDR", "SESSION_RELAY_ADDR",
        "NOTES_VAULT_ADDR", "BILLING_ADDR", "RPC_TIMEOUT_SECONDS", "DRAIN_SECONDS", "LOG_LEVEL",
    ),
    "identity": (*_GRPC_COMMON, *_DB, "NATS_URL", *_VAULT),
    "scheduling": (*_GRPC_COMMON, *_DB, "NATS_URL"),
    "session-relay": (*_GRPC_COMMON, "NATS_URL", "HTTP_HOST", "HTTP_PORT"),
    "notes-vault": (*_GRPC_COMMON, *_DB, "NATS_URL", *_VAULT),
    "billing": (*_GRPC_COMMON, *_DB, "NATS_URL", *_VAULT),
}  # fmt: skip
# Standard OpenTelemetry variables the chart sets on every service (documented too).
OTEL_VARS = (
    "OTEL_SERVICE_NAME",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_TRACES_SAMPLER",
    "OTEL_TRACES_SAMPLER_ARG",
    "OTEL_METRIC_EXPORT_INTERVAL",
    "OTEL_RESOURCE_ATTRIBUTES",
    "OTEL_SEMCONV_STABILITY_OPT_IN",
)


def _prefix(service: str) -> str:
    return "RAPPORT_" + service.upper().replace("-", "_") + "_"


def _settings_class(service: str) -> type[BaseSettings] | None:
    module_name = f"rapport_{service.replace('-', '_')}.settings"
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        if e.name in (module_name, module_name.rsplit(".", 1)[0]):
            return None  # not written yet: the fallback list applies
        raise  # the module exists but is broken: that is a failure, not a fallback
    classes = [
        cls
        for _, cls in inspect.getmembers(module, inspect.isclass)
        if issubclass(cls, BaseSettings)
        and cls.__module__ == module.__name__
        and cls.model_config.get("env_prefix") == _prefix(service)
    ]
    assert len(classes) == 1, f"{module_name}: expected one settings class, found {classes}"
    return classes[0]


def settings_env(service: str) -> tuple[set[str], str]:
    """The variables a service reads, and where that list came from."""
    cls = _settings_class(service)
    prefix = _prefix(service)
    if cls is None:
        return {prefix + name for name in FALLBACK[service]}, "fallback list"
    names = set()
    for field_name, info in cls.model_fields.items():
        alias = info.validation_alias if isinstance(info.validation_alias, str) else None
        names.add(alias.upper() if alias else prefix + field_name.upper())
    return names, cls.__qualname__


@pytest.fixture(scope="module")
def chart_env(renders: dict[str, Any], kit: ModuleType) -> dict[str, set[str]]:
    """Env var names per service container, over every ci/ value set and the variants a
    value set does not cover (Vault token auth)."""
    token_auth = {
        "vault": {
            "mode": "dev",
            "auth": "token",
            "token": {"existingSecret": "rapport-vault-token"},
        }
    }
    variants = [*renders.values(), kit.render(token_auth, "vault-token-auth")]
    out: dict[str, set[str]] = {s: set() for s in kit.SERVICES}
    for r in variants:
        for service in kit.SERVICES:
            (container,) = kit.pod_spec(r.get("Deployment", service))["containers"]
            out[service] |= {e["name"] for e in container.get("env", [])}
    return out


@pytest.mark.parametrize(
    "service", ["gateway", "identity", "scheduling", "session-relay", "notes-vault", "billing"]
)
def test_every_setting_has_an_env_entry_in_the_chart(
    service: str, chart_env: dict[str, set[str]]
) -> None:
    wanted, source = settings_env(service)
    missing = sorted(wanted - chart_env[service])
    assert missing == [], f"{service} reads these ({source}) but the chart never sets them"


@pytest.mark.parametrize(
    "service", ["gateway", "identity", "scheduling", "session-relay", "notes-vault", "billing"]
)
def test_the_chart_sets_no_unknown_setting(service: str, chart_env: dict[str, set[str]]) -> None:
    wanted, source = settings_env(service)
    ours = {name for name in chart_env[service] if name.startswith(_prefix(service))}
    unknown = sorted(ours - wanted)
    assert unknown == [], f"the chart sets these but {service} ({source}) does not read them"
    for name in chart_env[service]:
        # Besides settings: OpenTelemetry's, the pod name for resource attributes, and
        # uvicorn's trusted proxies on the gateway.
        assert name.startswith(("RAPPORT_", "OTEL_", "K8S_")) or name == "FORWARDED_ALLOW_IPS"


def test_readme_documents_every_variable(kit: ModuleType) -> None:
    assert README.is_file(), "README.md is missing at the repository root"
    text = README.read_text()
    documented = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", text))
    wanted: set[str] = set(OTEL_VARS)
    for service in kit.SERVICES:
        wanted |= settings_env(service)[0]
    missing = sorted(wanted - documented)
    assert missing == [], f"README.md does not document (in backticks): {missing}"


def test_readme_has_the_kubernetes_section() -> None:
    assert README.is_file(), "README.md is missing at the repository root"
    headings = re.findall(r"^#+\s+(.*)$", README.read_text(), re.MULTILINE)
    assert any("Deploy on Kubernetes" in h for h in headings), headings


def test_otel_variables_are_what_the_chart_sets(chart_env: dict[str, set[str]]) -> None:
    every = set().union(*chart_env.values())
    assert {name for name in every if name.startswith("OTEL_")} == set(OTEL_VARS)
