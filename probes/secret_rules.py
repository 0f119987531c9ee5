"""Credential rules of the secrets probe, and the line scanner that applies them.

Each rule has keywords; a line reaches a rule's regex only when an Aho-Corasick
automaton found one of its keywords in it (gitleaks' prefilter), so most lines
never meet a regex. The secret itself is group ``secret`` of each regex; it is
hashed and masked here and never leaves this module in clear.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import ahocorasick


@dataclass(frozen=True)
class Rule:
    """One credential format: keywords for the prefilter, a regex with group ``secret``."""

    id: str
    description: str
    keywords: tuple[str, ...]
    regex: re.Pattern[str]
    min_entropy: float = 0.0
    generic: bool = False  # generic assignments: placeholders and entropy matter most


@dataclass(frozen=True)
class Finding:
    """A secret found on one line. Carries no secret value, only its fingerprint and a masked prefix."""

    rule: str
    line: int
    fingerprint: str
    masked: str


def _r(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


_ASSIGN = r"""(?:\s*[:=]\s*|\s*=>\s*|"\s*:\s*)["']?"""
RULES: tuple[Rule, ...] = (
    Rule(
        "aws-access-key-id",
        "AWS access key id",
        ("akia", "asia", "abia", "acca"),
        _r(r"\b(?P<secret>(?:AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16})\b"),
    ),
    Rule(
        "aws-secret-access-key",
        "AWS secret access key",
        ("aws_secret", "secret_access_key", "secretaccesskey"),
        _r(r"(?i)(?:aws_?secret_?access_?key|secretaccesskey)" + _ASSIGN + r"(?P<secret>[A-Za-z0-9/+=]{40})\b"),
        min_entropy=3.5,
    ),
    Rule(
        "gcp-service-account",
        "GCP service-account private key",
        ("private_key_id",),
        _r(r'"private_key_id"\s*:\s*"(?P<secret>[a-f0-9]{40})"'),
    ),
    Rule(
        "azure-storage-key",
        "Azure storage account key / connection string",
        ("accountkey",),
        _r(r"(?i)AccountKey=(?P<secret>[A-Za-z0-9+/]{86}==)"),
    ),
    Rule(
        "private-key",
        "PEM / OpenSSH / PGP private key block",
        ("private key-----",),
        _r(r"-----BEGIN (?P<secret>(?:RSA |EC |DSA |OPENSSH |ENCRYPTED |PGP )?PRIVATE KEY(?: BLOCK)?)-----"),
    ),
    Rule(
        "github-token",
        "GitHub token",
        ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
        _r(r"\b(?P<secret>(?:gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{82}))\b"),
    ),
    Rule("gitlab-token", "GitLab personal access token", ("glpat-",), _r(r"\b(?P<secret>glpat-[A-Za-z0-9_\-]{20})\b")),
    Rule(
        "slack-token",
        "Slack token",
        ("xoxb-", "xoxp-", "xoxa-", "xoxr-", "xoxs-"),
        _r(r"\b(?P<secret>xox[bpars]-[0-9]{10,13}-[0-9]{10,13}(?:-[A-Za-z0-9]{24,34})?)"),
    ),
    Rule(
        "slack-webhook",
        "Slack incoming webhook",
        ("hooks.slack.com",),
        _r(r"(?P<secret>https://hooks\.slack\.com/services/T[A-Z0-9]{8,10}/B[A-Z0-9]{8,10}/[A-Za-z0-9]{24})"),
    ),
    Rule(
        "stripe-key",
        "Stripe secret / restricted key",
        ("sk_live_", "rk_live_", "sk_test_", "rk_test_"),
        _r(r"\b(?P<secret>[sr]k_(?:live|test)_[A-Za-z0-9]{24,99})\b"),
    ),
    Rule("twilio-key", "Twilio API key", ("sk",), _r(r"\b(?P<secret>SK[0-9a-f]{32})\b")),
    Rule(
        "sendgrid-key", "SendGrid API key", ("sg.",), _r(r"\b(?P<secret>SG\.[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43})\b")
    ),
    Rule("npm-token", "npm access token", ("npm_",), _r(r"\b(?P<secret>npm_[A-Za-z0-9]{36})\b")),
    Rule("pypi-token", "PyPI upload token", ("pypi-ag",), _r(r"\b(?P<secret>pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_\-]{50,})")),
    Rule(
        "dockerhub-token",
        "Docker Hub personal access token",
        ("dckr_pat_",),
        _r(r"\b(?P<secret>dckr_pat_[A-Za-z0-9_\-]{27})\b"),
    ),
    Rule(
        "jwt",
        "JSON Web Token",
        ("eyj",),
        _r(r"\b(?P<secret>eyJ[A-Za-z0-9_\-]{10,}\.eyJ[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{10,})"),
    ),
    Rule(
        "database-url-password",
        "URL with an inline password",
        ("://",),
        _r(
            r"\b(?:postgres(?:ql)?|mysql|mariadb|mongodb(?:\+srv)?|redis|rediss|amqps?|mssql)://"
            r"[^:@/\s]+:(?P<secret>[^@/\s'\"]{3,})@"
        ),
        generic=True,
    ),
    Rule(
        "k8s-secret-data", "base64 value in a Kubernetes Secret", ("kind: secret",), _r(r"^$")
    ),  # decided by the probe, which knows the document; kept here for the rule list
    Rule(
        "generic-assignment",
        "credential-named assignment with a high-entropy value",
        ("password", "passwd", "secret", "api_key", "apikey", "api-key", "token", "credential", "private_key"),
        _r(
            r"(?i)\b[\w.\-]*(?:password|passwd|secret|api[_\-]?key|token|credential|private[_\-]?key)[\w.\-]*"
            + r"""["']?\s*(?::|=|:=|=>)\s*["']?(?P<secret>[^\s"',;#]{8,})"""
        ),
        min_entropy=3.0,
        generic=True,
    ),
)
RULES_BY_ID = {r.id: r for r in RULES}

# Values that are placeholders, references or documented examples, not secrets.
_PLACEHOLDER = re.compile(
    r"(?i)(changeme|change_me|change-me|example|sample|placeholder|dummy|fake|your[_\-]|<[^>]*>|\$\{|\$\(|"
    r"\{\{|%\(|xxx|\*\*\*|redacted|todo|insert|replace|none|null|true|false|secretkeyref|valuefrom|"
    r"^\$[A-Z_]|^env\(|^vault:|^arn:aws:(secretsmanager|ssm)|^ref\+|^sm://|^projects/.*/secrets/|"
    r"keyvault|^/run/secrets/|^/var/run/secrets/|^file:|^\./|^\.\./|^/)"
)
# Lists, mappings and lower-case identifiers name a secret (compose `secrets: [db_password]`), they are not one.
_REFERENCE = re.compile(r"^[\[{]|^[a-z]+(?:[_.\-][a-z]+)*$")
_FILE_KEY = re.compile(r"(?i)[\w.\-]*_FILE\b|_PATH\b|_REF\b|_NAME\b|_ID\b\s*[:=]")


def entropy(value: str) -> float:
    """Shannon entropy in bits per character."""
    if not value:
        return 0.0
    counts = Counter(value)
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in counts.values())


