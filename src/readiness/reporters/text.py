"""Plain text for people and CI logs: the gate first, sections, what fails and why, what would
decide the unknown items, attestations that do not count, then one summary line.

Colour only when asked (``--color``, ``NO_COLOR``); the wording and order are stable so that
CI logs diff cleanly. ``--quiet`` keeps only the gate's failures and the gate line.
"""

from __future__ import annotations

from collections import Counter

import click

from ..drift import lines as drift_lines
from ..model import ItemVerdict, VerdictStatus
from ..report import AuditReport, Gate
from .base import RenderOptions, Reporter
from .escape import text as escape
from .findings import (
    evidence,
    evidence_line,
    live_hints,
    rejected_attestations,
    unused_waivers,
    waiver_problems,
    waiver_text,
)

MARK = {
    VerdictStatus.PASS: ("PASS", "green"),
    VerdictStatus.FAIL: ("FAIL", "red"),
    VerdictStatus.UNKNOWN: ("UNKNOWN", "yellow"),
    VerdictStatus.NOT_APPLICABLE: ("N/A", None),
    VerdictStatus.MANUAL: ("MANUAL", "cyan"),
    VerdictStatus.WAIVED: ("WAIVED", "magenta"),
}
MAX_EVIDENCE_LINES = 6
MAX_IDS = 8
MAX_DRIFT_LINES = 20


def _style(text: str, fg: str | None, color: bool, bold: bool = False) -> str:
    return click.style(text, fg=fg, bold=bold) if color and (fg or bold) else text


def _evidence(report: AuditReport, v: ItemVerdict) -> list[str]:
    shown = evidence(report, v)
    lines = [f"waived: {waiver_text(v.waiver)}"] if v.waiver else []
    for o in shown[:MAX_EVIDENCE_LINES]:
        lines.append(evidence_line(o) + (f" (waived: {waiver_text(o.waiver)})" if o.waiver else ""))
    if len(shown) > MAX_EVIDENCE_LINES:
        lines.append(f"... and {len(shown) - MAX_EVIDENCE_LINES} more (see --format json)")
    return lines or [v.reason]


def _item_lines(report: AuditReport, group: list[ItemVerdict], color: bool) -> list[str]:
    out = []
    for v in sorted(group, key=lambda v: (-v.severity.rank, v.pack, v.item_id)):
        _, item = report.item(v.item_id)
        word, fg = MARK[v.status]
        out.append(f"  {_style(word, fg, color)} [{v.severity}] {v.item_id}: {escape(item.title)}")
        out.extend(f"      {escape(line)}" for line in _evidence(report, v))
    return out


def _gate_line(report: AuditReport, gate: Gate) -> str:
    counts = Counter(v.status for v in report.verdicts)
    summary = ", ".join(f"{counts[s]} {MARK[s][0].lower()}" for s in VerdictStatus)
    threshold = gate.threshold.value if gate.threshold else "none"
    verdict = "passed" if gate.passed else f"FAILED ({len(gate.failures)} items)"
    line = f"{len(report.verdicts)} items: {summary}. Gate (fail-on {threshold}"
    line += ", attestations required" if gate.require_attestations else ""
    line += ", new findings only" if gate.new_only else ""
    return line + f"): {verdict}"


def _ids(ids: list[str]) -> str:
    more = f", and {len(ids) - MAX_IDS} more" if len(ids) > MAX_IDS else ""
    return ", ".join(ids[:MAX_IDS]) + more


def _sections(report: AuditReport, color: bool) -> list[str]:
    out: list[str] = []
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
    return out


def _waivers(report: AuditReport, color: bool) -> list[str]:
    out: list[str] = []
    problems = waiver_problems(report)
    if problems:
        out += ["", _style("Waivers that do not count (what they name still fails):", "red", color, bold=True)]
        out += [f"  {escape(line)}" for line in problems]
    unused = unused_waivers(report)
    if unused:
        out += ["", _style("Unused waivers:", "yellow", color, bold=True)]
        out += [f"  {escape(line)}" for line in unused]
    return out


