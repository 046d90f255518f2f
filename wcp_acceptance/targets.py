"""What each check looks at, as frozen dataclasses whose ``str`` is the test id (STYLE rule 2).

``src -> dst`` is for traffic, ``namespace/name port/PROTO`` for resources. The one
``pytest_make_parametrize_id`` hook in conftest.py returns ``str(target)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Interface
from pathlib import Path
from typing import Literal


@dataclass(frozen=True)
class DnsProbe:
    """Resolve ``name`` through ``server`` from ``vm``'s interface ``iface`` (source ``source``)."""

    vm: str
    iface: str
    source: IPv4Interface
    server: IPv4Address
    name: str
    expected_address: IPv4Address | None = None
    show_server: bool = False  # the interface has several DNS servers: say which one in the id
    port: int = 53

    def __str__(self) -> str:
        via = f" via {self.server}" if self.show_server else ""
        return f"{self.vm}/{self.iface} -> {self.name}{via}"


@dataclass(frozen=True)
class UpstreamProbe:
    """WCP-DNS-004: CoreDNS's upstreams (read from its Corefile at run time) answer ``vm``'s workload interface.

    One target per VM workload interface: the upstreams are only known by asking the site, and
    collection never does. ``name``/``expected_address`` is what each upstream is asked (the first
    workload DNS name of the inventory)."""

    vm: str
    iface: str
    source: IPv4Interface
    name: str
    expected_address: IPv4Address | None = None
    port: int = 53

    def __str__(self) -> str:
        return f"{self.vm}/{self.iface} -> CoreDNS upstreams"

    def dns_probe(self, server: IPv4Address, port: int | None = None) -> DnsProbe:
        """The A query this target sends to one upstream (the same probe WCP-DNS-001 sends, when it is one)."""
        return DnsProbe(self.vm, self.iface, self.source, server, self.name, self.expected_address,
                        port=self.port if port is None else port)


@dataclass(frozen=True)
class ResolverProbe:
    """Resolve ``name`` with the VM's own resolver (nsswitch/resolv.conf)."""

    vm: str
    name: str
    expected_address: IPv4Address | None = None

    def __str__(self) -> str:
        return f"{self.vm} resolver -> {self.name}"


@dataclass(frozen=True)
class RouteProbe:
    """Is traffic from ``vm``'s management address to ``destination`` kept out of the workload table?"""

    vm: str
    source: IPv4Address
    destination: IPv4Address
    role: str  # "management DNS", "vCenter", "NSX manager", "NTP"

    def __str__(self) -> str:
        return f"{self.vm} -> {self.destination} ({self.role})"


@dataclass(frozen=True)
class EgressProbe:
    """A datagram from ``vm``'s workload interface to the observer must arrive as the egress IP."""

    vm: str
    iface: str
    source: IPv4Address
    observer: IPv4Address
    port: int
    egress_ip: IPv4Address

    def __str__(self) -> str:
        return f"{self.vm}/{self.iface} -> observer {self.observer}:{self.port}"


@dataclass(frozen=True)
class ServicePort:
    """One (Service, port, protocol) with a ClusterIP: NCP gives it one DLB virtual server."""

    namespace: str
    name: str
    cluster_ip: str
    port: int
    protocol: str  # TCP | UDP | SCTP

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name} {self.port}/{self.protocol}"

    @property
    def endpoint(self) -> tuple[str, int, str]:
        return (self.cluster_ip, self.port, self.protocol)


@dataclass(frozen=True)
class VipPort:
    """The kube-apiserver VIP on one port, checked from the runner."""

    vip: IPv4Address
    port: int
    server_name: str  # the name TLS must be valid for (FQDN, or the VIP itself)

    def __str__(self) -> str:
        return f"{self.vip}:{self.port}"

    @property
    def host(self) -> str:
        """Where to connect (the TLS probes take any target with ``host``, ``port`` and ``server_name``)."""
        return str(self.vip)


@dataclass(frozen=True)
class NatCase:
    """Which NAT treatment NSX must give traffic from the namespace network to ``destination``."""

    label: str  # "outside", "inside the cluster", "to the egress range"
    source: IPv4Address
    destination: IPv4Address
    snat_to: IPv4Address | None  # None: the source must be kept (NO_SNAT)

    def __str__(self) -> str:
        return f"{self.source} -> {self.destination} ({self.label})"


# ---- slb -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ServiceRef:
    """A Kubernetes Service judged as a whole (``namespace/name``), e.g. the API VIP's LoadBalancer Service."""

    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


# ---- cert ------------------------------------------------------------------------------------------
CertRole = Literal["vip", "nsx", "vcenter"]


