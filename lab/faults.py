"""Named faults: what each breaks in the lab, and which checks must catch it, with which cause.

A fault is data: the planes it touches (lab.runtime re-applies those) and what the suite must
report. ``expect`` lists every check a fault may make fail or error; every other check must pass.
Targets are fnmatch patterns over the test ids (VM names and roles, never addresses, so one
catalogue serves every topology).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network
from typing import Literal

from .model import LAB_NAMESPACE, SupervisorModel
from .sim.vcenter import vapi_message as vcenter_message
from .topology import Topology

Plane = Literal["edge", "sims", "dns", "dns_route", "rules", "sshd", "inventory", "cp_filter", "bgp", "return_path",
                "clock", "ntp", "mtu"]


@dataclass(frozen=True)
class Expect:
    """``check`` on targets matching ``targets`` ends ``outcome``, its text naming ``cause``."""

    check: str
    targets: str
    outcome: Literal["failed", "error"]
    cause: str  # a phrase the cause (or observed text) must contain, case-insensitive


@dataclass(frozen=True)
class Fault:
    name: str
    breaks: str
    planes: tuple[Plane, ...]
    expect: tuple[Expect, ...]

    @property
    def checks(self) -> list[str]:
        return sorted({e.check for e in self.expect})


def _f(name: str, breaks: str, planes: Iterable[Plane], *expect: Expect) -> Fault:
    return Fault(name, breaks, tuple(planes), tuple(expect))


E = Expect
ETH0, ETH1 = "cp-*/eth0 -> *", "cp-*/eth1 -> *"
ALL_VMS_DNS = "cp-*/eth* -> *"
VIP_PORTS = "[0-9]*:*"  # WCP-CERT-001's API VIP targets (address:port); its other endpoints' ids start with their role
UPSTREAMS = "cp-*/eth1 -> CoreDNS upstreams"
NO_RETURN_ROUTE = "has no return route for the egress range"  # the query arrived, the reply has no way back
EGRESS_PATH = "the egress path drops it"  # the query never reached the management network

FAULTS: dict[str, Fault] = {f.name: f for f in (
    _f("seed-shared-dns",
       "management and workload DNS share one IP: every VM gets 'to <dns> lookup 200' and the DNS server has "
       "no return route for the ingress/egress range (the seed's failure)",
       ("rules", "dns_route", "inventory", "sims"),
       E("WCP-RT-001", "cp-* -> * (management DNS)", "failed", "share"),
       E("WCP-DNS-001", ETH0, "failed", "policy routing"),
       E("WCP-DNS-001", ETH1, "failed", NO_RETURN_ROUTE),
       E("WCP-DNS-002", ALL_VMS_DNS, "failed", ""),
       E("WCP-DNS-003", "cp-* resolver -> *", "failed", "resolvers"),
       E("WCP-DNS-004", UPSTREAMS, "failed", NO_RETURN_ROUTE)),
    _f("dns-return-route-missing", "the DNS server cannot route replies back to the egress range",
       ("dns_route",),
       E("WCP-DNS-001", ETH1, "failed", NO_RETURN_ROUTE),
       E("WCP-DNS-002", ETH1, "failed", NO_RETURN_ROUTE),
       E("WCP-DNS-004", UPSTREAMS, "failed", NO_RETURN_ROUTE)),
    _f("dns-server-down", "dnsmasq is stopped", ("dns",),
       E("WCP-DNS-001", ALL_VMS_DNS, "failed", "unreachable"),
       E("WCP-DNS-002", ALL_VMS_DNS, "failed", "unreachable"),
       E("WCP-DNS-003", "cp-* resolver -> *", "failed", ""),
       E("WCP-DNS-004", UPSTREAMS, "failed", "unreachable")),
    _f("coredns-upstream-wrong", "CoreDNS's Corefile forwards to an address of the management network that does "
       "not answer (the workload DNS itself still works)", ("sims",),
       E("WCP-DNS-004", UPSTREAMS, "failed", "not a workload DNS server the inventory names")),
    _f("ptr-missing", "vCenter's PTR record is gone (A still answers)", ("dns",),
       E("WCP-DNS-002", "cp-*/eth* -> vcenter.*", "failed", "PTR")),
    _f("a-record-wrong", "vCenter's A record points at another address", ("dns",),
       E("WCP-DNS-001", "cp-*/eth* -> vcenter.*", "failed", "wrong address"),
       E("WCP-DNS-002", "cp-*/eth* -> vcenter.*", "failed", ""),
       E("WCP-DNS-003", "cp-* resolver -> vcenter.*", "failed", "")),
    _f("snat-missing", "the Tier-1 has no SNAT rule: workload traffic leaves with its own address", ("edge", "sims"),
       E("WCP-EGR-001", "cp-*/eth1 -> observer *", "failed", "SNAT"),
       E("WCP-EGR-002", "* (leaving the cluster)", "failed", "SNAT rule"),
       E("WCP-NS-001", "system namespaces *", "failed", "no SNAT rule at all"),
       E("WCP-DNS-001", ETH1, "failed", "leaves without SNAT"),
       E("WCP-DNS-002", ETH1, "failed", "leaves without SNAT"),
       E("WCP-DNS-004", UPSTREAMS, "failed", "leaves without SNAT")),
    _f("snat-wrong-ip", "the SNAT rule translates to another address of the egress range", ("edge", "sims"),
       E("WCP-EGR-001", "cp-*/eth1 -> observer *", "failed", "wrong IP"),
       E("WCP-EGR-002", "* (leaving the cluster)", "failed", "not the egress IP"),
       E("WCP-NS-001", "system namespaces *", "failed", "no enabled SNAT rule")),
    _f("egress-blackholed", "the edge drops new flows from the cluster to anything outside it", ("edge",),
       E("WCP-EGR-001", "cp-*/eth1 -> observer *", "failed", "never arrived"),
       E("WCP-DNS-001", ETH1, "failed", EGRESS_PATH),
       E("WCP-DNS-002", ETH1, "failed", EGRESS_PATH),
       E("WCP-DNS-004", UPSTREAMS, "failed", EGRESS_PATH)),
    _f("dlb-vs-missing", "NCP did not realise kube-system/kube-dns 53/UDP as a DLB virtual server", ("sims",),
       E("WCP-DLB-001", "*", "failed", "not realised")),
    _f("dlb-vs-stale", "a DLB virtual server remains for a deleted Service", ("sims",),
       E("WCP-DLB-002", "*", "failed", "no longer exists")),
    _f("dlb-port-mismatch", "the DLB virtual server of kube-dns 9153/TCP listens on 9154", ("sims",),
       E("WCP-DLB-001", "*", "failed", "mismatch"),
       E("WCP-DLB-002", "*", "failed", "9154")),
    _f("vip-6443-down", "the API VIP no longer forwards 6443 (443 still works); kubectl uses 6443",
       ("edge",),
       E("WCP-VIP-001", "*:6443", "failed", "refused"),
       E("WCP-VIP-002", "*:6443", "failed", ""),
       E("WCP-VIP-003", "*:6443", "failed", ""),
       E("WCP-CERT-001", "*:6443", "error", "refused"),
       E("WCP-LOGIN-001", "*", "error", "refused"),  # the login's token is proved against :6443
       E("WCP-DLB-001", "*", "error", "refused"),
       E("WCP-DLB-002", "*", "error", "refused"),
       E("WCP-EGR-002", "*", "error", "refused"),
       E("WCP-NCP-001", "*", "error", "refused"),
       E("WCP-NCP-002", "*", "error", "refused"),
       E("WCP-SLB-001", "kube-system/*", "error", "refused"),
       E("WCP-DNS-004", UPSTREAMS, "error", "refused"),
       E("WCP-NS-001", "*", "error", "refused"),
       E("WCP-NCP-003", "*", "error", "refused")),
    _f("vip-cert-wrong-name", "kube-apiserver serves a certificate for another name", ("sims",),
       E("WCP-VIP-002", "*", "failed", "kube.other"),
       E("WCP-VIP-003", "*", "failed", "WCP-VIP-002"),
       E("WCP-LOGIN-001", "*", "error", "certificate"),
       E("WCP-DLB-001", "*", "error", "certificate"),
       E("WCP-DLB-002", "*", "error", "certificate"),
       E("WCP-EGR-002", "*", "error", "certificate"),
       E("WCP-NCP-001", "*", "error", "certificate"),
       E("WCP-NCP-002", "*", "error", "certificate"),
       E("WCP-SLB-001", "kube-system/*", "error", "certificate"),
       E("WCP-DNS-004", UPSTREAMS, "error", "certificate"),
       E("WCP-NS-001", "*", "error", "certificate"),
       E("WCP-NCP-003", "*", "error", "certificate")),
    _f("cp-vm-unreachable", "the last control-plane VM's sshd is gone", ("sshd",),
       E("WCP-DNS-001", "cp-3/*", "error", "refused"),
       E("WCP-DNS-002", "cp-3/*", "error", "refused"),
       E("WCP-DNS-003", "cp-3 *", "error", "refused"),
       E("WCP-RT-001", "cp-3 *", "error", "refused"),
       E("WCP-EGR-001", "cp-3/*", "error", "refused"),
       E("WCP-DNS-004", "cp-3/*", "error", "refused"),
       E("WCP-NCP-004", "cp-3/*", "error", "refused")),
    _f("cp-vm-silent", "the last control-plane VM drops every packet to its sshd (a dead or partitioned host: "
       "no refusal, the connect timeout runs out)", ("sshd",),
       E("WCP-DNS-001", "cp-3/*", "error", "connect timeout"),
       E("WCP-DNS-002", "cp-3/*", "error", "connect timeout"),
       E("WCP-DNS-003", "cp-3 *", "error", "connect timeout"),
       E("WCP-RT-001", "cp-3 *", "error", "connect timeout"),
       E("WCP-EGR-001", "cp-3/*", "error", "connect timeout"),
       E("WCP-DNS-004", "cp-3/*", "error", "connect timeout"),
       E("WCP-NCP-004", "cp-3/*", "error", "connect timeout")),
    _f("cp-vms-silent", "every control-plane VM drops every packet to its sshd (the management network "
       "partitioned from the runner): all connect timeouts run out together, in about one timeout", ("sshd",),
       E("WCP-DNS-001", "cp-*/*", "error", "connect timeout"),
       E("WCP-DNS-002", "cp-*/*", "error", "connect timeout"),
       E("WCP-DNS-003", "cp-* *", "error", "connect timeout"),
       E("WCP-RT-001", "cp-* *", "error", "connect timeout"),
       E("WCP-EGR-001", "cp-*/*", "error", "connect timeout"),
       E("WCP-DNS-004", "cp-*/*", "error", "connect timeout"),
       E("WCP-NCP-004", "cp-*/*", "error", "connect timeout")),
    _f("ncp-crashloop", "the nsx-ncp pod is in CrashLoopBackOff", ("sims",),
       E("WCP-NCP-001", "*", "failed", "CrashLoopBackOff")),
    _f("nsx-api-unavailable", "every NSX API call answers 503", ("sims",),
       E("WCP-DLB-001", "*", "error", "503"),
       E("WCP-DLB-002", "*", "error", "503"),
       E("WCP-EGR-002", "*", "error", "503"),
       E("WCP-SLB-001", "*:*", "error", "503"),
       E("WCP-SLB-002", "*:*", "error", "503"),
       E("WCP-NS-001", "*", "error", "503"),
       E("WCP-NCP-003", "NSX ncpstatus *", "error", "503"),
       E("WCP-BGP-001", "*", "error", "503"),
       E("WCP-CAP-001", "*", "error", "503")),
    # slb: the API VIP's SLB pool and Service, NSX and the edge changed together
    _f("slb-member-missing",
       "the API VIP's pools lack cp-3's workload address and the edge's DNAT no longer sends to cp-3: the VIP "
       "still works through cp-1 and cp-2, so only the pool check sees it",
       ("edge", "sims"),
       E("WCP-SLB-002", "*:*", "failed", "cp-3's workload address")),
    _f("slb-member-dead",
       "the API VIP's pools hold an unused address of the segment besides the three VMs, and the edge's DNAT "
       "round robin includes it: every fourth new connection from other clients goes nowhere. The runner's "
       "connections get a fixed share of the three live VMs (matched on its address first, as a source hash "
       "would pin it), so the VIP checks from the runner always pass and the outcome is the same every run; "
       "only the pool check sees the dead member",
       ("edge", "sims"),
       E("WCP-SLB-002", "*:*", "failed", "not a control-plane VM")),
    _f("slb-ingress-wrong",
       "kube-apiserver-lb-svc's status.loadBalancer.ingress names another address of the ingress range than "
       "the VIP (NSX and the edge keep the VIP)", ("sims",),
       E("WCP-SLB-001", "kube-system/*", "failed", "different VIP")),
    # vcenter: Workload Management's own status and settings
    _f("wcp-config-error", "vCenter's Workload Management reports config_status ERROR with a message",
       ("sims",),
       E("WCP-VC-001", "*", "failed", "no capacity")),
    _f("wcp-kubernetes-warning", "vCenter reports kubernetes_status WARNING, with a condition carrying a KB link",
       ("sims",),
       E("WCP-VC-002", "*", "failed", "WaitForNodeUpgrade")),
    _f("wcp-drift-dns", "vCenter's worker DNS (the Supervisor's workload DNS) differs from the inventory's; "
       "CoreDNS forwards to it, as WCP sets CoreDNS up from it, and nothing answers there",
       ("sims",),
       E("WCP-VC-003", "*", "failed", "worker_DNS"),
       E("WCP-DNS-004", UPSTREAMS, "failed", "not a workload DNS server the inventory names")),
    # cert: the NSX manager's certificate re-issued by the lab CA to run out soon (the simulator reloads on SIGHUP)
    _f("cert-expiring", "the NSX manager's certificate is re-issued with 5 days left (below fail_days 7)", ("sims",),
       E("WCP-CERT-001", "nsx *", "failed", "5 days left")),
    _f("cert-warning", "the NSX manager's certificate is re-issued with 20 days left (below warn_days 30, above "
       "fail_days 7)", ("sims",),
       E("WCP-CERT-001", "nsx *", "failed", "20 days left, below warn_days 30")),
    _f("cert-intermediate-expiring", "the intermediate CA the API VIP's certificate is issued from (and which the "
       "VIP sends in its handshake) is re-issued with 5 days left; the leaf keeps years", ("sims",),
       E("WCP-CERT-001", VIP_PORTS, "failed",
         "intermediate CA certificate CN=wcp-lab intermediate CA,O=wcp-lab (position 2 of 3 in the chain, served)")),
    # login: kubectl vsphere login (the kube-apiserver simulators on 443 serve /wcp/login)
    _f("login-refused", "vCenter SSO no longer accepts the login user's password (as after a rotation the "
       "inventory missed): POST /wcp/login answers 401", ("sims",),
       E("WCP-LOGIN-001", "*", "failed", "SSO refused devops@vsphere.local")),
    # namespaces: a vSphere Namespace's own egress (NSX and Kubernetes changed together)
    _f("ns-snat-missing", f"the SNAT rule on vSphere Namespace {LAB_NAMESPACE}'s own Tier-1 is gone (the Supervisor's "
       "is kept)", ("sims",),
       E("WCP-NS-001", f"namespace {LAB_NAMESPACE}", "failed", "no SNAT rule at all")),
    _f("ns-snat-shared", f"vSphere Namespace {LAB_NAMESPACE} is given the Supervisor's egress IP as its SNAT IP (its "
       "annotation and its Tier-1's SNAT rule): two Tier-1s translate to one address", ("sims",),
       E("WCP-NS-001", f"namespace {LAB_NAMESPACE}", "failed", "also the SNAT IP of"),
       E("WCP-NS-001", "system namespaces *", "failed", f"also the SNAT IP of {LAB_NAMESPACE}")),
    # ncp: NCP as NSX sees it
    _f("ncp-status-down", "NSX reports the container cluster's ncpstatus DOWN, with NCP's detail", ("sims",),
       E("WCP-NCP-003", "NSX ncpstatus *", "failed", "DOWN")),
    _f("ncp-error-annotation", "a LoadBalancer Service carries ncp/error.loadbalancer: IP_POOL_EXHAUSTED", ("sims",),
       E("WCP-NCP-003", "no ncp/error *", "failed", "IP_POOL_EXHAUSTED")),
    _f("ncp-managers-blocked", "every control-plane VM drops what it sends from eth0 to the NSX manager's 443 "
       "(nftables in each VM's namespace): NCP's managers are unreachable from the management interface, while "
       "the runner still reads NSX", ("cp_filter",),
       E("WCP-NCP-004", "cp-*/eth0 -> nsx *", "failed", "connect timeout")),
    # bgp: the Tier-0's session with the upstream router, for real (BIRD in the edge and router namespaces)
    _f("bgp-down", "the upstream router's BGP session with the Tier-0 is disabled: BIRD withdraws the ingress/egress "
       "range from the router's kernel, so nothing outside reaches the API VIP or answers the egress IP",
       ("bgp",),
       E("WCP-BGP-001", "*", "failed", "ACTIVE"),
       # what honestly depends on the route: the runner reaches the VIP only through the router
       E("WCP-VIP-001", "*:*", "failed", "unreachable"),
       E("WCP-VIP-002", "*:*", "failed", "unreachable"),
       E("WCP-VIP-003", "*:*", "failed", "unreachable"),
       E("WCP-CERT-001", "[0-9]*:*", "error", "unreachable"),  # the VIP's own ports (nsx/vcenter still answer)
       # the Kubernetes API is the VIP on 6443
       E("WCP-DLB-001", "*", "error", "did not answer"),
       E("WCP-DLB-002", "*", "error", "did not answer"),
       E("WCP-EGR-002", "*", "error", "did not answer"),
       E("WCP-NCP-001", "*", "error", "did not answer"),
       E("WCP-NCP-002", "*", "error", "did not answer"),
       E("WCP-SLB-001", "kube-system/*", "error", "did not answer"),
       E("WCP-LOGIN-001", "*", "error", "unreachable"),  # the login goes through the VIP as well
       # the workload DNS's answers go to the egress IP: the router no longer routes it back
       E("WCP-DNS-001", ETH1, "failed", "no answer"),
       E("WCP-DNS-002", ETH1, "failed", "no answer"),
       # CoreDNS's Corefile is read through the Kubernetes API; NS-001 and NCP-003 read it too
       E("WCP-DNS-004", UPSTREAMS, "error", "did not answer"),
       E("WCP-NS-001", "*", "error", "did not answer"),
       E("WCP-NCP-003", "*", "error", "did not answer")),  # ncpstatus too: the NCP cluster name comes from Kubernetes
    # capacity: NCP's IP pools and the edge load balancer
    _f("ip-pool-exhausted", "every address of NCP's egress IP pool is allocated (0 free)", ("sims",),
       E("WCP-CAP-001", "egress IP pool", "failed", "0 free")),
    _f("lb-capacity-high", "the edge's load balancer uses 90% of its credits (NCP made many lb-services)", ("sims",),
       E("WCP-CAP-001", "edge load balancer", "failed", "90%")),
)}

NCP_STATUS_DETAIL = "NSX manager connection lost: HTTPSConnectionPool(host='nsx', port=443): Read timed out"
NCP_ERROR_SERVICE = ("vmware-system-csi", "csi-vsphere-csi-controller")
MANAGERS_BLOCKED_TABLE = "wcp_ncp_block"


def managers_blocked_ruleset(nsx_manager: IPv4Address, *, blocked: bool) -> str:
    """nft input for a control-plane VM's namespace: drop (or stop dropping) eth0's packets to the NSX manager's 443."""
    text = f"table inet {MANAGERS_BLOCKED_TABLE} {{}}\ndelete table inet {MANAGERS_BLOCKED_TABLE}\n"
    if blocked:
        text += (f"table inet {MANAGERS_BLOCKED_TABLE} {{\n  chain output {{\n    type filter hook output priority "
                 f"filter; policy accept;\n    oifname \"eth0\" ip daddr {nsx_manager} tcp dport 443 drop\n  }}\n}}\n")
    return text