def _baseline(report: AuditReport, color: bool) -> list[str]:
    b = report.baseline
    if b is None:
        return []
    commit = f" ({b.commit[:12]})" if b.commit else ""
    out = ["", _style(f"Compared with {escape(b.source)}{commit}:", None, color, bold=True)]
    out.append(f"  {len(b.new)} new, {len(b.fixed)} fixed, {len(b.unchanged)} unchanged failing findings")
    for word, group in (("new", b.new), ("fixed", b.fixed)):
        for f in group[:MAX_EVIDENCE_LINES]:
            out.append(f"  {word}: {escape(f.describe())}" + (" (waived)" if f.waived else ""))
        if len(group) > MAX_EVIDENCE_LINES:
            out.append(f"  ... and {len(group) - MAX_EVIDENCE_LINES} more {word} (see --format json)")
    return out


def render(report: AuditReport, gate: Gate, color: bool = False, quiet: bool = False) -> str:
    gate_line = _style(_gate_line(report, gate), "green" if gate.passed else "red", color, bold=True)
    if quiet:
        lines = []
        if gate.failures:
            lines = [
                _style("Items failing the gate:", None, color, bold=True),
                *_item_lines(report, list(gate.failures), color),
                "",
            ]
        problems = [f"  {escape(line)}" for line in waiver_problems(report)]
        if problems:
            lines = [*lines, _style("Waivers that do not count:", "red", color, bold=True), *problems, ""]
        return "\n".join([*lines, gate_line]) + "\n"

    out: list[str] = []
    d = report.discovery
    git = ""
    if d.git:
        git = f" (git {d.git.commit[:12] if d.git.commit else 'no commits'}{', dirty' if d.git.dirty else ''})"
    out.append(_style(f"readiness {report.tool_version}: audit of {escape(str(d.root))}{git}", None, color, bold=True))
    out.append(gate_line)
    readable = sum(1 for a in d.artifacts if not a.skipped)
    out.append(
        f"{len(d.artifacts)} files discovered, {readable} readable, {len(report.digests)} inspected; "
        f"{len(report.observations)} observations from {len(report.probes)} probes"
        + (f"; {report.summary()['waived_observations']} failures waived" if report.waivers else "")
    )
    if report.deployments is not None:
        out.append(f"deployment: {escape(report.deployments.summary)}")
    for note in d.notes + report.notes:
        out.append(f"note: {escape(note)}")
    out.extend(_sections(report, color))

    failing = [v for v in report.verdicts if v.status is VerdictStatus.FAIL]
    errored = [v for v in report.verdicts if v.errored and v.status is not VerdictStatus.FAIL]
    waived = [v for v in report.verdicts if v.status is VerdictStatus.WAIVED and not v.errored]
    groups = (("Failing items", failing), ("Items whose probes errored", errored), ("Waived items", waived))
    for title, group in groups:
        if group:
            out += ["", _style(f"{title}:", None, color, bold=True), *_item_lines(report, group, color)]

    hints = live_hints(report)
    if hints:
        out += ["", _style("Unknown items a live target would decide:", None, color, bold=True)]
        out += [f"  {hint}: {_ids(ids)}" for hint, ids in hints]
    rejected = rejected_attestations(report)
    if rejected:
        out += ["", _style("Attestations that do not count:", "yellow", color, bold=True)]
        out += [f"  {line}" for line in rejected]
    out += _waivers(report, color)
    out += _baseline(report, color)

    if report.drift and report.drift.drifts:
        title = f"Checklist drift ({len(report.drift.drifts)} items the repository's documents claim done fail):"
        out += ["", _style(title, "yellow", color, bold=True)]
        out += [f"  {escape(line)}" for line in drift_lines(report.drift, MAX_DRIFT_LINES)]

    out += ["", gate_line]
    return "\n".join(out) + "\n"


class TextReporter(Reporter):
    name = "text"
    extension = "txt"
    description = "for people and CI logs: the gate, sections, failures with evidence"

    def render(self, report: AuditReport, gate: Gate, options: RenderOptions) -> str:
        return render(report, gate, options.color, options.quiet)
