"""The read-only allow-list: what may run, what is refused, and that a refusal sends nothing."""

from __future__ import annotations

import shlex
import time
from typing import Any

import pytest
import testinfra.host
from testinfra.backend.base import BaseBackend, CommandResult

from wcp_acceptance.commands import (
    ALLOWED,
    CommandTimeout,
    ForbiddenCommand,
    ReadOnlyRunner,
    check_argv,
    check_command_line,
)
from wcp_acceptance.inventory.model import ControlPlaneVm, Timeouts
from wcp_acceptance.transport.ssh import VmSshBackend
from wcp_acceptance.vm_scripts import DNS_QUERY_SCRIPT, EGRESS_SEND_SCRIPT, MANAGER_TLS_SCRIPT

QUERY_HEX = "ab12" + "0100" + "0001" + "0000" * 3 + "07766365" + "6e746572" + "00" + "00010001"

ALLOWED_EXAMPLES = [
    ["ip", "-j", "rule"],
    ["ip", "-j", "rule", "show"],
    ["ip", "-j", "addr"],
    ["ip", "-j", "addr", "show"],
    ["ip", "-j", "route", "show", "table", "all"],
    ["ip", "-j", "route", "show", "table", "200"],
    ["ip", "-j", "route", "get", "192.168.10.10"],
    ["ip", "-j", "route", "get", "192.168.10.10", "from", "192.168.10.45"],
    ["cat", "/etc/resolv.conf"],
    ["resolvectl", "status"],
    ["resolvectl", "dns"],
    ["getent", "ahostsv4", "vcenter.corp.local"],
    ["timeout", "5", "getent", "ahostsv4", "vcenter.corp.local"],
    ["hostname"],
    ["command", "-v", "python3"],
    ["command", "-v", "dig"],
    ["python3", "-c", DNS_QUERY_SCRIPT, "10.244.0.2", "10.1.1.10", "53", QUERY_HEX, "2"],
    ["python3", "-c", EGRESS_SEND_SCRIPT, "10.244.0.2", "203.0.113.7", "40000", "n-1a2b", "1.5"],
    ["python3", "-c", MANAGER_TLS_SCRIPT, "192.168.10.45", "192.168.10.28", "443", "3"],
    ["python3", "-c", MANAGER_TLS_SCRIPT, "192.168.10.45", "nsx.corp.local", "443", "5"],
    ["dig", "-b", "192.168.10.45", "@192.168.10.10", "-p", "53", "20.10.168.192.in-addr.arpa", "PTR",
     "+tries=1", "+time=2", "+noall", "+answer", "+comments"],
    # return path, clock, path MTU (more cases in test_vmnet_checks.py)
    *(["cat", *[f"/proc/sys/net/ipv4/conf/{i}/rp_filter" for i in ("all", "eth0", "eth1", "eth2")][:n]]
      for n in range(1, 5)),
    ["cat", *["/proc/sys/net/ipv4/conf/eth0/rp_filter"] * 5],
    ["cat", *["/proc/sys/net/ipv4/conf/eth0/rp_filter"] * 6],
    ["cat", *["/proc/sys/net/ipv4/conf/eth0/rp_filter"] * 7],
    ["cat", *["/proc/sys/net/ipv4/conf/eth0/rp_filter"] * 8],
    ["date", "+%s.%N"],
    ["ping", "-n", "-M", "do", "-s", "1472", "-c", "1", "-W", "1", "-I", "10.244.0.2", "192.168.10.5"],
]

