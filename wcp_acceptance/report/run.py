"""Where a run writes: ``<report dir>/<inventory name>/<UTC timestamp>/``, its running marker and ``latest``.

A run folder holds a ``.running`` marker (who runs it: host, pid, boot id, process start) from the
moment the run starts until its report is finished. A folder whose marker names a process that is
gone (killed with SIGKILL, a crash, a reboot) is an *orphan*: the next run of the site marks its
summary ``state: "orphaned"`` and removes the marker. ``latest`` points at the newest run that
finished its report (normally or interrupted by a signal), never at a running or orphaned one.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from wcp_acceptance.redact import redact
from wcp_acceptance.report.summary import write_json
from wcp_acceptance.report.verdict import totals

MARKER = ".running"
LINKS = ("latest", "last-good")
_STAMP = re.compile(r"^(\d{8}T\d{6}Z)(?:-(\d+))?$")


def utc_stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def run_order(name: str) -> tuple[str, int]:
    """Sort key of a run folder name (``20261125T020000Z``, then ``-1``, ``-2`` ... ``-10``)."""
    match = _STAMP.match(name)
    return (match.group(1), int(match.group(2) or 0)) if match else ("", -1)


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def write_text_atomic(path: Path, text: str) -> Path:
    """A reader (or a kill) never sees half a file: write beside it, then rename over it."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(redact(text), encoding="utf-8")
    tmp.replace(path)
    return path


# -- who runs a run ---------------------------------------------------------------------------


def boot_id() -> str | None:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip() or None
    except OSError:
        return None


def process_start(pid: int) -> int | None:
    """When ``pid`` started (clock ticks since boot, /proc/<pid>/stat field 22); None if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[-1].split()
    try:
        return int(fields[19])  # field 22 of the whole line; fields[0] is field 3 (the state)
    except (IndexError, ValueError):
        return None


@dataclass(frozen=True)
class Runner:
    """The process running a suite run, precisely enough to tell later whether it still exists."""

    host: str
    pid: int
    boot_id: str | None
    process_start: int | None

    @classmethod
    def current(cls) -> Runner:
        pid = os.getpid()
        return cls(socket.gethostname(), pid, boot_id(), process_start(pid))

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Runner | None:
        try:
            return cls(str(data["host"]), int(data["pid"]), data.get("boot_id"), data.get("process_start"))
        except (KeyError, TypeError, ValueError):
            return None


def why_gone(runner: Runner) -> str | None:
    """Why the run of ``runner`` can no longer be running; None while it may still run (or it ran on
    another host, where this machine cannot tell)."""
    if runner.host != socket.gethostname():
        return None
    now_boot = boot_id()
    if runner.boot_id and now_boot and runner.boot_id != now_boot:
        return f"the run's process (pid {runner.pid}) was on an earlier boot of {runner.host}: the machine restarted"
    started = process_start(runner.pid)
    if started is None:
        return f"the run's process (pid {runner.pid}) no longer exists: it was killed (SIGKILL, a crash) " \
               "before it finished its report"
    if runner.process_start is not None and started != runner.process_start:
        return f"pid {runner.pid} now belongs to another process: the run's own process is gone"
    return None


# -- one run folder ---------------------------------------------------------------------------


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

    @property
    def marker(self) -> Path:
        return self.path / MARKER

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

    def read_summary(self) -> dict[str, Any] | None:
        return _read_json(self.summary)

    def mark_running(self, runner: Runner, started: datetime) -> None:
        write_json(self.marker, {**runner.as_json(), "started_at": started.isoformat(timespec="seconds")})

    def running_marker(self) -> dict[str, Any] | None:
        return _read_json(self.marker)

    def clear_running(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.marker.unlink()

    def report_finished(self) -> bool:
        """Did this run finish its report (normally, or interrupted and reported)?"""
        data = self.read_summary()
        return data is not None and not self.marker.exists() and data.get("state", "finished") == "finished"

    def link_latest(self) -> Path:
        """Point ``<inventory>/latest`` at this run (relative link, replaced atomically), unless it already
        points at a newer run that finished its report (two runs of a site that overlap)."""
        link = self.path.parent / "latest"
        with contextlib.suppress(OSError):
            current = os.readlink(link)
            if current != self.path.name and run_order(current) > run_order(self.path.name) \
                    and RunDir(self.path.parent / current).report_finished():
                return link
        tmp = self.path.parent / f".latest.{os.getpid()}"
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        tmp.symlink_to(self.path.name)
        tmp.replace(link)
        return link


# -- orphans ----------------------------------------------------------------------------------

EMPTY_AFTER_S = 600.0  # a folder with neither marker nor summary this old was left by a run that died at once


@dataclass(frozen=True)
class Orphan:
    run_dir: RunDir
    reason: str


def run_dirs(site_dir: Path) -> Iterator[RunDir]:
    """The run folders of one site (not the links, not dot files), oldest first."""
    try:
        entries = [p for p in site_dir.iterdir() if p.name not in LINKS and not p.name.startswith(".")]
    except OSError:
        return
    for path in sorted(entries, key=lambda p: run_order(p.name)):
        if path.is_dir() and not path.is_symlink():
            yield RunDir(path)


def find_orphans(site_dir: Path, *, skip: Path | None = None, now: float | None = None) -> list[Orphan]:
    """Run folders of the site whose run can no longer finish: its marker names a process that is gone,
    or the folder has been empty for :data:`EMPTY_AFTER_S`. Cheap: one stat per finished run."""
    moment = now if now is not None else datetime.now(UTC).timestamp()
    found: list[Orphan] = []
    for run_dir in run_dirs(site_dir):
        if skip is not None and run_dir.path == skip:
            continue
        if run_dir.marker.exists():
            marker = run_dir.running_marker() or {}
            runner = Runner.from_json(marker)
            reason = why_gone(runner) if runner else "its running marker is unreadable"
            if reason:
                found.append(Orphan(run_dir, reason))
        elif not run_dir.summary.exists():
            try:
                age = moment - run_dir.path.stat().st_mtime
            except OSError:
                continue
            if age >= EMPTY_AFTER_S:
                found.append(Orphan(run_dir, "the run stopped before it wrote anything (killed at its start)"))
    return found


def orphaned_summary(orphan: Orphan, site: str, *, detected_by: Runner) -> dict[str, Any]:
    """The orphan's last summary (what it had written while running), marked as orphaned."""
    data = orphan.run_dir.read_summary() or {
        "schema_version": 2, "inventory": site, "started_at": None, "exit_code": None, "totals": totals([]),
        "tests": [], "read_only": True}
    data.update({
        "state": "orphaned",
        "verdict": "INCOMPLETE",
        "finished_at": None,
        "orphaned": {"reason": orphan.reason,
                     "detected_at": datetime.now(UTC).isoformat(timespec="seconds"),
                     "detected_by_pid": detected_by.pid},
    })
    return data