@dataclass(frozen=True)
class CertEndpoint:
    """A TLS endpoint whose certificate's days left WCP-CERT-001 counts: an API VIP port, an NSX manager, vCenter.

    The VIP's id is its port's (``172.16.1.2:6443``); the others say what they are (``nsx 192.168.10.28:443``).
    """

    role: CertRole
    host: str
    port: int
    server_name: str  # the name the certificate must be valid for (the handshake is verified for it)
    ca_file: Path = field(compare=False)  # the inventory's CA file for this endpoint

    def __str__(self) -> str:
        where = f"{self.host}:{self.port}"
        return where if self.role == "vip" else f"{self.role} {where}"

    def vip_port(self) -> VipPort:
        """The API VIP port this endpoint is (its handshake is the VIP checks' own, made once)."""
        return VipPort(IPv4Address(self.host), self.port, self.server_name)


# ---- namespaces ------------------------------------------------------------------------------------
NamespaceGroup = Literal["system", "named", "others"]


@dataclass(frozen=True)
class NamespaceRef:
    """WCP-NS-001's target: one vSphere Namespace the inventory names, the system namespaces (which share the
    Supervisor's Tier-1 and egress IP), or every other vSphere Namespace the site holds (not known before the run)."""

    group: NamespaceGroup
    name: str = ""

    def __str__(self) -> str:
        if self.group == "system":
            return "system namespaces (the Supervisor's own Tier-1)"
        if self.group == "others":
            return "vSphere Namespaces the inventory does not name"
        return f"namespace {self.name}"


# ---- ncp: NCP as NSX sees it -----------------------------------------------------------------------
NcpView = Literal["ncpstatus", "annotations"]


@dataclass(frozen=True)
class NcpViewRef:
    """WCP-NCP-003's two targets: NSX's ncpstatus of the container cluster, and NCP's error annotations."""

    view: NcpView

    def __str__(self) -> str:
        return ("NSX ncpstatus of the container cluster" if self.view == "ncpstatus"
                else "no ncp/error annotation on Services, Namespaces or pods")


@dataclass(frozen=True)
class ManagerTlsProbe:
    """WCP-NCP-004: a TLS handshake from ``vm``'s management interface (source ``source``) to an NSX manager."""

    vm: str
    iface: str
    source: IPv4Address
    host: str  # as ncp.ini / the inventory names it (an address, or a name)
    port: int
    address: IPv4Address | None = None  # the address the inventory expects for a name (for route evidence)

    def __str__(self) -> str:
        return f"{self.vm}/{self.iface} -> nsx {self.host}:{self.port}"


@dataclass(frozen=True)
class CapacityTarget:
    """What WCP-CAP-001 judges: one of NCP's two IP pools, or the edge's load balancer."""

    kind: Literal["ingress", "egress", "lb"]

    def __str__(self) -> str:
        return "edge load balancer" if self.kind == "lb" else f"{self.kind} IP pool"


# ---- routing (return path), time, mtu: observed on the control-plane VMs ------------------------------
@dataclass(frozen=True)
class ReturnPathProbe:
    """Does a request from ``vm``'s ``iface`` address to ``destination`` leave by ``iface`` (or survive rp_filter)?"""

    vm: str
    iface: str
    source: IPv4Address
    destination: IPv4Address
    role: str  # "vCenter", "NSX manager", "ESXi host"

    def __str__(self) -> str:
        return f"{self.vm}/{self.iface} -> {self.destination} ({self.role})"


@dataclass(frozen=True)
class ClockProbe:
    """The VM's clock read against the runner's (bracketed by the runner's clock before and after)."""

    vm: str

    def __str__(self) -> str:
        return f"{self.vm} clock"


@dataclass(frozen=True)
class NtpProbe:
    """An NTP (mode 3) query from ``vm``'s management address to ``server``."""

    vm: str
    iface: str
    source: IPv4Address
    server: IPv4Address
    port: int = 123

    def __str__(self) -> str:
        return f"{self.vm}/{self.iface} -> {self.server} (NTP)"


@dataclass(frozen=True)
class MtuProbe:
    """Don't-fragment pings of ``mtu`` bytes from ``vm``'s workload address to ``target`` (the edge, or beyond)."""

    vm: str
    iface: str
    source: IPv4Address
    target: IPv4Address
    role: str  # "edge", "beyond the edge"
    mtu: int = 1500

    @property
    def payload(self) -> int:
        """ICMP payload of a packet of ``mtu`` bytes (20 IPv4 + 8 ICMP header bytes less)."""
        return self.mtu - 28

    def __str__(self) -> str:
        return f"{self.vm}/{self.iface} -> {self.target} ({self.role}) {self.mtu} bytes"
