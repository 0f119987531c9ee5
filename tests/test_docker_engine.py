"""The live Docker engine probe against a real, private dockerd with real containers.

The engine and the images come from ``docker_engine_service``; the containers
are started with testcontainers (hardening options as ``docker run`` sets
them) or with the real Compose v2 binary (for drift).
"""

from __future__ import annotations

import json
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from docker.types import LogConfig
from docker_engine_service import (
    BASE,
    HARDENED,
    PLAIN_OLD,
    Engine,
    compose,
    container,
    docker_engine,  # noqa: F401  (the session fixture)
    import_base,
    private_engine,
    wait_for_health,
)
from readiness.probes.docker_engine import api_at_least, is_root_user, no_new_privileges, normalise_caps
from testcontainers.core.wait_strategies import LogMessageWaitStrategy

from readiness.cli import main
from readiness.config import Config
from readiness.model import Observation, Status, Strength
from readiness.runner import AuditReport, audit

CHECKS = (
    "docker_engine.non_root",
    "docker_engine.read_only_rootfs",
    "docker_engine.no_new_privileges",
    "docker_engine.cap_drop_all",
    "docker_engine.resource_limits",
    "docker_engine.restart_policy",
    "docker_engine.healthy",
    "docker_engine.log_rotation",
    "docker_engine.image_age",
    "docker_engine.no_drift",
)
ALL_CHECKS = (*CHECKS, "docker_engine.graceful_stops")
P, F, U = Status.PASS, Status.FAIL, Status.UNKNOWN
HARDENING = {
    "read_only": True,
    "cap_drop": ["ALL"],
    "cap_add": ["NET_BIND_SERVICE"],
    "security_opt": ["no-new-privileges:true"],
    "restart_policy": {"Name": "unless-stopped"},
    "mem_limit": "64m",
    "nano_cpus": 500_000_000,
    "pids_limit": 64,
    "log_config": LogConfig(type="json-file", config={"max-size": "10m", "max-file": "3"}),
}
HOUR_NS = 3600 * 10**9
# Left unset on the container, no-new-privileges is the engine's default: fail where the engine reports that
# default (API >= 1.43), unknown where it cannot (Debian 12's docker.io 20.10 is API 1.41).
ENGINE_DEFAULT = "engine-default"

# name -> (image, options, expected status per check; checks not named are not asserted for this container)
CONTAINERS: dict[str, tuple[str, dict, dict[str, Status | str]]] = {
    "rd-hardened": (
        HARDENED,
        HARDENING,
        {c: P for c in CHECKS} | {"docker_engine.no_drift": U},  # not created by Compose: nothing to compare
    ),
    "rd-plain": (
        PLAIN_OLD,
        {},
        {c: F for c in CHECKS} | {"docker_engine.no_drift": U, "docker_engine.no_new_privileges": ENGINE_DEFAULT},
    ),
    "rd-user-0-0": (HARDENED, HARDENING | {"user": "0:0"}, {"docker_engine.non_root": F}),
    "rd-user-root-root": (HARDENED, HARDENING | {"user": "root:root"}, {"docker_engine.non_root": F}),
    "rd-user-app-gid-0": (HARDENED, HARDENING | {"user": "1000:0"}, {"docker_engine.non_root": P}),
    "rd-nnp-false": (
        HARDENED,
        HARDENING | {"security_opt": ["no-new-privileges:false"]},
        {"docker_engine.no_new_privileges": F},
    ),
    "rd-nnp-equals": (
        HARDENED,
        HARDENING | {"security_opt": ["no-new-privileges=true"]},
        {"docker_engine.no_new_privileges": P},
    ),
    "rd-cap-prefixed": (HARDENED, HARDENING | {"cap_add": ["CAP_SYS_ADMIN"]}, {"docker_engine.cap_drop_all": F}),
    "rd-privileged": (HARDENED, HARDENING | {"privileged": True}, {"docker_engine.cap_drop_all": F}),
    "rd-cpu-quota": (
        HARDENED,
        {k: v for k, v in HARDENING.items() if k != "nano_cpus"} | {"cpu_quota": 50_000, "cpu_period": 100_000},
        {"docker_engine.resource_limits": P},
    ),
    "rd-no-memory": (
        HARDENED,
        {k: v for k, v in HARDENING.items() if k != "mem_limit"},
        {"docker_engine.resource_limits": F},
    ),
    "rd-on-failure": (
        HARDENED,
        HARDENING | {"restart_policy": {"Name": "on-failure", "MaximumRetryCount": 3}},
        {"docker_engine.restart_policy": P},
    ),
    "rd-local-log": (HARDENED, HARDENING | {"log_config": LogConfig(type="local")}, {"docker_engine.log_rotation": P}),
    "rd-unhealthy": (
        HARDENED,
        HARDENING | {"healthcheck": {"test": ["CMD", "false"], "interval": 10**9, "retries": 1}},
        {"docker_engine.healthy": F},
    ),
    "rd-starting": (
        HARDENED,
        HARDENING | {"healthcheck": {"test": ["CMD", "true"], "interval": HOUR_NS, "start_period": HOUR_NS}},
        {"docker_engine.healthy": U},
    ),
    "rd-health-disabled": (HARDENED, HARDENING | {"healthcheck": {"test": ["NONE"]}}, {"docker_engine.healthy": F}),
    "rd-plain-with-check": (
        PLAIN_OLD,
        {"healthcheck": {"test": ["CMD", "true"], "interval": 10**9, "retries": 3}},
        {"docker_engine.healthy": P},
    ),
}
# Facts each observation must carry: what was inspected to decide it.
INSPECTED = {
    "docker_engine.non_root": "Config.User",
    "docker_engine.read_only_rootfs": "HostConfig.ReadonlyRootfs",
    "docker_engine.no_new_privileges": "HostConfig.SecurityOpt",
    "docker_engine.cap_drop_all": "HostConfig.CapDrop",
    "docker_engine.resource_limits": "HostConfig.Memory",
    "docker_engine.restart_policy": "HostConfig.RestartPolicy",
    "docker_engine.healthy": "State.Health.Status",
    "docker_engine.log_rotation": "HostConfig.LogConfig.Type",
    "docker_engine.image_age": "image.Created",
}


