"""Observe once: one runner per VM for the whole run, so what it learns it never asks the VM again."""

from __future__ import annotations

from lab.sshd import Sshd
from tests.concurrency.site import VmSpec, inventory_for
from tests.support.dnsmasq import Dnsmasq
from wcp_acceptance.observe_all import Wanted, observe_all
from wcp_acceptance.plan import dns_probes, resolver_probes
from wcp_acceptance.vmpool import VmPool, route_pairs


def test_a_vm_has_one_runner_for_the_run(live_vms: list[tuple[Sshd, VmSpec]], dns: Dnsmasq) -> None:
    inventory = inventory_for([spec for _, spec in live_vms], dns.address, dns.port)
    pool = VmPool(inventory)
    try:
        assert pool.runner("cp-1") is pool.runner("cp-1")
        assert pool.runner("cp-1") is not pool.runner("cp-2")
    finally:
        pool.close()


def test_each_vm_is_asked_for_python3_and_resolv_conf_once(
    live_vms: list[tuple[Sshd, VmSpec]], dns: Dnsmasq
) -> None:
    inventory = inventory_for([spec for _, spec in live_vms], dns.address, dns.port)
    a_probes, ptr_probes, resolvers = dns_probes(inventory), dns_probes(inventory, ptr_only=True), \
        resolver_probes(inventory)
    wants = [Wanted("A", p) for p in a_probes] + [Wanted("PTR", p) for p in ptr_probes] + \
        [Wanted("resolver", p) for p in resolvers] + [Wanted("routing", vm.name) for vm in
                                                       inventory.supervisor.control_plane]
    before = {spec.name: sshd.exec_count() for sshd, spec in live_vms}
    pool = VmPool(inventory)
    try:
        made = observe_all(pool, wants, inventory.timeouts)
        for want in wants:
            made.get(want)  # every one was made, none could not be observed
    finally:
        pool.close()
    for sshd, spec in live_vms:
        vm = next(v for v in inventory.supervisor.control_plane if v.name == spec.name)
        queries = sum(1 for w in wants if w.kind in ("A", "PTR") and w.vm == spec.name)
        getents = sum(1 for w in wants if w.kind == "resolver" and w.vm == spec.name)
        routing = 2 + len(route_pairs(inventory, vm))  # ip -j rule, ip -j route show table all, route gets
        once = 2  # command -v python3, cat /etc/resolv.conf
        expected = queries + getents + routing + once
        observed = sshd.exec_count() - before[spec.name]
        assert observed == expected, (
            f"{spec.name}: expected {expected} commands ({queries} DNS queries, {getents} getent, {routing} "
            f"routing, {once} asked once); observed {observed}"
        )
