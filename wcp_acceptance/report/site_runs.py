"""Reading a site's runs: the run folders under ``<report root>/<site>/`` and their summary.json (no pytest here).

A run folder is named by its UTC start (``20261125T020000Z``, ``-1`` when two start in one second),
so names sort in time order. ``latest`` and ``last-good`` are relative links beside them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from wcp_acceptance.report.run import EMPTY_AFTER_S, LINKS, RunDir, Runner, run_dirs, run_order, why_gone

SUMMARY = "summary.json"
LATEST, LAST_GOOD = LINKS


class SummaryError(Exception):
    """A run or summary that cannot be read: says which file and why."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


def read_summary(path: Path) -> dict[str, Any]:
    """The summary.json at ``path`` (a run folder, a link to one, or the file); SummaryError if unreadable."""
    file = path / SUMMARY if path.is_dir() else path
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SummaryError(file, "no such file" if not path.is_dir() else "the run folder has no summary.json "
                           "(the run is still going, or was killed before it wrote one)") from None
    except OSError as exc:
        raise SummaryError(file, f"cannot read it ({exc.strerror or exc})") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SummaryError(file, f"not JSON ({exc})") from None
    tests = data.get("tests") if isinstance(data, dict) else None
    if not isinstance(tests, list):
        raise SummaryError(file, "not a wcp-acceptance summary (no list of tests)")
    for n, test in enumerate(tests):
        if not isinstance(test, dict) or not all(isinstance(test.get(k), str) for k in ("check_id", "target",
                                                                                          "outcome")):
            raise SummaryError(file, f"tests[{n}] has no check_id, target and outcome")
    return data


def started_of(name: str) -> datetime | None:
    stamp, _ = run_order(name)
    return datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC) if stamp else None


@dataclass(frozen=True)
class RunEntry:
    """One run folder of a site, with its summary if it could be read."""

    path: Path
    summary: dict[str, Any] | None
    problem: str | None = None

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def started(self) -> datetime | None:
        return started_of(self.name)

    @property
    def state(self) -> str:
        """``finished``, ``running``, ``orphaned`` (as the summary says), or ``unreadable``."""
        return str(self.summary.get("state") or "finished") if self.summary is not None else "unreadable"

    @property
    def finished(self) -> bool:
        """The run finished its report: its summary says so and no running marker is left."""
        return self.state == "finished" and not RunDir(self.path).marker.exists()

    @property
    def verdict(self) -> str:
        if self.summary is None:
            return "UNKNOWN"
        return str(self.summary.get("verdict") or "UNKNOWN") if self.finished else "INCOMPLETE"

    def gone(self) -> str | None:
        """Why an unfinished run can no longer finish; None while it may still be running."""
        marker = RunDir(self.path).running_marker()
        if marker is not None:
            runner = Runner.from_json(marker)
            return why_gone(runner) if runner else "its running marker is unreadable"
        if self.summary is not None:
            return "it left no running marker"
        try:
            age = datetime.now(UTC).timestamp() - self.path.stat().st_mtime
        except OSError:
            return "its folder cannot be read"
        return "it stopped before it wrote anything" if age >= EMPTY_AFTER_S else None

    @property
    def may_be_running(self) -> bool:
        return not self.finished and self.state != "orphaned" and self.gone() is None

    @property
    def state_text(self) -> str:
        """The state as a person reads it: ``finished``, ``running``, ``orphaned: <why>``, ..."""
        if self.finished:
            return "finished"
        if self.state == "orphaned":
            why = (self.summary or {}).get("orphaned")
            return f"orphaned: {why['reason']}" if isinstance(why, dict) and why.get("reason") else "orphaned"
        gone = self.gone()
        if gone is None:
            return "running"
        if self.summary is None:
            return f"no readable summary ({self.problem}); {gone}"
        return f"{self.state}, but {gone}"


def site_runs(site_dir: Path) -> list[RunEntry]:
    """Every run folder of the site, newest first (links, hidden files and other folders are not runs)."""
    runs: list[RunEntry] = []
    for run_dir in reversed(list(run_dirs(site_dir))):
        if not run_order(run_dir.path.name)[0]:
            continue
        try:
            runs.append(RunEntry(run_dir.path, read_summary(run_dir.path)))
        except SummaryError as exc:
            runs.append(RunEntry(run_dir.path, None, exc.reason))
    return runs


def link_target(site_dir: Path, link: str) -> Path | None:
    """The run folder ``<site>/<link>`` points at, if the link exists and points at a folder."""
    path = site_dir / link
    if not path.is_symlink():
        return None
    target = path.resolve()
    return target if target.is_dir() else None


@dataclass(frozen=True)
class ResolvedRun:
    """A run named on a command line: its summary, its folder (when it has one) and a label for messages."""

    summary: dict[str, Any]
    run_dir: Path | None
    label: str


def resolve_run(spec: str, *, site_dir: Path | None = None) -> ResolvedRun:
    """A run folder, a ``latest``/``last-good`` link, or a summary.json file; a bare name is looked up in
    ``site_dir`` too (so ``last-good`` and ``20261125T020000Z`` work from anywhere). SummaryError if not."""
    path = Path(spec).expanduser()
    if not path.exists() and site_dir is not None and not path.is_absolute() and len(path.parts) == 1:
        path = site_dir / spec
    if not path.exists():
        where = f" (nor in {site_dir})" if site_dir is not None else ""
        raise SummaryError(path, f"no such run folder or summary file{where}")
    summary = read_summary(path)
    run_dir = path.resolve() if path.is_dir() else (path.resolve().parent if path.name == SUMMARY else None)
    name = path.name if path.is_dir() else (path.resolve().parent.name if path.name == SUMMARY else path.name)
    label = name
    if name in LINKS and run_dir is not None:
        label = f"{name} ({run_dir.name})"
    return ResolvedRun(summary, run_dir, label)
