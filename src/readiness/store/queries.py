"""The questions the store answers: status, history, period, diff. Each returns an ``Answer``.

Runs are ordered by (finished, report digest), never by row id, so two stores holding the same reports
(pushed in any order, by any number of writers) give the same answers.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from sqlalchemy import Engine, and_, func, or_, select, true

from .errors import StoreError
from .schema import item_results, runs

SEVERITIES = ("critical", "high", "medium", "low")
STATUSES = ("pass", "fail", "unknown", "not_applicable", "manual")
# What holds an item over a period: it passed, or it did not apply (no Dockerfile: no root container).
HELD = ("pass", "not_applicable")


@dataclass
class Table:
    heading: str
    columns: list[str]
    rows: list[list[Any]]


@dataclass
class Answer:
    """``data`` is the JSON answer; ``tables`` what text and Markdown show of it."""

    title: str
    data: dict
    tables: list[Table] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def iso(value: dt.datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: str) -> dt.datetime:
    """A date or an ISO timestamp, as naive UTC (a date means its midnight)."""
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise StoreError(f"{value!r}: not a date (YYYY-MM-DD) or ISO timestamp") from exc
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(dt.UTC).replace(tzinfo=None)
    return parsed


def _run_ref(row: Any) -> dict:
    return {"run": row.run_id, "report_digest": row.report_digest, "commit": row.commit, "finished": iso(row.finished)}


def _series_key(row: Any) -> tuple[str, str]:
    return (row.repository, row.deployment or "")


_RUN_COLUMNS = (
    runs.c.id.label("run_id"),
    runs.c.repository,
    runs.c.deployment,
    runs.c.commit,
    runs.c.finished,
    runs.c.report_digest,
)
_ITEM_COLUMNS = (
    item_results.c.pack,
    item_results.c.item,
    item_results.c.status,
    item_results.c.severity,
    item_results.c.errored,
)


class Verdict(NamedTuple):
    """One item's result in one run, with the run's facts."""

    run_id: int
    repository: str
    deployment: str | None
    commit: str | None
    finished: dt.datetime
    report_digest: str
    pack: str
    item: str
    status: str
    severity: str
    errored: bool


def _verdicts(engine: Engine, run_filter, item_filter=None) -> list[Verdict]:
    """Runs and their item results in two queries: each run's columns (and its timestamp, parsed per row on
    SQLite) are read once, not once per item. Both read one snapshot: SQLite's transaction holds the lock, and
    PostgreSQL's is REPEATABLE READ, so a push landing in between cannot split a run from its items."""
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        by_id = {r.run_id: tuple(r) for r in conn.execute(select(*_RUN_COLUMNS).where(run_filter))}
        query = select(item_results.c.run_id, *_ITEM_COLUMNS).where(
            item_results.c.run_id.in_(select(runs.c.id).where(run_filter))
        )
        if item_filter is not None:
            query = query.where(item_filter)
        return [Verdict(*by_id[row[0]], *row[1:]) for row in conn.execute(query) if row[0] in by_id]


def _latest_runs(repository: str | None = None):
    rank = (
        func.row_number()
        .over(
            partition_by=(runs.c.repository, runs.c.deployment),
            order_by=(runs.c.finished.desc(), runs.c.report_digest.desc()),
        )
        .label("rank")
    )
    ranked = select(runs.c.id, rank)
    if repository:
        ranked = ranked.where(runs.c.repository == repository)
    ranked = ranked.subquery()
    return select(ranked.c.id).where(ranked.c.rank == 1)


