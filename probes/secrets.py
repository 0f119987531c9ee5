"""Hardcoded credentials in files and git history; secret managers, rotation, logging and audit evidence.

Content scanning uses the rules of ``secret_rules`` behind an Aho-Corasick
keyword prefilter. No secret value is ever put in an observation: only the
rule, file, line, a sha256 fingerprint and a 4-character masked prefix.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from readiness import safe_load
from readiness.model import Artifact, Check, Severity, Status, Subject
from readiness.probe import Claim, CliOption, Probe, ProbeContext

from .secret_rules import Finding, scan_text
from .secrets_history import HISTORY_CLEAN, git_run, scan_history

TEXT_GLOBS = (
    "*.yml",
    "*.yaml",
    "*.json",
    "*.env",
    ".env",
    ".env.*",
    "*.ini",
    "*.cfg",
    "*.conf",
    "*.toml",
    "*.properties",
    "*.sh",
    "*.bash",
    "*.tf",
    "*.tfvars",
    "*.hcl",
    "Dockerfile",
    "Dockerfile.*",
    "*.dockerfile",
    "*.py",
    "*.js",
    "*.ts",
    "*.go",
    "*.rb",
    "*.java",
    "*.php",
    "*.xml",
    "*.txt",
    "*.md",
    "*.pem",
    "*.key",
    ".npmrc",
    ".pypirc",
    ".netrc",
    ".dockercfg",
    "*.tpl",
    ".sops.yaml",
    "*.cs",
    "*.kt",
    "*.rs",
    "*.jsx",
    "*.tsx",
    "*.mjs",
    "*.cjs",
    "*.scala",
    "*.swift",
    "*.groovy",
    "*.gradle",
    "*.ps1",
    "Makefile",
    "*.mk",
    "Jenkinsfile",
    "*.j2",
    "*.jinja",
    "*.erb",
    "*.tmpl",
    "*.ppk",
    ".terraformrc",
    "terraform.rc",
    ".sentryclirc",
    ".git-credentials",
    "credentials",
    "kubeconfig",
    "*.kubeconfig",
)
# Every other file is scanned too when its first bytes look like text (no NUL) or carry a UTF-16/32 byte-order
# mark: keys sit in `deploy_key`, AWS keys in a file named `env`, tokens in .csv and .ipynb. The globs above
# stay so that a known text file that cannot be read is an error, not a silent skip.
TEXT_SNIFF = re.compile(rb"\A(?:\xff\xfe|\xfe\xff|\x00\x00\xfe\xff|[^\x00]*\Z)")
BOMS = (
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\xfe\xff", "utf-16-be"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xef\xbb\xbf", "utf-8"),
)


def decode_text(data: bytes) -> str | None:
    """The text of a file, decoded by its byte-order mark if it has one; None for binary content."""
    for bom, encoding in BOMS:
        if data.startswith(bom):
            return data[len(bom) :].decode(encoding, errors="replace")
    if b"\0" in data[:8192]:
        return None
    return data.decode("utf-8", errors="replace")


PIPELINE_FILES = re.compile(r"^\.github/workflows/|^\.gitlab-ci\.ya?ml$|^\.circleci/|(^|/)bitbucket-pipelines\.yml$")
NO_HARDCODED = Check(
    id="secrets.no_hardcoded",
    title="No hardcoded credentials in the repository's files",
    rationale="A literal credential in a file is exposed to everyone who can read the repository, "
    "its clones, CI logs and images built from it.",
    remediation="Move the value to a secret manager or an untracked 0600 file, reference it "
    "(${VAR}, *_FILE, secretKeyRef), and rotate the leaked credential.",
)
MANAGER = Check(
    id="secrets.manager_configured",
    title="An external secret manager is configured",
    rationale="Secrets kept in a manager are access-controlled, audited and rotatable.",
    remediation="Use Vault, AWS Secrets Manager / SSM SecureString, Azure Key Vault, GCP Secret "
    "Manager, External Secrets Operator, Sealed Secrets or SOPS.",
    when_absent=Status.FAIL,
)
ROTATION = Check(
    id="secrets.rotation_configured",
    title="Secret rotation is configured or documented",
    rationale="A credential that never rotates stays valid for whoever leaked it.",
    remediation="Add aws_secretsmanager_secret_rotation, Vault lease TTLs, or a documented rotation policy.",
    when_absent=Status.FAIL,
)
NOT_LOGGED = Check(
    id="secrets.not_logged",
    title="Sensitive data is not logged",
    rationale="Logged headers, bodies or credentials end up in log stores with wide access.",
    remediation="Add redaction filters; do not log request bodies or Authorization headers.",
    when_absent=Status.UNKNOWN,
)
ACCESS_AUDITED = Check(
    id="secrets.access_audited",
    title="Access to secrets is audited",
    rationale="Without an audit trail a leaked or misused secret cannot be traced.",
    remediation="Enable CloudTrail, a Vault audit device, or Key Vault diagnostic settings.",
    when_absent=Status.UNKNOWN,
)

# Evidence patterns: (check, label, regex over file text, path glob filter or None).
MANAGER_EVIDENCE = (
    ("terraform aws_secretsmanager_secret", re.compile(r'resource\s+"aws_secretsmanager_secret"')),
    ("terraform aws_ssm_parameter SecureString", re.compile(r"SecureString")),
    ("terraform azurerm_key_vault", re.compile(r'resource\s+"azurerm_key_vault(?:_secret)?"')),
    ("terraform google_secret_manager_secret", re.compile(r'resource\s+"google_secret_manager_secret"')),
    ("Vault config or usage", re.compile(r'(?m)^\s*(?:storage|listener|seal)\s+"\w+"|\bimport hvac\b|hvac\.Client')),
    ("External Secrets Operator", re.compile(r"kind:\s*(?:ExternalSecret|SecretStore|ClusterSecretStore)\b")),
    ("Sealed Secrets", re.compile(r"kind:\s*SealedSecret\b")),
    ("SOPS", re.compile(r"(?m)^\s*sops:\s*$|creation_rules:")),
)
ROTATION_EVIDENCE = (
    ("terraform aws_secretsmanager_secret_rotation", re.compile(r'resource\s+"aws_secretsmanager_secret_rotation"')),
    ("Vault lease TTLs", re.compile(r"(?m)^\s*(?:default_lease_ttl|max_lease_ttl)\s*=")),
    ("Azure Key Vault rotation policy", re.compile(r"rotation_policy\s*\{")),
    ("GCP secret rotation", re.compile(r"rotation\s*\{\s*\n?\s*(?:next_rotation_time|rotation_period)")),
)
ROTATION_DOC = re.compile(
    r"(?i)\b(?:secret|credential|key)s?\b.{0,80}\brotat(?:e|ed|ion)\b.{0,80}\b(?:days?|weeks?|months?|"
    r"quarterly|monthly|annually|every)\b"
)
AUDIT_EVIDENCE = (
    ("terraform aws_cloudtrail", re.compile(r'resource\s+"aws_cloudtrail"')),
    ("Vault audit device", re.compile(r'(?m)^\s*audit\s+"\w+"|vault audit enable|resource\s+"vault_audit"')),
    (
        "Key Vault diagnostic settings",
        re.compile(r'resource\s+"azurerm_monitor_diagnostic_setting"[\s\S]{0,400}key_vault'),
    ),
    ("GCP data-access audit config", re.compile(r'resource\s+"google_project_iam_audit_config"')),
)
LOG_REDACT = re.compile(
    r"(?i)redact|mask(?:ing)?_?(?:filter|fields)|sanitiz|scrub|filter_parameters|"
    r"SensitiveDataFilter|obfuscat"
)
LOG_LEAK = re.compile(
    r"(?i)log[_\-]?(?:request|response)[_\-]?bod(?:y|ies)\s*[:=]\s*[\"']?true|"
    r"log[_\-]?headers\s*[:=]\s*[\"']?true|logLevel\s*[:=]\s*[\"']?(?:trace|debug)[\"']?\s*$"
)
LOG_FILE = re.compile(
    r"(?i)(?:^|/)(?:logging|log4j2?|logback|loguru|.*log.*)\.(?:ya?ml|json|ini|conf|xml|properties|py)$"
)
EXAMPLE_PATH = re.compile(
    r"(?i)(?:^|/)(?:examples?|samples?|tests?|testdata|fixtures|docs?)/|\.(?:example|sample|test)\b"
)
# `readiness:ignore=<check>` is the general inline waiver (readiness.waivers), not this one.
INLINE_IGNORE = re.compile(r"readiness:ignore(?!=)(?:\s+(?P<reason>[^\n#]*\S))?")

SETTINGS = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "history": {"type": "boolean"},
        "history_max_commits": {"type": "integer", "minimum": 1},
        "ignore_file": {"type": "string"},
        "severity": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                k: {"enum": [s.value for s in Severity]} for k in ("production", "non_production", "example")
            },
        },
    },
}


def _severity(settings: dict, art_production: bool, path: str) -> str:
    conf = settings.get("severity", {})
    if EXAMPLE_PATH.search(path):
        return conf.get("example", "low")
    if not art_production:
        return conf.get("non_production", "medium")
    return conf.get("production", "critical")


def _load_ignores(ctx: ProbeContext) -> dict[str, str]:
    """fingerprint -> reason from the ignore file (YAML list of {fingerprint, reason})."""
    rel = ctx.settings.get("ignore_file", ".readiness/secrets-ignore.yaml")
    path = ctx.root / rel
    if not path.is_file():
        return {}
    try:
        if not path.resolve().is_relative_to(ctx.root.resolve()):
            raise OSError("outside the audited repository")
        data = safe_load.load_yaml(safe_load.read_bounded(path, safe_load.CONFIG_MAX_BYTES).decode("utf-8-sig")) or []
        return {str(e["fingerprint"]): str(e["reason"]) for e in data}
    except (OSError, ValueError, yaml.YAMLError, KeyError, TypeError) as exc:
        ctx.gap(Subject(path=rel), f"secrets ignore file unusable: {type(exc).__name__}; no waivers applied")
        return {}


KEY_FILE = ".readiness/fingerprint.key"
KEY_CONSTANT = b"readiness secret fingerprint v1"


def fingerprint_key(root: Path) -> tuple[bytes, str]:
    """The key of this repository's secret fingerprints, and where it came from.

    A key file (``.readiness/fingerprint.key``) wins; else the repository's first commit, which every clone
    shares, so fingerprints (and the waivers that name them) are stable across clones and CI runs while a
    report alone does not let anyone test guesses of a value. Without either, a constant: said in a gap.
    """
    path = root / KEY_FILE
    if path.is_file() and path.resolve().is_relative_to(root.resolve()):
        with contextlib.suppress(OSError):
            return hashlib.sha256(KEY_CONSTANT + safe_load.read_bounded(path, 4096).strip()).digest(), KEY_FILE
    roots = git_run(root, "rev-list", "--max-parents=0", "HEAD")
    if roots.returncode == 0 and roots.stdout.split():
        first = sorted(roots.stdout.split())[0]
        return hashlib.sha256(KEY_CONSTANT + first.encode()).digest(), "first commit"
    return hashlib.sha256(KEY_CONSTANT).digest(), "constant"


def _k8s_secret_findings(text: str, key: bytes = b"") -> Iterator[Finding]:
    """Decoded ``data:`` values of Kubernetes Secret objects, scanned as a generic credential."""
    from .secret_rules import fingerprint, is_placeholder, mask

    if not re.search(r"(?m)^kind:\s*Secret\s*$", text):
        return
    in_data = False
    for no, line in enumerate(text.splitlines(), 1):
        if re.match(r"^(?:data|stringData):\s*$", line):
            in_data = True
            continue
        if in_data and line and not line.startswith((" ", "\t")):
            in_data = False
        m = re.match(r"^\s+[\w.\-]+:\s*[\"']?([A-Za-z0-9+/=]{8,})[\"']?\s*$", line) if in_data else None
        if m and not is_placeholder(m.group(1), line):
            yield Finding("k8s-secret-data", no, fingerprint(m.group(1), key), mask(m.group(1)))


def _line(text: str, m: re.Match[str]) -> int:
    return text[: m.start()].count("\n") + 1


@dataclass
class _Found:
    """Evidence for the tree-wide checks, file by file, in the order files were read."""

    manager: list[tuple[str, str, int]] = field(default_factory=list)
    rotation: list[tuple[str, str, int]] = field(default_factory=list)
    rotation_docs: list[tuple[str, str, int]] = field(default_factory=list)
    audit: list[tuple[str, str, int]] = field(default_factory=list)
    logging: list[tuple[str, int, bool]] = field(default_factory=list)  # path, line, whether it redacts

    def add(self, path: str, text: str) -> None:
        for hits, patterns in (
            (self.manager, MANAGER_EVIDENCE),
            (self.rotation, ROTATION_EVIDENCE),
            (self.audit, AUDIT_EVIDENCE),
        ):
            hits += [(path, label, _line(text, m)) for label, rx in patterns if (m := rx.search(text))]
        if path.endswith((".md", ".txt")) and (m := ROTATION_DOC.search(text)):
            self.rotation_docs.append((path, "documented rotation policy", _line(text, m)))
        self.logging += [(path, _line(text, m), False) for m in LOG_LEAK.finditer(text)]
        if LOG_FILE.search(path) and (m := LOG_REDACT.search(text)):
            self.logging.append((path, _line(text, m), True))


class SecretsProbe(Probe):
    name = "secrets"
    version = "1.0"
    kind = "static"
    description = "Hardcoded credentials (files and history), secret managers, rotation, logging, access audit."
    claims = (Claim(TEXT_GLOBS, include_ignored=False), Claim(("*",), sniff=TEXT_SNIFF, include_ignored=False))
    checks = (NO_HARDCODED, HISTORY_CLEAN, MANAGER, ROTATION, NOT_LOGGED, ACCESS_AUDITED)
    existential_checks = frozenset(
        {"secrets.manager_configured", "secrets.rotation_configured", "secrets.access_audited"}
    )
    settings_schema = SETTINGS
    cli_options = (
        CliOption(
            "--history",
            "Also scan git history (added lines of every commit, all refs) for secrets committed and removed",
            ("probes", "secrets", "history"),
            is_flag=True,
        ),
    )
    runs_without_targets = True
    key: bytes = b""  # of this run's fingerprints: see fingerprint_key

    def run(self, ctx: ProbeContext):
        self.key, source = fingerprint_key(Path(ctx.root))
        if source == "constant":
            ctx.gap(Subject(), f"secret fingerprints keyed by a constant: no git history and no {KEY_FILE}")
        ignores = _load_ignores(ctx)
        # What the whole-tree checks need of each file, found while it is in hand: holding every text until
        # the end cost memory in proportion to the tree.
        found = _Found()
        for art in ctx.artifacts:
            with ctx.guard(art):
                text = self._text(ctx, art)
                if text is None:
                    continue
                yield from self._scan_file(ctx, art, text, ignores)
                found.add(art.path, text)
        yield from self._evidence(ctx, found)
        yield from self._history(ctx, ignores)

    def _text(self, ctx: ProbeContext, art: Artifact) -> str | None:
        text = decode_text(ctx.read_bytes(art))
        if text is None:
            ctx.gap(Subject(path=art.path), "binary file, not scanned for secrets")
        return text

    def _scan_file(self, ctx: ProbeContext, art: Artifact, text: str, ignores: dict[str, str]):
        lines = text.splitlines()
        # Documents show examples, and pipelines wire throwaway test services (a database URL on localhost):
        # there a guessable value is not a secret; a real-looking one still is.
        documentation = art.path.lower().endswith((".md", ".markdown", ".rst", ".adoc", ".txt")) or bool(
            PIPELINE_FILES.search(art.path)
        )
        findings = list(scan_text(text, key=self.key, documentation=documentation, path=art.path))
        findings += list(_k8s_secret_findings(text, self.key))
        severity = _severity(ctx.settings, art.production, art.path)
        if not findings:
            yield ctx.observe(NO_HARDCODED.id, Status.PASS, Subject(path=art.path), "no credential found")
            return
        for f in sorted(findings, key=lambda f: (f.line, f.rule)):
            facts = {"rule": f.rule, "fingerprint": f.fingerprint, "masked": f.masked, "severity": severity}
            line = lines[f.line - 1] if f.line <= len(lines) else ""
            inline = INLINE_IGNORE.search(line)
            reason = ignores.get(f.fingerprint) or (
                inline.group("reason") if inline and inline.group("reason") else None
            )
            subject = Subject(path=art.path, line=f.line)
            if reason:
                yield ctx.observe(
                    NO_HARDCODED.id,
                    Status.NOT_APPLICABLE,
                    subject,
                    f"{f.rule} waived: {reason}",
                    facts={**facts, "waived": True, "reason": reason},
                )
            elif inline:
                yield ctx.observe(
                    NO_HARDCODED.id,
                    Status.FAIL,
                    subject,
                    f"{f.rule} ({f.masked}); readiness:ignore without a reason does not waive",
                    facts=facts,
                )
            else:
                yield ctx.observe(
                    NO_HARDCODED.id, Status.FAIL, subject, f"{f.rule} ({f.masked}) severity {severity}", facts=facts
                )

    def _evidence(self, ctx: ProbeContext, found: _Found):
        for check, hits, looked in (
            (
                MANAGER,
                found.manager,
                "Vault/hvac, aws_secretsmanager_secret, SSM SecureString, azurerm_key_vault, "
                "google_secret_manager_secret, ExternalSecret, SealedSecret, SOPS",
            ),
            (
                ROTATION,
                found.rotation + found.rotation_docs,
                "aws_secretsmanager_secret_rotation, Vault lease TTLs, Key Vault/GCP "
                "rotation, a documented rotation policy in docs",
            ),
            (
                ACCESS_AUDITED,
                found.audit,
                "aws_cloudtrail, Vault audit device, Key Vault diagnostic settings",
            ),
        ):
            for path, label, line in hits:
                yield ctx.observe(
                    check.id, Status.PASS, Subject(path=path, line=line), f"found {label}", facts={"evidence": label}
                )
            if not hits:
                # Access audit is often configured outside the repo (org CloudTrail), so absence is unknown, not fail.
                status = Status.UNKNOWN if check is ACCESS_AUDITED else Status.FAIL
                yield ctx.observe(
                    check.id,
                    status,
                    Subject(),
                    f"no evidence found; looked for {looked}",
                    facts={"looked_for": looked},
                    production=True,
                )
        yield from self._logging(ctx, found.logging)

    def _logging(self, ctx: ProbeContext, logging: list[tuple[str, int, bool]]):
        for path, line, redacts in logging:
            if redacts:
                yield ctx.observe(
                    NOT_LOGGED.id, Status.PASS, Subject(path=path, line=line), "logging config redacts sensitive fields"
                )
            else:
                yield ctx.observe(
                    NOT_LOGGED.id,
                    Status.FAIL,
                    Subject(path=path, line=line),
                    "config logs request/response bodies, headers or at debug/trace level",
                )
        if not logging:
            yield ctx.observe(
                NOT_LOGGED.id,
                Status.UNKNOWN,
                Subject(),
                "no logging config with redaction or body/header logging found; cannot decide",
                production=True,
            )

    def _history(self, ctx: ProbeContext, ignores: dict[str, str]):
        if not ctx.settings.get("history"):
            yield ctx.observe(
                HISTORY_CLEAN.id,
                Status.UNKNOWN,
                Subject(),
                "history not scanned; enable probes.secrets.history",
                production=True,
            )
            return
        if ctx.git is None:
            yield ctx.observe(HISTORY_CLEAN.id, Status.UNKNOWN, Subject(), "not a git repository", production=True)
            return
        yield from scan_history(ctx, Path(ctx.root), ignores, self.key)
