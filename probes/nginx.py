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

This module holds the probe; parsing, includes and scopes are in nginx_tree, the
checks and their judges in nginx_checks.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator

from readiness.model import Artifact, Observation, Status, Subject
from readiness.probe import ArtifactUnreadable, Claim, Probe, ProbeContext

from .nginx_checks import (
    CHECKS,
    COMPRESSION,
    HSTS_HEADER,
    MONITORING_ALLOWLIST,
    OCSP_STAPLING,
    RATE_LIMITING,
    TLS_PROTOCOLS,
    Judged,
    judge_compression,
    judge_cors,
    judge_hsts,
    judge_monitoring,
    judge_no_cors,
    judge_rate_limits,
    judge_stapling,
    judge_timeouts,
    judge_tls,
)
from .nginx_tree import (
    Directive,
    ParseError,
    Repository,
    Scope,
    Tree,
    _locations,
    _servers,
    is_https,
    is_public,
    parse_text,
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
    # envsubst templates the nginx image renders at start (/etc/nginx/templates/*.conf.template): `${VAR}`
    # stays a plain argument, so the file parses as nginx does after rendering, but for the values.
    Claim(("*.conf.template", "*.nginx.template"), sniff=re.compile(rb"(?m)^\s*(?:http|server|upstream)\s*\{")),
)

_NGINX_BY_NAME = CLAIMS[0].spec()


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
