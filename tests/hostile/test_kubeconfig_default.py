"""An inventory that names no kubeconfig and no server takes the kubeconfig kubectl would: the files of
KUBECONFIG (missing ones skipped, the first defining the context), else ~/.kube/config."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.support.inventories import EXAMPLE_ENV, example_data, write
from wcp_acceptance.inventory import Inventory, InventoryError, load_inventory


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for key, value in EXAMPLE_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


def kubeconfig(path: Path, contexts: list[str], current: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    doc: dict[str, object] = {"apiVersion": "v1", "kind": "Config",
                              "contexts": [{"name": n, "context": {"cluster": "c", "user": "u"}} for n in contexts]}
    if current:
        doc["current-context"] = current
    path.write_text(yaml.safe_dump(doc))
    return path


def load_without_kubernetes(tmp_path: Path, section: dict[str, str] | None = None) -> Inventory:
    data = example_data()
    if section is None:
        del data["kubernetes"]
    else:
        data["kubernetes"] = section
    return load_inventory(write(tmp_path, data))


def test_kubeconfig_env_is_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = kubeconfig(tmp_path / "kc" / "one", ["sv"], "sv")
    monkeypatch.setenv("KUBECONFIG", str(path))
    assert load_without_kubernetes(tmp_path).kubernetes.kubeconfig == path


def test_the_first_kubeconfig_env_file_defining_the_context_wins(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    first = kubeconfig(tmp_path / "kc" / "first", ["other"], "other")
    second = kubeconfig(tmp_path / "kc" / "second", ["sv"])
    monkeypatch.setenv("KUBECONFIG", f"{tmp_path / 'missing'}:{first}:{second}")
    spec = load_without_kubernetes(tmp_path, {"context": "sv"}).kubernetes
    assert (spec.kubeconfig, spec.context) == (second, "sv")


def test_home_kube_config_is_the_fallback(tmp_path: Path) -> None:
    path = kubeconfig(tmp_path / "home" / ".kube" / "config", ["sv"], "sv")
    assert load_without_kubernetes(tmp_path, {}).kubernetes.kubeconfig == path


def test_none_anywhere_is_one_line_saying_where_it_looked(tmp_path: Path) -> None:
    with pytest.raises(InventoryError) as caught:
        load_without_kubernetes(tmp_path)
    (line,) = caught.value.problems
    assert line.endswith("kubernetes.kubeconfig: give kubeconfig (and context) or server and token (neither "
                         "KUBECONFIG nor ~/.kube/config names a kubeconfig on this runner)"), line


def test_a_wrong_context_in_the_default_kubeconfig_names_its_contexts(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    path = kubeconfig(tmp_path / "kc" / "one", ["sv"], "sv")
    monkeypatch.setenv("KUBECONFIG", str(path))
    with pytest.raises(InventoryError) as caught:
        load_without_kubernetes(tmp_path, {"context": "nope"})
    (line,) = caught.value.problems
    assert line.endswith(f"kubernetes.context: 'nope' is not a context of {path} (contexts found: sv)"), line
