"""The compose probe on real compose projects, resolved by the real Compose v2 binary."""

from __future__ import annotations

import json

import pytest
from conftest import git
from readiness.probes import compose

from readiness import runner
from readiness.config import Config, ConfigError
from readiness.model import Observation, Status, Strength

CHECK_IDS = {c.id for c in compose.CHECKS}


@pytest.fixture(autouse=True)
def observations_only(monkeypatch):
    """These tests judge observations, not checklist items: keep them independent of the policy packs."""
    monkeypatch.setattr(runner, "planned_checks", dict)


def audit(root, **settings):
    return runner.audit(root, Config(policies=(), probes={"compose": settings} if settings else {}), policies=[])


def observe(root, **settings) -> list[Observation]:
    return [o for o in audit(root, **settings).observations if o.probe == "compose"]


def one(obs: list[Observation], check: str, service: str, production: bool = True) -> Observation:
    found = [o for o in obs if o.check == check and o.subject.name == service and o.production is production]
    assert len(found) == 1, found
    return found[0]


def statuses(obs: list[Observation], check: str, service: str) -> set[Status]:
    return {o.status for o in obs if o.check == check and o.subject.name == service and o.production}


def where(o: Observation) -> str:
    return f"{o.subject.path}:{o.subject.line}"


def repo_with(tmp_path, files: dict[str, str]):
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-q", "-m", "init")
    return tmp_path


def test_hardened_project_passes_every_check_with_validated_evidence(fixture_repo):
    obs = observe(fixture_repo("compose-hardened"))
    for service in ("web", "db"):
        for check in CHECK_IDS:
            got = statuses(obs, check, service)
            assert got and got <= {Status.PASS, Status.NOT_APPLICABLE}, (service, check, got)
    # A built image is judged by dockerfile.base_pinned; a front end cannot sit on an internal network.
    assert one(obs, "compose.image_pinned", "web").status is Status.NOT_APPLICABLE
    assert one(obs, "compose.internal_networks", "web").status is Status.NOT_APPLICABLE
    db_net = one(obs, "compose.internal_networks", "db")
    assert db_net.status is Status.PASS and where(db_net) == "docker-compose.yml:57"
    # Values merged in from an x- field through an anchor point at the anchor's lines.
    user = one(obs, "compose.non_root", "web")
    assert user.strength is Strength.VALIDATED and where(user) == "docker-compose.yml:7"
    assert where(one(obs, "compose.non_root", "db")) == "docker-compose.yml:39"  # the service's own key wins
    # No healthcheck in compose: the local Dockerfile's HEALTHCHECK decides, as declared evidence.
    health = one(obs, "compose.healthcheck", "web")
    assert health.status is Status.PASS and where(health) == "web/Dockerfile:5"
    assert health.strength is Strength.DECLARED
    ports = sorted((o.subject.line, o.status) for o in obs if o.check == "compose.public_ports_minimal")
    assert ports == [(26, Status.PASS), (27, Status.PASS), (30, Status.PASS), (36, Status.PASS)]


def test_insecure_project_fails_each_check_at_its_line(fixture_repo):
    obs = observe(fixture_repo("compose-insecure"))
    expected = {
        ("compose.non_root", "app"): 6,  # "0:0"
        ("compose.non_root", "db"): 23,  # root:root
        ("compose.not_privileged", "app"): 7,
        ("compose.no_host_namespaces", "app"): 8,
        ("compose.no_new_privileges", "app"): 9,  # no-new-privileges:false is not enabled
        ("compose.cap_drop_all", "app"): 4,
        ("compose.cap_drop_all", "worker"): 30,  # drops ALL, adds NET_ADMIN back
        ("compose.public_ports_minimal", "db"): 25,
        ("compose.no_docker_socket", "app"): 14,
        ("compose.no_literal_secrets", "app"): 16,
        ("compose.no_literal_secrets", "worker"): 34,
        ("compose.healthcheck", "app"): 17,  # disabled
        ("compose.log_rotation", "app"): 19,  # json-file without max-size
        ("compose.image_pinned", "app"): 5,  # latest
        ("compose.image_pinned", "db"): 22,  # no tag
        ("compose.read_only_rootfs", "worker"): 31,  # read_only: false
        ("compose.restart_policy", "worker"): 32,  # restart: "no"
        ("compose.restart_policy", "app"): 4,  # missing: the service's line
        ("compose.resource_limits", "db"): 26,  # mem_limit but no CPU limit
        ("compose.resource_reservations", "app"): 4,
        ("compose.graceful_shutdown", "app"): 4,
        ("compose.internal_networks", "worker"): 27,  # no ports, on the non-internal default network
    }
    for (check, service), line in expected.items():
        o = one(obs, check, service)
        assert (o.status, o.subject.line) == (Status.FAIL, line), (check, service, o)
    # [::]:8080:80 is every IPv6 interface, but app is the one web-facing unit: the stack's way in.
    entry = one(obs, "compose.public_ports_minimal", "app")
    assert entry.status is Status.PASS and "entry point" in entry.message
    # A registry image without user or healthcheck in compose: the image decides, so unknown, never pass.
    for check in ("compose.non_root", "compose.healthcheck"):
        o = one(obs, check, "worker")
        assert o.status is Status.UNKNOWN and "live engine" in o.message
    assert one(obs, "compose.not_privileged", "db").status is Status.PASS


