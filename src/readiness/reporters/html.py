"""One self-contained HTML file for an auditor's folder: nothing is fetched, everything is inline.

The gate and a summary first, then each pack's sections with every item: its status, severity,
reason, how it is decided and the observations behind it. Checkboxes filter items by status and
severity (a few lines of inline script; without script every item shows). A Content Security
Policy forbids any network access, and the layout reflows to a phone's width.
"""

from __future__ import annotations

import html
from collections import Counter

from ..model import ItemVerdict, Severity, VerdictStatus
from ..policy import Pack
from ..report import AuditReport, Gate
from .base import RenderOptions, Reporter
from .findings import STATUS_WORD, evidence, how_decided, unused_waivers, waiver_problems, waiver_text

MAX_EVIDENCE = 25
ORDER = (
    VerdictStatus.FAIL,
    VerdictStatus.UNKNOWN,
    VerdictStatus.MANUAL,
    VerdictStatus.PASS,
    VerdictStatus.NOT_APPLICABLE,
    VerdictStatus.WAIVED,
)
CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'"

STYLE = """
*{box-sizing:border-box}
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0 auto;padding:.75rem;max-width:62rem;
color:#1b1f24;background:#fff;overflow-wrap:anywhere}
h1{font-size:1.35rem;margin:.2rem 0}h2{font-size:1.2rem;margin:1.4rem 0 .4rem}h3{font-size:1rem;margin:1rem 0 .3rem}
code{font:13px ui-monospace,Menlo,Consolas,monospace;background:#f2f4f7;padding:0 .2em;border-radius:3px}
.gate{padding:.5rem .7rem;border-radius:6px;font-weight:600}
.gate.passed{background:#e6f6ea;color:#145c2b}.gate.failed{background:#fdecec;color:#8a1c1c}
table{border-collapse:collapse;margin:.5rem 0;width:100%}
th,td{border:1px solid #d7dbe0;padding:.2rem .2rem;text-align:right;overflow-wrap:normal;font-size:12px}
th:first-child,td:first-child{text-align:left}
fieldset{border:1px solid #d7dbe0;border-radius:6px;margin:.4rem 0;padding:.3rem .6rem}
fieldset label{display:inline-block;margin:.15rem .7rem .15rem 0;white-space:nowrap}
ul.items{list-style:none;padding:0;margin:0}
li.item{border-bottom:1px solid #eceef1;padding:.25rem 0}
li.item summary{cursor:pointer}
.badge{display:inline-block;min-width:4.2em;text-align:center;border-radius:4px;padding:0 .3em;font-size:12px;
font-weight:700;text-transform:uppercase}
.pass{background:#e6f6ea;color:#145c2b}.fail{background:#fdecec;color:#8a1c1c}
.unknown{background:#fff5d6;color:#6b4e00}.manual{background:#e5f1fb;color:#0b4a78}
.not_applicable{background:#f0f1f3;color:#4a525c}.waived{background:#f3e8fb;color:#5b2a86}
.scroll{overflow-x:auto}.problems{border-left:4px solid #8a1c1c;padding:.2rem .6rem}
.sev{font-size:12px;color:#4a525c}
.detail{margin:.3rem 0 .5rem 1rem}
.detail ul{padding-left:1.1rem;margin:.2rem 0}
.muted{color:#5b636d}
"""

SCRIPT = """
(function () {
  var form = document.getElementById('filters');
  var shown = document.getElementById('shown');
  function apply() {
    var want = {};
    form.querySelectorAll('input[type=checkbox]').forEach(function (box) {
      want[box.name + ':' + box.value] = box.checked;
    });
    var count = 0;
    document.querySelectorAll('li.item').forEach(function (li) {
      var on = want['status:' + li.dataset.status] && want['severity:' + li.dataset.severity];
      li.hidden = !on;
      if (on) { count += 1; }
    });
    document.querySelectorAll('section.section').forEach(function (sec) {
      sec.hidden = !sec.querySelector('li.item:not([hidden])');
    });
    shown.textContent = count + ' items shown';
  }
  form.addEventListener('change', apply);
  apply();
})();
"""


