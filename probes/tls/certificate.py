"""The endpoint's certificate: a verifying handshake for trust, ``cryptography`` for everything else."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa

from . import connections
from .scan import Target, Unreachable
from .wire import Deadline

WEAK_HASHES = ("md5", "sha1", "md2")
# OpenSSL verify codes that mean "the server did not send a path to a trusted root".
UNKNOWN_ISSUER = (2, 20, 21)
SELF_SIGNED = (18, 19)


def verify_chain(target: Target, ca_bundle: Path | None, deadline: Deadline, timeout: float) -> dict:
    """A handshake that verifies the chain (not the name) against the system store or ``ca_bundle``.

    Returns the verify code and message (0 / "ok" when trusted) and the leaf in DER.
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False  # hostname is judged separately, to report both faults
    ctx.set_ciphers("ALL:@SECLEVEL=0")  # key strength is judged separately too
    ctx.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
    if ca_bundle:
        ctx.load_verify_locations(cafile=str(ca_bundle))
    else:
        ctx.load_default_certs()
    result = {"verify_code": 0, "verify_message": "ok", "leaf": None, "trust_store": str(ca_bundle or "system")}
    for mode in (ssl.CERT_REQUIRED, ssl.CERT_NONE):
        ctx.verify_mode = mode
        try:
            with connections.connection((target.host, target.port), deadline, timeout) as raw:
                raw.settimeout(deadline.remaining(timeout))
                with ctx.wrap_socket(raw, server_hostname=target.sni or None) as tls:
                    result["leaf"] = tls.getpeercert(binary_form=True)
                    return result
        except ssl.SSLCertVerificationError as exc:
            result["verify_code"], result["verify_message"] = exc.verify_code, exc.verify_message
        except ssl.SSLError as exc:
            raise Unreachable(f"TLS handshake failed: {exc.reason or exc}") from exc
        except (TimeoutError, ConnectionError, OSError) as exc:
            raise Unreachable(f"TLS handshake failed: {exc}") from exc
    return result


def _key(cert: x509.Certificate) -> dict:
    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        return {"type": "rsa", "bits": key.key_size, "rsa_equivalent": key.key_size}
    if isinstance(key, ec.EllipticCurvePublicKey):
        bits = key.curve.key_size
        return {"type": "ecdsa", "bits": bits, "curve": key.curve.name, "rsa_equivalent": _ec_equivalent(bits)}
    if isinstance(key, (ed25519.Ed25519PublicKey, ed448.Ed448PublicKey)):
        bits = 256 if isinstance(key, ed25519.Ed25519PublicKey) else 448
        return {"type": "eddsa", "bits": bits, "rsa_equivalent": _ec_equivalent(bits)}
    if isinstance(key, dsa.DSAPublicKey):
        return {"type": "dsa", "bits": key.key_size, "rsa_equivalent": key.key_size}
    return {"type": type(key).__name__, "bits": 0, "rsa_equivalent": 0}


def _ec_equivalent(bits: int) -> int:
    """RSA size of equal strength (NIST SP 800-57)."""
    for ec_bits, rsa_bits in ((512, 15360), (384, 7680), (256, 3072), (224, 2048), (160, 1024)):
        if bits >= ec_bits:
            return rsa_bits
    return 512


def _hash_name(cert: x509.Certificate) -> str:
    algo = cert.signature_hash_algorithm
    return algo.name if algo else "none"


def _names(cert: x509.Certificate) -> tuple[list[str], list[str]]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return [], []
    dns = san.get_values_for_type(x509.DNSName)
    ips = [str(ip) for ip in san.get_values_for_type(x509.IPAddress)]
    return dns, ips


def matches_hostname(name: str, dns: list[str], ips: list[str]) -> bool:
    """RFC 6125 matching: exact or a left-most ``*`` label; IP addresses only against IP SANs."""
    try:
        return str(ipaddress.ip_address(name)) in ips
    except ValueError:
        pass
    name = name.lower().rstrip(".")
    for pattern in (d.lower().rstrip(".") for d in dns):
        if pattern == name:
            return True
        if pattern.startswith("*.") and "." in name and name.split(".", 1)[1] == pattern[2:]:
            return True
    return False