# capacity faults: what they change in the model the NSX simulator serves
LB_HIGH_EXTRA_CREDITS = 35  # with the Supervisor's own SMALL lb-service: 36 of a LARGE edge's 40 credits


def apply_capacity_to_model(model: SupervisorModel, faults: Iterable[str]) -> None:
    active = set(faults)
    if "ip-pool-exhausted" in active:
        model.routing.egress_allocated = 1 << 30  # every address (clamped to the pool's size)
    if "lb-capacity-high" in active:
        model.routing.lb_extra_credits = LB_HIGH_EXTRA_CREDITS

CONFIG_ERROR_TEXT = "Failed to configure the Supervisor control plane: the NSX edge cluster has no capacity."
KB_LINK = "https://kb.lab.invalid/wait-for-node-upgrade"  # the lab's own link, no real KB article

# days left on the NSX manager's certificate under each cert fault; the half day keeps the whole days
# the check counts (rounded down) stable while the suite runs
CERT_DAYS_LEFT: dict[str, float] = {"cert-expiring": 5.5, "cert-warning": 20.5}
# days left on the API VIP's intermediate CA (re-issued, with the leaves it signs, on every kube simulator)
INTERMEDIATE_DAYS_LEFT: dict[str, float] = {"cert-intermediate-expiring": 5.5}


