"""Where a run writes: ``<report dir>/<inventory name>/<UTC timestamp>/`` and a ``latest`` link."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path


def utc_stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


@dataclass(frozen=True)
class RunDir:
    path: Path

    @property
    def html(self) -> Path:
        return self.path / "report.html"

    @property
    def junit(self) -> Path:
        return self.path / "junit.xml"

    @property
    def summary(self) -> Path:
        return self.path / "summary.json"

    @classmethod
    def create(cls, root: Path, inventory_name: str, started: datetime) -> RunDir:
        """Make a fresh directory for this run (a suffix keeps two runs in one second apart)."""
        base = root / inventory_name
        base.mkdir(parents=True, exist_ok=True)
        stamp = utc_stamp(started)
        for n in range(100):
            path = base / (stamp if n == 0 else f"{stamp}-{n}")
            try:
                path.mkdir()
            except FileExistsError:
                continue
            return cls(path)
        raise FileExistsError(f"no free run directory under {base}")

    def link_latest(self) -> Path:
        """Point ``<inventory>/latest`` at this run (relative link, replaced atomically)."""
        link = self.path.parent / "latest"
        tmp = self.path.parent / f".latest.{os.getpid()}"
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        tmp.symlink_to(self.path.name)
        tmp.replace(link)
        return link
