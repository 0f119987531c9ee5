"""action.yml: valid against the action metadata schema, and its `run:` steps run here as a runner runs them.

The runner's part is played by a few lines below: each step's script goes to `bash --noprofile --norc -eo pipefail`
(GitHub's bash), with its `env:` expressions substituted, a fresh GITHUB_OUTPUT per step, and GITHUB_ENV and
GITHUB_PATH carried to later steps. Steps that `uses:` another action are not run; their `with:` values are
resolved and checked (the file they would upload exists).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import check_jsonschema
import jsonschema
import pytest
import yaml
from conftest import REPO

pytestmark = pytest.mark.slow

EXPRESSION = re.compile(r"\$\{\{\s*(.+?)\s*\}\}")
# The action metadata schema SchemaStore publishes (json.schemastore.org/github-action.json), as the
# check-jsonschema package ships it: read from the installed test dependency, not copied here.
SCHEMA = Path(check_jsonschema.__file__).parent / "builtin_schemas" / "vendor" / "github-actions.json"


def _action() -> dict:
    return yaml.safe_load((REPO / "action.yml").read_text())


def test_action_yml_is_valid_action_metadata():
    schema = json.loads(SCHEMA.read_text())
    assert schema["$id"] == "https://json.schemastore.org/github-action.json"
    action = _action()
    jsonschema.Draft7Validator(schema).validate(action)
    assert action["runs"]["using"] == "composite"
    uses = [s["uses"].split("@")[0] for s in action["runs"]["steps"] if "uses" in s]
    assert {"github/codeql-action/upload-sarif", "actions/upload-artifact"} <= set(uses)
    for step in action["runs"]["steps"]:
        if "run" in step:
            assert "${{" not in step["run"], f"{step['name']}: inputs reach scripts through env only"


def _substitute(text: str, inputs: dict[str, str], outputs: dict[str, dict[str, str]]) -> str:
    def value(match: re.Match) -> str:
        expr = match.group(1)
        if expr.startswith("inputs."):
            return inputs[expr.removeprefix("inputs.")]
        step, _, name = expr.removeprefix("steps.").partition(".outputs.")
        return outputs.get(step, {}).get(name, "")

    return EXPRESSION.sub(value, text)


def _read_pairs(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    return {k: v for k, v in pairs}


class Runner:
    """The parts of a GitHub runner a composite action's shell steps see."""

    def __init__(self, tmp: Path, action_path: Path | str, workspace: Path) -> None:
        self.temp = tmp / "runner-temp"
        self.temp.mkdir(exist_ok=True)
        self.summary = tmp / "step-summary.md"
        self.summary.write_text("")
        self.env_file = tmp / "github-env"
        self.path_file = tmp / "github-path"
        self.env = {
            "PATH": os.environ["PATH"],
            "HOME": os.environ.get("HOME", str(tmp)),
            "RUNNER_TEMP": str(self.temp),
            "GITHUB_ACTION_PATH": str(action_path),
            "GITHUB_WORKSPACE": str(workspace),
            "GITHUB_STEP_SUMMARY": str(self.summary),
            "GITHUB_ENV": str(self.env_file),
            "GITHUB_PATH": str(self.path_file),
        }
        self.workspace = workspace
        self.outputs: dict[str, dict[str, str]] = {}

    def run_steps(
        self, steps: list[dict], inputs: dict[str, str]
    ) -> list[tuple[dict, int, subprocess.CompletedProcess]]:
        """Run the shell steps in order until one fails; returns (step, exit code) for those run."""
        ran = []
        for i, step in enumerate(steps):
            if "uses" in step:
                continue
            out_file = self.temp.parent / f"github-output-{i}"
            out_file.write_text("")
            for f in (self.env_file, self.path_file):
                f.touch()
            env = dict(self.env)
            env.update(_read_pairs(self.env_file))
            extra_path = [p for p in self.path_file.read_text().splitlines() if p]
            env["PATH"] = os.pathsep.join([*reversed(extra_path), env["PATH"]])
            env["GITHUB_OUTPUT"] = str(out_file)
            for k, v in step.get("env", {}).items():
                env[k] = _substitute(str(v), inputs, self.outputs)
            done = subprocess.run(
                ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
                cwd=self.workspace,
                env=env,
                capture_output=True,
                text=True,
                timeout=900,
            )
            if step.get("id"):
                self.outputs[step["id"]] = _read_pairs(out_file)
            ran.append((step, done.returncode, done))
            if done.returncode != 0:
                break
        return ran


