"""Only the probes of the selected, not skipped, tests are observed (a -k run does not observe everything)."""

from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Interface

import pytest

from fixtures.observations import wanted_by
from wcp_acceptance.observe_all import Wanted, wave_of
from wcp_acceptance.targets import (
    ClockProbe,
    DnsProbe,
    EgressProbe,
    MtuProbe,
    NtpProbe,
    ResolverProbe,
    ReturnPathProbe,
    RouteProbe,
)

A = DnsProbe("cp-1", "eth0", IPv4Interface("192.168.10.45/24"), IPv4Address("192.168.10.10"), "vcenter.corp.local")
PTR = DnsProbe("cp-2", "eth0", IPv4Interface("192.168.10.46/24"), IPv4Address("192.168.10.10"), "vcenter.corp.local",
               IPv4Address("192.168.10.20"))
RESOLVER = ResolverProbe("cp-3", "nsx.corp.local")
ROUTE = RouteProbe("cp-3", IPv4Address("192.168.10.47"), IPv4Address("192.168.10.10"), "management DNS")
EGRESS = EgressProbe("cp-1", "eth1", IPv4Address("10.244.0.2"), IPv4Address("192.168.10.5"), 40123,
                     IPv4Address("172.16.2.1"))


@dataclass
class _CallSpec:
    params: dict[str, object]


@dataclass
class _Item:
    """What wanted_by reads of a collected pytest item."""

    fixturenames: list[str]
    params: dict[str, object]
    skipped: bool = False
    callspec: _CallSpec = field(init=False)

    def __post_init__(self) -> None:
        self.callspec = _CallSpec(self.params)

    def get_closest_marker(self, name: str) -> pytest.Mark | None:
        return pytest.mark.skip(reason="excluded").mark if self.skipped and name == "skip" else None


def test_only_selected_tests_are_observed_with_the_routing_their_diagnosis_reads() -> None:
    items = [
        _Item(["a_observation", "dns_diagnosis", "dns_probe"], {"dns_probe": A}),
        _Item(["a_observation", "dns_diagnosis", "dns_probe"], {"dns_probe": A}),  # the same probe twice: once
        _Item(["ptr_observation", "ptr_diagnosis", "ptr_probe"], {"ptr_probe": PTR}),
        _Item(["resolver_observation", "resolver_probe"], {"resolver_probe": RESOLVER}, skipped=True),
        _Item(["route_context", "route_probe"], {"route_probe": ROUTE}),
        _Item(["egress_observation", "egress_context", "egress_probe"], {"egress_probe": EGRESS}),
        _Item(["vip_observation", "vip_port"], {"vip_port": "172.16.1.2:443"}),  # not a VM observation
    ]
    assert wanted_by(items) == [  # type: ignore[arg-type]
        Wanted("A", A), Wanted("routing", "cp-1"),
        Wanted("PTR", PTR), Wanted("routing", "cp-2"),
        Wanted("routing", "cp-3"),
        Wanted("egress", EGRESS),
    ]


def test_a_run_selecting_one_test_observes_one_probe() -> None:
    only = [_Item(["resolver_observation", "resolver_probe"], {"resolver_probe": RESOLVER})]
    assert wanted_by(only) == [Wanted("resolver", RESOLVER)]  # type: ignore[arg-type]


def test_the_return_path_clock_ntp_and_mtu_tests_want_their_observations_once_per_vm_or_probe() -> None:
    rp = [ReturnPathProbe("cp-1", iface, IPv4Address(src), IPv4Address("192.168.10.20"), "vCenter")
          for iface, src in (("eth0", "192.168.10.45"), ("eth1", "10.244.0.2"))]
    clock = ClockProbe("cp-1")
    ntp = NtpProbe("cp-1", "eth0", IPv4Address("192.168.10.45"), IPv4Address("192.168.10.254"))
    mtu = MtuProbe("cp-1", "eth1", IPv4Address("10.244.0.2"), IPv4Address("10.244.0.1"), "edge")
    items = [
        *(_Item(["return_path_observation", "return_path_probe"], {"return_path_probe": p}) for p in rp),
        _Item(["time_observation", "time_target", "time_limits"], {"time_target": clock}),
        _Item(["time_observation", "time_target", "time_limits"], {"time_target": ntp}),
        _Item(["mtu_observation", "mtu_probe"], {"mtu_probe": mtu}, skipped=True),
    ]
    assert wanted_by(items) == [Wanted("return_path", "cp-1"), Wanted("clock", clock),  # type: ignore[arg-type]
                                Wanted("ntp", ntp)]
    # quick commands with the routing read, the python3 NTP sender with the python3 A queries
    assert {wave_of(k) for k in ("routing", "return_path", "clock", "mtu")} == {0}
    assert wave_of("ntp") == wave_of("A")
