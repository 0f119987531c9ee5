"""Evidence in the repository that certificates renew themselves: ACME clients, cert-manager, ACM.

Renewal cannot be seen on the wire, so this reads artifacts: certbot and
acme.sh configs and timers, cert-manager ``Certificate``/``Issuer`` objects,
Caddy (automatic HTTPS unless switched off), Traefik ACME resolvers, and
Terraform ``aws_acm_certificate`` / ``acme_certificate`` resources.
"""

from __future__ import annotations

import re

from readiness.model import Artifact, Subject
from readiness.probe import ArtifactUnreadable, Claim, ProbeContext

# Renewal artifacts decide tls.renewal_automated only: an unreadable one must not
# make the live checks error.
FEEDS = ("tls.renewal_automated",)
CLAIMS = (
    Claim(
        (
            "**/letsencrypt/renewal/*.conf",
            "**/*certbot*.timer",
            "**/*certbot*.service",
            "**/cron.d/*certbot*",
            "**/cron.d/*acme*",
            "**/acme.sh.conf",
            "**/acme.sh/account.conf",
            "Caddyfile",
            "**/Caddyfile",
            "**/*.caddyfile",
        ),
        checks=FEEDS,
    ),
    Claim(
        ("*.yaml", "*.yml", "*.toml"),
        sniff=re.compile(rb"cert-manager\.io/|certificatesResolvers|image:\s*\S*certbot"),
        checks=FEEDS,
    ),
    Claim(("*.tf",), sniff=re.compile(rb"\"(aws_acm_certificate|acme_certificate)\""), checks=FEEDS),
)

PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("cert-manager Certificate/Issuer", re.compile(r"^\s*kind:\s*(Certificate|Issuer|ClusterIssuer)\s*$", re.M)),
    ("Traefik ACME resolver", re.compile(r"certificatesResolvers[\s\S]{0,400}?acme", re.I)),
    ("certbot container", re.compile(r"image:\s*\S*certbot", re.I)),
    ("Terraform ACM/ACME certificate", re.compile(r"resource\s+\"(aws_acm_certificate|acme_certificate)\"")),
    ("certbot renewal config", re.compile(r"^\s*authenticator\s*=|^\s*\[renewalparams\]", re.M)),
    ("certbot/acme.sh timer or cron", re.compile(r"(certbot|acme\.sh)\b[^\n]*(renew|--cron)", re.I)),
)


def _line(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def _caddy(text: str) -> tuple[str, int] | None:
    if re.search(r"^\s*auto_https\s+off", text, re.M):
        return None
    site = re.search(r"^[^\s#{][^\n{]*\{", text, re.M)
    return ("Caddy automatic HTTPS", _line(text, site.start())) if site else None


def find(ctx: ProbeContext) -> list[dict]:
    """Every renewal mechanism found, with file and line."""
    found = []
    for art in ctx.artifacts:
        try:
            text = ctx.read_text(art)
        except ArtifactUnreadable as exc:
            # ctx.guard would mark every live check of the probe as errored for one unreadable config file
            ctx.gap(Subject(path=art.path), f"renewal evidence not readable: {exc}")
            continue
        found.extend(_judge(art, text))
    return found


def _judge(art: Artifact, text: str) -> list[dict]:
    out = []
    name = art.path.rsplit("/", 1)[-1]
    if name == "Caddyfile" or name.endswith(".caddyfile"):
        hit = _caddy(text)
        if hit:
            out.append({"path": art.path, "line": hit[1], "mechanism": hit[0], "production": art.production})
        return out
    for mechanism, pattern in PATTERNS:
        match = pattern.search(text)
        if match:
            out.append(
                {
                    "path": art.path,
                    "line": _line(text, match.start()),
                    "mechanism": mechanism,
                    "production": art.production,
                }
            )
    return out


ACME_CLIENTS = re.compile(
    r"acme\.sh\b[^\n]*(--cron|--renew|--install-cronjob|--issue|--install-cert)|\blego\b[^\n]*\b(renew|run)\b"
    r"|\bcertbot\b[^\n]*\b(renew|certonly)\b|\bcertbot-auto\b|\bdehydrated\b[^\n]*(-c|--cron)"
)
# Where an ACME client is started: scripts, cron files, init-system services in an image's root fs, templates.
SCRIPT_LIKE = re.compile(
    r"\.(sh|bash|cron|crontab)$|\.template\.ya?ml$|(^|/)(crontab|Dockerfile|docker-entrypoint[^/]*)$"
    r"|/(s6-overlay|s6-rc\.d|cont-init\.d|services\.d|cron\.d|periodic|supervisor[^/]*)/"
)


def deployed(ctx: ProbeContext) -> list[dict]:
    """Renewal that the production deployment runs: Caddy in front of it (automatic HTTPS), a Traefik ACME
    resolver, or an ACME client (acme.sh, lego, certbot, dehydrated) called by a production script, service or
    template, wherever it sits (an s6 service in the web image, a pups template, an entrypoint)."""
    from . import declared

    found = []
    d = declared.gather(ctx)
    if d.caddy and not d.caddy_off:
        where = d.caddy[0]
        found.append(
            {"path": where.path, "line": where.line or 1, "mechanism": "Caddy automatic HTTPS", "production": True}
        )
    resolvers = [s for s in d.traefik_tls if s.path]
    if d.traefik and resolvers:
        found.append(
            {
                "path": resolvers[0].path,
                "line": resolvers[0].line or 1,
                "mechanism": "Traefik TLS resolver",
                "production": True,
            }
        )
    for art in ctx.all_artifacts:
        if not (
            art.production and art.skipped is None and art.size <= declared.MAX_BYTES and SCRIPT_LIKE.search(art.path)
        ):
            continue
        try:
            text = declared.uncommented(ctx.read_text(art))
        except ArtifactUnreadable:
            continue
        if m := ACME_CLIENTS.search(text):
            found.append(
                {
                    "path": art.path,
                    "line": _line(text, m.start()),
                    "mechanism": f"ACME client ({m.group(0).split()[0]})",
                    "production": True,
                }
            )
            break
    return found