@pytest.fixture(scope="module")
def action_checkout(tmp_path_factory) -> Path:
    """What `uses: owner/readiness@ref` checks out: the repository's files the install needs."""
    root = tmp_path_factory.mktemp("action") / "readiness"
    root.mkdir()
    for part in ("pyproject.toml", "README.md", "action.yml"):
        shutil.copy(REPO / part, root / part)
    for part in ("src", "probes", "policies"):
        shutil.copytree(REPO / part, root / part, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    return root


def _inputs(**given: str) -> dict[str, str]:
    values = {k: v.get("default", "") for k, v in _action()["inputs"].items()}
    values.update(given)
    return values


def _shell_steps(after_install: bool) -> list[dict]:
    steps = [s for s in _action()["runs"]["steps"] if "run" in s]
    assert steps[0]["name"].startswith("Install readiness")
    return steps[1:] if after_install else steps[:1]


@pytest.fixture(scope="module")
def installed(tmp_path_factory, action_checkout) -> Runner:
    """The install step, run once: a runner whose GITHUB_ENV and GITHUB_PATH later steps inherit."""
    tmp = tmp_path_factory.mktemp("install")
    runner = Runner(tmp, action_checkout, tmp)
    ((_, code, done),) = runner.run_steps(_shell_steps(after_install=False), _inputs())
    assert code == 0, done.stderr
    return runner


def _runner_after(installed: Runner, tmp: Path, workspace: Path) -> Runner:
    runner = Runner(tmp, installed.env["GITHUB_ACTION_PATH"], workspace)
    shutil.copy(installed.env_file, runner.env_file)
    shutil.copy(installed.path_file, runner.path_file)
    return runner


def test_install_step_puts_readiness_in_its_own_venv(installed):
    readiness = _read_pairs(installed.env_file)["READINESS"]
    assert readiness.startswith(str(installed.temp)) and Path(readiness).is_file()
    assert installed.path_file.read_text().strip() == str(Path(readiness).parent)
    version = subprocess.run([readiness, "--version"], capture_output=True, text=True)
    assert version.returncode == 0 and "readiness" in version.stdout


def test_action_steps_audit_a_repository_and_gate(tmp_path, installed, fixture_repo):
    runner = _runner_after(installed, tmp_path, fixture_repo("insecure"))
    inputs = _inputs(policies="production-deployment", **{"fail-on": "high"})
    ran = runner.run_steps(_shell_steps(after_install=True), inputs)
    assert [s["name"] for s, _, _ in ran] == ["Audit", "Gate"]
    (_, audit_code, audit), (_, gate_code, gate) = ran
    assert audit_code == 0, audit.stderr  # the audit step records the gate; the Gate step enforces it
    out = runner.outputs["audit"]
    assert out["exit-code"] == "1"
    evidence = json.loads(Path(out["evidence"]).read_text())
    assert [p["name"] for p in evidence["packs"]] == ["production-deployment"]
    assert evidence["gate"]["passed"] is False
    assert gate_code == 1 and "the gate failed" in gate.stdout

    summary = runner.summary.read_text()
    readiness = _read_pairs(runner.env_file)["READINESS"]
    help_text = subprocess.run([readiness, "audit", "--help"], capture_output=True, text=True).stdout
    if "markdown" in help_text:
        assert summary.lstrip().startswith("#") and "```text" not in summary
    else:  # the fallback until the markdown reporter is merged: the text report, fenced
        assert summary.startswith("## readiness audit\n\n```text\n") and summary.rstrip().endswith("```")
        assert "FAIL" in summary.upper() and "production-deployment" in summary

    # the artifact step would upload the evidence file that exists; no SARIF was asked for
    steps = _action()["runs"]["steps"]
    keep = next(s for s in steps if s.get("uses", "").startswith("actions/upload-artifact"))
    assert Path(_substitute(keep["with"]["path"], inputs, runner.outputs)).is_file()
    assert "sarif" not in out

    # fail-on none: the same repository passes the gate, and the summary is appended to, not replaced
    ran = runner.run_steps(_shell_steps(after_install=True), _inputs(**{"fail-on": "none"}))
    assert [code for _, code, _ in ran] == [0, 0], [r[2].stderr for r in ran]
    assert runner.outputs["audit"]["exit-code"] == "0"
    assert runner.summary.read_text().startswith(summary) and len(runner.summary.read_text()) > len(summary)


def test_action_stops_on_a_usage_error_without_a_summary(tmp_path, installed, fixture_repo):
    runner = _runner_after(installed, tmp_path, fixture_repo("hardened"))
    ran = runner.run_steps(_shell_steps(after_install=True), _inputs(policies="no-such-pack"))
    ((_, code, audit),) = ran
    assert code == 2 and "no-such-pack" in audit.stderr
    assert runner.outputs["audit"]["exit-code"] == "2"
    assert runner.summary.read_text() == ""
