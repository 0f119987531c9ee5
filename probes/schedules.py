"""Scheduled jobs a repository declares, for the probes that judge what runs on a schedule (backup, deploy).

A *job* is something that runs on a schedule: a Kubernetes ``CronJob``, a
crontab line, a systemd timer and the service it starts, a scheduled CI
workflow, an Ansible ``cron`` task. Each keeps the text of what it runs, so a
probe can classify it by the tools it calls. This module is a helper of
those probes, not a probe itself.
"""

from __future__ import annotations

import configparser
import posixpath
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml

from readiness import yaml_lines
from readiness.model import Artifact, Subject
from readiness.probe import Claim, ProbeContext

CLAIMS = (
    Claim(("*.yaml", "*.yml"), sniff=re.compile(rb"kind:\s*[\"']?CronJob\b")),
    Claim(("crontab", "*.crontab", "*.cron", "**/cron.d/*", "**/crontabs/*", "**/cron.daily/*", "**/cron.weekly/*")),
    Claim(("*.timer", "*.service")),
    Claim((".github/workflows/*.yml", ".github/workflows/*.yaml")),
    Claim(("*.yml", "*.yaml"), sniff=re.compile(rb"(?m)^\s*-?\s*(ansible\.builtin\.)?cron:")),
)


@dataclass
class Job:
    """Something that runs on a schedule, and the text of what it runs."""

    kind: str  # cronjob | crontab | systemd | ci-schedule | ansible-cron | velero | compose-image | tool-config
    name: str
    schedule: str
    commands: str
    subject: Subject
    facts: dict[str, Any] = field(default_factory=dict)

    def does(self, pattern: re.Pattern[str]) -> list[str]:
        return sorted({m.group(0).split()[0] for m in pattern.finditer(self.commands)})


def words(value: Any) -> str:
    if isinstance(value, list):
        return " ".join(words(v) for v in value)
    if isinstance(value, dict):
        return " ".join(words(v) for v in value.values())
    return "" if value is None else str(value)


def cronjobs(path: str, docs: list[Any]) -> Iterator[Job]:
    for doc in docs:
        if not isinstance(doc, dict) or doc.get("kind") != "CronJob":
            continue
        meta, spec = doc.get("metadata") or {}, doc.get("spec") or {}
        name = str(meta.get("name", "?")) if isinstance(meta, dict) else "?"
        if not isinstance(spec, dict):
            continue
        pod = (((spec.get("jobTemplate") or {}).get("spec") or {}).get("template") or {}).get("spec") or {}
        containers = [c for key in ("initContainers", "containers") for c in pod.get(key) or [] if isinstance(c, dict)]
        text = " ".join(words([c.get("command"), c.get("args"), c.get("env"), c.get("image")]) for c in containers)
        subject = Subject(path=path, line=getattr(doc, "line", None), name=f"CronJob/{name}")
        yield Job(
            "cronjob", name, str(spec.get("schedule", "")), text, subject, {"suspended": spec.get("suspend") is True}
        )


CRON_LINE = re.compile(r"^\s*(@\w+|(?:\S+\s+){4}\S+)\s+(.+)$")


def jobs_from_crontab(path: str, text: str) -> Iterator[Job]:
    system = "/cron.d/" in f"/{path}" or posixpath.basename(path) == "crontab"
    for no, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#") or re.match(r"^[A-Z_]+\s*=", stripped):
            continue
        m = CRON_LINE.match(stripped)
        if not m:
            continue
        command = m.group(2)
        if system and not m.group(1).startswith("@"):
            command = command.split(None, 1)[1] if " " in command else command  # the user field
        yield Job("crontab", command[:60], m.group(1), command, Subject(path=path, line=no))
    if "/cron.daily/" in f"/{path}" or "/cron.weekly/" in f"/{path}":
        yield Job(
            "crontab",
            posixpath.basename(path),
            posixpath.basename(posixpath.dirname(path)),
            text,
            Subject(path=path, line=1),
        )


def _unit(text: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None, allow_no_value=True)
    parser.optionxform = str  # systemd keys are case-sensitive
    parser.read_string(text)
    return parser


