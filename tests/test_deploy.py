"""The deploy probe on fixture repositories: blue-green switches, rollback procedures, scheduled cleanup."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import REPO
from readiness.probes.deploy import CHECKS

from readiness import runner
from readiness.config import Config
from readiness.model import Observation, Status

FIXTURES = REPO / "fixtures"


@pytest.fixture(autouse=True)
def observations_only(monkeypatch):
    monkeypatch.setattr(runner, "planned_checks", dict)


def observe(root: Path) -> list[Observation]:
    """All probes run (the inventory matters for cleanup); the deploy probe's observations are returned."""
    return [o for o in runner.audit(root, Config(policies=()), policies=[]).observations if o.probe == "deploy"]


def of(obs: list[Observation], check: str) -> list[tuple[Status, str | None, int | None, str]]:
    return sorted((o.status, o.subject.path, o.subject.line, o.message) for o in obs if o.check == check)


def copy(name: str, tmp_path: Path) -> Path:
    shutil.copytree(FIXTURES / name, tmp_path / name)
    return tmp_path / name


def test_kubernetes_blue_green_with_documented_rollback(tmp_path):
    obs = observe(copy("deploy-k8s-bluegreen", tmp_path))
    assert {o.check for o in obs} == {c.id for c in CHECKS}
    ((status, path, line, message),) = of(obs, "deploy.blue_green")
    assert (status, path, line) == (Status.PASS, "k8s/rollout.yaml", 1) and "shop-preview" in message
    ((status, path, line, message),) = of(obs, "deploy.rollback_procedure")
    assert (status, path, line) == (Status.PASS, "docs/operations.md", 3) and "Rolling back" in message
    ((status, _path, _line, message),) = of(obs, "deploy.cleanup_automated")
    assert status is Status.NOT_APPLICABLE and "kubelet" in message


def test_compose_host_with_colour_pairs_a_make_rollback_and_a_prune_timer(tmp_path):
    obs = observe(copy("deploy-compose-host", tmp_path))
    assert of(obs, "deploy.blue_green")[0][:2] == (Status.PASS, "docker-compose.yml")
    assert of(obs, "deploy.rollback_procedure") == [(Status.PASS, "Makefile", 4, "Makefile target rollback")]
    ((status, path, _line, message),) = of(obs, "deploy.cleanup_automated")
    assert (status, path) == (Status.PASS, "ops/systemd/docker-prune.timer") and "docker system prune" in message


def test_a_host_deployment_without_any_of_it_fails_each_check(tmp_path):
    root = copy("deploy-compose-host", tmp_path)
    shutil.rmtree(root / "ops")
    (root / "Makefile").write_text("deploy:\n\t./scripts/deploy.sh\n")
    (root / "docker-compose.yml").write_text("services:\n  web:\n    image: registry.example.test/web:1.8.2\n")
    obs = observe(root)
    assert {o.status for o in obs} == {Status.FAIL}
    ((_status, _path, _line, message),) = of(obs, "deploy.cleanup_automated")
    assert "web" in message  # names the hosts' services that need it


def test_a_stub_rollback_heading_is_not_a_procedure(tmp_path):
    (tmp_path / "RUNBOOK.md").write_text("# Runbook\n\n## Rollback\n\nTODO\n")
    ((status, _path, _line, _message),) = of(observe(tmp_path), "deploy.rollback_procedure")
    assert status is Status.FAIL


def test_scripts_that_run_a_rollback_command_count(tmp_path):
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "release.sh").write_text(
        "#!/bin/sh\nset -e\nhelm upgrade shop ./chart || helm rollback shop\n"
    )
    assert of(observe(tmp_path), "deploy.rollback_procedure")[0][:3] == (Status.PASS, "scripts/release.sh", 3)


def test_nginx_blue_green_upstreams_and_ecr_lifecycle(tmp_path):
    (tmp_path / "nginx").mkdir()
    (tmp_path / "nginx" / "upstreams.conf").write_text(
        "upstream app_blue { server 10.0.0.1:8000; }\nupstream app_green { server 10.0.0.2:8000; }\n"
    )
    (tmp_path / "ecr.tf").write_text(
        'resource "aws_ecr_repository" "app" {\n  name = "app"\n}\n\n'
        'resource "aws_ecr_lifecycle_policy" "app" {\n  repository = aws_ecr_repository.app.name\n  policy = "{}"\n}\n'
    )
    obs = observe(tmp_path)
    assert of(obs, "deploy.blue_green")[0][:3] == (Status.PASS, "nginx/upstreams.conf", 1)
    assert of(obs, "deploy.cleanup_automated")[0][:3] == (Status.PASS, "ecr.tf", 5)


def test_malformed_yaml_is_an_error_and_the_rest_is_judged(tmp_path):
    root = copy("deploy-k8s-bluegreen", tmp_path)
    (root / "k8s" / "broken.yaml").write_text("kind: Service\nspec: {selector: [\n")
    obs = observe(root)
    assert {o.status for o in obs if o.subject.path == "k8s/broken.yaml"} == {Status.ERROR}
    assert Status.PASS in {status for status, *_ in of(obs, "deploy.blue_green")}


def test_cleanup_scheduled_by_the_stack_itself(tmp_path):
    """A housekeeping service looping with sleep (its script found by name), an ofelia job, a cron daemon."""
    files = {
        "docker-compose.yml": (
            "services:\n"
            "  app:\n    image: example/app:1.0\n    ports: ['80:8080']\n"
            "    labels:\n      ofelia.job-exec.purge.schedule: '@daily'\n"
            "      ofelia.job-exec.purge.command: 'app purge-sessions --older-than 30d'\n"
            "  housekeeping:\n    image: example/app:1.0\n    command: /opt/app/housekeeping.sh\n"
        ),
        "docker/housekeeping.sh": "#!/bin/sh\nwhile true; do\n  app housekeeping\n  sleep 86400\ndone\n",
    }
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    obs = [o for o in observe(tmp_path) if o.check == "deploy.cleanup_automated"]
    passing = sorted((o.subject.path, o.subject.name, o.message) for o in obs if o.status is Status.PASS)
    assert len(passing) == 2, obs
    assert any("every 86400" in m for *_, m in passing)
    assert any("'purge'" in m and "@daily" in m for *_, m in passing)


def test_a_quoted_sleep_interval_is_still_a_schedule(tmp_path):
    """netbox-docker's housekeeping.sh sleeps `"${SLEEP_SECONDS}s"`, quoted."""
    files = {
        "docker-compose.yml": "services:\n  housekeeping:\n    image: example/app:1.0\n"
        "    command: [/opt/app/housekeeping.sh]\n",
        "docker/housekeeping.sh": "#!/bin/bash\nSLEEP_SECONDS=${HOUSEKEEPING_INTERVAL:=86400}\nwhile true; do\n"
        '  python manage.py housekeeping\n  sleep "${SLEEP_SECONDS}s"\ndone\n',
    }
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    obs = [o for o in observe(tmp_path) if o.check == "deploy.cleanup_automated"]
    assert [o.status for o in obs] == [Status.PASS] and "housekeeping" in obs[0].message
