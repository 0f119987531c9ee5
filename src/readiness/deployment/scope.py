"""Which files are production: scope flows from the deployments that use them.

A file is production because a production deployment uses it: its compose
files, what they mount, the env files and Dockerfiles they build from. A
service config that no production deployment mounts, while production mounts
another of its kind, is an orphan. Everything else keeps the environment its
path names (``overlays/dev/``, ``values-staging.yaml``) and the trees it sits
in (vendored, test, example). Pipelines and documents describe the whole
repository and are scoped by the configured patterns only.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import PurePosixPath

import pathspec

from ..model import Artifact, Subject
from .environments import Environment, path_environment, tree_environment
from .model import Deployment, FileScope

# Service configurations that reach production only by being mounted (or copied) into a container.
CONFIG_KINDS: dict[str, tuple[str, ...]] = {
    "nginx": ("nginx*.conf", "*.nginx", "**/nginx/**/*", "**/sites-available/*", "**/sites-enabled/*"),
    "postgresql": ("postgresql*.conf", "pg_hba.conf", "pg_ident.conf", "**/postgres*/**/*.conf"),
    "redis": ("redis*.conf", "**/redis/**/*.conf", "**/redis/**/*.acl"),
    "prometheus": ("prometheus*.yml", "prometheus*.yaml", "**/prometheus/**/*.yml", "**/prometheus/**/*.yaml"),
    "alertmanager": ("alertmanager*.yml", "alertmanager*.yaml", "**/alertmanager/**/*.yml"),
}
_KIND_SPECS = {k: pathspec.GitIgnoreSpec.from_lines(v) for k, v in CONFIG_KINDS.items()}
# Files that describe the whole repository rather than one environment. Under .github/ only the pipelines,
# actions and settings: a cluster or Terraform kept there (a project's own demo site) is tooling, not the product.
REPOSITORY_WIDE = re.compile(
    r"^(\.github/(workflows/|actions/|[^/]+$)|\.gitlab/|\.circleci/|\.gitlab-ci\.ya?ml$|Jenkinsfile|azure-pipelines|bitbucket-pipelines|"
    r"\.readiness|renovate\.json|\.renovaterc|\.pre-commit)|\.(md|rst|adoc|txt)$",
    re.IGNORECASE,
)


# Where a repository keeps its pipelines and documents: not test or example trees, whatever their names.
REPOSITORY_FOLDERS = (".github/", ".gitlab/", ".circleci/", "docs/", "doc/", "documentation/")


def config_kind(path: str) -> str | None:
    return next((k for k, spec in _KIND_SPECS.items() if spec.match_file(path)), None)


class Uses:
    """The files and folders deployments pull in, answerable for any path (a file inside a mounted folder)."""

    def __init__(self, deployments: list[Deployment]) -> None:
        self._by_path: dict[str, list[Deployment]] = {}
        for d in deployments:
            for p in (*d.files, *d.uses):
                self._by_path.setdefault(p, []).append(d)

    def of(self, path: str) -> list[Deployment]:
        p = PurePosixPath(path)
        found: list[Deployment] = []
        for candidate in (path, *(str(q) for q in p.parents if str(q) != ".")):
            found += self._by_path.get(candidate, [])
        return found


def file_scopes(
    artifacts: list[Artifact],
    deployments: list[Deployment],
    non_production: Callable[[str], bool],
    explicit: pathspec.PathSpec | None,
    disowned: dict[str, Subject] | None = None,
) -> tuple[dict[str, FileScope], dict[str, str]]:
    """The scope of every artifact, and the orphans (path -> why). ``disowned``: folders whose README says
    they are not the production install path (deployment/documents.py)."""
    uses = Uses(deployments)
    mounted_kinds = {
        config_kind(a.path)
        for a in artifacts
        if any(d.production for d in uses.of(a.path)) and a.path not in {f for d in deployments for f in d.files}
    } - {None}
    scopes: dict[str, FileScope] = {}
    orphans: dict[str, str] = {}
    for a in artifacts:
        users = uses.of(a.path)
        prod_users = [d for d in users if d.production]
        if prod_users:
            d = prod_users[0]
            how = "is one of its files" if a.path in d.files else "is used by it"
            scopes[a.path] = FileScope(True, f"{how}: {d.name}", d.name)
            continue
        if explicit is not None and explicit.match_file(a.path) and not non_production(a.path):
            scopes[a.path] = FileScope(True, "named by scope.production")
            continue
        if users:
            d = users[0]
            scopes[a.path] = FileScope(False, f"used only by {d.environment} deployment {d.name}", d.name)
            continue
        if REPOSITORY_WIDE.search(a.path):
            # A pipeline named go-test.yaml runs the tests of the product: names do not scope these, trees do.
            tree = tree_environment(a.path)
            own_folder = a.path.startswith(REPOSITORY_FOLDERS)
            if tree and (tree.environment is Environment.VENDORED or not own_folder):
                scopes[a.path] = FileScope(False, tree.reason)
            else:
                scopes[a.path] = FileScope(True, "describes the whole repository (pipeline or document)")
            continue
        if non_production(a.path):
            scopes[a.path] = FileScope(False, "matches scope.non_production")
            continue
        if disowner := next((w for f, w in (disowned or {}).items() if a.path.startswith(f + "/")), None):
            scopes[a.path] = FileScope(False, f"{disowner.describe()} says its folder is not the production path")
            continue
        if explicit is not None:
            scopes[a.path] = FileScope(False, "not named by scope.production and used by no production deployment")
            continue
        kind = config_kind(a.path)
        if kind and kind in mounted_kinds:
            why = f"a {kind} configuration no production deployment mounts, while production mounts another"
            orphans[a.path] = why
            scopes[a.path] = FileScope(False, f"orphan: {why}")
            continue
        naming = path_environment(a.path)
        if naming.environment in (Environment.UNNAMED, Environment.PRODUCTION):
            reason = naming.reason if naming.environment is Environment.PRODUCTION else "production by default"
            scopes[a.path] = FileScope(True, reason)
        else:
            scopes[a.path] = FileScope(False, naming.reason)
    return scopes, orphans
