"""SARIF 2.1.0 for GitHub code scanning (and any SARIF viewer).

One rule per installed check the selected packs name, weighted by the most severe item it decides; one
result per failing production observation, at its file and line, or at a logical location for
live subjects (an endpoint, a container) and for findings about the repository as a whole.
Probe errors are tool execution notifications, not results.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from .. import baseline
from ..model import Observation, Severity, Status
from ..report import AuditReport, Gate
from .base import RenderOptions, Reporter
from .findings import (
    catalogue,
    check_severity,
    check_users,
    how_decided,
    item_waivers,
    repo_path,
    unused_waivers,
    waiver_problems,
)

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
# GitHub reads `security-severity` (0.0-10.0) to rank alerts: over 9 critical, 7-8.9 high, 4-6.9 medium.
SECURITY_SEVERITY = {Severity.CRITICAL: "9.5", Severity.HIGH: "8.0", Severity.MEDIUM: "5.5", Severity.LOW: "3.0"}
LEVEL = {Severity.CRITICAL: "error", Severity.HIGH: "error", Severity.MEDIUM: "warning", Severity.LOW: "note"}
FINGERPRINT = "readinessFinding/v1"


def _ts(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _rule_name(check_id: str) -> str:
    return "".join(part.capitalize() for part in check_id.replace(".", "_").split("_") if part)


def _rules(report: AuditReport) -> list[dict[str, Any]]:
    cat, users = catalogue(), check_users(report)
    rules = []
    for cid in sorted(users):
        info = cat.get(cid)
        if info is None:
            continue  # a planned check: no probe, so never a result
        severity = check_severity(users[cid])
        title, rationale, remediation = info.title, info.rationale, info.remediation
        items = [report.item(v.item_id) for v in users[cid]]
        item_md = "\n".join(f"- `{item.id}` ({pack.name}, {item.severity}): {item.title}" for pack, item in items)
        rules.append(
            {
                "id": cid,
                "name": _rule_name(cid),
                "shortDescription": {"text": title},
                "fullDescription": {"text": rationale or title},
                "help": {
                    "text": f"{rationale}\n\nFix: {remediation}\n\nDecides: {', '.join(i.id for _, i in items)}",
                    "markdown": f"{rationale}\n\n**Fix:** {remediation}\n\n**Checklist items it decides:**\n{item_md}\n"
                    f"\nExplain: `readiness explain {cid}`",
                },
                "defaultConfiguration": {"level": LEVEL[severity]},
                "properties": {
                    "tags": ["readiness", info.probe, "production-readiness"],
                    "security-severity": SECURITY_SEVERITY[severity],
                    "precision": "high",
                    "problem.severity": {"error": "error", "warning": "warning", "note": "recommendation"}[
                        LEVEL[severity]
                    ],
                },
            }
        )
    return rules


def _location(report: AuditReport, o: Observation) -> dict[str, Any]:
    s = o.subject
    if s.path:
        physical: dict[str, Any] = {"artifactLocation": {"uri": repo_path(report, s.path), "uriBaseId": "%SRCROOT%"}}
        if s.line:
            physical["region"] = {"startLine": s.line, **({"endLine": s.end_line} if s.end_line else {})}
        loc: dict[str, Any] = {"physicalLocation": physical}
        if s.name:
            loc["logicalLocations"] = [{"name": s.name, "kind": "resource"}]
        return loc
    if s.endpoint:
        name = f"{s.endpoint} [{s.name}]" if s.name else s.endpoint
        return {"logicalLocations": [{"name": name, "fullyQualifiedName": name, "kind": "resource"}]}
    if s.name:
        return {"logicalLocations": [{"name": s.name, "kind": "resource"}]}
    return {"logicalLocations": [{"name": "(repository)", "kind": "module"}]}


def _suppression(report: AuditReport, waiver: dict[str, Any]) -> dict[str, Any]:
    """A waiver as SARIF says it: written beside the finding (inSource) or in the waiver file (external)."""
    path, _, line = waiver["where"].rpartition(":")
    path, line = (path, line) if line.isdigit() else (waiver["where"], "")
    physical: dict[str, Any] = {"artifactLocation": {"uri": repo_path(report, path), "uriBaseId": "%SRCROOT%"}}
    if line.isdigit():
        physical["region"] = {"startLine": int(line)}
    return {
        "kind": "inSource" if waiver["source"] == "inline" else "external",
        "status": "accepted",
        "justification": waiver["reason"],
        "location": {"physicalLocation": physical},
        "properties": {k: waiver[k] for k in ("approver", "expires", "where") if k in waiver},
    }


def _results(report: AuditReport, rule_index: dict[str, int]) -> list[dict[str, Any]]:
    # Lines are left out of the fingerprints so that an edit above a finding does not make it a new
    # alert; repeats of the same finding are told apart by their order (readiness.baseline).
    users = check_users(report)
    prints = {f.index: f.fingerprint for f in baseline.findings(report)}
    states = report.baseline.states() if report.baseline else {}
    by_item = item_waivers(report)
    results = []
    for n, o in enumerate(report.observations):
        if o.status not in (Status.FAIL, Status.WAIVED) or not o.production or o.check not in rule_index:
            continue
        severity = check_severity(users[o.check])
        items = [v.item_id for v in users[o.check]]
        result: dict[str, Any] = {
            "ruleId": o.check,
            "ruleIndex": rule_index[o.check],
            "level": LEVEL[severity],
            "kind": "fail",
            "message": {"text": f"{o.message} ({o.subject.describe()})"},
            "locations": [_location(report, o)],
            "partialFingerprints": {FINGERPRINT: prints[n]},
            "properties": {"items": items, "probe": o.probe, "strength": o.strength.value},
        }
        waiver = o.waiver or by_item.get(n)
        if waiver:
            result["suppressions"] = [_suppression(report, waiver)]
        if n in states:
            result["baselineState"] = states[n]
        results.append(result)
    return results


def _notifications(report: AuditReport) -> list[dict[str, Any]]:
    out = []
    for level, lines in (("error", waiver_problems(report)), ("warning", unused_waivers(report))):
        for line in lines:
            out.append({"level": level, "message": {"text": f"waiver: {line}"}, "descriptor": {"id": "waivers"}})
    for o in report.observations:
        if o.status is Status.ERROR and o.production:
            out.append(
                {
                    "level": "error",
                    "message": {"text": f"{o.check}: {o.subject.describe()}: {o.message}"},
                    "descriptor": {"id": o.check},
                }
            )
    return out


def build(report: AuditReport, gate: Gate, options: RenderOptions) -> dict[str, Any]:
    rules = _rules(report)
    rule_index = {r["id"]: i for i, r in enumerate(rules)}
    root = report.discovery.git.toplevel if report.discovery.git else str(report.discovery.root)
    packs = "+".join(p.name for p in report.packs)
    exit_code = options.exit_code(gate)
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "readiness",
                "version": report.tool_version,
                "semanticVersion": report.tool_version,
                "rules": rules,
            }
        },
        "automationDetails": {"id": f"readiness/{packs}/{_ts(report.started)}"},
        "originalUriBaseIds": {"%SRCROOT%": {"uri": Path(root).resolve().as_uri() + "/"}},
        "invocations": [
            {
                "executionSuccessful": True,
                "exitCode": exit_code,
                "exitCodeDescription": "the gate passed" if exit_code == 0 else "the gate failed",
                "startTimeUtc": _ts(report.started),
                "endTimeUtc": _ts(report.finished),
                "toolExecutionNotifications": _notifications(report),
            }
        ],
        "results": _results(report, rule_index),
        "columnKind": "unicodeCodePoints",
        "properties": {
            "gate": gate.to_json(),
            "summary": report.summary(),
            "how_items_are_decided": {v.item_id: how_decided(report.item(v.item_id)[1]) for v in gate.failures},
        },
    }
    if report.baseline:
        b = report.baseline
        # Fixed findings are not results ("absent" ones would reopen alerts where upload-sarif ignores the state).
        run["properties"]["baseline"] = {
            "source": b.source,
            "commit": b.commit,
            **{k: len(getattr(b, k)) for k in ("new", "fixed", "unchanged")},
            "fixed_fingerprints": [f.fingerprint for f in b.fixed],
        }
    if report.discovery.git and report.discovery.git.commit:
        run["versionControlProvenance"] = [
            {"repositoryUri": Path(root).resolve().as_uri(), "revisionId": report.discovery.git.commit}
        ]
    return {"$schema": SCHEMA, "version": "2.1.0", "runs": [run]}


class SarifReporter(Reporter):
    name = "sarif"
    extension = "sarif"
    description = "SARIF 2.1.0 for GitHub code scanning: one rule per check, one result per failing observation"

    def render(self, report: AuditReport, gate: Gate, options: RenderOptions) -> str:
        return json.dumps(build(report, gate, options), indent=2) + "\n"
