"""nginx configuration in the repository: TLS, HSTS, stapling, rate limits, timeouts, compression, CORS, metrics.

Files are parsed with crossplane (NGINX's own Python parser) one at a time, from
the text the audit read, and ``include`` is followed only to files inside the
repository: an include of ``/etc/nginx/conf.d/*.conf`` is matched to the
repository's ``conf.d/*.conf`` by path suffix, and one that matches nothing is a
coverage gap. A conclusion that something is *not set* becomes ``unknown``
when an unresolved include could have set it.

Directives are judged where nginx applies them: each ``server`` with what it
inherits from ``http``, and each ``location`` with what it inherits from its
``server``. ``add_header`` follows nginx's rule: a level that has any
``add_header`` of its own inherits none from above, which is how HSTS gets lost
on one location.
"""

from __future__ import annotations

import contextlib
import fnmatch
import ipaddress
import posixpath
import re
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from readiness.model import Artifact, Check, Observation, Status, Subject
from readiness.probe import ArtifactUnreadable, Claim, Probe, ProbeContext

HSTS_MIN_AGE = 15_552_000  # 180 days: SSL Labs' A+ threshold
WEAK_PROTOCOLS = ("SSLv2", "SSLv3", "TLSv1", "TLSv1.1")
WEAK_CIPHER_TOKENS = ("RC4", "DES", "3DES", "MD5", "NULL", "EXPORT", "EXP", "LOW", "MEDIUM", "aNULL", "eNULL", "ALL")
MONITORING_PATHS = re.compile(
    r"^(?:=\s*)?/(?:metrics|nginx_status|stub_status|status|server-status|basic_status|prometheus|actuator"
    r"|debug/pprof|admin/metrics)\b"
)
TEXT_TYPES = ("text/css", "application/javascript", "text/javascript", "application/json", "text/plain")
PRIVATE_LISTEN = ("127.", "localhost", "[::1]", "unix:")

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

CLAIMS = (
    Claim(
        (
            "nginx.conf",
            "**/nginx/**/*.conf",
            "**/nginx*/*.conf",
            "**/conf.d/*.conf",
            "**/sites-enabled/*",
            "**/sites-available/*",
            "*.nginx",
            "*.nginx.conf",
        ),
    ),
    # Any other *.conf that reads like nginx (a server or http block).
    Claim(("*.conf",), sniff=re.compile(rb"(?m)^\s*(?:http|server|upstream)\s*\{")),
)

_NGINX_BY_NAME = CLAIMS[0].spec()


@dataclass
class Directive:
    name: str
    args: list[str]
    path: str
    line: int
    block: list[Directive] | None = None

    def where(self) -> Subject:
        return Subject(path=self.path, line=self.line)


@dataclass
class Tree:
    """A parsed file with its includes expanded (as far as the repository holds them)."""

    path: str
    directives: list[Directive]
    unresolved: list[Directive] = field(default_factory=list)  # include directives that matched no repo file


class ParseError(Exception):
    def __init__(self, message: str, line: int | None):
        super().__init__(message)
        self.line = line


def parse_text(text: str, path: str) -> list[Directive]:
    """One file's directives, as crossplane reads them (no includes followed); raises ParseError."""
    import crossplane

    with tempfile.TemporaryDirectory() as tmp:
        file = Path(tmp) / "nginx.conf"
        file.write_text(text)
        payload = crossplane.parse(str(file), single=True, check_ctx=False, check_args=False, comments=False)
    if payload["errors"]:
        first = payload["errors"][0]
        message = str(first.get("error") or "crossplane could not parse it").replace(str(file), path)
        raise ParseError(message, first.get("line"))
    return [_directive(d, path) for d in payload["config"][0]["parsed"]]


def _directive(raw: dict, path: str) -> Directive:
    block = raw.get("block")
    return Directive(
        raw["directive"],
        list(raw.get("args", [])),
        path,
        int(raw.get("line", 0)),
        None if block is None else [_directive(d, path) for d in block],
    )


# Files nginx ships beside nginx.conf that set only MIME types, charsets or *_param lines: an include of
# one the repository does not hold hides nothing these checks look at.
SHIPPED_HARMLESS = frozenset(
    {"mime.types", "fastcgi_params", "fastcgi.conf", "uwsgi_params", "scgi_params", "koi-utf", "koi-win", "win-utf"}
)


