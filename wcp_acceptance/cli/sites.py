"""Many sites in one invocation: ``wcp-acceptance run sites/*.yaml --jobs N``.

Each site runs as its own suite process (what ``run --inventory <site>`` execs, forked from this
runner or spawned fresh: :mod:`wcp_acceptance.cli.site_launch`), inside the site's ``runner.netns``
when it names one, at most N at a time, each writing its own report under the one report root. As
a site finishes, its own one-line summary is printed (a site that wrote no report gets its last
lines of output and a line saying so); its full output is kept in its run folder as ``output.log``.
Then the cross-site index (``<report root>/index.html``) is written and one last line sums up.

Exit code (the worst site wins): 2 interrupted (SIGTERM/SIGINT reached the runner or a site); else
4 a site's inventory (or the options) was bad; else 3 a site's run failed internally (or died); else
5 nothing was selected; else 1 a site is UNHEALTHY or INCOMPLETE; else 0 (every site HEALTHY).

SIGTERM and SIGINT are forwarded to every running site (each in its own process group, so a
terminal's Ctrl-C reaches it once); sites not started yet are not started. A site that has not
finished ``grace`` seconds later is killed. If the runner itself is killed, its sites get SIGTERM.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from wcp_acceptance.cli import site_netns
from wcp_acceptance.cli.site_launch import Launcher, Running
from wcp_acceptance.cli.site_netns import NetnsProblem, SiteSpec
from wcp_acceptance.redact import redact
from wcp_acceptance.report import sites_index

DEFAULT_JOBS = 4
DEFAULT_GRACE_S = 20.0
POLL_S = 0.05
TAIL_LINES = 20
FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
# exit codes from the most to the least urgent; anything else a site returns counts as 3 (internal error)
SEVERITY = (2, 4, 3, 5, 1, 0)
REPORT_RE = re.compile(r" report=(?P<path>.+)$")


def combined_exit(codes: Iterable[int], *, interrupted: bool = False) -> int:
    """The invocation's exit code from its sites' (a negative code: the site died of a signal)."""
    seen = {code if code in SEVERITY else 3 for code in codes}
    if interrupted:
        return 2
    return next((code for code in SEVERITY if code in seen), 5)


@dataclass
class SiteRun:
    site: SiteSpec
    log: Path
    proc: Running | None = None
    started: float = 0.0
    exit_code: int | None = None
    run_dir: Path | None = None
    verdict: str | None = None
    lines: list[str] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return time.monotonic() - self.started


def _say(line: str) -> None:
    print(redact(line), flush=True)  # noqa: T201 - the command's output


def _refusal(site: SiteSpec, earlier: dict[str, SiteSpec]) -> str | None:
    """Why the site cannot run (its name is taken, its namespace cannot be entered), or None."""
    if site.name is not None:
        if site.name in earlier:
            return (f"{site.path}: name: {site.name!r} is also the name of {earlier[site.name].path} (each "
                    "site needs a name of its own: it names the site's report folder and metrics file)")
        earlier[site.name] = site
    try:
        site_netns.check(site)
    except NetnsProblem as exc:
        return str(exc)
    return None


class SitesRunner:
    def __init__(self, sites: Sequence[SiteSpec], *, report_root: Path, jobs: int, grace_s: float,
                 launcher: Launcher) -> None:
        self.report_root = report_root
        self.launcher = launcher
        self.jobs = max(1, jobs)
        self.grace_s = grace_s
        self.pending: list[SiteRun] = []
        self.running: list[SiteRun] = []
        self.done: list[SiteRun] = []
        self.signals: list[int] = []
        self.forwarded = 0
        self.kill_at: float | None = None
        self.refused: list[SiteRun] = []
        names: dict[str, SiteSpec] = {}
        for site in sites:
            problem = _refusal(site, names)
            if problem is not None:
                self.refused.append(self._refused(site, problem))
                continue
            handle, log = tempfile.mkstemp(prefix=f".{site.label}.", suffix=".log", dir=report_root)
            os.close(handle)
            self.pending.append(SiteRun(site, Path(log)))

    @staticmethod
    def _refused(site: SiteSpec, problem: str) -> SiteRun:
        lines = [f"{site.label}: {problem}", f"wcp-acceptance {site.label}: NOT RUN exit=4 (not started)"]
        return SiteRun(site, Path(os.devnull), exit_code=4, lines=lines)

    # ---- signals ------------------------------------------------------------------------------------
    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        self.signals.append(signum)

    def _forward_signals(self) -> None:
        while self.forwarded < len(self.signals):
            signum = self.signals[self.forwarded]
            self.forwarded += 1
            _say(f"wcp-acceptance: {signal.Signals(signum).name}: stopping {len(self.running)} running site(s) "
                 f"(killed if still running in {self.grace_s:g} s); {len(self.pending)} not started")
            for run in self.pending:
                run.exit_code = 2
                run.lines = [f"wcp-acceptance {run.site.label}: NOT RUN exit=2 (interrupted before it started)"]
                self._finish(run)
            self.pending.clear()
            for run in self.running:
                self._signal(run, signum)
            if self.kill_at is None:
                self.kill_at = time.monotonic() + self.grace_s
        if self.kill_at is not None and time.monotonic() >= self.kill_at:
            for run in self.running:
                self._signal(run, signal.SIGKILL)
            self.kill_at = float("inf")

    @staticmethod
    def _signal(run: SiteRun, signum: int) -> None:
        if run.proc is not None and run.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(run.proc.pid, signum)

    # ---- the sites ----------------------------------------------------------------------------------
    def _start(self, run: SiteRun) -> None:
        run.started = time.monotonic()
        with run.log.open("wb") as out:
            try:
                run.proc = self.launcher(run.site, out.fileno())
            except NetnsProblem as exc:
                refused = self._refused(run.site, str(exc))
                run.exit_code, run.lines = refused.exit_code, refused.lines
            except OSError as exc:
                run.exit_code = 3
                run.lines = [f"wcp-acceptance {run.site.label}: NOT RUN exit=3 (cannot start its run: {exc})"]
        if run.proc is None:
            self._finish(run)
        else:
            self.running.append(run)

    def _reap(self) -> None:
        for run in list(self.running):
            assert run.proc is not None  # noqa: S101 - running means started
            code = run.proc.poll()
            if code is None:
                continue
            self.running.remove(run)
            run.exit_code = code
            self._collect(run)
            self._finish(run)

    def _collect(self, run: SiteRun) -> None:
        """The site's one-line summary and run folder from its output; its output kept in the run folder."""
        text = redact(run.log.read_text(encoding="utf-8", errors="replace"))
        output = text.splitlines()
        lines = [line for line in output if line.strip()]
        last = lines[-1] if lines else ""
        match = REPORT_RE.search(last) if last.startswith(f"wcp-acceptance {run.site.label}:") else None
        if match and Path(match["path"]).is_dir():
            run.run_dir = Path(match["path"])
            run.lines = [last]
            run.verdict = _verdict(run.run_dir)
            with contextlib.suppress(OSError):
                (run.run_dir / "output.log").write_text(text, encoding="utf-8")
                run.log.unlink()
            return
        code = run.exit_code if run.exit_code is not None else 3
        why = f"killed by {signal.Signals(-code).name}" if code < 0 else "no report"
        run.lines = [f"{run.site.label}: {line}" for line in lines[-TAIL_LINES:]]
        run.lines.append(f"wcp-acceptance {run.site.label}: NOT RUN exit={code} ({why}; {run.site.path})")

    def _finish(self, run: SiteRun) -> None:
        for line in run.lines:
            _say(line)
        if run.log != Path(os.devnull):
            with contextlib.suppress(FileNotFoundError):
                run.log.unlink()
        self.done.append(run)

    def run(self) -> int:
        previous = {signum: signal.signal(signum, self._on_signal) for signum in FORWARDED
                    if not (signum == signal.SIGHUP and signal.getsignal(signum) == signal.SIG_IGN)}  # nohup
        for run in self.refused:
            self._finish(run)
        try:
            while self.pending or self.running:
                self._forward_signals()
                while self.pending and len(self.running) < self.jobs and not self.signals:
                    self._start(self.pending.pop(0))
                self._reap()
                if self.running:
                    time.sleep(POLL_S)
            self._forward_signals()  # a signal during the last poll still counts
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
            for run in self.pending + self.running:  # only on an unexpected error: never leave a site behind
                self._signal(run, signal.SIGKILL)
                with contextlib.suppress(FileNotFoundError):
                    run.log.unlink()
        index = sites_index.write_index(self.report_root)
        code = combined_exit([r.exit_code if r.exit_code is not None else 3 for r in self.done],
                             interrupted=bool(self.signals))
        _say(summary_line(self.done, code, index, interrupted=bool(self.signals)))
        return code


