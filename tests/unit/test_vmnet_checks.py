"""WCP-RT-002, WCP-TIME-001 and WCP-MTU-001: their probes (against a scripted VM), checks, messages and inputs."""

from __future__ import annotations

import json
import struct
from collections.abc import Callable, Sequence
from ipaddress import IPv4Address
from pathlib import Path

import pytest

from lab.ntp import reply_to
from tests.support.inventories import EXAMPLE_ENV, example_data, write
from wcp_acceptance.checks.clock import check_clock, check_ntp, check_time
from wcp_acceptance.checks.mtu import check_path_mtu
from wcp_acceptance.checks.return_path import check_return_path
from wcp_acceptance.commands import CommandResult, ForbiddenCommand, check_argv
from wcp_acceptance.finding import ObservationError
from wcp_acceptance.inventory import InventoryError, load_inventory
from wcp_acceptance.inventory.model import TimeSpec
from wcp_acceptance.plan import mtu_probes, ntp_probes, return_path_probes, time_targets
from wcp_acceptance.probes.routing import RoutingRaw
from wcp_acceptance.probes.vmnet import (
    NTP_EPOCH,
    ntp_query,
    observe_clock,
    observe_mtu,
    observe_ntp,
    observe_return_path,
    parse_ntp_reply,
)
from wcp_acceptance.targets import ClockProbe, MtuProbe, NtpProbe, ReturnPathProbe
from wcp_acceptance.vm_scripts import DNS_QUERY_SCRIPT
from wcp_acceptance.vmnet_records import (
    ClockObservation,
    MtuObservation,
    NtpObservation,
    PingTry,
    ReturnPathObservation,
    RouteAnswer,
)

VCENTER, ESXI = "192.168.10.20", "192.168.10.31"
ETH0, ETH1 = "192.168.10.45", "10.244.0.2"
EXAMPLE_ROUTE_ETH0 = json.dumps([{"dst": VCENTER, "dev": "eth0", "prefsrc": ETH0, "flags": [], "uid": 0,
                                  "cache": []}])
STEERED = json.dumps([{"dst": ESXI, "from": ETH0, "gateway": "10.244.0.1", "dev": "eth1", "table": "200",
                       "uid": 0, "cache": []}])


@pytest.fixture(autouse=True)
def _example_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in EXAMPLE_ENV.items():
        monkeypatch.setenv(key, value)


class ScriptedRunner:
    """A VM that answers each command with what ``answer(argv)`` returns, after checking the allow-list."""

    vm_name = "cp-1"

    def __init__(self, answer: Callable[[Sequence[str]], tuple[int, str, str]]) -> None:
        self.answer = answer
        self.sent: list[tuple[str, ...]] = []

    def run(self, argv: Sequence[str]) -> CommandResult:
        check_argv(argv)
        self.sent.append(tuple(argv))
        status, out, err = self.answer(argv)
        return CommandResult(tuple(argv), status, out, err, 0.001)


# ---- the allow-list -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("argv", [
    ["cat", "/proc/sys/net/ipv4/conf/all/rp_filter", "/proc/sys/net/ipv4/conf/eth0/rp_filter"],
    ["date", "+%s.%N"],
    ["ping", "-n", "-M", "do", "-s", "1472", "-c", "1", "-W", "1", "-I", ETH1, "192.168.10.5"],
    ["python3", "-c", DNS_QUERY_SCRIPT, ETH0, "192.168.10.254", "123", ntp_query(bytes(8)).hex(), "1"],
], ids=["return path", "clock", "ping", "ntp"])
def test_the_new_commands_are_allowed(argv: list[str]) -> None:
    check_argv(argv)