def fingerprint(secret: str) -> str:
    """A stable, non-reversible name of a secret: the first 16 hex digits of its sha256."""
    return hashlib.sha256(secret.encode()).hexdigest()[:16]


def mask(secret: str) -> str:
    """At most 4 characters of the secret, then an ellipsis."""
    return secret[:4] + "…" if len(secret) > 8 else "…"


def is_placeholder(value: str, line: str) -> bool:
    """Placeholders, templated values and references to secret stores or files are not secrets."""
    return bool(_PLACEHOLDER.search(value)) or "AKIAIOSFODNN7EXAMPLE" in value


def _build_automaton() -> ahocorasick.Automaton:
    automaton = ahocorasick.Automaton()
    by_kw: dict[str, set[str]] = {}
    for rule in RULES:
        for kw in rule.keywords:
            by_kw.setdefault(kw.lower(), set()).add(rule.id)
    for kw, ids in by_kw.items():
        automaton.add_word(kw, frozenset(ids))
    automaton.make_automaton()
    return automaton


_AUTOMATON = _build_automaton()


def candidate_rules(line_lower: str) -> set[str]:
    """Rule ids whose keywords occur in the (lower-cased) line."""
    found: set[str] = set()
    for _end, ids in _AUTOMATON.iter(line_lower):
        found |= ids
    return found


def scan_line(line: str, lineno: int) -> Iterator[Finding]:
    """Findings on one line; placeholders, look-alikes and low-entropy generic values are dropped."""
    ids = candidate_rules(line.lower())
    if not ids:
        return
    seen: set[str] = set()
    for rule in RULES:
        if rule.id not in ids or rule.id == "k8s-secret-data":
            continue
        for m in rule.regex.finditer(line):
            secret = m.group("secret")
            if secret in seen:
                continue
            if rule.id == "generic-assignment" and _FILE_KEY.search(line[: m.start("secret")]):
                continue
            if (rule.generic or rule.min_entropy) and is_placeholder(secret, line):
                continue
            if "EXAMPLE" in secret:
                continue
            if rule.id == "generic-assignment" and _REFERENCE.match(secret):
                continue
            if rule.min_entropy and entropy(secret) < rule.min_entropy:
                continue
            seen.add(secret)
            yield Finding(rule.id, lineno, fingerprint(secret), mask(secret))


def _key_body(lines: list[str], start: int) -> str:
    """The base64 body of the private-key block whose BEGIN line is ``lines[start]``, whitespace removed.

    Every key of a type shares its BEGIN line; the body is what tells two keys apart. Header fields of
    encrypted PEM (``Proc-Type: ...``) are left out; a block cut off before its END line yields what is there.
    """
    body = []
    for line in lines[start + 1 : start + 1 + MAX_KEY_LINES]:
        if "-----END" in line:
            break
        if ":" not in line:
            body.append("".join(line.split()))
    return "".join(body)


MAX_KEY_LINES = 400  # a 16384-bit RSA key in PEM is under 200 lines


def scan_text(text: str, first_line: int = 1) -> Iterator[Finding]:
    """Findings in a text, line by line; specific rules win over the generic one on the same line."""
    lines = text.splitlines()
    for offset, line in enumerate(lines):
        findings = list(scan_line(line, first_line + offset))
        specific = {f.fingerprint for f in findings if f.rule != "generic-assignment"}
        for f in findings:
            if f.rule == "generic-assignment" and specific:
                continue
            if f.rule == "private-key" and (body := _key_body(lines, offset)):
                f = Finding(f.rule, f.line, fingerprint(body), mask(body))
            yield f