def engine_observations(report: AuditReport) -> list[Observation]:
    return [o for o in report.observations if o.probe == "docker_engine"]


def by_container(report: AuditReport) -> dict[tuple[str, str], Observation]:
    """Observations of the per-container checks by (container name, check)."""
    out: dict[tuple[str, str], Observation] = {}
    for o in engine_observations(report):
        if o.check not in CHECKS:
            continue
        assert (o.subject.name, o.check) not in out, f"two observations of {o.check} on {o.subject.name}"
        out[(o.subject.name or "", o.check)] = o
    return out


@pytest.fixture(scope="module")
def running(docker_engine: Engine) -> Iterator[Engine]:  # noqa: F811
    """Every container of CONTAINERS, started and (where they have healthchecks) settled."""
    started = []
    try:
        for name, (image, options, _) in CONTAINERS.items():
            started.append(container(docker_engine, image, name, **options).start())
        wait_for_health(docker_engine.client, ["rd-hardened", "rd-plain-with-check"], "healthy")
        wait_for_health(docker_engine.client, ["rd-unhealthy"], "unhealthy")
        yield docker_engine
    finally:
        for c in started:
            c.stop()


@pytest.fixture(scope="module")
def report(running: Engine, tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], Observation]:
    repo = tmp_path_factory.mktemp("engine-repo")
    return by_container(audit(repo, Config(live={"docker_engine": {"host": running.host}})))


@pytest.mark.parametrize(
    ("name", "check", "expected"),
    [(name, check, status) for name, (_, _, want) in CONTAINERS.items() for check, status in want.items()],
)
def test_verdict_per_container_and_check(report, running: Engine, name: str, check: str, expected: Status | str):
    if expected == ENGINE_DEFAULT:
        expected = F if api_at_least(running.client.api.api_version, (1, 43)) else U
    obs = report[(name, check)]
    assert obs.status is expected, f"{name} {check}: {obs.status} ({obs.message})"
    assert obs.subject.endpoint == running.host
    assert obs.strength is Strength.LIVE
    assert obs.facts["container_id"] == running.client.api.inspect_container(name)["Id"][:12]
    if check in INSPECTED:
        assert INSPECTED[check] in obs.facts, f"{check} does not name the inspected fact"


