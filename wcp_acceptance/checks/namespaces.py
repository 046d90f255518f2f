"""WCP-NS-001: every vSphere Namespace leaves the cluster as its own SNAT IP, SNATed by its own Tier-1.

NCP gives each vSphere Namespace a Tier-1 (annotation ``ncp/router_id``, ``t1_<uuid>_rtr``) and an SNAT
IP from the egress pool (annotation ``ncp/snat_ip``), with an SNAT rule on that Tier-1; the system
namespaces share the Supervisor's Tier-1 and its SNAT IP (the egress IP the WCP-EGR checks use).

Which Namespaces are which (the rule the README states):

* **system**: ``default``, ``kube-*`` and ``vmware-system-*``. Those that carry NCP's annotations must all
  name one Tier-1 and the inventory's egress IP; those without are not judged.
* **vSphere Namespace**: any other Namespace that carries ``ncp/router_id`` or ``ncp/snat_ip``, or WCP's
  ``vSphereClusterID`` label (then the annotations must be there: NCP has not realised it otherwise).
* anything else (no NCP annotation, no label) is not a vSphere Namespace and is not judged.

A Namespace annotated ``ncp-nsx/no-snat: "true"`` is routed without SNAT by design and passes.
NCP's naming of the SNAT rule and whether it sits on the Namespace's own Tier-1 in every topology are
not public (API-FACTS section 7): the rule is found by what it does (an enabled SNAT translating to the
SNAT IP), not by its name.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from typing import Any

from wcp_acceptance.checks.egress import address_in, describe_rule
from wcp_acceptance.finding import Finding, failed, passed
from wcp_acceptance.observations import NamespaceEgress, NamespaceInfo
from wcp_acceptance.targets import NamespaceRef

CHECK_ID = "WCP-NS-001"
ROUTER = "ncp/router_id"
SNAT_IP = "ncp/snat_ip"
NO_SNAT = "ncp-nsx/no-snat"
SUBNET = "ncp/subnet-0"
SYSTEM_EXACT = frozenset({"default"})
SYSTEM_PREFIXES = ("kube-", "vmware-system-")


def is_system(name: str) -> bool:
    return name in SYSTEM_EXACT or name.startswith(SYSTEM_PREFIXES)


def is_vsphere_namespace(ns: NamespaceInfo) -> bool:
    """Not a system namespace, and NCP or WCP marked it (an NCP egress annotation, or the vSphereClusterID label)."""
    return not is_system(ns.name) and (ROUTER in ns.annotations or SNAT_IP in ns.annotations
                                       or ns.vsphere_cluster is not None)


def _annotated(ns: NamespaceInfo) -> bool:
    return ROUTER in ns.annotations or SNAT_IP in ns.annotations


def _evidence_line(ns: NamespaceInfo) -> str:
    shown = ", ".join(f"{k}={v}" for k, v in sorted(ns.annotations.items()) if k in (ROUTER, SNAT_IP, SUBNET, NO_SNAT))
    label = f" (label vSphereClusterID={ns.vsphere_cluster})" if ns.vsphere_cluster is not None else ""
    return f"Namespace {ns.name}: {shown or 'no NCP egress annotation'}{label}"


def _users_of(snat_ip: str, router: str, namespaces: Sequence[NamespaceInfo]) -> list[str]:
    """Namespaces on another Tier-1 than ``router`` that name the same SNAT IP (the system namespaces as one)."""
    names = sorted(n.name for n in namespaces if _annotated(n) and n.annotations.get(SNAT_IP, "").strip() == snat_ip
                   and n.annotations.get(ROUTER, "") != router)
    system = [n for n in names if is_system(n)]
    shown = [n for n in names if not is_system(n)]
    if system:
        more = ", ..." if len(system) > 3 else ""
        shown.insert(0, f"the system namespaces ({len(system)}: {', '.join(system[:3])}{more})")
    return shown


def _snat_rule(rules: Sequence[Mapping[str, Any]], snat_ip: str) -> tuple[Mapping[str, Any] | None, list[str]]:
    """The enabled SNAT rule translating to ``snat_ip`` (lowest sequence first), and why none is, if none."""
    snats = [r for r in rules if r.get("action") == "SNAT"]
    to_ip = [r for r in snats if r.get("translated_network") and address_in(snat_ip, str(r.get("translated_network")))]
    enabled = sorted((r for r in to_ip if r.get("enabled", True) is not False),
                     key=lambda r: int(r.get("sequence_number", 2**31)) if str(r.get("sequence_number", "")).lstrip(
                         "-").isdigit() else 2**31)
    if enabled:
        return enabled[0], []
    why: list[str] = []
    if to_ip:
        why.append(f"its SNAT rule {to_ip[0].get('display_name') or to_ip[0].get('id')} is disabled")
    elif snats:
        others = ", ".join(sorted({str(r.get("translated_network")) for r in snats}))
        why.append(f"its SNAT rules translate to {others}, not {snat_ip}")
    else:
        why.append("it has no SNAT rule at all")
    return None, why


def namespace_problems(ns: NamespaceInfo, data: NamespaceEgress, *, system_ip: str | None = None) -> tuple[
        list[str], list[str]]:
    """What is wrong with one annotated Namespace's egress (empty: nothing), and the evidence lines."""
    evidence = [_evidence_line(ns)]
    ann = ns.annotations
    if ann.get(NO_SNAT, "").strip().lower() == "true":
        return [], evidence
    router, raw_ip = ann.get(ROUTER, "").strip(), ann.get(SNAT_IP, "").strip()
    problems: list[str] = []
    if not router:
        problems.append(f"no {ROUTER} annotation: NCP has not realised its Tier-1")
    if not raw_ip:
        problems.append(f"no {SNAT_IP} annotation: NCP has not given it an SNAT IP")
    if problems:
        return problems, evidence
    try:
        ip = ipaddress.IPv4Address(raw_ip)
    except ValueError:
        return [f"{SNAT_IP} {raw_ip!r} is not an IPv4 address"], evidence
    if ip not in ipaddress.IPv4Network(data.egress, strict=False):
        problems.append(f"its SNAT IP {ip} is outside the egress range {data.egress}")
    if system_ip is not None and str(ip) != system_ip:
        problems.append(f"its SNAT IP {ip} is not the Supervisor's egress IP {system_ip}")
    sharing = _users_of(str(ip), router, data.namespaces)
    if sharing:
        problems.append(f"its SNAT IP {ip} is also the SNAT IP of {', '.join(sharing)} on another Tier-1")
    rules = data.rules_by_tier1.get(router)
    if rules is None:
        problems.append(f"NSX has no Tier-1 {router} (its {ROUTER})")
        return problems, evidence
    evidence += [f"Tier-1 {router}: {describe_rule(r)}" for r in rules] or [f"Tier-1 {router}: no USER NAT rules"]
    rule, why = _snat_rule(rules, str(ip))
    if rule is None:
        problems.append(f"its Tier-1 {router} has no enabled SNAT rule to {ip}: {'; '.join(why)}")
    return problems, evidence


