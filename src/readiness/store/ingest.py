"""Record one audit (the JSON evidence bundle) as a run with its item results.

A run is keyed by the sha256 of the report's canonical JSON, so pushing the same report twice, from two
processes at once, or reformatted, records one run. The run row is inserted with ON CONFLICT DO NOTHING (both
SQLite and PostgreSQL), and its items in the same transaction: a run is never visible without its items.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
from sqlalchemy import Engine, select
from sqlalchemy.dialects import postgresql, sqlite

from .errors import StoreError
from .schema import item_results, runs


@dataclass(frozen=True)
class PushResult:
    run_id: int
    report_digest: str
    created: bool
    items: int


def canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sha256(value: Any) -> str:
    return hashlib.sha256(canonical(value)).hexdigest()


@cache
def _evidence_schema() -> dict:
    return json.loads(resources.files("readiness").joinpath("schema/evidence.schema.json").read_text("utf-8"))


def read_report(path: Path) -> dict:
    """Load and validate an evidence bundle; a clear StoreError for anything else."""
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise StoreError(f"{path}: cannot read: {exc.strerror}") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise StoreError(f"{path}: not JSON ({exc})") from exc
    validator = jsonschema.Draft202012Validator(_evidence_schema())
    error = jsonschema.exceptions.best_match(validator.iter_errors(report))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "(top)"
        raise StoreError(f"{path}: not a readiness evidence bundle: at {where}: {error.message[:200]}")
    return report


def _timestamp(value: str) -> dt.datetime:
    return dt.datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ")  # naive UTC, as stored


def default_repository(report: dict) -> str:
    git = report["target"].get("git") or {}
    return Path(git.get("toplevel") or report["target"]["path"]).name or report["target"]["path"]


def report_deployment(report: dict) -> str | None:
    """The deployment the report says it audited, when it says one (a name, or an object with a name)."""
    value = report.get("deployment")
    if isinstance(value, dict):
        value = value.get("name")
    return value if isinstance(value, str) and value else None


def item_rows(report: dict) -> list[dict]:
    observations = {o["index"]: {k: v for k, v in o.items() if k != "index"} for o in report["observations"]}
    rows = []
    for item in report["items"]:
        evidence = {
            "status": item["status"],
            "reason": item["reason"],
            "strength": item["strength"],
            "errored": item["errored"],
            "attestation": item["attestation"],
            "observations": [observations.get(i) for i in item["observations"]],
        }
        rows.append(
            {
                "pack": item["pack"],
                "item": item["id"],
                "status": item["status"],
                "severity": item["severity"],
                "errored": item["errored"],
                "evidence_digest": sha256(evidence),
            }
        )
    return rows


def run_row(report: dict, repository: str | None, deployment: str | None, signature: str | None) -> dict:
    git = report["target"].get("git") or {}
    return {
        "report_digest": sha256(report),
        "repository": repository or default_repository(report),
        "commit": git.get("commit"),
        "dirty": git.get("dirty"),
        "deployment": deployment or report_deployment(report),
        "started": _timestamp(report["started"]),
        "finished": _timestamp(report["finished"]),
        "tool_version": report["tool"]["version"],
        "pack_versions": ",".join(f"{p['name']}@{p['version']}:{p['sha256'][:12]}" for p in report["packs"]),
        "gate_passed": report["gate"]["passed"],
        "signature": signature,
        "pushed_at": dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0),
    }


def push(
    engine: Engine,
    report: dict,
    repository: str | None = None,
    deployment: str | None = None,
    signature: str | None = None,
) -> PushResult:
    """Record ``report`` (already validated); idempotent on the report digest."""
    row = run_row(report, repository, deployment, signature)
    items = item_rows(report)
    dialect_insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
    with engine.begin() as conn:
        inserted = conn.execute(
            dialect_insert(runs)
            .values(**row)
            .on_conflict_do_nothing(index_elements=["report_digest"])
            .returning(runs.c.id)
        ).scalar()
        if inserted is None:
            existing = conn.execute(select(runs.c.id).where(runs.c.report_digest == row["report_digest"])).scalar_one()
            return PushResult(existing, row["report_digest"], False, len(items))
        if items:
            conn.execute(item_results.insert(), [{"run_id": inserted, **r} for r in items])
    return PushResult(inserted, row["report_digest"], True, len(items))
