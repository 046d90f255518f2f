"""``wcp-acceptance discover``: write an inventory from what vCenter, the Supervisor and NSX say about the site.

Read-only: the suite's own readers (GET only, session login/logout). vCenter is required; the
Kubernetes API (``--kubeconfig``) and NSX (``--nsx-user``/``--nsx-ca``, managers from ``--nsx`` or
NCP's ncp.ini) add what they know, and a source that cannot be read is named in the file's header.
Passwords are read from the environment variables named and written as ``{env: NAME}``.
Exit: 0 written (the fields still to fill are listed), 3 the site could not be read or has no
Supervisor (vCenter unreachable or timing out, no cluster with Workload Management), 4 bad input
(a variable not set, a file not readable, credentials or CA refused, several Supervisors and no
``--cluster``, an output file that exists without ``--force``), 2 bad usage.
"""

from __future__ import annotations

import argparse
import base64
import dataclasses
import os
import sys
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path
from typing import Any

import yaml

from wcp_acceptance import discovery
from wcp_acceptance.finding import ObservationError
from wcp_acceptance.secret import Secret
from wcp_acceptance.site_discovery import (
    WCP_NETWORK_CONFIGMAP,
    OperatorInput,
    SiteFacts,
    build_inventory,
    egress_ip_from_nat,
    ncp_cluster,
    ncp_managers,
    system_egress,
    vip_members,
)
from wcp_acceptance.transport.http import ApiTlsError, HttpObservationError
from wcp_acceptance.transport.kube import KubeReader
from wcp_acceptance.transport.nsx import NsxReader
from wcp_acceptance.transport.vcenter import VcenterReader

CANNOT_READ, BAD_INPUT = 3, 4


class DiscoverError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def add_parser(sub: Any) -> None:
    p = sub.add_parser("discover", help="write an inventory from what vCenter, the Supervisor and NSX say",
                       description=__doc__.split("\n\n")[0],
                       epilog="exit codes: 0 written; 3 the site could not be read or has no Supervisor; 4 bad input; "
                              "2 bad usage")
    p.add_argument("-o", "--output", required=True, metavar="FILE", help="the inventory to write")
    p.add_argument("--force", action="store_true", help="overwrite FILE if it exists")
    p.add_argument("--name", help="the site's name (default: the Supervisor's cluster name)")
    p.add_argument("--timeout", type=float, default=10.0, metavar="SECONDS", help="each API request (default 10)")
    g = p.add_argument_group("vCenter (required)")
    g.add_argument("--vcenter", required=True, metavar="HOST|URL")
    g.add_argument("--vcenter-user", required=True, metavar="USER")
    g.add_argument("--vcenter-password-env", required=True, metavar="NAME", help="the variable holding the password")
    g.add_argument("--vcenter-ca", required=True, metavar="FILE", help="the CA that signs vCenter's certificate")
    g.add_argument("--cluster", metavar="MOID", help="the Supervisor's cluster (domain-cN) when vCenter has several")
    g = p.add_argument_group("Supervisor Kubernetes API (the ConfigMaps)")
    g.add_argument("--kubeconfig", metavar="FILE")
    g.add_argument("--context", metavar="NAME")
    g.add_argument("--api-ca", metavar="FILE", help="the CA of the Supervisor API certificate (api_vip.ca_file)")
    g = p.add_argument_group("NSX")
    g.add_argument("--nsx", action="append", default=[], metavar="URL", help="a manager (default: NCP's)")
    g.add_argument("--nsx-user", metavar="USER")
    g.add_argument("--nsx-password-env", default="WCP_NSX_PASSWORD", metavar="NAME")
    g.add_argument("--nsx-ca", metavar="FILE")
    g = p.add_argument_group("what no API says (placeholders otherwise)")
    g.add_argument("--ssh-user", default="root")
    g.add_argument("--ssh-key-file", metavar="FILE")
    g.add_argument("--ssh-password-env", default="WCP_CP_PASSWORD", metavar="NAME")
    g.add_argument("--known-hosts", metavar="FILE")
    g.add_argument("--observer", metavar="ADDRESS", help="an address of this runner the workload network reaches")
    g.add_argument("--management-network", metavar="CIDR")
    g.add_argument("--management-gateway", metavar="ADDRESS")
    g.add_argument("--workload-prefix", type=int, metavar="N", help="the prefix of the Supervisor's segment")
    g.add_argument("--workload-gateway", metavar="ADDRESS")
    g.add_argument("--dns-name", action="append", default=[], metavar="NAME=ADDRESS",
                   help="a name every interface must resolve (repeatable)")
    p.set_defaults(handler=handle)


def _password(env: str, what: str) -> Secret:
    value = os.environ.get(env)
    if not value:
        raise DiscoverError(BAD_INPUT, f"{what}: environment variable {env} is not set")
    return Secret(value, f"env:{env}")