class Repository:
    """nginx files parsed once, on demand; includes resolved against every file of the repository."""

    def __init__(self, paths: list[str], load: Callable[[str], list[Directive] | None]):
        self.paths = sorted(paths)
        self.load = load
        self.parsed: dict[str, list[Directive] | None] = {}
        self.included: set[str] = set()

    def directives(self, path: str) -> list[Directive] | None:
        if path not in self.parsed:
            self.parsed[path] = self.load(path)
        return self.parsed[path]

    def resolve(self, include: Directive) -> list[str]:
        """Repository files an ``include`` names: relative to the including file's folder or any parent
        of it (nginx resolves against its prefix), or an absolute path matched by its longest tail."""
        pattern = include.args[0] if include.args else ""
        if not pattern:
            return []
        if pattern.startswith("/"):
            # /etc/nginx/conf.d/*.conf -> the repository's conf.d/*.conf: the longest tail (two parts at least,
            # a bare *.conf would match every .conf file) that names files, nearest to the including file
            parts = pattern.strip("/").split("/")
            for i in range(1, len(parts) - 1):
                tail = "/".join(parts[i:])
                hits = [p for p in self.paths if fnmatch.fnmatch(p, tail) or fnmatch.fnmatch(p, "*/" + tail)]
                if hits:
                    return _nearest(hits, include.path)
            return []
        folder = posixpath.dirname(include.path)
        while True:
            candidate = posixpath.normpath(posixpath.join(folder, pattern)) if folder else pattern
            hits = [p for p in self.paths if fnmatch.fnmatch(p, candidate)]
            if hits:
                return hits
            if not folder:
                return []
            folder = posixpath.dirname(folder)

    def expand(self, path: str, seen: tuple[str, ...] = ()) -> Tree:
        tree = Tree(path, [])
        tree.directives = self._expand(self.directives(path) or [], tree, (*seen, path))
        return tree

    def _expand(self, directives: list[Directive], tree: Tree, seen: tuple[str, ...]) -> list[Directive]:
        out: list[Directive] = []
        for d in directives:
            if d.name == "include":
                targets = [t for t in self.resolve(d) if t not in seen]
                shipped = d.args and posixpath.basename(d.args[0]) in SHIPPED_HARMLESS
                if not targets and not shipped:
                    tree.unresolved.append(d)
                for target in targets:
                    self.included.add(target)
                    sub = self.expand(target, seen)
                    tree.unresolved.extend(sub.unresolved)
                    out.extend(sub.directives)
                continue
            if d.block is not None:
                d = Directive(d.name, d.args, d.path, d.line, self._expand(d.block, tree, seen))
            out.append(d)
        return out


def _nearest(hits: list[str], origin: str) -> list[str]:
    """The hits under the closest ancestor folder of ``origin`` that holds any: one repository may keep
    several nginx configurations, and an include means the one beside it."""
    folder = posixpath.dirname(origin)
    while True:
        near = [h for h in hits if not folder or h.startswith(folder + "/")]
        if near or not folder:
            return sorted(near)
        folder = posixpath.dirname(folder)


@dataclass
class Scope:
    """A server or location, with the levels above it (http first) for inheritance."""

    block: Directive
    chain: list[list[Directive]]  # directive lists, outermost first, this block's own last
    unresolved: list[Directive]

    def own(self, name: str) -> list[Directive]:
        return [d for d in self.chain[-1] if d.name == name]

    def effective(self, name: str) -> list[Directive]:
        """The directives named ``name`` that apply here: the innermost level that has any."""
        for level in reversed(self.chain):
            found = [d for d in level if d.name == name]
            if found:
                return found
        return []

    def headers(self) -> list[Directive]:
        """add_header lines in force here: nginx inherits them only into levels with none of their own."""
        return self.effective("add_header")

    def header(self, name: str) -> Directive | None:
        for d in self.headers():
            if d.args and d.args[0].lower() == name.lower():
                return d
        return None

    @property
    def label(self) -> str:
        return " ".join(self.block.args) if self.block.name == "location" else _server_label(self.block)


def _server_label(server: Directive) -> str:
    names = next((d.args for d in server.block or [] if d.name == "server_name"), [])
    listens = [d.args[0] for d in server.block or [] if d.name == "listen" and d.args]
    return f"server {' '.join(names) or '_'} (listen {', '.join(listens) or '80'})"


