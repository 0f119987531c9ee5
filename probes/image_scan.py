"""Container image vulnerability scanning: run in CI for the images CI builds, and clean in the latest report.

Reports are read as the scanners write them: Trivy JSON (``Results[].Vulnerabilities[]``), Grype JSON
(``matches[]``) and SARIF from either (``security-severity`` 9.0 and up is critical). A report names its
image; the production images of the inventory (compose, Kubernetes) without a report are named as
unscanned. Reports kept in the repository are found by name; others are named in
``probes.image_scan.reports``.
"""

from __future__ import annotations

import datetime as dt
import json
import posixpath
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from readiness import safe_load, yaml_lines
from readiness.model import Artifact, Check, Observation, Status, Strength, Subject
from readiness.probe import ArtifactUnreadable, Claim, Probe, ProbeContext

IN_CI = Check(
    "image_scan.in_ci",
    "Vulnerability scan reports (Trivy, Grype, ...) are produced in CI for every production image",
    "An image is scanned when it is built or not at all; a scan nobody runs finds nothing.",
    "Add a Trivy, Grype or Docker Scout step after every image build in CI, failing on critical findings.",
)
NO_CRITICAL = Check(
    "image_scan.no_critical_vulns",
    "The latest vulnerability scan report of every production image has no critical (fixable) vulnerabilities",
    "A critical vulnerability with a fix available is the first thing an attacker tries.",
    "Rebuild on a patched base image or bump the affected packages, rescan, and keep the report.",
)
CHECKS = (IN_CI, NO_CRITICAL)

DEFAULT_MAX_AGE_DAYS = 30
SCANNER_ACTIONS = re.compile(
    r"\b(aquasecurity/trivy-action|anchore/scan-action|docker/scout-action|snyk/actions/docker|"
    r"aquasecurity/setup-trivy|crazy-max/ghaction-container-scan|azure/container-scan)\b"
)
# Trivy's action in file-system, repository or config mode scans no image.
NOT_AN_IMAGE = re.compile(r"\A[^\n]*\n(?:[ \t]+[^\n]*\n){0,8}?[ \t]+scan-type:\s*['\"]?(fs|config|repo|rootfs|sbom)\b")
SCANNER_COMMANDS = re.compile(r"\b(trivy\s+(?:image|i)\b|grype\b|docker\s+scout\s+cves|snyk\s+container\s+test)")
GITLAB_TEMPLATE = re.compile(r"Security/Container-Scanning|Jobs/Container-Scanning")
BUILDS = re.compile(r"\b(docker/build-push-action|docker\s+build\b|docker\s+buildx\s+build|buildah\s+bud|kaniko)")

CLAIMS = (
    Claim(("**/trivy*.json", "**/grype*.json", "*.sarif", "*.sarif.json", "**/scan-reports/**/*.json")),
    Claim(("**/vulnerability-reports/**/*.json", "**/security-reports/**/*.json")),
    Claim((".github/workflows/*.yml", ".github/workflows/*.yaml", ".gitlab-ci.yml")),
)


@dataclass
class Report:
    """One scanner report of one image."""

    path: str
    scanner: str
    image: str | None
    created: dt.datetime | None
    counts: dict[str, int] = field(default_factory=dict)
    fixable_critical: list[str] = field(default_factory=list)  # "CVE-... in pkg"
    unfixed_critical: int = 0


def _when(value: Any) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        when = dt.datetime.fromisoformat(value.replace("Z", "+00:00")[:32])
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def read_report(path: str, data: Any) -> Report | None:
    """A Trivy, Grype or SARIF report, or None when ``data`` is none of them."""
    if isinstance(data, dict) and "Results" in data and ("ArtifactName" in data or "SchemaVersion" in data):
        report = Report(path, "trivy", data.get("ArtifactName"), _when(data.get("CreatedAt")))
        for result in data.get("Results") or []:
            for v in (result or {}).get("Vulnerabilities") or []:
                _count(report, str(v.get("Severity", "UNKNOWN")), bool(v.get("FixedVersion")), v, "VulnerabilityID")
        return report
    if isinstance(data, dict) and "matches" in data:
        source = (data.get("source") or {}).get("target") or {}
        image = source.get("userInput") if isinstance(source, dict) else None
        report = Report(path, "grype", image, _when((data.get("descriptor") or {}).get("timestamp")))
        for match in data.get("matches") or []:
            vuln = (match or {}).get("vulnerability") or {}
            fixed = ((vuln.get("fix") or {}).get("state")) == "fixed"
            entry = {"id": vuln.get("id"), "PkgName": ((match or {}).get("artifact") or {}).get("name")}
            _count(report, str(vuln.get("severity", "Unknown")), fixed, entry, "id")
        return report
    if isinstance(data, dict) and "runs" in data and str(data.get("version", "")).startswith("2"):
        return _sarif(path, data)
    return None


