"""Backups as the repository schedules them, where they go, and whether restores are drilled.

A *job* is something that runs on a schedule: a Kubernetes ``CronJob``, a
crontab line, a systemd timer and the service it starts, a scheduled CI
workflow, an Ansible ``cron`` task, a Velero ``Schedule``, or a Compose service
of a known backup image with a schedule in its environment. Each job's
commands are classified by the tools they run (``pg_dump``, ``restic backup``,
``pg_restore`` ...) and by where they write (``s3://``, ``restic -r b2:``,
``rclone ... remote:``). A restore drill can also be recorded as a file under
``drills/`` (front matter or YAML with ``date``, ``kind``, ``result``): the
newest record decides, and it must be younger than the configured age.
"""

from __future__ import annotations

import datetime as dt
import posixpath
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from readiness import safe_load
from readiness.model import Check, Observation, Status, Strength, Subject
from readiness.probe import Claim, Probe, ProbeContext

from . import schedules
from .schedules import Job, words

DB_AUTOMATED = Check(
    "backup.db_automated",
    "Database backups run automatically on a schedule",
    "Backups that depend on someone remembering are the ones missing on the day they are needed.",
    "Schedule a dump or physical backup (pg_dump, pgBackRest, WAL-G, mysqldump, mongodump) as a CronJob, "
    "systemd timer or cron entry kept in the repository.",
)
CONFIG_AUTOMATED = Check(
    "backup.config_automated",
    "Configuration and application data backups run automatically",
    "Volumes, uploaded files and cluster state are lost as surely as databases.",
    "Schedule restic/borg/Velero/etcd snapshots (or a backup image) for volumes and configuration.",
)
OFFSITE = Check(
    "backup.offsite",
    "Backups are copied off the host to another site or region",
    "A backup on the machine it protects dies with that machine.",
    "Write backups to object storage or another site (restic/borg remote repository, s3://, rclone remote).",
)
RESTORE_TESTED = Check(
    "backup.restore_tested",
    "A restore drill record newer than the configured number of days exists",
    "An untested backup is a hope; restores fail on missing roles, keys, extensions and disk space.",
    "Schedule an automated restore test, or record each restore drill under drills/ with date, kind: restore "
    "and result.",
)
DR_TESTED = Check(
    "backup.dr_tested",
    "A disaster-recovery drill record newer than the configured number of days shows recovery within the RTO/RPO "
    "targets",
    "Recovery procedures rot; only a drill shows the RTO and RPO can be met.",
    "Record each DR drill under drills/ with date, kind: dr, result, and the achieved rto/rpo beside the targets.",
)
CHECKS = (DB_AUTOMATED, CONFIG_AUTOMATED, OFFSITE, RESTORE_TESTED, DR_TESTED)

DEFAULT_RESTORE_MAX_AGE_DAYS = 92  # "quarterly" in the DevOps checklist; set 31 for "monthly"
DEFAULT_DR_MAX_AGE_DAYS = 365

DB_TOOLS = re.compile(
    r"\b(pg_dump|pg_dumpall|pg_basebackup|pgbackrest\b[^\n]*\bbackup|barman\s+backup|wal-g\s+backup-push"
    r"|mysqldump|mariadb-dump|mariabackup|xtrabackup|mongodump|redis-cli\b[^\n]*--rdb|sqlite3\b[^\n]*\.backup"
    r"|aws\s+rds\s+create-db-(?:cluster-)?snapshot|gcloud\s+sql\s+backups\s+create)\b"
)
CONFIG_TOOLS = re.compile(  # dedicated backup tools; copies (aws s3 cp, rclone) say only where a backup goes
    r"\b(restic\b[^\n]*\bbackup|borg\s+create|velero\s+backup\s+create|etcdctl\b[^\n]*snapshot\s+save"
    r"|duplicity|kopia\s+snapshot\s+create|tar\s+-?[a-z]*c[a-z]*\s+\S+\.tar(?:\.\w+)?)"
)
RESTORE_TOOLS = re.compile(
    r"\b(pg_restore|restic\b[^\n]*\brestore|borg\s+extract|velero\s+restore\s+create|wal-g\s+backup-fetch"
    r"|pgbackrest\b[^\n]*\brestore|mongorestore|mysql\b[^\n]*<\s*\S*(?:dump|backup)|psql\b[^\n]*<\s*\S*(?:dump|backup)"
    r"|gcloud\s+sql\s+backups\s+restore|aws\s+rds\s+restore-db)"
)
OFFSITE_TARGETS = re.compile(
    r"(s3://|gs://|az://|https://[\w.-]+\.blob\.core\.windows\.net|\b(?:s3|b2|azure|gs|swift|rest|sftp|rclone):"
    r"|ssh://|\bremote:|\baws\s+s3\s+(?:cp|sync)|\bgsutil\b|\baz\s+storage\b|\brclone\s+(?:copy|sync)\s+\S+\s+[\w-]+:"
    r"|\b[\w.-]+@[\w.-]+:[\w./~-]+)"
)
BACKUP_IMAGES = {  # images whose whole job is scheduled backups, and what they back up
    "prodrigestivill/postgres-backup-local": "db",
    "kartoza/pg-backup": "db",
    "tiredofit/db-backup": "db",
    "databack/mysql-backup": "db",
    "fradelg/mysql-cron-backup": "db",
    "offen/docker-volume-backup": "config",
    "mazzolino/restic": "config",
    "lobaro/restic-backup-docker": "config",
}
SCHEDULE_ENV = ("SCHEDULE", "BACKUP_CRON_EXPRESSION", "CRON_TIME", "BACKUP_CRON", "CRON_SCHEDULE", "DB_DUMP_FREQ")
OFFSITE_ENV = re.compile(r"^(S3_|AWS_S3_|B2_|AZURE_|GCS_|RESTIC_REPOSITORY|WALG_(S3|GS|AZ)_PREFIX|BACKUP_REMOTE)")

