"""A run that is killed (SIGKILL, a crash, a reboot) still leaves a report that says it is incomplete.

At the start of a run: the site's orphans (folders whose run's process is gone) are marked
``orphaned``; this run's folder gets its ``.running`` marker, a summary.json with ``state:
"running"`` and its pid, and a provisional report.html ("INCOMPLETE: this run has not finished").
While tests finish, both are refreshed at most every :data:`PROGRESS_EVERY_S` seconds, so a killed
run shows what had run. pytest-html's report and the final summary replace them at the end.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import pytest

from wcp_acceptance.plugin.finish import finishing_of, write_run_summary
from wcp_acceptance.plugin.state import RUN
from wcp_acceptance.report import provisional
from wcp_acceptance.report.run import Orphan, Runner, find_orphans, orphaned_summary
from wcp_acceptance.report.summary import write_json

PROGRESS_EVERY_S = 2.0  # the most often summary.json and the provisional report are rewritten while running
ORPHANED = "INCOMPLETE: this run was killed before it finished (orphaned)"


@dataclass
class Progress:
    """The plugin object of one run: as tests finish, a background thread refreshes the files (at most every
    :data:`PROGRESS_EVERY_S`, and once more after the last change), so the tests never wait for a write."""

    config: pytest.Config
    orphans: list[Orphan] = field(default_factory=list)
    dirty: threading.Event = field(default_factory=threading.Event)
    stopped: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None

    def start(self) -> None:
        self.thread = threading.Thread(target=self._flush, name="wcp-progress", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.stopped.set()
        self.dirty.set()

    def pytest_runtest_logfinish(self, nodeid: str) -> None:
        self.dirty.set()

    def _flush(self) -> None:
        while not self.stopped.is_set():
            self.dirty.wait()
            if self.stopped.is_set():
                return
            self.dirty.clear()
            try:
                write_progress(self.config)
            except (OSError, RuntimeError):  # a full disk, a record added meanwhile: the next change writes again
                self.dirty.set()
            self.stopped.wait(PROGRESS_EVERY_S)


PROGRESS = pytest.StashKey[Progress]()


def mark_orphans(site_dir_orphans: list[Orphan], site: str) -> None:
    me = Runner.current()
    for orphan in site_dir_orphans:
        data = orphaned_summary(orphan, site, detected_by=me)
        write_json(orphan.run_dir.summary, data)
        provisional.write(orphan.run_dir.html, data, ORPHANED, f"{orphan.reason}. Found by the run of pid {me.pid}; "
                          "what it had recorded before it stopped is below. It never becomes latest or last-good.")
        orphan.run_dir.clear_running()


def write_progress(config: pytest.Config) -> None:
    """Refresh summary.json (``state: "running"``) and the provisional report; never once the run is
    finishing or stopping (the final writes own the files then)."""
    run = config.stash.get(RUN, None)
    finishing = finishing_of(config)
    if run is None or finishing is None:
        return
    if not finishing.lock.acquire(timeout=1.0):
        return  # the end of the run holds it
    try:
        if finishing.finishing or finishing.summary_done or finishing.stop is not None:
            return
        data = write_run_summary(run, state="running")
        provisional.write(run.run_dir.html, data)
    finally:
        finishing.lock.release()


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    run = config.stash.get(RUN, None)
    if run is None:
        return
    site_dir = run.run_dir.path.parent
    progress = config.stash[PROGRESS] = Progress(config, orphans=find_orphans(site_dir, skip=run.run_dir.path))
    config.pluginmanager.register(progress, "wcp_acceptance.plugin.progress.run")
    mark_orphans(progress.orphans, run.inventory.name)
    run.run_dir.mark_running(Runner.current(), run.started)
    write_progress(config)
    progress.start()


def pytest_report_header(config: pytest.Config) -> list[str]:
    progress = config.stash.get(PROGRESS, None)
    return [f"orphaned run marked: {o.run_dir.path} ({o.reason})" for o in progress.orphans] if progress else []


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    progress = session.config.stash.get(PROGRESS, None)
    if progress is not None:
        progress.dirty.set()  # every selected test listed, not run yet


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    progress = session.config.stash.get(PROGRESS, None)
    if progress is not None:
        progress.stop()
