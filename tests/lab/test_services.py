"""lab.services: dnsmasq and a VM's sshd, each a real process in a throwaway namespace, answering a
client in another namespace; stopped processes are reaped and leave nothing in the namespace."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab.services import NETNS_ETC, DnsServer, ServiceError, VmSshd
from lab.sshd import _write_key
from lab.zones import DnsRecord, records_from_mapping, with_address, without_ptr
from tests.lab.netns_pair import NsPair, netns_pids, ns_pair

MGMT_DNS, WORKLOAD_DNS, CLIENT = "192.168.10.10", "192.168.10.11", "192.168.10.45"
RECORDS = records_from_mapping({"vcenter.corp.local": "192.168.10.20", "nsx.corp.local": "192.168.10.28",
                                "cp-1.corp.local": "192.168.10.45"})

# one UDP query per (server, qtype, name) from the client namespace: prints a JSON list of answers
QUERY = """
import json, sys, dns.message, dns.query, dns.rcode, dns.rdatatype, dns.reversename
out = []
for spec in sys.argv[1:]:
    server, qtype, name = spec.split(",")
    qname = dns.reversename.from_address(name) if qtype == "PTR" else name
    reply = dns.query.udp(dns.message.make_query(qname, qtype), server, timeout=2)
    answers = sorted(r.to_text() for rrset in reply.answer for r in rrset)
    out.append([spec, dns.rcode.to_text(reply.rcode()), answers])
print(json.dumps(out))
"""


def query(pair: NsPair, *specs: str) -> dict[str, tuple[str, list[str]]]:
    result = pair.run_client(QUERY, *specs)
    assert result.returncode == 0, result.stderr
    return {spec: (rcode, answers) for spec, rcode, answers in json.loads(result.stdout)}


@pytest.fixture
def pair() -> Iterator[NsPair]:
    with ns_pair([MGMT_DNS, WORKLOAD_DNS], CLIENT) as made:
        yield made


def test_dnsmasq_answers_a_and_ptr_on_both_addresses_and_restarts_with_faulted_records(
        pair: NsPair, tmp_path: Path) -> None:
    with DnsServer(pair.server, [MGMT_DNS, WORKLOAD_DNS], RECORDS, tmp_path, local_domains=["corp.local"]) as dns:
        first_pid = dns.pid
        got = query(pair, f"{MGMT_DNS},A,vcenter.corp.local", f"{WORKLOAD_DNS},A,nsx.corp.local",
                    f"{MGMT_DNS},PTR,192.168.10.28", f"{WORKLOAD_DNS},PTR,192.168.10.45",
                    f"{MGMT_DNS},A,nothing.corp.local")
        assert got[f"{MGMT_DNS},A,vcenter.corp.local"] == ("NOERROR", ["192.168.10.20"])
        assert got[f"{WORKLOAD_DNS},A,nsx.corp.local"] == ("NOERROR", ["192.168.10.28"])
        assert got[f"{MGMT_DNS},PTR,192.168.10.28"] == ("NOERROR", ["nsx.corp.local."])
        assert got[f"{WORKLOAD_DNS},PTR,192.168.10.45"] == ("NOERROR", ["cp-1.corp.local."])
        assert got[f"{MGMT_DNS},A,nothing.corp.local"] == ("NXDOMAIN", [])
        assert "query[A] vcenter.corp.local from 192.168.10.45" in dns.log()

        faulted = with_address(without_ptr(RECORDS, "nsx.corp.local"), "vcenter.corp.local", "192.168.10.99")
        dns.restart(faulted)
        assert dns.pid != first_pid
        got = query(pair, f"{MGMT_DNS},A,nsx.corp.local", f"{MGMT_DNS},PTR,192.168.10.28",
                    f"{MGMT_DNS},A,vcenter.corp.local", f"{MGMT_DNS},PTR,192.168.10.99")
        assert got[f"{MGMT_DNS},A,nsx.corp.local"] == ("NOERROR", ["192.168.10.28"])  # A kept ...
        assert got[f"{MGMT_DNS},PTR,192.168.10.28"] == ("NXDOMAIN", [])  # ... PTR gone
        assert got[f"{MGMT_DNS},A,vcenter.corp.local"] == ("NOERROR", ["192.168.10.99"])
        assert got[f"{MGMT_DNS},PTR,192.168.10.99"] == ("NOERROR", ["vcenter.corp.local."])
    assert not dns.running
    assert netns_pids(pair.server) == []


def test_stopped_dnsmasq_is_reaped_and_silent(pair: NsPair, tmp_path: Path) -> None:
    dns = DnsServer(pair.server, [MGMT_DNS], [DnsRecord("vcenter.corp.local", "192.168.10.20")], tmp_path).start()
    pid = dns.pid
    assert pid is not None
    assert netns_pids(pair.server) == [pid]
    dns.stop()
    assert not os.path.exists(f"/proc/{pid}")  # reaped: not even a zombie is left
    assert netns_pids(pair.server) == []
    result = pair.run_client(
        "import dns.message, dns.query, sys\n"
        "try:\n dns.query.udp(dns.message.make_query('vcenter.corp.local', 'A'), sys.argv[1], timeout=1)\n"
        "except Exception as e: print(type(e).__name__)\n", MGMT_DNS)
    assert result.stdout.strip() in {"ConnectionRefusedError", "Timeout"}, result


def test_dnsmasq_on_an_address_the_namespace_lacks_fails_with_its_log(pair: NsPair, tmp_path: Path) -> None:
    dns = DnsServer(pair.server, ["192.168.10.200"], RECORDS, tmp_path, start_timeout=3)
    with pytest.raises(ServiceError, match="exited with status"):
        dns.start()
    assert not dns.running
    assert netns_pids(pair.server) == []


# ---- a control-plane VM's sshd --------------------------------------------------------------------
# The suite's own transport and DNS probe, run in the DNS server's namespace (packets stay on the veth):
# log in to cp-1, read its hostname and resolv.conf, and resolve a name from cp-1 through the real dnsmasq.
VM_SESSION = """
import ipaddress, json, sys
from wcp_acceptance.inventory.model import ControlPlaneVm, Timeouts
from wcp_acceptance.probes.dns import resolve_from_vm
from wcp_acceptance.targets import DnsProbe
from wcp_acceptance.transport.ssh import connect_vm
vm = ControlPlaneVm.model_validate(json.loads(sys.argv[1]))
with connect_vm(vm, Timeouts(connect=3, command=10)) as c:
    out = {}
    for line in ("hostname", "cat /etc/resolv.conf"):
        status, stdout, _ = c.exec_line(line, 10)
        out[line] = [status, stdout.decode()]
    probe = DnsProbe("cp-1", "eth0", ipaddress.IPv4Interface(sys.argv[2] + "/24"), ipaddress.IPv4Address(sys.argv[3]),
                     "nsx.corp.local")
    seen = resolve_from_vm(c.runner(), probe, "A", 2.0)
    out["dns"] = [seen.method, seen.outcome, list(seen.answers)]
    print(json.dumps(out))
