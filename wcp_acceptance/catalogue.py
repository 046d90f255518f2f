"""The check catalogue: every check declared once, everything else derived from it.

Markers, the README's check table, ``wcp-acceptance checks``, ``--check`` selection, the id sets
the project's tests pin, the fault matrix's columns and the report's per-area table all read
this module. A new check costs its check function, its test in ``tests_live/``, its entry here
and its message tests.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Literal

Severity = Literal["critical", "major"]

SEED = "https://darrylcauldwell.github.io/post/tanzu-basic-nsx"
NCP_OBJECTS = ("https://cormachogan.com/2022/05/06/"
               "nsx-t-and-vsphere-with-tanzu-what-automatically-created-network-objects-and-services/")
VC_WCP_GET = ("https://github.com/vmware-archive/vsphere-automation-sdk-rest/blob/master/vsphere/operations/com/"
              "vmware/vcenter/namespace_management/clusters.get-operation.html")
TLS_RFC = "https://www.rfc-editor.org/rfc/rfc5280#section-4.1.2.5"
KB_RP_FILTER = "https://www.kernel.org/doc/html/latest/networking/ip-sysctl.html"
NTP_RFC = "https://www.rfc-editor.org/rfc/rfc5905"
PMTU_RFC = "https://www.rfc-editor.org/rfc/rfc1191"
NSX_BGP_STATUS = ("https://developer.broadcom.com/xapis/nsx-t-data-center-rest-api/latest/"
                  "types_PolicyBgpNeighborStatus.html")
NSX_LB_USAGE = "https://developer.broadcom.com/xapis/nsx-t-data-center-rest-api/latest/types_LBEdgeNodeUsage.html"
NSX_LB_VS = "https://developer.broadcom.com/xapis/nsx-t-data-center-rest-api/latest/method_ListLoadBalancerServices.html"
WCP_LOGIN_DOC = "https://github.com/kubernetes-sigs/vsphere-csi-driver/blob/master/tests/e2e/util.go"


@dataclass(frozen=True)
class Area:
    """A group of checks; its name is the pytest marker that selects them (``-m dns``)."""

    name: str
    title: str
    help: str


@dataclass(frozen=True)
class Check:
    """One check: a stable id, the fact that must hold, and what it needs from the inventory."""

    id: str
    area: str
    title: str
    must_hold: str
    observed_by: str
    severity: Severity = "critical"
    doc: str | None = None
    needs: tuple[str, ...] = ()

    @property
    def short_id(self) -> str:
        return self.id.removeprefix("WCP-")

    def __str__(self) -> str:
        return f"{self.id} {self.title}"


AREAS: tuple[Area, ...] = (
    Area("dns", "DNS", "DNS resolution from the control-plane VMs (A, PTR, the VM's own resolver)"),
    Area("routing", "Routing", "policy routing on the control-plane VMs (management traffic steered into the "
         "workload table)"),
    Area("egress", "Egress", "egress SNAT of workload traffic to the egress IP"),
    Area("dlb", "Distributed load balancer", "NSX distributed load balancer virtual servers for ClusterIP "
         "Service ports"),
    Area("vip", "API VIP", "the kube-apiserver VIP (TCP, TLS, /version) on 443 and 6443"),
    Area("ncp", "NCP", "the NSX Container Plugin (pod health, the NSX managers it uses)"),
    # slb: the API VIP as NSX holds it
    Area("slb", "API VIP in NSX", "the NSX SLB virtual servers, pool members and LoadBalancer Service behind the "
         "kube-apiserver VIP"),
    # vcenter: vCenter's own word on the Supervisor
    Area("vcenter", "vCenter", "vCenter's own word on the Supervisor (Workload Management status, its settings "
         "against the inventory)"),
    # cert: days left on the certificates
    Area("cert", "Certificates", "days left on the certificates of the API VIP, the NSX managers and vCenter"),
    # login: kubectl vsphere login, opt-in
    Area("login", "kubectl vsphere login", "an SSO user logs in through the API VIP and its token is accepted by "
         "kube-apiserver (opt-in: login.enabled)"),
    # namespaces: every vSphere Namespace's own egress (Tier-1, SNAT IP, SNAT rule)
    Area("namespaces", "vSphere Namespaces", "every vSphere Namespace's egress: its SNAT IP in the egress range, "
         "its own, and SNATed by its Tier-1"),
    # bgp: the Tier-0 and the physical router
    Area("bgp", "Tier-0 BGP", "the Supervisor's Tier-0 BGP sessions and the ingress/egress ranges it advertises"),
    # capacity: room to grow
    Area("capacity", "Capacity", "free addresses in NCP's ingress/egress IP pools, the edge load balancer's usage"),
    # time, mtu: observed on the control-plane VMs
    Area("time", "Time", "the control-plane VMs' clocks against the runner's, and their NTP servers"),
    Area("mtu", "Path MTU", "don't-fragment packets of the expected MTU from the workload network to the edge and "
         "beyond"),
)

CHECKS: tuple[Check, ...] = (
    Check("WCP-DNS-001", "dns", "name resolves from every interface",
          "every name in the inventory resolves (A) from every interface of every control-plane VM, through "
          "that interface's DNS servers, with the interface's own address as source, sent from the VM itself",
          "dnspython builds the query; the VM sends it from the bound source (python3 one-liner, dig -b fallback)",
          doc=SEED, needs=("supervisor.control_plane", "dns.management", "dns.workload")),
    Check("WCP-DNS-002", "dns", "reverse lookup round-trips",
          "the PTR of each address names the host again (case-insensitive)",
          "as WCP-DNS-001, PTR queries", doc=SEED, needs=("supervisor.control_plane", "dns.management")),
    Check("WCP-DNS-003", "dns", "VM resolver resolves management names",
          "the VM's own resolver resolves the management names",
          "getent ahostsv4 and /etc/resolv.conf on the VM", doc=SEED,
          needs=("supervisor.control_plane", "dns.management.names")),
    Check("WCP-DNS-004", "dns", "CoreDNS's upstreams answer the workload network",
          "every upstream of forward . in CoreDNS's Corefile (kube-system/coredns, root block) answers a query "
          "sent from each control-plane VM's workload address, and the reply comes back",
          "one GET of the coredns ConfigMap; the A query WCP-DNS-001 sends to that server from eth1 (sent anew "
          "only for an upstream the inventory does not name); the VM's egress datagram tells no reply from "
          "never arrived", doc=SEED, needs=("kubernetes", "supervisor.control_plane", "dns.workload")),
    Check("WCP-RT-001", "routing", "management traffic stays on the management interface",
          "no ip rule steers a management dependency (management DNS, vCenter, NSX managers, NTP) into the "
          "workload table", "ip -j rule, ip -j route show table all, ip -j route get <dst> from <eth0 address>",
          doc=SEED, needs=("supervisor.control_plane", "dns", "nsx.managers", "vcenter", "ntp_servers")),
    # routing: replies must come back where requests leave (or rp_filter must let them in)
    Check("WCP-RT-002", "routing", "replies return where requests leave",
          "a request from each VM interface's address to vCenter, the NSX managers and the ESXi hosts leaves by "
          "that interface, or that interface's effective rp_filter (max of all and the interface) is loose or "
          "off; strict (1) with the route out another interface fails",
          "one cat of /proc/sys/net/ipv4/conf/{all,<iface>}/rp_filter per VM; ip -j route get <dst> from "
          "<interface address> for each pair (those WCP-RT-001's routing read asks are taken from it)",
          doc=KB_RP_FILTER,
          needs=("supervisor.control_plane", "vcenter", "nsx.managers", "esxi_hosts")),
    Check("WCP-EGR-001", "egress", "workload egress leaves as the egress IP",
          "a datagram from each VM's workload interface reaches the observer with the egress IP as source",
          "a nonce datagram from a connected UDP socket on the VM to the observer on the runner; NSX NAT rules "
          "as second evidence", doc=SEED, needs=("networks.egress_ip", "observer")),
    Check("WCP-EGR-002", "egress", "NSX SNATs only traffic leaving the cluster",
          "NSX's NAT rules SNAT workload traffic leaving the cluster to the egress IP and leave traffic inside "
          "the namespace network and to the egress range untranslated",
          "the NAT rules of the Tier-1 gateways tagged with the NCP cluster, in sequence order", doc=NCP_OBJECTS,
          needs=("networks", "nsx")),
    Check("WCP-DLB-001", "dlb", "every ClusterIP Service port has a DLB virtual server",
          "every (Service, port, protocol) with a ClusterIP has an NSX DLB virtual server on the cluster's DLB "
          "lb-service", "one paginated list of Services, one cursor-paginated list of virtual servers",
          doc=NSX_LB_VS, needs=("kubernetes", "nsx")),
    Check("WCP-DLB-002", "dlb", "no stale DLB virtual servers",
          "no DLB virtual server remains for a Service or port that no longer exists", "same lists",
          severity="major", doc=NSX_LB_VS, needs=("kubernetes", "nsx")),
    Check("WCP-VIP-001", "vip", "API VIP accepts TCP",
          "the kube-apiserver VIP accepts TCP on each API port", "a TCP connect from the runner",
          doc=SEED, needs=("api_vip",)),
    Check("WCP-VIP-002", "vip", "API VIP completes TLS",
          "TLS completes with a certificate valid for the VIP (or api_vip.server_name) signed by the inventory CA",
          "TLS from the runner, trusting the inventory CA only", doc=SEED, needs=("api_vip.ca_file",)),
    Check("WCP-VIP-003", "vip", "API VIP answers as kube-apiserver",
          "GET /version over that TLS connection answers as kube-apiserver", "GET /version", doc=SEED,
          needs=("api_vip",)),
    Check("WCP-NCP-001", "ncp", "NCP runs and is ready",
          "the nsx-ncp pod runs with every container ready, not crash-looping",
          "the pods of vmware-system-nsx; the waiting reason, restarts and the last exit", doc=SEED,
          needs=("kubernetes",)),
    Check("WCP-NCP-002", "ncp", "NCP writes to the inventory's NSX managers",
          "NCP's nsx_api_managers are the NSX managers the inventory names",
          "ncp.ini in the nsx-ncp-config ConfigMap", doc=SEED, needs=("kubernetes", "nsx.managers")),
    # slb: the API VIP as NSX holds it
    Check("WCP-SLB-001", "slb", "API VIP has its SLB virtual servers",
          "for each API VIP port an enabled SLB virtual server with a pool exists on the Supervisor's lb-service, "
          "and kube-system/kube-apiserver-lb-svc has status.loadBalancer.ingress[].ip equal to the VIP",
          "the virtual server and lb-service lists the DLB checks read; one GET of the Service", doc=NCP_OBJECTS,
          needs=("api_vip", "nsx", "kubernetes")),
    Check("WCP-SLB-002", "slb", "API VIP pool holds exactly the control-plane VMs",
          "the pool of each API VIP port holds exactly the control-plane VMs' workload addresses on that port, "
          "admin_state ENABLED (run-time UP/DOWN from detailed-status is not read: its shape is not public)",
          "one list of LB pools, kept only for the pools the VIP's virtual servers name", doc=NCP_OBJECTS,
          needs=("api_vip", "supervisor.control_plane", "nsx")),
    # vcenter: vCenter's own word on the Supervisor
    Check("WCP-VC-001", "vcenter", "Workload Management is configured",
          "vCenter's config_status of the Supervisor cluster is RUNNING (CONFIGURING: not yet; ERROR or REMOVING: "
          "failed), every messages[] entry shown",
          "GET /api/vcenter/namespace-management/clusters/{cluster}, once per run", doc=VC_WCP_GET,
          needs=("vcenter",)),
    Check("WCP-VC-002", "vcenter", "the Supervisor's Kubernetes is ready",
          "vCenter's kubernetes_status is READY (WARNING fails as major, ERROR as critical), every "
          "kubernetes_status_messages[] and conditions[] entry (vSphere 8.0.0.1+) shown",
          "the same cluster Info", doc=VC_WCP_GET, needs=("vcenter",)),
    Check("WCP-VC-003", "vcenter", "vCenter agrees with the inventory",
          "the API VIP, management and workload DNS, NTP, service, ingress and egress CIDRs, control-plane "
          "addresses and NSX edge cluster / Tier-0 that vCenter holds are those the inventory states",
          "the same cluster Info, field by field (fields the inventory does not state are not compared)",
          doc=VC_WCP_GET, needs=("vcenter",)),
    # cert: days left on the certificates
    Check("WCP-CERT-001", "cert", "certificates are not about to run out",
          "every certificate the API VIP (each port), the NSX managers and vCenter serve (the leaf and every "
          "intermediate sent in the handshake) and the CA-file certificates above them is valid now with at least "
          "certificates.warn_days left (fewer: severity major; fewer than fail_days, expired or not yet valid: "
          "critical); the message names the certificate's subject and position in the chain",
          "the VIP ports' own TLS handshake; one verified TLS handshake per NSX manager and vCenter, no request; "
          "the certificates the server sent, as sent",
          doc=TLS_RFC, needs=("api_vip.ca_file", "nsx.ca_file", "vcenter.ca_file", "certificates")),
    # login: kubectl vsphere login, opt-in
    Check("WCP-LOGIN-001", "login", "kubectl vsphere login works",
          "POST https://<api_vip>/wcp/login as login.user (Basic auth, body {}) answers 200 with a session_id, and "
          "GET https://<api_vip>:6443/version with it as Bearer token answers as kube-apiserver (401: failed, "
          "naming the user; no answer or TLS broken: could not observe)",
          "the plugin's two requests from the runner, TLS verified against api_vip.ca_file; only when the "
          "inventory opts in (login.enabled), the suite's one POST beyond API sessions",
          doc=WCP_LOGIN_DOC, needs=("login", "api_vip.ca_file")),
    # ncp: NCP as NSX sees it
    Check("WCP-NCP-003", "ncp", "NSX hears NCP and NCP reports no error",
          "NSX's ncpstatus of the container cluster is HEALTHY (DOWN or DEGRADED fail naming detail; UNKNOWN or no "
          "status is an error), and no Service, Namespace or pod carries an ncp/error.* annotation",
          "GET .../sites/{site}/enforcement-points/{ep}/container-cluster/{cluster}/ncpstatus; the Service list "
          "the DLB checks read, one list of Namespaces, one list of pods (annotations only)",
          needs=("nsx", "kubernetes")),
    Check("WCP-NCP-004", "ncp", "NCP's NSX managers answer TLS from the management interface",
          "each NSX manager NCP uses (nsx_api_managers, which WCP-NCP-002 proves are the inventory's) completes a "
          "TLS handshake from each control-plane VM's management interface, source bound to its address",
          "a python3 one-liner on the VM (TCP connect from the eth0 address, TLS handshake, no request); the VM's "
          "ip route get as evidence", doc=SEED, needs=("supervisor.control_plane", "nsx.managers")),
    # namespaces: every vSphere Namespace's own egress
    Check("WCP-NS-001", "namespaces", "every vSphere Namespace leaves as its own SNAT IP",
          "each vSphere Namespace's ncp/snat_ip lies in the egress range, no other Tier-1 uses it, and its Tier-1 "
          "(ncp/router_id) has an enabled SNAT rule to it; the system namespaces share the Supervisor's Tier-1 and "
          "egress IP", "one list of Namespaces; the USER NAT rules of each Namespace's Tier-1 (those the egress "
          "checks read are reused)", doc=NCP_OBJECTS, needs=("kubernetes", "nsx", "networks.egress")),
    # bgp: the Tier-0 and the physical router
    Check("WCP-BGP-001", "bgp", "Tier-0 BGP sessions are up and advertise the ranges",
          "every BGP neighbour of the Supervisor's Tier-0 (nsx.tier0_gateway, else the NCP Tier-1s' tier0_path) is "
          "ESTABLISHED, and the ingress and egress ranges are each inside a prefix the Tier-0 advertises to it",
          "the Tier-0's locale services, GET .../bgp/neighbors/status, and .../advertised-routes per established "
          "neighbour", doc=NSX_BGP_STATUS, needs=("nsx", "networks.ingress", "networks.egress")),
    # capacity: room to grow
    Check("WCP-CAP-001", "capacity", "IP pools and the edge load balancer have room",
          "the IP pools inside the ingress and the egress range each keep at least capacity.ip_pool_free_min free "
          "addresses (0 free: critical, fewer: major), and no edge node's load balancer is used beyond "
          "capacity.lb_usage_max_percent (major)",
          "one Manager API list of IP pools (pool_usage); GET /policy/api/v1/infra/lb-node-usage per edge node of "
          "the Tier-0's edge cluster", doc=NSX_LB_USAGE, needs=("nsx", "networks.ingress", "networks.egress",
                                                                 "capacity")),
)

CHECKS += (  # observed on the control-plane VMs, with the other VM probes
    # time: the VMs' clocks and NTP
    Check("WCP-TIME-001", "time", "VM clocks agree and NTP answers",
          "each control-plane VM's clock is within time.warn_seconds of the runner's (beyond: severity major; "
          "beyond time.fail_seconds: critical), half the round trip allowed as error, and every NTP server "
          "answers an NTP query from each VM's management address, synchronised",
          "date +%s.%N on the VM between two readings of the runner's clock; an NTP mode 3 datagram from the "
          "VM's management address (the DNS sender), parsed on the runner", doc=NTP_RFC,
          needs=("supervisor.control_plane", "ntp_servers", "time")),
    # mtu: the path MTU from the workload network
    Check("WCP-MTU-001", "mtu", "full-size packets pass the workload path",
          "a don't-fragment ping of the inventory's mtu (default 1500) from each VM's workload address reaches "
          "the segment gateway (the edge) and the runner beyond it; a failure names the largest size that passed",
          "ping -n -M do -s <mtu - 28> -c 1 -W <s> -I <eth1 address> <target>; a short search only when it "
          "fails", doc=PMTU_RFC, needs=("supervisor.control_plane", "mtu", "observer")),
)

# grouped by area, in the areas' order, as the report, summary.md and the README list them
CHECKS = tuple(sorted(CHECKS, key=lambda c: [a.name for a in AREAS].index(c.area)))

BY_ID: dict[str, Check] = {c.id: c for c in CHECKS}
AREA_BY_NAME: dict[str, Area] = {a.name: a for a in AREAS}
IDS: frozenset[str] = frozenset(BY_ID)


def catalogue_version() -> str:
    """A short digest of what every check must hold: two runs compare cleanly when it is equal."""
    text = "\n".join(f"{c.id}|{c.area}|{c.must_hold}" for c in CHECKS)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def checks_in(area: str) -> tuple[Check, ...]:
    return tuple(c for c in CHECKS if c.area == area)


def select(patterns: list[str]) -> tuple[set[str], list[str]]:
    """Check ids matching the patterns (exact, case-insensitive, or globs like ``WCP-DNS-*``); unknown ones."""
    chosen: set[str] = set()
    unknown: list[str] = []
    for raw in patterns:
        for pattern in (p.strip().upper() for p in raw.split(",")):
            if not pattern:
                continue
            hits = {i for i in IDS if fnmatchcase(i, pattern) or fnmatchcase(i, "WCP-" + pattern)}
            if hits:
                chosen |= hits
            else:
                unknown.append(pattern)
    return chosen, unknown


def marker_lines() -> list[str]:
    """``name: help`` lines for pytest's marker registry, one per area."""
    return [f"{a.name}: {a.help}" for a in AREAS]


def table_markdown() -> str:
    """The README's check table."""
    rows = ["| check id | area | what must hold | how it is observed |", "|---|---|---|---|"]
    for c in CHECKS:
        rows.append(f"| `{c.id}` | {c.area} | {c.must_hold} | {c.observed_by} |")
    return "\n".join(rows)


def render_text() -> str:
    """What ``wcp-acceptance checks`` prints."""
    lines: list[str] = [f"wcp-acceptance check catalogue {catalogue_version()} ({len(CHECKS)} checks)"]
    for area in AREAS:
        lines.append("")
        lines.append(f"{area.title} (-m {area.name}): {area.help}")
        for c in checks_in(area.name):
            lines.append(f"  {c.id:<12} {c.severity:<8} {c.title}")
            lines.append(f"  {'':<12} must hold: {c.must_hold}")
            if c.doc:
                lines.append(f"  {'':<12} doc: {c.doc}")
    return "\n".join(lines)
