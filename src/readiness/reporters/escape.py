"""Untrusted text made safe for every report format.

File names, messages and evidence come from the audited repository and the
systems it names, so they may hold terminal escapes (which recolour, hide or
rewrite a CI log), carriage returns, bidirectional overrides, or bytes that
are not UTF-8 (file names are read with ``surrogateescape``). Reporters pass
such text through these functions; a new reporter should too.
"""

from __future__ import annotations

import re
from typing import Any

# C0 and C1 controls but tab, DEL, zero-width and bidirectional formatting characters, and the lone
# surrogates that stand for undecodable bytes.
_SURROGATE = re.compile("[\ud800-\udfff]")
_UNSAFE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def _escape_char(match: re.Match[str]) -> str:
    char = match.group(0)
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # an undecodable byte, as surrogateescape keeps it
        return f"\\x{code - 0xDC00:02x}"
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}"


def text(value: str) -> str:
    """``value`` with every control, formatting and undecodable character shown as a visible escape
    (ESC becomes ``\\x1b``, a newline ``\\x0a``): one line, printed as is, changes nothing on a terminal."""
    return _UNSAFE.sub(_escape_char, value)


def json_safe(value: Any) -> Any:
    """``value`` (JSON-ready data) with strings that hold undecodable bytes made valid Unicode
    (``\\xff`` written out), so the JSON is valid UTF-8 whatever the file names were."""
    if isinstance(value, str):
        return _SURROGATE.sub(_escape_char, value) if _SURROGATE.search(value) else value
    # Containers are copied only when something inside changed: a large report is not held twice.
    if isinstance(value, dict):
        items = [(json_safe(k), json_safe(v)) for k, v in value.items()]
        if all(k is k0 and v is v0 for (k, v), (k0, v0) in zip(items, value.items(), strict=True)):
            return value
        return dict(items)
    if isinstance(value, (list, tuple)):
        safe = [json_safe(v) for v in value]
        if isinstance(value, list) and all(a is b for a, b in zip(safe, value, strict=True)):
            return value
        return safe
    return value