FORBIDDEN_EXAMPLES = [
    [],
    ["rm", "-rf", "/"],
    ["hostname", "evil"],  # with an argument, hostname *sets* the name
    ["ip", "rule"],  # not -j: only the forms we parse
    ["ip", "-j", "rule", "add", "to", "10.0.0.1", "lookup", "200"],
    ["ip", "-j", "route", "flush", "table", "all"],
    ["ip", "-j", "route", "get", "10.0.0.300"],
    ["ip", "-j", "route", "get", "10.0.0.1;reboot"],
    ["ip", "-j", "route", "get", "10.0.0.1", "from", "10.0.0.2", "iif", "eth0"],
    ["ip", "-j", "route", "show", "table", "-1"],
    ["cat", "/etc/shadow"],
    ["resolvectl", "flush-caches"],
    ["getent", "ahostsv4", "-s"],
    ["getent", "ahostsv4", "$(reboot)"],
    ["getent", "passwd", "root"],
    ["timeout", "5", "reboot"],
    ["timeout", "999", "getent", "ahostsv4", "vcenter.corp.local"],
    ["timeout", "5", "getent", "passwd", "root"],
    ["command", "-v", "rm"],
    ["python3", "-c", "import os; os.system('reboot')", "10.0.0.1", "10.0.0.2", "53", QUERY_HEX, "2"],
    ["python3", "-c", DNS_QUERY_SCRIPT + " ", "10.0.0.1", "10.0.0.2", "53", QUERY_HEX, "2"],
    ["python3", "-c", DNS_QUERY_SCRIPT, "10.0.0.1", "10.0.0.2", "53", "zz" * 20, "2"],
    ["python3", "-c", DNS_QUERY_SCRIPT, "10.0.0.1", "10.0.0.2", "70000", QUERY_HEX, "2"],
    ["python3", "-c", DNS_QUERY_SCRIPT, "10.0.0.1", "10.0.0.2", "53", QUERY_HEX, "0"],
    ["python3", "-c", DNS_QUERY_SCRIPT, "10.0.0.1", "10.0.0.2", "53", QUERY_HEX],
    ["python3", "-c", EGRESS_SEND_SCRIPT, "10.0.0.1", "10.0.0.2", "53", "nonce with space", "1"],
    ["python3", "-c", MANAGER_TLS_SCRIPT, "eth0", "192.168.10.28", "443", "3"],  # source must be an address
    ["python3", "-c", MANAGER_TLS_SCRIPT, "192.168.10.45", "nsx;reboot", "443", "3"],
    ["python3", "-c", MANAGER_TLS_SCRIPT, "192.168.10.45", "192.168.10.28", "0", "3"],
    ["python3", "-c", MANAGER_TLS_SCRIPT, "192.168.10.45", "192.168.10.28", "443"],
    ["python3", "-c", MANAGER_TLS_SCRIPT + "\nimport os", "192.168.10.45", "192.168.10.28", "443", "3"],
    ["dig", "-b", "10.0.0.1", "@10.0.0.2", "-p", "53", "a.corp.local", "AXFR",
     "+tries=1", "+time=2", "+noall", "+answer", "+comments"],
    ["dig", "-b", "10.0.0.1", "@10.0.0.2", "-p", "53", "a.corp.local", "A",
     "+tries=1", "+time=0", "+noall", "+answer", "+comments"],
    ["dig", "-f", "/etc/shadow"],
    ["sh", "-c", "ip -j rule"],
]


def _id(argv: list[str]) -> str:
    text = " ".join("<script>" if "\n" in a else a for a in argv) or "<empty>"
    return text[:60]


class CountingBackend(BaseBackend):
    """A testinfra backend that records every command that would have been sent."""

    NAME = "counting"

    def __init__(self, delay: float = 0.0) -> None:
        super().__init__("counting")
        self.sent: list[str] = []
        self.delay = delay

    def run(self, command: str, *args: str, **kwargs: Any) -> CommandResult:
        self.sent.append(command)
        time.sleep(self.delay)
        return self.result(0, command.encode(), b"out\n", b"")


@pytest.fixture
def backend() -> CountingBackend:
    return CountingBackend()


@pytest.fixture
def runner(backend: CountingBackend) -> ReadOnlyRunner:
    return ReadOnlyRunner(testinfra.host.Host(backend), "cp-1", command_timeout=5)