def test_messages_say_what_was_seen(report):
    assert report[("rd-user-0-0", "docker_engine.non_root")].facts["Config.User"] == "0:0"
    assert "SYS_ADMIN" in report[("rd-cap-prefixed", "docker_engine.cap_drop_all")].message
    assert report[("rd-cap-prefixed", "docker_engine.cap_drop_all")].facts["HostConfig.CapAdd"] == ["SYS_ADMIN"]
    assert "privileged" in report[("rd-privileged", "docker_engine.cap_drop_all")].message
    assert report[("rd-plain", "docker_engine.image_age")].facts["image.Created"].startswith("2020-01-02")
    assert "starting" in report[("rd-starting", "docker_engine.healthy")].message
    assert report[("rd-plain-with-check", "docker_engine.healthy")].facts["healthcheck_from"] == "container"
    assert report[("rd-hardened", "docker_engine.healthy")].facts["healthcheck_from"] == "image"


def test_image_age_maximum_is_settable(running: Engine, tmp_path: Path):
    targets = {"host": running.host, "max_image_age_days": 100_000}
    obs = by_container(audit(tmp_path, Config(live={"docker_engine": targets})))
    assert obs[("rd-plain", "docker_engine.image_age")].status is P
    assert obs[("rd-plain", "docker_engine.image_age")].facts["max_image_age_days"] == 100_000


def test_a_project_without_running_containers_is_unknown(docker_engine: Engine, tmp_path: Path):  # noqa: F811
    targets = {"host": docker_engine.host, "projects": ["nothing-runs-here"]}
    obs = engine_observations(audit(tmp_path, Config(live={"docker_engine": targets})))
    assert {o.check for o in obs} == set(ALL_CHECKS)
    assert all(o.status is U and o.subject.endpoint == docker_engine.host for o in obs)
    assert all("no running container" in o.message for o in obs if o.check in CHECKS)
    assert all("no container was stopped" in o.message for o in obs if o.check not in CHECKS)


def test_engine_wide_no_new_privileges_counts_unless_a_container_opts_out(tmp_path: Path):
    """dockerd --no-new-privileges sets it on every container that does not say no-new-privileges:false."""
    with private_engine(("--no-new-privileges",)) as engine:
        import_base(engine.client)
        inherits = container(engine, BASE, "rd-nnp-inherits").start()
        opts_out = container(engine, BASE, "rd-nnp-opts-out", security_opt=["no-new-privileges:false"]).start()
        try:
            obs = by_container(audit(tmp_path, Config(live={"docker_engine": {"host": engine.host}})))
            api = engine.client.api.api_version
        finally:
            inherits.stop()
            opts_out.stop()
    inherits = obs[("rd-nnp-inherits", "docker_engine.no_new_privileges")]
    if api_at_least(api, (1, 43)):
        assert (inherits.status, inherits.facts["daemon_no_new_privileges"]) == (P, True)
    else:  # the engine enforces it but cannot say so: not a pass, and not a fail either
        assert (inherits.status, inherits.facts["daemon_no_new_privileges"]) == (U, None)
        assert "does not report" in inherits.message
    assert obs[("rd-nnp-opts-out", "docker_engine.no_new_privileges")].status is F


# ---------------------------------------------------------------- drift against compose files

COMPOSE_AS_DEPLOYED = """\
services:
  api:
    image: {image}
    command: ["sleep", "3600"]
    network_mode: none
    read_only: false
    restart: "no"
    cap_drop: [ALL]
  worker:
    image: {image}
    command: ["sleep", "3600"]
    network_mode: none
    environment: {{MODE: batch}}
  steady:
    image: {image}
    command: ["sleep", "3600"]
    network_mode: none
    read_only: true
    mem_limit: 64m
"""
# What the repository says now: api hardened in the file only, worker changed in a way no compared option shows.
COMPOSE_NOW = (
    COMPOSE_AS_DEPLOYED.replace("read_only: false", "read_only: true")
    .replace('restart: "no"', "restart: unless-stopped")
    .replace("MODE: batch", "MODE: stream")
)


@pytest.fixture
def deployed_project(docker_engine: Engine, tmp_path: Path) -> Iterator[tuple[Path, str]]:  # noqa: F811
    """A compose project brought up by the real Compose binary, whose file then changed."""
    repo = tmp_path / "repo"
    repo.mkdir()
    compose_file = repo / "compose.yaml"
    compose_file.write_text(COMPOSE_AS_DEPLOYED.format(image=HARDENED))
    project = "rddrift"
    compose(docker_engine, repo, project, "-f", str(compose_file), "up", "-d", "--pull", "never")
    try:
        compose_file.write_text(COMPOSE_NOW.format(image=HARDENED))
        yield repo, project
    finally:
        compose(docker_engine, repo, project, "-f", str(compose_file), "down", "--timeout", "0")


