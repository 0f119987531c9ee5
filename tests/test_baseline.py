"""Baselines over real git repositories made here: `--baseline` with an earlier JSON report after one
finding is fixed, one service added and every line moved; `--base REF` auditing the merge base in a
temporary worktree (removed afterwards); `--fail-on-new` exit codes; baselines that cannot be used."""

from __future__ import annotations

import json
import tempfile
from importlib import resources
from pathlib import Path

import jsonschema
import pytest
from conftest import git

from readiness import cli

EVIDENCE = json.loads(resources.files("readiness").joinpath("schema/evidence.schema.json").read_text())
SARIF = json.loads((Path(__file__).parent / "data/sarif-schema-2.1.0.json").read_text())

BEFORE = """\
services:
  web:
    image: nginx:1.27
    privileged: true
  db:
    image: postgres:16
"""
# web is no longer privileged (fixed), a worker is added (new findings, none behind a critical item),
# and every line moves down: what stays must stay "unchanged"
AFTER = """\
# two lines added above

services:
  web:
    image: nginx:1.27
  db:
    image: postgres:16
  worker:
    image: busybox:1.36
    user: "1000:1000"
"""
PRIVILEGED_CACHE = AFTER + "  cache:\n    image: busybox:1.36\n    privileged: true\n"


def commit(repo: Path, compose: str, message: str) -> str:
    (repo / "docker-compose.yml").write_text(compose)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", message)
    return git(repo, "rev-parse", "HEAD").strip()


