"""diff_summaries on crafted summaries: what counts as new, fixed, still failing; what is never compared."""

from __future__ import annotations

import copy
import json

from tests.history.crafted import HEALTHY, entry, summary
from wcp_acceptance.report.diff import CANNOT_TELL, NOTHING_WORSE, WORSE, diff_summaries

DNS = "cp-1/eth0 -> vcenter.corp.local"


def keys(changes) -> set[tuple[str, str]]:
    return {(c.check_id, c.target) for c in changes}


def test_new_failures_fixed_and_still_failing_are_told_apart() -> None:
    before = summary([entry("WCP-DNS-001", DNS),
                      entry("WCP-DNS-002", DNS, "failed"),
                      entry("WCP-RT-001", "cp-1 -> 192.168.10.10 (management DNS)", "failed"),
                      entry("WCP-VIP-001", "172.16.1.2:443")])
    after = summary([entry("WCP-DNS-001", DNS, "failed", cause="policy routing sends it out eth1"),
                     entry("WCP-DNS-002", DNS),
                     entry("WCP-RT-001", "cp-1 -> 192.168.10.10 (management DNS)", "error"),
                     entry("WCP-VIP-001", "172.16.1.2:443", "error"),
                     entry("WCP-DLB-001", "supervisor-1", "failed")])
    diff = diff_summaries(before, after, label="last good run 20261125T020000Z")
    assert keys(diff.new_failures) == {("WCP-DNS-001", DNS), ("WCP-VIP-001", "172.16.1.2:443"),
                                       ("WCP-DLB-001", "supervisor-1")}
    assert keys(diff.fixed) == {("WCP-DNS-002", DNS)}
    assert keys(diff.still_failing) == {("WCP-RT-001", "cp-1 -> 192.168.10.10 (management DNS)")}
    dns = next(c for c in diff.new_failures if c.check_id == "WCP-DNS-001")
    assert (dns.before, dns.after, dns.cause) == ("passed", "failed", "policy routing sends it out eth1")
    assert next(c for c in diff.new_failures if c.check_id == "WCP-DLB-001").before == "absent"
    assert diff.worse
    assert diff.exit_code == WORSE
    assert diff.line() == "since last good run 20261125T020000Z: 3 new failures, 1 fixed, 1 still failing"


def test_nothing_worse_when_only_the_known_failure_remains() -> None:
    known = entry("WCP-RT-001", "cp-1 -> 192.168.10.10 (management DNS)", "failed")
    diff = diff_summaries(summary([*HEALTHY, known]), summary([*HEALTHY, known]))
    assert not diff.new_failures
    assert not diff.fixed
    assert keys(diff.still_failing) == {(known["check_id"], known["target"])}
    assert diff.exit_code == NOTHING_WORSE


def test_volatile_fields_are_never_a_change() -> None:
    """Durations, timestamps, pids, nonces and ephemeral ports differ on every run of an unchanged site."""
    before = summary([*copy.deepcopy(HEALTHY),
                      entry("WCP-EGR-001", "cp-1/eth1 -> observer 192.168.10.5:40123",
                            observed="arrived from 172.16.2.1:51234 (the egress IP), seen by the socket"),
                      entry("WCP-DNS-003", "cp-1 resolver -> vcenter.corp.local",
                            observed="192.168.10.20 (query 3f9a1c0de2b74411 pid 812, 12 ms)")],
                     started_at="2026-11-25T02:00:00+00:00", pid=100)
    after = summary([*copy.deepcopy(HEALTHY),
                     entry("WCP-EGR-001", "cp-1/eth1 -> observer 192.168.10.5:40999",
                           observed="arrived from 172.16.2.1:33012 (the egress IP), seen by the socket"),
                     entry("WCP-DNS-003", "cp-1 resolver -> vcenter.corp.local",
                           observed="192.168.10.20 (query 77aa0b1e9c3d5520 pid 9031, 0.4 s)")],
                    started_at="2026-11-26T02:00:00+00:00", pid=200)
    for test in after["tests"]:
        test["duration_s"] = 9.75
        test["nodeid"] += "-renamed"
    after["tests"][2]["observed"] = "TCP connected in 1.91 s"
    diff = diff_summaries(before, after)
    assert diff.as_json()["new_failures"] == diff.as_json()["fixed"] == diff.as_json()["changed"] == []
    assert diff.not_compared == 0
    assert diff.exit_code == NOTHING_WORSE


