"""`readiness sign`, `readiness verify`, `readiness keygen`: the JSON evidence as signed, checkable evidence.

The bundle is a DSSE envelope (``dsse.py``) whose payload is an in-toto Statement v1. Its subjects are
the report (sha256 of its bytes) and the audited commit (``gitCommit``); its predicate repeats the
report's digest and lists every artifact the report says was read, with the sha256 the audit saw, so
that ``verify --repo`` can tell which files changed since. Exit codes: 0 all holds, 1 a mismatch (a
signature, a digest, a file, the commit), 2 unusable input (not a bundle, not a key, no report).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import click

from . import __version__, dsse, subprocesses
from .dsse import SigningError

PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://readiness.invalid/attestation/evidence/v1"
REPOSITORY_SUBJECT = "repository"
MAX_REPORT_BYTES = 512 * 1024 * 1024


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _read_bytes(path: Path) -> bytes:
    try:
        if path.stat().st_size > MAX_REPORT_BYTES:
            raise SigningError(f"{path}: larger than {MAX_REPORT_BYTES} bytes; not a readiness report")
        return path.read_bytes()
    except OSError as exc:
        raise SigningError(f"{path}: cannot read the report: {exc.strerror or exc}") from None


def _parse_report(path: Path, data: bytes) -> dict[str, Any]:
    try:
        report = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise SigningError(f"{path}: not JSON (sign the report of `readiness audit --format json=FILE`)") from None
    if not isinstance(report, dict) or not isinstance(report.get("artifacts"), list) or "target" not in report:
        raise SigningError(f"{path}: not a readiness JSON report (no artifacts or target)")
    return report


def _artifacts(report: dict[str, Any]) -> list[dict[str, str]]:
    """The files the report says were read, with their sha256, in the report's order."""
    out = []
    for a in report["artifacts"]:
        if isinstance(a, dict) and isinstance(a.get("path"), str) and isinstance(a.get("sha256"), str):
            out.append({"path": a["path"], "sha256": a["sha256"]})
    return out


def _commit(report: dict[str, Any]) -> tuple[str | None, bool]:
    git = (report.get("target") or {}).get("git") or {}
    return git.get("commit"), bool(git.get("dirty"))


def statement(report_name: str, data: bytes, report: dict[str, Any], now: dt.datetime) -> dict[str, Any]:
    digest = hashlib.sha256(data).hexdigest()
    commit, dirty = _commit(report)
    subjects: list[dict[str, Any]] = [{"name": report_name, "digest": {"sha256": digest}}]
    if commit:
        subjects.append({"name": REPOSITORY_SUBJECT, "digest": {"gitCommit": commit}})
    return {
        "_type": STATEMENT_TYPE,
        "subject": subjects,
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "report": {"name": report_name, "sha256": digest},
            "repository": {"commit": commit, "dirty": dirty},
            "artifacts": _artifacts(report),
            "audit": {
                "tool": report.get("tool"),
                "started": report.get("started"),
                "finished": report.get("finished"),
                "gate": report.get("gate"),
            },
            "signer": {"tool": "readiness", "version": __version__},
            "signed_at": now.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        },
    }


