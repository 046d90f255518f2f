"""kube-apiserver VIP checks: pure functions ``VipObservation -> Finding``.

WCP-VIP-001  the VIP accepts TCP on the port
WCP-VIP-002  TLS completes with a certificate valid for the VIP's name that chains to the inventory CA
WCP-VIP-003  ``GET /version`` answers as kube-apiserver (``gitVersion``, ``major``, ``minor``)
"""

from __future__ import annotations

import ipaddress

from wcp_acceptance.finding import Finding, failed, passed
from wcp_acceptance.probes.vip import (
    X509_EXPIRED,
    X509_NAME_MISMATCH,
    X509_NOT_YET_VALID,
    X509_UNTRUSTED,
    PeerCertificate,
    TcpStep,
    TlsStep,
    VipObservation,
    iso_utc,
)

VIP_TCP = "WCP-VIP-001"
VIP_TLS = "WCP-VIP-002"
VIP_VERSION = "WCP-VIP-003"


def _tcp_text(tcp: TcpStep) -> str:
    if tcp.outcome == "ok":
        return f"TCP connected in {tcp.elapsed_s:.2f} s"
    if tcp.outcome == "refused":
        return "connection refused"
    if tcp.outcome == "timeout":
        return f"no TCP connection within {tcp.timeout_s:g} s (timeout)"
    if tcp.outcome == "unreachable":
        return f"unreachable ({tcp.detail})"
    return f"connect failed ({tcp.detail})"


def _tcp_evidence(obs: VipObservation) -> tuple[str, ...]:
    tcp = obs.tcp
    detail = f" - {tcp.detail}" if tcp.detail else ""
    return (f"connect {obs.target.vip}:{obs.target.port} from the runner: {tcp.outcome}{detail} "
            f"after {tcp.elapsed_s:.2f} s (connect timeout {tcp.timeout_s:g} s)",)


def check_vip_tcp(obs: VipObservation) -> Finding:
    """WCP-VIP-001: the VIP accepts a TCP connection on the port."""
    target = str(obs.target)
    expected = f"a TCP connection to {obs.target.vip}:{obs.target.port}"
    tcp = obs.tcp
    if tcp.outcome == "ok":
        return passed(VIP_TCP, target, expected, _tcp_text(tcp))
    causes = {
        "refused": "no NSX load-balancer virtual server listens on this VIP port (virtual server missing or "
                   "disabled), or the VIP answers but its pool has no member serving the port",
        "timeout": "the VIP is not advertised/routed to the runner (Tier-1 route advertisement TIER1_LB_VIP, "
                   "Tier-0 BGP), a firewall drops the SYN, or the load balancer is down",
        "unreachable": "no route from the runner to the ingress network (the router answered host/network "
                       "unreachable): the VIP is not advertised, or the ingress CIDR is not routed",
        "error": "the runner could not open the connection",
    }
    return failed(VIP_TCP, target, expected, _tcp_text(tcp), causes[tcp.outcome], _tcp_evidence(obs))


def name_matches(name: str, cert: PeerCertificate) -> bool:
    """RFC 6125 matching as OpenSSL does it: IPs against IP SANs, DNS names against DNS SANs (left-most ``*``)."""
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        address = None
    if address is not None:
        return any(ipaddress.ip_address(a) == address for a in cert.ip_addresses)
    wanted = name.rstrip(".").lower()
    for pattern in (n.rstrip(".").lower() for n in cert.dns_names):
        if pattern == wanted:
            return True
        if pattern.startswith("*.") and "." in wanted:
            label, _, rest = wanted.partition(".")
            if label and rest == pattern[2:]:
                return True
    return False


def _names_text(cert: PeerCertificate) -> str:
    return ", ".join(cert.names) or f"no SAN at all (subject {cert.subject or 'empty'})"


