"""The dns probe against a real resolver: Debian's dnsmasq on a free loopback port, answering only for .test."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
from readiness.probes.dns import DnsProbe

from readiness import runner
from readiness.config import Config
from readiness.discovery import discover
from readiness.inventory import Inventory
from readiness.model import Observation, Status, Strength
from readiness.probe import Files


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def nameserver():
    binary = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"
    port = free_udp_port()
    proc = subprocess.Popen(
        [binary, "--keep-in-foreground", f"--port={port}", "--listen-address=127.0.0.1", "--bind-interfaces",
         "--no-resolv", "--no-hosts", "--no-poll", "--pid-file", "--user=root",
         "--host-record=app.test,127.0.0.2", "--cname=www.app.test,app.test", "--host-record=stale.test,127.0.0.9",
         "--address=/#/"],  # everything else: NXDOMAIN, never forwarded
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and proc.poll() is None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                break  # dnsmasq holds the port: it is up
        time.sleep(0.1)
    yield f"127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=10)


def observe(tmp_path: Path, targets) -> list[Observation]:
    found = discover(tmp_path, Config())
    return runner.run_probe(DnsProbe, found, Files(found.root), Inventory(), Config(live={"dns": targets}))[0]


def test_records_are_compared_with_what_they_should_be(tmp_path, nameserver):
    records = [
        {"name": "app.test", "expect": ["127.0.0.2"]},
        {"name": "www.app.test", "expect": ["app.test."]},
        {"name": "stale.test", "expect": ["127.0.0.2"]},
        "missing.test",
        "app.test",
    ]
    got = {
        o.subject.name + str(i): o
        for i, o in enumerate(observe(tmp_path, {"nameserver": nameserver, "records": records}))
    }
    statuses = [o.status for o in got.values()]
    assert statuses == [Status.PASS, Status.PASS, Status.FAIL, Status.FAIL, Status.PASS]
    stale, missing = list(got.values())[2:4]
    assert "127.0.0.9" in stale.message and "NXDOMAIN" in missing.message
    assert all(o.strength is Strength.LIVE for o in got.values())
    assert list(got.values())[1].facts["cname_chain"][-1] == "app.test."


def test_a_resolver_that_does_not_answer_is_an_error(tmp_path):
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))
    try:
        targets = {
            "nameserver": f"127.0.0.1:{silent.getsockname()[1]}",
            "timeout_seconds": 0.5,
            "records": ["app.test"],
        }
        (got,) = observe(tmp_path, targets)
    finally:
        silent.close()
    assert got.status is Status.ERROR and "no answer" in got.message
