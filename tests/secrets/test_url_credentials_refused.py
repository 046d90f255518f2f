"""A URL of the inventory with credentials in it is refused (exit 4) without echoing them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.inventories import EXAMPLE_ENV, example_data, write
from wcp_acceptance.inventory import InventoryError, load_inventory

CANARY = "canary-url-5b1e2f9a77"


@pytest.fixture(autouse=True)
def _example_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in EXAMPLE_ENV.items():
        monkeypatch.setenv(key, value)


def _nsx_manager(data: dict[str, Any], url: str) -> None:
    data["nsx"]["managers"][0] = url


def _vcenter(data: dict[str, Any], url: str) -> None:
    data["vcenter"]["url"] = url


def _kube_server(data: dict[str, Any], url: str) -> None:
    data["kubernetes"] = {"server": url, "token": "t" * 20, "ca_file": data["api_vip"]["ca_file"]}


@pytest.mark.parametrize(("mutate", "field", "instead"), [
    (_nsx_manager, "nsx.managers[0]", "nsx.username/nsx.password"),
    (_vcenter, "vcenter.url", "vcenter.username/vcenter.password"),
    (_kube_server, "kubernetes.server", "kubernetes.token"),
])
@pytest.mark.parametrize("url", [
    f"https://admin:{CANARY}@nsx.corp.local",
    f"admin:{CANARY}@nsx.corp.local:443",
    f"http://admin:{CANARY}@nsx.corp.local",  # refused for its credentials before its scheme is named
    f"https://admin:{CANARY}/x@nsx.corp.local",  # a password with a slash
    f"https://nsx.corp.local/?password={CANARY}",
])
def test_credentials_in_a_url_are_refused_and_never_echoed(
        tmp_path: Path, mutate: Callable[[dict[str, Any], str], None], field: str, instead: str, url: str) -> None:
    data = example_data()
    mutate(data, url)
    path = write(tmp_path, data)
    with pytest.raises(InventoryError) as caught:
        load_inventory(path)
    problems = caught.value.problems
    assert problems == [f"{path}: {field}: contains credentials (user:password@); give them as {instead}"]
    assert CANARY not in str(caught.value)


def test_the_run_refuses_it_with_exit_4_and_no_report(start_stack, suite) -> None:
    stack = start_stack()
    data = stack.inventory_data()
    manager = data["nsx"]["managers"][0]
    data["nsx"]["managers"][0] = manager.replace("https://", f"https://admin:{CANARY}@")
    run = suite(stack.write_inventory(data))
    assert run.result.exit_code == 4, run.result.stdout[-2000:] + run.result.stderr[-2000:]
    output = run.result.stdout + run.result.stderr
    assert "nsx.managers[0]: contains credentials (user:password@)" in output
    assert "Traceback" not in output
    assert CANARY not in output
    assert run.run_dir is None  # no test ran, no run folder
    assert stack.nsx.requests == []  # the credentials were never sent


@pytest.mark.parametrize("server", [f"https://audit:{CANARY}@172.16.1.2:6443", f"audit:{CANARY}@172.16.1.2"])
def test_a_kubeconfig_server_with_credentials_is_refused_without_echoing_them(tmp_path: Path, server: str) -> None:
    """The inventory's kubeconfig is checked too: its server URL would be printed in every Kubernetes error."""
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "sup",
        "clusters": [{"name": "c", "cluster": {"server": server}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": "sup", "context": {"cluster": "c", "user": "u"}}]}))
    data = example_data()
    data["kubernetes"] = {"kubeconfig": str(path)}
    with pytest.raises(InventoryError) as caught:
        load_inventory(write(tmp_path, data))
    (line,) = caught.value.problems
    assert "kubernetes.kubeconfig: the server of cluster 'c'" in line
    assert "contains credentials (user:password@)" in line
    assert CANARY not in str(caught.value)
