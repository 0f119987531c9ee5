"""Kustomize overlays, Helm charts with their values files, and Terraform roots with their variable files.

Each names its environment the way these tools are used: ``overlays/prod``,
``values-production.yaml``, ``environments/staging/``, ``prod.tfvars``. A
kustomization another one builds on is a base, part of every overlay that uses
it; a Terraform folder that another calls as a module is part of that root.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable

import yaml

from ..discovery import Discovery
from ..model import Artifact, VcsState
from ..probe import ArtifactUnreadable, Files
from .environments import Environment, path_environment
from .model import Deployment

KUSTOMIZATIONS = frozenset({"kustomization.yaml", "kustomization.yml", "Kustomization"})
VALUES = re.compile(r"^values([._-].+)?\.ya?ml$")
MODULE_SOURCE = re.compile(r'(?m)^\s*source\s*=\s*"(\.{1,2}/[^"]*)"')


def _read(files: Files, art: Artifact) -> str | None:
    try:
        return files.read_text(art)
    except ArtifactUnreadable:
        return None


def _readable(found: Discovery) -> Iterable[Artifact]:
    return (a for a in found.artifacts if a.skipped is None and a.vcs is not VcsState.IGNORED)


def _decide(found: list[tuple[str, tuple[str, ...], tuple[str, ...], str]], kind: str) -> list[Deployment]:
    """Deployments from (name, files, uses, folder-or-file whose name says the environment)."""
    named = [(n, f, u, path_environment(w)) for n, f, u, w in found]
    any_prod = any(e.environment is Environment.PRODUCTION for *_, e in named)
    out = []
    for name, files, uses, env in named:
        reasons = [env.reason]
        environment, assumed = env.environment, False
        if environment is Environment.UNNAMED:
            if any_prod:
                reasons.append(f"another {kind} deployment is named production")
            else:
                environment, assumed = Environment.PRODUCTION, True
                reasons.append("nothing names another environment: taken as production")
        out.append(Deployment(name, kind, files, environment, tuple(reasons), uses=uses, assumed=assumed))
    return out


def kustomize(found: Discovery, files: Files) -> list[Deployment]:
    docs: dict[str, dict] = {}
    for a in _readable(found):
        if posixpath.basename(a.path) in KUSTOMIZATIONS:
            text = _read(files, a)
            try:
                doc = yaml.safe_load(text) if text else None
            except yaml.YAMLError:
                doc = None
            docs[a.path] = doc if isinstance(doc, dict) else {}
    refs: dict[str, list[str]] = {}
    for path, doc in docs.items():
        folder = posixpath.dirname(path)
        entries = [e for key in ("resources", "bases", "components") for e in doc.get(key) or () if isinstance(e, str)]
        refs[path] = [posixpath.normpath(posixpath.join(folder, e)) for e in entries if "://" not in e]
    referenced = {r for rs in refs.values() for r in rs}
    # A Component is mixed into overlays, never applied alone.
    roots = [p for p, d in docs.items() if posixpath.dirname(p) not in referenced and d.get("kind") != "Component"]

    def closure(path: str, seen: set[str]) -> set[str]:
        for r in refs.get(path, ()):
            if r not in seen:
                seen.add(r)
                for k in KUSTOMIZATIONS:
                    closure(posixpath.join(r, k), seen)
        return seen

    found_ = [
        (f"kustomize:{posixpath.dirname(p) or '.'}", (p,), tuple(sorted(closure(p, set()))), posixpath.dirname(p) or p)
        for p in sorted(roots)
    ]
    # A Component nothing enables is an option the repository offers, not something it deploys.
    unused = [
        Deployment(
            f"kustomize-component:{posixpath.dirname(p) or '.'}",
            "kustomize",
            (p,),
            Environment.EXAMPLE,
            ("a kustomize Component that no overlay enables: an option, not deployed",),
            uses=(posixpath.dirname(p) or ".",),
        )
        for p, d in sorted(docs.items())
        if d.get("kind") == "Component" and posixpath.dirname(p) not in referenced
    ]
    return _decide(found_, "kustomize") + unused


def helm(found: Discovery) -> list[Deployment]:
    paths = [a.path for a in _readable(found)]
    charts = sorted(posixpath.dirname(p) for p in paths if posixpath.basename(p) == "Chart.yaml")
    # A chart vendored in another's charts/ folder is part of that chart's rendering, not a deployment.
    charts = [c for c in charts if not _subchart(c, set(charts))]
    out = []
    for chart in charts:
        inside = [p for p in paths if posixpath.dirname(p) == chart and VALUES.match(posixpath.basename(p))]
        variants = [p for p in inside if posixpath.basename(p) not in ("values.yaml", "values.yml")]
        default = [p for p in inside if p not in variants]
        # The chart's templates and dependencies, not its other environments' values files.
        chart_uses = tuple(posixpath.join(chart, n) for n in ("Chart.yaml", "templates", "charts", "crds", "files"))
        entries = [(f"helm:{chart or '.'}", tuple(default) or (posixpath.join(chart, "Chart.yaml"),), chart_uses,
                    chart or "Chart.yaml")]  # fmt: skip
        entries += [(f"helm:{chart or '.'}+{posixpath.basename(v)}", (*default, v), chart_uses, v) for v in variants]
        out += _decide(entries, "helm")
    return out


def _subchart(chart: str, charts: set[str]) -> bool:
    parent, folder = posixpath.split(posixpath.dirname(chart))
    return folder == "charts" and parent in charts


def terraform(found: Discovery, files: Files) -> list[Deployment]:
    tf_dirs: dict[str, list[Artifact]] = {}
    for a in _readable(found):
        if a.path.endswith(".tf"):
            tf_dirs.setdefault(posixpath.dirname(a.path), []).append(a)
    called: set[str] = set()
    for folder, arts in tf_dirs.items():
        for a in arts:
            for src in MODULE_SOURCE.findall(_read(files, a) or ""):
                called.add(posixpath.normpath(posixpath.join(folder, src)))
    tfvars = [a.path for a in _readable(found) if a.path.endswith((".tfvars", ".tfvars.json"))]
    entries = []
    for folder in sorted(set(tf_dirs) - called):
        uses = tuple(sorted(c for c in called if c != folder))
        own_vars = [v for v in tfvars if posixpath.dirname(v) == folder and "auto" not in posixpath.basename(v)]
        label = folder or "."
        entries.append((f"terraform:{label}", tuple(a.path for a in tf_dirs[folder]), uses, folder or "main.tf"))
        root_files = tuple(a.path for a in tf_dirs[folder])
        entries += [(f"terraform:{label}+{posixpath.basename(v)}", (v,), (*root_files, *uses), v) for v in own_vars]
    return _decide(entries, "terraform")


def helm_source(found: Discovery, files: Files) -> list[Deployment]:
    return helm(found)
