"""The CLI end to end, as a user and CI run it: real repos, subprocesses, exit codes, schema."""

from __future__ import annotations

import json
from importlib import resources

import jsonschema
import pytest
from conftest import CHECKLISTS, audit_json, run_cli

from readiness import cli, runner

SCHEMA = json.loads(resources.files("readiness").joinpath("schema/evidence.schema.json").read_text())


def by_title(report: dict, pack: str, title: str) -> dict:
    return next(i for i in report["items"] if i["pack"] == pack and i["title"] == title)


PERMS = ("production-deployment", "All secret files have 600 permissions")
NEVER_COMMIT = ("devops-deployment", "Never commit secrets to version control")


def test_insecure_fixture_fails_the_gate_with_schema_valid_evidence(fixture_repo):
    repo = fixture_repo("insecure")
    code, report = audit_json(repo)
    assert code == 1
    jsonschema.validate(report, SCHEMA)
    assert report["summary"]["items"] == 265
    perms = by_title(report, *PERMS)
    assert perms["status"] == "fail"
    failing = [report["observations"][i] for i in perms["observations"]]
    # tracked files are judged by "not tracked"; the mode rule covers the untracked ones
    assert {o["subject"]["path"] for o in failing} == {"secrets/api_token.txt", "certs/server.key"}
    never = by_title(report, *NEVER_COMMIT)
    assert never["status"] == "fail"
    assert report["gate"]["passed"] is False and report["gate"]["failing_items"]
    # the compose secret is mounted by production services: deployed evidence
    obs = [
        o
        for o in report["observations"]
        if o["subject"].get("path") == "secrets/db_password.txt" and o["check"] == "secret_files.not_tracked"
    ]
    assert obs and obs[0]["strength"] == "deployed" and obs[0]["facts"]["mounted_by"] == ["app", "db"]
    # every artifact a probe read carries its digest
    read = {a["path"] for a in report["artifacts"] if "sha256" in a}
    assert "docker-compose.yml" in read


def test_hardened_fixture_passes_critical_gate(fixture_repo):
    repo = fixture_repo("hardened")
    code, report = audit_json(repo, "--fail-on", "critical")
    assert code == 0, report["gate"]
    jsonschema.validate(report, SCHEMA)
    assert by_title(report, *PERMS)["status"] == "pass"
    # the test-only key is tracked, but tests/ is not production: reported, not deciding
    key_obs = [o for o in report["observations"] if o["subject"].get("path") == "tests/data/test-only.key"]
    assert key_obs and all(not o["production"] for o in key_obs)


def test_no_item_passes_without_a_passing_observation(fixture_repo):
    for name in ("insecure", "hardened"):
        _, report = audit_json(fixture_repo(name))
        for item in report["items"]:
            if item["status"] == "pass" and item["decided_by"] == "evidence":
                behind = [report["observations"][i] for i in item["observations"]]
                assert any(o["status"] == "pass" and o["production"] for o in behind), item["id"]


def test_every_item_has_a_verdict_with_a_reason(fixture_repo):
    _, report = audit_json(fixture_repo("hardened"))
    assert all(i["reason"] for i in report["items"])
    planned = [i for i in report["items"] if "no probe implements" in i["reason"]]
    assert planned and all(i["status"] == "unknown" for i in planned)


def test_two_runs_differ_only_in_timestamps(fixture_repo):
    repo = fixture_repo("insecure")
    _, a = audit_json(repo)
    _, b = audit_json(repo)
    for r in (a, b):
        r.pop("started"), r.pop("finished")
    assert a == b


def test_missing_path_exits_2_with_one_line():
    done = run_cli("audit", "/nonexistent/readiness-path")
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.strip() == "readiness: /nonexistent/readiness-path: no such file or directory"


def test_bad_option_exits_2():
    done = run_cli("audit", ".", "--fail-on", "sometimes")
    assert done.returncode == 2 and "Invalid value for '--fail-on'" in done.stderr


def test_fail_on_none_and_output_file(fixture_repo, tmp_path):
    repo = fixture_repo("insecure")
    out = tmp_path / "evidence.json"
    done = run_cli("audit", repo, "--fail-on", "none", "--format", "json", "--output", out)
    assert done.returncode == 0 and done.stdout == ""
    jsonschema.validate(json.loads(out.read_text()), SCHEMA)


def test_require_attestations_is_the_go_live_gate(fixture_repo):
    repo = fixture_repo("hardened")
    code, report = audit_json(repo, "--fail-on", "critical", "--require-attestations")
    manual_critical = [i["id"] for i in report["items"] if i["status"] == "manual" and i["severity"] == "critical"]
    assert manual_critical, "the packs have critical manual items"
    assert code == 1 and set(manual_critical) <= set(report["gate"]["failing_items"])