def wrong_address(topology: Topology) -> IPv4Address:
    """An unused management address the a-record-wrong fault points vCenter's name at."""
    return topology.networks.management.network_address + 199


def coredns_wrong_upstream(model: SupervisorModel) -> IPv4Address:
    """An unused address of the management network the coredns-upstream-wrong Corefile forwards to."""
    return IPv4Address(model.worker_dns[0]) + 88


def wrong_egress_ip(topology: Topology) -> IPv4Address:
    return topology.networks.egress_ip + 8


def unreachable_vm(topology: Topology) -> str:
    return sorted(topology.control_planes)[-1]


def silent_vms(topology: Topology, faults: Iterable[str]) -> set[str]:
    """The control-plane VMs whose sshd drops every packet under ``faults``."""
    active = set(faults)
    if "cp-vms-silent" in active:
        return set(topology.control_planes)
    return {unreachable_vm(topology)} if "cp-vm-silent" in active else set()


SILENT_TABLE = "wcp_silent_vm"


def silent_vm_ruleset(ssh_port: int, *, silent: bool) -> str:
    """nft input for the silent VM's namespace: drop (or stop dropping) every packet to its sshd, atomically."""
    text = f"table inet {SILENT_TABLE} {{}}\ndelete table inet {SILENT_TABLE}\n"
    if silent:
        text += (f"table inet {SILENT_TABLE} {{\n  chain input {{\n    type filter hook input priority filter - 10; "
                 f"policy accept;\n    tcp dport {ssh_port} drop\n  }}\n}}\n")
    return text


