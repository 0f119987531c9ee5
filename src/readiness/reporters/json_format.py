"""The JSON evidence bundle (schema: ``readiness/schema/evidence.schema.json``)."""

from __future__ import annotations

import json

from ..report import AuditReport, Gate
from .base import RenderOptions, Reporter
from .escape import json_safe


class JsonReporter(Reporter):
    name = "json"
    extension = "json"
    description = "the auditors' evidence bundle (versioned schema, every observation)"

    def render(self, report: AuditReport, gate: Gate, options: RenderOptions) -> str:
        return json.dumps(json_safe(report.to_json(gate)), indent=2, sort_keys=False, default=str) + "\n"
