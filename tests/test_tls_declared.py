"""TLS as the production deployment declares it, when no endpoint is named: Caddy, Traefik, nginx directives
(templates included), and stacks that serve plain HTTP."""

from __future__ import annotations

from pathlib import Path

from readiness.probes.tls import TlsProbe

from readiness import runner
from readiness.config import Config
from readiness.discovery import discover
from readiness.inventory import Inventory
from readiness.model import Status
from readiness.probe import Files


def verdicts(root: Path, files: dict[str, str]) -> dict[str, tuple[Status, str, str]]:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    found = discover(root, Config())
    obs = runner.run_probe(TlsProbe, found, Files(found.root), Inventory(), Config())[0]
    return {o.check: (o.status, o.subject.describe(), o.message) for o in obs if o.subject.path or o.subject.name}


APP = "  app:\n    image: example/app:1.0.0\n"


def test_caddy_defaults_pass_and_missing_hsts_fails(tmp_path):
    got = verdicts(
        tmp_path,
        {
            "compose.yaml": "services:\n  caddy:\n    image: caddy:2.8.4\n    ports: ['80:80', '443:443']\n" + APP,
            "Caddyfile": "shop.example.invalid {\n  reverse_proxy app:8000\n}\n",
        },
    )
    assert got["tls.protocols_modern"][0] is Status.PASS
    assert got["tls.cipher_suites_strong"][0] is Status.PASS
    assert got["tls.hsts"][0] is Status.FAIL and "by default" in got["tls.hsts"][2]


def test_caddy_serving_plain_http_is_not_tls(tmp_path):
    got = verdicts(
        tmp_path,
        {
            "compose.yaml": "services:\n  caddy:\n    image: caddy:2.8.4\n    ports: ['8080:80']\n",
            "Caddyfile": "http://shop.example.invalid {\n  reverse_proxy app:8000\n}\n",
        },
    )
    assert got["tls.protocols_modern"][0] is Status.FAIL and "plain HTTP" in got["tls.protocols_modern"][2]


def test_traefik_with_a_commented_out_resolver_serves_plain_http(tmp_path):
    compose = (
        "services:\n  traefik:\n    image: traefik:v3.1\n    command:\n"
        "      - --entrypoints.web.address=:80\n"
        "      # - --certificatesresolvers.le.acme.email=ops@example.invalid\n"
        "    ports: ['80:80']\n" + APP
    )
    got = verdicts(tmp_path, {"compose.yaml": compose})
    assert got["tls.hsts"][0] is Status.FAIL and "plain HTTP" in got["tls.hsts"][2]


def test_traefik_with_tls_and_hsts_middleware(tmp_path):
    compose = (
        "services:\n  traefik:\n    image: traefik:v3.1\n    command:\n"
        "      - --entrypoints.websecure.address=:443\n"
        "      - --certificatesresolvers.le.acme.tlschallenge=true\n"
        "    ports: ['443:443']\n"
        "  app:\n    image: example/app:1.0.0\n    labels:\n"
        "      - traefik.http.middlewares.sec.headers.stsSeconds=31536000\n"
    )
    got = verdicts(tmp_path, {"compose.yaml": compose})
    assert got["tls.protocols_modern"][0] is Status.PASS
    assert got["tls.hsts"][0] is Status.PASS and got["tls.hsts"][1].startswith("compose.yaml:")


def test_nginx_directives_in_a_template_rendered_at_start(tmp_path):
    ssl = (
        "ssl_protocols TLSv1.2 TLSv1.3;\n"
        "ssl_ciphers ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256;\n"
        'add_header Strict-Transport-Security "max-age=63072000" always;\n'
    )
    got = verdicts(
        tmp_path,
        {
            "compose.yaml": "services:\n  web:\n    image: example/web:2.0\n    ports: ['443:443']\n",
            "web/rootfs/defaults/ssl.conf": ssl,
        },
    )
    assert got["tls.protocols_modern"] == (
        Status.PASS,
        "web/rootfs/defaults/ssl.conf:1",
        "ssl_protocols TLSv1.2 TLSv1.3",
    )
    assert got["tls.cipher_suites_strong"][0] is Status.PASS
    assert got["tls.hsts"][0] is Status.PASS


def test_weak_nginx_protocols_fail_and_plain_http_stack_fails(tmp_path):
    got = verdicts(
        tmp_path / "weak",
        {
            "compose.yaml": "services:\n  nginx:\n    image: nginx:1.27\n    ports: ['443:443']\n"
            "    volumes: ['./nginx.conf:/etc/nginx/nginx.conf:ro']\n",
            "nginx.conf": "server {\n  listen 443 ssl;\n  ssl_protocols TLSv1 TLSv1.2;\n}\n",
        },
    )
    assert got["tls.protocols_modern"][:2] == (Status.FAIL, "nginx.conf:3")
    assert got["tls.cipher_suites_strong"][0] is Status.FAIL  # nginx's default list
    plain = verdicts(
        tmp_path / "plain", {"compose.yaml": "services:\n  web:\n    image: example/web:2\n    ports: ['80:8080']\n"}
    )
    assert plain["tls.protocols_modern"][0] is Status.FAIL and "plain HTTP" in plain["tls.protocols_modern"][2]


