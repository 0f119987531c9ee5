"""Logging as the repository configures it: shipped to a central system, kept for a set time, rotated, JSON.

Read: log shippers (Fluent Bit, Fluentd, Vector, Filebeat, Promtail, Grafana
Alloy, the OpenTelemetry Collector) and their outputs; Compose logging drivers
and Docker's ``daemon.json``; logrotate and journald settings; Loki,
Elasticsearch ILM and Splunk retention; application logging configuration
(Python ``logging`` INI and dictConfig YAML/JSON, logback and log4j2 XML, Spring
Boot properties, nginx ``log_format``) and JSON-logging libraries in the
dependency manifests. The module is ``logging_config`` so that it never shadows
the standard library's ``logging``; the probe is named ``logging``.
"""

from __future__ import annotations

import configparser
import json
import posixpath
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml

from readiness import safe_load, yaml_lines
from readiness.model import Artifact, Check, Observation, Status, Subject
from readiness.probe import Claim, Probe, ProbeContext

CENTRALIZED = Check(
    "logging.centralized",
    "Logs are shipped to a central aggregation system (ELK, Splunk, CloudWatch, Loki)",
    "Logs left on each host vanish with it and cannot be searched across services during an incident.",
    "Run a shipper (Fluent Bit, Vector, Promtail, the OTel Collector) with a remote output, or a remote "
    "Docker logging driver.",
)
RETENTION = Check(
    "logging.retention",
    "Log retention periods are configured",
    "Unbounded logs fill disks and breach data-minimisation rules; too-short ones lose the audit trail.",
    "Set retention where logs are stored: Loki retention_period, an Elasticsearch ILM delete phase, logrotate "
    "rotate/maxage, journald MaxRetentionSec.",
)
ROTATION = Check(
    "logging.rotation",
    "Host and application log files are rotated (logrotate or equivalent)",
    "A log file that never rotates fills the disk and takes the service down with it.",
    "Rotate every log file a service writes (logrotate stanza, RotatingFileHandler, RollingFileAppender), or log "
    "to stdout and let the runtime rotate.",
)
STRUCTURED = Check(
    "logging.structured",
    "Applications log in a structured format (JSON)",
    "JSON logs are parsed reliably by aggregation systems; free text needs fragile per-format parsing.",
    "Use a JSON formatter (python-json-logger, structlog JSONRenderer, logstash/ECS encoder, pino, zap, "
    "slog JSONHandler).",
)
CHECKS = (CENTRALIZED, RETENTION, ROTATION, STRUCTURED)

SHIPPER_CLAIMS = (
    "fluent-bit.conf",
    "fluent-bit.yaml",
    "fluent-bit.yml",
    "**/fluent-bit/*.conf",
    "fluent.conf",
    "td-agent.conf",
    "**/fluentd/*.conf",
    "vector.toml",
    "vector.yaml",
    "vector.yml",
    "**/vector/*.toml",
    "**/vector/*.yaml",
    "filebeat.yml",
    "filebeat.yaml",
    "promtail.yaml",
    "promtail.yml",
    "promtail-config.yaml",
    "*.alloy",
    "config.alloy",
    "otel-collector*.yaml",
    "otel-collector*.yml",
    "otelcol*.yaml",
    "**/otel/*.yaml",
)
CLAIMS = (
    Claim(SHIPPER_CLAIMS),
    Claim(("docker-compose*.yml", "docker-compose*.yaml", "compose*.yml", "compose*.yaml", "daemon.json")),
    Claim(("logrotate.conf", "**/logrotate.d/*", "journald.conf", "**/journald.conf.d/*.conf")),
    Claim(("loki.yaml", "loki.yml", "loki-config.yaml", "**/loki/*.yaml", "**/ilm/*.json", "*ilm*.json")),
    Claim(("indexes.conf",)),
    Claim(("logging.conf", "logging.ini", "logging.yaml", "logging.yml", "logging.json", "log_config.yaml")),
    Claim(("logback.xml", "logback-spring.xml", "log4j2.xml", "log4j2-spring.xml")),
    Claim(("application.properties", "application.yml", "application.yaml", "application-prod*.properties")),
    Claim(("application-prod*.yml", "application-prod*.yaml")),
    Claim(("requirements*.txt", "pyproject.toml", "package.json", "go.mod", "pom.xml", "build.gradle*")),
)

