"""GitLab Code Quality JSON: one issue per failing production observation, shown in merge requests.

GitLab needs a file path for every issue; a finding about a live endpoint or about the repository
as a whole is placed on the config file that names the target (or the repository's root).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from ..model import Severity, Status
from ..report import AuditReport, Gate
from .base import RenderOptions, Reporter
from .findings import check_severity, check_users, config_path, repo_path

SEVERITY = {Severity.CRITICAL: "critical", Severity.HIGH: "major", Severity.MEDIUM: "minor", Severity.LOW: "info"}


def build(report: AuditReport) -> list[dict[str, Any]]:
    users = check_users(report)
    fallback = config_path(report)
    issues, seen = [], {}
    for o in report.observations:
        if o.status is not Status.FAIL or not o.production or o.check not in users:
            continue
        s = o.subject
        key = "\0".join([o.check, s.path or "", s.endpoint or "", s.name or "", o.message])
        digest = hashlib.sha256(key.encode()).hexdigest()
        seen[digest] = seen.get(digest, 0) + 1
        where = repo_path(report, s.path) if s.path else fallback
        description = o.message if s.path else f"{s.describe()}: {o.message}"
        issues.append(
            {
                "type": "issue",
                "description": description,
                "check_name": o.check,
                "categories": ["Security"],
                "fingerprint": hashlib.sha256(f"{digest}:{seen[digest]}".encode()).hexdigest()[:32],
                "severity": SEVERITY[check_severity(users[o.check])],
                "location": {"path": where, "lines": {"begin": s.line or 1}},
            }
        )
    return issues


class CodeQualityReporter(Reporter):
    name = "codequality"
    extension = "json"
    description = "GitLab Code Quality JSON for merge-request widgets"

    def render(self, report: AuditReport, gate: Gate, options: RenderOptions) -> str:
        return json.dumps(build(report), indent=2) + "\n"
