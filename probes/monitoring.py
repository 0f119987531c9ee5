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
from readiness.probe import Probe, ProbeContext

from .apm_activation import activation
from .monitoring_checks import (
    ALERT_RULES,
    APM,
    APM_LIBS,
    CHECKS,
    CLAIMS,
    CRITICAL,
    CRITICAL_KINDS,
    DASHBOARDS,
    DB_METRICS,
    EXPORTERS,
    FRONTEND_LIBS,
    INTEGRATIONS,
    LOG_ALERTS,
    LOKI,
    MULTI_CHANNEL,
    PROMETHEUS,
    RECEIVERS,
    RESOURCE_METRICS,
    RULES_TESTED,
    RUM,
    RUM_LIBS,
    SLO_RULES,
    STRUCTURED,
    SYNTHETIC,
    TRACING,
)


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
