"""Real audits of fixture repositories, made once per test module and rendered by every format."""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from conftest import make_repo

from readiness import config as config_mod
from readiness.model import Severity
from readiness.policy import builtin_pack_names, load_packs
from readiness.report import AuditReport, Gate
from readiness.runner import audit


@dataclass
class Audited:
    repo: Path
    report: AuditReport
    gate: Gate


class _Down(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's naming)
        body = b'{"status": "DOWN"}'
        self.send_response(503)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args):
        pass


def unhealthy_server() -> ThreadingHTTPServer:
    """A real HTTP server on a free loopback port whose health endpoint answers 503."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Down)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def attestations() -> str:
    """One attestation that counts and one in the wrong role, for the first two manual items."""
    manual = [i for p in load_packs(builtin_pack_names()) for i in p.items if i.manual][:2]
    today = dt.date.today().isoformat()
    good, wrong = manual
    return (
        "attestations:\n"
        f"  - item: {good.id}\n    status: pass\n    name: Ada Example\n    role: {good.manual.role}\n"
        f"    date: {today}\n    evidence: https://wiki.invalid/review\n"
        f"  - item: {wrong.id}\n    status: pass\n    name: Bob Example\n    role: Intern\n"
        f"    date: {today}\n"
    )


def run(repo: Path, live: list[tuple[tuple[str, ...], str]] = ()) -> Audited:
    cfg = config_mod.load(repo)
    cfg = config_mod.with_values(cfg, [(path, value, True) for path, value in live])
    report = audit(repo, cfg)
    return Audited(repo, report, report.gate(Severity.CRITICAL, False))


def audited(name: str, dest: Path, health_url: str | None = None, attest: bool = False) -> Audited:
    repo = make_repo(name, dest / name)
    if attest:
        (repo / ".readiness").mkdir()
        (repo / ".readiness/attestations.yaml").write_text(attestations())
    return run(repo, [(("live", "health"), health_url)] if health_url else [])
