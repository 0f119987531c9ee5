"""Markdown for a pull-request comment or a CI job summary: each pack's own checklist, ticked.

A summary table and the gate first; then, per section, a collapsed ``<details>`` with the
checklist lines verbatim: ``- [x]`` for a passed item, ``- [ ]`` with the status, a one-line
reason and the top evidence for every other. With ``max_lines`` the report is shortened to fit:
passed items are folded into a count first, then whole sections are left out, and it says so.
"""

from __future__ import annotations

import html
from collections import Counter

from ..model import ItemVerdict, VerdictStatus
from ..policy import Pack
from ..report import AuditReport, Gate
from .base import RenderOptions, Reporter
from .findings import STATUS_WORD, evidence, one_line, unused_waivers, waiver_problems, waiver_text

MAX_DRIFT_ROWS = 30
ORDER = (
    VerdictStatus.PASS,
    VerdictStatus.FAIL,
    VerdictStatus.UNKNOWN,
    VerdictStatus.MANUAL,
    VerdictStatus.NOT_APPLICABLE,
    VerdictStatus.WAIVED,
)


def _md(text: str) -> str:
    """Text that Markdown and the HTML inside it show as written."""
    return html.escape(text, quote=False).replace("|", "\\|").replace("`", "'").replace("*", "\\*").replace("_", "\\_")


def _code(text: str) -> str:
    return "`" + text.replace("`", "'") + "`"


def _header(report: AuditReport, gate: Gate) -> list[str]:
    threshold = gate.threshold.value if gate.threshold else "none"
    verdict = "passed ✅" if gate.passed else f"FAILED ❌ ({len(gate.failures)} items)"
    lines = [
        f"## readiness: gate {verdict}",
        "",
        f"Gate: fail-on `{threshold}`{', attestations required' if gate.require_attestations else ''}. "
        f"readiness {report.tool_version}"
        + (
            f", commit `{report.discovery.git.commit[:12]}`"
            if report.discovery.git and report.discovery.git.commit
            else ""
        ),
        "",
        "| pack | items | " + " | ".join(STATUS_WORD[s] for s in ORDER) + " |",
        "|---|---:|" + "---:|" * len(ORDER),
    ]
    for pack in report.packs:
        counts = Counter(v.status for v in report.verdicts if v.pack == pack.name)
        cells = " | ".join(str(counts[s]) for s in ORDER)
        lines.append(f"| {_md(pack.title)} | {sum(counts.values())} | {cells} |")
    if gate.failures:
        lines += ["", "**Failing the gate:** " + ", ".join(f"`{v.item_id}`" for v in gate.failures[:20])]
        if len(gate.failures) > 20:
            lines[-1] += f" and {len(gate.failures) - 20} more"
    problems = waiver_problems(report)
    if problems:
        lines += ["", f"**{len(problems)} waivers do not count** (what they name still fails):"]
        lines += [f"- ❌ {_md(one_line(p, 200))}" for p in problems[:MAX_LISTED]]
    unused = unused_waivers(report)
    if unused:
        listed = ", ".join(_code(u.split(": ")[0]) for u in unused[:MAX_LISTED])
        lines += ["", f"{len(unused)} unused waivers: {listed}"]
    return lines + _baseline(report)


MAX_LISTED = 10


def _baseline(report: AuditReport) -> list[str]:
    b = report.baseline
    if b is None:
        return []
    commit = f" (`{b.commit[:12]}`)" if b.commit else ""
    lines = [
        "",
        f"**Compared with {_md(b.source)}{commit}:** {len(b.new)} new, {len(b.fixed)} fixed, "
        f"{len(b.unchanged)} unchanged failing findings",
    ]
    for word, mark, group in (("new", "🆕", b.new), ("fixed", "✔️", b.fixed)):
        for f in group[:MAX_LISTED]:
            waived = " (waived)" if f.waived else ""
            lines.append(f"- {mark} {word}: {_md(one_line(f.describe(), 200))}{waived}")
        if len(group) > MAX_LISTED:
            lines.append(f"- … and {len(group) - MAX_LISTED} more {word}")
    return lines


