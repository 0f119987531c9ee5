"""The evidence store, for real: audits of fixture repositories (one with a history of commits) pushed by
concurrent processes to a SQLite file and to a real PostgreSQL server give the same answers."""

from __future__ import annotations

import datetime as dt
import json
import multiprocessing
import random
import subprocess
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from postgres_service import Postgres
from sqlalchemy import func, select
from store_service import (
    audit_json,
    commit_change,
    fixture_repo,
    next_second,
    postgres_database,
)

from readiness import cli
from readiness.store.engine import open_store
from readiness.store.schema import item_results, metadata, runs

ITEM = "pd.containers.read-only-rootfs"


@pytest.fixture(scope="module")
def estate(tmp_path_factory) -> dict:
    """Six real audits: insecure twice, hardened once, and `shop` (hardened) across three commits where its
    compose file loses, then regains, its read-only root filesystem."""
    base = tmp_path_factory.mktemp("estate")
    reports: dict[str, list[Path]] = {"insecure": [], "hardened": [], "shop": []}
    commits = []
    insecure = fixture_repo("insecure", base / "insecure")
    hardened = fixture_repo("hardened", base / "hardened")
    shop = fixture_repo("hardened", base / "shop")
    reports["hardened"].append(audit_json(hardened, base / "hardened-1.json"))
    reports["insecure"].append(audit_json(insecure, base / "insecure-1.json"))
    commits.append(subprocess.check_output(["git", "-C", str(shop), "rev-parse", "HEAD"], text=True).strip())
    reports["shop"].append(audit_json(shop, base / "shop-1.json"))
    next_second()
    commits.append(commit_change(shop, "docker-compose.yml", "read_only: true", "read_only: false", "writable root"))
    reports["shop"].append(audit_json(shop, base / "shop-2.json"))
    reports["insecure"].append(audit_json(insecure, base / "insecure-2.json"))
    next_second()
    commits.append(commit_change(shop, "docker-compose.yml", "read_only: false", "read_only: true", "read-only again"))
    reports["shop"].append(audit_json(shop, base / "shop-3.json"))
    return {"reports": reports, "commits": commits}


@pytest.fixture(scope="module")
def postgres():
    server = Postgres.start(strong=False)
    yield server
    server.stop()


def _without_run_ids(value):
    """Run ids are each store's own; everything else must agree."""
    if isinstance(value, dict):
        return {k: _without_run_ids(v) for k, v in value.items() if k != "run"}
    if isinstance(value, list):
        return [_without_run_ids(v) for v in value]
    return value


def _finished(report: Path) -> str:
    return json.loads(report.read_text())["finished"]