REMOTE_OUTPUTS = re.compile(
    r"\b(elasticsearch|opensearch|es|splunk|splunk_hec|cloudwatch(?:_logs)?|loki|datadog(?:_logs)?|kafka|"
    r"stackdriver|google_cloud_logging|gcp|azure_monitor_logs|azure_logs_ingestion|logdna|new_relic|newrelic|"
    r"logzio|http|forward|syslog|s3|kinesis(?:_streams|_firehose)?|otlp|otlphttp|gelf|logstash|awscloudwatchlogs)\b",
    re.I,
)
LOCAL_OUTPUTS = {"stdout", "console", "file", "null", "counter", "blackhole", "debug", "logging", "nop"}
REMOTE_DRIVERS = {"fluentd", "gelf", "awslogs", "splunk", "loki", "syslog", "gcplogs", "logentries", "etwlogs"}
JSON_DEPENDENCIES = re.compile(
    r"(?m)^[\s\"']*(python-json-logger|structlog|json-log-formatter|ecs-logging|pino|bunyan|"
    r"go\.uber\.org/zap|github\.com/rs/zerolog|github\.com/sirupsen/logrus|logstash-logback-encoder|"
    r"co\.elastic\.logging|log4j-layout-template-json)\b",
)


@dataclass
class Evidence:
    check: Check
    status: Status
    subject: Subject
    message: str
    facts: dict[str, Any] = field(default_factory=dict)


def _line_of(text: str, needle: re.Pattern[str] | str) -> int:
    m = needle.search(text) if isinstance(needle, re.Pattern) else re.search(re.escape(needle), text)
    return text[: m.start()].count("\n") + 1 if m else 1


def shipper(path: str, text: str) -> Iterator[Evidence]:
    """A log shipper's outputs: remote ones ship, stdout/file ones do not."""
    name = posixpath.basename(path)
    outputs: list[tuple[str, int]] = []
    if name.endswith((".conf",)) and ("fluent" in path or "td-agent" in path):
        for m in re.finditer(
            r"(?im)^[ \t]*(?:\[OUTPUT\][^\[]*?^\s*Name\s+(\S+)|<match\s+[^>]*>\s*\n\s*@type\s+(\S+))", text
        ):
            outputs.append((m.group(1) or m.group(2), text[: m.start()].count("\n") + 1))
    elif name.endswith(".toml"):
        import tomllib

        data = tomllib.loads(text)
        for sink, conf in (data.get("sinks") or {}).items():
            outputs.append((str(conf.get("type", sink)), _line_of(text, f"[sinks.{sink}]")))
    elif name.endswith(".alloy"):
        for m in re.finditer(r"(?m)^\s*(loki\.write|otelcol\.exporter\.\w+|prometheus\.remote_write)\s", text):
            outputs.append(
                (m.group(1).split(".")[-1] if "exporter" in m.group(1) else "loki", text[: m.start()].count("\n") + 1)
            )
    else:
        data = yaml_lines.load(text)
        if isinstance(data, dict):
            outputs += _yaml_outputs(path, data)
    remote = [(o, line) for o, line in outputs if o.lower() not in LOCAL_OUTPUTS and REMOTE_OUTPUTS.search(o)]
    facts = {"outputs": sorted({o for o, _ in outputs})}
    if remote:
        kinds = ", ".join(sorted({o for o, _ in remote}))
        yield Evidence(CENTRALIZED, Status.PASS, Subject(path=path, line=remote[0][1]), f"ships logs to {kinds}", facts)
    elif outputs:
        message = f"a log shipper with only local outputs ({', '.join(facts['outputs'])})"
        yield Evidence(CENTRALIZED, Status.FAIL, Subject(path=path, line=outputs[0][1]), message, facts)


