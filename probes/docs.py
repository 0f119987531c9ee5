"""Operational documentation kept in the repository, found by file name and by section, and read for content.

Markdown is parsed with markdown-it-py into sections (a heading and the text under it, up to the next
heading of the same or a higher level), so "## Disaster recovery" inside a larger operations guide counts,
with its line. Other text formats (reStructuredText, AsciiDoc, plain text) count as one section named by the
file. A topic is met by a section whose heading or file name names it and whose body is real content: more
than a stub's word count, no TODO/TBD/lorem ipsum, and what the item demands (steps for runbooks, targets
for RTO/RPO, severity levels and roles for incident response, an escalation path for on-call, dated or
versioned entries for a changelog). Where an item asks for recency, the last commit touching the file
decides. Documentation kept elsewhere (a wiki) is attested through the policy's manual route instead.
"""

from __future__ import annotations

import datetime as dt
import functools
import posixpath
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from readiness import safe_load, subprocesses
from readiness.model import Artifact, Check, Observation, Status, Subject
from readiness.probe import Claim, Probe, ProbeContext

DEFAULT_MIN_WORDS = 40
DEFAULT_MAX_AGE_DAYS = 365
STUB = re.compile(r"\b(TODO|TBD|FIXME|lorem ipsum|coming soon|to be written)\b", re.I)
STEPS = re.compile(r"(?m)^\s*(?:\d+[.)]\s+\S|```|~~~|    \$ )")


@dataclass
class Section:
    path: str
    line: int
    heading: str
    body: str

    @property
    def words(self) -> int:
        return len(re.findall(r"\w+", self.body))

    @property
    def subject(self) -> Subject:
        return Subject(path=self.path, line=self.line, name=self.heading)


@dataclass(frozen=True)
class Topic:
    check: Check
    names: re.Pattern[str]  # matched against the heading and the file name
    demand: Callable[[Section], str | None] | None = None  # None when met, else what is missing
    recent: bool = False
    short_ok: bool = False  # two targets make a complete RTO/RPO section; no word count applies


RATIONALES = {
    "deployment_guide": "A deployment only one person knows how to run stops when that person is away.",
    "infra_configuration": "Undocumented settings get changed without knowing what depends on them.",
    "monitoring_guide": "Dashboards and alerts nobody knows how to read do not shorten an incident.",
    "troubleshooting": "Known failure modes written down are fixed in minutes instead of rediscovered.",
    "runbooks": "An alert without a runbook leaves the person paged at night to improvise.",
    "upgrade_procedure": "An upgrade improvised on the production host loses data; written steps make it routine.",
    "incident_response": "Without agreed severities and roles, incidents stall on who decides and who talks to users.",
    "oncall": "An alert nobody is obliged to answer, with no escalation, is an alert nobody answers.",
    "disaster_recovery": "A recovery plan written during the disaster is written too late; an old one no longer fits.",
    "backup_restore": "A backup nobody knows how to restore is not a backup.",
    "rto_rpo": "Without recovery targets, nobody can say whether the backups and failover are good enough.",
    "capacity_scaling": "Scaling decided under load is slow and risky; the limits and steps should be known before.",
    "performance_procedures": "Performance work without a procedure is guesswork repeated at every regression.",
    "patching_process": "Unpatched systems are the commonest way in; a process decides who patches what, how fast.",
    "secret_rotation": "A leaked credential stays valid until someone rotates it, which they cannot do without steps.",
    "security_policy": "Security rules that are not written down are applied unevenly, and cannot be audited.",
}


def _topic(key: str, title: str, names: str, demand=None, recent: bool = False, short_ok: bool = False) -> Topic:
    check = Check(
        f"docs.{key}",
        title,
        RATIONALES[key],
        "Write it down in the repository (docs/ or runbooks/) with real content, and keep it current.",
    )
    return Topic(check, re.compile(names, re.I), demand, recent, short_ok)


def _needs(pattern: str, what: str) -> Callable[[Section], str | None]:
    regex = re.compile(pattern, re.I | re.S)
    return lambda s: None if regex.search(s.body) else what


def _all(*demands: Callable[[Section], str | None]) -> Callable[[Section], str | None]:
    return lambda s: next((m for d in demands if (m := d(s))), None)


