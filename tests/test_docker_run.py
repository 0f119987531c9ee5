"""Containers a repository's own scripts start with docker run (discourse_docker's launcher shape)."""

from __future__ import annotations

from conftest import audit_json
from readiness.probes.docker_run import parse_runs

LAUNCHER = """#!/usr/bin/env bash
docker_path=`which docker.io 2> /dev/null || which docker`
restart_policy=${restart_policy:---restart=always}
if [ "$1" == "--skip-restart" ]; then
  restart_policy=--restart=no
fi
attach_on_run="-d"
image="example/app:1.4.2"

run_start() {
  $docker_path run --shm-size=512m $attach_on_run $restart_policy \\
     -e APP_ENV=production --name app -p 80:80 -p 443:443 $user_args $image
}

run_shell() {
  $docker_path run --rm -it $image /bin/bash
}
"""


def test_the_flags_of_the_long_running_container_with_the_script_defaults():
    runs = parse_runs("launcher", LAUNCHER)
    long = [r for r in runs if r.long_running]
    assert len(runs) == 2 and len(long) == 1  # `run --rm -it` is a one-off shell
    run = long[0]
    assert run.where.line == 11 and run.image == "example/app:1.4.2"
    assert run.values("--restart") == ["always"]  # the default, not the branch an option takes
    assert run.has("-d") and run.values("-p") == ["80:80", "443:443"]
    assert "user_args" in run.unresolved and "docker_path" not in run.unresolved


def _repo(tmp_path, files):
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    _, report = audit_json(tmp_path, "--fail-on", "none")
    return report


def test_a_launcher_deployment_is_judged_from_its_flags(tmp_path):
    report = _repo(tmp_path, {"launcher": LAUNCHER})
    mine = {o["check"]: o for o in report["observations"] if o["probe"] == "docker_run"}
    assert mine["docker_run.restart_policy"]["status"] == "pass"
    for check in ("read_only_rootfs", "no_new_privileges", "cap_drop_all", "resource_limits"):
        o = mine[f"docker_run.{check}"]
        assert o["status"] == "fail" and o["subject"] == {"path": "launcher", "line": 11, "name": "docker run"}
        assert "$user_args" in o["message"]  # what a variable the script does not set may add is named
    items = {i["id"]: i["status"] for i in report["items"]}
    assert items["pd.resources.restart-policies"] == "pass" and items["pd.containers.read-only-rootfs"] == "fail"


def test_beside_a_compose_deployment_a_readme_docker_run_decides_nothing(tmp_path):
    report = _repo(
        tmp_path,
        {
            "docker-compose.yml": "services:\n  app:\n    image: example/app:1.4.2\n    restart: always\n",
            "install.sh": "#!/bin/sh\ndocker run -d --restart always example/app:1.4.2\n",
        },
    )
    mine = [o for o in report["observations"] if o["probe"] == "docker_run"]
    assert mine and {o["status"] for o in mine} == {"not_applicable"}
    assert "compose:docker-compose.yml" in mine[0]["message"]
