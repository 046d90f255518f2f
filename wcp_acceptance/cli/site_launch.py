"""How the many-sites runner starts one site's suite: forked from a runner that imported the suite's
libraries once (the default), or as a fresh ``python -m pytest`` process (``--spawn``).

A site's suite spends most of its CPU before its first check: the interpreter, pytest, and above all
the Kubernetes client's API and model modules. Forked from a runner that already imported them, each
site does only its own work (measured on the lab: about 2 CPU s a site instead of about 5.3), which is
what lets many sites share a small runner. The forked site is what ``python -m pytest`` would be: its
own process and session, its output in its own log, the default signal dispositions, its network
namespace entered as ``ip netns exec`` enters it, and ``pytest.main`` with the same arguments.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import importlib
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Sequence
from typing import Protocol

from wcp_acceptance.cli import site_netns
from wcp_acceptance.cli.site_netns import SiteSpec

PR_SET_PDEATHSIG = 1
SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
# what every site imports and no site changes: the expensive part of a suite process's start. Not scapy:
# it reads the interfaces and routes of the namespace it is imported in.
PRELOAD = ("pytest", "_pytest.python", "_pytest.fixtures", "pytest_html", "paramiko", "requests", "dns.message",
           "pydantic", "yaml", "cryptography.x509", "kubernetes.client", "kubernetes.config.kube_config",
           "kubernetes.client.api.core_v1_api", "kubernetes.client.api.version_api")
# a forked site imported the project's own modules before pytest could mark them for assertion rewriting
FORK_ARGS = ("-W", "ignore::pytest.PytestAssertRewriteWarning")


class Running(Protocol):
    """A started site: its process id, and its exit code once it ended (negative: killed by that signal)."""

    pid: int

    def poll(self) -> int | None: ...


Launcher = Callable[[SiteSpec, int], Running]  # (site, fd of its log) -> the started site


def die_with_parent() -> None:
    """If the runner is killed, its sites get SIGTERM (and finish their reports) instead of running on."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)


def spawner(command: Callable[[SiteSpec], list[str]]) -> Launcher:
    """Each site a fresh process running ``command(site)`` (inside its namespace via ``ip netns exec``)."""

    def launch(site: SiteSpec, log: int) -> Running:
        argv = site_netns.wrap(site, command(site))
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,  # noqa: S603
                                start_new_session=True, preexec_fn=die_with_parent)  # noqa: PLW1509

    return launch


class Forked:
    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:
                self.returncode = 3
                return self.returncode
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode


def preload(modules: Sequence[str] = PRELOAD) -> None:
    """Import what every site needs, then freeze it out of the garbage collector's way: each site's
    collections (pytest runs two at its end) then skip the preloaded heap, and leave its pages shared."""
    for name in modules:
        with contextlib.suppress(ImportError):
            importlib.import_module(name)
    gc.collect()
    gc.freeze()


def forker(pytest_args: Callable[[SiteSpec], list[str]]) -> Launcher:
    """Each site forked from this process (which imports :data:`PRELOAD` now) running ``pytest.main``."""
    preload()

    def launch(site: SiteSpec, log: int) -> Running:
        switch = site_netns.check(site)
        args = [*FORK_ARGS, *pytest_args(site)]
        sys.stdout.flush()
        sys.stderr.flush()
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)  # no signal lands between fork and reset
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the site's process (the lab tests run it)
            code = 3
            try:
                code = _site(site, args, log, blocked, switch=switch)
            finally:
                os._exit(code)
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        return Forked(pid)

    return launch


def _site(site: SiteSpec, args: list[str], log: int, blocked: set[int | signal.Signals], *,
          switch: bool) -> int:  # pragma: no cover - runs in the forked site
    os.setsid()
    die_with_parent()
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGHUP, signal.SIG_DFL)  # the site's own run handles it like SIGTERM
    signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(log, 1)
    os.dup2(log, 2)
    try:
        if switch and site.netns:
            site_netns.enter(site.netns)
        import pytest

        code = int(pytest.main(args))
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 3
    except KeyboardInterrupt:  # SIGINT before pytest had its own handling in place
        code = 2
    except BaseException as exc:  # noqa: BLE001 - whatever ends the site, it ends with a line and exit 3
        print(f"wcp-acceptance {site.label}: the site's run failed to start or crashed: {exc!r}", file=sys.stderr)  # noqa: T201
        code = 3
    with contextlib.suppress(Exception):
        sys.stdout.flush()
        sys.stderr.flush()
    return code
