"""``wcp-acceptance discover`` from the lab's jumpbox: the inventory it writes validates and the healthy suite passes.

The lab is started with ``wcp-lab up`` and discover runs through ``wcp-lab exec`` as an operator runs
it, with the passwords in environment variables. What no API of the site says (SSH key and
known_hosts, the management network and gateways, the observer, the names to resolve) is given on
the command line from what the operator knows: here, the lab's own inventory.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from wcp_acceptance.inventory.load import load_inventory

ROOT = Path(__file__).resolve().parents[2]


def wcp_lab(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "lab", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, check=False)


@pytest.fixture(scope="module")
def lab() -> Iterator[str]:
    prefix = f"d{secrets.token_hex(2)}"
    try:
        up = wcp_lab("up", "--prefix", prefix, timeout=300)
        assert up.returncode == 0, up.stdout + up.stderr
        yield prefix
    finally:
        wcp_lab("down", "--prefix", prefix)


def _in_jumpbox(prefix: str, argv: list[str], env: dict[str, str], timeout: float = 300) -> \
        subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("WCP_")}
    return subprocess.run([sys.executable, "-m", "lab", "exec", "--prefix", prefix, "--", *argv], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout, check=False, env={**clean, **env})


def test_discover_from_the_jumpbox_validates_and_the_healthy_suite_passes(lab: str, tmp_path: Path) -> None:
    path = Path(wcp_lab("inventory", "--prefix", lab).stdout.strip())
    known: dict[str, Any] = yaml.safe_load(path.read_text())  # what the operator knows (not what discover finds)
    vc_password = (path.parent / "vc-password").read_text().strip()
    nsx_password = (path.parent / "nsx-password").read_text().strip()
    cp1 = known["supervisor"]["control_plane"][0]
    eth0, eth1 = cp1["interfaces"]["eth0"], cp1["interfaces"]["eth1"]
    out = tmp_path / "discovered.yaml"
    argv = [str(ROOT / ".venv" / "bin" / "python") if (ROOT / ".venv").exists() else sys.executable,
            "-m", "wcp_acceptance", "discover", "-o", str(out),
            "--vcenter", known["vcenter"]["url"], "--vcenter-user", known["vcenter"]["username"],
            "--vcenter-password-env", "DISCOVER_VC_PASSWORD", "--vcenter-ca", known["vcenter"]["ca_file"],
            "--kubeconfig", str(path.parent / known["kubernetes"]["kubeconfig"]),
            "--context", known["kubernetes"]["context"], "--api-ca", known["api_vip"]["ca_file"],
            "--nsx-user", known["nsx"]["username"], "--nsx-password-env", "DISCOVER_NSX_PASSWORD",
            "--nsx-ca", known["nsx"]["ca_file"],
            "--ssh-key-file", cp1["ssh"]["key_file"], "--known-hosts", cp1["ssh"]["known_hosts"],
            "--observer", known["observer"]["address"], "--management-network", known["networks"]["management"],
            "--management-gateway", eth0["gateway"], "--workload-prefix", eth1["address"].split("/")[1],
            "--workload-gateway", eth1["gateway"], "--name", "lab-discovered",
            *[f"--dns-name={n['name']}={n['address']}" for n in known["dns"]["management"]["names"]]]
    env = {"DISCOVER_VC_PASSWORD": vc_password, "DISCOVER_NSX_PASSWORD": nsx_password}
    done = _in_jumpbox(lab, argv, env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "fill before use" not in done.stdout, done.stdout
    text = out.read_text()
    for secret in (vc_password, nsx_password):  # the passwords are references, never values
        assert secret not in text
        assert secret not in done.stdout + done.stderr
    data = yaml.safe_load(text)
    assert data["vcenter"]["password"] == {"env": "DISCOVER_VC_PASSWORD"}
    # what the site said matches what the lab built it with
    for key in ("namespace", "service", "ingress", "egress", "egress_ip"):
        assert data["networks"][key] == known["networks"][key], key
    assert data["api_vip"]["address"] == known["api_vip"]["address"]
    assert [vm["interfaces"]["eth1"]["address"] for vm in data["supervisor"]["control_plane"]] == \
        [vm["interfaces"]["eth1"]["address"] for vm in known["supervisor"]["control_plane"]]
    os.environ.update(env)
    try:
        assert load_inventory(out).name == "lab-discovered"
    finally:
        for name in env:
            os.environ.pop(name, None)

    reports = tmp_path / "reports"
    run = _in_jumpbox(lab, [argv[0], "-m", "wcp_acceptance", "run", "--inventory", str(out), "--report-dir",
                            str(reports), "-q"], env)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    summary = json.loads((sorted(reports.glob("*/latest"))[0] / "summary.json").read_text())
    totals = summary["totals"]
    # the login is the operator's opt-in (an SSO user and its password no API gives): its one target says why
    skipped = [t for t in summary["tests"] if t["outcome"] == "skipped"]
    assert [(t["check_id"], t["skip_reason"][:12]) for t in skipped] == [("WCP-LOGIN-001", "needs login:")]
    assert totals["passed"] == totals["total"] - 1 > 40
    for secret in (vc_password, nsx_password):
        assert secret not in run.stdout + run.stderr
