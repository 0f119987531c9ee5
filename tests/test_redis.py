"""The redis probe on redis.conf files and Compose services, with Redis' own defaults."""

from __future__ import annotations

from pathlib import Path

from conftest import REPO
from readiness.probes.redis import RedisProbe

from readiness import runner
from readiness.config import Config
from readiness.discovery import discover
from readiness.inventory import Inventory
from readiness.model import Status
from readiness.probe import Files


def observe(root: Path) -> dict[tuple[str, str | None, str | None], tuple[Status, str]]:
    found = discover(root, Config())
    obs = runner.run_probe(RedisProbe, found, Files(found.root), Inventory(), Config())[0]
    return {(o.check, o.subject.path, o.subject.name): (o.status, o.message) for o in obs}


def test_configs_and_compose_services_with_redis_defaults():
    got = observe(REPO / "fixtures" / "redis-configs")
    assert got[("redis.auth_required", "secure/redis.conf", None)][0] is Status.PASS
    assert got[("redis.protected_mode", "secure/redis.conf", None)][0] is Status.PASS
    assert got[("redis.auth_required", "open/redis.conf", None)] == (
        Status.FAIL,
        "no requirepass and no ACL users: the default user needs no password",
    )
    assert "protected-mode no, and bound to all interfaces" in got[("redis.protected_mode", "open/redis.conf", None)][1]
    assert got[("redis.auth_required", "docker-compose.yml", "cache")][0] is Status.PASS
    assert got[("redis.auth_required", "docker-compose.yml", "queue")][0] is Status.FAIL
    assert got[("redis.protected_mode", "docker-compose.yml", "queue")][0] is Status.FAIL  # published port
    assert got[("redis.protected_mode", "docker-compose.yml", "cache")][0] is Status.PASS


def test_acl_default_user_without_password_fails(tmp_path):
    (tmp_path / "redis.conf").write_text(
        "user default on nopass ~* +@all\nuser app on >FAKE-not-a-secret ~app:* +@read\n"
    )
    got = observe(tmp_path)
    assert got[("redis.auth_required", "redis.conf", None)] == (Status.FAIL, "ACL user default is on with nopass")
    assert "FAKE-not-a-secret" not in repr(got)


def test_a_password_with_an_all_interfaces_bind_loses_protected_mode(tmp_path):
    (tmp_path / "redis.conf").write_text("bind * -::*\nrequirepass FAKE-pass\n")
    got = observe(tmp_path)
    assert got[("redis.protected_mode", "redis.conf", None)][0] is Status.FAIL


def test_malformed_compose_is_an_error(tmp_path):
    (tmp_path / "compose.yaml").write_text("services: {cache: [\n")
    got = observe(tmp_path)
    assert {status for (_, path, _), (status, _) in got.items() if path == "compose.yaml"} == {Status.ERROR}
