"""The parts every simulator shares: faults count down, delays are bounded and released, the log filters."""

from __future__ import annotations

import threading
import time

from lab.model import SupervisorModel
from lab.sim.controls import MAX_DELAY_S, Delays, Fault, FaultQueue, RequestLog, RequestRecord
from lab.sim.kube import KubeApiSim
from lab.sim.nsx import NsxPolicySim


def test_a_fault_applies_to_its_prefix_and_method_and_is_spent_after_its_count() -> None:
    queue = FaultQueue()
    queue.add(Fault("/api/v1/pods", 503, 2, method="GET"))
    assert queue.take("GET", "/api/v1/services") is None
    assert queue.take("POST", "/api/v1/pods") is None
    assert [queue.take("GET", "/api/v1/pods/x") is not None for _ in range(3)] == [True, True, False]
    assert len(queue) == 0


def test_a_fault_without_a_count_applies_until_cleared() -> None:
    queue = FaultQueue()
    queue.add(Fault("/", 500, None))
    assert all(queue.take("GET", f"/p{i}") is not None for i in range(50))
    queue.clear()
    assert queue.take("GET", "/p") is None


def test_a_delay_is_bounded_and_the_longest_matching_one_holds() -> None:
    delays = Delays()
    delays.add(10 * MAX_DELAY_S, "/slow")
    delays.add(0.5, "/")
    assert delays.for_path("/slow/x") == MAX_DELAY_S
    assert delays.for_path("/fast") == 0.5


def test_clearing_releases_a_held_request_at_once_and_later_requests_are_not_released_early() -> None:
    delays = Delays()
    delays.add(20, "/")
    outcome: list[bool] = []
    waiter = threading.Thread(target=lambda: outcome.append(delays.wait("/x")))
    started = time.monotonic()
    waiter.start()
    time.sleep(0.2)
    delays.clear()
    waiter.join(5)
    assert outcome == [False]
    assert time.monotonic() - started < 3
    delays.add(0.3, "/")
    started = time.monotonic()
    assert delays.wait("/y") is True
    assert time.monotonic() - started >= 0.25


def test_the_log_filters_by_prefix_and_method() -> None:
    log: RequestLog[RequestRecord] = RequestLog()
    for method, path in (("GET", "/a/1"), ("POST", "/a/2"), ("GET", "/b")):
        log.add(RequestRecord(method, path, {}, 200))
    assert [r.path for r in log.matching("/a", "GET")] == ["/a/1"]
    assert [r.path for r in log.matching("/a")] == ["/a/1", "/a/2"]
    log.clear()
    assert log.records == []


def test_the_nsx_and_kubernetes_simulators_release_held_requests_alike_when_faults_are_cleared() -> None:
    model = SupervisorModel.seed()
    kube = KubeApiSim(model, "t0ken")
    nsx = NsxPolicySim(model, "admin", "pw")
    kube.set_delay(20, path_prefix="/api")
    nsx.delay(20, "/policy")
    done: list[str] = []

    def kube_request() -> None:
        kube.hold("/api/v1/pods")
        done.append("kube")

    def nsx_request() -> None:
        done.append(str(nsx.handle("GET", "/policy/api/v1/infra", {}, b"")[0]))

    threads = [threading.Thread(target=kube_request), threading.Thread(target=nsx_request)]
    started = time.monotonic()
    for t in threads:
        t.start()
    time.sleep(0.2)
    kube.clear_faults()
    nsx.clear_faults()
    for t in threads:
        t.join(5)
    assert sorted(done) == ["503", "kube"]  # NSX: a request that outlived its test is refused, never logged
    assert time.monotonic() - started < 3
    assert nsx.requests == []


def test_a_kubernetes_fault_answers_as_a_status_with_its_reason() -> None:
    kube = KubeApiSim(SupervisorModel.seed(), "t0ken")
    kube.fail_next(1, 429, path_prefix="/api/v1/services")
    status, headers, body = kube.handle("GET", "/api/v1/services", {"authorization": "Bearer t0ken"})
    assert status == 429
    assert headers.get("Retry-After") == "1"
    assert b'"reason":"TooManyRequests"' in body
    assert kube.handle("GET", "/api/v1/services", {"authorization": "Bearer t0ken"})[0] == 200
    kube.fail_next(0, 500)
    assert kube.handle("GET", "/api/v1/services", {"authorization": "Bearer t0ken"})[0] == 200