def status(engine: Engine, repository: str | None = None, show_all: bool = False) -> Answer:
    """The latest run of each repository (and deployment) and its verdict per item, with a summary by severity."""
    rows = _verdicts(engine, runs.c.id.in_(_latest_runs(repository)))
    rows.sort(key=lambda r: (*_series_key(r), r.pack, r.item))
    summary = {s: dict.fromkeys(STATUSES, 0) for s in SEVERITIES}
    repos: dict[tuple[str, str], dict] = {}
    for r in rows:
        summary[r.severity][r.status] += 1
        key = _series_key(r)
        if key not in repos:
            repos[key] = {"repository": r.repository, "deployment": r.deployment, **_run_ref(r), "items": []}
        entry = repos[key]
        entry["items"].append(
            {"pack": r.pack, "item": r.item, "status": r.status, "severity": r.severity, "errored": r.errored}
        )
    answer = Answer(
        "Latest verdict per repository and item", {"summary": summary, "repositories": list(repos.values())}
    )
    answer.tables.append(
        Table(
            "Summary by severity (latest run of each repository)",
            ["severity", *STATUSES],
            [[s, *summary[s].values()] for s in SEVERITIES],
        )
    )
    answer.tables.append(
        Table(
            "Repositories",
            ["repository", "deployment", "commit", "finished", "pass", "fail", "unknown"],
            [
                [
                    e["repository"],
                    e["deployment"] or "",
                    (e["commit"] or "")[:12],
                    e["finished"],
                    *(sum(1 for i in e["items"] if i["status"] == s) for s in ("pass", "fail", "unknown")),
                ]
                for e in repos.values()
            ],
        )
    )
    shown_rows = [
        [
            e["repository"],
            e["deployment"] or "",
            i["item"],
            i["severity"],
            i["status"] + (" (errored)" if i["errored"] else ""),
        ]
        for e in repos.values()
        for i in e["items"]
        if show_all or i["status"] == "fail" or i["errored"]
    ]
    answer.tables.append(
        Table(
            "Items" if show_all else "Failing or errored items",
            ["repository", "deployment", "item", "severity", "status"],
            shown_rows,
        )
    )
    return answer


def _item_runs(engine: Engine, item: str, repository: str | None, where=None) -> list[Verdict]:
    conditions = [c for c in (runs.c.repository == repository if repository else None, where) if c is not None]
    rows = _verdicts(engine, and_(true(), *conditions), item_results.c.item == item)
    rows.sort(key=lambda r: (*_series_key(r), r.pack, r.finished, r.report_digest))
    return rows


def history(engine: Engine, item: str, repository: str | None = None, since: str | None = None) -> Answer:
    """When ``item`` changed status, per repository (and deployment), with the commits where it did."""
    where = runs.c.finished >= parse_time(since) if since else None
    rows = _item_runs(engine, item, repository, where)
    series: dict[tuple[str, str, str], dict] = {}
    for r in rows:
        entry = series.setdefault(
            (*_series_key(r), r.pack),
            {"repository": r.repository, "deployment": r.deployment, "pack": r.pack, "runs": 0, "changes": []},
        )
        entry["runs"] += 1
        changes = entry["changes"]
        if changes and changes[-1]["status"] == r.status:
            changes[-1]["runs"] += 1
            changes[-1]["last_seen"] = iso(r.finished)
            continue
        changes.append(
            {"status": r.status, "severity": r.severity, **_run_ref(r), "runs": 1, "last_seen": iso(r.finished)}
        )
    answer = Answer(f"History of {item}", {"item": item, "since": since, "series": list(series.values())})
    answer.tables.append(
        Table(
            f"Changes of {item}" + (f" since {since}" if since else ""),
            ["repository", "deployment", "status", "from (run finished)", "commit", "runs", "last seen"],
            [
                [
                    s["repository"],
                    s["deployment"] or "",
                    c["status"],
                    c["finished"],
                    (c["commit"] or "")[:12],
                    c["runs"],
                    c["last_seen"],
                ]
                for s in series.values()
                for c in s["changes"]
            ],
        )
    )
    if not rows:
        answer.notes.append(f"no run in the store records {item}" + (f" since {since}" if since else ""))
    return answer


