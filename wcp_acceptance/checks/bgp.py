"""WCP-BGP-001: every BGP neighbour of the Supervisor's Tier-0 is ESTABLISHED and is advertised both ranges.

The seed: the Tier-0 "peers with the physical router, both advertise and share routes"; when the
session is down the physical network no longer routes the ingress range (the API VIP) or the egress
range (the SNAT IP) to the edge, and the VIP and egress break for everyone outside.

What is read (NSX Policy API, API-FACTS section 1.10; GET only):

* the Tier-0: the inventory's ``nsx.tier0_gateway`` (its id), else the ``tier0_path`` of the
  Tier-1 gateways NCP tags with ``ncp/cluster`` (one Tier-0 for all of them, or the inventory must
  name it);
* ``/infra/tier-0s/<t0>/locale-services`` (the locale-service id is usually ``default``, not
  guaranteed), and per locale service ``.../bgp/neighbors/status`` (``PolicyBgpNeighborStatus``:
  ``neighbor_address``, ``remote_as_number``, ``connection_state`` INVALID / IDLE / CONNECT / ACTIVE /
  OPEN_SENT / OPEN_CONFIRM / ESTABLISHED / UNKNOWN) [doc];
* per ESTABLISHED neighbour, ``.../bgp/neighbors/<id>/advertised-routes``
  (``BgpNeighborRoutesListResult``: ``results[].edge_node_routes[].routes[].network``; older builds
  spell it ``egde_node_routes``, both are read) [doc]; the neighbour's id comes from
  ``.../bgp/neighbors`` (``BgpNeighborConfig.neighbor_address``).

Not public, and so treated as could-not-observe rather than guessed: no real captured response of
the status or advertised-routes calls is in the public samples; an entry without
``connection_state``, a state outside the documented enum, ``UNKNOWN`` (NSX itself does not know)
or a routes answer without a routes list is an error naming the API, never a verdict.

A range counts as advertised when one advertised prefix contains it (``172.16.0.0/16`` covers
``172.16.1.0/24``); more-specific prefixes alone (a /32 per VIP) do not, and are named.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Network, ip_network
from typing import Any

from wcp_acceptance.finding import Finding, ObservationError, failed, passed

CHECK_ID = "WCP-BGP-001"
STATES = ("INVALID", "IDLE", "CONNECT", "ACTIVE", "OPEN_SENT", "OPEN_CONFIRM", "ESTABLISHED", "UNKNOWN")
STATE_CAUSES = {
    "IDLE": "the Tier-0 does not even try to connect (the neighbour or the Tier-0's BGP disabled, or waiting after an "
            "error)",
    "CONNECT": "the TCP connection to port 179 does not complete (routing to the neighbour, or a firewall)",
    "ACTIVE": "the Tier-0 keeps trying and the neighbour refuses or does not answer on TCP 179 (the router's BGP "
              "session is disabled or not configured for this peer, or TCP 179 is filtered)",
    "OPEN_SENT": "the neighbour does not answer the Tier-0's OPEN (AS numbers or BGP identifiers do not match)",
    "OPEN_CONFIRM": "the OPEN exchange does not complete (hold timers, capabilities or authentication)",
    "INVALID": "NSX reports the neighbour configuration invalid",
}


@dataclass(frozen=True)
class BgpNeighbour:
    """One neighbour of the Tier-0 as NSX reports it, with what the Tier-0 advertises to it (None: not read)."""

    address: str
    state: str
    remote_as: str
    source: str
    edge: str
    locale_service: str
    advertised: tuple[str, ...] | None = None

    def __str__(self) -> str:
        return f"{self.address} (AS {self.remote_as or '?'}) {self.state}"


@dataclass(frozen=True)
class Tier0:
    """The Supervisor's Tier-0: its id, how it was found, and its locale services as NSX lists them."""

    id: str
    how: str
    locale_services: tuple[Mapping[str, Any], ...]


@dataclass(frozen=True)
class BgpObservation:
    """The Tier-0's neighbours and how the Tier-0 was found, for WCP-BGP-001."""

    tier0: str
    how: str
    neighbours: tuple[BgpNeighbour, ...]
    ingress: IPv4Network
    egress: IPv4Network
    evidence: tuple[str, ...] = ()


def tier0_from_tier1s(tier1s: Iterable[Mapping[str, Any]]) -> tuple[str | None, list[str]]:
    """The one Tier-0 id the NCP-tagged Tier-1 gateways name (``tier0_path``), and every path seen."""
    paths = []
    for tier1 in tier1s:
        tags = tier1.get("tags") if isinstance(tier1.get("tags"), list) else []
        ncp = any(isinstance(t, Mapping) and t.get("scope") == "ncp/cluster" for t in tags or [])
        path = tier1.get("tier0_path")
        if ncp and isinstance(path, str) and path.startswith("/infra/tier-0s/"):
            paths.append(path)
    distinct = sorted(set(paths))
    return (distinct[0].rsplit("/", 1)[1] if len(distinct) == 1 else None), distinct