def ask(capsys, *args: str) -> dict:
    capsys.readouterr()
    assert cli.main([*args, "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_concurrent_pushes_to_sqlite_and_postgresql_give_the_same_answers(estate, postgres, tmp_path, capsys):
    stores = {"sqlite": f"sqlite:///{tmp_path / 'evidence.db'}", "postgresql": postgres_database(postgres, "estate")}
    all_reports = [r for paths in estate["reports"].values() for r in paths]
    # Every report pushed twice, in shuffled order, by four worker processes at once, to both fresh stores
    # (whose schema the first pushes create concurrently).
    pushes = [
        ["store", "push", str(report), "--store", url, "--repo", repo]
        for url in stores.values()
        for repo, paths in estate["reports"].items()
        for report in paths
        for _ in range(2)
    ]
    random.Random(16).shuffle(pushes)
    with multiprocessing.get_context("fork").Pool(4) as pool:
        assert pool.map(cli.main, pushes, chunksize=1) == [0] * len(pushes)
    for url in stores.values():
        engine = open_store(url)
        with engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(runs)).scalar() == len(all_reports)
            assert conn.execute(select(func.count()).select_from(item_results)).scalar() == sum(
                len(json.loads(r.read_text())["items"]) for r in all_reports
            )
        engine.dispose()

    shop = estate["reports"]["shop"]
    first = min(_finished(r) for r in all_reports)
    start = (dt.datetime.strptime(first, "%Y-%m-%dT%H:%M:%SZ") - dt.timedelta(days=1)).date().isoformat()
    end = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).date().isoformat()
    questions = {
        "status": ["store", "status"],
        "history": ["store", "history", ITEM],
        "history-shop": ["store", "history", ITEM, "--repo", "shop", "--since", _finished(shop[1])],
        "period": ["store", "period", "--from", start, "--to", end],
        "period-shop": ["store", "period", "--from", _finished(shop[0]), "--to", _finished(shop[2]), "--repo", "shop"],
    }
    answers = {
        kind: {name: ask(capsys, *q, "--store", url) for name, q in questions.items()} for kind, url in stores.items()
    }
    assert _without_run_ids(answers["sqlite"]) == _without_run_ids(answers["postgresql"])

    got = answers["postgresql"]
    c1, c2, c3 = estate["commits"]
    # status: each repository's latest run; shop is read-only again, insecure never was.
    latest = {e["repository"]: {i["item"]: i["status"] for i in e["items"]} for e in got["status"]["repositories"]}
    assert latest["shop"][ITEM] == "pass" and latest["hardened"][ITEM] == "pass"
    assert latest["insecure"][ITEM] == "fail"
    counted = sum(n for by_status in got["status"]["summary"].values() for n in by_status.values())
    assert counted == sum(len(items) for items in latest.values())
    # history: shop went pass -> fail -> pass at exactly the commits that changed it.
    series = {s["repository"]: s for s in got["history"]["series"]}
    assert [(c["status"], c["commit"]) for c in series["shop"]["changes"]] == [("pass", c1), ("fail", c2), ("pass", c3)]
    assert [c["status"] for c in series["insecure"]["changes"]] == ["fail"] and series["insecure"]["runs"] == 2
    assert [(c["status"], c["commit"]) for c in got["history-shop"]["series"][0]["changes"]] == [
        ("fail", c2),
        ("pass", c3),
    ]
    # period over everything: nothing was in the store at its start, so nothing is continuous.
    assert got["period"]["summary"]["continuously_passing"] == 0
    # period over shop's own runs: opened by run 1; the read-only item has one gap, proven by run 2.
    items = {i["item"]: i for i in got["period-shop"]["items"]}
    gap = items[ITEM]["gaps"]
    assert not items[ITEM]["continuous"] and len(gap) == 1
    assert gap[0]["status"] == "fail" and gap[0]["run"]["commit"] == c2
    assert (gap[0]["from"], gap[0]["to"]) == (_finished(shop[1]), _finished(shop[2]))
    non_root = items["pd.containers.non-root"]
    assert non_root["continuous"] and non_root["gaps"] == [] and non_root["opening_run"]["commit"] == c1
    assert [r["commit"] for r in got["period-shop"]["repositories"][0]["runs"]] == [c1, c2, c3]

    # diff by commit and by run id agree
    by_commit = ask(capsys, "store", "diff", "shop", c1[:10], c2, "--store", stores["postgresql"])
    changed = {c["item"]: (c["a"], c["b"]) for c in by_commit["changes"]}
    assert changed[ITEM] == ("pass", "fail")
    run_a, run_b = by_commit["a"]["run"], by_commit["b"]["run"]
    by_id = ask(capsys, "store", "diff", "shop", str(run_a), f"#{run_b}", "--store", stores["postgresql"])
    assert by_id == by_commit


def test_migrations_create_exactly_the_declared_schema(tmp_path, postgres):
    for url in (f"sqlite:///{tmp_path / 's.db'}", postgres_database(postgres, "schema_check")):
        engine = open_store(url)
        with engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), metadata) == []
        engine.dispose()


