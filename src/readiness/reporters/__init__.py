"""Report formats: one module per format behind one small interface (``base.Reporter``).

``REPORTERS`` is the only list of formats; the CLI reads it, ``outputs`` parses ``--format``
against it, and the tests loop over it. A reporter only renders; it never decides a verdict or
an exit code.
"""

from __future__ import annotations

from . import codequality, html, json_format, junit, markdown, sarif, text
from .base import RenderOptions, Reporter

REPORTERS: dict[str, Reporter] = {
    r.name: r
    for r in (
        text.TextReporter(),
        json_format.JsonReporter(),
        sarif.SarifReporter(),
        junit.JunitReporter(),
        markdown.MarkdownReporter(),
        html.HtmlReporter(),
        codequality.CodeQualityReporter(),
    )
}

__all__ = ["REPORTERS", "RenderOptions", "Reporter"]
