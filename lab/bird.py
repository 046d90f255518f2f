"""Real BGP between the lab's edge (the Tier-0) and its upstream router: one BIRD 2 daemon in each namespace.

The seed: "the NSX-T Tier-0 router is configured as a BGP Autonomous System which peers with the
physical router, both advertise and share routes". Here the edge's BIRD (AS :data:`EDGE_AS`)
originates the router's ``routes_to_edge`` (172.16.0.0/16 in the seed: the ingress and egress
ranges) and exports them over the point-to-point uplink; the router's BIRD (AS :data:`ROUTER_AS`)
imports them and writes them into its kernel table (``proto bird``), so the router routes the
ingress/egress range to the edge because it learnt it by BGP, not because of a static route.

Files, all under the lab's folder (``/run/wcp-lab/<prefix>/bird/``): ``<node>.conf``,
``<node>.ctl`` (the control socket ``birdc -s`` talks to; the NSX simulator asks the edge's at
request time, see :mod:`lab.sim.nsx_routing`) and ``<node>.log``. Nothing runs in the host
namespace: each daemon is started with ``ip netns exec`` like dnsmasq and sshd
(:class:`lab.services._Child`).

:class:`BgpPeering` starts both and returns only once the router's session is Established and its
kernel holds every learnt prefix (bounded by ``establish_timeout``, with the daemons' own words in
the error). ``disable()`` / ``enable()`` take the router's side of the session down and up again
(the ``bgp-down`` fault): BIRD withdraws the learnt routes from the router's kernel at once.
"""

from __future__ import annotations

import re
import subprocess
import time
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from .services import IP, ServiceError, _Child

if TYPE_CHECKING:  # the NSX simulator imports this module for birdc: it must not pay for pydantic
    from .topology import Topology

BIRD = "/usr/sbin/bird"
BIRDC = "/usr/sbin/birdc"
EDGE_AS = 65010  # private AS numbers (RFC 6996): the Tier-0 and the physical router
ROUTER_AS = 65001
EDGE_PROTOCOL = "tier0_uplink"  # the edge's BGP protocol: the Tier-0's neighbour, as NSX lists it
ROUTER_PROTOCOL = "tier0"  # the router's BGP protocol towards the Tier-0
ORIGIN_PROTOCOL = "tier0_nets"  # the edge's static protocol that originates what it advertises

# BIRD's BGP states, as `birdc show protocols all` prints them, in NSX's connection_state words
NSX_STATE = {"Idle": "IDLE", "Connect": "CONNECT", "Active": "ACTIVE", "OpenSent": "OPEN_SENT",
             "OpenConfirm": "OPEN_CONFIRM", "Established": "ESTABLISHED", "Close": "IDLE", "Down": "IDLE"}


@dataclass(frozen=True)
class Peering:
    """The one eBGP session of a topology: edge uplink <-> router uplink, and what the edge originates."""

    edge_address: IPv4Address
    router_address: IPv4Address
    advertised: tuple[IPv4Network, ...]

    @classmethod
    def of(cls, topology: Topology) -> Peering:
        _, edge = topology.edge
        _, router = topology.router
        return cls(edge.uplink, router.uplink, tuple(router.routes_to_edge))


_TIMERS = ("  hold time 9;\n  keepalive time 3;\n  connect delay time 0;\n  connect retry time 1;\n"
           "  error wait time 1, 5;\n")


def edge_config(peering: Peering) -> str:
    """The edge's (the Tier-0's) BIRD: originate ``advertised`` and export exactly that to the router."""
    routes = "".join(f"  route {net} unreachable;\n" for net in peering.advertised)
    return (f"router id {peering.edge_address};\n"
            "protocol device { scan time 10; }\n"
            f"protocol static {ORIGIN_PROTOCOL} {{\n  ipv4;\n{routes}}}\n"
            f"protocol bgp {EDGE_PROTOCOL} {{\n  description \"Tier-0 uplink to the upstream router\";\n"
            f"  local {peering.edge_address} as {EDGE_AS};\n  neighbor {peering.router_address} as {ROUTER_AS};\n"
            f"{_TIMERS}  ipv4 {{ import none; export where proto = \"{ORIGIN_PROTOCOL}\"; }};\n}}\n")