def _tls_evidence(obs: VipObservation, tls: TlsStep) -> list[str]:
    evidence = [f"TLS to {obs.target.vip}:{obs.target.port} with server name {tls.server_name}: {tls.outcome}"
                f" after {tls.elapsed_s:.2f} s (connect timeout {tls.timeout_s:g} s)"]
    if tls.verify_code is not None:
        evidence.append(f"verification: {tls.verify_message} (X509 error {tls.verify_code})")
    if tls.detail:
        evidence.append(f"detail: {tls.detail}")
    if tls.certificate is not None:
        evidence.extend(tls.certificate.evidence())
    elif tls.certificate_error:
        evidence.append(f"certificate: {tls.certificate_error}")
    subjects = "; ".join(obs.ca_subjects) or "no certificate could be read from it"
    evidence.append(f"trusted CA file: {obs.ca_file} ({subjects})")
    return evidence


def check_vip_tls(obs: VipObservation) -> Finding:
    """WCP-VIP-002: TLS completes; the certificate is valid now, for the VIP's name, and chains to the CA file."""
    target = str(obs.target)
    name = obs.target.server_name
    expected = f"a TLS handshake with a certificate valid for {name}, signed by {obs.ca_file}"
    tls = obs.tls
    if tls is None:
        return failed(VIP_TLS, target, expected, f"no TLS handshake: {_tcp_text(obs.tcp)}",
                      f"the port does not accept TCP (see {VIP_TCP})", _tcp_evidence(obs))
    cert = tls.certificate
    evidence = _tls_evidence(obs, tls)
    if tls.outcome == "verified":
        observed = f"{tls.protocol or 'TLS'} verified"
        if cert is not None:
            observed += (f", certificate for {_names_text(cert)} issued by {cert.issuer}, "
                         f"valid until {iso_utc(cert.not_after)}")
        return passed(VIP_TLS, target, expected, observed)
    if tls.outcome == "timeout":
        return failed(VIP_TLS, target, expected,
                      f"TCP connected but no TLS handshake within {tls.timeout_s:g} s (timeout)",
                      "something accepts TCP on the VIP but does not speak TLS: the load balancer forwards to a "
                      "pool member whose port is not serving (kube-apiserver or its proxy hung), or the virtual "
                      "server has no healthy member", evidence)
    if tls.outcome == "error":
        return failed(VIP_TLS, target, expected, f"the TLS handshake failed: {tls.detail}",
                      "the service behind the VIP does not speak TLS on this port, or resets the handshake "
                      "(wrong pool port, or a TLS version/cipher mismatch)", evidence)
    # verify_failed: say which part of the verification failed
    code = tls.verify_code
    wrong_name = cert is not None and not name_matches(name, cert)
    if code in X509_NAME_MISMATCH or (code is None and wrong_name):
        names = _names_text(cert) if cert is not None else "other names (the certificate could not be read)"
        return failed(VIP_TLS, target, expected, f"certificate is for {names} not {name}",
                      f"the certificate served on the VIP does not list {name} in its SANs: the kube-apiserver "
                      "certificate was issued without the VIP/FQDN, or another service answers on this VIP",
                      evidence)
    if code == X509_EXPIRED:
        when = iso_utc(cert.not_after) if cert is not None else "an earlier date"
        return failed(VIP_TLS, target, expected,
                      f"certificate expired on {when} (checked at {iso_utc(obs.observed_at)})",
                      "the kube-apiserver certificate was not rotated (or the runner's clock is wrong)", evidence)
    if code == X509_NOT_YET_VALID:
        when = iso_utc(cert.not_before) if cert is not None else "a later date"
        return failed(VIP_TLS, target, expected,
                      f"certificate is not valid before {when} (checked at {iso_utc(obs.observed_at)})",
                      "clock skew between the runner and the Supervisor (check NTP on both)", evidence)
    if code in X509_UNTRUSTED:
        issuer = cert.issuer if cert is not None else "an unknown issuer"
        observed = f"certificate issued by {issuer} is not signed by {obs.ca_file}"
        if wrong_name and cert is not None:
            observed += f"; it is also for {_names_text(cert)} not {name}"
        return failed(VIP_TLS, target, expected, observed,
                      "the VIP serves a certificate from another CA: another device or service answers on the VIP, "
                      "or the inventory's api_vip.ca_file is not the Supervisor's CA", evidence)
    return failed(VIP_TLS, target, expected,
                  f"certificate verification failed: {tls.verify_message} (X509 error {code})",
                  "the certificate chain the VIP serves is not acceptable to OpenSSL", evidence)


