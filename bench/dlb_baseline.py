"""The DLB check an admin writes today, shipped as the baseline the suite's DLB checks are measured against.

    .venv/bin/python bench/dlb_baseline.py --kubeconfig FILE [--context NAME] --nsx https://MANAGER \\
        --nsx-user USER --nsx-password-file FILE --ca-file CA_PEM [--json]

It does what the usual script does: ``kubectl get services -A -o json`` (the real kubectl, which
pages by 500), then, for every port of every Service with a ClusterIP (not ExternalName, not
headless: the suite's rule), one NSX search over a kept-alive ``requests.Session`` with Basic auth::

    GET /policy/api/v1/search/query?query=resource_type:LBVirtualServer AND ip_address:<ip> AND ports:<port>

A port counts as covered when a hit of the port's protocol comes back (UDP when the virtual
server's application profile says udp, as the suite reads it). Every uncovered port is printed
(``MISSING namespace/name ip:port/PROTO``); the exit status is 1 when any is missing, 0 otherwise,
2 on an error. ``--json`` prints one JSON line instead (``service_ports``, ``missing``, ``requests``),
for :mod:`dlb_bench`. One request per Service port is its cost: at a real NSX's tens of
milliseconds a request, 20,000 ports take minutes, so progress goes to stderr every few seconds.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import requests

KUBECTL = "/usr/bin/kubectl"
SEARCH = "/policy/api/v1/search/query"
PROGRESS_EVERY_S = 5.0

Port = tuple[str, str, str, int, str]  # namespace, name, ClusterIP, port, PROTOCOL


def kubectl_services(kubeconfig: Path, context: str | None, timeout: float) -> dict[str, Any]:
    """``kubectl get services -A -o json``, as parsed JSON (kubectl's own discovery cache stays private)."""
    argv = [KUBECTL, "--kubeconfig", str(kubeconfig), "--cache-dir", str(kubeconfig.parent / ".kube-cache"),
            "--request-timeout", f"{int(timeout)}s"]
    if context:
        argv += ["--context", context]
    done = subprocess.run([*argv, "get", "services", "-A", "-o", "json"], capture_output=True, text=True,  # noqa: S603
                          timeout=timeout * 4, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"kubectl failed ({done.returncode}): {done.stderr.strip()[:400]}")
    parsed: dict[str, Any] = json.loads(done.stdout)
    return parsed


def cluster_ip_ports(services: dict[str, Any]) -> Iterator[Port]:
    """Every (Service, port) with a ClusterIP: not ExternalName, clusterIP not empty or "None"."""
    for svc in services.get("items", []):
        spec, meta = svc.get("spec", {}), svc.get("metadata", {})
        if spec.get("type", "ClusterIP") == "ExternalName" or spec.get("clusterIP") in (None, "", "None"):
            continue
        for port in spec.get("ports") or []:
            yield (str(meta.get("namespace", "")), str(meta.get("name", "")), str(spec["clusterIP"]),
                   int(port["port"]), str(port.get("protocol", "TCP")).upper())


def hit_protocol(vs: dict[str, Any]) -> str:
    profile = str(vs.get("application_profile_path") or "").rsplit("/", 1)[-1].lower()
    return "UDP" if "udp" in profile else "TCP"


def covered(session: requests.Session, nsx: str, port: Port, timeout: float) -> bool:
    _, _, ip, number, protocol = port
    query = f"resource_type:LBVirtualServer AND ip_address:{ip} AND ports:{number}"
    response = session.get(nsx + SEARCH, params={"query": query}, timeout=timeout)
    response.raise_for_status()
    return any(hit_protocol(vs) == protocol for vs in response.json().get("results", []))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kubeconfig", required=True, type=Path)
    parser.add_argument("--context")
    parser.add_argument("--nsx", required=True, help="https://MANAGER[:PORT]")
    parser.add_argument("--nsx-user", required=True)
    parser.add_argument("--nsx-password-file", required=True, type=Path)
    parser.add_argument("--ca-file", required=True, type=Path)
    parser.add_argument("--timeout", type=float, default=30.0)
    parser.add_argument("--json", action="store_true", help="one JSON line on stdout instead of text")
    args = parser.parse_args(argv)

    try:
        ports = list(cluster_ip_ports(kubectl_services(args.kubeconfig, args.context, args.timeout)))
        session = requests.Session()
        session.trust_env = False  # else REQUESTS_CA_BUNDLE (or a proxy) from the environment beats verify=
        session.auth = (args.nsx_user, args.nsx_password_file.read_text().strip())
        session.verify = str(args.ca_file)
        nsx = args.nsx.rstrip("/")
        missing: list[Port] = []
        started = last = time.monotonic()
        for done, port in enumerate(ports, 1):
            if not covered(session, nsx, port, args.timeout):
                missing.append(port)
            now = time.monotonic()
            if now - last >= PROGRESS_EVERY_S or done == len(ports):
                last = now
                print(f"dlb_baseline: {done}/{len(ports)} ports searched, {len(missing)} missing, "
                      f"{now - started:.0f} s", file=sys.stderr, flush=True)
    except (OSError, RuntimeError, ValueError, subprocess.SubprocessError, requests.RequestException) as exc:
        print(f"dlb_baseline: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps({"service_ports": len(ports), "requests": len(ports),
                          "missing": [f"{ns}/{name} {ip}:{p}/{proto}" for ns, name, ip, p, proto in missing]}))
    else:
        for ns, name, ip, number, protocol in missing:
            print(f"MISSING {ns}/{name} {ip}:{number}/{protocol}")
        print(f"{len(ports)} ClusterIP Service ports, {len(missing)} without a DLB virtual server")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
