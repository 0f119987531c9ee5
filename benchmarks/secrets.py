"""Throughput of the secrets scanner vs detect-secrets on a generated tree of mixed text.

Usage: python benchmarks/secrets.py [MEGABYTES=200] [DIR]. detect-secrets is installed into
a separate venv (DIR/.ds-venv) so it never enters the project's environment.
"""

from __future__ import annotations

import json
import random
import shutil
import string
import subprocess
import sys
import time
import venv
from pathlib import Path

from readiness.probes.secret_rules import scan_text

WORDS = ["host", "port", "name", "image", "replicas", "timeout", "path", "value", "enabled", "level", "user"]
# Lines that carry credential keywords without a credential: what real configuration is full of, and what
# makes a keyword prefilter work for its living (about 4 % of the generated lines).
KEYWORD_LINES = [
    "password: ${DB_PASSWORD}",
    "DB_PASSWORD_FILE=/run/secrets/db_password",
    "token = var.api_token",
    "api_key: {{ .Values.apiKey }}",
    'headers = {"Authorization": f"Bearer {token}"}',
    "secret_name: prod/app/signing-key",
    "    - name: GITHUB_TOKEN",
    "      valueFrom: {secretKeyRef: {name: gh, key: token}}",
    "url: postgres://app:${PGPASSWORD}@db:5432/app",
    "# rotate the credential every 90 days",
    'client_secret = os.environ["CLIENT_SECRET"]',
    "private_key_path: /etc/ssl/private/app.key",
]


def generate(root: Path, megabytes: int, rng: random.Random) -> tuple[int, dict[str, str]]:
    """~megabytes of YAML/.env/Python/shell/Terraform-like text in 256 KiB files, with credential keywords on
    about 4 % of the lines and one planted secret per 2.5 MB; bytes written and planted rule -> path."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from secret_corpus import planted as planted_formats
    from secret_corpus import provider_tokens

    planted: dict[str, str] = {}
    pool = list({**planted_formats(rng), **provider_tokens(rng)}.items())
    total, n = 0, 0
    while total < megabytes * 1024 * 1024:
        lines = []
        for _ in range(4000):
            if rng.random() < 0.04:
                lines.append(rng.choice(KEYWORD_LINES))
                continue
            k, v = rng.choice(WORDS), "".join(rng.choices(string.ascii_lowercase + string.digits, k=rng.randint(4, 40)))
            lines.append(
                rng.choice([f"{k}: {v}", f"{k.upper()}={v}", f"    {k} = '{v}'  # {rng.choice(WORDS)}", f"echo {v}"])
            )
        if n % 10 == 0 and pool:
            rule, (_path, text, _secret) = pool.pop(0)
            if rule != "k8s-secret-data":
                lines[rng.randrange(len(lines))] = text.rstrip("\n").replace("\n", " ; ")
                planted[rule] = f"d{n // 100}/f{n}"
        text = "\n".join(lines) + "\n"
        sub = root / f"d{n // 100}"
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"f{n}.{rng.choice(['yaml', 'env', 'py', 'sh', 'tf'])}").write_text(text)
        total += len(text)
        n += 1
    return total, planted


def ours(root: Path) -> tuple[float, set[str]]:
    """Seconds, and the files with a finding."""
    start = time.perf_counter()
    hits = set()
    for path in sorted(root.rglob("d*/f*")):
        for _ in scan_text(path.read_text()):
            hits.add(str(path.relative_to(root)).rsplit(".", 1)[0])
    return time.perf_counter() - start, hits


def detect_secrets(root: Path, work: Path) -> tuple[float, set[str]] | None:
    """Seconds, and the files detect-secrets reports (extension dropped), or None if it cannot be installed."""
    env = work / ".ds-venv"
    if not (env / "bin" / "detect-secrets").exists():
        venv.create(env, with_pip=True)
        if subprocess.run([env / "bin" / "pip", "install", "-q", "detect-secrets"]).returncode:
            return None
    start = time.perf_counter()
    done = subprocess.run(
        [env / "bin" / "detect-secrets", "scan", "--all-files", "."],
        capture_output=True,
        check=True,
        cwd=root,
        text=True,
    )
    elapsed = time.perf_counter() - start
    return elapsed, {name.rsplit(".", 1)[0] for name in json.loads(done.stdout).get("results", {})}


def recall(work: Path) -> None:
    """Per-format recall of both tools on the planted corpus of the tests (one file per rule)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from secret_corpus import write_corpus

    corpus = work / "corpus"
    shutil.rmtree(corpus, ignore_errors=True)
    corpus.mkdir(parents=True)
    table = write_corpus(corpus)
    ours_found = {rule for rule, (rel, text, _) in table.items() if any(True for _ in scan_text(text))}
    theirs = detect_secrets(corpus, work)
    theirs_files = theirs[1] if theirs else set()
    theirs_found = {rule for rule, (rel, _, _) in table.items() if rel.rsplit(".", 1)[0] in theirs_files}
    print(
        f"recall on the planted corpus ({len(table)} formats): readiness {len(ours_found)}/{len(table)}, "
        f"detect-secrets {len(theirs_found)}/{len(table)}"
    )
    print("  detect-secrets misses:", ", ".join(sorted(set(table) - theirs_found)) or "none")


def main() -> None:
    mb = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    work = Path(sys.argv[2] if len(sys.argv) > 2 else "/tmp/readiness-secrets-bench")
    tree = work / f"tree-{mb}mb-v2"
    if not tree.exists():
        generate(tree, mb, random.Random(1))
    size = sum(p.stat().st_size for p in tree.rglob("f*")) / 1024 / 1024
    t_ours, _ = ours(tree)
    print(f"readiness secrets: {size:.0f} MB in {t_ours:.1f}s = {size / t_ours:.1f} MB/s")
    got = detect_secrets(tree, work)
    if got is None:
        print("detect-secrets: could not be installed; no ratio")
        return
    print(f"detect-secrets:    {size:.0f} MB in {got[0]:.1f}s = {size / got[0]:.1f} MB/s")
    print(f"ratio: {got[0] / t_ours:.1f}x")
    recall(work)


if __name__ == "__main__":
    main()
