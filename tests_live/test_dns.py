"""DNS from every interface of every control-plane VM, through that interface's DNS servers."""

from __future__ import annotations

import pytest
from wcp_acceptance.checks.coredns import check_coredns_upstreams
from wcp_acceptance.checks.dns import check_a_record, check_ptr_round_trip, check_vm_resolver
from wcp_acceptance.finding import expect
from wcp_acceptance.inventory import Inventory
from wcp_acceptance.observations import DnsObservation, ResolverObservation, UpstreamObservation


@pytest.mark.check_id("WCP-DNS-001")
def test_name_resolves(a_observation: DnsObservation, dns_diagnosis: dict[str, object]) -> None:
    """The name resolves (A) from the interface's own address, sent from the VM itself."""
    expect(check_a_record(a_observation, **dns_diagnosis))


@pytest.mark.check_id("WCP-DNS-002")
def test_reverse_lookup_round_trips(ptr_observation: DnsObservation, ptr_diagnosis: dict[str, object]) -> None:
    """The address's PTR record names the host again (case-insensitive)."""
    expect(check_ptr_round_trip(ptr_observation, **ptr_diagnosis))


@pytest.mark.check_id("WCP-DNS-003")
def test_vm_resolver_resolves_management_name(resolver_observation: ResolverObservation) -> None:
    """The VM's own resolver (resolv.conf, nsswitch) resolves the management names."""
    expect(check_vm_resolver(resolver_observation))


@pytest.mark.check_id("WCP-DNS-004")
def test_coredns_upstreams_answer_the_workload_network(upstream_observation: UpstreamObservation,
                                                       inventory: Inventory) -> None:
    """Every forward upstream of CoreDNS's Corefile answers a query from the VM's workload address."""
    expect(check_coredns_upstreams(upstream_observation, inventory.dns.workload.servers, inventory.networks.egress))
