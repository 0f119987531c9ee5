"""Terraform (AWS): infrastructure items decided from the code, with resolved values and evidence lines.

Every ``.tf`` file is parsed with python-hcl2; a file that does not parse is an
``error`` naming the file and line, and the rest goes on. Directories are
modules; a directory no local module call points at is a root module, and each
root with the local modules it calls is one estate. Variables take their value
from module inputs, ``terraform.tfvars`` / ``*.auto.tfvars`` (and the
``var_files`` setting), then defaults. Remote modules and missing local ones are
coverage gaps, and they turn "absent" into ``unknown``.

With the ``plan_json`` setting the probe judges ``terraform show -json``
output instead: Terraform resolved every value, so findings there are
``validated``; values known only after apply stay ``unknown``.
"""

from __future__ import annotations

import functools
import hashlib
import posixpath
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from readiness.probes import terraform_registry as registry

from readiness import budget, cache, parallel, safe_load
from readiness.model import Artifact, Observation, Status, Strength, Subject
from readiness.probe import Claim, Probe, ProbeContext

from . import terraform_checks, terraform_clouds
from .terraform_checks import Finding
from .terraform_resolve import (
    Block,
    Estate,
    Instance,
    Module,
    ParseFailure,
    Ref,
    Unknown,
    parse_hcl,
    parse_tfvars_json,
    plan_estate,
    warm_parser,
)

AUTO_TFVARS = ("terraform.tfvars", "terraform.tfvars.json")
PARALLEL_BYTES = 16 * 1024  # below this, starting worker processes costs more than it saves


def _dir(path: str) -> str:
    return posixpath.dirname(path)


def _parse_one(text: str, seconds: float | None = None) -> tuple[Block | None, str | None, int | None]:
    """Parse one file within ``seconds`` (the per-file time budget: python-hcl2 takes minutes over a
    huge nested default); failures are returned, not raised, so they cross process boundaries."""
    try:
        with budget.deadline(seconds, "file", "parse"):
            return parse_hcl(text), None, None
    except budget.BudgetExceeded as exc:
        if exc.scope != "file":
            raise
        return None, OVER_BUDGET + f" of {exc.seconds:g} s", None
    except ParseFailure as exc:
        return None, str(exc), exc.line


OVER_BUDGET = "not parsed within the per-file time budget"


@functools.cache
def _parser_version() -> str:
    """What a cached parse depends on: python-hcl2's version and the code that turns its tree into blocks."""
    from importlib.metadata import version

    from . import terraform_resolve

    source = hashlib.sha256(Path(terraform_resolve.__file__).read_bytes()).hexdigest()[:16]
    return f"{version('python-hcl2')}+{source}"


def _parse_all(texts: list[str], seconds: float | None = None) -> list[tuple[Block | None, str | None, int | None]]:
    """Parse files, in parallel processes when the tree is large: Lark's parse is nearly all of our time."""
    workers = min(parallel.jobs(), 8)
    if workers <= 1 or sum(map(len, texts)) < PARALLEL_BYTES:
        return [_parse_one(text, seconds) for text in texts]
    # Imported here: multiprocessing is start-up time every audit without much Terraform would pay.
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    if "fork" in mp.get_all_start_methods():
        try:
            warm_parser()  # build Lark once here; forked workers inherit it instead of each loading it
            with ProcessPoolExecutor(workers, mp_context=mp.get_context("fork")) as pool:
                return list(pool.map(functools.partial(_parse_one, seconds=seconds), texts, chunksize=4))
        except (OSError, BrokenProcessPool):
            pass  # no processes available here: parse in this one
    return [_parse_one(text, seconds) for text in texts]


def _plain(value: Any) -> Any:
    """Facts are evidence data: references and unknowns become plain JSON values."""
    if isinstance(value, Ref):
        return f"{value.address}.{value.attr}".rstrip(".")
    if isinstance(value, Unknown):
        return {"unknown": value.reason}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def _auto_loaded(path: str) -> bool:
    name = posixpath.basename(path)
    return name in AUTO_TFVARS or name.endswith((".auto.tfvars", ".auto.tfvars.json"))


# AWS first; the Azure and GCP judges feed the same checks.
JUDGES = terraform_checks.JUDGES + terraform_clouds.JUDGES
JUDGES_OF: dict[str, list] = {}
for _check, _judge in JUDGES:
    JUDGES_OF.setdefault(_check.id, []).append(_judge)


