"""One model of a Supervisor, from which every simulator derives its state.

It is built the way NCP and WCP build a real site: Services exist first, then NCP realises one
DLB virtual server (and pool) per (Service, port, protocol) with a ClusterIP, and SLB virtual
servers for LoadBalancer Services on the ingress range. Faults mutate the model after that, so
both the Kubernetes side and the NSX side stay consistent.
"""

from __future__ import annotations

import dataclasses
import hashlib
import ipaddress
import json
import types
import typing
import uuid
from dataclasses import dataclass, field
from typing import Any

from .routing import RoutingState

SEED_SERVICES: tuple[tuple[str, str, str, tuple[tuple[str | None, int, str], ...]], ...] = (
    # (namespace, name, ClusterIP, ((port name, port, protocol), ...)) -- the seed's 30 DLB rows
    ("default", "kubernetes", "10.96.0.1", (("https", 443, "TCP"),)),
    ("kube-system", "kube-dns", "10.96.0.10", (("dns-tcp", 53, "TCP"), ("dns", 53, "UDP"), ("metrics", 9153, "TCP"))),
    ("vmware-system-tkg", "tkg-vmware-system-tkg-webhook-service", "10.96.0.57", ((None, 443, "TCP"),)),
    ("vmware-system-vmop", "vmop-webhook-service", "10.96.0.70", ((None, 443, "TCP"),)),
    ("vmware-system-capw", "capw-capw-controller-manager-metrics-service", "10.96.0.72", ((None, 9846, "TCP"),)),
    ("vmware-system-capw", "capw-capw-controller-webhook-service", "10.96.0.168", ((None, 443, "TCP"),)),
    ("kube-system", "kube-apiserver-lb-svc", "10.96.0.186", (("nginx", 443, "TCP"), ("kube-apiserver", 6443, "TCP"))),
    ("vmware-system-tkg", "tkg-vmware-system-tkg-controller-manager-metrics-service", "10.96.0.202",
     ((None, 9847, "TCP"),)),
    ("vmware-system-vmop", "vmop-controller-manager-metrics-service", "10.96.0.204", ((None, 9848, "TCP"),)),
    ("vmware-system-capw", "capw-capi-kubeadm-bootstrap-webhook-service", "10.96.1.44", ((None, 443, "TCP"),)),
    ("vmware-system-capw", "capw-capi-controller-manager-metrics-service", "10.96.1.45", ((None, 9844, "TCP"),)),
    ("vmware-system-nsop", "nsop-vmware-system-nsop-webhook-service", "10.96.1.87", ((None, 443, "TCP"),)),
    ("vmware-system-capw", "capw-capi-kubeadm-control-plane-controller-manager-metrics-service", "10.96.1.95",
     ((None, 9848, "TCP"),)),
    ("vmware-system-license-operator", "vmware-system-license-operator-webhook-service", "10.96.1.112",
     ((None, 443, "TCP"),)),
    ("vmware-system-capw", "capw-capi-kubeadm-bootstrap-controller-manager-metrics-service", "10.96.1.136",
     ((None, 9845, "TCP"),)),
    ("vmware-system-cert-manager", "cert-manager-cert-manager", "10.96.1.149", ((None, 9402, "TCP"),)),
    ("vmware-system-psp-operator", "psp-operator-webhook-service", "10.96.1.150", ((None, 443, "TCP"),)),
    ("vmware-system-capw", "capw-capi-webhook-service", "10.96.1.163", ((None, 443, "TCP"),)),
    ("kube-system", "docker-registry", "10.96.1.170", ((None, 5000, "TCP"),)),
    ("vmware-system-appplatform-operator-system", "apiserver-authproxy", "10.96.1.173", ((None, 8443, "TCP"),)),
    ("vmware-system-csi", "csi-vsphere-csi-controller", "10.96.1.208",
     (("ctlr", 2112, "TCP"), ("syncer", 2113, "TCP"))),
    ("vmware-system-capw", "capw-capi-kubeadm-control-plane-webhook-service", "10.96.0.235", ((None, 443, "TCP"),)),
    ("vmware-system-tkg", "tkg-tkgs-plugin-service", "10.96.1.245", ((None, 8099, "TCP"),)),
    ("vmware-system-cert-manager", "cert-manager-cert-manager-webhook", "10.96.1.252", ((None, 443, "TCP"),)),
)

