"""From observations to item verdicts.

A check's result folds its production observations: any ``fail`` fails it,
then any ``error`` makes it unknown (and marks it errored, so the gate fails
closed), then any ``unknown``, then ``pass``; only ``not_applicable`` left
means not applicable. An item passes only when its evidence passes; nothing
passes by default.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .attestations import Attestation, expiry, judge
from .model import ItemVerdict, Observation, Severity, Status, Strength, VerdictStatus
from .policy import AllOf, AnyOf, CheckRef, Expr, Item, Pack


@dataclass(frozen=True)
class CheckResult:
    check: str
    status: VerdictStatus
    reason: str
    observations: tuple[int, ...] = ()
    strength: Strength | None = None
    errored: bool = False


def _strongest(obs: list[tuple[int, Observation]]) -> Strength | None:
    return max((o.strength for _, o in obs), key=lambda s: s.rank, default=None)


def _summarise(obs: list[tuple[int, Observation]], limit: int = 3) -> str:
    parts = [f"{o.subject.describe()}: {o.message}" for _, o in obs[:limit]]
    more = len(obs) - limit
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")


def check_result(
    check: str,
    observations: Sequence[Observation],
    offered: set[str],
    planned: dict[str, dict[str, str]],
    existential: frozenset[str] = frozenset(),
    of_check: Sequence[tuple[int, Observation]] | None = None,
) -> CheckResult:
    """``of_check``: this check's observations with their positions, when the caller grouped them
    (scanning every observation once per check is quadratic in a large tree)."""
    if check not in offered:
        if check in planned:
            return CheckResult(check, VerdictStatus.UNKNOWN, f"no probe implements {check} yet")
        return CheckResult(check, VerdictStatus.UNKNOWN, f"no installed probe offers {check} (is a plugin missing?)")
    if of_check is None:
        of_check = [(i, o) for i, o in enumerate(observations) if o.check == check]
    mine = [(i, o) for i, o in of_check if o.production]
    if not mine:
        others = of_check
        return CheckResult(
            check,
            VerdictStatus.UNKNOWN,
            f"{check}: only non-production files were observed" if others else f"{check}: no observation",
        )
    by = {s: [(i, o) for i, o in mine if o.status is s] for s in Status}
    if check in existential and by[Status.PASS]:
        # "CI runs the tests": one valid proof suffices; unreadable or failing other inputs are still reported.
        sel = by[Status.PASS]
        others = len(mine) - len(sel)
        note = f" ({others} other observation(s) of this check do not prove it)" if others else ""
        return CheckResult(check, VerdictStatus.PASS, _summarise(sel, 2) + note, _ids(mine), _strongest(sel))
    if check in existential and by[Status.ERROR] and len(by[Status.ERROR]) < len(mine):
        # An unrelated file that cannot be read does not make "nothing proves it" unknown; it stays reported.
        unread = f" ({len(by[Status.ERROR])} unreadable input(s) reported apart)"
        # Same positions (observation ids), with this check's errors set aside.
        kept = [(i, o) for i, o in of_check if o.status is not Status.ERROR]
        rest = check_result(check, observations, offered, planned, of_check=kept)
        return dataclasses.replace(rest, reason=rest.reason + unread)
    if by[Status.FAIL]:
        sel = by[Status.FAIL]
        return CheckResult(check, VerdictStatus.FAIL, _summarise(sel), _ids(sel), _strongest(sel))
    if by[Status.ERROR]:
        sel = by[Status.ERROR]
        return CheckResult(check, VerdictStatus.UNKNOWN, _summarise(sel), _ids(sel), None, errored=True)
    if by[Status.UNKNOWN]:
        sel = by[Status.UNKNOWN]
        return CheckResult(check, VerdictStatus.UNKNOWN, _summarise(sel), _ids(sel))
    if by[Status.WAIVED]:  # it fails, and a waiver accepts every failure: shown as such, not as a pass
        sel = by[Status.WAIVED]
        return CheckResult(check, VerdictStatus.WAIVED, _summarise(sel), _ids(sel), _strongest(sel))
    if by[Status.PASS]:
        sel = by[Status.PASS]
        return CheckResult(check, VerdictStatus.PASS, _summarise(sel, 2), _ids(mine), _strongest(sel))
    sel = by[Status.NOT_APPLICABLE]
    return CheckResult(check, VerdictStatus.NOT_APPLICABLE, _summarise(sel, 1), _ids(sel))


def _ids(obs: list[tuple[int, Observation]]) -> tuple[int, ...]:
    return tuple(i for i, _ in obs)


def _combine(expr: Expr, results: dict[str, CheckResult]) -> CheckResult:
    if isinstance(expr, CheckRef):
        return results[expr.check]
    parts = [_combine(t, results) for t in expr.terms]
    ids = tuple(sorted({i for p in parts for i in p.observations}))
    errored = any(p.errored for p in parts)

    def pick(status: VerdictStatus) -> list[CheckResult]:
        return [p for p in parts if p.status is status]

    def joined(ps: list[CheckResult]) -> str:
        return " | ".join(p.reason for p in ps)

    passed, failed = pick(VerdictStatus.PASS), pick(VerdictStatus.FAIL)
    unknown, na = pick(VerdictStatus.UNKNOWN), pick(VerdictStatus.NOT_APPLICABLE)
    waived = pick(VerdictStatus.WAIVED)
    strength = max((p.strength for p in passed if p.strength), key=lambda s: s.rank, default=None)
    if isinstance(expr, AllOf):
        if failed:
            return CheckResult("", VerdictStatus.FAIL, joined(failed), ids, failed[0].strength, errored)
        if unknown:
            return CheckResult("", VerdictStatus.UNKNOWN, joined(unknown), ids, None, errored)
        if waived:
            return CheckResult("", VerdictStatus.WAIVED, joined(waived), ids, waived[0].strength)
        if passed:
            return CheckResult("", VerdictStatus.PASS, joined(passed), ids, strength)
        return CheckResult("", VerdictStatus.NOT_APPLICABLE, joined(na), ids)
    assert isinstance(expr, AnyOf)
    if passed:
        return CheckResult("", VerdictStatus.PASS, joined(passed), ids, strength)
    if waived:  # one accepted alternative suffices, as a passing one would, but it stays visible
        return CheckResult("", VerdictStatus.WAIVED, joined(waived), ids, waived[0].strength)
    if unknown:
        return CheckResult("", VerdictStatus.UNKNOWN, joined(unknown), ids, None, errored)
    if failed:
        return CheckResult("", VerdictStatus.FAIL, joined(failed), ids, failed[0].strength, errored)
    return CheckResult("", VerdictStatus.NOT_APPLICABLE, joined(na), ids)


def _manual(pack: Pack, item: Item, severity: Severity, attestations: list[Attestation], today: dt.date) -> ItemVerdict:
    assert item.manual is not None
    mine = [a for a in attestations if a.item == item.id]
    problems = []
    for att in sorted(mine, key=lambda a: a.date or dt.date.min, reverse=True):
        why = judge(att, item, today)
        if why:
            problems.append(f"attestation by {att.name or '?'} (line {att.line}) does not count: {why}")
            continue
        record = att.to_json() | {"expires": (expiry(att, item) or today).isoformat()}
        status = VerdictStatus(att.status)
        return ItemVerdict(
            pack.name,
            item.id,
            status,
            severity,
            f"attested {att.status} by {att.name} ({att.role}) on {att.date}",
            strength=Strength.ATTESTED,
            attestation=record,
        )
    reason = f"needs an attestation by the {item.manual.role}"
    if problems:
        reason += "; " + "; ".join(problems)
    return ItemVerdict(pack.name, item.id, VerdictStatus.MANUAL, severity, reason)


def _rollup(pack: Pack, item: Item, severity: Severity, done: dict[str, ItemVerdict]) -> ItemVerdict:
    assert item.rollup is not None
    covered = [i for i in pack.items if i.section in item.rollup and i.id != item.id]
    verdicts = [done[i.id] for i in covered]
    failing = [v.item_id for v in verdicts if v.status is VerdictStatus.FAIL]
    open_ = [v.item_id for v in verdicts if v.status in (VerdictStatus.UNKNOWN, VerdictStatus.MANUAL)]
    waived = [v.item_id for v in verdicts if v.status is VerdictStatus.WAIVED]
    if failing:
        status, reason = VerdictStatus.FAIL, f"{len(failing)} of {len(covered)} items fail: {', '.join(failing[:5])}"
    elif open_:
        status = VerdictStatus.UNKNOWN
        reason = f"{len(open_)} of {len(covered)} items are not decided yet (unknown or awaiting attestation)"
    elif waived:
        status = VerdictStatus.WAIVED
        reason = f"{len(waived)} of {len(covered)} items fail under a waiver: {', '.join(waived[:5])}"
        reason += "; the rest pass or do not apply"
    else:
        status, reason = VerdictStatus.PASS, f"all {len(covered)} items pass or do not apply"
    return ItemVerdict(pack.name, item.id, status, severity, reason)


def evaluate(
    packs: Sequence[Pack],
    observations: Sequence[Observation],
    offered: set[str],
    planned: dict[str, dict[str, str]],
    attestations: list[Attestation],
    severity_overrides: dict[str, str],
    today: dt.date,
    existential: frozenset[str] = frozenset(),
    waive: Callable[[ItemVerdict], ItemVerdict] | None = None,
) -> tuple[list[ItemVerdict], dict[str, CheckResult]]:
    """Every item of every pack, in pack order, and the check results behind them.

    ``existential`` checks claim that something exists ("a backup job"): one passing observation in
    production proves them. The others are universal ("every service runs as non-root"): any failure fails
    them, any unreadable input leaves them unknown. ``waive`` may turn a failing item into a waived one
    (item waivers); it runs before the roll-ups, so they see it."""
    wanted = {c for p in packs for i in p.items if i.evidence for c in i.evidence.checks()}
    grouped: dict[str, list[tuple[int, Observation]]] = {}
    for i, o in enumerate(observations):
        grouped.setdefault(o.check, []).append((i, o))
    results = {
        c: check_result(c, observations, offered, planned, existential, grouped.get(c, [])) for c in sorted(wanted)
    }
    verdicts: list[ItemVerdict] = []
    for pack in packs:
        done: dict[str, ItemVerdict] = {}
        for item in sorted(pack.items, key=lambda i: i.rollup is not None):
            severity = Severity(severity_overrides.get(item.id, item.severity))
            if item.manual:
                verdict = _manual(pack, item, severity, attestations, today)
            elif item.rollup:
                verdict = _rollup(pack, item, severity, done)
            else:
                assert item.evidence is not None
                r = _combine(item.evidence, results)
                status, reason = r.status, r.reason
                if (
                    status is VerdictStatus.PASS
                    and item.min_strength
                    and (r.strength is None or r.strength.rank < item.min_strength.rank)
                ):
                    status = VerdictStatus.UNKNOWN
                    reason = (
                        f"evidence passes but is only {r.strength or 'unrated'}; "
                        f"this item needs {item.min_strength} evidence ({reason})"
                    )
                verdict = ItemVerdict(
                    pack.name, item.id, status, severity, reason, r.observations, r.strength, r.errored
                )
            done[item.id] = waive(verdict) if waive and verdict.status is VerdictStatus.FAIL else verdict
        verdicts.extend(done[i.id] for i in pack.items)
    return verdicts, results


def gate_failures(
    verdicts: Sequence[ItemVerdict], threshold: Severity | None, require_attestations: bool
) -> list[ItemVerdict]:
    """The items that fail the CI gate: failing, errored, or (go-live) unattested at/above threshold."""
    if threshold is None:
        return []
    out = []
    for v in verdicts:
        if v.severity.rank < threshold.rank:
            continue
        if (
            v.status is VerdictStatus.FAIL
            or (v.errored and v.status is not VerdictStatus.PASS)
            or (require_attestations and v.status is VerdictStatus.MANUAL)
        ):
            out.append(v)
    return out