@pytest.mark.parametrize("argv", [
    ["cat", "/proc/sys/net/ipv4/conf/../../../../etc/shadow/rp_filter"],
    ["cat", "/proc/sys/net/ipv4/conf/../rp_filter"],
    ["cat", "/proc/sys/net/ipv4/conf/eth0/forwarding"],
    ["cat", "/proc/sys/net/ipv4/conf/eth0;reboot/rp_filter"],
    ["cat", *["/proc/sys/net/ipv4/conf/eth0/rp_filter"] * 9],
    ["date", "-s", "2020-01-01"],  # date with another argument sets the clock
    ["date"],
    ["ping", "-n", "-M", "do", "-s", "99999", "-c", "1", "-W", "1", "-I", ETH1, "192.168.10.5"],
    ["ping", "-n", "-M", "do", "-s", "1472", "-c", "1000", "-W", "1", "-I", ETH1, "192.168.10.5"],
    ["ping", "-n", "-M", "do", "-s", "1472", "-c", "1", "-W", "1", "-I", ETH1, "-f", "192.168.10.5"],
    ["ping", "-n", "-M", "do", "-s", "1472", "-c", "1", "-W", "1", "-I", "eth1", "192.168.10.5"],
], ids=lambda argv: " ".join("<script>" if "\n" in a else a for a in argv)[:60])
def test_variants_of_them_are_refused(argv: list[str]) -> None:
    with pytest.raises(ForbiddenCommand):
        check_argv(argv)


# ---- the inventory ------------------------------------------------------------------------------------------
def test_the_new_fields_have_defaults_and_plans(tmp_path: Path) -> None:
    data = example_data()
    for key in ("esxi_hosts", "time", "mtu"):
        data.pop(key, None)
    data["ntp_servers"] = ["192.168.10.254"]
    inv = load_inventory(write(tmp_path, data))
    assert (inv.time.warn_seconds, inv.time.fail_seconds, inv.mtu, inv.esxi_hosts) == (1.0, 5.0, 1500, ())
    vms = len(inv.supervisor.control_plane)
    assert len(ntp_probes(inv)) == vms
    assert len(time_targets(inv)) == 2 * vms
    assert {p.role for p in mtu_probes(inv)} == {"edge", "beyond the edge"}
    assert {p.role for p in return_path_probes(inv)} <= {"vCenter", "NSX manager"}


@pytest.mark.parametrize(("key", "value", "expected"), [
    ("esxi_hosts", ["10.0.0.300"], "esxi_hosts[0]: '10.0.0.300' is not an IPv4 address"),
    ("esxi_hosts", [12], "esxi_hosts[0]: 12 is not an IPv4 address"),
    ("time", {"warn_seconds": 5, "fail_seconds": 2}, "time.fail_seconds: 2 must be more than warn_seconds (5)"),
    ("time", {"warn_seconds": "1"}, "time.warn_seconds:"),
    ("time", {"warn_seconds": 0}, "time.warn_seconds:"),
    ("time", {"warn": 1}, "time.warn: unknown key"),
    ("mtu", 100, "mtu:"),
    ("mtu", "1500", "mtu:"),
])
def test_bad_new_fields_stop_the_run_naming_the_field(tmp_path: Path, key: str, value: object, expected: str) -> None:
    data = example_data()
    data[key] = value
    with pytest.raises(InventoryError) as caught:
        load_inventory(write(tmp_path, data))
    assert any(expected in line for line in caught.value.problems), caught.value.problems


# ---- WCP-RT-002 --------------------------------------------------------------------------------------------
def _rp(all_: int = 2, eth0: int = 2,
        routes: dict[tuple[str, str], RouteAnswer] | None = None) -> ReturnPathObservation:
    return ReturnPathObservation("cp-1", {"all": all_, "eth0": eth0, "eth1": 2}, routes or {}, "$ python3 ...")


ESXI_PROBE = ReturnPathProbe("cp-1", "eth0", IPv4Address(ETH0), IPv4Address(ESXI), "ESXi host")


def test_a_route_out_another_interface_with_strict_rp_filter_fails_naming_everything() -> None:
    obs = _rp(0, 1, {(ESXI, ETH0): RouteAnswer(0, STEERED, "")})
    finding = check_return_path(ESXI_PROBE, obs)
    assert not finding.ok
    assert str(ESXI_PROBE) == "cp-1/eth0 -> 192.168.10.31 (ESXi host)"
    assert finding.observed == ("it leaves by eth1 (dev eth1 via 10.244.0.1 table 200) while its replies, to "
                                "192.168.10.45, arrive on eth0, where rp_filter 1 (strict: max(all 0, eth0 1))")
    assert "strict reverse-path filtering on cp-1/eth0 drops the replies from 192.168.10.31" in finding.cause
    assert any("net.ipv4.conf.eth0.rp_filter = 1" in e for e in finding.evidence)


