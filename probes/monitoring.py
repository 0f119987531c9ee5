"""Monitoring as the repository configures it: Prometheus, alert rules, Alertmanager, Grafana, Loki, tracing.

Alert and recording rules are read from Prometheus rule files and ``PrometheusRule`` objects, and every
PromQL expression is parsed with promql-parser (the Prometheus grammar, compiled from Rust): an expression
that does not parse is a failure at its line. The alert set is checked for the six alerts an operator needs
(service down, error rate, latency, disk, certificate expiry, backup failure). Alertmanager's route tree is
followed to the receivers it reaches, which must have at least one integration. The live checks (targets
up, alerts firing, notifications delivered, SLOs met, logs ingested) need a running Prometheus and stay with
a live probe.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from readiness import safe_load
from readiness.model import Artifact, Check, Observation, Status, Strength, Subject
from readiness.probe import Claim, Probe, ProbeContext

from .apm_activation import activation

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


@dataclass
class Rule:
    path: str
    line: int
    name: str
    expr: str
    alert: bool


@dataclass
class Seen:
    rules: list[Rule] = field(default_factory=list)
    invalid: list[tuple[Rule, str]] = field(default_factory=list)
    rule_tests: list[Subject] = field(default_factory=list)
    promtool_in_ci: list[Subject] = field(default_factory=list)
    scrape: list[tuple[Subject, list[str]]] = field(default_factory=list)
    alertmanager: list[tuple[Subject, dict]] = field(default_factory=list)
    slo_specs: list[Subject] = field(default_factory=list)
    dashboards: list[Subject] = field(default_factory=list)
    providers: list[Subject] = field(default_factory=list)
    loki: list[Subject] = field(default_factory=list)
    shippers: list[Subject] = field(default_factory=list)
    json_parsing: list[Subject] = field(default_factory=list)
    blackbox: list[Subject] = field(default_factory=list)
    otel_metrics: list[Subject] = field(default_factory=list)  # a collector exporting metrics to Prometheus
    tracing: list[Subject] = field(default_factory=list)
    exporters: dict[str, list[Subject]] = field(default_factory=lambda: {"resource": [], "db": []})
    apm: list[tuple[Subject, str]] = field(default_factory=list)
    rum: list[tuple[Subject, str]] = field(default_factory=list)
    frontend: list[Subject] = field(default_factory=list)
    texts: dict[str, str] = field(default_factory=dict)


def _line(text: str, m: re.Match[str] | None) -> int:
    return text[: m.start()].count("\n") + 1 if m else 1


def _groups(doc: Any) -> list:
    if not isinstance(doc, dict):
        return []
    if doc.get("kind") == "PrometheusRule":
        return ((doc.get("spec") or {}).get("groups")) or []
    return doc.get("groups") or [] if isinstance(doc.get("groups"), list) else []


class MonitoringProbe(Probe):
    name = "monitoring"
    version = "0.1.0"
    kind = "static"
    description = "Prometheus, alert rules (PromQL parsed), Alertmanager routes, Grafana, Loki, tracing, APM, RUM."
    claims = CLAIMS
    checks = CHECKS
    existential_checks = frozenset(
        {
            "monitoring.prometheus_configured",
            "monitoring.alert_rules",
            "monitoring.alertmanager_receivers",
            "monitoring.multi_channel_notifications",
            "monitoring.critical_alerts",
            "monitoring.slo_rules",
            "monitoring.resource_metrics",
            "monitoring.db_metrics",
            "monitoring.grafana_dashboards",
            "monitoring.loki_configured",
            "monitoring.log_alerts",
            "monitoring.structured_logging",
            "monitoring.synthetic_checks",
            "monitoring.tracing_configured",
            "monitoring.apm",
            "monitoring.rum",
        }
    )

    def run(self, ctx: ProbeContext) -> Iterator[Observation]:
        seen = Seen()
        for art in ctx.artifacts:
            with ctx.guard(art):
                self._read(ctx, art, seen)
        yield from self._judge(ctx, seen)

    def _read(self, ctx: ProbeContext, art: Artifact, seen: Seen) -> None:
        path, name = art.path, posixpath.basename(art.path)
        text = ctx.read_text(art)
        seen.texts[path] = text
        lower = text.lower()
        if (
            name in ("requirements.txt", "pyproject.toml", "go.mod", "pom.xml", "Gemfile")
            or name.startswith(("requirements", "build.gradle"))
            or name == "package.json"
        ):
            for lib, m in {m.group(0): m for m in reversed(list(APM_LIBS.finditer(text)))}.items():
                seen.apm.append((Subject(path=path, line=_line(text, m)), lib))
            if name == "package.json":
                if m := RUM_LIBS.search(text):
                    seen.rum.append((Subject(path=path, line=_line(text, m)), m.group(0)))
                if FRONTEND_LIBS.search(text):
                    seen.frontend.append(Subject(path=path, line=1))
            return
        if name == "Makefile" or path.startswith(".github/") or name == ".gitlab-ci.yml":
            if m := re.search(r"promtool\s+test\s+rules", text):
                seen.promtool_in_ci.append(Subject(path=path, line=_line(text, m)))
            return
        if name.endswith(".alloy") or name.endswith((".conf", ".toml")):
            self._pipeline(path, text, seen)
            return
        if name.endswith(".json"):
            data = safe_load.load_json(text)
            if isinstance(data, dict) and ("panels" in data or "dashboard" in data):
                seen.dashboards.append(Subject(path=path, line=1))
            return
        docs = ctx.read_yaml(art)
        for kind, pattern in EXPORTERS.items():
            if m := pattern.search(text):
                seen.exporters[kind].append(Subject(path=path, line=_line(text, m)))
        for doc in docs:
            if not isinstance(doc, dict):
                continue
            self._rules(path, doc, seen)
            if "scrape_configs" in doc:
                jobs = [str(j.get("job_name")) for j in doc.get("scrape_configs") or [] if isinstance(j, dict)]
                seen.scrape.append((Subject(path=path, line=doc.key_line("scrape_configs")), jobs))
                if any(isinstance(j, dict) and j.get("metrics_path") == "/probe" for j in doc["scrape_configs"]):
                    seen.blackbox.append(Subject(path=path, line=doc.key_line("scrape_configs")))
            if "rule_files" in doc and "tests" in doc:
                seen.rule_tests.append(Subject(path=path, line=doc.key_line("tests")))
            if "route" in doc and "receivers" in doc:
                seen.alertmanager.append((Subject(path=path, line=doc.key_line("route")), doc))
            if doc.get("kind") in ("PrometheusServiceLevel", "ServiceLevelObjective") or "slos" in doc:
                seen.slo_specs.append(Subject(path=path, line=getattr(doc, "line", 1)))
            if "providers" in doc and any(
                isinstance(p, dict) and p.get("type", "file") == "file" for p in doc.get("providers") or []
            ):
                seen.providers.append(Subject(path=path, line=doc.key_line("providers")))
            if "schema_config" in doc or ("ingester" in doc and "limits_config" in doc):
                seen.loki.append(Subject(path=path, line=1))
            if "clients" in doc and "scrape_configs" in doc:  # promtail
                seen.shippers.append(Subject(path=path, line=doc.key_line("clients")))
                if re.search(r"-\s*json\s*:", text):
                    seen.json_parsing.append(Subject(path=path, line=_line(text, re.search(r"-\s*json\s*:", text))))
            if "modules" in doc and any(
                isinstance(m, dict) and m.get("prober") for m in (doc.get("modules") or {}).values()
            ):
                seen.blackbox.append(Subject(path=path, line=doc.key_line("modules")))
            service = doc.get("service") or {}
            pipelines = (service.get("pipelines") or {}) if isinstance(service, dict) else {}
            if pipelines and isinstance(pipelines, dict):  # a collector config, or an overlay of one
                self._collector(path, doc, text, seen)
            if any(str(k).startswith("traces") for k in pipelines) or "distributor" in doc and "tempo" in lower:
                seen.tracing.append(Subject(path=path, line=doc.key_line("service") if "service" in doc else 1))
            services = doc.get("services") if isinstance(doc.get("services"), dict) else {}
            for svc_name, svc in services.items():
                image = str((svc or {}).get("image", "")) if isinstance(svc, dict) else ""
                subject = Subject(path=path, line=services.key_line(svc_name), name=str(svc_name))
                if re.search(r"grafana/loki", image):
                    seen.loki.append(subject)
                if re.search(r"grafana/(promtail|alloy)|fluent-bit|timberio/vector|fluentd", image):
                    seen.shippers.append(subject)
                if re.search(r"jaegertracing|grafana/tempo|otel/opentelemetry-collector", image):
                    seen.tracing.append(subject)
                if re.search(r"blackbox-exporter", image):
                    seen.blackbox.append(subject)

    @staticmethod
    def _collector(path: str, doc: dict, text: str, seen: Seen) -> None:
        """An OpenTelemetry Collector doing an exporter's job: host and container metrics, endpoint checks,
        database receivers, and metrics exported to Prometheus (remote write or its OTLP endpoint)."""
        declared = doc.get("receivers") if isinstance(doc.get("receivers"), dict) else {}
        receivers = {str(k).split("/")[0]: k for k in declared}
        at = declared.key_line if hasattr(declared, "key_line") else (lambda _k: 1)
        for kind, names in (
            ("resource", ("hostmetrics", "docker_stats", "kubeletstats", "k8s_cluster", "podman_stats")),
            ("db", ("postgresql", "mysql", "redis", "mongodb", "sqlserver", "elasticsearch")),
        ):
            for name in names:
                if name in receivers:
                    seen.exporters[kind].append(Subject(path=path, line=at(receivers[name]), name=f"receiver {name}"))
        for name in ("httpcheck", "http_check"):  # the contrib receiver, under either spelling configs use
            if name in receivers:
                seen.blackbox.append(Subject(path=path, line=at(receivers[name]), name=f"receiver {name}"))
                break
        exporters = doc.get("exporters") if isinstance(doc.get("exporters"), dict) else {}
        for key, spec in exporters.items():
            name = str(key).split("/")[0]
            endpoint = str((spec or {}).get("endpoint", "")) if isinstance(spec, dict) else ""
            toward_prometheus = "prometheus" in endpoint.lower() or "prometheus" in str(key).lower()
            if name in ("prometheusremotewrite", "prometheus") or (name.startswith("otlp") and toward_prometheus):
                seen.otel_metrics.append(Subject(path=path, line=exporters.key_line(key), name=f"exporter {key}"))

    @staticmethod
    def _pipeline(path: str, text: str, seen: Seen) -> None:
        if re.search(r"loki\.write|\[OUTPUT\][^\[]*Name\s+loki|type\s*=\s*\"loki\"", text, re.S | re.I):
            seen.shippers.append(Subject(path=path, line=1))
        m = re.search(r"stage\.json|Parser\s+json|parse_json|Format\s+json", text, re.I)
        if m:
            seen.json_parsing.append(Subject(path=path, line=_line(text, m)))
        if re.search(r"otelcol\.exporter\.otlp|traces", text) and path.endswith(".alloy"):
            seen.tracing.append(Subject(path=path, line=1))

    @staticmethod
    def _rules(path: str, doc: dict, seen: Seen) -> None:
        import promql_parser

        for group in _groups(doc):
            rules = group.get("rules") if isinstance(group, dict) else None
            for i, rule in enumerate(rules or []):
                if not isinstance(rule, dict) or "expr" not in rule:
                    continue
                line = rules.item_line(i) if hasattr(rules, "item_line") else 1
                item = Rule(
                    path, line, str(rule.get("alert") or rule.get("record")), str(rule["expr"]), "alert" in rule
                )
                if re.search(r"\{[^}]*\}\s*\|[=~]|count_over_time|rate\(\{", item.expr):
                    item.name = item.name or "log rule"
                    seen.rules.append(item)  # LogQL (Loki ruler): promql-parser does not speak it
                    continue
                try:
                    promql_parser.parse(item.expr)
                except ValueError as exc:
                    seen.invalid.append((item, str(exc).splitlines()[0][:160]))
                    continue
                seen.rules.append(item)

    @staticmethod
    def _apm(ctx: ProbeContext, seen: Seen, obs) -> Observation:
        """An SDK counts when what the repository ships turns it on; a vendor SDK waiting for a key does not."""
        off = []
        for subject, lib in seen.apm:
            state = activation(ctx, lib)
            if state.on:
                return obs(APM, Status.PASS, subject, f"the application depends on {lib}" + (
                    f" ({state.why} at {state.subject.describe()})" if state.subject else ""))  # fmt: skip
            off.append(f"{lib} is off by default: {state.why} ({state.subject.describe()})")
        return obs(APM, Status.UNKNOWN, seen.apm[0][0], "; ".join(off))

    def _judge(self, ctx: ProbeContext, seen: Seen) -> Iterator[Observation]:
        def obs(check: Check, status: Status, subject: Subject, message: str, **kw) -> Observation:
            return ctx.observe(check.id, status, subject, message, **kw)

        def first(
            check: Check, found: list[Subject], what: str, missing: str, absent=Status.FAIL
        ) -> Iterator[Observation]:
            if found:
                yield obs(check, Status.PASS, found[0], what)
            else:
                yield obs(check, absent, Subject(), missing)

        alerts = [r for r in seen.rules if r.alert]
        # Prometheus and what it scrapes
        production = sorted({s.name for s in ctx.inventory.services if s.production})
        if seen.scrape:
            subject, jobs = seen.scrape[0]
            jobs = [j for _, js in seen.scrape for j in js]
            text = " ".join(seen.texts.values())
            sd = re.search(
                r"kubernetes_sd_configs|consul_sd_configs|ec2_sd_configs|docker_sd_configs|dns_sd_configs", text
            )
            unscraped = [s for s in production if not sd and not any(s in j or s in text for j in jobs)]
            if unscraped:
                yield obs(
                    PROMETHEUS, Status.FAIL, subject, f"no scrape job for {', '.join(unscraped)}", facts={"jobs": jobs}
                )
            else:
                how = "service discovery" if sd else f"jobs {', '.join(jobs[:6])}"
                yield obs(PROMETHEUS, Status.PASS, subject, f"Prometheus scrapes through {how}", facts={"jobs": jobs})
        elif seen.otel_metrics:
            where = seen.otel_metrics[0]
            yield obs(
                PROMETHEUS,
                Status.PASS,
                where,
                f"the OpenTelemetry Collector sends metrics to Prometheus ({where.name})",
            )
        else:
            yield obs(PROMETHEUS, Status.FAIL, Subject(), "no prometheus.yml with scrape_configs in the repository")
        # rules
        for rule, error in seen.invalid:
            yield obs(
                ALERT_RULES,
                Status.FAIL,
                Subject(path=rule.path, line=rule.line, name=rule.name),
                f"{rule.name}: PromQL does not parse: {error}",
            )
        if alerts and not seen.invalid:
            yield obs(
                ALERT_RULES,
                Status.PASS,
                Subject(path=alerts[0].path, line=alerts[0].line),
                f"{len(alerts)} alert rules, every expression parses",
            )
        elif not alerts and not seen.invalid:
            yield obs(
                ALERT_RULES,
                Status.FAIL,
                Subject(),
                "no alerting rules (Prometheus rule files or PrometheusRule objects)",
            )
        if seen.rule_tests and seen.promtool_in_ci:
            yield obs(
                RULES_TESTED,
                Status.PASS,
                seen.promtool_in_ci[0],
                f"rule tests in {seen.rule_tests[0].path}, run by CI",
                strength=Strength.TESTED,
            )
        elif seen.rule_tests:
            yield obs(
                RULES_TESTED,
                Status.FAIL,
                seen.rule_tests[0],
                "rule tests exist, but no CI job runs `promtool test rules`",
            )
        else:
            yield obs(RULES_TESTED, Status.FAIL, Subject(), "no promtool rule tests (a file with rule_files and tests)")
        text = "\n".join(f"{r.name} {r.expr}" for r in alerts).lower()
        covered = [k for k, pattern in CRITICAL_KINDS.items() if re.search(pattern, text, re.I)]
        missing = [k for k in CRITICAL_KINDS if k not in covered]
        facts = {"covered": covered, "missing": missing}
        subject = Subject(path=alerts[0].path) if alerts else Subject()
        if missing:
            yield obs(CRITICAL, Status.FAIL, subject, f"no alert for: {', '.join(missing)}", facts=facts)
        else:
            yield obs(CRITICAL, Status.PASS, subject, "alerts cover all six: " + ", ".join(covered), facts=facts)
        slo = [r for r in seen.rules if re.search(r"slo|sli|error_budget|burn", r.name, re.I)]
        found_slo = [Subject(path=r.path, line=r.line, name=r.name) for r in slo] + seen.slo_specs
        yield from first(
            SLO_RULES,
            found_slo,
            "SLO recording or burn-rate rules, or an SLO spec",
            "no SLO rules (slo:* recording rules, burn-rate alerts, Sloth or Pyrra specs)",
        )
        logs = [r for r in seen.rules if re.search(r"\|[=~]|count_over_time|\{.*\}\s*\|", r.expr)]
        yield from first(
            LOG_ALERTS,
            [Subject(path=r.path, line=r.line, name=r.name) for r in logs],
            "LogQL alert rules",
            "no log-based (LogQL) alert rules",
        )
        # Alertmanager
        yield from self._alertmanager(ctx, seen)
        yield from first(
            RESOURCE_METRICS,
            seen.exporters["resource"],
            "node-exporter / cAdvisor / kube-state-metrics",
            "no node-exporter or cAdvisor",
        )
        databases = [
            s.name
            for s in ctx.inventory.services
            if s.production and s.image and re.search(r"postgres|mysql|mariadb|redis|mongo", s.image)
        ]
        if seen.exporters["db"] or databases:
            yield from first(
                DB_METRICS,
                seen.exporters["db"],
                "a database exporter",
                f"no exporter for the database services {', '.join(databases)}",
            )
        else:
            yield obs(DB_METRICS, Status.NOT_APPLICABLE, Subject(), "no database service in the deployment files")
        if seen.providers and seen.dashboards:
            yield obs(
                DASHBOARDS,
                Status.PASS,
                seen.providers[0],
                f"a dashboard provider and {len(seen.dashboards)} dashboard file(s)",
            )
        elif seen.dashboards:
            yield obs(DASHBOARDS, Status.FAIL, seen.dashboards[0], "dashboard JSON without a provisioning provider")
        else:
            yield obs(DASHBOARDS, Status.FAIL, Subject(), "no Grafana dashboards provisioned from the repository")
        if seen.loki and seen.shippers:
            yield obs(LOKI, Status.PASS, seen.loki[0], f"Loki and a shipper ({seen.shippers[0].path})")
        elif seen.loki:
            yield obs(LOKI, Status.FAIL, seen.loki[0], "Loki without a shipper that pushes to it")
        else:
            yield obs(LOKI, Status.FAIL, Subject(), "no Loki (or other log backend) configuration")
        yield from first(
            STRUCTURED, seen.json_parsing, "the log pipeline parses JSON", "no JSON parsing stage in a log pipeline"
        )
        yield from first(
            SYNTHETIC, seen.blackbox, "blackbox exporter probes", "no blackbox exporter module or probe job"
        )
        yield from first(
            TRACING,
            seen.tracing,
            "a traces pipeline or tracing backend",
            "no OpenTelemetry traces pipeline, Tempo or Jaeger",
        )
        if seen.apm:
            yield self._apm(ctx, seen, obs)
        else:
            yield obs(
                APM,
                Status.UNKNOWN,
                Subject(),
                "no APM SDK in the dependency manifests (an agent may be installed outside the repository)",
            )
        if seen.rum:
            subject, lib = seen.rum[0]
            yield obs(RUM, Status.PASS, subject, f"the frontend depends on {lib}")
        elif seen.frontend:
            yield obs(RUM, Status.FAIL, seen.frontend[0], "a browser frontend without a RUM SDK")
        else:
            yield obs(RUM, Status.NOT_APPLICABLE, Subject(), "no browser frontend in the repository")

    @staticmethod
    def _alertmanager(ctx: ProbeContext, seen: Seen) -> Iterator[Observation]:
        if not seen.alertmanager:
            for check in (RECEIVERS, MULTI_CHANNEL):
                yield ctx.observe(check.id, Status.FAIL, Subject(), "no alertmanager.yml in the repository")
            return
        subject, doc = seen.alertmanager[0]
        receivers = {str(r.get("name")): r for r in doc.get("receivers") or [] if isinstance(r, dict)}
        routed: list[str] = []

        def walk(route: Any) -> None:
            if isinstance(route, dict):
                if route.get("receiver"):
                    routed.append(str(route["receiver"]))
                for child in route.get("routes") or []:
                    walk(child)

        walk(doc.get("route"))
        kinds = sorted({k for r in routed for k in INTEGRATIONS if (receivers.get(r) or {}).get(k)})
        empty = [r for r in routed if not any((receivers.get(r) or {}).get(k) for k in INTEGRATIONS)]
        facts = {"routed_receivers": sorted(set(routed)), "integrations": kinds}
        if empty:
            message = f"route sends alerts to receiver(s) with no integration: {', '.join(sorted(set(empty)))}"
            yield ctx.observe(RECEIVERS.id, Status.FAIL, subject, message, facts=facts)
        elif kinds:
            yield ctx.observe(
                RECEIVERS.id, Status.PASS, subject, f"routed receivers notify via {', '.join(kinds)}", facts=facts
            )
        else:
            yield ctx.observe(RECEIVERS.id, Status.FAIL, subject, "no route reaches a receiver", facts=facts)
        status = Status.PASS if len(kinds) >= 2 else Status.FAIL
        yield ctx.observe(
            MULTI_CHANNEL.id,
            status,
            subject,
            f"{len(kinds)} notification channel kind(s): {', '.join(kinds) or 'none'}",
            facts=facts,
        )