# ---- slb: what the SLB faults change, on both planes -------------------------------------------------
APISERVER_SERVICE = ("kube-system", "kube-apiserver-lb-svc")


def slb_missing_vm(topology: Topology) -> str:
    """The control-plane VM slb-member-missing takes out of the API VIP's pools (and the edge's DNAT)."""
    return sorted(topology.control_planes)[-1]


def slb_dead_member(topology: Topology) -> IPv4Address:
    """An address of the segment no node uses: the dead member of slb-member-dead."""
    used = {topology.edge[1].downlink, *(vm.workload for vm in topology.control_planes.values())}
    return next(ip for ip in reversed(list(topology.networks.segment.hosts())) if ip not in used)


def slb_wrong_ingress(topology: Topology) -> IPv4Address:
    """An address of the ingress range that is not the VIP: what slb-ingress-wrong's Service reports."""
    vip = topology.api_vip.address
    return next(ip for ip in reversed(list(topology.networks.ingress.hosts())) if ip != vip)


def vip_dnat(topology: Topology, faults: Iterable[str]) -> tuple[list[IPv4Address] | None,
                                                                   tuple[IPv4Address, list[IPv4Address]] | None]:
    """The edge's VIP members under ``faults`` (None: the three VMs) and a pinned (source, members) share."""
    active = set(faults)
    live = [vm.workload for _name, vm in sorted(topology.control_planes.items())]
    members: list[IPv4Address] | None = None
    pinned: tuple[IPv4Address, list[IPv4Address]] | None = None
    if "slb-member-missing" in active:
        gone = topology.control_planes[slb_missing_vm(topology)].workload
        live = [ip for ip in live if ip != gone]
        members = live
    if "slb-member-dead" in active:
        members = [*live, slb_dead_member(topology)]
        pinned = (topology.jumpbox[1].management, live)
    return members, pinned


