"""The image_scan probe: scanners in CI, and Trivy, Grype and SARIF reports written by the tests."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest
from conftest import REPO

from readiness import runner
from readiness.config import Config
from readiness.model import Observation, Status, Strength

FIXTURES = REPO / "fixtures"
NOW = dt.datetime.now(dt.UTC)


@pytest.fixture(autouse=True)
def observations_only(monkeypatch):
    monkeypatch.setattr(runner, "planned_checks", dict)


def observe(root: Path, **settings) -> list[Observation]:
    config = Config(policies=(), probes={"image_scan": settings} if settings else {})
    return [o for o in runner.audit(root, config, policies=[]).observations if o.probe == "image_scan"]


def of(obs: list[Observation], check: str) -> list[Observation]:
    return sorted((o for o in obs if o.check == check), key=lambda o: (o.status, o.subject.path or ""))


def repo(tmp_path: Path) -> Path:
    shutil.copytree(FIXTURES / "image-scan-ci", tmp_path / "repo")
    return tmp_path / "repo"


def trivy(image: str, vulns: list[tuple[str, str, str | None]], days_old: int = 1) -> dict:
    return {
        "SchemaVersion": 2,
        "CreatedAt": (NOW - dt.timedelta(days=days_old)).isoformat(),
        "ArtifactName": image,
        "ArtifactType": "container_image",
        "Results": [
            {
                "Target": f"{image} (debian 12.7)",
                "Vulnerabilities": [
                    {"VulnerabilityID": vid, "PkgName": "openssl", "Severity": sev, "FixedVersion": fixed}
                    for vid, sev, fixed in vulns
                ],
            }
        ],
    }


def grype(image: str, severities: list[tuple[str, str]], days_old: int = 1) -> dict:
    return {
        "matches": [
            {
                "vulnerability": {"id": f"CVE-2026-{n:04d}", "severity": sev, "fix": {"state": state}},
                "artifact": {"name": "zlib"},
            }
            for n, (sev, state) in enumerate(severities)
        ],
        "source": {"type": "image", "target": {"userInput": image}},
        "descriptor": {"name": "grype", "timestamp": (NOW - dt.timedelta(days=days_old)).isoformat()},
    }


def write(root: Path, name: str, data: dict) -> None:
    (root / "scan-reports").mkdir(exist_ok=True)
    (root / "scan-reports" / name).write_text(json.dumps(data, indent=1))


def test_scanner_in_ci_and_clean_reports_for_every_production_image_pass(tmp_path):
    root = repo(tmp_path)
    write(root, "shop.json", trivy("registry.example.test/shop:1.8.2", [("CVE-2026-1", "HIGH", "3.0.15")]))
    write(root, "db.json", grype("postgres:16.4", [("Critical", "not-fixed"), ("Medium", "fixed")]))
    obs = observe(root)
    ci = of(obs, "image_scan.in_ci")
    assert [(o.status, o.subject.line) for o in ci] == [(Status.PASS, 11), (Status.PASS, 19)]
    clean = of(obs, "image_scan.no_critical_vulns")
    assert [o.status for o in clean] == [Status.PASS, Status.PASS]
    assert all(o.strength is Strength.TESTED for o in clean)
    db = next(o for o in clean if o.subject.name == "postgres:16.4")
    assert "1 critical without a fix yet" in db.message and db.facts["counts"] == {"CRITICAL": 1, "MEDIUM": 1}


def test_a_fixable_critical_fails_naming_it_and_the_newest_report_decides(tmp_path):
    root = repo(tmp_path)
    write(root, "shop-old.json", trivy("registry.example.test/shop:1.8.2", [], days_old=9))
    write(root, "shop-new.json", trivy("registry.example.test/shop:1.8.2", [("CVE-2026-0001", "CRITICAL", "3.0.16")]))
    write(root, "db.json", grype("postgres:16.4", []))
    bad = next(o for o in of(observe(root), "image_scan.no_critical_vulns") if o.status is Status.FAIL)
    assert bad.subject.path == "scan-reports/shop-new.json" and "CVE-2026-0001 in openssl" in bad.message


def test_a_stale_report_is_unknown_and_an_unscanned_image_is_named(tmp_path):
    root = repo(tmp_path)
    write(root, "shop.json", trivy("registry.example.test/shop:1.8.2", [], days_old=45))
    got = of(observe(root), "image_scan.no_critical_vulns")
    assert {o.status for o in got} == {Status.UNKNOWN}
    assert any("45 days old" in o.message for o in got)
    assert any("postgres:16.4" in o.message for o in got)  # no report for the database image
    strict = of(observe(root, max_age_days=60), "image_scan.no_critical_vulns")
    assert Status.PASS in {o.status for o in strict}


def test_sarif_reports_are_read_by_security_severity(tmp_path):
    root = repo(tmp_path)
    sarif = {
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "Trivy",
                        "rules": [{"id": "CVE-2026-7", "properties": {"security-severity": "9.8"}}],
                    }
                },
                "results": [
                    {
                        "ruleId": "CVE-2026-7",
                        "message": {
                            "text": "Package: libssl3\nFixed Version: 3.0.17\nImage: registry.example.test/shop:1.8.2"
                        },
                    }
                ],
            }
        ],
    }
    (root / "trivy-results.sarif").write_text(json.dumps(sarif))
    bad = [o for o in of(observe(root), "image_scan.no_critical_vulns") if o.status is Status.FAIL]
    assert len(bad) == 1 and bad[0].subject.name == "registry.example.test/shop:1.8.2"


def test_ci_that_builds_but_never_scans_fails(tmp_path):
    root = repo(tmp_path)
    workflow = root / ".github" / "workflows" / "build.yml"
    workflow.write_text(workflow.read_text().split("      - uses: aquasecurity")[0])
    (ci,) = of(observe(root), "image_scan.in_ci")
    assert ci.status is Status.FAIL and ci.subject.line == 8 and "no image scanner" in ci.message


def test_malformed_and_foreign_json(tmp_path):
    root = repo(tmp_path)
    (root / "scan-reports").mkdir()
    (root / "scan-reports" / "broken.json").write_text('{"Results": [')
    (root / "scan-reports" / "other.json").write_text('{"hello": "world"}')
    got = observe(root, reports=["scan-reports/other.json", "scan-reports/missing.json"])
    errors = {o.subject.path for o in got if o.status is Status.ERROR}
    assert errors == {"scan-reports/broken.json", "scan-reports/other.json", "scan-reports/missing.json"}


def test_trivy_in_file_system_mode_scans_no_image(tmp_path):
    wf = tmp_path / ".github" / "workflows" / "ci.yml"
    wf.parent.mkdir(parents=True)
    wf.write_text(
        "on: [push]\njobs:\n  scan:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - run: docker build -t app .\n"
        "      - uses: aquasecurity/trivy-action@0.28.0\n"
        "        with:\n          scan-type: fs\n          scan-ref: charts/\n"
    )
    assert [o.status for o in observe(tmp_path) if o.check == "image_scan.in_ci"] == [Status.FAIL]
