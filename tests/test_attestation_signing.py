"""Signed attestations: keys per role in .readiness.yaml, `attest --sign-key`, rejection with the reason.

Real Ed25519 keys are generated in tmp_path (outside the audited repository) at test time.
"""

from __future__ import annotations

import datetime as dt
import random

import pytest
import yaml
from conftest import audit_json, item, run_cli

from readiness import attestation_signing, attestations, dsse
from readiness import config as config_mod
from readiness.config import ConfigError
from readiness.policy import builtin_pack_names, load_packs

LEAD_ITEM, LEAD = "do.pipeline.clear-errors", "Technical Lead"
PO_ITEM, PO = "do.appmon.business-metrics", "Product Owner"


@pytest.fixture
def keyed(fixture_repo, tmp_path):
    """A repository whose config lists one public key per role; the private keys stay in tmp_path/keys."""
    repo = fixture_repo("compose-hardened")
    keys = tmp_path / "keys"
    keys.mkdir()
    (repo / ".readiness" / "keys").mkdir(parents=True)
    for who in ("lead", "po"):
        assert run_cli("keygen", "--out", keys / f"{who}.pem").returncode == 0
        (repo / ".readiness" / "keys" / f"{who}.pub").write_bytes((keys / f"{who}.pem.pub").read_bytes())
    config = {"attestation_signing": {"keys": {LEAD: [".readiness/keys/lead.pub"], PO: [".readiness/keys/po.pub"]}}}
    (repo / ".readiness.yaml").write_text(yaml.safe_dump(config))
    return repo, keys


def _require_signed(repo):
    data = yaml.safe_load((repo / ".readiness.yaml").read_text())
    data["attestation_signing"]["required"] = True
    (repo / ".readiness.yaml").write_text(yaml.safe_dump(data))


def _attest(repo, item_id, role, *extra):
    return run_cli("attest", item_id, "--role", role, "--by", "Ada Example", "--path", repo, *map(str, extra))


def _append(repo, entry):
    path = repo / ".readiness" / "attestations.yaml"
    data = yaml.safe_load(path.read_text()) if path.exists() else {"attestations": []}
    data["attestations"].append(entry)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def _entry(item_id, role, key=None):
    entry = {
        "item": item_id,
        "status": "pass",
        "name": "Ada Example",
        "role": role,
        "date": dt.date.today().isoformat(),
    }
    if key is not None:
        entry["signature"] = attestation_signing.signature(attestations.parse_entry(entry), dsse.load_private_key(key))
    return entry


def test_signed_attestation_counts_and_records_the_key(keyed):
    repo, keys = keyed
    _require_signed(repo)
    done = _attest(repo, LEAD_ITEM, LEAD, "--sign-key", keys / "lead.pem")
    assert done.returncode == 0, done.stderr
    assert "signed by key" in done.stderr
    _, report = audit_json(repo, "--fail-on", "none")
    verdict = item(report, LEAD_ITEM)
    assert verdict["status"] == "pass" and verdict["strength"] == "attested"
    public = dsse.load_public_key(keys / "lead.pem.pub")
    assert verdict["attestation"]["signature"] == {"keyid": public.keyid, "verified": True}
    assert report["attestations"]["signing"]["required"] is True
    assert report["attestations"]["signing"]["keys"][LEAD] == [public.keyid]


def test_unsigned_attestation_is_rejected_when_signatures_are_required(keyed):
    repo, keys = keyed
    _require_signed(repo)
    assert _attest(repo, LEAD_ITEM, LEAD).returncode == 2  # attest refuses to write what would not count
    _append(repo, _entry(LEAD_ITEM, LEAD))
    code, report = audit_json(repo, "--fail-on", "low", "--require-attestations")
    verdict = item(report, LEAD_ITEM)
    assert verdict["status"] == "manual" and "not signed" in verdict["reason"]
    assert code == 1 and LEAD_ITEM in report["gate"]["failing_items"]
    [entry] = report["attestations"]["entries"]
    assert "not signed" in entry["problem"]
    text = run_cli("audit", repo, "--fail-on", "none").stdout
    assert "Attestations that do not count:" in text and f"{LEAD_ITEM} by Ada Example: not signed" in text