def router_config(peering: Peering) -> str:
    """The upstream router's BIRD: import what the Tier-0 advertises into the kernel, export nothing to it."""
    return (f"router id {peering.router_address};\n"
            "protocol device { scan time 10; }\n"
            "protocol kernel { ipv4 { import none; export all; }; scan time 10; }\n"
            f"protocol bgp {ROUTER_PROTOCOL} {{\n  description \"the Tier-0 of the Supervisor's edge\";\n"
            f"  local {peering.router_address} as {ROUTER_AS};\n  neighbor {peering.edge_address} as {EDGE_AS};\n"
            f"{_TIMERS}  passive on;\n  ipv4 {{ import all; export none; }};\n}}\n")


def birdc(socket: str | Path, *args: str, timeout: float = 3.0) -> str:
    """``birdc -s SOCKET ARGS...`` (a unix socket: no namespace needed); its output, or ServiceError."""
    try:
        done = subprocess.run([BIRDC, "-s", str(socket), *args], capture_output=True, text=True,  # noqa: S603
                              timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ServiceError(f"birdc -s {socket} {' '.join(args)}: {exc}") from exc
    if done.returncode != 0:
        raise ServiceError(f"birdc -s {socket} {' '.join(args)} exited {done.returncode}: "
                           f"{(done.stderr or done.stdout).strip()}")
    return done.stdout


@dataclass(frozen=True)
class ProtocolState:
    """One BGP protocol as ``show protocols all`` reports it."""

    name: str
    state: str  # BIRD's BGP state (Established, Active, ...) or the protocol state (down) when it has none
    since: str
    info: str  # the last error or BIRD's info column ("Socket: Connection refused")

    @property
    def nsx_state(self) -> str:
        """NSX's connection_state for it (UNKNOWN for anything BIRD says that has no NSX word)."""
        return NSX_STATE.get(self.state, "UNKNOWN")


def protocol_state(socket: str | Path, protocol: str) -> ProtocolState:
    """The BGP state of ``protocol``, asked now."""
    text = birdc(socket, "show", "protocols", "all", protocol)
    return parse_protocol_state(text, protocol)


def parse_protocol_state(text: str, protocol: str) -> ProtocolState:
    """Parse ``show protocols all <protocol>``: the summary line and its ``BGP state:`` / ``Last error:`` lines."""
    summary = next((line.split() for line in text.splitlines() if line.split()[:1] == [protocol]), None)
    if summary is None or len(summary) < 5:
        raise ServiceError(f"BIRD did not list protocol {protocol}:\n{text}")
    bgp = re.search(r"^\s*BGP state:\s*(\S+)", text, re.MULTILINE)
    error = re.search(r"^\s*Last error:\s*(.+)$", text, re.MULTILINE)
    state = bgp.group(1) if bgp else ("Down" if summary[3] == "down" else summary[3])
    info = " ".join(summary[6:]) if len(summary) > 6 else ""
    if error and error.group(1).strip() not in info:
        info = f"{info} (last error: {error.group(1).strip()})" if info else error.group(1).strip()
    return ProtocolState(protocol, state, summary[4], info)


def exported_routes(socket: str | Path, protocol: str) -> list[str]:
    """The prefixes BIRD exports to ``protocol`` now (``show route export``); none while it is down."""
    try:
        text = birdc(socket, "show", "route", "export", protocol)
    except ServiceError as exc:
        if "No valid tables" in str(exc):  # a protocol that is not up has no table to export from
            return []
        raise
    return [m.group(1) for m in re.finditer(r"^(\d+\.\d+\.\d+\.\d+/\d+)\s", text, re.MULTILINE)]


class BirdDaemon(_Child):
    """``bird -f`` in ``netns`` with ``config``; its control socket and log in ``workdir``."""

    def __init__(self, netns: str, name: str, config: str, workdir: Path, *, start_timeout: float = 5.0,
                 stop_timeout: float = 3.0) -> None:
        super().__init__(netns, workdir / f"{name}.log", start_timeout, stop_timeout)
        self.name = name
        self.config = config
        self.workdir = workdir

    @property
    def config_path(self) -> Path:
        return self.workdir / f"{self.name}.conf"

    @property
    def socket(self) -> Path:
        return self.workdir / f"{self.name}.ctl"

    def __repr__(self) -> str:
        return f"<BirdDaemon {self.name} in {self.netns}>"

    def start(self) -> BirdDaemon:
        try:
            self.workdir.mkdir(parents=True, exist_ok=True)
            self.config_path.write_text(self.config)
            self.socket.unlink(missing_ok=True)
            self._spawn([BIRD, "-f", "-c", str(self.config_path), "-s", str(self.socket)])
            deadline = time.monotonic() + self.start_timeout
            while True:
                if not self.running:
                    raise ServiceError(f"bird {self.name} in {self.netns} exited:\n{self.log()}")
                if self.socket.exists():
                    try:
                        birdc(self.socket, "show", "status", timeout=1.0)
                        return self
                    except ServiceError:
                        pass
                if time.monotonic() >= deadline:
                    raise ServiceError(f"bird {self.name} in {self.netns} did not open {self.socket} within "
                                       f"{self.start_timeout} s:\n{self.log()}")
                time.sleep(0.02)
        except BaseException:
            self.stop()
            raise


class BgpPeering:
    """The edge's and the router's BIRD, started together; up once the session is Established."""

    def __init__(self, topology: Topology, prefix_ns: dict[str, str], workdir: Path, *,
                 establish_timeout: float = 10.0) -> None:
        self.peering = Peering.of(topology)
        edge, _ = topology.edge
        router, _ = topology.router
        self.router_netns = prefix_ns[router]
        self.edge = BirdDaemon(prefix_ns[edge], "edge", edge_config(self.peering), workdir)
        self.router = BirdDaemon(prefix_ns[router], "router", router_config(self.peering), workdir)
        self.establish_timeout = establish_timeout

    def __repr__(self) -> str:
        return f"<BgpPeering {self.peering.edge_address} AS{EDGE_AS} <-> {self.peering.router_address} AS{ROUTER_AS}>"

    @property
    def running(self) -> bool:
        return self.edge.running and self.router.running

    def start(self) -> BgpPeering:
        try:
            # the router listens first and waits (passive); the edge then connects at once (connect delay 0),
            # so the session comes up in one round of OPEN/KEEPALIVE instead of after a connect retry
            self.router.start()
            self.edge.start()
            self.wait_established()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        self.router.stop()
        self.edge.stop()

    def _router_learnt(self) -> set[str]:
        done = subprocess.run([IP, "-n", self.router_netns, "-4", "route", "show", "proto", "bird"],  # noqa: S603
                              capture_output=True, text=True, timeout=3, check=False)
        return {line.split()[0] for line in done.stdout.splitlines() if line.strip()}

    def wait_established(self) -> None:
        """Until the router's session is Established and its kernel routes every advertised prefix (bounded)."""
        deadline = time.monotonic() + self.establish_timeout
        wanted = {str(net) for net in self.peering.advertised}
        state: ProtocolState | None = None
        while True:
            state = protocol_state(self.router.socket, ROUTER_PROTOCOL)
            if state.state == "Established" and wanted <= self._router_learnt():
                return
            if time.monotonic() >= deadline:
                edge = protocol_state(self.edge.socket, EDGE_PROTOCOL)
                raise ServiceError(
                    f"the BGP session {self.peering.router_address} (router, AS {ROUTER_AS}) <-> "
                    f"{self.peering.edge_address} (edge, AS {EDGE_AS}) was not Established with "
                    f"{', '.join(sorted(wanted))} in the router's kernel within {self.establish_timeout:g} s: router "
                    f"{state.state} {state.info}; edge {edge.state} {edge.info}; router learnt "
                    f"{sorted(self._router_learnt()) or 'nothing'}\nedge log:\n{self.edge.log()}\nrouter log:\n"
                    f"{self.router.log()}")
            time.sleep(0.05)

    def status(self) -> dict[str, object]:
        """What ``wcp-lab status`` shows: both sides' BGP state now and what the router's kernel learnt."""
        sides: dict[str, object] = {}
        for side, daemon, protocol in (("edge", self.edge, EDGE_PROTOCOL), ("router", self.router, ROUTER_PROTOCOL)):
            if not daemon.running:
                sides[side] = {"state": "not running", "info": ""}
                continue
            state = protocol_state(daemon.socket, protocol)
            sides[side] = {"state": state.state, "info": state.info}
        return {**sides, "learnt": sorted(self._router_learnt())}

    def disable(self) -> None:
        """Take the router's side of the session down (the bgp-down fault): the learnt routes are withdrawn."""
        birdc(self.router.socket, "disable", ROUTER_PROTOCOL)
        deadline = time.monotonic() + self.establish_timeout
        while self._router_learnt() & {str(net) for net in self.peering.advertised}:
            if time.monotonic() >= deadline:
                raise ServiceError(f"the router kept its BGP routes {sorted(self._router_learnt())} after "
                                   f"disable {ROUTER_PROTOCOL}")
            time.sleep(0.05)

    def enable(self) -> None:
        birdc(self.router.socket, "enable", ROUTER_PROTOCOL)
        self.wait_established()

    def __enter__(self) -> BgpPeering:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

