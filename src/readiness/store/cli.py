"""``readiness store``: record audits and ask the store questions. Wired into the main group by ``cli.py``."""

from __future__ import annotations

from pathlib import Path

import click

FORMATS = ("text", "json", "markdown")

STORE_HELP = "Store URL: sqlite:///FILE, a file path, or postgresql://... (default: $READINESS_STORE, else "
STORE_HELP += "$XDG_DATA_HOME/readiness/evidence.db)."
store_option = click.option("--store", "store_url", metavar="URL", envvar="READINESS_STORE", help=STORE_HELP)
format_option = click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True)


@click.group("store")
def store_group() -> None:
    """The evidence store: every audit of every repository, kept and compared over time.

    \b
    SQLite by default (no server); PostgreSQL for a store shared by a fleet.
    The schema is created and migrated on first use.
    """


def push_report(
    report_path: Path, store_url: str | None, repository: str | None, deployment: str | None, signature: Path | None
):
    """Validate and record one report; shared by `store push` and `audit --store`."""
    from .engine import open_store
    from .ingest import push, read_report

    report = read_report(report_path)
    signature_text = signature.read_text(encoding="utf-8") if signature else None
    return push(open_store(store_url), report, repository, deployment, signature_text)


def record_audit(report_json: dict, store_url: str) -> None:
    """`audit --store URL`: record the report just made, as `store push` would."""
    import json

    from .engine import open_store, shown
    from .ingest import push

    result = push(open_store(store_url), json.loads(json.dumps(report_json, default=str)))
    click.echo(f"recorded: run {result.run_id} ({result.items} items) in {shown(store_url)}", err=True)


@store_group.command("push")
@click.argument("report", type=click.Path(path_type=Path, dir_okay=False))
@store_option
@click.option("--repo", "repository", metavar="NAME", help="Repository name (default: the checkout folder's name).")
@click.option("--deployment", metavar="NAME", help="Deployment audited (default: the one the report names, if any).")
@click.option(
    "--signature",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="Signature of the report (e.g. its DSSE envelope), stored with the run.",
)
def push_cmd(
    report: Path, store_url: str | None, repository: str | None, deployment: str | None, signature: Path | None
) -> int:
    """Record REPORT.json (from `readiness audit --format json`) as a run. The same report twice is one run."""
    from .engine import default_store_url, shown

    result = push_report(report, store_url, repository, deployment, signature)
    verb = "recorded" if result.created else "already recorded"
    where = shown(store_url or default_store_url())
    click.echo(
        f"{verb}: run {result.run_id} ({result.items} items, report {result.report_digest[:12]}) in {where}", err=True
    )
    return 0


@store_group.command("status")
@store_option
@format_option
@click.option("--repo", "repository", metavar="NAME", help="Only this repository.")
@click.option("--all", "show_all", is_flag=True, help="Text/Markdown: list every item, not only failing ones.")
def status_cmd(store_url: str | None, fmt: str, repository: str | None, show_all: bool) -> int:
    """Latest verdict per repository and item (each repository's latest run), with a summary by severity."""
    from . import queries
    from .engine import open_store
    from .render import render

    click.echo(render(queries.status(open_store(store_url), repository, show_all), fmt), nl=False)
    return 0


@store_group.command("history")
@click.argument("item")
@store_option
@format_option
@click.option("--repo", "repository", metavar="NAME", help="Only this repository.")
@click.option("--since", metavar="DATE", help="Only runs finished at or after DATE (YYYY-MM-DD or ISO time, UTC).")
def history_cmd(item: str, store_url: str | None, fmt: str, repository: str | None, since: str | None) -> int:
    """When ITEM changed status in each repository, with the commits and runs where it did."""
    from . import queries
    from .engine import open_store
    from .render import render

    click.echo(render(queries.history(open_store(store_url), item, repository, since), fmt), nl=False)
    return 0


@store_group.command("period")
@click.option("--from", "start", required=True, metavar="DATE", help="Start of the period (UTC).")
@click.option("--to", "end", required=True, metavar="DATE", help="End of the period (UTC).")
@store_option
@format_option
@click.option("--repo", "repository", metavar="NAME", help="Only this repository.")
@click.option("--item", metavar="ID", help="Only this item.")
@click.option(
    "--max-interval",
    type=float,
    metavar="HOURS",
    help="Evidence older than this between two runs is a gap (e.g. 26 for daily audits).",
)
@click.option("--all", "show_all", is_flag=True, help="Text/Markdown: list every item, not only the gaps.")
def period_cmd(
    start: str,
    end: str,
    store_url: str | None,
    fmt: str,
    repository: str | None,
    item: str | None,
    max_interval: float | None,
    show_all: bool,
) -> int:
    """The auditor's period report: each item of each repository held (passed, or did not apply) continuously
    from --from to --to, or its gaps (a run where it failed, was unknown or manual, no evidence yet, evidence too
    old), with the runs that prove it."""
    from . import queries
    from .engine import open_store
    from .render import render

    answer = queries.period(open_store(store_url), start, end, repository, item, max_interval, show_all)
    click.echo(render(answer, fmt), nl=False)
    return 0


@store_group.command("diff")
@click.argument("repository", metavar="REPO")
@click.argument("ref_a", metavar="A")
@click.argument("ref_b", metavar="B")
@store_option
@format_option
def diff_cmd(repository: str, ref_a: str, ref_b: str, store_url: str | None, fmt: str) -> int:
    """Items whose status or evidence differ between A and B (run ids, or commits: the latest run of each)."""
    from . import queries
    from .engine import open_store
    from .render import render

    click.echo(render(queries.diff(open_store(store_url), repository, ref_a, ref_b), fmt), nl=False)
    return 0
