"""Structured input read safely: size checked before parsing, structure bounded, duplicate keys refused.

Every file the audit parses may be hostile (an alias bomb, a million nested
brackets, a FIFO named like a config file) or ambiguous (a key written twice,
read last-wins by most parsers). The functions here are the one way to turn
such text into data: they raise ``yaml.YAMLError`` or ``ValueError``
subclasses whose messages name the line and the kind of problem, never a
value from the file, so callers can put them in reports and error messages.
See docs/security.md for the limits and why they were chosen.
"""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path
from typing import Any

import yaml

from . import yaml_lines
from .yaml_lines import DEFAULT_LIMITS, Limits, UnsafeYAML

__all__ = [
    "CONFIG_LIMITS",
    "DEFAULT_LIMITS",
    "JSON_MAX_DEPTH",
    "Limits",
    "UnsafeJSON",
    "UnsafeYAML",
    "describe_error",
    "load_json",
    "load_yaml",
    "load_yaml_all",
    "read_bounded",
]

# Configuration and attestation files are short and written by hand: tighter limits.
CONFIG_LIMITS = Limits(depth=32, aliases=100, alias_nodes=10_000)
CONFIG_MAX_BYTES = 1024 * 1024
JSON_MAX_DEPTH = 100


class UnsafeJSON(json.JSONDecodeError):
    """JSON too deep or with a duplicate key; a ``JSONDecodeError`` so existing handlers catch it."""


class InputUnreadable(OSError):
    """The file cannot be read safely (not a regular file, too large); the message says why."""


def read_bounded(path: Path, max_bytes: int) -> bytes:
    """The bytes of a regular file no larger than ``max_bytes``, checked before reading.

    FIFOs, sockets and devices are refused without being opened (opening a FIFO blocks);
    the size is checked on the open descriptor, so a file swapped after the check is caught too.
    """
    try:
        st = path.stat()
    except OSError as exc:
        raise InputUnreadable(f"cannot read: {exc.strerror or 'error'}") from exc
    if not stat.S_ISREG(st.st_mode):
        raise InputUnreadable("not a regular file; not opened")
    if st.st_size > max_bytes:
        raise InputUnreadable(f"too large ({st.st_size} bytes > {max_bytes})")
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except OSError as exc:
        raise InputUnreadable(f"cannot read: {exc.strerror or 'error'}") from exc
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
            raise InputUnreadable("not a regular file; not read")
        data = fh.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise InputUnreadable(f"too large (over {max_bytes} bytes)")
    return data


def load_yaml(text: str, limits: Limits = DEFAULT_LIMITS, loader: type = yaml_lines.LineLoader) -> Any:
    """One YAML document, lines kept on mappings and sequences, within ``limits``."""
    instance = loader(text)
    instance.limits = limits
    try:
        return instance.get_single_data()
    finally:
        instance.dispose()


def load_yaml_all(text: str, limits: Limits = DEFAULT_LIMITS, loader: type = yaml_lines.LineLoader) -> list[Any]:
    """Every YAML document of ``text``, each within ``limits``."""
    instance = loader(text)
    instance.limits = limits
    documents = []
    try:
        while instance.check_data():
            documents.append(instance.get_data())
        return documents
    finally:
        instance.dispose()


def _key_line(doc: str, key: str) -> tuple[int, int]:
    """Position of the last place ``key`` is written as an object key: the json module keeps no positions."""
    hits = list(re.finditer(re.escape(json.dumps(key)) + r"\s*:", doc))
    return (hits[-1].start(), len(hits)) if hits else (0, 0)


def load_json(text: str, max_depth: int = JSON_MAX_DEPTH) -> Any:
    """A JSON document with no key repeated in an object and at most ``max_depth`` levels of nesting."""

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in items:
            if key in out:
                pos, _ = _key_line(text, key)
                short = key if len(key) <= 60 else key[:57] + "..."
                raise UnsafeJSON(f"duplicate key {short!r}: the file is ambiguous", text, pos)
            out[key] = value
        return out

    try:
        data = json.loads(text, object_pairs_hook=pairs)
    except RecursionError:
        raise UnsafeJSON(f"nested deeper than {max_depth} levels", text, 0) from None
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        for child in children:
            if isinstance(child, (dict, list)):
                if depth + 1 > max_depth:
                    raise UnsafeJSON(f"nested deeper than {max_depth} levels", text, 0)
                stack.append((child, depth + 1))
    return data


def describe_error(exc: Exception) -> str:
    """One line for a parse error, with its line and the kind of problem, never the offending text."""
    if isinstance(exc, UnsafeJSON):
        return f"{exc.msg} (line {exc.lineno})" if exc.pos else exc.msg
    if isinstance(exc, json.JSONDecodeError):
        return f"not valid JSON at line {exc.lineno}: {exc.msg}"
    if isinstance(exc, UnsafeYAML):
        return str(exc)
    if isinstance(exc, yaml.YAMLError):
        line = yaml_lines.error_line(exc)
        problem = getattr(exc, "problem", None) or type(exc).__name__
        return f"not valid YAML at line {line}: {problem}" if line else f"not valid YAML: {problem}"
    if isinstance(exc, UnicodeDecodeError):
        return f"not UTF-8 text (byte {exc.start})"
    if isinstance(exc, OSError):
        return str(exc) if isinstance(exc, InputUnreadable) else f"cannot read: {exc.strerror or 'error'}"
    return type(exc).__name__
