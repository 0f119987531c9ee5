"""Shared test helpers: real git repositories from the fixtures, and the CLI as a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
# The packs' source checklists, kept inside the project so a clone alone passes its tests.
CHECKLISTS = REPO / "policies" / "sources"
sys.path.insert(0, str(REPO / "fixtures"))

from hypothesis import settings  # noqa: E402
from make_repo import git, make_repo  # noqa: E402

# Property tests: a fixed seed and few examples in the normal run (the same examples every run, so CI is
# stable); `make fuzz` runs them with HYPOTHESIS_PROFILE=fuzz, random and many more.
settings.register_profile("ci", derandomize=True, max_examples=60, deadline=None)
settings.register_profile("fuzz", derandomize=False, max_examples=3000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(autouse=True)
def private_parse_cache(monkeypatch, tmp_path_factory):
    """Each test gets its own empty parse cache (readiness.cache), never the user's, also in subprocesses."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg-cache")))


@pytest.fixture
def fixture_repo(tmp_path):
    """``fixture_repo("insecure")`` -> a committed git repo with the fixture's untracked files and modes."""

    def make(name: str) -> Path:
        return make_repo(name, tmp_path / name)

    return make


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "readiness", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
    )


def audit_json(path: Path, *args: str) -> tuple[int, dict]:
    done = run_cli("audit", path, "--format", "json", *args)
    assert done.stdout, done.stderr
    return done.returncode, json.loads(done.stdout)


def item(report: dict, item_id: str) -> dict:
    return next(i for i in report["items"] if i["id"] == item_id)


__all__ = ["CHECKLISTS", "REPO", "audit_json", "git", "item", "run_cli"]
