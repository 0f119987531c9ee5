"""Everything measured on one endpoint, each part bounded by the endpoint's deadline and failing on its own."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from . import web
from .scan import ProtocolScan, Target, Unreachable, fetch_staple, scan_protocols
from .wire import Deadline, Malformed, NotTls

ENDPOINT_ERRORS = (Unreachable, NotTls, Malformed, TimeoutError, OSError, ValueError)


@dataclass(frozen=True)
class Settings:
    """The probe's knobs (``probes.tls`` in .readiness.yaml), with their defaults."""

    connect_timeout: float = 5.0
    endpoint_timeout: float = 30.0
    expiry_warning_days: int = 30
    hsts_min_age: int = web.SSL_LABS_A_PLUS
    mozilla_profile: str = "intermediate"
    mozilla_guidelines: str | None = None
    ocsp_attempts: int = 3
    ocsp_interval: float = 1.0
    per_host_connections: int = 2
    max_concurrency: int = 16


@dataclass
class EndpointResult:
    """What was measured; ``error`` set means nothing else could be measured."""

    target: Target
    error: str | None = None
    scan: ProtocolScan | None = None
    cert: dict | None = None
    cert_error: str | None = None
    ocsp: dict | None = None
    ocsp_error: str | None = None
    hsts: dict | None = None
    hsts_error: str | None = None
    redirect: dict | None = None
    redirect_error: str | None = None
    timings: dict = field(default_factory=dict)


def _explain(exc: BaseException) -> str:
    if isinstance(exc, NotTls):
        return f"does not speak TLS: {exc}"
    if isinstance(exc, Malformed):
        return f"malformed TLS: {exc}"
    if isinstance(exc, TimeoutError) and not str(exc):
        return "timed out"
    return str(exc) or type(exc).__name__


def scan_endpoint(target: Target, settings: Settings, root: Path, now: dt.datetime) -> EndpointResult:
    """Scan one endpoint; never raises for anything the endpoint does."""
    # cryptography is imported when an endpoint is scanned, not when the probe is loaded (`readiness --help`)
    from . import certificate
    from .ocsp import assess_staple

    result = EndpointResult(target)
    deadline = Deadline(settings.endpoint_timeout)
    timeout = settings.connect_timeout
    try:
        result.scan = scan_protocols(target, deadline, timeout)
    except ENDPOINT_ERRORS as exc:
        result.error = _explain(exc)
        return result
    if not result.scan.accepted:
        result.error = "no protocol accepted: " + "; ".join(f"{p}: {a}" for p, a in result.scan.answers.items())
        return result
    try:
        bundle = (root / target.ca_bundle) if target.ca_bundle else None
        if bundle and not bundle.is_file():
            raise Unreachable(f"ca_bundle {target.ca_bundle} not found")
        verified = certificate.verify_chain(target, bundle, deadline, timeout)
        result.cert = certificate.assess(
            target.name, verified, result.scan.certificates, now, settings.expiry_warning_days
        )
    except ENDPOINT_ERRORS as exc:
        result.cert_error = _explain(exc)
    try:
        if "TLSv1.2" in result.scan.accepted:
            stapled = fetch_staple(target, deadline, timeout, settings.ocsp_attempts, settings.ocsp_interval)
            if stapled.get("staple"):
                leaf = stapled["chain"][0] if stapled.get("chain") else None
                stapled["assessment"] = assess_staple(stapled.pop("staple"), leaf, now)
                stapled.pop("chain", None)
            result.ocsp = stapled
    except ENDPOINT_ERRORS as exc:
        result.ocsp_error = _explain(exc)
    try:
        result.hsts = web.fetch_hsts(target, deadline, timeout)
    except ENDPOINT_ERRORS as exc:
        result.hsts_error = _explain(exc)
    if target.http_port is not None:
        try:
            result.redirect = web.check_redirect(target, deadline, timeout)
        except ENDPOINT_ERRORS as exc:
            result.redirect_error = _explain(exc)
    return result
