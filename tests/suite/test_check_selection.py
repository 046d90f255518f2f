"""Selecting by check id (--check, -k) and listing the catalogue, as a user runs the suite."""

from __future__ import annotations

from pathlib import Path

from tests.support.inventories import EXAMPLE, EXAMPLE_ENV
from tests.support.run_suite import run_suite
from wcp_acceptance import catalogue


def collected(*args: str, tmp_path: Path) -> list[str]:
    result = run_suite(["--inventory", str(EXAMPLE), "--collect-only", "-q", *args], env=EXAMPLE_ENV)
    assert result.exit_code == 0, result.stdout + result.stderr
    return [line for line in result.stdout.splitlines() if line.startswith("tests_live/")]


def test_k_with_a_check_id_selects_that_checks_targets(tmp_path: Path) -> None:
    ids = collected("-k", "WCP-DNS-001", tmp_path=tmp_path)
    assert ids
    assert all("test_dns.py::test_name_resolves[" in i for i in ids)


def test_check_selects_by_id_list_and_glob(tmp_path: Path) -> None:
    vip = collected("--check", "WCP-VIP-*", tmp_path=tmp_path)
    assert vip
    assert all("test_apiserver_vip.py" in i for i in vip)
    two = collected("--check", "WCP-DLB-001,WCP-NCP-001", tmp_path=tmp_path)
    assert len(two) == 2


def test_area_markers_come_from_the_catalogue(tmp_path: Path) -> None:
    for area in catalogue.AREAS:
        ids = collected("-m", area.name, tmp_path=tmp_path)
        files = {i.split("::")[0] for i in ids}
        assert ids, area.name
        assert len(files) == 1 or area.name == "egress", (area.name, files)


def test_an_unknown_check_id_is_a_usage_error() -> None:
    result = run_suite(["--inventory", str(EXAMPLE), "--check", "WCP-DNS-999"], env=EXAMPLE_ENV)
    assert result.exit_code == 4
    assert "--check: unknown check id WCP-DNS-999" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr


def test_wcp_list_prints_the_catalogue_without_an_inventory() -> None:
    result = run_suite(["--wcp-list"])
    assert result.exit_code == 0, result.stderr
    for check in catalogue.CHECKS:
        assert check.id in result.stdout
