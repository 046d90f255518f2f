"""A site's history: the run folders under ``<report root>/<site>/``, ``last-good`` and the site's index.

``last-good`` moves only to a run that finished its report with verdict HEALTHY over the full
scope (no ``-m``/``-k``/``--check``, nothing deselected, nothing left unrun); a running, orphaned,
interrupted, partial or unhealthy run never becomes the last good one, and an older run that
finishes after a newer good one does not move it back.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wcp_acceptance.report.index_html import INDEX, write_index
from wcp_acceptance.report.run import run_order
from wcp_acceptance.report.site_runs import LAST_GOOD, RunEntry, link_target, site_runs
from wcp_acceptance.report.trend import TREND_RUNS

__all__ = ["INDEX", "LAST_GOOD", "Recorded", "RunEntry", "is_good", "link_last_good", "record_run", "site_runs"]


def is_good(summary: Mapping[str, Any]) -> bool:
    """A healthy run of the whole catalogue that finished its report."""
    scope = summary.get("scope") or {}
    return (summary.get("state", "finished") == "finished" and summary.get("verdict") == "HEALTHY"
            and isinstance(scope, Mapping) and scope.get("full") is True and not summary.get("interrupted_by"))


def link_last_good(run_path: Path) -> Path:
    """Point ``<site>/last-good`` at ``run_path`` (relative link, replaced atomically)."""
    link = run_path.parent / LAST_GOOD
    tmp = run_path.parent / f".{LAST_GOOD}.{os.getpid()}"
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    tmp.symlink_to(run_path.name)
    tmp.replace(link)
    return link


@dataclass(frozen=True)
class Recorded:
    """What :func:`record_run` did: where ``last-good`` points now, the index it wrote, what went wrong."""

    last_good: Path | None
    moved: bool
    index: Path | None
    problems: list[str] = field(default_factory=list)


def record_run(run_path: Path, summary: Mapping[str, Any], *, window: int = TREND_RUNS) -> Recorded:
    """After a run finished its summary: move ``last-good`` if it was a healthy full run, refresh the index.

    Never raises for the site's folder: a problem (a read-only folder, a full disk) is returned, so the
    run's own verdict and exit code stay the suite's."""
    site_dir = run_path.parent
    problems: list[str] = []
    current = link_target(site_dir, LAST_GOOD)
    moved = False
    if is_good(summary) and (current is None or run_order(run_path.name) > run_order(current.name)):
        try:
            link_last_good(run_path)
            current, moved = run_path, True
        except OSError as exc:
            problems.append(f"cannot move {site_dir / LAST_GOOD}: {exc}")
    index: Path | None = None
    try:
        index = write_index(site_dir, site_runs(site_dir), window=window)
    except OSError as exc:
        problems.append(f"cannot write {site_dir / INDEX}: {exc}")
    return Recorded(current, moved, index, problems)
