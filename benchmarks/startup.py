"""Benchmark: start-up, `readiness --help` and an audit of an empty git repository.

    .venv/bin/python benchmarks/startup.py [--runs 7]

Each command runs ``--runs`` times in a fresh process, after one unmeasured run;
prints the minimum and median wall time and CPU time (user + system of the
child, from wait4). The minimum is the figure to compare on a shared machine.
Bytecode caching is on for the children, as in any installed copy, even when
this shell sets PYTHONDONTWRITEBYTECODE (compiling the sources again on every
run would add about 0.25 s).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

READINESS = [sys.executable, "-m", "readiness"]


ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def measure(args: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds of one run of ``args``."""
    start = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)
    _, _, usage = os.wait4(proc.pid, 0)
    return time.perf_counter() - start, usage.ru_utime + usage.ru_stime


def report(label: str, args: list[str], runs: int) -> None:
    measure(args)  # writes the bytecode caches
    walls, cpus = zip(*(measure(args) for _ in range(runs)), strict=True)
    print(
        f"{label:<28} wall min {min(walls):.3f} s, median {statistics.median(walls):.3f} s; "
        f"CPU min {min(cpus):.3f} s, median {statistics.median(cpus):.3f} s ({runs} runs)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="readiness-startup-") as tmp:
        empty = Path(tmp) / "empty"
        empty.mkdir()
        subprocess.run(["git", "init", "-q", str(empty)], check=True)
        report("python -c pass", [sys.executable, "-c", "pass"], opts.runs)
        report("readiness --help", [*READINESS, "--help"], opts.runs)
        report("readiness audit <empty repo>", [*READINESS, "audit", str(empty)], opts.runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
