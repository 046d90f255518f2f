"""The vCenter checks' messages: status, messages and conditions shown; drift named field by field."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from lab.model import SupervisorModel
from lab.sim.vcenter import cluster_info, cluster_summary, vapi_message
from tests.support.inventories import EXAMPLE, EXAMPLE_ENV, example_data, write
from wcp_acceptance.checks.vcenter import (
    check_config_status,
    check_drift,
    check_kubernetes_status,
    choose_cluster,
    stated_settings,
    wanted_moid,
)
from wcp_acceptance.finding import ObservationError
from wcp_acceptance.inventory import Inventory, load_inventory
from wcp_acceptance.observations import VcenterCluster

TARGET = "supervisor-1"
KB = "https://kb.example.invalid/123"


@pytest.fixture(autouse=True)
def _example_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in EXAMPLE_ENV.items():
        monkeypatch.setenv(key, value)


@pytest.fixture
def inventory() -> Inventory:
    return load_inventory(EXAMPLE)


def seed_info(**changes: Any) -> dict[str, Any]:
    """The simulator's Info of the seed Supervisor (the example inventory's site), with changes."""
    info = copy.deepcopy(cluster_info(SupervisorModel.seed()))
    info.update(changes)
    return info


def cluster(info: dict[str, Any]) -> VcenterCluster:
    return VcenterCluster("domain-c8", "supervisor-1", info, "the only cluster with Workload Management",
                          "https://vcenter.corp.local")


# ---- WCP-VC-001 ----------------------------------------------------------------------------------------------

def test_running_passes() -> None:
    finding = check_config_status(cluster(seed_info()), TARGET)
    assert finding.ok
    assert finding.observed == "config_status RUNNING"


def test_error_fails_with_every_message() -> None:
    info = seed_info(config_status="ERROR", messages=[
        vapi_message("ERROR", "vcenter.wcp.a", "Edge cluster has no capacity."),
        vapi_message("WARNING", "vcenter.wcp.b", "Retrying in 5 minutes."),
    ])
    finding = check_config_status(cluster(info), TARGET)
    assert not finding.ok
    assert finding.message() == (
        "supervisor-1: expected config_status RUNNING; observed config_status ERROR with 2 message(s): "
        "ERROR: Edge cluster has no capacity. [vcenter.wcp.a]; WARNING: Retrying in 5 minutes. [vcenter.wcp.b].\n"
        "Likely cause: enabling or reconfiguring Workload Management failed; vCenter's messages say why "
        "(Workload Management > Supervisors > Configuration in the vSphere Client, /var/log/vmware/wcp/wcpsvc.log).\n"
        "Evidence:\n"
        "  vCenter https://vcenter.corp.local cluster domain-c8 (supervisor-1), the only cluster with Workload "
        "Management\n"
        "  messages: ERROR: Edge cluster has no capacity. [vcenter.wcp.a]\n"
        "  messages: WARNING: Retrying in 5 minutes. [vcenter.wcp.b]")


@pytest.mark.parametrize(("status", "phrase"), [
    ("CONFIGURING", "still being enabled"), ("REMOVING", "being disabled"), ("BROKEN", "not one of RUNNING")])
def test_other_states_fail_with_their_cause(status: str, phrase: str) -> None:
    finding = check_config_status(cluster(seed_info(config_status=status, messages=[])), TARGET)
    assert not finding.ok
    assert finding.observed == f"config_status {status}"
    assert phrase in finding.cause


def test_absent_config_status_is_not_a_pass() -> None:
    info = seed_info()
    del info["config_status"]
    finding = check_config_status(cluster(info), TARGET)
    assert not finding.ok
    assert finding.observed == "config_status (absent)"


# ---- WCP-VC-002 ----------------------------------------------------------------------------------------------

def warning_info() -> dict[str, Any]:
    return seed_info(kubernetes_status="WARNING", kubernetes_status_messages=[
        vapi_message("WARNING", "vcenter.wcp.k8s", "Control plane VM upgrade is waiting.")], conditions=[
        {"type": "InfrastructureInitialized", "status": "TRUE", "reason": "", "severity": "INFO", "messages": []},
        {"type": "ControlPlaneVMsConfigured", "status": "FALSE", "reason": "WaitForNodeUpgrade",
         "severity": "WARNING", "messages": [{**vapi_message("WARNING", "x", "A VM waits for its upgrade."),
                                              "kb_article_link": KB}]}])


def test_ready_passes_and_shows_healthy_conditions_nowhere() -> None:
    finding = check_kubernetes_status(cluster(seed_info()), TARGET)
    assert finding.ok
    assert finding.observed == "kubernetes_status READY"


def test_warning_is_a_major_failure_with_messages_conditions_and_kb_links() -> None:
    finding = check_kubernetes_status(cluster(warning_info()), TARGET)
    assert not finding.ok
    assert finding.severity == "major"
    assert finding.observed == (
        "kubernetes_status WARNING with 1 message(s): WARNING: Control plane VM upgrade is waiting. "
        "[vcenter.wcp.k8s]; condition ControlPlaneVMsConfigured: status FALSE, reason WaitForNodeUpgrade, "
        "severity WARNING")
    assert "(a warning, severity major)" in finding.cause
    assert finding.evidence[1:] == (
        "kubernetes_status_messages: WARNING: Control plane VM upgrade is waiting. [vcenter.wcp.k8s]",
        "condition InfrastructureInitialized: status TRUE, reason -, severity INFO",
        "condition ControlPlaneVMsConfigured: status FALSE, reason WaitForNodeUpgrade, severity WARNING",
        f"  message: WARNING: A VM waits for its upgrade. (KB: {KB})",
    )
    assert "Severity: major." in finding.message()


def test_error_is_critical() -> None:
    model = SupervisorModel.seed()
    model.kubernetes_status = "ERROR"
    finding = check_kubernetes_status(cluster(cluster_info(model)), TARGET)
    assert not finding.ok
    assert finding.severity == "critical"
    assert "Cluster status is ERROR." in finding.observed  # the simulator's derived message


def test_absent_conditions_are_not_a_failure_and_are_said_to_be_absent() -> None:
    info = seed_info()
    del info["conditions"]
    assert check_kubernetes_status(cluster(info), TARGET).ok
    del info["kubernetes_status"]
    info["kubernetes_status_messages"] = []
    finding = check_kubernetes_status(cluster(info), TARGET)
    assert not finding.ok
    assert "conditions: not reported (vSphere API before 8.0.0.1)" in finding.evidence


# ---- WCP-VC-003 ----------------------------------------------------------------------------------------------

def test_the_seed_agrees_with_the_example_inventory(inventory: Inventory) -> None:
    finding = check_drift(cluster(seed_info()), stated_settings(inventory), TARGET)
    assert finding.ok, finding.message()
    assert finding.observed == "7 settings agree"  # NTP, edge cluster and Tier-0 are not stated


def test_each_difference_is_named_field_by_field(inventory: Inventory) -> None:
    info = seed_info(master_DNS=["192.168.10.11"], api_server_cluster_endpoint="172.16.1.9")
    info["ncp_cluster_network_info"]["egress_cidrs"] = [{"address": "172.16.3.0", "prefix": 24}]
    finding = check_drift(cluster(info), stated_settings(inventory), TARGET)
    assert not finding.ok
    assert finding.observed == (
        "3 of 7 differ: inventory api_vip.address 172.16.1.2, vCenter api_server_cluster_endpoint 172.16.1.9; "
        "inventory dns.management.servers 192.168.10.10, vCenter master_DNS 192.168.10.11; "
        "inventory networks.egress 172.16.2.0/24, vCenter ncp_cluster_network_info.egress_cidrs 172.16.3.0/24")
    assert "inventory is out of date" in finding.cause
    assert "differs: inventory dns.management.servers 192.168.10.10, vCenter master_DNS 192.168.10.11" \
        in finding.evidence


def test_fields_the_inventory_does_not_state_are_not_differences(inventory: Inventory) -> None:
    info = seed_info(master_NTP_servers=["192.168.10.99"])
    info["ncp_cluster_network_info"]["nsx_edge_cluster"] = "edge-cluster-2"
    assert check_drift(cluster(info), stated_settings(inventory), TARGET).ok


def test_optional_fields_are_compared_when_the_inventory_states_them(tmp_path: Path) -> None:
    data = example_data()
    data["ntp_servers"] = ["192.168.10.30"]
    data["nsx"].update(edge_cluster="edge-cluster-1", tier0_gateway="tier0-gw")
    inv = load_inventory(write(tmp_path, data))
    info = seed_info(master_NTP_servers=["192.168.10.31"])
    info["ncp_cluster_network_info"].update(nsx_edge_cluster="edge-cluster-1")
    finding = check_drift(cluster(info), stated_settings(inv), TARGET)
    assert finding.observed == ("1 of 10 differ: inventory ntp_servers 192.168.10.30, vCenter master_NTP_servers "
                                "192.168.10.31")
    assert "agrees: inventory nsx.tier0_gateway tier0-gw, vCenter ncp_cluster_network_info.nsx_tier0_gateway " \
           "tier0-gw" in finding.evidence


def test_unreported_fields_are_not_compared_but_said(inventory: Inventory) -> None:
    info = seed_info()
    del info["worker_DNS"]
    finding = check_drift(cluster(info), stated_settings(inventory), TARGET)
    assert finding.ok
    assert finding.observed == "6 settings agree"


def test_the_floating_management_address_in_api_servers_is_no_difference(inventory: Inventory) -> None:
    info = seed_info(api_servers=["192.168.10.44", "192.168.10.45", "192.168.10.46", "192.168.10.47"],
                     api_server_management_endpoint="192.168.10.44")
    assert check_drift(cluster(info), stated_settings(inventory), TARGET).ok
    info["api_servers"] = ["192.168.10.45", "192.168.10.46"]
    finding = check_drift(cluster(info), stated_settings(inventory), TARGET)
    assert "vCenter api_servers 192.168.10.45, 192.168.10.46" in finding.observed


def test_an_info_with_nothing_to_compare_is_an_observation_error(inventory: Inventory) -> None:
    with pytest.raises(ObservationError, match="reports none of the settings"):
        check_drift(cluster({"config_status": "RUNNING"}), stated_settings(inventory), TARGET)


# ---- which cluster ---------------------------------------------------------------------------------------------

def test_the_cluster_is_chosen_by_moid_by_being_the_only_one_or_by_name() -> None:
    model = SupervisorModel.seed()
    one = [cluster_summary(model)]
    assert choose_cluster(one, "supervisor-1", None, "vc")[0] == "domain-c8"
    other = {**one[0], "cluster": "domain-c9", "cluster_name": "other"}
    assert choose_cluster([other, *one], "Supervisor-1", None, "vc")[2] == \
        "cluster_name supervisor-1 is the inventory's supervisor.name"
    assert choose_cluster([other, *one], "x", "domain-c9", "vc")[:2] == ("domain-c9", "other")
    with pytest.raises(ObservationError, match="set vcenter.cluster"):
        choose_cluster([other, {**other, "cluster": "domain-c10"}], "supervisor-1", None, "vc")
    with pytest.raises(ObservationError, match="domain-c7 .from the inventory. has no Workload Management"):
        choose_cluster(one, "supervisor-1", "domain-c7", "vc")


def test_the_inventory_names_the_cluster_by_vcenter_cluster_or_nsx_cluster(tmp_path: Path) -> None:
    data = example_data()
    assert wanted_moid(load_inventory(write(tmp_path, data))) is None
    data["nsx"]["cluster"] = "domain-c8:0c9a4798-6c2b-4c2e-9b7e-8d3e4f5a6b7c"
    assert wanted_moid(load_inventory(write(tmp_path, data))) == "domain-c8"
    data["vcenter"]["cluster"] = "domain-c12"
    assert wanted_moid(load_inventory(write(tmp_path, data))) == "domain-c12"
