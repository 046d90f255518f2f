"""``wcp-acceptance discover``: an inventory from what the site says about itself (pure part, no I/O).

The command (:mod:`wcp_acceptance.cli.discover`) reads, GET only: vCenter's namespace-management
cluster Info (VIP ``api_server_cluster_endpoint``, ``api_servers``, ``master_DNS``,
``worker_DNS``, ``master_NTP_servers``, ``service_cidr``, ``ncp_cluster_network_info``), the
``kube-system/wcp-network-config`` and ``vmware-system-nsx/nsx-ncp-config`` ConfigMaps, and NSX
(the Tier-1s tagged with the NCP cluster and their SNAT rule: the egress IP; the API VIP's
virtual servers and their pool: the control-plane VMs' workload addresses; the lb-services).
:func:`build_inventory` turns those facts plus the operator's own inputs into the inventory's data.

What no API says is a placeholder ``<FILL: why>`` the loader rejects, listed in the file's header
and by the command: the control-plane VMs' SSH credentials and known_hosts, the management
network's prefix and gateways, the observer's address (an address of the runner), the names
DNS must resolve. Secrets are written as ``{env: NAME}``, never as values. Not public, so read
as optional and said so: the keys of ``wcp-network-config`` beyond ``network_provider``; which
pool member is which VM (paired with ``api_servers`` in address order, marked to verify).
"""

from __future__ import annotations

import configparser
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Interface, IPv4Network
from typing import Any

import yaml

from wcp_acceptance import discovery

PLACEHOLDER = "<FILL: {}>"


class _Ref(dict[str, str]):
    """A secret reference, written in flow style: ``password: {env: NAME}``."""


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:  # every list written out, no &id001 anchors
        return True


_Dumper.add_representer(_Ref, lambda d, v: d.represent_mapping("tag:yaml.org,2002:map", v, flow_style=True))
WCP_NETWORK_CONFIGMAP = ("kube-system", "wcp-network-config")


@dataclass(frozen=True)
class OperatorInput:
    """What the operator passes on the command line: access, and what no API of the site says."""

    vcenter_url: str
    vcenter_user: str
    vcenter_password_env: str
    vcenter_ca: str
    name: str | None = None
    kubeconfig: str | None = None
    context: str | None = None
    api_ca: str | None = None
    nsx_managers: tuple[str, ...] = ()
    nsx_user: str | None = None
    nsx_password_env: str | None = None
    nsx_ca: str | None = None
    ssh_user: str = "root"
    ssh_key_file: str | None = None
    ssh_password_env: str = "WCP_CP_PASSWORD"  # noqa: S105 - the name of a variable, not a password
    known_hosts: str | None = None
    observer: str | None = None
    management_network: str | None = None
    management_gateway: str | None = None
    workload_prefix: int | None = None
    workload_gateway: str | None = None
    dns_names: tuple[tuple[str, str], ...] = ()


@dataclass
class SiteFacts:
    """What the site said (each source may be missing; ``problems`` says why, for the header)."""

    cluster_moid: str
    cluster_name: str | None
    info: Mapping[str, Any]
    wcp_network_config: Mapping[str, Any] | None = None
    ncp_ini: str | None = None
    egress_ip: str | None = None
    system_tier1: str | None = None  # the Supervisor's own Tier-1 (kube-system's ncp/router_id)
    system_snat_ip: str | None = None  # kube-system's ncp/snat_ip: the Supervisor's own SNAT address
    vip_pool_members: tuple[str, ...] = ()
    dlb_lb_service: str | None = None
    problems: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Discovered:
    """The inventory's data, its placeholders (field path, what to fill) and notes for the header."""

    data: dict[str, Any]
    placeholders: tuple[tuple[str, str], ...]
    notes: tuple[str, ...]

    def render(self) -> str:
        head = ["# written by `wcp-acceptance discover` from what the site reports about itself (read-only).",
                "# Secrets are references ({env: NAME}); set those variables before a run."]
        if self.placeholders:
            head.append("# FILL before use (no API of the site says these; the loader rejects <FILL: ...>):")
            head += [f"#   {path}: {why}" for path, why in self.placeholders]
        head += [f"# note: {note}" for note in self.notes]
        return "\n".join(head) + "\n" + yaml.dump(self.data, Dumper=_Dumper, sort_keys=False, width=110)


