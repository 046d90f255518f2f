"""An NSX list whose pages add up to fewer objects than its result_count is an error, not a shorter list."""

from __future__ import annotations

import pytest

from tests.lying_apis.conftest import LyingHandler, LyingSite, Request, send_json
from wcp_acceptance.finding import ObservationError


def _pages(*pages: dict[str, object]) -> object:
    """Answer page n (by cursor ``p<n>``) with ``pages[n]``."""
    def answer(handler: LyingHandler, request: Request) -> None:
        index = int(request.query.get("cursor", "p0")[1:])
        send_json(handler, pages[index])
    return answer


def _objects(first: int, count: int) -> list[dict[str, object]]:
    return [{"id": f"obj-{i}"} for i in range(first, first + count)]


def test_pages_short_of_result_count_are_an_error_that_counts_both(lying_site: LyingSite) -> None:
    _app, url = lying_site.start(_pages(  # type: ignore[arg-type]
        {"results": _objects(0, 1000), "result_count": 2032, "cursor": "p1"},
        {"results": _objects(1000, 16), "result_count": 2032},
    ))
    with pytest.raises(ObservationError) as caught:
        lying_site.nsx(url).virtual_servers()
    assert "NSX returned 1,016 of 2,032 virtual servers" in caught.value.cause
    assert "2 pages" in caught.value.cause


def test_nat_rules_short_of_result_count_are_an_error(lying_site: LyingSite) -> None:
    _app, url = lying_site.start(_pages({"results": _objects(0, 3), "result_count": 5}))  # type: ignore[arg-type]
    with pytest.raises(ObservationError, match="NSX returned 3 of 5 NAT rules"):
        lying_site.nsx(url).nat_rules("t1")


def test_a_whole_list_is_returned(lying_site: LyingSite) -> None:
    _app, url = lying_site.start(_pages(  # type: ignore[arg-type]
        {"results": _objects(0, 2), "result_count": 4, "cursor": "p1"},
        {"results": _objects(2, 2), "result_count": 4},
    ))
    assert [vs["id"] for vs in lying_site.nsx(url).virtual_servers()] == [f"obj-{i}" for i in range(4)]


def test_objects_deleted_while_paging_are_not_a_short_list(lying_site: LyingSite) -> None:
    """result_count falls when objects go between pages; the list is whole for the smaller count."""
    _app, url = lying_site.start(_pages(  # type: ignore[arg-type]
        {"results": _objects(0, 2), "result_count": 4, "cursor": "p1"},
        {"results": _objects(2, 1), "result_count": 3},
    ))
    assert len(lying_site.nsx(url).tier1s()) == 3


def test_a_list_item_that_is_not_an_object_is_an_error_naming_it(lying_site: LyingSite) -> None:
    _app, url = lying_site.start(_pages({"results": [{"id": "a"}, 7], "result_count": 2}))  # type: ignore[arg-type]
    with pytest.raises(ObservationError, match=r"answered a int where an object belongs \(page 1, item 2\)"):
        lying_site.nsx(url).virtual_servers()


def test_kubernetes_items_that_are_not_objects_are_an_error(lying_site: LyingSite) -> None:
    def answer(handler: LyingHandler, request: Request) -> None:  # noqa: ARG001
        send_json(handler, {"kind": "ServiceList", "metadata": {}, "items": [{}, "svc"]})

    _app, url = lying_site.start(answer)  # type: ignore[arg-type]
    with pytest.raises(ObservationError, match="page 1 of the list has 'items' that are not a list of objects"):
        lying_site.kube(url).cluster_ip_service_ports()
