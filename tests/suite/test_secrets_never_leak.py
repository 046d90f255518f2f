"""A canary password planted in the inventory never reaches report.html, junit.xml, summary.json,
captured logs or tracebacks, also when the appliance refuses it."""

from __future__ import annotations

from pathlib import Path

LOUD = ("--log-level=DEBUG", "-o", "log_cli=true", "--log-cli-level=DEBUG", "-rA", "--tb=long", "--showlocals")


def artifacts(run) -> dict[str, str]:
    texts = {name: (run.run_dir / name).read_text(errors="replace")
             for name in ("report.html", "junit.xml", "summary.json")}
    texts["stdout"] = run.result.stdout
    texts["stderr"] = run.result.stderr
    return texts


def test_canaries_stay_out_of_every_artifact_on_a_healthy_run(start_stack, suite) -> None:
    stack = start_stack()
    run = suite(stack.write_inventory(), "-m", "dlb or vip", *LOUD)
    assert run.result.exit_code == 0, run.result.stdout[-2000:]
    assert "DEBUG" in run.result.stdout  # the loud options took effect: logs were captured and shown
    for name, text in artifacts(run).items():
        for canary in (stack.nsx_password, stack.kube_token):
            assert canary not in text, f"{canary} leaked into {name}"


def test_canary_stays_out_after_an_authentication_failure(start_stack, suite) -> None:
    stack = start_stack()
    inventory = stack.write_inventory()
    refused = "canary-refused-by-nsx-" + stack.nsx_password[-6:]
    Path(stack.workdir / "nsx-password").write_text(refused + "\n")  # NSX will answer 403
    run = suite(inventory, "-m", "dlb", *LOUD)
    assert run.result.exit_code == 1
    assert {t["outcome"] for t in run.summary["tests"]} == {"error"}
    assert any("403" in t["cause"] for t in run.summary["tests"])
    for name, text in artifacts(run).items():
        assert refused not in text, f"the refused password leaked into {name}"
        assert stack.nsx_password not in text
