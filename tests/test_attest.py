"""Strict attestations: one naming an unknown or a non-manual item stops the audit with a one-line
error naming its line; `readiness attest` appends an entry the audit then counts; expiry is capped
at the item's maximum validity."""

from __future__ import annotations

import datetime as dt

import pytest
import yaml
from conftest import git

from readiness import cli
from readiness.attestations import load
from readiness.evaluate import evaluate
from readiness.model import VerdictStatus
from readiness.policy import builtin_pack_names, load_packs, parse_pack

TODAY = dt.date.today()
PACKS = load_packs(builtin_pack_names())
MANUAL = next(i for i in PACKS[1].items if i.manual)  # production-deployment
EVIDENCE_ITEM = next(i for i in PACKS[1].items if i.evidence)
ATTESTATIONS = ".readiness/attestations.yaml"


@pytest.fixture
def repo(tmp_path):
    git(tmp_path, "init", "-q")
    (tmp_path / "README.md").write_text("# service\n")
    return tmp_path


def write(repo, body: str) -> None:
    (repo / ".readiness").mkdir(exist_ok=True)
    (repo / ATTESTATIONS).write_text(body)


def entry(item: str, role: str, **extra: str) -> str:
    lines = [f"item: {item}", "status: pass", "name: Ada Example", f"role: {role}", f"date: {TODAY.isoformat()}"]
    lines += [f"{k}: {v}" for k, v in extra.items()]
    return "  - " + "\n    ".join(lines) + "\n"


def test_an_unknown_item_is_an_error_naming_the_line(repo, capsys):
    write(repo, "attestations:\n" + entry(MANUAL.id, MANUAL.manual.role) + entry("pd.no-such-item", "Nobody"))
    assert cli.main(["audit", str(repo)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"readiness: {ATTESTATIONS} line 7: no item pd.no-such-item in any policy pack (see: readiness list)"


def test_a_non_manual_item_is_an_error(repo, capsys):
    write(repo, "attestations:\n" + entry(EVIDENCE_ITEM.id, "Security Officer"))
    assert cli.main(["audit", str(repo)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"readiness: {ATTESTATIONS} line 2: {EVIDENCE_ITEM.id} is decided by evidence")
    assert len(err.splitlines()) == 1


def test_items_of_a_pack_not_selected_are_left_alone(repo, capsys):
    write(repo, "attestations:\n" + entry(MANUAL.id, MANUAL.manual.role))
    assert cli.main(["audit", str(repo), "--policy", "devops-deployment", "--fail-on", "none", "--quiet"]) == 0


def test_expiry_beyond_the_maximum_validity_does_not_count(tmp_path):
    pack = parse_pack(
        "pack: demo\nversion: 1\ntitle: Demo\nsections: [{id: '1', title: One}]\n"
        "items:\n  - {id: d.pentest, title: Pentest, section: '1', severity: high,"
        " manual: {role: Security Officer, valid_days: 30}}\n",
        "demo",
    )
    too_late = (TODAY + dt.timedelta(days=31)).isoformat()
    write(tmp_path, "attestations:\n" + entry("d.pentest", "Security Officer", expires=too_late))
    atts = load(tmp_path, ATTESTATIONS)
    (v,), _ = evaluate([pack], [], set(), {}, atts.entries, {}, TODAY)
    assert v.status is VerdictStatus.MANUAL and "beyond this item's maximum validity of 30 days" in v.reason


def test_attest_appends_an_entry_the_audit_counts(repo, capsys):
    write(repo, "# reviewed like code\nattestations:\n")
    code = cli.main(
        ["attest", MANUAL.id, "--role", MANUAL.manual.role.upper(), "--by", "Ada Example", "--path", str(repo),
         "--evidence", "https://wiki.invalid/review"]
    )  # fmt: skip
    assert code == 0
    text = (repo / ATTESTATIONS).read_text()
    assert text.startswith("# reviewed like code\nattestations:\n")
    (written,) = yaml.safe_load(text)["attestations"]
    assert written["item"] == MANUAL.id and written["role"] == MANUAL.manual.role and written["name"] == "Ada Example"
    until = TODAY + dt.timedelta(days=MANUAL.manual.valid_days)
    assert f"until {until.isoformat()}" in capsys.readouterr().err
    # a second one is appended after the first, in the same list
    other = next(i for i in PACKS[1].items if i.manual and i.id != MANUAL.id)
    assert cli.main(["attest", other.id, "--role", other.manual.role, "--by", "Bo", "--path", str(repo)]) == 0
    assert [a["item"] for a in yaml.safe_load((repo / ATTESTATIONS).read_text())["attestations"]] == [
        MANUAL.id,
        other.id,
    ]
    from readiness import config as config_mod
    from readiness.runner import audit

    report = audit(repo, config_mod.load(repo), ["production-deployment"])
    verdict = next(v for v in report.verdicts if v.item_id == MANUAL.id)
    assert verdict.status is VerdictStatus.PASS and verdict.attestation["name"] == "Ada Example"


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["pd.no-such-item", "--role", "X"], "no item of that id"),
        ([EVIDENCE_ITEM.id, "--role", "X"], "is decided by evidence"),
        ([MANUAL.id, "--role", "Intern"], f"is attested by the {MANUAL.manual.role}, not by 'Intern'"),
        (
            [MANUAL.id, "--role", MANUAL.manual.role, "--expires", (TODAY + dt.timedelta(days=400)).isoformat()],
            "maximum validity",
        ),
        ([MANUAL.id, "--role", MANUAL.manual.role, "--date", (TODAY + dt.timedelta(days=2)).isoformat()], "future"),
    ],
)
def test_attest_refuses_what_would_not_count(args, said, repo, capsys):
    assert cli.main(["attest", *args, "--by", "Ada", "--path", str(repo)]) == 2
    err = capsys.readouterr().err
    assert said in err and len(err.strip().splitlines()) == 1
    assert not (repo / ATTESTATIONS).exists()


def test_explain_a_manual_item_says_how_to_attest_it(capsys):
    assert cli.main(["explain", MANUAL.id]) == 0
    assert f"readiness attest {MANUAL.id} --role '{MANUAL.manual.role}' --by NAME" in capsys.readouterr().out