def describe_certificate(cert: x509.Certificate) -> dict:
    """Facts about one certificate, as data."""
    dns, ips = _names(cert)
    return {
        "subject": cert.subject.rfc4514_string(),
        "issuer": cert.issuer.rfc4514_string(),
        "serial": format(cert.serial_number, "x"),
        "not_before": cert.not_valid_before_utc.isoformat(),
        "not_after": cert.not_valid_after_utc.isoformat(),
        "lifetime_days": (cert.not_valid_after_utc - cert.not_valid_before_utc).days,
        "key": _key(cert),
        "signature_hash": _hash_name(cert),
        "signature_algorithm": getattr(
            cert.signature_algorithm_oid, "_name", cert.signature_algorithm_oid.dotted_string
        ),
        "san_dns": dns,
        "san_ip": ips,
        "sha256": cert.fingerprint(hashes.SHA256()).hex(),
    }


def assess(
    name: str,
    verified: dict,
    sent_chain: list[bytes],
    now: dt.datetime,
    warn_days: int,
) -> dict:
    """Judge the certificate: faults (fail), warnings (pass, but no A+), and the facts behind them."""
    leaf = x509.load_der_x509_certificate(verified["leaf"])
    chain = [x509.load_der_x509_certificate(der) for der in sent_chain] or [leaf]
    facts = describe_certificate(leaf)
    faults: list[str] = []
    warnings: list[str] = []
    code = verified["verify_code"]
    facts.update(verify_code=code, verify_message=verified["verify_message"], trust_store=verified["trust_store"])
    facts["chain_sent"] = [c.subject.rfc4514_string() for c in chain] if sent_chain else None
    facts["trusted"] = code == 0
    facts["incomplete_chain"] = False
    issuer_sent = any(c.subject == leaf.issuer for c in chain[1:])
    if code in UNKNOWN_ISSUER and sent_chain and leaf.issuer != leaf.subject and not issuer_sent:
        facts["incomplete_chain"] = True
        faults.append("incomplete chain: the server does not send the certificate that issued its own")
    if code in SELF_SIGNED:
        faults.append(f"untrusted: self-signed ({verified['verify_message']})")
    elif code and not facts["incomplete_chain"]:
        faults.append(f"untrusted: {verified['verify_message']} (verify code {code})")
    facts["hostname_match"] = matches_hostname(name, facts["san_dns"], facts["san_ip"])
    if not facts["hostname_match"]:
        faults.append(f"hostname mismatch: {name} is not among {facts['san_dns'] + facts['san_ip'] or 'no SANs'}")
    days_left = (leaf.not_valid_after_utc - now).total_seconds() / 86400
    facts["days_until_expiry"] = int(days_left // 1)
    if days_left < 0:
        faults.append(f"expired on {leaf.not_valid_after_utc.date()}")
    elif days_left < warn_days:
        warnings.append(f"expires in {int(days_left)} days (under {warn_days})")
    if leaf.not_valid_before_utc > now:
        faults.append(f"not valid before {leaf.not_valid_before_utc.date()}")
    key = facts["key"]
    if key["rsa_equivalent"] < 2048:
        faults.append(f"weak key: {key['type']} {key['bits']} bits")
    for index, cert in enumerate(chain):
        if index and cert.issuer == cert.subject:
            continue  # a root's self-signature is not relied on
        if _hash_name(cert) in WEAK_HASHES:
            faults.append(f"weak signature: {cert.subject.rfc4514_string()} is signed with {_hash_name(cert)}")
    if facts["lifetime_days"] > 398:
        warnings.append(f"lifetime {facts['lifetime_days']} days exceeds the CA/Browser Forum limit of 398")
    return {"faults": faults, "warnings": warnings, "facts": facts}
