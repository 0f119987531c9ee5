"""Every report format over real audits of the fixture repositories: SARIF against the official 2.1.0
schema, JUnit read back by junitparser, the ticked Markdown checklist, GitLab Code Quality, the text
report's options, and `--format FORMAT=FILE` as the CLI parses it."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import junitparser
import pytest
from conftest import git, run_cli
from reporting import Audited, audited, run, unhealthy_server

from readiness import cli
from readiness.model import Severity, Status, VerdictStatus
from readiness.reporters import REPORTERS, RenderOptions
from readiness.reporters.findings import catalogue
from readiness.reporters.outputs import Output, wants_color

SARIF_SCHEMA = json.loads((Path(__file__).parent / "data/sarif-schema-2.1.0.json").read_text())


@pytest.fixture(scope="module")
def insecure(tmp_path_factory) -> Audited:
    server = unhealthy_server()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/health"
        return audited("insecure", tmp_path_factory.mktemp("insecure"), health_url=url)
    finally:
        server.shutdown()


@pytest.fixture(scope="module")
def hardened(tmp_path_factory) -> Audited:
    return audited("hardened", tmp_path_factory.mktemp("hardened"), attest=True)


def render(a: Audited, fmt: str, **options) -> str:
    return REPORTERS[fmt].render(a.report, a.gate, RenderOptions(**options))


def failing_observations(a: Audited):
    return [o for o in a.report.observations if o.status is Status.FAIL and o.production]


@pytest.mark.parametrize("fmt", sorted(REPORTERS))
def test_every_registered_format_renders_a_real_audit(fmt, insecure, hardened):
    reporter = REPORTERS[fmt]
    assert reporter.name == fmt and reporter.extension and reporter.description
    for a in (insecure, hardened):
        out = render(a, fmt)
        assert isinstance(out, str) and out.strip()
        if reporter.extension in ("json", "sarif"):
            json.loads(out)
        elif reporter.extension in ("xml", "html"):
            assert out.lstrip().startswith(("<?xml", "<!doctype html>"))
        # every format names the failing gate items of the insecure repository, or their checks
        if a is insecure and fmt != "codequality":
            assert any(v.item_id in out for v in a.gate.failures) or fmt == "sarif"


def test_one_cli_run_writes_every_format(insecure, tmp_path, capsys):
    args = ["audit", str(insecure.repo)]
    files = {name: tmp_path / f"report.{r.extension}" for name, r in REPORTERS.items() if name != "text"}
    files["codequality"] = tmp_path / "gl-code-quality.json"
    for name, path in files.items():
        args += ["--format", f"{name}={path}"]
    assert cli.main([*args, "--format", "text"]) == 1
    out, err = capsys.readouterr()
    assert "Gate (fail-on critical): FAILED" in out.splitlines()[-1]
    for path in files.values():
        assert path.stat().st_size > 0 and f"report written to {path}" in err
    jsonschema.Draft4Validator(SARIF_SCHEMA).validate(json.loads(files["sarif"].read_text()))
    assert json.loads(files["json"].read_text())["gate"]["passed"] is False


@pytest.mark.parametrize(
    ("formats", "said"),
    [
        (["--format", "yaml"], "unknown format 'yaml'"),
        (["--format", "json", "--format", "text"], "only one format can go to standard output"),
        (["--format", "sarif="], "no file after '='"),
        (["--format", "json=a.json", "--format", "sarif=a.json"], "two formats would write the same file"),
        (["--format", "json=a.json", "--output", "b.txt"], "every --format already names its file"),
    ],
)
def test_format_requests_that_cannot_be_met_are_usage_errors(formats, said, tmp_path):
    done = run_cli("audit", tmp_path, *formats, cwd=tmp_path)
    assert done.returncode == 2 and said in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and not list(tmp_path.iterdir())


def test_sarif_validates_and_has_a_result_per_failing_observation(insecure):
    sarif = json.loads(render(insecure, "sarif"))
    jsonschema.Draft4Validator(SARIF_SCHEMA).validate(sarif)
    (run_,) = sarif["runs"]
    rules = run_["tool"]["driver"]["rules"]
    assert len({r["id"] for r in rules}) == len(rules)
    assert run_["invocations"][0]["exitCode"] == 1 and run_["automationDetails"]["id"].startswith("readiness/")
    results = run_["results"]
    assert len(results) == len(failing_observations(insecure))
    assert len({r["partialFingerprints"]["readinessFinding/v1"] for r in results}) == len(results)
    cat = catalogue()
    for r in results:
        rule = rules[r["ruleIndex"]]
        assert rule["id"] == r["ruleId"] and r["level"] == rule["defaultConfiguration"]["level"]
        assert 0 < float(rule["properties"]["security-severity"]) <= 10
        assert cat[rule["id"]].remediation in rule["help"]["markdown"]
    perms = [r for r in results if r["ruleId"] == "secret_files.owner_only"]
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in perms}
    assert uris == {"secrets/api_token.txt", "certs/server.key"}
    compose = next(r for r in results if r["ruleId"].startswith("compose.") and "region" in str(r))
    assert compose["locations"][0]["physicalLocation"]["region"]["startLine"] >= 1
    # the live health endpoint (a real server answering 503) is a logical location
    health = [r for r in results if r["ruleId"] == "health.endpoints_healthy"]
    assert health and "physicalLocation" not in health[0]["locations"][0]
    assert health[0]["locations"][0]["logicalLocations"][0]["name"].startswith("http://127.0.0.1:")


def test_sarif_fingerprints_survive_lines_moving(insecure, tmp_path):
    before = json.loads(render(insecure, "sarif"))["runs"][0]["results"]
    repo = tmp_path / "moved"
    shutil.copytree(insecure.repo, repo, symlinks=True)
    compose = repo / "docker-compose.yml"
    compose.write_text("# a comment moves every line down\n\n" + compose.read_text())
    git(repo, "commit", "-qam", "move lines")
    after = json.loads(render(run(repo), "sarif"))["runs"][0]["results"]

    def by_print(results):
        return {r["partialFingerprints"]["readinessFinding/v1"]: r for r in results if "compose." in r["ruleId"]}

    old, new = by_print(before), by_print(after)
    assert old and set(old) == set(new)
    for fp, r in old.items():
        region = r["locations"][0].get("physicalLocation", {}).get("region")
        if region:
            assert new[fp]["locations"][0]["physicalLocation"]["region"]["startLine"] == region["startLine"] + 2


def test_junit_has_a_suite_per_pack_and_a_case_per_item(insecure):
    xml = junitparser.JUnitXml.fromstring(render(insecure, "junit"))
    suites = {s.name: s for s in xml}
    assert set(suites) == {p.name for p in insecure.report.packs}
    verdicts = {v.item_id: v for v in insecure.report.verdicts}
    for suite in suites.values():
        cases = list(suite)
        assert suite.tests == len(cases) == sum(1 for v in verdicts.values() if v.pack == suite.name)
        for case in cases:
            v = verdicts[case.name.split(":", 1)[0]]
            kinds = {type(r).__name__ for r in case.result}
            if v.status is VerdictStatus.FAIL:
                assert kinds == {"Failure"} and case.result[0].text.strip()
                failing = [insecure.report.observations[i] for i in v.observations]
                failing = [o for o in failing if o.status is Status.FAIL]
                assert any(o.message in case.result[0].text for o in failing) or v.reason in case.result[0].text
            elif v.errored:
                assert kinds == {"Error"}
            elif v.status is VerdictStatus.PASS:
                assert case.is_passed
            else:
                assert kinds == {"Skipped"} and case.result[0].message
    assert xml.failures == sum(1 for v in verdicts.values() if v.status is VerdictStatus.FAIL)


def test_junit_fails_the_manual_items_the_go_live_gate_requires(insecure):
    gate = insecure.report.gate(Severity.CRITICAL, True)
    manual = {v.item_id for v in gate.failures if v.status is VerdictStatus.MANUAL}
    assert manual
    xml = junitparser.JUnitXml.fromstring(REPORTERS["junit"].render(insecure.report, gate, RenderOptions()))
    outcome = {c.name.split(":", 1)[0]: {type(r).__name__ for r in c.result} for s in xml for c in s}
    assert all(outcome[i] == {"Failure"} for i in manual)
    others = [
        v.item_id for v in insecure.report.verdicts if v.status is VerdictStatus.MANUAL and v.item_id not in manual
    ]
    assert others and all(outcome[i] == {"Skipped"} for i in others)


def test_junit_stays_valid_xml_with_control_characters(insecure):
    from readiness.reporters import junit

    assert junit._xml("line\x00one\x1b[31m") == "line\ufffdone\ufffd[31m"
    ET.fromstring(render(insecure, "junit"))


def test_markdown_ticks_each_checklist_line(hardened):
    md = render(hardened, "markdown")
    lines = md.splitlines()
    assert lines[0].startswith("## readiness: gate") and any(ln.startswith("| pack |") for ln in lines[:10])
    verdicts = {v.item_id: v for v in hardened.report.verdicts}
    passed = 0
    for pack in hardened.report.packs:
        for item in pack.items:
            v = verdicts[item.id]
            if v.status is VerdictStatus.PASS:
                passed += 1
                assert f"- [x] {item.title}" in lines
            else:
                line = next(ln for ln in lines if ln.startswith(f"- [ ] {item.title} — "))
                assert f"**{ {'not_applicable': 'n/a'}.get(v.status.value, v.status.value) }**" in line
    assert passed > 20
    assert md.count("<details>") == md.count("</details>") == sum(len(p.sections) for p in hardened.report.packs)


def test_markdown_cap_keeps_whole_sections_and_says_so(insecure):
    full = render(insecure, "markdown")
    capped = render(insecure, "markdown", max_lines=80)
    assert len(capped.splitlines()) <= 80 < len(full.splitlines())
    assert capped.count("<details>") == capped.count("</details>") > 0
    assert "more sections not shown" in capped and "## readiness: gate FAILED" in capped


def test_codequality_issues_match_the_sarif_results(insecure):
    issues = json.loads(render(insecure, "codequality"))
    assert len(issues) == len(failing_observations(insecure))
    assert len({i["fingerprint"] for i in issues}) == len(issues)
    for issue in issues:
        assert issue["severity"] in {"info", "minor", "major", "critical", "blocker"}
        assert issue["description"] and issue["check_name"]
        assert issue["location"]["path"] and issue["location"]["lines"]["begin"] >= 1
        assert not issue["location"]["path"].startswith("/")


def test_text_quiet_keeps_the_gate_failures_and_the_gate_line(insecure):
    quiet = render(insecure, "text", quiet=True).splitlines()
    assert quiet[-1].startswith("265 items:") and f"FAILED ({len(insecure.gate.failures)} items)" in quiet[-1]
    flagged = [ln for ln in quiet if ln.startswith("  FAIL ")]
    assert len(flagged) == len(insecure.gate.failures)
    assert all(v.item_id in "\n".join(quiet) for v in insecure.gate.failures)
    assert "Production Deployment Checklist" not in "\n".join(quiet)


def test_text_colour_follows_the_flag_and_no_color():
    out = Output(REPORTERS["text"], None)
    assert wants_color("auto", out, stdout_is_tty=True, env={}) is True
    assert wants_color("auto", out, stdout_is_tty=True, env={"NO_COLOR": "1"}) is False
    assert wants_color("auto", out, stdout_is_tty=False, env={}) is False
    assert wants_color("auto", Output(REPORTERS["text"], Path("r.txt")), stdout_is_tty=True, env={}) is False
    assert wants_color("always", out, stdout_is_tty=False, env={"NO_COLOR": "1"}) is True
    assert wants_color("never", out, stdout_is_tty=True, env={}) is False


def test_text_colour_when_asked(insecure):
    assert "\x1b[" in render(insecure, "text", color=True)
    assert "\x1b[" not in render(insecure, "text")


def test_text_says_what_would_decide_unknown_live_items(insecure):
    text = render(insecure, "text")
    section = text.split("Unknown items a live target would decide:\n", 1)[1].split("\n\n", 1)[0]
    probes = {cls.probe: cls for cls in catalogue().values()}
    tls_flags = [o.flag for o in probes["tls"].cli_options if o.path == ("live", "tls")]
    assert tls_flags and any(f"name {tls_flags[0]} " in ln and "to decide tls" in ln for ln in section.splitlines())
    # health had a real target (a server answering 503): it decided, so no advice for it
    assert "to decide health" not in section


def test_text_shows_attestations_that_do_not_count(hardened):
    text = render(hardened, "text")
    rejected = text.split("Attestations that do not count:\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert len(rejected) == 1
    assert ".readiness/attestations.yaml:" in rejected[0] and "Bob Example" in rejected[0]
    assert "attested by role 'Intern'" in rejected[0]


def test_locations_are_relative_to_the_repository_when_a_subfolder_is_audited(tmp_path):
    git(tmp_path, "init", "-q")
    sub = tmp_path / "deploy"
    sub.mkdir()
    (sub / ".env").write_text("FAKE=1\n")
    (sub / ".env").chmod(0o600)
    a = run(sub)
    sarif = json.loads(render(a, "sarif"))
    jsonschema.Draft4Validator(SARIF_SCHEMA).validate(sarif)
    env = [r for r in sarif["runs"][0]["results"] if r["ruleId"] == "secret_files.not_tracked"]
    assert [r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in env] == ["deploy/.env"]
    issues = json.loads(render(a, "codequality"))
    assert "deploy/.env" in {i["location"]["path"] for i in issues}
    assert all(i["location"]["path"].startswith("deploy") for i in issues)


def test_no_secret_value_reaches_any_format(insecure):
    from test_cli import PLANTED_SECRETS

    for fmt in REPORTERS:
        out = render(insecure, fmt)
        assert not [s for s in PLANTED_SECRETS if s in out], fmt