def _cidr(value: Any) -> str | None:
    """``{address, prefix}`` (vCenter's Ipv4Cidr) or ``a.b.c.d/n`` as a network, None if neither."""
    try:
        if isinstance(value, Mapping):
            return str(IPv4Network(f"{value.get('address')}/{value.get('prefix')}", strict=False))
        if isinstance(value, str) and value.strip():
            return str(IPv4Network(value.split(",")[0].strip(), strict=False))
    except ValueError:
        return None
    return None


def _first_cidr(values: Any) -> str | None:
    if isinstance(values, list):
        return next((c for c in (_cidr(v) for v in values) if c), None)
    return _cidr(values)


def _ipv4s(values: Any) -> list[str]:
    out: list[str] = []
    for value in values if isinstance(values, list) else []:
        try:
            out.append(str(IPv4Address(str(value).strip())))
        except ValueError:
            continue
    return out


def _https(value: str) -> str:
    return value if "://" in value else f"https://{value}"


def ncp_cluster(ncp_ini: str | None) -> str | None:
    return discovery.cluster_from_ncp_ini(ncp_ini) if ncp_ini else None


def ncp_managers(ncp_ini: str | None) -> list[str]:
    return discovery.nsx_managers_from_ncp_ini(ncp_ini) if ncp_ini else []


def ncp_value(ncp_ini: str | None, section: str, key: str) -> str | None:
    if not ncp_ini:
        return None
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read_string(ncp_ini)
    except configparser.Error:
        return None
    return parser.get(section, key, fallback="").strip() or None


SYSTEM_NAMESPACE = "kube-system"


def system_egress(namespaces: Iterable[Mapping[str, Any]]) -> tuple[str | None, str | None]:
    """The Supervisor's own Tier-1 and SNAT address, from NCP's annotations on ``kube-system``: every vSphere
    Namespace has a Tier-1 and SNAT IP of its own, the system namespaces share the Supervisor's."""
    for ns in namespaces:
        metadata = ns.get("metadata")
        if not isinstance(metadata, Mapping) or metadata.get("name") != SYSTEM_NAMESPACE:
            continue
        annotations = metadata.get("annotations")
        if not isinstance(annotations, Mapping):
            return None, None
        router = str(annotations.get("ncp/router_id") or "").strip() or None
        try:
            snat: str | None = str(IPv4Address(str(annotations.get("ncp/snat_ip") or "").strip()))
        except ValueError:
            snat = None
        return router, snat
    return None, None


def egress_ip_from_nat(rules: Iterable[Mapping[str, Any]]) -> str | None:
    """The ``translated_network`` of the first SNAT rule on the Supervisor's Tier-1s (one address)."""
    for rule in sorted(rules, key=lambda r: int(r.get("sequence_number") or 0)):
        if rule.get("action") == "SNAT":
            try:
                return str(IPv4Address(str(rule.get("translated_network", "")).split("/")[0]))
            except ValueError:
                continue
    return None


def vip_members(vip: str, virtual_servers: Iterable[Mapping[str, Any]],
                pools: Iterable[Mapping[str, Any]]) -> list[str]:
    """The member addresses of the pools the VIP's (non-DLB) virtual servers name: the VMs' workload addresses."""
    wanted = {str(vs.get("pool_path")) for vs in virtual_servers
              if str(vs.get("ip_address")) == vip and vs.get("pool_path")
              and discovery._tags(vs).get("ncp/created_for") != "DLB"}
    members: set[IPv4Address] = set()
    for pool in pools:
        if str(pool.get("path") or f"/infra/lb-pools/{pool.get('id')}") in wanted:
            for member in pool.get("members") or []:
                try:
                    members.add(IPv4Address(str(member.get("ip_address"))))
                except (ValueError, AttributeError):
                    continue
    return [str(m) for m in sorted(members)]


class _Builder:
    def __init__(self) -> None:
        self.placeholders: list[tuple[str, str]] = []
        self.notes: list[str] = []

    def fill(self, path: str, why: str) -> str:
        self.placeholders.append((path, why))
        return PLACEHOLDER.format(why)


def _secret(env: str) -> dict[str, str]:
    return _Ref(env=env)


