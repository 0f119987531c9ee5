"""Command line: argument parsing and wiring only. ``main`` returns the exit code."""

from __future__ import annotations

import dataclasses
import json
import sys
import traceback
from pathlib import Path
from typing import Any

import click

from . import __version__, dsse, environment, subprocesses
from . import config as config_mod
from . import progress as progress_mod
from .attest import attest_command
from .check_docs import page_path
from .evidence_signing import keygen_command, sign_command, verify_command
from .fleet.cli import fleet_group
from .model import Severity
from .policy import PolicyError, builtin_pack_names, load_packs, planned_checks
from .probe import CliOption, ProbeLoadError, load_probes
from .reporters import outputs
from .secrets_command import secrets_cmd
from .store.cli import record_audit, store_group

EXIT_OK, EXIT_GATE, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3
FAIL_ON = ["critical", "high", "medium", "low", "none"]


class UsageProblem(Exception):
    """A problem with what the user asked for (exit 2), reported in one line."""


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="readiness")
def cli() -> None:
    """Audit a repository (and the live systems it names) against production-readiness checklists.

    \b
    Probes inspect real artifacts (compose files, Dockerfiles, manifests, configs,
    secret files) and live targets named in .readiness.yaml; policy packs map
    their observations onto checklist items as pass, fail, unknown,
    not_applicable or manual.
    """


class _AuditCommand(click.Command):
    """`audit`, whose probe options (e.g. --endpoint) are added when it parses or shows help: only
    then are the probes imported, so `readiness --help` and the other commands start fast."""

    def get_params(self, ctx: click.Context) -> list[click.Parameter]:
        _install_probe_options()
        return super().get_params(ctx)


