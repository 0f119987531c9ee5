"""The ci probe on fixture pipelines: GitHub Actions, GitLab CI, Jenkins, and none at all."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import REPO
from readiness.probes.ci import CHECKS, CiProbe

from readiness import runner
from readiness.config import Config
from readiness.discovery import discover
from readiness.inventory import Inventory
from readiness.model import Observation, Status
from readiness.probe import Files

FIXTURES = REPO / "fixtures"


def observe(root: Path) -> list[Observation]:
    found = discover(root, Config())
    return runner.run_probe(CiProbe, found, Files(found.root), Inventory(), Config())[0]


def statuses(obs: list[Observation]) -> dict[str, set[Status]]:
    out: dict[str, set[Status]] = {}
    for o in obs:
        out.setdefault(o.check, set()).add(o.status)
    return out


def where(obs: list[Observation], check: str) -> list[tuple[str | None, int | None]]:
    return sorted((o.subject.path, o.subject.line) for o in obs if o.check == check)


def test_a_complete_github_pipeline_passes_what_it_shows():
    obs = observe(FIXTURES / "ci-github")
    got = statuses(obs)
    assert set(got) == {c.id for c in CHECKS}
    passing = {c for c, s in got.items() if s == {Status.PASS}}
    assert {c.id for c in CHECKS} - passing == {"ci.approval_gates", "ci.deploy_strategy"}
    # reviewers on the production environment are a repository setting, not a file
    assert got["ci.approval_gates"] == {Status.UNKNOWN}
    assert got["ci.deploy_strategy"] == {Status.FAIL}  # helm upgrade --atomic is a rollback, not a canary
    # the unit tests, and the e2e suite (end-to-end tests are tests the pipeline runs too)
    assert where(obs, "ci.tests_run") == [(".github/workflows/ci.yml", 22), (".github/workflows/release.yml", 33)]
    assert where(obs, "ci.rollback") == [(".github/workflows/release.yml", 26)]
    backup = next(o for o in obs if o.check == "ci.pre_deploy_backup")
    assert "aws rds create-db-snapshot runs before the deploy" in backup.message
    smoke = next(o for o in obs if o.check == "ci.smoke_tests")
    assert "curl --fail runs after the deploy" in smoke.message


def test_gitlab_manual_gate_soft_failing_tests_and_unscanned_images():
    obs = observe(FIXTURES / "ci-gitlab")
    got = statuses(obs)
    assert got["ci.approval_gates"] == {Status.PASS}  # when: manual on the production job
    assert got["ci.fail_fast"] == {Status.FAIL} and where(obs, "ci.fail_fast") == [(".gitlab-ci.yml", 3)]
    assert got["ci.image_scan"] == {Status.FAIL}
    assert got["ci.timeouts"] == {Status.UNKNOWN}  # GitLab's project timeout applies
    assert got["ci.smoke_tests"] == {Status.FAIL} and got["ci.pre_deploy_backup"] == {Status.FAIL}
    assert got["ci.migrations_automated"] == {Status.UNKNOWN}  # no migrations in the repository


def test_github_jobs_without_timeouts_and_migrations_nobody_runs(tmp_path):
    (tmp_path / ".github" / "workflows").mkdir(parents=True)
    (tmp_path / ".github" / "workflows" / "ci.yml").write_text(
        "on: push\njobs:\n  only:\n    runs-on: ubuntu-latest\n    steps:\n      - run: go test ./...\n"
        "        continue-on-error: true\n"
    )
    (tmp_path / "db" / "migrate").mkdir(parents=True)
    (tmp_path / "db" / "migrate" / "001_init.sql").write_text("create table t (id int);\n")
    obs = observe(tmp_path)
    got = statuses(obs)
    assert got["ci.timeouts"] == {Status.FAIL} and "360 minutes" in next(
        o.message for o in obs if o.check == "ci.timeouts"
    )
    assert got["ci.parallel_jobs"] == {Status.FAIL}
    assert got["ci.fail_fast"] == {Status.FAIL}
    assert got["ci.migrations_automated"] == {Status.FAIL}
    assert got["ci.deploy_strategy"] == {Status.UNKNOWN}  # nothing deploys: how releases happen is elsewhere


def test_jenkinsfile_stages_are_read_by_pattern(tmp_path):
    (tmp_path / "Jenkinsfile").write_text(
        "pipeline {\n  agent any\n  options { timeout(time: 30, unit: 'MINUTES') }\n  stages {\n"
        "    stage('Test') { steps { sh 'mvn -B verify' } }\n"
        "    stage('Deploy') { steps { input message: 'Ship it?'\n sh 'kubectl apply -f k8s/' } }\n  }\n}\n"
    )
    got = statuses(observe(tmp_path))
    assert got["ci.tests_run"] == {Status.PASS}
    assert got["ci.approval_gates"] == {Status.PASS}
    assert got["ci.timeouts"] == {Status.PASS}


def test_no_pipeline_fails_what_needs_one(tmp_path):
    (tmp_path / "renovate.json").write_text('{"extends": ["config:recommended"]}\n')
    got = statuses(observe(tmp_path))
    assert got["ci.pipeline_present"] == {Status.FAIL}
    assert got["ci.tests_run"] == {Status.FAIL}
    assert got["ci.dependency_updates"] == {Status.PASS}  # Renovate needs no pipeline in the repository


@pytest.mark.parametrize("text", ["jobs: [unclosed\n", "on: push\njobs:\n  a: {steps: [\n"])
def test_a_workflow_that_does_not_parse_is_a_finding_and_the_rest_is_judged(tmp_path, text):
    (tmp_path / ".github" / "workflows").mkdir(parents=True)
    (tmp_path / ".github" / "workflows" / "broken.yml").write_text(text)
    (tmp_path / ".gitlab-ci.yml").write_text("test:\n  script: [pytest]\n")
    obs = observe(tmp_path)
    broken = {(o.check, o.status) for o in obs if o.subject.path == ".github/workflows/broken.yml"}
    assert ("ci.pipelines_valid", Status.FAIL) in broken  # the CI service would reject it
    assert {s for c, s in broken if c != "ci.pipelines_valid"} == {Status.ERROR}  # universal checks: unknown
    assert ("ci.tests_run", Status.ERROR) not in broken  # existential: another pipeline may prove it
    assert statuses(obs)["ci.tests_run"] >= {Status.PASS}


def test_steps_are_followed_into_scripts_make_targets_and_local_actions(tmp_path):
    """Tests run by ./scripts/unit-test.sh, a lint through `make lint`, a push through a local composite action."""
    files = {
        ".github/workflows/ci.yml": (
            "on: [push]\njobs:\n  build:\n    runs-on: ubuntu-latest\n    timeout-minutes: 30\n    steps:\n"
            "      - uses: actions/checkout@v4\n"
            "      - run: ./scripts/unit-test.sh\n"
            "      - run: make lint\n"
            "      - uses: ./.github/actions/publish\n"
        ),
        "scripts/unit-test.sh": "#!/bin/sh\nset -e\npython -m pytest -q tests/\n",
        "Makefile": "lint: deps\n\truff check .\n\ndeps:\n\tpip install -r requirements.txt\n",
        ".github/actions/publish/action.yml": (
            "runs:\n  using: composite\n  steps:\n"
            "    - run: docker buildx bake --push --set '*.cache-from=type=gha'\n      shell: bash\n"
        ),
    }
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    obs = observe(tmp_path)
    got = statuses(obs)
    for check in ("ci.tests_run", "ci.lint", "ci.image_build", "ci.artifact_push", "ci.dependency_cache"):
        assert Status.PASS in got[check], (check, [o.message for o in obs if o.check == check])
    assert where(obs, "ci.tests_run") == [(".github/workflows/ci.yml", 8)]  # the step, not the script


@pytest.mark.parametrize(
    ("files", "where"),
    [
        (  # plausible's shape: the compose command migrates before it runs; no CI pipeline at all
            {
                "docker-compose.yml": "services:\n  app:\n    image: example/app:2\n"
                '    command: sh -c "/entrypoint.sh db migrate && /entrypoint.sh run"\n'
            },
            "docker-compose.yml",
        ),
        (  # netbox's shape: the image's entrypoint migrates on every start
            {
                "docker/docker-entrypoint.sh": '#!/bin/bash\n./manage.py migrate --no-input\nexec "$@"\n',
                ".gitlab-ci.yml": "test:\n  script: [pytest]\n",
            },
            "docker/docker-entrypoint.sh",
        ),
    ],
)
def test_migrations_run_by_the_deployment_itself(tmp_path, files, where):
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    got = [(o.status, o.subject.path) for o in observe(tmp_path) if o.check == "ci.migrations_automated"]
    assert got and got[0] == (Status.PASS, where), got


@pytest.mark.parametrize(
    ("files", "status"),
    [
        (
            {
                ".github/dependabot.yml": "version: 2\nupdates:\n  - package-ecosystem: pip\n    directory: /\n"
                "    schedule: {interval: weekly}\n"
            },
            Status.FAIL,
        ),  # a bot, but not for images
        (
            {
                ".github/dependabot.yml": "version: 2\nupdates:\n  - package-ecosystem: docker-compose\n"
                "    directory: /\n    schedule: {interval: daily}\n"
            },
            Status.PASS,
        ),
        ({"renovate.json": '{"extends": ["config:recommended"], "enabledManagers": ["npm"]}'}, Status.FAIL),
        ({"renovate.json": '{"extends": ["config:recommended"]}'}, Status.PASS),  # every manager by default
        (
            {
                ".github/workflows/nightly.yml": "on:\n  schedule: [{cron: '0 5 * * *'}]\njobs:\n  build:\n"
                "    runs-on: ubuntu-latest\n    steps:\n      - run: docker build --pull -t app .\n"
            },
            Status.PASS,
        ),
    ],
)
def test_base_images_kept_current_by_a_bot_that_tracks_them_or_scheduled_rebuilds(tmp_path, files, status):
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    got = {o.status for o in observe(tmp_path) if o.check == "ci.base_images_updated"}
    assert status in got and (status is Status.FAIL or Status.FAIL not in got), got


def test_scripts_named_for_tests_pushes_by_flag_and_the_root_action(tmp_path):
    files = {
        ".github/workflows/test.yml": (
            "on: [push]\njobs:\n  t:\n    runs-on: ubuntu-latest\n    timeout-minutes: 10\n    steps:\n"
            "      - run: ./unit-test.sh\n"
            "      - uses: ./\n"
            "      - run: |\n          shellcheck \\\n            unit-test.sh\n"
        ),
        ".github/workflows/release.yml": (
            "on: [push]\njobs:\n  r:\n    runs-on: ubuntu-latest\n    timeout-minutes: 10\n    steps:\n"
            "      - run: ./build.sh main --push\n"
        ),
        "unit-test.sh": "#!/bin/bash\nfor t in _unit-test/*-test.sh; do $t; done\n",
        "action.yml": (
            "runs:\n  using: composite\n  steps:\n    - uses: actions/cache@v4\n      with: {path: x, key: y}\n"
        ),
    }
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    obs = observe(tmp_path)
    assert where(obs, "ci.tests_run") == [(".github/workflows/test.yml", 7)]  # not the shellcheck argument
    assert Status.PASS in statuses(obs)["ci.artifact_push"]
    assert Status.PASS in statuses(obs)["ci.dependency_cache"]  # through the repository's own action


@pytest.mark.parametrize(
    "step",
    [
        # a matrix of build commands, each run with --push (netbox-docker's release.yml)
        "    strategy:\n      matrix:\n        build_cmd: [./build-latest.sh, ./build.sh develop]\n"
        "    steps:\n      - run: ${{ matrix.build_cmd }} --push\n",
        # build-push-action pushing through its outputs (outline's docker-build.yml)
        "    steps:\n      - uses: docker/build-push-action@v6\n        with:\n"
        "          outputs: type=image,push-by-digest=true,push=true\n",
        "    steps:\n      - run: gcloud builds submit --tag=europe-docker.pkg.dev/p/r/app:1.0 .\n",
        "    steps:\n      - run: skaffold run --default-repo=europe-docker.pkg.dev/p/r --tag=$GITHUB_SHA\n",
    ],
)
def test_pushes_the_step_spells_differently(tmp_path, step):
    workflow = tmp_path / ".github" / "workflows" / "release.yml"
    workflow.parent.mkdir(parents=True)
    workflow.write_text("on: push\njobs:\n  release:\n    runs-on: ubuntu-latest\n" + step)
    assert statuses(observe(tmp_path))["ci.artifact_push"] == {Status.PASS}


def test_a_matrix_value_without_push_pushes_nothing(tmp_path):
    workflow = tmp_path / ".github" / "workflows" / "build.yml"
    workflow.parent.mkdir(parents=True)
    workflow.write_text(
        "on: push\njobs:\n  build:\n    runs-on: ubuntu-latest\n    strategy:\n      matrix:\n"
        "        build_cmd: [./build.sh]\n    steps:\n      - run: ${{ matrix.build_cmd }} --no-cache\n"
    )
    assert statuses(observe(tmp_path))["ci.artifact_push"] == {Status.FAIL}