def build_inventory(facts: SiteFacts, given: OperatorInput) -> Discovered:
    """The inventory's data from the site's facts and the operator's inputs, placeholders where neither says."""
    b = _Builder()
    info = facts.info
    raw_net = info.get("ncp_cluster_network_info")
    net_info: Mapping[str, Any] = raw_net if isinstance(raw_net, Mapping) else {}
    wcp_cm = facts.wcp_network_config or {}
    name = given.name or facts.cluster_name or facts.cluster_moid
    vip = str(info.get("api_server_cluster_endpoint") or "")
    api_servers = _ipv4s(info.get("api_servers"))
    if not api_servers:
        api_servers = _ipv4s(str(wcp_cm.get("api_servers_management_ips", "")).split(","))
    api_servers = sorted(dict.fromkeys(api_servers), key=IPv4Address)  # cp-1, cp-2, ... in address order
    master_dns, worker_dns = _ipv4s(info.get("master_DNS")), _ipv4s(info.get("worker_DNS"))

    management_net = IPv4Network(given.management_network, strict=False) if given.management_network else None
    members = sorted(facts.vip_pool_members, key=IPv4Address)  # paired with api_servers in address order
    if members and len(members) == len(api_servers):
        b.notes.append("each VM's eth1 address is a member of the API VIP's NSX pool, paired with api_servers in "
                       "address order: which member is which VM is not public, verify the pairing")
    control_plane: list[Any] = []
    for i, mgmt in enumerate(api_servers):
        where = f"supervisor.control_plane[{i}]"
        ssh: dict[str, Any] = {"user": given.ssh_user, "port": 22}
        if given.ssh_key_file:
            ssh["key_file"] = given.ssh_key_file
        else:
            ssh["password"] = _secret(given.ssh_password_env)
            if i == 0:
                b.notes.append(f"ssh.password is {{env: {given.ssh_password_env}}}: the root password from "
                               "/usr/lib/vmware-wcp/decryptK8Pwd.py on vCenter (or pass --ssh-key-file)")
        ssh["known_hosts"] = given.known_hosts or b.fill(f"{where}.ssh.known_hosts",
                                                         "a known_hosts file with the VMs' host keys")
        eth0: dict[str, Any] = {"network": "management"}
        eth0["address"] = (f"{mgmt}/{management_net.prefixlen}" if management_net is not None
                           else b.fill(f"{where}.interfaces.eth0.address", f"{mgmt}/<prefix of the management "
                                                                           "network>"))
        if given.management_gateway:
            eth0["gateway"] = given.management_gateway
        eth0["dns_servers"] = master_dns
        eth1: dict[str, Any] = {"network": "workload"}
        prefix = given.workload_prefix or net_info.get("namespace_subnet_prefix")
        if i < len(members) and len(members) == len(api_servers) and isinstance(prefix, int):
            eth1["address"] = str(IPv4Interface(f"{members[i]}/{prefix}"))
        else:
            why = ("the VM's workload address/prefix (NSX pool of the API VIP not read or not one member per VM)"
                   if not (i < len(members) and len(members) == len(api_servers))
                   else f"{members[i]}/<prefix of the Supervisor's segment> (pass --workload-prefix)")
            eth1["address"] = b.fill(f"{where}.interfaces.eth1.address", why)
        if given.workload_gateway:
            eth1["gateway"] = given.workload_gateway
        eth1["dns_servers"] = worker_dns
        control_plane.append({"name": f"cp-{i + 1}", "management_address": mgmt, "ssh": ssh,
                              "interfaces": {"eth0": eth0, "eth1": eth1}})
    if not control_plane:
        control_plane.append(b.fill("supervisor.control_plane", "vCenter lists no api_servers: the control-plane "
                                                                "VMs' addresses"))

    names = [{"name": n, "address": a} for n, a in given.dns_names]
    if not names:
        b.notes.append("dns.*.names is empty: add the names each interface must resolve (--dns-name NAME=ADDRESS), "
                       "else WCP-DNS-001/002/004 have no targets")
    dns = {"management": {"servers": master_dns or [b.fill("dns.management.servers", "vCenter has no master_DNS")],
                          "names": names},
           "workload": {"servers": worker_dns or [b.fill("dns.workload.servers", "vCenter has no worker_DNS")],
                        "names": names}}

    def cidr(path: str, *values: Any) -> str:
        found = next((c for c in (_first_cidr(v) for v in values) if c), None)
        return found or b.fill(path, "neither vCenter nor wcp-network-config says")

    networks = {
        "management": str(management_net) if management_net else b.fill("networks.management",
                                                                         "the management network (CIDR)"),
        "namespace": cidr("networks.namespace", net_info.get("pod_cidrs"), wcp_cm.get("cluster_cidr")),
        "service": cidr("networks.service", info.get("service_cidr"), wcp_cm.get("service_cidr")),
        "ingress": cidr("networks.ingress", net_info.get("ingress_cidrs"), wcp_cm.get("ingress_cidrs")),
        "egress": cidr("networks.egress", net_info.get("egress_cidrs"), wcp_cm.get("egress_cidrs")),
        "egress_ip": facts.egress_ip or facts.system_snat_ip
        or b.fill("networks.egress_ip", "the SNAT address (NSX's SNAT rule not read)"),
    }
    ntp = _ipv4s(info.get("master_NTP_servers"))
    if isinstance(info.get("master_NTP_servers"), list) and len(ntp) < len(info["master_NTP_servers"]):
        b.notes.append("master_NTP_servers names servers by name; only IPv4 addresses are written to ntp_servers")

    data: dict[str, Any] = {
        "name": name,
        "supervisor": {"name": facts.cluster_name or facts.cluster_moid, "control_plane": control_plane},
        "dns": dns,
        "networks": networks,
        "ntp_servers": ntp,
        "api_vip": {"address": vip or b.fill("api_vip.address", "vCenter has no api_server_cluster_endpoint"),
                    "ports": [443, 6443],
                    "ca_file": given.api_ca or b.fill("api_vip.ca_file", "the CA of the Supervisor API certificate")},
    }
    if given.kubeconfig:
        kube: dict[str, Any] = {"kubeconfig": given.kubeconfig}
        if given.context:
            kube["context"] = given.context
        data["kubernetes"] = kube
    else:
        data["kubernetes"] = {"kubeconfig": b.fill("kubernetes.kubeconfig", "a kubeconfig from kubectl vsphere login")}

    managers = [_https(m) for m in (given.nsx_managers or tuple(ncp_managers(facts.ncp_ini)))]
    nsx: dict[str, Any] = {
        "managers": managers or [b.fill("nsx.managers", "no --nsx and NCP's nsx_api_managers not read")],
        "ca_file": given.nsx_ca or b.fill("nsx.ca_file", "the NSX managers' CA (pass --nsx-ca)"),
        "username": given.nsx_user or b.fill("nsx.username", "a read-only NSX user (pass --nsx-user)"),
        "password": _secret(given.nsx_password_env or "WCP_NSX_PASSWORD"),
        "auth": "session",
        "cluster": ncp_cluster(facts.ncp_ini) or "discover",
    }
    for key, source in (("edge_cluster", "nsx_edge_cluster"), ("tier0_gateway", "nsx_tier0_gateway")):
        if net_info.get(source):
            nsx[key] = str(net_info[source])
    data["nsx"] = nsx
    data["vcenter"] = {"url": _https(given.vcenter_url), "ca_file": given.vcenter_ca, "username": given.vcenter_user,
                       "password": _secret(given.vcenter_password_env), "cluster": facts.cluster_moid}
    data["observer"] = {"address": given.observer or b.fill("observer.address", "an address of the runner the "
                                                                                 "workload network reaches"),
                        "port": 40123, "mode": "auto"}
    if facts.dlb_lb_service:
        b.notes.append(f"NSX's DLB lb-service for the cluster: {facts.dlb_lb_service}")
    provider = wcp_cm.get("network_provider")
    if provider and provider != "NSXT_CONTAINER_PLUGIN":
        b.notes.append(f"wcp-network-config says network_provider {provider}: this suite checks NSX-T Supervisors")
    b.notes += facts.problems
    return Discovered(data, tuple(b.placeholders), tuple(b.notes))


def fill_placeholders(text: str) -> list[str]:
    """The placeholder lines left in a written inventory (what the operator still must fill)."""
    return [line.strip() for line in text.splitlines() if "<FILL:" in line and not line.lstrip().startswith("#")]
