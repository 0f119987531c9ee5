"""The docs probe on fixture documentation, with recency from real git history."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
from pathlib import Path

from conftest import REPO, audit_json
from readiness.probes.docs import CHECKS, DocsProbe

from readiness import runner
from readiness.config import Config
from readiness.discovery import discover
from readiness.inventory import Inventory
from readiness.model import Observation, Status
from readiness.probe import Files

FIXTURES = REPO / "fixtures"


def commit(root: Path, days_ago: int) -> None:
    when = (dt.datetime.now(dt.UTC) - dt.timedelta(days=days_ago)).isoformat()
    who = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.test", "GIT_COMMITTER_NAME": "t"}
    env = {
        **os.environ,
        **who,
        "GIT_COMMITTER_EMAIL": "t@example.test",
        "GIT_AUTHOR_DATE": when,
        "GIT_COMMITTER_DATE": when,
    }
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "docs"]):
        subprocess.run(["git", "-C", str(root), *args], check=True, env=env, capture_output=True)


def repo(name: str, tmp_path: Path, days_ago: int | None = 10) -> Path:
    root = tmp_path / name
    shutil.copytree(FIXTURES / name, root)
    if days_ago is not None:
        commit(root, days_ago)
    return root


def observe(root: Path, **settings) -> dict[str, Observation]:
    found = discover(root, Config())
    config = Config(probes={"docs": settings} if settings else {})
    observations = runner.run_probe(DocsProbe, found, Files(found.root), Inventory(), config)[0]
    by_check: dict[str, Observation] = {}
    for o in observations:
        assert o.check not in by_check, o.check  # one verdict per check, naming its best evidence
        by_check[o.check] = o
    return by_check


def test_complete_docs_pass_every_check_naming_the_section(tmp_path):
    obs = observe(repo("docs-complete", tmp_path))
    assert set(obs) == {c.id for c in CHECKS}
    failing = {c: (o.status, o.message) for c, o in obs.items() if o.status is not Status.PASS}
    assert failing == {}
    rto = obs["docs.rto_rpo"]
    assert (rto.subject.path, rto.subject.line) == ("docs/operations.md", 64)
    assert obs["docs.runbooks"].subject.path == "runbooks/high-error-rate.md"
    assert obs["docs.changelog"].facts == {} and "1.8.2" in obs["docs.changelog"].message
    assert obs["docs.architecture_diagram"].subject.path == "docs/architecture-overview.svg"
    assert "versioned paths (/v1/orders" in obs["docs.api_versioning"].message


def test_stubs_and_missing_content_fail_with_the_reason(tmp_path):
    obs = observe(repo("docs-stubs", tmp_path))
    assert "stub (TODO)" in obs["docs.runbooks"].message
    incident = obs["docs.incident_response"]
    assert incident.status is Status.FAIL and "no severity levels" in incident.message
    assert obs["docs.rto_rpo"].status is Status.FAIL and "no RTO target" in obs["docs.rto_rpo"].message
    missing = obs["docs.oncall"]
    assert missing.status is Status.FAIL and missing.subject.path is None and "looked for" in missing.message
    assert obs["docs.api_versioning"].status is Status.UNKNOWN  # no API at all may be fine


def test_recency_comes_from_the_last_commit(tmp_path):
    old = observe(repo("docs-complete", tmp_path, days_ago=500))
    assert old["docs.disaster_recovery"].status is Status.FAIL
    assert "500 days ago" in old["docs.disaster_recovery"].message
    assert old["docs.architecture_diagram"].status is Status.FAIL
    assert old["docs.runbooks"].status is Status.PASS  # runbooks carry no age limit
    lenient = observe(tmp_path / "docs-complete", max_age_days=600)
    assert lenient["docs.disaster_recovery"].status is Status.PASS


def test_outside_git_recency_cannot_be_told(tmp_path):
    obs = observe(repo("docs-complete", tmp_path, days_ago=None))
    assert "not a git repository" in obs["docs.disaster_recovery"].message


def test_binary_and_undecodable_documents_are_errors(tmp_path):
    root = repo("docs-complete", tmp_path)
    (root / "docs" / "broken.md").write_bytes(b"# Title\n\xff\xfe\x00binary")
    found = discover(root, Config())
    observations = runner.run_probe(DocsProbe, found, Files(found.root), Inventory(), Config())[0]
    assert {o.status for o in observations if o.subject.path == "docs/broken.md"} == {Status.ERROR}


def test_component_readmes_and_disclosure_policies_do_not_speak_for_the_repository(tmp_path):
    """An add-on's README "Installation" is not the deployment guide; a SECURITY.md that only says how to report a
    vulnerability is not a security policy; contributor and agent notes are not operations documents."""
    steps = "\n".join(f"{i}. run step {i} of the procedure with care and check the result" for i in range(1, 9))
    files = {
        "README.md": "# Product\n\nSee the handbook online.\n",
        "prometheus/README.md": f"# Prometheus add-on\n\n## Installation\n\n{steps}\n",
        "SECURITY.md": "# Security Policy\n\n## Reporting a Vulnerability\n\n"
        + "Please email security@example.invalid with the details of the vulnerability you found. " * 6,
        "AGENTS.md": "# Notes\n\n## Security\n\n" + "Never weaken access control or encryption in a change. " * 10,
        "docs/operations.md": f"# Operations\n\n## Deployment\n\n{steps}\n",
    }
    root = tmp_path / "r"
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    commit(root, 5)
    obs = observe(root)
    assert obs["docs.deployment_guide"].subject.path == "docs/operations.md"
    security = obs["docs.security_policy"]
    assert security.status is Status.FAIL and "report a vulnerability" in security.message
    (root / "docs/operations.md").unlink()
    commit(root, 5)
    assert observe(root)["docs.deployment_guide"].status is Status.FAIL  # the add-on's README does not count


def test_diagrams_by_content_and_the_freshest_one_decides(tmp_path):
    files = {
        "docs/img/assets-search.png": "not a diagram, just a screenshot whose name holds 'arch'",
        "resources/stack.xml": '<mxfile host="app.diagrams.net"><diagram name="Page-1">x</diagram></mxfile>\n',
        "README.md": "# App\n\nSee the docs.\n",
    }
    root = tmp_path / "r"
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    commit(root, 5)
    arch = observe(root)["docs.architecture_diagram"]
    assert arch.status is Status.PASS and arch.subject.path == "resources/stack.xml", arch


def test_a_step_by_step_upgrade_procedure_is_a_deployment_runbook(tmp_path):
    """plausible's README walks through installing and upgrading, step by step: the deployment procedures an
    operator follows. An alert runbook it is not, so docs.runbooks stays as it was."""
    (tmp_path / "README.md").write_text(
        "# App\n\n## Install\n\n1. Clone the repository.\n2. Create the `.env` file.\n3. Run:\n\n"
        "```\ndocker compose up -d\n```\n\nThe stack listens on port 80 behind the proxy; see the configuration "
        "section for every variable the services read, and the backup section before you store data.\n\n"
        "## Upgrade\n\n1. Read the release notes.\n2. Back up the database:\n\n"
        "```\ndocker compose exec db pg_dumpall > dump.sql\n```\n\n"
        "3. Pull the new images and restart:\n\n```\ndocker compose pull && docker compose up -d\n```\n\n"
        "To roll back, restore the dump and start the previous tag; migrations are only applied forward.\n"
    )
    _, report = audit_json(tmp_path, "--fail-on", "none")
    item = next(i for i in report["items"] if i["id"] == "do.docs.deployment-runbooks")
    assert item["status"] == "pass"
    runbooks = [o for o in report["observations"] if o["check"] == "docs.runbooks"]
    assert runbooks and all(o["status"] != "pass" for o in runbooks)


def test_the_readme_of_the_production_deployment_documents_how_it_runs(tmp_path):
    """A catalogue repository documents its production chart in the chart's own README, not at the root."""
    (tmp_path / "charts" / "app" / "templates").mkdir(parents=True)
    (tmp_path / "charts" / "app" / "Chart.yaml").write_text("apiVersion: v2\nname: app\nversion: 1.0.0\n")
    (tmp_path / "charts" / "app" / "values.yaml").write_text("replicas: 2\n")
    guide = (
        "# App chart\n\nProduction-grade Helm chart for the app.\n\n## Install\n\n"
        "1. Create the namespace and the secrets the chart reads (database password, encryption key).\n"
        "2. Copy `values.yaml` to `my-values.yaml` and set the hostname, the database host and the replicas.\n"
        "3. Install the release:\n\n```\nhelm install app ./charts/app -f my-values.yaml\n```\n\n"
        "4. Wait until `kubectl rollout status deploy/app` reports every replica ready, then open the hostname.\n"
    )
    (tmp_path / "charts" / "app" / "README.md").write_text(guide)
    (tmp_path / "lib" / "widget").mkdir(parents=True)
    (tmp_path / "lib" / "widget" / "README.md").write_text(guide.replace("App chart", "Widget"))
    _, report = audit_json(tmp_path, "--fail-on", "none")
    guides = [o for o in report["observations"] if o["check"] == "docs.deployment_guide" and o["production"]]
    assert [o["status"] for o in guides] == ["pass"] and guides[0]["subject"]["path"] == "charts/app/README.md"
