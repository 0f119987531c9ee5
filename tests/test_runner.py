"""The runner makes silence, crashes and unreadable inputs explicit, never a pass."""

from __future__ import annotations

import re

import pytest

from readiness import runner
from readiness.config import Config
from readiness.model import Check, Status, Subject
from readiness.probe import Claim, Probe

PACK = """
pack: t
version: 1
title: T
sections: [{id: "1", title: One}]
items:
  - {id: t.a, title: A, section: "1", severity: critical, evidence: {all: [toy.a]}}
  - {id: t.b, title: B, section: "1", severity: critical, evidence: {all: [toy.b]}}
"""


class ToyProbe(Probe):
    name = "toy"
    version = "1"
    claims = (
        Claim(("*.toy",), checks=("toy.a",)),
        Claim(("*.yaml",), sniff=re.compile(rb"kind: Toy"), checks=("toy.b",)),
    )
    checks = (
        Check("toy.a", "A", "r", "fix", when_absent=Status.FAIL),
        Check("toy.b", "B", "r", "fix"),
    )

    def run(self, ctx):
        for art in ctx.artifacts:
            if art.path.endswith(".toy"):
                yield ctx.observe("toy.a", Status.PASS, Subject(path=art.path), "fine")
        # toy.b is never observed on purpose: silence must not pass


@pytest.fixture
def audit_with_toy(monkeypatch, tmp_path):
    monkeypatch.setattr(runner, "load_probes", lambda: [ToyProbe])
    (tmp_path / "pack.yaml").write_text(PACK)

    def run(root, **config):
        report = runner.audit(root, Config(max_file_size=100, **config), policies=[str(tmp_path / "pack.yaml")])
        return report, {v.item_id: v for v in report.verdicts}

    return run


def test_absent_kind_takes_when_absent_and_silence_is_unknown(audit_with_toy, tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    report, items = audit_with_toy(repo)
    assert items["t.a"].status == "fail" and "no artifact of this kind" in items["t.a"].reason
    (repo / "x.toy").write_text("ok\n")
    report, items = audit_with_toy(repo)
    assert items["t.a"].status == "pass"
    assert items["t.b"].status == "unknown" and "reported nothing" in items["t.b"].reason


def test_unreadable_claimed_file_errors_only_the_checks_it_feeds(audit_with_toy, tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "big.toy").write_text("x" * 500)
    report, items = audit_with_toy(repo)
    assert items["t.a"].status == "unknown" and items["t.a"].errored
    assert "skipped: too large" in items["t.a"].reason
    assert not items["t.b"].errored


def test_unsniffable_file_is_a_coverage_gap_not_an_error(audit_with_toy, tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "x.toy").write_text("ok\n")
    (repo / "vendored.yaml").write_text("kind: Toy\n" + "x" * 500)
    report, items = audit_with_toy(repo)
    assert not items["t.b"].errored
    gaps = [g for g in report.gaps if g.subject.path == "vendored.yaml"]
    assert gaps and "cannot tell whether it is a toy artifact" in gaps[0].reason


def test_non_production_only_does_not_decide(audit_with_toy, tmp_path):
    repo = tmp_path / "repo"
    (repo / "tests").mkdir(parents=True)
    (repo / "tests/x.toy").write_text("ok\n")
    report, items = audit_with_toy(repo)
    assert items["t.a"].status == "fail"
    assert "only non-production files: tests/x.toy" in items["t.a"].reason