def _yaml_outputs(path: str, data: dict) -> list[tuple[str, int]]:
    name = posixpath.basename(path)
    out: list[tuple[str, int]] = []
    if name.startswith("filebeat"):
        for key in data:
            if str(key).startswith("output."):
                out.append((str(key).split(".", 1)[1], data.key_line(key)))
        output = data.get("output")
        if isinstance(output, dict):
            out += [(str(k), output.key_line(k)) for k in output]
    elif name.startswith("promtail") or "clients" in data:
        out += [("loki", data.key_line("clients"))] if data.get("clients") else []
    elif "sinks" in data and isinstance(data["sinks"], dict):  # vector YAML
        out += [(str((c or {}).get("type", k)), data["sinks"].key_line(k)) for k, c in data["sinks"].items()]
    elif "exporters" in data and isinstance(data["exporters"], dict):  # OTel collector
        service = data.get("service") or {}
        pipelines = (service.get("pipelines") or {}) if isinstance(service, dict) else {}
        used = {e for n, p in pipelines.items() if str(n).startswith("logs") for e in (p or {}).get("exporters") or []}
        out += [(str(k).split("/")[0], data["exporters"].key_line(k)) for k in data["exporters"] if k in used]
    elif "pipeline" in data or "outputs" in data:  # fluent-bit YAML
        pipeline = data.get("pipeline") or data
        for o in pipeline.get("outputs") or []:
            if isinstance(o, dict):
                out.append((str(o.get("name", "")), getattr(o, "line", 1)))
    return out


def compose_logging(path: str, text: str) -> Iterator[Evidence]:
    if posixpath.basename(path) == "daemon.json":
        data = safe_load.load_json(text)
        driver = str(data.get("log-driver", "json-file")) if isinstance(data, dict) else "json-file"
        line = _line_of(text, '"log-driver"')
        if driver in REMOTE_DRIVERS:
            yield Evidence(CENTRALIZED, Status.PASS, Subject(path=path, line=line), f"Docker log driver {driver}")
        return
    data = yaml_lines.load(text)
    services = data.get("services") if isinstance(data, dict) else None
    for name, svc in (services or {}).items():
        logging = svc.get("logging") if isinstance(svc, dict) else None
        driver = str(logging.get("driver", "")) if isinstance(logging, dict) else ""
        if driver in REMOTE_DRIVERS:
            subject = Subject(path=path, line=logging.key_line("driver"), name=str(name))
            yield Evidence(CENTRALIZED, Status.PASS, subject, f"service {name} logs through the {driver} driver")


LOGROTATE_STANZA = re.compile(r"(?ms)^([^\n{}#]+?)\s*\{(.*?)^\s*\}")


def logrotate(path: str, text: str) -> Iterator[Evidence]:
    stanzas = list(LOGROTATE_STANZA.finditer(text))
    globals_ = LOGROTATE_STANZA.sub("", text)
    for m in stanzas:
        line = text[: m.start()].count("\n") + 1
        body = m.group(2) + "\n" + globals_
        files = m.group(1).split()
        rotate = re.search(r"(?m)^\s*rotate\s+(\d+)", body)
        when = re.search(r"(?m)^\s*(hourly|daily|weekly|monthly|yearly|size\s+\S+|maxsize\s+\S+)", body)
        maxage = re.search(r"(?m)^\s*maxage\s+(\d+)", body)
        facts = {
            "files": files,
            "rotate": int(rotate.group(1)) if rotate else None,
            "trigger": when.group(1) if when else None,
        }
        subject = Subject(path=path, line=line, name=" ".join(files))
        if when:
            yield Evidence(
                ROTATION, Status.PASS, subject, f"logrotate rotates {' '.join(files)} {when.group(1)}", facts
            )
        else:
            yield Evidence(
                ROTATION, Status.FAIL, subject, f"logrotate stanza for {' '.join(files)} has no trigger", facts
            )
        if rotate or maxage:
            kept = f"{rotate.group(1)} rotations" if rotate else f"{maxage.group(1)} days"
            yield Evidence(RETENTION, Status.PASS, subject, f"logrotate keeps {kept} of {' '.join(files)}", facts)


