"""The deployment model: which deployments a repository ships, which is production and why, and the scope
that flows from it to every probe."""

from __future__ import annotations

import json

import pytest
from conftest import audit_json, item, run_cli

from readiness.config import Config
from readiness.deployment import build
from readiness.deployment.environments import Environment, path_environment
from readiness.deployment.starts import find_starts
from readiness.discovery import discover
from readiness.probe import Files


def deployments_of(root, **config):
    found = discover(root, Config(**config))
    return build(found, Config(**config), Files(found.root))


def envs(dmap):
    return {d.name: str(d.environment) for d in dmap.deployments}


def test_production_file_beside_dev_stack_vendored_and_test_stacks(fixture_repo):
    dmap = deployments_of(fixture_repo("deploy-shapes"))
    assert envs(dmap) == {
        "compose:docker-compose.production.yml": "production",  # a complete stack, not an override of the dev file
        "compose:monitoring/docker-compose.yml": "production",  # a second, separate stack
        "compose:docker-compose.yml+docker-compose.override.yml": "development",
        "compose:lib/vendor/acme-php/docker/docker-compose.yml": "vendored",
        "compose:_integration-test/docker-compose.yml": "test",
    }
    prod = dmap.get("compose:docker-compose.production.yml")
    assert "infrastructure/nginx/production.conf" in prod.uses and "app/Dockerfile" in prod.uses
    assert [u.name for u in prod.units if u.entry_point] == ["proxy"]
    assert set(dmap.orphans) == {"config/nginx/nginx.conf"}
    assert dmap.scope["infrastructure/nginx/production.conf"].production
    assert not dmap.scope["docker-compose.override.yml"].production
    assert dmap.scope[".github/workflows/broken-1.yml"].production  # pipelines describe the whole repository


def test_no_non_production_artifact_decides_a_production_item(fixture_repo):
    """Over every probe: production observations never come from vendored, test, dev or orphan files."""
    _, report = audit_json(fixture_repo("deploy-shapes"), "--fail-on", "none")
    outside = ("lib/vendor/", "_integration-test/", "config/nginx/", "docker-compose.override.yml")
    leaked = [
        (o["check"], o["subject"]["path"])
        for o in report["observations"]
        if o["production"] and any(o["subject"].get("path", "").startswith(p) for p in outside)
    ]
    assert leaked == []
    # ...while the same files are still audited and reported, as non-production.
    assert any(o["subject"].get("path", "").startswith("lib/vendor/") for o in report["observations"])
    assert report["deployments"]["orphans"] == [
        {"path": "config/nginx/nginx.conf", "reason": report["deployments"]["orphans"][0]["reason"]}
    ]


def test_verdicts_follow_the_production_deployment(fixture_repo):
    _, report = audit_json(fixture_repo("deploy-shapes"), "--fail-on", "none")
    assert item(report, "pd.resources.restart-policies")["status"] == "pass"  # the dev stack has none
    non_root = item(report, "pd.containers.non-root")
    assert "privileged" not in non_root["reason"]  # privileged only in the dev, vendored and test stacks
    # Eight valid workflows run tests and build; three invalid ones are findings of their own.
    assert item(report, "do.build.tests")["status"] == "pass"
    assert item(report, "do.build.automation")["status"] == "pass"
    cicd = item(report, "pd.deploy.ci-cd")
    assert cicd["status"] == "fail" and ".github/workflows/broken-1.yml:3" in cicd["reason"]
    # An unrelated script that does not parse does not decide connection pooling.
    pooling = item(report, "pd.database.connection-pooling")
    assert "broken_tool.py" not in pooling["reason"]


def test_override_merged_by_compose_fails_scram(fixture_repo):
    _, report = audit_json(fixture_repo("deploy-override-trust"), "--fail-on", "none")
    scram = item(report, "pd.database.scram-sha-256")
    assert scram["status"] == "fail"
    assert "docker-compose.override.yml:5" in scram["reason"]


def test_deploy_script_names_the_production_stack(fixture_repo):
    root = fixture_repo("deploy-script-stack")
    dmap = deployments_of(root)
    assert envs(dmap) == {
        "compose:docker-compose.yml+compose.server.yml": "production",
        "compose:docker-compose.yml+docker-compose.override.yml": "development",
    }
    assert [s.describe() for s in dmap.get("compose:docker-compose.yml+compose.server.yml").started_by] == [
        "scripts/deploy.sh:5"
    ]
    _, report = audit_json(root, "--fail-on", "none")
    assert (
        item(report, "pd.containers.non-root")["status"] != "fail"
        or "privileged" not in item(report, "pd.containers.non-root")["reason"]
    )
    assert item(report, "pd.resources.restart-policies")["status"] == "pass"  # restart: always in the server file


