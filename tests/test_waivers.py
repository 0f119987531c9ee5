"""Waivers over real audits of a repository made here: inline comments in compose, Kubernetes YAML,
Terraform, SQL and Markdown files, and a waiver file with valid, expired, stale, unknown and unused
entries. Every format shows what is waived and which waivers do not count; the gate follows."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import textwrap
from importlib import resources
from pathlib import Path

import jsonschema
import junitparser
import pytest
from conftest import git

from readiness import cli, waivers
from readiness import config as config_mod
from readiness.config import Config, ConfigError
from readiness.model import Severity, Status, VerdictStatus
from readiness.reporters import REPORTERS, RenderOptions
from readiness.runner import audit

# Written apart so that this file holds no waiver of its own when readiness audits this project.
MARK = "readiness:" + "ignore="
TOKEN = "ghp_" + "TESTONLYnotArealTokenXq7Zv3Lp9Rw2Ks5M"  # not a real token: says so in its value
TODAY = dt.date.today()
SOON = (TODAY + dt.timedelta(days=30)).isoformat()
EVIDENCE = json.loads(resources.files("readiness").joinpath("schema/evidence.schema.json").read_text())
SARIF = json.loads((Path(__file__).parent / "data/sarif-schema-2.1.0.json").read_text())

COMPOSE = f"""\
services:
  web:
    image: nginx:1.27
    privileged: true  # {MARK}compose.not_privileged the load balancer probe needs raw sockets
  db:
    image: postgres:16
"""
DEPLOYMENT = f"""\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
spec:
  replicas: 1
  selector:
    matchLabels: {{app: api}}
  template:
    metadata:
      labels: {{app: api}}
    spec:
      containers:
        - name: api
          image: nginx:1.27
          securityContext:
            # {MARK}k8s.cap_drop_all,k8s.no_privilege_escalation vendor agent, reviewed in SEC-12
            privileged: true
"""
TERRAFORM = f"""\
# {MARK}terraform.encryption_at_rest public website assets, nothing private
resource "aws_s3_bucket" "assets" {{
  bucket = "example-assets"
}}

resource "aws_security_group" "bastion" {{
  name = "bastion"
  ingress {{
    // {MARK}terraform.sg_no_open_admin_ports the bastion host, MFA enforced
    from_port   = 22
    to_port     = 22
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }}
}}
"""
SQL = f"""\
-- {MARK}secrets.no_hardcoded a revoked token kept for the migration test
INSERT INTO settings VALUES ('github_token', 'GITHUB_TOKEN={TOKEN}');
"""
NOTES = f"""\
# Notes

<!-- {MARK}secrets.no_hardcoded a revoked token quoted in the incident write-up -->
export GITHUB_TOKEN={TOKEN}

An example, not a waiver:

