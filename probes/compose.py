"""Docker Compose files, read for the deployment inventory.

Each service of a compose file is recorded with its image, build context and
published ports, and each repository file it uses (bind mounts, ``secrets:``
and ``configs:`` files, ``env_file``) as a mount at its container path. Other
probes ask the inventory whether a file is deployed or an orphan.

This module only fills the inventory; the container hardening checks come
with the full compose probe.
"""

from __future__ import annotations

import posixpath
from typing import Any

import yaml

from readiness import yaml_lines
from readiness.inventory import Mount, Service
from readiness.model import Subject
from readiness.probe import Claim, Probe, ProbeContext

COMPOSE_GLOBS = (
    "docker-compose*.yml",
    "docker-compose*.yaml",
    "compose.yml",
    "compose.yaml",
    "compose.*.yml",
    "compose.*.yaml",
)


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


class ComposeProbe(Probe):
    name = "compose"
    version = "0.1.0"
    stage = "inventory"
    description = "Compose files: services, images, ports and the repo files they mount."
    claims = (Claim(COMPOSE_GLOBS),)
    checks = ()

    def run(self, ctx: ProbeContext):
        for art in ctx.artifacts:
            with ctx.guard(art):
                self._read(ctx, art.path, art.production, ctx.read_text(art))
        return []

    def _read(self, ctx: ProbeContext, path: str, production: bool, text: str) -> None:
        """Add the services and mounts of one compose file to the inventory."""
        try:
            doc = yaml_lines.load(text)
        except yaml.YAMLError as exc:
            line = yaml_lines.error_line(exc)
            ctx.gap(Subject(path=path, line=line), "not valid YAML; its services are not in the inventory")
            return
        if not isinstance(doc, dict) or not isinstance(doc.get("services"), dict):
            ctx.gap(Subject(path=path), "no `services:` mapping; nothing to inventory")
            return
        base = posixpath.dirname(path)
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
                    image=str(svc["image"]) if svc.get("image") else None,
                    build_context=_repo_path(base, str(context)) if context else None,
                    ports=tuple(str(p) for p in svc.get("ports") or () if not isinstance(p, dict))
                    + tuple(
                        f"{p.get('host_ip', '')}:{p.get('published', '')}:{p.get('target')}"
                        for p in svc.get("ports") or ()
                        if isinstance(p, dict)
                    ),
                )
            )
            for mount in self._mounts(svc, str(name), base, top_files, where, production):
                ctx.inventory.add_mount(mount)

    def _mounts(
        self,
        svc: dict[str, Any],
        service: str,
        base: str,
        top_files: dict[str, dict[str, str]],
        where: Subject,
        production: bool,
    ):
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
