"""The kube-apiserver VIP probe and checks (WCP-VIP-001..003) against small TLS servers on 127.0.0.1."""

from __future__ import annotations

import json
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from ipaddress import IPv4Address
from pathlib import Path

import pytest

from lab.sim.server import SimServer
from lab.tls import LabCA
from wcp_acceptance.checks.vip import check_vip_tcp, check_vip_tls, check_vip_version, name_matches
from wcp_acceptance.finding import CheckFailed, ObservationError, expect
from wcp_acceptance.inventory.model import Timeouts
from wcp_acceptance.probes.vip import PeerCertificate, TcpStep, TlsStep, VipObservation, observe_vip
from wcp_acceptance.targets import VipPort

LOCAL = "127.0.0.1"
FAST = Timeouts(connect=0.5, api=0.5)
VERSION = {"major": "1", "minor": "26", "gitVersion": "v1.26.4+vmware.wcp.1", "gitCommit": "abc",
           "gitTreeState": "clean", "buildDate": "2023-06-01T00:00:00Z", "goVersion": "go1.20.4",
           "compiler": "gc", "platform": "linux/amd64"}
RELEASE = threading.Event()  # handlers that stall wait on this; set at teardown so threads end


class _Handler(BaseHTTPRequestHandler):
    """Answers /version as the app says: ("json", obj) | (status, content type, body) | "stall"."""

    def do_GET(self) -> None:
        answer = self.server.app  # type: ignore[attr-defined]
        if answer == "stall":
            RELEASE.wait(5)
            return
        if self.path != "/version":
            answer = (404, "text/plain", "404 page not found")
        status, ctype, body = answer
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        return


KUBE = (200, "application/json", json.dumps(VERSION, indent=2))


@pytest.fixture
def ca() -> LabCA:
    return LabCA()


@pytest.fixture
def ca_file(ca: LabCA, tmp_path: Path) -> Path:
    return ca.write_ca(tmp_path / "inventory-ca.pem")


@pytest.fixture
def serve() -> Iterator:
    servers: list[SimServer] = []
    RELEASE.clear()

    def start(tls: ssl.SSLContext, answer: object = KUBE) -> SimServer:
        server = SimServer(_Handler, answer, tls).start()
        servers.append(server)
        return server

    yield start
    RELEASE.set()
    for server in servers:
        server.stop()


def vip(port: int, name: str = LOCAL) -> VipPort:
    return VipPort(IPv4Address(LOCAL), port, name)


def test_healthy_vip_passes_all_three_checks(ca, ca_file, serve):
    server = serve(ca.server_context(LOCAL, "kube.lab.local"))
    obs = observe_vip(vip(server.port), ca_file, FAST)

    assert expect(check_vip_tcp(obs)).ok
    tls = expect(check_vip_tls(obs))
    assert "kube.lab.local, 127.0.0.1" in tls.observed
    version = expect(check_vip_version(obs))
    assert "v1.26.4+vmware.wcp.1" in version.observed
    assert obs.version is not None
    assert obs.version.status == 200


def test_dns_server_name_is_verified_against_dns_sans(ca, ca_file, serve):
    server = serve(ca.server_context("kube.lab.local"))
    obs = observe_vip(vip(server.port, "kube.lab.local"), ca_file, FAST)
    expect(check_vip_tls(obs))
    expect(check_vip_version(obs))


def test_certificate_for_other_names_fails_tls_naming_its_sans(ca, ca_file, serve):
    server = serve(ca.server_context("kube.other.local", "10.0.0.1"))
    obs = observe_vip(vip(server.port), ca_file, FAST)

    expect(check_vip_tcp(obs))
    finding = check_vip_tls(obs)
    assert not finding.ok
    assert finding.observed == "certificate is for kube.other.local, 10.0.0.1 not 127.0.0.1"
    message = finding.message()
    assert "certificate SANs: DNS:kube.other.local, IP:10.0.0.1" in message
    assert "certificate issuer:" in message
    assert "certificate validity:" in message
    version = check_vip_version(obs)
    assert not version.ok
    assert "WCP-VIP-002" in version.cause
    with pytest.raises(CheckFailed, match="certificate is for kube.other.local"):
        expect(finding)