@cli.command(cls=_AuditCommand)
@click.argument("path", default=".", type=click.Path(path_type=Path))
@click.option(
    "--policy",
    "policies",
    multiple=True,
    metavar="NAME",
    help="Policy pack to apply (built-in name or path to a pack file); repeatable. "
    "Default: the packs in .readiness.yaml, else all built-in packs.",
)
@click.option(
    "--format",
    "fmt",
    multiple=True,
    metavar="FORMAT[=FILE]",
    help="Report format, repeatable, each to its own file (json=evidence.json); one may go to stdout. "
    f"Default: text. {outputs.formats_help()}.",
)
@click.option(
    "--output", "-o", type=click.Path(path_type=Path), help="Write the report without =FILE here instead of stdout."
)
@click.option("--quiet", "-q", is_flag=True, help="Text: only the items failing the gate, and the gate line.")
@click.option(
    "--color",
    type=click.Choice(outputs.COLOR_MODES),
    default="auto",
    show_default=True,
    help="Colour the text report (auto: on a terminal, unless NO_COLOR is set).",
)
@click.option("--max-lines", type=click.IntRange(min=10), help="Markdown: shorten the report to fit (a PR comment).")
@click.option(
    "--fail-on",
    type=click.Choice(FAIL_ON),
    default="critical",
    show_default=True,
    help="Gate threshold: exit 1 when an item of this severity or higher fails, or its probe errored.",
)
@click.option(
    "--require-attestations",
    is_flag=True,
    help="Go-live gate: also fail on manual items at or above the threshold that lack a valid attestation.",
)
@click.option(
    "--require-signed-attestations",
    is_flag=True,
    help="--require-attestations, and only attestations signed by a key .readiness.yaml lists for the role count.",
)
@click.option(
    "--fail-on-drift",
    is_flag=True,
    help="Exit 1 also when the repository's own checklist claims done an item the evidence fails (checklist drift).",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    help="Config file to use instead of PATH/.readiness.yaml.",
)
@click.option(
    "--deployment",
    metavar="NAME",
    help="Audit only this deployment as production (names: `readiness deployments PATH`).",
)
@click.option(
    "--baseline",
    "baseline_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Compare with a previous JSON report (--format json=FILE): findings new, fixed, unchanged.",
)
@click.option("--base", "base_ref", metavar="REF", help="Compare with an audit of the merge base of HEAD and REF.")
@click.option(
    "--fail-on-new", is_flag=True, help="With --baseline or --base: gate only on new findings (and probe errors)."
)
@click.option("--store", "store_url", metavar="URL", help="Also record the run in this evidence store (see: store).")
@click.option("--no-cache", is_flag=True, help="Neither read nor write the parse cache ($XDG_CACHE_HOME/readiness).")
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(min=1),
    metavar="N",
    help="Run up to N probes, Compose processes and parsers at once (default: the machine's cores; "
    "1: one at a time; the evidence is the same).",
)
def audit(
    path: Path,
    policies: tuple[str, ...],
    fmt: tuple[str, ...],
    output: Path | None,
    quiet: bool,
    color: str,
    max_lines: int | None,
    fail_on: str,
    require_attestations: bool,
    require_signed_attestations: bool,
    fail_on_drift: bool,
    config_path: Path | None,
    deployment: str | None,
    baseline_file: Path | None,
    base_ref: str | None,
    fail_on_new: bool,
    store_url: str | None,
    no_cache: bool,
    jobs: int | None,
    **probe_values: Any,
) -> int:
    """Audit PATH (default: the current directory) and report every checklist item.

    \b
    Exit codes:
      0  the gate passed
      1  the gate failed: an item at or above --fail-on failed, or its probe
         errored (fail closed: an unreachable endpoint proves nothing), or,
         with --require-attestations, a manual item lacks a valid attestation
         (--require-signed-attestations: a valid attestation signed by a key listed for its role);
         with --fail-on-drift, the repository's documents claim done an item that fails
      2  usage or configuration error (message on stderr)
      3  internal error: a bug in readiness (message on stderr)
    The report goes to stdout (or --output); progress and logs go to stderr.
    Waivers (.readiness/waivers.yaml, inline readiness:ignore=CHECK): docs/waivers.md.
    """
    requested = outputs.parse(fmt, output)
    if baseline_file and base_ref:
        raise UsageProblem("--baseline and --base: give one")
    if fail_on_new and not (baseline_file or base_ref):
        raise UsageProblem("--fail-on-new needs --baseline FILE or --base REF")
    if not path.exists():
        raise UsageProblem(f"{path}: no such file or directory")
    if not path.is_dir():
        raise UsageProblem(f"{path}: not a directory (audit a repository's root folder)")
    environment.check()
    cfg = config_mod.load(path.resolve(), config_path)
    given = []
    for dest, value in probe_values.items():
        opt = _PROBE_OPTIONS[dest]
        for v in value if opt.multiple else [value]:
            if v is not None and v is not False:
                given.append((opt.path, True if opt.is_flag else v, opt.multiple))
    cfg = config_mod.with_values(cfg, given)
    if require_signed_attestations:
        cfg = dataclasses.replace(cfg, attestation_signing={**cfg.attestation_signing, "required": True})
        require_attestations = True
    from . import baseline, cache, parallel
    from .runner import audit as run_audit  # here: `readiness --help` needs none of the engine

    cache.disable(no_cache)
    parallel.set_jobs(jobs)
    packs = list(policies) or None
    prior = baseline.load(baseline_file) if baseline_file else None
    if base_ref:
        base_audit = lambda p: run_audit(p, cfg, packs, deployment=deployment)  # noqa: E731
        prior = baseline.audit_base(path, base_ref, base_audit, lambda msg: click.echo(f"readiness: {msg}", err=True))
    shown = progress_mod.for_stream(sys.stderr, len(load_probes()))
    report = run_audit(path, cfg, packs, progress=shown, deployment=deployment)
    if shown:
        shown.close()
    if prior:
        report.baseline = baseline.compare(report, prior)
    threshold = None if fail_on == "none" else Severity(fail_on)
    gate = report.gate(threshold, require_attestations, new_only=fail_on_new)
    to_stdout, written = outputs.write(
        requested, report, gate, color=color, quiet=quiet, max_lines=max_lines, stdout_is_tty=sys.stdout.isatty()
    )
    for file in written:
        click.echo(f"report written to {file}", err=True)
    if to_stdout is not None:
        try:
            click.echo(to_stdout, nl=False)
            sys.stdout.flush()
        except OSError as exc:  # a full disk or a closed pipe: the report is lost, which is not a bug of ours
            raise UsageProblem(f"cannot write the report to standard output: {exc.strerror or exc}") from None
    if store_url:
        record_audit(report.to_json(gate), store_url)
    drifted = len(report.drift.drifts) if report.drift else 0
    if fail_on_drift and drifted:
        click.echo(
            f"readiness: {drifted} items claimed done in the repository's documents fail (--fail-on-drift)", err=True
        )
    return EXIT_OK if gate.passed and not (fail_on_drift and drifted) else EXIT_GATE


