"""The whole suite with an NSX manager that cuts every answer mid-transfer: the NSX checks error with one
line naming the request, and the egress datagram checks are still judged (NSX is only their evidence)."""

from __future__ import annotations

import contextlib

from lab.sshd import Sshd
from tests.lying_apis.conftest import LyingHandler, LyingSite, Request, send_cut_chunked
from tests.suite.conftest import start_stack, suite  # noqa: F401 - fixtures
from tests.support.dnsmasq import free_port

BODY = {"results": [{"id": f"t1-{i}", "tags": []} for i in range(300)], "result_count": 300}


def _cut(handler: LyingHandler, request: Request) -> None:  # noqa: ARG001 - every answer is cut
    send_cut_chunked(handler, BODY)


def test_egress_is_judged_when_nsx_cuts_its_answers(lying_site: LyingSite, start_stack, suite) -> None:  # noqa: F811
    stack = start_stack()
    _app, nsx_url = lying_site.start(_cut)
    with contextlib.ExitStack() as stack_of:
        vms = [stack_of.enter_context(Sshd(f"127.0.10.{45 + i}")) for i in range(2)]
        data = stack.inventory_data()
        for spec, sshd in zip(data["supervisor"]["control_plane"], vms, strict=False):
            spec["ssh"] = {"user": "root", "port": sshd.port, "key_file": str(sshd.client_key),
                           "known_hosts": str(sshd.known_hosts)}
        data["supervisor"]["control_plane"] = data["supervisor"]["control_plane"][:2]
        data["observer"]["port"] = free_port("127.0.0.1")
        data["nsx"].update({"managers": [nsx_url], "ca_file": str(lying_site.ca_file), "auth": "basic"})
        run = suite(stack.write_inventory(data), "-m", "egress or dlb")

    assert "Traceback" not in run.result.stdout
    assert "unexpected error" not in run.result.stdout
    egress = run.entries("WCP-EGR-001")
    assert egress
    assert {e["outcome"] for e in egress} == {"failed"}, egress  # loopback has no SNAT: judged on the datagram
    for check in ("WCP-EGR-002", "WCP-DLB-001", "WCP-DLB-002"):
        entries = run.entries(check)
        assert entries, check
        assert {e["outcome"] for e in entries} == {"error"}, entries
        for entry in entries:
            assert "broke off mid-transfer (ChunkedEncodingError" in entry["cause"], entry
            assert len(entry["cause"].splitlines()) == 1
