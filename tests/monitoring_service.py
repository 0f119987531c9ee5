"""A real Prometheus and Alertmanager (Debian's binaries) on free loopback ports, with a tiny exporter, a
webhook receiver that accepts and one address that refuses, for the live monitoring probe's tests."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        body = b"# TYPE shop_requests_total counter\nshop_requests_total 42\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):  # noqa: N802 (the webhook receiver)
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def _binary(*names: str) -> str:
    for name in names:
        if path := shutil.which(name):
            return path
    raise RuntimeError(
        f"{names[0]} is not installed (make system-deps installs prometheus and prometheus-alertmanager)"
    )


@dataclass
class Stack:
    root: Path
    prometheus: str
    alertmanager: str
    processes: list[subprocess.Popen] = field(default_factory=list)
    servers: list[ThreadingHTTPServer] = field(default_factory=list)

    @classmethod
    def start(cls) -> Stack:
        root = Path(tempfile.mkdtemp(prefix="readiness-prom-"))
        helper = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        threading.Thread(target=helper.serve_forever, daemon=True).start()
        helper_port = helper.server_address[1]
        prom_port, am_port, refused = free_port(), free_port(), free_port()
        (root / "alertmanager.yml").write_text(
            "route:\n  receiver: ok\n  group_wait: 1s\n  group_interval: 1s\n  repeat_interval: 1h\n"
            "  routes:\n    - matchers: ['alertname=\"BrokenPager\"']\n      receiver: refused\n"
            "receivers:\n"
            f"  - name: ok\n    webhook_configs: [{{url: 'http://127.0.0.1:{helper_port}/hook'}}]\n"
            f"  - name: refused\n    webhook_configs: [{{url: 'http://127.0.0.1:{refused}/hook'}}]\n"
        )
        (root / "rules.yml").write_text(
            "groups:\n  - name: test\n    interval: 1s\n    rules:\n"
            "      - alert: DatabaseDown\n        expr: vector(1)\n        labels: {severity: critical}\n"
            "      - alert: CheckoutErrorBudgetBurn\n        expr: vector(1)\n        labels: {severity: warning}\n"
            "      - alert: BrokenPager\n        expr: vector(1)\n        labels: {severity: info}\n"
        )
        (root / "prometheus.yml").write_text(
            "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
            "rule_files: [rules.yml]\n"
            f"alerting: {{alertmanagers: [{{static_configs: [{{targets: ['127.0.0.1:{am_port}']}}]}}]}}\n"
            "scrape_configs:\n"
            f"  - job_name: shop\n    static_configs: [{{targets: ['127.0.0.1:{helper_port}']}}]\n"
            f"  - job_name: gone\n    static_configs: [{{targets: ['127.0.0.1:{refused}']}}]\n"
        )
        log = (root / "log").open("w")
        am = subprocess.Popen(
            [_binary("prometheus-alertmanager", "alertmanager"), f"--config.file={root / 'alertmanager.yml'}",
             f"--storage.path={root / 'am'}", f"--web.listen-address=127.0.0.1:{am_port}",
             "--cluster.listen-address="],  # no HA gossip: it holds notifications back until peers settle
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        prom = subprocess.Popen(
            [_binary("prometheus"), f"--config.file={root / 'prometheus.yml'}", f"--storage.tsdb.path={root / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{prom_port}",
             "--rules.alert.resend-delay=1s"],  # the first send can precede Alertmanager discovery
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        stack = cls(root, f"http://127.0.0.1:{prom_port}", f"http://127.0.0.1:{am_port}", [am, prom], [helper])
        stack._wait_until_settled()
        return stack

    def _get(self, url: str):
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.read().decode()

    def _wait_until_settled(self) -> None:
        """Bounded wait (30 s) for a scrape of both targets, the alerts firing and one delivery each way."""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                targets = json.loads(self._get(f"{self.prometheus}/api/v1/targets"))["data"]["activeTargets"]
                metrics = self._get(f"{self.alertmanager}/metrics")
                scraped = len(targets) == 2 and all(t["health"] in ("up", "down") for t in targets)
                delivered = 'alertmanager_notifications_total{integration="webhook"}' in metrics
                failed = any(
                    line.startswith("alertmanager_notifications_failed_total") and not line.endswith(" 0")
                    for line in metrics.splitlines()
                )
                if scraped and delivered and failed:
                    return
            except (OSError, KeyError, ValueError):
                pass
            time.sleep(0.5)
        self.stop()
        raise RuntimeError("Prometheus and Alertmanager did not settle within 30 s")

    def stop(self) -> None:
        for p in self.processes:
            p.terminate()
        for p in self.processes:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        for s in self.servers:
            s.shutdown()
        shutil.rmtree(self.root, ignore_errors=True)
