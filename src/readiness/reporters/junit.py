"""JUnit XML for CI test-report tabs: one testsuite per pack, one testcase per checklist item.

A failing item is a ``failure``; an item whose probe errored is an ``error``; a manual item the
go-live gate requires is a ``failure``; unknown, not applicable and unattested manual items are
``skipped`` with their reason. The message carries the reason, the body the evidence.
"""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET
from collections import Counter

from ..model import ItemVerdict, VerdictStatus
from ..report import AuditReport, Gate
from .base import RenderOptions, Reporter
from .findings import evidence, evidence_line, how_decided, one_line, waiver_text

MAX_EVIDENCE = 20
# XML 1.0 cannot carry most control characters, even escaped; a message quoting a binary file must not
# make the whole report unreadable.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


def _outcome(v: ItemVerdict, gate_failures: set[str]) -> str | None:
    if v.status is VerdictStatus.FAIL:
        return "failure"
    if v.errored and v.status is not VerdictStatus.PASS:
        return "error"
    if v.item_id in gate_failures:
        return "failure"  # a manual item the go-live gate requires
    if v.status is VerdictStatus.PASS:
        return None
    return "skipped"


def _body(report: AuditReport, v: ItemVerdict) -> str:
    _, item = report.item(v.item_id)
    shown = evidence(report, v)
    lines = [f"{v.status} [{v.severity}]: {v.reason}", f"decided by {how_decided(item)}"]
    lines += [evidence_line(o) for o in shown[:MAX_EVIDENCE]]
    if len(shown) > MAX_EVIDENCE:
        lines.append(f"... and {len(shown) - MAX_EVIDENCE} more (see --format json)")
    return "\n".join(lines)


def _reason(report: AuditReport, v: ItemVerdict) -> str:
    if v.status is not VerdictStatus.WAIVED:
        return v.reason
    waiver = v.waiver or next((o.waiver for o in evidence(report, v) if o.waiver), None)
    return f"waived: {waiver_text(waiver)}" if waiver else v.reason


def _waivers(root: ET.Element, report: AuditReport, started: str, seconds: str) -> Counter[str]:
    """One testcase per waiver: an error when it does not count, skipped when it matches nothing."""
    assert report.waivers is not None
    suite = ET.SubElement(root, "testsuite", name="readiness.waivers", timestamp=started, time=seconds)
    counts: Counter[str] = Counter()
    for w in report.waivers.entries:
        case = ET.SubElement(suite, "testcase", name=_xml(w.describe()), classname="readiness.waivers")
        case.set("time", "0")
        counts["tests"] += 1
        if w.problem:
            counts["errors"] += 1
            ET.SubElement(case, "error", message=_xml(one_line(w.problem, 500)), type="waiver")
        elif not w.uses:
            counts["skipped"] += 1
            ET.SubElement(case, "skipped", message="unused: matches no failing finding")
    for key in ("tests", "failures", "errors", "skipped"):
        suite.set(key, str(counts[key]))
    return counts


def build(report: AuditReport, gate: Gate) -> ET.Element:
    failing = {v.item_id for v in gate.failures}
    by_pack: dict[str, list[ItemVerdict]] = {}
    for v in report.verdicts:
        by_pack.setdefault(v.pack, []).append(v)
    seconds = f"{(report.finished - report.started).total_seconds():.3f}"
    # JUnit's schema wants an ISO 8601 time without a zone (UTC here)
    started = report.started.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")
    root = ET.Element("testsuites", name="readiness", time=seconds)
    totals: Counter[str] = Counter()
    for pack in report.packs:
        verdicts = by_pack.get(pack.name, [])
        suite = ET.SubElement(root, "testsuite", name=pack.name, timestamp=started, time=seconds)
        props = ET.SubElement(suite, "properties")
        ET.SubElement(props, "property", name="pack.version", value=str(pack.version))
        ET.SubElement(props, "property", name="pack.sha256", value=pack.sha256)
        ET.SubElement(props, "property", name="gate.passed", value=str(gate.passed).lower())
        counts: Counter[str] = Counter()
        for v in verdicts:
            _, item = report.item(v.item_id)
            section = pack.section(item.section).title
            case = ET.SubElement(
                suite, "testcase", name=_xml(f"{item.id}: {item.title}"), classname=f"{pack.name}.{section}"
            )
            case.set("time", "0")
            outcome = _outcome(v, failing)
            counts["tests"] += 1
            if outcome is None:
                continue
            counts[{"failure": "failures", "error": "errors", "skipped": "skipped"}[outcome]] += 1
            el = ET.SubElement(case, outcome, message=_xml(one_line(f"[{v.severity}] {_reason(report, v)}", 500)))
            if outcome != "skipped":
                el.set("type", f"{v.status}/{v.severity}")
                el.text = _xml(_body(report, v))
        for key in ("tests", "failures", "errors", "skipped"):
            suite.set(key, str(counts[key]))
        totals.update(counts)
    if report.waivers and report.waivers.entries:
        totals.update(_waivers(root, report, started, seconds))
    for key in ("tests", "failures", "errors", "skipped"):
        root.set(key, str(totals[key]))
    return root


class JunitReporter(Reporter):
    name = "junit"
    extension = "xml"
    description = "JUnit XML for CI test tabs: a testsuite per pack, a testcase per item"

    def render(self, report: AuditReport, gate: Gate, options: RenderOptions) -> str:
        root = build(report, gate)
        ET.indent(root)
        return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
