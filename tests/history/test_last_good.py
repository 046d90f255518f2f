"""record_run moves last-good only to a finished healthy run of the whole catalogue."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.history.crafted import HEALTHY, entry, summary, write_run
from wcp_acceptance.report.history import is_good, record_run

FAILED = [*HEALTHY, entry("WCP-DLB-001", "supervisor-1", "failed")]


def last_good(site: Path) -> str | None:
    link = site / "last-good"
    return os.readlink(link) if link.is_symlink() else None


def test_a_healthy_full_run_becomes_last_good_with_a_relative_link(tmp_path: Path) -> None:
    site = tmp_path / "site-a"
    run = write_run(site, "20261125T020000Z", summary(HEALTHY))
    done = record_run(run, summary(HEALTHY))
    assert done.moved
    assert done.problems == []
    assert last_good(site) == "20261125T020000Z"  # relative: the folder can move or be copied
    assert (site / "last-good").resolve() == run.resolve()
    assert sorted(p.name for p in site.iterdir()) == ["20261125T020000Z", "index.html", "last-good"]  # no temp left


@pytest.mark.parametrize(("why", "data"), [
    ("unhealthy", summary(FAILED)),
    ("could not observe", summary([*HEALTHY, entry("WCP-DLB-001", "supervisor-1", "error")])),
    ("partial scope", summary(HEALTHY, full=False, markers="dns")),
    ("still running", summary(HEALTHY, state="running")),
    ("orphaned", summary(HEALTHY, state="orphaned")),
    ("interrupted", summary(HEALTHY, interrupted_by="SIGTERM")),
    ("not reached", summary([*HEALTHY, entry("WCP-DLB-001", "supervisor-1", "not_run")])),
])
def test_no_other_run_moves_last_good(tmp_path: Path, why: str, data: dict) -> None:
    site = tmp_path / "site-a"
    good = write_run(site, "20261125T020000Z", summary(HEALTHY))
    record_run(good, summary(HEALTHY))
    later = write_run(site, "20261126T020000Z", data)
    if why in ("still running", "orphaned", "interrupted"):
        data["verdict"] = "HEALTHY"  # even a summary that claims HEALTHY: the state decides
    assert not is_good(data)
    done = record_run(later, data)
    assert not done.moved
    assert last_good(site) == "20261125T020000Z", why


def test_an_older_run_that_finishes_late_does_not_move_last_good_back(tmp_path: Path) -> None:
    site = tmp_path / "site-a"
    newer = write_run(site, "20261126T020000Z", summary(HEALTHY))
    record_run(newer, summary(HEALTHY))
    older = write_run(site, "20261125T020000Z", summary(HEALTHY))
    assert not record_run(older, summary(HEALTHY)).moved
    assert last_good(site) == "20261126T020000Z"
    # a dangling last-good (its run deleted by hand) is replaced
    (site / "last-good").unlink()
    (site / "last-good").symlink_to("20261101T000000Z")
    assert record_run(older, summary(HEALTHY)).moved


def test_the_index_is_refreshed_and_a_site_folder_that_cannot_be_written_is_a_problem_not_a_crash(
        tmp_path: Path) -> None:
    site = tmp_path / "site-a"
    run = write_run(site, "20261125T020000Z", summary(FAILED))
    done = record_run(run, summary(FAILED))
    assert done.index == site / "index.html"
    assert "20261125T020000Z" in done.index.read_text()
    done.index.unlink()
    done.index.mkdir()  # something in the way that even root cannot replace with a file
    again = record_run(run, summary(FAILED))
    assert again.index is None
    assert len(again.problems) == 1
    assert "index.html" in again.problems[0]
