"""Plain text for people and CI logs: sections, then what fails and why, then one summary line.

Colour only when asked (the CLI asks on a terminal); the wording and order
are stable so that CI logs diff cleanly.
"""

from __future__ import annotations

from collections import Counter

import click

from ..model import ItemVerdict, VerdictStatus
from ..report import AuditReport, Gate
from .escape import text as escape

MARK = {
    VerdictStatus.PASS: ("PASS", "green"),
    VerdictStatus.FAIL: ("FAIL", "red"),
    VerdictStatus.UNKNOWN: ("UNKNOWN", "yellow"),
    VerdictStatus.NOT_APPLICABLE: ("N/A", None),
    VerdictStatus.MANUAL: ("MANUAL", "cyan"),
}
MAX_EVIDENCE_LINES = 6


def _style(text: str, fg: str | None, color: bool, bold: bool = False) -> str:
    return click.style(text, fg=fg, bold=bold) if color and (fg or bold) else text


def _evidence(report: AuditReport, v: ItemVerdict) -> list[str]:
    obs = [report.observations[i] for i in v.observations]
    wanted = "fail" if v.status is VerdictStatus.FAIL else "error" if v.errored else None
    shown = [o for o in obs if o.status.value == wanted] or obs
    lines = [f"{o.check}: {o.subject.describe()}: {o.message}" for o in shown[:MAX_EVIDENCE_LINES]]
    if len(shown) > MAX_EVIDENCE_LINES:
        lines.append(f"... and {len(shown) - MAX_EVIDENCE_LINES} more (see --format json)")
    return lines or [v.reason]


def render(report: AuditReport, gate: Gate, color: bool = False) -> str:
    out: list[str] = []
    d = report.discovery
    git = ""
    if d.git:
        git = f" (git {d.git.commit[:12] if d.git.commit else 'no commits'}{', dirty' if d.git.dirty else ''})"
    out.append(_style(f"readiness {report.tool_version}: audit of {escape(str(d.root))}{git}", None, color, bold=True))
    readable = sum(1 for a in d.artifacts if not a.skipped)
    out.append(
        f"{len(d.artifacts)} files discovered, {readable} readable, {len(report.digests)} inspected; "
        f"{len(report.observations)} observations from {len(report.probes)} probes"
    )
    for note in d.notes + report.notes:
        out.append(f"note: {escape(note)}")

    by_id = {v.item_id: v for v in report.verdicts}
    for pack in report.packs:
        out.append("")
        out.append(
            _style(f"{pack.title} ({pack.name} v{pack.version}, {len(pack.items)} items)", None, color, bold=True)
        )
        for section in pack.sections:
            verdicts = [by_id[i.id] for i in pack.items if i.section == section.id]
            counts = Counter(v.status for v in verdicts)
            applicable = len(verdicts) - counts[VerdictStatus.NOT_APPLICABLE]
            detail = ", ".join(
                f"{counts[s]} {MARK[s][0].lower()}"
                for s in (VerdictStatus.FAIL, VerdictStatus.UNKNOWN, VerdictStatus.MANUAL)
                if counts[s]
            )
            label = f"{section.id}. {section.title}" if section.id.isdigit() else section.title
            line = f"  {label:<58} {counts[VerdictStatus.PASS]:>2}/{applicable:<2} passed"
            out.append(line + (f"  ({detail})" if detail else ""))

    failing = [v for v in report.verdicts if v.status is VerdictStatus.FAIL]
    errored = [v for v in report.verdicts if v.errored and v.status is not VerdictStatus.FAIL]
    for title, group in (("Failing items", failing), ("Items whose probes errored", errored)):
        if not group:
            continue
        out.append("")
        out.append(_style(f"{title}:", None, color, bold=True))
        for v in sorted(group, key=lambda v: (-v.severity.rank, v.pack, v.item_id)):
            _, item = report.item(v.item_id)
            word, fg = MARK[v.status]
            out.append(f"  {_style(word, fg, color)} [{v.severity}] {v.item_id}: {escape(item.title)}")
            out.extend(f"      {escape(line)}" for line in _evidence(report, v))

    counts = Counter(v.status for v in report.verdicts)
    summary = ", ".join(f"{counts[s]} {MARK[s][0].lower()}" for s in VerdictStatus)
    threshold = gate.threshold.value if gate.threshold else "none"
    verdict = "passed" if gate.passed else f"FAILED ({len(gate.failures)} items)"
    out.append("")
    line = f"{len(report.verdicts)} items: {summary}. Gate (fail-on {threshold}"
    line += ", attestations required" if gate.require_attestations else ""
    line += f"): {verdict}"
    out.append(_style(line, "green" if gate.passed else "red", color, bold=True))
    return "\n".join(out) + "\n"
