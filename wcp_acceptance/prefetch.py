"""The API reads a run's selected checks need, made in one background thread before the first test.

While the VMs and the VIP ports are observed (their own threads), one thread reads the APIs in
:data:`READS` order (what a read needs comes before it), so the run waits for the slowest of the
three instead of their sum. Each outcome, value or error, is kept for its session fixture, which
takes it (:meth:`ApiPrefetch.take`) and so behaves as if it had read the API itself: an error is
raised again from the fixture, and a test not reached by the prefetch reads on its own.

A reader is never used by two threads: :meth:`take` first waits until the background reads are
over. Tests that need no API (DNS, routing, the VIP) never wait for them, so an API that hangs
delays only the checks that need it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from wcp_acceptance import api_reads
from wcp_acceptance.checks.capacity import CAPACITY_READS, CapacityReads
from wcp_acceptance.finding import ObservationError
from wcp_acceptance.inventory import Inventory
from wcp_acceptance.observe_all import Observations
from wcp_acceptance.probes.cert import CertObservation
from wcp_acceptance.probes.login import LoginObservation
from wcp_acceptance.probes.vip import VipObservation
from wcp_acceptance.targets import CertEndpoint, VipPort
from wcp_acceptance.transport.kube import KubeReader
from wcp_acceptance.transport.nsx import NsxReader
from wcp_acceptance.transport.vcenter import VcenterReader

T = TypeVar("T")


@dataclass
class Readers:
    """What the background reads use; a reader that could not be made is None (its reads are skipped)."""

    inventory: Inventory
    kube: KubeReader | None = None
    nsx: NsxReader | None = None
    vcenter: VcenterReader | None = None


Read = Callable[[Readers, Callable[[str], Any]], object]


def _optional_cluster(got: Callable[[str], Any]) -> str | None:
    try:
        return cast(str, got("ncp_cluster"))
    except ObservationError:
        return None


def _optional(got: Callable[[str], Any], name: str) -> Any:
    """A read that only saves requests (``nsx_nat``: Tier-1s already read); None when it failed."""
    try:
        return got(name)
    except ObservationError:
        return None


def _outcome(got: Callable[[str], Any], name: str) -> tuple[bool, object]:
    """(True, the read's value) or (False, its ObservationError): reads a check keeps apart per target."""
    try:
        return True, got(name)
    except ObservationError as error:
        return False, error


def _kube(r: Readers) -> KubeReader:
    return cast(KubeReader, r.kube)


def _nsx(r: Readers) -> NsxReader:
    return cast(NsxReader, r.nsx)


# session fixture name -> (readers it needs, reads it needs, how it is read given the readers and those reads)
READS: dict[str, tuple[tuple[str, ...], tuple[str, ...], Read]] = {
    "ncp_cluster": (("kube",), (), lambda r, got: api_reads.ncp_cluster(r.inventory, _kube(r))),
    # one list of Services: the DLB checks' ClusterIP ports and NCP's error annotations (WCP-NCP-003)
    "kube_services": (("kube",), (), lambda r, got: api_reads.kube_services(_kube(r))),
    "service_ports": ((), ("kube_services",), lambda r, got: got("kube_services").ports),
    "nsx_lb_services": (("nsx",), (), lambda r, got: api_reads.lb_services(_nsx(r))),
    "nsx_virtual_servers": (("nsx",), (), lambda r, got: api_reads.virtual_servers(_nsx(r))),
    "dlb_comparison": ((), ("nsx_lb_services", "nsx_virtual_servers", "ncp_cluster", "service_ports"),
                       lambda r, got: api_reads.dlb_comparison(got("nsx_lb_services"), got("nsx_virtual_servers"),
                                                               got("ncp_cluster"), got("service_ports"))),
    # one Tier-1 list for the NAT rules and the Tier-0 (read when one of them asks for it)
    "nsx_tier1s": (("nsx",), (), lambda r, got: _nsx(r).tier1s()),
    "nsx_nat": (("nsx",), ("ncp_cluster", "nsx_tier1s"), lambda r, got: api_reads.nsx_nat(
        _nsx(r), got("ncp_cluster"), got("nsx_tier1s"))),
    "ncp_namespace_pods": (("kube",), (), lambda r, got: api_reads.ncp_namespace_pods(_kube(r))),
    "ncp_ini_managers": (("kube",), (), lambda r, got: api_reads.ncp_ini_managers(_kube(r))),
    "coredns_upstreams": (("kube",), (), lambda r, got: api_reads.coredns_upstreams(_kube(r))),
    "slb_comparison": (("nsx", "kube"), ("nsx_lb_services", "nsx_virtual_servers"),
                       lambda r, got: api_reads.slb_comparison(r.inventory, _nsx(r), got("nsx_lb_services"),
                                                               got("nsx_virtual_servers"), _optional_cluster(got))),
    "apiserver_lb_service": (("kube",), (), lambda r, got: api_reads.apiserver_lb_service(_kube(r))),
    "vcenter_cluster": (("vcenter",), (), lambda r, got: api_reads.vcenter_cluster(
        r.inventory, cast(VcenterReader, r.vcenter))),
    # namespaces and ncp: NCP as NSX sees it, every vSphere Namespace's egress
    "kube_namespaces": (("kube",), (), lambda r, got: api_reads.kube_namespaces(_kube(r))),
    "pod_ncp_errors": (("kube",), (), lambda r, got: api_reads.pod_ncp_errors(_kube(r))),
    "ncp_errors": ((), ("kube_services", "kube_namespaces", "pod_ncp_errors"),
                   lambda r, got: api_reads.ncp_errors(got("kube_services"), got("kube_namespaces"),
                                                       got("pod_ncp_errors"))),
    "ncp_status": (("nsx",), ("ncp_cluster",), lambda r, got: api_reads.ncp_status(r.inventory, _nsx(r),
                                                                                   got("ncp_cluster"))),
    "namespace_egress": (("nsx",), ("kube_namespaces",), lambda r, got: api_reads.namespace_egress(
        r.inventory, _nsx(r), got("kube_namespaces"), _optional(got, "nsx_nat"))),
    # bgp and capacity: NSX only
    "nsx_tier0": (("nsx",), ("nsx_tier1s",), lambda r, got: api_reads.nsx_tier0(
        r.inventory, _nsx(r), lambda: cast(list[dict[str, object]], got("nsx_tier1s")))),
    "bgp_observation": (("nsx",), ("nsx_tier0",), lambda r, got: api_reads.bgp_observation(
        r.inventory, _nsx(r), got("nsx_tier0"))),
    "nsx_ip_pools": (("nsx",), (), lambda r, got: api_reads.nsx_ip_pools(_nsx(r))),
    "lb_node_usage": (("nsx",), ("nsx_tier0",), lambda r, got: api_reads.lb_node_usage(_nsx(r), got("nsx_tier0"))),
    "capacity_reads": (("nsx",), CAPACITY_READS, lambda r, got: CapacityReads(
        {name: _outcome(got, name) for name in CAPACITY_READS})),
}

# fixtures that take reads through request.getfixturevalue (so that one failed read errors only its targets):
# the reads they take, which pytest's fixture closure does not show
ALSO_READS: dict[str, tuple[str, ...]] = {
    "ncp_view_reads": ("ncp_status", "ncp_errors"),
}


def _readers_of(name: str) -> set[str]:
    """Every reader ``name`` needs, through the reads it needs."""
    readers, needs, _ = READS[name]
    return set(readers).union(*(_readers_of(n) for n in needs))


class DaemonThreads(Executor):
    """Each task on a daemon thread of its own: a read that hangs never holds the process at exit.

    (``ThreadPoolExecutor`` joins its workers when the interpreter exits, so one API that never answers
    would keep a run that SIGTERM asked to stop alive past its grace.) Few tasks are ever submitted:
    one for the VMs, one per VIP port and TLS endpoint, one for the APIs."""

    def __init__(self, name: str) -> None:
        self.name = name

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        future: Future[T] = Future()

        def work() -> None:
            if not future.set_running_or_notify_cancel():
                return
            try:
                future.set_result(fn(*args, **kwargs))
            except BaseException as error:  # noqa: BLE001 - handed to whoever waits on the future
                future.set_exception(error)

        threading.Thread(target=work, name=self.name, daemon=True).start()
        return future


def _fresh(error: BaseException) -> BaseException:
    if isinstance(error, ObservationError):
        return ObservationError(error.target, error.cause, error.evidence)
    return error


class ApiPrefetch:
    """The outcomes of the background API reads, by session fixture name."""

    def __init__(self) -> None:
        self._future: Future[None] | None = None
        self._made: dict[str, tuple[bool, object]] = {}
        self._lock = threading.Lock()

    def start(self, executor: Executor, readers: Readers, names: Iterable[str]) -> None:
        """Read ``names`` (those of :data:`READS` whose readers exist) in one thread of ``executor``."""
        # a read whose reader could not be made is left to its fixture, which raises the reader's own error
        chosen = set(names)
        chosen |= {also for name in list(chosen) for also in ALSO_READS.get(name, ())}
        wanted = [n for n in READS if n in chosen
                  and all(getattr(readers, reader) is not None for reader in _readers_of(n))]
        if wanted:
            self._future = executor.submit(self._read_all, readers, wanted)

    def _read_all(self, readers: Readers, names: list[str]) -> None:
        def got(name: str) -> Any:
            ok, value = self._made[name] if name in self._made else self._read(readers, name, got)
            if not ok:
                raise _fresh(cast(BaseException, value))
            return value

        for name in names:
            if name not in self._made:
                self._read(readers, name, got)

    def _read(self, readers: Readers, name: str, got: Callable[[str], Any]) -> tuple[bool, object]:
        try:
            outcome: tuple[bool, object] = (True, READS[name][2](readers, got))
        except Exception as error:  # kept for the fixture, which raises it as its own read would
            outcome = (False, error)
        with self._lock:
            self._made[name] = outcome
        return outcome

    def take(self, name: str, read: Callable[[], T]) -> T:
        """The background outcome for fixture ``name`` (raised again if an error), else ``read()`` now."""
        if self._future is not None:
            self._future.exception()  # wait: the readers are this thread's again once the background is done
        with self._lock:
            made = self._made.get(name)
        if made is None:
            return read()
        ok, value = made
        if not ok:
            raise _fresh(cast(BaseException, value))
        return cast(T, value)


@dataclass
class EarlyStart:
    """What ``observe_early`` set going before the first test: the VM observations, the VIP ports,
    the other TLS endpoints whose certificates are counted (futures), the API reads and the login."""

    vms: Future[Observations] | None = None
    vips: dict[VipPort, Future[VipObservation]] = field(default_factory=dict)
    certs: dict[CertEndpoint, Future[CertObservation]] = field(default_factory=dict)
    api: ApiPrefetch = field(default_factory=ApiPrefetch)
    login: Future[LoginObservation] | None = None  # kubectl vsphere login, when the inventory opts in
    login_calls: list[int] = field(default_factory=list)  # the requests each login sent (summary.json "asked")