def apply_slb_to_model(model: SupervisorModel, faults: set[str], topology: Topology) -> None:
    """The NSX/Kubernetes side of the SLB faults (the edge side is :func:`vip_dnat`)."""
    namespace, service = APISERVER_SERVICE
    if "slb-member-missing" in faults:
        model.drop_slb_member(namespace, service, str(topology.control_planes[slb_missing_vm(topology)].workload))
    if "slb-member-dead" in faults:
        model.add_slb_member(namespace, service, str(slb_dead_member(topology)))
    if "slb-ingress-wrong" in faults:
        model.set_ingress_ip(namespace, service, str(slb_wrong_ingress(topology)))


def apply_to_model(model: SupervisorModel, faults: set[str]) -> None:
    """The NSX/Kubernetes side of the active faults, on a freshly realised model."""
    if "dlb-vs-missing" in faults:
        model.drop_dlb_virtual_server("kube-system", "kube-dns", 53, "UDP")
    if "dlb-vs-stale" in faults:
        service = IPv4Network(model.service_cidr)
        model.add_stale_dlb_virtual_server("default", "old-web", str(service.network_address + 355), 8080)
    if "dlb-port-mismatch" in faults:
        model.mismatch_dlb_port("kube-system", "kube-dns", 9153, "TCP", new_port=9154)
    if "ncp-crashloop" in faults:
        model.ncp_pod_state, model.ncp_restart_count = "CrashLoopBackOff", 42
    if "wcp-config-error" in faults:
        model.config_status = "ERROR"
        model.config_messages = [vcenter_message("ERROR", "vcenter.wcp.lab.config_error", CONFIG_ERROR_TEXT)]
    if "wcp-kubernetes-warning" in faults:
        model.kubernetes_status = "WARNING"
        model.kubernetes_messages = [vcenter_message("WARNING", "vcenter.wcp.lab.k8s_warning",
                                                     "Control plane VM upgrade is waiting for a node.")]
        model.conditions = [{"type": "ControlPlaneVMsConfigured", "status": "FALSE", "reason": "WaitForNodeUpgrade",
                             "severity": "WARNING", "messages": [
                                 {**vcenter_message("WARNING", "vcenter.wcp.lab.wait_upgrade",
                                                    "A control plane VM waits for its upgrade."),
                                  "kb_article_link": KB_LINK}]}]
    if "coredns-upstream-wrong" in faults:
        model.coredns_upstreams = [str(coredns_wrong_upstream(model))]
    if "wcp-drift-dns" in faults:
        model.worker_dns = [str(IPv4Address(model.worker_dns[0]) + 100)]
    if "snat-missing" in faults:  # the Supervisor's own SNAT rule (a vSphere Namespace's is on its own Tier-1)
        model.nat_rules = [r for r in model.nat_rules if r.action != "SNAT" or r.tier1 != model.system_tier1]
    if "snat-wrong-ip" in faults:
        wrong = str(IPv4Address(model.egress_ip) + 8)
        for rule in model.nat_rules:
            if rule.action == "SNAT" and rule.tier1 == model.system_tier1:
                rule.translated_network = wrong
    apply_ns_ncp_to_model(model, faults)


