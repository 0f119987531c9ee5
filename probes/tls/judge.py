"""From measurements to verdicts: one function per check, each returning (status, message, facts)."""

from __future__ import annotations

from readiness.model import Status

from . import grade, mozilla
from .ciphers import SuiteInfo, describe
from .endpoint import EndpointResult, Settings
from .scan import ProtocolScan

Verdict = tuple[Status, str, dict]
ORDER = ("SSLv2", "SSLv3", "TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3")
MODERN = ("TLSv1.2", "TLSv1.3")


def protocols(scan: ProtocolScan) -> list[str]:
    return [p for p in ORDER if p in scan.accepted]


def suites(scan: ProtocolScan) -> list[SuiteInfo]:
    seen = {code for codes in scan.accepted.values() for code in codes}
    return [describe(code) for code in sorted(seen)]


def _disagreements(scan: ProtocolScan) -> list[str]:
    out = []
    for proto, confirmed in scan.confirmed.items():
        if confirmed is None:
            continue
        if confirmed != (proto in scan.accepted):
            seen = "accepted" if confirmed else "refused"
            out.append(f"{proto}: own ClientHello says {scan.answers.get(proto)}, a real handshake was {seen}")
    return out


def protocols_modern(r: EndpointResult) -> Verdict:
    scan = r.scan
    accepted = protocols(scan)
    facts = {"accepted": accepted, "answers": scan.answers, "confirmed_by_ssl": scan.confirmed, "sslv2": scan.sslv2}
    disagree = _disagreements(scan)
    if disagree:
        facts["disagreements"] = disagree
    # A real handshake that refused the protocol outweighs our ClientHello; SSLv3 cannot be confirmed locally.
    old = [p for p in accepted if p not in MODERN and scan.confirmed.get(p) is not False]
    if old:
        return Status.FAIL, f"accepts {', '.join(old)} (only TLS 1.2 and 1.3 allowed)", facts
    if disagree:
        return Status.UNKNOWN, "the two scans disagree: " + "; ".join(disagree), facts
    if not any(p in accepted for p in MODERN):
        return Status.FAIL, "accepts neither TLS 1.2 nor TLS 1.3", facts
    return Status.PASS, f"accepts only {', '.join(accepted)}", facts


def _weakness(s: SuiteInfo) -> str | None:
    reasons = []
    if s.anonymous:
        reasons.append("anonymous")
    if s.export:
        reasons.append("export")
    if s.bits < 128:
        reasons.append(f"{s.bits}-bit cipher")
    if s.weak_cipher and s.bits >= 128:
        reasons.append("broken cipher")
    if not s.forward_secrecy and not s.anonymous:
        reasons.append("no forward secrecy")
    if not s.aead:
        reasons.append("not AEAD")
    return ", ".join(reasons) or None


def key_exchange_bits(r: EndpointResult) -> int:
    """The weakest key exchange seen: ephemeral groups and the certificate key, RSA-equivalent bits."""
    bits = [k["bits"] for k in r.scan.key_exchanges if k.get("bits")]
    if r.cert:
        bits.append(r.cert["facts"]["key"]["rsa_equivalent"])
    return min(bits) if bits else 0


def cipher_suites_strong(r: EndpointResult) -> Verdict:
    scan = r.scan
    by_protocol = {p: [describe(c).to_json() for c in scan.accepted[p]] for p in protocols(scan)}
    weak = {}
    for proto in protocols(scan):
        for code in scan.accepted[proto]:
            reason = _weakness(describe(code))
            if reason:
                weak.setdefault(describe(code).name, reason)
    for name in scan.sslv2.get("ciphers") or []:
        weak.setdefault(name, "SSLv2")
    small_groups = [k for k in scan.key_exchanges if k["type"] == "DHE" and k.get("bits", 0) < 2048]
    hybrid = [k for k in scan.key_exchanges if k.get("group") == "X25519MLKEM768"]
    facts = {
        "suites": by_protocol,
        "weak": weak,
        "key_exchanges": scan.key_exchanges,
        "key_exchange_bits": key_exchange_bits(r),
        "post_quantum_hybrid": bool(hybrid),
    }
    problems = [f"DHE group of {bits} bits" for bits in sorted({k["bits"] for k in small_groups})]
    problems += [f"{name} ({why})" for name, why in sorted(weak.items())]
    if problems:
        return Status.FAIL, f"{len(problems)} weak: " + "; ".join(problems[:8]), facts
    count = sum(len(v) for v in by_protocol.values())
    return Status.PASS, f"all {count} accepted suites have forward secrecy and AEAD", facts


def certificate_valid(r: EndpointResult) -> Verdict:
    if r.cert is None:
        return Status.ERROR, f"certificate not examined: {r.cert_error}", {}
    faults, warnings, facts = r.cert["faults"], r.cert["warnings"], dict(r.cert["facts"])
    facts["warnings"] = warnings
    if faults:
        return Status.FAIL, "; ".join(faults), facts
    note = f" (warning: {'; '.join(warnings)})" if warnings else ""
    return (
        Status.PASS,
        f"trusted by {facts['trust_store']}, matches the name, {facts['days_until_expiry']} days left" + note,
        facts,
    )


