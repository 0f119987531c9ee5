"""Live faults (issue 15): every live probe against servers that misbehave, through the real CLI.

One audit per fault points ``--endpoint`` (TLS), ``--health``, ``--prometheus``, ``--docker-host`` and
``--postgres`` at the same misbehaving loopback server (tests/fault_servers.py). Each asserts: exit code
0, 1 or 2 (never 3), no traceback, the audit finishes (the subprocess timeout only keeps the test bounded;
the probes' whole-exchange deadlines are what make it finish), and no observation of a live probe, nor
an item citing one, passes on what such a server said.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from fault_servers import closed_port, serve

LIVE_PROBES = ("tls", "health", "monitoring_live", "docker_engine", "postgres")
# Small per-read timeouts so the suite stays short; the whole-exchange deadlines derive from them.
CONFIG = """live:
  health:
    - url: http://127.0.0.1:{port}/health
      timeout_seconds: 2
  monitoring_live:
    prometheus: http://127.0.0.1:{port}
    timeout_seconds: 2
  docker_engine:
    host: {docker}
    timeout_seconds: 2
  postgres:
    dsn: postgresql://app@127.0.0.1:{port}/app
    connect_timeout: 2
  tls: ["127.0.0.1:{port}"]
probes:
  tls:
    connect_timeout: 2
    endpoint_timeout: 10
"""
# A test that goes wrong must still end: far above what the deadlines allow, not an assertion of speed.
TEST_BOUND_SECONDS = 400


def audit_against(tmp_path: Path, port: int, docker: str | None = None, *extra: str) -> tuple[int, bytes, dict]:
    repo = tmp_path / "repo"
    repo.mkdir(exist_ok=True)
    (repo / ".readiness.yaml").write_text(CONFIG.format(port=port, docker=docker or f"tcp://127.0.0.1:{port}"))
    done = subprocess.run(
        [sys.executable, "-m", "readiness", "audit", str(repo), "--format", "json", *extra],
        capture_output=True,
        timeout=TEST_BOUND_SECONDS,
        cwd=repo,
    )
    assert done.returncode in (0, 1, 2), done.stderr.decode(errors="replace")
    assert b"Traceback" not in done.stderr, done.stderr.decode(errors="replace")
    return done.returncode, done.stderr, json.loads(done.stdout)


def assert_nothing_live_passes(report: dict, probes: tuple[str, ...] = LIVE_PROBES) -> None:
    obs = report["observations"]
    live = {i for i, o in enumerate(obs) if o["probe"] in probes and o["subject"].get("endpoint")}
    ran = {obs[i]["probe"] for i in live}
    assert ran == set(probes), f"probes that left no observation on the server: {set(probes) - ran}"
    assert [obs[i] for i in live if obs[i]["status"] == "pass"] == []
    # every live probe errs on a server like this: its checks are unknown at best
    assert {obs[i]["status"] for i in live} <= {"error", "unknown", "fail"}
    assert [i["id"] for i in report["items"] if i["status"] == "pass" and live & set(i["observations"])] == []


FAULTS = [
    "accept-and-hang",
    "garbage",
    "reset",
    "plain-http",
    "trickle-http-headers",
    "trickle-http-body",
    "huge-http-body",
    "trickle-tls-record",
]


def test_closed_port(tmp_path):
    _, _, report = audit_against(tmp_path, closed_port())
    assert_nothing_live_passes(report)


@pytest.mark.parametrize("fault", FAULTS)
def test_misbehaving_server(tmp_path, fault):
    with serve(fault) as port:
        _, _, report = audit_against(tmp_path, port)
    assert_nothing_live_passes(report)


def test_https_health_on_a_plain_http_port(tmp_path):
    with serve("plain-http") as port:
        _, _, report = audit_against(tmp_path, closed_port(), None, "--health", f"https://127.0.0.1:{port}/h")
    plain = [o for o in report["observations"] if o["probe"] == "health" and str(port) in o["subject"]["endpoint"]]
    assert plain and {o["status"] for o in plain} == {"error"}, plain


def test_docker_unix_socket_that_never_answers(tmp_path):
    sock = tmp_path / "docker.sock"
    with serve("accept-and-hang", unix_path=str(sock)):
        _, _, report = audit_against(tmp_path, closed_port(), f"unix://{sock}")
    assert_nothing_live_passes(report)
    engine = [o for o in report["observations"] if o["probe"] == "docker_engine" and o["subject"].get("endpoint")]
    assert engine and {o["status"] for o in engine} == {"error"}