def apply_ns_ncp_to_model(model: SupervisorModel, faults: set[str]) -> None:
    """The NSX/Kubernetes side of the vSphere Namespace and NCP-status faults."""
    team = model.vsphere_namespace(LAB_NAMESPACE)
    if team is not None and "ns-snat-missing" in faults:
        model.nat_rules = [r for r in model.nat_rules if r.tier1 != team.tier1]
    if team is not None and "ns-snat-shared" in faults:
        team.snat_ip = model.egress_ip
        for rule in model.nat_rules:
            if rule.tier1 == team.tier1 and rule.action == "SNAT":
                rule.translated_network = model.egress_ip
    if "ncp-status-down" in faults:
        model.ncp_status, model.ncp_status_detail = "DOWN", NCP_STATUS_DETAIL
    if "ncp-error-annotation" in faults:
        for svc in model.services:
            if (svc.namespace, svc.name) == NCP_ERROR_SERVICE:
                svc.annotations = {**svc.annotations, "ncp/error.loadbalancer": "IP_POOL_EXHAUSTED"}


# ---- routing (return path), time, mtu: faults on the control-plane VMs and the path beyond the edge ---------
CLOCK_SKEW_S = 30  # cp-clock-skew: seconds the skewed VM's clock runs ahead (beyond the default fail_seconds 5)
SMALL_MTU = 1400  # mtu-small: the MTU of the edge <-> router uplink
FAKETIME_LIBS = ("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1", "/usr/lib/aarch64-linux-gnu/faketime/"
                 "libfaketime.so.1", "/usr/lib/faketime/libfaketime.so.1")