def test_the_flag_requires_signatures_when_the_config_does_not(keyed):
    repo, keys = keyed
    _append(repo, _entry(LEAD_ITEM, LEAD))
    _, report = audit_json(repo, "--fail-on", "none")
    assert item(report, LEAD_ITEM)["status"] == "pass"  # keys listed, signatures not required: it counts
    code, report = audit_json(repo, "--fail-on", "low", "--require-signed-attestations")
    assert item(report, LEAD_ITEM)["status"] == "manual" and code == 1
    assert report["gate"]["require_attestations"] is True


def test_a_signature_by_another_roles_key_is_rejected(keyed):
    repo, keys = keyed
    _require_signed(repo)
    assert _attest(repo, PO_ITEM, PO, "--sign-key", keys / "lead.pem").returncode == 2
    _append(repo, _entry(PO_ITEM, PO, keys / "lead.pem"))
    _, report = audit_json(repo, "--fail-on", "none")
    verdict = item(report, PO_ITEM)
    assert verdict["status"] == "manual"
    assert f"signed by a key listed for role '{LEAD}', not for '{PO}'" in verdict["reason"]


def test_a_key_listed_nowhere_and_an_edited_entry_are_rejected(keyed, tmp_path):
    repo, keys = keyed
    _require_signed(repo)
    assert run_cli("keygen", "--out", tmp_path / "stranger.pem").returncode == 0
    _append(repo, _entry(LEAD_ITEM, LEAD, tmp_path / "stranger.pem"))
    edited = _entry(PO_ITEM, PO, keys / "po.pem")
    edited["name"] = "Mallory"  # changed after signing
    _append(repo, edited)
    _, report = audit_json(repo, "--fail-on", "none")
    assert "does not list for 'Technical Lead'" in item(report, LEAD_ITEM)["reason"]
    assert "does not verify" in item(report, PO_ITEM)["reason"]
    assert {item(report, i)["status"] for i in (LEAD_ITEM, PO_ITEM)} == {"manual"}


def test_keys_that_are_not_keys_stop_the_audit(keyed):
    repo, keys = keyed
    (repo / ".readiness" / "keys" / "lead.pub").write_text("not a key\n")
    done = run_cli("audit", repo, "--fail-on", "none")
    assert done.returncode == 2 and "attestation_signing.keys" in done.stderr


def _counting(repo, packs, items) -> list[str]:
    """The items an attestation counts for, as the audit decides; [] when the file is refused outright."""
    cfg = config_mod.load(repo)
    try:
        file = attestations.load(repo, cfg.attestations)
        attestations.check_items(file, packs, packs)
    except ConfigError:
        return []
    if file is None or file.problem:
        return []
    file = attestation_signing.apply(file, items, attestation_signing.load_keys(repo, cfg))
    today = dt.date.today()
    return [a.item for a in file.entries if a.item in items and attestations.judge(a, items[a.item], today) is None]


def test_every_flipped_byte_that_changes_a_signed_attestation_is_detected(keyed):
    repo, keys = keyed
    _require_signed(repo)
    assert (
        _attest(repo, LEAD_ITEM, LEAD, "--sign-key", keys / "lead.pem", "--evidence", "https://x.invalid/r").returncode
        == 0
    )
    path = repo / ".readiness" / "attestations.yaml"
    original = path.read_bytes()
    packs = load_packs(builtin_pack_names())
    items = {i.id: i for p in packs for i in p.items}
    assert _counting(repo, packs, items) == [LEAD_ITEM]
    before = yaml.safe_load(original)
    rng = random.Random("tamper-attestation")
    changed = 0
    for _ in range(200):
        data = bytearray(original)
        data[rng.randrange(len(data))] ^= rng.randrange(1, 256)
        path.write_bytes(bytes(data))
        try:
            same = yaml.safe_load(bytes(data).decode("utf-8")) == before
        except (UnicodeDecodeError, yaml.YAMLError):
            same = False
        if same:
            continue  # a flip YAML reads as the same entry (trailing whitespace): nothing was changed
        changed += 1
        assert _counting(repo, packs, items) == [], bytes(data).decode("utf-8", "replace")
    path.write_bytes(original)
    assert changed >= 180 and _counting(repo, packs, items) == [LEAD_ITEM]
