"""Which endpoint each probe of each service asks, in every value set the chart ships.

Startup and liveness must depend only on the process itself: a kubelet restarts a container
whose startup or liveness probe fails, so a probe that waits for identity or Mongo turns a
dependency outage into a restart loop. Readiness is the one that follows the dependencies
(the pod leaves the endpoints, nothing restarts). tests/deploy/test_images.py runs the images
and proves each endpoint behaves that way.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest
from rapport_platform.rpc import LIVENESS

# gRPC: the health service name asked ("" = the whole server, NOT_SERVING until every
# dependency answers); HTTP: the path.
PROCESS_ONLY = {"grpc": LIVENESS, "http": "/healthz"}
DEPENDENCIES = {"grpc": "", "http": "/readyz"}
EXPECTED = {
    "startupProbe": PROCESS_ONLY,
    "livenessProbe": PROCESS_ONLY,
    "readinessProbe": DEPENDENCIES,
}


def endpoint(container: dict[str, Any], probe: str) -> tuple[str, Any, int | str]:
    """(kind, what is asked, port) of one probe of a rendered container."""
    spec = container[probe]
    if "grpc" in spec:
        return "grpc", spec["grpc"].get("service", ""), spec["grpc"]["port"]
    if "httpGet" in spec:
        return "http", spec["httpGet"]["path"], spec["httpGet"]["port"]
    raise AssertionError(f"{probe}: neither grpc nor httpGet: {spec}")


@pytest.mark.parametrize("values_set", ["minimal", "production", "production-like", "dev"])
def test_startup_and_liveness_ask_the_process_readiness_the_dependencies(
    renders: dict[str, Any], kit: ModuleType, values_set: str
) -> None:
    r = renders[values_set]
    for service in kit.SERVICES:
        (c,) = kit.pod_spec(r.get("Deployment", service))["containers"]
        ports = {p["name"]: p["containerPort"] for p in c["ports"]}
        for probe, expected in EXPECTED.items():
            kind, asked, port = endpoint(c, probe)
            # gRPC services are probed over gRPC (native probes); the gateway over HTTP.
            assert kind == ("grpc" if "grpc" in ports else "http"), (service, probe)
            assert asked == expected[kind], (values_set, service, probe, asked)
            assert ports.get(port, port) in ports.values(), (service, probe, port)


def test_values_cannot_point_startup_at_readiness(kit: ModuleType) -> None:
    """Even a values file that renames the readiness endpoint leaves startup on liveness."""
    r = kit.render(
        {
            "default": {
                "probes": {
                    "grpcService": {"readiness": "custom-ready"},
                    "httpPath": {"readiness": "/custom-ready"},
                }
            }
        }
    )
    for service in kit.SERVICES:
        (c,) = kit.pod_spec(r.get("Deployment", service))["containers"]
        assert endpoint(c, "readinessProbe")[1] in ("custom-ready", "/custom-ready"), service
        for probe in ("startupProbe", "livenessProbe"):
            assert endpoint(c, probe)[1] in (LIVENESS, "/healthz"), (service, probe)