def skewed_vm(topology: Topology) -> str:
    """The control-plane VM whose login sessions see a clock CLOCK_SKEW_S ahead under cp-clock-skew."""
    return sorted(topology.control_planes)[0]


def steered_esxi(topology: Topology) -> IPv4Address:
    """The ESXi host rp-filter-strict's ip rule steers out eth1 (the topology's first)."""
    if not topology.esxi_hosts:
        raise ValueError("rp-filter-strict needs esxi_hosts in the topology")
    return topology.esxi_hosts[0]


def rp_filter_sysctls(*, strict: bool) -> dict[str, str]:
    """The VMs' rp_filter: loose everywhere (the lab's healthy VMs), or strict on eth0 with all at 0, so that
    eth0's effective value max(all, eth0) is 1 while eth1 stays loose."""
    if strict:
        return {"net.ipv4.conf.all.rp_filter": "0", "net.ipv4.conf.eth0.rp_filter": "1",
                "net.ipv4.conf.eth1.rp_filter": "2"}
    return {"net.ipv4.conf.all.rp_filter": "2", "net.ipv4.conf.eth0.rp_filter": "2",
            "net.ipv4.conf.eth1.rp_filter": "2"}


def _also(name: str, *extra: Expect) -> None:
    """What a new check honestly adds to an existing fault's expectations."""
    fault = FAULTS[name]
    FAULTS[name] = Fault(fault.name, fault.breaks, fault.planes, fault.expect + extra)


