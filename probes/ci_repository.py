"""What the ci probe reads beside the pipelines: migrations the deployment runs itself, Renovate's managers."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from readiness.probes import schedules

from readiness.model import Subject
from readiness.probe import ArtifactUnreadable, ProbeContext

# Migrations the deployment runs itself: on every start (an entrypoint, a compose command) or on every
# install and upgrade (the repository's install scripts).
MIGRATE_COMMANDS = re.compile(
    r"manage\.py\s+migrate|db:migrate|db:prepare|alembic\s+upgrade|flyway\b[^\n]*\bmigrate|prisma\s+migrate\s+deploy"
    r"|sequelize(?:-cli)?\s+db:migrate|knex\s+migrate|\bdb\s+migrate\b|\bocc\s+upgrade\b|\bupgrade\s+--noinput"
    r"|migrate\s+--no-input|\bmigrate!|checkMigrations|runMigrations|migrations:migrate|goose\b[^\n]*\bup\b"
)
STARTUP_SCRIPTS = re.compile(
    r"(^|/)([^/]*entrypoint[^/]*|install[^/]*\.sh|upgrade[^/]*\.sh|start[^/]*\.sh|run\.sh|init[^/]*\.sh)$"
    r"|(^|/)install/[^/]+\.sh$",
    re.I,
)


def deployment_migrations(ctx: ProbeContext) -> Iterator[tuple[Subject, str]]:
    """Where the production deployment runs migrations itself, with the command."""
    for deployment, view in ctx.compose_services():
        command = f"{schedules.words(view.get('entrypoint'))} {schedules.words(view.get('command'))}"
        if deployment.production and (m := MIGRATE_COMMANDS.search(command)):
            where = view.where("command") if view.get("command") else view.where("entrypoint")
            yield where, f"service {view.name} runs `{m.group(0)}` on every start"
    for art in ctx.all_artifacts:
        if not (art.production and art.skipped is None and art.size <= 256 * 1024 and STARTUP_SCRIPTS.search(art.path)):
            continue
        text = _read_repository_file(ctx, art.path) or ""
        if m := MIGRATE_COMMANDS.search(text):
            line = text[: m.start()].count("\n") + 1
            yield (
                Subject(path=art.path, line=line),
                f"{art.path} runs `{m.group(0)}` when the deployment starts or upgrades",
            )


RENOVATE_IMAGE_MANAGERS = frozenset(
    {"dockerfile", "docker-compose", "kubernetes", "helm-values", "helmv3", "kustomize"}
)


def _renovate(path: str, config: Any) -> tuple[Subject, str, bool]:
    """Renovate tracks images unless ``enabledManagers`` leaves out every image manager (its default is all)."""
    if isinstance(config, str):
        m = re.search(r'"?enabledManagers"?\s*:\s*\[([^\]]*)\]', config)
        managers = re.findall(r"[\w-]+", m.group(1)) if m else None
    else:
        managers = config.get("enabledManagers") if isinstance(config, dict) else None
    if managers is None:
        return Subject(path=path, line=1), "Renovate with every manager (Dockerfiles and compose images included)", True
    tracked = sorted(set(map(str, managers)) & RENOVATE_IMAGE_MANAGERS)
    if tracked:
        return Subject(path=path, line=1), f"Renovate's enabledManagers include {', '.join(tracked)}", True
    return (
        Subject(path=path, line=1),
        f"Renovate's enabledManagers ({', '.join(map(str, managers))}) track no image",
        False,
    )


def _read_repository_file(ctx: ProbeContext, path: str) -> str | None:
    """A script, Makefile or local action a step names, if the repository holds it readable."""
    art = ctx.artifact(path)
    if art is None or art.skipped is not None or art.size > 256 * 1024:
        return None
    try:
        return ctx.read_text(art)
    except ArtifactUnreadable:
        return None