def test_no_secret_value_reaches_messages_or_facts(fixture_repo):
    report = audit(fixture_repo("compose-insecure"))
    text = json.dumps([[o.message, o.facts] for o in report.observations], default=str)
    assert "hunter2" not in text and "sk_live" not in text
    leak = one([o for o in report.observations if o.probe == "compose"], "compose.no_literal_secrets", "app")
    assert leak.facts["variable"] == "DB_PASSWORD"


def test_production_is_the_prod_file_stacked_on_the_base(fixture_repo):
    obs = observe(fixture_repo("compose-overrides"))
    prod = one(obs, "compose.non_root", "api", production=True)
    assert prod.status is Status.PASS and where(prod) == "docker-compose.prod.yml:4"
    assert prod.facts["project"] == ["docker-compose.yml", "docker-compose.prod.yml"]
    # base + override (what a bare `docker compose up` runs) is reported, but not as production.
    dev = one(obs, "compose.non_root", "api", production=False)
    assert dev.status is Status.FAIL and where(dev) == "docker-compose.override.yml:4"
    assert dev.facts["project"] == ["docker-compose.yml", "docker-compose.override.yml"]
    assert where(one(obs, "compose.read_only_rootfs", "api")) == "docker-compose.prod.yml:5"
    assert where(one(obs, "compose.image_pinned", "api")) == "docker-compose.yml:3"  # set in the base only


def test_base_and_override_are_production_without_a_prod_file(tmp_path):
    root = repo_with(
        tmp_path,
        {
            "docker-compose.yml": "services:\n  api:\n    image: example/api:1.0\n",
            "docker-compose.override.yml": "services:\n  api:\n    user: '0'\n",
        },
    )
    o = one(observe(root), "compose.non_root", "api")
    assert o.status is Status.FAIL and where(o) == "docker-compose.override.yml:3"


def test_configured_projects_replace_the_default_grouping(fixture_repo):
    root = fixture_repo("compose-overrides")
    projects = [{"files": ["docker-compose.yml", "docker-compose.override.yml"], "production": True}]
    obs = [o for o in observe(root, projects=projects) if o.check == "compose.non_root"]
    by_project = {tuple(o.facts["project"]): (o.status, where(o), o.production) for o in obs}
    assert by_project == {
        ("docker-compose.yml", "docker-compose.override.yml"): (Status.FAIL, "docker-compose.override.yml:4", True),
        # The prod file, left to the default grouping, still stacks on the base and is production by its name.
        ("docker-compose.yml", "docker-compose.prod.yml"): (Status.PASS, "docker-compose.prod.yml:4", True),
    }


def test_extends_env_interpolation_and_profiles(fixture_repo):
    obs = observe(fixture_repo("compose-extends-env"))
    image = one(obs, "compose.image_pinned", "app")
    assert image.status is Status.PASS and image.facts["image"] == "example/app:1.4.2"  # ${TAG:?...} from .env
    assert image.facts["profiles"] == ["web"]  # a service behind a profile is audited too
    port = one(obs, "compose.public_ports_minimal", "app")
    assert port.status is Status.PASS and port.facts["published"] == "443"  # ${PUBLIC_PORT:-8443} from .env
    assert where(one(obs, "compose.read_only_rootfs", "app")) == "common.yml:3"  # set in the extended file
    nnp = one(obs, "compose.no_new_privileges", "app")
    assert nnp.status is Status.PASS and where(nnp) == "common.yml:4"  # the `=true` spelling
    assert one(obs, "compose.cap_drop_all", "app").status is Status.PASS  # `all` in lower case


