"""The TLS probe against real servers on loopback: Debian's nginx, and fake servers for what nginx cannot do."""

from __future__ import annotations

import datetime as dt
import shutil
import struct
from pathlib import Path

import pytest
from conftest import audit_json
from readiness.probes.tls import parse_target
from readiness.probes.tls.endpoint import Settings
from readiness.probes.tls.grade import compute
from readiness.probes.tls.scan import Target, scan_protocols
from readiness.probes.tls.web import parse_hsts
from readiness.probes.tls.wire import HRR_RANDOM, Deadline
from tls_servers import (
    FakeServer,
    Nginx,
    Pki,
    alert,
    free_port,
    legacy_server,
    offered,
    server_hello,
    sslv2_server,
    standard_sites,
)

from readiness.config import Config, ConfigError
from readiness.model import Status
from readiness.runner import audit

LIVE_CHECKS = (
    "tls.certificate_valid",
    "tls.hsts",
    "tls.protocols_modern",
    "tls.cipher_suites_strong",
    "tls.ocsp_stapling",
    "tls.grade_a_plus",
    "tls.mozilla_profile",
    "tls.http_redirects_to_https",
)
# Fast retries keep the suite quick; the default stays three tries a second apart.
FAST = {"ocsp_interval": 0.1, "connect_timeout": 2, "endpoint_timeout": 20}


@pytest.fixture(scope="session")
def pki() -> Pki:
    return Pki.create()