def _servers(tree: Tree) -> Iterator[Scope]:
    """Every server block, with its http context (a file of bare server blocks is read as an http fragment)."""
    https = [d for d in tree.directives if d.name == "http"]
    contexts = [(h.block or []) for h in https] or [tree.directives]
    for http in contexts:
        for d in http:
            if d.name == "server" and d.block is not None:
                yield Scope(d, [http, d.block], tree.unresolved)


def _locations(server: Scope) -> Iterator[Scope]:
    def walk(block: list[Directive], chain: list[list[Directive]]) -> Iterator[Scope]:
        for d in block:
            if d.name == "location" and d.block is not None:
                scope = Scope(d, [*chain, d.block], server.unresolved)
                yield scope
                yield from walk(d.block, scope.chain)

    yield from walk(server.chain[-1], server.chain)


def is_https(server: Scope) -> bool:
    for d in server.own("listen"):
        if "ssl" in d.args[1:] or "quic" in d.args[1:] or d.args[:1] and d.args[0].rsplit(":", 1)[-1] == "443":
            return True
    return any(d.args[:1] == ["on"] for d in server.own("ssl"))


def is_public(server: Scope) -> bool:
    """Whether a server listens beyond loopback (no listen directive: *:80)."""
    listens = server.own("listen")
    if not listens:
        return True
    for d in listens:
        address = d.args[0] if d.args else ""
        if address.startswith(PRIVATE_LISTEN):
            continue
        host = address.rsplit(":", 1)[0].strip("[]") if ":" in address else ""
        try:
            if host and ipaddress.ip_address(host).is_loopback:
                continue
        except ValueError:
            pass
        return True
    return False


def _not_set(scope: Scope, what: str) -> tuple[Status, str]:
    """`what` is not set: fail, unless an include we could not read might set it."""
    if scope.unresolved:
        names = ", ".join(" ".join(d.args) for d in scope.unresolved[:3])
        return Status.UNKNOWN, f"{what} is not set here, but include {names} could not be read from the repository"
    return Status.FAIL, f"{what} is not set"


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


