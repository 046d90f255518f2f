"""What to check, derived from the inventory alone (no network): the probe lists tests parametrise.

Collection never talks to the site, so a dead API cannot turn into a collection error; data that
only the site knows (Services, virtual servers) is read by session fixtures and compared in one
test per check.
"""

from __future__ import annotations

from ipaddress import IPv4Address
from pathlib import Path
from urllib.parse import urlsplit

from wcp_acceptance.inventory.model import Inventory
from wcp_acceptance.targets import (
    CapacityTarget,
    CertEndpoint,
    CertRole,
    ClockProbe,
    DnsProbe,
    EgressProbe,
    ManagerTlsProbe,
    MtuProbe,
    NamespaceRef,
    NatCase,
    NcpViewRef,
    NtpProbe,
    ResolverProbe,
    ReturnPathProbe,
    RouteProbe,
    ServiceRef,
    UpstreamProbe,
    VipPort,
)


def dns_probes(inv: Inventory, *, ptr_only: bool = False) -> list[DnsProbe]:
    """Every (VM, interface, DNS server, name) for that interface's network (management/workload)."""
    probes: list[DnsProbe] = []
    for vm in inv.supervisor.control_plane:
        for iface, spec in vm.interfaces.items():
            role = inv.dns.management if spec.network == "management" else inv.dns.workload
            servers = spec.dns_servers or role.servers
            for server in servers:
                for entry in role.names:
                    if ptr_only and not entry.ptr:
                        continue
                    probes.append(
                        DnsProbe(vm.name, iface, spec.address, server, entry.name, entry.address,
                                 show_server=len(servers) > 1, port=inv.dns.port)
                    )
    return probes


def upstream_probes(inv: Inventory) -> list[UpstreamProbe]:
    """WCP-DNS-004: one target per VM workload interface; each upstream is asked the first workload DNS name
    (else the first management name; an inventory with no names has no target)."""
    entry = next(iter(inv.dns.workload.names or inv.dns.management.names), None)
    if entry is None:
        return []
    return [UpstreamProbe(vm.name, iface, spec.address, entry.name, entry.address, port=inv.dns.port)
            for vm in inv.supervisor.control_plane for iface, spec in vm.workload_interfaces]


def resolver_probes(inv: Inventory) -> list[ResolverProbe]:
    """The VM's own resolver must resolve the management names (WCP-DNS-003)."""
    return [
        ResolverProbe(vm.name, entry.name, entry.address)
        for vm in inv.supervisor.control_plane
        for entry in inv.dns.management.names
    ]


def management_dependencies(inv: Inventory) -> list[tuple[IPv4Address, str]]:
    """Addresses the Supervisor must reach over its management interface, with their role."""
    deps: dict[IPv4Address, str] = {}
    for server in inv.dns.management.servers:
        deps.setdefault(server, "management DNS")
    names = {entry.name.lower(): entry.address for entry in inv.dns.management.names}
    for url, role in [(m, "NSX manager") for m in inv.nsx.managers] + (
        [(inv.vcenter.url, "vCenter")] if inv.vcenter else []
    ):
        host = url.split("://", 1)[-1].split("/", 1)[0].rsplit(":", 1)[0].strip("[]")
        address: IPv4Address | None
        try:
            address = IPv4Address(host)
        except ValueError:
            address = names.get(host.lower())  # a name: use the address the inventory expects for it
        if address is not None:
            deps.setdefault(address, role)
    for ntp in inv.ntp_servers:
        deps.setdefault(ntp, "NTP")
    return list(deps.items())


def route_probes(inv: Inventory) -> list[RouteProbe]:
    probes: list[RouteProbe] = []
    for vm in inv.supervisor.control_plane:
        _, mgmt = vm.management_interface
        for address, role in management_dependencies(inv):
            probes.append(RouteProbe(vm.name, mgmt.address.ip, address, role))
    return probes


def egress_probes(inv: Inventory) -> list[EgressProbe]:
    return [
        EgressProbe(vm.name, iface, spec.address.ip, inv.observer.address, inv.observer.port,
                    inv.networks.egress_ip)
        for vm in inv.supervisor.control_plane
        for iface, spec in vm.workload_interfaces
    ]


def vip_ports(inv: Inventory) -> list[VipPort]:
    return [VipPort(inv.api_vip.address, port, inv.api_vip.tls_name) for port in inv.api_vip.ports]


def nat_cases(inv: Inventory) -> list[NatCase]:
    """Traffic from the first VM's workload address: out of the cluster, inside it, to the egress range."""
    vm = inv.supervisor.control_plane[0]
    source = vm.workload_interfaces[0][1].address.ip
    nets = inv.networks
    inside = next(ip for ip in nets.namespace.hosts() if ip != source and ip not in vm.workload_interfaces[0][1]
                  .address.network)
    egress_peer = next(ip for ip in nets.egress.hosts() if ip != nets.egress_ip)
    return [
        NatCase("leaving the cluster", source, inv.observer.address, nets.egress_ip),
        NatCase("inside the cluster", source, inside, None),
        NatCase("to the egress range", source, egress_peer, None),
    ]


# ---- slb -------------------------------------------------------------------------------------------
API_SERVICE = ServiceRef("kube-system", "kube-apiserver-lb-svc")


