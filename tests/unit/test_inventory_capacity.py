"""The capacity thresholds (WCP-CAP-001): defaults, whole numbers in range, each refused with its field."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.inventories import EXAMPLE, EXAMPLE_ENV, example_data, write
from wcp_acceptance.inventory import InventoryError, load_inventory


@pytest.fixture(autouse=True)
def _example_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in EXAMPLE_ENV.items():
        monkeypatch.setenv(key, value)


def test_the_example_states_the_defaults_and_leaving_them_out_gives_the_same(tmp_path: Path) -> None:
    capacity = load_inventory(EXAMPLE).capacity
    assert (capacity.ip_pool_free_min, capacity.lb_usage_max_percent) == (5, 80)
    data = example_data()
    data.pop("capacity", None)
    capacity = load_inventory(write(tmp_path, data)).capacity
    assert (capacity.ip_pool_free_min, capacity.lb_usage_max_percent) == (5, 80)


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        pytest.param({"ip_pool_free_min": -1}, "capacity.ip_pool_free_min: Input should be greater than or equal to 0",
                     id="negative"),
        pytest.param({"lb_usage_max_percent": 0}, "capacity.lb_usage_max_percent: Input should be greater than or "
                     "equal to 1", id="zero percent"),
        pytest.param({"lb_usage_max_percent": 101}, "capacity.lb_usage_max_percent: Input should be less than or "
                     "equal to 100", id="over 100"),
        pytest.param({"ip_pool_free_min": "5"}, "capacity.ip_pool_free_min: '5' is not a whole number", id="string"),
        pytest.param({"free_min": 5}, "capacity.free_min: unknown key", id="unknown key"),
    ],
)
def test_a_bad_threshold_stops_the_run_naming_its_field(tmp_path: Path, section: dict, expected: str) -> None:
    data = example_data()
    data["capacity"] = section
    with pytest.raises(InventoryError) as caught:
        load_inventory(write(tmp_path, data))
    assert any(expected in line for line in caught.value.problems), caught.value.problems
