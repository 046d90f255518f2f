"""The host namespace is identical before and after a lab: after a normal teardown, after a failure
mid-build, after Ctrl-C during the build, and after a crashed run cleaned up by teardown_prefix.

Snapshots compare addresses, links, rules, routes (v4 and v6, all tables), the nftables ruleset in
full; the namespace list and /etc/netns are compared for this test's prefix, because other
programs on the machine may create their own namespaces meanwhile.
"""

from __future__ import annotations

import os
import secrets
import select
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import lab.netns as netns
from lab.hostnet import HostNetSnapshot, diff, snapshot
from lab.netns import LabError, build, lab_namespaces, list_netns, state_path, teardown_prefix
from lab.topology import load_topology, netns_name

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def prefix() -> Iterator[str]:
    name = f"t1{secrets.token_hex(2)}"
    try:
        yield name
    finally:
        teardown_prefix(name)


def _mine(prefix: str) -> Callable[[str], bool]:
    return lambda name: name.startswith(f"{prefix}-")


def _assert_clean(before: HostNetSnapshot, prefix: str) -> None:
    assert diff(before, snapshot(), netns_filter=_mine(prefix)) == []
    assert lab_namespaces(prefix) == []
    assert not state_path(prefix).exists()


def test_two_snapshots_of_an_unchanged_host_are_equal() -> None:
    first, second = snapshot(), snapshot()
    assert first == second
    assert diff(first, second) == []
    assert first.sections["route"], "the snapshot reads the host's routes"
    assert first.sections["link"], "the snapshot reads the host's links"


def test_a_snapshot_sees_a_new_namespace_and_its_etc_dir(prefix: str) -> None:
    name = f"{prefix}-probe"
    before = snapshot()
    subprocess.run(["ip", "netns", "add", name], check=True, timeout=10)
    try:
        (netns.NETNS_ETC / name).mkdir(parents=True)
        (netns.NETNS_ETC / name / "resolv.conf").write_text("nameserver 127.0.0.1\n")
        assert diff(before, snapshot(), netns_filter=_mine(prefix)) == [
            f'etc_netns: + "{name}/"', f'etc_netns: + "{name}/resolv.conf"', f'netns: + "{name}"']
    finally:
        netns.delete_namespaces([name])
    assert diff(before, snapshot(), netns_filter=_mine(prefix)) == []


def test_a_lab_adds_nothing_to_the_host_but_its_namespaces_and_leaves_nothing(prefix: str) -> None:
    before = snapshot()
    topology = load_topology()
    lab = build(topology, prefix)
    try:
        resolv = netns.NETNS_ETC / lab.ns("cp-1") / "resolv.conf"  # as the services write it
        resolv.parent.mkdir(parents=True)
        resolv.write_text("nameserver 192.168.10.10\n")
        during = diff(before, snapshot(), netns_filter=_mine(prefix))
        expected = sorted(f'netns: + "{name}"' for name in lab.namespaces)
        assert sorted(line for line in during if line.startswith("netns:")) == expected
        assert [line for line in during if not line.startswith(("netns:", "etc_netns:"))] == []
        assert sorted(lab_namespaces(prefix)) == sorted(lab.namespaces)
    finally:
        assert lab.teardown() == []
    _assert_clean(before, prefix)


@pytest.mark.parametrize("step", ["namespaces", "sysctl", "configure", "nat"])
def test_a_failure_mid_build_tears_down_what_was_built(prefix: str, step: str) -> None:
    before = snapshot()

    def fail_at(name: str) -> None:
        if name == step:
            assert sorted(lab_namespaces(prefix)) == ([] if step == "namespaces" else sorted(
                load_topology().namespaces(prefix).values()))
            raise RuntimeError(f"injected failure before {name}")

    with pytest.raises(RuntimeError, match=f"injected failure before {step}"):
        build(load_topology(), prefix, on_step=fail_at)
    _assert_clean(before, prefix)


def test_a_refused_nft_ruleset_fails_the_build_and_leaves_nothing(prefix: str, monkeypatch: pytest.MonkeyPatch) -> None:
    before = snapshot()
    monkeypatch.setattr(netns, "edge_ruleset", lambda topology: "table ip wcp_lab { chain c { bogus } }\n")
    with pytest.raises(LabError, match="nft -f in .*-edge failed"):
        build(load_topology(), prefix)
    _assert_clean(before, prefix)


