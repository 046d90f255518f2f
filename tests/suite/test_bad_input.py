"""Bad inventory or options stop the run before any test, with exit 4 and no traceback."""

from __future__ import annotations

from pathlib import Path

from tests.support.inventories import EXAMPLE_ENV, example_data, write
from tests.support.run_suite import run_suite


def test_a_bad_inventory_exits_4_with_one_line_per_problem(tmp_path: Path) -> None:
    data = example_data()
    data["supervisor"]["control_plane"][1]["interfaces"]["eth1"]["address"] = "10.244.0.300/28"
    data["supervisor"]["control_plane"][2]["name"] = "cp-1"
    data["nsx"]["password"] = {"env": "WCP_NSX_PASSWORD_UNSET"}
    path = write(tmp_path, data)
    result = run_suite(["--inventory", str(path), "--report-dir", str(tmp_path / "reports")], env=EXAMPLE_ENV)
    assert result.exit_code == 4, result.stdout + result.stderr
    output = result.stdout + result.stderr
    assert f"{path}: supervisor.control_plane[1].interfaces.eth1.address: '10.244.0.300/28'" in output
    assert f"{path}: supervisor.control_plane[2].name: duplicate VM name 'cp-1'" in output
    assert f"{path}: nsx.password: environment variable WCP_NSX_PASSWORD_UNSET is not set" in output
    assert "Traceback" not in output
    assert not (tmp_path / "reports").exists() or not any((tmp_path / "reports").rglob("*.html"))


def test_no_inventory_is_a_usage_error(tmp_path: Path) -> None:
    result = run_suite(["--report-dir", str(tmp_path)])
    assert result.exit_code == 4
    assert "no inventory: give --inventory FILE, WCP_INVENTORY=FILE or ini wcp_inventory" in result.stderr


def test_the_inventory_can_come_from_the_environment(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.yaml"
    result = run_suite(["--report-dir", str(tmp_path)], env={"WCP_INVENTORY": str(missing)})
    assert result.exit_code == 4
    assert f"{missing}: cannot read inventory" in result.stderr
