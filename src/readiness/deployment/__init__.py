"""The deployments a repository ships, and the production scope that flows from them.

Built once per audit, after discovery and before any probe: every probe then
sees the same answer to "is this file production?", with the reason.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import posixpath

import pathspec

from .. import compose_boundary
from ..config import Config, ConfigError
from ..discovery import Discovery
from ..model import Subject, VcsState
from ..probe import ArtifactUnreadable, Files
from . import compose, documents
from .environments import Environment, tree_environment
from .model import Deployment, DeploymentMap, FileScope, Unit
from .scope import file_scopes
from .starts import find_starts, is_start_script

MAX_SCRIPT_BYTES = 512 * 1024
# Deployment kinds beyond Compose register here, as probes do under readiness.probes: a callable
# (Discovery, Files) -> list[Deployment]. The built-in kustomize, Helm and Terraform sources use it too.
ENTRY_POINT_GROUP = "readiness.deployments"


def deployment_sources() -> list:
    """Every installed deployment source, in name order."""
    from importlib.metadata import entry_points

    return [ep.load() for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name)]


__all__ = ["Deployment", "DeploymentMap", "Environment", "FileScope", "Unit", "build", "apply"]


def _compose_paths(found: Discovery) -> list[str]:
    return [
        a.path
        for a in found.artifacts
        if a.skipped is None
        and a.vcs is not VcsState.IGNORED
        and any(fnmatch.fnmatchcase(posixpath.basename(a.path), g) for g in compose.COMPOSE_GLOBS)
    ]


def _texts(found: Discovery, files: Files, paths: list[str]) -> dict[str, str]:
    by_path = {a.path: a for a in found.artifacts}
    out: dict[str, str] = {}
    for p in paths:
        try:
            out[p] = files.read_text(by_path[p])
        except ArtifactUnreadable:
            continue  # the probes that own the file report why it cannot be read
    return out


def _script_texts(found: Discovery, files: Files) -> list[tuple[str, str]]:
    picked = [
        a.path
        for a in found.artifacts
        if a.skipped is None
        and a.size <= MAX_SCRIPT_BYTES
        and (a.vcs is not VcsState.IGNORED or posixpath.basename(a.path) == ".env")
        and is_start_script(a.path)
    ]
    return sorted(_texts(found, files, picked).items())


def build(found: Discovery, config: Config, files: Files, select: str | None = None) -> DeploymentMap:
    """Find the deployments of ``found``, decide which are production, and scope every file by them."""
    paths = _compose_paths(found)
    docs: dict[str, object] = {}
    errors: dict[str, Subject] = {}
    for path, text in _texts(found, files, paths).items():
        try:
            docs[path] = compose.load(text)
        except compose.ComposeFileError as exc:
            docs[path] = None
            errors[path] = Subject(path=path, line=exc.line, name=str(exc))
            continue
        # A service merged from a file outside the repository is not all here: nothing judged on it may pass.
        crossed = compose_boundary.crossings(found.root, [path], {path: docs[path]}, str, env_files=False, follow=False)
        if crossed:
            errors[path] = Subject(path=path, line=crossed[0].line, name=crossed[0].reason)
    known = {a.path for a in found.artifacts}
    starts = find_starts(_script_texts(found, files), known.__contains__, paths)
    configured = list(config.probe_settings("compose").get("projects") or [])
    configured += [d for d in config.deployments if "files" in d]
    cands = compose.candidates(paths, docs, starts, configured)
    explicit = pathspec.GitIgnoreSpec.from_lines(config.production) if config.production else None
    if explicit is not None:
        for c in cands:
            if c.configured is None:
                named = any(explicit.match_file(f) for f in c.files)
                c.configured = Environment.PRODUCTION if named else Environment.DEVELOPMENT
                c.reasons.append("scope.production names " + ("its files" if named else "other files"))
    built = {posixpath.normpath(u) for c in cands for u in compose.built_dockerfiles(c.files, docs)}
    unbuilt = sorted(
        a.path
        for a in found.artifacts
        if posixpath.basename(a.path) == "Dockerfile"
        and a.path not in built
        and a.vcs is not VcsState.IGNORED
        and not tree_environment(a.path)
    )
    decided = compose.decide(cands, docs, unbuilt)
    deployments = [compose.deployment(c, env, why, docs) for c, env, why in decided]
    for source in deployment_sources():
        deployments += source(found, files)
    claims, disowned = _documents(found, files)
    deployments = documents.apply_claims(deployments, claims)
    deployments = _overridden(deployments, [d for d in config.deployments if "name" in d and "files" not in d])
    deployments = _audit_all_when_none_is_production(deployments)
    if select is not None:
        deployments = _select(deployments, select)
    non_production = pathspec.GitIgnoreSpec.from_lines(config.non_production)
    scopes, orphans = file_scopes(found.artifacts, deployments, non_production.match_file, explicit, disowned)
    dmap = DeploymentMap(deployments, orphans, scopes, selected=select, compose_docs=docs, compose_errors=errors)
    if any(d.kind == "helm" for d in deployments):
        from . import helm, helm_units

        dmap.helm = helm.render_all(found, files, deployments, config.probe_settings("kubernetes").get("helm_binary"))
        dmap.deployments = [
            dataclasses.replace(d, units=helm_units.units(dmap.helm[d.name])) if d.name in dmap.helm else d
            for d in dmap.deployments
        ]
    dmap.compose_env = _project_env(found, files, {d.folder for d in deployments if d.kind == "compose"})
    dmap.summary = _summary(dmap)
    return dmap


ENV_FILES = (".env", ".env.example", "env.example", ".env.sample", "example.env", ".env.dist", "sample.env")


def _project_env(found: Discovery, files: Files, folders: set[str]) -> dict[str, dict[str, str]]:
    """Each compose project folder's .env (or, absent, the example env file it ships), as KEY=VALUE pairs."""
    by_path = {a.path: a for a in found.artifacts}
    out: dict[str, dict[str, str]] = {}
    for folder in folders:
        for name in ENV_FILES:
            art = by_path.get(posixpath.join(folder, name))
            if art is None or art.skipped is not None:
                continue
            try:
                text = files.read_text(art)
            except ArtifactUnreadable:
                continue
            pairs = (
                line.split("=", 1) for line in text.splitlines() if "=" in line and not line.lstrip().startswith("#")
            )
            out[folder] = {
                k.strip().removeprefix("export ").strip(): v.split(" #")[0].strip().strip("'\"") for k, v in pairs
            }
            break
    return out


