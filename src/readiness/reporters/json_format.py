"""The JSON evidence bundle (schema: ``readiness/schema/evidence.schema.json``)."""

from __future__ import annotations

import io
import json

from ..report import AuditReport, Gate


def render(report: AuditReport, gate: Gate, color: bool = False) -> str:
    # Written chunk by chunk: json.dumps with indent joins a list of millions of small strings,
    # which for a 20,000-file tree took more memory than the whole audit before it.
    out = io.StringIO()
    for chunk in json.JSONEncoder(indent=2, sort_keys=False, default=str).iterencode(report.to_json(gate)):
        out.write(chunk)
    out.write("\n")
    return out.getvalue()
