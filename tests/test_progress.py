"""Progress on a real pseudo-terminal: count and probe name on stderr; nothing off a terminal; NO_COLOR honoured."""

from __future__ import annotations

import os
import pty
import subprocess
import sys

from conftest import REPO

from readiness.probe import load_probes
from readiness.progress import DIM, ERASE_LINE, color_allowed


def _audit_with_stderr_on_a_pty(path, env_extra: dict[str, str]) -> tuple[subprocess.CompletedProcess, str]:
    master, slave = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    env.update(TERM="xterm", **env_extra)
    proc = subprocess.Popen(
        [sys.executable, "-m", "readiness", "audit", str(path), "--fail-on", "none"],
        stdout=subprocess.PIPE,
        stderr=slave,
        env=env,
        cwd=REPO,
    )
    os.close(slave)
    seen = bytearray()
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the child closed its end of the terminal
            break
        if not chunk:
            break
        seen += chunk
    out, _ = proc.communicate(timeout=300)
    os.close(master)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out.decode(), ""), seen.decode(errors="replace")


def test_progress_counts_probes_on_a_terminal(fixture_repo):
    repo = fixture_repo("hardened")
    total = len(load_probes())
    done, terminal = _audit_with_stderr_on_a_pty(repo, {})
    assert done.returncode == 0
    names = [p.name for p in load_probes()]
    assert f"[1/{total}] probe {names[0]}" in terminal
    assert f"[{total}/{total}] probe {names[-1]}" in terminal
    assert DIM in terminal  # styled when colour is allowed
    assert terminal.endswith(ERASE_LINE)  # the line is cleared before the report
    assert "[1/" not in done.stdout  # the report on stdout carries no progress


def test_no_color_keeps_the_count_and_drops_the_styling(fixture_repo):
    done, terminal = _audit_with_stderr_on_a_pty(fixture_repo("hardened"), {"NO_COLOR": "1"})
    assert done.returncode == 0
    assert "probe secret_files" in terminal and "/" in terminal
    assert DIM not in terminal


def test_nothing_extra_off_a_terminal(fixture_repo):
    done = subprocess.run(
        [sys.executable, "-m", "readiness", "audit", str(fixture_repo("hardened")), "--fail-on", "none"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0
    assert done.stderr == ""
    assert "\033[" not in done.stdout  # stdout is a pipe: no colour in the report either


def test_colour_rules_on_a_real_terminal_and_a_pipe():
    master, slave = pty.openpty()
    with os.fdopen(slave, "w") as tty:
        assert color_allowed(tty, {}) is True
        assert color_allowed(tty, {"NO_COLOR": "1"}) is False
        assert color_allowed(tty, {"NO_COLOR": ""}) is True  # no-color.org: only a non-empty value disables
        assert color_allowed(tty, {"TERM": "dumb"}) is False
    os.close(master)
    read, write = os.pipe()
    with os.fdopen(write, "w") as pipe:
        assert color_allowed(pipe, {}) is False
    os.close(read)
