"""The nginx checks and their judges, each on one server or location scope with what it inherits."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from readiness.model import Check, Status, Subject

from .nginx_tree import (
    Directive,
    Scope,
    _locations,
    _not_set,
    is_public,
)

HSTS_MIN_AGE = 15_552_000  # 180 days: SSL Labs' A+ threshold
WEAK_PROTOCOLS = ("SSLv2", "SSLv3", "TLSv1", "TLSv1.1")
WEAK_CIPHER_TOKENS = ("RC4", "DES", "3DES", "MD5", "NULL", "EXPORT", "EXP", "LOW", "MEDIUM", "aNULL", "eNULL", "ALL")
MONITORING_PATHS = re.compile(
    r"^(?:=\s*)?/(?:metrics|nginx_status|stub_status|status|server-status|basic_status|prometheus|actuator"
    r"|debug/pprof|admin/metrics)\b"
)
TEXT_TYPES = ("text/css", "application/javascript", "text/javascript", "application/json", "text/plain")


# The checks. No nginx configuration in the repository: the items that name nginx are decided by their
# other evidence (the live TLS probe, the application) — except where nginx is the only place we look.
TLS_PROTOCOLS = Check(
    "nginx.tls_protocols",
    "nginx enables only TLS 1.2/1.3 with strong ciphers",
    "TLS 1.0/1.1 and weak suites (RC4, 3DES, export, NULL) are broken or deprecated (RFC 8996).",
    "Set `ssl_protocols TLSv1.2 TLSv1.3;` and a Mozilla intermediate `ssl_ciphers` list on every HTTPS server.",
    when_absent=Status.NOT_APPLICABLE,
)
HSTS_HEADER = Check(
    "nginx.hsts_header",
    "nginx adds a Strict-Transport-Security header on HTTPS servers",
    "HSTS makes browsers refuse plain HTTP to the site, closing the SSL-stripping window.",
    'Add `add_header Strict-Transport-Security "max-age=63072000; includeSubDomains" always;` to each HTTPS '
    "server, and repeat it in every location that has add_header directives of its own.",
    when_absent=Status.NOT_APPLICABLE,
)
OCSP_STAPLING = Check(
    "nginx.ocsp_stapling",
    "nginx enables OCSP stapling with verification",
    "Stapling saves clients a round trip to the CA and keeps revocation checks private.",
    "Set `ssl_stapling on; ssl_stapling_verify on;` with `ssl_trusted_certificate` and a `resolver`.",
    when_absent=Status.NOT_APPLICABLE,
)
RATE_LIMITING = Check(
    "nginx.rate_limiting",
    "nginx applies request rate limiting (limit_req) to public locations",
    "Rate limits blunt brute force, scraping and request floods before they reach the application.",
    "Declare a `limit_req_zone` in http and `limit_req zone=... burst=...;` in public servers or locations.",
    when_absent=Status.NOT_APPLICABLE,
)
TIMEOUTS = Check(
    "nginx.timeouts",
    "nginx sets client and upstream timeouts",
    "Explicit timeouts bound how long slow clients and stuck upstreams hold connections.",
    "Set client_header_timeout/client_body_timeout/send_timeout, and proxy_connect_timeout/proxy_read_timeout "
    "where nginx proxies.",
    when_absent=Status.NOT_APPLICABLE,
)
COMPRESSION = Check(
    "nginx.compression",
    "nginx compresses text responses (gzip or brotli)",
    "Compressed text responses cut transfer size and page load time.",
    "Set `gzip on;` with `gzip_types` covering CSS, JavaScript and JSON (or `brotli on;`).",
    when_absent=Status.UNKNOWN,  # compression may be done by the application or a CDN: absence proves nothing
)
CORS_RESTRICTED = Check(
    "nginx.cors_restricted",
    "nginx does not send a wildcard Access-Control-Allow-Origin with credentials",
    "A wildcard or reflected origin with credentials lets any site read authenticated responses.",
    "Answer CORS only for a `map` of known origins; never `*` or a bare `$http_origin` with credentials.",
    when_absent=Status.NOT_APPLICABLE,
)
MONITORING_ALLOWLIST = Check(
    "nginx.monitoring_allowlist",
    "Monitoring and metrics endpoints are restricted to allow-listed IPs",
    "Metrics and status pages reveal internals and load; they belong to the monitoring network only.",
    "Add `allow <monitoring CIDR>; deny all;` (or auth, or `internal`) to metrics and status locations.",
    when_absent=Status.UNKNOWN,  # the endpoints may be guarded elsewhere (network policy, another proxy)
)
CHECKS = (
    TLS_PROTOCOLS,
    HSTS_HEADER,
    OCSP_STAPLING,
    RATE_LIMITING,
    TIMEOUTS,
    COMPRESSION,
    CORS_RESTRICTED,
    MONITORING_ALLOWLIST,
)


@dataclass
class Judged:
    check: Check
    status: Status
    subject: Subject
    message: str
    facts: dict = field(default_factory=dict)


def judge_tls(server: Scope) -> Judged:
    protocols = server.effective("ssl_protocols")
    ciphers = server.effective("ssl_ciphers")
    where = (protocols or [server.block])[-1].where()
    if not protocols:
        status, message = _not_set(server, "ssl_protocols")
        if status is Status.FAIL:
            status, message = Status.UNKNOWN, "ssl_protocols is not set: the default depends on the nginx version "
            message += "(TLSv1 and TLSv1.1 are on before 1.23.4)"
        return Judged(TLS_PROTOCOLS, status, where, message)
    enabled = protocols[-1].args
    weak = [p for p in enabled if p in WEAK_PROTOCOLS]
    facts = {"ssl_protocols": enabled, "ssl_ciphers": ciphers[-1].args[0] if ciphers and ciphers[-1].args else None}
    if weak:
        return Judged(TLS_PROTOCOLS, Status.FAIL, where, f"ssl_protocols enables {', '.join(weak)}", facts)
    if ciphers and ciphers[-1].args:
        tokens = re.split(r"[:\s,]+", ciphers[-1].args[0])
        bad = [t for t in tokens if t and not t.startswith(("!", "-")) and _weak_cipher(t)]
        if bad:
            message = f"ssl_ciphers allows weak suites: {', '.join(bad[:5])}"
            return Judged(TLS_PROTOCOLS, Status.FAIL, ciphers[-1].where(), message, facts)
        return Judged(TLS_PROTOCOLS, Status.PASS, where, f"{' '.join(enabled)} with an explicit cipher list", facts)
    message = f"{' '.join(enabled)}; ssl_ciphers not set (nginx default HIGH:!aNULL:!MD5)"
    return Judged(TLS_PROTOCOLS, Status.PASS, where, message, facts)


def _weak_cipher(token: str) -> bool:
    """An OpenSSL cipher-string token that enables something weak (``RC4``, ``DES-CBC3-SHA``, ``ALL``...)."""
    parts = {part.upper() for part in re.split(r"[-+]", token)}
    return bool(parts & {t.upper() for t in WEAK_CIPHER_TOKENS}) or token.upper() == "DEFAULT"


def _hsts_age(value: str) -> int | None:
    m = re.search(r"max-age\s*=\s*\"?(\d+)", value, re.I)
    return int(m.group(1)) if m else None


def judge_hsts(scope: Scope, server: Scope) -> Judged:
    header = scope.header("Strict-Transport-Security")
    if header is None:
        own = scope.own("add_header")
        if scope is not server and own:
            message = (
                f"location {scope.label} has add_header directives of its own, so the server's HSTS header "
                "is not inherited here"
            )
            return Judged(HSTS_HEADER, Status.FAIL, scope.block.where(), message)
        status, message = _not_set(scope, "Strict-Transport-Security (add_header)")
        return Judged(HSTS_HEADER, status, scope.block.where(), message)
    value = header.args[1] if len(header.args) > 1 else ""
    age = _hsts_age(value)
    facts = {
        "max_age": age,
        "include_subdomains": "includesubdomains" in value.lower(),
        "always": "always" in header.args[2:],
    }
    if age is None:
        return Judged(HSTS_HEADER, Status.FAIL, header.where(), "Strict-Transport-Security without max-age", facts)
    if age < HSTS_MIN_AGE:
        message = f"Strict-Transport-Security max-age={age}, under 180 days ({HSTS_MIN_AGE} s)"
        return Judged(HSTS_HEADER, Status.FAIL, header.where(), message, facts)
    note = "" if facts["always"] else " (without `always`: not sent on error responses)"
    return Judged(HSTS_HEADER, Status.PASS, header.where(), f"Strict-Transport-Security max-age={age}{note}", facts)


def judge_stapling(server: Scope) -> Judged:
    stapling = server.effective("ssl_stapling")
    if stapling and stapling[-1].args[:1] != ["on"]:
        return Judged(OCSP_STAPLING, Status.FAIL, stapling[-1].where(), "ssl_stapling off")
    if not stapling:
        status, message = _not_set(server, "ssl_stapling on")
        return Judged(OCSP_STAPLING, status, server.block.where(), message)
    verify = server.effective("ssl_stapling_verify")
    facts = {
        "ssl_stapling_verify": bool(verify and verify[-1].args[:1] == ["on"]),
        "resolver": bool(server.effective("resolver")),
        "ssl_trusted_certificate": bool(server.effective("ssl_trusted_certificate")),
        "ssl_stapling_file": bool(server.effective("ssl_stapling_file")),
    }
    where = stapling[-1].where()
    if not facts["ssl_stapling_verify"]:
        return Judged(OCSP_STAPLING, Status.FAIL, where, "ssl_stapling on without ssl_stapling_verify on", facts)
    if not (facts["resolver"] or facts["ssl_stapling_file"]):
        message = "ssl_stapling on but no resolver: nginx cannot reach the OCSP responder, so no staple is sent"
        return Judged(OCSP_STAPLING, Status.FAIL, where, message, facts)
    return Judged(OCSP_STAPLING, Status.PASS, where, "ssl_stapling and ssl_stapling_verify on, with a resolver", facts)


def judge_rate_limits(server: Scope, zones: list[Directive]) -> Judged:
    if server.effective("limit_req"):
        d = server.effective("limit_req")[-1]
        return Judged(RATE_LIMITING, Status.PASS, d.where(), f"limit_req {' '.join(d.args)} applies to the server")
    locations = [loc for loc in _locations(server) if not loc.own("internal")]
    bare = [loc for loc in locations if not loc.effective("limit_req") and not loc.own("return")]
    if locations and not bare:
        return Judged(RATE_LIMITING, Status.PASS, server.block.where(), "every location has a limit_req")
    where = (bare or [server])[0].block.where()
    status, message = _not_set(server, "limit_req")
    if bare and locations:
        message = f"no limit_req on location(s) {', '.join(loc.label for loc in bare[:5])}"
        status = Status.FAIL
    facts = {"limit_req_zones": [z.args[0] for z in zones if z.args]}
    return Judged(RATE_LIMITING, status, where, message, facts)


CLIENT_TIMEOUTS = ("client_header_timeout", "client_body_timeout", "send_timeout", "keepalive_timeout")
UPSTREAM_TIMEOUTS = ("proxy_connect_timeout", "proxy_read_timeout", "proxy_send_timeout")


def judge_timeouts(server: Scope) -> Judged:
    client = {name: server.effective(name)[-1].args for name in CLIENT_TIMEOUTS if server.effective(name)}
    proxied = [loc for loc in _locations(server) if loc.own("proxy_pass") or loc.own("fastcgi_pass")]
    unbounded = [loc for loc in proxied if not any(loc.effective(n) for n in UPSTREAM_TIMEOUTS)]
    facts = {"client": {k: " ".join(v) for k, v in client.items()}, "proxied_locations": len(proxied)}
    if not client:
        status, message = _not_set(server, "client timeouts (client_header_timeout, client_body_timeout, ...)")
        return Judged(TIMEOUTS, status, server.block.where(), _defaults_apply(status, message), facts)
    if unbounded:
        names = ", ".join(loc.label for loc in unbounded[:5])
        status, message = _not_set(unbounded[0], f"proxy_read_timeout/proxy_connect_timeout for location(s) {names}")
        return Judged(TIMEOUTS, status, unbounded[0].block.where(), _defaults_apply(status, message), facts)
    return Judged(TIMEOUTS, Status.PASS, server.block.where(), f"timeouts set: {', '.join(sorted(client))}", facts)


def _defaults_apply(status: Status, message: str) -> str:
    return f"{message}: nginx's 60 s defaults apply" if status is Status.FAIL else message


def judge_compression(server: Scope) -> Judged:
    brotli = server.effective("brotli")
    if brotli and brotli[-1].args[:1] == ["on"]:
        return Judged(COMPRESSION, Status.PASS, brotli[-1].where(), "brotli on")
    gzip = server.effective("gzip")
    if not gzip or gzip[-1].args[:1] != ["on"]:
        where = gzip[-1].where() if gzip else server.block.where()
        if gzip:
            return Judged(COMPRESSION, Status.FAIL, where, "gzip off")
        status, message = _not_set(server, "gzip on (or brotli on)")
        return Judged(COMPRESSION, status, where, message)
    types = [t for d in server.effective("gzip_types") for t in d.args]
    covered = [t for t in TEXT_TYPES if t in types] if "*" not in types else list(TEXT_TYPES)
    facts = {"gzip_types": types}
    if not covered:
        message = "gzip on, but gzip_types is not set: only text/html is compressed (no CSS, JavaScript or JSON)"
        return Judged(COMPRESSION, Status.FAIL, gzip[-1].where(), message, facts)
    return Judged(COMPRESSION, Status.PASS, gzip[-1].where(), f"gzip on for {', '.join(covered)}", facts)


def judge_cors(scope: Scope) -> Judged | None:
    origin = scope.header("Access-Control-Allow-Origin")
    if origin is None:
        return None
    value = origin.args[1] if len(origin.args) > 1 else ""
    creds = scope.header("Access-Control-Allow-Credentials")
    with_credentials = creds is not None and len(creds.args) > 1 and creds.args[1].strip('"').lower() == "true"
    facts = {"allow_origin": value, "credentials": with_credentials}
    if value.strip() == "*" and with_credentials:
        message = "Access-Control-Allow-Origin * with Access-Control-Allow-Credentials true"
        return Judged(CORS_RESTRICTED, Status.FAIL, origin.where(), message, facts)
    if value.strip() == "$http_origin":
        message = "Access-Control-Allow-Origin reflects any $http_origin (use a map of known origins)"
        return Judged(CORS_RESTRICTED, Status.FAIL, origin.where(), message, facts)
    if value.strip() == "*":
        return Judged(CORS_RESTRICTED, Status.PASS, origin.where(), "wildcard origin, but no credentials", facts)
    return Judged(CORS_RESTRICTED, Status.PASS, origin.where(), f"Access-Control-Allow-Origin {value}", facts)


def judge_no_cors(server: Scope) -> Judged:
    if server.unresolved:
        names = ", ".join(" ".join(d.args) for d in server.unresolved[:3])
        message = f"no Access-Control-Allow-Origin here, but include {names} could not be read from the repository"
        return Judged(CORS_RESTRICTED, Status.UNKNOWN, server.block.where(), message)
    return Judged(CORS_RESTRICTED, Status.PASS, server.block.where(), "sends no Access-Control-Allow-Origin")


def judge_monitoring(location: Scope, server: Scope) -> Judged | None:
    path = " ".join(location.block.args)
    if not (MONITORING_PATHS.match(path) or location.own("stub_status")):
        return None
    allows = [d for d in location.effective("allow")]
    denies = [d for d in location.effective("deny") if d.args[:1] == ["all"]]
    auth = location.effective("auth_basic") or location.effective("auth_request")
    if location.own("internal"):
        return Judged(MONITORING_ALLOWLIST, Status.PASS, location.block.where(), f"location {path} is internal")
    if allows and denies:
        sources = [d.args[0] for d in allows if d.args]
        message = f"location {path}: allow {', '.join(sources)}; deny all"
        return Judged(MONITORING_ALLOWLIST, Status.PASS, denies[-1].where(), message, {"allow": sources})
    if auth and auth[-1].args[:1] != ["off"]:
        return Judged(MONITORING_ALLOWLIST, Status.PASS, auth[-1].where(), f"location {path} requires {auth[-1].name}")
    if not is_public(server):
        message = f"location {path} is on a server listening only on loopback or a unix socket"
        return Judged(MONITORING_ALLOWLIST, Status.PASS, location.block.where(), message)
    status, message = _not_set(location, f"an allow list (allow ...; deny all;) on location {path}")
    return Judged(MONITORING_ALLOWLIST, status, location.block.where(), message)
