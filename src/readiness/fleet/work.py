"""Audit repositories and push each report to the store: one shard of a fleet, or all of it with a process pool.

A repository that cannot be audited (no checkout, a failed clone, a bad config) is reported and the others go on.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from .. import config as config_mod
from .. import subprocesses
from ..model import Severity
from ..policy import PolicyError
from ..runner import audit
from ..store.engine import StoreError, open_store
from ..store.ingest import push
from .repos import Repository

CLONE_TIMEOUT_S = 600


@dataclass(frozen=True)
class Outcome:
    repository: str
    ok: bool
    message: str


def audit_report(checkout: Path, policies: tuple[str, ...]) -> dict:
    """The JSON evidence bundle of one audit, exactly as `readiness audit --format json` writes it."""
    cfg = config_mod.load(checkout.resolve(), None)
    report = audit(checkout, cfg, list(policies) or None)
    gate = report.gate(Severity.CRITICAL, False)
    return json.loads(json.dumps(report.to_json(gate), default=str))


def _clone(repo: Repository, into: Path) -> Path:
    target = into / "checkout"
    command = ["git", "clone", "--quiet", "--depth", "1", "--no-tags"]
    if repo.ref:
        command += ["--branch", repo.ref]
    # In its own process group with a memory cap, killed with the audit (readiness.subprocesses).
    done = subprocesses.run([*command, "--", repo.url or "", str(target)], text=True, timeout=CLONE_TIMEOUT_S)
    if done.returncode != 0:
        raise StoreError(f"clone failed: {done.stderr.strip().splitlines()[-1] if done.stderr.strip() else 'git'}")
    return target


def audit_and_push(repo: Repository, store_url: str | None) -> Outcome:
    """Audit one repository (its local checkout, else a shallow clone) and record the run."""
    try:
        with tempfile.TemporaryDirectory(prefix="readiness-fleet-") as scratch:
            if repo.path is not None and repo.path.is_dir():
                checkout = repo.path
            elif repo.url:
                checkout = _clone(repo, Path(scratch))
            else:
                raise StoreError(f"no checkout at {repo.path} and no url to clone")
            report = audit_report(checkout, repo.policies)
        result = push(open_store(store_url), report, repo.name, repo.deployment)
    except (StoreError, config_mod.ConfigError, PolicyError, OSError, subprocess.TimeoutExpired) as exc:
        return Outcome(repo.name, False, str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
    except Exception as exc:  # a bug, but one repository's bug: the fleet goes on and says so
        return Outcome(repo.name, False, f"internal error: {type(exc).__name__}: {exc}")
    summary = report["summary"]["by_status"]
    verb = "recorded" if result.created else "already recorded"
    return Outcome(
        repo.name,
        True,
        f"{verb} run {result.run_id}: {summary['pass']} pass, {summary['fail']} fail, {summary['unknown']} unknown",
    )


def run_sequentially(repositories: list[Repository], store_url: str | None) -> list[Outcome]:
    return [audit_and_push(r, store_url) for r in repositories]


def run_pool(repositories: list[Repository], store_url: str | None, jobs: int) -> list[Outcome]:
    """Audit in ``jobs`` worker processes (audits are CPU-bound: threads would share one interpreter lock)."""
    open_store(store_url).dispose()  # create or migrate the schema once, before the workers race to
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        return list(pool.map(audit_and_push, repositories, [store_url] * len(repositories)))
