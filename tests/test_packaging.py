"""A built wheel installed into a fresh venv gives a working `readiness`; a foreign `hcl2` is caught before an audit."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest
from conftest import REPO

pytestmark = pytest.mark.slow


def test_wheel_install_ships_probes_policies_and_schemas(tmp_path, fixture_repo):
    """Build the wheel from a copy of the sources, install that file (not the folder), audit, then add Checkov's
    hcl2 fork to the same venv and see the audit stop with the fix instead of failing every .tf file."""
    src = tmp_path / "src-copy"
    src.mkdir()
    for part in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / part, src / part)
    for part in ("src", "probes", "policies"):
        shutil.copytree(REPO / part, src / part, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = str(venv / "bin/python")
    built = subprocess.run(
        [py, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(tmp_path / "dist"), str(src)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = (tmp_path / "dist").glob("readiness-*.whl")
    pip = subprocess.run(
        [py, "-m", "pip", "install", "--quiet", str(wheel)], capture_output=True, text=True, timeout=600
    )
    assert pip.returncode == 0, pip.stderr
    exe = venv / "bin/readiness"

    listed = subprocess.run([str(exe), "list", "--format", "json"], capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0, listed.stderr
    cat = json.loads(listed.stdout)
    assert sorted(len(p["items"]) for p in cat["packs"]) == [124, 141]
    assert {"secret_files", "compose"} <= {p["name"] for p in cat["probes"]}

    # the installed copy, not this checkout, is what runs
    where = subprocess.run(
        [
            str(venv / "bin/python"),
            "-c",
            "import readiness, readiness.probes.secret_files as p;print(readiness.__file__); print(p.__file__)",
        ],
        capture_output=True,
        text=True,
    )
    assert str(REPO) not in where.stdout and "site-packages" in where.stdout

    repo = fixture_repo("insecure")
    done = subprocess.run(
        [str(exe), "audit", str(repo), "--format", "json"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 1, done.stderr
    assert json.loads(done.stdout)["summary"]["items"] == 265

    # Checkov's fork writes the same top-level `hcl2` package; pip check sees nothing, readiness must.
    fork = subprocess.run(
        [py, "-m", "pip", "install", "--quiet", "--no-deps", "bc-python-hcl2==0.4.3"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert fork.returncode == 0, fork.stderr
    clashed = subprocess.run([str(exe), "audit", str(repo)], capture_output=True, text=True, timeout=120)
    assert clashed.returncode == 2, clashed.stderr
    assert "bc-python-hcl2" in clashed.stderr and "own environment" in clashed.stderr
    assert "pipx install" in clashed.stderr
    assert clashed.stdout == ""
