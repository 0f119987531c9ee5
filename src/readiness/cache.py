"""A content-addressed cache of parse results, shared by audits of any tree on this machine.

An entry is keyed by the sha256 of the parsed bytes and by the parser (its name
and a version string that changes whenever its output could): an unchanged file
is parsed once, whichever repository or commit it is in, and a changed one simply
misses. It lives in ``$XDG_CACHE_HOME/readiness`` (``~/.cache/readiness``), is
safe to delete at any time, and is kept under ``MAX_BYTES`` by removing the
least recently used entries. ``readiness audit --no-cache`` (or
``READINESS_NO_CACHE=1``) neither reads nor writes it.

Entries are pickles: only this user's cache directory (created 0700) is ever
read, and an entry that does not load is treated as a miss and removed.
"""

from __future__ import annotations

import collections
import contextlib
import hashlib
import os
import pickle
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

MAX_BYTES = 256 * 1024 * 1024
T = TypeVar("T")


@dataclass
class Stats:
    hits: int = 0
    misses: int = 0
    writes: int = 0


STATS: collections.defaultdict[str, Stats] = collections.defaultdict(Stats)  # per parser, this process
_disabled = False


def disable(disabled: bool = True) -> None:
    """Turn the cache off (``--no-cache``) or back on for this process."""
    global _disabled
    _disabled = disabled


def enabled() -> bool:
    return not _disabled and os.environ.get("READINESS_NO_CACHE", "") in ("", "0")


def directory() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "readiness"


def _entry(parser: str, version: str, data: bytes) -> Path:
    key = hashlib.sha256(hashlib.sha256(data).digest() + f"\0{parser}\0{version}".encode()).hexdigest()
    return directory() / "parse" / parser / key[:2] / key


def get(parser: str, version: str, data: bytes) -> tuple[bool, Any]:
    """``(True, value)`` when ``data`` was parsed by this parser version before, else ``(False, None)``."""
    if not enabled():
        return False, None
    path = _entry(parser, version, data)
    try:
        with open(path, "rb") as fh:
            value = pickle.load(fh)
    except FileNotFoundError:
        STATS[parser].misses += 1
        return False, None
    except Exception:  # a truncated or foreign file: drop it, parse again
        STATS[parser].misses += 1
        with contextlib.suppress(OSError):
            path.unlink()
        return False, None
    with contextlib.suppress(OSError):
        os.utime(path)  # recently used: kept longest when the cache is pruned
    STATS[parser].hits += 1
    return True, value


def put(parser: str, version: str, data: bytes, value: Any) -> None:
    """Store ``value`` as what this parser version makes of ``data`` (atomically; errors ignored)."""
    if not enabled():
        return
    path = _entry(parser, version, data)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        directory().chmod(0o700)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        with os.fdopen(fd, "wb") as fh:
            pickle.dump(value, fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
        STATS[parser].writes += 1
    except (OSError, pickle.PicklingError):
        with contextlib.suppress(OSError, UnboundLocalError):
            os.unlink(tmp)


def cached_map(
    parser: str,
    version: str,
    func: Callable[[list[str]], list[T]],
    texts: list[str],
    keep: Callable[[T], bool] = lambda _value: True,
) -> list[T]:
    """``func(texts)``, computing only the texts this parser version has not seen; results in order.
    A result ``keep`` refuses (a parse cut by the time budget) is not stored."""
    if not enabled():
        return func(texts)
    results: list[Any] = [None] * len(texts)
    todo: list[int] = []
    for i, text in enumerate(texts):
        hit, value = get(parser, version, text.encode())
        if hit:
            results[i] = value
        else:
            todo.append(i)
    if todo:
        for i, value in zip(todo, func([texts[i] for i in todo]), strict=True):
            results[i] = value
            if keep(value):
                put(parser, version, texts[i].encode(), value)
        prune()
    return results


def _entries(root: Path) -> Iterable[tuple[float, int, Path]]:
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            path = Path(dirpath, name)
            with contextlib.suppress(OSError):
                st = path.stat()
                yield st.st_mtime, st.st_size, path


def prune(max_bytes: int = MAX_BYTES) -> None:
    """Remove the least recently used entries until the cache holds at most ``max_bytes``."""
    entries = sorted(_entries(directory() / "parse"))
    total = sum(size for _, size, _ in entries)
    for _, size, path in entries:
        if total <= max_bytes:
            break
        with contextlib.suppress(OSError):
            path.unlink()
            total -= size