def sign(report_path: Path, key_path: Path, out: Path, now: dt.datetime | None = None) -> dict[str, Any]:
    key = dsse.load_private_key(key_path)
    data = _read_bytes(report_path)
    report = _parse_report(report_path, data)
    stmt = statement(report_path.name, data, report, now or dt.datetime.now(dt.UTC))
    payload = json.dumps(stmt, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    out.write_bytes(dsse.dumps(dsse.envelope(PAYLOAD_TYPE, payload, key)))
    return stmt


@dataclass
class Verification:
    ok: list[str] = field(default_factory=list)
    mismatches: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _statement(opened: dsse.Opened, source: str) -> dict[str, Any]:
    try:
        stmt = json.loads(opened.payload.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise SigningError(f"{source}: the signed payload is not JSON") from None
    if not isinstance(stmt, dict) or stmt.get("_type") != STATEMENT_TYPE:
        raise SigningError(f"{source}: the payload is not an in-toto Statement v1")
    if stmt.get("predicateType") != PREDICATE_TYPE or not isinstance(stmt.get("predicate"), dict):
        raise SigningError(f"{source}: the statement is not readiness evidence ({PREDICATE_TYPE})")
    pred = stmt["predicate"]
    if not isinstance(pred.get("report"), dict) or not isinstance(pred.get("artifacts"), list):
        raise SigningError(f"{source}: the statement names no report or artifacts")
    return stmt


def _safe_path(repo: Path, rel: Any) -> Path | None:
    if not isinstance(rel, str) or not rel:
        return None
    pure = PurePosixPath(rel)
    if pure.is_absolute() or ".." in pure.parts:
        return None
    return repo.joinpath(*pure.parts)


def _head(repo: Path) -> str | None:
    try:
        done = subprocesses.run(["git", "-C", str(repo), "rev-parse", "--verify", "HEAD"], text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def check_repository(stmt: dict[str, Any], repo: Path, result: Verification) -> None:
    pred = stmt["predicate"]
    commit = (pred.get("repository") or {}).get("commit")
    named = [s["digest"]["gitCommit"] for s in stmt["subject"] if "gitCommit" in (s.get("digest") or {})]
    if named != ([commit] if commit else []):
        result.mismatches.append("the statement's commit subject and its predicate disagree")
    if commit:
        head = _head(repo)
        if head == commit:
            result.ok.append(f"commit {commit[:12]} is checked out in {repo}")
        else:
            result.mismatches.append(f"{repo} is at {head or 'no git commit'}, the evidence is of commit {commit}")
    else:
        result.notes.append("the audit recorded no git commit; only the artifacts' digests are checked")
    changed = missing = 0
    for art in pred["artifacts"]:
        path = _safe_path(repo, art.get("path") if isinstance(art, dict) else None)
        if path is None:
            raise SigningError(f"the statement names an artifact outside the repository: {art!r:.80}")
        if not path.resolve().is_relative_to(repo.resolve()):
            changed += 1  # a symlink the audit would not have followed out of the repository
            result.mismatches.append(f"changed: {art['path']} now leads outside the repository")
            continue
        if not path.is_file():
            missing += 1
            result.mismatches.append(f"missing: {art['path']}")
            continue
        try:
            now = _sha256_file(path)
        except OSError as exc:
            missing += 1
            result.mismatches.append(f"unreadable: {art['path']} ({exc.strerror or exc})")
            continue
        if now != art.get("sha256"):
            changed += 1
            result.mismatches.append(
                f"changed: {art['path']} (sha256 {now[:16]}…, the audit read {art['sha256'][:16]}…)"
            )
    if not changed and not missing:
        result.ok.append(f"{len(pred['artifacts'])} artifacts have the sha256 the audit read")


def verify(bundle: Path, keys: list[Path], report_path: Path | None = None, repo: Path | None = None) -> Verification:
    """Check a bundle; raises SigningError when an input is unusable (exit 2)."""
    try:
        data = bundle.read_bytes()
    except OSError as exc:
        raise SigningError(f"{bundle}: cannot read the bundle: {exc.strerror or exc}") from None
    opened = dsse.parse(data, str(bundle))
    public = [dsse.load_public_key(k) for k in keys]
    result = Verification()
    problems = dsse.unverified(opened, public)
    if problems:
        result.mismatches.extend(problems)
        return result  # nothing in an unverified payload is worth reading
    if opened.payload_type != PAYLOAD_TYPE:
        raise SigningError(f"{bundle}: payloadType is {opened.payload_type!r}, not {PAYLOAD_TYPE}")
    result.ok.append(f"signature by key {opened.signatures[0][0][:16]}… verifies ({len(opened.signatures)} in all)")
    stmt = _statement(opened, str(bundle))
    pred = stmt["predicate"]
    name, digest = pred["report"].get("name"), pred["report"].get("sha256")
    subject = [s for s in stmt.get("subject", []) if isinstance(s, dict) and s.get("name") == name]
    if not subject or (subject[0].get("digest") or {}).get("sha256") != digest:
        result.mismatches.append("the statement's report subject and its predicate disagree")
    if report_path is None:
        if not isinstance(name, str) or "/" in name or name in ("", ".", ".."):
            raise SigningError(f"{bundle}: the statement names no usable report file; give --report")
        report_path = bundle.parent / name
    raw = _read_bytes(report_path)
    actual = hashlib.sha256(raw).hexdigest()
    if actual != digest:
        result.mismatches.append(f"{report_path}: sha256 {actual[:16]}… differs from the signed {str(digest)[:16]}…")
        return result
    report = _parse_report(report_path, raw)
    result.ok.append(f"{report_path} has the signed sha256 {actual[:16]}…")
    if _artifacts(report) != pred["artifacts"] or _commit(report)[0] != (pred.get("repository") or {}).get("commit"):
        result.mismatches.append("the report's artifacts or commit differ from the signed statement")
    if _commit(report)[1]:
        result.notes.append("the audited working tree had uncommitted changes (the artifacts' digests bind them)")
    if repo is not None:
        if not repo.is_dir():
            raise SigningError(f"{repo}: not a directory")
        check_repository(stmt, repo, result)
    return result


@click.command("sign")
@click.argument("report", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--key", "key", required=True, type=click.Path(path_type=Path, dir_okay=False), help="Ed25519 private key (PEM)."
)
@click.option(
    "--out", "out", type=click.Path(path_type=Path, dir_okay=False), help="Bundle to write (default: REPORT.dsse.json)."
)
def sign_command(report: Path, key: Path, out: Path | None) -> int:
    """Sign a JSON REPORT: a DSSE envelope holding an in-toto statement of the report and the commit."""
    out = out or report.with_name(report.name.removesuffix(".json") + ".dsse.json")
    stmt = sign(report, key, out)
    pred = stmt["predicate"]
    commit = pred["repository"]["commit"]
    click.echo(
        f"{out}: signed {report.name} (sha256 {pred['report']['sha256'][:16]}…), {len(pred['artifacts'])} artifacts, "
        + (f"commit {commit[:12]}" if commit else "no git commit"),
        err=True,
    )
    if pred["repository"]["dirty"]:
        click.echo("note: the audited tree had uncommitted changes; the artifacts' digests bind them", err=True)
    return 0


@click.command("verify")
@click.argument("bundle", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--key",
    "keys",
    required=True,
    multiple=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="Ed25519 public key (PEM) of the signer; repeatable.",
)
@click.option(
    "--report",
    "report",
    type=click.Path(path_type=Path, dir_okay=False),
    help="The signed report (default: the name the bundle records, beside the bundle).",
)
@click.option(
    "--repo",
    "repo",
    type=click.Path(path_type=Path, file_okay=False),
    help="Also re-hash every artifact the report names here, and check its commit.",
)
def verify_command(bundle: Path, keys: tuple[Path, ...], report: Path | None, repo: Path | None) -> int:
    """Verify a signed BUNDLE: the signature, the report's digest, and with --repo the files and the commit.

    \b
    Exit codes: 0 everything holds; 1 a signature, digest, file or commit does not match;
    2 an input is unusable (not a bundle, not a key, the report is missing).
    """
    result = verify(bundle, list(keys), report, repo)
    for line in result.ok:
        click.echo(f"ok: {line}")
    for line in result.notes:
        click.echo(f"note: {line}")
    for line in result.mismatches:
        click.echo(f"MISMATCH: {line}")
    click.echo("verified" if not result.mismatches else f"NOT verified: {len(result.mismatches)} mismatches")
    return 1 if result.mismatches else 0


@click.command("keygen")
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="Private key file to write (mode 0600).",
)
@click.option(
    "--pub", "pub", type=click.Path(path_type=Path, dir_okay=False), help="Public key file (default: OUT.pub)."
)
def keygen_command(out: Path, pub: Path | None) -> int:
    """Make an Ed25519 key pair (PEM) for `sign` and `attest --sign-key`.

    The private key is encrypted when $READINESS_KEY_PASSPHRASE is set."""
    public = dsse.generate(out, pub or out.with_name(out.name + ".pub"))
    click.echo(
        f"{out}: private key (keep it out of the repository); {public.source}: public key {public.keyid}", err=True
    )
    return 0
