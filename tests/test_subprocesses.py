"""External programs run bounded: their whole process group dies on timeout, at SIGTERM/SIGINT of the audit."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from readiness import subprocesses

# A program that starts a grandchild in its group, says who is who, then hangs.
SPAWNER = """sleep 600 &
echo "$$ $!" > "$1.tmp" && mv "$1.tmp" "$1"
sleep 600
"""


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has already died
    except FileNotFoundError:
        return False


def wait_until(predicate, what: str, limit: float = 60.0) -> None:
    """Poll for an outcome that must come (not a timing assertion: the limit only stops a broken test)."""
    end = time.monotonic() + limit
    while not predicate():
        if time.monotonic() > end:
            raise AssertionError(f"still waiting for: {what}")
        time.sleep(0.05)


def pids(path: Path) -> list[int]:
    return [int(p) for p in path.read_text().split()]


def test_timeout_kills_the_program_and_its_grandchild(tmp_path):
    script, pidfile = tmp_path / "spawn.sh", tmp_path / "pids"
    script.write_text(SPAWNER)
    with pytest.raises(subprocess.TimeoutExpired):
        subprocesses.run(["sh", str(script), str(pidfile)], timeout=2)
    assert pidfile.exists()
    for pid in pids(pidfile):
        wait_until(lambda pid=pid: not alive(pid), f"process {pid} to die")
    assert not subprocesses._live


def test_finished_program_leaves_no_grandchild_behind(tmp_path):
    pidfile = tmp_path / "pids"
    done = subprocesses.run(["sh", "-c", 'sleep 600 & echo "$!" > "$0"', str(pidfile)], timeout=60)
    assert done.returncode == 0
    wait_until(lambda: not alive(pids(pidfile)[0]), "the grandchild to die")


def test_memory_cap_stops_a_program_that_grows(tmp_path):
    grow = "b = bytearray(1024 * 1024 * 1024); print('allocated')"
    done = subprocesses.run([sys.executable, "-c", grow], timeout=60, memory=256 * 1024 * 1024, text=True)
    assert done.returncode != 0 and "allocated" not in done.stdout and "MemoryError" in done.stderr
    fine = subprocesses.run([sys.executable, "-c", grow], timeout=60, text=True)
    assert fine.returncode == 0 and "allocated" in fine.stdout


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_stopping_the_audit_kills_the_program_it_started(tmp_path, signum):
    """The real CLI, with a `git` on PATH that hangs after starting a grandchild: discovery runs it first."""
    bin_dir, pidfile, repo = tmp_path / "bin", tmp_path / "pids", tmp_path / "repo"
    bin_dir.mkdir()
    repo.mkdir()
    fake_git = bin_dir / "git"
    fake_git.write_text("#!/bin/sh\n" + SPAWNER.replace('"$1', f'"{pidfile}'))
    fake_git.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    audit = subprocess.Popen(
        [sys.executable, "-m", "readiness", "audit", str(repo)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until(pidfile.exists, "the fake git to start")
        git_pid, grandchild = pids(pidfile)
        assert alive(git_pid) and alive(grandchild)
        audit.send_signal(signum)
        audit.wait(timeout=60)
    finally:
        if audit.poll() is None:
            audit.kill()
    assert audit.returncode != 0
    for pid in (git_pid, grandchild):
        wait_until(lambda pid=pid: not alive(pid), f"process {pid} to die")
