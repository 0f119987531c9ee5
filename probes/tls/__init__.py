"""Live TLS endpoints graded like SSL Labs and Mozilla, plus certificate-renewal evidence in the repository.

Targets come from ``live.tls`` in .readiness.yaml: ``"host:port"`` strings or
objects with ``host``, ``port``, ``sni``, ``ca_bundle`` (a PEM file relative to
the audited root, for internal CAs) and ``http_port`` (``null`` to skip the
plain-HTTP redirect check). Each endpoint is scanned with the scanner's own
ClientHello messages (protocols, suites by elimination, key exchange, OCSP
staple, Heartbleed), confirmed by real ``ssl`` handshakes, and over HTTPS for
HSTS; an endpoint that fails yields ``error`` observations and the audit goes on.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from readiness.model import Observation, Status, Strength, Subject
from readiness.probe import CliOption, Probe, ProbeContext

from . import checks, declared, judge, nginx_config, renewal
from .concurrency import scan_many
from .endpoint import EndpointResult, Settings
from .scan import Target

TARGET_OBJECT = {
    "type": "object",
    "additionalProperties": False,
    "required": ["host"],
    "properties": {
        "host": {"type": "string", "minLength": 1},
        "port": {"type": "integer", "minimum": 1, "maximum": 65535},
        "sni": {"type": "string", "minLength": 1},
        "ca_bundle": {"type": "string", "minLength": 1},
        "http_port": {"type": ["integer", "null"], "minimum": 1, "maximum": 65535},
    },
}
TARGET_STRING = {"type": "string", "pattern": r"^(\[[0-9a-fA-F:.]+\]|[^\s:\[\]]+)(:[0-9]{1,5})?$"}


def parse_target(raw: str | dict) -> Target:
    """``"host"``, ``"host:port"``, ``"[::1]:port"`` or an object, as a Target."""
    if isinstance(raw, dict):
        return Target(raw["host"], raw.get("port", 443), raw.get("sni"), raw.get("ca_bundle"), raw.get("http_port", 80))
    host, port = raw, 443
    if raw.startswith("["):
        host, _, rest = raw[1:].partition("]")
        port = int(rest[1:]) if rest.startswith(":") else 443
    elif ":" in raw:
        host, _, text = raw.rpartition(":")
        port = int(text)
    return Target(host, port)


class TlsProbe(Probe):
    name = "tls"
    version = "0.1.0"
    kind = "live"
    # renewal evidence is read from the repository even when no endpoint is named
    runs_without_targets = True
    description = "TLS endpoints: protocols, suites, certificate, HSTS, OCSP stapling, grade, Mozilla profile; renewal."
    claims = renewal.CLAIMS  # nginx configuration is read through the nginx probe's own claims
    checks = checks.ALL
    targets_schema = {"type": "array", "items": {"oneOf": [TARGET_STRING, TARGET_OBJECT]}}
    settings_schema = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "connect_timeout": {"type": "number", "exclusiveMinimum": 0, "maximum": 120},
            "endpoint_timeout": {"type": "number", "exclusiveMinimum": 0, "maximum": 600},
            "expiry_warning_days": {"type": "integer", "minimum": 0},
            "hsts_min_age": {"type": "integer", "minimum": 0},
            "mozilla_profile": {"enum": ["modern", "intermediate", "old"]},
            "mozilla_guidelines": {"type": "string"},
            "ocsp_attempts": {"type": "integer", "minimum": 1, "maximum": 10},
            "ocsp_interval": {"type": "number", "minimum": 0, "maximum": 10},
            "per_host_connections": {"type": "integer", "minimum": 1, "maximum": 64},
            "max_concurrency": {"type": "integer", "minimum": 1, "maximum": 256},
        },
    }
    cli_options = (
        CliOption(
            "--endpoint",
            "a TLS endpoint to scan, host[:port] (repeatable)",
            ("live", "tls"),
            multiple=True,
            metavar="HOST:PORT",
        ),
    )

    def run(self, ctx: ProbeContext) -> Iterator[Observation]:
        settings = Settings(**(ctx.settings or {}))
        targets = [parse_target(t) for t in (ctx.targets or [])]
        now = ctx.now
        results = scan_many(targets, settings, ctx.root, now)
        servers = nginx_config.nginx.configured_servers(ctx) if targets else []
        for result in results:
            yield from self._endpoint(ctx, result, settings, servers)
        if not targets:
            # No endpoint named: what the production deployment configures decides, at declared strength.
            yield from declared.observations(ctx, settings.hsts_min_age)
        yield from self._renewal(ctx, results)

    def _endpoint(
        self, ctx: ProbeContext, r: EndpointResult, settings: Settings, servers: list
    ) -> Iterator[Observation]:
        subject = Subject(endpoint=r.target.endpoint, name=r.target.sni)
        if r.error:
            ctx.gap(subject, r.error)
            for check in checks.LIVE:
                yield ctx.observe(
                    check.id,
                    Status.ERROR,
                    subject,
                    r.error,
                    strength=Strength.LIVE,
                    facts={"answers": r.scan.answers if r.scan else {}},
                )
            return
        verdicts: dict[str, tuple[Status, str, dict[str, Any]]] = {
            checks.PROTOCOLS_MODERN.id: judge.protocols_modern(r),
            checks.CIPHER_SUITES_STRONG.id: judge.cipher_suites_strong(r),
            checks.CERTIFICATE_VALID.id: judge.certificate_valid(r),
            checks.HSTS.id: judge.hsts(r, settings),
            checks.HTTP_REDIRECTS_TO_HTTPS.id: judge.http_redirect(r),
            checks.OCSP_STAPLING.id: judge.ocsp_stapling(r),
            checks.GRADE_A_PLUS.id: judge.grade_a_plus(r),
            checks.MOZILLA_PROFILE.id: judge.mozilla_profile(r, settings),
        }
        status, message, facts = verdicts[checks.OCSP_STAPLING.id]
        if status is Status.FAIL and "no staple" in message:
            config = nginx_config.stapling_config(servers, r.target)
            message += nginx_config.explain_missing_staple(config)
            verdicts[checks.OCSP_STAPLING.id] = (status, message, {**facts, "nginx_config": config})
        for check_id, (status, message, facts) in verdicts.items():
            yield ctx.observe(check_id, status, subject, message, strength=Strength.LIVE, facts=facts)

    def _renewal(self, ctx: ProbeContext, results: list[EndpointResult]) -> Iterator[Observation]:
        check = checks.RENEWAL_AUTOMATED.id
        evidence = renewal.find(ctx)
        if not any(item["production"] for item in evidence):
            evidence += renewal.deployed(ctx)
        for item in evidence:
            deployed = ctx.inventory.deployed_by(item["path"])
            yield ctx.observe(
                check,
                Status.PASS,
                Subject(path=item["path"], line=item["line"]),
                f"{item['mechanism']} found",
                strength=Strength.DEPLOYED if deployed else Strength.DECLARED,
                facts={"mechanism": item["mechanism"]},
            )
        if any(item["production"] for item in evidence):
            return
        if not results:
            looked = {"looked_for": [g for c in renewal.CLAIMS for g in c.globs]}
            message = "no renewal configuration in the repository, and no live endpoint to show the certificate"
            yield ctx.observe(check, Status.UNKNOWN, Subject(), message, facts=looked)
        for r in results:
            subject = Subject(endpoint=r.target.endpoint, name=r.target.sni)
            lifetime = r.cert["facts"]["lifetime_days"] if r.cert else None
            facts = {"lifetime_days": lifetime, "looked_for": [g for c in renewal.CLAIMS for g in c.globs]}
            if lifetime is not None and lifetime <= 90:
                yield ctx.observe(
                    check,
                    Status.UNKNOWN,
                    subject,
                    f"certificate lifetime {lifetime} days suggests "
                    "automated renewal, but no renewal configuration is in the repository",
                    facts=facts,
                )
            else:
                seen = f"certificate lifetime {lifetime} days" if lifetime is not None else "certificate not examined"
                yield ctx.observe(
                    check, Status.FAIL, subject, f"no renewal automation in the repository ({seen})", facts=facts
                )
