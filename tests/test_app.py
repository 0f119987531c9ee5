"""The app probe on small Django, Flask and Express services."""

from __future__ import annotations

from pathlib import Path

from conftest import REPO
from readiness.probes.app import CHECKS, AppProbe

from readiness import runner
from readiness.config import Config
from readiness.discovery import discover
from readiness.inventory import Inventory
from readiness.model import Status
from readiness.probe import Files

FIXTURES = REPO / "fixtures"


def observe(root: Path) -> dict[str, list[tuple[Status, str | None, int | None, str]]]:
    found = discover(root, Config())
    out: dict[str, list] = {}
    for o in runner.run_probe(AppProbe, found, Files(found.root), Inventory(), Config())[0]:
        out.setdefault(o.check, []).append((o.status, o.subject.path, o.subject.line, o.message))
    return out


def statuses(got, check: str) -> set[Status]:
    return {s for s, *_ in got[check]}


def test_a_careful_django_service():
    got = observe(FIXTURES / "app-django")
    assert set(got) == {c.id for c in CHECKS}
    for check in sorted(c.id for c in CHECKS):
        assert statuses(got, check) == {Status.PASS}, (check, got[check])
    assert got["app.production_mode"][0][1:3] == ("shop/settings.py", 3)
    assert got["app.timeouts"][0][1] == "shop/payments.py"


def test_a_careless_flask_service_fails_at_the_lines():
    got = observe(FIXTURES / "app-flask")
    assert (Status.FAIL, "app.py", 18, "app.run(debug=True)") in got["app.production_mode"]
    assert got["app.timeouts"] == [(Status.FAIL, "app.py", 14, "requests.get without a timeout (it can wait forever)")]
    assert got["app.connection_pooling"][0][:3] == (Status.FAIL, "app.py", 9)
    assert statuses(got, "app.circuit_breakers") == {Status.UNKNOWN}  # tenacity retries, it does not break
    assert "tenacity" in got["app.circuit_breakers"][0][3]


def test_express_development_mode_and_reflected_origins():
    got = observe(FIXTURES / "app-express")
    production = {(s, p) for s, p, _, _ in got["app.production_mode"]}
    assert (Status.FAIL, "docker-compose.yml") in production and (Status.FAIL, "package.json") in production
    assert got["app.cors_restricted"][0][:3] == (Status.FAIL, "server.js", 4)
    # installed, but the code never calls rateLimit(): not evidence of a limit
    assert statuses(got, "app.rate_limiting") == {Status.UNKNOWN}


def test_no_application_code_is_not_applicable(tmp_path):
    (tmp_path / "README.md").write_text("infra only\n")
    got = observe(tmp_path)
    assert {s for v in got.values() for s, *_ in v} == {Status.NOT_APPLICABLE}


def test_python_that_does_not_parse_is_an_error(tmp_path):
    (tmp_path / "bad.py").write_text("def broken(:\n")
    (tmp_path / "ok.py").write_text("import requests\nrequests.get('https://x.example.test', timeout=3)\n")
    got = observe(tmp_path)
    assert any(s is Status.ERROR and p == "bad.py" for v in got.values() for s, p, *_ in v)
    assert {(s, p) for s, p, *_ in got["app.timeouts"]} == {(Status.ERROR, "bad.py"), (Status.PASS, "ok.py")}


def test_cors_read_from_the_environment_the_deployment_sets(tmp_path):
    """netbox-docker's shape: configuration.py reads CORS_ORIGIN_ALLOW_ALL from the environment, and the env file
    the production compose service loads sets it True."""
    files = {
        "docker-compose.yml": "services:\n  app:\n    image: example/app:1.0\n    env_file: env/app.env\n",
        "env/app.env": "DB_HOST=postgres\nCORS_ORIGIN_ALLOW_ALL=True\n",
        "configuration.py": (
            "import os\n"
            "CORS_ORIGIN_ALLOW_ALL = os.environ.get('CORS_ORIGIN_ALLOW_ALL', 'False') == 'True'\n"
            "CORS_ORIGIN_WHITELIST = ['https://app.example.invalid']\n"
        ),
        "requirements.txt": "django-cors-headers==4.4.0\n",
    }
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    cors = observe(tmp_path)["app.cors_restricted"]
    failing = [(path, line) for status, path, line, _ in cors if status is Status.FAIL]
    assert failing == [("env/app.env", 2)], cors


def test_a_cache_service_in_the_production_stack(tmp_path):
    files = {
        "docker-compose.yml": (
            "services:\n  app:\n    image: example/app:1.0\n"
            "  redis-cache:\n    image: valkey/valkey:8.0\n  memcached:\n    image: memcached:1.6\n"
        ),
        "requirements.txt": "django==5.1\n",
        "app/settings.py": "DEBUG = False\n",
    }
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    caching = observe(tmp_path)["app.caching"]
    assert sorted(m for s, *_, m in caching if s is Status.PASS) == [
        "the production stack runs a cache service: memcached (memcached:1.6)",
        "the production stack runs a cache service: redis-cache (valkey/valkey:8.0)",
    ]


def test_no_rate_limiter_anywhere_on_a_visible_request_path_fails(tmp_path):
    files = {
        "docker-compose.yml": "services:\n  app:\n    build: .\n    ports: ['80:8000']\n",
        "requirements.txt": "django==5.1\n",
        "app/settings.py": "DEBUG = False\n",
    }
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    got = observe(tmp_path)["app.rate_limiting"]
    assert [(s, p) for s, p, *_ in got] == [(Status.FAIL, "docker-compose.yml")]
    (tmp_path / "docker-compose.yml").write_text("services:\n  app:\n    build: .\n")  # the way in is elsewhere
    assert [s for s, *_ in observe(tmp_path)["app.rate_limiting"]] == [Status.UNKNOWN]


def test_a_rate_limiter_turned_on_by_a_setting(tmp_path):
    (tmp_path / "sentry").mkdir()
    (tmp_path / "sentry" / "sentry.conf.py").write_text(
        'SENTRY_RATELIMITER = "sentry.ratelimits.redis.RedisRateLimiter"\n'
    )
    (tmp_path / "requirements.txt").write_text("sentry==24.1\n")
    got = observe(tmp_path)["app.rate_limiting"]
    assert [(s, p, line) for s, p, line, _ in got] == [(Status.PASS, "sentry/sentry.conf.py", 1)]