def test_push_is_idempotent_and_bad_input_is_a_clear_error(estate, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.delenv("READINESS_STORE", raising=False)
    report = estate["reports"]["insecure"][0]
    signature = tmp_path / "report.dsse.json"
    signature.write_text('{"payloadType": "application/vnd.in-toto+json", "signatures": []}')
    assert cli.main(["store", "push", str(report), "--signature", str(signature)]) == 0
    # The same report reformatted is the same report.
    again = tmp_path / "again.json"
    again.write_text(json.dumps(json.loads(report.read_text()), indent=None))
    assert cli.main(["store", "push", str(again)]) == 0
    assert "already recorded: run 1" in capsys.readouterr().err
    default = tmp_path / "data" / "readiness" / "evidence.db"
    engine = open_store(str(default))
    with engine.connect() as conn:
        assert conn.execute(select(runs.c.repository, runs.c.commit, runs.c.signature)).all() == [
            ("insecure", json.loads(report.read_text())["target"]["git"]["commit"], signature.read_text())
        ]
    (tmp_path / "notjson.json").write_text("{nope")
    (tmp_path / "other.json").write_text('{"hello": 1}')
    assert cli.main(["store", "push", str(tmp_path / "notjson.json")]) == 2
    assert "not JSON" in capsys.readouterr().err
    assert cli.main(["store", "push", str(tmp_path / "other.json")]) == 2
    assert "not a readiness evidence bundle" in capsys.readouterr().err
    assert cli.main(["store", "diff", "insecure", "deadbeef", "1"]) == 2
    assert "no run of insecure" in capsys.readouterr().err
    assert cli.main(["store", "history", ITEM, "--since", "last tuesday"]) == 2


def test_text_and_markdown_show_the_same_answer(estate, tmp_path, capsys):
    store = str(tmp_path / "e.db")
    for report in estate["reports"]["shop"]:
        assert cli.main(["store", "push", str(report), "--store", store, "--repo", "shop"]) == 0
    capsys.readouterr()
    assert cli.main(["store", "history", ITEM, "--store", store, "--format", "markdown"]) == 0
    markdown = capsys.readouterr().out
    assert markdown.startswith(f"# History of {ITEM}")
    assert [line.split(" | ")[2] for line in markdown.splitlines() if line.startswith("| shop")] == [
        "pass",
        "fail",
        "pass",
    ]
    # --max-interval: runs further apart than that leave stale gaps, even where every run passed.
    shop = estate["reports"]["shop"]
    window = ["store", "period", "--from", _finished(shop[0]), "--to", _finished(shop[2]), "--item"]
    held = ask(capsys, *window, "pd.containers.non-root", "--store", store)["items"][0]
    assert held["continuous"] and held["gaps"] == []
    strict = ask(capsys, *window, "pd.containers.non-root", "--store", store, "--max-interval", "0.0001")["items"][0]
    assert not strict["continuous"] and {g["status"] for g in strict["gaps"]} == {"stale"}
    assert [(g["from"], g["to"]) for g in strict["gaps"]] == [
        (_finished(shop[0]), _finished(shop[1])),
        (_finished(shop[1]), _finished(shop[2])),
    ]
    assert cli.main(["store", "status", "--store", store, "--format", "text"]) == 0
    text = capsys.readouterr().out
    assert "Summary by severity" in text and "shop" in text
    assert cli.main(["store", "status", "--store", "postgresql://nobody@127.0.0.1:1/none"]) == 2
    assert "cannot open the store" in capsys.readouterr().err


def test_audit_store_records_the_report_it_writes(tmp_path, capsys):
    repo = fixture_repo("dockerfile-hardened", tmp_path / "svc")
    store = str(tmp_path / "audits.db")
    report = tmp_path / "report.json"
    argv = ["audit", str(repo), "--format", "json", "--output", str(report), "--fail-on", "none", "--store", store]
    assert cli.main(argv) == 0
    assert "recorded: run 1" in capsys.readouterr().err
    # The file written and the run recorded are one report: pushing the file finds it already there.
    assert cli.main(["store", "push", str(report), "--store", store]) == 0
    assert "already recorded: run 1" in capsys.readouterr().err
    assert ask(capsys, "store", "status", "--store", store)["repositories"][0]["repository"] == "svc"
