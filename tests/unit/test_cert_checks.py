"""WCP-CERT-001: days left on the certificates an endpoint serves, with certificates made at chosen dates.

The messages are tested on records built from real certificates (trustme); the probe against small TLS
servers on 127.0.0.1 (one handshake, no request), and the VIP's certificate from the VIP observation.
"""

from __future__ import annotations

import socket
import ssl
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
import trustme

from lab.sim.server import SimServer
from lab.tls import LabCA
from wcp_acceptance.checks.cert import check_cert_days, judge_chain
from wcp_acceptance.finding import CheckFailed, ObservationError, expect
from wcp_acceptance.inventory.model import CertificatesSpec, Timeouts
from wcp_acceptance.plan import cert_endpoints
from wcp_acceptance.probes.cert import (
    CertObservation,
    ca_certificates,
    from_vip,
    issuer_chain,
    judged,
    observe_cert,
)
from wcp_acceptance.probes.vip import PeerCertificate, TcpStep, TlsStep, VipObservation, decode_certificate
from wcp_acceptance.targets import CertEndpoint

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
LIMITS = CertificatesSpec()  # warn_days 30, fail_days 7
FAST = Timeouts(connect=0.5, api=0.5)
NSX = CertEndpoint("nsx", "192.168.10.28", 443, "192.168.10.28", Path("/etc/wcp/nsx-ca.pem"))
VIP = CertEndpoint("vip", "172.16.1.2", 6443, "172.16.1.2", Path("/etc/wcp/supervisor-ca.pem"))


def issued(ca: trustme.CA, *, days_left: float, valid_since_days: float = 30, name: str = "nsx.corp.local",
           ) -> PeerCertificate:
    cert = ca.issue_cert(name, common_name=name, not_before=NOW - timedelta(days=valid_since_days),
                         not_after=NOW + timedelta(days=days_left))
    return decode_certificate(_der(cert.cert_chain_pems[0].bytes()))


def _der(pem: bytes) -> bytes:
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    return x509.load_pem_x509_certificate(pem).public_bytes(Encoding.DER)


def ca_of(ca: trustme.CA) -> PeerCertificate:
    return decode_certificate(_der(ca.cert_pem.bytes()))


def observation(leaf: PeerCertificate, chain: tuple[PeerCertificate, ...] = (),
                endpoint: CertEndpoint = NSX, *, verify_code: int | None = None) -> CertObservation:
    outcome = "verified" if verify_code is None else "verify_failed"
    tls = TlsStep(outcome, endpoint.server_name, 0.01, 5.0, verify_code=verify_code,
                  verify_message="certificate has expired" if verify_code == 10 else "", certificate=leaf)
    return CertObservation(endpoint, endpoint.ca_file, NOW, tls, leaf, chain)


@pytest.fixture
def ca() -> trustme.CA:
    return trustme.CA()


def test_a_year_left_passes_and_records_the_end_date(ca: trustme.CA) -> None:
    leaf = issued(ca, days_left=365.5)
    finding = expect(check_cert_days(observation(leaf, (ca_of(ca),)), LIMITS))
    assert finding.target == "nsx 192.168.10.28:443"
    assert f"valid until {leaf.not_after:%Y-%m-%dT%H:%M:%SZ} (365 days left)" in finding.observed
    assert "its CA" in finding.observed  # the chain's end date too


def test_below_warn_days_is_a_major_failure_naming_subject_issuer_notafter_and_thresholds(ca: trustme.CA) -> None:
    leaf = issued(ca, days_left=20.5)
    finding = check_cert_days(observation(leaf, (ca_of(ca),)), LIMITS)
    assert not finding.ok
    assert finding.severity == "major"
    assert finding.observed == (f"certificate {leaf.subject} (position 1 of 2 in the chain, served) issued by "
                                f"{leaf.issuer}, notAfter {leaf.not_after:%Y-%m-%dT%H:%M:%SZ}: 20 days left, "
                                "below warn_days 30")
    assert "warn_days 30, fail_days 7" in finding.expected
    assert "NSX manager's certificate was not renewed" in finding.cause
    message = finding.message()
    assert "Severity: major." in message
    assert "thresholds: warn_days 30, fail_days 7 (inventory certificates)" in message
    with pytest.raises(CheckFailed, match="20 days left"):
        expect(finding)