CLAIMS = (
    *schedules.CLAIMS,
    Claim(("*.yaml", "*.yml"), sniff=re.compile(rb"apiVersion:\s*velero\.io/")),
    Claim(("docker-compose*.yml", "docker-compose*.yaml", "compose*.yml", "compose*.yaml")),
    Claim(("pgbackrest.conf", "**/pgbackrest/*.conf", ".walg.json", "barman.conf", "**/barman.d/*.conf")),
    Claim(("**/drills/**/*.md", "**/drills/**/*.yaml", "**/drills/**/*.yml", "**/drills/**/*.json")),
)


@dataclass
class Drill:
    kind: str  # restore | dr
    date: dt.date
    result: str
    subject: Subject
    facts: dict[str, Any]


def velero_jobs(path: str, docs: list[Any]) -> Iterator[Job]:
    """Velero schedules back up cluster resources and volumes; its storage locations say where they go."""
    for doc in docs:
        if not isinstance(doc, dict) or not str(doc.get("apiVersion", "")).startswith("velero.io"):
            continue
        kind, meta, spec = doc.get("kind"), doc.get("metadata") or {}, doc.get("spec") or {}
        name = str(meta.get("name", "?")) if isinstance(meta, dict) else "?"
        subject = Subject(path=path, line=getattr(doc, "line", None), name=f"{kind}/{name}")
        if kind == "Schedule" and isinstance(spec, dict):
            template = spec.get("template") or {}
            text = f"velero backup create {words(template)}"
            yield Job("velero", name, str(spec.get("schedule", "")), text, subject)
        elif kind == "BackupStorageLocation" and isinstance(spec, dict):
            provider = str(spec.get("provider", ""))
            bucket = words((spec.get("objectStorage") or {}).get("bucket"))
            yield Job(
                "velero-location", name, "", f"velero storage {provider}: s3://{bucket}" if provider else "", subject
            )


def jobs_from_compose(path: str, doc: Any) -> Iterator[Job]:
    services = doc.get("services") if isinstance(doc, dict) else None
    for name, svc in (services or {}).items():
        if not isinstance(svc, dict):
            continue
        image = str(svc.get("image", ""))
        repo = image.split("@")[0].rsplit(":", 1)[0] if image else ""
        what = BACKUP_IMAGES.get(repo)
        if not what:
            continue
        env = svc.get("environment") or {}
        if isinstance(env, list):
            env = dict(str(e).split("=", 1) if "=" in str(e) else (str(e), "") for e in env)
        schedule = next((str(env[k]) for k in SCHEDULE_ENV if k in env), "the image's default schedule")
        offsite = sorted(k for k in env if OFFSITE_ENV.match(str(k)))
        tool = "pg_dump" if what == "db" else "restic backup"
        text = f"{tool} (image {repo})" + (" s3://" if offsite else "")
        line = services.key_line(name) if hasattr(services, "key_line") else None
        facts = {"image": image, "offsite_settings": offsite}
        yield Job("compose-image", name, schedule, text, Subject(path=path, line=line, name=name), facts)


def jobs_from_tool_config(path: str, text: str) -> Iterator[Job]:
    """pgBackRest/WAL-G/Barman settings: not a schedule, but they say where backups go."""
    remote = re.search(r"(?m)^\s*repo\d*-type\s*=\s*(s3|gcs|azure|sftp)\b|WALG_(S3|GS|AZ)_PREFIX|s3://|gs://", text)
    if remote:
        line = text[: remote.start()].count("\n") + 1
        yield Job(
            "tool-config", posixpath.basename(path), "", f"remote: {remote.group(0)}", Subject(path=path, line=line)
        )


