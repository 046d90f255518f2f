"""NsxReader: cursor paging with the fewest GETs, search cursors, manager failover, session lifecycle."""

from __future__ import annotations

import socket
import time
from typing import Any

import pytest

from lab.model import SupervisorModel
from tests.sim.conftest import RunningNsx
from wcp_acceptance.transport.http import ApiError, ApiUnreachable
from wcp_acceptance.transport.nsx import NsxReader, policy_path

VS = "/policy/api/v1/infra/lb-virtual-servers"


def reader_for(sim: RunningNsx, *urls: str, **kwargs: Any) -> NsxReader:
    return NsxReader(list(urls) or [sim.url], sim.ca_file, sim.username, sim.password, **kwargs)


def dead_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"https://127.0.0.1:{sock.getsockname()[1]}"


def scaled_to(total: int) -> SupervisorModel:
    """A model with exactly ``total`` virtual servers (the seed's plus generated ClusterIP Services)."""
    model = SupervisorModel.scaled(total - len(SupervisorModel.seed().virtual_servers))
    assert len(model.virtual_servers) == total
    return model


def test_2500_virtual_servers_take_exactly_three_gets(nsx_sim: RunningNsx) -> None:
    model = scaled_to(2500)
    nsx_sim.app.reset(model)
    reader = reader_for(nsx_sim)
    servers = reader.virtual_servers()
    assert len(servers) == 2500
    assert {vs["id"] for vs in servers} == {vs.id for vs in model.virtual_servers}
    gets = nsx_sim.app.requests_to(VS)
    assert len(gets) == 3
    assert [g.query.get("page_size") for g in gets] == ["1000"] * 3
    assert "cursor" not in gets[0].query
    assert all("cursor" in g.query for g in gets[1:])
    assert reader.calls == 4  # one session login and three pages
    reader.close()


def test_20000_virtual_servers_in_20_pages_is_fast(nsx_sim: RunningNsx) -> None:
    nsx_sim.app.reset(scaled_to(20_000))
    reader = reader_for(nsx_sim, auth="basic", timeout=30)
    start = time.perf_counter()
    reader.get("/infra/lb-virtual-servers", {"page_size": 1})  # the simulator serialises each object once
    built = time.perf_counter() - start
    nsx_sim.app.clear_log()
    start = time.perf_counter()
    servers = reader.virtual_servers()
    paged = time.perf_counter() - start
    print(f"\n20,000 virtual servers: simulator build {built:.2f} s, "
          f"{len(nsx_sim.app.requests_to(VS))} pages read in {paged:.2f} s")
    assert len(servers) == 20_000
    assert len({vs["id"] for vs in servers}) == 20_000
    assert len(nsx_sim.app.requests_to(VS)) == 20
    assert built + paged < 20.0  # a few seconds on two cores; the bound only catches a pathological slowdown