def test_unset_required_variable_is_an_error_with_compose_reason(fixture_repo):
    root = fixture_repo("compose-extends-env")
    (root / ".env").unlink()
    obs = observe(root)
    errors = [o for o in obs if o.status is Status.ERROR]
    assert {o.check for o in errors} == CHECK_IDS
    assert all("TAG must be set in .env" in o.message and o.subject.path == "compose.yaml" for o in errors)
    assert not [o for o in obs if o.status is Status.PASS]


def test_missing_binary_is_an_error_never_a_pass(fixture_repo, tmp_path):
    obs = observe(fixture_repo("compose-hardened"), binary=str(tmp_path / "no-such-compose"))
    assert {o.status for o in obs} == {Status.ERROR}
    assert {o.check for o in obs} == CHECK_IDS
    assert "missing or not executable" in obs[0].message


def test_malformed_yaml_is_an_error_at_its_line_and_the_audit_goes_on(fixture_repo):
    report = audit(fixture_repo("compose-malformed"))
    obs = [o for o in report.observations if o.probe == "compose"]
    assert {o.status for o in obs} == {Status.ERROR}
    assert {(o.subject.path, o.subject.line) for o in obs} == {("docker-compose.yml", 4)}
    assert "not valid YAML" in obs[0].message
    assert any(o.probe == "dockerfile" for o in report.observations)  # later probes still ran


def test_image_defaults_come_from_the_local_dockerfile(fixture_repo):
    obs = observe(fixture_repo("compose-image-defaults"))
    root_user = one(obs, "compose.non_root", "built-root")
    assert root_user.status is Status.FAIL and where(root_user) == "root/Dockerfile:2"  # USER 0
    nonroot = one(obs, "compose.non_root", "built-nonroot")
    assert nonroot.status is Status.PASS and where(nonroot) == "app/app.Dockerfile:5"  # build target `runtime`
    assert one(obs, "compose.non_root", "inline").status is Status.PASS  # dockerfile_inline: USER nobody
    registry = one(obs, "compose.non_root", "registry")  # redis: its Dockerfile sets no USER
    assert registry.status is Status.FAIL and "starts as root" in registry.message
    assert one(obs, "compose.healthcheck", "built-nonroot").status is Status.PASS
    assert one(obs, "compose.healthcheck", "built-root").status is Status.FAIL
    # redis is a Docker Official Image: those ship no HEALTHCHECK, so none is known to exist
    assert one(obs, "compose.healthcheck", "registry").status is Status.FAIL
    graceful = one(obs, "compose.graceful_shutdown", "built-nonroot")
    assert graceful.status is Status.PASS and where(graceful) == "app/app.Dockerfile:7"  # STOPSIGNAL


def test_user_spellings_and_security_opt_forms(tmp_path):
    services = {
        "zero": "user: '0'",
        "root": "user: root",
        "zero-group": "user: '0:0'",
        "root-group": "user: root:root",
        "uid-root-group": "user: '1000:0'",
        "named": "user: app",
    }
    text = "services:\n" + "".join(f"  {n}:\n    image: example/x:1\n    {u}\n" for n, u in services.items())
    obs = observe(repo_with(tmp_path, {"compose.yaml": text}))
    got = {n: one(obs, "compose.non_root", n).status for n in services}
    assert got == {
        "zero": Status.FAIL,
        "root": Status.FAIL,
        "zero-group": Status.FAIL,
        "root-group": Status.FAIL,
        "uid-root-group": Status.PASS,
        "named": Status.PASS,
    }


def test_ports_long_syntax_ranges_and_allowed_set(tmp_path):
    # A backing service (never the stack's entry point), so each port is judged by address and number.
    text = """services:
  edge:
    image: redis:7.4.1
    ports:
      - "80"
      - "8000-8001:8000-8001"
      - target: 5000
        published: "5000"
        host_ip: "::1"
      - "[::]:443:8443"
      - "203.0.113.7:8080:8080"
      - "10.0.0.5:5432:5432"
"""
    root = repo_with(tmp_path, {"compose.yaml": text})
    obs = [o for o in observe(root) if o.check == "compose.public_ports_minimal"]
    by_target = {o.facts["target"]: (o.status, o.subject.line) for o in obs}
    assert by_target == {
        80: (Status.FAIL, 5),  # a random host port on every interface
        8000: (Status.FAIL, 6),
        8001: (Status.FAIL, 6),
        5000: (Status.PASS, 7),  # IPv6 loopback only
        8443: (Status.PASS, 10),  # 443 is allowed by default
        8080: (Status.FAIL, 11),  # a public address is public
        5432: (Status.PASS, 12),  # a private address is not
    }
    allowed = {
        o.facts["target"]: o.status for o in observe(root, allowed_public_ports=[8000, 8001]) if o.facts.get("target")
    }
    assert allowed[8000] is Status.PASS and allowed[8443] is Status.FAIL


