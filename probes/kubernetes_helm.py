"""Helm charts as the kubernetes probe sees them: the objects `helm template` rendered for each chart
deployment, and, for a chart that could not be rendered, why (never a pass).

The deployment model renders every chart once (``readiness.deployment.helm``); a
chart's ``templates/`` files are then not read as YAML at all. Rendered objects
are judged as their deployment's (production or not, from the values file's
environment), under the template's path and without a line: lines of the
rendering are not the template's.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

import yaml

from readiness import yaml_lines
from readiness.deployment.helm import kind_of
from readiness.model import Check, Observation, Status, Subject

# Rendered kinds no check reads (dashboards in ConfigMaps can be megabytes): not parsed.
UNJUDGED = ("ConfigMap", "CustomResourceDefinition")

if TYPE_CHECKING:
    from readiness.deployment.helm import Rendering
    from readiness.probe import ProbeContext


def renderings(ctx: ProbeContext) -> list[Rendering]:
    return list(ctx.deployments.helm.values()) if ctx.deployments is not None else []


def _production(ctx: ProbeContext, r: Rendering) -> bool:
    d = ctx.deployments.get(r.deployment) if ctx.deployments is not None else None
    return d.production if d is not None else True


def covered(ctx: ProbeContext, path: str) -> bool:
    """True for a file under ``templates/`` of a chart the deployment model rendered (or tried to)."""
    parts = PurePosixPath(path).parts
    if "templates" not in parts[:-1]:
        return False
    for r in renderings(ctx):
        if (not r.chart or path.startswith(r.chart + "/")) and "templates" in parts[
            len(PurePosixPath(r.chart).parts) :
        ]:
            return True
    return False


def objects(ctx: ProbeContext) -> Iterator[tuple[Any, str, bool, str]]:
    """(document, template path, production, how it was rendered) for every rendered object."""
    for r in renderings(ctx):
        if r.status != "rendered":
            continue
        production = _production(ctx, r)
        for template, text in r.documents:
            if kind_of(text) in UNJUDGED:
                continue
            try:
                docs = yaml_lines.load_all(text)
            except yaml.YAMLError as exc:
                problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
                reason = f"rendered by {r.described}, not valid YAML: {problem}"
                ctx.emitted.extend(ctx.errors(Subject(path=template), reason, production))
                continue
            for doc in docs:
                if isinstance(doc, dict):
                    yield doc, template, production, r.described


def problems(ctx: ProbeContext, checks: tuple[Check, ...]) -> Iterator[Observation]:
    """Why a chart deployment has no (or only part of its) objects: unknown, or error when helm rejected it."""
    ids = tuple(c.id for c in checks)
    for r in renderings(ctx):
        production = _production(ctx, r)
        chart = Subject(path=r.chart_file, name=r.deployment)
        if r.status in ("unavailable", "incomplete"):
            where = Subject(path=r.where.path, line=r.where.line, name=r.deployment) if r.where else chart
            for c in ids:
                yield ctx.observe(c, Status.UNKNOWN, where, f"Helm chart not rendered ({r.described}): {r.reason}",
                                  production=production)  # fmt: skip
        elif r.status == "failed":
            where = r.where or Subject(path=r.chart_file)
            subject = Subject(path=where.path, line=where.line, name=r.deployment)
            ctx.emitted.extend(ctx.errors(subject, f"{r.reason} ({r.described})", production, ids))
        for name, why in r.missing:
            line = _dependency_line(ctx, r.chart_file, name)
            msg = f"dependency {name} of the chart is not rendered ({why}): the objects it would add are unknown"
            for c in ids:
                yield ctx.observe(c, Status.UNKNOWN, Subject(path=r.chart_file, line=line, name=r.deployment), msg,
                                  production=production)  # fmt: skip
        for note in r.notes:
            ctx.gap(chart, note)


def _dependency_line(ctx: ProbeContext, chart_file: str, name: str) -> int | None:
    for path in (chart_file, posixpath.join(posixpath.dirname(chart_file), "requirements.yaml")):
        art = ctx.artifact(path)
        if art is None or art.skipped:
            continue
        for i, line in enumerate(ctx.read_text(art).splitlines(), 1):
            if line.strip().lstrip("- ").strip() in (f"name: {name}", f'name: "{name}"', f"name: '{name}'"):
                return i
    return None