def _baseline_runs(start: dt.datetime, repository: str | None):
    """The latest run at or before ``start`` of each repository and deployment: the state when the period opens."""
    rank = (
        func.row_number()
        .over(
            partition_by=(runs.c.repository, runs.c.deployment),
            order_by=(runs.c.finished.desc(), runs.c.report_digest.desc()),
        )
        .label("rank")
    )
    ranked = select(runs.c.id, rank).where(runs.c.finished <= start)
    if repository:
        ranked = ranked.where(runs.c.repository == repository)
    ranked = ranked.subquery()
    return select(ranked.c.id).where(ranked.c.rank == 1)


def period(
    engine: Engine,
    start_text: str,
    end_text: str,
    repository: str | None = None,
    item: str | None = None,
    max_interval_hours: float | None = None,
    show_all: bool = False,
) -> Answer:
    """For each repository and item: held (pass or not applicable) continuously from start to end, or the gaps,
    with the runs that prove it."""
    start, end = parse_time(start_text), parse_time(end_text)
    if end <= start:
        raise StoreError(f"--to {end_text} is not after --from {start_text}")
    run_filter = or_(
        and_(runs.c.finished > start, runs.c.finished <= end), runs.c.id.in_(_baseline_runs(start, repository))
    )
    if repository:
        run_filter = and_(run_filter, runs.c.repository == repository)
    rows = _verdicts(engine, run_filter, item_results.c.item == item if item else None)
    rows.sort(key=lambda r: (*_series_key(r), r.pack, r.item, r.finished, r.report_digest))
    by_item: dict[tuple, list[Any]] = defaultdict(list)
    repo_runs: dict[tuple[str, str], dict[str, dict]] = defaultdict(dict)
    for r in rows:
        by_item[(*_series_key(r), r.pack, r.item)].append(r)
        if r.report_digest not in repo_runs[_series_key(r)]:
            repo_runs[_series_key(r)][r.report_digest] = _run_ref(r)
    max_interval = dt.timedelta(hours=max_interval_hours) if max_interval_hours else None
    results = [_judge_period(series, start, end, max_interval) for series in by_item.values()]
    repositories = [
        {
            "repository": key[0],
            "deployment": key[1] or None,
            "runs": sorted(refs.values(), key=lambda ref: (ref["finished"], ref["report_digest"])),
        }
        for key, refs in sorted(repo_runs.items())
    ]
    continuous = sum(1 for r in results if r["continuous"])
    answer = Answer(
        f"Period {iso(start)} to {iso(end)}",
        {
            "from": iso(start),
            "to": iso(end),
            "max_interval_hours": max_interval_hours,
            "summary": {"items": len(results), "continuously_passing": continuous},
            "repositories": repositories,
            "items": results,
        },
    )
    answer.notes.append(f"{continuous} of {len(results)} (repository, item) pairs passed continuously")
    answer.tables.append(
        Table(
            "Items" if show_all else "Items not continuously passing",
            ["repository", "deployment", "item", "severity", "continuous", "runs", "gaps"],
            [
                [
                    r["repository"],
                    r["deployment"] or "",
                    r["item"],
                    r["severity"],
                    "yes" if r["continuous"] else "no",
                    r["runs"],
                    "; ".join(f"{g['from']}..{g['to']} {g['status']}" for g in r["gaps"]),
                ]
                for r in results
                if show_all or not r["continuous"]
            ],
        )
    )
    return answer


