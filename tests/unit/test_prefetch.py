"""The background API reads: outcomes kept per fixture, errors raised again as the fixture's own, and the
readers never used by two threads at once."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.support.inventories import EXAMPLE_ENV, example_data, write
from wcp_acceptance import prefetch
from wcp_acceptance.finding import ObservationError
from wcp_acceptance.inventory import load_inventory
from wcp_acceptance.prefetch import ApiPrefetch, DaemonThreads, Readers


@pytest.fixture
def readers(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Readers:
    for key, value in EXAMPLE_ENV.items():
        monkeypatch.setenv(key, value)
    return Readers(load_inventory(write(tmp_path, example_data())), kube=object(), nsx=None)  # type: ignore[arg-type]


def reads(monkeypatch: pytest.MonkeyPatch, table: dict[str, tuple[tuple[str, ...], tuple[str, ...], Any]]) -> None:
    monkeypatch.setattr(prefetch, "READS", table)


def test_outcomes_and_errors_are_taken_by_name_and_a_dependency_error_carries_over(
        monkeypatch: pytest.MonkeyPatch, readers: Readers) -> None:
    def broken(_r: Readers, _got: Any) -> object:
        raise ObservationError("NCP cluster name", "not found")

    reads(monkeypatch, {
        "ncp_cluster": (("kube",), (), broken),
        "service_ports": (("kube",), (), lambda r, got: [1, 2]),
        "dlb_comparison": ((), ("ncp_cluster", "service_ports"), lambda r, got: (got("ncp_cluster"),
                                                                                 got("service_ports"))),
    })
    api = ApiPrefetch()
    api.start(DaemonThreads("t"), readers, {"ncp_cluster", "service_ports", "dlb_comparison"})
    assert api.take("service_ports", lambda: pytest.fail("read again")) == [1, 2]
    first = pytest.raises(ObservationError, api.take, "ncp_cluster", lambda: None).value
    second = pytest.raises(ObservationError, api.take, "dlb_comparison", lambda: None).value
    assert first.cause == second.cause == "not found"
    assert first is not second  # a fresh copy for each fixture that reports it


def test_reads_whose_reader_is_missing_are_left_to_the_fixture(monkeypatch: pytest.MonkeyPatch,
                                                              readers: Readers) -> None:
    reads(monkeypatch, {"ncp_cluster": (("kube",), (), lambda r, got: "domain-c8"),
                        "nsx_nat": (("nsx",), ("ncp_cluster",), lambda r, got: pytest.fail("no NSX reader")),
                        "slb_comparison": ((), ("nsx_nat",), lambda r, got: pytest.fail("needs NSX through nsx_nat"))})
    api = ApiPrefetch()
    api.start(DaemonThreads("t"), readers, {"ncp_cluster", "nsx_nat", "slb_comparison"})
    assert api.take("ncp_cluster", lambda: "read again") == "domain-c8"
    assert api.take("slb_comparison", lambda: "read by its fixture") == "read by its fixture"
    assert api.take("nsx_nat", lambda: "read by the fixture") == "read by the fixture"


def test_take_waits_for_the_background_reads_before_the_caller_uses_a_reader(
        monkeypatch: pytest.MonkeyPatch, readers: Readers) -> None:
    busy = threading.Event()

    def slow(_r: Readers, _got: Any) -> object:
        busy.set()
        time.sleep(0.3)
        busy.clear()
        return "pods"

    reads(monkeypatch, {"ncp_namespace_pods": (("kube",), (), slow),
                        "ncp_ini_managers": (("kube",), (), lambda r, g: [])})
    api = ApiPrefetch()
    api.start(DaemonThreads("t"), readers, {"ncp_namespace_pods"})
    assert busy.wait(2)
    # a fixture the prefetch did not make reads itself, but only once the background thread is done
    assert api.take("ncp_ini_managers", lambda: "busy" if busy.is_set() else "alone") == "alone"


def test_a_hung_read_runs_on_a_daemon_thread() -> None:
    hold = threading.Event()
    future = DaemonThreads("hung").submit(hold.wait, 60)
    (thread,) = [t for t in threading.enumerate() if t.name == "hung"]
    assert thread.daemon  # the interpreter can exit without it: a SIGTERM's grace is never spent waiting
    hold.set()
    assert future.result(timeout=5) is True