FRONT_MATTER = re.compile(r"\A---\s*\n(.*?)\n---\s*\n", re.S)


def read_drill(path: str, text: str) -> Drill | None:
    if path.endswith((".yaml", ".yml")):
        data = safe_load.load_yaml(text)
    elif path.endswith(".json"):
        data = safe_load.load_json(text)
    else:
        m = FRONT_MATTER.match(text)
        data = safe_load.load_yaml(m.group(1)) if m else None
    if not isinstance(data, dict) or "date" not in data:
        return None
    date = data["date"]
    if isinstance(date, dt.datetime):
        date = date.date()
    if isinstance(date, str):
        date = dt.date.fromisoformat(date[:10])
    if not isinstance(date, dt.date):
        return None
    kind = str(data.get("kind", "restore")).lower()
    facts = {k: data[k] for k in ("rto", "rpo", "rto_target", "rpo_target", "by", "scope") if k in data}
    return Drill(kind, date, str(data.get("result", "")).lower(), Subject(path=path, line=1), facts)


class BackupProbe(Probe):
    name = "backup"
    version = "0.1.0"
    kind = "static"
    description = "Scheduled database and data backups, off-site destinations, restore and DR drill records."
    claims = CLAIMS
    checks = CHECKS
    existential_checks = frozenset(
        {
            "backup.db_automated",
            "backup.config_automated",
            "backup.offsite",
            "backup.restore_tested",
            "backup.dr_tested",
        }
    )
    settings_schema = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "restore_max_age_days": {"type": "integer", "minimum": 1},
            "dr_max_age_days": {"type": "integer", "minimum": 1},
        },
    }

    def run(self, ctx: ProbeContext) -> Iterator[Observation]:
        settings = ctx.settings or {}
        today = ctx.now.date()
        drill_files = [a for a in ctx.artifacts if "/drills/" in f"/{a.path}"]
        tool_configs = [a for a in ctx.artifacts if a.path.endswith((".conf", ".json")) and a not in drill_files]
        rest = [a for a in ctx.artifacts if a not in drill_files and a not in tool_configs]
        jobs, documents = schedules.read(ctx, rest)
        for path, docs in documents.items():
            name = posixpath.basename(path)
            jobs += (
                [j for d in docs for j in jobs_from_compose(path, d)]
                if name.startswith(("docker-compose", "compose"))
                else []
            )
            jobs += velero_jobs(path, docs)
        for art in tool_configs:
            with ctx.guard(art):
                jobs += jobs_from_tool_config(art.path, ctx.read_text(art))
        drills: list[Drill] = []
        for art in drill_files:
            with ctx.guard(art):
                drill = read_drill(art.path, ctx.read_text(art))
                if drill is None:
                    ctx.gap(Subject(path=art.path), "a drill record without a readable `date`")
                else:
                    drills.append(drill)
        yield from self._judge_backups(ctx, jobs)
        restore_age = int(settings.get("restore_max_age_days", DEFAULT_RESTORE_MAX_AGE_DAYS))
        dr_age = int(settings.get("dr_max_age_days", DEFAULT_DR_MAX_AGE_DAYS))
        yield self._judge_restores(ctx, jobs, [d for d in drills if d.kind != "dr"], restore_age, today)
        yield self._judge_dr(ctx, [d for d in drills if d.kind == "dr"], dr_age, today)

    def _judge_backups(self, ctx: ProbeContext, jobs: list[Job]) -> Iterator[Observation]:
        scheduled = [j for j in jobs if j.schedule and not j.facts.get("suspended")]
        suspended = [j for j in jobs if j.facts.get("suspended")]
        db = [j for j in scheduled if j.does(DB_TOOLS)]
        data = [j for j in scheduled if j.does(CONFIG_TOOLS) or j.kind == "velero"]
        looked = "Kubernetes CronJobs, crontabs, systemd timers, scheduled CI workflows, Ansible cron tasks, "
        looked += "Velero schedules, backup images in Compose"
        for check, found, what in ((DB_AUTOMATED, db, "database"), (CONFIG_AUTOMATED, data, "data or configuration")):
            for job in found:
                tools = job.does(DB_TOOLS if check is DB_AUTOMATED else CONFIG_TOOLS) or [job.kind]
                message = f"{job.kind} {job.name!r} runs {', '.join(tools)} on schedule {job.schedule}"
                facts = {**job.facts, "tools": tools}
                yield ctx.observe(check.id, Status.PASS, job.subject, message, facts=facts, production=_process(job))
            if not found:
                note = f" ({len(suspended)} suspended CronJob(s) not counted)" if suspended else ""
                databases = self._databases(ctx) if check is DB_AUTOMATED else []
                if check is DB_AUTOMATED and not databases:
                    message = f"no scheduled {what} backup, and no database service in the deployment files"
                    yield ctx.observe(check.id, Status.UNKNOWN, Subject(), message + note, facts={"looked_in": looked})
                    continue
                served = f" for {', '.join(databases)}" if databases else ""
                message = f"no scheduled {what} backup{served} (looked in {looked}){note}"
                yield ctx.observe(check.id, Status.FAIL, Subject(), message, facts={"looked_in": looked})
        remote = [
            j for j in jobs if j.does(OFFSITE_TARGETS) and (j.schedule or j.kind in ("tool-config", "velero-location"))
        ]
        for job in remote:
            where = job.does(OFFSITE_TARGETS)
            message = (
                f"{job.kind} {job.name!r} writes off the host ({', '.join(where)}); the region is not visible here"
            )
            facts = {"destinations": where}
            yield ctx.observe(OFFSITE.id, Status.PASS, job.subject, message, facts=facts, production=_process(job))
        if not remote:
            backups = db + data
            databases = self._databases(ctx)
            if backups:
                status, message = Status.FAIL, f"the scheduled backups ({', '.join(j.name for j in backups[:3])}) "
                message += "write only locally"
            elif databases:
                # No backup at all is no off-host backup either (netbox-docker, plausible).
                status = Status.FAIL
                message = f"no backup of {', '.join(databases[:3])} at all, so none kept off the host"
            else:
                status, message = Status.UNKNOWN, "no backup job found, so no destination to judge"
            yield ctx.observe(OFFSITE.id, status, backups[0].subject if backups else Subject(), message)

    @staticmethod
    def _databases(ctx: ProbeContext) -> list[str]:
        engines = ("postgres", "mysql", "mariadb", "mongo", "redis", "timescale", "cockroach")
        return sorted(
            s.name
            for s in ctx.inventory.services
            if s.production and s.image and any(e in s.image.split("/")[-1] for e in engines)
        )

    @staticmethod
    def _judge_restores(
        ctx: ProbeContext, jobs: list[Job], drills: list[Drill], max_age: int, today: dt.date
    ) -> Observation:
        automated = [j for j in jobs if j.schedule and j.does(RESTORE_TOOLS) and not j.facts.get("suspended")]
        if automated:
            job = automated[0]
            message = (
                f"{job.kind} {job.name!r} restores on schedule {job.schedule} ({', '.join(job.does(RESTORE_TOOLS))})"
            )
            return ctx.observe(RESTORE_TESTED.id, Status.PASS, job.subject, message, production=_process(job))
        return _judge_drills(ctx, RESTORE_TESTED, drills, max_age, today, "restore")

    @staticmethod
    def _judge_dr(ctx: ProbeContext, drills: list[Drill], max_age: int, today: dt.date) -> Observation:
        observation = _judge_drills(ctx, DR_TESTED, drills, max_age, today, "disaster-recovery")
        if observation.status is not Status.PASS:
            return observation
        drill = max(drills, key=lambda d: d.date)
        missing = [k for k in ("rto", "rpo") if k not in drill.facts]
        if missing:
            message = f"{observation.message}, but it does not record the achieved {' and '.join(missing).upper()}"
            return ctx.observe(DR_TESTED.id, Status.FAIL, drill.subject, message, facts=drill.facts, production=True)
        return observation


