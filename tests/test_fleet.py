"""Fleet audits for real: emitted GitHub, GitLab and Kubernetes definitions validated against their published
schemas, their shard commands run as separate processes against one real PostgreSQL store, and `fleet run`
over 20 local fixture repositories with two worker processes."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from importlib import resources
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml
from postgres_service import Postgres
from sqlalchemy import select
from store_service import READINESS, cli_json, fixture_repo, postgres_database

from readiness import cli
from readiness.fleet.repos import Repository, shard
from readiness.store.engine import open_store
from readiness.store.schema import runs

SMALL_FIXTURES = [
    "dockerfile-insecure",
    "dockerfile-hardened",
    "compose-hardened",
    "compose-insecure",
    "nginx-insecure",
    "k8s-hardened",
    "redis-configs",
    "backup-none",
    "docs-stubs",
    "terraform-insecure",
]
# The newest Kubernetes release whose strict schemas kubernetes-validate ships.
K8S_SCHEMAS = resources.files("kubernetes_validate") / "kubernetes-json-schema"
K8S_VERSION = max(
    (
        p.name.removeprefix("v").removesuffix("-local-strict")
        for p in K8S_SCHEMAS.iterdir()
        if p.name.endswith("-strict")
    ),
    key=lambda v: tuple(int(n) for n in v.split(".")),
)


def vendored_schema(name: str) -> dict:
    """SchemaStore's schemas as check-jsonschema vendors them (github-workflows.json from SchemaStore,
    gitlab-ci.json from GitLab)."""
    return json.loads((resources.files("check_jsonschema.builtin_schemas.vendor") / name).read_text("utf-8"))


def validate(document: object, schema: dict) -> None:
    validator_class = jsonschema.validators.validator_for(schema)
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator_class(schema).iter_errors(document)]
    assert errors == []


@pytest.fixture(scope="module")
def postgres():
    server = Postgres.start(strong=False)
    yield server
    server.stop()


def _fleet_file(tmp_path: Path, count: int, clone_some: bool) -> tuple[Path, list[str]]:
    """``count`` real fixture repositories: local checkouts, and with ``clone_some`` every third one only as a
    bare repository to clone (a file:// URL, so the shard's clone path runs without a network)."""
    entries, names = [], []
    for n in range(count):
        fixture = SMALL_FIXTURES[n % len(SMALL_FIXTURES)]
        name = f"{fixture}-{n}"
        repo = fixture_repo(fixture, tmp_path / "checkouts" / name)
        if clone_some and n % 3 == 2:
            bare = tmp_path / "remotes" / f"{name}.git"
            subprocess.run(["git", "clone", "-q", "--bare", str(repo), str(bare)], check=True)
            entries.append({"name": name, "url": bare.as_uri(), "ref": "main", "deployment": "production"})
        else:
            entries.append({"name": name, "path": f"checkouts/{name}", "deployment": "production"})
        names.append(name)
    fleet_file = tmp_path / "repos.yaml"
    fleet_file.write_text(yaml.safe_dump({"repositories": entries}, sort_keys=False))
    return fleet_file, names


def _plan(fleet_file: Path, target: str, shards: int) -> list[dict]:
    done = subprocess.run(
        [*READINESS, "fleet", "plan", "repos.yaml", "--target", target, "--shards", str(shards), "--image", "r:1"],
        cwd=fleet_file.parent,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return list(yaml.safe_load_all(done.stdout))


def _stored(url: str) -> list[tuple[str, str | None]]:
    engine = open_store(url)
    with engine.connect() as conn:
        rows = conn.execute(select(runs.c.repository, runs.c.deployment)).all()
    engine.dispose()
    return sorted((r.repository, r.deployment) for r in rows)


def test_plans_validate_and_their_shards_fill_one_postgresql_store(tmp_path, postgres):
    fleet_file, names = _fleet_file(tmp_path, 6, clone_some=True)
    shards = 3
    [workflow] = _plan(fleet_file, "github", shards)
    [gitlab] = _plan(fleet_file, "gitlab", shards)
    config_map, job = _plan(fleet_file, "kubernetes", shards)

    validate(workflow, vendored_schema("github-workflows.json"))
    validate(gitlab, vendored_schema("gitlab-ci.json"))
    for obj in (config_map, job):
        kubernetes_validate.validate(obj, K8S_VERSION, strict=True)  # raises on any error
    assert job["spec"]["completionMode"] == "Indexed" and job["spec"]["completions"] == shards
    assert workflow["jobs"]["audit"]["strategy"]["matrix"]["shard"] == [0, 1, 2]
    assert gitlab["readiness-fleet"]["parallel"] == shards
    assert yaml.safe_load(config_map["data"]["repos.yaml"]) == yaml.safe_load(fleet_file.read_text())

    # Each engine's own command line, run as the engine would run it, one shard each, all at once, into one
    # real PostgreSQL store: shard 0 as the Actions matrix runs it, 1 as a Kubernetes pod, 2 as GitLab's job 3.
    store = postgres_database(postgres, "fleet")
    env = {**os.environ, "READINESS_STORE": store}
    run_line = workflow["jobs"]["audit"]["steps"][1]["run"].replace("${{ matrix.shard }}", "0")
    container = job["spec"]["template"]["spec"]["containers"][0]
    pod_args = [a.replace("/etc/readiness/repos.yaml", "repos.yaml") for a in container["args"]]
    [gitlab_line] = gitlab["readiness-fleet"]["script"]
    processes = [
        subprocess.Popen([*READINESS, *shlex.split(run_line)[1:]], cwd=tmp_path, env=env, stderr=subprocess.PIPE),
        subprocess.Popen(
            [*READINESS, *pod_args], cwd=tmp_path, env={**env, "JOB_COMPLETION_INDEX": "1"}, stderr=subprocess.PIPE
        ),
        subprocess.Popen(
            ["sh", "-c", gitlab_line.replace("readiness ", shlex.join(READINESS) + " ", 1)],
            cwd=tmp_path,
            env={**env, "CI_NODE_INDEX": "3", "CI_NODE_TOTAL": str(shards)},
            stderr=subprocess.PIPE,
        ),
    ]
    for process in processes:
        _, err = process.communicate(timeout=600)
        assert process.returncode == 0, err.decode()
        assert b"2 of 2 repositories audited and recorded" in err
    assert _stored(store) == sorted((n, "production") for n in names)
    status = cli_json("store", "status", "--store", store)
    assert sorted(r["repository"] for r in status["repositories"]) == sorted(names)


def test_fleet_run_audits_20_local_repositories_with_2_processes(tmp_path):
    fleet_file, names = _fleet_file(tmp_path, 20, clone_some=False)
    store = f"sqlite:///{tmp_path / 'fleet.db'}"
    done = subprocess.run(
        [*READINESS, "fleet", "run", str(fleet_file), "--jobs", "2", "--store", store],
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert done.returncode == 0, done.stderr
    assert "20 of 20 repositories audited and recorded" in done.stderr
    assert _stored(store) == sorted((n, "production") for n in names)
    # Every run's items were recorded with it.
    status = cli_json("store", "status", "--store", store)
    assert all(len(r["items"]) > 100 for r in status["repositories"]) and len(status["repositories"]) == 20


def test_shards_partition_the_fleet():
    repos = tuple(Repository(f"r{n}", None, Path("."), None, None, ()) for n in range(23))
    for count in (1, 2, 5, 23, 40):
        shares = [shard(repos, i, count) for i in range(count)]
        assert sorted(r.name for share in shares for r in share) == sorted(r.name for r in repos)
        assert max(map(len, shares)) - min(map(len, shares)) <= 1


def test_bad_fleet_files_and_unreachable_repositories(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("repositories:\n  - {name: a, path: x}\n  - {name: a, path: y}\n")
    assert cli.main(["fleet", "plan", str(bad), "--target", "github"]) == 2
    assert "must be unique: a" in capsys.readouterr().err
    bad.write_text("repositories:\n  - {name: a}\n")
    assert cli.main(["fleet", "plan", str(bad), "--target", "github"]) == 2
    assert cli.main(["fleet", "shard", str(bad), "--count", "2"]) == 2  # no index anywhere
    # A repository neither checked out nor clonable, and one naming an unknown pack, fail alone; the other is
    # recorded.
    fixture_repo("dockerfile-hardened", tmp_path / "good")
    mixed = tmp_path / "mixed.yaml"
    gone = "{name: gone, path: missing, url: 'file:///nonexistent/repo.git'}"
    odd = "{name: odd, path: good, policies: [no-such-pack]}"
    mixed.write_text(f"repositories:\n  - {gone}\n  - {{name: good, path: good}}\n  - {odd}\n")
    store = str(tmp_path / "s.db")
    capsys.readouterr()
    assert cli.main(["fleet", "shard", str(mixed), "--index", "0", "--count", "1", "--store", store]) == 1
    err = capsys.readouterr().err
    assert "gone: FAILED: clone failed" in err and "odd: FAILED: unknown policy pack 'no-such-pack'" in err
    assert "1 of 3 repositories audited and recorded" in err
    assert [r for r, _ in _stored(store)] == ["good"]
