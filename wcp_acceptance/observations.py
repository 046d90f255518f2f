"""What probes return and checks consume: plain frozen records of what was seen.

A probe that *could* observe returns one of these even when the system is wrong (no reply,
ICMP error, wrong source); it raises ObservationError only when it could not look at all
(SSH down, command timed out).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from wcp_acceptance.corefile import CorefileUpstreams
from wcp_acceptance.targets import DnsProbe, EgressProbe, ManagerTlsProbe, ResolverProbe, UpstreamProbe

TIMED_OUT = 124  # coreutils timeout's exit status when the command was still running

DnsOutcome = Literal[
    "answer",  # a reply with rcode NOERROR (answers may still be empty: NODATA)
    "nxdomain",
    "servfail",
    "refused",
    "other_rcode",
    "no_reply",  # nothing within the DNS timeout
    "icmp_unreachable",  # the connected socket got an ICMP error (host/net/port unreachable)
    "send_error",  # the VM could not even send (no route, cannot bind the source address)
    "bad_reply",  # something answered, but not a DNS reply to our query
]


@dataclass(frozen=True)
class DnsObservation:
    """One DNS query sent from a VM, from the probe's source address, to the probe's server."""

    probe: DnsProbe
    qname: str  # the name asked (for PTR: the in-addr.arpa name)
    rtype: Literal["A", "PTR"]
    outcome: DnsOutcome
    answers: tuple[str, ...] = ()  # A: addresses; PTR: names without the trailing dot
    rcode: str | None = None
    elapsed_s: float | None = None
    timeout_s: float = 0.0
    method: Literal["python3", "dig"] = "python3"
    detail: str = ""  # the VM-side error text, e.g. "[Errno 113] No route to host"
    truncated: bool = False  # the reply had TC set: the answer did not fit in the UDP datagram


@dataclass(frozen=True)
class ResolverObservation:
    """The VM's own resolver (getent, nsswitch + resolv.conf) asked for a name."""

    probe: ResolverProbe
    addresses: tuple[str, ...]
    exit_status: int  # getent's; 124 when it was still waiting after ``timeout_s``
    resolv_conf: str = ""  # the VM's /etc/resolv.conf, as evidence
    timeout_s: float = 0.0

    @property
    def timed_out(self) -> bool:
        return self.exit_status == TIMED_OUT


@dataclass(frozen=True)
class EgressObservation:
    """A datagram with ``nonce`` sent from a VM's workload interface to the runner's observer."""

    probe: EgressProbe
    nonce: str
    arrived: bool
    seen_source: str | None = None  # the source address the observer saw
    seen_port: int | None = None
    icmp_error: str | None = None  # e.g. "host unreachable from 10.244.0.1" (or errno text)
    sender_error: str | None = None  # the VM could not send at all
    timeout_s: float = 0.0
    method: Literal["socket", "sniff"] = "socket"
    other_arrivals: tuple[str, ...] = field(default_factory=tuple)  # e.g. ICMP the sniffer saw


@dataclass(frozen=True)
class UpstreamObservation:
    """WCP-DNS-004: the Corefile's upstreams and, for each, the A query sent to it from the VM's workload address.

    ``queries`` follow ``corefile.upstreams``; a query WCP-DNS-001 already sent (same VM, source, server and
    name) is that observation, not a second packet. ``egress`` is the same VM's egress datagram (WCP-EGR-001),
    when the run observed it: whether workload traffic reaches the management network at all."""

    probe: UpstreamProbe
    corefile: CorefileUpstreams
    queries: tuple[DnsObservation, ...]
    egress: EgressObservation | None = None


@dataclass(frozen=True)
class VcenterCluster:
    """The Supervisor's cluster as vCenter's Workload Management describes it, read once per run.

    ``info`` is the ``GET /api/vcenter/namespace-management/clusters/{cluster}`` object as vCenter
    sent it (every field optional); ``found_by`` says how the cluster was chosen (evidence)."""

    moid: str
    name: str | None
    info: dict[str, Any]
    found_by: str
    vcenter: str = ""


# ---- namespaces: what Kubernetes and NSX hold for each Namespace's egress ---------------------------
def _mapping(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


@dataclass(frozen=True)
class NamespaceInfo:
    """One Namespace as the Kubernetes list gave it: only NCP's annotations (``ncp/*``, ``ncp-nsx/*``) and
    WCP's ``vSphereClusterID`` label are kept."""

    name: str
    annotations: dict[str, str] = field(default_factory=dict)
    vsphere_cluster: str | None = None  # the vSphereClusterID label WCP puts on the Namespaces it creates

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> NamespaceInfo:
        meta = _mapping(obj.get("metadata"))
        raw, labels = _mapping(meta.get("annotations")), _mapping(meta.get("labels"))
        kept = {str(k): str(v) for k, v in raw.items() if str(k).startswith(("ncp/", "ncp-nsx/"))}
        cluster = labels.get("vSphereClusterID")
        return cls(str(meta.get("name", "")), kept, str(cluster) if cluster is not None else None)


@dataclass(frozen=True)
class NamespaceEgress:
    """What WCP-NS-001 judges: every Namespace, and the USER NAT rules of each Tier-1 they name
    (None: NSX has no such Tier-1), against the inventory's egress range and egress IP."""

    namespaces: tuple[NamespaceInfo, ...]
    rules_by_tier1: dict[str, tuple[dict[str, Any], ...] | None]
    egress: str  # the inventory's egress range (CIDR)
    egress_ip: str  # the Supervisor's egress IP (what the egress checks use)
    named: tuple[str, ...] = ()  # the vSphere Namespaces the inventory names


# ---- ncp: NCP as NSX sees it -------------------------------------------------------------------------
@dataclass(frozen=True)
class NcpStatus:
    """NSX's ncpstatus of one container cluster (HEALTHY, DOWN or DEGRADED; anything else is not judged)."""

    path: str
    status: str
    detail: str = ""
    interval: int | None = None
    raw: str = ""


@dataclass(frozen=True)
class NcpErrorAnnotation:
    """An ``ncp/error.*`` annotation: NCP saying what it could not realise for this object."""

    kind: Literal["Service", "Namespace", "Pod"]
    namespace: str
    name: str
    key: str
    value: str

    def __str__(self) -> str:
        where = f"{self.namespace}/{self.name}" if self.namespace else self.name
        return f"{self.kind} {where}: {self.key}: {self.value}"


@dataclass(frozen=True)
class NcpErrors:
    """Every ``ncp/error.*`` annotation on the Services, Namespaces and pods, with how many of each were read."""

    found: tuple[NcpErrorAnnotation, ...]
    services: int
    namespaces: int
    pods: int


@dataclass(frozen=True)
class ManagerTlsObservation:
    """A TLS handshake from a VM's management interface to an NSX manager, made on the VM itself."""

    probe: ManagerTlsProbe
    ok: bool
    stage: Literal["done", "bind", "resolve", "connect", "tls"]
    error: str = ""  # the VM-side error text
    errno: int | None = None
    elapsed_s: float | None = None
    tls_version: str | None = None
    peer_sha256: str | None = None  # of the certificate the manager sent (not verified on the VM)
    timeout_s: float = 0.0
