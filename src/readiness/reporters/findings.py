"""What several formats need to say about a report: the checks behind it, the evidence that
explains each verdict, how an item is decided, what would decide the unknown ones, and
which attestations do not count. Derived from the report and the installed probes only."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ..attestations import judge
from ..model import REPOSITORY, ItemVerdict, Observation, Severity, Status, VerdictStatus
from ..policy import AllOf, Item
from ..probe import CliOption, ProbeLoadError, load_probes
from ..report import AuditReport

STATUS_WORD = {
    VerdictStatus.PASS: "pass",
    VerdictStatus.FAIL: "fail",
    VerdictStatus.UNKNOWN: "unknown",
    VerdictStatus.NOT_APPLICABLE: "n/a",
    VerdictStatus.MANUAL: "manual",
    VerdictStatus.WAIVED: "waived",
}


@dataclass(frozen=True)
class CheckInfo:
    id: str
    title: str
    rationale: str
    remediation: str
    probe: str
    kind: str
    cli_options: tuple[CliOption, ...]


@lru_cache(maxsize=1)
def catalogue() -> dict[str, CheckInfo]:
    """Every installed check's metadata; empty when the probes cannot load (the audit says why)."""
    try:
        probes = load_probes()
    except ProbeLoadError:
        return {}
    return {
        c.id: CheckInfo(c.id, c.title, c.rationale, c.remediation, cls.name, cls.kind, cls.cli_options)
        for cls in probes
        for c in cls.checks
    }


def repo_path(report: AuditReport, rel: str) -> str:
    """A path relative to the audited folder, made relative to its git repository (where CI systems look)."""
    git = report.discovery.git
    if not git:
        return rel
    base = os.path.relpath(report.discovery.root, git.toplevel)
    if base == ".":
        return rel
    return Path(base).as_posix() if rel == "." else f"{Path(base).as_posix()}/{rel}"


def config_path(report: AuditReport) -> str:
    """The config file (where live targets are named) relative to the repository, else the root."""
    if report.config_source:
        try:
            rel = Path(report.config_source).resolve().relative_to(report.discovery.root.resolve())
            return repo_path(report, rel.as_posix())
        except ValueError:
            pass
    return repo_path(report, ".")


def one_line(text: str, limit: int = 200) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def evidence(report: AuditReport, verdict: ItemVerdict) -> list[Observation]:
    """The observations that explain a verdict: the failing ones of a failing item, the errors of an
    errored one, otherwise all of them."""
    obs = [report.observations[i] for i in verdict.observations]
    if verdict.status is VerdictStatus.FAIL:
        wanted: tuple[Status, ...] = (Status.FAIL,)
    elif verdict.status is VerdictStatus.WAIVED:
        wanted = (Status.WAIVED, Status.FAIL)  # an item waiver leaves its observations failing
    elif verdict.errored:
        wanted = (Status.ERROR,)
    else:
        wanted = ()
    for status in wanted:
        if shown := [o for o in obs if o.status is status]:
            return shown
    return obs


def evidence_line(o: Observation) -> str:
    return f"{o.check}: {o.subject.describe()}: {o.message}"


def how_decided(item: Item) -> str:
    if item.manual:
        return f"attestation by the {item.manual.role} (valid {item.manual.valid_days} days)"
    if item.rollup:
        return f"roll-up of sections {', '.join(item.rollup)}"
    assert item.evidence is not None
    checks = list(dict.fromkeys(item.evidence.checks()))
    mode = "all" if isinstance(item.evidence, AllOf) else "any"
    how = f"{mode} of {', '.join(checks)}" if len(checks) > 1 else f"check {checks[0]}"
    return how + (f" (evidence at least {item.min_strength})" if item.min_strength else "")


