"""The JSON evidence bundle (schema: ``readiness/schema/evidence.schema.json``)."""

from __future__ import annotations

import io
import json
from typing import TextIO

from ..report import AuditReport, Gate
from .base import RenderOptions, Reporter
from .escape import json_safe


class JsonReporter(Reporter):
    name = "json"
    extension = "json"
    description = "the auditors' evidence bundle (versioned schema, every observation)"

    def render(self, report: AuditReport, gate: Gate, options: RenderOptions) -> str:
        out = io.StringIO()
        self.write_to(out, report, gate, options)
        return out.getvalue()

    def write_to(self, out: TextIO, report: AuditReport, gate: Gate, options: RenderOptions) -> None:
        """The report, chunk by chunk: json.dumps with indent joins a list of millions of small strings,
        and a report rendered whole before it is written is held twice (for 50,000 files, hundreds of MB)."""
        encoder = json.JSONEncoder(indent=2, sort_keys=False, default=str)
        buffer: list[str] = []
        size = 0
        for chunk in encoder.iterencode(json_safe(report.to_json(gate))):
            buffer.append(chunk)
            size += len(chunk)
            if size > 1 << 20:
                out.write("".join(buffer))
                buffer, size = [], 0
        buffer.append("\n")
        out.write("".join(buffer))
