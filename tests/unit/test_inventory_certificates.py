"""The certificate thresholds (WCP-CERT-001): defaults, whole numbers only, fail_days below warn_days."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.inventories import EXAMPLE, EXAMPLE_ENV, example_data, write
from wcp_acceptance.inventory import InventoryError, load_inventory


@pytest.fixture(autouse=True)
def _example_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in EXAMPLE_ENV.items():
        monkeypatch.setenv(key, value)


def test_the_example_states_the_defaults() -> None:
    certificates = load_inventory(EXAMPLE).certificates
    assert (certificates.warn_days, certificates.fail_days) == (30, 7)


def test_without_the_section_the_defaults_hold(tmp_path: Path) -> None:
    data = example_data()
    data.pop("certificates", None)
    certificates = load_inventory(write(tmp_path, data)).certificates
    assert (certificates.warn_days, certificates.fail_days) == (30, 7)


def test_chosen_thresholds_are_kept(tmp_path: Path) -> None:
    data = example_data()
    data["certificates"] = {"warn_days": 60, "fail_days": 14}
    certificates = load_inventory(write(tmp_path, data)).certificates
    assert (certificates.warn_days, certificates.fail_days) == (60, 14)


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        pytest.param({"warn_days": 7, "fail_days": 7}, "certificates.fail_days: 7 must be less than warn_days (7)",
                     id="fail equal to warn"),
        pytest.param({"warn_days": 10, "fail_days": 20}, "certificates.fail_days: 20 must be less than warn_days (10)",
                     id="fail above warn"),
        pytest.param({"fail_days": 30}, "certificates.fail_days: 30 must be less than warn_days (30)",
                     id="fail at the default warn"),
        pytest.param({"warn_days": "30"}, "certificates.warn_days: '30' is not a whole number", id="string"),
        pytest.param({"warn_days": 30.5}, "certificates.warn_days: 30.5 is not a whole number", id="float"),
        pytest.param({"fail_days": True}, "certificates.fail_days: True is not a whole number", id="boolean"),
        pytest.param({"fail_days": -1}, "certificates.fail_days: Input should be greater than or equal to 0",
                     id="negative"),
        pytest.param({"warn_days": 0}, "certificates.warn_days: Input should be greater than or equal to 1",
                     id="zero warn"),
        pytest.param({"warn": 30}, "certificates.warn: unknown key", id="unknown key"),
    ],
)
def test_a_bad_threshold_stops_the_run_naming_its_field(tmp_path: Path, section: dict, expected: str) -> None:
    data = example_data()
    data["certificates"] = section
    with pytest.raises(InventoryError) as caught:
        load_inventory(write(tmp_path, data))
    assert any(expected in line for line in caught.value.problems), caught.value.problems