def test_build_refuses_a_lab_that_already_exists(prefix: str) -> None:
    lab = build(load_topology(), prefix)
    try:
        with pytest.raises(LabError, match=f"lab '{prefix}' already exists"):
            build(load_topology(), prefix)
        assert sorted(lab_namespaces(prefix)) == sorted(lab.namespaces), "the refusal left the first lab alone"
    finally:
        lab.teardown()


CHILD = """
import subprocess, sys, time
from lab.netns import build, popen_in
from lab.topology import load_topology

prefix, pause_at = sys.argv[1], sys.argv[2]

def step(name):
    print(name, flush=True)
    if name == pause_at:
        time.sleep(60)

build(load_topology(), prefix, on_step=step)
sleeper = popen_in(prefix, "cp-1", ["sleep", "60"], start_new_session=True, stdin=subprocess.DEVNULL,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print("built", sleeper.pid, flush=True)
time.sleep(60)
"""


def _child_at(prefix: str, pause_at: str) -> tuple[subprocess.Popen[str], str]:
    """Start a child that builds lab ``prefix``; return once it reports ``pause_at`` (it then waits)."""
    child = subprocess.Popen([sys.executable, "-c", CHILD, prefix, pause_at], cwd=ROOT, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    assert child.stdout is not None
    line = ""
    while not line.startswith(pause_at):
        if not select.select([child.stdout], [], [], 20.0)[0]:
            child.kill()
            pytest.fail(f"the child did not reach {pause_at!r} within 20 s: {child.communicate(timeout=5)}")
        line = child.stdout.readline()
        if not line:
            pytest.fail(f"the child exited before {pause_at!r}: {child.communicate(timeout=5)}")
    return child, line.strip()


@pytest.mark.parametrize("pause_at", ["sysctl", "nat"])
def test_ctrl_c_during_the_build_tears_it_down(prefix: str, pause_at: str) -> None:
    before = snapshot()
    child, _ = _child_at(prefix, pause_at)
    assert lab_namespaces(prefix), "the child had created its namespaces"
    child.send_signal(signal.SIGINT)
    _, err = child.communicate(timeout=30)
    assert child.returncode != 0
    assert "KeyboardInterrupt" in err
    assert lab_namespaces(prefix) == [], "the build tore itself down before exiting"
    assert teardown_prefix(prefix) == []
    _assert_clean(before, prefix)


def test_teardown_prefix_removes_a_crashed_run_and_what_still_runs_in_it(prefix: str) -> None:
    before = snapshot()
    child, line = _child_at(prefix, "built")
    sleeper = int(line.split()[1])
    etc = netns.NETNS_ETC / netns_name(prefix, "cp-1")
    etc.mkdir(parents=True)
    (etc / "resolv.conf").write_text("nameserver 192.168.10.10\n")
    child.kill()  # a crash: no teardown ran
    child.communicate(timeout=10)  # the sleeper holds none of the child's pipes
    assert sorted(lab_namespaces(prefix)) == sorted(load_topology().namespaces(prefix).values())
    assert netns.netns_pids([netns_name(prefix, "cp-1")])[netns_name(prefix, "cp-1")] == [sleeper]

    assert prefix in netns.list_labs()
    stray = netns.NETNS_ETC / f"{prefix}-gone"  # a resolv.conf dir whose namespace no longer exists
    stray.mkdir()

    removed = teardown_prefix(prefix)

    assert not stray.exists()
    assert prefix not in netns.list_labs()
    assert sorted(removed) == sorted(load_topology().namespaces(prefix).values())
    assert not Path(f"/proc/{sleeper}/ns/net").exists(), "the process left in cp-1 was killed"
    _assert_clean(before, prefix)


def test_teardown_prefix_leaves_a_namespace_that_is_not_the_lab_s(prefix: str) -> None:
    lab = build(load_topology(), prefix)
    foreign = f"{prefix}-intruder"
    subprocess.run(["ip", "netns", "add", foreign], check=True, timeout=10)
    try:
        removed = teardown_prefix(prefix)
        assert sorted(removed) == sorted(lab.namespaces)
        assert foreign in list_netns()
    finally:
        netns.delete_namespaces([foreign])
    assert lab.teardown() == [], "a second teardown of removed namespaces is harmless"


def test_sigint_during_teardown_waits_until_it_is_done() -> None:
    done = []
    with pytest.raises(KeyboardInterrupt), netns._interrupts_deferred():  # noqa: PT012 - raised after the block
        os.kill(os.getpid(), signal.SIGINT)
        done.append("finished")
    assert done == ["finished"]