class TerraformProbe(Probe):
    name = "terraform"
    version = "0.1.0"
    kind = "static"
    description = "Terraform (AWS): encryption, backups, network, edge, secrets, IAM, logging, from resolved HCL."
    claims = (Claim(("*.tf", "*.tfvars", "*.tfvars.json")),)
    checks = tuple(dict.fromkeys(check for check, _ in JUDGES))
    # Estate-level facts: one production root that declares them proves them.
    existential_checks = frozenset(
        {
            "terraform.iac_present",
            "terraform.network_segmented",
            "terraform.firewall_rules",
            "terraform.bastion_or_vpn",
            "terraform.waf",
            "terraform.ddos_protection",
            "terraform.load_balancer",
            "terraform.cdn",
            "terraform.autoscaling",
            "terraform.compute_provisioned",
            "terraform.secrets_manager",
            "terraform.audit_logging",
            "terraform.central_logging",
            "terraform.cost_controls",
        }
    )
    settings_schema = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "plan_json": {
                "type": "string",
                "description": "`terraform show -json` output (relative to the audited root), judged instead of "
                "the HCL: every value is resolved by Terraform itself",
            },
            "var_files": {
                "type": "array",
                "items": {"type": "string"},
                "description": "tfvars files (relative to the audited root) applied to every root module, "
                "as `terraform plan -var-file` would",
            },
        },
    }

    def run(self, ctx: ProbeContext) -> Iterator[Observation]:
        plan = ctx.settings.get("plan_json")
        if plan:
            yield from self._plan(ctx, plan)
            return
        modules, broken = self._parse(ctx)
        yield from self._tfvars(ctx, modules)
        called: set[str] = set()
        for module in modules.values():
            for _, block in module.top("module"):
                source = block.attrs.get("source")
                if isinstance(source, str) and source.startswith(("./", "../")):
                    target = posixpath.normpath(posixpath.join(module.dir or ".", source))
                    called.add("" if target == "." else target)
        for root_dir in sorted(set(modules) - called):
            root = Instance(modules[root_dir], "", None, modules)
            estate = Estate(root)
            dirs = {inst.module.dir for inst in root.walk()}
            estate.incomplete.extend(f"{p} does not parse" for p in broken if _dir(p) in dirs)
            self._gaps(ctx, estate)
            yield from self._judge(ctx, estate)

    def _plan(self, ctx: ProbeContext, path: str) -> Iterator[Observation]:
        art = ctx.artifact(path)
        if art is None:
            yield from ctx.errors(Subject(path=path), "plan_json names a file that does not exist")
            return
        with ctx.guard(art):
            try:
                estate = plan_estate(safe_load.load_json(ctx.read_text(art)), art.path)
            except (ValueError, ParseFailure) as exc:
                ctx.emitted.extend(ctx.errors(Subject(path=art.path), f"not a usable plan: {exc}", art.production))
                return
            yield from self._judge(ctx, estate)

    def _parse(self, ctx: ProbeContext) -> tuple[dict[str, Module], list[str]]:
        modules: dict[str, Module] = {}
        broken: list[str] = []
        texts: dict[str, str] = {}
        arts = {a.path: a for a in ctx.artifacts if a.path.endswith(".tf")}
        for path, art in arts.items():
            with ctx.guard(art):
                texts[path] = ctx.read_text(art)
        parse = functools.partial(_parse_all, seconds=ctx.file_seconds)
        kept = lambda result: not str(result[1] or "").startswith(OVER_BUDGET)  # noqa: E731 - a timeout is no answer
        parsed_all = cache.cached_map("python-hcl2", _parser_version(), parse, list(texts.values()), kept)
        for path, (parsed, error, line) in zip(texts, parsed_all, strict=True):
            if parsed is None:
                broken.append(path)
                subject = Subject(path=path, line=line)
                ctx.emitted.extend(ctx.errors(subject, f"does not parse: {error}", arts[path].production))
                continue
            modules.setdefault(_dir(path), Module(_dir(path))).files[path] = parsed
        return modules, broken

    def _tfvars(self, ctx: ProbeContext, modules: dict[str, Module]) -> Iterator[Observation]:
        configured = list(ctx.settings.get("var_files") or [])
        for path in configured:
            if ctx.artifact(path) is None:
                yield from ctx.errors(Subject(path=path), "var_files names a file that does not exist")
        for art in ctx.artifacts:
            if art.path.endswith(".tf"):
                continue
            module = modules.get(_dir(art.path))
            if art.path in configured:
                targets = list(modules.values())
            elif _auto_loaded(art.path) and module is not None:
                targets = [module]
            else:
                ctx.gap(
                    Subject(path=art.path),
                    "tfvars file not auto-loaded and not in probes.terraform.var_files: its values were not applied",
                )
                continue
            values = self._read_tfvars(ctx, art)
            for target in targets:
                for name, value in (values or {}).items():
                    target.tfvars.setdefault(name, value)
        return

    def _read_tfvars(self, ctx: ProbeContext, art: Artifact) -> dict[str, Any] | None:
        with ctx.guard(art):
            text = ctx.read_text(art)
            try:
                if art.path.endswith(".json"):
                    return parse_tfvars_json(text)
                return parse_hcl(text).attrs
            except (ParseFailure, ValueError) as exc:
                line = getattr(exc, "line", None)
                ctx.emitted.extend(ctx.errors(Subject(path=art.path, line=line), f"does not parse: {exc}"))
        return None

    def _gaps(self, ctx: ProbeContext, estate: Estate) -> None:
        for inst in estate.root.walk():
            for path, block, source in inst.remote_calls:
                name = f"{inst.prefix}module.{block.labels[0]}"
                ctx.gap(
                    Subject(path=path, line=block.line, name=name),
                    f"module source {source} is not local: its resources were not examined",
                )
            for path, block, source in inst.missing_calls:
                name = f"{inst.prefix}module.{block.labels[0]}"
                ctx.gap(Subject(path=path, line=block.line, name=name), f"local module {source} has no .tf files")

    def _judge(self, ctx: ProbeContext, estate: Estate) -> Iterator[Observation]:
        where = estate.root.module.dir or "."
        estate_subject = Subject(path=estate.subject_path(), name=f"estate of root module {where}")
        for check in self.checks:
            findings = []
            for judge in JUDGES_OF[check.id]:
                try:
                    findings += list(judge(estate))
                except Exception as exc:  # a bug in one judge must not silence the others
                    reason = f"check failed: {type(exc).__name__}: {str(exc)[:200]}"
                    ctx.gap(estate_subject, f"{check.id}: {reason}")
                    yield ctx.observe(check.id, Status.ERROR, estate_subject, reason)
            if all(f.status is Status.UNKNOWN for f in findings) and estate.incomplete:
                calls = [c for inst in estate.root.walk() for c in inst.remote_calls]
                for status, subject, message in registry.evidence(check.id, calls):
                    yield ctx.observe(check.id, status, subject, message, facts={"module_call": True})
            if not findings:
                status = Status.UNKNOWN if estate.incomplete else Status.NOT_APPLICABLE
                why = "nothing this check judges is declared"
                if estate.incomplete:
                    why += f" in the modules read; not read: {'; '.join(estate.incomplete[:3])}"
                findings = [Finding(check.id, status, why)]
            for finding in findings:
                yield self._observe(ctx, finding, estate_subject, estate)

    def _observe(self, ctx: ProbeContext, finding: Finding, estate_subject: Subject, estate: Estate) -> Observation:
        res = finding.resource
        # A local module called by several roots is judged once per root, with that root's inputs.
        facts = {**_plain(finding.facts), "root_module": estate.root.module.dir or "."}
        if res is None:
            subject = estate_subject
        else:
            block = finding.block or res.block
            line = res.line_of(finding.attr, block) if finding.attr else block.line
            end = None if finding.attr else block.end_line
            subject = Subject(path=res.path, line=line or None, end_line=end or None, name=res.address)
        message = finding.message
        if res is not None and res.address in estate.count_unknown:
            facts["count"] = estate.count_unknown[res.address]
            message += " (if created: its count is known only at plan time)"
        # A plan is Terraform's own resolution of the code: the real tool accepted it.
        strength = Strength.VALIDATED if estate.plan_path else Strength.DECLARED
        return ctx.observe(finding.check, finding.status, subject, message, strength=strength, facts=facts)