def journald(path: str, text: str) -> Iterator[Evidence]:
    m = re.search(r"(?m)^\s*(MaxRetentionSec|SystemMaxUse|SystemMaxFiles)\s*=\s*(\S+)", text)
    if m:
        line = text[: m.start()].count("\n") + 1
        yield Evidence(RETENTION, Status.PASS, Subject(path=path, line=line), f"journald {m.group(1)}={m.group(2)}")


def storage_retention(path: str, text: str) -> Iterator[Evidence]:
    name = posixpath.basename(path)
    if name.endswith(".json"):
        data = json.loads(text)
        phases = ((data.get("policy") or data).get("phases") or {}) if isinstance(data, dict) else {}
        delete = phases.get("delete") if isinstance(phases, dict) else None
        subject = Subject(path=path, line=_line_of(text, '"delete"'))
        if isinstance(delete, dict):
            age = delete.get("min_age", "0ms")
            yield Evidence(RETENTION, Status.PASS, subject, f"Elasticsearch ILM deletes indices after {age}")
        elif phases:
            yield Evidence(RETENTION, Status.FAIL, Subject(path=path, line=1), "an ILM policy with no delete phase")
        return
    if name == "indexes.conf":
        m = re.search(r"(?m)^\s*frozenTimePeriodInSecs\s*=\s*(\d+)", text)
        if m:
            subject = Subject(path=path, line=text[: m.start()].count("\n") + 1)
            yield Evidence(
                RETENTION, Status.PASS, subject, f"Splunk freezes data after {int(m.group(1)) // 86400} days"
            )
        return
    data = yaml_lines.load(text)
    if not isinstance(data, dict):
        return
    limits = data.get("limits_config") or {}
    period = limits.get("retention_period") if isinstance(limits, dict) else None
    compactor = data.get("compactor") or {}
    enabled = isinstance(compactor, dict) and compactor.get("retention_enabled") is True
    table = data.get("table_manager") or {}
    if period and enabled:
        subject = Subject(path=path, line=limits.key_line("retention_period"))
        yield Evidence(RETENTION, Status.PASS, subject, f"Loki keeps logs {period} (compactor retention on)")
    elif period:
        subject = Subject(path=path, line=limits.key_line("retention_period"))
        message = (
            f"Loki retention_period {period} is set but compactor.retention_enabled is not true: nothing is deleted"
        )
        yield Evidence(RETENTION, Status.FAIL, subject, message)
    elif isinstance(table, dict) and table.get("retention_deletes_enabled") is True:
        subject = Subject(path=path, line=data.key_line("table_manager"))
        yield Evidence(RETENTION, Status.PASS, subject, f"Loki table manager retention {table.get('retention_period')}")
    elif "schema_config" in data or "ingester" in data:
        yield Evidence(
            RETENTION, Status.FAIL, Subject(path=path, line=1), "Loki without retention: logs are kept forever"
        )


JSON_FORMATTERS = re.compile(
    r"(pythonjsonlogger|jsonlogger|json_log_formatter|ecs_logging|structlog|JSONRenderer|LogstashEncoder|"
    r"JsonTemplateLayout|JsonLayout|EcsLayout|EcsEncoder|LoggingEventCompositeJsonEncoder|escape=json)",
)
FILE_HANDLERS = re.compile(r"\b(logging\.)?FileHandler\b|WatchedFileHandler")
ROTATING_HANDLERS = re.compile(r"RotatingFileHandler|TimedRotatingFileHandler")