def test_audit_one_named_deployment(fixture_repo):
    root = fixture_repo("deploy-script-stack")
    code, report = audit_json(
        root, "--fail-on", "none", "--deployment", "compose:docker-compose.yml+docker-compose.override.yml"
    )
    assert report["deployments"]["selected"] == "compose:docker-compose.yml+docker-compose.override.yml"
    assert item(report, "pd.resources.restart-policies")["status"] == "fail"  # the dev stack has no restart
    done = run_cli("audit", root, "--deployment", "nope")
    assert done.returncode == 2 and "no such deployment" in done.stderr


def test_deployments_command_text_and_json(fixture_repo):
    root = fixture_repo("deploy-shapes")
    text = run_cli("deployments", root)
    assert text.returncode == 0
    assert "compose:docker-compose.production.yml  [PRODUCTION]" in text.stdout
    assert "config/nginx/nginx.conf" in text.stdout
    data = json.loads(run_cli("deployments", root, "--format", "json").stdout)
    assert {d["name"] for d in data["deployments"] if d["production"]} == {
        "compose:docker-compose.production.yml",
        "compose:monitoring/docker-compose.yml",
    }


def test_kustomize_helm_and_terraform_environments(tmp_path):
    files = {
        "k8s/base/kustomization.yaml": "resources: [deployment.yaml]\n",
        "k8s/base/deployment.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n",
        "k8s/overlays/dev/kustomization.yaml": "resources: [../../base]\n",
        "k8s/overlays/prod/kustomization.yaml": "resources: [../../base]\n",
        "chart/Chart.yaml": "apiVersion: v2\nname: web\nversion: 1.0.0\n",
        "chart/values.yaml": "replicas: 1\n",
        "chart/values-production.yaml": "replicas: 3\n",
        "chart/values-dev.yaml": "replicas: 1\n",
        "infra/main.tf": 'module "net" {\n  source = "../modules/net"\n}\n',
        "infra/prod.tfvars": 'region = "eu-west-1"\n',
        "infra/dev.tfvars": 'region = "eu-west-1"\n',
        "modules/net/main.tf": 'resource "aws_vpc" "x" {}\n',
    }
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    dmap = deployments_of(tmp_path)
    got = envs(dmap)
    assert got["kustomize:k8s/overlays/prod"] == "production"
    assert got["kustomize:k8s/overlays/dev"] == "development"
    assert got["helm:chart+values-production.yaml"] == "production"
    assert got["helm:chart+values-dev.yaml"] == "development"
    assert got["terraform:infra+prod.tfvars"] == "production"
    assert got["terraform:infra+dev.tfvars"] == "development"
    assert "terraform:modules/net" not in got  # called as a module: part of the root, not a deployment
    assert dmap.scope["k8s/base/deployment.yaml"].production  # the production overlay builds on it
    assert not dmap.scope["k8s/overlays/dev/kustomization.yaml"].production
    assert dmap.scope["modules/net/main.tf"].production
    assert not dmap.scope["infra/dev.tfvars"].production


@pytest.mark.parametrize(
    ("path", "environment"),
    [
        ("docker-compose.prod.yml", Environment.PRODUCTION),
        ("overlays/staging/kustomization.yaml", Environment.STAGING),
        ("deploy/docker-compose.local.yml", Environment.DEVELOPMENT),
        ("_integration-test/docker-compose.yml", Environment.TEST),
        ("e2e/compose.yaml", Environment.TEST),
        ("docs/examples/compose.yaml", Environment.EXAMPLE),
        ("web/lib/vendor/pkg/docker-compose.yml", Environment.VENDORED),
        ("k8s/liveness.yaml", Environment.UNNAMED),  # "liveness" is not "live"
        (".pre-commit-config.yaml", Environment.UNNAMED),
        ("nginx/templates/default.conf.template", Environment.UNNAMED),  # rendered at start, not an example
    ],
)
def test_path_environment(path, environment):
    assert path_environment(path).environment is environment


def test_start_commands_from_scripts_make_readme_and_env():
    compose_files = ["docker-compose.yml", "docker-compose.prod.yml", "deploy/compose.yaml", "docker-compose.ci.yml"]
    texts = [
        (
            "Makefile",
            "up:\n\tdocker compose up -d\n\n"
            "prod:\n\tdocker compose -f docker-compose.yml -f docker-compose.prod.yml up -d\n",
        ),
        ("README.md", "# App\n\n## Development\n\n```\ndocker-compose -f docker-compose.ci.yml run tests\n```\n"),
        (".env", "COMPOSE_FILE=docker-compose.yml:docker-compose.prod.yml\n"),
        ("ops/run.sh", "cp docker-compose.yml /tmp/x  # a file name, not a call\n"),
        ("deploy/install.sh", "docker compose -f compose.yaml pull && docker compose -f compose.yaml up -d\n"),
    ]
    starts = find_starts(texts, set(compose_files).__contains__, compose_files)
    got = {(s.where.describe(), s.files, s.verb, str(s.environment)) for s in starts}
    assert got == {
        ("Makefile:2", (), "up", "production"),
        ("Makefile:5", ("docker-compose.yml", "docker-compose.prod.yml"), "up", "production"),
        ("README.md:6", ("docker-compose.ci.yml",), "run", "development"),
        (".env:1", ("docker-compose.yml", "docker-compose.prod.yml"), "up", "unnamed"),
        ("deploy/install.sh:1", ("deploy/compose.yaml",), "pull", "production"),
        ("deploy/install.sh:1", ("deploy/compose.yaml",), "up", "production"),
    }