def test_drift_between_the_compose_file_and_running_containers(docker_engine: Engine, deployed_project):  # noqa: F811
    repo, project = deployed_project
    targets = {"host": docker_engine.host, "projects": [project]}
    obs = by_container(audit(repo, Config(live={"docker_engine": targets})))
    assert {name for name, _ in obs} == {f"{project}-api-1", f"{project}-worker-1", f"{project}-steady-1"}

    api = obs[(f"{project}-api-1", "docker_engine.no_drift")]
    assert api.status is F
    assert set(api.facts["differences"]) == {"read_only", "restart"}
    assert api.facts["differences"]["read_only"] == {"declared": True, "running": False}
    assert api.facts["compose_files"] == ["compose.yaml"]
    assert api.facts["declared_at"] == "compose.yaml:2 [api]"  # the inventory's record of the service
    assert api.facts["declared_hash"] != api.facts["running_hash"]

    worker = obs[(f"{project}-worker-1", "docker_engine.no_drift")]
    assert worker.status is F, worker.message
    assert worker.facts["differences"] == {}
    assert "config hash differs" in worker.message

    steady = obs[(f"{project}-steady-1", "docker_engine.no_drift")]
    assert steady.status is P, steady.message
    assert steady.facts["declared_hash"] == steady.facts["running_hash"]

    # The running api container is as deployed, whatever the file now says.
    assert obs[(f"{project}-api-1", "docker_engine.read_only_rootfs")].status is F
    assert obs[(f"{project}-steady-1", "docker_engine.read_only_rootfs")].status is P


def test_drift_against_a_checkout_elsewhere(docker_engine: Engine, deployed_project, tmp_path: Path):  # noqa: F811
    """Audited from another copy of the repository, files match by path; a hash alone no longer decides."""
    repo, project = deployed_project
    checkout = tmp_path / "elsewhere"
    shutil.copytree(repo, checkout)
    targets = {"host": docker_engine.host, "projects": [project]}
    obs = by_container(audit(checkout, Config(live={"docker_engine": targets})))
    assert obs[(f"{project}-api-1", "docker_engine.no_drift")].status is F  # options differ wherever it runs
    worker = obs[(f"{project}-worker-1", "docker_engine.no_drift")]
    assert worker.status is U and "another checkout" in worker.message
    assert obs[(f"{project}-steady-1", "docker_engine.no_drift")].status is P


# ---------------------------------------------------------------- how containers stopped


def test_graceful_stops_from_the_engine_events(docker_engine: Engine, tmp_path: Path):  # noqa: F811
    labels = {"com.docker.compose.project": "rdstops"}
    # busybox sleep as PID 1 ignores SIGTERM: the engine has to SIGKILL it after the grace period.
    stubborn = container(docker_engine, HARDENED, "rd-stop-stubborn", labels=labels).start()
    graceful = container(
        docker_engine,
        HARDENED,
        "rd-stop-graceful",
        labels=labels,
        command=["sh", "-c", "trap 'exit 0' TERM; echo trap-set; while true; do sleep 1; done"],
    ).waiting_for(LogMessageWaitStrategy("trap-set").with_startup_timeout(30))  # PID 1 ignores TERM until then
    graceful.start()
    forced = container(docker_engine, HARDENED, "rd-stop-forced", labels=labels).start()
    try:
        docker_engine.client.api.stop("rd-stop-stubborn", timeout=1)
        docker_engine.client.api.stop("rd-stop-graceful", timeout=30)
        docker_engine.client.api.kill("rd-stop-forced")  # killed outright: not a stop, so not judged
        targets = {"host": docker_engine.host, "projects": ["rdstops"]}
        obs = [
            o
            for o in engine_observations(audit(tmp_path, Config(live={"docker_engine": targets})))
            if o.check == ALL_CHECKS[-1]
        ]
    finally:
        for c in (stubborn, graceful, forced):
            c.stop()
    by_name = {o.subject.name: o for o in obs}
    assert set(by_name) == {"rd-stop-stubborn", "rd-stop-graceful"}
    assert by_name["rd-stop-stubborn"].status is F
    assert by_name["rd-stop-stubborn"].facts["stops"][0] | {"time": 0} == {
        "time": 0,
        "signal": 15,
        "exitCode": 137,
        "killed": True,
    }
    assert by_name["rd-stop-graceful"].status is P
    assert by_name["rd-stop-graceful"].facts["stops"][0]["exitCode"] == 0
    assert all(o.subject.endpoint == docker_engine.host for o in obs)