def python_logging(path: str, text: str) -> Iterator[Evidence]:
    name = posixpath.basename(path)
    if name.endswith((".conf", ".ini")):
        parser = configparser.ConfigParser(interpolation=None)
        parser.read_string(text)
        handlers = {s: dict(parser[s]) for s in parser.sections() if s.startswith("handler_")}
        formatters = {s: dict(parser[s]) for s in parser.sections() if s.startswith("formatter_")}
        classes = [(s, h.get("class", "")) for s, h in handlers.items()]
        formats = [f.get("class", "") + " " + f.get("format", "") for f in formatters.values()]
    else:
        data = yaml_lines.load(text) if not name.endswith(".json") else json.loads(text)
        data = data if isinstance(data, dict) else {}
        handlers = data.get("handlers") or {}
        formatters = data.get("formatters") or {}
        classes = [(k, str((h or {}).get("class", ""))) for k, h in handlers.items() if isinstance(h, dict)]
        formats = [
            str((f or {}).get("()", "")) + " " + str((f or {}).get("class", ""))
            for f in formatters.values()
            if isinstance(f, dict)
        ]
    yield from _app_logging(path, text, classes, formats)


def _app_logging(path: str, text: str, handlers: list[tuple[str, str]], formats: list[str]) -> Iterator[Evidence]:
    if formats or handlers:
        json_format = next((f for f in formats if JSON_FORMATTERS.search(f)), None)
        if json_format:
            line = _line_of(text, JSON_FORMATTERS)
            yield Evidence(
                STRUCTURED,
                Status.PASS,
                Subject(path=path, line=line),
                f"JSON formatter {JSON_FORMATTERS.search(json_format).group(0)}",
            )
        elif formats:
            yield Evidence(
                STRUCTURED, Status.FAIL, Subject(path=path, line=1), "the logging formatters here are plain text"
            )
    for handler, cls in handlers:
        line = _line_of(text, handler)
        if ROTATING_HANDLERS.search(cls):
            yield Evidence(ROTATION, Status.PASS, Subject(path=path, line=line, name=handler), f"{handler} is a {cls}")
        elif FILE_HANDLERS.search(cls):
            yield Evidence(
                ROTATION,
                Status.FAIL,
                Subject(path=path, line=line, name=handler),
                f"{handler} writes a file that never rotates ({cls})",
            )


def java_logging(path: str, text: str) -> Iterator[Evidence]:
    root = ET.fromstring(text)
    appenders = [(e.get("name", "?"), e.get("class", "") or e.tag) for e in root.iter() if e.tag in ("appender",)]
    appenders += [
        (e.get("name", "?"), e.tag) for e in root.iter() if e.tag in ("File", "RollingFile", "RollingRandomAccessFile")
    ]
    encoders = [
        (e.get("class", "") or e.tag) for e in root.iter() if e.tag in ("encoder", "layout") or e.tag.endswith("Layout")
    ]
    for name, cls in appenders:
        line = _line_of(text, f'name="{name}"')
        subject = Subject(path=path, line=line, name=name)
        if "Rolling" in cls:
            yield Evidence(ROTATION, Status.PASS, subject, f"appender {name} rolls ({cls.rsplit('.', 1)[-1]})")
        elif cls.endswith("FileAppender") or cls == "File":
            yield Evidence(ROTATION, Status.FAIL, subject, f"appender {name} writes a file that never rolls")
    if encoders:
        json_encoder = next((e for e in encoders if JSON_FORMATTERS.search(e)), None)
        if json_encoder:
            line = _line_of(text, JSON_FORMATTERS)
            yield Evidence(
                STRUCTURED,
                Status.PASS,
                Subject(path=path, line=line),
                f"JSON encoder {json_encoder.rsplit('.', 1)[-1]}",
            )
        else:
            yield Evidence(
                STRUCTURED,
                Status.FAIL,
                Subject(path=path, line=1),
                "the encoders and layouts here are plain text patterns",
            )


