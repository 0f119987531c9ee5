"""The pre-commit hooks, run by the real `pre-commit try-repo` against temporary git repositories."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import REPO, git

pytestmark = pytest.mark.slow

# Built at run time so no credential-shaped string sits in this repository.
AWS_KEY = "AKIA" + "IOSFODNN7" + "Q2XMPL3"


def test_hooks_file_declares_both_hooks():
    hooks = {h["id"]: h for h in yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())}
    assert hooks["readiness-secrets"]["entry"] == "readiness secrets"
    assert hooks["readiness-audit"]["pass_filenames"] is False


@pytest.fixture(scope="module")
def hook_repo(tmp_path_factory) -> Path:
    """This project as pre-commit would clone it: a git repository with the hooks file committed."""
    root = tmp_path_factory.mktemp("hooks") / "readiness"
    root.mkdir()
    for part in ("pyproject.toml", "README.md", ".pre-commit-hooks.yaml"):
        shutil.copy(REPO / part, root / part)
    for part in ("src", "probes", "policies"):
        shutil.copytree(REPO / part, root / part, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "hooks")
    return root


@pytest.fixture(scope="module")
def pre_commit_home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("pre-commit-home")  # the hook venv is built once for the module


def _try_repo(hook_repo: Path, home: Path, target: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PRE_COMMIT_HOME": str(home), "NO_COLOR": "1"}
    return subprocess.run(
        [sys.executable, "-m", "pre_commit", "try-repo", str(hook_repo), *args, "--color", "never"],
        cwd=target,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


def test_secrets_hook_stops_a_staged_credential(tmp_path, hook_repo, pre_commit_home):
    target = tmp_path / "app"
    target.mkdir()
    git(target, "init", "-q")
    (target / "settings.py").write_text(f'AWS_ACCESS_KEY_ID = "{AWS_KEY}"\n')
    (target / "clean.py").write_text("TIMEOUT = 5\n")
    git(target, "add", "settings.py", "clean.py")

    found = _try_repo(hook_repo, pre_commit_home, target, "readiness-secrets")
    assert found.returncode == 1, found.stdout + found.stderr
    assert "settings.py:1: aws-access-key-id" in found.stdout
    assert AWS_KEY not in found.stdout and "clean.py" not in found.stdout

    # a reasoned inline waiver lets the commit through
    (target / "settings.py").write_text(f'AWS_ACCESS_KEY_ID = "{AWS_KEY}"  # readiness:ignore documented test key\n')
    git(target, "add", "settings.py")
    waived = _try_repo(hook_repo, pre_commit_home, target, "readiness-secrets")
    assert waived.returncode == 0, waived.stdout + waived.stderr
    assert "Passed" in waived.stdout


def test_audit_hook_gates_the_repository(fixture_repo, hook_repo, pre_commit_home):
    hardened = fixture_repo("hardened")
    passed = _try_repo(hook_repo, pre_commit_home, hardened, "readiness-audit")
    assert passed.returncode == 0, passed.stdout[-3000:] + passed.stderr
    insecure = fixture_repo("insecure")
    failed = _try_repo(hook_repo, pre_commit_home, insecure, "readiness-audit")
    assert failed.returncode == 1, failed.stdout[-3000:] + failed.stderr
    assert "gate" in failed.stdout.lower() and "Failed" in failed.stdout
