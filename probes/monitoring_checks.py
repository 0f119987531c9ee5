"""What the monitoring probe checks, and the libraries, exporters and files it recognises (declarations only;
the reading and judging are in monitoring.py)."""

from __future__ import annotations

import re

from readiness.model import Check
from readiness.probe import Claim

RATIONALES = {
    "prometheus_configured": "A service nothing scrapes has no metrics: its failures are found by its users.",
    "alert_rules": "Metrics without alert rules are only looked at after someone complains.",
    "alert_rules_tested": "An alert rule with a wrong expression never fires, and nothing says so until it matters.",
    "alertmanager_receivers": "Alerts routed to no real receiver fire into the void.",
    "multi_channel_notifications": "One notification channel is one point of failure for every page.",
    "critical_alerts": "Outages, errors, slowness, full disks, expiring certificates, failed backups: each needs one.",
    "slo_rules": "Without SLOs, alerts fire on symptoms users do not feel and stay silent on those they do.",
    "resource_metrics": "CPU, memory and disk exhaustion are the commonest causes of outages; they must be measured.",
    "db_metrics": "A database saturating its connections or slowing down takes every service with it.",
    "grafana_dashboards": "Dashboards kept only in Grafana's database are lost with it and drift from the deployment.",
    "loki_configured": "Logs left on the host vanish with the container and cannot be searched across hosts.",
    "log_alerts": "Some failures show only in logs; without log alerts they are noticed late.",
    "structured_logging": "Unparsed log lines cannot be filtered or counted by field during an incident.",
    "synthetic_checks": "Only a probe from outside sees what users see: DNS, certificates, the load balancer.",
    "tracing_configured": "Without traces, a slow request across services is a guessing game.",
    "apm": "Application-level timings and errors show which code path is at fault, not just that one is.",
    "rum": "Real user monitoring shows what the browser experiences, which server metrics cannot.",
}


def _check(key: str, title: str, remediation: str) -> Check:
    return Check(f"monitoring.{key}", title, RATIONALES[key], remediation)


PROMETHEUS = _check(
    "prometheus_configured",
    "Prometheus scrapes the production services",
    "Add a scrape job (or service discovery) for every production service.",
)
ALERT_RULES = _check("alert_rules", "Alerting rules are defined and valid", "Write alert rules whose PromQL parses.")
RULES_TESTED = _check(
    "alert_rules_tested",
    "Alerting rules have unit tests (promtool test rules or equivalent) that run in CI",
    "Add promtool rule tests and run `promtool test rules` in CI.",
)
RECEIVERS = _check(
    "alertmanager_receivers",
    "Alertmanager routes alerts to at least one real receiver",
    "Give the routed receivers an integration (email, chat, pager, webhook).",
)
MULTI_CHANNEL = _check(
    "multi_channel_notifications",
    "Alerts are routed to more than one notification channel (e.g. email, chat, paging)",
    "Route critical alerts to a pager and everything to chat or email.",
)
CRITICAL = _check(
    "critical_alerts",
    "Alerts exist for service down, error rate, latency, disk, certificate expiry and backup failure",
    "Add the missing alerts.",
)
SLO_RULES = _check(
    "slo_rules",
    "SLIs/SLOs are defined as recording and burn-rate alerting rules",
    "Define SLOs (Sloth, Pyrra or slo:* recording rules) with burn-rate alerts.",
)
RESOURCE_METRICS = _check(
    "resource_metrics",
    "Host and container resource metrics are collected (node exporter, cAdvisor)",
    "Run node-exporter and cAdvisor (or kubelet metrics) and scrape them.",
)
DB_METRICS = _check(
    "db_metrics",
    "Database metrics, including connection pools, are collected (postgres exporter)",
    "Run the database's exporter (postgres-exporter, mysqld-exporter, redis-exporter) and scrape it.",
)
DASHBOARDS = _check(
    "grafana_dashboards",
    "Grafana dashboards are provisioned from the repository",
    "Provision dashboards from JSON files through a Grafana dashboard provider.",
)
LOKI = _check(
    "loki_configured",
    "Loki (or another log backend) and a log shipper are configured",
    "Configure Loki and a shipper (Promtail, Alloy, Fluent Bit, Vector) that pushes to it.",
)
LOG_ALERTS = _check(
    "log_alerts",
    "Log-based alert rules fire on critical errors",
    "Add Loki ruler rules (LogQL) for critical error lines.",
)
STRUCTURED = _check(
    "structured_logging",
    "The log pipeline parses structured (JSON) logs",
    "Parse JSON in the shipper pipeline (promtail json stage, Fluent Bit json parser, Vector parse_json).",
)
SYNTHETIC = _check(
    "synthetic_checks",
    "Synthetic uptime checks probe the public endpoints (blackbox exporter or equivalent)",
    "Run the blackbox exporter with an http module and a probe job.",
)
TRACING = _check(
    "tracing_configured",
    "Distributed tracing is configured (OpenTelemetry exporter, Tempo/Jaeger backend)",
    "Configure an OpenTelemetry Collector traces pipeline and a Tempo or Jaeger backend.",
)
APM = _check(
    "apm",
    "An APM agent or SDK instruments the application",
    "Add an OpenTelemetry, Datadog, New Relic, Elastic or Sentry SDK to the application.",
)
RUM = _check(
    "rum",
    "Real user monitoring instruments the frontend",
    "Add a browser RUM SDK (Sentry, Datadog RUM, Grafana Faro, Elastic RUM).",
)
CHECKS = (PROMETHEUS, ALERT_RULES, RULES_TESTED, RECEIVERS, MULTI_CHANNEL, CRITICAL, SLO_RULES, RESOURCE_METRICS,
          DB_METRICS, DASHBOARDS, LOKI, LOG_ALERTS, STRUCTURED, SYNTHETIC, TRACING, APM, RUM)  # fmt: skip

