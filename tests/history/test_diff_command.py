"""``wcp-acceptance diff A B``: run folders, latest/last-good links or summary files; the exit code is the gate's."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.history.crafted import HEALTHY, entry, link, summary, write_run
from wcp_acceptance.cli import main

ROOT = Path(__file__).resolve().parents[2]
DLB = ("WCP-DLB-001", "supervisor-1")


def site_with(tmp_path: Path, *outcomes: str) -> Path:
    """One run per outcome of WCP-DLB-001, a day apart; last-good on the first healthy one, latest on the last."""
    site = tmp_path / "site-a"
    for day, outcome in enumerate(outcomes, start=1):
        run = write_run(site, f"202611{day:02d}T020000Z", summary([*HEALTHY, entry(*DLB, outcome)]))
        link(site, "latest", run)
        if outcome == "passed" and not (site / "last-good").exists():
            link(site, "last-good", run)
    return site


def test_a_new_failure_between_two_run_folders_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    site = site_with(tmp_path, "passed", "failed")
    code = main(["diff", str(site / "20261101T020000Z"), str(site / "20261102T020000Z")])
    out = capsys.readouterr().out
    assert code == 1
    assert "since 20261101T020000Z: 1 new failure, 0 fixed, 0 still failing" in out
    assert "  WCP-DLB-001 [supervisor-1] passed -> failed: a cause" in out


def test_the_links_name_runs_and_the_same_failure_again_is_nothing_worse(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    site = site_with(tmp_path, "passed", "failed", "failed")
    assert main(["diff", str(site / "20261102T020000Z"), str(site / "latest")]) == 0
    assert "1 still failing" in capsys.readouterr().out
    assert main(["diff", str(site / "last-good"), str(site / "latest")]) == 1
    assert "since last-good (20261101T020000Z):" in capsys.readouterr().out


def test_summary_files_and_json_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    site = site_with(tmp_path, "failed", "passed")
    code = main(["diff", "--format", "json", str(site / "20261101T020000Z" / "summary.json"),
                 str(site / "20261102T020000Z" / "summary.json")])
    data = json.loads(capsys.readouterr().out)
    assert code == data["exit_code"] == 0
    assert [(c["check_id"], c["target"]) for c in data["fixed"]] == [DLB]
    assert data["new_failures"] == []
    assert data["verdict"] == "nothing worse"


def test_flapping_comes_from_the_site_history_of_the_later_run(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    site = site_with(tmp_path, "passed", "failed", "passed", "failed", "failed")
    assert main(["diff", str(site / "20261104T020000Z"), str(site / "latest")]) == 0
    out = capsys.readouterr().out
    assert "flapping (turned at least twice over the recent runs) (1):" in out
    assert "WCP-DLB-001 [supervisor-1] flapped: turned 3 times over the last 5 runs" in out
    assert main(["diff", "--window", "2", str(site / "20261104T020000Z"), str(site / "latest")]) == 0
    assert "flapping" not in capsys.readouterr().out


def test_a_run_that_did_not_finish_cannot_tell(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    site = site_with(tmp_path, "passed")
    killed = write_run(site, "20261102T020000Z", summary([*HEALTHY, entry(*DLB, "not_run")], state="orphaned"))
    assert main(["diff", str(site / "20261101T020000Z"), str(killed)]) == 3
    assert capsys.readouterr().out.splitlines()[-1].startswith("cannot tell (exit 3)")


@pytest.mark.parametrize(("make", "reason"), [
    (lambda d: d / "nowhere", "no such run folder or summary file"),
    (lambda d: write_run(d, "20261109T020000Z", None), "has no summary.json"),
    (lambda d: (d / "broken.json", (d / "broken.json").write_text("{"))[0], "not JSON"),
    (lambda d: (d / "other.json", (d / "other.json").write_text('{"tests": 3}'))[0], "not a wcp-acceptance summary"),
])
def test_unreadable_input_exits_4_and_says_which_file_and_why(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], make, reason: str) -> None:
    site = site_with(tmp_path, "passed")
    bad = make(site)
    assert main(["diff", str(site / "latest"), str(bad)]) == 4
    err = capsys.readouterr().err
    assert err.startswith("wcp-acceptance diff: ")
    assert str(bad.name) in err
    assert reason in err


def test_the_installed_command_exits_with_the_diff_code(tmp_path: Path) -> None:
    site = site_with(tmp_path, "passed", "failed")
    done = subprocess.run([sys.executable, "-m", "wcp_acceptance", "diff", str(site / "20261101T020000Z"),
                           str(site / "latest")], capture_output=True, text=True, cwd=ROOT, timeout=60, check=False)
    assert done.returncode == 1, done.stderr
    assert "1 new failure" in done.stdout
    usage = subprocess.run([sys.executable, "-m", "wcp_acceptance", "diff", "--help"], capture_output=True,
                           text=True, cwd=ROOT, timeout=60, check=False)
    assert "0 nothing worse; 1 worse; 3 cannot tell; 4 unreadable input; 2 bad usage" in " ".join(usage.stdout.split())