def spring_logging(path: str, text: str) -> Iterator[Evidence]:
    m = re.search(
        r"(?m)^\s*(logging\.structured\.format\.(?:console|file)|format)\s*[:=]\s*(ecs|logstash|gelf)\b", text
    )
    if m:
        subject = Subject(path=path, line=text[: m.start()].count("\n") + 1)
        yield Evidence(STRUCTURED, Status.PASS, subject, f"Spring Boot structured logging ({m.group(2)})")
    m = re.search(r"(?m)^\s*(logging\.file\.(?:name|path)|name)\s*[:=]\s*(\S+\.log)\b", text)
    if m:  # Spring Boot's logback setup rolls a log file by default
        subject = Subject(path=path, line=text[: m.start()].count("\n") + 1)
        yield Evidence(
            ROTATION,
            Status.PASS,
            subject,
            f"Spring Boot logs to {m.group(2)}, rolled by its default policy (10 MB, 7 days)",
        )


def dependencies(path: str, text: str) -> Iterator[Evidence]:
    m = JSON_DEPENDENCIES.search(text)
    if m:
        subject = Subject(path=path, line=text[: m.start()].count("\n") + 1)
        message = f"depends on {m.group(1)}, a JSON logging library (its use is not traced into the code)"
        yield Evidence(STRUCTURED, Status.PASS, subject, message, {"library": m.group(1)})


class LoggingProbe(Probe):
    name = "logging"
    version = "0.1.0"
    kind = "static"
    description = "Log shipping, retention, rotation and JSON format from shipper, runtime and application configs."
    claims = CLAIMS
    checks = CHECKS
    existential_checks = frozenset({"logging.centralized", "logging.retention", "logging.structured"})

    def run(self, ctx: ProbeContext) -> Iterator[Observation]:
        found: list[Evidence] = []
        for art in ctx.artifacts:
            with ctx.guard(art):
                found += list(self._read(ctx, art))
        for e in found:
            yield ctx.observe(e.check.id, e.status, e.subject, e.message, facts=e.facts)
        seen = {e.check.id for e in found}
        for check, message, status in (
            (CENTRALIZED, "no log shipper or remote logging driver in the repository", Status.FAIL),
            (RETENTION, "no log store or rotation configuration that sets retention", Status.UNKNOWN),
            (
                ROTATION,
                "no log file written by configuration here (logs to stdout are rotated by the runtime)",
                Status.NOT_APPLICABLE,
            ),
            (STRUCTURED, "no logging configuration or JSON logging library found", Status.UNKNOWN),
        ):
            if check.id not in seen:
                yield ctx.observe(check.id, status, Subject(), message)

    @staticmethod
    def _read(ctx: ProbeContext, art: Artifact) -> Iterator[Evidence]:
        path, name = art.path, posixpath.basename(art.path)
        text = ctx.read_text(art)
        try:
            if name in ("daemon.json",) or name.startswith(("docker-compose", "compose")):
                yield from compose_logging(path, text)
            elif "logrotate" in path:
                yield from logrotate(path, text)
            elif "journald" in path:
                yield from journald(path, text)
            elif name.startswith(("loki", "indexes")) or "/loki/" in f"/{path}" or "ilm" in path:
                yield from storage_retention(path, text)
            elif name.startswith(("logging.", "log_config")):
                yield from python_logging(path, text)
            elif name.endswith(".xml") and name.startswith(("logback", "log4j2")):
                yield from java_logging(path, text)
            elif name.startswith("application"):
                yield from spring_logging(path, text)
            elif name in ("requirements.txt", "pyproject.toml", "package.json", "go.mod", "pom.xml") or name.startswith(
                ("requirements", "build.gradle")
            ):
                yield from dependencies(path, text)
            else:
                yield from shipper(path, text)
        except (yaml.YAMLError, json.JSONDecodeError, ET.ParseError, configparser.Error, ValueError) as exc:
            line = getattr(exc, "lineno", None) or getattr(exc, "position", (None,))[0]
            if isinstance(exc, yaml.YAMLError):
                line = yaml_lines.error_line(exc)
            reason = f"{name} does not parse: {str(exc).splitlines()[0][:200]}"
            ctx.emitted.extend(ctx.errors(Subject(path=path, line=line), reason, art.production))
