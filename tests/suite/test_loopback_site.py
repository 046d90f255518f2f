"""The whole suite, every fixture on its real path, against a site built on loopback.

Two real sshd play cp-1 and cp-2 (127.0.10.45/46; 127.0.64.x stand for their eth1), a real dnsmasq
on 127.0.10.10 and .11 is the management and workload DNS, the API simulators serve NSX, vCenter,
Kubernetes and the VIP. cp-3 points at a port where nothing listens. There is no NAT and no
policy routing on loopback, so egress must fail as "SNAT missing" and the routing check is
excluded (with its reason) like the VM's own resolver, which would ask this machine's resolver.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from lab.sshd import Sshd
from tests.support.dnsmasq import free_port, run_dnsmasq

RECORDS = {"vcenter.lab.local": "127.0.10.20"}


def test_the_suite_end_to_end_on_a_loopback_site(tmp_path: Path, start_stack, suite) -> None:
    stack = start_stack()
    with contextlib.ExitStack() as stack_of:
        dns = stack_of.enter_context(run_dnsmasq(tmp_path, RECORDS, addresses=("127.0.10.10", "127.0.10.11"),
                                                 local_zones=("lab.local", "10.0.127.in-addr.arpa")))
        vms = [stack_of.enter_context(Sshd(f"127.0.10.{45 + i}")) for i in range(2)]
        data = stack.inventory_data()
        data["dns"]["port"] = dns.port
        # CoreDNS forwards to the workload DNS where dnsmasq listens (its port is not 53 here)
        stack.model.coredns_upstreams = [f"{server}:{dns.port}" for server in data["dns"]["workload"]["servers"]]
        stack.kube.refresh()
        for spec, sshd in zip(data["supervisor"]["control_plane"], vms, strict=False):
            spec["ssh"] = {"user": "root", "port": sshd.port, "key_file": str(sshd.client_key),
                           "known_hosts": str(sshd.known_hosts)}
        data["supervisor"]["control_plane"][2]["ssh"] = {  # a good key, but nothing listens there
            "user": "root", "port": free_port("127.0.10.47"), "key_file": str(vms[0].client_key),
            "known_hosts": str(vms[0].known_hosts)}
        data["observer"]["port"] = free_port("127.0.0.1")
        data["exclusions"] = [
            {"check": "WCP-DNS-003", "reason": "loopback site: the VM resolver is this machine's"},
            {"check": "WCP-RT-001", "reason": "loopback site: no eth0, no policy routing"},
            {"check": "WCP-RT-002", "reason": "loopback site: no eth0/eth1 whose rp_filter could be read"},
        ]
        run = suite(stack.write_inventory(data))

    summary = run.summary
    assert run.result.exit_code == 1
    assert "Traceback" not in run.result.stdout
    by_vm: dict[str, set[str]] = {}
    for entry in summary["tests"]:
        vm = entry["target"].split("/")[0].split(" ")[0]
        by_vm.setdefault(vm, set()).add(f"{entry['check_id']}:{entry['outcome']}")
    # cp-1 and cp-2 resolve from both interfaces, A and PTR, through the SSH path and dnsmasq; their clocks
    # are this machine's, and loopback carries full-size pings
    for vm in ("cp-1", "cp-2"):
        assert {"WCP-DNS-001:passed", "WCP-DNS-002:passed", "WCP-DNS-004:passed", "WCP-EGR-001:failed",
                "WCP-NCP-004:passed", "WCP-TIME-001:passed", "WCP-MTU-001:passed"} == {
            o for o in by_vm[vm] if not o.startswith(("WCP-DNS-003", "WCP-RT-00"))}, by_vm[vm]
    assert "query[A] vcenter.lab.local from 127.0.64.2" in dns.log()  # sent from eth1's own address
    assert "query[PTR] 20.10.0.127.in-addr.arpa from 127.0.10.46" in dns.log()
    # egress without NAT: the observer saw the VM's own workload address
    egress = {e["target"]: e for e in summary["tests"] if e["check_id"] == "WCP-EGR-001"}
    cp1 = next(e for t, e in egress.items() if t.startswith("cp-1/eth1"))
    assert "127.0.64.2" in cp1["observed"]
    assert "SNAT" in cp1["cause"]
    # cp-3 is unreachable: each of its checks errors, naming it, and it cost one connect attempt
    cp3 = [e for e in summary["tests"] if e["target"].startswith("cp-3") and e["outcome"] != "skipped"]
    assert cp3
    assert {e["outcome"] for e in cp3} == {"error"}
    assert all("cp-3" in e["observed"] and "refused" in e["cause"] for e in cp3)
    assert sum(e["duration_s"] for e in cp3) < 5
    # exclusions are skips with the inventory's reason, never silent
    skipped = [e for e in summary["tests"] if e["outcome"] == "skipped" and e["check_id"] != "WCP-LOGIN-001"]
    assert {e["check_id"] for e in skipped} == {"WCP-DNS-003", "WCP-RT-001", "WCP-RT-002"}
    assert all(e["skip_reason"].startswith("excluded by the inventory: loopback site") for e in skipped)
    (login,) = run.outcomes("WCP-LOGIN-001").values()
    assert login == "skipped"  # this site does not opt in to the login
    # the API checks pass beside all this
    for check in ("WCP-DLB-001", "WCP-DLB-002", "WCP-VIP-001", "WCP-VIP-002", "WCP-VIP-003", "WCP-NCP-001",
                  "WCP-NCP-002"):
        assert set(run.outcomes(check).values()) == {"passed"}, check
