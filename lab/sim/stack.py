"""All three API simulators from one model, over TLS from one lab CA, plus the inventory for them.

In host-namespace tests everything listens on loopback (127.0.0.0/8): the NSX manager, vCenter
and the Kubernetes API on 127.0.0.1, the API VIP on its own loopback address with two ports that
stand for 443 and 6443. The control-plane VMs, DNS and the observer named in the inventory are
loopback addresses too, so nothing a test runs can leave this machine.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ..kubeconfig import write_kubeconfig
from ..model import SupervisorModel
from ..tls import LabCA
from .kube import KubeApiHandler, KubeApiSim
from .nsx import NsxPolicyHandler, NsxPolicySim
from .server import SimServer
from .vcenter import VcenterHandler, VcenterSim

NSX_USER = "audit"
LOOPBACK_NAT = ("127.0.64.0/20", "127.0.2.0/24", "127.0.2.1")  # namespace network, egress range, egress IP
VC_USER = "readonly@vsphere.local"
LOOPBACK_INGRESS = "127.0.1.0/24"


@dataclass
class SimStack:
    """Start with ``with SimStack(model, workdir) as stack:``; everything stops on exit, even on error."""

    model: SupervisorModel
    workdir: Path
    vip_host: str = "127.0.1.2"
    vip_cert_names: tuple[str, ...] | None = None  # default: valid for the VIP address
    api_host: str = "127.0.0.1"
    nsx_password: str = field(default_factory=lambda: "canary-" + secrets.token_hex(8))
    vc_password: str = field(default_factory=lambda: "canary-" + secrets.token_hex(8))
    kube_token: str = field(default_factory=lambda: "token-" + secrets.token_hex(16))
    ca: LabCA = field(default_factory=LabCA)
    servers: list[SimServer] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        # NSX's NAT rules speak of the same (loopback) networks the inventory names
        self.model.namespace_network, self.model.egress_cidr, self.model.egress_ip = LOOPBACK_NAT
        names, self.model.vsphere_namespaces = [ns.name for ns in self.model.vsphere_namespaces], []
        for index, name in enumerate(names, 1):  # their subnets and SNAT IPs follow the networks
            self.model.add_vsphere_namespace(name, index)
        self.model.realize_nat()
        # and vCenter's Workload Management settings are those the inventory below states (WCP-VC-003)
        self.model.api_vip, self.model.ingress_cidr = self.vip_host, LOOPBACK_INGRESS
        self.model.api_servers_management_ips = [f"127.0.10.{45 + index}" for index in range(3)]
        self.model.master_dns, self.model.worker_dns = ["127.0.10.10"], ["127.0.10.11"]
        self.ca_file = self.ca.write_ca(self.workdir / "lab-ca.pem")
        self.nsx = NsxPolicySim(self.model, NSX_USER, self.nsx_password)
        self.vcenter = VcenterSim(self.model, VC_USER, self.vc_password)
        self.kube = KubeApiSim(self.model, self.kube_token)

    # ---- lifecycle -------------------------------------------------------------------------------
    def start(self) -> SimStack:
        try:
            names = (self.api_host, "localhost")
            self.nsx_server = self._add(SimServer(NsxPolicyHandler, self.nsx, self.ca.server_context(*names),
                                                  host=self.api_host))
            self.model.nsx_manager = f"{self.api_host}:{self.nsx_server.port}"  # what ncp.ini names
            self.kube.refresh()
            self.vc_server = self._add(SimServer(VcenterHandler, self.vcenter, self.ca.server_context(*names),
                                                 host=self.api_host))
            self.kube_server = self._add(SimServer(KubeApiHandler, self.kube, self.ca.server_context(*names),
                                                   host=self.api_host))
            vip_names = self.vip_cert_names or (self.vip_host,)
            self.vip_servers = [  # kube-apiserver-lb-svc: ports "nginx" (443) and "kube-apiserver" (6443)
                self._add(SimServer(KubeApiHandler, self.kube, self.ca.server_context(*vip_names), host=self.vip_host))
                for _ in range(2)
            ]
            # NSX's SLB virtual servers and kube-apiserver-lb-svc name the VIP and ports served here, and the
            # pools the inventory's VMs (eth1 127.0.64.2-4), as NCP would have realised them
            self.model.serve_api_vip_at(self.vip_host, self.vip_ports, [f"127.0.64.{2 + i}" for i in range(3)])
            self.nsx.refresh()
            self.kube.refresh()
        except BaseException:
            self.stop()
            raise
        self.kubeconfig = write_kubeconfig(self.workdir / "kubeconfig", self.kube_server.url, self.ca_file,
                                           self.kube_token, context="lab")
        return self

    def _add(self, server: SimServer) -> SimServer:
        self.servers.append(server.start())
        return server

    def stop(self) -> None:
        while self.servers:
            self.servers.pop().stop()

    def __enter__(self) -> SimStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- the inventory a user would write for this site -------------------------------------------
    @property
    def vip_ports(self) -> list[int]:
        return [server.port for server in self.vip_servers]

    def inventory_data(self, name: str = "sim") -> dict[str, Any]:
        """A complete inventory: the APIs are the simulators; VMs, DNS and observer are loopback."""
        (self.workdir / "nsx-password").write_text(self.nsx_password + "\n")
        (self.workdir / "vc-password").write_text(self.vc_password + "\n")
        key = self.workdir / "id_ed25519"  # a real key nothing trusts: VMs answer only where a test starts sshd
        if not key.exists():
            private = Ed25519PrivateKey.generate().private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption())
            key.write_bytes(private)
            key.chmod(0o600)
        vms = []
        for index in range(3):
            vms.append({
                "name": f"cp-{index + 1}",
                "management_address": f"127.0.10.{45 + index}",
                "ssh": {"user": "root", "port": 2, "key_file": str(key), "insecure_skip_host_key_check": True},
                "interfaces": {
                    "eth0": {"network": "management", "address": f"127.0.10.{45 + index}/24",
                             "gateway": "127.0.10.254", "dns_servers": ["127.0.10.10"]},
                    "eth1": {"network": "workload", "address": f"127.0.64.{2 + index}/28",
                             "gateway": "127.0.64.1", "dns_servers": ["127.0.10.11"]},
                },
            })
        return {
            "name": name,
            "supervisor": {"name": self.model.supervisor_name, "control_plane": vms},
            "dns": {
                "port": 5353,
                "management": {"servers": ["127.0.10.10"],
                               "names": [{"name": "vcenter.lab.local", "address": "127.0.10.20"}]},
                "workload": {"servers": ["127.0.10.11"],
                             "names": [{"name": "vcenter.lab.local", "address": "127.0.10.20"}]},
            },
            "networks": {"management": "127.0.10.0/24", "namespace": LOOPBACK_NAT[0],
                         "service": self.model.service_cidr, "ingress": LOOPBACK_INGRESS,
                         "egress": LOOPBACK_NAT[1], "egress_ip": LOOPBACK_NAT[2]},
            "api_vip": {"address": self.vip_host, "ports": self.vip_ports, "ca_file": str(self.ca_file)},
            "kubernetes": {"kubeconfig": str(self.kubeconfig), "context": "lab"},
            "nsx": {"managers": [self.nsx_server.url], "ca_file": str(self.ca_file), "username": NSX_USER,
                    "password": {"file": "nsx-password"}, "auth": "session", "cluster": "discover"},
            "vcenter": {"url": self.vc_server.url, "ca_file": str(self.ca_file), "username": VC_USER,
                        "password": {"file": "vc-password"}},
            "observer": {"address": "127.0.0.1", "port": 40123, "mode": "socket"},
            "timeouts": {"connect": 2, "command": 5, "dns": 1, "api": 3, "egress": 1},
        }

    def write_inventory(self, data: dict[str, Any] | None = None, name: str = "inventory.yaml") -> Path:
        path = self.workdir / name
        path.write_text(yaml.safe_dump(data or self.inventory_data(), sort_keys=False))
        return path
