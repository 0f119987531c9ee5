"""``readiness fleet``: audit many repositories, on one machine or as jobs of an existing engine."""

from __future__ import annotations

import os
from pathlib import Path

import click

from ..store.cli import store_option
from ..store.errors import StoreError
from .repos import load_fleet, shard

fleet_file_arg = click.argument("fleet_file", metavar="REPOS.yaml", type=click.Path(path_type=Path, dir_okay=False))


@click.group("fleet")
def fleet_group() -> None:
    """Audit a fleet of repositories (REPOS.yaml) and push every run to one store.

    \b
    plan   emits GitHub Actions, GitLab CI or Kubernetes jobs that run the shards
    shard  audits one shard's repositories (what those jobs run)
    run    audits local checkouts here, with a process pool
    """


def _report(outcomes) -> int:
    for o in outcomes:
        click.echo(f"{o.repository}: {o.message}" if o.ok else f"{o.repository}: FAILED: {o.message}", err=not o.ok)
    failed = sum(1 for o in outcomes if not o.ok)
    click.echo(f"{len(outcomes) - failed} of {len(outcomes)} repositories audited and recorded", err=True)
    return 1 if failed else 0


@fleet_group.command("plan")
@fleet_file_arg
@click.option(
    "--target",
    type=click.Choice(("github", "gitlab", "kubernetes")),
    required=True,
    help="The engine that runs the shards.",
)
@click.option("--shards", type=click.IntRange(1, 10_000), default=10, show_default=True, help="Number of shards.")
@click.option("--parallelism", type=click.IntRange(1), default=10, show_default=True, help="Kubernetes: pods at once.")
@click.option("--image", help="Container image with readiness (default: the file's `image`, else readiness:VERSION).")
@click.option("--output", "-o", type=click.Path(path_type=Path, dir_okay=False), help="Write here, not stdout.")
def plan_cmd(fleet_file: Path, target: str, shards: int, parallelism: int, image: str | None, output: Path | None):
    """Emit the job definitions that audit REPOS.yaml in shards on TARGET, each pushing to $READINESS_STORE."""
    from .plan import plan

    fleet = load_fleet(fleet_file)
    text = plan(fleet, fleet_file.as_posix(), target, shards, image, parallelism)
    if output:
        output.write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}", err=True)
    else:
        click.echo(text, nl=False)
    return 0


def _env_int(name: str) -> int | None:
    value = os.environ.get(name)
    if value is None:
        return None
    if not value.isdigit():
        raise StoreError(f"${name} is not a shard index: {value!r}")
    return int(value)


@fleet_group.command("shard")
@fleet_file_arg
@click.option("--index", type=int, help="This shard (0-based; default: $JOB_COMPLETION_INDEX, set by Kubernetes).")
@click.option("--count", type=click.IntRange(1), required=True, help="Number of shards.")
@store_option
def shard_cmd(fleet_file: Path, index: int | None, count: int, store_url: str | None) -> int:
    """Audit this shard's share of REPOS.yaml (round-robin) and push each run. Exit 1 if any repository failed."""
    if index is None:
        index = _env_int("JOB_COMPLETION_INDEX")
    if index is None:
        raise StoreError("no shard index: pass --index or set JOB_COMPLETION_INDEX")
    fleet = load_fleet(fleet_file)
    mine = shard(fleet.repositories, index, count)
    click.echo(f"shard {index} of {count}: {len(mine)} of {len(fleet.repositories)} repositories", err=True)
    from .work import run_sequentially

    return _report(run_sequentially(mine, store_url))


@fleet_group.command("run")
@fleet_file_arg
@click.option("--jobs", "-j", type=click.IntRange(1), default=os.cpu_count() or 1, help="Worker processes.")
@store_option
def run_cmd(fleet_file: Path, jobs: int, store_url: str | None) -> int:
    """Audit every repository of REPOS.yaml here (local checkouts, else clones) with JOBS processes; push each run."""
    from .work import run_pool

    fleet = load_fleet(fleet_file)
    return _report(run_pool(list(fleet.repositories), store_url, jobs))