_BEYOND = "cp-*/eth1 -> * (beyond the edge) *"
FAULTS.update({f.name: f for f in (
    _f("rp-filter-strict",
       "strict rp_filter on the VMs' eth0 (all 0, eth0 1) plus an ip rule 'to <ESXi host> lookup 200' that sends "
       "requests from eth0's address to that ESXi host out eth1: their replies come back on eth0 and are dropped",
       ("return_path",),
       E("WCP-RT-002", "cp-*/eth0 -> * (ESXi host)", "failed", "strict reverse-path filtering")),
    _f("cp-clock-skew",
       f"the first control-plane VM's login sessions run with libfaketime preloaded, {CLOCK_SKEW_S} s ahead (the "
       "VM's clock as its commands read it)", ("clock",),
       E("WCP-TIME-001", "cp-1 clock", "failed", "ahead of the runner")),
    _f("ntp-server-down", "the lab's NTP server (on the router's management address) is stopped", ("ntp",),
       E("WCP-TIME-001", "cp-*/eth0 -> * (NTP)", "failed", "does not answer")),
    _f("mtu-small",
       f"the edge <-> router uplink runs at MTU {SMALL_MTU}: don't-fragment packets of 1500 bytes from the "
       "workload network stop at the edge (Frag needed) while small ones and the segment pass", ("mtu",),
       E("WCP-MTU-001", _BEYOND, "failed", f"largest that passed: {SMALL_MTU} bytes")),
)})
# no way out of the cluster (or, under bgp-down, no way back to the egress IP): nothing beyond the edge answers a
# ping of any size, so its MTU cannot be measured
for _name in ("snat-missing", "egress-blackholed", "bgp-down"):
    _also(_name, E("WCP-MTU-001", _BEYOND, "error", "no don't-fragment ping at all"))
# a VM that cannot be reached cannot be asked for its routes, clock or pings
_also("cp-vm-unreachable", E("WCP-RT-002", "cp-3/*", "error", "refused"),
      E("WCP-TIME-001", "cp-3*", "error", "refused"), E("WCP-MTU-001", "cp-3/*", "error", "refused"))
for _name, _vms in (("cp-vm-silent", "cp-3"), ("cp-vms-silent", "cp-*")):
    _also(_name, E("WCP-RT-002", f"{_vms}/*", "error", "connect timeout"),
          E("WCP-TIME-001", f"{_vms}*", "error", "connect timeout"),
          E("WCP-MTU-001", f"{_vms}/*", "error", "connect timeout"))
