"""SIGTERM, SIGINT and SIGHUP end a run with a finished report, within a bounded time.

What ``timeout``, systemd, a CronJob's deadline and Ctrl-C send. The first signal:

- records ``interrupted_by`` ("SIGTERM"/"SIGINT") and arms the stop watchdog;
- raises :class:`Interrupted` (a ``KeyboardInterrupt``) in the main thread, so pytest takes its
  Ctrl-C path: the test in progress stops (a blocking socket, SSH or DNS wait in the main thread
  is interrupted by the signal), fixtures are torn down, pytest-html and JUnit write their files,
  summary.json gets verdict INCOMPLETE (or UNHEALTHY if a check had failed), the tests not reached
  stay ``not_run``, the cron line is printed last and the exit code is 2 (pytest's "interrupted").

A further signal only says so (it never cuts a file short, nor pytest's handling of the first).
If the run has not ended ``--stop-grace`` seconds (default 10) after the first signal, the watchdog
finishes the report from what is known (summary.json and a report.html that says so, both written
atomically), prints the cron line and exits 2 at once: at most about 10 s past the grace even when a
write hangs, so a grace of 10 s fits a scheduler that waits 30 s before SIGKILL.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Generator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import FrameType
from typing import Any

import pytest

from wcp_acceptance.plugin.finish import INTERRUPTED, Finishing, cron_text, finishing_of, write_final_report
from wcp_acceptance.plugin.finish import report_headline as _headline
from wcp_acceptance.plugin.state import RUN, SuiteRun
from wcp_acceptance.report import provisional

SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)  # SIGHUP: the terminal or ssh session went away
DEFAULT_GRACE_S = 10.0
HTML_WRITE_GRACE_S = 2.0  # pytest-html already writing report.html when the grace ends: let it finish
FINAL_WRITE_S = 5.0  # the most the watchdog waits for its own writes before it exits
GRACE_ENV, GRACE_INI = "WCP_STOP_GRACE", "wcp_stop_grace"


class Interrupted(KeyboardInterrupt):
    """The run was asked to stop (SIGTERM/SIGINT): pytest ends it as it ends a Ctrl-C."""


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("wcp")
    group.addoption("--stop-grace", dest="wcp_stop_grace", default=None, metavar="SECONDS",
                    help=f"after SIGTERM/SIGINT, how long the run may take to finish its report before it writes "
                         f"it from what is known and exits 2 (default {DEFAULT_GRACE_S:g}); env {GRACE_ENV}, "
                         f"ini {GRACE_INI}")
    parser.addini(GRACE_INI, "seconds to finish the report after SIGTERM/SIGINT (see --stop-grace)", default=None)


def stop_grace(config: pytest.Config) -> float:
    raw = config.getoption("wcp_stop_grace", None) or os.environ.get(GRACE_ENV) or config.getini(GRACE_INI)
    if not raw:
        return DEFAULT_GRACE_S
    try:
        value = float(str(raw))
    except ValueError:
        raise pytest.UsageError(f"--stop-grace: {raw!r} is not a number of seconds") from None
    if not 0 < value <= 3600:
        raise pytest.UsageError(f"--stop-grace: {raw!r} must be more than 0 and at most 3600 seconds")
    return value


def _write(fd: int, text: str) -> None:
    """From a signal handler or the watchdog: no buffered stream (the main thread may be mid-write)."""
    with contextlib.suppress(OSError):
        os.write(fd, text.encode())


@dataclass
class Stopper:
    """The signal handlers and the watchdog of one run."""

    config: pytest.Config
    run: SuiteRun
    finishing: Finishing
    grace_s: float
    previous: dict[int, Any] = field(default_factory=dict)
    current: str | None = None  # the test in progress
    call_reported: bool = False  # its call phase produced a report
    signals: int = 0
    watchdog: threading.Thread | None = None
    out_fd: int = 1  # the terminal's stdout and stderr, saved while pytest's capture is suspended: during a
    err_fd: int = 2  # test, fds 1 and 2 are pytest's capture files, and a note written there would be lost

    def say(self, text: str) -> None:
        _write(self.err_fd, f"wcp-acceptance: {text}\n")

    # -- handlers --------------------------------------------------------------------------------

    def install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return  # signals reach the main thread only: leave the defaults
        self.out_fd, self.err_fd = os.dup(1), os.dup(2)
        for signum in SIGNALS:
            if signum == signal.SIGHUP and signal.getsignal(signum) == signal.SIG_IGN:
                continue  # started under nohup: a hangup is meant to be ignored
            self.previous[signum] = signal.signal(signum, self.on_signal)

    def restore(self) -> None:
        for signum, handler in self.previous.items():
            with contextlib.suppress(ValueError, TypeError):
                signal.signal(signum, handler)
        self.previous.clear()
        for fd in {self.out_fd, self.err_fd} - {1, 2}:
            with contextlib.suppress(OSError):
                os.close(fd)
        self.out_fd, self.err_fd = 1, 2

    def on_signal(self, signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        self.signals += 1
        if self.finishing.stop is None:
            self.finishing.stop = {"signal": name, "received_at": datetime.now(UTC).isoformat(timespec="seconds"),
                                   "grace_s": self.grace_s}
            if not self.finishing.summary_done:  # a signal after the report was finished changes no verdict
                self.run.interrupted_by = name
            self.watchdog = threading.Thread(target=self._watch, name="wcp-stop-watchdog", daemon=True)
            self.watchdog.start()
            self.say(f"{name}: stopping; the report is finished with what ran (at most {self.grace_s:g} s)")
        else:
            self.say(f"{name} again: already finishing the report (at most {self.grace_s:g} s after the first signal)")
        if self.signals == 1 and not self.finishing.finishing and not self.finishing.summary_done:
            # once only: a second interrupt could land in pytest's own handling of the first; if the code under
            # test swallows this one, the watchdog ends the run at the grace
            raise Interrupted(f"{name}: stopping the run, finishing the report with what ran")

    # -- the test in progress --------------------------------------------------------------------

    def pytest_runtest_logstart(self, nodeid: str) -> None:
        self.current, self.call_reported = nodeid, False

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == "call":
            self.call_reported = True

    def pytest_runtest_logfinish(self, nodeid: str) -> None:
        self.current = None

    def unfinished_test_back_to_not_run(self) -> None:
        """The test the signal stopped had passed its setup only: it did not run, whatever setup said."""
        if self.current is None or self.call_reported:
            return
        record = self.run.records.get(self.current)
        if record is not None and record.outcome == "passed":
            record.outcome, record.observed, record.duration_s = "not_run", None, 0.0

    # -- the watchdog ----------------------------------------------------------------------------

    def _watch(self) -> None:
        time.sleep(self.grace_s)
        finishing = self.finishing
        if finishing.html_writing and not finishing.html_done:
            deadline = time.monotonic() + HTML_WRITE_GRACE_S
            while not finishing.html_done and time.monotonic() < deadline:
                time.sleep(0.05)
        # held until the process ends, so the main thread writes nothing more; a main thread stuck while
        # holding it (a hung history or metrics write) must not keep the run alive: go on without it
        finishing.lock.acquire(timeout=HTML_WRITE_GRACE_S)
        code = self.run.exit_code if finishing.summary_done and self.run.exit_code is not None else INTERRUPTED
        try:
            # the writes get a bound of their own (the sites' index waits for a lock another run may hold);
            # summary.json, report.html and latest come first, so they are done when anything is
            writer = threading.Thread(target=self._write_from_what_is_known, args=(code,), name="wcp-stop-write",
                                      daemon=True)
            writer.start()
            writer.join(FINAL_WRITE_S)
            if writer.is_alive():
                self.say(f"writing the report did not end within {FINAL_WRITE_S:g} s; exiting anyway")
            if not finishing.cron_printed:
                _write(self.out_fd, "\n" + cron_text(self.run, code) + "\n")  # the terminal may be mid-line
                finishing.cron_printed = True
            self.say(f"the run did not end within {self.grace_s:g} s of {(finishing.stop or {}).get('signal')}: "
                     f"exiting {code}")
        except BaseException as exc:  # the exit below must happen whatever failed
            self.say(f"finishing the report after the grace failed: {type(exc).__name__}: {exc}")
        finally:
            os._exit(code)

    def _write_from_what_is_known(self, code: int) -> None:
        finishing = self.finishing
        try:
            if not finishing.summary_done:
                self.unfinished_test_back_to_not_run()
                self.run.exit_code = code
                for attempt in range(3):  # the main thread may add a record meanwhile
                    try:
                        write_final_report(self.run, finishing, write_html=True, finished_by="watchdog")
                        break
                    except RuntimeError:
                        if attempt == 2:
                            raise
            elif not finishing.html_done and finishing.data is not None:
                provisional.write(self.run.run_dir.html, finishing.data, *_headline(finishing.data))
        except Exception as exc:  # reported; the watchdog exits whatever happened here
            self.say(f"finishing the report after the grace failed: {type(exc).__name__}: {exc}")

STOPPER = pytest.StashKey[Stopper]()


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """A bad --stop-grace is a bad option (exit 4) before the run makes its folder (this module registers after
    the session module, so its tryfirst implementation runs first)."""
    stop_grace(config)


@pytest.hookimpl(trylast=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    config = session.config
    run, finishing = config.stash.get(RUN, None), finishing_of(config)
    if run is None or finishing is None:
        return
    stopper = config.stash[STOPPER] = Stopper(config, run, finishing, stop_grace(config))
    config.pluginmanager.register(stopper, "wcp_acceptance.plugin.signals.stopper")
    stopper.install()


@pytest.hookimpl(tryfirst=True)
def pytest_keyboard_interrupt(excinfo: pytest.ExceptionInfo[BaseException]) -> None:
    """Where the signal stopped the run is enough: pytest would otherwise render the whole stack (urllib3,
    ssl, paramiko ...) with its sources, seconds of the grace spent on text nobody reads."""
    if isinstance(excinfo.value, Interrupted):
        excinfo.value.__suppress_context__ = True
        excinfo.traceback = excinfo.traceback[-2:]


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_sessionfinish(session: pytest.Session) -> Generator[None, None, None]:
    stopper = session.config.stash.get(STOPPER, None)
    if stopper is not None:
        with stopper.finishing.lock:
            stopper.finishing.finishing = True
            if stopper.finishing.stop is not None:
                stopper.unfinished_test_back_to_not_run()
    try:
        return (yield)
    finally:
        if stopper is not None:
            stopper.finishing.html_done = True


@pytest.hookimpl(optionalhook=True)
def pytest_html_results_summary(prefix: list[str], summary: list[str], postfix: list[str],
                                session: pytest.Session) -> None:
    """pytest-html calls this right before it writes report.html."""
    stopper = session.config.stash.get(STOPPER, None)
    if stopper is not None:
        stopper.finishing.html_writing = True


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    stopper = config.stash.get(STOPPER, None)
    if stopper is not None and stopper.finishing.stop is None:
        stopper.restore()  # a signal now meets the default: the report is complete