def check_vip_version(obs: VipObservation) -> Finding:
    """WCP-VIP-003: ``GET /version`` answers 200 with kube-apiserver's version object."""
    target = str(obs.target)
    expected = "GET /version to answer as kube-apiserver (HTTP 200, JSON with gitVersion, major, minor)"
    version = obs.version
    if version is None:
        if obs.tls is None:
            return failed(VIP_VERSION, target, expected, f"no request sent: {_tcp_text(obs.tcp)}",
                          f"the port does not accept TCP (see {VIP_TCP})", _tcp_evidence(obs))
        tls_text = {"verify_failed": f"the certificate was not accepted ({obs.tls.verify_message})",
                    "timeout": f"no TLS handshake within {obs.tls.timeout_s:g} s (timeout)",
                    }.get(obs.tls.outcome, f"the TLS handshake failed ({obs.tls.detail})")
        return failed(VIP_VERSION, target, expected, f"no request sent: {tls_text}",
                      f"TLS to the VIP did not complete with a trusted certificate (see {VIP_TLS})",
                      _tls_evidence(obs, obs.tls))
    evidence = [f"GET https://{obs.target.server_name}:{obs.target.port}/version via {obs.target.vip}: "
                f"{version.outcome} after {version.elapsed_s:.2f} s (api timeout {version.timeout_s:g} s)"]
    if version.outcome != "answered":
        if version.detail:
            evidence.append(f"detail: {version.detail}")
        if version.outcome == "timeout":
            return failed(VIP_VERSION, target, expected,
                          f"no HTTP response within {version.timeout_s:g} s (timeout)",
                          "kube-apiserver behind the VIP is hung or overloaded, or the load balancer forwards to a "
                          "TLS endpoint that is not kube-apiserver", evidence)
        return failed(VIP_VERSION, target, expected, f"no HTTP response: {version.detail}",
                      "the service behind the VIP closed or broke the connection instead of answering HTTP",
                      evidence)
    evidence.append(f"HTTP status: {version.status} {version.reason}")
    evidence.append(f"content-type: {version.content_type or '(none)'}")
    evidence.append(f"body (first {len(version.body_head)} characters): {version.body_head!r}")
    if version.is_kube_apiserver:
        info = version.version_info or {}
        return passed(VIP_VERSION, target, expected,
                      f"HTTP 200 from kube-apiserver gitVersion {version.git_version} "
                      f"(major {info.get('major')}, minor {info.get('minor')})")
    status = version.status or 0
    if status in (401, 403):
        cause = ("anonymous access to /version is refused: anonymous auth disabled or the "
                 "system:public-info-viewer binding removed")
    elif status >= 500:
        cause = ("kube-apiserver behind the VIP is unhealthy (its etcd or a webhook failing), "
                 "or the proxy has no backend")
    elif status == 200:
        cause = ("another service answers on the VIP port: the SLB virtual server points at the wrong pool or "
                 "member port")
    else:
        cause = "the endpoint behind the VIP is not kube-apiserver (the SLB virtual server points at the wrong pool)"
    missing = [k for k in ("gitVersion", "major", "minor") if not isinstance((version.version_info or {}).get(k), str)]
    detail = f"missing {', '.join(missing)}" if missing else "not a kube-apiserver answer"
    return failed(VIP_VERSION, target, expected,
                  f"HTTP {status} {version.reason}, {detail}: {version.body_head[:80]!r}", cause, evidence)
