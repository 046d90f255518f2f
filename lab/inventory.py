"""The suite's inventory for a lab: the same file a user writes for a live site, from plain values.

:func:`write_lab_inventory` writes ``inventory.yaml`` and, next to it, what it refers to: the
kubeconfig for the API VIP (``https://<vip>:6443``, the lab CA, a bearer token) and the NSX and
vCenter password files (mode 0600; the lab uses canary passwords, so a leak is easy to spot). The
written file is loaded back with :func:`wcp_acceptance.inventory.load_inventory` before it is
returned: a lab never hands the suite an inventory the suite would reject.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

from wcp_acceptance.inventory.load import load_inventory
from wcp_acceptance.secret import Secret

from .kubeconfig import write_kubeconfig
from .sshd import _write_key
from .zones import DnsRecord

LAB_TIMEOUTS: dict[str, float] = {"connect": 3, "command": 10, "dns": 1, "api": 5, "egress": 1}
NETWORK_KEYS = ("management", "namespace", "service", "ingress", "egress", "egress_ip")


@dataclass(frozen=True)
class LabVm:
    """One control-plane VM: eth0 on management, eth1 on the Supervisor's segment (CIDR notation)."""

    name: str
    management: str  # e.g. "192.168.10.45/24"
    management_gateway: str
    workload: str  # e.g. "10.244.0.2/28"
    workload_gateway: str

    @property
    def management_address(self) -> str:
        return self.management.split("/")[0]


def canary_password(label: str = "canary") -> str:
    """A fresh password that is obviously a lab's (grep for it in reports and logs)."""
    return f"{label}-{secrets.token_hex(12)}"


