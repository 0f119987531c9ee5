"""Benchmark: the static container probes (compose, dockerfile, kubernetes) against Checkov on one generated tree.

    .venv/bin/python benchmarks/containers.py [--files 2000] [--checkov PATH]

Generates a tree of project folders (base compose file, prod override,
Dockerfile, a second Dockerfile, a Kubernetes Deployment), runs each tool
once in its own process, and prints wall time,
files per second over the files each tool reads, and peak resident memory,
with our/their ratios. Checkov runs from its own virtualenv (created under
bench-out/ with pip on first use, or given with --checkov); it has no Compose
framework, so it reads only the Dockerfiles and manifests, and a
dockerfile+kubernetes run of ours is the like-for-like row.

Peak memory is the largest resident set of the tool's process tree as the
kernel reports it through wait4 (ru_maxrss), not a sum over processes.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import venv
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "bench-out"

HARDENED_DOCKERFILE = """# syntax=docker/dockerfile:1
ARG PYTHON_VERSION=3.12.7
FROM python:${{PYTHON_VERSION}}-slim AS build
RUN pip wheel --wheel-dir /wheels flask==3.0.{n}
FROM python:${{PYTHON_VERSION}}-slim AS runtime
RUN useradd --uid 10001 app
COPY --from=build /wheels /wheels
USER 10001
HEALTHCHECK CMD ["python", "-c", "print('ok')"]
STOPSIGNAL SIGTERM
CMD ["python", "-m", "app{n}"]
"""
INSECURE_DOCKERFILE = """FROM node
ENV API_KEY=bench_not_a_real_key_{n} NODE_ENV=production
ADD https://example.invalid/app{n}.tar.gz /app/
USER 0
CMD node server{n}.js
"""
BASE_COMPOSE = """services:
  web:
    build: .
    ports: ["8{n:03d}:8080"]
    environment:
      DB_PASSWORD: bench-not-a-real-password
  db:
    image: postgres:16.4
    volumes: [data:/var/lib/postgresql/data]
volumes:
  data: {{}}
"""
PROD_COMPOSE = """services:
  web:
    user: "10001"
    read_only: true
    restart: unless-stopped
    security_opt: ["no-new-privileges:true"]
    cap_drop: [ALL]
    deploy:
      resources:
        limits: {{cpus: "1", memory: 512M}}
  db:
    restart: unless-stopped
    logging: {{driver: local}}
"""


K8S_DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata: {{name: web{n}, namespace: shop}}
spec:
  replicas: 3
  selector: {{matchLabels: {{app: web{n}}}}}
  template:
    metadata: {{labels: {{app: web{n}}}}}
    spec:
      securityContext: {{runAsNonRoot: {secure}}}
      containers:
        - name: web
          image: registry.example/web:1.{n}
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: {secure}
            capabilities: {{drop: [ALL]}}
          resources:
            limits: {{cpu: 500m, memory: 256Mi}}
            requests: {{cpu: 100m, memory: 128Mi}}
          livenessProbe: {{httpGet: {{path: /health, port: 8080}}}}
          readinessProbe: {{httpGet: {{path: /ready, port: 8080}}}}
"""
PER_FOLDER = 5


def generate(root: Path, files: int) -> int:
    """Write ``files`` files (rounded down to a multiple of 5) under ``root``; returns how many."""
    if root.exists():
        shutil.rmtree(root)
    folders = files // PER_FOLDER
    for n in range(folders):
        d = root / f"svc{n:04d}"
        d.mkdir(parents=True)
        (d / "docker-compose.yml").write_text(BASE_COMPOSE.format(n=n % 1000))
        (d / "docker-compose.prod.yml").write_text(PROD_COMPOSE.format(n=n))
        (d / "Dockerfile").write_text((HARDENED_DOCKERFILE if n % 2 else INSECURE_DOCKERFILE).format(n=n))
        (d / "worker.Dockerfile").write_text((INSECURE_DOCKERFILE if n % 2 else HARDENED_DOCKERFILE).format(n=n))
        (d / "k8s").mkdir()
        (d / "k8s" / "deployment.yaml").write_text(K8S_DEPLOYMENT.format(n=n, secure="true" if n % 2 else "false"))
    return folders * PER_FOLDER


