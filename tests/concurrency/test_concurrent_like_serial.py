"""The VMs observed concurrently give exactly what a serial run gives, errors included."""

from __future__ import annotations

from lab.sshd import Sshd
from tests.concurrency.site import VmSpec, inventory_for
from tests.support.dnsmasq import Dnsmasq, free_port
from wcp_acceptance.finding import ObservationError
from wcp_acceptance.inventory import Inventory
from wcp_acceptance.observations import DnsObservation, ResolverObservation
from wcp_acceptance.observe_all import Wanted, observe_all
from wcp_acceptance.plan import dns_probes, resolver_probes
from wcp_acceptance.vmpool import VmPool, VmRouting


def _wants(inventory: Inventory) -> list[Wanted]:
    return ([Wanted("A", p) for p in dns_probes(inventory)]
            + [Wanted("PTR", p) for p in dns_probes(inventory, ptr_only=True)]
            + [Wanted("resolver", p) for p in resolver_probes(inventory)]
            + [Wanted("routing", vm.name) for vm in inventory.supervisor.control_plane])


def _seen(inventory: Inventory, max_vms: int, channels_per_vm: int) -> dict[Wanted, tuple[object, ...]]:
    """What each observation says, without the timings that differ from run to run."""
    pool = VmPool(inventory)
    try:
        made = observe_all(pool, _wants(inventory), inventory.timeouts, max_vms=max_vms,
                           channels_per_vm=channels_per_vm)
    finally:
        pool.close()
    seen: dict[Wanted, tuple[object, ...]] = {}
    for want in _wants(inventory):
        try:
            got = made.get(want)
        except ObservationError as error:
            seen[want] = ("error", error.target, error.cause)
            continue
        if isinstance(got, DnsObservation):
            seen[want] = (got.outcome, got.answers, got.rcode, got.method, got.qname)
        elif isinstance(got, ResolverObservation):
            seen[want] = (got.addresses, got.exit_status, got.resolv_conf)
        elif isinstance(got, VmRouting):
            seen[want] = (got.raw.rules_json, got.raw.route_gets, got.raw.route_get_errors, got.workload_tables)
    return seen


def test_concurrent_observations_equal_serial_ones(live_vms: list[tuple[Sshd, VmSpec]], dns: Dnsmasq) -> None:
    sshd = live_vms[0][0]
    refused = VmSpec("cp-3", "127.0.31.47", free_port("127.0.31.47"), sshd.client_key, sshd.known_hosts)
    inventory = inventory_for([spec for _, spec in live_vms] + [refused], dns.address, dns.port)
    serial = _seen(inventory, max_vms=1, channels_per_vm=1)
    concurrent = _seen(inventory, max_vms=16, channels_per_vm=4)
    assert set(serial) == set(concurrent) == set(_wants(inventory))
    differ = {str(w.probe): (serial[w], concurrent[w]) for w in serial if serial[w] != concurrent[w]}
    assert not differ, f"expected the concurrent run to observe what the serial run did; differ: {differ}"
    outcomes = {v[0] for w, v in serial.items() if w.vm != "cp-3" and w.kind in ("A", "PTR")}
    assert outcomes == {"answer"}, outcomes  # the comparison is of real answers, not of two empty runs
    assert {v[0] for w, v in serial.items() if w.vm == "cp-3"} == {"error"}
    assert all("refused" in str(v[2]) for w, v in serial.items() if w.vm == "cp-3")
