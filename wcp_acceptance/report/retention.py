"""Retention: which run folders of a site to delete, by count and/or age (no pytest here).

Never deleted: the runs ``latest`` and ``last-good`` point at, the run that is pruning, and any run
that may still be running (its running marker names a live process, or its folder is fresh and
empty). Only folders named like runs (``20261125T020000Z``) are ever touched.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from wcp_acceptance.report.site_runs import LINKS, RunEntry, link_target, site_runs


@dataclass(frozen=True)
class Retention:
    """Keep the newest ``keep_runs`` runs and/or the runs of the last ``keep_days`` days (None: no limit)."""

    keep_runs: int | None = None
    keep_days: float | None = None

    @property
    def limited(self) -> bool:
        return self.keep_runs is not None or self.keep_days is not None


def expired(runs: list[RunEntry], policy: Retention, *, now: datetime, protected: set[Path]) -> list[RunEntry]:
    """The runs (newest first, as :func:`site_runs` lists them) that the policy lets go."""
    cutoff = now - timedelta(days=policy.keep_days) if policy.keep_days is not None else None
    out = []
    for n, run in enumerate(runs):
        if run.path.resolve() in protected or run.may_be_running:
            continue
        too_many = policy.keep_runs is not None and n >= policy.keep_runs
        started = run.started
        too_old = cutoff is not None and started is not None and started < cutoff
        if too_many or too_old:
            out.append(run)
    return out


def prune(site_dir: Path, policy: Retention, *, current: Path | None = None, now: datetime | None = None,
          ) -> list[Path]:
    """Delete the site's runs the policy lets go; returns the deleted folders (oldest last)."""
    if not policy.limited:
        return []
    protected = {t.resolve() for name in LINKS if (t := link_target(site_dir, name)) is not None}
    if current is not None:
        protected.add(current.resolve())
    removed = []
    for run in expired(site_runs(site_dir), policy, now=now or datetime.now(UTC), protected=protected):
        if run.path.is_symlink() or not run.path.is_dir():
            continue
        shutil.rmtree(run.path, ignore_errors=True)
        if not run.path.exists():
            removed.append(run.path)
    return removed
