"""An audit compared with an earlier one: which failing findings are new, fixed or unchanged.

The earlier audit is a JSON evidence report (``--baseline FILE``) or the git merge base of HEAD and a
ref, audited in a temporary worktree with the same configuration (``--base REF``). A finding is a
failing (or waived) production observation of a check the selected packs use; it is identified as
SARIF identifies it (``partialFingerprints``): the check, path, endpoint, resource name and message,
without the line, so moving a finding is not fixing it and adding another; repeats are numbered.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import safe_load, subprocesses
from .config import ConfigError
from .model import Status
from .report import SCHEMA_ID, AuditReport

MAX_BASELINE_BYTES = 1024**3
GIT_TIMEOUT = 600.0
FINDING_STATUSES = ("fail", "waived")


class BaselineError(ConfigError):
    """The baseline cannot be used (not a readiness report, another schema, no merge base): exit 2."""


@dataclass(frozen=True)
class Finding:
    fingerprint: str
    check: str
    subject: Mapping[str, Any]
    message: str
    waived: bool
    items: tuple[str, ...] = ()
    index: int | None = None  # in the current report's observations

    def describe(self) -> str:
        s = self.subject
        where = s.get("endpoint") or s.get("path") or "(repository)"
        if s.get("path") and s.get("line") and not s.get("endpoint"):
            where += f":{s['line']}"
        where += f" [{s['name']}]" if s.get("name") else ""
        return f"{self.check}: {where}: {self.message}"

    def to_json(self) -> dict[str, Any]:
        return {
            "fingerprint": self.fingerprint,
            "check": self.check,
            "subject": dict(self.subject),
            "message": self.message,
            "waived": self.waived,
            "items": list(self.items),
        }


@dataclass(frozen=True)
class Prior:
    source: str  # the file, or "merge base of HEAD and REF"
    commit: str | None
    findings: list[Finding]


@dataclass(frozen=True)
class Comparison:
    source: str
    commit: str | None
    new: list[Finding]
    fixed: list[Finding]
    unchanged: list[Finding]

    def items_with_new(self) -> set[str]:
        """The items a new, unwaived finding fails: what ``--fail-on-new`` gates on."""
        return {i for f in self.new if not f.waived for i in f.items}

    def states(self) -> dict[int, str]:
        """``new`` or ``unchanged`` by index of the current report's observations (findings only)."""
        out = {f.index: "unchanged" for f in self.unchanged if f.index is not None}
        return out | {f.index: "new" for f in self.new if f.index is not None}

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "commit": self.commit,
            "new": [f.to_json() for f in self.new],
            "fixed": [f.to_json() for f in self.fixed],
            "unchanged": [f.to_json() for f in self.unchanged],
        }


def _digest(check: str, subject: Mapping[str, Any], message: str) -> str:
    where = [subject.get(k) or "" for k in ("path", "endpoint", "name")]
    key = "\0".join([check, *where, message])
    return hashlib.sha256(key.encode()).hexdigest()


def _numbered(raw: Iterable[tuple[str, Mapping[str, Any], str, bool, tuple[str, ...], int | None]]) -> list[Finding]:
    seen: dict[str, int] = {}
    out = []
    for check, subject, message, waived, items, index in raw:
        digest = _digest(check, subject, message)
        seen[digest] = seen.get(digest, 0) + 1
        out.append(Finding(f"{digest}:{seen[digest]}", check, subject, message, waived, items, index))
    return out


def _users(packs: Iterable[tuple[str, Iterable[str]]]) -> dict[str, tuple[str, ...]]:
    users: dict[str, list[str]] = {}
    for item_id, checks in packs:
        for c in dict.fromkeys(checks):
            users.setdefault(c, []).append(item_id)
    return {c: tuple(ids) for c, ids in users.items()}


def findings(report: AuditReport) -> list[Finding]:
    """The current audit's findings, in observation order (the order SARIF numbers repeats in)."""
    users = _users((i.id, i.evidence.checks() if i.evidence else ()) for p in report.packs for i in p.items)
    return _numbered(
        (o.check, o.subject.to_json(), o.message, o.status is Status.WAIVED, users[o.check], n)
        for n, o in enumerate(report.observations)
        if o.production and o.status in (Status.FAIL, Status.WAIVED) and o.check in users
    )


