"""lab.inventory: the inventory a lab hands the suite loads with the suite's own loader, carries the
lab's addresses, keys, CA and canary passwords (never inline), and is rejected when it would be wrong."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from lab.inventory import LAB_TIMEOUTS, LabVm, canary_password, write_client_key, write_known_hosts, write_lab_inventory
from lab.tls import LabCA
from lab.zones import DnsRecord
from wcp_acceptance.inventory.load import InventoryError, load_inventory
from wcp_acceptance.secret import Secret


def plan(tmp_path: Path, mgmt: str, segment: str, ingress: str, egress: str, service: str) -> dict[str, Any]:
    """Inventory arguments for an address plan given by its prefixes (e.g. "192.168.10", "10.244.0")."""
    ca_file = LabCA().save(tmp_path / "ca")
    key = tmp_path / "keys" / "lab_ed25519"
    public = write_client_key(key)
    vms = [LabVm(f"cp-{i}", f"{mgmt}.{44 + i}/24", f"{mgmt}.254", f"{segment}.{1 + i}/28", f"{segment}.1")
           for i in (1, 2, 3)]
    known_hosts = write_known_hosts(tmp_path / "keys" / "known_hosts",
                                    [f"{vm.management_address} {public.split()[0]} {public.split()[1]}" for vm in vms])
    return {
        "name": "lab-wcp", "supervisor_name": "supervisor-1", "vms": vms, "ssh_key": key, "known_hosts": known_hosts,
        "management_dns": [f"{mgmt}.10"], "workload_dns": [f"{mgmt}.11"],
        "dns_names": [DnsRecord("vcenter.corp.local", f"{mgmt}.20"), DnsRecord("nsx.corp.local", f"{mgmt}.28"),
                      DnsRecord("router.corp.local", f"{mgmt}.254", ptr=False)],
        "networks": {"management": f"{mgmt}.0/24", "namespace": f"{segment}.0/20", "service": service,
                     "ingress": f"{ingress}.0/24", "egress": f"{egress}.0/24", "egress_ip": f"{egress}.1"},
        "api_vip": f"{ingress}.2", "ca_file": ca_file, "kube_token": Secret("token-" + "k" * 16, "lab"),
        "nsx_manager": f"{mgmt}.28", "nsx_username": "audit", "nsx_password": canary_password(),
        "vcenter": f"{mgmt}.20", "vcenter_password": canary_password(), "observer_address": f"{mgmt}.5",
    }


@pytest.mark.parametrize(("mgmt", "segment", "ingress", "egress", "service"), [
    ("192.168.10", "10.244.0", "172.16.1", "172.16.2", "10.96.0.0/23"),  # the seed's plan
    ("10.20.0", "10.120.0", "10.30.1", "10.30.2", "10.50.0.0/23"),  # another plan, nothing shared
])
def test_the_written_inventory_loads_with_the_lab_values(tmp_path: Path, mgmt: str, segment: str, ingress: str,
                                                         egress: str, service: str) -> None:
    values = plan(tmp_path, mgmt, segment, ingress, egress, service)
    path = write_lab_inventory(tmp_path / "run" / "inventory.yaml", **values)
    inv = load_inventory(path)
    assert [str(vm.management_address) for vm in inv.supervisor.control_plane] == [f"{mgmt}.{n}" for n in (45, 46, 47)]
    vm = inv.supervisor.control_plane[1]
    assert vm.ssh.key_file == values["ssh_key"].resolve()
    assert vm.ssh.known_hosts == values["known_hosts"].resolve()
    assert not vm.ssh.insecure_skip_host_key_check
    eth0, eth1 = vm.interfaces["eth0"], vm.interfaces["eth1"]
    assert (str(eth0.address), str(eth0.gateway), [str(s) for s in eth0.dns_servers]) == (
        f"{mgmt}.46/24", f"{mgmt}.254", [f"{mgmt}.10"])
    assert (str(eth1.address), str(eth1.gateway), [str(s) for s in eth1.dns_servers]) == (
        f"{segment}.3/28", f"{segment}.1", [f"{mgmt}.11"])
    assert [(n.name, str(n.address), n.ptr) for n in inv.dns.management.names] == [
        ("vcenter.corp.local", f"{mgmt}.20", True), ("nsx.corp.local", f"{mgmt}.28", True),
        ("router.corp.local", f"{mgmt}.254", False)]
    assert inv.dns.workload.names == inv.dns.management.names
    assert str(inv.networks.egress_ip) == f"{egress}.1"
    assert (str(inv.api_vip.address), inv.api_vip.ports) == (f"{ingress}.2", (443, 6443))
    assert inv.api_vip.ca_file == values["ca_file"].resolve()
    assert inv.nsx.managers == (f"https://{mgmt}.28",)
    assert (inv.nsx.auth, inv.nsx.discover_cluster) == ("session", True)
    assert inv.nsx.password.reveal() == values["nsx_password"]
    assert inv.vcenter is not None
    assert inv.vcenter.url == f"https://{mgmt}.20"
    assert inv.vcenter.password.reveal() == values["vcenter_password"]
    assert (str(inv.observer.address), inv.observer.port) == (f"{mgmt}.5", 40123)
    assert inv.timeouts.model_dump() == LAB_TIMEOUTS

    kubeconfig = yaml.safe_load(Path(str(inv.kubernetes.kubeconfig)).read_text())
    assert inv.kubernetes.context == "lab-wcp"
    assert kubeconfig["clusters"][0]["cluster"] == {"server": f"https://{ingress}.2:6443",
                                                    "certificate-authority": str(values["ca_file"].resolve())}
    assert kubeconfig["users"][0]["user"]["token"] == values["kube_token"].reveal()

    text = path.read_text()  # secrets live in 0600 files, never in the inventory itself
    for secret in (values["nsx_password"], values["vcenter_password"], values["kube_token"].reveal()):
        assert secret not in text
    for name in ("nsx-password", "vc-password", "kubeconfig"):
        assert (path.parent / name).stat().st_mode & 0o777 == 0o600
    assert (values["ssh_key"]).stat().st_mode & 0o777 == 0o600


def test_an_inventory_the_suite_would_reject_is_never_handed_over(tmp_path: Path) -> None:
    values = plan(tmp_path, "192.168.10", "10.244.0", "172.16.1", "172.16.2", "10.96.0.0/23")
    values["api_vip"] = "192.168.10.99"  # outside the ingress network
    with pytest.raises(InventoryError, match="api_vip.address"):
        write_lab_inventory(tmp_path / "run" / "inventory.yaml", **values)
    values = plan(tmp_path, "192.168.10", "10.244.0", "172.16.1", "172.16.2", "10.96.0.0/23")
    del values["networks"]["egress_ip"]
    with pytest.raises(ValueError, match="networks lacks egress_ip"):
        write_lab_inventory(tmp_path / "run2" / "inventory.yaml", **values)


def test_vcenter_is_optional(tmp_path: Path) -> None:
    values = plan(tmp_path, "192.168.10", "10.244.0", "172.16.1", "172.16.2", "10.96.0.0/23")
    values["vcenter"] = None
    inv = load_inventory(write_lab_inventory(tmp_path / "run" / "inventory.yaml", **values))
    assert inv.vcenter is None
    assert not (tmp_path / "run" / "vc-password").exists()
