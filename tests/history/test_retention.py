"""Retention by count and by age never deletes latest, last-good, the current run or a running one."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from tests.history.crafted import HEALTHY, entry, link, summary, write_run
from wcp_acceptance.report.retention import Retention, prune
from wcp_acceptance.report.run import RunDir, Runner

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def site_with_runs(tmp_path: Path, days: range) -> Path:
    site = tmp_path / "site-a"
    for day in days:
        write_run(site, f"202611{day:02d}T020000Z", summary(HEALTHY))
    return site


def names(site: Path) -> list[str]:
    return sorted(p.name for p in site.iterdir())


def test_nothing_is_deleted_without_a_limit(tmp_path: Path) -> None:
    site = site_with_runs(tmp_path, range(1, 6))
    assert prune(site, Retention(), now=NOW) == []
    assert len(names(site)) == 5


def test_keep_runs_keeps_the_newest_and_what_the_links_name(tmp_path: Path) -> None:
    site = site_with_runs(tmp_path, range(1, 11))
    link(site, "last-good", site / "20261102T020000Z")
    link(site, "latest", site / "20261110T020000Z")
    (site / "notes").mkdir()  # not a run folder: never touched
    write_run(site, "20261103T020000Z-1", summary(HEALTHY))  # a second run in the same second
    removed = prune(site, Retention(keep_runs=3), now=NOW)
    assert {p.name for p in removed} == {"20261101T020000Z", "20261103T020000Z", "20261103T020000Z-1",
                                         "20261104T020000Z", "20261105T020000Z", "20261106T020000Z",
                                         "20261107T020000Z"}
    assert names(site) == ["20261102T020000Z", "20261108T020000Z", "20261109T020000Z", "20261110T020000Z",
                           "last-good", "latest", "notes"]


def test_keep_days_deletes_what_started_before_the_cutoff(tmp_path: Path) -> None:
    site = site_with_runs(tmp_path, range(20, 31))
    removed = prune(site, Retention(keep_days=7), now=NOW)
    assert sorted(p.name for p in removed) == [f"202611{d}T020000Z" for d in range(20, 24)]
    both = prune(site, Retention(keep_runs=2, keep_days=30), now=NOW)  # either limit lets a run go
    assert len(both) == 5
    assert len(names(site)) == 2


def test_a_running_run_and_the_current_run_are_never_deleted(tmp_path: Path) -> None:
    site = site_with_runs(tmp_path, range(1, 4))
    going = write_run(site, "20261104T020000Z", summary([entry("WCP-DNS-001", "x")], state="running"))
    RunDir(going).mark_running(Runner.current(), NOW)
    fresh = site / "20261105T020000Z"
    fresh.mkdir()  # a run that has just made its folder: no marker, no summary yet
    current = site / "20261101T020000Z"
    removed = prune(site, Retention(keep_days=1), now=NOW, current=current)
    assert {p.name for p in removed} == {"20261102T020000Z", "20261103T020000Z"}
    assert names(site) == ["20261101T020000Z", "20261104T020000Z", "20261105T020000Z"]


def test_an_orphaned_run_is_deleted_like_any_other(tmp_path: Path) -> None:
    site = tmp_path / "site-a"
    write_run(site, "20261101T020000Z", summary([entry("WCP-DNS-001", "x", "not_run")], state="orphaned"))
    write_run(site, "20261102T020000Z", summary(HEALTHY))
    assert [p.name for p in prune(site, Retention(keep_runs=1), now=NOW)] == ["20261101T020000Z"]
