"""Certificate lifetime check: a pure function ``CertObservation -> Finding``.

WCP-CERT-001  every certificate an endpoint serves (its leaf and the intermediates it sends in the
              handshake) and the CA certificates of the CA file above them has at least
              ``certificates.warn_days`` days left. Fewer: failed, severity major (plan the
              renewal). Fewer than ``fail_days``, expired or not yet valid: failed, critical.

Days left are whole days until notAfter, rounded down, counted from when the handshake was made.
Each certificate is named by its role, subject and position in the chain (1 is the leaf), and whether
the endpoint served it or it came from the CA file.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from wcp_acceptance.finding import Finding, failed, passed
from wcp_acceptance.inventory.model import CertificatesSpec
from wcp_acceptance.probes.cert import CertObservation
from wcp_acceptance.probes.vip import PeerCertificate, iso_utc

CERT_DAYS = "WCP-CERT-001"
DAY_S = 86400

Grade = Literal["ok", "major", "critical"]
RANK: dict[Grade, int] = {"ok": 0, "major": 1, "critical": 2}

WHO = {"vip": "the Supervisor's kube-apiserver (API VIP)", "nsx": "the NSX manager", "vcenter": "vCenter"}
RENEW = {
    "vip": "the Supervisor's certificate was not rotated: replace it in vCenter (Workload Management, the "
           "Supervisor's certificates) before it runs out, or kubectl and every client of the VIP stop trusting it",
    "nsx": "the NSX manager's certificate was not renewed: replace it (NSX System > Certificates, then apply it "
           "to the manager) before it runs out, or NCP and the Supervisor can no longer talk to NSX",
    "vcenter": "vCenter's certificate was not renewed: renew the machine SSL certificate (vCenter Certificate "
               "Management) before it runs out, or WCP and its clients stop trusting vCenter",
}


@dataclass(frozen=True)
class Judged:
    """One certificate of the chain, judged against the thresholds."""

    role: str  # "certificate" (the leaf), "intermediate CA certificate", "root CA certificate", "issuing CA ..."
    cert: PeerCertificate
    days_left: int  # negative when expired
    grade: Grade
    state: Literal["valid", "expired", "not yet valid"]
    days_ago: int = 0  # whole days since it expired, rounded down
    position: int = 1  # in the chain: 1 is the leaf, then what the endpoint sent, then the CA file's
    served: bool = True  # sent by the endpoint in the handshake (False: from the inventory's CA file)


def days_left(cert: PeerCertificate, obs: CertObservation) -> int:
    """Whole days from the handshake to notAfter, rounded down (a certificate with 5.9 days left has 5)."""
    return int((cert.not_after - obs.observed_at).total_seconds() // DAY_S)


def judge(role: str, cert: PeerCertificate, obs: CertObservation, limits: CertificatesSpec, *, position: int = 1,
          served: bool = True) -> Judged:
    left = days_left(cert, obs)
    if cert.not_before > obs.observed_at:
        return Judged(role, cert, left, "critical", "not yet valid", position=position, served=served)
    if cert.not_after <= obs.observed_at:
        ago = int((obs.observed_at - cert.not_after).total_seconds() // DAY_S)
        return Judged(role, cert, left, "critical", "expired", ago, position=position, served=served)
    grade: Grade = "critical" if left < limits.fail_days else "major" if left < limits.warn_days else "ok"
    return Judged(role, cert, left, grade, "valid", position=position, served=served)


def _served_role(cert: PeerCertificate) -> str:
    return "root CA certificate" if cert.subject == cert.issuer else "intermediate CA certificate"


def judge_chain(obs: CertObservation, limits: CertificatesSpec) -> list[Judged]:
    """The leaf, what the endpoint sent after it, then the CA file's certificates above them, in chain order."""
    judged = [judge("certificate", obs.leaf, obs, limits)]
    for cert in obs.served:
        judged.append(judge(_served_role(cert), cert, obs, limits, position=len(judged) + 1))
    for cert in obs.chain:
        judged.append(judge("issuing CA certificate", cert, obs, limits, position=len(judged) + 1, served=False))
    return judged


def _days(n: int) -> str:
    return f"{n} day{'' if n == 1 else 's'}"


def _thresholds(limits: CertificatesSpec) -> str:
    return f"warn_days {limits.warn_days}, fail_days {limits.fail_days}"


def _state_text(j: Judged, limits: CertificatesSpec) -> str:
    """``5 days left, below fail_days 7`` / ``expired 3 days ago`` / ``not valid before ...``."""
    if j.state == "expired":
        return f"expired {_days(j.days_ago)} ago" if j.days_ago else "expired less than a day ago"
    if j.state == "not yet valid":
        return f"not valid before {iso_utc(j.cert.not_before)}"
    text = f"{_days(j.days_left)} left"
    if j.grade == "critical":
        return f"{text}, below fail_days {limits.fail_days}"
    if j.grade == "major":
        return f"{text}, below warn_days {limits.warn_days}"
    return text


