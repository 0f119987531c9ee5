"""Benchmark: a full static audit of generated monorepos, readiness against Checkov, and readiness's scaling.

    .venv/bin/python benchmarks/monorepo.py [--sizes 1000 5000 20000 50000] [--checkov-max 5000]
                                            [--checkov EXE | --no-checkov] [--keep DIR] [--repeat 3]
                                            [--checkov-repeat 1] [--jobs N]

Generates (seeded, so every run audits the same bytes; see monorepo_tree.py)
the base monorepo (about 2,800 files: 50 Compose files, 180 Kubernetes
manifests, 90 .tf files, 11 workflows, nginx / PostgreSQL / Redis / monitoring
configs, 300 Markdown documents, 2,000 source files) and trees of the same mix
at each ``--sizes``, each a git repository. Then, tree by tree, it runs
``readiness audit`` (all probes, JSON report) and Checkov (all its frameworks,
JSON report, from its own virtualenv under bench-out/) in separate processes
and prints wall time, CPU time (user + system, the child and every process it
waited for, from wait4) and peak resident memory (the largest single process
of the tree, ru_maxrss), the Checkov/readiness ratios, and readiness's
scaling: CPU per 1,000 files at each size against the smallest. On the base
monorepo it also times a repeat audit (parse cache warm) and an audit after a
one-file change to a .tf file; the cache starts empty (its own
XDG_CACHE_HOME under the work folder). ``--repeat`` runs the monorepo's cold
(a fresh cache each time) and warm audits that many times and prints each run
and the median; ``--checkov-repeat`` does the same for Checkov there. Every
row ends with the load average at its end: the machine may be shared. With
``--keep DIR``, trees already generated there (a git repository of the same
name) are reused.

Peak memory: a child's ru_maxrss also counts what it inherited from this
process before exec, so the trees are generated in a separate process and this
one stays small (its own peak is printed as the floor below which a figure
means nothing). Checkov runs on the monorepo and on the other trees up to ``--checkov-max`` files (it
takes minutes per thousand files). Bytecode caching is on for the children, as in an installed
copy, even when the shell sets PYTHONDONTWRITEBYTECODE.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import venv
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from monorepo_tree import BASE, generate  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "bench-out"
CHECKOV_VERSION = "3.3.30"
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


@dataclass
class Run:
    wall: float
    cpu: float
    peak_mib: float
    code: int


def measure(args: list[str], env: dict[str, str] | None = None) -> Run:
    start = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env or ENV)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    return Run(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status))


def checkov_binary(given: str | None) -> Path:
    if given:
        return Path(given)
    env = OUT / "checkov-venv"
    exe = env / "bin" / "checkov"
    if not exe.exists():
        print(f"installing checkov {CHECKOV_VERSION} into {env} (first run only)", file=sys.stderr)
        venv.create(env, with_pip=True)
        subprocess.run([env / "bin" / "pip", "install", "--quiet", f"checkov=={CHECKOV_VERSION}"], check=True)
    return exe


JOBS: list[str] = []  # --jobs N, passed on to readiness


def readiness(tree: Path, report: Path, cache: Path) -> Run:
    args = [sys.executable, "-m", "readiness", "audit", str(tree), "--format", "json", "-o", str(report), *JOBS]
    return measure(args, {**ENV, "XDG_CACHE_HOME": str(cache)})


def checkov(exe: Path, tree: Path, report: Path) -> Run:
    args = [str(exe), "-d", str(tree), "--quiet", "--compact", "-o", "json", "--output-file-path", str(report)]
    return measure([*args, "--skip-download", "--download-external-modules", "false"])


def generate_apart(path: Path, scale: float, reuse: bool = False) -> int:
    """Generate a tree in a child process, so that this one stays small (see the note on peak memory)."""
    if reuse and (path / ".git").is_dir():
        listed = subprocess.run(["git", "-C", str(path), "ls-files", "-z"], capture_output=True, check=True)
        return listed.stdout.count(b"\0")
    out = subprocess.run(
        [sys.executable, __file__, "--generate", str(path), str(scale)], capture_output=True, text=True, check=True
    )
    return int(out.stdout)


def row(label: str, files: int, tool: str, r: Run) -> str:
    load = os.getloadavg()[0]
    return f"{label:<10} {files:>7,} {tool:<10} {r.wall:9.2f} {r.cpu:9.2f} {r.peak_mib:9.0f} {r.code:5} {load:6.1f}"


def median(runs: list[Run]) -> Run:
    """The run of median wall time (its CPU and memory with it), for the headline figures."""
    return sorted(runs, key=lambda r: r.wall)[len(runs) // 2]


def repeated(label: str, files: int, tool: str, times: int, run: Callable[[int], Run]) -> Run:
    runs = []
    for n in range(times):
        runs.append(run(n))
        print(row(label, files, tool, runs[-1]), flush=True)
    if times > 1:
        m = median(runs)
        print(row(label, files, tool + " med", m), flush=True)
        return m
    return runs[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[1000, 5000, 20000, 50000])
    parser.add_argument("--checkov-max", type=int, default=5000, help="run Checkov on trees up to this many files")
    parser.add_argument("--checkov", help="path of a checkov executable (default: its own venv in bench-out/)")
    parser.add_argument("--no-checkov", action="store_true")
    parser.add_argument("--keep", type=Path, help="generate the trees here and keep them (default: a temp folder)")
    parser.add_argument("--repeat", type=int, default=1, help="cold and warm audits of the monorepo, median of N")
    parser.add_argument("--checkov-repeat", type=int, default=1, help="Checkov runs on the monorepo, median of N")
    parser.add_argument("--jobs", type=int, help="readiness audit --jobs N (default: readiness's own)")
    parser.add_argument("--generate", nargs=2, help=argparse.SUPPRESS)
    opts = parser.parse_args()
    if opts.jobs:
        JOBS[:] = ["--jobs", str(opts.jobs)]
    if opts.generate:
        print(generate(Path(opts.generate[0]), float(opts.generate[1])))
        return 0
    exe = None if opts.no_checkov else checkov_binary(opts.checkov)
    with tempfile.TemporaryDirectory(prefix="readiness-monorepo-") as tmp:
        # Outside the repository: bench-out/ is git-ignored, and ignored files are not audited.
        work = opts.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        reuse = opts.keep is not None
        base_files = generate_apart(work / "monorepo", 1.0, reuse)
        trees = [("monorepo", work / "monorepo", base_files)]
        for size in opts.sizes:
            path = work / f"size-{size}"
            label = f"{size // 1000}k" if size >= 1000 else str(size)
            trees.append((label, path, generate_apart(path, size / base_files, reuse)))
        floor = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"trees in {work}; base mix {BASE}; peak MiB below {floor:.0f} is this process's, not the tool's")
        measure([sys.executable, "-m", "readiness", "--help"])  # writes the bytecode caches
        print(
            f"{'tree':<10} {'files':>7} {'tool':<10} {'wall s':>9} {'CPU s':>9} {'peak MiB':>9} {'exit':>5} {'load':>6}"
        )
        ours: dict[str, tuple[int, Run]] = {}
        for label, path, files in trees:
            cache = work / f"cache-{label}"
            base = label == "monorepo"

            def cold(n: int, path: Path = path, label: str = label, cache: Path = cache) -> Run:
                shutil.rmtree(cache, ignore_errors=True)
                return readiness(path, work / f"{label}-readiness.json", cache)

            r = repeated(label, files, "readiness", opts.repeat if base else 1, cold)
            ours[label] = (files, r)
            if exe is not None and (base or files <= opts.checkov_max):
                times = opts.checkov_repeat if base else 1
                c = repeated(label, files, "checkov", times, lambda n, p=path, lb=label: checkov(exe, p, work / lb))
                print(
                    f"{'':<10} {'':>7} {'ratio':<10} {c.wall / r.wall:8.1f}x {c.cpu / r.cpu:8.1f}x "
                    f"{c.peak_mib / r.peak_mib:8.1f}x  (Checkov / readiness)",
                    flush=True,
                )
            if base:
                warm = lambda n, p=path, c=cache: readiness(p, work / "warm.json", c)  # noqa: E731
                repeated("  warm", files, "readiness", opts.repeat, warm)
                changed = sorted(path.rglob("main.tf"))[0]
                before = changed.read_text()
                changed.write_text(before + '\nresource "aws_sqs_queue" "added" {\n  name = "added"\n}\n')
                print(row("  1 change", files, "readiness", readiness(path, work / "changed.json", cache)), flush=True)
                changed.write_text(before)  # a kept tree stays as generated
        scaled = sorted((files, r) for files, r in ours.values())
        first_files, first = scaled[0]
        print("\nreadiness scaling (CPU seconds per 1,000 files; 1.00 = linear from the smallest tree):")
        for files, r in scaled:
            per_k = r.cpu / files * 1000
            print(
                f"  {files:>7,} files: {r.cpu:8.2f} s CPU, {per_k:6.2f} s per 1k files, "
                f"{per_k / (first.cpu / first_files * 1000):5.2f}x, peak {r.peak_mib:.0f} MiB"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