```yaml
privileged: true  # {MARK}compose.healthcheck an example in a code fence
```
"""


def _waiver(**fields: str) -> str:
    lines = [f"    {k}: {v}" for k, v in fields.items()]
    return "  -" + "\n".join(lines)[3:] + "\n"


def waiver_file(repo: Path) -> str:
    compose_sha = hashlib.sha256((repo / "docker-compose.yml").read_bytes()).hexdigest()
    return "waivers:\n" + "".join(
        _waiver(**({"approver": "Ada Example", "expires": SOON} | entry))
        for entry in (
            # valid, narrowed by path and resource, pinned to the file's digest
            {"check": "compose.restart_policy", "path": "docker-compose.yml", "resource": "db",
             "reason": "the orchestrator restarts it", "digest": f"sha256:{compose_sha}"},
            {"check": "compose.log_rotation", "reason": "expired", "expires": "2020-01-01"},
            {"check": "compose.cap_drop_all", "path": "docker-compose.yml", "digest": "f" * 64, "reason": "stale"},
            {"check": "compose.no_such_check", "reason": "a typo"},
            {"item": "pd.no.such-item", "reason": "a typo"},
            {"check": "compose.healthcheck", "path": "elsewhere/*.yml", "reason": "matches nothing"},
            {"check": "k8s.resources", "path": "k8s/*.yaml", "reason": "the namespace's LimitRange sets them"},
            {"item": "pd.resources.restart-policies", "resource": "web", "reason": "web is restarted by systemd"},
            {"check": "compose.resource_limits", "reason": "too far", "expires": str(TODAY + dt.timedelta(days=400))},
        )
    )  # fmt: skip


@pytest.fixture(scope="module")
def audited(tmp_path_factory):
    repo = tmp_path_factory.mktemp("waived") / "repo"
    (repo / "k8s").mkdir(parents=True)
    (repo / "docker-compose.yml").write_text(COMPOSE)
    (repo / "k8s/deploy.yaml").write_text(DEPLOYMENT)
    (repo / "main.tf").write_text(TERRAFORM)
    (repo / "seed.sql").write_text(SQL)
    (repo / "NOTES.md").write_text(NOTES)
    (repo / ".readiness").mkdir()
    (repo / ".readiness/waivers.yaml").write_text(waiver_file(repo))
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "a repository with waivers")
    report = audit(repo, config_mod.load(repo))
    return repo, report, report.gate(Severity.LOW, False)


def observations(report, check: str, path: str) -> list:
    """The production failures (waived or not) of ``check`` in ``path``."""
    return [
        o
        for o in report.observations
        if o.check == check and o.subject.path == path and o.production and o.status in (Status.FAIL, Status.WAIVED)
    ]


def entry(report, text: str):
    return next(w for w in report.waivers.entries if text in w.describe() or text == w.reason)


@pytest.mark.parametrize(
    ("check", "path", "where"),
    [
        ("compose.not_privileged", "docker-compose.yml", "docker-compose.yml:4"),  # `#`, on the line
        ("k8s.cap_drop_all", "k8s/deploy.yaml", "k8s/deploy.yaml:17"),  # `#`, the line above, two ids
        ("k8s.no_privilege_escalation", "k8s/deploy.yaml", "k8s/deploy.yaml:17"),
        ("terraform.encryption_at_rest", "main.tf", "main.tf:1"),  # above the resource block
        ("terraform.sg_no_open_admin_ports", "main.tf", "main.tf:9"),  # `//` inside the block it names
        ("secrets.no_hardcoded", "seed.sql", "seed.sql:1"),  # `--`
        ("secrets.no_hardcoded", "NOTES.md", "NOTES.md:3"),  # `<!-- -->`
    ],
)
def test_inline_waivers_in_each_comment_syntax_waive_their_finding(audited, check, path, where):
    _, report, _ = audited
    found = observations(report, check, path)
    assert found and all(o.status is Status.WAIVED for o in found), found
    assert {o.waiver["where"] for o in found} == {where}
    assert all(o.waiver["source"] == "inline" and o.waiver["reason"] for o in found)


def test_a_waiver_waives_only_what_it_names(audited):
    _, report, _ = audited
    # the same service's other failures, and the other service's privileged flag, still fail
    assert {o.status for o in observations(report, "compose.cap_drop_all", "docker-compose.yml")} == {Status.FAIL}
    assert {o.status for o in observations(report, "k8s.probes", "k8s/deploy.yaml")} == {Status.FAIL}
    # a code fence in Markdown shows an example: it is not a waiver
    assert not [w for w in report.waivers.entries if w.file == "NOTES.md" and "compose.healthcheck" in w.checks]


def test_waiver_file_entries_apply_or_fail_loudly(audited):
    _, report, _ = audited
    restart = {o.subject.name: o for o in observations(report, "compose.restart_policy", "docker-compose.yml")}
    assert restart["db"].status is Status.WAIVED and restart["web"].status is Status.FAIL
    assert restart["db"].waiver == {
        "source": "file",
        "where": ".readiness/waivers.yaml:2",
        "reason": "the orchestrator restarts it",
        "approver": "Ada Example",
        "expires": SOON,
    }
    problems = {w.reason: w.problem for w in report.waivers.problems()}
    assert problems["expired"] == "expired on 2020-01-01"
    assert problems["stale"].startswith("stale: docker-compose.yml changed since the waiver was approved")
    assert {w.problem for w in report.waivers.problems() if w.reason == "a typo"} == {
        "no check compose.no_such_check (see: readiness list)",
        "no item pd.no.such-item in any policy pack (see: readiness list)",
    }
    assert "beyond the maximum validity of 365 days" in problems["too far"]
    # a waiver that does not count changes nothing: what it names still fails
    for check in ("compose.log_rotation", "compose.cap_drop_all", "compose.resource_limits"):
        assert {o.status for o in observations(report, check, "docker-compose.yml")} == {Status.FAIL}
    assert [w.reason for w in report.waivers.unused()] == ["matches nothing"]
    # a gitignore-style path glob
    assert {o.status for o in observations(report, "k8s.resources", "k8s/deploy.yaml")} == {Status.WAIVED}


def test_an_item_waiver_with_a_resource_waives_the_item_only_when_every_failure_matches(audited):
    _, report, _ = audited
    v = next(v for v in report.verdicts if v.item_id == "pd.resources.restart-policies")
    # db's failure is waived by its check waiver, web's by the item waiver: the item is waived
    assert v.status is VerdictStatus.WAIVED and v.waiver["reason"] == "web is restarted by systemd"
    assert v not in report.gate(Severity.LOW, False).failures


def test_json_evidence_validates_and_counts_the_waived(audited):
    _, report, gate = audited
    data = json.loads(REPORTERS["json"].render(report, gate, RenderOptions()))
    jsonschema.validate(data, EVIDENCE)
    waived = [o for o in data["observations"] if o["status"] == "waived"]
    assert len(waived) == data["summary"]["waived_observations"] >= 8
    assert all(o["waiver"]["reason"] for o in waived)
    assert data["summary"]["waiver_problems"] == 5 == data["waivers"]["problems"]
    assert data["summary"]["by_status"]["waived"] == sum(1 for i in data["items"] if i["status"] == "waived") >= 1
    assert data["waivers"]["unused"] == 1 and data["waivers"]["max_days"] == 365


def test_sarif_suppresses_waived_results_and_reports_broken_waivers(audited):
    _, report, gate = audited
    sarif = json.loads(REPORTERS["sarif"].render(report, gate, RenderOptions()))
    jsonschema.Draft4Validator(SARIF).validate(sarif)
    (run,) = sarif["runs"]
    kinds = {}
    for r in run["results"]:
        for s in r.get("suppressions", []):
            kinds.setdefault(s["kind"], []).append(r["ruleId"])
            assert s["status"] == "accepted" and s["justification"]
    assert "compose.not_privileged" in kinds["inSource"] and "compose.restart_policy" in kinds["external"]
    unsuppressed = {r["ruleId"] for r in run["results"] if "suppressions" not in r}
    assert "compose.cap_drop_all" in unsuppressed
    notes = run["invocations"][0]["toolExecutionNotifications"]
    errors = [n["message"]["text"] for n in notes if n["descriptor"]["id"] == "waivers" and n["level"] == "error"]
    assert len(errors) == 5 and any("expired on 2020-01-01" in e for e in errors)


def test_text_markdown_junit_and_html_show_waivers(audited, tmp_path):
    _, report, gate = audited
    text = REPORTERS["text"].render(report, gate, RenderOptions())
    assert "Waivers that do not count (what they name still fails):" in text
    assert f"{entry(report, 'expired').where}: compose.log_rotation: expired on 2020-01-01" in text
    assert "Unused waivers:" in text and "matches no failing finding" in text
    assert " waived." in text.splitlines()[-1] and "failures waived" in text
    quiet = REPORTERS["text"].render(report, gate, RenderOptions(quiet=True))
    assert "expired on 2020-01-01" in quiet
    md = REPORTERS["markdown"].render(report, gate, RenderOptions())
    assert "**5 waivers do not count**" in md and "| waived |" in md and "**waived**" in md
    path = tmp_path / "r.xml"
    path.write_text(REPORTERS["junit"].render(report, gate, RenderOptions()))
    suites = {s.name: s for s in junitparser.JUnitXml.fromfile(str(path))}
    assert suites["readiness.waivers"].errors == 5 and suites["readiness.waivers"].skipped == 1
    page = REPORTERS["html"].render(report, gate, RenderOptions())
    assert 'data-status="waived"' in page and "Waivers that do not count" in page


def test_a_waived_failure_does_not_fail_the_gate_and_an_expired_one_does(tmp_path, capsys):
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "deploy.sh").write_text(f"export GITHUB_TOKEN={TOKEN}\n")
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "a token")
    out = tmp_path / "r.json"
    assert cli.main(["audit", str(repo), "--format", f"json={out}"]) == 1
    data = json.loads(out.read_text())
    (secret,) = [o for o in data["observations"] if o["check"] == "secrets.no_hardcoded" and o["status"] == "fail"]
    failing = set(data["gate"]["failing_items"])
    assert "pd.secrets.no-hardcoded-credentials" in failing
    # the fingerprint (a secrets ignore file's key) works in the waiver file too, with an expiry
    (repo / ".readiness").mkdir()
    entries = [
        {"fingerprint": secret["facts"]["fingerprint"], "reason": "revoked", "approver": "Ada", "expires": SOON},
        *({"item": i, "reason": "accepted", "approver": "Ada", "expires": SOON} for i in failing if "secret" not in i),
    ]
    (repo / ".readiness/waivers.yaml").write_text("waivers:\n" + "".join(_waiver(**e) for e in entries))
    assert cli.main(["audit", str(repo), "--format", f"json={out}"]) == 0
    data = json.loads(out.read_text())
    status = {i["id"]: i["status"] for i in data["items"]}
    assert data["gate"]["passed"] and status["pd.secrets.no-hardcoded-credentials"] == "waived"
    # with its failure waived, an item is as its other evidence says (history not scanned: unknown)
    assert {status[i] for i in failing} <= {"waived", "unknown"} and data["summary"]["by_status"]["waived"] >= 2
    # the same waivers, expired: the failures are back and the report says why
    (repo / ".readiness/waivers.yaml").write_text(
        "waivers:\n" + "".join(_waiver(**(e | {"expires": "2021-06-30"})) for e in entries)
    )
    capsys.readouterr()
    assert cli.main(["audit", str(repo), "--format", "text"]) == 1
    text = capsys.readouterr().out
    assert "expired on 2021-06-30" in text and "FAIL [critical] pd.secrets.no-hardcoded-credentials" in text


@pytest.mark.parametrize(
    ("content", "said"),
    [
        ("waivers: [\n", "not valid YAML at line"),
        ("- check: compose.healthcheck\n", "(top level): expected object"),
        (
            "waivers:\n  - check: compose.healthcheck\n    reason: r\n    approver: a\n",
            "missing required key 'expires'",
        ),
        ("waivers:\n  - check: c.x\n    reason: r\n    approver: a\n    expires: 2026-02-30\n", "not a date"),
        ("waivers:\n  - check: c.x\n    reason: r\n    approver: a\n    expires: soon\n", "waivers.0.expires"),
        (f"waivers:\n  - {{check: c.x, item: d.y, reason: r, approver: a, expires: {SOON}}}\n", "not both"),
        (f"waivers:\n  - {{reason: r, approver: a, expires: {SOON}}}\n", "name a check, an item"),
        (f"waivers:\n  - {{check: c.x, digest: {'a' * 64}, reason: r, approver: a, expires: {SOON}}}\n", "digest pins"),
        (f"waivers:\n  - {{check: c.x, reason: r, approver: a, expires: {SOON}, owner: b}}\n", "unknown key 'owner'"),
    ],
)
def test_a_malformed_waiver_file_stops_the_audit(tmp_path, content, said):
    (tmp_path / ".readiness").mkdir()
    (tmp_path / ".readiness/waivers.yaml").write_text(content)
    with pytest.raises(ConfigError, match=None) as caught:
        waivers.load(tmp_path, Config(), {"c.x", "compose.healthcheck"}, {"d.y"}, TODAY)
    assert said in str(caught.value) and str(caught.value).startswith(".readiness/waivers.yaml")


def test_a_malformed_waiver_file_is_exit_2_with_one_line(tmp_path, capsys):
    (tmp_path / ".readiness").mkdir()
    (tmp_path / ".readiness/waivers.yaml").write_text("waivers:\n  - check: compose.healthcheck\n")
    assert cli.main(["audit", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "readiness: .readiness/waivers.yaml: waivers.0: missing required key 'reason', 'approver', 'expires'"
    ]


def test_the_configured_file_and_maximum_validity_are_used(tmp_path):
    (tmp_path / "ops").mkdir()
    (tmp_path / ".readiness.yaml").write_text("waivers:\n  file: ops/accepted.yaml\n  max_days: 10\n")
    (tmp_path / "ops/accepted.yaml").write_text(
        textwrap.dedent(f"""\
        waivers:
          - {{check: c.x, reason: fine, approver: a, expires: {(TODAY + dt.timedelta(days=10)).isoformat()}}}
          - {{check: c.x, reason: too long, approver: a, expires: {SOON}}}
        """)
    )
    cfg = config_mod.load(tmp_path)
    loaded = waivers.load(tmp_path, cfg, {"c.x"}, set(), TODAY)
    assert loaded.file == "ops/accepted.yaml" and loaded.max_days == 10
    assert [w.problem for w in loaded.entries][0] is None
    assert "beyond the maximum validity of 10 days" in loaded.entries[1].problem


def test_inline_waivers_need_a_known_check_and_a_reason(tmp_path):
    (tmp_path / "a.yml").write_text(f"x: 1  # {MARK}c.x\ny: 2  # {MARK}c.nope because\nz: 3 # {MARK}c.x,c.y ok\n")
    found = waivers.Waivers(None, 365)
    found.scan_inline(tmp_path, ["a.yml"], 1 << 20, {"c.x", "c.y"})
    assert [(w.where, w.checks, w.problem) for w in found.entries] == [
        ("a.yml:1", ("c.x",), "no reason given: a waiver says why"),
        ("a.yml:2", ("c.nope",), "no check c.nope (see: readiness list)"),
        ("a.yml:3", ("c.x", "c.y"), None),
    ]
