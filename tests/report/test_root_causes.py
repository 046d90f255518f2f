"""Root causes: each distinct cause once, with the targets it explains; distinct faults stay apart."""

from __future__ import annotations

from tests.report.summaries import NO_PTR, NO_RETURN, RESOLVER, SHARED, STEERED, entry, seed_failures
from wcp_acceptance.report.causes import group_causes, normalise


def test_the_seed_fault_is_one_root_cause_over_its_27_targets() -> None:
    tests = [entry("WCP-VIP-001", "172.16.1.2:6443"), *seed_failures()]
    (cause,) = group_causes(tests)
    assert len(cause.failures) == 27
    assert cause.by_check == {"WCP-DNS-001": 9, "WCP-DNS-002": 9, "WCP-DNS-003": 6, "WCP-RT-001": 3}
    assert cause.by_outcome == {"failed": 27}
    assert cause.text == SHARED  # the wording most targets support, not a consequence
    assert {v.text for v in cause.others} == {NO_RETURN, RESOLVER.format(name="vcenter.corp.local"), STEERED}
    assert [f.target for f in cause.failures][:3] == ["cp-1/eth0 -> vcenter.corp.local",
                                                      "cp-1/eth0 -> nsx.corp.local", "cp-1/eth1 -> vcenter.corp.local"]


def test_the_same_cause_for_other_addresses_or_names_is_one_cause() -> None:
    tests = [entry("WCP-DNS-002", f"{vm}/eth0 -> vcenter.corp.local", "failed", cause=NO_PTR.format(server=server))
             for vm in ("cp-1", "cp-2") for server in ("192.168.10.10", "192.168.10.11")]
    (cause,) = group_causes(tests)
    assert len(cause.failures) == 4
    assert cause.headline.wordings == 2
    assert normalise(NO_PTR.format(server="192.168.10.10")) == normalise(NO_PTR.format(server="192.168.10.11"))


def test_distinct_faults_stay_distinct_causes_most_targets_first() -> None:
    tests = [
        entry("WCP-DLB-001", "supervisor-1", "failed", cause="NCP has not realised 1 Service port(s) "
              "(kube-system/kube-dns 53/UDP): look at the nsx-ncp logs in vmware-system-nsx"),
        *[entry("WCP-DNS-002", f"cp-{n}/eth0 -> vcenter.corp.local", "failed",
                cause=NO_PTR.format(server="192.168.10.10")) for n in (1, 2, 3)],
        *[entry("WCP-VIP-001", f"172.16.1.2:{port}", "failed", cause="nothing listens on the VIP port: the SLB "
                "virtual server or its pool members are down") for port in (443, 6443)],
        entry("WCP-NCP-001", "supervisor-1"),
    ]
    causes = group_causes(tests)
    assert [(c.number, len(c.failures), list(c.by_check)) for c in causes] == [
        (1, 3, ["WCP-DNS-002"]), (2, 2, ["WCP-VIP-001"]), (3, 1, ["WCP-DLB-001"])]


def test_a_named_consequence_is_explained_by_that_check_on_its_own_vm_through_its_own_server() -> None:
    down = "{server} answers ICMP but nothing listens on port 53 (DNS service down or firewalled)"
    tests = [
        entry("WCP-DNS-001", "cp-1/eth0 -> vcenter.corp.local", "failed", cause=SHARED),
        entry("WCP-DNS-001", "cp-1/eth1 -> vcenter.corp.local", "failed", cause=NO_RETURN.replace(".10 ", ".11 ")),
        entry("WCP-DNS-001", "cp-2/eth0 -> vcenter.corp.local", "failed", cause=down.format(server="192.168.10.12")),
        entry("WCP-DNS-003", "cp-1 resolver -> vcenter.corp.local", "failed",
              cause=RESOLVER.format(name="vcenter.corp.local")),
    ]
    causes = group_causes(tests)
    assert sorted(sorted(f.target for f in c.failures) for c in causes) == [
        ["cp-1 resolver -> vcenter.corp.local", "cp-1/eth0 -> vcenter.corp.local"],
        ["cp-1/eth1 -> vcenter.corp.local"], ["cp-2/eth0 -> vcenter.corp.local"]]
    joined = next(c for c in causes if len(c.failures) == 2)
    assert joined.text == SHARED


def test_a_shared_generic_clause_does_not_join_different_causes() -> None:
    tail = ", or the inventory's expected address is out of date"
    tests = [
        entry("WCP-DNS-001", "cp-1/eth0 -> vcenter.corp.local", "failed",
              cause="the zone on 192.168.10.10 holds a stale A record for vcenter.corp.local" + tail),
        entry("WCP-NCP-002", "supervisor-1", "failed", cause="ncp.ini names other NSX managers" + tail),
    ]
    assert len(group_causes(tests)) == 2


def test_only_failed_and_unobserved_targets_have_causes() -> None:
    tests = [entry("WCP-VIP-001", "172.16.1.2:443"), entry("WCP-DNS-003", "cp-1 resolver -> x", "skipped"),
             {**entry("WCP-VIP-002", "172.16.1.2:443"), "outcome": "not_run"},
             entry("WCP-DLB-001", "supervisor-1", "error", cause="NSX answered 401: the credentials are refused"),
             entry("WCP-DLB-002", "supervisor-1", "error", cause="NSX answered 401: the credentials are refused"),
             entry("WCP-NCP-001", "supervisor-1", "failed", cause=None, observed="CrashLoopBackOff")]
    causes = group_causes(tests)
    assert [(len(c.failures), c.could_not_observe) for c in causes] == [(2, True), (1, False)]
    assert causes[0].by_outcome == {"error": 2}
    assert causes[1].text == "no cause given (observed: CrashLoopBackOff)"