def test_attestation_turns_a_manual_item_into_pass(fixture_repo):
    import datetime as dt

    repo = fixture_repo("hardened")
    _, report = audit_json(repo)
    target = next(i for i in report["items"] if i["decided_by"] == "manual")
    pack = json.loads(run_cli("list", "--format", "json").stdout)
    role = next(i["role"] for p in pack["packs"] for i in p["items"] if i["id"] == target["id"])
    (repo / ".readiness").mkdir()
    (repo / ".readiness/attestations.yaml").write_text(
        "attestations:\n"
        f"  - item: {target['id']}\n    status: pass\n    name: Ada Example\n    role: {role}\n"
        f"    date: {dt.date.today().isoformat()}\n    evidence: https://wiki.invalid/review\n"
    )
    _, report = audit_json(repo)
    after = next(i for i in report["items"] if i["id"] == target["id"])
    assert after["status"] == "pass" and after["strength"] == "attested"
    assert after["attestation"]["name"] == "Ada Example"


def test_text_report_sections_failures_and_summary(fixture_repo):
    done = run_cli("audit", fixture_repo("insecure"))
    assert done.returncode == 1
    out = done.stdout
    assert "1. Secrets Management" in out and "passed" in out
    assert "Failing items:" in out
    assert "secret_files.owner_only: secrets/api_token.txt: mode 0644" in out
    last = out.strip().splitlines()[-1]
    assert last.startswith("265 items:") and "Gate (fail-on critical): FAILED" in last
    assert "\x1b[" not in out  # no colour when not a terminal


def test_list_json_has_both_packs_with_verbatim_titles():
    done = run_cli("list", "--format", "json")
    assert done.returncode == 0
    cat = json.loads(done.stdout)
    packs = {p["name"]: p for p in cat["packs"]}
    assert len(packs["production-deployment"]["items"]) == 141
    assert len(packs["devops-deployment"]["items"]) == 124
    for name, md in (
        ("production-deployment", "production-deployment-checklist.md"),
        ("devops-deployment", "devops-deployment-checklist.md"),
    ):
        lines = [ln[6:] for ln in (CHECKLISTS / md).read_text().splitlines() if ln.startswith("- [ ] ")]
        assert [i["title"] for i in packs[name]["items"]] == lines
    assert {"secret_files", "compose"} <= {p["name"] for p in cat["probes"]}


def test_explain_item_and_check():
    done = run_cli("explain", "secret_files.owner_only")
    assert done.returncode == 0 and "chmod 600" in done.stdout
    cat = json.loads(run_cli("list", "--format", "json").stdout)
    item_id = next(i["id"] for p in cat["packs"] for i in p["items"] if i["title"] == PERMS[1])
    done = run_cli("explain", item_id)
    assert done.returncode == 0 and "secret_files.owner_only" in done.stdout
    done = run_cli("explain", "no.such.thing")
    assert done.returncode == 2


def test_internal_error_exits_3(monkeypatch, tmp_path, capsys):
    def boom(*_a, **_k):
        raise RuntimeError("simulated bug")

    monkeypatch.setattr(runner, "audit", boom)  # cli imports it when `audit` runs
    assert cli.main(["audit", str(tmp_path)]) == 3
    assert "internal error" in capsys.readouterr().err


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_every_format_renders(fmt, fixture_repo):
    done = run_cli("audit", fixture_repo("hardened"), "--format", fmt)
    assert done.returncode == 0 and done.stdout.strip()


# The secret values the insecure fixture plants (test_reporters checks every format for them too).
PLANTED_SECRETS = (
    "fake-password-for-tests",
    "fake-token-for-readiness-tests",
    "fake-db-password-for-readiness-tests",
    "fake-api-token-for-readiness-tests",
    "fake key material",
)


def test_no_secret_value_reaches_any_report(fixture_repo, tmp_path):
    repo = fixture_repo("insecure")
    planted = PLANTED_SECRETS
    outputs = []
    for fmt in ("text", "json"):
        done = run_cli("audit", repo, "--format", fmt)
        outputs += [done.stdout, done.stderr]
    for secret in planted:
        assert all(secret not in out for out in outputs), secret


def test_output_into_a_missing_directory_is_a_usage_error(fixture_repo, tmp_path):
    done = run_cli("audit", fixture_repo("hardened"), "--output", tmp_path / "no/such/dir/report.txt")
    assert done.returncode == 2
    assert "cannot write the report" in done.stderr and "internal error" not in done.stderr


def test_explain_a_rollup_and_a_manual_item():
    cat = json.loads(run_cli("list", "--format", "json").stdout)
    items = [i for p in cat["packs"] for i in p["items"]]
    rollup = next(i["id"] for i in items if i["decided_by"] == "rollup")
    manual = next(i for i in items if i["decided_by"] == "manual")
    assert "Passes when every item of sections" in run_cli("explain", rollup).stdout
    assert manual["role"] in run_cli("explain", manual["id"]).stdout


def test_audit_a_subdirectory_of_a_repo_without_commits(tmp_path):
    from conftest import git

    git(tmp_path, "init", "-q")
    sub = tmp_path / "deploy"
    sub.mkdir()
    (sub / ".env").write_text("FAKE=1\n")
    (sub / ".env").chmod(0o600)
    code, report = audit_json(sub)
    assert report["target"]["git"]["commit"] is None
    env = [o for o in report["observations"] if o["subject"].get("path") == ".env" and o["probe"] == "secret_files"]
    assert {o["check"]: o["status"] for o in env} == {
        "secret_files.owner_only": "pass",
        "secret_files.not_tracked": "fail",  # untracked and not ignored
    }
