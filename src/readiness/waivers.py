"""Waivers: a person accepts a failing finding or item, for a reason, until a date.

Two sources. Inline, next to the finding: ``readiness:ignore=<check-id>[,<check-id>] <reason>`` in a
comment (``#``, ``//``, ``--`` or ``<!-- -->``; only the last in Markdown, outside code fences) on the
finding's line or the line above; a finding with no line (about a whole file) is waived from anywhere
in its file. And the waiver file (``.readiness/waivers.yaml``): entries naming a ``check``, an
``item`` or a secret's ``fingerprint``, narrowed by ``path`` (gitignore-style) or ``resource``, with a
``reason``, an ``approver`` and an ``expires`` date that is required and at most ``waivers.max_days``
ahead; ``digest`` pins an entry to the sha256 of the file ``path`` names, so it lapses when that changes.

A waived failure is kept with status ``waived`` and the waiver that accepts it; it no longer fails
its check. A waiver that does not count (expired, stale, naming an unknown check or item, without a
reason) changes nothing and is reported as an error; one that matches nothing as unused. A malformed
file stops the audit (``ConfigError``, exit 2), as a malformed config does.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import fnmatch
import functools
import hashlib
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from . import safe_load
from .config import Config, ConfigError, validate
from .model import ItemVerdict, Observation, Status, VerdictStatus
from .probe import WAIVER_MARK
from .yaml_lines import LineList

MARKER = WAIVER_MARK.decode()  # Files notes which files hold it as the probes read them
_IDS = r"(?P<ids>[A-Za-z0-9_][A-Za-z0-9_.\-]*(?:,[A-Za-z0-9_][A-Za-z0-9_.\-]*)*)"
INLINE = re.compile(r"(?:#|//|--|<!--)\s*" + re.escape(MARKER) + _IDS + r"(?P<rest>.*)$")
MARKDOWN_INLINE = re.compile(r"<!--\s*" + re.escape(MARKER) + _IDS + r"(?P<rest>.*?)-->")
MARKDOWN = (".md", ".markdown", ".rst", ".adoc")
FENCE = re.compile(r"^\s*(```|~~~)")

_TEXT = {"type": "string", "minLength": 1}
SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["waivers"],
    "properties": {
        "version": {"const": 1},
        "waivers": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["reason", "approver", "expires"],
                "properties": {
                    "check": _TEXT,
                    "item": _TEXT,
                    "fingerprint": _TEXT,
                    "path": _TEXT,
                    "resource": _TEXT,
                    "digest": {"type": "string", "pattern": "^(sha256:)?[0-9a-f]{64}$"},
                    "reason": _TEXT,
                    "approver": _TEXT,
                    "expires": {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"},
                },
            },
        },
    },
}


@dataclass
class Waiver:
    source: str  # "inline" (a comment in the audited file) or "file" (the waiver file)
    where: str  # file:line of the waiver itself
    reason: str
    checks: tuple[str, ...] = ()
    item: str | None = None
    path: str | None = None
    resource: str | None = None
    fingerprint: str | None = None
    digest: str | None = None
    approver: str | None = None
    expires: dt.date | None = None
    file: str = ""  # inline: the file it sits in
    line: int = 0
    problem: str | None = None  # why it does not count; None when it does
    uses: int = 0

    def record(self) -> dict[str, Any]:
        """What a waived observation or item carries: which waiver, and on whose word."""
        rec: dict[str, Any] = {"source": self.source, "where": self.where, "reason": self.reason}
        if self.approver:
            rec["approver"] = self.approver
        if self.expires:
            rec["expires"] = self.expires.isoformat()
        return rec

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "where": self.where,
            "checks": list(self.checks),
            "item": self.item,
            "path": self.path,
            "resource": self.resource,
            "fingerprint": self.fingerprint,
            "digest": self.digest,
            "reason": self.reason,
            "approver": self.approver,
            "expires": self.expires.isoformat() if self.expires else None,
            "uses": self.uses,
            "problem": self.problem,
        }

    def describe(self) -> str:
        what = self.item or ", ".join(self.checks) or f"fingerprint {self.fingerprint}"
        return f"{self.where}: {what}"


@dataclass
class Waivers:
    file: str | None  # the waiver file, relative to the audited root, when there is one
    max_days: int
    entries: list[Waiver] = dataclasses.field(default_factory=list)

    def problems(self) -> list[Waiver]:
        return [w for w in self.entries if w.problem]

    def unused(self) -> list[Waiver]:
        return [w for w in self.entries if not w.problem and not w.uses]

    def waived_observations(self) -> int:
        return sum(w.uses for w in self.entries if not w.item)

    def to_json(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "max_days": self.max_days,
            "problems": len(self.problems()),
            "unused": len(self.unused()),
            "entries": [w.to_json() for w in self.entries],
        }

    # -- applying ------------------------------------------------------------------------------------

    def apply(self, observations: Sequence[Observation]) -> list[Observation]:
        """The observations with each failure a counting waiver accepts made ``waived`` (same order)."""
        inline: dict[str, list[Waiver]] = {}
        listed: list[Waiver] = []
        for w in self.entries:
            if w.problem or w.item:
                continue
            (inline.setdefault(w.file, []) if w.source == "inline" else listed).append(w)
        out = []
        for o in observations:
            if o.status is Status.FAIL:
                w = next((w for w in inline.get(o.subject.path or "", ()) if _inline_matches(w, o)), None)
                w = w or next((w for w in listed if _matches(w, o)), None)
                if w is not None:
                    w.uses += 1
                    o = dataclasses.replace(o, status=Status.WAIVED, waiver=w.record())
            out.append(o)
        return out

    def item_hook(self, observations: Sequence[Observation]) -> Callable[[ItemVerdict], ItemVerdict]:
        """For ``evaluate``: a failing item that an item waiver accepts becomes waived."""
        by_item: dict[str, list[Waiver]] = {}
        for w in self.entries:
            if w.item and not w.problem:
                by_item.setdefault(w.item, []).append(w)

        def waive(v: ItemVerdict) -> ItemVerdict:
            failing = [observations[i] for i in v.observations if observations[i].status is Status.FAIL]
            for w in by_item.get(v.item_id, ()):
                if (w.path or w.resource) and not (failing and all(_where_matches(w, o) for o in failing)):
                    continue
                w.uses += 1
                reason = f"waived ({w.where}): {w.reason}; it fails: {v.reason}"
                return dataclasses.replace(v, status=VerdictStatus.WAIVED, reason=reason, waiver=w.record())
            return v

        return waive

    def scan_inline(self, root: Path, paths: Iterable[str], max_bytes: int, known_checks: set[str]) -> None:
        """Add the inline waivers written in ``paths`` (the files the probes read that hold the marker)."""
        marker = MARKER.encode()
        for rel in sorted(set(paths)):
            try:
                data = safe_load.read_bounded(root / rel, max_bytes)
            except OSError:
                continue
            if marker not in data:
                continue
            markdown = rel.lower().endswith(MARKDOWN)
            fenced = False
            for no, line in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
                if markdown and FENCE.match(line):
                    fenced = not fenced
                m = (MARKDOWN_INLINE.search(line) if not fenced else None) if markdown else INLINE.search(line)
                if m:
                    self.entries.append(_inline(rel, no, m, known_checks))


def _inline(rel: str, no: int, m: re.Match[str], known_checks: set[str]) -> Waiver:
    reason = m.group("rest").strip()
    reason = reason.removesuffix("-->").removesuffix("*/").strip()
    checks = tuple(dict.fromkeys(m.group("ids").split(",")))
    w = Waiver("inline", f"{rel}:{no}", reason, checks=checks, file=rel, line=no)
    unknown = [c for c in checks if c not in known_checks]
    if unknown:
        w.problem = f"no check {', '.join(unknown)} (see: readiness list)"
    elif not reason:
        w.problem = "no reason given: a waiver says why"
    return w


def _inline_matches(w: Waiver, o: Observation) -> bool:
    s = o.subject
    if o.check not in w.checks:
        return False
    if s.line is None:
        return True  # a finding about the whole file: the comment may be anywhere in it
    return s.line - 1 <= w.line <= (s.end_line or s.line)


def _where_matches(w: Waiver, o: Observation) -> bool:
    s = o.subject
    if w.path is not None:
        if not s.path:
            return False
        if not _spec(w.path).match_file(s.path):
            return False
    if w.resource is not None:
        names = [n for n in (s.name, s.endpoint) if n]
        if not any(fnmatch.fnmatchcase(n, w.resource) for n in names):
            return False
    return True


@functools.lru_cache(maxsize=256)
def _spec(glob: str) -> Any:
    import pathspec  # here: only audits with path waivers need it

    return pathspec.GitIgnoreSpec.from_lines([glob])


def _matches(w: Waiver, o: Observation) -> bool:
    if w.checks and o.check not in w.checks:
        return False
    if w.fingerprint is not None and o.facts.get("fingerprint") != w.fingerprint:
        return False
    return _where_matches(w, o)


# -- loading the waiver file ----------------------------------------------------------------------------


def _plain(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: _plain(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_plain(v) for v in data]
    if isinstance(data, dt.date):  # YAML reads an unquoted date as a date
        return data.isoformat()
    return data


def load(
    root: Path,
    config: Config,
    known_checks: set[str],
    known_items: set[str],
    today: dt.date,
) -> Waivers:
    """The waiver file's entries, judged on ``today``; an empty set when there is no file.

    Raises ``ConfigError`` when the file cannot be read or does not have the expected shape."""
    rel = config.waivers_file
    out = Waivers(None, config.waiver_max_days)
    path = root / rel
    if not path.exists() and not path.is_symlink():
        return out
    if not path.resolve().is_relative_to(root.resolve()):
        raise ConfigError(f"{rel}: outside the audited repository (waivers are reviewed with the code)")
    try:
        raw = safe_load.read_bounded(path, safe_load.CONFIG_MAX_BYTES).decode("utf-8-sig")
        data = safe_load.load_yaml(raw, safe_load.CONFIG_LIMITS)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"{rel}: {safe_load.describe_error(exc)}") from None
    except ValueError as exc:  # a scalar YAML reads as a date but no calendar has (2026-02-30)
        raise ConfigError(f"{rel}: not a date: {exc}") from None
    entries = data.get("waivers") if isinstance(data, dict) else None
    lines = [entries.item_line(i) for i in range(len(entries))] if isinstance(entries, LineList) else []
    plain = _plain(data)
    validate(plain, SCHEMA, rel)
    out.file = rel
    for i, raw_entry in enumerate(plain["waivers"]):
        where = f"{rel}:{lines[i]}" if i < len(lines) and lines[i] else f"{rel} entry {i + 1}"
        out.entries.append(_entry(root, config, raw_entry, where, known_checks, known_items, today))
    return out


def _entry(
    root: Path, config: Config, e: dict[str, Any], where: str, checks: set[str], items: set[str], today: dt.date
) -> Waiver:
    named = [k for k in ("check", "item") if k in e]
    if len(named) > 1:
        raise ConfigError(f"{where}: name a check or an item, not both")
    if not named and "fingerprint" not in e:
        raise ConfigError(f"{where}: name a check, an item or a secret's fingerprint")
    if "item" in e and "fingerprint" in e:
        raise ConfigError(f"{where}: a fingerprint waives a finding, not an item: use check")
    if "digest" in e and ("path" not in e or any(c in e["path"] for c in "*?[")):
        raise ConfigError(f"{where}: digest pins one file: give its path, without wildcards")
    try:
        expires = dt.date.fromisoformat(e["expires"])
    except ValueError:
        raise ConfigError(f"{where}: expires is not a date (YYYY-MM-DD)") from None
    w = Waiver(
        "file",
        where,
        e["reason"],
        checks=(e["check"],) if "check" in e else (),
        item=e.get("item"),
        path=e.get("path"),
        resource=e.get("resource"),
        fingerprint=e.get("fingerprint"),
        digest=e["digest"].removeprefix("sha256:") if "digest" in e else None,
        approver=e["approver"],
        expires=expires,
    )
    latest = today + dt.timedelta(days=config.waiver_max_days)
    if w.checks and w.checks[0] not in checks:
        w.problem = f"no check {w.checks[0]} (see: readiness list)"
    elif w.item and w.item not in items:
        w.problem = f"no item {w.item} in any policy pack (see: readiness list)"
    elif expires < today:
        w.problem = f"expired on {expires.isoformat()}"
    elif expires > latest:
        w.problem = (
            f"expires {expires.isoformat()}, beyond the maximum validity of {config.waiver_max_days} days "
            f"(at most {latest.isoformat()}; waivers.max_days in .readiness.yaml)"
        )
    elif w.digest:
        w.problem = _stale(root, w.path or "", w.digest, config.max_file_size)
    return w


def _stale(root: Path, rel: str, digest: str, max_bytes: int) -> str | None:
    try:
        data = safe_load.read_bounded(root / rel, max_bytes)
    except OSError as exc:
        return f"stale: the file it pins, {rel}, cannot be read ({exc})"
    now = hashlib.sha256(data).hexdigest()
    if now != digest:
        return f"stale: {rel} changed since the waiver was approved (sha256 now {now[:16]}…, pinned {digest[:16]}…)"
    return None