DURATION = r"\d+(?:\.\d+)?\s*(?:s|sec|seconds?|m|min|minutes?|h|hrs?|hours?|d|days?)\b"
has_steps = _needs(STEPS.pattern, "no steps (an ordered list or a command block)")
TOPICS = (
    _topic(
        "deployment_guide",
        "A production deployment guide with real content exists",
        r"deploy|release process|going live|install",
        has_steps,
    ),
    _topic(
        "infra_configuration",
        "Infrastructure configuration is documented",
        r"infrastructure|infra\b|environment variables|configuration reference|\bconfig(uration)?\b",
    ),
    _topic(
        "monitoring_guide", "A monitoring and alerting guide exists", r"monitoring|alerting|observability|dashboards?"
    ),
    _topic(
        "troubleshooting", "A troubleshooting guide exists", r"troubleshoot|common (issues|problems|errors)|\bfaq\b"
    ),
    _topic("runbooks", "Runbooks for common issues and alerts exist", r"runbook|playbook|^runbooks?/", has_steps),
    _topic(
        "upgrade_procedure",
        "Upgrade and rollback procedures are written down step by step",
        r"upgrad(e|ing)|roll ?back|updating\b",
        has_steps,
    ),
    _topic(
        "incident_response",
        "Incident response procedures (severity levels, roles, communication) are documented",
        r"incident",
        _all(
            _needs(r"\b(sev[- ]?\d|p[0-4]\b|severity)", "no severity levels"),
            _needs(
                r"incident (commander|lead|manager)|on-?call|communicat|status ?page|roles?\b",
                "no roles or communication plan",
            ),
        ),
    ),
    _topic(
        "oncall",
        "On-call procedures and escalation paths are documented",
        r"on-?call|escalation",
        _needs(
            r"escalat.{0,200}(page|pagerduty|opsgenie|phone|rotation|primary|secondary|manager)|"
            r"(primary|secondary).{0,200}escalat",
            "no escalation path (who is paged next, how)",
        ),
    ),
    _topic(
        "disaster_recovery",
        "A disaster recovery plan exists and was reviewed recently",
        r"disaster recovery|\bDR\b|business continuity|failover plan",
        recent=True,
    ),
    _topic(
        "backup_restore",
        "Backup and restore procedures are documented",
        r"backup|restore|restoring",
        _all(_needs(r"restor", "says nothing about restoring"), has_steps),
    ),
    _topic(
        "rto_rpo",
        "RTO and RPO targets are documented",
        r"\bRTO\b|\bRPO\b|recovery (time |point )?objectives?",
        _all(
            _needs(rf"\bRTO\b.{{0,80}}?{DURATION}|recovery time objective.{{0,80}}?{DURATION}", "no RTO target"),
            _needs(rf"\bRPO\b.{{0,80}}?{DURATION}|recovery point objective.{{0,80}}?{DURATION}", "no RPO target"),
        ),
        short_ok=True,
    ),
    _topic("capacity_scaling", "Capacity planning and scaling procedures are documented", r"capacity|scaling|autoscal"),
    _topic(
        "performance_procedures",
        "Performance optimization procedures are documented",
        r"performance|optimi[sz]ation|tuning|profiling",
    ),
    _topic(
        "patching_process",
        "The security patching process is documented",
        r"patch|security updates|vulnerability management|upgrad(e|ing) (dependencies|packages|os)",
    ),
    _topic(
        "secret_rotation",
        "Secret rotation policy and procedure are documented",
        r"(secret|credential|key|password|token)s? rotation|rotat(e|ing) (secrets|credentials|keys|passwords|tokens)",
    ),
    _topic(
        "security_policy",
        "Security policies and procedures are documented",
        r"^security\.md$|security polic|security",
        _needs(
            r"access control|encrypt|authenticat|least privilege|password polic|patch|incident|audit|firewall"
            r"|harden|data protection|retention|secrets? management",
            "only says how to report a vulnerability, not how the system is kept secure",
        ),
    ),
)
CHANGELOG = Check(
    "docs.changelog",
    "A changelog or release notes are maintained",
    "A changelog tells operators what changed in the release they are about to deploy.",
    "Keep CHANGELOG.md with a versioned, dated entry per release (Keep a Changelog).",
)
ARCHITECTURE = Check(
    "docs.architecture_diagram",
    "An architecture diagram exists and was updated recently",
    "Current architecture diagrams are needed for reviews, onboarding and incident response.",
    "Keep a diagram (image, draw.io, Mermaid or PlantUML) in docs/, referenced from the docs, and update it.",
)
API_VERSIONING = Check(
    "docs.api_versioning",
    "The API versioning strategy is documented",
    "Clients need to know how versions change and how long old ones live.",
    "Document the versioning scheme and deprecation policy, or publish a versioned OpenAPI spec.",
)
CHECKS = (*(t.check for t in TOPICS), CHANGELOG, ARCHITECTURE, API_VERSIONING)

