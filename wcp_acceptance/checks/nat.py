"""WCP-EGR-002: NSX's NAT rules give workload traffic the treatment the Supervisor needs.

Traffic leaving the cluster is SNATed to the egress IP; traffic inside the namespace network and
to the egress range keeps its source (NCP's two NO_SNAT rules). This reads the rules NSX applies
(lowest sequence number first), so it also catches a rule that exists but is shadowed or disabled.
"""

from __future__ import annotations

from collections.abc import Sequence

from wcp_acceptance.checks.egress import NatRule, applicable_rule, describe_rule
from wcp_acceptance.finding import Finding, failed, passed
from wcp_acceptance.targets import NatCase

CHECK_ID = "WCP-EGR-002"


def check_nat_case(case: NatCase, rules: Sequence[NatRule], tier1s: Sequence[str] = ()) -> Finding:
    target = str(case)
    expected = f"SNAT to {case.snat_to}" if case.snat_to else "no SNAT (the source is kept)"
    where = f" on Tier-1 {', '.join(tier1s)}" if tier1s else ""
    evidence = [describe_rule(rule) for rule in rules] or [f"no NAT rules{where}"]
    rule = applicable_rule(rules, str(case.source), str(case.destination))
    if rule is None:
        observed = f"no enabled SNAT or NO_SNAT rule{where} applies"
        cause = ("NCP's SNAT rule for the Supervisor is missing" if case.snat_to else
                 "no rule applies, so the source is kept; NCP's NO_SNAT rule is missing but harmless here")
        if case.snat_to is None:
            return passed(CHECK_ID, target, expected, observed)
        return failed(CHECK_ID, target, expected, observed, cause, evidence)
    action = str(rule.get("action"))
    translated = str(rule.get("translated_network") or "")
    observed = describe_rule(rule).removeprefix("NSX NAT rule ")
    if case.snat_to is not None:
        if action == "SNAT" and translated == str(case.snat_to):
            return passed(CHECK_ID, target, expected, observed)
        cause = (f"the SNAT rule translates to {translated}, not the egress IP {case.snat_to}" if action == "SNAT"
                 else f"a NO_SNAT rule matching {case.destination} comes first, so traffic {case.label} keeps "
                      "its workload source and cannot come back")
        return failed(CHECK_ID, target, expected, observed, cause, evidence)
    if action == "NO_SNAT":
        return passed(CHECK_ID, target, expected, observed)
    return failed(CHECK_ID, target, expected, observed,
                  f"NCP's NO_SNAT rule for traffic {case.label} is missing or comes after the SNAT rule, so it is "
                  f"translated to {translated or '?'}", evidence)