def _verdict(run_dir: Path) -> str | None:
    try:
        data: Any = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return str(data.get("verdict")) if isinstance(data, dict) and data.get("verdict") else None


def summary_line(runs: Sequence[SiteRun], code: int, index: Path | None, *, interrupted: bool = False) -> str:
    """The last line of a multi-site run: how many sites ended how, the exit code, the index."""
    states = Counter(r.verdict or f"exit {r.exit_code}" for r in runs)
    counts = ", ".join(f"{n} {state}" for state, n in sorted(states.items()))
    note = " (interrupted)" if interrupted else ""
    where = f" index={index}" if index else " (no index: see above)"
    return f"wcp-acceptance {len(runs)} sites{note}: exit={code} {counts}{where}"


def run_sites(sites: Sequence[SiteSpec], *, report_root: Path, launcher: Launcher, jobs: int = DEFAULT_JOBS,
              grace_s: float = DEFAULT_GRACE_S) -> int:
    """Run every site's suite (at most ``jobs`` at a time); print each site's line and a last one; the exit code.

    A site that cannot start (its name is another site's, its namespace cannot be entered) is not run
    and counts as a bad inventory (4); the other sites still run."""
    try:
        report_root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        print(f"wcp-acceptance: cannot create the report directory {report_root}: {exc}", file=sys.stderr)  # noqa: T201
        return 4
    return SitesRunner(sites, report_root=report_root, jobs=jobs, grace_s=grace_s, launcher=launcher).run()
