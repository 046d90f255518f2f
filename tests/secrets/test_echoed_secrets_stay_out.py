"""An appliance that echoes a credential back (its error body quoting the password, a header, a login
URL) never puts it into any artifact: the run folder, the site index, the cross-site index, the
Prometheus textfile or the output."""

from __future__ import annotations

from pathlib import Path

LOUD = ("--log-level=DEBUG", "-o", "log_cli=true", "--log-cli-level=DEBUG", "-rA", "--tb=long", "--showlocals")
DLB_VS = "/policy/api/v1/infra/lb-virtual-servers"


def everything_written(reports: Path) -> dict[str, str]:
    return {str(p.relative_to(reports)): p.read_text(errors="replace")
            for p in sorted(reports.rglob("*")) if p.is_file()}


def test_an_echoed_inline_password_and_headers_reach_no_artifact(start_stack, suite, tmp_path: Path) -> None:
    stack = start_stack()
    data = stack.inventory_data()
    data["nsx"]["password"] = stack.nsx_password  # inline: known to the run as a secret
    header, pair, url = "hdr-canary-3c9d1a", "pair-canary-8e2b4f", "url-canary-6a7c0e"
    stack.nsx.fail(DLB_VS, 500, times=None, error_code=98, message=(
        f"login as admin with {stack.nsx_password} rejected; Cookie: JSESSIONID={header}; "
        f"retry j_password={pair} at https://admin:{url}@nsx.corp.local"))
    inventory = stack.write_inventory(data)
    first = suite(inventory, "-m", "dlb", *LOUD)
    assert first.run_dir is not None, first.result.stdout[-2000:]
    run = suite(inventory, "-m", "dlb", "--baseline", str(first.run_dir), *LOUD)  # writes diff.json too
    assert run.result.exit_code == 0, run.result.stdout[-2000:]  # nothing worse than the baseline
    (entry, *_) = run.entries("WCP-DLB-001")
    assert entry["outcome"] == "error"
    assert "login as admin with ******** rejected" in entry["cause"]  # the message is kept, the secret masked
    written = everything_written(tmp_path / "reports")
    site = run.summary["inventory"]
    expected = {f"{site}/index.html", "index.html", f"wcp_acceptance_{site}.prom"}
    assert expected <= set(written), sorted(written)
    assert {"report.html", "junit.xml", "summary.json", "summary.md", "summary.csv", "diff.json"} <= {
        Path(name).name for name in written}
    written["stdout"], written["stderr"] = run.result.stdout, run.result.stderr
    written["first stdout"], written["first stderr"] = first.result.stdout, first.result.stderr
    for name, text in written.items():
        for canary in (stack.nsx_password, header, pair, url, stack.kube_token):
            assert canary not in text, f"expected {canary} masked in {name}; observed it in the text"


def test_a_credential_in_an_exclusion_reason_reaches_no_artifact(start_stack, suite, tmp_path: Path) -> None:
    stack = start_stack()
    data = stack.inventory_data()
    canary = "reason-canary-2f6d0b"
    data["exclusions"] = [{"check": "WCP-VIP-001", "reason": f"vendor case 42, password={canary} (rotated)"}]
    run = suite(stack.write_inventory(data), "-m", "vip", *LOUD)
    assert run.result.exit_code == 0, run.result.stdout[-2000:]
    skipped = [t for t in run.summary["tests"] if t["outcome"] == "skipped"]
    assert skipped, "the exclusion skipped nothing"
    assert all("vendor case 42, password=******** (rotated)" in t["skip_reason"] for t in skipped)
    written = everything_written(tmp_path / "reports")
    written["stdout"], written["stderr"] = run.result.stdout, run.result.stderr
    for name, text in written.items():
        assert canary not in text, f"expected {canary} masked in {name}; observed it in the text"


def test_the_login_password_and_session_token_reach_no_artifact(start_stack, suite, tmp_path: Path) -> None:
    """kubectl vsphere login (WCP-LOGIN-001): the password the run sends and the token it gets back, also when
    the login is refused and the appliance echoes both in its answer."""
    from lab.sim.wcp import WcpLogin

    stack = start_stack()
    password = "login-canary-" + "5c1e9a7d"
    login_port, api_port = stack.vip_ports
    wcp = WcpLogin("devops@vsphere.local", password, "jwtkey-canary-0b7f", login_ports=frozenset({login_port}))
    stack.kube.wcp = wcp
    data = stack.inventory_data()
    (stack.workdir / "login-password").write_text(password + "\n")
    data["login"] = {"enabled": True, "user": "devops@vsphere.local", "password": {"file": "login-password"},
                     "port": login_port, "api_port": api_port}
    inventory = stack.write_inventory(data)
    ok = suite(inventory, "-m", "login", *LOUD)
    assert ok.result.exit_code == 0, ok.result.stdout[-3000:]
    assert set(ok.outcomes("WCP-LOGIN-001").values()) == {"passed"}
    (token,) = wcp.issued
    original = wcp.answer

    def echoing(method: str, path: str, headers: dict[str, str], port: int) -> tuple[int, dict[str, str], bytes]:
        original(method, path, headers, port)  # issues a second token, then refuses and echoes both
        echoed = f'{{"message":"no role for devops with {password}; token {wcp.issued[-1]}"}}'.encode()
        return 401, {"Content-Type": "application/json"}, echoed

    wcp.answer = echoing  # type: ignore[method-assign]
    refused = suite(inventory, "-m", "login", *LOUD)
    assert refused.result.exit_code == 1, refused.result.stdout[-3000:]
    (entry,) = refused.entries("WCP-LOGIN-001")
    assert "SSO refused devops@vsphere.local" in entry["cause"]
    assert any("no role for devops with ********" in line for line in entry["evidence"])
    written = everything_written(tmp_path / "reports")
    for run in (ok, refused):
        written[f"{run.run_dir} stdout"], written[f"{run.run_dir} stderr"] = run.result.stdout, run.result.stderr
    for name, text in written.items():
        for canary in (password, token, wcp.issued[-1], wcp.key):
            assert canary not in text, f"expected {canary[:12]}... masked in {name}; observed it in the text"