def _count(report: Report, severity: str, fixable: bool, vuln: dict, id_key: str) -> None:
    sev = severity.upper()
    report.counts[sev] = report.counts.get(sev, 0) + 1
    if sev == "CRITICAL":
        if fixable:
            report.fixable_critical.append(f"{vuln.get(id_key)} in {vuln.get('PkgName') or '?'}")
        else:
            report.unfixed_critical += 1


def _sarif(path: str, data: dict) -> Report | None:
    runs = [r for r in data.get("runs") or [] if isinstance(r, dict)]
    if not runs:
        return None
    driver = (runs[0].get("tool") or {}).get("driver") or {}
    report = Report(path, str(driver.get("name", "sarif")).lower(), None, None)
    for run in runs:
        rules = {r.get("id"): r for r in ((run.get("tool") or {}).get("driver") or {}).get("rules") or []}
        for result in run.get("results") or []:
            rule = rules.get(result.get("ruleId"), {})
            score = (rule.get("properties") or {}).get("security-severity") or (result.get("properties") or {}).get(
                "security-severity"
            )
            try:
                severity = "CRITICAL" if float(score) >= 9.0 else "HIGH" if float(score) >= 7.0 else "OTHER"
            except (TypeError, ValueError):
                severity = "UNKNOWN"
            text = str((result.get("message") or {}).get("text", ""))
            fixable = "Fixed Version:" in text and not re.search(r"Fixed Version:\s*(\n|$)", text)
            _count(report, severity, fixable, {"id": result.get("ruleId"), "PkgName": None}, "id")
            image = re.search(r"Image:\s*(\S+)|Artifact:\s*(\S+)", text)
            if image and not report.image:
                report.image = image.group(1) or image.group(2)
    return report


def _same_image(reported: str | None, wanted: str) -> bool:
    if not reported:
        return False
    strip = lambda ref: ref.split("@")[0].removeprefix("docker.io/").removeprefix("library/")  # noqa: E731
    a, b = strip(reported), strip(wanted)
    return a == b or a.rsplit(":", 1)[0] == b.rsplit(":", 1)[0] and ":" not in b.rsplit("/", 1)[-1]


