"""A cursor or continue token seen before ends a list at once; every list is bounded by pages and by
time, and the error states both bounds."""

from __future__ import annotations

import itertools
import time

import pytest

import wcp_acceptance.transport.kube as kube_module
from tests.lying_apis.conftest import LyingHandler, LyingSite, Request, send_json
from wcp_acceptance.finding import ObservationError

VS = "/policy/api/v1/infra/lb-virtual-servers"


def test_nsx_cursor_that_repeats_stops_on_its_second_sight(lying_site: LyingSite) -> None:
    def answer(handler: LyingHandler, request: Request) -> None:  # noqa: ARG001
        send_json(handler, {"results": [{"id": "vs"}], "cursor": "same"})

    app, url = lying_site.start(answer)
    with pytest.raises(ObservationError, match="returned cursor 'same' twice"):
        lying_site.nsx(url).virtual_servers()
    assert len(app.gets(VS)) == 2


def test_nsx_new_cursor_forever_is_bounded_by_time(lying_site: LyingSite) -> None:
    counter = itertools.count()

    def answer(handler: LyingHandler, request: Request) -> None:  # noqa: ARG001
        send_json(handler, {"results": [{"id": "vs"}], "cursor": f"c{next(counter)}"})

    _app, url = lying_site.start(answer)
    started = time.monotonic()
    with pytest.raises(ObservationError) as caught:
        lying_site.nsx(url, list_budget_s=1.0).virtual_servers()
    assert time.monotonic() - started < 3
    assert "a list is bounded by 1,000 pages and 1 s" in caught.value.cause


def test_nsx_new_cursor_forever_is_bounded_by_pages(lying_site: LyingSite) -> None:
    counter = itertools.count()

    def answer(handler: LyingHandler, request: Request) -> None:  # noqa: ARG001
        send_json(handler, {"results": [{"id": "vs"}], "cursor": f"c{next(counter)}"})

    app, url = lying_site.start(answer)
    with pytest.raises(ObservationError, match="after 5 pages .*bounded by 5 pages and 120 s"):
        lying_site.nsx(url, max_pages=5).virtual_servers()
    assert len(app.gets(VS)) == 5


def test_kubernetes_continue_token_that_repeats_stops_on_its_second_sight(lying_site: LyingSite) -> None:
    def answer(handler: LyingHandler, request: Request) -> None:  # noqa: ARG001
        send_json(handler, {"kind": "ServiceList", "metadata": {"continue": "again"}, "items": [{}]})

    app, url = lying_site.start(answer)
    with pytest.raises(ObservationError, match="same 'continue' token again on page 2"):
        lying_site.kube(url).services()
    assert len(app.gets("/api/v1/services")) == 2


def test_kubernetes_new_token_forever_is_bounded_by_time(lying_site: LyingSite) -> None:
    counter = itertools.count()

    def answer(handler: LyingHandler, request: Request) -> None:  # noqa: ARG001
        send_json(handler, {"kind": "ServiceList", "metadata": {"continue": f"t{next(counter)}"}, "items": [{}]})

    _app, url = lying_site.start(answer)
    reader = lying_site.kube(url, list_budget_s=1.0)
    started = time.monotonic()
    with pytest.raises(ObservationError) as caught:
        reader.services()
    assert time.monotonic() - started < 3
    assert "a list is bounded by 1,000 pages and 1 s" in caught.value.cause


def test_kubernetes_new_token_forever_is_bounded_by_pages(lying_site: LyingSite,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kube_module, "MAX_PAGES", 4)
    counter = itertools.count()

    def answer(handler: LyingHandler, request: Request) -> None:  # noqa: ARG001
        send_json(handler, {"kind": "ServiceList", "metadata": {"continue": f"t{next(counter)}"}, "items": [{}]})

    app, url = lying_site.start(answer)
    with pytest.raises(ObservationError, match="after 4 pages of 500 .*bounded by 4 pages and 120 s"):
        lying_site.kube(url).services()
    assert len(app.gets("/api/v1/services")) == 4