@pytest.mark.parametrize("argv", ALLOWED_EXAMPLES, ids=_id)
def test_allowed_command_is_sent_once_quoted(runner: ReadOnlyRunner, backend: CountingBackend, argv: list[str]) -> None:
    result = runner.run(argv)
    assert backend.sent == [shlex.join(argv)]
    assert shlex.split(backend.sent[0]) == argv
    assert (result.argv, result.exit_status, result.stdout) == (tuple(argv), 0, "out\n")
    assert check_command_line(backend.sent[0]) == tuple(argv)


def test_every_rule_has_an_allowed_example() -> None:
    used = {id(check_argv(argv)) for argv in ALLOWED_EXAMPLES}
    assert [str(rule) for rule in ALLOWED if id(rule) not in used] == []


@pytest.mark.parametrize("argv", FORBIDDEN_EXAMPLES, ids=_id)
def test_forbidden_command_raises_before_sending(
    runner: ReadOnlyRunner, backend: CountingBackend, argv: list[str]
) -> None:
    with pytest.raises(ForbiddenCommand, match="refusing to run"):
        runner.run(argv)
    assert backend.sent == []


@pytest.mark.parametrize("bad", ["hostname", b"hostname", ["ip", "-j", 7]], ids=["str", "bytes", "int-arg"])
def test_argv_must_be_a_list_of_strings(runner: ReadOnlyRunner, backend: CountingBackend, bad: Any) -> None:
    with pytest.raises(ForbiddenCommand):
        runner.run(bad)
    assert backend.sent == []


@pytest.mark.parametrize(
    "line",
    ["hostname; reboot", "hostname && id", "'hostname'", "ip  -j rule", "hostname\nid", "cat /etc/resolv.conf > /x",
     "ip -j route get '10.0.0.1"],
)
def test_command_line_must_be_canonical(line: str) -> None:
    with pytest.raises(ForbiddenCommand):
        check_command_line(line)


def test_refusal_message_is_short_and_readable() -> None:
    with pytest.raises(ForbiddenCommand) as info:
        check_argv(["python3", "-c", "x" * 500])
    assert str(info.value).startswith("refusing to run 'python3 -c ")
    assert str(info.value).endswith(": not an allow-listed read-only command")
    assert len(str(info.value)) < 250


def test_slow_backend_is_cut_at_the_command_timeout() -> None:
    slow = CountingBackend(delay=3.0)
    runner = ReadOnlyRunner(testinfra.host.Host(slow), "cp-1", command_timeout=0.3)
    started = time.monotonic()
    with pytest.raises(CommandTimeout) as info:
        runner.run(["hostname"])
    assert time.monotonic() - started < 1.0
    assert info.value.cause == "command 'hostname' did not finish within 0.3 s (command timeout)"


def test_ssh_backend_refuses_before_connecting(tmp_path: Any) -> None:
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text("")
    vm = ControlPlaneVm.model_validate(
        {
            "name": "cp-1",
            "management_address": "127.0.0.1",
            "ssh": {"port": 1, "password": "pw-canary-91c4", "known_hosts": str(known_hosts)},
            "interfaces": {
                "eth0": {"network": "management", "address": "127.0.0.1/8"},
                "eth1": {"network": "workload", "address": "127.0.0.2/8"},
            },
        }
    )
    backend = VmSshBackend(vm, Timeouts())
    host = testinfra.host.Host(backend)
    with pytest.raises(ForbiddenCommand):
        host.run("touch /etc/nologin")
    with pytest.raises(ForbiddenCommand):
        backend.exec_line("ip -j rule; reboot")
    assert "client" not in backend.__dict__  # never even connected
    assert backend.host.password is None  # the hostspec testinfra parsed carries no password
    assert "pw-canary-91c4" not in f"{backend.host} {backend!r} {host!r}"