@pytest.fixture
def repo(tmp_path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    commit(root, BEFORE, "a privileged web service")
    return root


def run(capsys, *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = cli.main(["audit", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def finding(group: list[dict], check: str, name: str) -> dict | None:
    return next((f for f in group if f["check"] == check and f["subject"].get("name") == name), None)


def test_baseline_file_reports_new_fixed_and_unchanged_findings(repo, tmp_path, capsys):
    before = tmp_path / "before.json"
    assert run(capsys, repo, "--format", f"json={before}")[0] == 1
    commit(repo, AFTER, "fix web, add a worker, move every line")
    after, sarif, md = tmp_path / "after.json", tmp_path / "after.sarif", tmp_path / "after.md"
    code, text, _ = run(
        capsys, repo, "--baseline", before, "--format", f"json={after}", "--format", f"sarif={sarif}",
        "--format", f"markdown={md}", "--format", "text",
    )  # fmt: skip
    assert code == 1
    data = json.loads(after.read_text())
    jsonschema.validate(data, EVIDENCE)
    b = data["baseline"]
    assert b["source"] == str(before) and b["commit"] == json.loads(before.read_text())["target"]["git"]["commit"]
    assert finding(b["fixed"], "compose.not_privileged", "web")
    assert finding(b["new"], "compose.cap_drop_all", "worker") and not finding(b["new"], "compose.cap_drop_all", "db")
    # db's findings moved down and are the same findings
    moved = finding(b["unchanged"], "compose.cap_drop_all", "db")
    old = json.loads(before.read_text())["observations"]
    was = next(o for o in old if o["check"] == "compose.cap_drop_all" and o["subject"].get("name") == "db")
    assert moved and moved["subject"]["line"] == was["subject"]["line"] + 1  # two lines above, web's one less
    assert not [f for f in b["new"] if f["subject"].get("name") in ("web", "db")]
    # text: a short section; Markdown: for the pull request; SARIF: baselineState on each result
    assert f"{len(b['new'])} new, {len(b['fixed'])} fixed, {len(b['unchanged'])} unchanged failing findings" in text
    assert "fixed: compose.not_privileged: docker-compose.yml:4 [web]: service web: privileged: true" in text
    assert f"**Compared with {before}" in md.read_text().replace("\\_", "_")
    log = json.loads(sarif.read_text())
    jsonschema.Draft4Validator(SARIF).validate(log)
    (sarif_run,) = log["runs"]
    states = {}
    for r in sarif_run["results"]:
        states.setdefault(r["baselineState"], set()).add(r["partialFingerprints"]["readinessFinding/v1"])
    assert states["new"] == {f["fingerprint"] for f in b["new"]}
    assert states["unchanged"] == {f["fingerprint"] for f in b["unchanged"]}
    assert sarif_run["properties"]["baseline"]["fixed"] == len(b["fixed"])


def test_fail_on_new_gates_only_on_new_findings_at_the_threshold(repo, tmp_path, capsys):
    before = tmp_path / "before.json"
    run(capsys, repo, "--format", f"json={before}")
    commit(repo, AFTER, "fix web, add a worker")
    # critical items still fail, but no new finding is behind a critical item
    assert run(capsys, repo, "--baseline", before)[0] == 1
    code, out, _ = run(capsys, repo, "--baseline", before, "--fail-on-new", "--format", "json")
    data = json.loads(out)
    assert code == 0 and data["gate"] == {
        "fail_on": "critical",
        "require_attestations": False,
        "fail_on_new": True,
        "passed": True,
        "failing_items": [],
    }
    assert any(i["status"] == "fail" and i["severity"] == "critical" for i in data["items"])
    # at high, the worker's new findings fail high items, and only items with a new finding fail
    code, out, _ = run(capsys, repo, "--baseline", before, "--fail-on-new", "--fail-on", "high", "--format", "json")
    data = json.loads(out)
    regressed = {i for f in data["baseline"]["new"] for i in f["items"]}
    failing = set(data["gate"]["failing_items"])
    assert code == 1 and "pd.containers.capabilities-dropped" in failing and failing <= regressed
    # a new privileged service fails the critical gate
    commit(repo, PRIVILEGED_CACHE, "a privileged cache")
    code, text, _ = run(capsys, repo, "--baseline", before, "--fail-on-new", "--quiet")
    assert code == 1 and "pd.containers.non-root" in text and "new findings only" in text.splitlines()[-1]


def test_base_ref_audits_the_merge_base_in_a_worktree_it_removes(repo, tmp_path, capsys, monkeypatch):
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    base = git(repo, "rev-parse", "HEAD").strip()
    git(repo, "checkout", "-qb", "feature")
    commit(repo, PRIVILEGED_CACHE, "feature: a worker and a privileged cache")
    git(repo, "checkout", "-q", "main")
    # main moves on after the branch: its new admin service is not in the merge base, so not "fixed"
    commit(repo, BEFORE + "  admin:\n    image: busybox:1.36\n    privileged: true\n", "main: an admin service")
    git(repo, "checkout", "-q", "feature")
    code, out, err = run(capsys, repo, "--base", "main", "--fail-on-new", "--format", "json")
    data = json.loads(out)
    assert (
        code == 1 and data["baseline"]["commit"] == base and data["baseline"]["source"] == "merge base of HEAD and main"
    )
    assert finding(data["baseline"]["new"], "compose.not_privileged", "cache")
    assert finding(data["baseline"]["fixed"], "compose.not_privileged", "web")
    assert not [f for f in data["baseline"]["fixed"] if f["subject"].get("name") == "admin"]
    assert "pd.containers.non-root" in data["gate"]["failing_items"]
    assert f"auditing {base[:12]}, the merge base of HEAD and main" in err
    # the worktree is gone, from git's list and from the disk
    assert len(git(repo, "worktree", "list", "--porcelain").split("worktree ")) == 2
    assert not list(scratch.iterdir())
    # a branch that only fixes passes the new-findings gate, though old failures remain
    git(repo, "checkout", "-q", "-b", "fix", base)
    commit(repo, BEFORE.replace("    privileged: true\n", ""), "fix: web is not privileged")
    assert run(capsys, repo, "--base", "main")[0] == 1
    assert run(capsys, repo, "--base", "main", "--fail-on-new")[0] == 0
    assert not list(scratch.iterdir())


@pytest.mark.parametrize(
    ("content", "said"),
    [
        ("not json", "not valid JSON at line 1: Expecting value"),
        ('{"runs": []}', "not a readiness JSON report (write one with --format json=FILE)"),
        (
            '{"$schema": "https://readiness.invalid/schema/evidence-v1.json", "schema_version": "2.0"}',
            "evidence schema version 2.0; this readiness reads 1.x",
        ),
        (
            '{"$schema": "https://readiness.invalid/schema/evidence-v1.json", "schema_version": "1.0"}',
            "a readiness report without usable observations and items",
        ),
    ],
)
def test_a_baseline_that_is_not_a_compatible_report_is_exit_2(repo, tmp_path, capsys, content, said):
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    code, out, err = run(capsys, repo, "--baseline", bad)
    assert code == 2 and not out
    assert err.splitlines() == [f"readiness: --baseline {bad}: {said}"]


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--fail-on-new"], "--fail-on-new needs --baseline FILE or --base REF"),
        (["--base", "main", "--baseline", "x.json"], "--baseline and --base: give one"),
        (["--base", "no-such-ref"], "--base no-such-ref: no merge base of HEAD and no-such-ref"),
    ],
)
def test_baseline_requests_that_cannot_be_met_are_exit_2(repo, capsys, args, said):
    code, out, err = run(capsys, repo, *args)
    assert code == 2 and not out and len(err.splitlines()) == 1 and said in err


def test_base_outside_git_is_exit_2(tmp_path, capsys):
    code, _, err = run(capsys, tmp_path, "--base", "main")
    assert code == 2 and err.strip() == f"readiness: --base main: {tmp_path} is not in a git repository"


def test_base_of_a_folder_the_merge_base_lacks_makes_every_finding_new(repo, capsys):
    git(repo, "checkout", "-qb", "feature")
    (repo / "svc").mkdir()
    (repo / "svc/docker-compose.yml").write_text(BEFORE)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "a new service folder")
    code, out, _ = run(capsys, repo / "svc", "--base", "main", "--format", "json")
    b = json.loads(out)["baseline"]
    assert b["source"] == "merge base of HEAD and main (no svc there)" and not b["fixed"] and not b["unchanged"]
    assert finding(b["new"], "compose.not_privileged", "web") and code == 1
