"""How deployments switch, roll back, and clean up after themselves, as the repository declares it.

- blue-green: Argo Rollouts ``blueGreen`` strategies, Flagger blue/green
  canaries, Kubernetes Services switching between blue and green Deployments,
  nginx upstreams named blue/green, Compose ``-blue``/``-green`` services, AWS
  CodeDeploy blue/green groups and ECS services under CodeDeploy in Terraform;
- rollback: rollback scripts, Make targets and package scripts, Argo Rollouts,
  and documented procedures (a Markdown heading that says rollback);
- cleanup: scheduled jobs (see :mod:`schedules`) that prune images,
  containers and old logs, ECR lifecycle policies; on Kubernetes the kubelet
  collects images and rotates container logs itself.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator
from typing import Any

from readiness import safe_load
from readiness.model import Check, Observation, Status, Subject
from readiness.probe import Claim, Probe, ProbeContext

from . import schedules

BLUE_GREEN = Check(
    "deploy.blue_green",
    "Deployment configuration supports blue-green switching",
    "Two full environments with a switch make a release instant to undo and let it be verified before traffic.",
    "Use Argo Rollouts' blueGreen strategy, Flagger, CodeDeploy blue/green, or two upstreams behind a switch.",
)
ROLLBACK_PROCEDURE = Check(
    "deploy.rollback_procedure",
    "A rollback procedure or script exists for deployments",
    "Under pressure, a rehearsed command beats improvisation; a rollback nobody wrote down takes longest.",
    "Add a rollback script or Make target (helm rollback, kubectl rollout undo, redeploy the previous tag), or "
    "a documented procedure with the exact steps.",
)
CLEANUP_AUTOMATED = Check(
    "deploy.cleanup_automated",
    "Cleanup of old images, containers and logs is automated (cron, timer)",
    "Old images and logs fill disks until a deploy or the service itself fails.",
    "Schedule `docker system prune` (or image/container prune) and log cleanup on every host, or set registry "
    "lifecycle policies.",
)
CHECKS = (BLUE_GREEN, ROLLBACK_PROCEDURE, CLEANUP_AUTOMATED)

ROLLBACK_NAMES = re.compile(r"(^|/)(rollback|roll-back|roll_back|revert-deploy|undeploy)[\w.-]*$", re.I)
ROLLBACK_COMMANDS = re.compile(
    r"\b(helm\s+rollback|kubectl\s+(?:-n\s+\S+\s+)?rollout\s+undo|kubectl\s+argo\s+rollouts\s+(?:undo|abort)"
    r"|argocd\s+app\s+rollback|aws\s+deploy\s+stop-deployment|ecs\s+update-service\b[^\n]*task-definition)"
)
CLEANUP_COMMANDS = re.compile(
    r"\b(docker\s+(?:system|image|container|builder|volume)\s+prune|crictl\s+rmi\s+--prune|podman\s+(?:system|image)\s+prune"
    r"|journalctl\s+--vacuum-(?:time|size)|find\s+\S*log\S*\b[^\n]*(?:-delete|-exec\s+rm)|logrotate\b)"
)
# An application's own retention job: old events, sessions, uploads deleted on schedule.
APP_CLEANUP = re.compile(r"\b(cleanup|clean-up|housekeeping|prune|purge|vacuum|gc|expire|retention)\b", re.I)
MAKE_TARGET = re.compile(r"(?m)^(rollback|roll-back|undo-deploy)[\w-]*\s*:")

CLAIMS = (
    *schedules.CLAIMS,
    Claim(("*.yaml", "*.yml"), sniff=re.compile(rb"kind:\s*[\"']?(Rollout|Canary|Service)\b")),
    Claim(("docker-compose*.yml", "docker-compose*.yaml", "compose*.yml", "compose*.yaml")),
    Claim(("*.tf",), sniff=re.compile(rb"aws_codedeploy_deployment_group|aws_ecs_service|aws_ecr_lifecycle_policy")),
    Claim(("**/nginx*.conf", "**/nginx/**/*.conf", "**/conf.d/*.conf", "**/sites-enabled/*", "upstream*.conf")),
    Claim(("Makefile", "package.json", "justfile", "Taskfile.yml")),
    Claim(("**/rollback*", "**/roll-back*", "**/roll_back*", "**/scripts/*.sh", "**/bin/*.sh", "**/deploy/*.sh")),
    Claim(("*.md",), sniff=re.compile(rb"(?im)^#+.*\b(roll\s?-?back|rolling back)\b")),
)


def _line(text: str, pattern: re.Pattern[str]) -> int:
    m = pattern.search(text)
    return text[: m.start()].count("\n") + 1 if m else 1


class DeployProbe(Probe):
    name = "deploy"
    version = "0.1.0"
    kind = "static"
    description = "Blue-green switching, rollback procedures and scripts, automated cleanup of images and logs."
    claims = CLAIMS
    checks = CHECKS
    existential_checks = frozenset({"deploy.blue_green", "deploy.rollback_procedure", "deploy.cleanup_automated"})

    def run(self, ctx: ProbeContext) -> Iterator[Observation]:
        schedule_paths = {a.path for a in ctx.artifacts if any(c.spec().match_file(a.path) for c in schedules.CLAIMS)}
        jobs, documents = schedules.read(ctx, [a for a in ctx.artifacts if a.path in schedule_paths])
        texts: dict[str, str] = {}
        for art in ctx.artifacts:
            with ctx.guard(art):
                texts[art.path] = ctx.read_text(art)
        yield from self._blue_green(ctx, texts, documents)
        yield from self._rollback(ctx, texts)
        yield from self._cleanup(ctx, jobs, texts)

    def _blue_green(
        self, ctx: ProbeContext, texts: dict[str, str], documents: dict[str, list[Any]]
    ) -> Iterator[Observation]:
        found = 0
        for path, text in sorted(texts.items()):
            for subject, message in self._blue_green_in(path, text, documents.get(path)):
                found += 1
                yield ctx.observe(BLUE_GREEN.id, Status.PASS, subject, message)
        if not found:
            message = "no blue-green switch found (Argo Rollouts blueGreen, Flagger, blue/green Services or "
            message += "upstreams, CodeDeploy blue/green)"
            yield ctx.observe(BLUE_GREEN.id, Status.FAIL, Subject(), message)

    @staticmethod
    def _blue_green_in(path: str, text: str, docs: list[Any] | None) -> Iterator[tuple[Subject, str]]:
        name = posixpath.basename(path)
        if path.endswith(".tf"):
            m = re.search(r"blue_green_deployment_config|deployment_controller\s*\{\s*type\s*=\s*\"CODE_DEPLOY\"", text)
            if m:
                line = text[: m.start()].count("\n") + 1
                yield Subject(path=path, line=line), "CodeDeploy blue/green deployment configured"
            return
        if path.endswith((".conf",)) or "sites-enabled" in path:
            upstreams = re.findall(r"(?m)^\s*upstream\s+([\w-]*(?:blue|green)[\w-]*)\s*\{", text)
            colours = {c.lower() for u in upstreams for c in re.findall(r"blue|green", u, re.I)}
            if colours == {"blue", "green"}:
                line = _line(text, re.compile(r"upstream\s+[\w-]*(?:blue|green)"))
                yield Subject(path=path, line=line), f"nginx upstreams {', '.join(upstreams)} to switch between"
            return
        if name.startswith(("docker-compose", "compose")) and docs:
            services = [str(s) for d in docs if isinstance(d, dict) for s in (d.get("services") or {})]
            pairs = {s[: -len(c)] for s in services for c in ("-blue", "_blue") if s.endswith(c)}
            pairs &= {s[: -len(c)] for s in services for c in ("-green", "_green") if s.endswith(c)}
            for base in sorted(pairs):
                yield Subject(path=path, line=1, name=base), f"Compose services {base}-blue and {base}-green"
            return
        for doc in docs or []:
            if not isinstance(doc, dict):
                continue
            kind, spec = doc.get("kind"), doc.get("spec") or {}
            meta = doc.get("metadata") or {}
            subject = Subject(path=path, line=getattr(doc, "line", None), name=f"{kind}/{meta.get('name', '?')}")
            strategy = spec.get("strategy") if isinstance(spec, dict) else None
            if kind == "Rollout" and isinstance(strategy, dict) and "blueGreen" in strategy:
                bg = strategy["blueGreen"] or {}
                yield (
                    subject,
                    f"Argo Rollouts blueGreen (active {bg.get('activeService')}, preview {bg.get('previewService')})",
                )
            elif kind == "Canary" and isinstance(spec, dict) and "flagger" in str(doc.get("apiVersion", "")):
                analysis = spec.get("analysis") or {}
                if isinstance(analysis, dict) and "iterations" in analysis and "stepWeight" not in analysis:
                    yield subject, "Flagger blue/green (iterations without traffic shifting)"
            elif kind == "Service" and isinstance(spec, dict):
                selector = spec.get("selector") or {}
                colours = (
                    [v for v in selector.values() if str(v).lower() in ("blue", "green")]
                    if isinstance(selector, dict)
                    else []
                )
                if colours:
                    yield subject, f"Service selects the {colours[0]} slot: switching the selector flips traffic"

    def _rollback(self, ctx: ProbeContext, texts: dict[str, str]) -> Iterator[Observation]:
        found = 0
        for path, text in sorted(texts.items()):
            name = posixpath.basename(path)
            hit: tuple[int, str] | None = None
            if name == "Makefile" or name == "justfile":
                if m := MAKE_TARGET.search(text):
                    hit = (text[: m.start()].count("\n") + 1, f"{name} target {m.group(1)}")
            elif name == "package.json":
                scripts = (safe_load.load_json(text).get("scripts") or {}) if text.strip().startswith("{") else {}
                key = next((k for k in scripts if "rollback" in k.lower()), None)
                if key:
                    hit = (_line(text, re.compile(re.escape(f'"{key}"'))), f"npm script {key}: {scripts[key]}")
            elif path.endswith(".md"):
                m = re.search(r"(?im)^(#+)\s*(.*\broll(?:ing)?\s?-?back.*)$", text)
                if m and len(text[m.end() :].split()) >= 20:  # a heading with steps under it, not a stub
                    hit = (text[: m.start()].count("\n") + 1, f"documented procedure: {m.group(2).strip()}")
            elif ROLLBACK_NAMES.search(path) or (m := ROLLBACK_COMMANDS.search(text)):
                command = ROLLBACK_COMMANDS.search(text)
                line = text[: command.start()].count("\n") + 1 if command else 1
                hit = (line, f"rollback script{f' ({command.group(0)})' if command else ''}")
            if hit:
                found += 1
                yield ctx.observe(ROLLBACK_PROCEDURE.id, Status.PASS, Subject(path=path, line=hit[0]), hit[1])
        if not found:
            message = "no rollback script, Make or npm target, or documented rollback procedure in the repository"
            yield ctx.observe(ROLLBACK_PROCEDURE.id, Status.FAIL, Subject(), message)

    def _cleanup(self, ctx: ProbeContext, jobs: list[schedules.Job], texts: dict[str, str]) -> Iterator[Observation]:
        found = 0
        for job in jobs:
            tools = sorted({" ".join(m.group(0).split()[:3]) for m in CLEANUP_COMMANDS.finditer(job.commands)})
            if not tools and job.kind in ("ofelia", "loop", "cron-service"):
                tools = sorted({m.group(0).lower() for m in APP_CLEANUP.finditer(job.commands)})
            if job.schedule and not job.facts.get("suspended") and tools:
                found += 1
                message = f"{job.kind} {job.name!r} runs {', '.join(tools)} on schedule {job.schedule}"
                yield ctx.observe(CLEANUP_AUTOMATED.id, Status.PASS, job.subject, message)
        for path, text in sorted(texts.items()):
            if path.endswith(".tf") and (m := re.search(r'resource\s+"aws_ecr_lifecycle_policy"', text)):
                found += 1
                line = text[: m.start()].count("\n") + 1
                yield ctx.observe(
                    CLEANUP_AUTOMATED.id,
                    Status.PASS,
                    Subject(path=path, line=line),
                    "ECR lifecycle policy expires images",
                )
        if found:
            return
        hosts = [s for s in ctx.inventory.services if s.production and s.origin != "kubernetes"]
        if not hosts and any(s.origin == "kubernetes" for s in ctx.inventory.services):
            message = "deployed on Kubernetes only: the kubelet garbage-collects images and rotates container logs"
            yield ctx.observe(CLEANUP_AUTOMATED.id, Status.NOT_APPLICABLE, Subject(), message)
            return
        where = f" for the hosts running {', '.join(sorted({s.name for s in hosts})[:5])}" if hosts else ""
        message = f"no scheduled prune of images and containers or log cleanup{where}"
        yield ctx.observe(CLEANUP_AUTOMATED.id, Status.FAIL, Subject(), message)