class ImageScanProbe(Probe):
    name = "image_scan"
    version = "0.1.0"
    kind = "static"
    description = (
        "Vulnerability scans of container images: a scanner in CI, and the latest report free of fixable criticals."
    )
    claims = CLAIMS
    checks = CHECKS
    existential_checks = frozenset({"image_scan.in_ci"})
    settings_schema = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "reports": {
                "type": "array",
                "items": {"type": "string"},
                "description": "scanner reports (Trivy/Grype JSON, SARIF) relative to the audited root",
            },
            "max_age_days": {"type": "integer", "minimum": 1},
        },
    }

    def run(self, ctx: ProbeContext) -> Iterator[Observation]:
        settings = ctx.settings or {}
        named = set(settings.get("reports") or [])
        workflows = [a for a in ctx.artifacts if a.path.startswith(".github/") or a.path.endswith(".gitlab-ci.yml")]
        report_files = [a for a in ctx.artifacts if a not in workflows]
        by_path = {a.path: a for a in ctx.all_artifacts}
        for path in sorted(named - {a.path for a in report_files}):
            if path in by_path:
                report_files.append(by_path[path])
            else:
                yield from ctx.errors(
                    Subject(path=path),
                    "named in probes.image_scan.reports but not in the repository",
                    checks=(NO_CRITICAL.id,),
                )
        reports: list[Report] = []
        for art in report_files:
            with ctx.guard(art):
                report = self._report(ctx, art)
                if report is None:
                    if art.path in named:
                        raise ArtifactUnreadable("neither a Trivy, a Grype nor a SARIF report")
                    continue
                reports.append(report)
        images = sorted({s.image for s in ctx.inventory.services if s.production and s.image})
        yield from self._in_ci(ctx, workflows, images)
        yield from self._no_critical(ctx, reports, images, int(settings.get("max_age_days", DEFAULT_MAX_AGE_DAYS)))

    @staticmethod
    def _report(ctx: ProbeContext, art: Artifact) -> Report | None:
        try:
            data = safe_load.load_json(ctx.read_text(art))
        except json.JSONDecodeError as exc:
            raise ArtifactUnreadable(f"JSON does not parse at line {exc.lineno}: {exc.msg}") from exc
        return read_report(art.path, data)

    def _in_ci(self, ctx: ProbeContext, workflows: list[Artifact], images: list[str]) -> Iterator[Observation]:
        scanning: list[tuple[Subject, str, str]] = []
        building: list[Subject] = []
        for art in workflows:
            with ctx.guard(art):
                text = ctx.read_text(art)
                yaml_lines.load_all(text)  # a workflow that does not parse is an error, not silence
                for pattern in (SCANNER_ACTIONS, SCANNER_COMMANDS, GITLAB_TEMPLATE):
                    for m in pattern.finditer(text):
                        if NOT_AN_IMAGE.search(text[m.start() : m.start() + 400]):
                            continue  # the scanner looks at files or config here, not at an image
                        line = text[: m.start()].count("\n") + 1
                        scanning.append((Subject(path=art.path, line=line), m.group(0), text))
                if m := BUILDS.search(text):
                    building.append(Subject(path=art.path, line=text[: m.start()].count("\n") + 1))
        if not scanning:
            if building:
                where = ", ".join(f"{s.path}:{s.line}" for s in building[:3])
                message = f"CI builds images ({where}) but runs no image scanner (Trivy, Grype, Docker Scout, Snyk)"
                yield ctx.observe(IN_CI.id, Status.FAIL, building[0], message)
            elif workflows:
                yield ctx.observe(IN_CI.id, Status.FAIL, Subject(path=workflows[0].path), "no image scanner in CI")
            else:
                yield ctx.observe(IN_CI.id, Status.UNKNOWN, Subject(), "no CI workflow in the repository to look at")
            return
        seen = set()
        for subject, tool, _text in scanning:
            if (subject.path, tool) in seen:
                continue
            seen.add((subject.path, tool))
            yield ctx.observe(IN_CI.id, Status.PASS, subject, f"CI runs {tool}", facts={"scanner": tool})
        texts = "\n".join({t for _, _, t in scanning})
        unscanned = [i for i in images if i.split("@")[0].rsplit(":", 1)[0].rsplit("/", 1)[-1] not in texts]
        if unscanned:
            message = f"production image(s) never named in a workflow that scans: {', '.join(unscanned[:5])}"
            yield ctx.observe(IN_CI.id, Status.UNKNOWN, Subject(), message, facts={"unscanned": unscanned})

    def _no_critical(
        self, ctx: ProbeContext, reports: list[Report], images: list[str], max_age: int
    ) -> Iterator[Observation]:
        now = ctx.now
        newest: dict[str, Report] = {}
        for r in reports:
            key = r.image or r.path
            current = newest.get(key)
            if current is None or (r.created or dt.datetime.min.replace(tzinfo=dt.UTC)) > (
                current.created or dt.datetime.min.replace(tzinfo=dt.UTC)
            ):
                newest[key] = r
        for _key, r in sorted(newest.items()):
            age = (now - r.created).days if r.created else None
            facts = {
                "scanner": r.scanner,
                "image": r.image,
                "counts": r.counts,
                "fixable_critical": r.fixable_critical[:20],
                "unfixed_critical": r.unfixed_critical,
                "age_days": age,
            }
            subject = Subject(path=r.path, line=1, name=r.image)
            what = f"{r.scanner} report of {r.image or posixpath.basename(r.path)}"
            if r.fixable_critical:
                listed = ", ".join(r.fixable_critical[:3])
                message = f"{what}: {len(r.fixable_critical)} critical vulnerabilities with a fix ({listed})"
                yield ctx.observe(NO_CRITICAL.id, Status.FAIL, subject, message, strength=Strength.TESTED, facts=facts)
            elif age is not None and age > max_age:
                message = f"{what} is {age} days old (limit {max_age}): rescan before relying on it"
                yield ctx.observe(NO_CRITICAL.id, Status.UNKNOWN, subject, message, facts=facts)
            else:
                note = f" ({r.unfixed_critical} critical without a fix yet)" if r.unfixed_critical else ""
                when = f", {age} days old" if age is not None else ", undated"
                message = f"{what}: no fixable critical vulnerability{note}{when}"
                yield ctx.observe(NO_CRITICAL.id, Status.PASS, subject, message, strength=Strength.TESTED, facts=facts)
        missing = [i for i in images if not any(_same_image(r.image, i) for r in reports)]
        if missing:
            message = f"no scan report for production image(s) {', '.join(missing[:5])}"
            yield ctx.observe(NO_CRITICAL.id, Status.UNKNOWN, Subject(), message, facts={"unscanned": missing})
        if not newest and not missing:
            message = "no vulnerability report in the repository or named in probes.image_scan.reports"
            yield ctx.observe(NO_CRITICAL.id, Status.UNKNOWN, Subject(), message)
