"""WCP-BGP-001: the Tier-0's BGP neighbours and what it advertises, its messages and the shapes it refuses.

The answers are the NSX simulator's (lab.sim.nsx_routing, in the documented shapes) and hand-made
variants of them: a lying or half answer is an error naming the API, never a verdict."""

from __future__ import annotations

import copy
from ipaddress import IPv4Network
from typing import Any

import pytest

from lab.bird import parse_protocol_state
from lab.model import SupervisorModel
from lab.sim.nsx_routing import advertised_routes, neighbor_status
from tests.support.inventories import EXAMPLE, EXAMPLE_ENV
from wcp_acceptance.api_reads import nsx_tier0
from wcp_acceptance.checks.bgp import (
    BgpNeighbour,
    BgpObservation,
    check_bgp,
    parse_advertised,
    parse_status,
    tier0_from_tier1s,
)
from wcp_acceptance.finding import ObservationError
from wcp_acceptance.inventory import Inventory, load_inventory
from wcp_acceptance.transport.http import ApiError

API = "NSX GET /infra/tier-0s/t0-gw/locale-services/default/bgp/neighbors/status"
INGRESS, EGRESS = IPv4Network("172.16.1.0/24"), IPv4Network("172.16.2.0/24")


def model(state: str = "ESTABLISHED", advertised: list[str] | None = None) -> SupervisorModel:
    m = SupervisorModel.seed()
    m.routing.bgp_state = state
    m.routing.advertised = ["172.16.0.0/16"] if advertised is None else advertised
    return m


def observe(m: SupervisorModel) -> BgpObservation:
    found = parse_status(neighbor_status(m), API, "default")
    found = [BgpNeighbour(n.address, n.state, n.remote_as, n.source, n.edge, n.locale_service,
                          parse_advertised(advertised_routes(m), "routes") if n.state == "ESTABLISHED" else None)
             for n in found]
    return BgpObservation("t0-gw", "named by the inventory (nsx.tier0_gateway)", tuple(found), INGRESS, EGRESS)


def test_an_established_neighbour_advertising_a_covering_prefix_passes() -> None:
    finding = check_bgp(observe(model()), "supervisor-1")
    assert finding.ok
    assert finding.observed == "192.168.255.1 (AS 65001) ESTABLISHED advertising 172.16.0.0/16"


def test_a_neighbour_that_is_not_established_fails_naming_its_state_and_what_breaks() -> None:
    finding = check_bgp(observe(model("ACTIVE")), "supervisor-1")
    assert not finding.ok
    assert finding.observed == "1 of 1 neighbour(s) not established: 192.168.255.1 (AS 65001) ACTIVE"
    assert "refuses or does not answer on TCP 179" in finding.cause
    assert "does not route 172.16.1.0/24 (the API VIP) and 172.16.2.0/24 (the egress SNAT IP)" in finding.cause
    assert any(line.startswith("Tier-0 t0-gw (named by the inventory") for line in finding.evidence)


def test_a_range_advertised_only_as_more_specific_prefixes_fails_and_names_them() -> None:
    finding = check_bgp(observe(model(advertised=["172.16.1.2/32", "172.16.2.0/24"])), "supervisor-1")
    assert not finding.ok
    assert finding.observed == ("ingress 172.16.1.0/24 not advertised to 192.168.255.1 (only the more specific "
                                "172.16.1.2/32)")
    assert "route redistribution" in finding.cause


def test_exact_ranges_count_as_advertised() -> None:
    assert check_bgp(observe(model(advertised=["172.16.1.0/24", "172.16.2.0/24"])), "s").ok


def test_no_neighbour_fails_and_says_how_to_exclude_a_statically_routed_tier0() -> None:
    obs = BgpObservation("t0-gw", "x", (), INGRESS, EGRESS)
    finding = check_bgp(obs, "supervisor-1")
    assert not finding.ok
    assert finding.observed == "Tier-0 t0-gw reports no BGP neighbour"
    assert "exclude WCP-BGP-001" in finding.cause


@pytest.mark.parametrize(("mutate", "cause"), [
    pytest.param(lambda page: page.pop("results"), "no 'results' array", id="no results"),
    pytest.param(lambda page: page["results"][0].pop("connection_state"), "connection_state None is not one of",
                 id="no state"),
    pytest.param(lambda page: page["results"][0].update(connection_state="UP"), "'UP' is not one of", id="bad state"),
    pytest.param(lambda page: page["results"][0].update(connection_state="UNKNOWN"), "as UNKNOWN", id="unknown"),
    pytest.param(lambda page: page["results"][0].pop("neighbor_address"), "no neighbor_address", id="no address"),
    pytest.param(lambda page: page["results"].append("x"), "is a str, not an object", id="not an object"),
])
def test_a_status_answer_nsx_does_not_document_is_an_error_naming_the_api(mutate: Any, cause: str) -> None:
    page = copy.deepcopy(neighbor_status(model()))
    mutate(page)
    with pytest.raises(ObservationError) as caught:
        parse_status(page, API, "default")
    assert caught.value.target == API
    assert cause in caught.value.cause