def test_legacy_limits_restart_policy_and_log_drivers(tmp_path):
    text = """services:
  legacy:
    image: example/x:1
    mem_limit: 256m
    cpus: 0.5
    mem_reservation: 64m
    cpu_shares: 512
    deploy:
      restart_policy: {condition: on-failure}
    logging: {driver: local}
  swarm:
    image: example/x:1
    deploy:
      resources:
        limits: {memory: 256M}
      restart_policy: {condition: none}
    logging: {driver: journald}
"""
    obs = observe(repo_with(tmp_path, {"compose.yaml": text}))
    assert one(obs, "compose.resource_limits", "legacy").status is Status.PASS
    assert one(obs, "compose.resource_reservations", "legacy").status is Status.PASS
    limits = one(obs, "compose.resource_limits", "swarm")
    assert limits.status is Status.FAIL and limits.message.endswith("no CPU limit")
    assert one(obs, "compose.restart_policy", "legacy").status is Status.PASS
    assert one(obs, "compose.restart_policy", "swarm").status is Status.FAIL  # condition: none
    assert one(obs, "compose.log_rotation", "legacy").status is Status.PASS
    assert one(obs, "compose.log_rotation", "swarm").status is Status.PASS  # journald rotates off the container


def test_reset_tag_and_secrets_patterns(tmp_path):
    files = {
        "compose.yaml": """services:
  app:
    image: example/app:1
    privileged: true
    environment:
      API_TOKEN: ${API_TOKEN}
      DB_PASSWORD_FILE: /run/secrets/db
      ADMIN_PASSWORD: changeme
      PASSWORD_MIN_LENGTH: "12"
    build:
      context: .
      args:
        NPM_TOKEN: npm_not_a_real_token
""",
        "compose.override.yaml": "services:\n  app:\n    privileged: !reset null\n",
        "Dockerfile": "FROM alpine:3.20\nUSER app\n",
    }
    obs = observe(repo_with(tmp_path, files))
    priv = one(obs, "compose.not_privileged", "app")
    assert priv.status is Status.PASS and where(priv) == "compose.override.yaml:2"  # !reset removed it
    secrets = [o for o in obs if o.check == "compose.no_literal_secrets"]
    assert [(o.status, o.facts.get("variable"), o.subject.line) for o in secrets] == [(Status.FAIL, "NPM_TOKEN", 13)]


def test_host_namespaces_socket_dir_and_network_modes(tmp_path):
    text = """services:
  hostnet:
    image: example/x:1
    network_mode: host
    ipc: host
  sockdir:
    image: example/x:1
    volumes:
      - type: bind
        source: /var/run
        target: /host-run
    network_mode: none
"""
    obs = observe(repo_with(tmp_path, {"compose.yaml": text}))
    ns = sorted(
        (o.facts["key"], o.subject.line)
        for o in obs
        if o.check == "compose.no_host_namespaces" and o.status is Status.FAIL
    )
    assert ns == [("ipc", 5), ("network_mode", 4)]
    assert one(obs, "compose.public_ports_minimal", "hostnet").status is Status.FAIL
    assert one(obs, "compose.internal_networks", "hostnet").status is Status.FAIL
    sock = one(obs, "compose.no_docker_socket", "sockdir")
    assert sock.status is Status.FAIL and sock.subject.line == 9  # /var/run holds the socket
    assert one(obs, "compose.internal_networks", "sockdir").status is Status.PASS  # network_mode: none


def test_inventory_keeps_services_and_secret_mounts(fixture_repo):
    report = audit(fixture_repo("compose-hardened"))
    services = {s.name: s for s in report.inventory.services}
    assert services["web"].build_context == "web" and services["web"].production
    secrets = {(m.service, m.target) for m in report.inventory.mounts if m.kind == "secret"}
    assert secrets == {("web", "/run/secrets/db_password"), ("db", "/run/secrets/db_password")}


def test_file_without_services_is_not_applicable(tmp_path):
    root = repo_with(tmp_path, {"compose.yaml": "x-note: only extension fields here\n"})
    obs = observe(root)
    assert {o.status for o in obs} == {Status.NOT_APPLICABLE}
    assert {o.check for o in obs} == CHECK_IDS


