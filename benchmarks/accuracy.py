"""Accuracy benchmark: does a zero-configuration audit agree with an engineer's reading of real repositories?

    .venv/bin/python benchmarks/accuracy.py CORPUS [--truth DIR] [--json FILE] [--markdown FILE]

CORPUS is a folder of checkouts (this script fetches nothing). For each ground-truth file in
benchmarks/accuracy/truth/ (format: docs/accuracy.md), the checkout CORPUS/<checkout> is audited with
`readiness audit <checkout> --format json --fail-on none` and no configuration, and every truth item is
compared with the tool's verdict:

- agree: the tool says what the truth says (pass/fail), or, for a `not-pass` truth, anything but pass;
- FALSE PASS: the tool passes an item the truth says is `fail` or `not-pass`;
- miss: any other disagreement (a `pass` the tool does not see, a `fail` it calls unknown, an item the
  audit does not report at all).

The truth files are validated too (known item ids, evidence items only, enough items of each kind); a
violation is reported, not fatal. It is a measurement, not a gate: the exit code is 0 unless the command
line is wrong (2).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from readiness.policy import builtin_pack_names, load_pack

TRUTH_DIR = Path(__file__).resolve().parent / "accuracy" / "truth"
TRUTHS = ("pass", "fail", "not-pass")
SHAPES = ("compose", "kubernetes", "helm", "terraform", "monorepo", "mixed")
REASON_WIDTH = 110
AUDIT_TIMEOUT = 1800  # seconds; a hung audit of one repository must not stop the others


@dataclass(frozen=True)
class Rules:
    """How big a truth file must be (TRUTH.md: 30 items, 10 pass, 8 fail)."""

    min_items: int = 30
    min_pass: int = 10
    min_fail: int = 8


@dataclass(frozen=True)
class TruthItem:
    id: str
    truth: str
    reason: str


@dataclass
class Truth:
    file: str
    repository: str = ""
    commit: str = ""
    checkout: str = ""
    shape: str = ""
    items: list[TruthItem] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Difference:
    id: str
    outcome: str  # "false pass" or "miss"
    truth: str
    tool: str
    tool_reason: str
    truth_reason: str


@dataclass
class RepoResult:
    repository: str
    checkout: str
    truth_file: str
    commit: str
    head: str = ""
    warnings: list[str] = field(default_factory=list)
    error: str = ""
    items: int = 0
    agreed: int = 0
    false_passes: int = 0
    misses: int = 0
    differences: list[Difference] = field(default_factory=list)
    # (truth, tool status) -> count, for every compared item: where the disagreements come from
    confusion: Counter[tuple[str, str]] = field(default_factory=Counter)

    @property
    def measured(self) -> bool:
        return not self.error

    @property
    def agreement(self) -> float:
        return 100.0 * self.agreed / self.items if self.items else 0.0


class _UniqueKeyLoader(yaml.SafeLoader):
    """A duplicated item id would silently drop one entry; make it an error instead."""


def _mapping_without_duplicates(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_without_duplicates)


def evidence_items() -> dict[str, str]:
    """Every item id of the built-in packs, mapped to how it is decided: evidence, rollup or manual."""
    kinds: dict[str, str] = {}
    for name in builtin_pack_names():
        for item in load_pack(name).items:
            kinds[item.id] = "evidence" if item.evidence is not None else "rollup" if item.rollup else "manual"
    return kinds


def load_truth(path: Path) -> Truth:
    """Read one truth file; what is malformed goes to ``problems`` rather than raising."""
    truth = Truth(file=path.name)
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)  # noqa: S506 - SafeLoader subclass
    except (OSError, yaml.YAMLError) as exc:
        truth.problems.append(f"unreadable: {exc}")
        return truth
    if not isinstance(data, dict):
        truth.problems.append("not a mapping")
        return truth
    for key in ("repository", "commit", "checkout", "shape"):
        value = data.get(key)
        if not isinstance(value, str) or not value.strip():
            truth.problems.append(f"missing {key}")
        else:
            setattr(truth, key, value.strip())
    if truth.commit and not re.fullmatch(r"[0-9a-f]{40}", truth.commit):
        truth.problems.append(f"commit {truth.commit!r} is not a 40-hex commit id")
    if truth.shape and truth.shape not in SHAPES:
        truth.problems.append(f"shape {truth.shape!r} is not one of {', '.join(SHAPES)}")
    items = data.get("items")
    if not isinstance(items, dict):
        truth.problems.append("items: missing or not a mapping")
        return truth
    for item_id, entry in items.items():
        if not isinstance(entry, dict) or entry.get("truth") not in TRUTHS:
            truth.problems.append(f"{item_id}: truth must be one of {', '.join(TRUTHS)}")
            continue
        reason = entry.get("reason")
        if not isinstance(reason, str) or not reason.strip():
            truth.problems.append(f"{item_id}: no reason")
        truth.items.append(TruthItem(str(item_id), entry["truth"], str(reason or "").strip()))
    return truth


def validate(truth: Truth, kinds: dict[str, str], rules: Rules) -> list[str]:
    """Rule violations of a parsed truth file: unknown or undecidable items and too few items of each kind."""
    problems: list[str] = []
    for item in truth.items:
        kind = kinds.get(item.id)
        if kind is None:
            problems.append(f"{item.id}: no such item in the built-in packs")
        elif kind != "evidence":
            problems.append(f"{item.id}: a {kind} item (only items decided by evidence belong in a truth file)")
    counts = Counter(item.truth for item in truth.items)
    if len(truth.items) < rules.min_items:
        problems.append(f"{len(truth.items)} items, fewer than {rules.min_items}")
    if counts["pass"] < rules.min_pass:
        problems.append(f"{counts['pass']} pass items, fewer than {rules.min_pass}")
    if counts["fail"] < rules.min_fail:
        problems.append(f"{counts['fail']} fail items, fewer than {rules.min_fail}")
    packs = {item.id.split(".", 1)[0] for item in truth.items if item.id in kinds}
    if len(packs) < 2 and truth.items:
        problems.append(f"items from one pack only ({', '.join(sorted(packs))}); cover both packs")
    return problems


def git_head(checkout: Path) -> str:
    done = subprocess.run(["git", "-C", str(checkout), "rev-parse", "HEAD"], capture_output=True, text=True)
    return done.stdout.strip() if done.returncode == 0 else ""


def audit(checkout: Path, timeout: float = AUDIT_TIMEOUT) -> dict[str, tuple[str, str]]:
    """Item id -> (status, reason) from a zero-configuration audit of ``checkout``, run as the installed tool."""
    with tempfile.TemporaryDirectory(prefix="accuracy-") as tmp:
        report = Path(tmp) / "report.json"
        command = [sys.executable, "-m", "readiness", "audit", str(checkout), "--format", "json"]
        try:
            done = subprocess.run(
                [*command, "--fail-on", "none", "--output", str(report)],
                capture_output=True,
                text=True,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired as exc:
            raise RuntimeError(f"readiness audit did not finish within {timeout:.0f} s") from exc
        if done.returncode != 0 or not report.exists():
            last = (done.stderr.strip().splitlines() or ["no message"])[-1]
            raise RuntimeError(f"readiness audit exited {done.returncode}: {last}")
        data = json.loads(report.read_text(encoding="utf-8"))
    return {item["id"]: (item["status"], item.get("reason") or "") for item in data.get("items", [])}


def outcome(truth: str, tool: str) -> str:
    """agree, false pass or miss for one item (see the module docstring)."""
    if truth == "not-pass":
        return "false pass" if tool == "pass" else "agree"
    if tool == truth:
        return "agree"
    return "false pass" if tool == "pass" else "miss"


def compare(truth: Truth, verdicts: dict[str, tuple[str, str]], result: RepoResult) -> None:
    for item in truth.items:
        status, reason = verdicts.get(item.id, ("absent", "the audit reported no such item"))
        result.items += 1
        result.confusion[(item.truth, status)] += 1
        verdict = outcome(item.truth, status) if status != "absent" else "miss"
        if verdict == "agree":
            result.agreed += 1
            continue
        if verdict == "false pass":
            result.false_passes += 1
        else:
            result.misses += 1
        result.differences.append(Difference(item.id, verdict, item.truth, status, reason, item.reason))


def measure(truth: Truth, corpus: Path, timeout: float = AUDIT_TIMEOUT) -> RepoResult:
    result = RepoResult(truth.repository, truth.checkout, truth.file, truth.commit)
    checkout = corpus / truth.checkout if truth.checkout else None
    if checkout is None or not checkout.is_dir():
        result.error = f"no checkout {truth.checkout!r} under {corpus}"
        return result
    result.head = git_head(checkout)
    if not result.head:
        result.warnings.append(f"{checkout} is not a git checkout; commit not verified")
    elif truth.commit and result.head != truth.commit:
        result.warnings.append(f"HEAD is {result.head[:12]}, the truth was written at {truth.commit[:12]}")
    if (checkout / ".readiness.yaml").exists():
        result.warnings.append(
            "the checkout carries its own .readiness.yaml: the audit reads it (not zero configuration)"
        )
    try:
        verdicts = audit(checkout, timeout)
    except (RuntimeError, OSError, ValueError) as exc:
        result.error = str(exc)
        return result
    compare(truth, verdicts, result)
    return result


def totals(results: list[RepoResult]) -> dict[str, Any]:
    measured = [r for r in results if r.measured]
    items = sum(r.items for r in measured)
    confusion: Counter[tuple[str, str]] = sum((r.confusion for r in measured), Counter())
    agreed = sum(r.agreed for r in measured)
    return {
        "repositories": len(measured),
        "items": items,
        "agreed": agreed,
        "agreement": round(100.0 * agreed / items, 1) if items else 0.0,
        "false_passes": sum(r.false_passes for r in measured),
        "misses": sum(r.misses for r in measured),
        "lowest_repository_agreement": round(min((r.agreement for r in measured), default=0.0), 1),
        "truth_by_tool": {truth: _row(confusion, truth) for truth in TRUTHS},
    }


def _row(confusion: Counter[tuple[str, str]], truth: str) -> dict[str, int]:
    return {tool: n for (t, tool), n in sorted(confusion.items()) if t == truth}


def _short(text: str, width: int = REASON_WIDTH) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def render_text(results: list[RepoResult], overall: dict[str, Any], problems: dict[str, list[str]]) -> str:
    lines: list[str] = []
    for name, found in problems.items():
        for problem in found:
            lines.append(f"truth {name}: {problem}")
    if problems:
        lines.append("")
    for r in results:
        head = f"== {r.repository} ({r.checkout} @ {r.commit[:12]})"
        if not r.measured:
            lines += [head, f"   not measured: {r.error}", ""]
            continue
        lines.append(
            f"{head}: {r.items} items, agreement {r.agreement:.1f}%, false passes {r.false_passes}, misses {r.misses}"
        )
        lines += [f"   warning: {w}" for w in r.warnings]
        for d in r.differences:
            label = "FALSE PASS" if d.outcome == "false pass" else "miss"
            lines.append(f"   {label:10} {d.id}: truth {d.truth}, tool {d.tool}")
            lines.append(f"              tool:  {_short(d.tool_reason)}")
            lines.append(f"              truth: {_short(d.truth_reason)}")
        lines.append("")
    lines.append(
        f"overall: {overall['repositories']} repositories, {overall['items']} items, "
        f"agreement {overall['agreement']:.1f}%, false passes {overall['false_passes']}, misses {overall['misses']}, "
        f"lowest repository {overall['lowest_repository_agreement']:.1f}%"
    )
    for truth, row in overall["truth_by_tool"].items():
        if row:
            lines.append(f"   truth {truth:8} -> tool " + ", ".join(f"{tool} {n}" for tool, n in row.items()))
    return "\n".join(lines) + "\n"


def _cell(text: str, width: int = REASON_WIDTH) -> str:
    return _short(text, width).replace("|", "\\|")


def render_markdown(results: list[RepoResult], overall: dict[str, Any], when: str) -> str:
    lines = [
        f"Measured {when} with `make accuracy` (zero configuration, `readiness audit --format json --fail-on none`).",
        "",
        "| Repository | Commit | Items | Agreement | False passes | Misses |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for r in results:
        if r.measured:
            cells = f"{r.items} | {r.agreement:.1f}% | {r.false_passes} | {r.misses}"
        else:
            cells = f"– | not measured: {_cell(r.error, 60)} | – | –"
        lines.append(f"| {r.repository} | `{r.commit[:12]}` | {cells} |")
    lines.append(
        f"| **overall** | | {overall['items']} | **{overall['agreement']:.1f}%** | "
        f"{overall['false_passes']} | {overall['misses']} |"
    )
    tools = sorted({tool for row in overall["truth_by_tool"].values() for tool in row})
    if tools:
        lines += ["", "Truth against the tool's verdict, over all measured items:", ""]
        lines += ["| Truth | " + " | ".join(tools) + " |", "|---|" + "---:|" * len(tools)]
        for truth, row in overall["truth_by_tool"].items():
            lines.append(f"| {truth} | " + " | ".join(str(row.get(tool, 0)) for tool in tools) + " |")
    for r in results:
        if not r.differences:
            continue
        lines += ["", f"### {r.repository}: items that differ", ""]
        lines += ["| Item | Outcome | Truth | Tool | Tool's reason | Truth's reason |", "|---|---|---|---|---|---|"]
        for d in r.differences:
            lines.append(
                f"| `{d.id}` | {d.outcome} | {d.truth} | {d.tool} | {_cell(d.tool_reason, 90)} | "
                f"{_cell(d.truth_reason, 90)} |"
            )
    return "\n".join(lines) + "\n"


def render_json(results: list[RepoResult], overall: dict[str, Any], problems: dict[str, list[str]], when: str) -> str:
    repos = []
    for r in results:
        entry = asdict(r)
        entry["confusion"] = {truth: _row(r.confusion, truth) for truth in TRUTHS}
        entry["agreement"] = round(r.agreement, 1)
        entry["measured"] = r.measured
        repos.append(entry)
    return json.dumps(
        {"measured": when, "overall": overall, "repositories": repos, "truth_problems": problems}, indent=2
    )


def run(
    corpus: Path, truth_dir: Path, rules: Rules, only: list[str], timeout: float = AUDIT_TIMEOUT
) -> tuple[list[RepoResult], dict[str, list[str]]]:
    """Validate every truth file, then measure those whose checkout is in ``corpus``."""
    kinds = evidence_items()
    results: list[RepoResult] = []
    problems: dict[str, list[str]] = {}
    for path in sorted(truth_dir.glob("*.yaml")):
        truth = load_truth(path)
        found = truth.problems + validate(truth, kinds, rules)
        if found:
            problems[path.name] = found
        if only and truth.checkout not in only and path.stem not in only:
            continue
        if not truth.items:
            continue
        print(f"auditing {truth.checkout} ...", file=sys.stderr, flush=True)
        results.append(measure(truth, corpus, timeout))
    return results, problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("corpus", type=Path, help="folder holding one checkout per truth file (named by `checkout:`)")
    parser.add_argument("--truth", type=Path, default=TRUTH_DIR, help=f"truth files folder (default: {TRUTH_DIR})")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the results as JSON")
    parser.add_argument("--markdown", type=Path, metavar="FILE", help="also write the tables for docs/accuracy.md")
    parser.add_argument("--only", action="append", default=[], metavar="NAME", help="measure this checkout only")
    parser.add_argument("--min-items", type=int, default=Rules.min_items, help="items a truth file needs")
    parser.add_argument("--min-pass", type=int, default=Rules.min_pass, help="pass items a truth file needs")
    parser.add_argument("--min-fail", type=int, default=Rules.min_fail, help="fail items a truth file needs")
    parser.add_argument("--timeout", type=float, default=AUDIT_TIMEOUT, help="seconds one audit may take")
    args = parser.parse_args(argv)
    if not args.corpus.is_dir():
        parser.error(f"corpus folder {args.corpus} does not exist (fetch the checkouts first; see docs/accuracy.md)")
    if not args.truth.is_dir():
        parser.error(f"truth folder {args.truth} does not exist")
    rules = Rules(args.min_items, args.min_pass, args.min_fail)
    results, problems = run(args.corpus, args.truth, rules, args.only, args.timeout)
    overall = totals(results)
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d")
    sys.stdout.write(render_text(results, overall, problems))
    if args.json:
        args.json.write_text(render_json(results, overall, problems, when) + "\n", encoding="utf-8")
    if args.markdown:
        args.markdown.write_text(render_markdown(results, overall, when), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