def test_a_target_that_moved_to_another_ephemeral_port_is_the_same_target() -> None:
    before = summary([entry("WCP-EGR-001", "cp-1/eth1 -> observer 192.168.10.5:40123")])
    after = summary([entry("WCP-EGR-001", "cp-1/eth1 -> observer 192.168.10.5:40999", "failed")])
    (change,) = diff_summaries(before, after).new_failures
    assert (change.before, change.after) == ("passed", "failed")
    assert change.before_target == "cp-1/eth1 -> observer 192.168.10.5:40123"


def test_service_ports_stay_apart_and_pair_in_port_order() -> None:
    """443 and 6443 are two targets; when both move (a simulator on ephemeral ports) they pair in order."""
    exact = diff_summaries(summary([entry("WCP-VIP-001", "172.16.1.2:443", "failed"),
                                    entry("WCP-VIP-001", "172.16.1.2:6443")]),
                           summary([entry("WCP-VIP-001", "172.16.1.2:443"),
                                    entry("WCP-VIP-001", "172.16.1.2:6443", "failed")]))
    assert keys(exact.fixed) == {("WCP-VIP-001", "172.16.1.2:443")}
    assert keys(exact.new_failures) == {("WCP-VIP-001", "172.16.1.2:6443")}
    moved = diff_summaries(summary([entry("WCP-VIP-001", "127.0.1.2:41000", "failed"),
                                    entry("WCP-VIP-001", "127.0.1.2:45000")]),
                           summary([entry("WCP-VIP-001", "127.0.1.2:38000", "failed"),
                                    entry("WCP-VIP-001", "127.0.1.2:39000")]))
    assert keys(moved.still_failing) == {("WCP-VIP-001", "127.0.1.2:38000")}
    assert not moved.new_failures
    assert not moved.fixed


def test_a_watched_fact_of_a_passing_test_that_changed_is_reported_but_not_worse() -> None:
    """NCP restarts and a renewed certificate are what a passing test's observed value is kept for."""
    cert = "TLSv1.3 verified, certificate for 172.16.1.2, {member} issued by lab CA, valid until {end}"
    before = summary([entry("WCP-NCP-001", "supervisor-1", observed="nsx-ncp-1 running and ready (0 restarts)"),
                      entry("WCP-VIP-002", "172.16.1.2:6443", observed=cert.format(member="10.244.0.2",
                                                                                  end="2027-01-01T00:00:00Z")),
                      entry("WCP-VIP-002", "172.16.1.2:443", observed=cert.format(member="10.244.0.2",
                                                                                 end="2027-01-01T00:00:00Z"))])
    after = summary([entry("WCP-NCP-001", "supervisor-1", observed="nsx-ncp-2 running and ready (7 restarts)"),
                     entry("WCP-VIP-002", "172.16.1.2:6443", observed=cert.format(member="10.244.0.3",
                                                                                 end="2026-12-05T00:00:00Z")),
                     entry("WCP-VIP-002", "172.16.1.2:443", observed=cert.format(member="10.244.0.4",
                                                                                end="2027-01-01T00:00:00Z"))])
    diff = diff_summaries(before, after)
    # another pool member answering (its own SANs) or another pod name is not a change; the facts are
    assert {(c.check_id, c.target, c.facts) for c in diff.changed} == {
        ("WCP-NCP-001", "supervisor-1", ("restarts 0 -> 7",)),
        ("WCP-VIP-002", "172.16.1.2:6443", ("certificate valid until 2027-01-01T00:00:00Z -> 2026-12-05T00:00:00Z",))}
    assert str(diff.changed[0]) == "WCP-NCP-001 [supervisor-1] passed both times; restarts 0 -> 7"
    assert diff.exit_code == NOTHING_WORSE


