"""The nginx probe on fixture configurations, cross-checked against the real nginx binary's own parser."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import REPO, audit_json
from readiness.probes.nginx import CHECKS, NginxProbe

from readiness import runner
from readiness.config import Config
from readiness.discovery import discover
from readiness.inventory import Inventory
from readiness.model import Observation, Status
from readiness.probe import Files

FIXTURES = REPO / "fixtures"


def observe(root: Path) -> tuple[list[Observation], list]:
    found = discover(root, Config())
    observations, gaps, _run = runner.run_probe(NginxProbe, found, Files(found.root), Inventory(), Config())
    return observations, gaps


def find(obs: list[Observation], check: str, server: str | None = None) -> list[Observation]:
    return [o for o in obs if o.check == check and (server is None or server in (o.subject.name or ""))]


def one(obs: list[Observation], check: str, server: str | None = None, line: int | None = None) -> Observation:
    got = [o for o in find(obs, check, server) if line is None or o.subject.line == line]
    assert len(got) == 1, [(o.subject, o.message) for o in find(obs, check)]
    return got[0]


def test_hardened_configuration_passes_every_check_across_includes():
    obs, gaps = observe(FIXTURES / "nginx-hardened")
    assert gaps == []  # mime.types and conf.d/*.conf resolve to files of the repository
    assert {o.check for o in obs} == {c.id for c in CHECKS}
    assert {o.status for o in obs} == {Status.PASS}, [(o.check, o.message) for o in obs if o.status != Status.PASS]
    # the server block lives in conf.d, included from nginx.conf's http block: inherited values count
    compression = one(obs, "nginx.compression", "listen 443")
    assert compression.subject.path == "deploy/nginx/nginx.conf" and compression.subject.line == 12
    tls = one(obs, "nginx.tls_protocols")
    assert (tls.subject.path, tls.subject.line) == ("deploy/nginx/conf.d/site.conf", 12)
    assert tls.facts["ssl_protocols"] == ["TLSv1.2", "TLSv1.3"]
    # the location that sets its own headers repeats HSTS, so it is judged there too, and passes
    assert {o.subject.line for o in find(obs, "nginx.hsts_header")} == {19, 29}
    # the redirect-only server on port 80 needs no rate limit
    assert [o.subject.name for o in find(obs, "nginx.rate_limiting")] == ["server shop.example.test (listen 443)"]


def test_insecure_configuration_fails_with_file_and_line():
    obs, _ = observe(FIXTURES / "nginx-insecure")
    legacy = "legacy.example.test"
    tls = one(obs, "nginx.tls_protocols", legacy)
    assert tls.status is Status.FAIL and tls.subject.line == 6 and "TLSv1, TLSv1.1" in tls.message
    hsts = find(obs, "nginx.hsts_header", legacy)
    assert {(o.subject.line, o.status) for o in hsts} == {(8, Status.FAIL), (12, Status.FAIL)}
    assert "under 180 days" in one(obs, "nginx.hsts_header", legacy, 8).message
    assert "not inherited" in one(obs, "nginx.hsts_header", legacy, 12).message  # add_header in location /app/
    assert one(obs, "nginx.ocsp_stapling", legacy).status is Status.FAIL
    api = "api.example.test"
    assert "ssl_stapling_verify" in one(obs, "nginx.ocsp_stapling", api).message
    unknown = one(obs, "nginx.tls_protocols", api)
    assert unknown.status is Status.UNKNOWN and "1.23.4" in unknown.message
    assert "only text/html" in one(obs, "nginx.compression", api).message
    cors = one(obs, "nginx.cors_restricted", legacy)
    assert cors.status is Status.FAIL and "$http_origin" in cors.message and cors.subject.line == 9
    assert "Credentials true" in one(obs, "nginx.cors_restricted", api).message
    limits = one(obs, "nginx.rate_limiting", legacy)
    assert limits.status is Status.FAIL and "/app/" in limits.message
    assert one(obs, "nginx.timeouts", legacy).status is Status.FAIL


def test_metrics_locations_need_an_allow_list_unless_the_server_is_loopback_only():
    obs, _ = observe(FIXTURES / "nginx-insecure")
    open_status = one(obs, "nginx.monitoring_allowlist", "legacy.example.test")
    assert open_status.status is Status.FAIL and open_status.subject.line == 17
    loopback = one(obs, "nginx.monitoring_allowlist", "127.0.0.1:8080")
    assert loopback.status is Status.PASS and "loopback" in loopback.message
    # and a loopback-only server needs no rate limit
    assert find(obs, "nginx.rate_limiting", "127.0.0.1:8080") == []


def test_a_file_that_does_not_parse_is_an_error_and_the_others_are_judged():
    obs, gaps = observe(FIXTURES / "nginx-malformed")
    broken = [o for o in obs if o.subject.path == "nginx/broken.conf"]
    assert broken and {o.status for o in broken} == {Status.ERROR}
    assert {o.check for o in broken} == {c.id for c in CHECKS}
    assert broken[0].subject.line == 5 and "does not parse" in broken[0].message
    assert one(obs, "nginx.rate_limiting", "listen 80").status is Status.PASS  # good.conf still judged
    assert any(g.subject.path == "nginx/broken.conf" for g in gaps)


def test_an_include_missing_from_the_repository_makes_absence_unknown_not_fail():
    obs, gaps = observe(FIXTURES / "nginx-partial")
    assert [(g.subject.path, g.subject.line) for g in gaps] == [("nginx/nginx.conf", 3)]
    for check in ("nginx.tls_protocols", "nginx.hsts_header", "nginx.ocsp_stapling", "nginx.cors_restricted"):
        got = one(obs, check)
        assert got.status is Status.UNKNOWN and "snippets" in got.message, (check, got.message)


def test_no_nginx_configuration_leaves_the_items_to_their_other_evidence(tmp_path):
    (tmp_path / "README.md").write_text("nothing to see\n")
    obs, _ = observe(tmp_path)
    status = {o.check: o.status for o in obs}
    assert status["nginx.tls_protocols"] is Status.NOT_APPLICABLE
    assert status["nginx.compression"] is Status.UNKNOWN  # the application or a CDN may compress


def test_a_location_that_drops_inherited_hsts_is_found(tmp_path):
    (tmp_path / "site.conf").write_text(
        "server {\n"
        "    listen 443 ssl;\n"
        '    add_header Strict-Transport-Security "max-age=31536000" always;\n'
        "    location / { root /srv; }\n"
        "    location /download/ {\n"
        '        add_header Content-Disposition "attachment";\n'
        "    }\n"
        "}\n"
    )
    obs, _ = observe(tmp_path)
    hsts = {o.subject.line: o.status for o in find(obs, "nginx.hsts_header")}
    assert hsts == {3: Status.PASS, 5: Status.FAIL}


@pytest.mark.parametrize("fixture", ["nginx-hardened", "nginx-insecure"])
def test_the_fixtures_are_configurations_real_nginx_accepts(tmp_path, fixture):
    """What the probe judges must be what nginx runs: `nginx -t` parses each fixture (files copied to a
    prefix where the includes' absolute paths are rewritten to it; certificates are not needed by -t
    when ssl_certificate is absent, so those lines are dropped)."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    source = FIXTURES / fixture
    main = next(source.rglob("nginx.conf"))
    prefix = tmp_path / "prefix"
    shutil.copytree(main.parent, prefix)
    for conf in prefix.rglob("*.conf"):
        text = conf.read_text().replace("/etc/nginx/", f"{prefix}/")
        kept = [line for line in text.splitlines() if "ssl_certificate" not in line and "ssl_trusted" not in line]
        conf.write_text("\n".join(kept) + "\n")
    conf = prefix / "nginx.conf"
    text = conf.read_text()
    conf.write_text(f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\n" + text)
    done = subprocess.run(
        [nginx, "-t", "-p", str(prefix), "-c", str(conf), "-g", "daemon off;"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    # -t fails on the missing certificates of `listen ... ssl` only; any syntax error names the file instead
    assert "syntax is ok" in done.stderr or 'no "ssl_certificate"' in done.stderr, done.stderr


def test_a_conf_file_in_another_format_is_a_gap_not_an_error(tmp_path):
    """jibri.conf (templated HOCON) has a `server {` line, so it was taken for nginx; it does not parse as nginx,
    and must not make every nginx item unknown."""
    (tmp_path / "jibri").mkdir()
    hocon = "{{ if .Env.X -}}\njibri {\n  server {\n    port = 5222\n  }\n{{ end -}}\n}\n}\n"
    (tmp_path / "jibri" / "jibri.conf").write_text(hocon)
    obs, gaps = observe(tmp_path)
    assert not [o for o in obs if o.status is Status.ERROR and o.subject.path == "jibri/jibri.conf"]
    assert any("not nginx configuration after all" in g.reason for g in gaps)


def test_fragments_and_templates_are_judged_for_http_wide_directives(tmp_path):
    """jitsi's shape: nginx.conf has gzip on and includes a templated site; no server block parses here."""
    (tmp_path / "web" / "nginx").mkdir(parents=True)
    (tmp_path / "web" / "nginx" / "nginx.conf").write_text(
        "http {\n  gzip on;\n  gzip_types text/css application/json;\n  include /config/nginx/site-confs/*;\n}\n"
    )
    obs, _ = observe(tmp_path)
    got = {o.check: o.status for o in obs if o.check in ("nginx.compression", "nginx.rate_limiting")}
    assert got == {"nginx.compression": Status.PASS, "nginx.rate_limiting": Status.FAIL}


def test_an_envsubst_template_the_image_renders_at_start_is_the_production_config(tmp_path):
    """nginx's image renders /etc/nginx/templates/*.conf.template at start: opentelemetry-demo and penpot ship
    their only nginx configuration that way. `${VAR}` stays an argument; the rest is judged as nginx reads it."""
    conf = tmp_path / "src" / "image-provider" / "nginx.conf.template"
    conf.parent.mkdir(parents=True)
    conf.write_text(
        "events {}\nhttp {\n  server {\n    listen ${IMAGE_PROVIDER_PORT};\n"
        "    location /status {\n      stub_status;\n      allow all;\n    }\n  }\n}\n"
    )
    (tmp_path / "docker" / "gitpod" / "files").mkdir(parents=True)
    (tmp_path / "docker" / "gitpod" / "files" / "nginx.conf").write_text(
        "events {}\nhttp {\n  gzip on;\n  server {\n    listen 3449;\n  }\n}\n"
    )
    _, report = audit_json(tmp_path, "--fail-on", "none")
    production = [o for o in report["observations"] if o["production"] and o["probe"] == "nginx"]
    status = [o for o in production if o["subject"].get("path") == "src/image-provider/nginx.conf.template"]
    assert any(o["status"] == "fail" and "/status" in o["message"] for o in status)  # `allow all` on stub_status
    assert not any(o["subject"].get("path", "").startswith("docker/gitpod/") for o in production)  # a workspace