def _where(j: Judged, total: int) -> str:
    """``position 2 of 3 in the chain, served`` (the leaf is 1)."""
    return f"position {j.position} of {total} in the chain, {'served' if j.served else 'from the CA file'}"


def _one_line(j: Judged, limits: CertificatesSpec, total: int) -> str:
    return (f"{j.role} {j.cert.subject or '(empty subject)'} ({_where(j, total)}) issued by "
            f"{j.cert.issuer or '(empty issuer)'}, notAfter {iso_utc(j.cert.not_after)}: {_state_text(j, limits)}")


def _evidence(obs: CertObservation, judged: list[Judged], limits: CertificatesSpec) -> list[str]:
    tls = obs.tls
    how = f"the handshake of {obs.shared_with}" if obs.shared_with else "one TLS handshake, no request"
    evidence = [f"TLS to {obs.endpoint.host}:{obs.endpoint.port} with server name {tls.server_name} "
                f"({how}) at {iso_utc(obs.observed_at)}: {tls.outcome}"
                + (f" ({tls.verify_message}, X509 error {tls.verify_code})" if tls.verify_code is not None else "")]
    if obs.served_note:
        evidence.append(f"served chain: not known ({obs.served_note}); the leaf and the CA file's certificates "
                        "it chains to are judged")
    else:
        evidence.append(f"served chain: the leaf and {len(obs.served)} more certificate"
                        f"{'' if len(obs.served) == 1 else 's'} sent in the handshake")
    for j in judged:
        evidence.append(f"{j.position}. {j.role} ({'served' if j.served else 'from the CA file'}): subject "
                        f"{j.cert.subject or '(empty)'}; issuer {j.cert.issuer or '(empty)'}; "
                        f"valid {iso_utc(j.cert.not_before)} .. {iso_utc(j.cert.not_after)}; "
                        f"{_state_text(j, limits)}; sha256 {j.cert.sha256}")
    last = judged[-1].cert
    if last.issuer != last.subject:
        evidence.append(f"issuing CA of {last.subject or '(empty subject)'}: not found in {obs.ca_file} by its "
                        "issuer name (the chain is judged up to it)")
    evidence.append(f"thresholds: {_thresholds(limits)} (inventory certificates)")
    evidence.append(f"trusted CA file: {obs.ca_file}")
    return evidence


def check_cert_days(obs: CertObservation, limits: CertificatesSpec) -> Finding:
    """WCP-CERT-001: every certificate the endpoint serves has at least warn_days days left."""
    target = str(obs.endpoint)
    judged = judge_chain(obs, limits)
    total = len(judged)
    expected = (f"the certificates {WHO[obs.endpoint.role]} serves (the leaf and the intermediates it sends) and the "
                f"CA certificates above them valid now with at least {_days(limits.warn_days)} left "
                f"({_thresholds(limits)})")
    worst = max(judged, key=lambda j: (RANK[j.grade], -j.days_left))
    if worst.grade == "ok":
        leaf = judged[0]
        observed = (f"certificate {leaf.cert.subject} valid until {iso_utc(leaf.cert.not_after)} "
                    f"({_days(leaf.days_left)} left)")
        if len(judged) > 1:
            soonest = min(judged[1:], key=lambda j: j.days_left)
            observed += (f"; its CA {soonest.cert.subject} ({_where(soonest, total)}) until "
                         f"{iso_utc(soonest.cert.not_after)} ({_days(soonest.days_left)} left)")
        return passed(CERT_DAYS, target, expected, observed)
    observed = _one_line(worst, limits, total)
    others = [j for j in judged if j is not worst and j.grade != "ok"]
    if others:
        observed += "; also " + "; ".join(_one_line(j, limits, total) for j in others)
    if worst.state == "not yet valid":
        cause = ("clock skew between the runner and the endpoint, or a certificate issued with a start date in the "
                 "future (check NTP on both)")
    elif worst.role == "certificate":
        cause = RENEW[obs.endpoint.role]
    elif worst.served and worst.role == "intermediate CA certificate":
        cause = (f"the intermediate CA that {WHO[obs.endpoint.role]} sends with its certificate runs out: renew that "
                 "intermediate (or re-issue the certificate from a current one) and install the new chain, or "
                 "clients stop trusting it when the intermediate expires, however long the leaf has left")
    else:
        cause = (f"the CA that issued {WHO[obs.endpoint.role]}'s certificate runs out: renew the CA and re-issue the "
                 "certificates it signed, and give the inventory's CA file the new CA")
    if worst.state == "expired":
        cause = f"{cause} (it has run out already, or the runner's clock is wrong)"
    severity: Literal["critical", "major"] = "major" if worst.grade == "major" else "critical"
    return failed(CERT_DAYS, target, expected, observed, cause, _evidence(obs, judged, limits), severity=severity)
