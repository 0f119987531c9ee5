"""Checklist drift: what the repository's own documents claim done, against what the evidence says.

Teams keep a copy of the checklist (``- [x] Rate limiting configured on nginx``) or a status page
(``### 2. Network Security ✓ Complete``, ``| HSTS enabled | ✅ |``) and tick it by hand. This step,
after evaluation, finds those claims in the repository's Markdown, matches each claimed line to a
checklist item (or a claimed heading to a section) by normalised text similarity, and reports every
claim whose item the evidence fails, with the matched pair and its score so a person can judge the
match. It never changes a verdict; ``audit --fail-on-drift`` makes drift fail the run.

Matching uses rapidfuzz's token-sort ratio (word order ignored, every word counted) at a conservative
threshold: a claim that is not nearly the item's own words is left out rather than guessed.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .discovery import Discovery
from .model import ItemVerdict, VcsState, VerdictStatus
from .policy import Item, Pack
from .probe import ArtifactUnreadable, Files

THRESHOLD = 90  # token-sort ratio, 0-100: near-verbatim copies and light edits, not paraphrases
MIN_CHARS = 8  # a normalised claim shorter than this ("Done", "TLS") matches nothing
SUFFIXES = (".md", ".markdown")

_MARK = r"(?:✅|✔️?|✓|☑️?)"
_WORD = r"(?:done|complete|completed|implemented|finished)"
_NEGATIVE = re.compile(
    r"❌|✗|✘|⚠|🚧|\b(?:todo|not (?:yet )?(?:done|complete|completed|implemented)|pending|wip)\b", re.I
)
_TASK = re.compile(r"^\[(?P<box>[ xX])\]\s+(?P<text>.+)$")
_START = re.compile(rf"^(?:{_MARK}(?:\s*\**{_WORD}\**\b)?[\s:.\-–—]*|\**{_WORD}\**\s*[:\-–—]\s*)(?P<text>.+)$", re.I)
_END = re.compile(
    rf"^(?P<text>.+?)\s*(?:{_MARK}(?:\s*\**{_WORD}\**)?|(?:[-–—:]\s*|\()\**{_WORD}\**\)?)\.?\s*$",
    re.I,
)
# A superset of every claim form below: most documents claim nothing, and parsing each one's Markdown
# was nine tenths of this step's time. Plain substring tests first, then the word forms in context.
_MARKS = ("✅", "✔", "✓", "☑", "[x]", "[X]")
_WORDS = ("done", "complete", "implemented", "finished")
_WORD_IN_CONTEXT = re.compile(
    rf"(?:[-–—:(|][ \t]*\**{_WORD}\b)|(?:\b{_WORD}\**[ \t]*[-–—:|])|(?:^[ \t]*\**{_WORD}\**[ \t]*$)", re.M
)


def _may_claim(text: str) -> bool:
    if any(m in text for m in _MARKS):
        return True
    low = text.lower()
    return any(w in low for w in _WORDS) and _WORD_IN_CONTEXT.search(low) is not None


_STATUS_CELL = re.compile(rf"^\s*(?:{_MARK}(?:\s*\**{_WORD}\**)?|\**{_WORD}\**|\[[xX]\])\s*$", re.I)


@dataclass(frozen=True)
class Claim:
    path: str
    line: int
    text: str  # the claimed line as written (trimmed)
    heading: bool  # a heading: it may claim a whole section


@dataclass(frozen=True)
class Drift:
    claim: Claim
    scope: str  # "item": the line matched an item; "section": it matched a section, and claims its items
    matched: str  # the item's or section's title the claim matched
    score: float
    pack: str
    item_id: str
    item_title: str
    status: VerdictStatus
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.claim.path,
            "line": self.claim.line,
            "claimed": self.claim.text,
            "scope": self.scope,
            "matched": self.matched,
            "score": round(self.score, 1),
            "pack": self.pack,
            "item": self.item_id,
            "title": self.item_title,
            "status": self.status.value,
            "reason": self.reason,
        }


@dataclass
class DriftReport:
    files: list[str] = field(default_factory=list)  # the documents holding claims
    claims: int = 0
    matched: int = 0
    drifts: list[Drift] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "threshold": THRESHOLD,
            "files": self.files,
            "claims": self.claims,
            "matched": self.matched,
            "drifts": [d.to_json() for d in self.drifts],
        }


def normalise(text: str) -> str:
    text = re.sub(r"\]\([^)]*\)", "]", text)  # a link keeps its words, not its address
    text = re.sub(r"^\s*(?:#+\s*)?(?:(?:\d+[.)])+|[-*+])\s+", "", text)  # heading marks, numbering, bullets
    return " ".join(re.sub(r"[\W_]+", " ", text.casefold()).split())


def claimed_text(line: str) -> str | None:
    """The item text a line claims done, or None when it claims nothing (or says not done)."""
    line = line.strip()
    task = _TASK.match(line)
    if task:
        return task["text"] if task["box"] in "xX" else None
    if _NEGATIVE.search(line):
        return None
    for pattern in (_END, _START):
        m = pattern.match(line)
        if m and m["text"].strip():
            return m["text"]
    return None


@functools.cache
def _parser() -> Any:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark").enable("table").disable("inline")  # blocks and raw inline text suffice


def claims(path: str, text: str) -> list[tuple[Claim, str]]:
    """Every (claim, claimed text) in one Markdown document: task lines, lines and headings with a
    done mark, and table rows whose status cell says done."""
    out: list[tuple[Claim, str]] = []
    if not _may_claim(text):
        return out
    tokens = _parser().parse(text)
    row: list[str] = []
    row_line = 0
    for i, tok in enumerate(tokens):
        if tok.type == "tr_open":
            row, row_line = [], (tok.map[0] + 1 if tok.map else 0)
        elif tok.type == "tr_close":
            status = [c for c in row if _STATUS_CELL.match(c)]
            others = [c for c in row if c.strip() and not _STATUS_CELL.match(c)]
            if status and others and not any(_NEGATIVE.search(c) for c in row):
                out.append((Claim(path, row_line, " | ".join(row)[:200], False), others[0]))
        elif tok.type == "inline" and i and tokens[i - 1].type in ("th_open", "td_open"):
            row.append(tok.content.strip())
        elif tok.type == "inline" and tok.map:
            heading = tokens[i - 1].type == "heading_open"
            for offset, line in enumerate(tok.content.splitlines()):
                got = claimed_text(line)
                if got:
                    out.append((Claim(path, tok.map[0] + 1 + offset, line.strip()[:200], heading), got))
    return out


def _index(packs: Sequence[Pack]) -> tuple[dict[str, list[tuple[Pack, Item]]], dict[str, list[tuple[Pack, str]]]]:
    items: dict[str, list[tuple[Pack, Item]]] = {}
    sections: dict[str, list[tuple[Pack, str]]] = {}
    for pack in packs:
        for item in pack.items:
            items.setdefault(normalise(item.title), []).append((pack, item))
        for section in pack.sections:
            sections.setdefault(normalise(section.title), []).append((pack, section.id))
    return items, sections


def _best(query: str, choices: list[str]) -> tuple[str, float] | None:
    from rapidfuzz import fuzz, process

    if len(query) < MIN_CHARS or not choices:
        return None
    found = process.extractOne(query, choices, scorer=fuzz.token_sort_ratio, processor=None, score_cutoff=THRESHOLD)
    return (found[0], found[1]) if found else None


def find(found: Discovery, files: Files, packs: Sequence[Pack], verdicts: Sequence[ItemVerdict]) -> DriftReport:
    """Claims in the production-scope Markdown the repository keeps, against the item verdicts."""
    by_id = {v.item_id: v for v in verdicts}
    items, sections = _index(packs)
    item_keys, section_keys = list(items), list(sections)
    report = DriftReport()
    for art in found.artifacts:
        if not art.path.lower().endswith(SUFFIXES) or art.skipped or not art.production or art.vcs is VcsState.IGNORED:
            continue
        try:
            text = files.read_text(art)
        except (ArtifactUnreadable, OSError):
            continue
        found_claims = claims(art.path, text)
        if found_claims:
            report.files.append(art.path)
        explicit: set[str] = set()
        pending: list[Drift] = []
        for claim, claimed in found_claims:
            report.claims += 1
            query = normalise(claimed)
            hit = _best(query, section_keys) if claim.heading else None
            if hit:
                report.matched += 1
                for pack, section_id in sections[hit[0]]:
                    title = pack.section(section_id).title
                    for item in (i for i in pack.items if i.section == section_id):
                        pending.append(_drift(claim, "section", title, hit[1], pack, item, by_id))
                continue
            hit = _best(query, item_keys)
            if hit:
                report.matched += 1
                for pack, item in items[hit[0]]:
                    explicit.add(item.id)
                    pending.append(_drift(claim, "item", item.title, hit[1], pack, item, by_id))
        # an item claimed on its own line is reported for that line, not again for its section's heading
        report.drifts += [
            d for d in pending if d.status is VerdictStatus.FAIL and (d.scope == "item" or d.item_id not in explicit)
        ]
    return report


def _drift(
    claim: Claim, scope: str, matched: str, score: float, pack: Pack, item: Item, by_id: dict[str, ItemVerdict]
) -> Drift:
    v = by_id.get(item.id)
    status = v.status if v else VerdictStatus.UNKNOWN
    return Drift(claim, scope, matched, score, pack.name, item.id, item.title, status, v.reason if v else "")


def lines(report: DriftReport, limit: int | None = None) -> list[str]:
    """One line per drift, grouped by claim: where it is claimed, what it matched, what the evidence says."""
    out: list[str] = []
    shown = report.drifts if limit is None else report.drifts[:limit]
    for d in shown:
        where = f"{d.claim.path}:{d.claim.line}"
        matched = f'section "{d.matched}"' if d.scope == "section" else f'"{d.matched}"'
        out.append(
            f'claimed done in {where} ("{d.claim.text}", matched {matched} at {d.score:.0f}), '
            f"evidence says {d.status.value}: {d.item_id}: {d.reason}"
        )
    if limit is not None and len(report.drifts) > limit:
        out.append(f"... and {len(report.drifts) - limit} more (see --format json)")
    return out
