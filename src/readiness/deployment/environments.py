"""What a path says about the environment it belongs to.

Real repositories name their environments in file and folder names
(``docker-compose.prod.yml``, ``overlays/dev/``, ``environments/staging/``,
``values-production.yaml``) and keep third-party and test code in folders whose
names say so (``vendor/``, ``node_modules/``, ``_integration-test/``). This
module reads those names; the deployment model decides with them.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from pathlib import PurePosixPath


class Environment(enum.StrEnum):
    PRODUCTION = "production"
    STAGING = "staging"
    DEVELOPMENT = "development"
    TEST = "test"
    EXAMPLE = "example"
    VENDORED = "vendored"
    UNNAMED = "unnamed"  # nothing in the name says; the deployment model decides

    @property
    def is_production(self) -> bool:
        return self is Environment.PRODUCTION


# Whole tokens of a name split on . _ - and /: "docker-compose.prod.yml" -> docker, compose, prod, yml.
WORDS: dict[Environment, frozenset[str]] = {
    Environment.PRODUCTION: frozenset({"production", "prod", "prd", "live"}),
    Environment.STAGING: frozenset({"staging", "stage", "stg", "preprod", "uat", "qa"}),
    Environment.DEVELOPMENT: frozenset(
        {
            "dev",
            "devel",
            "develop",
            "development",
            "local",
            "localhost",
            "sandbox",
            "playground",
            "debug",
            "devcontainer",
            "devenv",
            "devstack",
            "gitpod",  # a cloud developer workspace
            "storybook",  # a UI component workbench
        }
    ),
    Environment.TEST: frozenset(
        {"test", "tests", "testing", "e2e", "ci", "integration", "perf", "benchmark", "benchmarks", "loadtest", "smoke"}
    ),
    Environment.EXAMPLE: frozenset(
        {"example", "examples", "sample", "samples", "demo", "demos", "minimal", "tutorial"}
    ),
}
# Folder names only: a file called "ci.yml" may be a pipeline, a folder "testdata/" never deploys.
TEST_DIRS = re.compile(
    r"^_*(tests?|testing|testdata|test[-_]?data|spec|specs|__tests__|e2e|fixtures?|cypress|playwright"
    r"|integration[-_]?tests?|[a-z0-9]+[-_]tests?|tests?[-_][a-z0-9]+|benchmarks?|perf|load[-_]?tests?)$",
    re.IGNORECASE,
)
EXAMPLE_DIRS = re.compile(r"^_*(examples?|samples?|demos?|docs?|documentation|tutorials?|quickstarts?)$", re.I)
VENDOR_DIRS = frozenset(
    {"vendor", "vendors", "vendored", "node_modules", "third_party", "third-party", "thirdparty", "bower_components",
     "site-packages", ".bundle", "external", "externals", "submodules"}
)  # fmt: skip
CI_DIRS = frozenset({".github", ".gitlab", ".circleci", ".buildkite"})
TOKEN = re.compile(r"[^A-Za-z0-9]+")


@dataclass(frozen=True)
class Naming:
    """The environment a path names, and the words that said so."""

    environment: Environment
    reason: str


def _tokens(name: str) -> list[str]:
    return [t.lower() for t in TOKEN.split(name) if t]


def words_environment(name: str) -> Environment | None:
    """The environment a single file or folder name spells out, if any (production words win ties)."""
    tokens = set(_tokens(name))
    for env in (Environment.PRODUCTION, Environment.STAGING, Environment.DEVELOPMENT, Environment.TEST,
                Environment.EXAMPLE):  # fmt: skip
        if tokens & WORDS[env]:
            return env
    return None


def tree_environment(path: str) -> Naming | None:
    """Vendored, test or example trees: a folder on the path says the file is not production code."""
    parts = PurePosixPath(path).parts[:-1]
    for i, part in enumerate(parts):
        where = "/".join(parts[: i + 1]) + "/"
        if part.lower() in VENDOR_DIRS:
            return Naming(Environment.VENDORED, f"inside vendored third-party code ({where})")
    if parts and parts[0] in CI_DIRS:
        return Naming(Environment.TEST, f"inside the CI service's folder ({parts[0]}/): tooling, not the product")
    for i, part in enumerate(parts):
        where = "/".join(parts[: i + 1]) + "/"
        if TEST_DIRS.match(part):
            return Naming(Environment.TEST, f"inside a test tree ({where})")
        if EXAMPLE_DIRS.match(part):
            return Naming(Environment.EXAMPLE, f"inside an example or documentation tree ({where})")
    return None


def path_environment(path: str) -> Naming:
    """The environment a configuration file's path names: trees first, then its own name, then its folders."""
    tree = tree_environment(path)
    if tree:
        return tree
    p = PurePosixPath(path)
    own = words_environment(p.name)
    if own:
        return Naming(own, f"its name {p.name} says {own}")
    for folder in reversed(p.parts[:-1]):
        env = words_environment(folder)
        # "ci" names a pipeline folder as often as a test stack; only a file name decides by it.
        if env and not (env is Environment.TEST and set(_tokens(folder)) <= {"ci"}):
            return Naming(env, f"its folder {folder}/ says {env}")
    return Naming(Environment.UNNAMED, "no environment in its name")