def test_dns_answers_in_another_order_are_the_same_answer() -> None:
    before = summary([entry("WCP-DNS-001", DNS, observed="A 192.168.10.20, 192.168.10.21")])
    same = summary([entry("WCP-DNS-001", DNS, observed="A 192.168.10.21, 192.168.10.20")])
    more = summary([entry("WCP-DNS-001", DNS, observed="A 192.168.10.21, 192.168.10.20, 192.168.10.22")])
    assert diff_summaries(before, same).changed == []
    (change,) = diff_summaries(before, more).changed
    assert change.facts == ("addresses 192.168.10.20, 192.168.10.21 -> 192.168.10.20, 192.168.10.21, "
                            "192.168.10.22",)


def test_a_run_that_did_not_reach_what_passed_before_cannot_tell() -> None:
    before = summary([entry("WCP-DNS-001", DNS), entry("WCP-DLB-001", "supervisor-1")])
    after = summary([entry("WCP-DNS-001", DNS), entry("WCP-DLB-001", "supervisor-1", "not_run")],
                    interrupted_by="SIGTERM")
    diff = diff_summaries(before, after)
    assert keys(diff.unobserved) == {("WCP-DLB-001", "supervisor-1")}
    assert not diff.worse
    assert diff.exit_code == CANNOT_TELL
    assert "1 not reached" in diff.line()
    orphan = summary([entry("WCP-DNS-001", DNS)], state="orphaned")
    assert diff_summaries(before, orphan).exit_code == CANNOT_TELL
    worse = summary([entry("WCP-DNS-001", DNS, "failed"), entry("WCP-DLB-001", "supervisor-1", "not_run")])
    assert diff_summaries(before, worse).exit_code == WORSE


def test_what_the_later_run_did_not_select_or_excluded_is_not_compared() -> None:
    before = summary(copy.deepcopy(HEALTHY))
    after = summary([entry("WCP-DNS-001", DNS), entry("WCP-NCP-001", "supervisor-1", "skipped")],
                    full=False, markers="dns")
    diff = diff_summaries(before, after)
    assert diff.not_compared == 3  # two VIP ports not selected, NCP excluded
    assert diff.exit_code == NOTHING_WORSE
    assert "not compared: 3 target(s)" in diff.render_text()


def test_runs_of_different_sites_or_catalogues_are_noted() -> None:
    diff = diff_summaries(summary(HEALTHY, site="site-a"), summary(HEALTHY, site="site-b"))
    assert diff.notes == ["different sites: site-a -> site-b"]


def test_the_text_and_the_data_say_the_same() -> None:
    before = summary([entry("WCP-DNS-001", DNS), entry("WCP-DNS-002", DNS, "failed")])
    after = summary([entry("WCP-DNS-001", DNS, "failed", cause="no answer <from> eth1"), entry("WCP-DNS-002", DNS)])
    diff = diff_summaries(before, after, label="A", after_label="B")
    text = diff.render_text()
    assert text.splitlines()[:2] == ["A -> B", "since A: 1 new failure, 1 fixed, 0 still failing"]
    assert f"  WCP-DNS-001 [{DNS}] passed -> failed: no answer <from> eth1" in text
    assert text.splitlines()[-1].startswith("worse (exit 1)")
    data = json.loads(json.dumps(diff.as_json()))
    assert data["verdict"] == "worse"
    assert data["exit_code"] == 1
    assert data["worse"] is True
    assert data["new_failures"] == [{"check_id": "WCP-DNS-001", "target": DNS, "before": "passed",
                                     "after": "failed", "cause": "no answer <from> eth1",
                                     "observed_after": "something else"}]
    assert [c["check_id"] for c in data["fixed"]] == ["WCP-DNS-002"]