def slb_targets(inv: Inventory) -> list[VipPort | ServiceRef]:
    """WCP-SLB-001's targets: each API VIP port (its SLB virtual server), then the VIP's LoadBalancer Service."""
    return [*vip_ports(inv), API_SERVICE]


# ---- cert ------------------------------------------------------------------------------------------
def _https_endpoint(role: CertRole, url: str, ca_file: Path) -> CertEndpoint:
    parts = urlsplit(url)
    host = parts.hostname or url
    return CertEndpoint(role, host, parts.port or 443, host, ca_file)


def cert_endpoints(inv: Inventory) -> list[CertEndpoint]:
    """WCP-CERT-001's targets: each API VIP port, each NSX manager, then vCenter when the inventory names it."""
    endpoints = [CertEndpoint("vip", str(p.vip), p.port, p.server_name, inv.api_vip.ca_file) for p in vip_ports(inv)]
    endpoints += [_https_endpoint("nsx", url, inv.nsx.ca_file) for url in inv.nsx.managers]
    if inv.vcenter is not None:
        endpoints.append(_https_endpoint("vcenter", inv.vcenter.url, inv.vcenter.ca_file))
    return endpoints


# ---- namespaces ------------------------------------------------------------------------------------
def namespace_refs(inv: Inventory) -> list[NamespaceRef]:
    """WCP-NS-001's targets: the system namespaces, each vSphere Namespace the inventory names, then the others."""
    return [NamespaceRef("system"), *(NamespaceRef("named", name) for name in inv.supervisor.namespaces),
            NamespaceRef("others")]


# ---- ncp: NCP as NSX sees it -----------------------------------------------------------------------
def ncp_views(inv: Inventory) -> list[NcpViewRef]:
    return [NcpViewRef("ncpstatus"), NcpViewRef("annotations")]


def manager_tls_probes(inv: Inventory) -> list[ManagerTlsProbe]:
    """WCP-NCP-004's targets: each control-plane VM's management interface to each NSX manager of the inventory
    (WCP-NCP-002 proves they are ncp.ini's nsx_api_managers)."""
    names = {entry.name.lower(): entry.address for entry in inv.dns.management.names}
    probes: list[ManagerTlsProbe] = []
    for vm in inv.supervisor.control_plane:
        iface, mgmt = vm.management_interface
        for url in inv.nsx.managers:
            parts = urlsplit(url)
            host = parts.hostname or url
            try:
                address: IPv4Address | None = IPv4Address(host)
            except ValueError:
                address = names.get(host.lower())
            probes.append(ManagerTlsProbe(vm.name, iface, mgmt.address.ip, host, parts.port or 443, address))
    return probes


# ---- capacity --------------------------------------------------------------------------------------
def capacity_targets(inv: Inventory) -> list[CapacityTarget]:
    """WCP-CAP-001's targets: NCP's ingress and egress IP pools, then the edge load balancer."""
    return [CapacityTarget("ingress"), CapacityTarget("egress"), CapacityTarget("lb")]


# ---- routing (return path), time, mtu ----------------------------------------------------------------
def return_path_destinations(inv: Inventory) -> list[tuple[IPv4Address, str]]:
    """vCenter, the NSX managers and the ESXi hosts: what a reply must come back from on the right interface."""
    deps = [(a, r) for a, r in management_dependencies(inv) if r in ("vCenter", "NSX manager")]
    out: dict[IPv4Address, str] = dict(deps)
    for host in inv.esxi_hosts:
        out.setdefault(host, "ESXi host")
    return list(out.items())


def return_path_probes(inv: Inventory) -> list[ReturnPathProbe]:
    """WCP-RT-002: every interface of every VM, to every return-path destination."""
    return [
        ReturnPathProbe(vm.name, iface, spec.address.ip, address, role)
        for vm in inv.supervisor.control_plane
        for iface, spec in vm.interfaces.items()
        for address, role in return_path_destinations(inv)
    ]


def clock_probes(inv: Inventory) -> list[ClockProbe]:
    return [ClockProbe(vm.name) for vm in inv.supervisor.control_plane]


def ntp_probes(inv: Inventory) -> list[NtpProbe]:
    """Each NTP server, asked from each VM's management address (the VM is what must keep time)."""
    probes: list[NtpProbe] = []
    for vm in inv.supervisor.control_plane:
        iface, mgmt = vm.management_interface
        probes.extend(NtpProbe(vm.name, iface, mgmt.address.ip, server) for server in inv.ntp_servers)
    return probes


def time_targets(inv: Inventory) -> list[ClockProbe | NtpProbe]:
    """WCP-TIME-001's targets: each VM's clock, then each VM's NTP servers."""
    return [*clock_probes(inv), *ntp_probes(inv)]


def mtu_probes(inv: Inventory) -> list[MtuProbe]:
    """WCP-MTU-001: from each workload interface to its gateway (the edge) and to the runner (beyond the edge)."""
    probes: list[MtuProbe] = []
    for vm in inv.supervisor.control_plane:
        for iface, spec in vm.workload_interfaces:
            if spec.gateway is not None:
                probes.append(MtuProbe(vm.name, iface, spec.address.ip, spec.gateway, "edge", inv.mtu))
            probes.append(MtuProbe(vm.name, iface, spec.address.ip, inv.observer.address, "beyond the edge",
                                   inv.mtu))
    return probes