def test_a_failing_binary_is_an_error_with_its_exit_code(fixture_repo):
    obs = observe(fixture_repo("compose-overrides"), binary="/bin/false")
    assert {o.status for o in obs} == {Status.ERROR}
    assert all("Compose rejects the project: exit code 1" in o.message for o in obs)


def test_settings_are_validated(fixture_repo):
    root = fixture_repo("compose-overrides")
    with pytest.raises(ConfigError, match="allowed_public_ports"):
        audit(root, allowed_public_ports=["http"])
    with pytest.raises(ConfigError, match="unknown key"):
        audit(root, public_ports=[80])


def test_configured_project_may_name_any_file_and_a_missing_one_is_an_error(tmp_path):
    root = repo_with(tmp_path, {"deploy/stack.yml": "services:\n  api:\n    image: example/api:1\n    user: '0'\n"})
    obs = observe(root, projects=[{"files": ["deploy/stack.yml"]}])
    o = one(obs, "compose.non_root", "api")
    assert o.status is Status.FAIL and where(o) == "deploy/stack.yml:4"
    missing = observe(root, projects=[{"files": ["deploy/gone.yml"], "production": True}])
    assert {(o.status, o.subject.path) for o in missing} == {(Status.ERROR, "deploy/gone.yml")}
    assert "not in the audited tree" in missing[0].message


@pytest.mark.parametrize(
    "fixture",
    ["compose-hardened", "compose-insecure", "compose-overrides", "compose-extends-env", "compose-image-defaults"],
)
def test_every_finding_names_a_file_and_a_line_in_it(fixture_repo, fixture):
    root = fixture_repo(fixture)
    obs = observe(root)
    assert obs
    for o in obs:
        assert o.subject.path and o.subject.line, o
        lines = (root / o.subject.path).read_text().splitlines()
        assert 1 <= o.subject.line <= len(lines), o


def test_interpolation_default_applies_when_env_leaves_it_unset(fixture_repo):
    root = fixture_repo("compose-extends-env")
    (root / ".env").write_text("TAG=1.4.2\n")
    port = one(observe(root), "compose.public_ports_minimal", "app")
    assert port.facts["published"] == "8443"  # ${PUBLIC_PORT:-8443}
    assert port.status is Status.PASS and "entry point serving HTTPS" in port.message


def test_services_of_included_files_are_judged_at_their_lines(tmp_path):
    files = {
        "compose.yaml": "include:\n  - infra/db.yaml\nservices:\n  app:\n    image: example/app:1\n",
        "infra/db.yaml": "services:\n  db:\n    image: postgres:16.4\n    privileged: true\n",
    }
    obs = observe(repo_with(tmp_path, files))
    priv = one(obs, "compose.not_privileged", "db")
    assert priv.status is Status.FAIL and where(priv) == "infra/db.yaml:4"
    assert one(obs, "compose.not_privileged", "app").status is Status.PASS


def test_a_registry_image_the_repository_builds_is_judged_from_its_dockerfile(tmp_path):
    """ghcr.io/acme/web is built by this repository from web/Dockerfile: its USER decides, not "unknown"."""
    files = {
        "compose.yaml": "services:\n  web:\n    image: ghcr.io/acme/web:1.2.0\n    restart: always\n",
        "web/Dockerfile": "FROM debian:12.7-slim\nRUN useradd -r app\nUSER app\n",
    }
    obs = observe(repo_with(tmp_path, files))
    user = one(obs, "compose.non_root", "web")
    assert user.status is Status.PASS and user.subject.path == "web/Dockerfile", user


def test_entry_point_publishes_one_http_and_one_https_port_udp_media_may_be_public(tmp_path):
    """nextcloud-aio's shape: 80 and 8443 serve the site, 8080 is an admin interface; jitsi's jvb answers on UDP."""
    text = """services:
  web:
    image: example/web:1.0
    ports: ["80:80", "8080:8080", "8443:8443"]
  media:
    image: example/media:1.0
    ports: ["10000:10000/udp"]
"""
    obs = [o for o in observe(repo_with(tmp_path, {"compose.yaml": text})) if o.check == "compose.public_ports_minimal"]
    got = {o.facts["target"]: o.status for o in obs}
    assert got == {80: Status.PASS, 8080: Status.FAIL, 8443: Status.PASS, 10000: Status.PASS}