def hsts(r: EndpointResult, settings: Settings) -> Verdict:
    if r.hsts is None:
        return Status.ERROR, f"HSTS not examined: {r.hsts_error}", {}
    facts = dict(r.hsts)
    header = facts.get("hsts")
    facts["threshold"] = settings.hsts_min_age
    if header is None:
        return Status.FAIL, f"no Strict-Transport-Security header on the HTTPS response (HTTP {facts['status']})", facts
    if header["max_age"] is None:
        return Status.FAIL, f"Strict-Transport-Security without a valid max-age: {header['raw']!r}", facts
    met = ", ".join(k for k, v in header["meets"].items() if v) or "none"
    if header["max_age"] < settings.hsts_min_age:
        return Status.FAIL, f"max-age {header['max_age']} under {settings.hsts_min_age} (thresholds met: {met})", facts
    return Status.PASS, f"max-age {header['max_age']} (thresholds met: {met})", facts


def http_redirect(r: EndpointResult) -> Verdict:
    if r.target.http_port is None:
        return Status.NOT_APPLICABLE, "no HTTP port to check (http_port: null)", {}
    if r.redirect is None:
        return Status.ERROR, f"HTTP not examined: {r.redirect_error}", {}
    facts = r.redirect
    port = facts["http_port"]
    if not facts["listening"]:
        return Status.NOT_APPLICABLE, f"nothing listens for plain HTTP on port {port}", facts
    if facts["redirects_to_https"] and facts["same_host"]:
        return Status.PASS, f"HTTP {facts['status']} to {facts['location']}", facts
    if facts["redirects_to_https"]:
        return Status.FAIL, f"redirects to HTTPS on another host: {facts['location']}", facts
    return Status.FAIL, f"port {port} answers HTTP {facts['status']} without redirecting to https://", facts


def ocsp_stapling(r: EndpointResult) -> Verdict:
    if r.ocsp_error:
        return Status.ERROR, f"OCSP stapling not examined: {r.ocsp_error}", {}
    if r.ocsp is None or not r.ocsp.get("tls12"):
        return Status.UNKNOWN, "no TLS 1.2: over TLS 1.3 the staple is encrypted and this scanner cannot see it", {}
    facts = dict(r.ocsp)
    assessment = facts.get("assessment")
    if assessment is None:
        return (
            Status.FAIL,
            f"no staple in {len(facts['attempts'])} handshakes asking for one (whether stapling "
            "is configured but not yet fetched cannot be told from the wire)",
            facts,
        )
    if not assessment["valid"]:
        return Status.FAIL, f"stapled response is not valid: {assessment['problem']}", facts
    return Status.PASS, f"staples a {assessment['cert_status']} response valid until {assessment['next_update']}", facts


def stapled(r: EndpointResult) -> bool | None:
    if not r.ocsp or not r.ocsp.get("tls12"):
        return None
    return bool(r.ocsp.get("assessment", {}).get("valid"))


def grade_of(r: EndpointResult) -> dict:
    warnings = list(r.cert["warnings"]) if r.cert else []
    header = (r.hsts or {}).get("hsts")
    return grade.compute(
        protocols(r.scan), suites(r.scan), key_exchange_bits(r), r.cert, header, r.scan.heartbleed, warnings
    )


def grade_a_plus(r: EndpointResult) -> Verdict:
    if r.cert is None:
        return Status.UNKNOWN, f"no grade without the certificate: {r.cert_error}", {}
    result = grade_of(r)
    facts = {**result, "heartbleed": r.scan.heartbleed, "heartbeat_extension": r.scan.heartbeat_offered}
    reasons = "; ".join(reason for _, reason in result["caps"]) or "no caps"
    status = Status.PASS if result["grade"] == "A+" else Status.FAIL
    return status, f"grade {result['grade']} (score {result['score']}; approximation of SSL Labs): {reasons}", facts


def mozilla_profile(r: EndpointResult, settings: Settings) -> Verdict:
    try:
        version, prof = mozilla.profile(settings.mozilla_profile, settings.mozilla_guidelines)
    except KeyError:
        return (
            Status.UNKNOWN,
            (
                f"no Mozilla profile {settings.mozilla_profile!r} in guidelines "
                f"{settings.mozilla_guidelines or 'default'}"
            ),
            {},
        )
    names = {p: [describe(c).name for c in r.scan.accepted[p]] for p in protocols(r.scan)}
    found = mozilla.deviations(
        prof, protocols(r.scan), names, r.cert, r.scan.key_exchanges, (r.hsts or {}).get("hsts"), stapled(r)
    )
    facts = {"profile": settings.mozilla_profile, "guidelines": version, "deviations": found}
    if r.cert is None:
        facts["deviations"].append(f"certificate not examined: {r.cert_error}")
        return Status.UNKNOWN, "certificate could not be examined", facts
    label = f"Mozilla {settings.mozilla_profile} (guidelines {version})"
    if found:
        return Status.FAIL, f"{len(found)} deviations from {label}: " + "; ".join(found[:5]), facts
    return Status.PASS, f"matches {label}", facts
