"""What the Compose binary would read beyond the files it is handed, checked before it is handed them.

``docker compose config`` follows references: ``include`` (and the ``.env`` or
``env_file`` of each included project), ``extends.file``, ``label_file`` and,
unless they are reset, ``env_file``. Any of them may name a file outside the
audited repository (``../secrets/prod.yml``, an absolute path, a symlink that
leaves the tree) or a remote resource (``include: [oci://…]``). Compose would
read that file: its values would reach the report (a leak) and its literal
secrets would be judged as if absent (a false pass). So every reference is
followed here first, without reading anything outside the repository: a
reference that leaves it, is built from variables, is remote, or names a file
that is not a regular file is a ``Crossing`` on the file and line that wrote
it, and the project is not handed to Compose. Files inside the repository
that Compose would read are loaded by our bounded loader first, so an alias
bomb in an included file is refused before Compose expands it.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from . import yaml_lines

MAX_FILES = 200  # included and extended files followed per project: a loop or a sprawl stops here


@dataclass(frozen=True)
class Crossing:
    """A reference Compose would follow that the audit cannot let it follow. ``reason`` never quotes content."""

    path: str  # repository path of the file that writes the reference
    line: int | None
    reason: str


@dataclass(frozen=True)
class _Ref:
    kind: str  # include, extends, env_file, label_file, .env
    value: Any
    line: int | None
    base: str  # repository folder a relative value is resolved against
    follow: bool  # a compose file: load it and follow its own references


def _line(mapping: Any, key: Any) -> int | None:
    return mapping.key_line(key) if isinstance(mapping, yaml_lines.LineDict) else None


def _listed(value: Any) -> list[Any]:
    return [value] if isinstance(value, str | dict) else list(value) if isinstance(value, list) else []


def _paths(value: Any) -> list[str]:
    """The path strings of an ``env_file``/``label_file``/``include`` value (short or long syntax)."""
    out = []
    for item in _listed(value):
        src = item.get("path") if isinstance(item, dict) else item
        out += [str(p) for p in _listed(src)] if src is not None else []
    return out


def references(doc: Any, folder: str, *, env_files: bool) -> Iterator[_Ref]:
    """The references one compose file makes, relative paths based at ``folder`` (a repository folder)."""
    if not isinstance(doc, dict):
        return
    includes = doc.get("include")
    for i, item in enumerate(includes if isinstance(includes, list) else ()):
        line = includes.item_line(i) if isinstance(includes, yaml_lines.LineList) else None
        spec = item if isinstance(item, dict) else {"path": item}
        paths = _paths(spec.get("path"))
        for p in paths:
            yield _Ref("include", p, line, folder, True)
        project_dir = spec.get("project_directory")
        if isinstance(project_dir, str):
            yield _Ref("include project_directory", project_dir, line, folder, False)
            sub = _join(folder, project_dir)
        else:
            sub = posixpath.dirname(_join(folder, paths[0])) if paths and _plain(paths[0]) else None
        if spec.get("env_file") is not None:
            for p in _paths(spec.get("env_file")):
                yield _Ref("include env_file", p, line, folder, False)
        elif sub is not None and not sub.startswith(".."):
            # Compose reads the included project's own .env for its interpolation.
            yield _Ref(".env", ".env", line, sub, False)
    services = doc.get("services")
    for svc in services.values() if isinstance(services, dict) else ():
        if not isinstance(svc, dict):
            continue
        extends = svc.get("extends")
        if isinstance(extends, dict) and extends.get("file") is not None:
            yield _Ref("extends", str(extends["file"]), _line(extends, "file") or _line(svc, "extends"), folder, True)
        kinds = ("label_file", "env_file") if env_files else ("label_file",)
        for key in kinds:
            for p in _paths(svc.get(key)):
                yield _Ref(key, p, _line(svc, key), folder, False)


def _plain(value: str) -> bool:
    return not ("$" in value or value.startswith("~") or "://" in value or value.startswith("git@"))


def _join(folder: str, value: str) -> str:
    return posixpath.normpath(posixpath.join(folder, value)) if folder else posixpath.normpath(value)


def crossings(
    root: Path,
    files: list[str],
    docs: dict[str, Any],
    read: Callable[[str], str],
    *,
    project_dir: str | None = None,
    env_files: bool = True,
    follow: bool = True,
) -> list[Crossing]:
    """Every reference of a project (its ``files``, already parsed in ``docs``) Compose must not follow.

    ``read(path)`` returns the text of a repository file through the discovery layer, raising
    ``OSError`` or ``ValueError`` (with a reason) when it cannot; files it reads are parsed with
    the bounded loader, and ``docs`` keeps them. ``env_files=False`` when the caller resets every
    ``env_file`` before Compose runs (Compose then reads none of them). ``follow=False`` judges the
    references of ``files`` only, reading nothing.
    """
    real_root = root.resolve()
    found: list[Crossing] = []
    base = project_dir if project_dir is not None else posixpath.dirname(files[0]) if files else ""
    queue = [(f, base, env_files) for f in files]
    seen = set(files)
    while queue:
        path, folder, read_env_files = queue.pop(0)
        if path not in docs:  # a file the caller has not parsed: parse it as Compose would be handed it
            try:
                docs[path] = _load(read(path))
            except yaml.YAMLError as exc:
                reason = str(getattr(exc, "problem", "") or "not valid YAML")[:160]
                found.append(Crossing(path, yaml_lines.error_line(exc), f"{reason}; not handed to Compose"))
                continue
            except (OSError, ValueError) as exc:
                found.append(Crossing(path, None, f"{exc}; not handed to Compose"))
                continue
        doc = docs.get(path)
        for ref in references(doc, folder, env_files=read_env_files):
            problem, target = _judge(real_root, ref)
            if problem:
                found.append(Crossing(path, ref.line, problem))
                continue
            if not (follow and ref.follow) or target is None or target in seen:
                continue
            seen.add(target)
            if len(seen) > MAX_FILES:
                found.append(Crossing(path, ref.line, f"more than {MAX_FILES} included or extended files"))
                return found
            try:
                docs[target] = _load(read(target))
            except yaml.YAMLError as exc:
                reason = str(getattr(exc, "problem", "") or "not valid YAML")[:160]
                found.append(Crossing(path, ref.line, f"{ref.kind} {target}: {reason}; not handed to Compose"))
                continue
            except (OSError, ValueError) as exc:
                found.append(Crossing(path, ref.line, f"{ref.kind} {target}: {exc}; not handed to Compose"))
                continue
            # Paths in an included project are relative to its own folder; in an extended file, to that file.
            # The reset of env_file entries reaches services the project's own files name, not included ones.
            queue.append((target, posixpath.dirname(target), read_env_files or ref.kind == "include"))
    return found


def _judge(real_root: Path, ref: _Ref) -> tuple[str | None, str | None]:
    """Why Compose must not follow ``ref`` (or None), and the repository path it names."""
    value = str(ref.value)
    what = f"{ref.kind} {value!r}" if ref.kind != ".env" else f"the included project's .env ({ref.base or '.'})"
    if "://" in value or value.startswith("git@"):
        return f"{what} is a remote resource: not fetched, the project is not resolved", None
    if "$" in value or value.startswith("~"):
        return f"{what} is built from variables: cannot tell that it stays in the repository; not resolved", None
    full = Path(value) if posixpath.isabs(value) else real_root / _join(ref.base, value)
    try:
        real = Path(os.path.realpath(full))
    except (OSError, ValueError):
        return f"{what} cannot be resolved; not resolved", None
    if not real.is_relative_to(real_root):
        how = " through a symlink" if Path(os.path.normpath(full)).is_relative_to(real_root) else ""
        return f"{what} leaves the audited repository{how}: not read, the project is not resolved", None
    if real.exists() and not real.is_file() and not (ref.kind.endswith("project_directory") and real.is_dir()):
        return f"{what} is not a regular file: not read, the project is not resolved", None
    rel = real.relative_to(real_root).as_posix()
    return None, rel if real.is_file() else None


class _Loader(yaml_lines.LineLoader):  # type: ignore[misc, valid-type]
    """The bounded loader, reading Compose's ``!reset``/``!override`` tags as plain values."""