def test_deployments_named_and_overridden_in_the_config(fixture_repo):
    root = fixture_repo("deploy-shapes")
    (root / ".readiness.yaml").write_text(
        "version: 1\n"
        "deployments:\n"
        "  - name: compose:monitoring/docker-compose.yml\n"
        "    environment: staging\n"
        "  - files: [docker-compose.yml]\n"
        "    environment: production\n"
    )
    done = run_cli("deployments", root, "--format", "json")
    assert done.returncode == 0, done.stderr
    got = {d["name"]: d["environment"] for d in json.loads(done.stdout)["deployments"]}
    assert got["compose:monitoring/docker-compose.yml"] == "staging"
    assert got["compose:docker-compose.yml"] == "production"
    (root / ".readiness.yaml").write_text(
        "version: 1\ndeployments:\n  - name: compose:nope.yml\n    environment: test\n"
    )
    done = run_cli("deployments", root)
    assert done.returncode == 2 and "no deployment named compose:nope.yml" in done.stderr


def test_pipelines_and_documents_are_scoped_by_trees_not_names(tmp_path):
    files = {
        ".github/workflows/go-test.yaml": "on: [push]\njobs: {}\n",  # *-test.* names a test file elsewhere
        "docs/deploy.md": "# Deploy\n",
        "examples/demo/README.md": "# Demo\n",
        "vendor/lib/README.md": "# Lib\n",
    }
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    scope = deployments_of(tmp_path).scope
    assert scope[".github/workflows/go-test.yaml"].production
    assert scope["docs/deploy.md"].production
    assert not scope["examples/demo/README.md"].production
    assert not scope["vendor/lib/README.md"].production


def test_make_start_variants_are_not_the_production_stack():
    from readiness.deployment import compose as model
    from readiness.model import Subject

    def started(files, target):
        start = model.StartCommand(
            files, "", "up", f"Makefile target {target}", Environment.PRODUCTION, Subject(path="Makefile", line=1)
        )
        return model.Candidate(files, starts=[start])

    cands = [
        started(("compose.yaml", "compose.full.yaml"), "start"),
        started(("compose.yaml", "compose.full.yaml", "compose.profiling.yaml"), "start-profiling"),
    ]
    decided = {c.files[-1]: env for c, env, _ in model.decide(cands, {})}
    assert decided == {"compose.full.yaml": Environment.PRODUCTION, "compose.profiling.yaml": Environment.UNNAMED}


def test_a_kustomize_component_nothing_enables_is_not_deployed(tmp_path):
    files = {
        "kustomize/kustomization.yaml": "resources: [base]\ncomponents: [components/used]\n",
        "kustomize/base/kustomization.yaml": "resources: [app.yaml]\n",
        "kustomize/base/app.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: app}\n",
        "kustomize/components/used/kustomization.yaml": "kind: Component\npatches: []\n",
        "kustomize/components/used/patch.yaml": "x: 1\n",
        "kustomize/components/unused/kustomization.yaml": "kind: Component\nresources: [extra.yaml]\n",
        "kustomize/components/unused/extra.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: extra}\n",
    }
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    dmap = deployments_of(tmp_path)
    assert dmap.scope["kustomize/components/used/patch.yaml"].production  # the production root enables it
    assert not dmap.scope["kustomize/components/unused/extra.yaml"].production
    assert envs(dmap)["kustomize-component:kustomize/components/unused"] == "example"


def test_a_shared_terraform_root_serves_production_too(tmp_path):
    """terraform-example-foundation keeps org policies, hub networks and log sinks in envs/shared/, beside
    envs/development/ and envs/production/: the shared estate is part of what production stands on."""
    for env in ("development", "production", "shared"):
        (tmp_path / "net" / "envs" / env).mkdir(parents=True)
        (tmp_path / "net" / "envs" / env / "main.tf").write_text('resource "google_compute_network" "n" {}\n')
    got = envs(deployments_of(tmp_path))
    assert got == {
        "terraform:net/envs/development": "development",
        "terraform:net/envs/production": "production",
        "terraform:net/envs/shared": "production",
    }