def _file(value: str | None, option: str) -> str | None:
    if value is None:
        return None
    path = Path(value)
    if not path.is_file() or not os.access(path, os.R_OK):
        raise DiscoverError(BAD_INPUT, f"{option} {value}: not a readable file")
    return str(path.resolve())


def _operator(args: argparse.Namespace) -> OperatorInput:
    names: list[tuple[str, str]] = []
    for item in args.dns_name:
        name, _, address = item.partition("=")
        try:
            names.append((name.strip(), str(IPv4Address(address.strip()))))
        except ValueError:
            raise DiscoverError(BAD_INPUT, f"--dns-name {item}: give NAME=IPv4ADDRESS") from None
    for option in ("management_network",):
        value = getattr(args, option)
        if value is not None:
            try:
                IPv4Network(value, strict=False)
            except ValueError:
                raise DiscoverError(BAD_INPUT, f"--management-network {value}: not an IPv4 network") from None
    return OperatorInput(
        vcenter_url=args.vcenter, vcenter_user=args.vcenter_user, vcenter_password_env=args.vcenter_password_env,
        vcenter_ca=_file(args.vcenter_ca, "--vcenter-ca") or "", name=args.name,
        kubeconfig=_file(args.kubeconfig, "--kubeconfig"), context=args.context,
        api_ca=_file(args.api_ca, "--api-ca"), nsx_managers=tuple(args.nsx), nsx_user=args.nsx_user,
        nsx_password_env=args.nsx_password_env, nsx_ca=_file(args.nsx_ca, "--nsx-ca"), ssh_user=args.ssh_user,
        ssh_key_file=_file(args.ssh_key_file, "--ssh-key-file"), ssh_password_env=args.ssh_password_env,
        known_hosts=_file(args.known_hosts, "--known-hosts"), observer=args.observer,
        management_network=args.management_network, management_gateway=args.management_gateway,
        workload_prefix=args.workload_prefix, workload_gateway=args.workload_gateway, dns_names=tuple(names))


def _kubeconfig_ca(kubeconfig: str | None, context: str | None, output: Path) -> str | None:
    """The CA file the kubeconfig's cluster trusts (the Supervisor API's, for api_vip.ca_file): its
    ``certificate-authority`` path, or its ``certificate-authority-data`` written beside the output."""
    if not kubeconfig:
        return None
    try:
        config = yaml.safe_load(Path(kubeconfig).read_text())
        contexts = {c["name"]: c["context"] for c in config.get("contexts") or []}
        chosen = contexts[context or config.get("current-context")]
        cluster = next(c["cluster"] for c in config.get("clusters") or [] if c["name"] == chosen["cluster"])
    except (OSError, yaml.YAMLError, AttributeError, KeyError, TypeError, StopIteration):
        return None
    if isinstance(cluster.get("certificate-authority"), str):
        path = Path(cluster["certificate-authority"])
        path = path if path.is_absolute() else Path(kubeconfig).parent / path
        return str(path.resolve()) if path.is_file() else None
    if isinstance(cluster.get("certificate-authority-data"), str):
        try:
            pem = base64.b64decode(cluster["certificate-authority-data"], validate=True)
        except ValueError:
            return None
        target = output.parent / f"{output.stem}-supervisor-ca.pem"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(pem)
        return str(target.resolve())
    return None


def _vcenter_error(error: ObservationError) -> DiscoverError:
    status = getattr(error, "status", None)
    if status in (401, 403):
        return DiscoverError(BAD_INPUT, f"{error.target}: refused the credentials (HTTP {status}): {error.cause}")
    if isinstance(error, ApiTlsError):
        return DiscoverError(BAD_INPUT, f"{error.target}: {error.cause} (check --vcenter-ca)")
    return DiscoverError(CANNOT_READ, f"{error.target}: {error.cause}")


def _cluster(reader: VcenterReader, wanted: str | None, url: str) -> tuple[str, str | None]:
    summaries = [s for s in reader.clusters() if isinstance(s, dict) and s.get("cluster")]
    listed = ", ".join(f"{s['cluster']} ({s.get('cluster_name', '')})" for s in summaries)
    if wanted is not None:
        for s in summaries:
            if s["cluster"] == wanted:
                return str(s["cluster"]), s.get("cluster_name")
        raise DiscoverError(BAD_INPUT, f"vCenter {url}: cluster {wanted} has no Workload Management "
                                       f"(clusters with it: {listed or 'none'})")
    if not summaries:
        raise DiscoverError(CANNOT_READ, f"vCenter {url}: no cluster has Workload Management (no Supervisor)")
    if len(summaries) > 1:
        raise DiscoverError(BAD_INPUT, f"vCenter {url}: several Supervisors ({listed}); choose one with "
                                       "--cluster domain-cN")
    return str(summaries[0]["cluster"]), summaries[0].get("cluster_name")