def write_client_key(path: Path) -> str:
    """The lab's SSH client key (ed25519, 0600, no passphrase); returns its public key line."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return _write_key(path, "wcp-lab-client")


def write_known_hosts(path: Path, lines: Sequence[str]) -> Path:
    """One ``address keytype key`` line per VM (e.g. :attr:`lab.services.VmSshd.known_hosts_line`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{line.strip()}\n" for line in lines))
    return path


def _write_private(path: Path, text: str) -> Path:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(path, 0o600)
    return path


def _reveal(value: str | Secret) -> str:
    return value.reveal() if isinstance(value, Secret) else value


def _https(value: str) -> str:
    return value if "://" in value else f"https://{value}"


def _names(records: Sequence[DnsRecord] | Mapping[str, str]) -> list[dict[str, Any]]:
    if isinstance(records, Mapping):
        records = [DnsRecord(name, address) for name, address in records.items()]
    return [{"name": r.name, "address": r.address, "ptr": r.ptr} for r in records if r.a]


def write_lab_inventory(
    path: Path,
    *,
    name: str,
    supervisor_name: str,
    vms: Sequence[LabVm],
    ssh_key: Path,
    known_hosts: Path,
    management_dns: Sequence[str],
    workload_dns: Sequence[str],
    dns_names: Sequence[DnsRecord] | Mapping[str, str],
    workload_dns_names: Sequence[DnsRecord] | Mapping[str, str] | None = None,
    networks: Mapping[str, str],
    api_vip: str,
    ca_file: Path,
    kube_token: str | Secret,
    nsx_manager: str,
    nsx_username: str,
    nsx_password: str | Secret,
    observer_address: str,
    api_ports: Sequence[int] = (443, 6443),
    vcenter: str | None = None,
    vcenter_username: str = "readonly@vsphere.local",
    vcenter_password: str | Secret | None = None,
    observer_port: int = 40123,
    observer_mode: Literal["auto", "socket", "sniff"] = "auto",
    ssh_user: str = "root",
    timeouts: Mapping[str, float] | None = None,
    ntp_servers: Sequence[str] = (),
    esxi_hosts: Sequence[str] = (),
    runner_netns: str | None = None,
    login_user: str | None = None,
    login_password: str | Secret | None = None,
    namespaces: Sequence[str] = (),
) -> Path:
    """Write a complete inventory for a lab at ``path`` (plus kubeconfig and password files beside it).

    ``networks`` needs the keys management, namespace, service, ingress, egress, egress_ip.
    ``nsx_manager`` / ``vcenter`` are addresses (or https URLs); ``vcenter`` None leaves vCenter out.
    ``dns_names`` are the management DNS names every interface must resolve (``ptr`` as served in the
    healthy lab); ``workload_dns_names`` defaults to the same. Timeouts default to :data:`LAB_TIMEOUTS`.
    ``runner_netns`` (the lab's jumpbox) makes ``wcp-acceptance run`` run the suite inside that namespace.
    ``login_user`` and ``login_password`` opt in to the login check (WCP-LOGIN-001) as that SSO user.
    ``namespaces`` are the vSphere Namespaces WCP-NS-001 judges one by one.
    Raises :class:`wcp_acceptance.inventory.load.InventoryError` if the suite would reject the result.
    """
    missing = [key for key in NETWORK_KEYS if key not in networks]
    if missing:
        raise ValueError(f"networks lacks {', '.join(missing)}")
    if vcenter is not None and vcenter_password is None:
        raise ValueError("vcenter needs vcenter_password")
    directory = path.parent
    directory.mkdir(parents=True, exist_ok=True)
    kubeconfig = write_kubeconfig(directory / "kubeconfig", f"https://{api_vip}:6443", ca_file, kube_token,
                                  context=name)
    _write_private(directory / "nsx-password", _reveal(nsx_password) + "\n")

    control_plane = [
        {
            "name": vm.name,
            "management_address": vm.management_address,
            "ssh": {"user": ssh_user, "port": 22, "key_file": str(ssh_key.resolve()),
                    "known_hosts": str(known_hosts.resolve())},
            "interfaces": {
                "eth0": {"network": "management", "address": vm.management, "gateway": vm.management_gateway,
                         "dns_servers": list(management_dns)},
                "eth1": {"network": "workload", "address": vm.workload, "gateway": vm.workload_gateway,
                         "dns_servers": list(workload_dns)},
            },
        }
        for vm in vms
    ]
    management_names = _names(dns_names)
    data: dict[str, Any] = {
        "name": name,
        "supervisor": {"name": supervisor_name, "control_plane": control_plane,
                       **({"namespaces": list(namespaces)} if namespaces else {})},
        "dns": {
            "management": {"servers": list(management_dns), "names": management_names},
            "workload": {"servers": list(workload_dns),
                         "names": management_names if workload_dns_names is None else _names(workload_dns_names)},
        },
        "networks": {key: str(networks[key]) for key in NETWORK_KEYS},
        "ntp_servers": list(ntp_servers),
        "esxi_hosts": [str(h) for h in esxi_hosts],
        "api_vip": {"address": api_vip, "ports": [int(p) for p in api_ports], "ca_file": str(ca_file.resolve())},
        "kubernetes": {"kubeconfig": kubeconfig.name, "context": name},
        "nsx": {"managers": [_https(nsx_manager)], "ca_file": str(ca_file.resolve()), "username": nsx_username,
                "password": {"file": "nsx-password"}, "auth": "session", "cluster": "discover"},
        "observer": {"address": observer_address, "port": int(observer_port), "mode": observer_mode},
        "timeouts": {**LAB_TIMEOUTS, **(timeouts or {})},
    }
    if runner_netns is not None:
        data["runner"] = {"netns": runner_netns}
    if login_user is not None and login_password is not None:
        _write_private(directory / "login-password", _reveal(login_password) + "\n")
        data["login"] = {"enabled": True, "user": login_user, "password": {"file": "login-password"}}
    if vcenter is not None and vcenter_password is not None:
        _write_private(directory / "vc-password", _reveal(vcenter_password) + "\n")
        data["vcenter"] = {"url": _https(vcenter), "ca_file": str(ca_file.resolve()), "username": vcenter_username,
                           "password": {"file": "vc-password"}}
    path.write_text("# written by lab.inventory for the lab; regenerated on every `up`\n"
                    + yaml.safe_dump(data, sort_keys=False))
    load_inventory(path)  # the suite must accept what the lab hands it
    return path