# ---------------------------------------------------------------- an engine that is not there


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """A folder with a short path: unix socket paths are limited to ~100 characters."""
    path = Path(tempfile.mkdtemp(prefix="rd-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _assert_errors(report: AuditReport, host: str, reason: str) -> None:
    obs = engine_observations(report)
    assert {o.check for o in obs} == set(ALL_CHECKS)
    for o in obs:
        assert o.status is Status.ERROR
        assert o.subject.endpoint == host
        assert reason in o.message, o.message
    assert any(g.probe == "docker_engine" and g.subject.endpoint == host for g in report.gaps)


def test_missing_socket_is_an_error(tmp_path: Path, short_dir: Path):
    host = f"unix://{short_dir}/docker.sock"
    _assert_errors(audit(tmp_path, Config(live={"docker_engine": {"host": host}})), host, "cannot reach")


def test_socket_nobody_listens_on_is_an_error(tmp_path: Path, short_dir: Path):
    path = short_dir / "docker.sock"
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(str(path))  # bound, never listening: connections are refused
        report = audit(tmp_path, Config(live={"docker_engine": {"host": f"unix://{path}"}}))
    _assert_errors(report, f"unix://{path}", "cannot reach")


def test_engine_that_never_answers_is_an_error_within_the_timeout(tmp_path: Path, short_dir: Path):
    path = short_dir / "docker.sock"
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(str(path))
        s.listen(8)  # connections queue but are never served
        targets = {"host": f"unix://{path}", "timeout_seconds": 1}
        report = audit(tmp_path, Config(live={"docker_engine": targets}))
    _assert_errors(report, f"unix://{path}", "within the timeout")


def test_docker_host_option_reaches_the_probe(tmp_path: Path, short_dir: Path):
    host = f"unix://{short_dir}/docker.sock"
    out = tmp_path / "evidence.json"
    repo = tmp_path / "repo"
    repo.mkdir()
    main(["audit", str(repo), "--docker-host", host, "--format", "json", "--output", str(out)])
    evidence = json.loads(out.read_text())
    mine = [o for o in evidence["observations"] if o["check"].startswith("docker_engine.")]
    assert mine and all(o["status"] == "error" and o["subject"]["endpoint"] == host for o in mine)


def test_without_a_target_files_decide_and_live_only_facts_stay_unknown(tmp_path: Path):
    obs = engine_observations(audit(tmp_path, Config()))
    assert {o.check for o in obs} == set(ALL_CHECKS)
    assert all("no live target" in o.message for o in obs)
    # image ages only corroborate whether rebuilds are automated, which the pipelines decide
    only_live = {"docker_engine.graceful_stops"}
    for o in obs:
        assert o.status is (U if o.check in only_live else Status.NOT_APPLICABLE), o.check


# ---------------------------------------------------------------- spellings the engine accepts


@pytest.mark.parametrize(
    ("user", "root"),
    [
        ("", True),
        ("0", True),
        ("root", True),
        ("0:0", True),
        ("root:root", True),
        ("0:1000", True),
        ("1000", False),
        ("1000:0", False),
        ("app", False),
    ],
)
def test_root_users(user: str, root: bool):
    assert is_root_user(user) is root


@pytest.mark.parametrize(
    ("opts", "enabled"),
    [
        (["no-new-privileges"], True),
        (["no-new-privileges:true"], True),
        (["no-new-privileges=true"], True),
        (["no-new-privileges:false"], False),
        (["no-new-privileges=false"], False),
        (["seccomp=unconfined"], False),
        ([], False),
        (None, False),
    ],
)
def test_no_new_privileges_spellings(opts, enabled: bool):
    assert no_new_privileges(opts) is enabled


def test_capability_spellings_are_normalised():
    assert normalise_caps(["CAP_SYS_ADMIN", "sys_admin", "NET_BIND_SERVICE"]) == ["NET_BIND_SERVICE", "SYS_ADMIN"]
