"""The history half of the secrets probe: every line ever added on any ref, scanned with the same rules.

A history that cannot be walked completely (a dangling ref, a corrupt commit, a timeout) is ``unknown`` with
the reason, never a clean pass.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

from readiness import subprocesses
from readiness.model import Check, Status, Subject
from readiness.probe import ProbeContext

from .secret_rules import scan_text

HISTORY_CLEAN = Check(
    id="secrets.history_clean",
    title="No credential was ever committed to git history",
    rationale="A secret removed in a later commit is still in every clone of the history.",
    remediation="Rotate the credential; rewrite history (git filter-repo) only after rotating.",
    when_absent=Status.UNKNOWN,
)

HISTORY_TIMEOUT = 900  # seconds for one git command over the history


def _git(root: Path, *args: str) -> subprocess.Popen:
    return subprocesses.popen(
        ["git", "-C", str(root), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=HISTORY_TIMEOUT
    )


def git_run(root: Path, *args: str) -> subprocess.CompletedProcess:
    try:
        return subprocesses.run(["git", "-C", str(root), *args], text=True, timeout=HISTORY_TIMEOUT)
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(args, -1, "", f"git {args[0]} did not finish within {HISTORY_TIMEOUT} s")
    except OSError as exc:
        return subprocess.CompletedProcess(args, -1, "", f"cannot run git: {exc.strerror or exc}")


def _added_lines(stream) -> Iterator[tuple[str, str, int, str]]:
    """(commit, path, line number, text) of added lines in a ``git log -p`` stream."""
    commit = path = ""
    new_line = 0
    for raw in stream:
        line = raw.decode("utf-8", errors="replace").rstrip("\n")
        if line.startswith("commit "):
            commit = line.split()[1]
        elif line.startswith("+++ "):
            path = line[6:] if line.startswith("+++ b/") else ""
        elif line.startswith("@@"):
            m = re.search(r"\+(\d+)", line)
            new_line = int(m.group(1)) if m else 0
        elif line.startswith("+") and path:
            yield commit, path, new_line, line[1:]
            new_line += 1
        elif line.startswith(" "):
            new_line += 1


def _hunks(stream) -> Iterator[tuple[str, str, int, str]]:
    """Runs of consecutive added lines, (commit, path, first line, text): a private key spans many lines and
    is fingerprinted by its whole body."""
    run: list[str] = []
    key: tuple[str, str, int] | None = None
    for commit, path, no, text in _added_lines(stream):
        if key and (commit, path) == key[:2] and no == key[2] + len(run):
            run.append(text)
            continue
        if key and run:
            yield key[0], key[1], key[2], "\n".join(run)
        key, run = (commit, path, no), [text]
    if key and run:
        yield key[0], key[1], key[2], "\n".join(run)


def _scan_log(ctx: ProbeContext, root: Path, args: tuple[str, ...], found: dict, key: bytes):
    proc = _git(root, "log", "-p", "--no-color", "--no-renames", "--format=commit %H", "--diff-filter=AM", *args)
    try:
        for commit, path, no, text in _hunks(proc.stdout):
            for f in scan_text(text, no, key, path=path):
                found.setdefault((f.fingerprint, path), (commit, f))
        proc.stdout.close()
        err = proc.stderr.read().decode(errors="replace")
        rc = proc.wait()
    finally:
        subprocesses.finish(proc)
    if proc.timed_out:  # type: ignore[attr-defined]
        return -1, f"git log did not finish within {HISTORY_TIMEOUT} s"
    return rc, err


def scan_history(ctx: ProbeContext, root: Path, ignores: dict[str, str], key: bytes = b""):
    """Added lines of every commit on all refs, newest first and at most ``history_max_commits`` of them;
    commit by commit when the one-shot log fails on a missing blob."""
    found: dict = {}
    limit = ctx.settings.get("history_max_commits")
    cap = (f"--max-count={int(limit)}",) if limit else ()
    rc, err = _scan_log(ctx, root, ("--all", *cap), found, key)
    unreadable: list[str] = []
    if rc != 0:
        found.clear()
        revs = git_run(root, "rev-list", "--all", *cap)
        if revs.returncode != 0:
            # Not every ref can be walked (a dangling ref, a corrupt commit): what was scanned proves nothing.
            reason = (revs.stderr.strip().splitlines() or [f"exit code {revs.returncode}"])[-1][:200]
            ctx.gap(Subject(name="git history"), f"cannot list the commits of every ref: {reason}")
            yield ctx.observe(
                HISTORY_CLEAN.id,
                Status.UNKNOWN,
                Subject(),
                f"history not scanned: git cannot walk every ref ({reason})",
                production=True,
            )
            return
        for commit in revs.stdout.split():
            crc, cerr = _scan_log(ctx, root, ("-1", commit), found, key)
            if crc != 0:
                unreadable.append(commit)
                ctx.gap(Subject(name=commit), f"commit not readable: {cerr.strip()[:200]}")
    skipped = 0
    if limit:
        total = git_run(root, "rev-list", "--all", "--count")
        skipped = max(0, int(total.stdout.strip() or 0) - int(limit)) if total.returncode == 0 else 0
        if skipped:
            reason = f"history_max_commits={limit}: the {skipped} oldest commit(s) were not scanned"
            ctx.gap(Subject(name="git history"), reason)
    for (fp, path), (commit, f) in sorted(found.items(), key=lambda kv: (kv[0][1], kv[1][1].line)):
        facts = {"rule": f.rule, "fingerprint": fp, "masked": f.masked, "commit": commit}
        subject = Subject(path=path, line=f.line, name=commit[:12])
        if fp in ignores:
            yield ctx.observe(
                HISTORY_CLEAN.id,
                Status.NOT_APPLICABLE,
                subject,
                f"{f.rule} waived: {ignores[fp]}",
                facts={**facts, "waived": True, "reason": ignores[fp]},
                production=True,
            )
        else:
            yield ctx.observe(
                HISTORY_CLEAN.id,
                Status.FAIL,
                subject,
                f"{f.rule} ({f.masked}) in commit {commit[:12]}",
                facts=facts,
                production=True,
            )
    if unreadable:
        yield ctx.observe(
            HISTORY_CLEAN.id,
            Status.UNKNOWN,
            Subject(),
            f"{len(unreadable)} commit(s) could not be read (shallow or partial clone)",
            facts={"unreadable_commits": unreadable[:50]},
            production=True,
        )
    elif not found and skipped:
        message = f"no credential in the newest {limit} commits; {skipped} older commit(s) not scanned"
        yield ctx.observe(HISTORY_CLEAN.id, Status.UNKNOWN, Subject(), message, production=True)
    elif not found:
        yield ctx.observe(
            HISTORY_CLEAN.id, Status.PASS, Subject(), "no credential in the added lines of any commit", production=True
        )