def _item(report: AuditReport, v: ItemVerdict, title: str) -> list[str]:
    # Titles are the checklist's own Markdown lines, kept verbatim.
    if v.status is VerdictStatus.PASS:
        return [f"- [x] {title}"]
    reason = one_line(v.reason, 160)
    lines = [f"- [ ] {title} — **{STATUS_WORD[v.status]}** ({v.severity}): {_md(reason)}"]
    shown = evidence(report, v)
    waiver = None if v.waiver else next((o.waiver for o in shown if o.waiver), None)  # an item's is in its reason
    if waiver:
        lines.append(f"  <br>waived: {_md(one_line(waiver_text(waiver), 200))}")
    if (
        shown
        and v.status is not VerdictStatus.MANUAL
        and f"{shown[0].subject.describe()}: {shown[0].message}" != v.reason
    ):
        o = shown[0]
        more = f" (+{len(shown) - 1} more)" if len(shown) > 1 else ""
        lines.append(f"  <br>{_code(o.subject.describe())}: {_md(one_line(o.message, 160))}{more}")
    return lines


def _section(
    report: AuditReport, pack: Pack, section_id: str, by_id: dict[str, ItemVerdict], compact: bool
) -> list[str]:
    items = [i for i in pack.items if i.section == section_id]
    verdicts = [by_id[i.id] for i in items]
    counts = Counter(v.status for v in verdicts)
    applicable = len(verdicts) - counts[VerdictStatus.NOT_APPLICABLE]
    detail = ", ".join(f"{counts[s]} {STATUS_WORD[s]}" for s in ORDER[1:4] if counts[s])
    section = pack.section(section_id)
    label = f"{section.id}. {section.title}" if section.id.isdigit() else section.title
    mark = "✅" if not detail else "❌" if counts[VerdictStatus.FAIL] else "⚠️"
    summary = f"{mark} {_md(label)}: {counts[VerdictStatus.PASS]}/{applicable} passed" + (
        f" ({detail})" if detail else ""
    )
    body: list[str] = []
    for item, v in zip(items, verdicts, strict=True):
        if compact and v.status is VerdictStatus.PASS:
            continue
        body += _item(report, v, item.title)
    if compact and counts[VerdictStatus.PASS]:
        body.append(f"- {counts[VerdictStatus.PASS]} passed items not shown")
    return ["<details>", f"<summary>{summary}</summary>", "", *body, "", "</details>", ""]


def _drift(report: AuditReport) -> list[str]:
    """What the repository's own documents claim done and the evidence fails: one collapsed block."""
    assert report.drift is not None
    drifts = report.drift.drifts
    lines = ["", "<details>", f"<summary>⚠️ Checklist drift: {len(drifts)} items claimed done fail</summary>", ""]
    lines += ["| claimed in | claim | matched (score) | evidence |", "|---|---|---|---|"]
    for d in drifts[:MAX_DRIFT_ROWS]:
        matched = f"section {d.matched}" if d.scope == "section" else d.matched
        lines.append(
            f"| {_code(f'{d.claim.path}:{d.claim.line}')} | {_md(one_line(d.claim.text, 100))} "
            f"| {_md(matched)} ({d.score:.0f}) | **{STATUS_WORD[d.status]}** {_code(d.item_id)}: "
            f"{_md(one_line(d.reason, 120))} |"
        )
    if len(drifts) > MAX_DRIFT_ROWS:
        lines.append(f"\n_and {len(drifts) - MAX_DRIFT_ROWS} more (`--format json`)._")
    return [*lines, "", "</details>", ""]


def render(report: AuditReport, gate: Gate, max_lines: int | None = None) -> str:
    by_id = {v.item_id: v for v in report.verdicts}
    for compact in (False, True):
        blocks = [_header(report, gate)]
        if report.drift and report.drift.drifts:
            blocks.append(_drift(report))
        for pack in report.packs:
            blocks.append(["", f"### {_md(pack.title)}", ""])
            blocks += [_section(report, pack, s.id, by_id, compact) for s in pack.sections]
        if max_lines is None or sum(map(len, blocks)) <= max_lines:
            return "\n".join(line for block in blocks for line in block) + "\n"
    return _cut(blocks, max_lines)


def _cut(blocks: list[list[str]], max_lines: int) -> str:
    """Whole blocks up to the cap (a cut ``<details>`` would break the page), then a note."""
    note_lines = 2
    kept: list[str] = list(blocks[0])  # the summary and the gate, whatever the cap
    left = 0
    for block in blocks[1:]:
        if not left and len(kept) + len(block) <= max_lines - note_lines:
            kept += block
        elif "<details>" in block:
            left += 1
    if left:
        kept += [
            "",
            f"_{left} more sections not shown (a cap of {max_lines} lines); the full report: "
            "`--format markdown=FILE`._",
        ]
    return "\n".join(kept) + "\n"


class MarkdownReporter(Reporter):
    name = "markdown"
    extension = "md"
    description = "the packs' checklists ticked, for a pull-request comment or a job summary"

    def render(self, report: AuditReport, gate: Gate, options: RenderOptions) -> str:
        return render(report, gate, options.max_lines)