# LoadBalancer Services and their ingress VIPs (the seed's SLB table).
SEED_LOAD_BALANCERS: dict[tuple[str, str], str] = {
    ("kube-system", "kube-apiserver-lb-svc"): "172.16.1.2",
    ("vmware-system-csi", "csi-vsphere-csi-controller"): "172.16.1.1",
}


def _decode(kind: Any, value: Any) -> Any:
    """Rebuild a value of type ``kind`` (dataclass, list/tuple/dict of them, optional) from its JSON form."""
    origin = typing.get_origin(kind)
    if value is None:
        return None
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(kind) if a is not type(None)]
        return _decode(options[0], value) if len(options) == 1 else value
    if origin is list:
        (item,) = typing.get_args(kind)
        return [_decode(item, v) for v in value]
    if origin is tuple:
        args = typing.get_args(kind)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_decode(args[0], v) for v in value)
        return tuple(_decode(a, v) for a, v in zip(args, value, strict=True))
    if origin is dict:
        _key_type, item = typing.get_args(kind)
        return {k: _decode(item, v) for k, v in value.items()}
    if isinstance(kind, type) and dataclasses.is_dataclass(kind):
        hints = typing.get_type_hints(kind)
        return kind(**{f.name: _decode(hints[f.name], value[f.name])
                       for f in dataclasses.fields(kind) if f.init and f.name in value})
    return value


def stable_uuid(*parts: object) -> str:
    """A deterministic UUID, so two builds of one model agree (and tests can predict ids)."""
    return str(uuid.UUID(hashlib.sha256("/".join(map(str, parts)).encode()).hexdigest()[:32]))


def suffix5(*parts: object) -> str:
    """NCP's 5-character random id suffix, made deterministic."""
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    digest = hashlib.sha256("/".join(map(str, parts)).encode()).digest()
    return "".join(alphabet[b % len(alphabet)] for b in digest[:5])


@dataclass
class ServicePortSpec:
    port: int
    protocol: str = "TCP"
    name: str | None = None
    target_port: int | None = None
    node_port: int | None = None


@dataclass
class ServiceSpec:
    namespace: str
    name: str
    cluster_ip: str | None  # None for ExternalName; "None" for headless, as Kubernetes writes it
    ports: list[ServicePortSpec]
    type: str = "ClusterIP"  # ClusterIP | NodePort | LoadBalancer | ExternalName
    load_balancer_ip: str | None = None
    external_name: str | None = None
    ingress_ip: str | None = None  # status.loadBalancer.ingress[].ip when it differs from load_balancer_ip
    annotations: dict[str, str] = field(default_factory=dict)  # e.g. NCP's ncp/error.loadbalancer

    @property
    def uid(self) -> str:
        return stable_uuid("svc", self.namespace, self.name)

    @property
    def has_cluster_ip(self) -> bool:
        return self.type != "ExternalName" and self.cluster_ip not in (None, "None", "")


@dataclass
class VirtualServer:
    """An NSX LBVirtualServer as NCP creates it (DLB for ClusterIPs, SLB for LoadBalancer VIPs)."""

    id: str
    display_name: str
    ip_address: str
    ports: list[str]
    protocol: str
    lb_service_path: str
    created_for: str  # "DLB" | "SLB"
    namespace: str
    service: str
    service_uid: str
    service_port: int
    pool_members: list[tuple[str, int]] = field(default_factory=list)


@dataclass
class NatRule:
    id: str
    action: str  # SNAT | NO_SNAT | ...
    source_network: str
    destination_network: str
    translated_network: str
    sequence_number: int
    tier1: str


@dataclass
class VsphereNamespace:
    """A vSphere Namespace as NCP realises it in T1 mode: its own Tier-1, pod subnet and SNAT IP (with an SNAT
    rule on that Tier-1); its Kubernetes Namespace carries them as ncp/* annotations."""

    name: str
    tier1: str
    subnet: str
    snat_ip: str