@pytest.mark.parametrize(("all_", "eth0", "name"), [(2, 1, "loose"), (0, 0, "off"), (2, 0, "loose")])
def test_loose_or_off_passes_with_the_asymmetry_noted(all_: int, eth0: int, name: str) -> None:
    finding = check_return_path(ESXI_PROBE, _rp(all_, eth0, {(ESXI, ETH0): RouteAnswer(0, STEERED, "")}))
    assert finding.ok
    assert f"({name}: max(all {all_}, eth0 {eth0}))" in finding.observed
    assert "noted: the path is asymmetric" in finding.observed


def test_a_symmetric_route_passes_whatever_rp_filter() -> None:
    probe = ReturnPathProbe("cp-1", "eth0", IPv4Address(ETH0), IPv4Address(VCENTER), "vCenter")
    finding = check_return_path(probe, _rp(1, 1, {(VCENTER, ETH0): RouteAnswer(0, EXAMPLE_ROUTE_ETH0, "")}))
    assert finding.ok
    assert finding.observed.startswith("it leaves by eth0 (dev eth0, table main)")


def test_no_route_at_all_fails_and_a_missing_or_lying_answer_is_an_error() -> None:
    refused = _rp(routes={(ESXI, ETH0): RouteAnswer(2, "", "RTNETLINK answers: Network is unreachable\n")})
    finding = check_return_path(ESXI_PROBE, refused)
    assert not finding.ok
    assert finding.observed.endswith("Network is unreachable")
    with pytest.raises(ObservationError, match="gave no answer"):
        check_return_path(ESXI_PROBE, _rp())
    with pytest.raises(ObservationError, match="unreadable ip -j route get"):
        check_return_path(ESXI_PROBE, _rp(routes={(ESXI, ETH0): RouteAnswer(0, "[{}]", "")}))
    with pytest.raises(ObservationError, match="could not run"):
        check_return_path(ESXI_PROBE, _rp(routes={(ESXI, ETH0): RouteAnswer(None, "", "[Errno 2] ip")}))
    unknown = ReturnPathObservation("cp-1", {"all": None, "eth0": 1}, {(ESXI, ETH0): RouteAnswer(0, STEERED, "")})
    with pytest.raises(ObservationError, match="rp_filter of eth0 or all is unreadable"):
        check_return_path(ESXI_PROBE, unknown)


def test_the_return_path_probe_asks_only_what_the_routing_read_does_not(tmp_path: Path) -> None:
    inv = load_inventory(write(tmp_path, example_data()))
    vm = inv.supervisor.control_plane[0]
    eth0, eth1 = str(vm.interfaces["eth0"].address.ip), str(vm.interfaces["eth1"].address.ip)
    routing = RoutingRaw("cp-1", "[]", "[]", {(VCENTER, eth0): EXAMPLE_ROUTE_ETH0},
                         {(ESXI, eth0): "RTNETLINK answers: Network is unreachable"})

    def vm_answers(argv: Sequence[str]) -> tuple[int, str, str]:
        return (0, "0\n1\n2\n", "") if argv[0] == "cat" else (0, STEERED, "")

    runner = ScriptedRunner(vm_answers)
    reads: list[int] = []
    obs = observe_return_path(runner, vm, [IPv4Address(VCENTER), IPv4Address(ESXI)],  # type: ignore[arg-type]
                              {(VCENTER, eth0), (ESXI, eth0)}, lambda: reads.append(1) or routing)
    assert runner.sent == [
        ("cat", "/proc/sys/net/ipv4/conf/all/rp_filter", "/proc/sys/net/ipv4/conf/eth0/rp_filter",
         "/proc/sys/net/ipv4/conf/eth1/rp_filter"),
        ("ip", "-j", "route", "get", VCENTER, "from", eth1), ("ip", "-j", "route", "get", ESXI, "from", eth1)]
    assert reads == [1]
    assert obs.effective_rp_filter("eth0") == 1
    assert obs.routes[(VCENTER, eth0)].status == 0
    assert obs.routes[(ESXI, eth0)].status == 2
    assert obs.routes[(ESXI, eth1)].out == STEERED
    missing = ScriptedRunner(lambda argv: (1, "0\n1\n", "cat: /proc/sys/net/ipv4/conf/eth1/rp_filter: No such file"))
    with pytest.raises(ObservationError, match="cannot read rp_filter: cat: /proc/sys/net/ipv4/conf/eth1"):
        observe_return_path(missing, vm, [IPv4Address(VCENTER)])  # type: ignore[arg-type]
    lying = ScriptedRunner(lambda argv: (0, "0\nstrict\n2\n", ""))
    with pytest.raises(ObservationError, match="cannot read rp_filter"):
        observe_return_path(lying, vm, [IPv4Address(VCENTER)])  # type: ignore[arg-type]


