"""Signed attestations: a person's sign-off bound to their Ed25519 key, the keys listed per role.

An entry's ``signature`` is a detached DSSE signature: ``{keyid, sig}`` over
``PAE(PAYLOAD_TYPE, payload)``, the payload being the entry's own fields (item, status, name, role,
date, expires, evidence, note) as canonical JSON, so changing any of them voids it. The public keys
live in ``.readiness.yaml`` under ``attestation_signing.keys``, per role; with
``attestation_signing.required`` (or ``audit --require-signed-attestations``) an attestation counts
only when a key listed for its item's role signed it. A signature that names a listed key but does
not verify never counts, required or not: it is the mark of an edited sign-off.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import dsse
from .attestations import Attestation, AttestationFile
from .config import Config, ConfigError
from .policy import Item

PAYLOAD_TYPE = "application/vnd.readiness.attestation+json"
SIGNED_FIELDS = ("item", "status", "name", "role", "date", "expires", "evidence", "note")


def payload(att: Attestation) -> bytes:
    values = {
        "item": att.item,
        "status": att.status,
        "name": att.name,
        "role": att.role,
        "date": att.date.isoformat() if att.date else None,
        "expires": att.expires.isoformat() if att.expires else None,
        "evidence": att.evidence,
        "note": att.note,
    }
    signed = {k: values[k] for k in SIGNED_FIELDS if values[k] is not None}
    return json.dumps(signed, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def signature(att: Attestation, key: dsse.PrivateKey) -> dict[str, str]:
    return {"keyid": key.public.keyid, "sig": dsse.b64encode(key.sign(dsse.pae(PAYLOAD_TYPE, payload(att))))}


@dataclass(frozen=True)
class RoleKeys:
    required: bool
    keys: dict[str, list[dsse.PublicKey]]  # by role, casefolded
    names: dict[str, str]  # casefolded role -> as the config writes it

    def role_of(self, keyid: str) -> str | None:
        found = next((role for role, keys in self.keys.items() if any(k.keyid == keyid for k in keys)), None)
        return self.names.get(found, found) if found else None


def load_keys(root: Path, config: Config) -> RoleKeys:
    """The keys ``attestation_signing.keys`` lists: a PEM file relative to the repository, or the PEM inline."""
    block = config.attestation_signing
    keys: dict[str, list[dsse.PublicKey]] = {}
    names: dict[str, str] = {}
    for role, entries in (block.get("keys") or {}).items():
        for i, entry in enumerate(entries):
            where = f"attestation_signing.keys.{role}[{i}]"
            try:
                if entry.lstrip().startswith("-----BEGIN"):
                    key = dsse.public_key_from_pem(entry.encode("ascii"), where)
                else:
                    path = root / entry
                    if not path.resolve().is_relative_to(root.resolve()):
                        raise ConfigError(f"{where}: {entry} is outside the repository")
                    key = dsse.load_public_key(path)
            except (dsse.SigningError, UnicodeEncodeError) as exc:
                raise ConfigError(f"{where}: {exc}") from None
            keys.setdefault(role.strip().casefold(), []).append(key)
            names[role.strip().casefold()] = role.strip()
    return RoleKeys(bool(block.get("required")), keys, names)


def why_not(att: Attestation, item: Item, keys: RoleKeys) -> tuple[str | None, str | None]:
    """(why the signature makes ``att`` not count or None, the verified keyid or None)."""
    assert item.manual is not None
    role = item.manual.role.casefold()
    mine = {k.keyid: k for k in keys.keys.get(role, [])}
    sig = att.signature
    if sig is None:
        if keys.required:
            return "not signed; signed attestations are required (readiness attest ... --sign-key KEY)", None
        return None, None
    try:
        raw = dsse.b64decode_canonical(sig["sig"], "signature")
    except dsse.SigningError as exc:
        return f"{exc}", None
    key = mine.get(sig["keyid"])
    if key is None:
        other = keys.role_of(sig["keyid"])
        if other is not None:
            why = f"signed by a key listed for role {other!r}, not for {item.manual.role!r}"
        else:
            why = f"signed by key {sig['keyid'][:16]}…, which .readiness.yaml does not list for {item.manual.role!r}"
        return (why if keys.required or mine else None), None
    if not key.verify(raw, dsse.pae(PAYLOAD_TYPE, payload(att))):
        return f"the signature by key {sig['keyid'][:16]}… does not verify: the entry was changed after signing", None
    return None, key.keyid


def apply(file: AttestationFile | None, items: dict[str, Item], keys: RoleKeys) -> AttestationFile | None:
    """``file`` with each entry's signature judged: a signature problem becomes the entry's problem."""
    if file is None or (not keys.required and not keys.keys):
        return file
    entries = []
    for att in file.entries:
        item = items.get(att.item)
        if att.problem or item is None or item.manual is None:
            entries.append(att)
            continue
        problem, signed_by = why_not(att, item, keys)
        entries.append(dataclasses.replace(att, problem=problem, signed_by=signed_by))
    return dataclasses.replace(file, entries=entries)


def summary(keys: RoleKeys) -> dict[str, Any]:
    return {
        "required": keys.required,
        "keys": {keys.names[role]: [k.keyid for k in ks] for role, ks in sorted(keys.keys.items())},
    }
