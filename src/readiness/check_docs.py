"""One Markdown page per check (``docs/checks/<check-id>.md``), rendered from the check's own data.

The pages are generated (``scripts/gen_check_docs.py``) and a test keeps them equal to what this module renders,
so a check's wording lives in one place: its ``Check`` declaration. ``readiness explain`` names the page.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import PurePosixPath

from .model import Check
from .policy import Pack
from .probe import Probe

PAGES_DIR = PurePosixPath("docs/checks")

# Where to read further, by probe: public guidance the checks follow (titles and addresses only).
REFERENCES: dict[str, tuple[tuple[str, str], ...]] = {
    "dockerfile": (
        ("CIS Docker Benchmark", "https://www.cisecurity.org/benchmark/docker"),
        ("Dockerfile reference", "https://docs.docker.com/reference/dockerfile/"),
        (
            "OWASP Docker Security Cheat Sheet",
            "https://cheatsheetseries.owasp.org/cheatsheets/Docker_Security_Cheat_Sheet.html",
        ),
    ),
    "compose": (
        ("CIS Docker Benchmark", "https://www.cisecurity.org/benchmark/docker"),
        ("Compose file reference", "https://docs.docker.com/reference/compose-file/"),
        (
            "OWASP Docker Security Cheat Sheet",
            "https://cheatsheetseries.owasp.org/cheatsheets/Docker_Security_Cheat_Sheet.html",
        ),
    ),
    "docker_engine": (("CIS Docker Benchmark", "https://www.cisecurity.org/benchmark/docker"),),
    "kubernetes": (
        ("Kubernetes Pod Security Standards", "https://kubernetes.io/docs/concepts/security/pod-security-standards/"),
        ("CIS Kubernetes Benchmark", "https://www.cisecurity.org/benchmark/kubernetes"),
    ),
    "tls": (("Mozilla Server Side TLS", "https://wiki.mozilla.org/Security/Server_Side_TLS"),),
    "nginx": (
        ("Mozilla Server Side TLS", "https://wiki.mozilla.org/Security/Server_Side_TLS"),
        ("nginx documentation", "https://nginx.org/en/docs/"),
    ),
    "secrets": (
        (
            "OWASP Secrets Management Cheat Sheet",
            "https://cheatsheetseries.owasp.org/cheatsheets/Secrets_Management_Cheat_Sheet.html",
        ),
    ),
    "secret_files": (
        (
            "OWASP Secrets Management Cheat Sheet",
            "https://cheatsheetseries.owasp.org/cheatsheets/Secrets_Management_Cheat_Sheet.html",
        ),
    ),
    "terraform": (
        ("CIS Amazon Web Services Foundations Benchmark", "https://www.cisecurity.org/benchmark/amazon_web_services"),
        ("CIS Microsoft Azure Foundations Benchmark", "https://www.cisecurity.org/benchmark/azure"),
        (
            "CIS Google Cloud Platform Foundation Benchmark",
            "https://www.cisecurity.org/benchmark/google_cloud_computing_platform",
        ),
    ),
    "postgres": (
        ("PostgreSQL: the pg_hba.conf file", "https://www.postgresql.org/docs/current/auth-pg-hba-conf.html"),
    ),
    "redis": (("Redis security", "https://redis.io/docs/latest/operate/oss_and_stack/management/security/"),),
    "monitoring": (("Prometheus alerting overview", "https://prometheus.io/docs/alerting/latest/overview/"),),
    "monitoring_live": (("Prometheus HTTP API", "https://prometheus.io/docs/prometheus/latest/querying/api/"),),
}
# "AWS: do x. Azure: do y." -> one bullet per provider or kind.
_LABELLED = re.compile(r"(?:^|(?<=\. ))(AWS|Azure|GCP|Kubernetes|Compose|Docker|nginx|GitHub|GitLab): ")

ABSENT_MEANING = {
    "not_applicable": "not applicable: nothing of this kind exists, so nothing can be wrong",
    "fail": "fail: the thing this check looks for should exist and does not",
    "unknown": "unknown: absence here proves nothing either way",
    "pass": "pass",
    "manual": "manual: a person must attest it",
}


def page_path(check_id: str) -> PurePosixPath:
    """Where a check's page lives, relative to the repository root."""
    return PAGES_DIR / f"{check_id}.md"


def _fix_lines(remediation: str) -> list[str]:
    parts = _LABELLED.split(remediation)
    if len(parts) < 3:
        return [remediation]
    lines = [parts[0].strip()] if parts[0].strip() else []
    for label, text in zip(parts[1::2], parts[2::2], strict=True):
        lines.append(f"- **{label}**: {text.strip()}")
    return lines


def render(
    probe: type[Probe],
    check: Check,
    packs: Iterable[Pack],
    checkov: Mapping[str, tuple[str, ...]] | None = None,
) -> str:
    """The page of ``check``: what, why, how decided, how to fix, references, and the items it decides."""
    deciding = [
        (pack.name, item)
        for pack in packs
        for item in pack.items
        if item.evidence and check.id in item.evidence.checks()
    ]
    absent = check.when_absent.value
    out = [
        f"# `{check.id}`",
        "",
        f"{check.title}.",
        "",
        f"Probe `{probe.name}` v{probe.version} ({probe.kind}). Generated from the check's declaration by "
        "`scripts/gen_check_docs.py`; edit the probe, not this page.",
        "",
        "## Why it matters",
        "",
        check.rationale,
        "",
        "## How it is decided",
        "",
        f"The `{probe.name}` probe reports one observation per file, resource, service or endpoint it judges: "
        "`pass` when it saw the good state, `fail` with the reason when it saw the bad one, `unknown` when the "
        "input does not say (a value set only at deploy time, an unread module), `error` when it could not read "
        "its input (that fails the gate).",
        "When the probe finds nothing of its kind in the repository, the check is "
        f"{ABSENT_MEANING.get(absent, absent)}.",
        "",
        "## How to fix",
        "",
        *_fix_lines(check.remediation),
        "",
    ]
    refs = REFERENCES.get(probe.name, ())
    mapped = (checkov or {}).get(check.id, ())
    if refs or mapped:
        out += ["## References", ""]
        out += [f"- [{title}]({url})" for title, url in refs]
        if mapped:
            out.append("- Checkov checks that judge the same fact: " + ", ".join(f"`{c}`" for c in mapped))
        out.append("")
    out += ["## Checklist items it decides", ""]
    if deciding:
        out += [f"- `{item.id}` [{item.severity.value}] ({pack}): {item.title}" for pack, item in deciding]
    else:
        out.append("None of the built-in packs uses it yet.")
    out += ["", f"`readiness explain {check.id}` prints this check; `readiness list` lists every check.", ""]
    return "\n".join(out)