def test_below_fail_days_is_critical(ca: trustme.CA) -> None:
    finding = check_cert_days(observation(issued(ca, days_left=5.5)), LIMITS)
    assert (finding.ok, finding.severity) == (False, "critical")
    assert "5 days left, below fail_days 7" in finding.observed
    assert "issuing CA of CN=nsx.corp.local" in "\n".join(finding.evidence)
    assert "not found in /etc/wcp/nsx-ca.pem" in "\n".join(finding.evidence)


def test_days_left_are_whole_days_rounded_down(ca: trustme.CA) -> None:
    finding = check_cert_days(observation(issued(ca, days_left=6.99)), LIMITS)
    assert "6 days left, below fail_days 7" in finding.observed
    assert "1 day left" in check_cert_days(observation(issued(ca, days_left=1.2)), LIMITS).observed


def test_exactly_warn_days_left_passes(ca: trustme.CA) -> None:
    assert check_cert_days(observation(issued(ca, days_left=30.1)), LIMITS).ok


def test_an_expired_certificate_is_critical_and_says_when(ca: trustme.CA) -> None:
    leaf = issued(ca, days_left=-3.5)
    finding = check_cert_days(observation(leaf, verify_code=10), LIMITS)
    assert (finding.ok, finding.severity) == (False, "critical")
    assert f"notAfter {leaf.not_after:%Y-%m-%dT%H:%M:%SZ}: expired 3 days ago" in finding.observed
    assert "run out already" in finding.cause
    assert "certificate has expired, X509 error 10" in finding.evidence[0]


def test_a_certificate_not_yet_valid_is_critical_and_blames_the_clock(ca: trustme.CA) -> None:
    leaf = issued(ca, days_left=400, valid_since_days=-2)
    finding = check_cert_days(observation(leaf, verify_code=9), LIMITS)
    assert (finding.ok, finding.severity) == (False, "critical")
    assert f"not valid before {leaf.not_before:%Y-%m-%dT%H:%M:%SZ}" in finding.observed
    assert "clock skew" in finding.cause


def test_a_chain_ca_running_out_fails_even_when_the_leaf_is_fine(ca: trustme.CA) -> None:
    leaf = issued(ca, days_left=300)
    root = ca_of(ca)
    short = PeerCertificate(root.subject, root.subject, (), (), root.not_before, NOW + timedelta(days=10.5), "ab")
    finding = check_cert_days(observation(leaf, (short,)), LIMITS)
    assert finding.severity == "major"
    assert finding.observed.startswith(f"issuing CA certificate {root.subject} (position 2 of 2 in the chain, from "
                                       "the CA file)")
    assert "10 days left, below warn_days 30" in finding.observed
    assert "renew the CA" in finding.cause


def test_the_worst_certificate_leads_and_the_others_follow(ca: trustme.CA) -> None:
    leaf = issued(ca, days_left=20.5)
    root = ca_of(ca)
    dying = PeerCertificate(root.subject, root.subject, (), (), root.not_before, NOW + timedelta(days=2.5), "ab")
    finding = check_cert_days(observation(leaf, (dying,)), LIMITS)
    assert finding.severity == "critical"
    assert finding.observed.startswith("issuing CA certificate")
    assert "; also certificate " in finding.observed
    assert "20 days left" in finding.observed


def test_thresholds_come_from_the_inventory(ca: trustme.CA) -> None:
    limits = CertificatesSpec(warn_days=90, fail_days=45)
    finding = check_cert_days(observation(issued(ca, days_left=60.5)), limits)
    assert finding.severity == "major"
    assert "60 days left, below warn_days 90" in finding.observed
    assert "warn_days 90, fail_days 45" in finding.expected


def test_the_vip_target_reads_like_its_port_and_the_cause_names_the_supervisor(ca: trustme.CA) -> None:
    finding = check_cert_days(observation(issued(ca, days_left=3.5), endpoint=VIP), LIMITS)
    assert finding.target == "172.16.1.2:6443"
    assert "Supervisor's certificate was not rotated" in finding.cause