@pytest.fixture(scope="session")
def nginx(pki, tmp_path_factory):
    if shutil.which("nginx") is None and not Path("/usr/sbin/nginx").exists():
        pytest.fail("nginx is required for the TLS tests: apt-get install -y nginx")
    server = Nginx(tmp_path_factory.mktemp("nginx"), standard_sites(pki))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def repo(pki, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("tls-repo")
    (root / "ca").mkdir()
    (root / "ca" / "root.crt").write_bytes(pki.root.pem())
    return root


def target(nginx: Nginx, name: str) -> dict:
    site = nginx.sites[name]
    return {
        "host": "127.0.0.1",
        "port": site.port,
        "sni": name,
        "ca_bundle": "ca/root.crt",
        "http_port": site.http_port,
    }


def observations(report, endpoint_port: int) -> dict[str, object]:
    return {o.check: o for o in report.observations if o.subject.endpoint == f"127.0.0.1:{endpoint_port}"}


@pytest.fixture(scope="session")
def scanned(nginx, repo):
    """One audit of every nginx configuration at once (they are scanned concurrently)."""
    config = Config(live={"tls": [target(nginx, n) for n in nginx.sites]}, probes={"tls": FAST})
    report = audit(repo, config)
    return {name: observations(report, site.port) for name, site in nginx.sites.items()}


def test_strong_configuration_passes_every_live_check(scanned):
    obs = scanned["strong.test"]
    assert {c: obs[c].status for c in LIVE_CHECKS} == {c: Status.PASS for c in LIVE_CHECKS}
    assert obs["tls.protocols_modern"].facts["accepted"] == ["TLSv1.2", "TLSv1.3"]
    assert obs["tls.protocols_modern"].facts["confirmed_by_ssl"]["TLSv1.3"] is True
    suites = {p: {s["name"] for s in v} for p, v in obs["tls.cipher_suites_strong"].facts["suites"].items()}
    assert suites == {
        "TLSv1.2": {
            "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
            "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
            "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        },
        "TLSv1.3": {"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"},
    }
    assert obs["tls.grade_a_plus"].facts["grade"] == "A+"
    assert obs["tls.grade_a_plus"].facts["approximation"] is True
    assert obs["tls.hsts"].facts["hsts"]["meets"] == {"ssl_labs_a_plus": True, "preload_list": True, "mozilla": True}
    assert obs["tls.ocsp_stapling"].facts["assessment"]["cert_status"] == "GOOD"
    cert = obs["tls.certificate_valid"].facts
    assert cert["key"] == {"type": "ecdsa", "bits": 256, "curve": "secp256r1", "rsa_equivalent": 3072}
    assert cert["chain_sent"] == ["CN=strong.test", "CN=readiness test intermediate"]
    assert obs["tls.mozilla_profile"].facts["deviations"] == []
    assert obs["tls.http_redirects_to_https"].facts["status"] == 301


def test_legacy_configuration_fails_with_its_reasons(scanned):
    obs = scanned["legacy.test"]
    protocols = obs["tls.protocols_modern"]
    assert protocols.status is Status.FAIL
    assert protocols.facts["accepted"] == ["TLSv1.0", "TLSv1.1", "TLSv1.2"]
    # the real OpenSSL handshake agrees with the scanner's own ClientHello
    assert protocols.facts["confirmed_by_ssl"] == {"TLSv1.0": True, "TLSv1.1": True, "TLSv1.2": True, "TLSv1.3": False}
    weak = obs["tls.cipher_suites_strong"].facts["weak"]
    assert obs["tls.cipher_suites_strong"].status is Status.FAIL
    assert "no forward secrecy" in weak["TLS_RSA_WITH_AES_128_GCM_SHA256"]
    assert "anonymous" in weak["TLS_ECDH_anon_WITH_AES_128_CBC_SHA"]
    assert "not AEAD" in weak["TLS_DHE_RSA_WITH_AES_128_CBC_SHA"]
    assert "DHE group of 1024 bits" in obs["tls.cipher_suites_strong"].message
    assert "0-bit cipher" in weak["TLS_RSA_WITH_NULL_SHA"]
    cert = obs["tls.certificate_valid"]
    assert cert.status is Status.FAIL
    assert "weak key: rsa 1024 bits" in cert.message and "signed with sha1" in cert.message
    grade = obs["tls.grade_a_plus"].facts
    assert grade["grade"] == "F"
    assert {"anonymous suites accepted", "TLS 1.0 or 1.1 accepted"} <= {reason for _, reason in grade["caps"]}
    assert obs["tls.hsts"].status is Status.FAIL and obs["tls.hsts"].facts["hsts"]["max_age"] == 300
    assert obs["tls.http_redirects_to_https"].status is Status.FAIL
    assert obs["tls.ocsp_stapling"].status is Status.FAIL
    assert len(obs["tls.ocsp_stapling"].facts["attempts"]) == 3
    deviations = obs["tls.mozilla_profile"].facts["deviations"]
    assert "TLSv1.0 accepted; the profile allows only TLSv1.2, TLSv1.3" in deviations
    assert any(d.startswith("RSA key of 1024 bits") for d in deviations)


@pytest.mark.parametrize(
    ("name", "fault", "grade"),
    [
        ("expired.test", "expired on", "T"),
        ("selfsigned.test", "untrusted: self-signed", "T"),
        ("mismatch.test", "hostname mismatch: mismatch.test is not among ['other.test']", "M"),
        ("nochain.test", "incomplete chain", "T"),
    ],
)
def test_certificate_faults(scanned, name, fault, grade):
    obs = scanned[name]
    assert obs["tls.certificate_valid"].status is Status.FAIL
    assert fault in obs["tls.certificate_valid"].message
    assert obs["tls.grade_a_plus"].facts["grade"] == grade
    assert obs["tls.protocols_modern"].status is Status.PASS


def test_incomplete_chain_is_named_as_such(scanned):
    facts = scanned["nochain.test"]["tls.certificate_valid"].facts
    assert facts["incomplete_chain"] is True and facts["chain_sent"] == ["CN=nochain.test"]


def test_hsts_only_on_some_paths_is_missing_on_the_root(scanned):
    hsts = scanned["somepaths.test"]["tls.hsts"]
    assert hsts.status is Status.FAIL
    assert "no Strict-Transport-Security header" in hsts.message
    assert scanned["somepaths.test"]["tls.grade_a_plus"].facts["grade"] == "A"


def test_no_staple_is_a_failure_only_after_three_tries(scanned):
    ocsp = scanned["expired.test"]["tls.ocsp_stapling"]
    assert ocsp.status is Status.FAIL and len(ocsp.facts["attempts"]) == 3


def test_same_server_gives_the_same_observations(nginx, repo):
    config = Config(live={"tls": [target(nginx, "strong.test"), target(nginx, "legacy.test")]}, probes={"tls": FAST})
    runs = [audit(repo, config) for _ in range(2)]
    seen = [[(o.check, o.status, o.subject, o.message) for o in r.observations if o.probe == "tls"] for r in runs]
    assert seen[0] == seen[1]


def test_renewal_evidence_from_cert_manager(nginx, tmp_path):
    (tmp_path / "k8s").mkdir()
    (tmp_path / "k8s" / "cert.yaml").write_text(
        "apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata:\n  name: web\nspec:\n  secretName: web-tls\n"
    )
    report = audit(
        tmp_path, Config(live={"tls": [{k: v for k, v in target(nginx, "strong.test").items() if k != "ca_bundle"}]})
    )
    renewal = [o for o in report.observations if o.check == "tls.renewal_automated"]
    assert [(o.status, o.subject.path, o.subject.line) for o in renewal] == [(Status.PASS, "k8s/cert.yaml", 2)]


def test_renewal_without_evidence_depends_on_the_certificate_lifetime(scanned):
    # 90-day certificates suggest automation but prove nothing; no artifact is in the repository
    assert scanned["strong.test"]["tls.renewal_automated"].status is Status.UNKNOWN
    legacy = scanned["legacy.test"]["tls.renewal_automated"]
    assert legacy.status is Status.FAIL and legacy.facts["lifetime_days"] == 400
    assert "exceeds the CA/Browser Forum limit" in scanned["legacy.test"]["tls.certificate_valid"].facts["warnings"][0]


def test_endpoint_down_is_an_error_and_the_audit_goes_on(nginx, repo):
    down = free_port()
    config = Config(live={"tls": [f"127.0.0.1:{down}", target(nginx, "strong.test")]}, probes={"tls": FAST})
    report = audit(repo, config)
    dead = observations(report, down)
    assert {dead[c].status for c in LIVE_CHECKS} == {Status.ERROR}
    assert "cannot connect" in dead["tls.protocols_modern"].message
    assert observations(report, nginx.sites["strong.test"].port)["tls.certificate_valid"].status is Status.PASS


@pytest.mark.parametrize(
    ("respond", "expected"),
    [
        (lambda data: None, "no answer within the timeout"),
        (lambda data: b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n", "does not speak TLS"),
        (lambda data: b"\x16\x03\x01\x00\x05\x02\x00\x00\x01\x00", "malformed TLS"),
    ],
    ids=["hangs", "not-tls", "malformed"],
)
def test_misbehaving_servers_yield_errors_within_the_timeout(repo, respond, expected):
    server = FakeServer(respond)
    try:
        settings = {"connect_timeout": 0.5, "endpoint_timeout": 5}
        report = audit(repo, Config(live={"tls": [f"127.0.0.1:{server.port}"]}, probes={"tls": settings}))
    finally:
        server.close()
    obs = observations(report, server.port)
    assert {obs[c].status for c in LIVE_CHECKS} == {Status.ERROR}
    assert expected in obs["tls.certificate_valid"].message


def _scan(port: int) -> object:
    return scan_protocols(Target("127.0.0.1", port), Deadline(10), 2)


def test_sslv3_rc4_3des_and_export_found_by_elimination():
    accepts = {0x0300: [0x0005, 0x000A], 0x0301: [0x0003, 0x000A, 0x0005]}
    server = FakeServer(legacy_server(accepts))
    try:
        scan = _scan(server.port)
    finally:
        server.close()
    assert scan.accepted == {"SSLv3": [0x0005, 0x000A], "TLSv1.0": [0x0003, 0x000A, 0x0005]}
    assert scan.confirmed["TLSv1.0"] is False  # the fake cannot finish a real handshake
    from readiness.probes.tls.ciphers import describe

    suites = [describe(c) for c in (0x0003, 0x0005, 0x000A)]
    result = compute(["SSLv3", "TLSv1.0"], suites, 2048, None, None, False, [])
    reasons = {reason for _, reason in result["caps"]}
    assert result["grade"] == "F"
    assert {"export suites accepted", "SSLv3 accepted", "RC4 accepted", "no TLS 1.2 or 1.3"} <= reasons


def test_sslv2_is_probed_with_its_own_hello_and_caps_the_grade_at_f(repo):
    rc4, des3 = 0x010080, 0x0700C0
    server = FakeServer(sslv2_server([rc4, des3], fallback=legacy_server({0x0303: [0xC02F]})))
    try:
        scan = _scan(server.port)
        report = audit(repo, Config(live={"tls": [f"127.0.0.1:{server.port}"]}, probes={"tls": FAST}))
    finally:
        server.close()
    assert scan.sslv2 == {
        "accepted": True,
        "answer": "SSLv2 SERVER-HELLO offering 2 cipher(s)",
        "ciphers": ["SSL_CK_RC4_128_WITH_MD5", "SSL_CK_DES_192_EDE3_CBC_WITH_MD5"],
    }
    obs = observations(report, server.port)
    assert obs["tls.protocols_modern"].status is Status.FAIL
    assert obs["tls.protocols_modern"].facts["accepted"] == ["SSLv2", "TLSv1.2"]
    assert "SSLv2" in obs["tls.protocols_modern"].message
    assert obs["tls.cipher_suites_strong"].facts["weak"]["SSL_CK_RC4_128_WITH_MD5"] == "SSLv2"


def test_servers_that_refuse_sslv2_in_any_way_are_not_sslv2(scanned):
    strong = scanned["strong.test"]["tls.protocols_modern"].facts["sslv2"]
    assert strong["accepted"] is False and strong["answer"]  # real nginx says something other than SERVER-HELLO
    for respond in (lambda data: alert(40), lambda data: b"", sslv2_server([])):
        server = FakeServer(respond)
        try:
            assert _scan_sslv2(server.port)["accepted"] is False
        finally:
            server.close()


def _scan_sslv2(port: int) -> dict:
    from readiness.probes.tls.scan import _sslv2

    return _sslv2(Target("127.0.0.1", port), Deadline(5), 1)


def test_sslv2_caps_the_grade():
    from readiness.probes.tls.ciphers import describe

    result = compute(["SSLv2", "TLSv1.2"], [describe(0xC02F)], 3072, None, None, False, [])
    assert result["grade"] == "F" and ["F", "SSLv2 accepted"] in result["caps"]


def test_protocols_verdict_on_sslv3_stands_without_local_confirmation(repo):
    server = FakeServer(legacy_server({0x0300: [0x0005]}))
    try:
        report = audit(repo, Config(live={"tls": [f"127.0.0.1:{server.port}"]}, probes={"tls": FAST}))
    finally:
        server.close()
    obs = observations(report, server.port)
    assert obs["tls.protocols_modern"].status is Status.FAIL
    assert obs["tls.protocols_modern"].facts["accepted"] == ["SSLv3"]
    assert obs["tls.certificate_valid"].status is Status.ERROR


def test_version_downgrade_is_not_acceptance():
    def respond(data: bytes) -> bytes:
        version, suites, _ = offered(data)
        return server_hello(0x0301, 0x002F) if 0x002F in suites else alert(40)

    server = FakeServer(respond)
    try:
        scan = _scan(server.port)
    finally:
        server.close()
    assert list(scan.accepted) == ["TLSv1.0"]
    assert scan.answers["TLSv1.2"].startswith("ServerHello TLSv1.0")


@pytest.mark.parametrize(("group", "name"), [(23, "secp256r1"), (0x11EC, "X25519MLKEM768")])
def test_hello_retry_request_counts_as_tls13(group, name):
    def respond(data: bytes) -> bytes:
        version, suites, _ = offered(data)
        if version != 0x0304:
            return alert(70)
        exts = struct.pack("!HHH", 43, 2, 0x0304) + struct.pack("!HHH", 51, 2, group)
        suite = next((s for s in (0x1302, 0x1301) if s in suites), None)
        if suite is None:
            return alert(40)
        return server_hello(0x0304, suite, exts, random=HRR_RANDOM, done=False)

    server = FakeServer(respond)
    try:
        scan = _scan(server.port)
    finally:
        server.close()
    assert scan.accepted == {"TLSv1.3": [0x1302, 0x1301]}
    assert scan.key_exchanges[0]["group"] == name


def test_heartbleed_detected():
    def respond(data: bytes) -> bytes:
        version, suites, exts = offered(data)
        if version != 0x0303:
            return alert(70)
        return server_hello(0x0303, 0xC02F, struct.pack("!HHB", 15, 1, 1) if 15 in exts else b"")

    def leak(request: bytes) -> bytes:
        return struct.pack("!BHH", 24, 0x0303, 0x4003) + b"\x02\x40\x00" + b"\xaa" * 0x4000

    server = FakeServer(respond, followup=leak)
    try:
        scan = _scan(server.port)
    finally:
        server.close()
    assert scan.heartbleed is True
    from readiness.probes.tls.ciphers import describe

    result = compute(["TLSv1.2"], [describe(0xC02F)], 3072, None, None, True, [])
    assert result["grade"] == "F" and ["F", "vulnerable to Heartbleed"] in result["caps"]


def test_nginx_is_not_vulnerable_to_heartbleed(scanned):
    facts = scanned["strong.test"]["tls.grade_a_plus"].facts
    assert facts["heartbleed"] is False and facts["heartbeat_extension"] is False


def test_hsts_parsing_thresholds():
    assert parse_hsts(['max-age="31536000"; includeSubDomains; preload'])["meets"] == {
        "ssl_labs_a_plus": True,
        "preload_list": True,
        "mozilla": False,
    }
    assert parse_hsts(["max-age=15552000"])["meets"]["ssl_labs_a_plus"] is True
    assert parse_hsts(["includeSubDomains"])["max_age"] is None
    assert parse_hsts(["max-age=100", "max-age=63072000"])["max_age"] == 100  # the first header counts


def test_target_forms():
    assert parse_target("example.test") == Target("example.test", 443)
    assert parse_target("127.0.0.1:8443") == Target("127.0.0.1", 8443)
    assert parse_target("[::1]:8443") == Target("::1", 8443)
    assert Target("::1", 8443).endpoint == "[::1]:8443"


def test_bad_target_is_a_config_error(repo):
    with pytest.raises(ConfigError):
        audit(repo, Config(live={"tls": [{"port": 443}]}))


def test_without_targets_the_checks_are_unknown(repo):
    report = audit(repo, Config())
    tls = [o for o in report.observations if o.probe == "tls"]
    assert {o.status for o in tls} == {Status.UNKNOWN}
    live = [o for o in tls if o.check != "tls.renewal_automated"]
    assert len(live) == 8 and all("no live target configured" in o.message for o in live)
    renewal = next(o for o in tls if o.check == "tls.renewal_automated")
    assert renewal.message.startswith("no renewal configuration in the repository")


def test_cli_json_evidence_carries_grade_and_deviations(nginx, repo, tmp_path):
    project = tmp_path / "project"
    shutil.copytree(repo, project)
    legacy = target(nginx, "legacy.test")
    (project / ".readiness.yaml").write_text(
        "version: 1\n"
        f"live:\n  tls:\n    - {{host: 127.0.0.1, port: {legacy['port']}, sni: legacy.test, ca_bundle: ca/root.crt,"
        f" http_port: {legacy['http_port']}}}\n"
        "probes:\n  tls: {ocsp_interval: 0.1}\n"
    )
    code, report = audit_json(project)
    assert code == 1
    tls = [o for o in report["observations"] if o["check"] == "tls.grade_a_plus"]
    assert tls[0]["facts"]["grade"] == "F" and tls[0]["facts"]["spec"].startswith("SSL Server Rating Guide")
    mozilla = next(o for o in report["observations"] if o["check"] == "tls.mozilla_profile")
    assert mozilla["status"] == "fail" and mozilla["facts"]["deviations"]


def test_settings_defaults_follow_the_issue():
    settings = Settings()
    assert (settings.ocsp_attempts, settings.ocsp_interval, settings.expiry_warning_days) == (3, 1.0, 30)
    assert settings.hsts_min_age == 15_552_000 and settings.mozilla_profile == "intermediate"


def test_expiry_warning_within_thirty_days(pki, tmp_path):
    soon = pki.leaf("soon.test", not_before=dt.datetime.now(dt.UTC) - dt.timedelta(days=80), days=90)
    from readiness.probes.tls.certificate import assess

    verified = {"verify_code": 0, "verify_message": "ok", "leaf": soon.cert.public_bytes(_der()), "trust_store": "x"}
    result = assess("soon.test", verified, [], dt.datetime.now(dt.UTC), 30)
    assert result["faults"] == [] and result["warnings"][0].startswith("expires in 9 days")


def _der():
    from cryptography.hazmat.primitives.serialization import Encoding

    return Encoding.DER


def test_endpoint_flag_scans_without_a_config_file(nginx, tmp_path):
    site = nginx.sites["strong.test"]
    code, report = audit_json(tmp_path, "--endpoint", f"127.0.0.1:{site.port}")
    assert code in (0, 1)
    protocols = next(o for o in report["observations"] if o["check"] == "tls.protocols_modern")
    assert protocols["status"] == "pass" and protocols["subject"]["endpoint"] == f"127.0.0.1:{site.port}"
    # no SNI name and no CA bundle: the test CA is not in the system store and the name is an IP
    cert = next(o for o in report["observations"] if o["check"] == "tls.certificate_valid")
    assert cert["status"] == "fail" and "untrusted" in cert["message"]


def test_a_bare_close_is_retried_once_before_it_counts_as_refusal():
    inner = legacy_server({0x0303: [0xC02F, 0x009C]})
    calls = []

    def flaky(data: bytes) -> bytes:
        calls.append(1)
        return b"" if len(calls) % 2 else inner(data)  # every other connection is dropped unanswered

    server = FakeServer(flaky)
    try:
        scan = _scan(server.port)
    finally:
        server.close()
    assert scan.accepted["TLSv1.2"] == [0xC02F, 0x009C]


def test_revoked_staple_fails(scanned):
    ocsp = scanned["revoked.test"]["tls.ocsp_stapling"]
    assert ocsp.status is Status.FAIL
    assert ocsp.message == "stapled response is not valid: certificate status REVOKED"


def test_hsts_is_read_after_following_a_same_host_redirect(scanned):
    hsts = scanned["redirecting.test"]["tls.hsts"]
    assert hsts.status is Status.PASS
    assert [hop["status"] for hop in hsts.facts["hops"]] == [301, 200]
    assert hsts.facts["hops"][1]["url"].endswith("/home")


def test_modern_profile_is_stricter(nginx, repo):
    settings = FAST | {"mozilla_profile": "modern", "mozilla_guidelines": "5.8"}
    report = audit(repo, Config(live={"tls": [target(nginx, "strong.test")]}, probes={"tls": settings}))
    mozilla = observations(report, nginx.sites["strong.test"].port)["tls.mozilla_profile"]
    assert mozilla.status is Status.FAIL
    assert mozilla.facts["guidelines"] == "5.8"
    assert "TLSv1.2 accepted; the profile allows only TLSv1.3" in mozilla.facts["deviations"]


@pytest.mark.parametrize(
    ("path", "text", "mechanism"),
    [
        (
            "etc/letsencrypt/renewal/example.conf",
            "version = 2.1\n[renewalparams]\nauthenticator = webroot\n",
            "certbot",
        ),
        ("deploy/Caddyfile", "# site\nexample.com {\n  reverse_proxy app:8000\n}\n", "Caddy automatic HTTPS"),
        ("traefik.yml", "certificatesResolvers:\n  le:\n    acme:\n      email: ops@example.test\n", "Traefik"),
        ("infra/cert.tf", 'resource "aws_acm_certificate" "web" {\n  domain_name = "example.com"\n}\n', "Terraform"),
        ("systemd/certbot-renew.timer", "[Timer]\nOnCalendar=daily\n# certbot renew --quiet\n", "timer"),
    ],
)
def test_renewal_mechanisms_are_recognised(nginx, tmp_path, path, text, mechanism):
    (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / path).write_text(text)
    config = Config(live={"tls": [target(nginx, "strong.test")]}, probes={"tls": FAST})
    report = audit(tmp_path, config)
    found = [o for o in report.observations if o.check == "tls.renewal_automated" and o.status is Status.PASS]
    assert [o.subject.path for o in found] == [path]
    assert mechanism in found[0].facts["mechanism"]


def test_caddy_with_automatic_https_off_is_not_evidence(nginx, tmp_path):
    (tmp_path / "Caddyfile").write_text("{\n  auto_https off\n}\nexample.com {\n  respond ok\n}\n")
    endpoint = {k: v for k, v in target(nginx, "strong.test").items() if k != "ca_bundle"}
    report = audit(tmp_path, Config(live={"tls": [endpoint]}, probes={"tls": FAST}))
    renewal = [o for o in report.observations if o.check == "tls.renewal_automated"]
    assert [o.status for o in renewal] == [Status.UNKNOWN]


def test_renewal_evidence_is_read_without_live_targets(tmp_path):
    (tmp_path / "cert.yaml").write_text("apiVersion: cert-manager.io/v1\nkind: ClusterIssuer\nmetadata:\n  name: le\n")
    report = audit(tmp_path, Config())
    tls = {o.check: o for o in report.observations if o.probe == "tls"}
    assert tls["tls.renewal_automated"].status is Status.PASS
    assert tls["tls.renewal_automated"].subject.path == "cert.yaml"
    assert tls["tls.certificate_valid"].status is Status.UNKNOWN
    assert "no live target configured" in tls["tls.certificate_valid"].message


def test_mozilla_guidelines_57_58_and_60_are_stored_and_differ_where_mozilla_changed_them():
    from readiness.probes.tls import mozilla

    suites = {"TLSv1.2": ["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256"]}
    kex = [{"type": "ECDHE", "group": "x25519", "suite": "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"}]
    hsts = {"max_age": 63072000}

    def deviations(version: str) -> list[str]:
        _, prof = mozilla.profile("intermediate", version)
        return mozilla.deviations(prof, ["TLSv1.2", "TLSv1.3"], suites, None, kex, hsts, True)

    assert sorted(mozilla.profiles()["versions"]) == ["5.7", "5.8", "6.0"]
    # 5.7 added DHE-RSA-CHACHA20-POLY1305 to intermediate; 5.8 kept it; 6.0 dropped every DHE suite.
    assert deviations("5.7") == deviations("5.8") == []
    assert deviations("6.0") == ["TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256 accepted over TLSv1.2; not in the profile"]
    with pytest.raises(KeyError):
        mozilla.profile("old", "6.0")  # 6.0 has no old profile


@pytest.mark.parametrize(
    ("directives", "expected"),
    [
        (
            "ssl_stapling on; ssl_stapling_verify on;",
            "configured but no staple sent: ssl_stapling on at nginx/site.conf:5",
        ),
        ("", "not configured: server expired.test"),
        (None, "configuration is not in the repository"),
    ],
    ids=["configured", "not-configured", "no-config"],
)
def test_a_missing_staple_says_whether_the_repositorys_nginx_config_enables_stapling(
    nginx, pki, tmp_path, directives, expected
):
    site = nginx.sites["expired.test"]
    (tmp_path / "ca").mkdir()
    (tmp_path / "ca" / "root.crt").write_bytes(pki.root.pem())
    if directives is not None:
        (tmp_path / "nginx").mkdir()
        (tmp_path / "nginx" / "site.conf").write_text(
            "server {\n"
            f"    listen {site.port} ssl;\n"
            "    server_name expired.test;\n"
            "    ssl_certificate /etc/ssl/expired.crt;\n"
            f"    {directives}\n"
            "}\n"
        )
    report = audit(tmp_path, Config(live={"tls": [target(nginx, "expired.test")]}, probes={"tls": FAST}))
    ocsp = observations(report, site.port)["tls.ocsp_stapling"]
    assert ocsp.status is Status.FAIL and expected in ocsp.message, ocsp.message
    if directives:
        assert "no resolver" in ocsp.message and ocsp.facts["nginx_config"]["ssl_stapling"] is True


@pytest.mark.parametrize("budget", [1, 3])
def test_the_per_host_budget_bounds_simultaneous_connections(nginx, repo, budget):
    """Four endpoints on one host (proxies in front of one nginx site) scanned at once: never more open
    connections to the host than the budget, and every endpoint still gets its verdicts."""
    from tls_servers import CountingProxy

    site = nginx.sites["strong.test"]
    proxy = CountingProxy(site.port, ports=4)
    try:
        targets = [{"host": "127.0.0.1", "port": p, "sni": "strong.test", "http_port": None} for p in proxy.ports]
        settings = FAST | {"per_host_connections": budget, "max_concurrency": 8}
        report = audit(repo, Config(live={"tls": targets}, probes={"tls": settings}))
    finally:
        proxy.close()
    assert 1 <= proxy.peak <= budget, (proxy.peak, budget)
    assert proxy.total >= 4 * 20  # dozens of connections per endpoint went through the budget
    for port in proxy.ports:
        obs = observations(report, port)
        assert obs["tls.protocols_modern"].status is Status.PASS