def parse_status(page: object, api: str, locale_service: str) -> list[BgpNeighbour]:
    """``PolicyBgpNeighborsStatusListResult`` -> neighbours; a shape NSX does not document is an error."""
    if not isinstance(page, Mapping) or not isinstance(page.get("results"), list):
        raise ObservationError(api, "NSX did not answer a neighbour status list (no 'results' array)",
                               (repr(page)[:400],))
    out: list[BgpNeighbour] = []
    for index, entry in enumerate(page["results"]):
        if not isinstance(entry, Mapping):
            raise ObservationError(api, f"neighbour status {index + 1} is a {type(entry).__name__}, not an object",
                                   (repr(entry)[:200],))
        address, state = entry.get("neighbor_address"), entry.get("connection_state")
        if not isinstance(address, str) or not address:
            raise ObservationError(api, f"neighbour status {index + 1} has no neighbor_address", (repr(entry)[:300],))
        if not isinstance(state, str) or state not in STATES:
            raise ObservationError(api, f"neighbour {address}: connection_state {state!r} is not one of NSX's "
                                        f"documented states ({', '.join(STATES)})", (repr(entry)[:300],))
        if state == "UNKNOWN":
            raise ObservationError(api, f"NSX reports the state of neighbour {address} as UNKNOWN (it could not "
                                        "ask the edge)", (repr(entry)[:300],))
        out.append(BgpNeighbour(address, state, str(entry.get("remote_as_number") or ""),
                                str(entry.get("source_address") or ""), str(entry.get("edge_path") or ""),
                                locale_service))
    return out


def parse_advertised(page: object, api: str) -> tuple[str, ...]:
    """``BgpNeighborRoutesListResult`` -> every advertised network (all edge nodes); a bad shape is an error."""
    if not isinstance(page, Mapping) or not isinstance(page.get("results"), list):
        raise ObservationError(api, "NSX did not answer an advertised-routes list (no 'results' array)",
                               (repr(page)[:400],))
    networks: list[str] = []
    for entry in page["results"]:
        per_node = entry.get("edge_node_routes", entry.get("egde_node_routes")) if isinstance(entry, Mapping) else None
        if not isinstance(per_node, list):
            raise ObservationError(api, "an advertised-routes entry has neither edge_node_routes nor "
                                        "egde_node_routes", (repr(entry)[:300],))
        for node in per_node:
            routes = node.get("routes") if isinstance(node, Mapping) else None
            if not isinstance(routes, list):
                raise ObservationError(api, "an edge node's advertised routes are not a list", (repr(node)[:300],))
            for route in routes:
                network = route.get("network") if isinstance(route, Mapping) else None
                if not isinstance(network, str):
                    raise ObservationError(api, "an advertised route has no network", (repr(route)[:200],))
                networks.append(network)
    return tuple(dict.fromkeys(networks))


def _covering(networks: Sequence[str], wanted: IPv4Network) -> tuple[str | None, list[str]]:
    """The advertised prefix containing ``wanted`` (None), and the more-specific ones inside it."""
    inside: list[str] = []
    for text in networks:
        try:
            net = ip_network(text, strict=False)
        except ValueError:
            continue
        if not isinstance(net, IPv4Network):
            continue
        if wanted.subnet_of(net):
            return text, []
        if net.subnet_of(wanted):
            inside.append(text)
    return None, inside


def check_bgp(obs: BgpObservation, target: str) -> Finding:
    """Every neighbour ESTABLISHED, and the ingress and egress ranges advertised to each of them."""
    expected = (f"every BGP neighbour of Tier-0 {obs.tier0} ESTABLISHED, advertised the ingress {obs.ingress} and "
                f"egress {obs.egress} ranges")
    evidence = [f"Tier-0 {obs.tier0} ({obs.how})", *(f"neighbour {n} via {n.source or '?'} on {n.edge or '?'} "
                                                        f"(locale service {n.locale_service}); advertised: "
                                                        f"{', '.join(n.advertised) if n.advertised else '-'}"
                                                        for n in obs.neighbours), *obs.evidence]
    if not obs.neighbours:
        return failed(CHECK_ID, target, expected, f"Tier-0 {obs.tier0} reports no BGP neighbour",
                      "the Tier-0 has no BGP neighbour, so the physical network learns neither range from it (a "
                      "Tier-0 routed by static routes on the physical side has nothing to check here: exclude "
                      "WCP-BGP-001 in the inventory)", evidence)
    down = [n for n in obs.neighbours if n.state != "ESTABLISHED"]
    if down:
        causes = "; ".join(f"{n.address} is {n.state}: {STATE_CAUSES.get(n.state, 'not established')}" for n in down)
        return failed(CHECK_ID, target, expected,
                      f"{len(down)} of {len(obs.neighbours)} neighbour(s) not established: "
                      f"{', '.join(str(n) for n in down)}",
                      f"{causes}. While no session is up the physical router does not route {obs.ingress} (the "
                      f"API VIP) and {obs.egress} (the egress SNAT IP) to the edge", evidence)
    missing: list[str] = []
    for neighbour in obs.neighbours:
        advertised = neighbour.advertised or ()
        for role, wanted in (("ingress", obs.ingress), ("egress", obs.egress)):
            cover, inside = _covering(advertised, wanted)
            if cover is None:
                extra = f" (only the more specific {', '.join(inside)})" if inside else ""
                missing.append(f"{role} {wanted} not advertised to {neighbour.address}{extra}")
    if missing:
        return failed(CHECK_ID, target, expected, "; ".join(missing),
                      "the Tier-0's route redistribution does not export that range (NCP's Tier-1 NAT / LB VIP "
                      "routes, or a summary route on the Tier-0), so the physical router cannot reach it", evidence)
    shown = ", ".join(f"{n} advertising {', '.join(n.advertised or ())}" for n in obs.neighbours)
    return passed(CHECK_ID, target, expected, shown)
