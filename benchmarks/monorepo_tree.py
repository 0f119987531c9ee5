"""A generated repository shaped like a real monorepo, the same for the same seed and size.

The base mix (scale 1.0, about 2,700 files): 50 Compose files, 180 Kubernetes
manifests, 90 Terraform files, 11 GitHub workflows, nginx / PostgreSQL / Redis /
Prometheus / Alertmanager / Grafana configs, 300 Markdown documents, 2,000 source
files, and the Dockerfiles, dependency manifests and READMEs of 50 services.
Other sizes scale every count by the same factor, so a 50k-file tree has the
same shape as a 1k-file one. Used by ``benchmarks/monorepo.py`` and the tests
of file classification.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
from pathlib import Path

BASE = {
    "services": 50,
    "compose": 50,
    "k8s": 180,
    "terraform": 90,
    "workflows": 11,
    "docs": 300,
    "source": 2000,
}
LANGS = (("py", "python"), ("ts", "node"), ("go", "go"), ("java", "java"))
WORDS = (
    "order",
    "payment",
    "invoice",
    "user",
    "account",
    "cart",
    "search",
    "catalog",
    "shipping",
    "inventory",
    "billing",
    "report",
    "audit",
    "notify",
    "session",
    "token",
    "cache",
    "queue",
    "worker",
    "gateway",
    "profile",
    "review",
    "rating",
    "price",
    "discount",
    "stock",
    "warehouse",
    "ledger",
)


def _py(rng: random.Random, name: str) -> str:
    funcs = []
    for i in range(rng.randint(4, 14)):
        w = rng.choice(WORDS)
        funcs.append(
            f"def {w}_{i}(request, db):\n"
            f'    """Handle {w} {i} for {name}."""\n'
            f'    rows = db.execute("SELECT id, {w} FROM {w}s WHERE tenant = %s", (request.tenant,))\n'
            f'    if not rows:\n        log.warning("no {w} for %s", request.tenant)\n        return []\n'
            f"    return [{{'id': r[0], '{w}': r[1]}} for r in rows if r[1] is not None]\n"
        )
    head = "import logging\nimport os\n\nfrom flask import Flask\nimport redis\n\nlog = logging.getLogger(__name__)\n"
    return head + "\n\n".join(funcs)


def _ts(rng: random.Random, name: str) -> str:
    out = ["import express from 'express';", "import { Pool } from 'pg';", "", "const router = express.Router();"]
    for i in range(rng.randint(4, 14)):
        w = rng.choice(WORDS)
        out.append(
            f"router.get('/{w}/{i}', async (req, res) => {{\n"
            f"  const rows = await pool.query('SELECT * FROM {w} WHERE id = $1', [req.params.id]);\n"
            f"  if (!rows.rowCount) {{ return res.status(404).json({{ error: '{w} not found' }}); }}\n"
            f"  res.json(rows.rows.map((r) => ({{ id: r.id, {w}: r.{w} }})));\n}});"
        )
    out.append(f"export default router; // {name}")
    return "\n".join(out) + "\n"


def _go(rng: random.Random, name: str) -> str:
    out = ["package main", "", 'import (\n\t"net/http"\n\t"encoding/json"\n)', ""]
    for i in range(rng.randint(4, 12)):
        w = rng.choice(WORDS).capitalize()
        out.append(
            f"func handle{w}{i}(w http.ResponseWriter, r *http.Request) {{\n"
            f'\titems, err := store.List{w}(r.Context(), r.URL.Query().Get("q"))\n'
            f"\tif err != nil {{\n\t\thttp.Error(w, err.Error(), http.StatusInternalServerError)\n\t\treturn\n\t}}\n"
            f"\tjson.NewEncoder(w).Encode(items)\n}}\n"
        )
    return "\n".join(out) + f"// {name}\n"


def _java(rng: random.Random, name: str) -> str:
    cls = name.capitalize()
    body = [f"package com.example.{name};", "", "import java.util.List;", "", f"public class {cls} {{"]
    for i in range(rng.randint(4, 12)):
        w = rng.choice(WORDS)
        body.append(
            f"    public List<String> {w}{i}(String tenant) {{\n"
            f'        if (tenant == null) {{ throw new IllegalArgumentException("{w}"); }}\n'
            f'        return repository.find("{w}", tenant);\n    }}'
        )
    return "\n".join(body) + "\n}\n"


SOURCE = {"py": _py, "ts": _ts, "go": _go, "java": _java}


def _compose(rng: random.Random, svc: str, lang: str, prod: bool) -> str:
    if prod:
        return (
            f'services:\n  {svc}:\n    restart: unless-stopped\n    read_only: true\n    user: "10001"\n'
            f"    deploy:\n      resources:\n        limits: {{cpus: '1', memory: 512M}}\n"
            f"    logging:\n      driver: json-file\n      options: {{max-size: 10m, max-file: '3'}}\n"
        )
    port = 8000 + rng.randint(0, 999)
    extra = ""
    if rng.random() < 0.5:
        extra += "  db:\n    image: postgres:16.4\n    environment:\n      POSTGRES_PASSWORD_FILE: /run/secrets/db\n"
        extra += "    volumes: [pgdata:/var/lib/postgresql/data]\n"
    if rng.random() < 0.4:
        extra += "  cache:\n    image: redis:7.4\n    command: [redis-server, /usr/local/etc/redis/redis.conf]\n"
    vols = "volumes:\n  pgdata: {}\n" if "pgdata" in extra else ""
    return (
        f"services:\n  {svc}:\n    build: .\n    image: registry.example.com/{svc}:1.{rng.randint(0, 40)}.0\n"
        f"    ports: ['{port}:8080']\n    environment:\n      LANG_RUNTIME: {lang}\n      LOG_LEVEL: info\n"
        f"    healthcheck:\n      test: [CMD, curl, -f, http://localhost:8080/health]\n      interval: 30s\n"
        f"{extra}{vols}"
    )


def _k8s(rng: random.Random, svc: str, i: int) -> tuple[str, str]:
    kind = ("Deployment", "Service", "ConfigMap", "Deployment", "Ingress", "HorizontalPodAutoscaler", "CronJob")[i % 7]
    meta = f"metadata:\n  name: {svc}-{i}\n  namespace: shop\n  labels: {{app: {svc}}}\n"
    if kind == "Deployment":
        secure = "true" if rng.random() < 0.7 else "false"
        body = (
            f"apiVersion: apps/v1\nkind: Deployment\n{meta}spec:\n  replicas: {rng.randint(2, 5)}\n"
            f"  selector: {{matchLabels: {{app: {svc}}}}}\n  template:\n    metadata: {{labels: {{app: {svc}}}}}\n"
            f"    spec:\n      securityContext: {{runAsNonRoot: {secure}}}\n      containers:\n"
            f"        - name: {svc}\n          image: registry.example.com/{svc}:1.{rng.randint(0, 40)}.0\n"
            f"          ports: [{{containerPort: 8080}}]\n          securityContext:\n"
            f"            allowPrivilegeEscalation: false\n            readOnlyRootFilesystem: {secure}\n"
            f"          resources:\n            limits: {{cpu: 500m, memory: 256Mi}}\n"
            f"            requests: {{cpu: 100m, memory: 128Mi}}\n"
            f"          livenessProbe: {{httpGet: {{path: /health, port: 8080}}}}\n"
            f"          readinessProbe: {{httpGet: {{path: /ready, port: 8080}}}}\n"
        )
    elif kind == "Service":
        body = (
            f"apiVersion: v1\nkind: Service\n{meta}spec:\n  selector: {{app: {svc}}}\n"
            "  ports: [{port: 80, targetPort: 8080}]\n"
        )
    elif kind == "ConfigMap":
        body = f"apiVersion: v1\nkind: ConfigMap\n{meta}data:\n  LOG_LEVEL: info\n  FEATURE_{i}: 'on'\n"
    elif kind == "Ingress":
        body = (
            f"apiVersion: networking.k8s.io/v1\nkind: Ingress\n{meta}spec:\n  tls: [{{hosts: [{svc}.example.com], "
            f"secretName: {svc}-tls}}]\n  rules:\n    - host: {svc}.example.com\n      http:\n        paths:\n"
            f"          - {{path: /, pathType: Prefix, backend: {{service: {{name: {svc}, port: {{number: 80}}}}}}}}\n"
        )
    elif kind == "HorizontalPodAutoscaler":
        body = (
            f"apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\n{meta}spec:\n  scaleTargetRef: "
            f"{{apiVersion: apps/v1, kind: Deployment, name: {svc}-0}}\n  minReplicas: 2\n  maxReplicas: 10\n"
        )
    else:
        body = (
            f"apiVersion: batch/v1\nkind: CronJob\n{meta}spec:\n  schedule: '{rng.randint(0, 59)} 3 * * *'\n"
            f"  jobTemplate:\n    spec:\n      template:\n        spec:\n          restartPolicy: OnFailure\n"
            f"          containers: [{{name: job, image: 'registry.example.com/{svc}-job:1.0.0'}}]\n"
        )
    return kind.lower(), body


def _terraform(rng: random.Random, module: str, part: str) -> str:
    if part == "variables":
        return "".join(
            f'variable "{w}_{i}" {{\n  type        = string\n  description = "The {w} setting"\n'
            f'  default     = "{w}"\n}}\n\n'
            for i, w in enumerate(rng.sample(WORDS, 6))
        )
    if part == "outputs":
        return (
            f'output "bucket_arn" {{\n  value = aws_s3_bucket.{module}.arn\n}}\n\noutput "db_endpoint" {{\n'
            f"  value = aws_db_instance.{module}.endpoint\n}}\n"
        )
    encrypted = "true" if rng.random() < 0.6 else "false"
    return (
        f'resource "aws_s3_bucket" "{module}" {{\n  bucket = "example-{module}-{rng.randint(1000, 9999)}"\n'
        f'  tags = {{\n    Team = "platform"\n    Env  = var.env\n  }}\n}}\n\n'
        f'resource "aws_s3_bucket_versioning" "{module}" {{\n  bucket = aws_s3_bucket.{module}.id\n'
        f'  versioning_configuration {{\n    status = "Enabled"\n  }}\n}}\n\n'
        f'resource "aws_db_instance" "{module}" {{\n  identifier              = "{module}-db"\n'
        f'  engine                  = "postgres"\n  engine_version          = "16.4"\n'
        f'  instance_class          = "db.t3.medium"\n  allocated_storage       = {rng.choice((20, 50, 100))}\n'
        f"  storage_encrypted       = {encrypted}\n  backup_retention_period = {rng.choice((0, 7, 14))}\n"
        f"  multi_az                = {rng.choice(('true', 'false'))}\n  deletion_protection     = true\n"
        f"  username                = var.db_user\n  password                = var.db_password\n}}\n\n"
        f'resource "aws_security_group" "{module}" {{\n  name = "{module}-sg"\n  ingress {{\n'
        f'    from_port   = 443\n    to_port     = 443\n    protocol    = "tcp"\n'
        f'    cidr_blocks = ["{rng.choice(("0.0.0.0/0", "10.0.0.0/8"))}"]\n  }}\n}}\n\n'
        f'resource "aws_cloudwatch_metric_alarm" "{module}_cpu" {{\n  alarm_name          = "{module}-cpu"\n'
        f'  comparison_operator = "GreaterThanThreshold"\n  evaluation_periods  = 2\n'
        f'  metric_name         = "CPUUtilization"\n  namespace           = "AWS/RDS"\n  period              = 300\n'
        f'  statistic           = "Average"\n  threshold           = 80\n}}\n'
    )


def _workflow(rng: random.Random, i: int) -> str:
    return (
        f"name: ci-{i}\non:\n  push: {{branches: [main]}}\n  pull_request: {{}}\npermissions:\n  contents: read\n"
        f"jobs:\n  test:\n    runs-on: ubuntu-24.04\n    steps:\n      - uses: actions/checkout@v4\n"
        f"      - uses: actions/setup-python@v5\n        with: {{python-version: '3.12'}}\n"
        f"      - run: make test\n  deploy:\n    needs: test\n    if: github.ref == 'refs/heads/main'\n"
        f"    runs-on: ubuntu-24.04\n    environment: production\n    steps:\n      - uses: actions/checkout@v4\n"
        f"      - run: ./scripts/deploy.sh {rng.choice(WORDS)}\n"
    )


def _markdown(rng: random.Random, title: str, i: int) -> str:
    parts = [f"# {title}\n", f"Owner: team-{rng.choice(WORDS)}. Last reviewed in sprint {i}.\n"]
    for s in range(rng.randint(3, 9)):
        w = rng.choice(WORDS)
        parts.append(f"## {w.capitalize()} {s}\n")
        parts.append(
            " ".join(rng.choice(WORDS) for _ in range(rng.randint(30, 90)))
            + f". See [the {w} guide](../{w}/index.md) and <https://wiki.example.com/{w}>.\n"
        )
        if s % 3 == 0:
            parts.append(
                f"```bash\nkubectl -n shop rollout status deploy/{w}\ncurl -fsS https://{w}.example.com/health\n```\n"
            )
        if s % 4 == 1:
            parts.append(f"- step one for {w}\n- step two: check the dashboard\n- step three: page on-call\n")
    return "\n".join(parts)


STATIC = {
    "config/nginx/nginx.conf": "worker_processes auto;\nevents { worker_connections 1024; }\nhttp {\n"
    "  server_tokens off;\n  include /etc/nginx/conf.d/*.conf;\n}\n",
    "config/postgres/postgresql.conf": "listen_addresses = '*'\nssl = on\nlog_connections = on\n"
    "max_connections = 200\nshared_buffers = 1GB\npassword_encryption = scram-sha-256\n",
    "config/postgres/pg_hba.conf": "local all all peer\nhostssl all all 10.0.0.0/8 scram-sha-256\n",
    "config/redis/redis.conf": "bind 127.0.0.1\nprotected-mode yes\nport 6379\nappendonly yes\n",
    "monitoring/prometheus/prometheus.yml": "global: {scrape_interval: 30s}\nrule_files: [rules/*.yml]\n"
    "alerting:\n  alertmanagers: [{static_configs: [{targets: ['alertmanager:9093']}]}]\n"
    "scrape_configs:\n  - job_name: services\n    static_configs: [{targets: ['api:8080']}]\n",
    "monitoring/alertmanager/alertmanager.yml": "route:\n  receiver: oncall\nreceivers:\n  - name: oncall\n"
    "    pagerduty_configs: [{routing_key_file: /etc/alertmanager/pd_key}]\n",
    "README.md": "# Shop monorepo\n\nServices, infrastructure and runbooks of the shop.\n",
    "Makefile": "test:\n\tpytest -q\ndeploy:\n\t./scripts/deploy.sh\n",
    "scripts/deploy.sh": "#!/bin/sh\nset -eu\nkubectl apply -k deploy/k8s\n",
    "scripts/rollback.sh": '#!/bin/sh\nset -eu\nkubectl rollout undo deploy/"$1"\n',
}


def _nginx_site(rng: random.Random, i: int) -> str:
    return (
        f"upstream app{i} {{ server app{i}:8080; }}\nserver {{\n  listen 443 ssl;\n  server_name app{i}.example.com;\n"
        f"  ssl_certificate /etc/ssl/app{i}.pem;\n  ssl_certificate_key /etc/ssl/app{i}.key;\n"
        f'  ssl_protocols TLSv1.2 TLSv1.3;\n  add_header Strict-Transport-Security "max-age=31536000" always;\n'
        f"  location / {{ proxy_pass http://app{i}; proxy_read_timeout {rng.randint(10, 60)}s; }}\n}}\n"
    )


def _rules(rng: random.Random, i: int) -> str:
    w = rng.choice(WORDS)
    return (
        f"groups:\n  - name: {w}-{i}\n    rules:\n      - alert: {w.capitalize()}ErrorRate\n"
        f'        expr: sum(rate(http_requests_total{{job="{w}",code=~"5.."}}[5m])) > 0.05\n'
        f"        for: 10m\n        labels: {{severity: page}}\n        annotations:\n"
        f"          summary: {w} error rate high\n          runbook_url: https://wiki.example.com/runbooks/{w}\n"
    )


def generate(root: Path, scale: float = 1.0, seed: int = 13, git: bool = True) -> int:
    """Write the tree under ``root`` (replaced if present); returns the number of files written."""
    if root.exists():
        shutil.rmtree(root)
    rng = random.Random(seed)
    counts = {k: max(1, round(v * scale)) for k, v in BASE.items()}
    files: dict[str, str] = dict(STATIC)
    services = [f"{rng.choice(WORDS)}-{n:03d}" for n in range(counts["services"])]
    langs = [LANGS[n % len(LANGS)] for n in range(len(services))]
    for n, (svc, (ext, runtime)) in enumerate(zip(services, langs, strict=True)):
        base = f"services/{svc}"
        files[f"{base}/Dockerfile"] = (
            f"FROM {runtime}:{rng.randint(10, 22)}-slim\nWORKDIR /app\nCOPY . .\nUSER 10001\n"
            f'HEALTHCHECK CMD curl -f http://localhost:8080/health\nCMD ["./start"]\n'
        )
        files[f"{base}/README.md"] = f"# {svc}\n\nThe {svc} service ({runtime}).\n"
        manifest = {"py": "requirements.txt", "ts": "package.json", "go": "go.mod", "java": "pom.xml"}[ext]
        files[f"{base}/{manifest}"] = (
            json.dumps({"name": svc, "dependencies": {"express": "4.19.2", "pg": "8.12.0", "prom-client": "15.1.0"}})
            + "\n"
            if ext == "ts"
            else f"# {svc} dependencies\nflask==3.0.{n % 4}\nredis==5.0.{n % 8}\nprometheus-client==0.20.0\n"
        )
    for n in range(counts["compose"]):
        svc = services[n % len(services)]
        prod = n >= len(services)
        name = "docker-compose.prod.yml" if prod else "docker-compose.yml"
        files[f"services/{svc}/{name}"] = _compose(rng, svc, langs[n % len(services)][1], prod)
    for n in range(counts["k8s"]):
        svc = services[n % len(services)]
        kind, body = _k8s(rng, svc, n)
        files[f"deploy/k8s/{svc}/{kind}-{n:04d}.yaml"] = body
    for n in range(counts["terraform"]):
        module = f"{rng.choice(WORDS)}{n // 3:03d}"
        part = ("main", "variables", "outputs")[n % 3]
        files[f"infra/terraform/modules/m{n // 3:03d}/{part}.tf"] = _terraform(rng, module, part)
    for n in range(counts["workflows"]):
        files[f".github/workflows/{rng.choice(WORDS)}-{n:02d}.yml"] = _workflow(rng, n)
    for n in range(max(1, round(5 * scale))):
        files[f"config/nginx/conf.d/app{n:03d}.conf"] = _nginx_site(rng, n)
        files[f"monitoring/prometheus/rules/{rng.choice(WORDS)}-{n:03d}.yml"] = _rules(rng, n)
        files[f"monitoring/grafana/dashboards/board{n:03d}.json"] = json.dumps(
            {"title": f"board {n}", "panels": [{"type": "graph", "targets": [{"expr": "up"}]}]}
        )
    for n in range(counts["docs"]):
        section = rng.choice(("runbooks", "adr", "guides", "onboarding", "architecture", "postmortems"))
        title = f"{rng.choice(WORDS).capitalize()} {section[:-1]} {n}"
        files[f"docs/{section}/{n // 40:02d}/{rng.choice(WORDS)}-{n:04d}.md"] = _markdown(rng, title, n)
    for n in range(counts["source"]):
        svc = services[n % len(services)]
        ext = langs[n % len(services)][0]
        name = f"{rng.choice(WORDS)}_{n:05d}"
        sub = f"src/{rng.choice(WORDS)}/{n // 200:02d}"
        files[f"services/{svc}/{sub}/{name}.{ext}"] = SOURCE[ext](rng, name)
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    if (root / "scripts").is_dir():
        for sh in (root / "scripts").glob("*.sh"):
            sh.chmod(0o755)
    if git:
        _commit(root)
    return len(files)


def _commit(root: Path) -> None:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "bench",
        "GIT_AUTHOR_EMAIL": "bench@example.invalid",
        "GIT_COMMITTER_NAME": "bench",
        "GIT_COMMITTER_EMAIL": "bench@example.invalid",
        "GIT_AUTHOR_DATE": "2026-01-01T00:00:00Z",
        "GIT_COMMITTER_DATE": "2026-01-01T00:00:00Z",
    }
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "--no-gpg-sign", "-m", "generated"]):
        subprocess.run(["git", "-C", str(root), *args], check=True, env=env, stdout=subprocess.DEVNULL)
