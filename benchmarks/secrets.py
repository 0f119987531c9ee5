"""Throughput of the secrets scanner vs detect-secrets on a generated tree of mixed text.

Usage: python benchmarks/secrets.py [MEGABYTES=200] [DIR]. detect-secrets is installed into
a separate venv (DIR/.ds-venv) so it never enters the project's environment.
"""

from __future__ import annotations

import random
import string
import subprocess
import sys
import time
import venv
from pathlib import Path

from readiness.probes.secret_rules import scan_text

WORDS = ["host", "port", "name", "image", "replicas", "timeout", "path", "value", "enabled", "level", "user"]


def generate(root: Path, megabytes: int) -> int:
    """Write ~megabytes of YAML/ENV/Python-like text in 256 KiB files; return bytes written."""
    rng = random.Random(1)
    total, n = 0, 0
    while total < megabytes * 1024 * 1024:
        lines = []
        for _ in range(4000):
            k, v = rng.choice(WORDS), "".join(rng.choices(string.ascii_lowercase + string.digits, k=rng.randint(4, 40)))
            lines.append(rng.choice([f"{k}: {v}", f"{k.upper()}={v}", f"    {k} = '{v}'  # {rng.choice(WORDS)}"]))
        text = "\n".join(lines) + "\n"
        sub = root / f"d{n // 100}"
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"f{n}.{rng.choice(['yaml', 'env', 'py'])}").write_text(text)
        total += len(text)
        n += 1
    return total


def ours(root: Path) -> float:
    start = time.perf_counter()
    for path in sorted(root.rglob("d*/f*")):
        for _ in scan_text(path.read_text()):
            pass
    return time.perf_counter() - start


def detect_secrets(root: Path, work: Path) -> float | None:
    env = work / ".ds-venv"
    if not (env / "bin" / "detect-secrets").exists():
        venv.create(env, with_pip=True)
        if subprocess.run([env / "bin" / "pip", "install", "-q", "detect-secrets"]).returncode:
            return None
    start = time.perf_counter()
    subprocess.run(
        [env / "bin" / "detect-secrets", "scan", "--all-files", str(root)],
        stdout=subprocess.DEVNULL,
        check=True,
        cwd=root,
    )
    return time.perf_counter() - start


def main() -> None:
    mb = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    work = Path(sys.argv[2] if len(sys.argv) > 2 else "/tmp/readiness-secrets-bench")
    tree = work / "tree"
    if not tree.exists():
        generate(tree, mb)
    size = sum(p.stat().st_size for p in tree.rglob("f*")) / 1024 / 1024
    t_ours = ours(tree)
    print(f"readiness secrets: {size:.0f} MB in {t_ours:.1f}s = {size / t_ours:.1f} MB/s")
    t_ds = detect_secrets(tree, work)
    if t_ds is None:
        print("detect-secrets: could not be installed; no ratio")
        return
    print(f"detect-secrets:    {size:.0f} MB in {t_ds:.1f}s = {size / t_ds:.1f} MB/s")
    print(f"ratio: {t_ds / t_ours:.1f}x")


if __name__ == "__main__":
    main()
