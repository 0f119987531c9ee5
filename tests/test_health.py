"""The health probe against real HTTP servers on loopback: healthy, unhealthy, lying, hanging and absent ones."""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from conftest import audit_json, item
from readiness.probes.health import ENDPOINTS_HEALTHY, HealthProbe, redact

from readiness import runner
from readiness.config import Config
from readiness.discovery import discover
from readiness.inventory import Inventory
from readiness.model import Observation, Status, Strength
from readiness.probe import Files

TOKEN = "FAKE-health-token-not-a-secret-8d1c"

ROUTES: dict[str, tuple[int, str, bytes]] = {
    "/healthz": (200, "application/json", b'{"status": "UP", "components": {"db": {"status": "UP"}}}'),
    "/plain": (200, "text/plain", b"ok"),
    "/down": (503, "application/json", b'{"status": "DOWN"}'),
    "/lying": (200, "application/json", b'{"status": "fail", "checks": {}}'),
    "/warn": (200, "application/health+json", b'{"status": "warn"}'),
    "/error": (500, "text/plain", b"boom"),
}


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's naming)
        path = self.path.split("?", 1)[0]
        if path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "/healthz")
            self.end_headers()
            return
        if path == "/loop":
            self.send_response(302)
            self.send_header("Location", "/loop")
            self.end_headers()
            return
        if path == "/slow":
            time.sleep(3)  # longer than the test's 0.5 s timeout; the server thread ends on its own
        if path == "/auth":
            ok = self.headers.get("Authorization") == f"Bearer {TOKEN}"
            status, kind, body = (200, "application/json", b'{"status":"ok"}') if ok else (401, "text/plain", b"no")
        else:
            status, kind, body = ROUTES.get(path, (404, "text/plain", b"not found"))
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def garbage_port():
    """A TCP server that answers every connection with bytes that are not HTTP."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with conn:
                conn.sendall(b"\x00\x01 this is not HTTP\r\n\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join(timeout=2)
    listener.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def observe(tmp_path: Path, targets: list) -> list[Observation]:
    found = discover(tmp_path, Config())
    config = Config(live={"health": targets})
    observations, _gaps, _run = runner.run_probe(HealthProbe, found, Files(found.root), Inventory(), config)
    return observations


def one(tmp_path: Path, target) -> Observation:
    (got,) = observe(tmp_path, [target])
    assert got.check == ENDPOINTS_HEALTHY.id
    return got


def test_healthy_json_and_plain_endpoints_pass_with_live_evidence(tmp_path, server):
    up = one(tmp_path, f"{server}/healthz")
    assert up.status is Status.PASS and up.strength is Strength.LIVE
    assert up.subject.endpoint == f"{server}/healthz"
    assert up.facts["http_status"] == 200 and up.facts["body_status"] == "up"
    plain = one(tmp_path, f"{server}/plain")
    assert plain.status is Status.PASS and "no status in the body" in plain.message


@pytest.mark.parametrize(
    ("path", "said"),
    [("/down", "HTTP 503"), ("/lying", "body's status is 'fail'"), ("/error", "HTTP 500"), ("/nowhere", "HTTP 404")],
)
def test_unhealthy_answers_fail_saying_what_was_seen(tmp_path, server, path, said):
    got = one(tmp_path, f"{server}{path}")
    assert got.status is Status.FAIL and said in got.message, got.message


def test_warn_is_healthy_but_says_so(tmp_path, server):
    got = one(tmp_path, f"{server}/warn")
    assert got.status is Status.PASS and "warnings" in got.message


def test_redirects_are_followed_and_loops_are_errors(tmp_path, server):
    got = one(tmp_path, f"{server}/redirect")
    assert got.status is Status.PASS and got.facts["redirects"] == 1
    assert got.facts["final_url"] == f"{server}/healthz"
    loop = one(tmp_path, f"{server}/loop")
    assert loop.status is Status.ERROR and "redirects" in loop.message


def test_expected_status_and_body_are_the_users_to_set(tmp_path, server):
    down_is_expected = one(tmp_path, {"url": f"{server}/down", "expect_status": [503]})
    assert down_is_expected.status is Status.FAIL, "a DOWN body stays unhealthy whatever status is expected"
    wanted = one(tmp_path, {"url": f"{server}/healthz", "body_contains": '"db": {"status": "UP"}'})
    assert wanted.status is Status.PASS
    missing = one(tmp_path, {"url": f"{server}/healthz", "body_contains": '"cache"'})
    assert missing.status is Status.FAIL and "lacks" in missing.message


def test_down_hanging_and_non_http_servers_are_errors_within_the_timeout(tmp_path, server, garbage_port):
    refused = one(tmp_path, f"http://127.0.0.1:{free_port()}/healthz")
    assert refused.status is Status.ERROR and "refused" in refused.message.lower()
    hanging = one(tmp_path, {"url": f"{server}/slow", "timeout_seconds": 0.5})
    assert hanging.status is Status.ERROR and "no answer within 0.5 s" in hanging.message
    garbage = one(tmp_path, f"http://127.0.0.1:{garbage_port}/healthz")
    assert garbage.status is Status.ERROR


def test_tls_endpoint_with_an_untrusted_certificate_is_an_error(tmp_path, server):
    # Plain HTTP spoken to by an HTTPS client: the handshake fails, which is an error, not a verdict.
    port = server.rsplit(":", 1)[1]
    got = one(tmp_path, {"url": f"https://127.0.0.1:{port}/healthz", "timeout_seconds": 2})
    assert got.status is Status.ERROR and "TLS" in got.message


def test_header_values_come_from_the_environment_and_are_never_shown(tmp_path, server, monkeypatch):
    target = {"url": f"{server}/auth?token={TOKEN}", "headers_from_env": {"Authorization": "HEALTH_AUTH"}}
    unset = one(tmp_path, target)
    assert unset.status is Status.ERROR and "HEALTH_AUTH" in unset.message
    monkeypatch.setenv("HEALTH_AUTH", f"Bearer {TOKEN}")
    got = one(tmp_path, target)
    assert got.status is Status.PASS
    shown = json.dumps(got.to_json()) if hasattr(got, "to_json") else repr(got)
    assert TOKEN not in shown and got.subject.endpoint.endswith("/auth?token=…")


def test_credentials_in_urls_are_redacted_from_the_evidence():
    assert redact("https://user:FAKE-pass@example.test:8443/h?key=FAKE&x=1") == "https://example.test:8443/h?key=…&x=…"
    assert redact("http://[::1]:9000/healthz") == "http://[::1]:9000/healthz"


def test_error_messages_never_carry_the_query(tmp_path):
    got = one(tmp_path, f"http://127.0.0.1:{free_port()}/healthz?token={TOKEN}")
    assert got.status is Status.ERROR and TOKEN not in got.message


def test_no_endpoint_named_leaves_the_check_unknown(tmp_path):
    found = discover(tmp_path, Config())
    (got,) = runner.run_probe(HealthProbe, found, Files(found.root), Inventory(), Config())[0]
    assert got.status is Status.UNKNOWN and "live.health" in got.message


def test_cli_health_option_decides_the_checklist_item(tmp_path, server):
    code, report = audit_json(tmp_path, "--health", f"{server}/healthz", "--health", f"{server}/down")
    verdict = item(report, "pd.integration.health-endpoints-verified")
    assert verdict["status"] == "fail", verdict
    code, report = audit_json(tmp_path, "--health", f"{server}/healthz")
    assert item(report, "pd.integration.health-endpoints-verified")["status"] == "pass"