def _read_kube(given: OperatorInput, facts: SiteFacts, timeout: float) -> None:
    if not given.kubeconfig:
        facts.problems.append("Kubernetes not read (no --kubeconfig): wcp-network-config and ncp.ini unknown")
        return
    try:
        with KubeReader.from_kubeconfig(given.kubeconfig, given.context, timeout, connect_timeout=timeout) as kube:
            namespace, name = WCP_NETWORK_CONFIGMAP
            data = kube.config_map(namespace, name).get("data")
            facts.wcp_network_config = data if isinstance(data, dict) else {}
            namespace, name = discovery.NCP_CONFIGMAP
            data = kube.config_map(namespace, name).get("data")
            facts.ncp_ini = str((data or {}).get("ncp.ini", "")) if isinstance(data, dict) else None
            facts.system_tier1, facts.system_snat_ip = system_egress(kube.namespaces())
    except ObservationError as error:
        facts.problems.append(f"Kubernetes not fully read: {error.target}: {error.cause}")


def _read_nsx(given: OperatorInput, facts: SiteFacts, timeout: float) -> None:
    managers = [m if "://" in m else f"https://{m}" for m in (given.nsx_managers or ncp_managers(facts.ncp_ini))]
    if not (managers and given.nsx_user and given.nsx_ca):
        facts.problems.append("NSX not read (needs --nsx-user, --nsx-ca and --nsx or NCP's managers): egress_ip and "
                              "the VMs' workload addresses unknown")
        return
    password = _password(given.nsx_password_env or "WCP_NSX_PASSWORD", "--nsx-password-env")
    vip = str(facts.info.get("api_server_cluster_endpoint") or "")
    try:
        with NsxReader(managers, Path(given.nsx_ca), given.nsx_user, password, timeout=timeout,
                       connect_timeout=timeout) as nsx:
            cluster = ncp_cluster(facts.ncp_ini)
            if cluster:
                rules: list[dict[str, Any]] = []
                tier1s = discovery.supervisor_tier1s(nsx.tier1s(), cluster)
                if facts.system_tier1 in tier1s:  # not a vSphere Namespace's own Tier-1 and SNAT
                    tier1s = [facts.system_tier1]
                for tier1 in tier1s:
                    rules.extend(nsx.nat_rules(tier1))
                facts.egress_ip = egress_ip_from_nat(rules)
                facts.dlb_lb_service = discovery.dlb_service_path(nsx.lb_services(), cluster)
            if vip:
                facts.vip_pool_members = tuple(vip_members(vip, nsx.virtual_servers(), nsx.lb_pools()))
    except ObservationError as error:
        facts.problems.append(f"NSX not fully read: {error.target}: {error.cause}")


def discover(args: argparse.Namespace) -> tuple[str, list[str]]:
    """The inventory's text and the fields still to fill; DiscoverError on what stops it."""
    given = _operator(args)
    output = Path(args.output)
    if output.exists() and not args.force:
        raise DiscoverError(BAD_INPUT, f"{output} exists (pass --force to overwrite)")
    password = _password(given.vcenter_password_env, "--vcenter-password-env")
    url = given.vcenter_url if "://" in given.vcenter_url else f"https://{given.vcenter_url}"
    try:
        with VcenterReader(url, Path(given.vcenter_ca), given.vcenter_user, password, timeout=args.timeout,
                           connect_timeout=args.timeout, tries=1) as vcenter:
            moid, name = _cluster(vcenter, args.cluster, url)
            info = vcenter.cluster(moid)
    except HttpObservationError as error:
        raise _vcenter_error(error) from None
    except ObservationError as error:
        raise DiscoverError(CANNOT_READ, f"{error.target}: {error.cause}") from None
    facts = SiteFacts(moid, str(name) if name else None, info)
    if given.api_ca is None:  # the CA the kubeconfig trusts for the Supervisor API, if it names one
        found_ca = _kubeconfig_ca(given.kubeconfig, given.context, output)
        if found_ca is not None:
            given = dataclasses.replace(given, api_ca=found_ca)
            facts.problems.append(f"api_vip.ca_file is the CA the kubeconfig trusts ({found_ca}); verify it signs "
                                  "the VIP's certificate on 443 too")
    _read_kube(given, facts, args.timeout)
    _read_nsx(given, facts, args.timeout)
    found = build_inventory(facts, given)
    text = found.render()
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text)
    return str(output), [f"{path}: {why}" for path, why in found.placeholders] + [f"note: {n}" for n in found.notes]


def handle(args: argparse.Namespace, _rest: list[str]) -> int:
    try:
        written, todo = discover(args)
    except DiscoverError as error:
        print(f"wcp-acceptance discover: {error}", file=sys.stderr)  # noqa: T201
        return error.code
    fill = [t for t in todo if not t.startswith("note: ")]
    print(f"wrote {written}")  # noqa: T201
    if fill:
        print(f"fill before use ({len(fill)} fields):")  # noqa: T201
        for line in fill:
            print(f"  {line}")  # noqa: T201
    for line in todo:
        if line.startswith("note: "):
            print(line)  # noqa: T201
    return 0