def _tagged(loader: Any, node: yaml.Node) -> Any:
    if isinstance(node, yaml.MappingNode):
        return yaml_lines._mapping(loader, node)
    if isinstance(node, yaml.SequenceNode):
        return yaml_lines._sequence(loader, node)
    return loader.construct_scalar(node)


_Loader.add_constructor("!reset", _tagged)
_Loader.add_constructor("!override", _tagged)


def _load(text: str) -> Any:
    return yaml.load(text, Loader=_Loader)


def reader(ctx: Any) -> Callable[[str], str]:
    """``read`` for ``crossings`` from a probe context: through the discovery layer (digests recorded)."""
    from .probe import ArtifactUnreadable
    from .safe_load import read_bounded

    def read(path: str) -> str:
        art = ctx.artifact(path)
        try:
            if art is None:  # inside the repository but not listed (excluded): Compose would still read it
                return read_bounded(ctx.root / path, MAX_UNLISTED_BYTES).decode("utf-8-sig")
            return ctx.read_text(art)
        except ArtifactUnreadable as exc:
            raise ValueError(str(exc)) from exc

    return read


def refused(ctx: Any, files: list[str], docs: dict[str, Any], production: bool, **kwargs: Any) -> bool:
    """Check a project's references for a probe: each crossing becomes ``error`` observations of the probe's
    checks on the file and line that wrote it (so nothing the project feeds can pass). True if any."""
    from .model import Subject

    found = crossings(ctx.root, files, docs, reader(ctx), **kwargs)
    for c in found:
        ctx.emitted.extend(ctx.errors(Subject(path=c.path, line=c.line), c.reason, production))
    return bool(found)


def describe(found: list[Crossing]) -> str:
    """One line for a caller that reports a single reason."""
    first = found[0]
    where = f"{first.path}:{first.line}" if first.line else first.path
    more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
    return f"{where}: {first.reason}{more}"


MAX_UNLISTED_BYTES = 2 * 1024 * 1024
