"""A kubeconfig context that does not exist is refused when the inventory is validated, naming the
contexts the kubeconfig holds (not four errors and a wrong verdict at run time)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from tests.support.inventories import EXAMPLE_ENV, example_data, write
from wcp_acceptance.inventory import InventoryError, load_inventory


@pytest.fixture(autouse=True)
def _example_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in EXAMPLE_ENV.items():
        monkeypatch.setenv(key, value)


def kubeconfig(tmp_path: Path, contexts: list[str], current: str | None) -> Path:
    path = tmp_path / "kubeconfig"
    doc = {"apiVersion": "v1", "kind": "Config",
           "clusters": [{"name": "c", "cluster": {"server": "https://172.16.1.2:6443"}}],
           "users": [{"name": "u", "user": {"token": "t"}}],
           "contexts": [{"name": n, "context": {"cluster": "c", "user": "u"}} for n in contexts]}
    if current is not None:
        doc["current-context"] = current
    path.write_text(yaml.safe_dump(doc))
    return path


def problems_for(tmp_path: Path, path: Path | str, context: str | None) -> list[str]:
    data = example_data()
    data["kubernetes"] = {"kubeconfig": str(path)} | ({"context": context} if context is not None else {})
    with pytest.raises(InventoryError) as caught:
        load_inventory(write(tmp_path, data))
    return caught.value.problems


def test_a_missing_context_names_the_contexts_found(tmp_path: Path) -> None:
    path = kubeconfig(tmp_path, ["supervisor-a", "supervisor-b"], "supervisor-a")
    (line,) = problems_for(tmp_path, path, "supervisor-c")
    assert line.endswith(f"kubernetes.context: 'supervisor-c' is not a context of {path} "
                         "(contexts found: supervisor-a, supervisor-b)"), line


def test_no_context_and_no_current_context_is_refused(tmp_path: Path) -> None:
    path = kubeconfig(tmp_path, ["supervisor-a"], None)
    (line,) = problems_for(tmp_path, path, None)
    assert line.endswith(f"kubernetes.context: no context given and {path} has no current-context "
                         "(contexts found: supervisor-a)"), line


def test_a_current_context_that_is_not_defined_is_refused(tmp_path: Path) -> None:
    path = kubeconfig(tmp_path, [], "gone")
    (line,) = problems_for(tmp_path, path, None)
    assert line.endswith(f"kubernetes.context: the current-context 'gone' of {path} is not one of its contexts "
                         "(it holds no contexts)"), line


def test_the_current_context_serves_when_none_is_named(tmp_path: Path) -> None:
    path = kubeconfig(tmp_path, ["supervisor-a"], "supervisor-a")
    data = example_data()
    data["kubernetes"] = {"kubeconfig": str(path)}
    assert load_inventory(write(tmp_path, data)).kubernetes.kubeconfig == path


@pytest.mark.parametrize(("text", "reason"), [
    ("contexts: [\n", "is not a readable kubeconfig: "),
    ("- just\n- a list\n", "is not a kubeconfig (not a mapping of keys to values)"),
])
def test_a_kubeconfig_that_is_not_one_is_refused(tmp_path: Path, text: str, reason: str) -> None:
    path = tmp_path / "kubeconfig"
    path.write_text(text)
    (line,) = problems_for(tmp_path, path, "x")
    assert f"kubernetes.kubeconfig: {path} {reason}" in line, line


def test_a_fifo_kubeconfig_is_refused_without_blocking(tmp_path: Path) -> None:
    path = tmp_path / "kubeconfig"
    os.mkfifo(path)
    (line,) = problems_for(tmp_path, path, "x")
    assert line.endswith(f"kubernetes.kubeconfig: file {path} is a FIFO, not a regular file"), line
