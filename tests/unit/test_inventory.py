"""Inventory validation: every bad input gives one line with file, field path and reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.inventories import EXAMPLE, EXAMPLE_ENV, example_data, write
from wcp_acceptance.inventory import InventoryError, load_inventory


@pytest.fixture(autouse=True)
def _example_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in EXAMPLE_ENV.items():
        monkeypatch.setenv(key, value)


def iface(data: dict, vm: int, name: str) -> dict:
    return data["supervisor"]["control_plane"][vm]["interfaces"][name]


def problems(path: Path) -> list[str]:
    with pytest.raises(InventoryError) as caught:
        load_inventory(path)
    return caught.value.problems


def test_the_example_inventory_validates() -> None:
    inv = load_inventory(EXAMPLE)
    assert inv.name == "site-a"
    assert [vm.name for vm in inv.supervisor.control_plane] == ["cp-1", "cp-2", "cp-3"]
    assert str(inv.networks.egress_ip) == "172.16.2.1"
    assert inv.nsx.password.reveal() == "nsx-secret"
    assert "nsx-secret" not in repr(inv)
    assert inv.supervisor.namespaces == ("team-a",)
    assert (inv.nsx.site, inv.nsx.enforcement_point) == ("default", "default")


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        pytest.param(lambda d: iface(d, 1, "eth1").update(address="10.244.0.300/28"),
                     "supervisor.control_plane[1].interfaces.eth1.address: '10.244.0.300/28' is not an IPv4 address "
                     "with a prefix", id="bad IP"),
        pytest.param(lambda d: iface(d, 0, "eth1").update(gateway="10.244.1.1"),
                     "supervisor.control_plane[0].interfaces.eth1.gateway: 10.244.1.1 is outside 10.244.0.2/28",
                     id="gateway outside its prefix"),
        pytest.param(lambda d: iface(d, 0, "eth1").update(address="10.245.0.2/28", gateway="10.245.0.1"),
                     "supervisor.control_plane[0].interfaces.eth1.address: 10.245.0.2/28 is outside the workload "
                     "network 10.244.0.0/20", id="interface outside its network"),
        pytest.param(lambda d: d["supervisor"]["control_plane"][2]["interfaces"].pop("eth1"),
                     "supervisor.control_plane[2].interfaces: no workload interface", id="CP VM with no eth1"),
        pytest.param(lambda d: d["nsx"].update(pasword="x"), "nsx.pasword: unknown key", id="unknown key"),
        pytest.param(lambda d: d["supervisor"]["control_plane"][1].update(name="cp-1"),
                     "supervisor.control_plane[1].name: duplicate VM name 'cp-1'", id="duplicate VM name"),
        pytest.param(lambda d: d["nsx"].update(password={"env": "WCP_TEST_UNSET_VARIABLE"}),
                     "nsx.password: environment variable WCP_TEST_UNSET_VARIABLE is not set", id="missing secret env"),
        pytest.param(lambda d: d["api_vip"].update(ca_file="/nonexistent/ca.pem"),
                     "api_vip.ca_file: file /nonexistent/ca.pem does not exist", id="unreadable file"),
        pytest.param(lambda d: d["networks"].update(egress_ip="172.16.3.1"),
                     "networks.egress_ip: 172.16.3.1 is outside the egress network 172.16.2.0/24",
                     id="egress IP outside egress range"),
        pytest.param(lambda d: d["api_vip"].update(address="172.16.9.2"),
                     "api_vip.address: 172.16.9.2 is outside the ingress network 172.16.1.0/24",
                     id="VIP outside ingress"),
        pytest.param(lambda d: d.pop("nsx"), "nsx: required field is missing", id="missing section"),
        pytest.param(lambda d: d["timeouts"].update(dns="soon"), "timeouts.dns: 'soon' is not a number",
                     id="bad number"),
        pytest.param(lambda d: d["nsx"].update(managers=["http://192.168.10.28"]),
                     "nsx.managers[0]: 'http://192.168.10.28' is not an https:// URL", id="not https"),
        pytest.param(lambda d: d["exclusions"].append({"check": "DLB-1", "reason": "x"}),
                     "exclusions[0].check: 'DLB-1' is not a check id like WCP-DNS-001", id="bad exclusion"),
        pytest.param(lambda d: d["supervisor"]["control_plane"][0]["ssh"].pop("known_hosts"),
                     "supervisor.control_plane[0].ssh.known_hosts: required to check host keys",
                     id="no known_hosts"),
        pytest.param(lambda d: d["supervisor"].update(namespaces=["Team_A"]),
                     "supervisor.namespaces[0]: 'Team_A' is not a Namespace name", id="bad Namespace name"),
        pytest.param(lambda d: d["supervisor"].update(namespaces=["team-a", "team-a"]),
                     "supervisor.namespaces: a Namespace is named twice", id="Namespace named twice"),
    ],
)
def test_a_bad_field_is_named_with_its_path_and_reason(tmp_path: Path, mutate, expected: str) -> None:
    data = example_data()
    mutate(data)
    path = write(tmp_path, data)
    lines = problems(path)
    assert any(line.startswith(f"{path}: {expected}") for line in lines), lines


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    data = example_data()
    data["nsx"]["pasword"] = "x"
    data["supervisor"]["control_plane"][0]["interfaces"]["eth0"]["address"] = "192.168.10.999/24"
    data["networks"]["egress_ip"] = "not-an-ip"
    data["observer"]["port"] = 70000
    lines = problems(write(tmp_path, data))
    assert len(lines) == 4, lines
    assert all(line.startswith(str(tmp_path / "site.yaml") + ": ") for line in lines)


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    text = EXAMPLE.read_text().replace("  name: supervisor-1", "  name: [supervisor-1", 1)
    line_no = next(i for i, line in enumerate(text.splitlines(), 1) if "[supervisor-1" in line)
    (lines,) = [problems(write(tmp_path, text))]
    assert len(lines) == 1
    assert "YAML syntax error" in lines[0]
    assert f"line {line_no}" in lines[0] or f"line {line_no + 1}" in lines[0]


def test_a_key_given_twice_is_refused(tmp_path: Path) -> None:
    text = EXAMPLE.read_text().replace("name: site-a", "name: site-a\nname: site-b", 1)
    (line,) = problems(write(tmp_path, text))
    assert "duplicate key 'name'" in line
    assert "line 9" in line


def test_an_unreadable_inventory_is_one_line(tmp_path: Path) -> None:
    (line,) = problems(tmp_path / "missing.yaml")
    assert line.startswith(f"{tmp_path / 'missing.yaml'}: cannot read inventory")


def test_a_secret_from_a_file_is_read_and_masked(tmp_path: Path) -> None:
    secret_file = tmp_path / "nsx.pw"
    secret_file.write_text("from-a-file\n")
    data = example_data()
    data["nsx"]["password"] = {"file": str(secret_file)}
    inv = load_inventory(write(tmp_path, data))
    assert inv.nsx.password.reveal() == "from-a-file"
    assert inv.nsx.password.source == f"file:{secret_file}"
    assert "from-a-file" not in f"{inv.nsx!r} {inv.nsx.password} {inv.nsx.password:>20}"


def test_relative_paths_are_relative_to_the_inventory(tmp_path: Path) -> None:
    (tmp_path / "ca.pem").write_text((EXAMPLE.parent / "examples" / "nsx-ca.pem").read_text())
    data = example_data()
    data["nsx"]["ca_file"] = "ca.pem"
    inv = load_inventory(write(tmp_path, data))
    assert inv.nsx.ca_file == tmp_path / "ca.pem"


def test_a_key_file_that_is_not_a_private_key_is_refused(tmp_path: Path) -> None:
    not_a_key = tmp_path / "id_rsa.pub"
    not_a_key.write_text("ssh-ed25519 AAAAC3Nza... user@host\n")
    data = example_data()
    data["supervisor"]["control_plane"][0]["ssh"] = {"key_file": str(not_a_key), "insecure_skip_host_key_check": True}
    (line,) = problems(write(tmp_path, data))
    assert line.endswith(f"supervisor.control_plane[0].ssh.key_file: {not_a_key} is not a PEM or OpenSSH private key")


def test_vcenter_is_optional(tmp_path: Path) -> None:
    data = example_data()
    del data["vcenter"]
    inv = load_inventory(write(tmp_path, data))
    assert inv.vcenter is None


@pytest.mark.parametrize(("mutate", "expected"), [
    pytest.param(lambda d: d["vcenter"].pop("password"), "vcenter.password: required field is missing",
                 id="vcenter named without its password"),
    pytest.param(lambda d: d["vcenter"].pop("username"), "vcenter.username: required field is missing",
                 id="vcenter named without its user"),
    pytest.param(lambda d: d["vcenter"].update(cluster="cluster-8"),
                 "vcenter.cluster: 'cluster-8' is not a cluster MoID like domain-c8", id="bad cluster MoID"),
    pytest.param(lambda d: d["nsx"].update(edge_cluster=""), "nsx.edge_cluster: ", id="empty edge cluster"),
])
def test_a_named_vcenter_keeps_its_credentials_required(tmp_path: Path, mutate, expected: str) -> None:
    data = example_data()
    mutate(data)
    path = write(tmp_path, data)
    lines = problems(path)
    assert any(line.startswith(f"{path}: {expected}") for line in lines), lines
