"""Read-only over real SSH: allow-listed commands run; anything else is refused before sshd sees an exec."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from lab.sshd import Sshd
from wcp_acceptance.commands import ForbiddenCommand, ReadOnlyRunner
from wcp_acceptance.transport.ssh import VmConnection


def test_hostname(runner: ReadOnlyRunner) -> None:
    result = runner.run(["hostname"])
    assert (result.exit_status, result.stdout.strip()) == (0, socket.gethostname())


def test_ip_rule_is_json(runner: ReadOnlyRunner) -> None:
    rules = json.loads(runner.run(["ip", "-j", "rule", "show"]).stdout)
    assert {"priority": 0, "src": "all", "table": "local"} in rules


def test_ip_addr_lists_loopback(runner: ReadOnlyRunner) -> None:
    links = json.loads(runner.run(["ip", "-j", "addr"]).stdout)
    addresses = {a["local"] for link in links for a in link.get("addr_info", [])}
    assert "127.0.0.1" in addresses


def test_route_table_and_route_get(runner: ReadOnlyRunner) -> None:
    local = json.loads(runner.run(["ip", "-j", "route", "show", "table", "local"]).stdout)
    assert any(r.get("dst") == "127.0.0.0/8" for r in local)
    (route,) = json.loads(runner.run(["ip", "-j", "route", "get", "127.0.0.1", "from", "127.0.0.2"]).stdout)
    assert (route["dst"], route["from"], route["dev"]) == ("127.0.0.1", "127.0.0.2", "lo")


def test_resolv_conf_is_the_vms_file(runner: ReadOnlyRunner) -> None:
    assert runner.run(["cat", "/etc/resolv.conf"]).stdout == Path("/etc/resolv.conf").read_text()


def test_command_v(runner: ReadOnlyRunner) -> None:
    assert runner.available("python3") is True
    assert runner.run(["command", "-v", "dig"]).stdout.strip().endswith("/dig")


def test_nonzero_exit_is_reported_not_raised(runner: ReadOnlyRunner) -> None:
    result = runner.run(["ip", "-j", "route", "get", "127.0.0.1", "from", "192.0.2.1"])  # a lookup, sends nothing
    assert result.exit_status != 0
    assert "unreachable" in result.stderr.lower()


FORBIDDEN = [
    ["id"],
    ["hostname", "compromised"],
    ["ip", "rule", "add", "to", "127.0.0.9", "lookup", "200"],
    ["ip", "-j", "route", "get", "127.0.0.1;id"],
    ["cat", "/etc/shadow"],
    ["sh", "-c", "hostname"],
    ["python3", "-c", "print(1)"],
]


@pytest.mark.parametrize("argv", FORBIDDEN, ids=lambda argv: " ".join(argv))
def test_forbidden_command_never_reaches_sshd(runner: ReadOnlyRunner, sshd: Sshd, argv: list[str]) -> None:
    before = sshd.exec_count()
    with pytest.raises(ForbiddenCommand):
        runner.run(argv)
    runner.run(["hostname"])  # positive control: an allowed command is counted
    assert sshd.exec_count() == before + 1


def test_testinfra_host_is_held_to_the_allow_list(connection: VmConnection, sshd: Sshd) -> None:
    before = sshd.exec_count()
    with pytest.raises(ForbiddenCommand):
        connection.host.run("touch /tmp/wcp-should-not-exist")
    with pytest.raises(ForbiddenCommand):
        _ = connection.host.file("/etc/passwd").exists  # testinfra's own probing command is refused too
    with pytest.raises(ForbiddenCommand):
        connection.exec_line("hostname; id", timeout=5)
    assert connection.host.run("hostname").stdout.strip() == socket.gethostname()
    assert sshd.exec_count() == before + 1