def _catalogue() -> dict:
    probes = load_probes()
    return {
        "packs": [
            {
                "name": p.name,
                "version": p.version,
                "title": p.title,
                "sha256": p.sha256,
                "items": [
                    {
                        "id": i.id,
                        "title": i.title,
                        "section": i.section,
                        "severity": i.severity.value,
                        "decided_by": i.kind,
                        "checks": sorted(set(i.evidence.checks())) if i.evidence else [],
                        "role": i.manual.role if i.manual else None,
                    }
                    for i in p.items
                ],
            }
            for p in load_packs(builtin_pack_names())
        ],
        "probes": [
            {
                "name": c.name,
                "version": c.version,
                "kind": c.kind,
                "stage": c.stage,
                "checks": [{"id": k.id, "title": k.title} for k in c.checks],
            }
            for c in probes
        ],
        "planned_checks": planned_checks(),
    }


@cli.command("list")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def list_cmd(fmt: str) -> int:
    """List the built-in policy packs and their items, the installed probes and their checks."""
    cat = _catalogue()
    if fmt == "json":
        click.echo(json.dumps(cat, indent=2))
        return EXIT_OK
    for pack in cat["packs"]:
        click.echo(f"{pack['name']} v{pack['version']}: {pack['title']} ({len(pack['items'])} items)")
        for i in pack["items"]:
            how = f"manual: {i['role']}" if i["role"] else i["decided_by"]
            click.echo(f"  {i['id']:<48} {i['severity']:<8} {how:<28} {i['title']}")
    click.echo("")
    for probe in cat["probes"]:
        click.echo(f"probe {probe['name']} v{probe['version']} ({probe['kind']}, {probe['stage']})")
        for c in probe["checks"]:
            click.echo(f"  {c['id']:<40} {c['title']}")
    click.echo(
        f"\n{len(cat['planned_checks'])} planned checks (named by items, no probe yet): readiness list --format json"
    )
    return EXIT_OK


@cli.command()
@click.argument("ident", metavar="ID")
def explain(ident: str) -> int:
    """Explain an item (e.g. pd.secrets.file-permissions) or a check (e.g. secret_files.owner_only)."""
    packs = load_packs(builtin_pack_names())
    checks = {c.id: (cls, c) for cls in load_probes() for c in cls.checks}
    planned = planned_checks()
    for pack in packs:
        for item in pack.items:
            if item.id != ident:
                continue
            click.echo(f"{item.id} [{item.severity}] ({pack.name}, section {pack.section(item.section).title})")
            click.echo(f"  {item.title}")
            if item.rationale:
                click.echo(f"\nWhy: {item.rationale}")
            if item.manual:
                click.echo(f"\nDecided by attestation of the {item.manual.role} (valid {item.manual.valid_days} days).")
                if item.manual.attest:
                    click.echo(f"They confirm: {item.manual.attest}")
                click.echo(f"Record it: readiness attest {item.id} --role '{item.manual.role}' --by NAME")
            elif item.rollup:
                click.echo(f"\nPasses when every item of sections {', '.join(item.rollup)} passes or does not apply.")
            else:
                mode = "all" if type(item.evidence).__name__ == "AllOf" else "any"
                click.echo(
                    f"\nDecided by {mode} of these checks"
                    + (f" (evidence at least {item.min_strength})" if item.min_strength else "")
                    + ":"
                )
                for cid in dict.fromkeys(item.evidence.checks()):
                    if cid in checks:
                        cls, c = checks[cid]
                        click.echo(f"  {cid} (probe {cls.name}): {c.title}\n    fix: {c.remediation}")
                        click.echo(f"    page: {page_path(cid)}")
                    else:
                        title = planned.get(cid, {}).get("title", "")
                        click.echo(f"  {cid} (planned, no probe yet: reported unknown): {title}")
            return EXIT_OK
    if ident in checks:
        cls, c = checks[ident]
        users = [i.id for p in packs for i in p.items if i.evidence and ident in i.evidence.checks()]
        click.echo(f"{c.id} (probe {cls.name} v{cls.version}, {cls.kind})\n  {c.title}")
        click.echo(f"\nWhy: {c.rationale}\nFix: {c.remediation}")
        click.echo(f"If the probe finds no input for it and reports nothing: {c.when_absent}")
        click.echo(f"Decides: {', '.join(users) or '(no item)'}")
        click.echo(f"Page: {page_path(c.id)}")
        return EXIT_OK
    if ident in planned:
        click.echo(f"{ident}: planned ({planned[ident].get('title', '')}); no installed probe implements it yet.")
        return EXIT_OK
    raise UsageProblem(f"{ident}: no item or check of that id (see: readiness list)")


