"""Attestations count only when well-formed, in the right role, dated, and not expired."""

from __future__ import annotations

import datetime as dt

import pytest

from readiness.attestations import load
from readiness.config import ConfigError
from readiness.evaluate import evaluate
from readiness.model import VerdictStatus
from readiness.policy import parse_pack

PACK = """
pack: demo
version: 1
title: Demo
attestation_valid_days: 30
sections: [{id: "1", title: One}]
items:
  - {id: d.pentest, title: Pentest, section: "1", severity: high, manual: {role: Security Officer}}
  - {id: d.train, title: Training, section: "1", severity: low, manual: {role: Security Officer, valid_days: 365}}
"""
TODAY = dt.date.today()


def verdict(tmp_path, text: str, item: str = "d.pentest"):
    (tmp_path / ".readiness").mkdir(exist_ok=True)
    (tmp_path / ".readiness/attestations.yaml").write_text(text)
    atts = load(tmp_path, ".readiness/attestations.yaml")
    out, _ = evaluate([parse_pack(PACK, "demo")], [], set(), {}, atts.entries if atts else [], {}, TODAY)
    return {v.item_id: v for v in out}[item], atts


def entry(**over) -> str:
    base = {
        "item": "d.pentest",
        "status": "pass",
        "name": "Ada Example",
        "role": "Security Officer",
        "date": (TODAY - dt.timedelta(days=3)).isoformat(),
        "evidence": "https://wiki.invalid/pentest-2026",
    }
    base.update(over)
    body = "\n".join(f"    {k}: {v}" for k, v in base.items() if v is not None)
    return "attestations:\n  - " + body.strip() + "\n"


def test_valid_attestation_passes_with_expiry(tmp_path):
    v, _ = verdict(tmp_path, entry())
    assert v.status is VerdictStatus.PASS
    assert v.attestation["name"] == "Ada Example"
    assert v.attestation["expires"] == (TODAY + dt.timedelta(days=27)).isoformat()


def test_attested_fail_is_a_fail(tmp_path):
    v, _ = verdict(tmp_path, entry(status="fail"))
    assert v.status is VerdictStatus.FAIL


def test_expired_by_default_validity(tmp_path):
    v, _ = verdict(tmp_path, entry(date=(TODAY - dt.timedelta(days=40)).isoformat()))
    assert v.status is VerdictStatus.MANUAL
    assert "expired on" in v.reason


def test_item_validity_overrides_pack_default(tmp_path):
    v, _ = verdict(tmp_path, entry(item="d.train", date=(TODAY - dt.timedelta(days=40)).isoformat()), "d.train")
    assert v.status is VerdictStatus.PASS


def test_explicit_expiry_in_the_past(tmp_path):
    v, _ = verdict(tmp_path, entry(expires=(TODAY - dt.timedelta(days=1)).isoformat()))
    assert "expired" in v.reason and v.status is VerdictStatus.MANUAL


def test_future_date_wrong_role_and_malformed_do_not_count(tmp_path):
    v, _ = verdict(tmp_path, entry(date=(TODAY + dt.timedelta(days=2)).isoformat()))
    assert "in the future" in v.reason
    v, _ = verdict(tmp_path, entry(role="Developer"))
    assert "needs 'Security Officer'" in v.reason
    v, _ = verdict(tmp_path, entry(name=None))
    assert "missing name" in v.reason
    v, _ = verdict(tmp_path, entry(date="last tuesday"))
    assert "not an ISO date" in v.reason
    v, _ = verdict(tmp_path, entry(status="done"))
    assert "status must be one of" in v.reason
    assert v.status is VerdictStatus.MANUAL


def test_unparsable_file_is_a_configuration_error_naming_the_line(tmp_path):
    # Who signed what cannot be read: the audit stops with exit 2 rather than go on as if nobody had.
    with pytest.raises(ConfigError, match=r"^\.readiness/attestations\.yaml: not valid YAML at line 2"):
        verdict(tmp_path, "attestations: [unclosed\n")


def test_duplicate_key_in_an_attestation_is_refused_by_name_and_line(tmp_path):
    text = "attestations:\n  - item: d.pentest\n    status: fail\n    status: pass\n"
    with pytest.raises(ConfigError, match=r"duplicate key 'status' \(first at line 3\).*\(line 4\)"):
        verdict(tmp_path, text)


def test_file_that_is_not_a_mapping_is_reported_not_fatal(tmp_path):
    v, atts = verdict(tmp_path, "- just a list\n")
    assert atts.problem == "expected a mapping with an 'attestations' list"
    assert v.status is VerdictStatus.MANUAL


def test_attestations_outside_the_repository_are_refused(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    (tmp_path / "outside.yaml").write_text(entry())
    with pytest.raises(ConfigError, match="outside the audited repository"):
        load(repo, "../outside.yaml")
