"""WAN latency in the lab: the values ``--latency`` accepts, which mechanism a kernel gets, and a lab
brought up with ``wcp-lab up --latency 20ms``: the jumpbox's round trips to the site grow by the
delay, the site's own do not, status says what is in force (and when the delay line is gone), and
``down`` leaves no namespace and no process behind."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab.latency import LatencyError, check_latency, choose, format_latency, netem_missing, parse_latency
from lab.netns import STATE_DIR, lab_namespaces
from lab.runtime import LabRuntime
from lab.topology import load_topology, netns_name

ROOT = Path(__file__).resolve().parents[2]
TOPOLOGY = load_topology()
DELAY = 0.02
MARGIN = 0.015
NETEM_MISSING = "Error: Specified qdisc kind is unknown.\n"

CONNECT = """
import json, socket, sys, time
times = []
for _ in range(int(sys.argv[3])):
    started = time.perf_counter()
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5).close()
    times.append(time.perf_counter() - started)
print(json.dumps(times))
"""


# ---- values ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "seconds"), [
    ("20ms", 0.02), ("0.02s", 0.02), ("0", 0.0), ("0ms", 0.0), ("1s", 1.0), ("1000ms", 1.0), (" 250 MS ", 0.25),
    (".5s", 0.5), ("0.0", 0.0),
])
def test_latency_values_in_milliseconds_or_seconds(text: str, seconds: float) -> None:
    assert parse_latency(text) == pytest.approx(seconds)


@pytest.mark.parametrize(("text", "says"), [
    ("20", "has no unit: write 20ms or 20s"), ("1.5s", "out of range: 0 to 1000 ms"),
    ("1001ms", "out of range"), ("-5ms", "not a duration"), ("fast", "not a duration"), ("", "not a duration"),
    ("20 us", "not a duration"), ("nan", "not a duration"), ("20ms20", "not a duration"),
])
def test_bad_latency_values_say_what_is_accepted(text: str, says: str) -> None:
    with pytest.raises(LatencyError, match=says):
        parse_latency(text)


def test_a_runtime_refuses_a_latency_out_of_range_before_building_anything() -> None:
    with pytest.raises(LatencyError, match="out of range"):
        LabRuntime(TOPOLOGY, "lt0x", latency_s=2.0)
    with pytest.raises(LatencyError, match="out of range"):
        LabRuntime(TOPOLOGY, "lt0x", sim_latency_s=-0.1)
    assert check_latency(0) == 0.0
    assert format_latency(0.02) == "20 ms"


def test_the_simulators_get_the_stated_sim_latency() -> None:
    assert LabRuntime(TOPOLOGY, "lt0x", sim_latency_s=0.005).sim_state().latency_s == 0.005
    assert LabRuntime(TOPOLOGY, "lt0x", latency_s=0.02).sim_state().latency_s == 0.0


def test_the_command_line_refuses_a_bad_latency_with_usage_status() -> None:
    done = subprocess.run([sys.executable, "-m", "lab", "up", "--prefix", "lt0x", "--latency", "20"], cwd=ROOT,
                          capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 2
    assert "argument --latency: latency '20' has no unit: write 20ms or 20s" in done.stderr
    assert lab_namespaces("lt0x") == []


# ---- mechanism ------------------------------------------------------------------------------------
def test_netem_is_taken_where_tc_could_add_it() -> None:
    assert choose("auto", 0) == "netem"
    assert choose("netem", 0) == "netem"


def test_a_kernel_without_netem_gets_the_delay_line() -> None:
    assert netem_missing(NETEM_MISSING)
    assert choose("auto", 2, NETEM_MISSING) == "delay-line"
    assert choose("delay-line", None) == "delay-line"


def test_netem_asked_for_and_missing_or_tc_failing_otherwise_is_an_error() -> None:
    with pytest.raises(LatencyError, match="this kernel has none"):
        choose("netem", 2, NETEM_MISSING)
    with pytest.raises(LatencyError, match="Cannot find device"):
        choose("auto", 1, 'Cannot find device "eth0"\n')
    assert not netem_missing('Cannot find device "eth0"')
    with pytest.raises(LatencyError, match="unknown latency mechanism"):
        choose("qdisc", 0)  # type: ignore[arg-type]


# ---- a lab with the latency -----------------------------------------------------------------------
def wcp(*args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "lab", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, check=False)


def status(prefix: str) -> dict:
    done = wcp("status", "--prefix", prefix, "--json")
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))


@pytest.fixture(scope="module")
def lab() -> Iterator[str]:
    prefix = f"lt{secrets.token_hex(2)}"
    try:
        done = wcp("up", "--prefix", prefix, "--latency", "20ms", "--sim-latency", "5ms")
        assert done.returncode == 0, done.stderr + done.stdout
        assert "latency: 20 ms on " in done.stdout
        yield prefix
    finally:
        wcp("down", "--prefix", prefix)


def connects(prefix: str, node: str, address: str, port: int, count: int = 5) -> list[float]:
    done = subprocess.run(["/usr/sbin/ip", "netns", "exec", netns_name(prefix, node), sys.executable, "-c",
                           CONNECT, address, str(port), str(count)], capture_output=True, text=True, timeout=30,
                          check=False)
    assert done.returncode == 0, done.stderr
    return [float(t) for t in json.loads(done.stdout)]


def gone(pid: int) -> bool:
    """No such process, or one that has exited and waits only for a parent that is not ours to reap it."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def address(role: str) -> str:
    return str(TOPOLOGY.host(role)[1].management)  # type: ignore[arg-type]


