"""Evidence stores for the tests: a SQLite file, and fresh databases on one real PostgreSQL server
(``postgres_service``: Debian's binaries on a free loopback port)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import psycopg
from postgres_service import PASSWORD, Postgres

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "fixtures"))
from make_repo import git, make_repo  # noqa: E402

READINESS = [sys.executable, "-m", "readiness"]


def postgres_database(server: Postgres, name: str) -> str:
    """Create database ``name`` on ``server``; its SQLAlchemy-free URL (the store adds the psycopg driver)."""
    with psycopg.connect(server.dsn, password=PASSWORD, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"postgresql://postgres:{PASSWORD}@127.0.0.1:{server.port}/{name}"


def audit_json(repo: Path, out: Path) -> Path:
    """A real audit of ``repo`` as the JSON evidence bundle, by the CLI in its own process."""
    done = subprocess.run(
        [*READINESS, "audit", str(repo), "--format", "json", "--output", str(out), "--fail-on", "none"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return out


def next_second() -> None:
    """Reports carry second-resolution times: let the next audit of a repository finish in a later second."""
    time.sleep(1.05 - (time.time() % 1.0))


def commit_change(repo: Path, path: str, old: str, new: str, message: str) -> str:
    target = repo / path
    text = target.read_text()
    assert old in text, f"{old!r} not in {path}"
    target.write_text(text.replace(old, new))
    git(repo, "commit", "-q", "-am", message)
    return git(repo, "rev-parse", "HEAD").strip()


def fixture_repo(name: str, dest: Path) -> Path:
    return make_repo(name, dest)


def cli_json(*args: str) -> dict:
    done = subprocess.run([*READINESS, *args, "--format", "json"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)
