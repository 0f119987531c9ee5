"""Report formats: one module per format, each a function from a report to text.

A reporter only renders; it never decides a verdict or an exit code.
"""

from __future__ import annotations

from collections.abc import Callable

from ..report import AuditReport, Gate
from . import json_format, text

Reporter = Callable[[AuditReport, Gate, bool], str]

REPORTERS: dict[str, Reporter] = {
    "text": text.render,
    "json": json_format.render,
}
