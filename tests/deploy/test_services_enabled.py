"""A service is deployed by default exactly when it is built (has a `__main__`): the chart never
starts a pod that would crash-loop. `services.<name>.enabled` switches one on or off."""

from __future__ import annotations

import importlib.util
from types import ModuleType

import pytest
import yaml


def _built(service: str) -> bool:
    module = f"rapport_{service.replace('-', '_')}"
    try:
        return importlib.util.find_spec(f"{module}.__main__") is not None
    except ModuleNotFoundError:
        return False


def _defaults(kit: ModuleType) -> dict:
    return yaml.safe_load((kit.CHART / "values.yaml").read_text())


@pytest.mark.parametrize(
    "service", ["gateway", "identity", "scheduling", "session-relay", "notes-vault", "billing"]
)
def test_on_by_default_exactly_when_built(kit: ModuleType, service: str) -> None:
    enabled = _defaults(kit)["services"][service]["enabled"]
    assert enabled is _built(service), (
        f"{service}: built={_built(service)} but services.{service}.enabled={enabled}"
    )


def test_minimal_install_deploys_only_built_services(kit: ModuleType) -> None:
    r = kit.render(kit.load_values(kit.CHART / "ci" / "minimal.yaml"), every_service=False)
    built = {s for s in kit.SERVICES if _built(s)}
    deployed = {d["metadata"]["name"] for d in r.of_kind("Deployment")} & set(kit.SERVICES)
    assert deployed == built
    names = {d["metadata"]["name"] for d in r.docs}
    for service in set(kit.SERVICES) - built:
        # No pod, no Service, no account, no policy: nothing left behind for a missing service.
        assert service not in names and f"{service}-headless" not in names
    # Nothing enabled reaches a disabled service (the gateway's egress names enabled peers only).
    for policy in r.of_kind("NetworkPolicy"):
        text = yaml.safe_dump(policy)
        for service in set(kit.SERVICES) - built:
            assert f"app.kubernetes.io/name: {service}\n" not in text, policy["metadata"]["name"]


@pytest.mark.parametrize("service", ["session-relay", "notes-vault", "billing"])
def test_one_flag_switches_a_service_on_and_off(kit: ModuleType, service: str) -> None:
    on = kit.render({"services": {service: {"enabled": True}}}, every_service=False)
    assert on.has("Deployment", service) and on.has("Service", service)
    off = kit.render({"services": {service: {"enabled": False}}}, every_service=True)
    assert not off.has("Deployment", service) and not off.has("Service", service)