# ---- WCP-TIME-001 -------------------------------------------------------------------------------------------
LIMITS = TimeSpec(warn_seconds=1, fail_seconds=5)
CLOCK = ClockProbe("cp-1")


@pytest.mark.parametrize(("vm_time", "ok", "severity", "phrase"), [
    (1000.01, True, None, "offset +0.010 s"),
    (1000.0 + 1.08, True, None, "offset +1.080 s"),  # within the error bound of the threshold
    (1003.0, False, "major", "more than warn_seconds 1, within fail_seconds 5"),
    (1000.0 - 30, False, "critical", "30.000 s behind the runner's (more than fail_seconds 5)"),
])
def test_clock_offsets_against_the_thresholds(vm_time: float, ok: bool, severity: str | None, phrase: str) -> None:
    obs = ClockObservation(CLOCK, vm_time, 999.9, 1000.1)  # midpoint 1000.0, ±0.1 s
    finding = check_time(obs, LIMITS)
    assert finding.ok is ok
    assert finding.severity == severity
    assert phrase in finding.message()
    assert "±0.100 s: half the round trip" in finding.observed


def test_the_clock_probe_brackets_the_command_and_refuses_what_is_not_a_time() -> None:
    obs = observe_clock(ScriptedRunner(lambda argv: (0, "1796178126.419217807\n", "")), CLOCK)  # type: ignore[arg-type]
    assert obs.runner_before <= obs.runner_after
    assert obs.vm_time == pytest.approx(1796178126.4192178)
    for out in ("", "Wed Dec  2 02:15:15 UTC 2026", "%s.%N"):
        with pytest.raises(ObservationError, match="not seconds since the epoch"):
            observe_clock(ScriptedRunner(lambda argv, out=out: (0, out, "")), CLOCK)  # type: ignore[arg-type]


NTP = NtpProbe("cp-1", "eth0", IPv4Address(ETH0), IPv4Address("192.168.10.254"))


def test_the_lab_server_answers_our_query_and_the_reply_is_tied_to_it() -> None:
    nonce = b"\x01\x02\x03\x04\x05\x06\x07\x08"
    reply = reply_to(ntp_query(nonce), 1000.0, now=1000.5)
    assert reply is not None
    leap, stratum, when = parse_ntp_reply(reply, nonce)  # type: ignore[misc]
    assert (leap, stratum) == (0, 1)
    assert when == pytest.approx(1000.5)
    assert parse_ntp_reply(reply, bytes(8)) == "its originate timestamp is not our query's transmit timestamp"
    assert parse_ntp_reply(reply[:20], nonce) == "20 bytes, shorter than an NTP header (48)"
    assert parse_ntp_reply(ntp_query(nonce), nonce) == "mode 3, not a server reply (4)"
    assert reply_to(b"\x1b" + bytes(10), 0.0) is None


def test_the_ntp_probe_goes_through_the_dns_sender_from_the_management_address() -> None:
    def server(argv: Sequence[str]) -> tuple[int, str, str]:
        assert argv[3:6] == [ETH0, "192.168.10.254", "123"] or tuple(argv[3:6]) == (ETH0, "192.168.10.254", "123")
        answer = reply_to(bytes.fromhex(argv[6]), 2000.0, now=2000.0)
        assert answer is not None
        return 0, json.dumps({"ok": True, "reply": answer.hex(), "elapsed": 0.001}) + "\n", ""

    obs = observe_ntp(ScriptedRunner(server), NTP, 1.0)  # type: ignore[arg-type]
    assert obs.outcome == "answer"
    assert obs.stratum == 1
    assert obs.server_time == pytest.approx(2000.0)
    refused = {"ok": False, "error": "icmp", "errno": 111, "text": "[Errno 111] Connection refused",
               "from": "192.168.10.254"}
    down = observe_ntp(ScriptedRunner(lambda argv: (0, json.dumps(refused), "")), NTP, 1.0)  # type: ignore[arg-type]
    finding = check_ntp(down)
    assert not finding.ok
    assert finding.observed == ("no NTP answer: port unreachable from 192.168.10.254 ([Errno 111] "
                                                   "Connection refused)")
    assert "does not answer cp-1" in finding.cause