def test_certificate_from_another_ca_fails_as_not_signed_by_the_ca_file(ca_file, serve):
    other = LabCA()
    server = serve(other.server_context(LOCAL))
    obs = observe_vip(vip(server.port), ca_file, FAST)

    finding = check_vip_tls(obs)
    assert not finding.ok
    assert obs.tls is not None
    assert obs.tls.certificate is not None  # read by the second, unverified handshake
    issuer = obs.tls.certificate.issuer
    assert finding.observed == f"certificate issued by {issuer} is not signed by {ca_file}"
    assert "127.0.0.1" in obs.tls.certificate.ip_addresses


def test_ssl_cert_file_and_system_store_are_ignored(ca_file, serve, monkeypatch, tmp_path):
    other = LabCA()
    env_ca = other.write_ca(tmp_path / "env-ca.pem")
    monkeypatch.setenv("SSL_CERT_FILE", str(env_ca))
    monkeypatch.setenv("SSL_CERT_DIR", str(tmp_path))
    server = serve(other.server_context(LOCAL))
    # the environment CA would be trusted by a default context: the test can tell a leak
    with socket.create_connection((LOCAL, server.port), timeout=2) as raw, \
            ssl.create_default_context().wrap_socket(raw, server_hostname=LOCAL) as tls:
        assert tls.version()

    obs = observe_vip(vip(server.port), ca_file, FAST)
    finding = check_vip_tls(obs)
    assert not finding.ok
    assert f"not signed by {ca_file}" in finding.observed


def test_expired_certificate_fails_with_its_end_date(ca, ca_file, serve):
    now = datetime.now(UTC)
    leaf = ca.ca.issue_cert(LOCAL, not_before=now - timedelta(days=30), not_after=now - timedelta(days=1))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    leaf.configure_cert(context)
    server = serve(context)
    obs = observe_vip(vip(server.port), ca_file, FAST)

    finding = check_vip_tls(obs)
    assert not finding.ok
    assert obs.tls is not None
    assert obs.tls.certificate is not None
    ended = obs.tls.certificate.not_after.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert finding.observed.startswith(f"certificate expired on {ended}")
    assert "not rotated" in finding.cause


def test_closed_port_fails_tcp_as_connection_refused(ca_file):
    with socket.socket() as probe:
        probe.bind((LOCAL, 0))
        port = probe.getsockname()[1]
    obs = observe_vip(vip(port), ca_file, FAST)

    tcp = check_vip_tcp(obs)
    assert not tcp.ok
    assert tcp.observed == "connection refused"
    assert "virtual server" in tcp.cause
    assert obs.tls is None
    assert obs.version is None
    assert "WCP-VIP-001" in check_vip_tls(obs).cause
    assert "WCP-VIP-001" in check_vip_version(obs).cause


def test_listener_that_never_speaks_ends_the_tls_step_within_the_timeout(ca_file):
    with socket.socket() as silent:
        silent.bind((LOCAL, 0))
        silent.listen(4)  # the kernel completes TCP; nobody ever reads or writes
        start = time.monotonic()
        obs = observe_vip(vip(silent.getsockname()[1]), ca_file, FAST)
        elapsed = time.monotonic() - start

    assert elapsed < FAST.connect + 1.0
    expect(check_vip_tcp(obs))
    finding = check_vip_tls(obs)
    assert not finding.ok
    assert finding.observed == "TCP connected but no TLS handshake within 0.5 s (timeout)"
    assert obs.version is None


def test_apiserver_that_never_answers_ends_the_version_step_within_the_timeout(ca, ca_file, serve):
    server = serve(ca.server_context(LOCAL), "stall")
    start = time.monotonic()
    obs = observe_vip(vip(server.port), ca_file, FAST)
    elapsed = time.monotonic() - start

    assert elapsed < FAST.connect + FAST.api + 1.0
    expect(check_vip_tls(obs))
    finding = check_vip_version(obs)
    assert not finding.ok
    assert finding.observed == "no HTTP response within 0.5 s (timeout)"