def _documents(found: Discovery, files: Files) -> tuple[list[documents.Claim], dict[str, Subject]]:
    """What the READMEs say is production, and the folders they say are not."""
    listed = [a.path for a in found.artifacts if a.skipped is None and a.vcs is not VcsState.IGNORED]
    folders = {posixpath.dirname(p) for p in listed}
    for f in list(folders):
        while f:
            f = posixpath.dirname(f)
            folders.add(f)
    readmes = sorted(_texts(found, files, documents.readme_paths(listed)).items())
    claims = documents.claims(readmes, folders.__contains__)
    return claims, documents.disowned(readmes, claims)


def _overridden(deployments: list[Deployment], overrides: list[dict]) -> list[Deployment]:
    """Environments set by name in .readiness.yaml; a name that matches nothing is a configuration error."""
    by_name = {o["name"]: Environment(o["environment"]) for o in overrides}
    unknown = sorted(set(by_name) - {d.name for d in deployments})
    if unknown:
        found = ", ".join(d.name for d in deployments) or "none"
        raise ConfigError(f"deployments: no deployment named {', '.join(unknown)} (found: {found})")
    return [
        dataclasses.replace(d, environment=by_name[d.name], reasons=(*d.reasons, "set in .readiness.yaml"))
        if d.name in by_name
        else d
        for d in deployments
    ]


def _audit_all_when_none_is_production(deployments: list[Deployment]) -> list[Deployment]:
    """No deployment is clearly production: audit every one that is not a test, example or vendored stack, and
    say so, rather than let nothing decide."""
    if any(d.production for d in deployments):
        return deployments
    never = (Environment.TEST, Environment.EXAMPLE, Environment.VENDORED)
    why = "no deployment is clearly production: every deployment found is audited as production"
    return [
        d
        if d.environment in never
        else dataclasses.replace(d, environment=Environment.PRODUCTION, reasons=(*d.reasons, why))
        for d in deployments
    ]


def _select(deployments: list[Deployment], name: str) -> list[Deployment]:
    if not any(d.name == name for d in deployments):
        names = ", ".join(d.name for d in deployments) or "none found"
        raise ConfigError(f"--deployment {name}: no such deployment (found: {names})")
    out = []
    for d in deployments:
        if d.name == name:
            out.append(dataclasses.replace(d, environment=Environment.PRODUCTION,
                                           reasons=(*d.reasons, "selected with --deployment")))  # fmt: skip
        elif d.production:
            out.append(dataclasses.replace(d, environment=Environment.UNNAMED,
                                           reasons=(*d.reasons, f"not audited: --deployment {name}")))  # fmt: skip
        else:
            out.append(d)
    return out


def _summary(dmap: DeploymentMap) -> str:
    prod = dmap.production
    if not dmap.deployments:
        return "no deployment found (no compose project, overlay, chart or Terraform root): files scoped by their paths"
    others_ = [d for d in dmap.deployments if not d.production]
    head = (
        "audited as production: " + "; ".join(f"{d.name} ({d.reasons[-1]})" for d in prod)
        if prod
        else "no deployment is production: findings are reported but decide no production item"
    )
    if others_:
        head += (
            f"; {len(others_)} other deployment(s) not production: "
            + ", ".join(f"{d.name} [{d.environment}]" for d in others_[:6])
            + (" ..." if len(others_) > 6 else "")
        )
    return head


def apply(found: Discovery, dmap: DeploymentMap) -> Discovery:
    """``found`` with every artifact's production flag set by the deployment map."""
    artifacts = [
        dataclasses.replace(a, production=dmap.scope[a.path].production) if a.path in dmap.scope else a
        for a in found.artifacts
    ]
    return dataclasses.replace(found, artifacts=artifacts)