@pytest.mark.parametrize(("stratum", "leap", "ok"), [(2, 0, True), (0, 0, False), (16, 0, False), (3, 3, False)])
def test_an_unsynchronised_server_fails(stratum: int, leap: int, ok: bool) -> None:
    obs = NtpObservation(NTP, "answer", stratum, leap, 1000.0, 999.9, 1000.1)
    finding = check_ntp(obs)
    assert finding.ok is ok
    assert f"stratum {stratum}, leap indicator {leap}, its clock +0.000 s (±0.100 s)" in finding.observed


def test_silence_and_a_stranger_on_123_fail() -> None:
    assert check_ntp(NtpObservation(NTP, "no_reply", detail="no reply within 1 s")).observed == \
        "no answer: no reply within 1 s"
    stranger = check_ntp(NtpObservation(NTP, "bad_reply", detail="mode 3, not a server reply (4)"))
    assert not stranger.ok
    assert "something other than an NTP server" in stranger.cause


def test_the_ntp_epoch_is_1900() -> None:
    assert struct.unpack("!I", ntp_query(struct.pack("!II", NTP_EPOCH, 0))[40:44])[0] == NTP_EPOCH


# ---- WCP-MTU-001 --------------------------------------------------------------------------------------------
BEYOND = MtuProbe("cp-1", "eth1", IPv4Address(ETH1), IPv4Address("192.168.10.5"), "beyond the edge", 1500)


def _ping_vm(mtu: int, reports: bool) -> ScriptedRunner:
    def answer(argv: Sequence[str]) -> tuple[int, str, str]:
        size = int(argv[5]) + 28
        if size <= mtu:
            return 0, f"{size - 20} bytes from 192.168.10.5: icmp_seq=1 ttl=62 time=0.2 ms\n", ""
        said = f"From 10.244.0.1 icmp_seq=1 Frag needed and DF set (mtu = {mtu})\n" if reports else ""
        return 1, said + "1 packets transmitted, 0 received, 100% packet loss\n", ""
    return ScriptedRunner(answer)


def test_a_reported_mtu_is_tried_at_once() -> None:
    runner = _ping_vm(1400, reports=True)
    obs = observe_mtu(runner, BEYOND, 1)  # type: ignore[arg-type]
    assert [t.size for t in obs.tries] == [1500, 1400]
    assert obs.largest_passed == 1400
    finding = check_path_mtu(obs)
    assert not finding.ok
    assert finding.observed == ("1500 bytes: From 10.244.0.1 icmp_seq=1 Frag needed and DF set (mtu = 1400); the "
                                "largest that passed: 1400 bytes")
    assert "beyond the edge (its uplink or a router after it) carries fewer than 1500 bytes; the path reports " \
           "mtu 1400" in finding.cause


def test_a_black_hole_is_searched_briefly() -> None:
    obs = observe_mtu(_ping_vm(1400, reports=False), BEYOND, 1)  # type: ignore[arg-type]
    assert obs.tries[1].size == 576
    assert len(obs.tries) <= 2 + 5
    assert obs.largest_passed is not None
    assert 1370 <= obs.largest_passed <= 1400
    assert "no router reported its MTU" in check_path_mtu(obs).cause


def test_the_expected_size_passing_is_one_ping_and_nothing_at_all_is_an_error() -> None:
    runner = _ping_vm(1500, reports=False)
    obs = observe_mtu(runner, BEYOND, 1)  # type: ignore[arg-type]
    assert len(runner.sent) == 1
    assert check_path_mtu(obs).observed == "1500 bytes passed"
    assert runner.sent[0][-3:] == ("-I", ETH1, "192.168.10.5")
    dead = MtuObservation(BEYOND, (PingTry(1500, False, "no reply within 1 s"), PingTry(576, False, "no reply")))
    with pytest.raises(ObservationError, match="no don't-fragment ping at all"):
        check_path_mtu(dead)
    with pytest.raises(ObservationError, match="ping is not installed"):
        observe_mtu(ScriptedRunner(lambda argv: (127, "", "ping: not found")), BEYOND, 1)  # type: ignore[arg-type]


def test_clock_check_is_dispatched_by_observation_type() -> None:
    obs = ClockObservation(CLOCK, 1000.0, 999.99, 1000.01)
    assert check_time(obs, LIMITS) == check_clock(obs, LIMITS)
