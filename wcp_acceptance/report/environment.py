"""The report's environment table: what was checked, never credentials."""

from __future__ import annotations

from wcp_acceptance import __version__, catalogue
from wcp_acceptance.inventory import Inventory


def inline_secret_fields(inv: Inventory) -> list[str]:
    """Field paths whose secret is written in the inventory itself (allowed, but flagged)."""
    fields = [f"supervisor.control_plane[{i}].ssh.password"
              for i, vm in enumerate(inv.supervisor.control_plane) if vm.ssh.password and vm.ssh.password.inline]
    for label, secret in (("nsx.password", inv.nsx.password),
                          ("vcenter.password", inv.vcenter.password if inv.vcenter else None),
                          ("kubernetes.token", inv.kubernetes.token)):
        if secret is not None and secret.inline:
            fields.append(label)
    return fields


def environment_rows(inv: Inventory) -> dict[str, str]:
    insecure = [vm.name for vm in inv.supervisor.control_plane if vm.ssh.insecure_skip_host_key_check]
    return {
        "Site (inventory)": inv.name,
        "Supervisor": inv.supervisor.name,
        "Control-plane VMs": ", ".join(vm.name for vm in inv.supervisor.control_plane),
        "API VIP": f"{inv.api_vip.address} ports {', '.join(map(str, inv.api_vip.ports))}",
        "NSX managers": ", ".join(inv.nsx.managers),
        "vCenter": inv.vcenter.url if inv.vcenter else "not in the inventory",
        "Read-only": "yes (GET and session login only; allow-listed VM commands)",
        "Host-key checking": "off for " + ", ".join(insecure) if insecure else "on (known_hosts)",
        "Inline secrets": ", ".join(inline_secret_fields(inv)) or "none",
        "Suite version": __version__,
        "Check catalogue": f"{catalogue.catalogue_version()} ({len(catalogue.CHECKS)} checks)",
    }