def _e(text: object) -> str:
    return html.escape(str(text))


def _item(report: AuditReport, v: ItemVerdict) -> str:
    _, item = report.item(v.item_id)
    status = v.status.value
    shown = evidence(report, v)
    rows = "".join(
        f'<li><span class="badge {_e(o.status.value if o.status.value != "error" else "fail")}">{_e(o.status.value)}'
        f"</span> <code>{_e(o.check)}</code> {_e(o.subject.describe())}: {_e(o.message)}"
        f' <span class="muted">({_e(o.strength.value)}{"" if o.production else ", non-production"})</span>'
        + (f" waived: {_e(waiver_text(o.waiver))}" if o.waiver else "")
        + "</li>"
        for o in shown[:MAX_EVIDENCE]
    )
    if len(shown) > MAX_EVIDENCE:
        rows += f"<li>… and {len(shown) - MAX_EVIDENCE} more in the JSON evidence</li>"
    errored = " (its probe errored: the gate fails closed)" if v.errored else ""
    strength = f"; evidence strength {_e(v.strength)}" if v.strength else ""
    attested = ""
    if v.attestation:
        a = v.attestation
        attested = f"<p>Attested by {_e(a.get('name'))} ({_e(a.get('role'))}) on {_e(a.get('date'))}, "
        attested += f"until {_e(a.get('expires'))}</p>"
    if v.waiver:
        attested += f"<p>Waived: {_e(waiver_text(v.waiver))}</p>"
    return (
        f'<li class="item" data-status="{_e(status)}" data-severity="{_e(v.severity)}" id="{_e(v.item_id)}">'
        f'<details><summary><span class="badge {_e(status)}">{_e(STATUS_WORD[v.status])}</span> '
        f'<span class="sev">{_e(v.severity)}</span> {_e(item.title)}</summary>'
        f'<div class="detail"><p><code>{_e(v.item_id)}</code>: {_e(v.reason)}{errored}</p>'
        f"<p>Decided by {_e(how_decided(item))}{strength}.</p>{attested}"
        + (f"<ul>{rows}</ul>" if rows else "")
        + "</div></details></li>"
    )


def _pack(report: AuditReport, pack: Pack, by_id: dict[str, ItemVerdict]) -> str:
    parts = [
        f'<section class="pack"><h2>{_e(pack.title)} <span class="muted">({_e(pack.name)} v{pack.version})</span></h2>'
    ]
    for section in pack.sections:
        verdicts = [by_id[i.id] for i in pack.items if i.section == section.id]
        counts = Counter(v.status for v in verdicts)
        applicable = len(verdicts) - counts[VerdictStatus.NOT_APPLICABLE]
        label = f"{section.id}. {section.title}" if section.id.isdigit() else section.title
        parts.append(
            f'<section class="section"><h3>{_e(label)} <span class="muted">{counts[VerdictStatus.PASS]}/{applicable}'
            f' passed</span></h3><ul class="items">{"".join(_item(report, v) for v in verdicts)}</ul></section>'
        )
    parts.append("</section>")
    return "".join(parts)


def _summary(report: AuditReport) -> str:
    head = "".join(f"<th>{_e(STATUS_WORD[s])}</th>" for s in ORDER)
    rows = []
    for pack in report.packs:
        counts = Counter(v.status for v in report.verdicts if v.pack == pack.name)
        rows.append(f"<tr><td>{_e(pack.title)}</td>" + "".join(f"<td>{counts[s]}</td>" for s in ORDER) + "</tr>")
    # its own scroll box: a status column more must not widen a phone's whole page
    table = f"<table><thead><tr><th>pack</th>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    return f'<div class="scroll">{table}</div>'


