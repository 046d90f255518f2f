"""The inventory's ``runner.netns``: validated with its field path; a namespace that is not there is a bad
inventory (exit 4, one line naming the file and field), before any test runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.inventories import EXAMPLE_ENV, example_data, write
from wcp_acceptance.inventory import InventoryError, load_inventory


@pytest.fixture
def example_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for key, value in EXAMPLE_ENV.items():
        monkeypatch.setenv(key, value)
    return EXAMPLE_ENV


def test_runner_netns_is_optional_and_read(tmp_path: Path, example_env: dict[str, str]) -> None:
    assert load_inventory(write(tmp_path, example_data())).runner.netns is None
    data = example_data() | {"runner": {"netns": "vrf-site-a"}}
    assert load_inventory(write(tmp_path, data)).runner.netns == "vrf-site-a"


@pytest.mark.parametrize("netns", ["../etc", "a b", "", "x" * 70])
def test_a_bad_namespace_name_is_an_inventory_problem(tmp_path: Path, example_env: dict[str, str],
                                                       netns: str) -> None:
    path = write(tmp_path, example_data() | {"runner": {"netns": netns}})
    with pytest.raises(InventoryError) as caught:
        load_inventory(path)
    assert [p for p in caught.value.problems if ": runner.netns: " in p and "network namespace name" in p], \
        caught.value.problems


def test_a_namespace_that_is_not_there_exits_4_before_any_test(tmp_path: Path,
                                                               example_env: dict[str, str]) -> None:
    path = write(tmp_path, example_data() | {"runner": {"netns": "wcpt-no-such-ns"}})
    env = {k: v for k, v in os.environ.items() if not k.startswith("WCP_")} | example_env
    done = subprocess.run([sys.executable, "-m", "wcp_acceptance", "run", "--inventory", str(path),
                           "--report-dir", str(tmp_path / "reports")], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 4, done.stdout + done.stderr
    assert done.stderr.strip() == (f"wcp-acceptance: {path}: runner.netns: network namespace 'wcpt-no-such-ns' "
                                   "does not exist on this runner (see `ip netns list`)")
    assert not (tmp_path / "reports").exists()
