"""The audit, in one direction: discover -> probe -> observe -> evaluate -> report."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

from . import __version__, attestation_signing, budget, probe_pool
from . import attestations as attestations_mod
from . import drift as drift_mod
from . import waivers as waivers_mod
from .cap import Cap
from .classify import Classification
from .config import Config, ConfigError, validate
from .deployment import DeploymentMap
from .deployment import apply as apply_scope
from .deployment import build as build_deployments
from .discovery import Discovery, discover
from .evaluate import evaluate
from .inventory import Inventory
from .model import Artifact, Observation, Status, Subject
from .policy import builtin_pack_names, load_packs, planned_checks, with_max_validity
from .probe import Files, Gap, Probe, ProbeContext, load_probes
from .report import AuditReport, ProbeRun

Progress = Callable[[str], None]


def _absence(
    probe: Probe, claimed: list[Artifact], ctx: ProbeContext, observed: list[Observation]
) -> list[Observation]:
    """Observations for checks the probe left silent, so that silence never reads as a pass."""
    out: list[Observation] = []
    production_claimed = [a for a in claimed if a.production]
    looked_for = ", ".join(g for c in probe.claims for g in c.globs) or "its inputs"
    for check in probe.checks:
        mine = [o for o in observed if o.check == check.id]
        if any(o.production for o in mine):
            continue
        if mine or (claimed and not production_claimed):
            others = sorted({o.subject.path or o.subject.describe() for o in mine} | {a.path for a in claimed})
            message = f"no production artifact for this check; only non-production files: {', '.join(others[:5])}"
        elif probe.kind == "live" and ctx.targets is None:
            # when_absent says whether the files can decide without the live system
            # (not_applicable: live evidence only corroborates) or not (unknown).
            message = f"no live target configured (set live.{probe.name} in .readiness.yaml)"
        elif not claimed and probe.claims:
            message = f"no artifact of this kind (looked for {looked_for})"
        else:
            message = f"probe {probe.name} reported nothing for this check"
            out.append(ctx.observe(check.id, Status.UNKNOWN, Subject(), message))
            continue
        out.append(ctx.observe(check.id, check.when_absent, Subject(), message))
    return out


def run_probe(
    cls: type[Probe],
    found: Discovery,
    files: Files,
    inventory: Inventory,
    config: Config,
    deployments: DeploymentMap | None = None,
    now: dt.datetime | None = None,
    classified: Classification | None = None,
) -> tuple[list[Observation], list[Gap], ProbeRun]:
    """One probe over a discovered tree, as the audit runs it: unreadable inputs, crashes
    and silence become observations. Tests and benchmarks call it to drive a single probe;
    the audit passes the files it ``classified`` once for every probe."""
    if deployments is None:  # one probe driven on its own (tests, benchmarks): scope it as an audit would
        deployments = build_deployments(found, config, files)
        found = apply_scope(found, deployments)
    probe = cls()
    classified = classified or Classification([cls], found.artifacts, files)
    claimed = classified.claimed(cls)
    ctx = ProbeContext(
        probe=probe,
        root=found.root,
        artifacts=[a for a in claimed if a.skipped is None],
        all_artifacts=found.artifacts,
        files=files,
        inventory=inventory,
        git=found.git,
        settings=config.probe_settings(probe.name),
        targets=config.live_targets(probe.name),
        deployments=deployments,
        now=now or dt.datetime.now(dt.UTC),
        file_seconds=config.time_budget.get("file_seconds", budget.DEFAULT_FILE_SECONDS),
    )
    for art, claim in classified.unreadable_claims(cls):
        reason = f"skipped: {art.skipped}"
        if art.skipped == "broken symlink":
            # It names a file the checkout does not hold (often one each operator creates): no content to judge.
            ctx.gap(Subject(path=art.path), f"{reason}; the repository ships no content there")
        elif claim.sniff is not None:
            ctx.gap(Subject(path=art.path), f"{reason}; cannot tell whether it is a {probe.name} artifact")
        else:
            ctx.emitted.extend(ctx.errors(Subject(path=art.path), reason, art.production, claim.checks))
    produced: list[Observation] = []
    kept = Cap()  # observations per check, status and scope: a million findings of one kind add nothing
    crashed = None
    if probe.kind == "static" or ctx.targets is not None or probe.runs_without_targets:
        seconds = config.time_budget.get("probe_seconds", budget.DEFAULT_PROBE_SECONDS)
        try:
            with budget.deadline(seconds, "probe", probe.name):
                for observation in probe.run(ctx) or ():
                    if kept.admit(observation):
                        produced.append(observation)
        except budget.BudgetExceeded as exc:
            # What it observed stands; every check gets an error, so none of them can pass on half the work.
            crashed = f"time budget of {exc.seconds:g} s exhausted"
            produced += ctx.errors(Subject(), f"probe {exc}: the rest of its work was not done")
        except Exception as exc:  # a probe bug becomes data, not a stopped audit
            crashed = f"{type(exc).__name__}: {str(exc)[:200]}"
            produced = ctx.errors(Subject(), f"probe {probe.name} crashed: {crashed}")
    mine = produced + [o for o in ctx.emitted if kept.admit(o)]
    for subject, reason in kept.notes():
        ctx.gap(subject, reason)
    mine += _absence(probe, claimed, ctx, mine)
    return mine, ctx.gaps, ProbeRun(probe.name, probe.version, probe.kind, [a.path for a in claimed], crashed)


def _validate_probe_config(probe_cls: type[Probe], config: Config) -> None:
    settings = config.probe_settings(probe_cls.name)
    if settings and probe_cls.settings_schema is None:
        raise ConfigError(f"probes.{probe_cls.name}: this probe takes no settings")
    if settings and probe_cls.settings_schema:
        validate(settings, probe_cls.settings_schema, f"probes.{probe_cls.name}")
    targets = config.live_targets(probe_cls.name)
    if targets is not None:
        if probe_cls.targets_schema is None:
            raise ConfigError(f"live.{probe_cls.name}: this probe takes no live targets")
        validate(targets, probe_cls.targets_schema, f"live.{probe_cls.name}")


def audit(
    root: Path,
    config: Config,
    policies: list[str] | None = None,
    progress: Progress | None = None,
    now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    deployment: str | None = None,
) -> AuditReport:
    """Run every installed probe over ``root`` and evaluate the chosen packs."""
    started = now()
    say = progress or (lambda _msg: None)
    packs = with_max_validity(load_packs(policies or list(config.policies)), config.attestation_max_days)
    known_items = {i.id for p in packs for i in p.items}
    unknown_overrides = sorted(set(config.severity) - known_items)
    if unknown_overrides:
        raise ConfigError(f"severity: no item {', '.join(unknown_overrides)} in the selected packs")
    probe_classes = load_probes()
    for cls in probe_classes:
        _validate_probe_config(cls, config)
    unknown_probes = sorted((set(config.probes) | set(config.live)) - {c.name for c in probe_classes})
    if unknown_probes:
        raise ConfigError(f"no installed probe is named {', '.join(unknown_probes)}")

    say(f"discovering files in {root}")
    found = discover(root, config)
    # before the probes run: an attestation that can never count is the user's mistake to fix first
    atts = attestations_mod.load(found.root, config.attestations)
    builtin = load_packs(builtin_pack_names())
    attestations_mod.check_items(atts, packs, builtin)
    role_keys = attestation_signing.load_keys(found.root, config)
    notes = []
    if role_keys.required and not role_keys.keys:
        notes.append("signed attestations are required but attestation_signing.keys lists no key: none can count")
    atts = attestation_signing.apply(atts, {i.id: i for p in [*builtin, *packs] for i in p.items}, role_keys)
    offered = {c.id for cls in probe_classes for c in cls.checks}
    known_items = {i.id for p in [*packs, *builtin] for i in p.items}
    known_checks = offered | set(planned_checks())
    accepted = waivers_mod.load(found.root, config, known_checks, known_items, started.date())
    files = Files(found.root)
    say("finding the deployments the repository ships")
    deployments = build_deployments(found, config, files, deployment)
    found = apply_scope(found, deployments)
    classified = Classification(probe_classes, found.artifacts, files)
    inventory = Inventory()
    observations: list[Observation] = []
    gaps: list[Gap] = []
    runs: list[ProbeRun] = []
    # The inventory stage fills the inventory the other probes read: it runs first, here; the rest side by side.
    first = [cls for cls in probe_classes if cls.stage == "inventory"]
    rest = [cls for cls in probe_classes if cls.stage != "inventory"]

    def one(cls: type[Probe]) -> tuple[list[Observation], list[Gap], ProbeRun]:
        return run_probe(cls, found, files, inventory, config, deployments, started, classified)

    done = []
    for cls in first:
        say(f"probe {cls.name}")
        done.append(one(cls))
    weights = [len(classified.claimed(cls)) for cls in rest]
    announce = lambda i: say(f"probe {rest[i].name}")  # noqa: E731
    here_only = frozenset(i for i, cls in enumerate(rest) if not cls.fork_safe)
    done += probe_pool.run_all(len(rest), lambda i: one(rest[i]), files, weights, announce, here_only)
    for mine, probe_gaps, run in done:
        observations.extend(mine)
        gaps.extend(probe_gaps)
        runs.append(run)

    say("evaluating policies")
    observations.sort(key=Observation.sort_key)
    accepted.scan_inline(found.root, files.marked, config.max_file_size, known_checks)
    observations = accepted.apply(observations)
    verdicts, results = evaluate(
        packs,
        observations,
        offered,
        planned_checks(),
        atts.entries if atts else [],
        config.severity,
        started.date(),
        frozenset(c for cls in probe_classes for c in cls.existential_checks),
        accepted.item_hook(observations),
    )
    say("comparing the repository's own checklists with the verdicts")
    drift = drift_mod.find(found, files, packs, verdicts)  # after the verdicts, never changing them
    finished = now()
    return AuditReport(
        tool_version=__version__,
        started=started,
        finished=finished,
        discovery=found,
        digests=dict(files.digests),
        packs=packs,
        probes=runs,
        inventory=inventory,
        observations=observations,
        verdicts=verdicts,
        check_results=results,
        attestations=atts,
        attestation_signing=attestation_signing.summary(role_keys),
        drift=drift,
        notes=notes,
        config_source=config.source,
        deployments=deployments,
        waivers=accepted,
        gaps=sorted(gaps, key=lambda g: (g.probe, g.subject.path or "", g.subject.line or 0, g.reason)),
    )