def _cause(problems: Sequence[str]) -> str:
    text = " ".join(problems)
    if "not realised" in text or "not given it" in text:
        return ("NCP has not realised the Namespace's network (see WCP-NCP-001 and WCP-NCP-003: NCP down, or an "
                "ncp/error annotation says why)")
    if "SNAT rule" in text or "no Tier-1" in text:
        return ("the Namespace's SNAT rule is missing, disabled or translates elsewhere in NSX, so its workloads "
                "leave with their pod addresses (dropped upstream) or as another Namespace; NCP re-creates it on "
                "restart, or the rule was changed by hand")
    if "also the SNAT IP" in text:
        return ("two Tier-1s translate to one SNAT IP: the egress pool handed it out twice or a rule was edited by "
                "hand, so replies for one Namespace reach the other's Tier-1")
    return ("the SNAT IP is not where the Supervisor's egress range says (an egress pool changed after enablement, "
            "or the inventory's networks.egress is out of date)")


def check_namespace_egress(ref: NamespaceRef, data: NamespaceEgress) -> Finding:
    target = str(ref)
    by_name = {ns.name: ns for ns in data.namespaces}
    if ref.group == "system":
        return _check_system(target, data)
    if ref.group == "named":
        expected = (f"Namespace {ref.name} annotated with its Tier-1 ({ROUTER}) and an SNAT IP ({SNAT_IP}) in "
                    f"{data.egress} no other Tier-1 uses, with an enabled SNAT rule to it on that Tier-1")
        ns = by_name.get(ref.name)
        if ns is None:
            return failed(CHECK_ID, target, expected, f"no Namespace {ref.name} on the Supervisor",
                          "the Namespace the inventory names was deleted or renamed (or supervisor.namespaces is "
                          "out of date)", [f"Namespaces: {', '.join(sorted(by_name)) or 'none'}"])
        if not _annotated(ns):
            return failed(CHECK_ID, target, expected, f"Namespace {ns.name} carries no {ROUTER} or {SNAT_IP}",
                          "NCP has not realised the Namespace's network (see WCP-NCP-001 and WCP-NCP-003)",
                          [_evidence_line(ns)])
        problems, evidence = namespace_problems(ns, data)
        if not problems:
            return passed(CHECK_ID, target, expected, _ok_text(ns, data))
        return failed(CHECK_ID, target, expected, "; ".join(problems), _cause(problems), evidence)
    others = [ns for ns in data.namespaces if is_vsphere_namespace(ns) and ns.name not in data.named]
    expected = (f"every vSphere Namespace the inventory does not name with its own SNAT IP in {data.egress}, "
                "SNATed by its own Tier-1")
    broken: list[tuple[NamespaceInfo, list[str], list[str]]] = []
    for ns in others:
        if not _annotated(ns):
            broken.append((ns, [f"no {ROUTER} or {SNAT_IP}: NCP has not realised it"], [_evidence_line(ns)]))
            continue
        problems, evidence = namespace_problems(ns, data)
        if problems:
            broken.append((ns, problems, evidence))
    if not broken:
        shown = ", ".join(_ok_text(ns, data) for ns in others) if others else "none on the Supervisor"
        return passed(CHECK_ID, target, expected, f"{len(others)} Namespace{'s' if len(others) != 1 else ''}: {shown}")
    observed = "; ".join(f"{ns.name}: {', '.join(p)}" for ns, p, _ in broken)
    return failed(CHECK_ID, target, expected, observed, _cause([p for _, ps, _ in broken for p in ps]),
                  [line for _, _, ev in broken for line in ev])


