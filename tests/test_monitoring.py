"""The monitoring probe on a complete stack and on broken or partial ones."""

from __future__ import annotations

import shutil
from pathlib import Path

from conftest import REPO
from readiness.probes.monitoring import CHECKS, MonitoringProbe

from readiness import runner
from readiness.config import Config
from readiness.discovery import discover
from readiness.inventory import Inventory
from readiness.model import Observation, Status, Strength
from readiness.probe import Files

FIXTURES = REPO / "fixtures"


def observe(root: Path) -> list[Observation]:
    found = discover(root, Config())
    return runner.run_probe(MonitoringProbe, found, Files(found.root), Inventory(), Config())[0]


def by_check(obs: list[Observation]) -> dict[str, list[Observation]]:
    out: dict[str, list[Observation]] = {}
    for o in obs:
        out.setdefault(o.check, []).append(o)
    return out


def test_a_complete_stack_passes_every_static_check():
    obs = by_check(observe(FIXTURES / "monitoring-stack"))
    assert set(obs) == {c.id for c in CHECKS}
    bad = {c: [(o.status, o.message) for o in os] for c, os in obs.items() if {o.status for o in os} != {Status.PASS}}
    assert bad == {}
    assert obs["monitoring.alert_rules_tested"][0].strength is Strength.TESTED
    assert obs["monitoring.critical_alerts"][0].facts["missing"] == []
    assert "pagerduty_configs, slack_configs" in obs["monitoring.multi_channel_notifications"][0].message


def test_invalid_promql_fails_at_its_line_and_missing_alerts_are_named(tmp_path):
    (tmp_path / "rules.yml").write_text(
        "groups:\n  - name: g\n    rules:\n      - alert: Down\n        expr: up == 0\n"
        "      - alert: Broken\n        expr: sum(rate(http_requests_total[5m])\n"
    )
    obs = by_check(observe(tmp_path))
    (broken,) = obs["monitoring.alert_rules"]
    assert broken.status is Status.FAIL and (broken.subject.path, broken.subject.line) == ("rules.yml", 6)
    assert "parenthesis" in broken.message
    missing = obs["monitoring.critical_alerts"][0]
    assert (
        missing.status is Status.FAIL
        and "certificate expiry" in missing.message
        and "service down" not in missing.message
    )


def test_alertmanager_route_to_a_receiver_without_integration_is_a_blackhole(tmp_path):
    (tmp_path / "alertmanager.yml").write_text(
        "route:\n  receiver: nobody\nreceivers:\n  - name: nobody\n"
        "  - name: mail\n    email_configs: [{to: ops@example.test}]\n"
    )
    obs = by_check(observe(tmp_path))
    assert obs["monitoring.alertmanager_receivers"][0].status is Status.FAIL
    assert "nobody" in obs["monitoring.alertmanager_receivers"][0].message
    assert obs["monitoring.multi_channel_notifications"][0].status is Status.FAIL


def test_rule_tests_that_ci_never_runs_fail(tmp_path):
    root = tmp_path / "stack"
    shutil.copytree(FIXTURES / "monitoring-stack", root)
    (root / ".github" / "workflows" / "monitoring.yml").unlink()
    obs = by_check(observe(root))
    assert obs["monitoring.alert_rules_tested"][0].status is Status.FAIL
    assert "no CI job runs" in obs["monitoring.alert_rules_tested"][0].message


def test_nothing_configured(tmp_path):
    (tmp_path / "README.md").write_text("x\n")
    obs = by_check(observe(tmp_path))
    assert obs["monitoring.prometheus_configured"][0].status is Status.FAIL
    assert obs["monitoring.apm"][0].status is Status.UNKNOWN  # an agent may live outside the repository
    assert obs["monitoring.rum"][0].status is Status.NOT_APPLICABLE


def test_malformed_yaml_is_an_error(tmp_path):
    (tmp_path / "alerts.yml").write_text("groups: [\n")
    obs = observe(tmp_path)
    assert {o.status for o in obs if o.subject.path == "alerts.yml"} == {Status.ERROR}


def test_an_opentelemetry_collector_does_the_exporters_jobs(tmp_path):
    """otel-demo's shape: host and container metrics, an HTTP check and metrics sent to Prometheus's OTLP endpoint,
    all from the collector, with no prometheus.yml scrape jobs."""
    (tmp_path / "otelcol-config.yml").write_text(
        "receivers:\n  hostmetrics:\n    scrapers: {cpu: {}, memory: {}}\n  docker_stats: {}\n"
        "  httpcheck/frontend:\n    targets: [{endpoint: 'http://frontend-proxy:8080'}]\n  otlp: {}\n"
        "exporters:\n  otlphttp/prometheus:\n    endpoint: http://prometheus:9090/api/v1/otlp\n"
        "service:\n  pipelines:\n    metrics:\n      receivers: [hostmetrics, docker_stats, httpcheck/frontend, otlp]\n"
        "      exporters: [otlphttp/prometheus]\n"
    )
    obs = observe(tmp_path)
    passing = {o.check for o in obs if o.status is Status.PASS}
    assert {"monitoring.prometheus_configured", "monitoring.resource_metrics", "monitoring.synthetic_checks"} <= passing
    # the demo itself spells the receiver http_check/frontend-proxy
    text = (tmp_path / "otelcol-config.yml").read_text().replace("httpcheck/frontend", "http_check/frontend-proxy")
    (tmp_path / "otelcol-config.yml").write_text(text)
    synthetic = by_check(observe(tmp_path))["monitoring.synthetic_checks"][0]
    assert synthetic.status is Status.PASS and synthetic.subject.name == "receiver http_check"


def test_a_vendor_sdk_waiting_for_its_key_is_not_instrumentation(tmp_path):
    """Self-hosted products bundle Sentry or Datadog for their own cloud and switch them on only with a key."""
    deps = '{"dependencies": {"@sentry/node": "^10.0.0", "dd-trace": "^5.0.0"}}\n'
    (tmp_path / "package.json").write_text(deps)
    (tmp_path / ".env.sample").write_text("PORT=3000\nSENTRY_DSN=\n")
    (tmp_path / "server").mkdir()
    (tmp_path / "server" / "tracer.ts").write_text('if (env.DD_API_KEY) {\n  tracer.init({ service: "app" });\n}\n')
    apm = by_check(observe(tmp_path))["monitoring.apm"][0]
    assert apm.status is Status.UNKNOWN
    assert ".env.sample:2" in apm.message and "server/tracer.ts:1" in apm.message

    # The deployment's own env file giving the key turns the SDK on.
    (tmp_path / ".env").write_text("SENTRY_DSN=https://fake-key-for-tests@sentry.example.invalid/1\n")
    apm = by_check(observe(tmp_path))["monitoring.apm"][0]
    assert apm.status is Status.PASS and ".env:1" in apm.message
    assert "fake-key" not in apm.message