def test_advertised_routes_read_both_spellings_and_refuse_a_missing_routes_list() -> None:
    page = advertised_routes(model())
    assert parse_advertised(page, "r") == ("172.16.0.0/16",)
    old = copy.deepcopy(page)
    old["results"][0]["egde_node_routes"] = old["results"][0].pop("edge_node_routes")
    assert parse_advertised(old, "r") == ("172.16.0.0/16",)
    broken = copy.deepcopy(page)
    broken["results"][0]["edge_node_routes"][0].pop("routes")
    with pytest.raises(ObservationError, match="not a list"):
        parse_advertised(broken, "r")
    with pytest.raises(ObservationError, match="neither edge_node_routes"):
        parse_advertised({"results": [{}]}, "r")


def test_the_tier0_comes_from_the_ncp_tier1s_only_when_they_agree() -> None:
    ncp = [{"scope": "ncp/cluster", "tag": "c"}]
    one = [{"tags": ncp, "tier0_path": "/infra/tier-0s/t0-gw"}, {"tags": [], "tier0_path": "/infra/tier-0s/other"}]
    assert tier0_from_tier1s(one) == ("t0-gw", ["/infra/tier-0s/t0-gw"])
    two = [*one, {"tags": ncp, "tier0_path": "/infra/tier-0s/t0-b"}]
    assert tier0_from_tier1s(two)[0] is None
    assert tier0_from_tier1s([{"tags": ncp}]) == (None, [])


def test_birds_protocol_lines_map_to_nsx_states() -> None:
    up = ("BIRD 2.0.12 ready.\nName       Proto      Table      State  Since         Info\n"
          "tier0_uplink BGP        ---        up     02:22:31.652  Established\n"
          "  BGP state:          Established\n")
    assert parse_protocol_state(up, "tier0_uplink").nsx_state == "ESTABLISHED"
    down = ("tier0_uplink BGP        ---        start  02:22:38.635  Active        Socket: Connection refused\n"
            "  BGP state:          Active\n    Last error:       Socket: Connection refused\n")
    state = parse_protocol_state(down, "tier0_uplink")
    assert (state.nsx_state, state.info) == ("ACTIVE", "Socket: Connection refused")


class _Nsx:
    """An NSX reader stand-in: a Tier-1 list, and a locale-services list that answers ``status``."""

    def __init__(self, tier1s: list[dict[str, Any]], status: int | None = None) -> None:
        self._tier1s, self._status = tier1s, status

    def tier1s(self) -> list[dict[str, Any]]:
        return self._tier1s

    def list(self, path: str) -> list[dict[str, Any]]:
        if self._status is not None:
            raise ApiError("NSX https://nsx", f"GET {path} answered {self._status}", status=self._status)
        return [{"id": "default", "edge_cluster_path": "/infra/sites/default/enforcement-points/default/x"}]


def _inventory(monkeypatch: pytest.MonkeyPatch, tier0: str | None) -> Inventory:
    for key, value in EXAMPLE_ENV.items():
        monkeypatch.setenv(key, value)
    inventory = load_inventory(EXAMPLE)
    return inventory.model_copy(update={"nsx": inventory.nsx.model_copy(update={"tier0_gateway": tier0})})


def test_the_tier0_is_the_inventorys_or_the_ncp_tier1s_and_a_wrong_id_says_what_to_give(
        monkeypatch: pytest.MonkeyPatch) -> None:
    ncp = [{"tags": [{"scope": "ncp/cluster", "tag": "c"}], "tier0_path": "/infra/tier-0s/t0-gw"}]
    found = nsx_tier0(_inventory(monkeypatch, None), _Nsx(ncp))  # type: ignore[arg-type]
    assert (found.id, found.how) == ("t0-gw", "the tier0_path of the NCP Tier-1 gateways")
    with pytest.raises(ObservationError, match="name no tier0_path; set nsx.tier0_gateway"):
        nsx_tier0(_inventory(monkeypatch, None), _Nsx([]))  # type: ignore[arg-type]
    with pytest.raises(ObservationError, match="must be the Tier-0's id"):
        nsx_tier0(_inventory(monkeypatch, "My Tier-0"), _Nsx(ncp, status=404))  # type: ignore[arg-type]
