"""Attestations: a named person in a named role vouches for a manual item, until a date.

They live in the audited repository (``.readiness/attestations.yaml`` by
default) so they are reviewed like code. A malformed, future-dated, expired
or wrong-role attestation does not count, and the report says why.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from . import safe_load
from .config import ConfigError
from .policy import Item, Pack
from .yaml_lines import LineList

ALLOWED_STATUS = ("pass", "fail", "not_applicable")
REQUIRED = ("item", "status", "name", "role", "date")


class AttestationError(ConfigError):
    """An attestation that can never count (an unknown or a non-manual item): a usage error, exit 2."""


@dataclass(frozen=True)
class Attestation:
    item: str
    status: str
    name: str
    role: str
    date: dt.date | None
    expires: dt.date | None
    evidence: str | None
    line: int | None
    problem: str | None = None  # why it does not count; None when well-formed
    note: str | None = None
    signature: dict[str, str] | None = None  # {keyid, sig}: a detached DSSE signature (attestation_signing.py)
    signed_by: str | None = None  # the keyid, once the signature verified with a key listed for the role

    def to_json(self) -> dict[str, Any]:
        return {
            "item": self.item,
            "status": self.status,
            "name": self.name,
            "role": self.role,
            "date": self.date.isoformat() if self.date else None,
            "expires": self.expires.isoformat() if self.expires else None,
            "evidence": self.evidence,
            "line": self.line,
            "signature": {"keyid": self.signature["keyid"], "verified": self.signed_by is not None}
            if self.signature
            else None,
        }


@dataclass
class AttestationFile:
    path: str
    entries: list[Attestation]
    problem: str | None = None  # the whole file is unusable


def _as_date(value: Any) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            return None
    return None


def _entry(raw: Any, line: int | None) -> Attestation:
    if not isinstance(raw, dict):
        return Attestation("", "", "", "", None, None, None, line, "entry is not a mapping")
    missing = [k for k in REQUIRED if not raw.get(k)]
    date, expires = _as_date(raw.get("date")), _as_date(raw.get("expires"))
    problem = None
    if missing:
        problem = f"missing {', '.join(missing)}"
    elif str(raw["status"]) not in ALLOWED_STATUS:
        problem = f"status must be one of {', '.join(ALLOWED_STATUS)}"
    elif date is None:
        problem = "date is not an ISO date (YYYY-MM-DD)"
    elif raw.get("expires") is not None and expires is None:
        problem = "expires is not an ISO date (YYYY-MM-DD)"
    unknown = sorted(set(raw) - {*REQUIRED, "expires", "evidence", "note", "signature"})
    if not problem and unknown:
        problem = f"unknown key {', '.join(unknown)}"
    signature = raw.get("signature")
    if signature is not None and not (
        isinstance(signature, dict)
        and set(signature) == {"keyid", "sig"}
        and all(isinstance(v, str) for v in signature.values())
    ):
        problem, signature = problem or "signature must be a mapping of exactly keyid and sig", None
    return Attestation(
        item=str(raw.get("item", "")),
        status=str(raw.get("status", "")),
        name=str(raw.get("name", "")),
        role=str(raw.get("role", "")),
        date=date,
        expires=expires,
        evidence=str(raw["evidence"]) if raw.get("evidence") else None,
        line=line,
        problem=problem,
        note=str(raw["note"]) if raw.get("note") else None,
        signature=dict(signature) if signature else None,
    )


def parse_entry(raw: dict[str, Any]) -> Attestation:
    """One entry as the audit reads it (what a signature covers is computed from this)."""
    return _entry(raw, None)


def load(root: Path, rel: str) -> AttestationFile | None:
    """The attestations file, or None when there is none.

    A file that cannot be used safely (too large, not a regular file, not
    YAML, over the loader's limits, a key written twice) raises ``ConfigError``
    (exit 2, one line, no value quoted): an audit that cannot read who signed
    what must not go on as if nobody had.
    """
    path = root / rel
    if not path.exists() and not path.is_symlink():
        return None
    if not path.resolve().is_relative_to(root.resolve()):
        raise ConfigError(f"{rel}: outside the audited repository (attestations are reviewed with the code)")
    try:
        data = safe_load.load_yaml(
            safe_load.read_bounded(path, safe_load.CONFIG_MAX_BYTES).decode("utf-8-sig"), safe_load.CONFIG_LIMITS
        )
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"{rel}: {safe_load.describe_error(exc)}") from None
    if not isinstance(data, dict) or not isinstance(data.get("attestations"), list):
        return AttestationFile(rel, [], "expected a mapping with an 'attestations' list")
    entries = data["attestations"]
    lines = [entries.item_line(i) if isinstance(entries, LineList) else None for i in range(len(entries))]
    return AttestationFile(rel, [_entry(raw, ln) for raw, ln in zip(entries, lines, strict=True)])


def judge(att: Attestation, item: Item, today: dt.date) -> str | None:
    """Why ``att`` does not count for ``item`` on ``today``; None when it does."""
    if att.problem:
        return att.problem
    assert item.manual is not None and att.date is not None
    if att.role.strip().casefold() != item.manual.role.casefold():
        return f"attested by role {att.role!r}; this item needs {item.manual.role!r}"
    if att.date > today:
        return f"dated {att.date.isoformat()}, in the future"
    latest = att.date + dt.timedelta(days=item.manual.valid_days)
    if att.expires and att.expires > latest:
        return (
            f"expires {att.expires.isoformat()}, beyond this item's maximum validity of "
            f"{item.manual.valid_days} days (at most {latest.isoformat()})"
        )
    expires = att.expires or latest
    if expires < today:
        return f"expired on {expires.isoformat()}"
    return None


def expiry(att: Attestation, item: Item) -> dt.date | None:
    if att.expires or att.date is None or item.manual is None:
        return att.expires
    return att.date + dt.timedelta(days=item.manual.valid_days)


def check_items(file: AttestationFile | None, selected: list[Pack], known: list[Pack]) -> None:
    """Refuse attestations that name no item, or an item that evidence decides: they would never count,
    and silently ignoring them hides a typo in a sign-off. An item of a known pack that is not selected
    in this run is left alone."""
    if file is None:
        return
    items = {i.id: i for p in [*known, *selected] for i in p.items}
    for att in file.entries:
        if not att.item:
            continue  # malformed entries are reported as not counting, with why
        where = f"{file.path} line {att.line}" if att.line else file.path
        item = items.get(att.item)
        if item is None:
            raise AttestationError(f"{where}: no item {att.item} in any policy pack (see: readiness list)")
        if item.manual is None:
            raise AttestationError(
                f"{where}: {att.item} is decided by {item.kind}, not by attestation; only manual items can be attested"
            )
