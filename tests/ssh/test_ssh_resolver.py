"""resolve_with_vm_resolver: getent through the VM's own resolver, with resolv.conf as evidence."""

from __future__ import annotations

from pathlib import Path

import pytest

from wcp_acceptance.commands import ReadOnlyRunner
from wcp_acceptance.finding import ObservationError
from wcp_acceptance.probes.resolver import parse_getent_ahosts, resolve_with_vm_resolver
from wcp_acceptance.targets import ResolverProbe


def test_name_from_hosts_file(runner: ReadOnlyRunner) -> None:
    # localhost is answered from /etc/hosts: no DNS query leaves this machine.
    seen = resolve_with_vm_resolver(runner, ResolverProbe("cp-1", "localhost"))
    assert (seen.exit_status, seen.addresses) == (0, ("127.0.0.1",))
    assert seen.resolv_conf == Path("/etc/resolv.conf").read_text()


def test_getent_lines_collapse_to_addresses() -> None:
    text = "10.0.0.5   STREAM api.corp.local\n10.0.0.5   DGRAM  \n10.0.0.5   RAW    \n10.0.0.6   STREAM \n"
    assert parse_getent_ahosts(text) == ("10.0.0.5", "10.0.0.6")


class _Canned:
    """A VM whose getent answers with a fixed exit status (no SSH)."""

    def __init__(self, status: int) -> None:
        self.status = status
        self.lines: list[str] = []

    def exec_line(self, line: str, timeout: float) -> tuple[int, bytes, bytes]:
        self.lines.append(line)
        if line.startswith(("getent", "timeout")):
            return self.status, b"", b"getent: oops\n" if self.status == 1 else b""
        return 0, b"nameserver 192.0.2.53\n", b""


def test_not_found_is_an_observation() -> None:
    vm = _Canned(2)
    seen = resolve_with_vm_resolver(ReadOnlyRunner(vm, "cp-1", 5), ResolverProbe("cp-1", "gone.corp.local"))
    assert (seen.exit_status, seen.addresses, seen.resolv_conf) == (2, (), "nameserver 192.0.2.53\n")
    assert vm.lines == ["timeout 5 getent ahostsv4 gone.corp.local", "cat /etc/resolv.conf"]


def test_a_resolver_still_waiting_at_the_bound_is_an_observation() -> None:
    vm = _Canned(124)
    seen = resolve_with_vm_resolver(ReadOnlyRunner(vm, "cp-1", 10), ResolverProbe("cp-1", "slow.corp.local"), 3.2)
    assert vm.lines[0] == "timeout 4 getent ahostsv4 slow.corp.local"
    assert seen.timed_out
    assert seen.timeout_s == 4.0


def test_getent_that_could_not_look_is_an_error() -> None:
    with pytest.raises(ObservationError, match=r"getent ahostsv4 exited 1 \(not an answer\): getent: oops"):
        resolve_with_vm_resolver(ReadOnlyRunner(_Canned(1), "cp-1", 5), ResolverProbe("cp-1", "x.corp.local"))