def check_users(report: AuditReport) -> dict[str, list[ItemVerdict]]:
    """For each check the selected packs name, the verdicts of the items it decides."""
    users: dict[str, list[ItemVerdict]] = {}
    for v in report.verdicts:
        _, item = report.item(v.item_id)
        for cid in dict.fromkeys(item.evidence.checks() if item.evidence else []):
            users.setdefault(cid, []).append(v)
    return users


def check_severity(users: list[ItemVerdict]) -> Severity:
    """A check weighs as much as the most severe item it decides."""
    return max((v.severity for v in users), key=lambda s: s.rank, default=Severity.LOW)


def live_hints(report: AuditReport) -> list[tuple[str, list[str]]]:
    """Unknown items a live probe would decide if it were given a target: (what to name, item ids).

    The advice is taken from the probe's own command-line options, so it stays true as probes change.
    """
    cat = catalogue()
    hints: dict[str, list[str]] = {}
    for v in report.verdicts:
        if v.status is not VerdictStatus.UNKNOWN or v.errored:
            continue
        _, item = report.item(v.item_id)
        for cid in dict.fromkeys(item.evidence.checks() if item.evidence else []):
            info, result = cat.get(cid), report.check_results.get(cid)
            if info is None or info.kind != "live" or result is None or result.status is not VerdictStatus.UNKNOWN:
                continue
            # with no target, the runner's only observations of a live check are about the repository
            if any(report.observations[i].subject != REPOSITORY for i in result.observations):
                continue
            ids = hints.setdefault(_hint(info), [])
            if v.item_id not in ids:
                ids.append(v.item_id)
    return sorted(hints.items())


def _hint(info: CheckInfo) -> str:
    live = [o for o in info.cli_options if o.path[:1] == ("live",)]
    config = f"live.{info.probe}"
    if live:
        flags = " or ".join(f"{o.flag} {o.metavar}" for o in live)
        return f"name {flags} (or {config} in .readiness.yaml) to decide {info.probe}"
    return f"set {config} in .readiness.yaml to decide {info.probe}"


def rejected_attestations(report: AuditReport) -> list[str]:
    """One line per attestation that does not count, saying where it is and why."""
    f = report.attestations
    if f is None:
        return []
    if f.problem:
        return [f"{f.path}: {f.problem}"]
    today = report.started.date()
    items = {i.id: i for p in report.packs for i in p.items}
    out = []
    for a in f.entries:
        item = items.get(a.item)
        if a.problem:
            why: str | None = a.problem
        elif item is None:
            why = f"no item {a.item} in the selected packs"
        elif item.manual is None:
            why = f"{a.item} is decided by evidence, not by attestation"
        else:
            why = judge(a, item, today)
        if why:
            where = f"{f.path}:{a.line}" if a.line else f.path
            out.append(f"{where}: {a.item or '?'} by {a.name or '?'}: {why}")
    return out


def waiver_text(w: dict) -> str:
    """One line for a waiver record: why, on whose word, until when, and where it is written."""
    who = f" (approved by {w['approver']}, until {w['expires']})" if w.get("approver") else ""
    return f"{w['reason']}{who} [{w['where']}]"


def waiver_problems(report: AuditReport) -> list[str]:
    """Waivers that do not count, each with where it is and why: errors, shown in every format."""
    return [f"{w.describe()}: {w.problem}" for w in (report.waivers.problems() if report.waivers else [])]


def unused_waivers(report: AuditReport) -> list[str]:
    return [f"{w.describe()}: matches no failing finding" for w in (report.waivers.unused() if report.waivers else [])]


def item_waivers(report: AuditReport) -> dict[int, dict]:
    """Failing observations accepted by item waivers: those whose every production item is waived by one."""
    by_check: dict[str, list[ItemVerdict]] = check_users(report)
    out: dict[int, dict] = {}
    for n, o in enumerate(report.observations):
        users = by_check.get(o.check, [])
        if o.status is Status.FAIL and o.production and users and all(v.waiver for v in users):
            out[n] = users[0].waiver or {}
    return out