@cli.command()
@click.argument("path", default=".", type=click.Path(path_type=Path, file_okay=False))
@click.option("--force", is_flag=True, help="Overwrite an existing .readiness.yaml.")
def init(path: Path, force: bool) -> int:
    """Write a commented .readiness.yaml template into PATH."""
    target = path / config_mod.CONFIG_FILE
    if target.exists() and not force:
        raise UsageProblem(f"{target} exists (use --force to overwrite)")
    target.write_text(config_mod.template(), encoding="utf-8")
    click.echo(f"wrote {target}", err=True)
    return EXIT_OK


@cli.command()
@click.argument("path", default=".", type=click.Path(path_type=Path, file_okay=False))
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--config", "config_path", type=click.Path(path_type=Path), help="Config file instead of .readiness.yaml")
def deployments(path: Path, fmt: str, config_path: Path | None) -> int:
    """Show the deployments PATH ships: environment and why, units, files they use, and orphans."""
    from .deployment import build
    from .deployment.render import text
    from .discovery import discover
    from .probe import Files

    if not path.is_dir():
        raise UsageProblem(f"{path}: no such directory")
    cfg = config_mod.load(path.resolve(), config_path)
    found = discover(path, cfg)
    dmap = build(found, cfg, Files(found.root))
    click.echo(json.dumps(dmap.to_json(), indent=2) + "\n" if fmt == "json" else text(dmap), nl=False)
    return EXIT_OK


cli.add_command(attest_command)
cli.add_command(sign_command)
cli.add_command(verify_command)
cli.add_command(keygen_command)
cli.add_command(secrets_cmd)
cli.add_command(store_group)
cli.add_command(fleet_group)

_PROBE_OPTIONS: dict[str, CliOption] = {}


def _install_probe_options() -> None:
    """Add the options probes declare (e.g. --endpoint) to `audit`, once."""
    if _PROBE_OPTIONS:
        return
    try:
        probes = load_probes()
    except ProbeLoadError:
        return  # `audit` reports the load error itself
    taken = {o for p in audit.params for o in p.opts}
    for cls in probes:
        for opt in cls.cli_options:
            if opt.flag in taken:
                raise ProbeLoadError(f"probe {cls.name}: option {opt.flag} is already taken")
            taken.add(opt.flag)
            dest = f"probe_{cls.name}_{opt.flag.lstrip('-').replace('-', '_')}"
            audit.params.append(
                click.Option(
                    [opt.flag, dest],
                    help=f"{opt.help} (probe {cls.name}; config {'.'.join(opt.path)})",
                    multiple=opt.multiple,
                    is_flag=opt.is_flag,
                    metavar=None if opt.is_flag else opt.metavar,
                )
            )
            _PROBE_OPTIONS[dest] = opt


def main(argv: list[str] | None = None) -> int:
    try:
        with subprocesses.bounded():  # programs we start die with the audit, and on SIGINT/SIGTERM
            result = cli.main(args=argv, prog_name="readiness", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return EXIT_USAGE
    except click.ClickException as exc:
        exc.show()
        return EXIT_USAGE
    except (
        UsageProblem,
        config_mod.ConfigError,
        PolicyError,
        ProbeLoadError,
        outputs.FormatError,
        environment.ForeignDependency,
        dsse.SigningError,
    ) as exc:
        click.echo(f"readiness: {exc}", err=True)
        return EXIT_USAGE
    except Exception:
        click.echo("readiness: internal error (this is a bug in readiness, please report it):", err=True)
        click.echo(traceback.format_exc(), err=True)
        return EXIT_INTERNAL
    return result if isinstance(result, int) else EXIT_OK
