"""``wcp-acceptance discover`` against the simulators: what the site says becomes an inventory, secrets stay refs.

The command runs in-process against one simulator stack (vCenter, Kubernetes, NSX on 127.0.0.1);
the lab test (tests/lab/test_lab_discover.py) runs it from the jumpbox and runs the suite with it.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from lab.model import SupervisorModel
from lab.sim.stack import NSX_USER, VC_USER, SimStack
from wcp_acceptance.cli import main
from wcp_acceptance.inventory.load import load_inventory


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimStack]:
    with SimStack(SupervisorModel.seed(), tmp_path_factory.mktemp("discover-stack")) as running:
        yield running


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, stack: SimStack) -> SimStack:
    monkeypatch.setenv("DISCOVER_VC_PW", stack.vc_password)
    monkeypatch.setenv("DISCOVER_NSX_PW", stack.nsx_password)
    return stack


def _args(stack: SimStack, out: Path, *extra: str) -> list[str]:
    return ["discover", "-o", str(out), "--vcenter", stack.vc_server.url, "--vcenter-user", VC_USER,
            "--vcenter-password-env", "DISCOVER_VC_PW", "--vcenter-ca", str(stack.ca_file), *extra]


def _full(stack: SimStack, out: Path, tmp_path: Path, *extra: str) -> list[str]:
    key, known = tmp_path / "id_ed25519", tmp_path / "known_hosts"
    key.write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nnot-a-real-key\n-----END OPENSSH PRIVATE KEY-----\n")
    key.chmod(0o600)
    known.write_text("127.0.10.45 ssh-ed25519 AAAA\n")
    return _args(stack, out, "--kubeconfig", str(stack.kubeconfig), "--context", "lab", "--api-ca",
                 str(stack.ca_file), "--nsx-user", NSX_USER, "--nsx-password-env", "DISCOVER_NSX_PW",
                 "--nsx-ca", str(stack.ca_file), "--nsx", stack.nsx_server.url, "--ssh-key-file", str(key),
                 "--known-hosts", str(known), "--observer", "127.0.10.5", "--management-network",
                 "127.0.10.0/24", "--workload-prefix", "20", "--dns-name", "vcenter.corp.local=127.0.10.20", *extra)


def test_discover_writes_what_the_site_says_and_validates(env: SimStack, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "site.yaml"
    assert main(_full(env, out, tmp_path)) == 0
    printed = capsys.readouterr()
    text = out.read_text()
    assert "<FILL:" not in text
    data: dict[str, Any] = yaml.safe_load(text)
    model = env.model
    assert data["api_vip"]["address"] == model.api_vip
    assert [vm["management_address"] for vm in data["supervisor"]["control_plane"]] == \
        model.api_servers_management_ips
    assert data["dns"]["management"]["servers"] == model.master_dns
    assert data["dns"]["workload"]["servers"] == model.worker_dns
    assert data["networks"]["egress_ip"] == model.egress_ip  # from NSX's SNAT rule
    assert data["networks"]["service"] == model.service_cidr
    assert data["nsx"]["cluster"] == model.ncp_cluster  # from ncp.ini
    assert data["nsx"]["tier0_gateway"] == model.tier0_gateway
    assert data["vcenter"]["cluster"] == model.cluster_moid
    eth1 = [vm["interfaces"]["eth1"]["address"] for vm in data["supervisor"]["control_plane"]]
    assert [a.split("/")[0] for a in eth1] == sorted(model.workload_ips)  # the API VIP's pool members
    assert data["vcenter"]["password"] == {"env": "DISCOVER_VC_PW"}
    assert data["nsx"]["password"] == {"env": "DISCOVER_NSX_PW"}
    assert load_inventory(out).name == data["name"]
    assert "fill before use" not in printed.out


def test_no_password_reaches_the_file_or_the_output(env: SimStack, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "site.yaml"
    assert main(_full(env, out, tmp_path)) == 0
    printed = capsys.readouterr()
    for secret in (env.vc_password, env.nsx_password, env.kube_token):
        assert secret not in out.read_text()
        assert secret not in printed.out + printed.err


def test_what_no_api_says_is_a_marked_placeholder_and_listed(env: SimStack, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "site.yaml"
    assert main(_args(env, out)) == 0
    printed = capsys.readouterr().out
    text = out.read_text()
    for field in ("supervisor.control_plane[0].ssh.known_hosts", "networks.management", "observer.address",
                  "networks.egress_ip", "kubernetes.kubeconfig", "nsx.ca_file"):
        assert field in printed
        assert f"#   {field}:" in text
    assert "<FILL: " in text
    assert yaml.safe_load(text)["supervisor"]["control_plane"][0]["ssh"]["password"] == {"env": "WCP_CP_PASSWORD"}
    assert "NSX not read" in printed


@pytest.mark.parametrize(("change", "code", "message"), [
    ("bad-password", 4, "refused the credentials (HTTP 401)"),
    ("unreachable", 3, "127.0.0.1:9"),
    ("no-cluster", 3, "no cluster has Workload Management"),
    ("two-clusters", 4, "several Supervisors (domain-c8 (supervisor-1), domain-c9 (supervisor-2)); choose one with "
                        "--cluster"),
    ("unknown-cluster", 4, "cluster domain-c77 has no Workload Management"),
    ("unset-env", 4, "environment variable DISCOVER_VC_PW is not set"),
])
def test_errors_exit_3_or_4_with_one_clear_line(env: SimStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str], change: str, code: int,
                                                message: str) -> None:
    args = _args(env, tmp_path / "site.yaml")
    route = env.vcenter._route
    if change == "bad-password":
        monkeypatch.setenv("DISCOVER_VC_PW", "wrong-" + env.vc_password)
    elif change == "unreachable":
        args[args.index("--vcenter") + 1] = "https://127.0.0.1:9"
    elif change == "unset-env":
        monkeypatch.delenv("DISCOVER_VC_PW")
    elif change == "unknown-cluster":
        args += ["--cluster", "domain-c77"]
    else:
        def listing(method: str, path: str, *rest: Any) -> Any:
            status, headers, body = route(method, path, *rest)
            if path.rstrip("/").endswith("/namespace-management/clusters") and status == 200:
                listed = json.loads(body)
                if change == "two-clusters":
                    listed.append({**listed[0], "cluster": "domain-c9", "cluster_name": "supervisor-2"})
                body = json.dumps([] if change == "no-cluster" else listed).encode()
            return status, headers, body
        monkeypatch.setattr(env.vcenter, "_route", listing)
    assert main(args) == code
    printed = capsys.readouterr()
    assert message in printed.err
    assert "Traceback" not in printed.err
    assert len(printed.err.strip().splitlines()) == 1
    assert not (tmp_path / "site.yaml").exists()
    assert "wrong-" not in printed.err


def test_an_existing_file_is_kept_without_force(env: SimStack, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "site.yaml"
    out.write_text("keep me\n")
    assert main(_args(env, out)) == 4
    assert out.read_text() == "keep me\n"
    assert "exists (pass --force" in capsys.readouterr().err


def test_the_api_vips_ca_is_the_one_the_kubeconfig_trusts(env: SimStack, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "site.yaml"
    assert main(_args(env, out, "--kubeconfig", str(env.kubeconfig), "--context", "lab")) == 0
    assert yaml.safe_load(out.read_text())["api_vip"]["ca_file"] == str(env.ca_file.resolve())
    assert "api_vip.ca_file:" not in capsys.readouterr().out.split("note:")[0]


def test_an_inline_kubeconfig_ca_is_written_beside_the_inventory(tmp_path: Path) -> None:
    from wcp_acceptance.cli.discover import _kubeconfig_ca

    pem = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump({
        "clusters": [{"name": "vip", "cluster": {"server": "https://172.16.1.2:6443",
                                                 "certificate-authority-data": base64.b64encode(pem).decode()}}],
        "contexts": [{"name": "172.16.1.2", "context": {"cluster": "vip", "user": "u"}}],
        "current-context": "172.16.1.2"}))
    found = _kubeconfig_ca(str(kubeconfig), None, tmp_path / "out" / "site.yaml")
    assert found == str((tmp_path / "out" / "site-supervisor-ca.pem").resolve())
    assert Path(found).read_bytes() == pem
    assert _kubeconfig_ca(str(kubeconfig), "no-such-context", tmp_path / "x.yaml") is None