def test_page_size_is_sent_and_bounded(nsx_sim: RunningNsx) -> None:
    reader = reader_for(nsx_sim, auth="basic", page_size=7)
    assert len(reader.virtual_servers()) == len(nsx_sim.app.model.virtual_servers)
    pages = nsx_sim.app.requests_to(VS)
    assert len(pages) == -(-len(nsx_sim.app.model.virtual_servers) // 7)
    assert {p.query["page_size"] for p in pages} == {"7"}
    for bad in (0, 1001):
        with pytest.raises(ValueError, match="page_size"):
            reader_for(nsx_sim, page_size=bad)


def test_search_stops_when_the_cursor_reaches_result_count(nsx_sim: RunningNsx) -> None:
    reader = reader_for(nsx_sim, auth="basic", page_size=10)
    dlb = [vs for vs in nsx_sim.app.model.virtual_servers if vs.created_for == "DLB"]
    found = reader.search("resource_type:LBVirtualServer AND tags.scope:ncp\\/created_for AND tags.tag:DLB")
    assert {vs["id"] for vs in found} == {vs.id for vs in dlb}
    # every search page carries a cursor; the reader stops at result_count instead of asking for an empty page
    assert len(nsx_sim.app.requests_to("/policy/api/v1/search/query")) == -(-len(dlb) // 10)


def test_a_repeated_cursor_is_an_error_not_a_loop(nsx_sim: RunningNsx, monkeypatch: pytest.MonkeyPatch) -> None:
    reader = reader_for(nsx_sim, auth="basic")
    monkeypatch.setattr(reader, "get", lambda path, params=None: {"results": [{"id": "a"}], "cursor": "same",
                                                                  "result_count": 5000})
    with pytest.raises(ApiError, match="returned cursor 'same' twice"):
        reader.list("/infra/lb-virtual-servers")


def test_convenience_lists_and_objects(nsx_sim: RunningNsx) -> None:
    model = nsx_sim.app.model
    reader = reader_for(nsx_sim)
    assert {s["id"] for s in reader.lb_services()} == {model.dlb_lb_service_id, f"lbs_{model.system_tier1}"}
    assert len(reader.lb_pools()) == len(model.virtual_servers)
    assert sorted(t["id"] for t in reader.tier1s()) == sorted([model.system_tier1,
                                                               *(ns.tier1 for ns in model.vsphere_namespaces)])
    assert sorted(r["action"] for r in reader.nat_rules(model.system_tier1)) == ["NO_SNAT", "NO_SNAT", "SNAT"]
    assert reader.nat_rules(model.system_tier1, "DEFAULT") == []
    with pytest.raises(ValueError, match="NAT section"):
        reader.nat_rules(model.system_tier1, "user")
    dlb = reader.get(f"/infra/lb-services/{model.dlb_lb_service_id}")  # the id holds ':' (domain-c8:<uuid>)
    assert dlb["size"] == "DLB"
    assert reader.version()["product_version"] == nsx_sim.app.product_version
    reader.close()


def test_policy_paths() -> None:
    assert policy_path("/infra/tier-1s") == "/policy/api/v1/infra/tier-1s"
    assert policy_path("infra/tier-1s") == "/policy/api/v1/infra/tier-1s"
    assert policy_path("/api/v1/node/version") == "/api/v1/node/version"
    assert policy_path("/policy/api/v1/search/query") == "/policy/api/v1/search/query"


def test_an_unreachable_manager_is_skipped(nsx_sim: RunningNsx) -> None:
    down = dead_url()
    reader = reader_for(nsx_sim, down, nsx_sim.url, timeout=2)
    assert len(reader.virtual_servers()) == len(nsx_sim.app.model.virtual_servers)
    assert reader.manager == nsx_sim.url
    before = reader.calls
    reader.tier1s()
    assert reader.calls == before + 1  # the manager that answered is asked first from then on


def test_all_managers_unreachable_names_each(nsx_sim: RunningNsx) -> None:
    first, second = dead_url(), dead_url()
    reader = reader_for(nsx_sim, first, second, timeout=2)
    start = time.monotonic()
    with pytest.raises(ApiUnreachable) as error:
        reader.tier1s()
    assert time.monotonic() - start < 4
    assert first.removeprefix("https://") in error.value.cause
    assert second.removeprefix("https://") in error.value.cause


def test_session_login_once_relogin_on_expiry_and_logout_on_close(nsx_sim: RunningNsx) -> None:
    reader = reader_for(nsx_sim)
    reader.tier1s()
    reader.lb_services()
    assert len(nsx_sim.app.requests_to("/api/session/create", "POST")) == 1
    assert len(nsx_sim.app.sessions) == 1
    nsx_sim.app.sessions.clear()  # the manager forgot the session (timeout, restart)
    assert reader.tier1s()
    assert len(nsx_sim.app.requests_to("/api/session/create", "POST")) == 2
    reader.close()
    assert nsx_sim.app.sessions == {}
    assert len(nsx_sim.app.requests_to("/api/session/destroy", "POST")) == 1


def test_basic_auth_sends_no_session_requests(nsx_sim: RunningNsx) -> None:
    with reader_for(nsx_sim, auth="basic") as reader:
        reader.tier1s()
    assert {r.method for r in nsx_sim.app.requests} == {"GET"}


def test_collect_converts_each_page_as_it_arrives_and_keeps_only_the_converted(nsx_sim: RunningNsx) -> None:
    nsx_sim.app.reset(scaled_to(2500))
    reader = reader_for(nsx_sim)
    seen_calls: list[int] = []

    def convert(obj: dict[str, Any]) -> str:
        seen_calls.append(reader.calls)
        return str(obj["id"])

    ids = reader.collect("/infra/lb-virtual-servers", convert)
    assert len(ids) == 2500
    assert ids == [vs["id"] for vs in reader.virtual_servers()]
    # converted page by page: the first page's objects before the second page was asked for
    assert seen_calls[0] < seen_calls[-1]