def jobs_from_timer(path: str, text: str, services: dict[str, str]) -> Iterator[Job]:
    timer = _unit(text)
    if not timer.has_section("Timer"):
        return
    section = timer["Timer"]
    schedule = section.get("OnCalendar") or section.get("OnUnitActiveSec") or section.get("OnBootSec") or ""
    unit = section.get("Unit") or posixpath.basename(path).rsplit(".", 1)[0] + ".service"
    service_text = services.get(unit)
    commands = ""
    if service_text is not None:
        service = _unit(service_text)
        if service.has_section("Service"):
            commands = " ".join(v for k, v in service["Service"].items() if k.startswith("Exec") and v)
    line = next((i for i, s in enumerate(text.splitlines(), 1) if s.strip().startswith("OnCalendar")), 1)
    facts = {"unit": unit, "unit_in_repository": service_text is not None}
    yield Job("systemd", unit, schedule, commands, Subject(path=path, line=line, name=unit), facts)


def jobs_from_workflow(path: str, doc: Any) -> Iterator[Job]:
    if not isinstance(doc, dict):
        return
    on = doc.get("on", doc.get(True))  # YAML 1.1 reads a bare `on:` key as True
    schedules = on.get("schedule") if isinstance(on, dict) else None
    if not schedules:
        return
    crons = ", ".join(str(s.get("cron")) for s in schedules if isinstance(s, dict))
    for job_id, job in (doc.get("jobs") or {}).items():
        if not isinstance(job, dict):
            continue
        steps = [s for s in job.get("steps") or [] if isinstance(s, dict)]
        text = " ".join(words([s.get("run"), s.get("uses"), s.get("with")]) for s in steps)
        line = doc["jobs"].key_line(job_id) if hasattr(doc["jobs"], "key_line") else None
        yield Job("ci-schedule", str(job_id), crons, text, Subject(path=path, line=line, name=f"job {job_id}"))


def jobs_from_ansible(path: str, docs: list[Any]) -> Iterator[Job]:
    def tasks(node: Any) -> Iterator[dict]:
        if isinstance(node, list):
            for n in node:
                yield from tasks(n)
        elif isinstance(node, dict):
            yield node
            for key in ("tasks", "pre_tasks", "post_tasks", "handlers", "block", "rescue", "always"):
                yield from tasks(node.get(key))

    for doc in docs:
        for task in tasks(doc):
            cron = task.get("cron", task.get("ansible.builtin.cron"))
            if not isinstance(cron, dict) or cron.get("state") == "absent":
                continue
            schedule = cron.get("special_time") or " ".join(
                str(cron.get(k, "*")) for k in ("minute", "hour", "day", "month", "weekday")
            )
            name = str(task.get("name") or cron.get("name") or "cron task")
            yield Job(
                "ansible-cron",
                name,
                str(schedule),
                str(cron.get("job", "")),
                Subject(path=path, line=getattr(task, "line", None), name=name),
            )


def read(ctx: ProbeContext, artifacts: list[Artifact]) -> tuple[list[Job], dict[str, list[Any]]]:
    """The jobs of the claimed files, and each YAML file's documents (for probes that read more from them).

    A file that does not parse gives ``error`` observations through ``ctx``; the others are still read.
    """
    services: dict[str, str] = {}
    for art in artifacts:
        if art.path.endswith(".service"):
            with ctx.guard(art):
                services[posixpath.basename(art.path)] = ctx.read_text(art)
    jobs: list[Job] = []
    documents: dict[str, list[Any]] = {}
    for art in artifacts:
        path, name = art.path, posixpath.basename(art.path)
        if name.endswith(".service"):
            continue
        with ctx.guard(art):
            text = ctx.read_text(art)
            if name.endswith(".timer"):
                jobs += jobs_from_timer(path, text, services)
            elif not name.endswith((".yml", ".yaml", ".json", ".conf", ".md")):
                jobs += jobs_from_crontab(path, text)
            elif name.endswith((".yml", ".yaml")):
                try:
                    docs = yaml_lines.load_all(text)
                except yaml.YAMLError as exc:
                    subject = Subject(path=path, line=yaml_lines.error_line(exc))
                    ctx.emitted.extend(ctx.errors(subject, f"YAML does not parse: {str(exc)[:200]}", art.production))
                    continue
                documents[path] = docs
                if path.startswith(".github/workflows/"):
                    jobs += [j for d in docs for j in jobs_from_workflow(path, d)]
                else:
                    jobs += cronjobs(path, docs)
                    jobs += jobs_from_ansible(path, docs)
    jobs += compose_jobs(ctx)
    return jobs, documents


