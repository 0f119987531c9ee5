"""docs/checks/<id>.md: one up-to-date page per check of every installed probe, named by `readiness explain`."""

from __future__ import annotations

import importlib.util
import shutil

import pytest
from conftest import REPO

from readiness.check_docs import page_path
from readiness.cli import main
from readiness.probe import load_probes


@pytest.fixture(scope="module")
def generator():
    spec = importlib.util.spec_from_file_location("gen_check_docs", REPO / "scripts" / "gen_check_docs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_check_has_an_up_to_date_page(generator, capsys):
    assert generator.main(["--check"]) == 0, capsys.readouterr().err + " (run: python scripts/gen_check_docs.py)"
    ids = [c.id for p in load_probes() for c in p.checks]
    assert len(ids) >= 200
    assert {p.name for p in (REPO / "docs" / "checks").glob("*.md")} == {page_path(i).name for i in ids}


def test_explain_names_the_page_of_a_check_of_every_probe(capsys):
    # one check per probe: explain costs a pack and probe load each time; every page's existence is proved above
    for probe in load_probes():
        for check in probe.checks[:1]:
            assert main(["explain", check.id]) == 0
            out = capsys.readouterr().out
            assert f"Page: docs/checks/{check.id}.md" in out
            assert (REPO / page_path(check.id)).is_file()


def test_a_stale_or_orphaned_page_is_caught(generator, tmp_path, monkeypatch, capsys):
    copy = tmp_path / "repo"
    shutil.copytree(REPO / "docs" / "checks", copy / "docs" / "checks")
    shutil.copytree(REPO / "benchmarks", copy / "benchmarks")
    monkeypatch.setattr(generator, "REPO", copy)
    (copy / "docs/checks/dockerfile.non_root.md").write_text("old text\n")
    (copy / "docs/checks/dockerfile.retired_check.md").write_text("gone\n")
    assert generator.main(["--check"]) == 1
    err = capsys.readouterr().err
    assert "dockerfile.non_root.md: missing or out of date" in err
    assert "dockerfile.retired_check.md: no installed probe has this check" in err
    assert generator.main([]) == 0 and generator.main(["--check"]) == 0
    assert not (copy / "docs/checks/dockerfile.retired_check.md").exists()


def test_provider_fixes_are_listed_per_provider():
    page = (REPO / page_path("terraform.audit_logging")).read_text()
    assert "- **Azure**: an azurerm_monitor_diagnostic_setting" in page
    assert "- **GCP**: a google_project_iam_audit_config" in page
    assert "`pd.compliance.audit-logging` [high]" in page
