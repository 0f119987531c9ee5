"""The JSON evidence bundle (schema: ``readiness/schema/evidence.schema.json``)."""

from __future__ import annotations

import io
import json

from ..report import AuditReport, Gate
from .base import RenderOptions, Reporter
from .escape import json_safe


class JsonReporter(Reporter):
    name = "json"
    extension = "json"
    description = "the auditors' evidence bundle (versioned schema, every observation)"

    def render(self, report: AuditReport, gate: Gate, options: RenderOptions) -> str:
        # Written chunk by chunk: json.dumps with indent joins a list of millions of small strings,
        # which for a 20,000-file tree took more memory than the whole audit before it.
        out = io.StringIO()
        encoder = json.JSONEncoder(indent=2, sort_keys=False, default=str)
        for chunk in encoder.iterencode(json_safe(report.to_json(gate))):
            out.write(chunk)
        out.write("\n")
        return out.getvalue()