def _findings_of(data: dict[str, Any]) -> list[Finding]:
    users = _users((str(i.get("id")), i.get("checks") or ()) for i in data["items"])
    return _numbered(
        (o["check"], o.get("subject") or {}, o.get("message", ""), o["status"] == "waived", users[o["check"]], None)
        for o in data["observations"]
        if o.get("production") and o.get("status") in FINDING_STATUSES and o.get("check") in users
    )


def load(path: Path) -> Prior:
    """A previous JSON evidence report as a baseline; ``BaselineError`` (one line) when it is not one."""
    try:
        data = safe_load.load_json(safe_load.read_bounded(path, MAX_BASELINE_BYTES).decode("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise BaselineError(f"--baseline {path}: {safe_load.describe_error(exc)}") from None
    if not isinstance(data, dict) or data.get("$schema") != SCHEMA_ID:
        raise BaselineError(f"--baseline {path}: not a readiness JSON report (write one with --format json=FILE)")
    version = str(data.get("schema_version"))
    if not re.fullmatch(r"1\.[0-9]+", version):
        raise BaselineError(f"--baseline {path}: evidence schema version {version[:20]}; this readiness reads 1.x")
    try:
        found = _findings_of(data)
    except (KeyError, TypeError, AttributeError):
        raise BaselineError(f"--baseline {path}: a readiness report without usable observations and items") from None
    commit = ((data.get("target") or {}).get("git") or {}).get("commit")
    return Prior(str(path), commit if isinstance(commit, str) else None, found)


def _git(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    # The repository's hooks and filters never run: checking out the base must not execute its code.
    cmd = ["git", "-c", "core.hooksPath=/dev/null", "-C", str(cwd), *args]
    return subprocesses.run(cmd, timeout=GIT_TIMEOUT, text=True, env={**os.environ, "GIT_LFS_SKIP_SMUDGE": "1"})


def _last_line(done: subprocess.CompletedProcess) -> str:
    return ((done.stderr or "").strip().splitlines() or [f"exit code {done.returncode}"])[-1][:200]


def audit_base(
    root: Path, ref: str, run: Callable[[Path], AuditReport], say: Callable[[str], None] = lambda _msg: None
) -> Prior:
    """Audit the merge base of HEAD and ``ref`` in a temporary worktree (removed whatever happens)."""
    top = _git(root, "rev-parse", "--show-toplevel")
    if top.returncode != 0:
        raise BaselineError(f"--base {ref}: {root} is not in a git repository")
    toplevel = Path(top.stdout.strip())
    base = _git(toplevel, "merge-base", "HEAD", ref)
    if base.returncode != 0:
        raise BaselineError(f"--base {ref}: no merge base of HEAD and {ref} ({_last_line(base)})")
    commit = base.stdout.strip()
    tmp = Path(tempfile.mkdtemp(prefix="readiness-base-"))
    tree = tmp / "base"
    try:
        added = _git(toplevel, "worktree", "add", "--detach", "--quiet", str(tree), commit)
        if added.returncode != 0:
            raise BaselineError(f"--base {ref}: cannot check out {commit[:12]} ({_last_line(added)})")
        sub = tree / root.resolve().relative_to(toplevel.resolve())
        if not sub.is_dir():  # the audited folder is new since the merge base: everything in it is new
            return Prior(f"merge base of HEAD and {ref} (no {sub.relative_to(tree)} there)", commit, [])
        say(f"auditing {commit[:12]}, the merge base of HEAD and {ref}, in a temporary worktree")
        report = run(sub)
    finally:
        _git(toplevel, "worktree", "remove", "--force", str(tree))
        shutil.rmtree(tmp, ignore_errors=True)
        _git(toplevel, "worktree", "prune")
    return Prior(f"merge base of HEAD and {ref}", commit, findings(report))


def compare(report: AuditReport, prior: Prior) -> Comparison:
    current = findings(report)
    before = {f.fingerprint: f for f in prior.findings}
    now = {f.fingerprint for f in current}
    return Comparison(
        prior.source,
        prior.commit,
        new=[f for f in current if f.fingerprint not in before],
        fixed=[f for f in prior.findings if f.fingerprint not in now],
        unchanged=[f for f in current if f.fingerprint in before],
    )
