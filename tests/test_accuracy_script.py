"""benchmarks/accuracy.py on a tiny corpus: one real git checkout of a fixture and a truth file written for it."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest
import yaml
from conftest import REPO, git

_spec = importlib.util.spec_from_file_location("accuracy", REPO / "benchmarks" / "accuracy.py")
accuracy = importlib.util.module_from_spec(_spec)
sys.modules["accuracy"] = accuracy  # dataclasses look their module up there
_spec.loader.exec_module(accuracy)


def write_truth(folder: Path, name: str, checkout: str, commit: str, items: dict[str, tuple[str, str]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    body = {
        "repository": f"example/{name}",
        "commit": commit,
        "checkout": checkout,
        "shape": "compose",
        "deployment": "the fixture's compose file",
        "items": {item: {"truth": truth, "reason": reason} for item, (truth, reason) in items.items()},
    }
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(body, sort_keys=False))
    return path


@pytest.fixture
def corpus(tmp_path, fixture_repo):
    """A corpus folder holding one checkout (the compose-hardened fixture as a committed repo)."""
    checkout = fixture_repo("compose-hardened")
    folder = tmp_path / "corpus"
    folder.mkdir()
    checkout.rename(folder / "app")
    return folder


def test_counts_agreement_false_passes_and_misses(corpus, tmp_path):
    checkout = corpus / "app"
    verdicts = accuracy.audit(checkout)
    kinds = accuracy.evidence_items()
    passed = sorted(i for i, (status, _) in verdicts.items() if status == "pass" and kinds.get(i) == "evidence")
    failed = sorted(i for i, (status, _) in verdicts.items() if status == "fail" and kinds.get(i) == "evidence")
    assert len(passed) >= 3 and len(failed) >= 3, "the fixture should give passes and failures to compare"
    items = {
        passed[0]: ("pass", "agree: tool passes too"),
        passed[1]: ("fail", "false pass: tool passes a failing item"),
        passed[2]: ("not-pass", "false pass: tool passes an unprovable item"),
        failed[0]: ("fail", "agree: tool fails too"),
        failed[1]: ("not-pass", "agree: anything but pass is fine"),
        failed[2]: ("pass", "miss: tool does not see the pass"),
    }
    head = git(checkout, "rev-parse", "HEAD").strip()
    truth_dir = tmp_path / "truth"
    write_truth(truth_dir, "app", "app", head, items)
    out = tmp_path / "result.json"
    markdown = tmp_path / "table.md"

    code = accuracy.main([str(corpus), "--truth", str(truth_dir), "--json", str(out), "--markdown", str(markdown)])

    assert code == 0
    result = json.loads(out.read_text())
    repo = result["repositories"][0]
    assert (repo["items"], repo["agreed"], repo["false_passes"], repo["misses"]) == (6, 3, 2, 1)
    assert repo["agreement"] == 50.0
    assert repo["warnings"] == []
    outcomes = {d["id"]: (d["outcome"], d["truth"], d["tool"]) for d in repo["differences"]}
    assert outcomes == {
        passed[1]: ("false pass", "fail", "pass"),
        passed[2]: ("false pass", "not-pass", "pass"),
        failed[2]: ("miss", "pass", "fail"),
    }
    assert result["overall"] == {
        "repositories": 1,
        "items": 6,
        "agreed": 3,
        "agreement": 50.0,
        "false_passes": 2,
        "misses": 1,
        "lowest_repository_agreement": 50.0,
        "truth_by_tool": {
            "pass": {"fail": 1, "pass": 1},
            "fail": {"fail": 1, "pass": 1},
            "not-pass": {"fail": 1, "pass": 1},
        },
    }
    assert repo["confusion"] == result["overall"]["truth_by_tool"]
    # the size rules are reported for this tiny truth, never fatal
    assert any("fewer than 30" in p for p in result["truth_problems"]["app.yaml"])
    table = markdown.read_text()
    assert "| example/app |" in table and "50.0%" in table and f"`{failed[2]}`" in table
    assert "| not-pass | 1 | 1 |" in table


def test_validation_and_unmeasurable_repositories_are_reported(corpus, tmp_path, capsys):
    truth_dir = tmp_path / "truth"
    stale = "0" * 40
    write_truth(
        truth_dir,
        "app",
        "app",
        stale,
        {
            "pd.containers.non-root": ("fail", "a real item"),
            "pd.secrets.generated-by-script": ("fail", "a manual item"),
            "pd.no.such-item": ("pass", "an unknown item"),
        },
    )
    write_truth(truth_dir, "gone", "not-fetched", stale, {"pd.containers.non-root": ("fail", "x")})
    (truth_dir / "broken.yaml").write_text("items:\n  pd.containers.non-root:\n    truth: maybe\n")
    out = tmp_path / "result.json"

    code = accuracy.main([str(corpus), "--truth", str(truth_dir), "--json", str(out), "--min-items", "1"])

    assert code == 0
    result = json.loads(out.read_text())
    app = result["truth_problems"]["app.yaml"]
    assert (
        "pd.secrets.generated-by-script: a manual item (only items decided by evidence belong in a truth file)" in app
    )
    assert "pd.no.such-item: no such item in the built-in packs" in app
    assert not any(p.startswith("3 items,") for p in app)
    broken = result["truth_problems"]["broken.yaml"]
    assert "missing repository" in broken and any("truth must be one of" in p for p in broken)
    repos = {r["checkout"]: r for r in result["repositories"]}
    assert repos["app"]["warnings"] and "the truth was written at 000000000000" in repos["app"]["warnings"][0]
    assert repos["app"]["items"] == 3
    assert any(d["id"] == "pd.no.such-item" and d["tool"] == "absent" for d in repos["app"]["differences"])
    assert not repos["not-fetched"]["measured"] and "no checkout 'not-fetched'" in repos["not-fetched"]["error"]
    assert result["overall"]["repositories"] == 1
    printed = capsys.readouterr().out
    assert "not measured: no checkout 'not-fetched'" in printed and "truth broken.yaml:" in printed


def test_a_missing_corpus_is_a_usage_error(tmp_path):
    with pytest.raises(SystemExit) as exc:
        accuracy.main([str(tmp_path / "nowhere")])
    assert exc.value.code == 2
