"""`readiness attest`: a named person in a role records an attestation for a manual item.

The entry is appended to the repository's attestations file (``.readiness/attestations.yaml``
unless the config names another), keeping the file's comments and order, so that the change is a
small diff reviewed like code. The same rules as the audit apply before anything is written: the
item exists and is manual, the role is the item's, and the expiry is within its maximum validity.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import click
import yaml

from . import attestation_signing, attestations, dsse
from . import config as config_mod
from .attestations import ALLOWED_STATUS, AttestationError
from .policy import Item, builtin_pack_names, load_packs, with_max_validity


def _item(item_id: str, pack_names: list[str], max_days: int | None = None) -> Item:
    packs = with_max_validity(load_packs(list(dict.fromkeys([*pack_names, *builtin_pack_names()]))), max_days)
    item = next((i for p in packs for i in p.items if i.id == item_id), None)
    if item is None:
        raise AttestationError(f"{item_id}: no item of that id in any policy pack (see: readiness list)")
    if item.manual is None:
        raise AttestationError(f"{item_id} is decided by {item.kind}, not by attestation; only manual items are")
    return item


def _entry_yaml(entry: dict[str, str], indent: int) -> str:
    block = yaml.safe_dump([entry], sort_keys=False, allow_unicode=True, default_flow_style=False)
    return "".join(" " * indent + line + "\n" for line in block.splitlines())


def _appended(text: str, entry: dict[str, str], source: str) -> str:
    """``text`` with ``entry`` added at the end of its ``attestations`` list, comments kept."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        raise AttestationError(f"{source}: not valid YAML, nothing written: {str(exc).splitlines()[0]}") from exc
    if root is None:
        return text + ("" if text.endswith("\n") or not text else "\n") + "attestations:\n" + _entry_yaml(entry, 2)
    if not isinstance(root, yaml.MappingNode):
        raise AttestationError(f"{source}: expected a mapping with an 'attestations' list, nothing written")
    keys = [k.value for k, _ in root.value]
    if "attestations" not in keys:
        return text + ("" if text.endswith("\n") else "\n") + "attestations:\n" + _entry_yaml(entry, 2)
    node = root.value[keys.index("attestations")][1]
    last = keys.index("attestations") == len(keys) - 1
    empty = (isinstance(node, yaml.ScalarNode) and node.value in ("", "~", "null")) or (
        isinstance(node, yaml.SequenceNode) and not node.value
    )
    if last and empty:  # `attestations:` or `attestations: []`: the value becomes a block list
        return text[: node.start_mark.index].rstrip().removesuffix(":") + ":\n" + _entry_yaml(entry, 2)
    if not last or not isinstance(node, yaml.SequenceNode) or node.flow_style:
        raise AttestationError(
            f"{source}: the 'attestations' list must be the file's last key, in block style, "
            "for an entry to be appended; nothing written"
        )
    return text + ("" if text.endswith("\n") else "\n") + _entry_yaml(entry, node.start_mark.column)


def record(
    root: Path,
    item_id: str,
    role: str,
    name: str,
    *,
    status: str = "pass",
    date: dt.date | None = None,
    expires: dt.date | None = None,
    evidence: str | None = None,
    config_path: Path | None = None,
    today: dt.date | None = None,
    sign_key: Path | None = None,
) -> tuple[Path, attestations.Attestation, dt.date]:
    """Append one attestation; return the file, the entry as the audit reads it, and its expiry."""
    today = today or dt.date.today()
    cfg = config_mod.load(root, config_path)
    item = _item(item_id, list(cfg.policies), cfg.attestation_max_days)
    assert item.manual is not None
    if role.strip().casefold() != item.manual.role.casefold():
        raise AttestationError(f"{item_id} is attested by the {item.manual.role}, not by {role!r}")
    if status not in ALLOWED_STATUS:
        raise AttestationError(f"status must be one of {', '.join(ALLOWED_STATUS)}")
    date = date or today
    latest = date + dt.timedelta(days=item.manual.valid_days)
    if date > today:
        raise AttestationError(f"date {date.isoformat()} is in the future")
    if expires and not date <= expires <= latest:
        raise AttestationError(
            f"expires must be between {date.isoformat()} and {latest.isoformat()} "
            f"(this item's maximum validity is {item.manual.valid_days} days)"
        )
    entry = {"item": item_id, "status": status, "name": name, "role": item.manual.role, "date": date.isoformat()}
    if expires:
        entry["expires"] = expires.isoformat()
    if evidence:
        entry["evidence"] = evidence
    if sign_key is not None:
        entry["signature"] = attestation_signing.signature(
            attestations.parse_entry(entry), dsse.load_private_key(sign_key)
        )
    path = root / cfg.attestations
    existed = path.exists()
    before = path.read_text(encoding="utf-8") if existed else ""
    after = _appended(before, entry, cfg.attestations)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(after, encoding="utf-8")
    # read back as the audit will: the entry must be there and count
    loaded = attestations.load(root, cfg.attestations)
    written = loaded.entries[-1] if loaded and not loaded.problem and loaded.entries else None
    if written is not None:
        keys = attestation_signing.load_keys(root, cfg)
        why_sig, signed_by = attestation_signing.why_not(written, item, keys)
        written = dataclasses.replace(written, problem=written.problem or why_sig, signed_by=signed_by)
    why = "not read back" if written is None else attestations.judge(written, item, today)
    if written is None or why:
        if existed:
            path.write_text(before, encoding="utf-8")
        else:
            path.unlink()  # refused: leave no empty file behind
        raise AttestationError(f"{cfg.attestations}: the new entry would not count ({why}); nothing written")
    return path, written, attestations.expiry(written, item) or latest


@click.command("attest")
@click.argument("item_id", metavar="ITEM")
@click.option("--role", required=True, help="The role the item names (readiness list shows it).")
@click.option("--by", "name", required=True, metavar="NAME", help="The person who vouches for the item.")
@click.option("--status", type=click.Choice(ALLOWED_STATUS), default="pass", show_default=True)
@click.option("--date", "on", type=click.DateTime(["%Y-%m-%d"]), help="When it was checked (default: today).")
@click.option(
    "--expires", type=click.DateTime(["%Y-%m-%d"]), help="Until when (default and maximum: the item's validity)."
)
@click.option("--evidence", metavar="URL", help="Where the proof is (a review, a report, a ticket).")
@click.option("--path", "root", type=click.Path(path_type=Path, file_okay=False), default=".", show_default=True)
@click.option("--config", "config_path", type=click.Path(path_type=Path), help="Config file naming the file.")
@click.option(
    "--sign-key",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Sign the entry with this Ed25519 private key (PEM), listed for the role in attestation_signing.keys.",
)
def attest_command(
    item_id: str,
    role: str,
    name: str,
    status: str,
    on: dt.datetime | None,
    expires: dt.datetime | None,
    evidence: str | None,
    root: Path,
    config_path: Path | None,
    sign_key: Path | None,
) -> int:
    """Record an attestation for a manual ITEM in the repository's attestations file."""
    path, att, until = record(
        root,
        item_id,
        role,
        name,
        status=status,
        date=on.date() if on else None,
        expires=expires.date() if expires else None,
        evidence=evidence,
        config_path=config_path,
        sign_key=sign_key,
    )
    signed = f", signed by key {att.signed_by[:16]}…" if att.signed_by else (", signed" if att.signature else "")
    click.echo(f"{path}: {att.item} attested {att.status} by {att.name} ({att.role}) until {until}{signed}", err=True)
    return 0
