"""The live monitoring probe against a real Prometheus and Alertmanager on loopback."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from monitoring_service import Stack
from readiness.probes.monitoring_live import MonitoringLiveProbe

from readiness import runner
from readiness.config import Config
from readiness.discovery import discover
from readiness.inventory import Inventory
from readiness.model import Observation, Status, Strength
from readiness.probe import Files


@pytest.fixture(scope="module")
def stack():
    running = Stack.start()
    yield running
    running.stop()


def observe(tmp_path: Path, targets) -> dict[str, Observation]:
    found = discover(tmp_path, Config())
    config = Config(live={"monitoring_live": targets})
    observations = runner.run_probe(MonitoringLiveProbe, found, Files(found.root), Inventory(), config)[0]
    return {o.check: o for o in observations}


def test_the_running_stack_is_judged_live(stack, tmp_path):
    got = observe(tmp_path, {"prometheus": stack.prometheus, "alertmanager": stack.alertmanager})
    assert all(o.strength is Strength.LIVE for o in got.values())
    targets = got["monitoring_live.targets_up"]
    assert targets.status is Status.FAIL and "1 of 2 targets down: gone/" in targets.message
    critical = got["monitoring_live.no_critical_alerts_firing"]
    assert critical.status is Status.FAIL and critical.facts["firing"] == ["DatabaseDown"]
    slo = got["monitoring_live.slos_met"]
    assert slo.status is Status.FAIL and "CheckoutErrorBudgetBurn" in slo.message
    delivered = got["monitoring_live.notifications_delivered"]
    assert delivered.status is Status.FAIL and "webhook" in delivered.message  # one receiver refuses
    assert delivered.facts["sent"]["webhook"] > 0
    assert targets.subject.endpoint == stack.prometheus


def test_a_server_that_is_down_is_an_error(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    got = observe(tmp_path, {"prometheus": f"http://127.0.0.1:{port}", "alertmanager": f"http://127.0.0.1:{port}"})
    assert {o.status for o in got.values()} == {Status.ERROR}


def test_something_that_is_not_prometheus_is_an_error(stack, tmp_path):
    got = observe(tmp_path, f"{stack.alertmanager}/#not-prometheus")
    assert got["monitoring_live.targets_up"].status is Status.ERROR
    assert got["monitoring_live.notifications_delivered"].status is Status.UNKNOWN  # no alertmanager named


def test_without_targets_every_check_is_unknown(tmp_path):
    found = discover(tmp_path, Config())
    observations = runner.run_probe(MonitoringLiveProbe, found, Files(found.root), Inventory(), Config())[0]
    assert {o.status for o in observations} == {Status.UNKNOWN}
