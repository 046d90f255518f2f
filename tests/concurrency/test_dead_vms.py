"""Dead VMs cost about one connect timeout in total, not one each, and each probe says why."""

from __future__ import annotations

import contextlib
import time

from lab.sshd import Sshd
from tests.concurrency.site import VmSpec, inventory_for, silent_listener
from tests.support.dnsmasq import Dnsmasq
from wcp_acceptance.finding import ObservationError
from wcp_acceptance.observe_all import Wanted, observe_all
from wcp_acceptance.plan import dns_probes, resolver_probes
from wcp_acceptance.vmpool import VmPool

CONNECT = 1.5


def _observe(specs: list[VmSpec], dns: Dnsmasq) -> tuple[float, dict[str, set[str]]]:
    inventory = inventory_for(specs, dns.address, dns.port, connect=CONNECT)
    wants = [Wanted("A", p) for p in dns_probes(inventory)] + \
        [Wanted("resolver", p) for p in resolver_probes(inventory)] + \
        [Wanted("routing", vm.name) for vm in inventory.supervisor.control_plane]
    pool = VmPool(inventory)
    started = time.monotonic()
    try:
        made = observe_all(pool, wants, inventory.timeouts)
    finally:
        pool.close()
    wall = time.monotonic() - started
    causes: dict[str, set[str]] = {}
    for want in wants:
        try:
            made.get(want)
        except ObservationError as error:
            causes.setdefault(want.vm, set()).add(f"{error.target}: {error.cause}")
    return wall, causes


def test_three_silent_vms_cost_one_connect_timeout(live_vms: list[tuple[Sshd, VmSpec]], dns: Dnsmasq) -> None:
    sshd, live = live_vms[0]
    with contextlib.ExitStack() as stack:
        silent = [VmSpec(f"cp-{9 - i}", f"127.0.31.{60 + i}", stack.enter_context(silent_listener(
            f"127.0.31.{60 + i}")), sshd.client_key, sshd.known_hosts) for i in range(3)]
        healthy_wall, healthy = _observe([live], dns)
        one_wall, one = _observe([live, silent[0]], dns)
        three_wall, three = _observe([live, *silent], dns)
    assert healthy == {}, healthy
    assert set(three) == {s.name for s in silent}, three
    for spec in silent:  # one cause per dead VM, naming it and the timeout that ran out
        assert len(three[spec.name]) == 1, three[spec.name]
        cause = next(iter(three[spec.name]))
        assert spec.name in cause, cause
        assert f"within {CONNECT:g} s (connect timeout)" in cause, cause
    assert set(one) == {silent[0].name}
    assert one_wall >= CONNECT * 0.95, f"expected the silent VM to cost its connect timeout; observed {one_wall:.2f} s"
    assert three_wall - one_wall < CONNECT * 0.8, (
        f"expected 3 silent VMs to cost about one connect timeout ({CONNECT:g} s) in total, as 1 does "
        f"({one_wall:.2f} s, healthy {healthy_wall:.2f} s); observed {three_wall:.2f} s "
        f"(serial would add {2 * CONNECT:g} s more)"
    )
