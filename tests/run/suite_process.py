"""The live suite as a process a scheduler starts, watches and signals (``python -m pytest tests_live ...``)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
HANGING_SELECTION = ("-m", "vip or dlb")  # on the hung site: the VIP checks pass, then the DLB checks hang
VIP_TARGETS, DLB_TARGETS = 6, 2
GRACE_S = 10.0  # the default --stop-grace


@dataclass
class Ended:
    exit_code: int
    stdout: str
    stderr: str
    after_signal_s: float | None

    @property
    def last_line(self) -> str:
        lines = [line for line in self.stdout.splitlines() if line.strip()]
        return lines[-1] if lines else ""


class SuiteProcess:
    """One run of the suite, started in the background; always ended by :meth:`end` or :meth:`kill`."""

    def __init__(self, inventory: Path, reports: Path, *args: str, cwd: Path = ROOT,
                 env: dict[str, str] | None = None) -> None:
        self.reports = reports
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("WCP_")}
        full_env.update({"PYTHONDONTWRITEBYTECODE": "1", **(env or {})})
        reports.mkdir(parents=True, exist_ok=True)
        # files, not pipes: nobody reads a pipe while the test waits, and a full one would stall the run
        self.out_path, self.err_path = (reports.parent / f"{reports.name}-{time.monotonic_ns()}.{s}"
                                        for s in ("out", "err"))
        with self.out_path.open("w") as out, self.err_path.open("w") as err:
            self.proc = subprocess.Popen(  # noqa: S603 - our own interpreter and suite
                [sys.executable, "-m", "pytest", "tests_live", "-p", "no:randomly", "--inventory", str(inventory),
                 "--report-dir", str(reports), *args],
                cwd=cwd, env=full_env, stdout=out, stderr=err, text=True)
        self.signalled_at: float | None = None

    @property
    def pid(self) -> int:
        return self.proc.pid

    def run_dirs(self, site: str = "sim") -> list[Path]:
        return sorted(p for p in (self.reports / site).glob("2*") if p.is_dir())

    def run_dir(self, site: str = "sim") -> Path:
        """This process's run folder: the one whose summary names its pid."""
        for path in self.run_dirs(site):
            data = read_summary(path)
            if data and data.get("pid") == self.pid:
                return path
        raise AssertionError(f"no run folder of pid {self.pid} under {self.reports / site}: "
                             f"{[p.name for p in self.run_dirs(site)]}")

    def wait_for(self, what: str, ready: Callable[[dict[str, Any]], bool], timeout: float = 60,
                 site: str = "sim") -> dict[str, Any]:
        """The run's summary.json once ``ready(summary)``; fails naming what was awaited and what was seen."""
        deadline = time.monotonic() + timeout
        seen: dict[str, Any] = {}
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                out, err = self.output()
                raise AssertionError(f"waiting for {what}: the run ended with {self.proc.returncode}\n{out[-3000:]}"
                                     f"\n{err[-3000:]}")
            for path in self.run_dirs(site):
                data = read_summary(path)
                if data and data.get("pid") == self.pid:
                    seen = data
                    if ready(data):
                        return data
            time.sleep(0.1)
        raise AssertionError(f"waiting for {what}: not within {timeout} s; last summary: "
                             f"{ {k: seen.get(k) for k in ('state', 'totals')} }")

    def send(self, signum: int) -> None:
        if self.signalled_at is None:
            self.signalled_at = time.monotonic()
        self.proc.send_signal(signum)

    def output(self) -> tuple[str, str]:
        return self.out_path.read_text(), self.err_path.read_text()

    def end(self, timeout: float = 60) -> Ended:
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            out, err = self.output()
            raise AssertionError(f"the run did not end within {timeout} s\n{out[-3000:]}\n{err[-3000:]}") from None
        after = time.monotonic() - self.signalled_at if self.signalled_at is not None else None
        return Ended(self.proc.returncode, *self.output(), after)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)


@contextmanager
def suite_process(inventory: Path, reports: Path, *args: str, **kwargs: Any) -> Iterator[SuiteProcess]:
    """A run that is killed at the end of the block whatever happened in it."""
    run = SuiteProcess(inventory, reports, *args, **kwargs)
    try:
        yield run
    finally:
        run.kill()


def read_summary(run_dir: Path) -> dict[str, Any] | None:
    try:
        return json.loads((run_dir / "summary.json").read_text())
    except (OSError, ValueError):
        return None


def finished(n: int) -> Callable[[dict[str, Any]], bool]:
    """A summary with at least ``n`` tests that ran (passed, failed or could not observe)."""
    return lambda s: sum(s["totals"][k] for k in ("passed", "failed", "error")) >= n


def run_pytest(args: list[str], *, cwd: Path, env: dict[str, str] | None = None, timeout: float = 120) -> Ended:
    """``python -m pytest <args>`` as a user types it (no test path added), bounded."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("WCP_")}
    full_env.update({"PYTHONDONTWRITEBYTECODE": "1", **(env or {})})
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:randomly", *args], cwd=cwd, env=full_env,  # noqa: S603
                          capture_output=True, text=True, timeout=timeout, check=False)
    return Ended(proc.returncode, proc.stdout, proc.stderr, None)


@contextmanager
def silent_tcp(address: str = "127.0.0.1") -> Iterator[int]:
    """Accepts connections and never says a word: a TLS client waits in its handshake until its timeout."""
    with socket.socket() as server:
        server.bind((address, 0))
        server.listen(64)
        yield int(server.getsockname()[1])