# the lab's vSphere Namespace besides the system namespaces: the second /28 of the namespace network, the egress
# range's second address
LAB_NAMESPACE = "team-a"


@dataclass
class SupervisorModel:
    """The whole state the simulators serve, as NCP and WCP would have created it."""

    cluster_moid: str = "domain-c8"
    vcenter_uuid: str = "0c9a4798-6c2b-4c2e-9b7e-8d3e4f5a6b7c"
    supervisor_name: str = "supervisor-1"
    nsx_manager: str = "192.168.10.28"
    api_vip: str = "172.16.1.2"
    api_servers_management_ips: list[str] = field(default_factory=lambda: ["192.168.10.45", "192.168.10.46",
                                                                            "192.168.10.47"])
    workload_ips: list[str] = field(default_factory=lambda: ["10.244.0.2", "10.244.0.3", "10.244.0.4"])
    master_dns: list[str] = field(default_factory=lambda: ["192.168.10.10"])
    worker_dns: list[str] = field(default_factory=lambda: ["192.168.10.11"])
    # CoreDNS's forward upstreams in the coredns Corefile; empty: the workload DNS, as WCP sets it up
    coredns_upstreams: list[str] = field(default_factory=list)
    namespace_network: str = "10.244.0.0/20"
    service_cidr: str = "10.96.0.0/23"
    ingress_cidr: str = "172.16.1.0/24"
    egress_cidr: str = "172.16.2.0/24"
    egress_ip: str = "172.16.2.1"
    services: list[ServiceSpec] = field(default_factory=list)
    virtual_servers: list[VirtualServer] = field(default_factory=list)
    nat_rules: list[NatRule] = field(default_factory=list)
    config_status: str = "RUNNING"
    kubernetes_status: str = "READY"
    # vCenter's messages[] / kubernetes_status_messages[] ({severity, details}) and conditions[] (8.0.0.1+)
    # as vCenter would send them; empty means derived from the status (see lab.sim.vcenter)
    config_messages: list[dict[str, Any]] = field(default_factory=list)
    kubernetes_messages: list[dict[str, Any]] = field(default_factory=list)
    conditions: list[dict[str, Any]] = field(default_factory=list)
    ntp_servers: list[str] = field(default_factory=list)
    tier0_gateway: str = "tier0-gw"
    # the NCP pod in vmware-system-nsx: "Running", or a waiting reason such as "CrashLoopBackOff"
    ncp_pod_state: str = "Running"
    ncp_restart_count: int = 3
    # vSphere Namespaces (each with its own Tier-1 and SNAT IP), and the status NCP posts to NSX (ncpstatus)
    vsphere_namespaces: list[VsphereNamespace] = field(default_factory=list)
    ncp_status: str = "HEALTHY"
    ncp_status_detail: str = ""
    # the Tier-0's BGP, the NCP IP pools and the edge LB's usage (lab.routing, served by lab.sim.nsx_routing)
    routing: RoutingState = field(default_factory=RoutingState)

    # ---- names NCP derives -------------------------------------------------------------
    @property
    def ncp_cluster(self) -> str:
        return f"{self.cluster_moid}:{self.vcenter_uuid}"

    @property
    def dlb_lb_service_id(self) -> str:
        return f"clusterip_{self.ncp_cluster}_dlb"

    @property
    def system_tier1(self) -> str:
        return f"t1_{stable_uuid('t1', self.ncp_cluster)}_rtr"

    @property
    def namespaces(self) -> list[str]:
        return sorted({s.namespace for s in self.services} | {"vmware-system-nsx", "kube-system", "default"}
                      | {ns.name for ns in self.vsphere_namespaces})

    def vsphere_namespace(self, name: str) -> VsphereNamespace | None:
        return next((ns for ns in self.vsphere_namespaces if ns.name == name), None)

    def add_vsphere_namespace(self, name: str, index: int) -> VsphereNamespace:
        """The ``index``-th vSphere Namespace: the namespace network's (index+1)-th /28 and the egress range's
        address ``index`` after the egress IP (the Supervisor's own segment is the first /28)."""
        network = ipaddress.ip_network(self.namespace_network)
        subnet = ipaddress.ip_network(f"{network.network_address + 16 * index}/28")
        ns = VsphereNamespace(name, f"t1_{stable_uuid('t1', self.ncp_cluster, name)}_rtr", str(subnet),
                              str(ipaddress.ip_address(self.egress_ip) + index))
        self.vsphere_namespaces.append(ns)
        return ns

    # ---- JSON round trip (the lab hands the model to simulator processes as a file) -----------
    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SupervisorModel:
        model = _decode(cls, data)
        if not isinstance(model, cls):
            raise TypeError(f"not a {cls.__name__}: {type(data).__name__}")
        return model

    @classmethod
    def from_json(cls, text: str) -> SupervisorModel:
        return cls.from_dict(json.loads(text))

    # ---- building ------------------------------------------------------------------------
    @classmethod
    def for_site(
        cls,
        *,
        cluster_moid: str,
        vcenter_uuid: str,
        supervisor_name: str,
        nsx_manager: str,
        api_vip: str,
        management_ips: list[str],
        workload_ips: list[str],
        master_dns: list[str],
        worker_dns: list[str],
        namespace_network: str,
        service_cidr: str,
        ingress_cidr: str,
        egress_cidr: str,
        egress_ip: str,
    ) -> SupervisorModel:
        """The seed's Services on another address plan (plain values, e.g. from a lab topology).

        ClusterIPs keep their offset inside the Service CIDR; kube-apiserver-lb-svc gets ``api_vip``
        and the other LoadBalancer the first free address of the ingress range."""
        model = cls(cluster_moid=cluster_moid, vcenter_uuid=vcenter_uuid, supervisor_name=supervisor_name,
                    nsx_manager=nsx_manager, api_vip=api_vip, api_servers_management_ips=list(management_ips),
                    workload_ips=list(workload_ips), master_dns=list(master_dns), worker_dns=list(worker_dns),
                    namespace_network=namespace_network, service_cidr=service_cidr, ingress_cidr=ingress_cidr,
                    egress_cidr=egress_cidr, egress_ip=egress_ip)
        seed_net = ipaddress.ip_network("10.96.0.0/23")
        service_net = ipaddress.ip_network(service_cidr)
        ingress = ipaddress.ip_network(ingress_cidr)
        spare = (str(ip) for ip in ingress.hosts() if str(ip) != api_vip)
        lb_ips = {key: (api_vip if key == ("kube-system", "kube-apiserver-lb-svc") else next(spare))
                  for key in SEED_LOAD_BALANCERS}
        for namespace, name, ip, ports in SEED_SERVICES:
            offset = int(ipaddress.ip_address(ip)) - int(seed_net.network_address)
            if offset >= service_net.num_addresses:
                raise ValueError(f"service CIDR {service_cidr} is too small for {namespace}/{name} (offset {offset})")
            lb_ip = lb_ips.get((namespace, name))
            model.services.append(
                ServiceSpec(
                    namespace,
                    name,
                    str(service_net.network_address + offset),
                    [ServicePortSpec(port, proto, pname) for pname, port, proto in ports],
                    type="LoadBalancer" if lb_ip else "ClusterIP",
                    load_balancer_ip=lb_ip,
                )
            )
        model.add_vsphere_namespace(LAB_NAMESPACE, 1)
        model.realize()
        return model

    @classmethod
    def seed(cls) -> SupervisorModel:
        """The seed's Supervisor: 30 ClusterIP service ports, two LoadBalancers, three NAT rules."""
        model = cls()
        for namespace, name, ip, ports in SEED_SERVICES:
            lb_ip = SEED_LOAD_BALANCERS.get((namespace, name))
            model.services.append(
                ServiceSpec(
                    namespace,
                    name,
                    ip,
                    [ServicePortSpec(port, proto, pname) for pname, port, proto in ports],
                    type="LoadBalancer" if lb_ip else "ClusterIP",
                    load_balancer_ip=lb_ip,
                )
            )
        model.add_vsphere_namespace(LAB_NAMESPACE, 1)
        model.realize()
        return model

    @classmethod
    def scaled(cls, services: int, ports_per_service: int = 1) -> SupervisorModel:
        """The seed plus ``services`` generated ClusterIP Services (for pagination and scale)."""
        model = cls.seed()
        pool = ipaddress.ip_network("10.112.0.0/12").hosts()
        for index in range(services):
            ports = [ServicePortSpec(8000 + p, "TCP", f"p{p}") for p in range(ports_per_service)]
            model.services.append(
                ServiceSpec(f"scale-{index // 100:03d}", f"svc-{index:05d}", str(next(pool)), ports)
            )
        model.realize()
        return model

    def realize(self) -> None:
        """Do what NCP does: one DLB virtual server per ClusterIP (Service, port, protocol),
        SLB virtual servers for LoadBalancer ingress VIPs, and the Supervisor's NAT rules."""
        self.virtual_servers = [vs for svc in self.services for vs in self._realize_service(svc)]
        self.realize_nat()

    def _realize_service(self, svc: ServiceSpec) -> list[VirtualServer]:
        """The virtual servers (and, through their members, pools) NCP makes for one Service."""
        made: list[VirtualServer] = []
        if not svc.has_cluster_ip:
            return made
        for sp in svc.ports:
            vs_id = f"{svc.name}_{sp.port}_{sp.protocol}_{suffix5(svc.uid)}"
            made.append(
                VirtualServer(
                    id=vs_id,
                    display_name=f"{svc.name}_{sp.port}_{sp.protocol}",
                    ip_address=str(svc.cluster_ip),
                    ports=[str(sp.port)],
                    protocol=sp.protocol,
                    lb_service_path=f"/infra/lb-services/{self.dlb_lb_service_id}",
                    created_for="DLB",
                    namespace=svc.namespace,
                    service=svc.name,
                    service_uid=svc.uid,
                    service_port=sp.port,
                    pool_members=[(ip, sp.target_port or sp.port) for ip in self.workload_ips],
                )
            )
            if svc.type == "LoadBalancer" and svc.load_balancer_ip:
                made.append(
                    VirtualServer(
                        id=f"slb_{svc.namespace}_{svc.name}_{sp.port}_{sp.protocol}",
                        display_name=f"{svc.namespace}-{svc.name}-{sp.port}",
                        ip_address=svc.load_balancer_ip,
                        ports=[str(sp.port)],
                        protocol=sp.protocol,
                        lb_service_path=f"/infra/lb-services/lbs_{self.system_tier1}",
                        created_for="SLB",
                        namespace=svc.namespace,
                        service=svc.name,
                        service_uid=svc.uid,
                        service_port=sp.port,
                        pool_members=[(ip, sp.target_port or sp.port) for ip in self.workload_ips],
                    )
                )
        return made

    def realize_nat(self) -> None:
        """The Supervisor's three NAT rules on its Tier-1, from the model's networks."""
        t1 = self.system_tier1
        self.nat_rules = [
            NatRule(f"snat_{suffix5(t1, 'snat')}", "SNAT", "", "", self.egress_ip, 1024, t1),
            NatRule(f"nosnat_{suffix5(t1, 'ns')}", "NO_SNAT", self.namespace_network, self.namespace_network, "",
                    0, t1),
            NatRule(f"nosnat_{suffix5(t1, 'eg')}", "NO_SNAT", self.namespace_network, self.egress_cidr, "", 0, t1),
        ]
        # each vSphere Namespace: one SNAT rule on its own Tier-1, from its subnet to its SNAT IP
        self.nat_rules += [NatRule(f"snat_{suffix5(ns.tier1, 'snat')}", "SNAT", ns.subnet, "", ns.snat_ip, 1024,
                                   ns.tier1) for ns in self.vsphere_namespaces]

    # ---- faults (each keeps both planes consistent) -----------------------------------------
    def find_virtual_server(self, namespace: str, service: str, port: int, protocol: str) -> VirtualServer:
        for vs in self.virtual_servers:
            if (vs.created_for, vs.namespace, vs.service, vs.service_port, vs.protocol) == (
                "DLB", namespace, service, port, protocol
            ):
                return vs
        raise KeyError(f"no DLB virtual server for {namespace}/{service} {port}/{protocol}")

    def drop_dlb_virtual_server(self, namespace: str, service: str, port: int, protocol: str) -> VirtualServer:
        """NCP failed to realise one Service port: the Service exists, its virtual server does not."""
        vs = self.find_virtual_server(namespace, service, port, protocol)
        self.virtual_servers.remove(vs)
        return vs

    def add_stale_dlb_virtual_server(self, namespace: str, service: str, ip: str, port: int,
                                     protocol: str = "TCP") -> VirtualServer:
        """A virtual server left behind for a Service (or port) that no longer exists."""
        uid = stable_uuid("svc", namespace, service, "deleted")
        vs = VirtualServer(
            id=f"{service}_{port}_{protocol}_{suffix5(uid)}",
            display_name=f"{service}_{port}_{protocol}",
            ip_address=ip,
            ports=[str(port)],
            protocol=protocol,
            lb_service_path=f"/infra/lb-services/{self.dlb_lb_service_id}",
            created_for="DLB",
            namespace=namespace,
            service=service,
            service_uid=uid,
            service_port=port,
        )
        self.virtual_servers.append(vs)
        return vs

    def serve_api_vip_at(self, vip: str, ports: list[int], workload_ips: list[str]) -> None:
        """Move the API VIP (kube-apiserver-lb-svc's ingress and ports) and the VMs' workload addresses to
        where a simulator stack listens; NSX's objects for that Service are made again, the pools of the
        others follow the VMs' new addresses, and every other change already made to the model is kept."""
        moved = dict(zip(self.workload_ips, workload_ips, strict=False))
        self.api_vip, self.workload_ips = vip, list(workload_ips)
        for vs in self.virtual_servers:
            vs.pool_members = [(moved.get(ip, ip), port) for ip, port in vs.pool_members]
        for svc in self.services:
            if (svc.namespace, svc.name) == ("kube-system", "kube-apiserver-lb-svc"):
                svc.load_balancer_ip = vip
                names = [sp.name for sp in svc.ports] + [None] * len(ports)
                svc.ports = [ServicePortSpec(port, "TCP", names[i]) for i, port in enumerate(ports)]
                kept = [vs for vs in self.virtual_servers if (vs.namespace, vs.service) != (svc.namespace, svc.name)]
                self.virtual_servers = kept + self._realize_service(svc)

    # ---- slb faults: the API VIP's SLB pools (the edge's DNAT is changed to match by lab.runtime) --------
    def slb_virtual_servers(self, namespace: str, service: str) -> list[VirtualServer]:
        found = [vs for vs in self.virtual_servers
                 if (vs.created_for, vs.namespace, vs.service) == ("SLB", namespace, service)]
        if not found:
            raise KeyError(f"no SLB virtual server for {namespace}/{service}")
        return found

    def drop_slb_member(self, namespace: str, service: str, ip: str) -> None:
        """NCP lost one endpoint of a LoadBalancer Service: its pools no longer hold ``ip``."""
        for vs in self.slb_virtual_servers(namespace, service):
            vs.pool_members = [(addr, port) for addr, port in vs.pool_members if addr != ip]

    def add_slb_member(self, namespace: str, service: str, ip: str) -> None:
        """A member that is no endpoint of the Service (a dead or foreign address), on each pool's port."""
        for vs in self.slb_virtual_servers(namespace, service):
            vs.pool_members = [*vs.pool_members, (ip, vs.service_port)]

    def set_ingress_ip(self, namespace: str, service: str, ip: str) -> None:
        """The Service's status.loadBalancer.ingress names ``ip`` (NSX keeps the VIP)."""
        for svc in self.services:
            if (svc.namespace, svc.name) == (namespace, service):
                svc.ingress_ip = ip
                return
        raise KeyError(f"no Service {namespace}/{service}")

    def mismatch_dlb_port(self, namespace: str, service: str, port: int, protocol: str,
                          new_port: int | None = None, new_protocol: str | None = None) -> VirtualServer:
        """The virtual server exists but listens on another port or protocol than the Service."""
        vs = self.find_virtual_server(namespace, service, port, protocol)
        if new_port is not None:
            vs.ports = [str(new_port)]
        if new_protocol is not None:
            vs.protocol = new_protocol
        return vs
