"""The chart's Ingress refuses the same bodies the gateway does (issue 13, item 1), and the
gateway gets a public URL (item 4)."""

from __future__ import annotations

from types import ModuleType
from typing import Any

UNITS = {"k": 1024, "m": 1024**2, "g": 1024**3}


def nginx_size(text: str) -> int:
    text = text.strip().lower()
    return int(text[:-1]) * UNITS[text[-1]] if text[-1] in UNITS else int(text)


def gateway_env(r: Any, kit: ModuleType) -> dict[str, str]:
    (container,) = kit.pod_spec(r.get("Deployment", "gateway"))["containers"]
    return {e["name"]: e.get("value", "") for e in container.get("env", [])}


def test_the_gateway_ingress_body_limit_equals_the_gateways(renders: dict, kit: ModuleType):
    with_ingress = [r for r in renders.values() if r.of_kind("Ingress")]
    assert with_ingress, "no value set renders an Ingress"
    for r in with_ingress:
        ingress = next(i for i in r.of_kind("Ingress") if "gateway" in i["metadata"]["name"])
        size = (
            ingress["metadata"]
            .get("annotations", {})
            .get("nginx.ingress.kubernetes.io/proxy-body-size")
        )
        assert size, f"{r.name}: the gateway Ingress sets no body limit"
        limit = int(gateway_env(r, kit)["RAPPORT_GATEWAY_MAX_BODY_BYTES"])
        assert nginx_size(size) == limit, (r.name, size, limit)


def test_the_gateway_has_a_public_url(renders: dict, kit: ModuleType):
    for r in renders.values():
        url = gateway_env(r, kit)["RAPPORT_GATEWAY_PUBLIC_URL"]
        assert url.startswith("https://"), (r.name, url)