OFELIA = re.compile(r"^ofelia\.job-(?:exec|run|local|service-run)\.([\w.-]+)\.(schedule|command)$")
CRON_EXPR = re.compile(
    r"(?:^|[\s'\"])((?:@(?:hourly|daily|weekly|monthly|yearly|every\s+\S+))|(?:[\d*/,-]+\s+){4}[\d*/,-]+)"
)
SLEEP_LOOP = re.compile(r"\b(?:while|for|until)\b[\s\S]{0,400}?\bsleep\s+[\"']?([\w$.{}:-]+)", re.I)
REPEAT = re.compile(r"--repeat[\s=]+(\S+)")
CRON_DAEMON = re.compile(r"\b(cron|crond|supercronic|busybox\s+crond|go-crond)\b")
SCRIPT_NAME = re.compile(r"[\w./-]+\.(?:sh|bash|py)\b")


def _labels(value: Any) -> dict[str, str]:
    if isinstance(value, dict):
        return {str(k): words(v) for k, v in value.items()}
    if isinstance(value, list):
        return dict(str(x).split("=", 1) if "=" in str(x) else (str(x), "") for x in value)
    return {}


def _scripts_named(text: str, by_name: dict[str, Artifact], ctx: ProbeContext) -> str:
    """The repository scripts a container command names by their in-image path, matched by file name."""
    out = []
    for m in SCRIPT_NAME.finditer(text):
        art = by_name.get(posixpath.basename(m.group(0)))
        if art is not None and art.skipped is None and art.size <= 256 * 1024:
            try:
                out.append(ctx.read_text(art))
            except Exception:  # an unreadable script adds nothing; its own probes report it
                continue
    return "\n".join(out)


def compose_jobs(ctx: ProbeContext) -> Iterator[Job]:
    """Jobs that production compose stacks schedule themselves: ofelia labels, a cron daemon service, a service
    that loops with sleep, a ``--repeat`` interval."""
    names: dict[str, list[Artifact]] = {}
    for a in ctx.all_artifacts:
        names.setdefault(posixpath.basename(a.path), []).append(a)
    by_name = {n: arts[0] for n, arts in names.items() if len(arts) == 1}
    for deployment, view in ctx.compose_services():
        if not deployment.production:
            continue
        labels = _labels(view.get("labels"))
        ofelia: dict[str, dict[str, str]] = {}
        for key, value in labels.items():
            if m := OFELIA.match(key):
                ofelia.setdefault(m.group(1), {})[m.group(2)] = value
        for name, spec in sorted(ofelia.items()):
            if spec.get("schedule"):
                yield Job("ofelia", name, spec["schedule"], spec.get("command", ""), view.where("labels"))
        command = f"{words(view.get('entrypoint'))} {words(view.get('command'))}".strip()
        if not command:
            continue
        text = command + "\n" + _scripts_named(command, by_name, ctx)
        where = view.where("command") if view.get("command") else view.where("entrypoint")
        if m := SLEEP_LOOP.search(text):
            yield Job("loop", view.name, f"every {m.group(1)} (a loop with sleep)", text, where)
        elif m := REPEAT.search(text):
            yield Job("loop", view.name, f"every {m.group(1)} (--repeat)", text, where)
        elif CRON_DAEMON.search(text) and (expr := CRON_EXPR.search(text)):
            yield Job("cron-service", view.name, expr.group(1).strip(), text, where)
