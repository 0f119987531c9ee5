"""The JSON evidence bundle (schema: ``readiness/schema/evidence.schema.json``)."""

from __future__ import annotations

import json

from ..report import AuditReport, Gate
from .escape import json_safe


def render(report: AuditReport, gate: Gate, color: bool = False) -> str:
    return json.dumps(json_safe(report.to_json(gate)), indent=2, sort_keys=False, default=str) + "\n"
