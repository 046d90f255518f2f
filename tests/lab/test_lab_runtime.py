"""The whole lab (network, services, inventory) as one object: it cleans up after itself on every
path, two labs run side by side, and kubectl works from the jumpbox against the VIP."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from lab.hostnet import diff, snapshot
from lab.netns import list_netns, teardown_prefix
from lab.runtime import ROOT, lab_dir, open_lab
from tests.lab.suite_runs import run_in_lab

KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"


def _prefix() -> str:
    return f"r{secrets.token_hex(3)}"


def _lab_processes(prefix: str) -> list[str]:
    """Command lines of processes still running from this lab's directory (sshd, dnsmasq, simulators)."""
    marker = str(lab_dir(prefix))
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if marker in cmdline:
                found.append(cmdline)
    return found


def assert_clean(before: object, prefix: str) -> None:
    after = snapshot()
    assert diff(before, after, netns_filter=lambda name: name.startswith(f"{prefix}-")) == []  # type: ignore[arg-type]
    assert not [n for n in list_netns() if n.startswith(f"{prefix}-")]
    assert not lab_dir(prefix).exists()
    assert not list(Path("/etc/netns").glob(f"{prefix}-*"))
    assert _lab_processes(prefix) == []


def _fail_inside_a_lab(prefix: str) -> None:
    with open_lab(prefix=prefix) as lab:
        assert lab.inventory_path.is_file()
        assert _lab_processes(prefix)  # the positive control: services were running
        raise RuntimeError("a test failing mid-way")


def test_a_test_that_fails_inside_the_lab_still_leaves_the_host_as_it_was() -> None:
    prefix = _prefix()
    before = snapshot()
    try:
        with pytest.raises(RuntimeError, match="mid-way"):
            _fail_inside_a_lab(prefix)
        assert_clean(before, prefix)
    finally:
        teardown_prefix(prefix)


def test_ctrl_c_while_the_lab_is_up_tears_it_down() -> None:
    prefix = _prefix()
    before = snapshot()
    script = (
        "import os, signal, sys\n"
        "from lab.runtime import open_lab\n"
        f"with open_lab(prefix={prefix!r}) as lab:\n"
        "    print('up', flush=True)\n"
        "    signal.pause()\n"
    )
    child = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "up"
        child.send_signal(signal.SIGINT)
        child.wait(timeout=60)
        assert child.returncode != 0  # KeyboardInterrupt, after the teardown
        assert_clean(before, prefix)
    finally:
        if child.poll() is None:
            child.kill()
        teardown_prefix(prefix)


def test_two_labs_with_the_same_addresses_run_side_by_side(tmp_path: Path) -> None:
    with open_lab(prefix=_prefix()) as broken, open_lab(prefix=_prefix()) as healthy:
        broken.inject("dns-server-down")
        args = ("-m", "dns", "-k", "cp-1 and eth0")
        bad = run_in_lab(broken, tmp_path / "broken", *args)
        good = run_in_lab(healthy, tmp_path / "healthy", *args)
    assert bad.exit_code == 1
    assert {t["outcome"] for t in bad.tests} == {"failed"}
    assert good.exit_code == 0, good.stdout[-3000:]
    assert {t["outcome"] for t in good.tests} == {"passed"}
    assert [t["target"] for t in bad.tests] == [t["target"] for t in good.tests]


def test_kubectl_from_the_jumpbox_lists_services_through_the_vip(tmp_path: Path) -> None:
    with open_lab(prefix=_prefix()) as lab:
        kubeconfig = lab.inventory_path.parent / "kubeconfig"
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path),
               "CLOUDSDK_CONFIG": str(tmp_path / "gcloud")}
        done = subprocess.run(
            ["ip", "netns", "exec", lab.ns(lab.jumpbox), KUBECTL, "--kubeconfig", str(kubeconfig),
             "--cache-dir", str(tmp_path / "cache"), "--request-timeout", "20s", "get", "svc", "-A"],
            capture_output=True, text=True, timeout=90, env=env, check=False)
        server = next(line for line in kubeconfig.read_text().splitlines() if "server:" in line)
    assert done.returncode == 0, done.stderr
    assert f"https://{lab.topology.api_vip.address}:6443" in server
    assert "kube-apiserver-lb-svc" in done.stdout
    assert "kube-dns" in done.stdout
    assert len([line for line in done.stdout.splitlines()[1:] if line.strip()]) == 24  # the seed's Services