DOC_GLOBS = (
    "*.md", "*.markdown", "*.rst", "*.adoc", "docs/**/*.txt", "runbooks/**/*.txt", "CHANGELOG*", "HISTORY*",
    "RELEASES*", "NEWS*",
)  # fmt: skip
DIAGRAMS = re.compile(r"\.(png|svg|jpe?g|drawio|excalidraw|puml|plantuml|mmd|dsl)$", re.I)
DIAGRAM_NAMES = re.compile(
    r"architect|(^|[-_.])arch([-_.]|$)|diagram|overview|system|topology|(^|[-_.])c4([-_.]|$)", re.I
)
CLAIMS = (
    Claim(DOC_GLOBS),
    Claim(("openapi*.yaml", "openapi*.yml", "openapi*.json", "swagger*.yaml", "swagger*.json", "**/api/*.yaml")),
)
SKIP_DIRS = ("node_modules/", "vendor/", ".venv/", "site-packages/", "tests/", "test/", "fixtures/")
# Where a repository keeps documents about itself; a README elsewhere documents its folder's component.
DOC_FOLDERS = re.compile(
    r"^(\.github/)?(docs?|documentation|runbooks?|playbooks?|ops|operations|handbook|wiki|guides?|manual)(/|$)", re.I
)
NOT_OPERATIONAL = re.compile(
    r"(^|/)(AGENTS|CLAUDE|GEMINI|CONTRIBUTING|CODE_OF_CONDUCT|PULL_REQUEST_TEMPLATE|SUPPORT|GOVERNANCE|MAINTAINERS)"
    r"[^/]*$|(^|/)\.github/ISSUE_TEMPLATE/",
    re.I,
)


def about_the_repository(path: str, topic: re.Pattern[str]) -> bool:
    """A document speaks for the repository when it sits at the root or in its documentation folders, or when
    its own file name names the topic (ops/monitoring.md); a README in a module's folder speaks for that module."""
    if NOT_OPERATIONAL.search(path):
        return False
    folder = posixpath.dirname(path)
    return not folder or bool(DOC_FOLDERS.match(folder)) or bool(topic.search(posixpath.basename(path).lower()))


def _readme_of(path: str, folders: set[str]) -> bool:
    return posixpath.basename(path).lower().startswith("readme") and posixpath.dirname(path) in folders


