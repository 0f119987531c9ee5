"""`readiness secrets [FILES]`: only the secrets probe's content scan, on the named files (a pre-commit hook).

No policy pack is read and no item is decided: the command prints one line per unwaived credential found (file,
line, rule, a 4-character masked prefix; never the value) and exits 1 when there is one, or when a named file
could not be read. Waivers work as in the audit: the ignore file and inline ``readiness:ignore <reason>``.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import click

from . import config as config_mod
from .discovery import discover
from .inventory import Inventory
from .model import Observation, Status
from .probe import Files, ProbeLoadError, load_probes
from .runner import run_probe

SCAN_CHECK = "secrets.no_hardcoded"


def scan(root: Path, paths: list[str] | None, config: config_mod.Config) -> list[Observation]:
    """The secrets probe's ``secrets.no_hardcoded`` observations for ``paths`` (relative to ``root``; all if None)."""
    probe = next((p for p in load_probes() if p.name == "secrets"), None)
    if probe is None:
        raise ProbeLoadError("no installed probe is named secrets")
    config = config_mod.with_values(config, [(("probes", "secrets", "history"), False, False)])
    found = discover(root, config)
    if paths is not None:
        wanted = set(paths)
        found = replace(found, artifacts=[a for a in found.artifacts if a.path in wanted])
    observations, _gaps, _run = run_probe(probe, found, Files(found.root), Inventory(), config)
    return [o for o in observations if o.check == SCAN_CHECK]


def _relative(root: Path, given: str) -> str:
    path = Path(given)
    absolute = path if path.is_absolute() else Path.cwd() / path
    try:
        return absolute.resolve().relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()  # outside the root: discovery never lists it, so it is reported as not scanned


@click.command("secrets")
@click.argument("files", nargs=-1, type=click.Path(path_type=str))
@click.option(
    "--root",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    default=".",
    show_default=True,
    help="Repository root (its .readiness.yaml, .gitignore and secrets ignore file apply).",
)
def secrets_cmd(files: tuple[str, ...], root: Path) -> int:
    """Scan FILES (default: every text file of the repository) for hardcoded credentials.

    \b
    Only the secrets probe runs; no policy pack is applied. Exit codes:
      0  nothing found (or every finding waived)
      1  a credential was found, or a named file could not be read
      2  usage or configuration error
    """
    root = root.resolve()
    cfg = config_mod.load(root, None)
    paths = [_relative(root, f) for f in files] if files else None
    found = scan(root, paths, cfg)
    bad = [o for o in found if o.status == Status.ERROR or (o.status == Status.FAIL and o.subject.path)]
    for o in sorted(bad, key=Observation.sort_key):
        where = f"{o.subject.path}:{o.subject.line}" if o.subject.line else (o.subject.path or "secrets probe")
        click.echo(f"{where}: {o.message}")
    if bad:
        click.echo(f"readiness secrets: {len(bad)} finding(s); waive with `readiness:ignore <reason>`", err=True)
    return 1 if bad else 0
