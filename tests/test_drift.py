"""Checklist drift: a fixture repository whose own documents claim items done that the evidence fails,
items it passes (no drift), unmatched and negated lines (ignored), and a test-input checklist (out of scope)."""

from __future__ import annotations

import json

import jsonschema
import pytest
from conftest import REPO, audit_json, item, run_cli

from readiness import drift as drift_mod
from readiness import runner
from readiness.config import load as load_config

SCHEMA = json.loads((REPO / "src/readiness/schema/evidence.schema.json").read_text())


@pytest.fixture(scope="module")
def audited(tmp_path_factory):
    from make_repo import make_repo

    repo = make_repo("drift-claims", tmp_path_factory.mktemp("drift") / "repo")
    code, report = audit_json(repo, "--fail-on", "none")
    assert code == 0
    return repo, report


def _at(report, path, line):
    return [d for d in report["drift"]["drifts"] if d["path"] == path and d["line"] == line]


def test_claimed_done_items_that_fail_are_reported_with_the_matched_pair(audited):
    _, report = audited
    jsonschema.validate(report, SCHEMA)
    # the evidence fails these: each claim is reported, with the claim, the matched title and the score
    for path, line, item_id in (
        ("docs/checklist.md", 7, "pd.secrets.rotation"),
        ("STATUS.md", 11, "pd.backup.db-automated-tested"),
    ):
        assert item(report, item_id)["status"] == "fail"
        [d] = _at(report, path, line)
        assert d["item"] == item_id and d["scope"] == "item" and d["status"] == "fail"
        assert d["matched"] == item(report, item_id)["title"] and d["score"] >= drift_mod.THRESHOLD
        assert d["reason"] == item(report, item_id)["reason"]


def test_a_section_claimed_complete_claims_its_items(audited):
    _, report = audited
    section = _at(report, "docs/checklist.md", 5)  # "### 1. Secrets Management ✓ Complete"
    failing = {
        i["id"] for i in report["items"] if i["section"]["title"] == "Secrets Management" and i["status"] == "fail"
    }
    assert "pd.secrets.external-manager" in failing  # unticked in the copy, but its section claims it
    # every failing item of the section, except the one claimed on its own line (reported there)
    assert {d["item"] for d in section} == failing - {"pd.secrets.rotation"}
    assert all(d["scope"] == "section" and d["matched"] == "Secrets Management" for d in section)


def test_claims_the_evidence_supports_and_lines_that_match_nothing_are_not_drift(audited):
    _, report = audited
    drift = report["drift"]
    for path, line, item_id in (
        ("docs/checklist.md", 6, "pd.secrets.no-hardcoded-credentials"),
        ("docs/checklist.md", 10, "pd.containers.non-root"),
        ("STATUS.md", 6, "pd.resources.limits"),
        ("STATUS.md", 10, "pd.ops.log-rotation"),
    ):
        assert item(report, item_id)["status"] == "pass"
        assert not _at(report, path, line)
    # "Buy coffee for the on-call team" and "Celebrate the launch" match no item: counted, not matched
    assert drift["claims"] - drift["matched"] == 2
    assert not _at(report, "docs/checklist.md", 13) and not _at(report, "STATUS.md", 7)
    # negated claims (❌, "not done yet") are no claims, though those items fail
    assert item(report, "pd.perftest.load-testing")["status"] == "fail" and not _at(report, "STATUS.md", 8)
    assert item(report, "pd.monitoring.tracing")["status"] == "fail" and not _at(report, "STATUS.md", 12)
    # an unticked line is no claim (it fails, outside any claimed section)
    assert item(report, "pd.database.backup-recovery-tested")["status"] == "fail"
    assert not _at(report, "docs/checklist.md", 14)
    # a checklist under tests/ is test input, not the team's claim
    assert "tests/sample-checklist.md" not in drift["files"]
    assert drift["files"] == ["STATUS.md", "docs/checklist.md"]
    assert {d["status"] for d in drift["drifts"]} == {"fail"}


def test_drift_never_changes_a_verdict(audited, monkeypatch):
    repo, _ = audited
    cfg = load_config(repo)
    with_drift = runner.audit(repo, cfg)
    monkeypatch.setattr(drift_mod, "find", lambda *a, **k: drift_mod.DriftReport())
    without = runner.audit(repo, cfg)
    assert with_drift.drift.drifts and not without.drift.drifts
    assert with_drift.verdicts == without.verdicts


def test_drift_is_shown_in_every_human_format_and_gates_only_when_asked(audited, tmp_path):
    repo, _ = audited
    out = {f: tmp_path / f"r.{f}" for f in ("markdown", "html")}
    done = run_cli("audit", repo, "--fail-on", "none", *[a for f, p in out.items() for a in ("--format", f"{f}={p}")])
    assert done.returncode == 0
    done = run_cli("audit", repo, "--fail-on", "none")
    assert done.returncode == 0
    assert "Checklist drift" in done.stdout and "claimed done in docs/checklist.md:7" in done.stdout
    assert "Checklist drift" in out["markdown"].read_text() and "docs/checklist.md:7" in out["markdown"].read_text()
    assert 'id="drift"' in out["html"].read_text()
    assert "docs/checklist.md:7</code>" in out["html"].read_text()
    gated = run_cli("audit", repo, "--fail-on", "none", "--fail-on-drift", "--quiet")
    assert gated.returncode == 1 and "--fail-on-drift" in gated.stderr


@pytest.mark.parametrize(
    ("line", "claimed"),
    [
        ("[x] Rate limiting configured on nginx", "Rate limiting configured on nginx"),
        ("[X] HSTS headers enabled", "HSTS headers enabled"),
        ("[ ] HSTS headers enabled", None),
        ("HSTS headers enabled ✅", "HSTS headers enabled"),
        ("✓ HSTS headers enabled", "HSTS headers enabled"),
        ("HSTS headers enabled - Done", "HSTS headers enabled"),
        ("HSTS headers enabled (completed)", "HSTS headers enabled"),
        ("**Done**: HSTS headers enabled", "HSTS headers enabled"),
        ("2. Network Security ✓ Complete", "2. Network Security"),
        ("Complete the security review", None),  # an instruction, not a claim
        ("Backups are done weekly", None),
        ("HSTS headers enabled ❌", None),
        ("TODO: HSTS headers enabled ✅", None),
        ("HSTS headers enabled: not done ✅", None),
    ],
)
def test_what_counts_as_a_claim(line, claimed):
    assert drift_mod.claimed_text(line) == claimed
    if claimed:  # the whole-text prefilter never skips a document holding a claim
        assert drift_mod._may_claim(f"# Notes\n\n- {line}\n")


@pytest.mark.parametrize(
    "row", ["| HSTS headers enabled | Done |", "| Done | HSTS headers enabled |", "| HSTS | [x] |"]
)
def test_the_prefilter_keeps_table_claims(row):
    assert drift_mod._may_claim(f"| item | status |\n|---|---|\n{row}\n")


def test_matching_is_conservative():
    from readiness.policy import builtin_pack_names, load_packs

    items, _ = drift_mod._index(load_packs(builtin_pack_names()))
    keys = list(items)
    assert drift_mod._best(drift_mod.normalise("HSTS headers enabled."), keys)[0] == "hsts headers enabled"
    assert drift_mod._best(drift_mod.normalise("enabled HSTS headers"), keys)[0] == "hsts headers enabled"
    assert drift_mod._best(drift_mod.normalise("We turned on HSTS"), keys) is None  # a paraphrase: left out
    assert drift_mod._best(drift_mod.normalise("Done"), keys) is None
