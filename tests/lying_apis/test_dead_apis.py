"""An API that could not be connected to is not asked again this run: one connect timeout (or refusal),
then every later call errors at once, saying when it did not answer."""

from __future__ import annotations

import re
import time

import pytest

from tests.lying_apis.conftest import LyingSite
from wcp_acceptance.finding import ObservationError

WHEN = r"did not answer at \d\d:\d\d:\d\d UTC"


def test_refused_nsx_is_asked_once(lying_site: LyingSite, closed_port_url: str) -> None:
    reader = lying_site.nsx(closed_port_url)
    with pytest.raises(ObservationError, match="Connection refused"):
        reader.virtual_servers()
    sent = reader.calls
    for read in (reader.tier1s, reader.lb_services, lambda: reader.nat_rules("t1")):
        with pytest.raises(ObservationError) as caught:
            read()
        assert re.search(f"the NSX API at {closed_port_url} {WHEN} .*not asked again this run", caught.value.cause)
    assert reader.calls == sent


def test_blackholed_nsx_costs_one_connect_timeout(lying_site: LyingSite, blackhole_url: str) -> None:
    reader = lying_site.nsx(blackhole_url, timeout=5.0, connect_timeout=0.5)
    started = time.monotonic()
    with pytest.raises(ObservationError, match=r"within 0.5 s \(connect timeout\)"):
        reader.virtual_servers()
    with pytest.raises(ObservationError, match=rf"{WHEN} \(connect timeout 0.5 s\); not asked again this run"):
        reader.tier1s()
    assert time.monotonic() - started < 2.5


def test_refused_vcenter_is_asked_once(lying_site: LyingSite, closed_port_url: str) -> None:
    reader = lying_site.vcenter(closed_port_url)
    with pytest.raises(ObservationError):
        reader.clusters()
    sent = reader.calls
    with pytest.raises(ObservationError, match=f"the vCenter API at {closed_port_url} {WHEN}"):
        reader.cluster("domain-c8")
    assert reader.calls == sent


def test_refused_kubernetes_is_asked_once(lying_site: LyingSite, closed_port_url: str) -> None:
    reader = lying_site.kube(closed_port_url)
    with pytest.raises(ObservationError, match="Connection refused"):
        reader.services()
    sent = reader.calls
    with pytest.raises(ObservationError, match=f"the Kubernetes API at {closed_port_url} {WHEN}"):
        reader.config_map("vmware-system-nsx", "nsx-ncp-config")
    assert reader.calls == sent


def test_blackholed_kubernetes_connects_with_the_connect_timeout(lying_site: LyingSite, blackhole_url: str) -> None:
    """Six reads of a blackholed API (as the fixtures make them) cost one connect timeout, not six API timeouts."""
    reader = lying_site.kube(blackhole_url, timeout=5.0, connect_timeout=0.5)
    reads = [reader.services, reader.namespaces, lambda: reader.pods("vmware-system-nsx"), reader.version,
             lambda: reader.config_map("vmware-system-nsx", "nsx-ncp-config"), reader.services]
    started = time.monotonic()
    causes = []
    for read in reads:
        with pytest.raises(ObservationError) as caught:
            read()
        causes.append(caught.value.cause)
    assert time.monotonic() - started < 3, f"expected one 0.5 s connect timeout; observed {causes}"
    assert "no connection within the 0.5 s connect timeout" in causes[0]
    assert all("(connect timeout 0.5 s); not asked again this run" in cause for cause in causes[1:])
    assert reader.calls == 1