def test_version_from_another_service_fails_with_the_body_as_evidence(ca, ca_file, serve):
    server = serve(ca.server_context(LOCAL), (200, "text/html", "<html><body>Welcome to nginx!</body></html>"))
    obs = observe_vip(vip(server.port), ca_file, FAST)

    expect(check_vip_tls(obs))
    finding = check_vip_version(obs)
    assert not finding.ok
    assert finding.observed.startswith("HTTP 200 OK, missing gitVersion, major, minor: ")
    assert "Welcome to nginx" in finding.observed
    assert "another service answers" in finding.cause
    message = finding.message()
    assert "HTTP status: 200 OK" in message
    assert "content-type: text/html" in message


def test_anonymous_version_refused_names_the_rbac_cause(ca, ca_file, serve):
    body = json.dumps({"kind": "Status", "status": "Failure", "reason": "Forbidden", "code": 403})
    server = serve(ca.server_context(LOCAL), (403, "application/json", body))
    obs = observe_vip(vip(server.port), ca_file, FAST)

    finding = check_vip_version(obs)
    assert not finding.ok
    assert finding.observed.startswith("HTTP 403 Forbidden")
    assert "system:public-info-viewer" in finding.cause


def test_version_without_git_version_is_not_kube_apiserver(ca, ca_file, serve):
    partial = {k: v for k, v in VERSION.items() if k != "gitVersion"}
    server = serve(ca.server_context(LOCAL), (200, "application/json", json.dumps(partial)))
    obs = observe_vip(vip(server.port), ca_file, FAST)

    finding = check_vip_version(obs)
    assert not finding.ok
    assert "missing gitVersion:" in finding.observed


def test_unreadable_ca_file_is_an_observation_error(tmp_path):
    bogus = tmp_path / "ca.pem"
    bogus.write_text("not a certificate\n")
    with pytest.raises(ObservationError, match="cannot load the CA file"):
        observe_vip(vip(1), bogus, FAST)


def _cert(dns: tuple[str, ...] = (), ips: tuple[str, ...] = ()) -> PeerCertificate:
    now = datetime.now(UTC)
    return PeerCertificate("CN=x", "CN=ca", dns, ips, now, now, "00")


@pytest.mark.parametrize(("name", "dns", "ips", "matches"), [
    ("kube.lab.local", ("kube.lab.local",), (), True),
    ("KUBE.lab.local", ("kube.lab.local",), (), True),
    ("kube.lab.local", ("*.lab.local",), (), True),
    ("a.kube.lab.local", ("*.lab.local",), (), False),
    ("172.16.1.2", ("172.16.1.2",), (), False),  # an IP must be in the IP SANs
    ("172.16.1.2", (), ("172.16.1.2",), True),
    ("172.16.1.2", (), ("172.16.1.3",), False),
])
def test_name_matching_follows_openssl(name, dns, ips, matches):
    assert name_matches(name, _cert(dns, ips)) is matches


def test_not_yet_valid_certificate_blames_clock_skew(ca_file):
    now = datetime.now(UTC)
    cert = PeerCertificate("CN=kube", "CN=ca", (), (LOCAL,), now + timedelta(days=2), now + timedelta(days=9), "00")
    obs = VipObservation(vip(6443), ca_file, ("CN=ca",), now, TcpStep("ok", "", 0.01, 0.5),
                         TlsStep("verify_failed", LOCAL, 0.01, 0.5, verify_code=9,
                                 verify_message="certificate is not yet valid", certificate=cert))
    finding = check_vip_tls(obs)
    assert not finding.ok
    assert finding.observed.startswith(f"certificate is not valid before {cert.not_before:%Y-%m-%dT%H:%M:%SZ}")
    assert "clock skew" in finding.cause