def _filters(report: AuditReport) -> str:
    statuses = Counter(v.status for v in report.verdicts)
    severities = Counter(v.severity for v in report.verdicts)
    status_boxes = "".join(
        f'<label><input type="checkbox" name="status" value="{s.value}" checked> {_e(STATUS_WORD[s])} '
        f"({statuses[s]})</label>"
        for s in ORDER
    )
    severity_boxes = "".join(
        f'<label><input type="checkbox" name="severity" value="{s.value}" checked> {s.value} ({severities[s]})</label>'
        for s in Severity
    )
    return (
        f'<form id="filters"><fieldset><legend>Status</legend>{status_boxes}</fieldset>'
        f"<fieldset><legend>Severity</legend>{severity_boxes}</fieldset>"
        f'<p id="shown" class="muted">{len(report.verdicts)} items shown</p></form>'
    )


def _drift(report: AuditReport) -> str:
    if not report.drift or not report.drift.drifts:
        return ""
    rows = "".join(
        f"<tr><td><code>{_e(d.claim.path)}:{d.claim.line}</code></td><td>{_e(d.claim.text)}</td>"
        f"<td>{'section ' if d.scope == 'section' else ''}{_e(d.matched)} ({d.score:.0f})</td>"
        f'<td>{_e(d.status.value)} <a href="#{_e(d.item_id)}">{_e(d.item_id)}</a>: {_e(d.reason)}</td></tr>'
        for d in report.drift.drifts
    )
    return (
        f'<section id="drift"><h2>Checklist drift: {len(report.drift.drifts)} items claimed done fail</h2>'
        "<table><thead><tr><th>claimed in</th><th>claim</th><th>matched (score)</th><th>evidence</th></tr></thead>"
        f"<tbody>{rows}</tbody></table></section>"
    )


def render(report: AuditReport, gate: Gate) -> str:
    d = report.discovery
    commit = f", commit <code>{_e(d.git.commit[:12])}</code>" if d.git and d.git.commit else ""
    threshold = gate.threshold.value if gate.threshold else "none"
    verdict = "passed" if gate.passed else f"FAILED ({len(gate.failures)} items)"
    gate_text = f"Gate (fail-on {threshold}{', attestations required' if gate.require_attestations else ''}): {verdict}"
    failing = ""
    if gate.failures:
        links = ", ".join(f'<a href="#{_e(v.item_id)}">{_e(v.item_id)}</a>' for v in gate.failures)
        failing = f"<p>Failing the gate: {links}</p>"
    by_id = {v.item_id: v for v in report.verdicts}
    for title, lines, css in (
        ("Waivers that do not count (what they name still fails)", waiver_problems(report), "problems"),
        ("Unused waivers", unused_waivers(report), "muted"),
    ):
        if lines:
            failing += f'<div class="{css}"><p>{_e(title)}:</p><ul>'
            failing += "".join(f"<li>{_e(line)}</li>" for line in lines) + "</ul></div>"
    body = (
        f'<header><h1>readiness audit</h1><p class="muted">{_e(d.root)}{commit}; readiness {_e(report.tool_version)}; '
        f"{_e(report.started.isoformat(timespec='seconds'))}</p>"
        f'<p id="gate" class="gate {"passed" if gate.passed else "failed"}">{_e(gate_text)}</p>{failing}'
        f"{_summary(report)}{_drift(report)}</header>{_filters(report)}<main>"
        + "".join(_pack(report, p, by_id) for p in report.packs)
        + "</main>"
    )
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        f"<title>readiness: {_e(verdict)}</title><style>{STYLE}</style></head>"
        f"<body>{body}<script>{SCRIPT}</script></body></html>\n"
    )


class HtmlReporter(Reporter):
    name = "html"
    extension = "html"
    description = "one self-contained page for an auditor: filters by status and severity, every item's evidence"

    def render(self, report: AuditReport, gate: Gate, options: RenderOptions) -> str:
        return render(report, gate)