CRITICAL_KINDS = {
    "service down": r"\bup\b(\{[^}]*\})?\s*==\s*0|absent\(|targetdown|instancedown|servicedown|\bdown\b",
    "error rate": r"5\.\.|5xx|status=~\"5|code=~\"5|error.?rate|errors?_total",
    "latency": r"histogram_quantile|latency|duration_seconds",
    "disk": r"node_filesystem_(avail|free)|disk|volume_(avail|used)|kubelet_volume_stats",
    "certificate expiry": r"probe_ssl_earliest_cert_expiry|x509_cert|cert.*expir|ssl.*expir",
    "backup failure": r"backup",
}
INTEGRATIONS = ("email_configs", "slack_configs", "pagerduty_configs", "webhook_configs", "opsgenie_configs",
                "victorops_configs", "pushover_configs", "msteams_configs", "msteamsv2_configs", "telegram_configs",
                "sns_configs", "discord_configs", "webex_configs", "wechat_configs", "jira_configs",
                "rocketchat_configs")  # fmt: skip
APM_LIBS = re.compile(
    r"opentelemetry-(instrumentation|distro|sdk)|@opentelemetry/(sdk-node|auto-instrumentations-node)|ddtrace|dd-trace|"
    r"\bnewrelic\b|elastic-apm|elastic/apm-agent|sentry-sdk|@sentry/node|go\.opentelemetry\.io/otel|"
    r"io\.opentelemetry|dd-java-agent|gopkg\.in/DataDog/dd-trace-go"
)
RUM_LIBS = re.compile(
    r"@sentry/(browser|react|vue|angular|nextjs)|@datadog/browser-rum|@grafana/faro-web-sdk|@elastic/apm-rum|"
    r"@newrelic/browser-agent|web-vitals|@opentelemetry/(sdk-trace-web|instrumentation-document-load|"
    r"instrumentation-user-interaction|auto-instrumentations-web)|@honeycombio/opentelemetry-web"
)
FRONTEND_LIBS = re.compile(r"\"(react|vue|svelte|@angular/core|next|nuxt|preact|solid-js)\"\s*:")
EXPORTERS = {
    "resource": re.compile(r"node-exporter|node_exporter|cadvisor|kube-state-metrics|windows-exporter", re.I),
    "db": re.compile(
        r"postgres(ql)?[-_]exporter|mysqld[-_]exporter|redis[-_]exporter|mongodb[-_]exporter|pgbouncer[-_]exporter|elasticsearch[-_]exporter",
        re.I,
    ),
}
CLAIMS = (
    Claim(("prometheus*.yml", "prometheus*.yaml", "**/prometheus/*.yml", "**/prometheus/*.yaml")),
    Claim(("*rules*.yml", "*rules*.yaml", "*alerts*.yml", "*alerts*.yaml", "**/rules/*.yml", "**/rules/*.yaml")),
    Claim(("alertmanager*.yml", "alertmanager*.yaml", "**/alertmanager/*.yml")),
    Claim(("**/*provisioning/**/*.yml", "**/*provisioning/**/*.yaml", "**/dashboards/*.json", "*dashboard*.json")),
    Claim(("loki*.yaml", "loki*.yml", "**/loki/*.yaml", "promtail*.yaml", "promtail*.yml", "*.alloy")),
    Claim(("fluent-bit.conf", "fluent-bit.yaml", "vector.toml", "vector.yaml", "**/fluent-bit/*.conf")),
    Claim(("blackbox*.yml", "blackbox*.yaml", "otel*.yaml", "otel*.yml", "tempo*.yaml", "jaeger*.yaml")),
    Claim(("docker-compose*.yml", "docker-compose*.yaml", "compose*.yml", "compose*.yaml")),
    Claim(("*.yaml", "*.yml"), sniff=re.compile(
        rb"kind:\s*(PrometheusRule|ServiceMonitor|PodMonitor|PrometheusServiceLevel|ServiceLevelObjective|DaemonSet)\b")),
    Claim(("requirements*.txt", "pyproject.toml", "package.json", "go.mod", "pom.xml", "build.gradle*", "Gemfile")),
    Claim((".github/workflows/*.yml", ".github/workflows/*.yaml", ".gitlab-ci.yml", "Makefile")),
    Claim(("*.yml", "*.yaml"), sniff=re.compile(rb"(?m)^rule_files:")),  # promtool rule tests
)  # fmt: skip