def test_the_jumpbox_round_trip_to_a_simulator_and_a_vm_grows_by_the_latency(lab: str) -> None:
    jumpbox = TOPOLOGY.jumpbox[0]
    vm = str(TOPOLOGY.control_planes["cp-1"].management)
    for target, port in ((address("nsx"), 443), (vm, 22)):
        times = connects(lab, jumpbox, target, port)
        assert min(times) >= DELAY, (target, times)
        assert sorted(times)[2] < DELAY + MARGIN, (target, times)


def test_round_trips_among_the_site_nodes_are_not_delayed(lab: str) -> None:
    times = connects(lab, "cp-1", address("nsx"), 443)
    assert sorted(times)[2] < 0.005, times


def test_status_shows_the_latency_and_the_mechanism_in_force(lab: str) -> None:
    info = status(lab)
    latency = info["latency"]
    assert latency["seconds"] == DELAY
    assert latency["text"] == "20 ms"
    assert latency["netns"] == netns_name(lab, TOPOLOGY.jumpbox[0])
    assert latency["interface"] == "eth0"
    assert latency["mechanism"] in {"netem", "delay-line"}
    assert latency["problem"] is None
    assert info["sim_latency_s"] == 0.005
    state = json.loads((STATE_DIR / lab / "sim-state.json").read_text())
    assert state["latency_s"] == 0.005
    text = wcp("status", "--prefix", lab).stdout
    assert f"latency:    20 ms on {latency['netns']}:eth0 ({latency['mechanism']}, {latency['direction']})" in text
    assert "simulators 5 ms per request" in text
    if latency["mechanism"] == "delay-line":
        assert latency["delay_line"]["running"] is True
        assert "delay line pid" in text
        assert "running" in text


def test_a_dead_delay_line_shows_in_status_and_down_leaves_nothing(lab: str) -> None:
    """Last in the module: it kills the delay line, then takes the lab down."""
    latency = status(lab)["latency"]
    if latency["mechanism"] != "delay-line":
        pytest.skip("this kernel has netem: no delay line to lose")
    pid = int(latency["delay_line"]["pid"])
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while status(lab)["latency"]["delay_line"]["running"] and time.monotonic() < deadline:
        time.sleep(0.05)
    info = status(lab)["latency"]
    assert info["delay_line"]["running"] is False
    assert "delay line exited" in info["problem"]
    text = wcp("status", "--prefix", lab).stdout
    assert "NOT RUNNING" in text
    assert "PROBLEM:" in text
    supervisor = int(status(lab)["pid"])
    done = wcp("down", "--prefix", lab)
    assert done.returncode == 0, done.stderr
    assert lab_namespaces(lab) == []
    assert gone(supervisor), supervisor
    assert gone(pid), pid
    assert sorted(STATE_DIR.glob(f"{lab}*")) == []


def test_a_runtime_with_latency_applies_it_and_takes_it_down_with_the_lab(tmp_path: Path) -> None:
    prefix = f"lt{secrets.token_hex(2)}"
    with LabRuntime(TOPOLOGY, prefix, latency_s=0.01, workdir=tmp_path / "lab") as runtime:
        assert runtime.latency is not None
        assert runtime.latency_status()["seconds"] == 0.01
        line = runtime.latency.delay_line
        times = connects(prefix, runtime.jumpbox, address("vcenter"), 443, count=3)
        assert min(times) >= 0.01, times
    assert lab_namespaces(prefix) == []
    if line is not None:
        assert line.started_pid is not None
        assert gone(line.started_pid)