def test_the_chain_is_followed_through_the_ca_file(tmp_path: Path) -> None:
    root = trustme.CA()
    intermediate = root.create_child_ca()
    cert = intermediate.issue_cert("nsx.corp.local")
    leaf = decode_certificate(_der(cert.cert_chain_pems[0].bytes()))
    ca_file = tmp_path / "ca.pem"
    ca_file.write_bytes(intermediate.cert_pem.bytes() + root.cert_pem.bytes())
    chain = issuer_chain(leaf, ca_certificates(ca_file))
    assert [c.subject for c in chain] == [ca_of(intermediate).subject, ca_of(root).subject]


# ---- the probe: one handshake per endpoint, a failed one is an error -----------------------------


class _Silent(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        return


@pytest.fixture
def lab_ca(tmp_path: Path) -> tuple[LabCA, Path]:
    ca = LabCA()
    return ca, ca.write_ca(tmp_path / "ca.pem")


def _endpoint(server: SimServer, ca_file: Path, name: str = "127.0.0.1") -> CertEndpoint:
    return CertEndpoint("nsx", server.host, server.port, name, ca_file)


def test_the_probe_reads_the_certificate_from_one_handshake(lab_ca: tuple[LabCA, Path]) -> None:
    ca, ca_file = lab_ca
    with SimServer(_Silent, None, ca.server_context("127.0.0.1", days_left=5.5)) as server:
        obs = observe_cert(_endpoint(server, ca_file), FAST)
    assert obs.tls.outcome == "verified"
    assert [c.subject for c in obs.chain] == [c.subject for c in ca_certificates(ca_file)]
    finding = check_cert_days(obs, LIMITS)
    assert "5 days left, below fail_days 7" in finding.observed
    assert finding.severity == "critical"


def test_an_expired_certificate_is_still_observed(lab_ca: tuple[LabCA, Path]) -> None:
    ca, ca_file = lab_ca
    with SimServer(_Silent, None, ca.server_context("127.0.0.1", days_left=-2)) as server:
        obs = observe_cert(_endpoint(server, ca_file), FAST)
    assert (obs.tls.outcome, obs.tls.verify_code) == ("verify_failed", 10)
    assert "expired" in check_cert_days(obs, LIMITS).observed


def test_a_certificate_from_another_ca_is_an_error_not_a_failure(lab_ca: tuple[LabCA, Path], tmp_path: Path) -> None:
    ca, _ = lab_ca
    other = LabCA().write_ca(tmp_path / "other.pem")
    with SimServer(_Silent, None, ca.server_context("127.0.0.1")) as server, \
            pytest.raises(ObservationError) as caught:
        observe_cert(_endpoint(server, other), FAST)
    assert "not one" in caught.value.cause
    assert "vouches for" in caught.value.cause
    assert caught.value.target == f"nsx 127.0.0.1:{server.port}"


def test_a_refused_port_is_an_error(lab_ca: tuple[LabCA, Path]) -> None:
    _, ca_file = lab_ca
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(ObservationError, match="refused"):
        observe_cert(CertEndpoint("vcenter", "127.0.0.1", port, "127.0.0.1", ca_file), FAST)


def test_a_silent_port_is_an_error_within_the_connect_timeout(lab_ca: tuple[LabCA, Path]) -> None:
    _, ca_file = lab_ca
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        endpoint = CertEndpoint("nsx", "127.0.0.1", listener.getsockname()[1], "127.0.0.1", ca_file)
        with pytest.raises(ObservationError, match=r"no TLS handshake within 0.5 s \(connect timeout\)"):
            observe_cert(endpoint, FAST)


def test_the_vip_certificate_comes_from_the_vip_observation(ca: trustme.CA) -> None:
    leaf = issued(ca, days_left=100.5)
    vip = VipObservation(VIP.vip_port(), VIP.ca_file, (), NOW, TcpStep("ok", "", 0.01, 5.0),
                         TlsStep("verified", VIP.server_name, 0.01, 5.0, certificate=leaf))
    obs = from_vip(VIP, vip)
    assert (obs.leaf, obs.observed_at, obs.shared_with) == (leaf, NOW, "WCP-VIP-001..003")
    assert "100 days left" in check_cert_days(obs, LIMITS).observed


def test_a_vip_port_that_refuses_is_an_error_for_the_certificate_check() -> None:
    vip = VipObservation(VIP.vip_port(), VIP.ca_file, (), NOW,
                         TcpStep("refused", "[Errno 111] Connection refused", 0.01, 5.0))
    with pytest.raises(ObservationError, match="refused"):
        from_vip(VIP, vip)


def test_the_endpoints_come_from_the_inventory() -> None:
    from tests.support.inventories import EXAMPLE, EXAMPLE_ENV
    from wcp_acceptance.inventory import load_inventory

    with pytest.MonkeyPatch.context() as patch:
        for key, value in EXAMPLE_ENV.items():
            patch.setenv(key, value)
        inventory = load_inventory(EXAMPLE)
    ids = [str(e) for e in cert_endpoints(inventory)]
    vip = inventory.api_vip
    assert ids[:len(vip.ports)] == [f"{vip.address}:{p}" for p in vip.ports]
    assert [i for i in ids if i.startswith("nsx ")] == [f"nsx {m.removeprefix('https://')}"
                                                      + ("" if ":" in m.removeprefix("https://") else ":443")
                                                      for m in inventory.nsx.managers]
    assert ids[-1].startswith("vcenter ")


# ---- the chain the endpoint serves: intermediates from the handshake, named by position ----------------------


def test_an_intermediate_running_out_names_its_subject_and_position(ca: trustme.CA) -> None:
    leaf = issued(ca, days_left=300)
    root = ca_of(ca)
    intermediate = PeerCertificate("CN=Corp Issuing CA 2", root.subject, (), (), NOW - timedelta(days=400),
                                   NOW + timedelta(days=5.5), "cd")
    obs = observation(leaf, (root,))
    obs = CertObservation(obs.endpoint, obs.ca_file, NOW, obs.tls, leaf, (root,), served=(intermediate,))
    finding = check_cert_days(obs, LIMITS)
    assert (finding.ok, finding.severity) == (False, "critical")
    assert finding.observed == (f"intermediate CA certificate CN=Corp Issuing CA 2 (position 2 of 3 in the chain, "
                                f"served) issued by {root.subject}, notAfter "
                                f"{intermediate.not_after:%Y-%m-%dT%H:%M:%SZ}: 5 days left, below fail_days 7")
    assert "intermediate CA that the NSX manager sends" in finding.cause
    evidence = "\n".join(finding.evidence)
    assert "served chain: the leaf and 1 more certificate sent in the handshake" in evidence
    assert "2. intermediate CA certificate (served): subject CN=Corp Issuing CA 2" in evidence
    assert f"3. issuing CA certificate (from the CA file): subject {root.subject}" in evidence


def test_a_pass_names_the_soonest_ca_of_the_chain_with_its_position(ca: trustme.CA) -> None:
    leaf = issued(ca, days_left=300)
    intermediate = PeerCertificate("CN=Corp Issuing CA 2", "CN=Corp Root", (), (), NOW - timedelta(days=400),
                                   NOW + timedelta(days=200.5), "cd")
    obs = CertObservation(NSX, NSX.ca_file, NOW, observation(leaf).tls, leaf, (), served=(intermediate,))
    finding = expect(check_cert_days(obs, LIMITS))
    assert "its CA CN=Corp Issuing CA 2 (position 2 of 2 in the chain, served) until" in finding.observed
    assert "(200 days left)" in finding.observed


def test_an_unknown_served_chain_is_said_in_the_evidence(ca: trustme.CA) -> None:
    leaf = issued(ca, days_left=5.5)
    obs = CertObservation(NSX, NSX.ca_file, NOW, observation(leaf).tls, leaf, (ca_of(ca),),
                          served_note="this Python's ssl cannot hand out the certificates the server sent")
    evidence = "\n".join(check_cert_days(obs, LIMITS).evidence)
    assert "served chain: not known (this Python's ssl cannot hand out" in evidence


def _chained_server(ca: LabCA, tmp_path: Path, *, intermediate_days: float | None = None) -> tuple[SimServer, Path]:
    ca_file = ca.save(tmp_path / "saved")
    lab = LabCA.load(tmp_path / "saved")
    server = SimServer(_Silent, None, lab.server_context("127.0.0.1", via=lab.intermediate(intermediate_days)))
    return server, ca_file


def test_the_probe_reads_the_intermediate_the_server_sends(tmp_path: Path) -> None:
    server, ca_file = _chained_server(LabCA(), tmp_path, intermediate_days=5.5)
    with server:
        obs = observe_cert(_endpoint(server, ca_file), FAST)
    assert obs.served_note == ""
    assert [c.subject for c in obs.served] == ["CN=wcp-lab intermediate CA,O=wcp-lab"]
    assert [c.subject for c in obs.chain] == [c.subject for c in ca_certificates(ca_file)]  # the root, not sent
    finding = check_cert_days(obs, LIMITS)
    assert finding.severity == "critical"
    assert finding.observed.startswith("intermediate CA certificate CN=wcp-lab intermediate CA,O=wcp-lab (position 2 "
                                       "of 3 in the chain, served)")
    assert "5 days left, below fail_days 7" in finding.observed


def test_the_lab_intermediate_is_saved_once_and_served_by_every_loader(tmp_path: Path) -> None:
    ca = LabCA()
    ca.save(tmp_path / "saved")
    first, second = LabCA.load(tmp_path / "saved"), LabCA.load(tmp_path / "saved")
    assert first.intermediate().cert_pem.bytes() == second.intermediate().cert_pem.bytes()
    server, ca_file = _chained_server(ca, tmp_path / "again")
    with server:
        obs = observe_cert(_endpoint(server, ca_file), FAST)
    assert expect(check_cert_days(obs, LIMITS)).ok


def test_a_served_root_is_judged_once_as_served(tmp_path: Path) -> None:
    root = trustme.CA()
    ca_file = tmp_path / "root.pem"
    root.cert_pem.write_to_path(str(ca_file))
    leaf = root.issue_cert("127.0.0.1")
    served_root = decode_certificate(_der(root.cert_pem.bytes()))
    tls = TlsStep("verified", "127.0.0.1", 0.01, 5.0, certificate=decode_certificate(_der(leaf.cert_chain_pems[0]
                                                                                       .bytes())),
                  served=(served_root,))

    obs = judged(_endpoint_at(ca_file), ca_file, NOW, TcpStep("ok", "", 0.01, 5.0), tls)
    assert obs.served == (served_root,)
    assert obs.chain == ()  # the root was sent: not counted twice from the CA file
    assert [(j.role, j.position, j.served) for j in judge_chain(obs, LIMITS)] == [
        ("certificate", 1, True), ("root CA certificate", 2, True)]


def _endpoint_at(ca_file: Path) -> CertEndpoint:
    return CertEndpoint("nsx", "127.0.0.1", 443, "127.0.0.1", ca_file)


def test_a_python_that_cannot_read_the_sent_chain_says_so() -> None:
    from typing import cast

    from wcp_acceptance.probes.vip import served_chain

    class _Bare:  # neither SSLSocket.get_unverified_chain (3.13+) nor CPython's _sslobj one
        pass

    ders, note = served_chain(cast("ssl.SSLSocket", _Bare()))
    assert (ders, note) == ((), "this Python's ssl cannot hand out the certificates the server sent (only its leaf)")


def test_an_expired_leaf_still_shows_the_intermediate_sent_with_it(tmp_path: Path) -> None:
    ca = LabCA()
    ca_file = ca.save(tmp_path / "saved")
    lab = LabCA.load(tmp_path / "saved")
    with SimServer(_Silent, None, lab.server_context("127.0.0.1", days_left=-2, via=lab.intermediate())) as server:
        obs = observe_cert(_endpoint(server, ca_file), FAST)
    assert (obs.tls.outcome, obs.tls.verify_code) == ("verify_failed", 10)  # read on the second, unverified handshake
    assert [c.subject for c in obs.served] == ["CN=wcp-lab intermediate CA,O=wcp-lab"]
