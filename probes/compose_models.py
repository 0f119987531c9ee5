"""Compose's resolved models, remembered in the parse cache: a repeat audit starts no Compose process.

A project's model is what ``docker compose config`` printed for it. The entry is
keyed by the sha256 of everything that output can depend on:

- the Compose binary (its path, size and modification time) and the probe's code
  that builds the command line (``compose.py``);
- the repository's absolute path (the model holds absolute paths) and ``PATH``
  (the only variable Compose is given);
- the bytes of the project's files, of the ``.env`` and example environment files
  beside them, and of every file they name where Compose reads one (``include``,
  ``extends.file``, ``label_file``, ``env_file``), followed through the YAML
  files so named.

A project that names such a file through a variable (``${BASE}/common.yml``), or
whose ``.env`` is not a regular file, is never cached: its inputs cannot be told
from the text. Models and Compose's deterministic rejections are cached;
timeouts and failures to start the binary are not.
"""

from __future__ import annotations

import functools
import hashlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from readiness import cache

PARSER = "compose-config"
FILE_KEYS = frozenset({"include", "extends", "file", "path", "label_file", "env_file", "project_directory"})
ENV_NAMES = (".env", ".env.example", "env.example", ".env.sample", "example.env", ".env.dist", "sample.env")
ENV_NAMES += (".env.template",)
MAX_FOLLOWED = 200  # files followed from one project: a bound against a hostile include graph
T = TypeVar("T")


class Uncacheable(Exception):
    """The project's inputs cannot all be named from its text."""


@functools.cache
def _version() -> str:
    code = Path(__file__).with_name("compose.py").read_bytes() + Path(__file__).read_bytes()
    return "1+" + hashlib.sha256(code).hexdigest()[:16]


def _named_files(doc: Any, parent: str | None = None) -> Iterator[str]:
    """Strings under the keys where Compose reads a file; raises ``Uncacheable`` when one holds a variable."""
    if isinstance(doc, dict):
        for key, value in doc.items():
            yield from _named_files(value, str(key) if isinstance(key, str) else parent)
    elif isinstance(doc, list):
        for value in doc:
            yield from _named_files(value, parent)
    elif isinstance(doc, str) and parent in FILE_KEYS:
        if "$" in doc:
            raise Uncacheable(doc)
        yield doc


def _regular(path: Path) -> bool:
    return path.is_file() and not path.is_symlink()


def key(binary: str, root: Path, files: list[str], docs: dict[str, Any], load: Callable[[str], Any]) -> bytes | None:
    """The bytes a project's model depends on (hashed by the cache), or None when they cannot be named."""
    root = root.resolve()
    st = os.stat(binary)
    parts: list[bytes] = [
        f"{binary}\0{st.st_size}\0{st.st_mtime_ns}\0{root}\0{os.environ.get('PATH', '')}".encode(),
        "\0".join(files).encode(),
    ]
    project = (root / files[0]).parent
    todo = [(root / f, docs.get(f)) for f in files]
    seen: set[Path] = set()
    try:
        while todo:
            path, doc = todo.pop(0)
            if path in seen:
                continue
            seen.add(path)
            if len(seen) > MAX_FOLLOWED:
                return None
            folder = path.parent
            parts.append(f"\0file\0{path}\0".encode() + path.read_bytes())
            for name in ENV_NAMES:
                env = folder / name
                if env.is_symlink() or (env.exists() and not env.is_file()):
                    return None  # compose.resolve refuses these, every time: nothing to remember
                if env.is_file():
                    parts.append(f"\0env\0{env}\0".encode() + env.read_bytes())
            if doc is None and path.suffix in (".yml", ".yaml"):
                doc = load(path.read_text(errors="replace"))
            for named in _named_files(doc):
                # Relative to the naming file's folder or to the project's: either may be what Compose reads.
                for target in dict.fromkeys((folder / named, project / named)):
                    if target.is_dir():
                        todo += [(target / n, None) for n in ("compose.yaml", "compose.yml") if (target / n).is_file()]
                    elif target.is_file():
                        todo.append((target, None) if target.suffix in (".yml", ".yaml") else (target, ""))
                    else:
                        parts.append(f"\0absent\0{target}".encode())
    except Uncacheable:
        return None
    except Exception:  # unreadable or malformed: Compose will say so; just do not remember it
        return None
    return b"".join(parts)


def cached(
    compute: Callable[[], T],
    keep: Callable[[T], bool],
    binary: str,
    root: Path,
    files: list[str],
    docs: dict[str, Any],
    load: Callable[[str], Any],
) -> T:
    """``compute()`` (one Compose run), or what it returned for the same inputs before, when ``keep`` said
    that result may be remembered."""
    if not cache.enabled():
        return compute()
    data = key(binary, root, files, docs, load)
    if data is None:
        return compute()
    hit, value = cache.get(PARSER, _version(), data)
    if hit:
        return value
    value = compute()
    if keep(value):
        cache.put(PARSER, _version(), data, value)
    return value