def test_no_deployment_and_no_config_stays_unknown(tmp_path):
    (tmp_path / "README.md").write_text("# nothing deployed here\n")
    found = discover(tmp_path, Config())
    obs = runner.run_probe(TlsProbe, found, Files(found.root), Inventory(), Config())[0]
    assert {o.status for o in obs if o.check == "tls.protocols_modern"} == {Status.UNKNOWN}


def test_renewal_run_by_the_deployment_itself(tmp_path):
    """acme.sh started from an s6 service in the web image's root fs renews the certificate (jitsi's shape)."""
    files = {
        "compose.yaml": "services:\n  web:\n    image: example/web:2.0\n    ports: ['443:443']\n",
        "web/rootfs/etc/s6-overlay/scripts/acme-renewal": "#!/command/with-contenv bash\nwhile true; do\n"
        "  /config/acme.sh/acme.sh --cron --home /config/acme.sh\n  sleep 12h\ndone\n",
    }
    got = verdicts(tmp_path, files)
    renewal = got["tls.renewal_automated"]
    assert renewal[0] is Status.PASS and renewal[1].startswith("web/rootfs/etc/s6-overlay/scripts/acme-renewal:")


def test_caddy_in_front_renews_and_a_commented_certbot_does_not(tmp_path):
    got = verdicts(
        tmp_path / "caddy",
        {
            "compose.yaml": "services:\n  proxy:\n    image: lucaslorentz/caddy-docker-proxy:2.9\n"
            "    ports: ['443:443']\n"
        },
    )
    assert got["tls.renewal_automated"][0] is Status.PASS
    commented = verdicts(
        tmp_path / "commented",
        {
            "compose.yaml": "services:\n  web:\n    image: example/web:2.0\n    ports: ['80:80']\n",
            "scripts/renew.sh": "#!/bin/sh\n# certbot renew --quiet\n",
        },
    )
    assert commented.get("tls.renewal_automated", (None,))[0] is not Status.PASS


def test_a_kubernetes_load_balancer_on_port_80_serves_plain_http(tmp_path):
    service = (
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: frontend-external\nspec:\n  type: LoadBalancer\n"
        "  selector: {app: frontend}\n  ports:\n    - name: http\n      port: 80\n      targetPort: 8080\n"
    )
    got = verdicts(tmp_path / "plain", {"release/manifests.yaml": service})
    assert (
        got["tls.protocols_modern"][0] is Status.FAIL and "Service/frontend-external" in got["tls.protocols_modern"][1]
    )
    ingress = "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: web\nspec:\n  tls: [{hosts: [a]}]\n"
    fronted = verdicts(tmp_path / "fronted", {"release/manifests.yaml": service, "release/ingress.yaml": ingress})
    assert "tls.protocols_modern" not in fronted  # an Ingress may terminate TLS: nothing declared to judge


def test_gateways_that_serve_only_http_terminate_nothing(tmp_path):
    service = (
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: frontend-external\nspec:\n  type: LoadBalancer\n"
        "  ports:\n    - port: 80\n"
    )
    istio = (
        "apiVersion: networking.istio.io/v1alpha3\nkind: Gateway\nmetadata:\n  name: web-gw\nspec:\n"
        "  servers:\n    - port: {number: 80, name: http, protocol: HTTP}\n      hosts: ['*']\n"
    )
    gateway_api = (
        "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata:\n  name: gw\nspec:\n"
        "  listeners:\n    - {name: http, port: 80, protocol: HTTP}\n---\n"
        "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata:\n  name: r\nspec:\n"
        "  parentRefs: [{name: gw}]\n"
    )
    files = {"release/manifests.yaml": service, "istio/gw.yaml": istio, "release/gateway.yaml": gateway_api}
    got = verdicts(tmp_path / "http-only", files)
    assert got["tls.hsts"][0] is Status.FAIL
    # A route attached to a Gateway the repository does not hold may be served over TLS by it.
    elsewhere = gateway_api.replace("parentRefs: [{name: gw}]", "parentRefs: [{name: shared-gateway}]")
    got = verdicts(tmp_path / "elsewhere", {**files, "release/gateway.yaml": elsewhere})
    assert "tls.hsts" not in got
    # A project's own demo cluster kept under .github/ is tooling, not what the repository ships.
    demo = (
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: demo\n  annotations:\n"
        "    networking.gke.io/managed-certificates: demo-cert\nspec: {}\n"
    )
    got = verdicts(tmp_path / "demo", {**files, ".github/release-cluster/ingress.yaml": demo})
    assert got["tls.hsts"][0] is Status.FAIL
    got = verdicts(tmp_path / "shipped", {**files, "deploy/ingress.yaml": demo})
    assert "tls.hsts" not in got  # a managed certificate on a shipped Ingress may do TLS
