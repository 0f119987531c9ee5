"""The logging probe on fixture repositories: shippers, stores, rotation and formats."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import REPO
from readiness.probes.logging_config import CHECKS, LoggingProbe

from readiness import runner
from readiness.config import Config
from readiness.discovery import discover
from readiness.inventory import Inventory
from readiness.model import Observation, Status
from readiness.probe import Files

FIXTURES = REPO / "fixtures"


def observe(root: Path) -> list[Observation]:
    found = discover(root, Config())
    observations, _gaps, _run = runner.run_probe(LoggingProbe, found, Files(found.root), Inventory(), Config())
    return observations


def of(obs: list[Observation], check: str) -> dict[tuple[str | None, int | None], tuple[Status, str]]:
    return {(o.subject.path, o.subject.line): (o.status, o.message) for o in obs if o.check == check}


def test_shipped_stack_passes_every_check_with_file_and_line():
    obs = observe(FIXTURES / "logging-shipped")
    assert {o.check for o in obs} == {c.id for c in CHECKS}
    assert all(o.status is Status.PASS for o in obs), [(o.check, o.message) for o in obs if o.status != Status.PASS]
    assert of(obs, "logging.centralized") == {
        ("deploy/fluent-bit/fluent-bit.conf", 10): (Status.PASS, "ships logs to loki")
    }
    retention = of(obs, "logging.retention")
    assert retention[("deploy/loki/loki.yaml", 10)][1] == "Loki keeps logs 744h (compactor retention on)"
    assert ("ops/logrotate.d/app", 1) in retention
    rotation = of(obs, "logging.rotation")
    assert rotation[("ops/logrotate.d/app", 1)][1] == "logrotate rotates /var/log/app/*.log daily"
    assert any(path == "app/logging.yaml" for path, _ in rotation)  # TimedRotatingFileHandler
    assert of(obs, "logging.structured")[("app/logging.yaml", 4)][0] is Status.PASS


def test_local_only_stack_fails_where_the_configuration_shows_it():
    obs = observe(FIXTURES / "logging-local")
    central = of(obs, "logging.centralized")
    assert central == {("vector.toml", 5): (Status.FAIL, "a log shipper with only local outputs (console)")}
    retention = of(obs, "logging.retention")
    assert retention[("deploy/loki/loki.yaml", 3)][0] is Status.FAIL
    assert "retention_enabled" in retention[("deploy/loki/loki.yaml", 3)][1]
    rotation = {path: status for (path, _), (status, _msg) in of(obs, "logging.rotation").items()}
    assert rotation == {"app/logging.conf": Status.FAIL, "app/logback.xml": Status.FAIL}
    structured = {path: status for (path, _), (status, _msg) in of(obs, "logging.structured").items()}
    assert structured == {"app/logging.conf": Status.FAIL, "app/logback.xml": Status.FAIL}


def test_a_remote_docker_logging_driver_counts_as_shipping(tmp_path):
    (tmp_path / "docker-compose.yml").write_text(
        "services:\n  api:\n    image: api:1.2\n    logging:\n      driver: awslogs\n"
    )
    central = of(observe(tmp_path), "logging.centralized")
    assert central == {("docker-compose.yml", 5): (Status.PASS, "service api logs through the awslogs driver")}


def test_json_logging_libraries_in_the_manifests_count_as_structured(tmp_path):
    (tmp_path / "package.json").write_text(
        '{\n  "dependencies": {\n    "express": "^4.19.0",\n    "pino": "^9.0.0"\n  }\n}\n'
    )
    structured = of(observe(tmp_path), "logging.structured")
    assert structured[("package.json", 4)][0] is Status.PASS


def test_elasticsearch_ilm_without_delete_phase_fails(tmp_path):
    (tmp_path / "ilm").mkdir()
    (tmp_path / "ilm" / "logs.json").write_text('{"policy": {"phases": {"hot": {"actions": {"rollover": {}}}}}}\n')
    (tmp_path / "ilm" / "audit.json").write_text('{"policy": {"phases": {"delete": {"min_age": "400d"}}}}\n')
    retention = {path: status for (path, _), (status, _msg) in of(observe(tmp_path), "logging.retention").items()}
    assert retention == {"ilm/logs.json": Status.FAIL, "ilm/audit.json": Status.PASS}


def test_nothing_configured_gives_honest_defaults(tmp_path):
    (tmp_path / "README.md").write_text("hello\n")
    status = {o.check: o.status for o in observe(tmp_path)}
    assert status == {
        "logging.centralized": Status.FAIL,
        "logging.retention": Status.UNKNOWN,
        "logging.rotation": Status.NOT_APPLICABLE,
        "logging.structured": Status.UNKNOWN,
    }


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("logging.yaml", "version: 1\nhandlers: [unclosed\n"),
        ("logback.xml", "<configuration><appender>\n"),
        ("vector.toml", "[sinks\n"),
    ],
)
def test_malformed_files_are_errors_and_the_audit_goes_on(tmp_path, name, text):
    (tmp_path / name).write_text(text)
    (tmp_path / "fluent-bit.conf").write_text("[OUTPUT]\n    Name  es\n    Match *\n")
    obs = observe(tmp_path)
    assert {o.status for o in obs if o.subject.path == name} == {Status.ERROR}
    assert of(obs, "logging.centralized")[("fluent-bit.conf", 1)][0] is Status.PASS