def _ok_text(ns: NamespaceInfo, data: NamespaceEgress) -> str:
    ann = ns.annotations
    if ann.get(NO_SNAT, "").strip().lower() == "true":
        return f"{ns.name} routed without SNAT ({NO_SNAT})"
    return f"{ns.name} leaves as {ann.get(SNAT_IP)} via {ann.get(ROUTER)}"


def _check_system(target: str, data: NamespaceEgress) -> Finding:
    system = [ns for ns in data.namespaces if is_system(ns.name)]
    annotated = [ns for ns in system if _annotated(ns)]
    expected = (f"the system namespaces that carry NCP's annotations on one Tier-1 with the Supervisor's egress IP "
                f"{data.egress_ip}, and an enabled SNAT rule to it there")
    if not annotated:
        return passed(CHECK_ID, target, expected, f"none of {len(system)} system namespaces carries {ROUTER} or "
                      f"{SNAT_IP} (they are not vSphere Namespaces; the Supervisor's SNAT is WCP-EGR-002's)")
    routers = sorted({ns.annotations.get(ROUTER, "") for ns in annotated})
    problems: list[str] = []
    evidence: list[str] = []
    if len(routers) > 1:
        shown = ", ".join(r or "(none)" for r in routers)
        problems.append(f"the system namespaces name {len(routers)} Tier-1s ({shown})")
    seen: set[tuple[str, str]] = set()
    for ns in annotated:
        found, lines = namespace_problems(ns, data, system_ip=data.egress_ip)
        router = ns.annotations.get(ROUTER, "")
        fresh = [p for p in found if (router, p) not in seen]
        seen.update((router, p) for p in found)
        problems += [f"{ns.name}: {p}" for p in fresh]
        evidence += [line for line in lines if line not in evidence]
    if not problems:
        return passed(CHECK_ID, target, expected, f"{len(annotated)} system namespaces leave as {data.egress_ip} via "
                      f"{routers[0]}")
    return failed(CHECK_ID, target, expected, "; ".join(problems), _cause(problems), evidence)