def _process(job: Job) -> bool | None:
    """A scheduled CI workflow acts on production whatever its file is called (restore-test.yml)."""
    return True if job.kind == "ci-schedule" else None


def _judge_drills(
    ctx: ProbeContext, check: Check, drills: list[Drill], max_age: int, today: dt.date, what: str
) -> Observation:
    if not drills:
        message = f"no scheduled restore test and no {what} drill record (drills/*.md front matter or YAML with date)"
        return ctx.observe(check.id, Status.FAIL, Subject(), message, facts={"max_age_days": max_age})
    drill = max(drills, key=lambda d: d.date)
    age = (today - drill.date).days
    facts = {
        **drill.facts,
        "date": drill.date.isoformat(),
        "age_days": age,
        "max_age_days": max_age,
        "result": drill.result,
    }
    if drill.result not in ("pass", "passed", "success", "succeeded", "ok"):
        message = f"the latest {what} drill ({drill.date}) records result {drill.result or 'none'!r}, not a success"
        return ctx.observe(check.id, Status.FAIL, drill.subject, message, facts=facts, production=True)
    if age > max_age:
        message = f"the latest {what} drill is {age} days old ({drill.date}); the limit is {max_age} days"
        return ctx.observe(check.id, Status.FAIL, drill.subject, message, facts=facts, production=True)
    message = f"{what} drill on {drill.date} ({age} days ago) succeeded"
    return ctx.observe(
        check.id, Status.PASS, drill.subject, message, strength=Strength.TESTED, facts=facts, production=True
    )
