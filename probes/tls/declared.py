"""TLS as the production deployment declares it, for when no live endpoint is named.

What terminates TLS in front of the production stack decides: Caddy (automatic
HTTPS with its documented defaults), Traefik (a TLS entry point or resolver),
or nginx directives wherever the repository keeps them, templates included
(``ssl.conf`` rendered at start, a pups ``*.template.yml`` that writes the
server block). A production stack whose way in publishes plain HTTP and has
none of these serves plain HTTP, and fails. Evidence is ``declared``: a named
live endpoint, scanned, says more.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from readiness.model import Artifact, Observation, Status, Subject, VcsState
from readiness.probe import ArtifactUnreadable, ProbeContext

from . import checks

CADDY_IMAGES = re.compile(r"(^|/)(caddy|caddy-docker-proxy|caddy-gen)([:@]|$)", re.I)
TRAEFIK_IMAGES = re.compile(r"(^|/)traefik([:@]|$)", re.I)
# Files that may hold nginx directives: configs, and the templates rendered into them at start.
NGINX_TEXT = re.compile(r"(\.conf|\.conf\.\w+|\.template|\.tmpl|\.j2|nginx[^/]*|\.template\.ya?ml)$", re.I)
MAX_BYTES = 256 * 1024
WEAK_PROTOCOLS = re.compile(r"\b(SSLv2|SSLv3|TLSv1|TLSv1\.1)\b(?!\.)")
WEAK_CIPHERS = re.compile(r"(?<![!-])\b(RC4|DES|3DES|MD5|NULL|EXPORT|aNULL|eNULL|CBC3|IDEA|SEED)\b")
DIRECTIVE = re.compile(
    r"^\s*(ssl_protocols|ssl_ciphers|ssl_stapling|ssl_certificate|listen|return|rewrite|add_header|more_set_headers)"
    r"\b([^;\n]*)",
    re.M,
)


@dataclass
class Declared:
    """What the production files say about TLS, with where."""

    caddy: list[Subject] = field(default_factory=list)
    caddy_hsts: list[Subject] = field(default_factory=list)
    caddy_off: list[Subject] = field(default_factory=list)
    traefik: list[Subject] = field(default_factory=list)
    traefik_tls: list[Subject] = field(default_factory=list)
    traefik_hsts: list[Subject] = field(default_factory=list)
    traefik_redirect: list[Subject] = field(default_factory=list)
    nginx: dict[str, list[tuple[Subject, str]]] = field(default_factory=dict)  # directive -> (where, value)
    plain: list[tuple[Subject, str]] = field(default_factory=list)  # entry points publishing plain HTTP

    @property
    def nginx_tls(self) -> bool:
        return bool(self.nginx.get("ssl_protocols") or self.nginx.get("ssl_certificate") or self._ssl_listen())

    def _ssl_listen(self) -> list:
        return [x for x in self.nginx.get("listen", []) if re.search(r"\bssl\b|\b443\b", x[1])]


def _line(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def uncommented(text: str) -> str:
    """Comment lines blanked (line numbers kept): a commented-out resolver configures nothing."""
    return "\n".join("" if line.lstrip().startswith("#") else line for line in text.splitlines())


def _caddy_plain(text: str) -> int | None:
    """The line of the first site address when every site is plain HTTP (http://, :80)."""
    sites = [m for m in re.finditer(r"^([^\s#{}][^\n{]*)\{", text, re.M) if not m.group(1).strip().startswith("(")]
    addresses = [a for m in sites for a in re.split(r"[,\s]+", m.group(1).strip()) if a]
    if addresses and all(a.startswith("http://") or re.fullmatch(r":(80|8080|\d{4,5})", a) for a in addresses):
        return _line(text, sites[0].start())
    return None


def production_texts(ctx: ProbeContext, wanted: re.Pattern[str]) -> Iterator[tuple[Artifact, str]]:
    for art in ctx.all_artifacts:
        if (
            art.production
            and art.skipped is None
            and art.vcs is not VcsState.IGNORED
            and art.size <= MAX_BYTES
            and wanted.search(posixpath.basename(art.path))
        ):
            try:
                yield art, ctx.read_text(art)
            except ArtifactUnreadable:
                continue  # the probes that own the file report it


def gather(ctx: ProbeContext) -> Declared:
    found = Declared()
    dmap = ctx.deployments
    production = [d for d in dmap.production if d.kind == "compose"] if dmap else []
    for d in production:
        for unit in d.units:
            where = unit.declared_in or Subject(path=d.files[-1], name=unit.name)
            if unit.image and CADDY_IMAGES.search(unit.image):
                found.caddy.append(where)
            elif unit.image and TRAEFIK_IMAGES.search(unit.image):
                found.traefik.append(where)
        for path in d.files:
            text = uncommented(_text(ctx, path))
            _traefik_text(found, path, text)
            if re.search(r"caddy[^\n]*Strict-Transport-Security", text, re.I):
                found.caddy_hsts.append(Subject(path=path, line=_line(text, text.find("Strict-Transport"))))
    for art, text in production_texts(ctx, re.compile(r"(^Caddyfile|\.caddyfile)$", re.I)):
        text = uncommented(text)
        found.caddy.append(Subject(path=art.path, line=1))
        if (plain := _caddy_plain(text)) is not None:
            found.caddy_off.append(Subject(path=art.path, line=plain))
        if m := re.search(r"Strict-Transport-Security", text):
            found.caddy_hsts.append(Subject(path=art.path, line=_line(text, m.start())))
        if m := re.search(r"^\s*auto_https\s+off", text, re.M):
            found.caddy_off.append(Subject(path=art.path, line=_line(text, m.start())))
    for art, text in production_texts(ctx, re.compile(r"^traefik.*\.(ya?ml|toml)$", re.I)):
        _traefik_text(found, art.path, uncommented(text))
    for art, text in production_texts(ctx, NGINX_TEXT):
        text = uncommented(text)
        if "ssl_" not in text and "listen" not in text and "Strict-Transport" not in text:
            continue
        for m in DIRECTIVE.finditer(text):
            found.nginx.setdefault(m.group(1), []).append(
                (Subject(path=art.path, line=_line(text, m.start())), m.group(2).strip())
            )
    for d in production:
        for unit in d.units:
            if unit.entry_point:
                where = unit.declared_in or Subject(path=d.files[-1], name=unit.name)
                found.plain.append((where, ", ".join(unit.ports)))
    if not found.plain:
        found.plain += _kubernetes_exposure(ctx)
    return found


def _kubernetes_exposure(ctx: ProbeContext) -> list[tuple[Subject, str]]:
    """A production Kubernetes Service of type LoadBalancer or NodePort that exposes only plain-HTTP ports, with
    no Ingress or Gateway that could terminate TLS in front of it (microservices-demo's frontend-external)."""
    exposed: list[tuple[Subject, str]] = []
    terminators = False
    gateways: set[str] = set()
    parents: set[str] = set()  # the Gateways HTTPRoutes attach to: one the repository does not hold may do TLS
    for art, text in production_texts(ctx, re.compile(r"\.ya?ml$", re.I)):
        if "kind:" not in text or not re.search(
            r"(?m)^kind:\s*(Service|Ingress|Gateway|HTTPRoute|IngressRoute)\b", text
        ):
            continue
        if "{{" in text:
            continue  # a Helm template: not rendered here
        try:
            docs = ctx.read_yaml(art)
        except ArtifactUnreadable:
            continue
        for doc in docs:
            if not isinstance(doc, dict):
                continue
            kind = doc.get("kind")
            if kind == "Gateway":
                gateways.add(str((doc.get("metadata") or {}).get("name")))
            if kind == "HTTPRoute":
                spec_ = doc.get("spec") if isinstance(doc.get("spec"), dict) else {}
                parents.update(str(r.get("name")) for r in spec_.get("parentRefs") or () if isinstance(r, dict))
            elif kind in ("Ingress", "Gateway", "IngressRoute") and _may_terminate_tls(doc):
                terminators = True
            spec = doc.get("spec") if isinstance(doc.get("spec"), dict) else {}
            if kind == "Service" and spec.get("type") in ("LoadBalancer", "NodePort"):
                ports = [p.get("port") for p in spec.get("ports") or () if isinstance(p, dict)]
                name = (doc.get("metadata") or {}).get("name") if isinstance(doc.get("metadata"), dict) else None
                where = Subject(path=art.path, line=getattr(doc, "line", None), name=f"Service/{name}")
                exposed.append((where, ", ".join(str(p) for p in ports)))
    return [] if terminators or parents - gateways else exposed


def _may_terminate_tls(doc: dict) -> bool:
    """An Ingress, Gateway or route that declares TLS anywhere (a `tls` block, an HTTPS or TLS listener, port
    443, a certificate annotation). An Istio Gateway serving only `protocol: HTTP` on port 80 terminates
    nothing."""

    def walk(node: object) -> bool:
        if isinstance(node, dict):
            return any(str(k).lower() == "tls" or ("cert" in str(k).lower() and v) or walk(v) for k, v in node.items())
        if isinstance(node, list):
            return any(walk(v) for v in node)
        return str(node).upper() in ("HTTPS", "TLS", "443")

    return walk(doc.get("spec")) or walk((doc.get("metadata") or {}).get("annotations") or {})


def _text(ctx: ProbeContext, path: str) -> str:
    art = ctx.artifact(path)
    try:
        return ctx.read_text(art) if art else ""
    except ArtifactUnreadable:
        return ""


def _traefik_text(found: Declared, path: str, text: str) -> None:
    for pattern, bucket in (
        (
            r"certresolver|certificatesResolvers|\.tls=true|\btls:\s*\{|entrypoints\.websecure|address[=:]\s*\"?:443",
            found.traefik_tls,
        ),
        (r"stsSeconds", found.traefik_hsts),
        (r"redirections\.entrypoint\.to|redirectscheme|redirectScheme", found.traefik_redirect),
    ):
        if m := re.search(pattern, text, re.I):
            bucket.append(Subject(path=path, line=_line(text, m.start())))


def observations(ctx: ProbeContext, hsts_min_age: int) -> Iterator[Observation]:
    """Declared verdicts for the checks a configuration can decide; nothing when nothing declares TLS."""
    d = gather(ctx)
    if d.caddy and not d.caddy_off:
        yield from _caddy(ctx, d)
    elif d.traefik and d.traefik_tls:
        yield from _traefik(ctx, d)
    elif d.nginx_tls:
        yield from _nginx(ctx, d, hsts_min_age)
    elif d.plain and not _tls_ports(d):
        where, ports = d.plain[0]
        message = (
            f"the production stack serves plain HTTP: its entry point {where.name} publishes {ports or 'no port'}, "
            "and no TLS terminator (nginx ssl, Caddy, Traefik, an Ingress) or certificate is configured in the "
            "repository"
        )
        for check in (
            checks.PROTOCOLS_MODERN,
            checks.CIPHER_SUITES_STRONG,
            checks.HSTS,
            checks.HTTP_REDIRECTS_TO_HTTPS,
            checks.CERTIFICATE_VALID,
        ):
            yield ctx.observe(check.id, Status.FAIL, where, message, production=True)


def _tls_ports(d: Declared) -> bool:
    """An entry point publishing 443 (or a container port 443/8443) most likely terminates TLS itself, with a
    configuration the repository does not show: not a proof of plain HTTP."""
    return any(re.search(r"(^|:)(443|8443)(/tcp)?$|(^|:)443:", p) for _, ports in d.plain for p in ports.split(", "))


def _caddy(ctx: ProbeContext, d: Declared) -> Iterator[Observation]:
    where = d.caddy[0]
    defaults = "Caddy's automatic HTTPS with its defaults"
    yield ctx.observe(
        checks.PROTOCOLS_MODERN.id, Status.PASS, where, f"{defaults}: TLS 1.2 and 1.3 only", production=True
    )
    yield ctx.observe(
        checks.CIPHER_SUITES_STRONG.id,
        Status.PASS,
        where,
        f"{defaults}: forward-secret AEAD suites only",
        production=True,
    )
    yield ctx.observe(
        checks.OCSP_STAPLING.id, Status.PASS, where, f"{defaults}: OCSP responses stapled", production=True
    )
    yield ctx.observe(
        checks.HTTP_REDIRECTS_TO_HTTPS.id, Status.PASS, where, f"{defaults}: HTTP redirects to HTTPS", production=True
    )
    yield ctx.observe(
        checks.CERTIFICATE_VALID.id,
        Status.PASS,
        where,
        f"{defaults}: publicly trusted certificates obtained and renewed over ACME (validity itself needs a scan)",
        production=True,
    )
    if d.caddy_hsts:
        yield ctx.observe(
            checks.HSTS.id,
            Status.PASS,
            d.caddy_hsts[0],
            "Caddy sets a Strict-Transport-Security header",
            production=True,
        )
    else:
        yield ctx.observe(
            checks.HSTS.id,
            Status.FAIL,
            where,
            "Caddy sends no Strict-Transport-Security header by default, and no configuration adds one",
            production=True,
        )


def _traefik(ctx: ProbeContext, d: Declared) -> Iterator[Observation]:
    where = d.traefik_tls[0]
    yield ctx.observe(
        checks.PROTOCOLS_MODERN.id,
        Status.PASS,
        where,
        "Traefik terminates TLS; its default minimum is TLS 1.2",
        production=True,
    )
    yield ctx.observe(
        checks.CIPHER_SUITES_STRONG.id,
        Status.PASS,
        where,
        "Traefik terminates TLS with Go's default suites (forward-secret AEAD first)",
        production=True,
    )
    status, at = (Status.PASS, d.traefik_hsts[0]) if d.traefik_hsts else (Status.FAIL, where)
    message = "a headers middleware sets stsSeconds" if d.traefik_hsts else "no headers middleware sets stsSeconds"
    yield ctx.observe(checks.HSTS.id, status, at, message, production=True)
    if d.traefik_redirect:
        yield ctx.observe(
            checks.HTTP_REDIRECTS_TO_HTTPS.id,
            Status.PASS,
            d.traefik_redirect[0],
            "the web entry point redirects to HTTPS",
            production=True,
        )


def _nginx(ctx: ProbeContext, d: Declared, hsts_min_age: int) -> Iterator[Observation]:
    protocols = d.nginx.get("ssl_protocols", [])
    weak = [(w, v) for w, v in protocols if WEAK_PROTOCOLS.search(v)]
    if weak:
        w, v = weak[0]
        yield ctx.observe(checks.PROTOCOLS_MODERN.id, Status.FAIL, w, f"ssl_protocols {v}", production=True)
    elif protocols:
        w, v = protocols[0]
        yield ctx.observe(checks.PROTOCOLS_MODERN.id, Status.PASS, w, f"ssl_protocols {v}", production=True)
    ciphers = d.nginx.get("ssl_ciphers", [])
    bad = [(w, v) for w, v in ciphers if WEAK_CIPHERS.search(v.replace("!", " !"))]
    if bad:
        yield ctx.observe(
            checks.CIPHER_SUITES_STRONG.id,
            Status.FAIL,
            bad[0][0],
            f"ssl_ciphers allows {WEAK_CIPHERS.search(bad[0][1]).group(0)}",
            production=True,
        )
    elif protocols and not ciphers:
        yield ctx.observe(
            checks.CIPHER_SUITES_STRONG.id,
            Status.FAIL,
            protocols[0][0],
            "no ssl_ciphers: nginx's default HIGH:!aNULL:!MD5 also offers suites without forward secrecy (AES256-SHA)",
            production=True,
        )
    elif ciphers:
        yield ctx.observe(
            checks.CIPHER_SUITES_STRONG.id,
            Status.PASS,
            ciphers[0][0],
            "ssl_ciphers names no weak suite",
            production=True,
        )
    headers = [
        (w, v)
        for w, v in d.nginx.get("add_header", []) + d.nginx.get("more_set_headers", [])
        if "strict-transport-security" in v.lower()
    ]
    if headers:
        w, v = headers[0]
        age = re.search(r"max-age=(\d+)", v)
        ok = age is not None and int(age.group(1)) >= hsts_min_age
        message = f"Strict-Transport-Security {age.group(0) if age else '(no max-age)'}"
        if not ok:
            message += f" (under {hsts_min_age} s)" if age and "$" not in v else ""
        status = Status.PASS if ok else (Status.UNKNOWN if "$" in v or "{{" in v else Status.FAIL)
        yield ctx.observe(checks.HSTS.id, status, w, message, production=True)
    else:
        where = protocols[0][0] if protocols else Subject()
        yield ctx.observe(
            checks.HSTS.id, Status.FAIL, where, "no Strict-Transport-Security header is added", production=True
        )
    stapling = [(w, v) for w, v in d.nginx.get("ssl_stapling", []) if v.split()[:1] == ["on"]]
    if stapling:
        yield ctx.observe(checks.OCSP_STAPLING.id, Status.PASS, stapling[0][0], "ssl_stapling on", production=True)
    redirects = [(w, v) for w, v in d.nginx.get("return", []) + d.nginx.get("rewrite", []) if "https://" in v]
    if redirects:
        yield ctx.observe(
            checks.HTTP_REDIRECTS_TO_HTTPS.id,
            Status.PASS,
            redirects[0][0],
            f"redirects to HTTPS ({redirects[0][1][:60]})",
            production=True,
        )
