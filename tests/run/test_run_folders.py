"""Run folders on their own: which runs are orphans (their process is gone), and where ``latest`` points."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from wcp_acceptance.report.run import (
    EMPTY_AFTER_S,
    RunDir,
    Runner,
    boot_id,
    find_orphans,
    orphaned_summary,
    run_order,
    why_gone,
)

STARTED = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)


def dead_pid() -> int:
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    return int(proc.stdout)


def run_folder(site: Path, name: str, *, runner: Runner | None = None, summary: dict | None = None) -> RunDir:
    run = RunDir(site / name)
    run.path.mkdir(parents=True)
    if runner is not None:
        run.mark_running(runner, STARTED)
    if summary is not None:
        run.summary.write_text(json.dumps(summary))
    return run


def test_a_run_whose_process_is_gone_is_an_orphan_and_a_live_one_is_not(tmp_path: Path) -> None:
    me = Runner.current()
    gone = replace(me, pid=dead_pid())
    reused = replace(me, process_start=(me.process_start or 0) + 1)  # this pid, but not the process that ran
    rebooted = replace(me, boot_id="00000000-0000-0000-0000-000000000000")
    elsewhere = replace(gone, host=socket.gethostname() + "-other")
    assert boot_id(), "this machine tells its boot id"
    assert me.process_start, "this machine tells when a process started"
    assert why_gone(me) is None
    assert why_gone(elsewhere) is None  # another host's process cannot be judged from here
    assert why_gone(gone) == (f"the run's process (pid {gone.pid}) no longer exists: it was killed (SIGKILL, a "
                              "crash) before it finished its report")
    assert why_gone(reused) == f"pid {me.pid} now belongs to another process: the run's own process is gone"
    assert "earlier boot" in (why_gone(rebooted) or "")

    site = tmp_path / "site-a"
    run_folder(site, "20261125T010000Z", runner=gone, summary={"state": "running", "tests": [{"outcome": "passed"}]})
    run_folder(site, "20261125T010100Z", runner=reused)
    run_folder(site, "20261125T010200Z", runner=rebooted)
    run_folder(site, "20261125T010300Z", runner=me)  # still running: this process
    run_folder(site, "20261125T010400Z", runner=elsewhere)
    run_folder(site, "20261125T010500Z", summary={"state": "finished"})
    mine = run_folder(site, "20261125T010600Z", runner=gone)  # the folder of the run that looks
    unreadable = run_folder(site, "20261125T010700Z")
    unreadable.marker.write_text("{not json")
    found = {o.run_dir.path.name: o.reason for o in find_orphans(site, skip=mine.path)}
    assert set(found) == {"20261125T010000Z", "20261125T010100Z", "20261125T010200Z", "20261125T010700Z"}
    assert found["20261125T010700Z"] == "its running marker is unreadable"


def test_an_empty_folder_is_an_orphan_only_once_it_is_old(tmp_path: Path) -> None:
    site = tmp_path / "site-a"
    empty = run_folder(site, "20261125T020000Z")
    now = empty.path.stat().st_mtime
    assert find_orphans(site, now=now + 1) == []  # a run that has just made its folder
    (orphan,) = find_orphans(site, now=now + EMPTY_AFTER_S + 1)
    assert orphan.reason == "the run stopped before it wrote anything (killed at its start)"
    data = orphaned_summary(orphan, "site-a", detected_by=Runner.current())
    assert data["state"] == "orphaned"
    assert data["verdict"] == "INCOMPLETE"
    assert data["inventory"] == "site-a"
    assert data["totals"]["total"] == 0


def test_an_orphans_summary_keeps_what_it_recorded(tmp_path: Path) -> None:
    site = tmp_path / "site-a"
    recorded = {"state": "running", "verdict": "INCOMPLETE", "pid": 12, "totals": {"passed": 3},
                "tests": [{"check_id": "WCP-VIP-001", "outcome": "passed"}]}
    run_folder(site, "20261125T020000Z", runner=replace(Runner.current(), pid=dead_pid()), summary=recorded)
    (orphan,) = find_orphans(site)
    data = orphaned_summary(orphan, "site-a", detected_by=Runner.current())
    assert data["tests"] == recorded["tests"]
    assert data["totals"] == {"passed": 3}
    assert data["orphaned"]["detected_by_pid"] == os.getpid()
    assert data["orphaned"]["reason"] == orphan.reason


def test_latest_keeps_pointing_at_a_newer_finished_run_when_an_older_one_finishes_after_it(tmp_path: Path) -> None:
    site = tmp_path / "site-a"
    older = run_folder(site, "20261125T020000Z", runner=Runner.current())
    newer = run_folder(site, "20261125T020500Z", summary={"state": "finished"})
    newer.link_latest()
    older.summary.write_text(json.dumps({"state": "finished"}))
    older.clear_running()
    older.link_latest()
    assert os.readlink(site / "latest") == newer.path.name
    # a newer run that has not finished its report does not hold latest
    newest = run_folder(site, "20261125T021000Z", runner=Runner.current(), summary={"state": "running"})
    (site / "latest").unlink()
    (site / "latest").symlink_to(newest.path.name)
    older.link_latest()
    assert os.readlink(site / "latest") == older.path.name


def test_run_folders_sort_by_stamp_then_suffix() -> None:
    names = ["20261125T020000Z-10", "20261125T020000Z-2", "20261125T020001Z", "20261125T020000Z", "latest"]
    assert sorted(names, key=run_order) == ["latest", "20261125T020000Z", "20261125T020000Z-2",
                                            "20261125T020000Z-10", "20261125T020001Z"]
