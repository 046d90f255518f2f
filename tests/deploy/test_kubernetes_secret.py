"""Each site's Secret holds an inventory the suite accepts, as the pod sees it, and placeholders only.

The Secret's keys are written as files beside its inventory.yaml, as the secret volume mounts them at
/etc/wcp-acceptance, and the project's own loader reads it: every credential must come from one of
those files (none inline, none from the environment), and every key must be something it reads.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import BaseModel

from tests.deploy.kubernetes_manifests import KUBE_DIR, SITES, secret
from wcp_acceptance.inventory import Inventory, load_inventory
from wcp_acceptance.secret import Secret

pytestmark = pytest.mark.parametrize("site", SITES)


def mounted(site: str, directory: Path) -> Path:
    for key, value in secret(site)["stringData"].items():
        assert "/" not in key, f"{key}: a Secret key is a file name"
        (directory / key).write_text(value, encoding="utf-8")
    return directory / "inventory.yaml"


def leaves(node: object) -> Iterator[object]:
    if isinstance(node, BaseModel):
        for name in type(node).model_fields:
            yield from leaves(getattr(node, name))
    elif isinstance(node, dict):
        for value in node.values():
            yield from leaves(value)
    elif isinstance(node, list | tuple):
        for value in node:
            yield from leaves(value)
    else:
        yield node


def load(site: str, tmp_path: Path) -> Inventory:
    return load_inventory(mounted(site, tmp_path))


def test_the_inventory_in_the_secret_validates_as_mounted(site: str, tmp_path: Path) -> None:
    inventory = load(site, tmp_path)
    assert inventory.name == site, "the inventory's name names the report directory: /reports/<name>/"


def test_every_credential_comes_from_a_file_of_the_secret(site: str, tmp_path: Path) -> None:
    secrets = [leaf for leaf in leaves(load(site, tmp_path)) if isinstance(leaf, Secret)]
    assert secrets, "the inventory names no credential"
    sources = sorted({s.source for s in secrets})
    keys = set(secret(site)["stringData"])
    for source in sources:
        kind, _, path = source.partition(":")
        assert kind == "file", f"{source}: in a pod, credentials come from the Secret's files (no inline, no env)"
        assert Path(path).parent == tmp_path, f"{source} is not beside the inventory"
        assert Path(path).name in keys


def test_every_key_of_the_secret_is_read_by_the_inventory(site: str, tmp_path: Path) -> None:
    inventory = load(site, tmp_path)
    used = {Path(leaf.source.partition(":")[2]).name for leaf in leaves(inventory) if isinstance(leaf, Secret)}
    used |= {leaf.name for leaf in leaves(inventory) if isinstance(leaf, Path) and leaf.parent == tmp_path}
    unused = set(secret(site)["stringData"]) - used - {"inventory.yaml"}
    assert unused == set(), f"keys nothing reads: {sorted(unused)}"


def test_the_committed_secret_holds_placeholders_only(site: str) -> None:
    text = (KUBE_DIR / site / "secret.yaml").read_text(encoding="utf-8")
    assert not re.search(r"-----BEGIN [A-Z ]*(PRIVATE KEY|CERTIFICATE)-----", text)
    assert not re.search(r"^\s*(token|client-key-data|client-certificate-data):", text, re.MULTILINE)
    assert not re.search(r"^\s*data:", text, re.MULTILINE), "use stringData placeholders, not base64 data"
    for key, value in secret(site)["stringData"].items():
        if key != "inventory.yaml":
            assert "REPLACE" in value, f"{key}: not a placeholder"
