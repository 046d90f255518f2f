"""WCP-NCP-004's observation: a TLS handshake with an NSX manager, made on the control-plane VM from its
management address (the VM runs the constant :data:`~wcp_acceptance.vm_scripts.MANAGER_TLS_SCRIPT`)."""

from __future__ import annotations

from typing import Literal, cast

from wcp_acceptance.commands import ReadOnlyRunner
from wcp_acceptance.finding import ObservationError
from wcp_acceptance.observations import ManagerTlsObservation
from wcp_acceptance.probes.script_result import script_record
from wcp_acceptance.targets import ManagerTlsProbe
from wcp_acceptance.vm_scripts import MANAGER_TLS_SCRIPT

STAGES = ("done", "bind", "resolve", "connect", "tls")


def observe_manager_tls(runner: ReadOnlyRunner, probe: ManagerTlsProbe, timeout: float) -> ManagerTlsObservation:
    """Connect from ``probe.source`` to the manager and complete TLS within ``timeout`` s (each of connect and
    handshake); raises ObservationError only when the script could not run or answered nonsense."""
    argv = ["python3", "-c", MANAGER_TLS_SCRIPT, str(probe.source), probe.host, str(probe.port), f"{timeout:g}"]
    target = str(probe)
    record = script_record(runner.run(argv), target)
    stage = record.get("stage")
    if stage not in STAGES or not isinstance(record.get("ok"), bool) or record["ok"] != (stage == "done"):
        raise ObservationError(target, "the TLS script's result line is not one it writes", (repr(record)[:300],))
    elapsed = record.get("elapsed")
    code = record.get("errno")
    return ManagerTlsObservation(
        probe, bool(record["ok"]), cast(Literal["done", "bind", "resolve", "connect", "tls"], stage),
        error=str(record.get("text") or ""), errno=code if isinstance(code, int) else None,
        elapsed_s=float(elapsed) if isinstance(elapsed, int | float) else None,
        tls_version=str(record["version"]) if record.get("version") else None,
        peer_sha256=str(record["sha256"]) if record.get("sha256") else None, timeout_s=timeout)