@functools.cache
def _heading_parser() -> Any:
    """CommonMark's block parser only: the sections need each heading's level, line and text, which
    the block stage gives; inline parsing (links, emphasis) was half of this probe's time."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark").disable("inline")


def markdown_sections(path: str, text: str) -> list[Section]:
    tokens = _heading_parser().parse(text)
    lines = text.splitlines()
    heads = []
    for i, tok in enumerate(tokens):
        if tok.type == "heading_open" and tok.map:
            heads.append((int(tok.tag[1]), tok.map[0], tokens[i + 1].content))
    sections = []
    for n, (level, start, title) in enumerate(heads):
        end = next((s for lvl, s, _ in heads[n + 1 :] if lvl <= level), len(lines))
        sections.append(Section(path, start + 1, title.strip(), "\n".join(lines[start + 1 : end])))
    if not heads:
        sections.append(Section(path, 1, posixpath.basename(path), text))
    return sections


def last_commit(root, path: str) -> dt.datetime | None:
    done = subprocesses.run(
        ["git", "-C", str(root), "log", "-1", "--format=%cI", "--", path], capture_output=True, text=True, timeout=30
    )
    return dt.datetime.fromisoformat(done.stdout.strip()) if done.returncode == 0 and done.stdout.strip() else None


class DocsProbe(Probe):
    name = "docs"
    version = "0.1.0"
    kind = "static"
    description = "Operational documentation: guides, runbooks, incident and DR plans, RTO/RPO, changelog, diagrams."
    claims = CLAIMS
    checks = CHECKS
    existential_checks = frozenset(
        {
            "docs.deployment_guide",
            "docs.infra_configuration",
            "docs.monitoring_guide",
            "docs.troubleshooting",
            "docs.runbooks",
            "docs.upgrade_procedure",
            "docs.incident_response",
            "docs.oncall",
            "docs.disaster_recovery",
            "docs.backup_restore",
            "docs.rto_rpo",
            "docs.capacity_scaling",
            "docs.performance_procedures",
            "docs.patching_process",
            "docs.secret_rotation",
            "docs.security_policy",
            "docs.changelog",
            "docs.architecture_diagram",
            "docs.api_versioning",
        }
    )
    settings_schema = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "min_words": {"type": "integer", "minimum": 1, "description": "fewer words than this is a stub"},
            "max_age_days": {"type": "integer", "minimum": 1, "description": "for items that must be recent"},
        },
    }

    def run(self, ctx: ProbeContext) -> Iterator[Observation]:
        settings = ctx.settings or {}
        min_words = int(settings.get("min_words", DEFAULT_MIN_WORDS))
        max_age = int(settings.get("max_age_days", DEFAULT_MAX_AGE_DAYS))
        sections: list[Section] = []
        specs: list[tuple[Artifact, dict]] = []
        self._production = {a.path: a.production for a in ctx.artifacts}
        for art in ctx.artifacts:
            if art.path.startswith(SKIP_DIRS) or any(f"/{d}" in f"/{art.path}" for d in SKIP_DIRS):
                continue
            with ctx.guard(art):
                text = ctx.read_text(art)
                if art.path.endswith((".md", ".markdown")):
                    sections += markdown_sections(art.path, text)
                elif art.path.endswith((".yaml", ".yml", ".json")):
                    spec = safe_load.load_json(text) if art.path.endswith(".json") else safe_load.load_yaml(text)
                    if isinstance(spec, dict) and ("openapi" in spec or "swagger" in spec):
                        specs.append((art, spec))
                else:
                    sections.append(Section(art.path, 1, posixpath.basename(art.path), text))
        for topic in TOPICS:
            yield from self._topic(ctx, topic, sections, min_words, max_age)
        yield self._changelog(ctx, sections)
        yield from self._architecture(ctx, sections, max_age)
        yield self._api_versioning(ctx, sections, specs, min_words)

    def _topic(
        self, ctx: ProbeContext, topic: Topic, sections: list[Section], min_words: int, max_age: int
    ) -> Iterator[Observation]:
        # the README of a production deployment's own folder (charts/app/README.md) documents how it runs
        shipped = {d.folder for d in ctx.deployments.production if d.folder} if ctx.deployments else set()
        candidates = [
            s
            for s in sections
            if (topic.names.search(s.heading) or topic.names.search(s.path))
            and (about_the_repository(s.path, topic.names) or _readme_of(s.path, shipped))
            and self._production.get(s.path, True)
        ]
        best: tuple[Status, str, Section] | None = None
        for s in candidates:
            problem = None
            if STUB.search(s.body) and s.words < 4 * min_words:
                problem = f"a stub ({STUB.search(s.body).group(0)})"
            elif s.words < min_words and not topic.short_ok:
                problem = f"a stub ({s.words} words; at least {min_words} wanted)"
            elif topic.demand:
                problem = topic.demand(s)
            if problem is None and topic.recent:
                problem = self._stale(ctx, s.path, max_age)
            where = f"{s.path}:{s.line} \u00ab{s.heading}\u00bb"
            if problem is None:
                verdict = (Status.PASS, f"{where}, {s.words} words", s)
            else:
                verdict = (Status.FAIL, f"{where}: {problem}", s)
            if best is None or (verdict[0] is Status.PASS and best[0] is not Status.PASS):
                best = verdict
        if best is None:
            looked = topic.names.pattern.replace("\\b", "")
            message = f"no document or section about it (looked for headings and file names matching {looked!r})"
            yield ctx.observe(topic.check.id, Status.FAIL, Subject(), message, production=True)
            return
        status, message, s = best
        facts = {"heading": s.heading, "words": s.words}
        yield ctx.observe(topic.check.id, status, s.subject, message, facts=facts, production=True)

    @staticmethod
    def _stale(ctx: ProbeContext, path: str, max_age: int) -> str | None:
        if ctx.git is None:
            return "not a git repository: when it was last reviewed cannot be told"
        when = last_commit(ctx.root, path)
        if when is None:
            return "not committed yet: when it was last reviewed cannot be told"
        age = (ctx.now - when).days
        return None if age <= max_age else f"last changed {age} days ago (more than {max_age})"

    @staticmethod
    def _changelog(ctx: ProbeContext, sections: list[Section]) -> Observation:
        logs = [s for s in sections if re.match(r"(CHANGELOG|HISTORY|RELEASES|NEWS)", posixpath.basename(s.path), re.I)]
        entry = re.compile(r"v?\d+\.\d+(?:\.\d+)?|\d{4}-\d{2}-\d{2}")
        # a release tag as the heading counts too: "stable-10008", "v12", "2024.1"
        tag = re.compile(r"\[?[\w.+-]*\d[\w.+-]*\]?(\s*[-\u2013(].*)?")
        versioned = [s for s in logs if entry.search(s.heading) or tag.fullmatch(s.heading.strip())]
        if versioned:
            first = versioned[0]
            message = f"{len(versioned)} versioned or dated entries, the first \u00ab{first.heading}\u00bb"
            return ctx.observe(CHANGELOG.id, Status.PASS, first.subject, message, production=True)
        if logs:
            message = "a changelog without versioned or dated entries"
            return ctx.observe(CHANGELOG.id, Status.FAIL, Subject(path=logs[0].path, line=1), message, production=True)
        return ctx.observe(
            CHANGELOG.id, Status.FAIL, Subject(), "no CHANGELOG, HISTORY or RELEASES file", production=True
        )

    def _architecture(self, ctx: ProbeContext, sections: list[Section], max_age: int) -> Iterator[Observation]:
        text = "\n".join(s.body for s in sections)
        files = [
            a.path for a in ctx.all_artifacts
            if DIAGRAMS.search(a.path) and DIAGRAM_NAMES.search(posixpath.basename(a.path))
            and not a.path.startswith(SKIP_DIRS)
        ]  # fmt: skip
        found: list[tuple[Subject, str]] = []
        for path in files:
            referenced = posixpath.basename(path) in text
            found.append(
                (Subject(path=path), f"diagram {path}" + ("" if referenced else " (not referenced from the docs)"))
            )
        for a in ctx.all_artifacts:  # draw.io sources saved as .xml, whatever their name
            readable = a.path.endswith(".xml") and a.path not in files and a.skipped is None
            if readable and ctx.files.head(a).lstrip().startswith(b"<mxfile"):
                found.append((Subject(path=a.path), f"draw.io diagram {a.path}"))
        for s in sections:
            kind = re.search(r"```\s*(mermaid|plantuml|structurizr)|@startuml|C4Context|C4Container", s.body)
            if kind and re.search(r"architect|overview|system|container|component", f"{s.heading} {s.path}", re.I):
                found.append((s.subject, f"{kind.group(0).strip('`').strip()} diagram under \u00ab{s.heading}\u00bb"))
        if not found:
            message = "no architecture diagram (image, draw.io, Mermaid or PlantUML) in the repository"
            yield ctx.observe(ARCHITECTURE.id, Status.FAIL, Subject(), message, production=True)
            return
        judged = [(subject, what, self._stale(ctx, subject.path, max_age)) for subject, what in found[:20]]
        fresh = [(subject, what) for subject, what, stale in judged if not stale]
        if fresh:
            yield ctx.observe(ARCHITECTURE.id, Status.PASS, fresh[0][0], fresh[0][1], production=True)
            return
        subject, what, stale = judged[0]
        yield ctx.observe(ARCHITECTURE.id, Status.FAIL, subject, f"{what}: {stale}", production=True)

    @staticmethod
    def _api_versioning(ctx: ProbeContext, sections: list[Section], specs: list, min_words: int) -> Observation:
        for art, spec in specs:
            version = (spec.get("info") or {}).get("version")
            paths = [p for p in (spec.get("paths") or {}) if re.match(r"^/v\d+/", str(p))]
            if version and paths:
                message = f"OpenAPI {version} with versioned paths ({paths[0]}, ...)"
                return ctx.observe(
                    API_VERSIONING.id, Status.PASS, Subject(path=art.path, line=1), message, production=True
                )
        for s in sections:
            if re.search(r"version", s.heading, re.I) and re.search(r"\bapi\b", f"{s.heading} {s.path}", re.I):
                if re.search(r"deprecat|sunset|/v\d|accept-version|header", s.body, re.I) and s.words >= min_words:
                    message = f"\u00ab{s.heading}\u00bb states the scheme and deprecation"
                    return ctx.observe(API_VERSIONING.id, Status.PASS, s.subject, message, production=True)
                message = f"\u00ab{s.heading}\u00bb names no scheme or deprecation policy"
                return ctx.observe(API_VERSIONING.id, Status.FAIL, s.subject, message, production=True)
        if specs:
            art, spec = specs[0]
            message = "an OpenAPI spec without info.version and versioned paths"
            return ctx.observe(API_VERSIONING.id, Status.FAIL, Subject(path=art.path, line=1), message, production=True)
        message = "no API versioning section and no OpenAPI spec (none needed if the service has no public API)"
        return ctx.observe(API_VERSIONING.id, Status.UNKNOWN, Subject(), message, production=True)
