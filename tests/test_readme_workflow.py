"""The GitHub Actions job the README shows: a valid workflow that writes, uploads and posts what it says."""

from __future__ import annotations

import json
import re
from pathlib import Path

import check_jsonschema
import jsonschema
import yaml
from conftest import REPO

# SchemaStore's workflow schema (json.schemastore.org/github-workflow.json) as check-jsonschema ships it.
SCHEMA = Path(check_jsonschema.__file__).parent / "builtin_schemas" / "vendor" / "github-workflows.json"


def _workflow() -> dict:
    blocks = re.findall(r"```yaml\n(.*?)```", (REPO / "README.md").read_text(), re.S)
    [block] = [b for b in blocks if "upload-sarif" in b and "jobs:" in b]
    workflow = yaml.safe_load(block)
    if True in workflow:  # PyYAML reads the key `on` as YAML 1.1's boolean; GitHub reads it as a name
        workflow["on"] = workflow.pop(True)
    return workflow


def test_readme_job_is_a_valid_workflow():
    jsonschema.Draft7Validator(json.loads(SCHEMA.read_text())).validate(_workflow())


def test_readme_job_uploads_the_sarif_and_posts_the_markdown_it_writes():
    steps = _workflow()["jobs"]["readiness"]["steps"]
    audit = next(s["run"] for s in steps if "readiness audit" in s.get("run", ""))
    files = dict(re.findall(r"--format (\w+)=(\S+)", audit))
    upload = next(s for s in steps if s.get("uses", "").startswith("github/codeql-action/upload-sarif@"))
    assert upload["with"]["sarif_file"] == files["sarif"]
    posts = [s["run"] for s in steps if files["markdown"] in s.get("run", "")]
    assert any("$GITHUB_STEP_SUMMARY" in run for run in posts)
    assert any("gh pr comment" in run for run in posts)
    # the steps after the audit run even when its gate fails the job
    after = steps[steps.index(next(s for s in steps if s.get("run") == audit)) + 1 :]
    assert after and all(s["if"].startswith("always()") for s in after)
