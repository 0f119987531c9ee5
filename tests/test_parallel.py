"""Parallel and cached audits give the serial, uncached audit's evidence, byte for byte (timestamps aside)."""

from __future__ import annotations

import json
import os
import shutil

import pytest
from make_repo import FIXTURES, git
from readiness.probes import terraform
from readiness.probes.dockerfile import DockerfileProbe

from readiness import cache, cli, parallel, probe_pool
from readiness.probe import Files

# Several Compose projects (overrides, extends, an .env), Terraform in three clouds, an app, Kubernetes, docs.
PARTS = ("compose-extends-env", "compose-overrides", "insecure", "terraform-multicloud", "app-flask", "k8s-insecure")


@pytest.fixture
def mixed_repo(fixture_repo):
    repo = fixture_repo("deploy-shapes")
    for name in PARTS:
        shutil.copytree(FIXTURES / name, repo / "parts" / name, ignore=shutil.ignore_patterns("fixture.yaml"))
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "more parts")
    return repo


def evidence(repo, out, *args: str) -> dict:
    cache.STATS.clear()
    code = cli.main(["audit", str(repo), "--format", "json", "-o", str(out), "--fail-on", "none", *args])
    parallel.set_jobs(None)
    cache.disable(False)
    assert code == 0
    report = json.loads(out.read_text())
    return {k: v for k, v in report.items() if k not in ("started", "finished")}


def test_parallel_cached_audit_evidence_equals_the_serial_uncached_one(mixed_repo, tmp_path, monkeypatch):
    # The fixtures are small: use the worker processes anyway.
    monkeypatch.setattr(terraform, "PARALLEL_BYTES", 0)
    monkeypatch.setattr(probe_pool, "MIN_WEIGHT", 0)
    serial = evidence(mixed_repo, tmp_path / "serial.json", "--jobs", "1", "--no-cache")
    assert not cache.directory().exists()
    with monkeypatch.context() as m:
        m.setattr(probe_pool, "MIN_WEIGHT", 10**9)  # probes in this process, Terraform parsed by a process pool
        assert evidence(mixed_repo, tmp_path / "pools.json", "--jobs", "4", "--no-cache") == serial

    cold = evidence(mixed_repo, tmp_path / "cold.json", "--jobs", "4")
    compose_writes = cache.STATS["compose-config"].writes
    assert compose_writes >= 4 and cache.STATS["python-hcl2"].writes >= 2

    warm = evidence(mixed_repo, tmp_path / "warm.json", "--jobs", "4")
    assert cache.STATS["compose-config"].hits == compose_writes and cache.STATS["compose-config"].misses == 0
    assert cache.STATS["python-hcl2"].misses == 0

    assert cold == serial
    assert warm == serial
    probes = {o["probe"] for o in serial["observations"]}
    assert {"compose", "terraform", "kubernetes", "app"} <= probes
    assert any(o["probe"] == "compose" and o["status"] == "fail" for o in serial["observations"])


def test_a_changed_file_named_by_extends_is_resolved_again(fixture_repo, tmp_path):
    repo = fixture_repo("compose-extends-env")
    first = evidence(repo, tmp_path / "first.json")
    assert cache.STATS["compose-config"].writes >= 1
    common = repo / "common.yml"
    common.write_text(common.read_text().replace("read_only: true", "read_only: false"))
    again = evidence(repo, tmp_path / "again.json")
    assert cache.STATS["compose-config"].misses >= 1 and cache.STATS["compose-config"].hits == 0
    read_only = [o["status"] for o in again["observations"] if o["check"] == "compose.read_only_rootfs"]
    was = [o["status"] for o in first["observations"] if o["check"] == "compose.read_only_rootfs"]
    assert was == ["pass"] and read_only == ["fail"]  # a stale model would still say pass
    assert again == evidence(repo, tmp_path / "uncached.json", "--no-cache")


def test_probes_run_in_forked_workers_except_those_that_do_not_survive_fork(monkeypatch, tmp_path):
    monkeypatch.setattr(probe_pool, "MIN_WEIGHT", 0)
    parallel.set_jobs(2)
    try:
        pids = probe_pool.run_all(4, lambda i: os.getpid(), Files(tmp_path), [1, 1, 1, 1], here_only=frozenset({1}))
    finally:
        parallel.set_jobs(None)
    assert pids[1] == os.getpid()
    assert all(pid != os.getpid() for i, pid in enumerate(pids) if i != 1)
    assert not DockerfileProbe.fork_safe  # its Go parser's runtime, started before the fork, hangs a worker
