"""summary.json data for the report's unit tests: entries as the suite writes them, and the seed's failure
(seed-shared-dns) with the causes the checks give in the lab: 27 failed targets over four checks."""

from __future__ import annotations

from typing import Any

SHARED = ("policy routing sends it out eth1 (table 200): management and workload DNS share 192.168.10.10, so the "
          "Supervisor's rule for the workload DNS server captures management DNS too")
NO_RETURN = ("the DNS server 192.168.10.10 has no return route to the egress network the workload traffic is SNATed "
             "to (or to 10.244.0.0/28 without NAT), or egress from the workload network is blocked (NSX gateway "
             "firewall, missing SNAT rule or BGP route)")
RESOLVER = ("none of the VM's resolvers (192.168.10.10) answered for {name}: the name is missing on them, or they are "
            "unreachable from the VM (see the per-interface DNS checks, WCP-DNS-001)")
STEERED = ("management and workload DNS share 192.168.10.10, so the Supervisor's policy routing sends management DNS "
           "out eth1 (the workload table 200), where it cannot route; give the workload DNS its own address")
NO_PTR = ("{server} has no PTR record for 192.168.10.20: the reverse zone is missing, not delegated to this server, "
          "or lacks the entry")
NAMES = ("vcenter.corp.local", "nsx.corp.local")
VMS = ("cp-1", "cp-2", "cp-3")


def entry(check_id: str, target: str, outcome: str = "passed", *, cause: str | None = None,
          observed: str = "as expected", evidence: tuple[str, ...] = ("a line of evidence",),
          title: str = "a check") -> dict[str, Any]:
    data: dict[str, Any] = {"check_id": check_id, "nodeid": f"tests_live/test_x.py::test_x[{target}]",
                            "title": title, "target": target, "outcome": outcome, "duration_s": 0.25}
    if outcome == "passed":
        data["observed"] = observed
    elif outcome in ("failed", "error"):
        data.update(expected="what must hold", observed=observed, cause=cause, evidence=list(evidence))
    elif outcome == "skipped":
        data["skip_reason"] = "excluded by the inventory: not here"
    return data


def seed_failures() -> list[dict[str, Any]]:
    """The 27 failures of seed-shared-dns, in the order the suite runs them."""
    tests = []
    for check in ("WCP-DNS-001", "WCP-DNS-002"):
        for vm in VMS:
            tests += [entry(check, f"{vm}/eth0 -> {name}", "failed", cause=SHARED,
                            observed="ICMP host unreachable from 10.244.0.1") for name in NAMES]
            tests.append(entry(check, f"{vm}/eth1 -> vcenter.corp.local", "failed", cause=NO_RETURN,
                               observed="no answer within 1.0 s"))
    tests += [entry("WCP-DNS-003", f"{vm} resolver -> {name}", "failed", cause=RESOLVER.format(name=name),
                    observed="no answer within 3 s") for vm in VMS for name in NAMES]
    tests += [entry("WCP-RT-001", f"{vm} -> 192.168.10.10 (management DNS)", "failed", cause=STEERED,
                    observed="rule 0: from all to 192.168.10.10 lookup 200") for vm in VMS]
    return tests


def summary(tests: list[dict[str, Any]], *, site: str = "site-a", supervisor: str = "supervisor-1",
            verdict: str | None = None, scope: str = "full run: 2 targets selected", full: bool = True,
            interrupted_by: str | None = None) -> dict[str, Any]:
    outcomes = [t["outcome"] for t in tests]
    totals = {o: outcomes.count(o) for o in ("passed", "failed", "error", "skipped", "not_run")}
    if verdict is None:
        verdict = "UNHEALTHY" if totals["failed"] else "INCOMPLETE" if totals["error"] else "HEALTHY"
    return {"schema_version": 2, "inventory": site, "supervisor": supervisor, "state": "finished",
            "started_at": "2026-11-25T02:00:00+00:00", "finished_at": "2026-11-25T02:00:41+00:00",
            "exit_code": 0 if verdict == "HEALTHY" else 1, "verdict": verdict, "interrupted_by": interrupted_by,
            "scope": {"full": full, "text": scope}, "totals": totals | {"total": len(tests)}, "tests": tests}
