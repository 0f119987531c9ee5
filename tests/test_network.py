"""The network probe scanning real listeners on loopback (never any other address)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from readiness.probes.network import NetworkProbe

from readiness import runner
from readiness.config import Config
from readiness.discovery import discover
from readiness.inventory import Inventory
from readiness.model import Observation, Status, Strength
from readiness.probe import Files


@pytest.fixture
def listeners():
    socks = [socket.create_server(("127.0.0.1", 0)) for _ in range(2)]
    yield [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def observe(tmp_path: Path, targets) -> list[Observation]:
    found = discover(tmp_path, Config())
    config = Config(live={"network": targets})
    return runner.run_probe(NetworkProbe, found, Files(found.root), Inventory(), config)[0]


def test_an_open_port_outside_the_allowed_list_fails(tmp_path, listeners):
    web, admin = listeners
    ports = [web, admin, closed_port()]
    (got,) = observe(tmp_path, {"hosts": ["127.0.0.1"], "allowed_ports": [web], "ports": ports})
    assert got.status is Status.FAIL and str(admin) in got.message and got.strength is Strength.LIVE
    assert got.facts["open"] == sorted([web, admin]) and got.facts["closed"] == 1
    assert got.subject.endpoint == "127.0.0.1"


def test_only_allowed_ports_open_passes(tmp_path, listeners):
    (got,) = observe(
        tmp_path, {"hosts": ["127.0.0.1"], "allowed_ports": listeners, "ports": [*listeners, closed_port()]}
    )
    assert got.status is Status.PASS


def test_without_targets_the_check_is_unknown(tmp_path):
    found = discover(tmp_path, Config())
    (got,) = runner.run_probe(NetworkProbe, found, Files(found.root), Inventory(), Config())[0]
    assert got.status is Status.UNKNOWN and "live.network" in got.message