class NginxProbe(Probe):
    name = "nginx"
    version = "0.1.0"
    kind = "static"
    description = "nginx configuration: TLS protocols, HSTS, OCSP stapling, rate limits, timeouts, gzip, CORS, metrics."
    claims = CLAIMS
    checks = CHECKS

    def run(self, ctx: ProbeContext) -> Iterator[Observation]:
        claimed = {art.path for art in ctx.artifacts}
        readable = {art.path: art for art in ctx.all_artifacts if art.skipped is None}

        def load(path: str) -> list[Directive] | None:
            art = readable[path]
            with ctx.guard(art):
                return self._parse(ctx, art)
            return None  # the guard turned a failure into error observations

        repo = Repository(list(readable), load)
        trees = [repo.expand(path) for path in sorted(claimed)]
        judged = 0
        for tree in trees:
            if tree.path in repo.included or repo.directives(tree.path) is None:
                continue  # judged where it is included, with the context it gets there; or it did not parse
            for d in tree.unresolved:
                ctx.gap(d.where(), f"include {' '.join(d.args)}: no such file in the repository")
            for o in self._judge(ctx, tree):
                judged += 1
                yield o
        if trees and not judged:
            # Fragments and templates only (no server block reached): the http-wide directives they write are
            # read as text (TLS directives by the tls probe); the per-server checks have nothing to judge.
            yield from self._fragments(ctx)

    def _fragments(self, ctx: ProbeContext) -> Iterator[Observation]:
        texts = {}
        for art in ctx.artifacts:
            if art.production:
                with contextlib.suppress(ArtifactUnreadable):
                    texts[art.path] = ctx.read_text(art)
        http_wide = {
            COMPRESSION: (re.compile(r"(?m)^\s*(gzip|brotli)\s+on\s*;"), "compresses responses", "no gzip or brotli"),
            RATE_LIMITING: (re.compile(r"(?m)^\s*limit_req(_zone)?\s"), "limits request rates", "no limit_req"),
        }
        for check, (pattern, good, bad) in http_wide.items():
            hit = next(((path, m) for path, text in texts.items() if (m := pattern.search(text))), None)
            if hit:
                path, m = hit
                line = texts[path][: m.start()].count("\n") + 1
                message = f"{good} ({m.group(0).strip()}) in a fragment or template"
                yield ctx.observe(check.id, Status.PASS, Subject(path=path, line=line), message)
            elif texts:
                where = ", ".join(sorted(texts)[:3])
                yield ctx.observe(
                    check.id, Status.FAIL, Subject(), f"{bad} in the nginx files ({where})", production=True
                )
        message = "no server block in the nginx files here (fragments or templates): nothing for this check"
        for check in CHECKS:
            if check not in http_wide or not texts:
                yield ctx.observe(check.id, Status.NOT_APPLICABLE, Subject(), message, production=True)

    @staticmethod
    def _parse(ctx: ProbeContext, art: Artifact) -> list[Directive] | None:
        text = ctx.read_text(art)
        try:
            return parse_text(text, art.path)
        except ParseError as exc:
            subject = Subject(path=art.path, line=exc.line)
            if not _NGINX_BY_NAME.match_file(art.path):
                # Taken only because it looked like nginx (a `server {` line): another format, such as HOCON.
                ctx.gap(subject, f"not nginx configuration after all (it does not parse as nginx: {exc})")
                return None
            ctx.emitted.extend(ctx.errors(subject, f"nginx configuration does not parse: {exc}", art.production))
            return None

    def _judge(self, ctx: ProbeContext, tree: Tree) -> Iterator[Observation]:
        servers = list(_servers(tree))
        if not servers:
            ctx.gap(Subject(path=tree.path), "no server block here, and no file in the repository includes it")
            return
        zones = [d for d in _walk(tree.directives) if d.name == "limit_req_zone"]
        judged: list[tuple[Scope, Judged]] = []
        for server in servers:
            locations = list(_locations(server))
            redirect_only = bool(server.own("return")) and not locations
            found = [judge_timeouts(server)]
            if is_https(server):
                found += [judge_tls(server), judge_stapling(server), judge_hsts(server, server)]
                # a location with add_header lines of its own drops the server's: judge it again there
                found += [judge_hsts(loc, server) for loc in locations if loc.own("add_header") and _serves(loc)]
            if not redirect_only:
                found.append(judge_compression(server))
                if is_public(server):
                    found.append(judge_rate_limits(server, zones))
                own_headers = [loc for loc in locations if loc.own("add_header")]
                cors = [j for scope in (server, *own_headers) if (j := judge_cors(scope))]
                found += cors or [judge_no_cors(server)]
            found += [j for loc in locations if (j := judge_monitoring(loc, server))]
            judged += [(server, j) for j in found]
        for server, j in judged:
            subject = Subject(path=j.subject.path, line=j.subject.line, name=server.label)
            yield ctx.observe(j.check.id, j.status, subject, j.message, facts=j.facts)
        seen = {j.check.id for _, j in judged}
        for check, why in NOT_APPLICABLE_WHEN_UNSEEN.items():
            if check.id not in seen:
                yield ctx.observe(check.id, Status.NOT_APPLICABLE, Subject(path=tree.path), why)


NOT_APPLICABLE_WHEN_UNSEEN = {
    TLS_PROTOCOLS: "no HTTPS server here (TLS is terminated elsewhere, if anywhere: the tls probe judges endpoints)",
    OCSP_STAPLING: "no HTTPS server here",
    HSTS_HEADER: "no HTTPS server here",
    RATE_LIMITING: "every server here listens only on loopback or a unix socket",
    MONITORING_ALLOWLIST: "no metrics or status location here",
}


def configured_servers(ctx: ProbeContext) -> list[Scope]:
    """Every server block of the repository's nginx configuration, with the context it inherits.

    For other probes that match a live endpoint to its configuration (tls, for OCSP stapling). Files that do
    not parse are left out here; the nginx probe reports them.
    """
    files = [a for a in NginxProbe().claimed(ctx.all_artifacts, ctx.files) if a.skipped is None]
    readable = {a.path: a for a in ctx.all_artifacts if a.skipped is None}

    def load(path: str) -> list[Directive] | None:
        try:
            return parse_text(ctx.read_text(readable[path]), path)
        except (ParseError, ArtifactUnreadable):
            return None

    repo = Repository(list(readable), load)
    trees = [repo.expand(a.path) for a in files]
    return [server for tree in trees if tree.path not in repo.included for server in _servers(tree)]


def _serves(scope: Scope) -> bool:
    """A server, or a location that can answer by itself (not only an internal redirect target)."""
    return scope.block.name == "server" or not scope.own("internal")


def _walk(directives: list[Directive]) -> Iterator[Directive]:
    for d in directives:
        yield d
        if d.block:
            yield from _walk(d.block)
