"""The DLB checks at scale keep a compact form of each virtual server, judged exactly as the raw JSON.

The session compares once (``dlb_comparison``) over :class:`DlbVirtualServer` objects the NSX reader
made page by page; these tests prove the compact form loses nothing a finding shows, and that it is
a fraction of the raw JSON's memory (the raw dicts were 6.3 MiB per 1,000 ports).
"""

from __future__ import annotations

import gc
import json
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lab.model import SupervisorModel
from lab.sim.nsx import virtual_server_json
from wcp_acceptance.checks.dlb import _TRIM_KEYS, DlbVirtualServer, compare_dlb, dlb_lb_service_path
from wcp_acceptance.finding import Finding
from wcp_acceptance.targets import ServicePort

DATA = Path(__file__).resolve().parent.parent / "data" / "nsx"


def trimmed_from_raw(obj: dict[str, Any]) -> dict[str, Any]:
    """What a finding shows of a virtual server, computed straight from its JSON."""
    out = {k: obj[k] for k in _TRIM_KEYS if k in obj}
    out["tags"] = {t["scope"]: t["tag"] for t in obj.get("tags") or []
                   if t["scope"].startswith("ncp/") or t["scope"] == "external_id"}
    return out


def expected_ports(model: SupervisorModel) -> list[ServicePort]:
    return [ServicePort(s.namespace, s.name, s.cluster_ip, p.port, p.protocol)
            for s in model.services if s.has_cluster_ip for p in s.ports]


def as_wire(model: SupervisorModel) -> list[dict[str, Any]]:
    """The virtual servers as a reader gets them: JSON parsed from the wire (fresh strings, no sharing)."""
    return [json.loads(json.dumps(virtual_server_json(model, vs))) for vs in model.virtual_servers]


def same(a: Finding, b: Finding) -> bool:
    return (a.ok, a.target, a.expected, a.observed, a.cause, list(a.evidence)) == \
        (b.ok, b.target, b.expected, b.observed, b.cause, list(b.evidence))


def test_every_real_sample_shows_the_same_evidence_from_its_compact_form() -> None:
    samples = sorted(DATA.glob("policy-lb-virtual-server-*.json"))
    assert len(samples) >= 5
    for path in samples:
        raw = json.loads(path.read_text())
        compact = DlbVirtualServer.from_json(raw)
        assert json.loads(compact.trimmed_json()) == trimmed_from_raw(raw), path.name


def test_compact_and_raw_inputs_give_identical_findings_on_a_broken_site() -> None:
    model = SupervisorModel.scaled(300, 2)
    model.drop_dlb_virtual_server("scale-000", "svc-00007", 8000, "TCP")
    model.mismatch_dlb_port("kube-system", "kube-dns", 9153, "TCP", new_port=9154)
    model.add_stale_dlb_virtual_server("gone", "old-web", "10.97.0.9", 80)
    raw = as_wire(model)
    path, cluster = dlb_lb_service_path(model.ncp_cluster), model.ncp_cluster
    from_raw = compare_dlb(expected_ports(model), raw, path, cluster)
    from_compact = compare_dlb(expected_ports(model), [DlbVirtualServer.from_json(o) for o in raw], path, cluster)
    assert not from_raw.coverage().ok
    assert not from_raw.stale().ok
    assert same(from_raw.coverage(), from_compact.coverage())
    assert same(from_raw.stale(), from_compact.stale())
    for port in from_raw.missing:
        assert same(from_raw.service_port(port), from_compact.service_port(port))


def retained(build: Callable[[], object]) -> tuple[int, object]:
    gc.collect()
    tracemalloc.start()
    try:
        kept = build()
        gc.collect()
        size, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return size, kept


def test_compact_virtual_servers_cost_a_fraction_of_their_json() -> None:
    model = SupervisorModel.scaled(2_500, 2)  # the cost per virtual server does not depend on how many
    text = [json.dumps(virtual_server_json(model, vs)) for vs in model.virtual_servers]
    assert len(text) >= 5_000
    raw_size, _ = retained(lambda: [json.loads(t) for t in text])
    compact_size, kept = retained(lambda: [DlbVirtualServer.from_json(json.loads(t)) for t in text])
    per_raw, per_compact = raw_size / len(text), compact_size / len(text)
    print(f"\n{len(text):,} virtual servers: raw JSON {raw_size / 2**20:.1f} MiB ({per_raw:,.0f} B each), "
          f"compact {compact_size / 2**20:.1f} MiB ({per_compact:,.0f} B each)")
    assert isinstance(kept, list)
    assert len(kept) == len(text)
    assert per_compact < per_raw / 3
    assert per_compact < 2_000  # 20,000 virtual servers in under 40 MiB, well inside the 150 MB a run may take
