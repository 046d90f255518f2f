"""The ``wcp-lab`` command line, run as a user runs it (separate processes, real labs, real host).

A lab started by ``wcp-lab up`` outlives the command and its daemons are children of the detached
supervisor; ``down`` leaves the host as it found it, also after the supervisor was SIGKILLed;
``demo`` runs the suite and tears down, also on Ctrl-C. Every lab gets a unique prefix and is
taken down by a finalizer whatever happens.
"""

from __future__ import annotations

import json
import os
import secrets
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab import supervisor as sup
from lab.faults import FAULTS
from lab.hostnet import diff, snapshot
from lab.netns import NETNS_ETC, STATE_DIR, lab_namespaces, netns_pids
from lab.topology import load_topology

ROOT = Path(__file__).resolve().parents[2]
TOPOLOGY = load_topology()


def wcp(*args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "lab", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, check=False)


@pytest.fixture
def prefix() -> Iterator[str]:
    name = f"c{secrets.token_hex(3)}"
    try:
        yield name
    finally:
        wcp("down", "--prefix", name)


def _mine(prefix: str):
    return lambda name: name.startswith(f"{prefix}-")


def _gone(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"  # exited; its parent has not reaped it yet


def _ppid(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def _status(prefix: str) -> dict:
    done = wcp("status", "--prefix", prefix, "--json")
    data = json.loads(done.stdout)
    assert (done.returncode == 0) == data["up"], done
    return data


def _up(prefix: str, *extra: str) -> subprocess.CompletedProcess[str]:
    done = wcp("up", "--prefix", prefix, *extra)
    assert done.returncode == 0, done.stderr
    return done


def _assert_no_trace(prefix: str) -> None:
    assert lab_namespaces(prefix) == []
    assert sorted(STATE_DIR.glob(f"{prefix}*")) == []
    assert sorted(NETNS_ETC.glob(f"{prefix}-*")) == []


def test_faults_lists_every_fault_with_what_it_breaks_and_its_checks() -> None:
    script = Path(sys.executable).with_name("wcp-lab")  # the installed entry point, as a user types it
    done = subprocess.run([str(script), "faults"], capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == len(FAULTS)
    for line, (name, fault) in zip(lines, FAULTS.items(), strict=True):
        assert line.split()[0] == name
        assert fault.breaks in line
        caught = line.split(" -> ", 1)[1]
        assert {part.split()[0] for part in caught.split(", ")} == set(fault.checks)


def test_up_status_exec_inventory_inject_clear_down(prefix: str) -> None:
    before = snapshot()
    done = _up(prefix)
    assert f"lab '{prefix}' up" in done.stdout

    status = _status(prefix)
    supervisor = status["pid"]
    assert status["faults"] == []
    assert sorted(status["namespaces"]) == sorted(lab_namespaces(prefix))
    assert len(status["namespaces"]) == len(TOPOLOGY.nodes)
    text = wcp("status", "--prefix", prefix).stdout
    assert f"lab '{prefix}': up" in text
    assert f"pid {supervisor}" in text
    # the lab outlived `up`; every daemon in it is a child of the supervisor, which reaps them
    assert _ppid(supervisor) != os.getpid()
    daemons = [pid for pids in netns_pids(status["namespaces"]).values() for pid in pids]
    assert len(daemons) >= 2 * len(TOPOLOGY.control_planes) + 3  # sshd + kube sim per VM, dnsmasq, nsx, vcenter
    assert {_ppid(pid) for pid in daemons} == {supervisor}

    hostname = wcp("exec", "--prefix", prefix, "--node", "cp-2", "--", "hostname")
    assert (hostname.returncode, hostname.stdout) == (0, "cp-2\n")
    jumpbox = wcp("exec", "--prefix", prefix, "--", "ip", "-4", "-br", "addr")  # default node: the jumpbox
    assert f" {TOPOLOGY.jumpbox[1].management}/" in jumpbox.stdout
    assert wcp("exec", "--prefix", prefix, "--", "sh", "-c", "echo out; echo err >&2; exit 7").returncode == 7
    missing = wcp("exec", "--prefix", prefix, "--node", "cp-9", "--", "true")
    assert missing.returncode == 2
    assert "cp-1" in missing.stderr

    inventory = wcp("inventory", "--prefix", prefix)
    assert inventory.returncode == 0
    path = Path(inventory.stdout.strip())
    assert path.is_file()
    assert str(path) == status["inventory"]

    assert wcp("inject", "--prefix", prefix, "dlb-vs-missing").returncode == 0
    assert _status(prefix)["faults"] == ["dlb-vs-missing"]
    unknown = wcp("inject", "--prefix", prefix, "no-such-fault")
    assert unknown.returncode == 2
    assert "seed-shared-dns" in unknown.stderr
    assert "dlb-vs-missing" in unknown.stderr
    assert wcp("clear", "--prefix", prefix, "dlb-vs-missing").returncode == 0
    assert _status(prefix)["faults"] == []

    down = wcp("down", "--prefix", prefix)
    assert down.returncode == 0, down.stderr
    assert _gone(supervisor)
    assert all(_gone(pid) for pid in daemons)
    _assert_no_trace(prefix)
    assert wcp("status", "--prefix", prefix).returncode == 1
    assert wcp("inventory", "--prefix", prefix).returncode == 1
    assert wcp("inject", "--prefix", prefix, "dlb-vs-missing").returncode == 1
    assert diff(before, snapshot(), netns_filter=_mine(prefix)) == []


def test_up_refuses_a_prefix_that_is_already_up(prefix: str) -> None:
    _up(prefix)
    pid = _status(prefix)["pid"]
    again = wcp("up", "--prefix", prefix)
    assert again.returncode == 1
    assert "already up" in again.stderr
    assert f"wcp-lab down --prefix {prefix}" in again.stderr
    assert _status(prefix)["pid"] == pid  # the running lab is untouched


def test_down_cleans_up_after_a_killed_supervisor(prefix: str) -> None:
    before = snapshot()
    _up(prefix, "--fault", "dns-server-down")
    status = _status(prefix)
    assert status["faults"] == ["dns-server-down"]
    daemons = [pid for pids in netns_pids(status["namespaces"]).values() for pid in pids]
    os.kill(status["pid"], signal.SIGKILL)
    deadline = time.monotonic() + 10
    while sup.holder(prefix) is not None and time.monotonic() < deadline:
        time.sleep(0.02)

    crashed = wcp("status", "--prefix", prefix)
    assert crashed.returncode == 1
    assert "leftovers of a crashed run" in crashed.stdout
    assert lab_namespaces(prefix), "the orphans are still there before down"
    refused = wcp("up", "--prefix", prefix)
    assert refused.returncode == 1
    assert f"wcp-lab down --prefix {prefix}" in refused.stderr

    down = wcp("down", "--prefix", prefix)
    assert down.returncode == 0, down.stderr
    assert "orphaned" in down.stdout
    assert all(_gone(pid) for pid in daemons)
    _assert_no_trace(prefix)
    assert diff(before, snapshot(), netns_filter=_mine(prefix)) == []
    assert wcp("down", "--prefix", prefix).returncode == 0  # nothing left to do is still success


def test_up_that_cannot_build_shows_the_supervisor_log_and_leaves_others_alone(prefix: str) -> None:
    foreign = f"{prefix}-router"  # same name as a lab namespace, but not the lab's
    subprocess.run(["ip", "netns", "add", foreign], check=True, timeout=10)
    try:
        done = wcp("up", "--prefix", prefix)
        assert done.returncode == 1
        assert "did not come up" in done.stderr
        assert "already exists" in done.stderr  # from the supervisor's log
        assert (Path("/run/netns") / foreign).exists(), "a namespace that is not the lab's is left alone"
        assert sup.holder(prefix) is None
        assert lab_namespaces(prefix) == []
    finally:
        subprocess.run(["ip", "netns", "delete", foreign], check=False, timeout=10)


def test_demo_runs_the_suite_tears_down_and_says_where_the_report_is(prefix: str, tmp_path: Path) -> None:
    done = wcp("demo", "--prefix", prefix, "--report-dir", str(tmp_path), timeout=240)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr
    latest = tmp_path / f"lab-{TOPOLOGY.name}" / "latest"
    assert f"report: {latest}" in done.stdout
    assert f"html:   {latest.resolve() / 'report.html'}" in done.stdout
    assert (latest / "report.html").is_file()
    summary = json.loads((latest / "summary.json").read_text())
    assert summary["exit_code"] == 0
    assert summary["totals"]["passed"] == summary["totals"]["total"] > 0
    _assert_no_trace(prefix)


def test_demo_interrupted_still_tears_down(prefix: str, tmp_path: Path) -> None:
    before = snapshot()
    demo = subprocess.Popen([sys.executable, "-m", "lab", "demo", "--prefix", prefix, "--report-dir", str(tmp_path)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    try:
        assert demo.stdout is not None
        seen = ""
        deadline = time.monotonic() + 60
        while "running the suite" not in seen and time.monotonic() < deadline:
            ready, _, _ = select.select([demo.stdout], [], [], 1.0)
            if ready:
                line = demo.stdout.readline()
                if not line:
                    break
                seen += line
        assert "running the suite" in seen, seen
        assert len(lab_namespaces(prefix)) == len(TOPOLOGY.nodes)
        time.sleep(1.5)
        os.killpg(demo.pid, signal.SIGINT)  # Ctrl-C: the terminal interrupts the whole process group
        out, _ = demo.communicate(timeout=60)
    finally:
        if demo.poll() is None:
            os.killpg(demo.pid, signal.SIGKILL)
            demo.wait(timeout=10)
    assert demo.returncode == 130, out
    assert "interrupted" in out
    _assert_no_trace(prefix)
    assert diff(before, snapshot(), netns_filter=_mine(prefix)) == []
