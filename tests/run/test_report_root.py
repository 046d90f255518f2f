"""The run's front door: ``--inventory`` alone runs the suite (never the project's own tests), with ``=`` or a
space, from any working directory, and reports go to the same root wherever the run starts (cron starts in
$HOME)."""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab.sim.stack import SimStack
from tests.run.suite_process import ROOT, read_summary, run_pytest
from wcp_acceptance import paths


@pytest.fixture
def elsewhere(tmp_path: Path) -> Path:
    """A working directory outside the checkout, holding nothing but the inventory (as $HOME would)."""
    cwd = tmp_path / "home"
    cwd.mkdir()
    return cwd


@pytest.fixture
def unique_site(write_inventory, stack: SimStack, elsewhere: Path) -> Iterator[tuple[str, Path]]:
    """An inventory outside the repository, for a site name no one else uses (its reports are removed after)."""
    name = f"root-{secrets.token_hex(4)}"
    source = write_inventory("site.yaml", name=name,
                             nsx={"password": {"file": str(stack.workdir / "nsx-password")}},
                             vcenter={"password": {"file": str(stack.workdir / "vc-password")}})
    inventory = elsewhere / "site.yaml"
    shutil.copy(source, inventory)
    yield name, inventory
    shutil.rmtree(ROOT / "reports" / name, ignore_errors=True)
    for left in (ROOT / "reports").glob(f"*{name}*"):  # what the run wrote beside the site folder (metrics)
        left.unlink()


def test_inventory_with_a_space_from_another_directory_runs_the_suite_and_reports_to_the_default_root(
        unique_site: tuple[str, Path], elsewhere: Path) -> None:
    name, _inventory = unique_site
    ended = run_pytest(["--inventory", "site.yaml", "--check", "WCP-VIP-001"], cwd=elsewhere)
    assert ended.exit_code == 0, ended.stdout[-3000:] + ended.stderr[-2000:]
    assert "unrecognized arguments" not in ended.stderr
    # the default root is the checkout's reports/, not the working directory
    assert paths.default_report_root() == ROOT / "reports"
    latest = ROOT / "reports" / name / "latest"
    summary = read_summary(latest)
    assert summary is not None
    assert summary["inventory"] == name
    assert {t["check_id"] for t in summary["tests"]} == {"WCP-VIP-001"}
    assert all("test_apiserver_vip.py::test_vip_accepts_tcp[" in t["nodeid"] for t in summary["tests"])
    # no report where cron starts (pytest's own cache aside, which -p no:cacheprovider keeps away)
    assert sorted(p.name for p in elsewhere.iterdir()) in (["site.yaml"], [".pytest_cache", "site.yaml"])
    assert ended.last_line.startswith(f"wcp-acceptance {name}: HEALTHY (partial) exit=0 ")
    assert f"report={latest.resolve()}" in ended.last_line


def test_inventory_alone_in_the_checkout_collects_only_the_live_suite(unique_site: tuple[str, Path]) -> None:
    _name, inventory = unique_site
    ended = run_pytest([f"--inventory={inventory}", "--collect-only", "-q"], cwd=ROOT)
    assert ended.exit_code == 0, ended.stdout[-3000:] + ended.stderr[-2000:]
    items = [line for line in ended.stdout.splitlines() if "::" in line]
    assert len(items) == 79  # the suite's targets for the simulators' site, not the project's own tests
    assert all("tests_live/" in item for item in items), [i for i in items if "tests_live/" not in i][:5]


def test_a_relative_report_dir_is_taken_from_the_working_directory(unique_site: tuple[str, Path],
                                                                   elsewhere: Path) -> None:
    name, _inventory = unique_site
    ended = run_pytest(["--inventory", "site.yaml", "--report-dir", "out", "--check", "WCP-VIP-001"], cwd=elsewhere)
    assert ended.exit_code == 0, ended.stdout[-3000:]
    assert read_summary(elsewhere / "out" / name / "latest") is not None
    assert not (ROOT / "reports" / name).exists()


def test_outside_a_checkout_reports_go_to_the_state_directory(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(paths, "checkout_root", lambda: None)
    monkeypatch.setattr(paths.os, "geteuid", lambda: 1000)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    assert paths.default_report_root() == tmp_path / "state" / "wcp-acceptance" / "reports"
    monkeypatch.delenv("XDG_STATE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert paths.default_report_root() == tmp_path / "home" / ".local" / "state" / "wcp-acceptance" / "reports"
    monkeypatch.setattr(paths.os, "geteuid", lambda: 0)
    assert paths.default_report_root() == Path("/var/lib/wcp-acceptance/reports")
