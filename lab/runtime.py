"""A running lab: the network (lab.netns), the services (lab.services) and the inventory, from one topology.

``with LabRuntime(topology, prefix) as lab:`` builds it, starts every service as a child of this
process, writes the inventory the suite uses, and tears everything down on exit, even after an
error or Ctrl-C. ``latency_s`` puts a WAN round trip between the jumpbox (where the suite runs)
and the site (:mod:`lab.latency`); ``sim_latency_s`` is the API simulators' own time per request.
Faults (lab.faults) are toggled with :meth:`inject` / :meth:`clear`: the desired
state of each plane (edge nftables, CP ip rules, DNS records and routes, simulator state, sshd) is
computed from the topology and the active faults, and only the planes a fault touches are re-applied.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from ipaddress import IPv4Address
from pathlib import Path
from types import TracebackType

from . import faults as fault_catalogue
from .bird import BgpPeering
from .inventory import LabVm, canary_password, write_client_key, write_known_hosts, write_lab_inventory
from .latency import AppliedLatency, Choice, apply_latency, check_latency
from .model import SupervisorModel
from .netns import Lab, build
from .nft import NFT, edge_ruleset
from .ntp import NtpServer
from .services import DnsServer, Service, ServiceError, SimProcess, VmSshd, start_all, stop_all
from .sim.serve import FaultSpec, SimState
from .tls import LabCA
from .topology import DEFAULT_TOPOLOGY, NatRule, Topology, load_topology, netns_name
from .zones import DnsRecord, records_from_mapping, with_address, without_ptr

ROOT = Path(__file__).resolve().parents[1]
RUN_DIR = Path("/run/wcp-lab")
NSX_USER = "audit"
VC_USER = "readonly@vsphere.local"
LOGIN_USER = "devops@vsphere.local"  # the lab's SSO user with a role on a vSphere Namespace (WCP-LOGIN-001)
FAULT_TABLE = "wcp_fault"


def lab_dir(prefix: str) -> Path:
    return RUN_DIR / prefix


@dataclass
class LabRuntime:
    topology: Topology
    prefix: str = "wcp"
    faults: set[str] = field(default_factory=set)
    workdir: Path | None = None
    latency_s: float = 0.0
    sim_latency_s: float = 0.0
    latency_mechanism: Choice = "auto"

    def __post_init__(self) -> None:
        self.latency_s = check_latency(self.latency_s)
        self.sim_latency_s = check_latency(self.sim_latency_s)
        unknown = sorted(set(self.faults) - set(fault_catalogue.FAULTS))
        if unknown:
            raise ValueError(f"unknown fault(s): {', '.join(unknown)} (see `wcp-lab faults`)")
        self.dir = self.workdir or lab_dir(self.prefix)
        self.net: Lab | None = None
        self.dns: DnsServer | None = None
        self.vms: dict[str, VmSshd] = {}
        self.sims: list[SimProcess] = []
        self.bgp: BgpPeering | None = None
        self.ntp: NtpServer | None = None
        self.latency: AppliedLatency | None = None
        self.inventory_path = self.dir / "inventory.yaml"
        self.nsx_password = canary_password("nsx")
        self.vc_password = canary_password("vc")
        self.kube_token = canary_password("token")
        self.login_password = canary_password("login")
        self.login_key = canary_password("jwtkey")  # what the lab's session tokens are signed with

    # ---- names -------------------------------------------------------------------------------------
    def ns(self, node: str) -> str:
        return netns_name(self.prefix, node)

    @property
    def jumpbox(self) -> str:
        return self.topology.jumpbox[0]

    @property
    def dns_node(self) -> str:
        return self.topology.dns_node[0]

    def _address(self, role: str) -> IPv4Address:
        return self.topology.host(role)[1].management  # type: ignore[arg-type]

    def _names(self, *roles: str) -> list[DnsRecord]:
        wanted = {str(self._address(role)) for role in roles}
        return [r for r in records_from_mapping({k: str(v) for k, v in self.topology.dns.records.items()})
                if r.address in wanted]

    # ---- desired state from topology + faults ----------------------------------------------------------
    def effective_topology(self) -> Topology:
        return self.topology.with_shared_dns() if "seed-shared-dns" in self.faults else self.topology

    def dns_records(self) -> list[DnsRecord]:
        records = records_from_mapping({k: str(v) for k, v in self.topology.dns.records.items()})
        vcenter = self._names("vcenter")[0].name
        if "ptr-missing" in self.faults:
            records = without_ptr(records, vcenter)
        if "a-record-wrong" in self.faults:
            records = with_address(records, vcenter, str(fault_catalogue.wrong_address(self.topology)))
        return records

    def nat_rules(self) -> list[NatRule]:
        rules = list(self.topology.nat)
        if "snat-missing" in self.faults:
            rules = [r for r in rules if r.action != "SNAT"]
        if "snat-wrong-ip" in self.faults:
            wrong = fault_catalogue.wrong_egress_ip(self.topology)
            rules = [r.model_copy(update={"translated": wrong}) if r.action == "SNAT" else r for r in rules]
        return rules

    def edge_text(self) -> str:
        ports = [p for p in self.topology.api_vip.ports if not ("vip-6443-down" in self.faults and p == 6443)]
        members, pinned = fault_catalogue.vip_dnat(self.topology, self.faults)
        text = edge_ruleset(self.topology, nat=self.nat_rules(), vip_ports=ports, vip_members=members,
                            vip_pinned=pinned)
        nets = self.topology.networks
        body = ""
        if "egress-blackholed" in self.faults:  # new flows from the cluster to anywhere outside it vanish
            body = (f"\tchain forward {{\n\t\ttype filter hook forward priority -10; policy accept;\n"
                    f"\t\tip saddr {nets.namespace} ip daddr != {nets.namespace} ct state new drop\n\t}}\n")
        reset = f"table ip {FAULT_TABLE} {{}}\ndelete table ip {FAULT_TABLE}\n"
        return text + reset + f"table ip {FAULT_TABLE} {{\n{body}}}\n"

    def model(self) -> SupervisorModel:
        topo, nets = self.effective_topology(), self.topology.networks
        cps = self.topology.control_planes
        model = SupervisorModel.for_site(
            cluster_moid=topo.supervisor.cluster_moid, vcenter_uuid=topo.supervisor.vcenter_uuid,
            supervisor_name=topo.supervisor.name, nsx_manager=str(self._address("nsx")),
            api_vip=str(topo.api_vip.address), management_ips=[str(vm.management) for vm in cps.values()],
            workload_ips=[str(vm.workload) for vm in cps.values()], master_dns=[str(topo.dns.management)],
            worker_dns=[str(topo.dns.workload)], namespace_network=str(nets.namespace),
            service_cidr=str(nets.service), ingress_cidr=str(nets.ingress), egress_cidr=str(nets.egress),
            egress_ip=str(nets.egress_ip))
        model.ntp_servers = [str(self.ntp_address)]  # what Workload Management was enabled with
        fault_catalogue.apply_to_model(model, self.faults)
        fault_catalogue.apply_slb_to_model(model, self.faults, self.topology)
        self._routing_to_model(model)
        return model

    @property
    def ntp_address(self) -> IPv4Address:
        """The lab's NTP server: the router's management address (routers commonly serve the site's time)."""
        return self.topology.router[1].management

    def _routing_to_model(self, model: SupervisorModel) -> None:
        """The Tier-0's BGP as the edge's BIRD holds it (asked at request time), and the capacity faults."""
        peering = BgpPeering(self.topology, self.topology.namespaces(self.prefix), self.dir / "bird")
        routing = model.routing
        routing.neighbor_address, routing.source_address = str(peering.peering.router_address), str(
            peering.peering.edge_address)
        routing.advertised = [str(net) for net in peering.peering.advertised]
        routing.bird_socket = str(peering.edge.socket)
        fault_catalogue.apply_capacity_to_model(model, self.faults)

    def sim_state(self) -> SimState:
        state = SimState(self.model(), NSX_USER, self.nsx_password, VC_USER, self.vc_password, self.kube_token,
                         latency_s=self.sim_latency_s)
        if "nsx-api-unavailable" in self.faults:
            state.faults["nsx"] = [FaultSpec(503, message="Service Unavailable")]
        if "vip-cert-wrong-name" in self.faults:
            state.cert_names["kube"] = [f"kube.other.{self.topology.supervisor.domain}"]
        for fault, days in fault_catalogue.CERT_DAYS_LEFT.items():  # the NSX manager's certificate re-issued
            if fault in self.faults:
                state.cert_days["nsx"] = days
        state.login_username, state.login_key = LOGIN_USER, self.login_key
        # login-refused: SSO no longer takes the inventory's password for the user (/wcp/login answers 401)
        state.login_password = "changed-" + self.login_password if "login-refused" in self.faults \
            else self.login_password
        for fault, days in fault_catalogue.INTERMEDIATE_DAYS_LEFT.items():  # the API VIP's intermediate CA
            if fault in self.faults:
                state.cert_intermediate_days["kube"] = days
        return state

    # ---- lifecycle -----------------------------------------------------------------------------------------
    def up(self) -> LabRuntime:
        if self.dir.exists():
            shutil.rmtree(self.dir)
        self.dir.mkdir(parents=True, mode=0o700)
        self.net = build(self.effective_topology(), self.prefix, uplink_routes="bgp")
        try:
            self.net.registry.push(f"lab directory {self.dir}", lambda: shutil.rmtree(self.dir, ignore_errors=True))
            self.net.apply_edge_ruleset(self.edge_text())
            self._start_services()
            self._apply_vm_faults()
            self._apply_latency()
            self.write_inventory()
        except BaseException:
            self.down()
            raise
        return self

    def _start_services(self) -> None:
        assert self.net is not None  # noqa: S101 - up() built it
        topo = self.topology
        ca = LabCA()
        ca_dir = self.dir / "ca"
        self.ca_file = ca.save(ca_dir)
        self.client_key = self.dir / "id_ed25519"
        public_key = write_client_key(self.client_key)
        self.state_file = self.dir / "sim-state.json"
        self.sim_state().save(self.state_file)
        dns_node = topo.dns_node[1]
        self.dns = DnsServer(self.ns(self.dns_node), [str(a) for a in dns_node.management], self.dns_records(),
                             self.dir / "dns", local_domains=[topo.supervisor.domain])
        vip = str(topo.api_vip.address)
        for name, vm in topo.control_planes.items():
            self.vms[name] = VmSshd(self.ns(name), name, str(vm.management), self.dir / name,
                                    authorized_keys=[public_key], nameservers=[str(topo.dns.management)],
                                    search=[topo.supervisor.domain])
            self.sims.append(SimProcess("kube", self.ns(name), [(str(vm.workload), p) for p in topo.api_vip.ports],
                                        self.state_file, ca_dir, [vip, str(vm.workload), str(vm.management)],
                                        self.dir / "sims", name=f"sim-kube-{name}"))
        for kind in ("nsx", "vcenter"):
            node, host = topo.host(kind)  # type: ignore[arg-type]
            names = [str(host.management), *(r.name for r in self._names(kind))]
            self.sims.append(SimProcess(kind, self.ns(node), [(str(host.management), 443)], self.state_file,
                                        ca_dir, names, self.dir / "sims"))
        self.bgp = BgpPeering(topo, topo.namespaces(self.prefix), self.dir / "bird")
        if fault_catalogue.skewed_vm(topo) in self.vms:
            self.vms[fault_catalogue.skewed_vm(topo)].sshd.session_env = self.clock_env()
        self.ntp = NtpServer(self.ns(topo.router[0]), str(self.ntp_address), self.dir / "ntp")
        services: list[Service] = [self.bgp, self.dns, *self.vms.values(), *self.sims, self.ntp]
        for service in services:
            self.net.registry.push(f"service {service!r}", service.stop)
        start_all(services)
        if "bgp-down" in self.faults:
            self.bgp.disable()
        for name, vm_sshd in self.vms.items():
            if "cp-vm-unreachable" in self.faults and name == fault_catalogue.unreachable_vm(topo):
                vm_sshd.stop()
        if fault_catalogue.silent_vms(topo, self.faults):
            self._apply_sshd()
        if "ncp-managers-blocked" in self.faults:
            self._apply_cp_filter()
        if "ntp-server-down" in self.faults:
            self.ntp.stop()

    def _apply_latency(self) -> None:
        assert self.net is not None  # noqa: S101 - up() built it
        applied = apply_latency(self.ns(self.jumpbox), self.latency_s, self.dir / "latency",
                                choice=self.latency_mechanism)
        self.latency = applied
        self.net.registry.push(f"latency {applied.mechanism} in {applied.netns}", applied.remove)

    def latency_status(self) -> dict[str, object]:
        """The WAN latency in force (what ``wcp-lab status`` shows), live: a dead delay line says so."""
        if self.latency is None:
            return {"seconds": self.latency_s, "mechanism": "none", "problem": None}
        return self.latency.status()

    def bgp_status(self) -> dict[str, object]:
        """The edge <-> router BGP session as ``wcp-lab status`` shows it (asked of both BIRDs now)."""
        if self.bgp is None:
            return {"edge": {"state": "not started", "info": ""}, "router": {"state": "not started", "info": ""},
                    "learnt": []}
        try:
            return self.bgp.status()
        except ServiceError as exc:
            return {"problem": str(exc).splitlines()[0]}

    def write_inventory(self) -> Path:
        topo, eff = self.topology, self.effective_topology()
        nets = topo.networks
        vms = [LabVm(name, f"{vm.management}/{nets.management.prefixlen}", str(topo.router[1].management),
                     f"{vm.workload}/{nets.segment.prefixlen}", str(topo.edge[1].downlink))
               for name, vm in topo.control_planes.items()]
        known_hosts = write_known_hosts(self.dir / "known_hosts", [vm.known_hosts_line for vm in self.vms.values()])
        write_lab_inventory(
            self.inventory_path, name=f"lab-{topo.name}", supervisor_name=topo.supervisor.name, vms=vms,
            ssh_key=self.client_key, known_hosts=known_hosts, management_dns=[str(eff.dns.management)],
            workload_dns=[str(eff.dns.workload)], dns_names=self._names("vcenter", "nsx"),
            workload_dns_names=self._names("vcenter"),
            networks={"management": str(nets.management), "namespace": str(nets.namespace),
                      "service": str(nets.service), "ingress": str(nets.ingress), "egress": str(nets.egress),
                      "egress_ip": str(nets.egress_ip)},
            api_vip=str(topo.api_vip.address), api_ports=topo.api_vip.ports, ca_file=self.ca_file,
            kube_token=self.kube_token, nsx_manager=str(self._address("nsx")), nsx_username=NSX_USER,
            nsx_password=self.nsx_password, vcenter=str(self._address("vcenter")), vcenter_username=VC_USER,
            vcenter_password=self.vc_password, observer_address=str(topo.jumpbox[1].management),
            observer_port=topo.observer.port, runner_netns=self.ns(self.jumpbox), login_user=LOGIN_USER,
            login_password=self.login_password, namespaces=[ns.name for ns in self.model().vsphere_namespaces],
            ntp_servers=[str(self.ntp_address)], esxi_hosts=[str(h) for h in topo.esxi_hosts])
        return self.inventory_path

    def down(self) -> list[str]:
        """Tear everything down (services, namespaces, files); return what could not be undone."""
        problems: list[str] = []
        if self.net is not None:
            problems = self.net.teardown()
            self.net = None
        line = self.latency.delay_line if self.latency is not None else None
        stop_all([s for s in (self.bgp, self.dns, *self.vms.values(), *self.sims, self.ntp, line) if s is not None])
        shutil.rmtree(self.dir, ignore_errors=True)
        return problems

    def __enter__(self) -> LabRuntime:
        return self.up()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.down()

    # ---- faults ------------------------------------------------------------------------------------------
    def inject(self, name: str) -> None:
        self._toggle(name, on=True)

    def clear(self, name: str) -> None:
        self._toggle(name, on=False)

    def _toggle(self, name: str, *, on: bool) -> None:
        fault = fault_catalogue.FAULTS.get(name)
        if fault is None:
            raise ValueError(f"unknown fault {name!r} (see `wcp-lab faults`)")
        if on == (name in self.faults):
            return
        (self.faults.add if on else self.faults.discard)(name)
        for plane in fault.planes:
            getattr(self, f"_apply_{plane}")()

    def _apply_edge(self) -> None:
        assert self.net is not None  # noqa: S101
        self.net.apply_edge_ruleset(self.edge_text())

    def _apply_sims(self) -> None:
        self.sim_state().save(self.state_file)
        for sim in self.sims:
            sim.reload()

    def _apply_dns(self) -> None:
        assert self.dns is not None  # noqa: S101
        if "dns-server-down" in self.faults:
            self.dns.stop()
        else:
            self.dns.restart(self.dns_records()) if self.dns.running else self._start_dns()

    def _start_dns(self) -> None:
        assert self.dns is not None  # noqa: S101
        self.dns.records = self.dns_records()
        self.dns.start()

    def _apply_sshd(self) -> None:
        vm = self.vms[fault_catalogue.unreachable_vm(self.topology)]
        if "cp-vm-unreachable" in self.faults:
            vm.stop()
        elif not vm.running:
            vm.start()
        assert self.net is not None  # noqa: S101
        silent = fault_catalogue.silent_vms(self.topology, self.faults)
        for name in self.topology.control_planes:
            ruleset = fault_catalogue.silent_vm_ruleset(self.vms[name].port, silent=name in silent)
            self.net.exec(name, [NFT, "-f", "-"], input=ruleset)

    def _apply_cp_filter(self) -> None:
        """Each control-plane VM drops (or not) what eth0 sends to the NSX manager's 443 (ncp-managers-blocked)."""
        assert self.net is not None  # noqa: S101
        ruleset = fault_catalogue.managers_blocked_ruleset(self._address("nsx"),
                                                           blocked="ncp-managers-blocked" in self.faults)
        for name in self.topology.control_planes:
            self.net.exec(name, [NFT, "-f", "-"], input=ruleset)

    def _apply_rules(self) -> None:
        """The CP VMs' ip rules for the current DNS arrangement (the seed's shared-DNS rule or not)."""
        assert self.net is not None  # noqa: S101
        eff = self.effective_topology()
        for name in self.topology.control_planes:
            lines = [f"rule del {' '.join(r.ip_args())}" for r in self.topology.cp_rules(name, shared_dns=False)]
            lines += [f"rule del {' '.join(r.ip_args())}" for r in self.topology.cp_rules(name, shared_dns=True)]
            for line in dict.fromkeys(lines):
                self.net.exec(name, ["ip", *line.split()], check=False)
            self.net.ip_batch(name, [f"rule add {' '.join(r.ip_args())}" for r in eff.cp_rules(name)])

    def _apply_dns_route(self) -> None:
        assert self.net is not None  # noqa: S101
        base = self.topology.plan(self.dns_node).routes
        want = self.effective_topology().plan(self.dns_node).routes
        if "dns-return-route-missing" in self.faults:
            want = [r for r in want if r.dst != str(self.topology.dns.return_route)]
        for route in base:
            self.net.exec(self.dns_node, ["ip", "route", "del", *route.ip_args()], check=False)
        for route in want:
            self.net.exec(self.dns_node, ["ip", "route", "replace", *route.ip_args()])

    def _apply_bgp(self) -> None:
        """bgp-down: the router's side of the session disabled (routes withdrawn); cleared: Established again."""
        assert self.bgp is not None  # noqa: S101 - up() started it
        if "bgp-down" in self.faults:
            self.bgp.disable()
        else:
            self.bgp.enable()

    def _apply_inventory(self) -> None:
        self.write_inventory()

    # ---- routing (return path), time, mtu: the VM-side faults ----------------------------------------------
    def clock_env(self) -> dict[str, str]:
        """The skewed VM's login environment: libfaketime preloaded CLOCK_SKEW_S ahead (empty when healthy)."""
        if "cp-clock-skew" not in self.faults:
            return {}
        library = next((p for p in fault_catalogue.FAKETIME_LIBS if Path(p).exists()), None)
        if library is None:
            raise RuntimeError("cp-clock-skew needs libfaketime (Debian package faketime: .ci/system-deps)")
        # monotonic time stays real, so the VM's own timeouts (python3, ping) keep their length
        return {"LD_PRELOAD": library, "FAKETIME": f"+{fault_catalogue.CLOCK_SKEW_S}", "DONT_FAKE_MONOTONIC": "1"}

    def _apply_vm_faults(self) -> None:
        """At ``up``: the return-path and MTU faults asked for on the command line (the clock and NTP faults
        are in the services' own start)."""
        if "rp-filter-strict" in self.faults:
            self._apply_return_path()
        if "mtu-small" in self.faults:
            self._apply_mtu()

    def _apply_return_path(self) -> None:
        """rp_filter on every VM, and the ip rule that steers the first ESXi host into table 200 (or not)."""
        assert self.net is not None  # noqa: S101
        strict = "rp-filter-strict" in self.faults
        settings = [f"{k}={v}" for k, v in fault_catalogue.rp_filter_sysctls(strict=strict).items()]
        rule = ["pref", "0", "to", str(fault_catalogue.steered_esxi(self.topology)), "lookup", "200"]
        for name in self.topology.control_planes:
            self.net.exec(name, ["/usr/sbin/sysctl", "-q", "-w", *settings])
            self.net.exec(name, ["ip", "rule", "del", *rule], check=False)
            if strict:
                self.net.exec(name, ["ip", "rule", "add", *rule])

    def _apply_clock(self) -> None:
        """Restart the skewed VM's sshd with (or without) libfaketime in its sessions; it keeps its host key."""
        vm = self.vms[fault_catalogue.skewed_vm(self.topology)]
        vm.stop()
        vm.sshd.session_env = self.clock_env()
        vm.start()

    def _apply_ntp(self) -> None:
        assert self.ntp is not None  # noqa: S101
        if "ntp-server-down" in self.faults:
            self.ntp.stop()
        elif not self.ntp.running:
            self.ntp.start()

    def _apply_mtu(self) -> None:
        """The uplink's MTU on both ends; on the way back to 1500, every node forgets the smaller path MTU it
        learnt (``ip route flush cache``), or the next healthy run would still see it for ten minutes."""
        assert self.net is not None  # noqa: S101
        small = "mtu-small" in self.faults
        mtu = str(fault_catalogue.SMALL_MTU if small else 1500)
        self.net.exec(self.topology.router[0], ["ip", "link", "set", "eth1", "mtu", mtu])
        self.net.exec(self.topology.edge[0], ["ip", "link", "set", "eth0", "mtu", mtu])
        if not small:
            for node, spec in self.topology.nodes.items():
                if spec.role != "bridge":
                    self.net.exec(node, ["ip", "route", "flush", "cache"], check=False)

    # ---- running the suite ----------------------------------------------------------------------------------
    def suite_argv(self, args: Sequence[str] = (), python: str = sys.executable) -> list[str]:
        """Run the suite as a user would, from the jumpbox (where the observer address lives)."""
        return ["ip", "netns", "exec", self.ns(self.jumpbox), python, "-m", "wcp_acceptance", "run",
                "--inventory", str(self.inventory_path), *args]

    def run_suite(self, args: Sequence[str] = (), *, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("WCP_")}
        return subprocess.run(self.suite_argv(args), cwd=ROOT, env=env, capture_output=True, text=True,  # noqa: S603
                              timeout=timeout, check=False)


def open_lab(topology: str | Path | None = None, prefix: str = "wcp", faults: Sequence[str] = ()) -> LabRuntime:
    return LabRuntime(load_topology(topology or DEFAULT_TOPOLOGY), prefix, set(faults))
