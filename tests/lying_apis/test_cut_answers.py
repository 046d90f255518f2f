"""An answer that breaks off mid-transfer is an error naming the API, the request and the exception,
for every reader, and never an exception of the HTTP stack."""

from __future__ import annotations

import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler

import pytest

from tests.lying_apis.conftest import (
    PASSWORD,
    TOKEN,
    LyingHandler,
    LyingSite,
    Request,
    send_cut_chunked,
    send_cut_length,
    send_json,
    send_reset_after_headers,
)
from wcp_acceptance.finding import ObservationError

Cut = Callable[[BaseHTTPRequestHandler, object], None]
CUTS: dict[str, tuple[Cut, str]] = {
    "chunked body cut": (send_cut_chunked, "ChunkedEncodingError"),
    "body shorter than Content-Length": (send_cut_length, "ChunkedEncodingError"),
    "reset after the headers": (send_reset_after_headers, "ChunkedEncodingError"),
}
KUBE_CUTS: dict[str, str] = {
    "chunked body cut": "ProtocolError",
    "body shorter than Content-Length": "ProtocolError",
    "reset after the headers": "ProtocolError",
}
BIG_LIST = {"results": [{"id": f"vs-{i}", "ip_address": "10.96.0.1"} for i in range(400)], "result_count": 400}
BIG_K8S = {"kind": "ServiceList", "metadata": {}, "items": [{"metadata": {"name": f"s{i}"}} for i in range(400)]}


def _cutting(cut: Cut, body: object) -> Callable[[LyingHandler, Request], None]:
    def answer(handler: LyingHandler, request: Request) -> None:  # noqa: ARG001 - every request is cut
        cut(handler, body)
    return answer


def _assert_names(error: ObservationError, api: str, path: str, exception: str) -> None:
    text = str(error)
    assert api in error.target, f"expected the API {api} in the target; observed {error.target!r}"
    assert path in text, f"expected the path {path} in the error; observed {text!r}"
    assert exception in error.cause, f"expected {exception} in the cause; observed {error.cause!r}"
    assert "broke off mid-transfer" in error.cause
    assert len(text.splitlines()) <= 2, f"a one-line story, not a traceback; observed {len(text.splitlines())} lines"
    assert PASSWORD not in text
    assert TOKEN not in text


@pytest.mark.parametrize("cut", CUTS, ids=str)
def test_nsx_list_cut_mid_answer_is_an_error_naming_the_request(lying_site: LyingSite, cut: str) -> None:
    send, exception = CUTS[cut]
    _app, url = lying_site.start(_cutting(send, BIG_LIST))
    started = time.monotonic()
    with pytest.raises(ObservationError) as caught:
        lying_site.nsx(url).virtual_servers()
    assert time.monotonic() - started < 3
    _assert_names(caught.value, "NSX", "/policy/api/v1/infra/lb-virtual-servers", exception)


@pytest.mark.parametrize("cut", CUTS, ids=str)
def test_nsx_nat_rules_cut_mid_answer_is_an_observation_error(lying_site: LyingSite, cut: str) -> None:
    """The egress checks keep NSX as optional evidence by catching ObservationError: nothing else may escape."""
    send, exception = CUTS[cut]
    _app, url = lying_site.start(_cutting(send, BIG_LIST))
    with pytest.raises(ObservationError) as caught:
        lying_site.nsx(url).nat_rules("t1-domain-c8")
    _assert_names(caught.value, "NSX", "/nat/USER/nat-rules", exception)


@pytest.mark.parametrize("cut", CUTS, ids=str)
def test_vcenter_answer_cut_mid_transfer_is_an_error(lying_site: LyingSite, cut: str) -> None:
    send, exception = CUTS[cut]
    _app, url = lying_site.start(_cutting(send, [{"cluster": f"domain-c{i}"} for i in range(300)]))
    with pytest.raises(ObservationError) as caught:
        lying_site.vcenter(url).clusters()
    _assert_names(caught.value, "vCenter", "/api/vcenter/namespace-management/clusters", exception)


@pytest.mark.parametrize("cut", CUTS, ids=str)
def test_kubernetes_list_cut_mid_answer_is_an_error(lying_site: LyingSite, cut: str) -> None:
    send, _ = CUTS[cut]
    _app, url = lying_site.start(_cutting(send, BIG_K8S))
    with pytest.raises(ObservationError) as caught:
        lying_site.kube(url).services()
    _assert_names(caught.value, "Kubernetes", "/api/v1/services", KUBE_CUTS[cut])


def test_a_cut_answer_does_not_mark_the_api_down(lying_site: LyingSite) -> None:
    """A cut answer came from a live server: the next request is sent, and may succeed."""
    cuts = iter([True])

    def answer(handler: LyingHandler, request: Request) -> None:  # noqa: ARG001
        if next(cuts, False):
            send_cut_chunked(handler, BIG_LIST)
        else:
            send_json(handler, BIG_LIST)

    app, url = lying_site.start(answer)
    reader = lying_site.nsx(url)
    with pytest.raises(ObservationError):
        reader.virtual_servers()
    assert len(reader.virtual_servers()) == 400
    assert len(app.gets("/policy/api/v1/infra/lb-virtual-servers")) == 2
