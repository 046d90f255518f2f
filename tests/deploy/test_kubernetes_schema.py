"""Every manifest under deploy/kubernetes is a valid object of the Kubernetes API, strictly.

kubernetes-validate checks each document against the OpenAPI schema of the pinned release, in strict mode:
an unknown or misspelt field (``securityContex``) fails instead of being dropped by the API server.
"""

from __future__ import annotations

import copy
from pathlib import Path

import kubernetes_validate
import pytest

from tests.deploy.kubernetes_manifests import KUBE_DIR, KUBERNETES_VERSION, SITES, cronjob, documents, manifest_files

DOCS = [(path, doc) for path in manifest_files() for doc in documents(path)]


def test_there_are_manifests_for_at_least_one_site() -> None:
    assert SITES, f"no <site>/cronjob.yaml under {KUBE_DIR}"
    for site in SITES:
        assert {p.name for p in (KUBE_DIR / site).glob("*.yaml")} >= {"cronjob.yaml", "secret.yaml", "pvc.yaml"}


@pytest.mark.parametrize(
    ("path", "doc"),
    DOCS,
    ids=[f"{path.relative_to(KUBE_DIR)}: {doc['kind']}/{doc['metadata']['name']}" for path, doc in DOCS],
)
def test_the_manifest_validates_against_the_kubernetes_schema(path: Path, doc: dict) -> None:
    try:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        where = ".".join(str(part) for part in exc.path)
        pytest.fail(f"{path.relative_to(KUBE_DIR)}: {doc['kind']} at {where}: {exc.message} (Kubernetes {exc.version})")


@pytest.mark.parametrize(
    ("where", "field"),
    [
        (("spec", "jobTemplate", "spec", "template", "spec", "containers", 0), "securityContex"),
        (("spec",), "concurencyPolicy"),
    ],
    ids=["securityContex", "concurencyPolicy"],
)
def test_the_schema_check_rejects_a_misspelt_field(where: tuple, field: str) -> None:
    """The check above is not vacuous: strict validation names a field the API would silently drop."""
    doc = copy.deepcopy(cronjob(SITES[0]))
    target = doc
    for part in where:
        target = target[part]
    target[field] = {}
    with pytest.raises(kubernetes_validate.ValidationError, match=field):
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
