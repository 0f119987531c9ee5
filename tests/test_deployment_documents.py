"""A repository's READMEs saying which install path is production: a catalogue of a chart, raw manifests and
compose tutorials is judged by the chart its documents recommend, not by whichever stack nothing names."""

from __future__ import annotations

from readiness.config import Config
from readiness.deployment import build
from readiness.deployment.documents import claims
from readiness.discovery import discover
from readiness.probe import Files

COMPOSE = "services:\n  app:\n    image: example/app:1.0\n    ports: ['8080:8080']\n"


def write(root, files):
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)


def envs(root):
    found = discover(root, Config())
    return {d.name: str(d.environment) for d in build(found, Config(), Files(found.root)).deployments}


def test_a_readme_recommending_the_chart_makes_the_compose_tutorials_other_install_paths(tmp_path):
    write(
        tmp_path,
        {
            "README.md": "# App hosting\n\nSeveral ways to run it.\n",
            "charts/app/Chart.yaml": "apiVersion: v2\nname: app\nversion: 1.0.0\n",
            "charts/app/values.yaml": "replicas: 1\n",
            "kubernetes/README.md": "# Manifests\n\n> For production, use the [Helm chart](../charts/app/). "
            "These manifests are for tutorials.\n",
            "docker-compose/basic/docker-compose.yml": COMPOSE,
            "docker-compose/basic/README.md": "# Basic\n\n## Start\n\n```\ndocker compose up -d\n```\n",
            "docker-caddy/docker-compose.yml": COMPOSE,
            "deploy/docker-compose.prod.yml": COMPOSE,  # named production: documents never override a name
        },
    )
    got = envs(tmp_path)
    assert got["helm:charts/app"] == "production"
    assert got["compose:docker-compose/basic/docker-compose.yml"] == "unnamed"  # only a README quick start
    assert got["compose:docker-caddy/docker-compose.yml"] == "unnamed"  # nothing named it
    assert got["compose:deploy/docker-compose.prod.yml"] == "production"


def test_without_a_claim_every_unnamed_stack_stays_production(tmp_path):
    write(
        tmp_path, {"a/docker-compose.yml": COMPOSE, "b/docker-compose.yml": COMPOSE, "a/README.md": "# A\n\nA stack.\n"}
    )
    assert set(envs(tmp_path).values()) == {"production"}


def test_what_is_not_a_claim():
    readmes = [
        # the opening of a folder's own README claims that folder; a root README speaks for the whole repository
        ("charts/app/README.md", "# Chart\n\nProduction-grade Helm chart for the app.\n"),
        ("README.md", "# Repo\n\nProduction-ready hosting configurations.\n"),
        # a production word beside a file link is about that file's value, not an install path
        (
            "stack/README.md",
            "# Stack\n\n## Secrets\n\nThe [`.env`](.env) token: generate one for production use.\n",
        ),
        # the claim is in one sentence, the link in the next
        ("cfn/README.md", "# CFN\n\nProduction-ready ECS templates. They complement the [chart](../charts/app).\n"),
        (
            "other/README.md",
            "# Other\n\n## Notes\n\nNot meant for production, see [the chart](../charts/app/).\n",
        ),
        (
            "deep/README.md",
            "# Deep\n\n## Use\n\nFor production deployments see [it](../charts/app/README.md).\n",
        ),
    ]
    dirs = {"charts", "charts/app", "stack", "cfn", "other", "deep"}
    got = sorted((c.folder, c.where.path) for c in claims(readmes, dirs.__contains__))
    assert got == [("cfn", "cfn/README.md"), ("charts/app", "charts/app/README.md"), ("charts/app", "deep/README.md")]


def test_folders_whose_readme_sends_production_elsewhere_are_not_production(tmp_path):
    manifest = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: app}\n"
    write(
        tmp_path,
        {
            "charts/app/Chart.yaml": "apiVersion: v2\nname: app\nversion: 1.0.0\n",
            "charts/app/values.yaml": "replicas: 1\n",
            "charts/app/README.md": "# App chart\n\nProduction-grade Helm chart for the app.\n",
            "kubernetes/README.md": "# Manifests\n\nFor production, use the [Helm chart](../charts/app/).\n",
            "kubernetes/app.yaml": manifest,
            "docker-caddy/README.md": "# Caddy\n\nGet it running with the DigitalOcean tutorial.\n",
            "docker-caddy/docker-compose.yml": COMPOSE,
            "docker-caddy/caddy/Caddyfile": "app.example.com {\n  reverse_proxy app:8080\n}\n",
            "other/app.yaml": manifest,
        },
    )
    found = discover(tmp_path, Config())
    dmap = build(found, Config(), Files(found.root))
    assert not dmap.scope["kubernetes/app.yaml"].production
    assert "kubernetes/README.md:3" in dmap.scope["kubernetes/app.yaml"].reason
    assert not dmap.scope["docker-caddy/caddy/Caddyfile"].production
    assert dmap.scope["other/app.yaml"].production  # nothing disowns it
