"""Query times of the evidence store on a generated estate, at several sizes, extrapolated to 10,000
repositories audited daily for a year.

Usage: python benchmarks/store_scale.py [--sizes 50x30,100x30,100x60,200x60] [--backends sqlite,postgresql]

Each size gets a fresh store (SQLite in a temp dir; PostgreSQL: Debian's server started on a free loopback
port, as the tests do), filled with one run per repository per day over the real items of the built-in
packs. Statuses persist from day to day and flip now and then, as real ones do. Every query runs through the
same functions the CLI calls, three times; the median is kept. Results: bench-out/store_scale.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import Engine, func, select

from readiness.policy import builtin_pack_names, load_packs
from readiness.store import queries
from readiness.store.engine import open_store
from readiness.store.schema import item_results, runs

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "bench-out"
sys.path.insert(0, str(REPO / "tests"))
FULL_REPOS, FULL_DAYS = 10_000, 365
STATUSES = ("pass", "fail", "unknown", "not_applicable", "manual")
FLIP = 0.01  # chance an item's status changes from one day to the next
START = dt.datetime(2026, 1, 1, 3, 0, 0)


def catalogue() -> list[tuple[str, str, str]]:
    return [(p.name, i.id, i.severity.value) for p in load_packs(builtin_pack_names()) for i in p.items]


def _digest(*parts: object) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()


def generate(engine: Engine, repos: int, days: int, items: list[tuple[str, str, str]], rng: random.Random) -> int:
    """One run per repository per day, loaded a day at a time; returns the number of item rows."""
    state = {r: [rng.choice(STATUSES) for _ in items] for r in range(repos)}
    run_id = total = 0
    for day in range(days):
        run_rows, result_rows = [], []
        for r in range(repos):
            run_id += 1
            finished = START + dt.timedelta(days=day, seconds=r)
            run_rows.append(
                {
                    "id": run_id,
                    "report_digest": _digest(r, day),
                    "repository": f"org/repo-{r:05d}",
                    "commit": _digest("commit", r, day // 3)[:40],
                    "dirty": False,
                    "deployment": "production",
                    "started": finished - dt.timedelta(seconds=20),
                    "finished": finished,
                    "tool_version": "0.1.0",
                    "pack_versions": "generated",
                    "gate_passed": True,
                    "signature": None,
                    "pushed_at": finished,
                }
            )
            statuses = state[r]
            for n, (pack, item, severity) in enumerate(items):
                if rng.random() < FLIP:
                    statuses[n] = rng.choice(STATUSES)
                result_rows.append((run_id, pack, item, statuses[n], severity, False, _digest(r, n, statuses[n])))
        with engine.begin() as conn:
            conn.execute(runs.insert(), run_rows)
        _bulk_items(engine, result_rows)
        total += len(result_rows)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
    return total


def _bulk_items(engine: Engine, rows: list[tuple]) -> None:
    columns = ("run_id", "pack", "item", "status", "severity", "errored", "evidence_digest")
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        if engine.dialect.name == "postgresql":
            with cursor.copy(f"COPY item_results ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            cursor.execute("BEGIN IMMEDIATE")
            cursor.executemany(f"INSERT INTO item_results VALUES ({', '.join('?' * len(columns))})", rows)
            cursor.execute("COMMIT")
        raw.commit()
    finally:
        raw.close()


def storage_bytes(engine: Engine) -> dict[str, int]:
    """Heap and index bytes of item_results (PostgreSQL), or of the whole database (SQLite)."""
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            table = conn.exec_driver_sql("SELECT pg_table_size('item_results')").scalar()
            indexes = conn.exec_driver_sql("SELECT pg_indexes_size('item_results')").scalar()
            return {"item_results_table": table, "item_results_indexes": indexes}
        pages = conn.exec_driver_sql("PRAGMA page_count").scalar()
        page_size = conn.exec_driver_sql("PRAGMA page_size").scalar()
    return {"database": pages * page_size}


def timed(call) -> float:
    samples = []
    for _ in range(3):
        begin = time.perf_counter()
        call()
        samples.append(time.perf_counter() - begin)
    return statistics.median(samples)


def measure(engine: Engine, repos: int, days: int) -> dict[str, float]:
    item = "pd.containers.read-only-rootfs"
    repo = f"org/repo-{repos // 2:05d}"
    last = START + dt.timedelta(days=days)
    month = (last - dt.timedelta(days=min(30, days - 1))).isoformat()
    with engine.connect() as conn:
        commits = conn.execute(
            select(runs.c.commit).where(runs.c.repository == repo).order_by(runs.c.finished).limit(days)
        ).scalars()
        commits = list(dict.fromkeys(commits))
    return {
        "status (all repositories)": timed(lambda: queries.status(engine)),
        "status --repo": timed(lambda: queries.status(engine, repo)),
        "history ITEM (all repositories)": timed(lambda: queries.history(engine, item)),
        "history ITEM --repo": timed(lambda: queries.history(engine, item, repo)),
        "period 30 days --repo": timed(lambda: queries.period(engine, month, last.isoformat(), repo)),
        "period 30 days --item (all repositories)": timed(
            lambda: queries.period(engine, month, last.isoformat(), None, item)
        ),
        "diff REPO A B": timed(lambda: queries.diff(engine, repo, commits[0], commits[-1])),
    }


# How each question's work grows: the unit it is linear in, at a measured size and at full scale.
SCALING = {
    "status (all repositories)": ("repositories", lambda repos, days: repos),
    "status --repo": ("runs of one repository", lambda repos, days: days),
    "history ITEM (all repositories)": ("runs", lambda repos, days: repos * days),
    "history ITEM --repo": ("runs of one repository", lambda repos, days: days),
    "period 30 days --repo": ("constant (30 runs x items)", lambda repos, days: 1),
    "period 30 days --item (all repositories)": ("repositories", lambda repos, days: repos),
    "diff REPO A B": ("constant (2 runs x items)", lambda repos, days: 1),
}


def extrapolate(entry: dict) -> dict[str, float]:
    """Seconds at 10,000 repositories x 365 days, linear in each question's unit from ``entry``'s size."""
    return {
        name: seconds * unit(FULL_REPOS, FULL_DAYS) / unit(entry["repos"], entry["days"])
        for name, seconds in entry["query_s"].items()
        for _, unit in [SCALING[name]]
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="50x30,100x30,100x60,200x60", help="REPOSxDAYS,...")
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    items = catalogue()
    results = []
    server = None
    try:
        for backend in args.backends.split(","):
            for size in args.sizes.split(","):
                repos, days = (int(n) for n in size.split("x"))
                if backend == "postgresql":
                    from postgres_service import Postgres
                    from store_service import postgres_database

                    server = server or Postgres.start(strong=False)
                    url = postgres_database(server, f"scale_{repos}_{days}")
                else:
                    url = f"sqlite:///{tempfile.mkdtemp(prefix='readiness-scale-')}/evidence.db"
                engine = open_store(url)
                begin = time.perf_counter()
                rows = generate(engine, repos, days, items, random.Random(days))
                load_s = time.perf_counter() - begin
                with engine.connect() as conn:
                    assert conn.execute(select(func.count()).select_from(item_results)).scalar() == rows
                times = measure(engine, repos, days)
                size = storage_bytes(engine)
                engine.dispose()
                entry = {"backend": backend, "repos": repos, "days": days, "runs": repos * days}
                entry |= {"item_rows": rows, "load_s": round(load_s, 2), "bytes": size, "query_s": times}
                results.append(entry)
                per_row = sum(size.values()) / rows
                print(
                    f"{backend:<10} {repos} repos x {days} days: {rows:,} item rows, loaded in {load_s:.1f}s, "
                    f"{per_row:.0f} bytes per item row with indexes"
                )
                for name, seconds in times.items():
                    print(f"    {name:<42} {seconds * 1000:9.1f} ms")
    finally:
        if server:
            server.stop()
    OUT.mkdir(exist_ok=True)
    full_rows = FULL_REPOS * FULL_DAYS * len(items)
    print(f"\nfull scale: {FULL_REPOS:,} repositories x {FULL_DAYS} days x {len(items)} items = {full_rows:,} rows")
    largest = {}
    for entry in results:
        if entry["item_rows"] >= largest.get(entry["backend"], {}).get("item_rows", 0):
            largest[entry["backend"]] = entry
    for backend, entry in largest.items():
        entry["extrapolated_s"] = extrapolate(entry)
        per_row = sum(entry["bytes"].values()) / entry["item_rows"]
        print(f"{backend}: from {entry['repos']} x {entry['days']}, {per_row * full_rows / 1e9:,.0f} GB of item rows")
        for name, seconds in entry["extrapolated_s"].items():
            print(f"    {name:<42} {seconds:9.1f} s   (linear in {SCALING[name][0]})")
    (OUT / "store_scale.json").write_text(
        json.dumps({"items_per_run": len(items), "full_scale_item_rows": full_rows, "results": results}, indent=2)
    )
    print(f"written: {OUT / 'store_scale.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
