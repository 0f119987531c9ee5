"""`attestation_max_days` in .readiness.yaml: the configuration caps every attestation's validity."""

from __future__ import annotations

import datetime as dt

from conftest import audit_json, item, run_cli

ITEM, ROLE = "do.pipeline.clear-errors", "Technical Lead"  # the pack allows 90 days


def test_the_configured_cap_is_enforced_by_attest_and_by_the_audit(fixture_repo):
    repo = fixture_repo("compose-hardened")
    (repo / ".readiness.yaml").write_text("attestation_max_days: 30\n")
    today = dt.date.today()
    too_late = (today + dt.timedelta(days=45)).isoformat()
    refused = run_cli("attest", ITEM, "--role", ROLE, "--by", "Ada Example", "--expires", too_late, "--path", repo)
    assert refused.returncode == 2 and "maximum validity is 30 days" in refused.stderr
    done = run_cli("attest", ITEM, "--role", ROLE, "--by", "Ada Example", "--path", repo)
    assert done.returncode == 0 and f"until {today + dt.timedelta(days=30)}" in done.stderr
    _, report = audit_json(repo, "--fail-on", "none")
    assert item(report, ITEM)["status"] == "pass"
    assert item(report, ITEM)["attestation"]["expires"] == (today + dt.timedelta(days=30)).isoformat()
    # an entry written by hand beyond the cap does not count, and says why
    path = repo / ".readiness" / "attestations.yaml"
    path.write_text(
        "attestations:\n"
        f"  - {{item: {ITEM}, status: pass, name: Ada Example, role: {ROLE}, date: '{today}', expires: '{too_late}'}}\n"
    )
    _, report = audit_json(repo, "--fail-on", "none")
    assert item(report, ITEM)["status"] == "manual"
    assert "beyond this item's maximum validity of 30 days" in item(report, ITEM)["reason"]


def test_the_cap_never_lengthens_a_packs_validity(fixture_repo):
    repo = fixture_repo("compose-hardened")
    (repo / ".readiness.yaml").write_text("attestation_max_days: 365\n")
    late = (dt.date.today() + dt.timedelta(days=120)).isoformat()
    refused = run_cli("attest", ITEM, "--role", ROLE, "--by", "Ada Example", "--expires", late, "--path", repo)
    assert refused.returncode == 2 and "maximum validity is 90 days" in refused.stderr