def probe_run(root: Path, only: str | None = None) -> None:
    """In a child process: discovery, then the container probes, as the runner drives them.

    ``only`` is a comma-separated list of probe names.
    """
    from readiness.probes.compose import ComposeProbe
    from readiness.probes.dockerfile import DockerfileProbe
    from readiness.probes.kubernetes import KubernetesProbe

    from readiness.config import Config
    from readiness.discovery import discover
    from readiness.inventory import Inventory
    from readiness.probe import Files, ProbeContext

    found = discover(root, Config())
    files, inventory = Files(found.root), Inventory()
    count = errors = 0
    for cls in (KubernetesProbe, ComposeProbe, DockerfileProbe):
        if only and cls.name not in only.split(","):
            continue
        probe = cls()
        claimed = [a for a in probe.claimed(found.artifacts, files) if a.skipped is None]
        ctx = ProbeContext(probe, found.root, claimed, found.artifacts, files, inventory, found.git)
        observations = list(probe.run(ctx)) + ctx.emitted
        count += len(observations)
        errors += sum(o.status.value == "error" for o in observations)
    print(f"{count} observations, {errors} errors, {len(files.digests)} files read")


def measure(args: list[str]) -> tuple[float, int, int, str]:
    """Wall seconds, peak RSS in KiB, exit code and the last output line of one process."""
    start = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    out = proc.stdout.read() if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    elapsed = time.perf_counter() - start
    last = (out.strip().splitlines() or [""])[-1][:120]
    return elapsed, usage.ru_maxrss, proc.returncode, last


def checkov_binary(given: str | None) -> Path:
    if given:
        return Path(given)
    env = OUT / "checkov-venv"
    binary = env / "bin" / "checkov"
    if not binary.exists():
        print(f"installing Checkov into {env} (first run only)", file=sys.stderr)
        venv.create(env, with_pip=True)
        subprocess.run([env / "bin" / "pip", "install", "--quiet", "checkov"], check=True)
    return binary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--checkov", help="path of a checkov executable (default: its own venv in bench-out/)")
    parser.add_argument("--probe-run", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--only", help=argparse.SUPPRESS)
    opts = parser.parse_args()
    if opts.probe_run:
        probe_run(opts.probe_run, opts.only)
        return 0

    with tempfile.TemporaryDirectory(prefix="readiness-bench-") as tmp:
        # Outside the repository: bench-out/ is git-ignored, and ignored files are not audited.
        return compare(Path(tmp) / "tree", opts.files, opts.checkov)


def compare(tree: Path, files: int, checkov_path: str | None) -> int:
    """Generate the tree, run both tools, print the table and the ratios."""
    total = generate(tree, files)
    folders = total // PER_FOLDER
    dockerfiles, manifests = 2 * folders, folders
    like = dockerfiles + manifests
    print(
        f"tree: {total} files in {tree} ({2 * folders} compose files, {dockerfiles} Dockerfiles, {manifests} manifests)"
    )
    ours = measure([sys.executable, __file__, "--probe-run", str(tree)])
    ours_like = measure([sys.executable, __file__, "--probe-run", str(tree), "--only", "dockerfile,kubernetes"])
    checkov = checkov_binary(checkov_path)
    theirs = measure(
        [str(checkov), "-d", str(tree), "--framework", "dockerfile", "kubernetes", "--quiet", "--compact", "-o", "json"]
        + ["--skip-download", "--download-external-modules", "false"]
    )
    rows = [
        ("readiness compose+dockerfile+k8s", total, ours),
        ("readiness dockerfile+k8s", like, ours_like),
        ("checkov dockerfile+kubernetes", like, theirs),
    ]
    print(f"{'tool':34} {'files':>6} {'seconds':>8} {'files/s':>9} {'peak MiB':>9}  exit  output")
    for name, count, (secs, rss, code, last) in rows:
        print(f"{name:34} {count:6} {secs:8.2f} {count / secs:9.1f} {rss / 1024:9.1f}  {code:4}  {last}")
    for name, count, (secs, rss, _, _) in rows[:2]:
        speed = (count / secs) / (like / theirs[0])
        print(f"ratio {name} / checkov: files/s {speed:.2f}x, peak memory {rss / theirs[1]:.2f}x")
    print("note: Checkov has no Compose framework, so it reads the Dockerfiles and manifests only; files/s count")
    print("the files each tool reads. Compose projects cost one Compose v2 process each (about 60 ms).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
