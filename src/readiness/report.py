"""The audit's result as one object, and its JSON evidence form.

The JSON is what auditors keep: versioned (``schema/evidence.schema.json``),
deterministic (two runs on the same tree differ only in their timestamps),
and every verdict points at the observations behind it.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .attestations import AttestationFile
from .deployment import DeploymentMap
from .discovery import Discovery
from .drift import DriftReport
from .evaluate import CheckResult, gate_failures
from .inventory import Inventory
from .model import ItemVerdict, Observation, Severity, Status, VerdictStatus
from .policy import Pack
from .probe import Gap

if TYPE_CHECKING:
    from .baseline import Comparison
    from .waivers import Waivers

SCHEMA_VERSION = "1.1"  # 1.1: waivers, the waived status, the baseline comparison
SCHEMA_ID = "https://readiness.invalid/schema/evidence-v1.json"


@dataclass(frozen=True)
class ProbeRun:
    name: str
    version: str
    kind: str
    claimed: list[str]
    crashed: str | None = None


@dataclass(frozen=True)
class Gate:
    threshold: Severity | None
    require_attestations: bool
    failures: tuple[ItemVerdict, ...]
    new_only: bool = False  # --fail-on-new: failing items count only with a finding the baseline lacks

    @property
    def passed(self) -> bool:
        return not self.failures

    def to_json(self) -> dict[str, Any]:
        return {
            "fail_on": self.threshold.value if self.threshold else "none",
            "require_attestations": self.require_attestations,
            "fail_on_new": self.new_only,
            "passed": self.passed,
            "failing_items": [v.item_id for v in self.failures],
        }


@dataclass
class AuditReport:
    tool_version: str
    started: dt.datetime
    finished: dt.datetime
    discovery: Discovery
    digests: dict[str, str]
    packs: list[Pack]
    probes: list[ProbeRun]
    inventory: Inventory
    observations: list[Observation]
    verdicts: list[ItemVerdict]
    check_results: dict[str, CheckResult]
    attestations: AttestationFile | None
    config_source: str | None
    gaps: list[Gap] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    deployments: DeploymentMap | None = None
    attestation_signing: dict[str, Any] | None = None  # {required, keys: {role: [keyid]}}
    drift: DriftReport | None = None  # the repository's own checklists against the verdicts
    waivers: Waivers | None = None
    baseline: Comparison | None = None  # set by readiness.baseline when compared with a previous audit

    def gate(self, threshold: Severity | None, require_attestations: bool, new_only: bool = False) -> Gate:
        failures = gate_failures(self.verdicts, threshold, require_attestations)
        if new_only:
            if self.baseline is None:
                raise ValueError("--fail-on-new needs a baseline")
            new = self.baseline.items_with_new()
            # errored and unattested items still count: the baseline cannot vouch for what was not decided
            failures = [v for v in failures if v.item_id in new or v.errored or v.status is not VerdictStatus.FAIL]
        return Gate(threshold, require_attestations, tuple(failures), new_only)

    def item(self, item_id: str):
        for pack in self.packs:
            for item in pack.items:
                if item.id == item_id:
                    return pack, item
        raise KeyError(item_id)

    def summary(self) -> dict[str, Any]:
        by_status = Counter(v.status.value for v in self.verdicts)
        by_severity: dict[str, dict[str, int]] = {}
        for sev in Severity:
            counts = Counter(v.status.value for v in self.verdicts if v.severity is sev)
            by_severity[sev.value] = {s.value: counts.get(s.value, 0) for s in VerdictStatus}
        return {
            "items": len(self.verdicts),
            "by_status": {s.value: by_status.get(s.value, 0) for s in VerdictStatus},
            "by_severity": by_severity,
            "observations": len(self.observations),
            "errored_items": sum(1 for v in self.verdicts if v.errored),
            "waived_observations": sum(1 for o in self.observations if o.status is Status.WAIVED),
            "waiver_problems": len(self.waivers.problems()) if self.waivers else 0,
        }

    def to_json(self, gate: Gate) -> dict[str, Any]:
        d = self.discovery
        artifacts = []
        for a in d.artifacts:
            rec: dict[str, Any] = {
                "path": a.path,
                "size": a.size,
                "mode": f"{a.mode:04o}",
                "vcs": a.vcs.value,
                "production": a.production,
            }
            if a.path in self.digests:
                rec["sha256"] = self.digests[a.path]
            if a.skipped:
                rec["skipped"] = a.skipped
            artifacts.append(rec)
        return {
            "$schema": SCHEMA_ID,
            "schema_version": SCHEMA_VERSION,
            "tool": {"name": "readiness", "version": self.tool_version},
            "started": _ts(self.started),
            "finished": _ts(self.finished),
            "target": {
                "path": str(d.root),
                "git": {
                    "toplevel": d.git.toplevel,
                    "commit": d.git.commit,
                    "dirty": d.git.dirty,
                }
                if d.git
                else None,
                "config": self.config_source,
            },
            "packs": [
                {
                    "name": p.name,
                    "version": p.version,
                    "title": p.title,
                    "source": p.source,
                    "sha256": p.sha256,
                    "items": len(p.items),
                }
                for p in self.packs
            ],
            "probes": [
                {"name": r.name, "version": r.version, "kind": r.kind, "claimed": r.claimed, "crashed": r.crashed}
                for r in self.probes
            ],
            "coverage": {
                "notes": sorted(d.notes + self.notes),
                "excluded_files": d.excluded,
                "gaps": [g.to_json() for g in self.gaps],
            },
            "artifacts": artifacts,
            "inventory": self.inventory.to_json(),
            "deployments": self.deployments.to_json() if self.deployments else None,
            "observations": [
                {
                    "index": i,
                    "check": o.check,
                    "probe": o.probe,
                    "status": o.status.value,
                    "strength": o.strength.value,
                    "production": o.production,
                    "subject": o.subject.to_json(),
                    "message": o.message,
                    "facts": o.facts,
                }
                | ({"waiver": o.waiver} if o.waiver else {})
                for i, o in enumerate(self.observations)
            ],
            "checks": [
                {
                    "check": r.check,
                    "status": r.status.value,
                    "reason": r.reason,
                    "observations": list(r.observations),
                    "errored": r.errored,
                }
                for r in self.check_results.values()
            ],
            "items": [self._item_json(v) for v in self.verdicts],
            "attestations": {
                "file": self.attestations.path if self.attestations else None,
                "problem": self.attestations.problem if self.attestations else None,
                "signing": self.attestation_signing,
                "entries": [
                    a.to_json() | {"problem": a.problem}
                    for a in (self.attestations.entries if self.attestations else [])
                ],
            },
            "drift": self.drift.to_json() if self.drift else None,
            "waivers": self.waivers.to_json() if self.waivers else None,
            "baseline": self.baseline.to_json() if self.baseline else None,
            "summary": self.summary(),
            "gate": gate.to_json(),
        }

    def _item_json(self, v: ItemVerdict) -> dict[str, Any]:
        pack, item = self.item(v.item_id)
        return {
            "pack": v.pack,
            "id": v.item_id,
            "title": item.title,
            "section": {"id": item.section, "title": pack.section(item.section).title},
            "severity": v.severity.value,
            "decided_by": item.kind,
            "checks": sorted(set(item.evidence.checks())) if item.evidence else [],
            "status": v.status.value,
            "reason": v.reason,
            "strength": v.strength.value if v.strength else None,
            "min_strength": item.min_strength.value if item.min_strength else None,
            "errored": v.errored,
            "observations": list(v.observations),
            "attestation": v.attestation,
            "waiver": v.waiver,
        }


def _ts(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
