"""The postgres probe: configuration files and Compose services, and real PostgreSQL servers on loopback."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import REPO
from postgres_service import PASSWORD, Postgres
from readiness.probes.postgres import CHECKS

from readiness import runner
from readiness.config import Config
from readiness.model import Observation, Status, Strength

FIXTURES = REPO / "fixtures"


@pytest.fixture(autouse=True)
def observations_only(monkeypatch):
    monkeypatch.setattr(runner, "planned_checks", dict)


@pytest.fixture(scope="module")
def servers():
    strong, weak = Postgres.start(strong=True), Postgres.start(strong=False)
    yield {"strong": strong, "weak": weak}
    strong.stop()
    weak.stop()


def observe(root: Path, target=None) -> list[Observation]:
    config = Config(policies=(), live={"postgres": target} if target else {})
    return [o for o in runner.audit(root, config, policies=[]).observations if o.probe == "postgres"]


def of(obs: list[Observation], check: str) -> list[tuple[Status, str | None, int | None, str]]:
    return sorted(
        (o.status, o.subject.path or o.subject.endpoint, o.subject.line, o.message) for o in obs if o.check == check
    )


def copy(name: str, tmp_path: Path) -> Path:
    shutil.copytree(FIXTURES / name, tmp_path / name)
    return tmp_path / name


def test_strong_configuration_passes_from_files(tmp_path):
    obs = observe(copy("postgres-strong", tmp_path))
    assert {o.check for o in obs} == {c.id for c in CHECKS}
    bad = [(o.check, o.message) for o in obs if o.status is not Status.PASS]
    assert bad == []
    assert ("db/pg_hba.conf", 2) in {(p, line) for _, p, line, _ in of(obs, "postgres.ssl_required")}
    version = of(obs, "postgres.version_supported")
    assert version[0][0] is Status.PASS and "17.10" in version[0][3]


def test_weak_configuration_fails_naming_lines(tmp_path):
    obs = observe(copy("postgres-weak", tmp_path))
    scram = of(obs, "postgres.scram_sha_256")
    assert [(s, p, line) for s, p, line, _ in scram] == [
        (Status.FAIL, "db/pg_hba.conf", 3),
        (Status.FAIL, "db/pg_hba.conf", 4),  # address and netmask in two columns, then the method
        (Status.FAIL, "docker-compose.yml", 5),  # the POSTGRES_HOST_AUTH_METHOD line itself
    ]
    assert of(obs, "postgres.ssl_required")[0][:3] == (Status.FAIL, "db/pg_hba.conf", 3)
    assert "reached end of life on 2025-11-13" in of(obs, "postgres.version_supported")[0][3]
    assert of(obs, "postgres.connection_pooling")[0][0] is Status.FAIL
    assert of(obs, "postgres.row_level_security")[0][:3] == (Status.FAIL, "db/schema.sql", 1)


def test_live_strong_server(servers, tmp_path, monkeypatch):
    monkeypatch.setenv("PGPASSWORD", PASSWORD)
    obs = observe(tmp_path, servers["strong"].dsn)
    live = [o for o in obs if o.strength is Strength.LIVE]
    got = {o.check: o.status for o in live}
    assert got["postgres.scram_sha_256"] is Status.PASS
    assert got["postgres.ssl_required"] is Status.PASS
    assert got["postgres.slow_query_logging"] is Status.PASS
    assert got["postgres.row_level_security"] is Status.PASS
    assert got["postgres.version_supported"] in (Status.PASS, Status.FAIL)  # Debian's minor decides
    version = next(o for o in live if o.check == "postgres.version_supported")
    assert version.facts["major"] >= 15 and version.subject.endpoint.startswith("host=127.0.0.1")
    assert PASSWORD not in repr(obs)


def test_live_weak_server(servers, tmp_path, monkeypatch):
    monkeypatch.setenv("PGPASSWORD", PASSWORD)
    obs = observe(tmp_path, {"dsn": servers["weak"].dsn, "password_env": "PGPASSWORD"})
    got = {(o.check, o.status) for o in obs if o.strength is Strength.LIVE}
    assert ("postgres.scram_sha_256", Status.FAIL) in got  # md5 rules and password_encryption = md5
    assert ("postgres.ssl_required", Status.FAIL) in got  # ssl = off
    assert ("postgres.row_level_security", Status.FAIL) in got  # invoices.tenant_id without RLS


def test_a_server_that_is_down_or_refuses_is_an_error(servers, tmp_path, monkeypatch):
    monkeypatch.setenv("PGPASSWORD", "FAKE-wrong-password")
    wrong = observe(tmp_path, servers["strong"].dsn)
    assert {o.status for o in wrong if o.subject.endpoint} == {Status.ERROR}
    assert "FAKE-wrong-password" not in repr(wrong)
    with __import__("socket").socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    down = observe(tmp_path, f"host=127.0.0.1 port={port} user=postgres connect_timeout=2")
    errors = [o for o in down if o.status is Status.ERROR]
    assert errors and "cannot query PostgreSQL" in errors[0].message


def test_malformed_compose_is_an_error_for_that_file(tmp_path):
    root = copy("postgres-strong", tmp_path)
    (root / "docker-compose.yml").write_text("services: [unclosed\n")
    obs = observe(root)
    assert {o.status for o in obs if o.subject.path == "docker-compose.yml"} == {Status.ERROR}
    assert Status.PASS in {s for s, *_ in of(obs, "postgres.scram_sha_256")}


def test_official_image_defaults_decide_when_the_service_leaves_them(tmp_path):
    """PostgreSQL >= 14 images write scram-sha-256 host rules, older ones md5; ssl stays off unless configured."""
    (tmp_path / "compose.yaml").write_text(
        "services:\n"
        "  new:\n    image: postgres:16.4\n    environment: {POSTGRES_PASSWORD_FILE: /run/secrets/pw}\n"
        "  old:\n    image: postgres:13.16\n"
        "  tls:\n    image: postgres:17.2\n    command: postgres -c ssl=on -c ssl_cert_file=/certs/c.pem\n"
    )
    obs = [o for o in observe(tmp_path) if o.subject.name in ("new", "old", "tls")]
    got = {
        (o.check, o.subject.name): o.status
        for o in obs
        if o.check in ("postgres.scram_sha_256", "postgres.ssl_required")
    }
    assert got[("postgres.scram_sha_256", "new")] is Status.PASS
    assert got[("postgres.scram_sha_256", "old")] is Status.FAIL
    assert got[("postgres.ssl_required", "new")] is Status.FAIL
    assert ("postgres.ssl_required", "tls") not in got or got[("postgres.ssl_required", "tls")] is not Status.FAIL


def test_an_image_named_by_the_projects_env_file(tmp_path):
    """otel-demo's shape: image: ${POSTGRES_IMAGE}, set in the tracked .env."""
    (tmp_path / "compose.yaml").write_text("services:\n  db:\n    image: ${POSTGRES_IMAGE}\n")
    (tmp_path / ".env").write_text("POSTGRES_IMAGE=postgres:17.2  # the database\n")
    scram = [o for o in observe(tmp_path) if o.check == "postgres.scram_sha_256" and o.subject.name == "db"]
    assert [o.status for o in scram] == [Status.PASS], scram


def test_a_floating_tag_of_a_supported_major_gets_patch_releases():
    import datetime as dt

    from readiness.probes.postgres import judge_version

    from readiness.model import Status, Subject

    today = dt.date(2026, 12, 2)
    floating = judge_version(Subject(path="compose.yaml", line=3), 16, None, today)
    assert floating.status is Status.PASS and "floats across minor releases" in floating.message
    assert judge_version(Subject(path="compose.yaml", line=3), 14, None, today).status is Status.FAIL  # EOL 2026-11
