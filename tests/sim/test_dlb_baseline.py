"""The admin's DLB script (``bench/dlb_baseline.py``) and the suite's DLB checks agree on the same data,
and the NSX search terms the script relies on (``ip_address:``, ``ports:``) behave as the real search.

The suite runs as a user runs it (``python -m wcp_acceptance run --check WCP-DLB-001 --check
WCP-DLB-002``) and the script as an admin runs it (real kubectl, one search per Service port),
both against one :class:`~lab.sim.stack.SimStack` on loopback.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from lab.model import SupervisorModel
from lab.sim.stack import NSX_USER, SimStack
from tests.sim.conftest import RunningNsx
from tests.support.dnsmasq import free_port

ROOT = Path(__file__).resolve().parents[2]
BASELINE = ROOT / "bench" / "dlb_baseline.py"
KUBECTL = Path("/usr/bin/kubectl")
SEARCH = "/policy/api/v1/search/query"


def search(nsx: RunningNsx, query: str) -> dict[str, Any]:
    session = requests.Session()
    session.trust_env = False
    response = session.get(nsx.url + SEARCH, params={"query": query}, auth=(nsx.username, nsx.password_text),
                           verify=str(nsx.ca_file), timeout=10)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


# ---- the search terms ----------------------------------------------------------------------------------
def test_search_by_address_and_port_finds_exactly_that_virtual_server(nsx_sim: RunningNsx) -> None:
    model = nsx_sim.app.model
    dns_tcp = model.find_virtual_server("kube-system", "kube-dns", 53, "TCP")
    body = search(nsx_sim, f"resource_type:LBVirtualServer AND ip_address:{dns_tcp.ip_address} AND ports:53")
    got = sorted((r["ip_address"], r["ports"], r["application_profile_path"]) for r in body["results"])
    # kube-dns has two: TCP and UDP on the same address and port; its pool has no ip_address and is not a hit
    assert [g[:2] for g in got] == [(dns_tcp.ip_address, ["53"])] * 2
    assert {g[2].rsplit("/", 1)[-1] for g in got} == {"default-tcp-lb-app-profile", "default-udp-lb-app-profile"}
    assert body["result_count"] == 2
    assert search(nsx_sim, f'ip_address:"{dns_tcp.ip_address}" AND ports:53')["result_count"] == 2  # quoted
    assert search(nsx_sim, f"resource_type:LBVirtualServer AND ip_address:{dns_tcp.ip_address} "
                           "AND ports:54")["result_count"] == 0
    assert search(nsx_sim, "resource_type:LBVirtualServer AND ip_address:10.255.255.254")["result_count"] == 0
    every_vs = search(nsx_sim, "resource_type:LBVirtualServer AND enabled:true")["result_count"]
    assert every_vs == len(model.virtual_servers)


def test_search_by_address_follows_a_refreshed_model(nsx_sim: RunningNsx) -> None:
    dns = nsx_sim.app.model.find_virtual_server("kube-system", "kube-dns", 53, "UDP")
    query = f"resource_type:LBVirtualServer AND ip_address:{dns.ip_address} AND ports:53"
    assert search(nsx_sim, query)["result_count"] == 2  # builds the served objects and the address index
    nsx_sim.app.model.drop_dlb_virtual_server("kube-system", "kube-dns", 53, "UDP")
    assert search(nsx_sim, query)["result_count"] == 2  # served objects are precomputed until refresh()
    nsx_sim.app.refresh()
    assert search(nsx_sim, query)["result_count"] == 1


def test_search_refuses_a_term_it_does_not_know(nsx_sim: RunningNsx) -> None:
    response = requests.get(nsx_sim.url + SEARCH, params={"query": "resource_type:LBVirtualServer AND pool.x:1"},
                            auth=(nsx_sim.username, nsx_sim.password_text), verify=str(nsx_sim.ca_file), timeout=10)
    assert response.status_code == 400
    assert "pool.x:1" in response.json()["error_message"]


# ---- the script and the suite on one data set -------------------------------------------------------------
@pytest.fixture
def stack(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[SimStack]:
    model = SupervisorModel.scaled(6, 2)
    if request.param == "one missing":
        model.drop_dlb_virtual_server("scale-000", "svc-00003", 8001, "TCP")
    sims = SimStack(model, tmp_path / "stack").start()
    try:
        yield sims
    finally:
        sims.stop()


def run_both(stack: SimStack, tmp_path: Path) -> tuple[int, dict[str, str], int, list[str]]:
    data = stack.inventory_data()
    data["observer"]["port"] = free_port("127.0.0.1")
    inventory = stack.write_inventory(data)
    suite = subprocess.run(
        [sys.executable, "-m", "wcp_acceptance", "run", "--inventory", str(inventory), "--report-dir",
         str(tmp_path / "reports"), "--check", "WCP-DLB-001", "--check", "WCP-DLB-002", "-q"],
        capture_output=True, text=True, timeout=120, check=False, cwd=ROOT)
    summaries = sorted((tmp_path / "reports").rglob("summary.json"))
    assert summaries, suite.stdout + suite.stderr
    tests = json.loads(summaries[-1].read_text())["tests"]
    outcomes = {t["check_id"]: t["outcome"] for t in tests}
    baseline = subprocess.run(
        [sys.executable, str(BASELINE), "--kubeconfig", str(stack.kubeconfig), "--context", "lab",
         "--nsx", stack.nsx_server.url, "--nsx-user", NSX_USER, "--nsx-password-file",
         str(stack.workdir / "nsx-password"), "--ca-file", str(stack.ca_file), "--json"],
        capture_output=True, text=True, timeout=120, check=False)
    assert baseline.returncode in (0, 1), baseline.stderr
    result = json.loads(baseline.stdout.strip().splitlines()[-1])
    assert result["service_ports"] == sum(len(s.ports) for s in stack.model.services if s.has_cluster_ip)
    return suite.returncode, outcomes, baseline.returncode, result["missing"]


@pytest.mark.skipif(not KUBECTL.exists(), reason="needs the real kubectl")
@pytest.mark.parametrize("stack", ["healthy"], indirect=True)
def test_both_pass_a_healthy_site(stack: SimStack, tmp_path: Path) -> None:
    suite_code, outcomes, baseline_code, missing = run_both(stack, tmp_path)
    assert outcomes == {"WCP-DLB-001": "passed", "WCP-DLB-002": "passed"}
    assert suite_code == 0
    assert (baseline_code, missing) == (0, [])


@pytest.mark.skipif(not KUBECTL.exists(), reason="needs the real kubectl")
@pytest.mark.parametrize("stack", ["one missing"], indirect=True)
def test_both_find_the_one_missing_virtual_server(stack: SimStack, tmp_path: Path) -> None:
    suite_code, outcomes, baseline_code, missing = run_both(stack, tmp_path)
    assert outcomes == {"WCP-DLB-001": "failed", "WCP-DLB-002": "passed"}
    assert suite_code != 0
    assert baseline_code == 1
    assert len(missing) == 1
    assert missing[0].startswith("scale-000/svc-00003 ")
    assert missing[0].endswith(":8001/TCP")
