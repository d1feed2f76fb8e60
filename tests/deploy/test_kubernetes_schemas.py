"""Every rendered manifest validates against the Kubernetes OpenAPI schemas (strict)."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import kubernetes_validate
import pytest


def test_kubernetes_validate_knows_the_version(kit: ModuleType) -> None:
    # A current Kubernetes: the newest minor kubernetes-validate ships schemas for.
    assert kubernetes_validate.utils.latest_version() == kit.KUBE_VERSION.rsplit(".", 1)[0] + ".0" or (
        kubernetes_validate.utils.major_minor(kubernetes_validate.utils.latest_version())
        == kubernetes_validate.utils.major_minor(kit.KUBE_VERSION)
    )


@pytest.mark.parametrize("values_set", ["minimal", "production", "observability", "dev", "production-like"])
def test_rendered_manifests_are_valid_kubernetes(
    renders: dict[str, Any], kit: ModuleType, values_set: str
) -> None:
    failures = []
    for doc in renders[values_set].docs:
        ref = f"{doc['kind']}/{doc['metadata']['name']}"
        try:
            # strict: unknown fields (a misspelt key the API server would drop) fail too.
            kubernetes_validate.validate(doc, kit.KUBE_VERSION, strict=True)
        except kubernetes_validate.ValidationError as e:
            failures.append(f"{ref}: {'.'.join(str(p) for p in e.path)}: {e.message}")
        except kubernetes_validate.SchemaNotFoundError as e:
            failures.append(f"{ref}: {e.message}")
    assert failures == []