"""


def test_vm_sshd_has_its_own_hostname_resolver_and_host_key(pair: NsPair, tmp_path: Path) -> None:
    client_key = tmp_path / "lab_ed25519"
    public = _write_key(client_key, "lab-client")
    resolv = NETNS_ETC / pair.client / "resolv.conf"
    vm = VmSshd(pair.client, "cp-1", CLIENT, tmp_path / "cp-1", authorized_keys=[public],
                nameservers=[MGMT_DNS], search=["corp.local"])
    with DnsServer(pair.server, [MGMT_DNS], RECORDS, tmp_path / "dns"), vm:
        assert resolv.read_text() == f"search corp.local\nnameserver {MGMT_DNS}\n"
        assert vm.known_hosts_line.startswith(f"{CLIENT} ssh-ed25519 ")
        known_hosts = tmp_path / "known_hosts"
        known_hosts.write_text(vm.known_hosts_line + "\n")
        spec = {
            "name": "cp-1", "management_address": CLIENT,
            "ssh": {"user": "root", "port": 22, "key_file": str(client_key), "known_hosts": str(known_hosts)},
            "interfaces": {"eth0": {"network": "management", "address": f"{CLIENT}/24"},
                           "eth1": {"network": "workload", "address": "10.244.0.2/28"}},
        }
        started = time.monotonic()
        result = pair.run_in(pair.server, VM_SESSION, json.dumps(spec), CLIENT, MGMT_DNS)
        assert result.returncode == 0, result.stderr
        out = json.loads(result.stdout)
        assert out["hostname"] == [0, "cp-1\n"]
        assert out["cat /etc/resolv.conf"] == [0, f"search corp.local\nnameserver {MGMT_DNS}\n"]
        assert out["dns"] == ["python3", "answer", ["192.168.10.28"]]
        assert time.monotonic() - started < 10
        assert os.uname().nodename != "cp-1"  # the host's hostname is untouched by the VM's UTS namespace
        host_key = vm.known_hosts_line
    assert not resolv.exists()
    assert not (NETNS_ETC / pair.client).exists()
    assert netns_pids(pair.client) == []
    assert netns_pids(pair.server) == []
    with vm:  # cp-vm-unreachable cleared: the VM comes back with the same host key
        assert vm.known_hosts_line == host_key
        assert vm.pid in netns_pids(pair.client)
    assert netns_pids(pair.client) == []


@pytest.mark.parametrize(("name", "address"), [("evil.corp.local\nserver=8.8.8.8", "192.168.10.1"),
                                               ("a,b.corp.local", "192.168.10.1"),
                                               ("vcenter.corp.local", "192.168.10.1\naddress=/#/1.2.3.4")])
def test_a_record_cannot_inject_a_dnsmasq_option(name: str, address: str) -> None:
    with pytest.raises(ValueError, match="DNS name|Unexpected"):
        DnsRecord(name, address)