def _judge_period(series: list[Any], start: dt.datetime, end: dt.datetime, max_interval: dt.timedelta | None) -> dict:
    """Walk one item's runs in time order. A gap is a stretch not proven held: a run that neither passed nor found
    the item not applicable (until the next run that did), the opening before any evidence, or more than
    ``max_interval`` between two runs."""
    first = series[0]
    gaps: list[dict] = []
    if first.finished > start:
        gaps.append({"from": iso(start), "to": iso(first.finished), "status": "no_evidence", "run": None})
    open_gap: dict | None = None
    previous_time = max(first.finished, start)
    for r in series:
        moment = max(r.finished, start)
        if max_interval and moment - previous_time > max_interval and open_gap is None:
            gaps.append({"from": iso(previous_time), "to": iso(moment), "status": "stale", "run": None})
        previous_time = moment
        if r.status not in HELD and open_gap is None:
            open_gap = {"from": iso(moment), "to": None, "status": r.status, "run": _run_ref(r)}
            gaps.append(open_gap)
        elif r.status in HELD and open_gap is not None:
            open_gap["to"] = iso(moment)
            open_gap = None
    if open_gap is not None:
        open_gap["to"] = iso(end)
    elif max_interval and end - previous_time > max_interval:
        gaps.append({"from": iso(previous_time), "to": iso(end), "status": "stale", "run": None})
    baseline = first if first.finished <= start else None
    return {
        "repository": first.repository,
        "deployment": first.deployment,
        "pack": first.pack,
        "item": first.item,
        "severity": series[-1].severity,
        "continuous": not gaps,
        "runs": sum(1 for r in series if r.finished > start),
        "opening_run": _run_ref(baseline) if baseline else None,
        "gaps": gaps,
    }


def _resolve(conn, repository: str, ref: str) -> Any:
    query = select(*_RUN_COLUMNS).where(runs.c.repository == repository)
    if re.fullmatch(r"#?\d+", ref) and not re.fullmatch(r"[0-9a-f]{7,64}", ref):
        found = conn.execute(query.where(runs.c.id == int(ref.lstrip("#")))).all()
    elif re.fullmatch(r"[0-9a-f]{4,64}", ref):
        found = conn.execute(query.where(runs.c.commit.startswith(ref, autoescape=True))).all()
        commits = {r.commit for r in found}
        if len(commits) > 1:
            raise StoreError(f"{ref}: ambiguous in {repository} (commits {', '.join(sorted(c[:12] for c in commits))})")
    else:
        raise StoreError(f"{ref}: neither a run id nor a commit (hex)")
    if not found:
        raise StoreError(f"{ref}: no run of {repository} with that run id or commit")
    return max(found, key=lambda r: (r.finished, r.report_digest))


def diff(engine: Engine, repository: str, ref_a: str, ref_b: str) -> Answer:
    """Items whose status or evidence differ between two runs (by run id, or the latest run of a commit)."""
    with engine.connect() as conn:
        run_a, run_b = _resolve(conn, repository, ref_a), _resolve(conn, repository, ref_b)
        fetch = select(*_ITEM_COLUMNS, item_results.c.evidence_digest)
        items_a = {(r.pack, r.item): r for r in conn.execute(fetch.where(item_results.c.run_id == run_a.run_id))}
        items_b = {(r.pack, r.item): r for r in conn.execute(fetch.where(item_results.c.run_id == run_b.run_id))}
    changes, unchanged = [], 0
    for key in sorted(items_a.keys() | items_b.keys()):
        a, b = items_a.get(key), items_b.get(key)
        if a and b and a.status == b.status and a.evidence_digest == b.evidence_digest:
            unchanged += 1
            continue
        changes.append(
            {
                "pack": key[0],
                "item": key[1],
                "severity": (b or a).severity,
                "a": a.status if a else None,
                "b": b.status if b else None,
                "evidence_changed": bool(a and b and a.evidence_digest != b.evidence_digest),
            }
        )
    answer = Answer(
        f"{repository}: {ref_a} -> {ref_b}",
        {
            "repository": repository,
            "a": _run_ref(run_a),
            "b": _run_ref(run_b),
            "changes": changes,
            "unchanged": unchanged,
        },
    )
    answer.tables.append(
        Table(
            f"Changed items ({unchanged} unchanged)",
            ["item", "severity", "A", "B", "evidence"],
            [
                [
                    c["item"],
                    c["severity"],
                    c["a"] or "(absent)",
                    c["b"] or "(absent)",
                    "changed" if c["evidence_changed"] else "",
                ]
                for c in changes
            ],
        )
    )
    return answer
