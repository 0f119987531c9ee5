"""What the repository's own READMEs say is production.

A catalogue of install paths (a Helm chart, raw manifests, a few compose tutorials) ships several
deployments; nothing in their file names tells which one the project recommends. Its READMEs do:
"Production-grade Helm chart for ..." opening a chart's README, or "For production, use the
[Helm chart](../charts/app/)" in another. Such a claim outweighs a default or a quick start, never a
name (`docker-compose.dev.yml`) nor a deploy script.
"""

from __future__ import annotations

import dataclasses
import posixpath
import re
from collections.abc import Callable
from dataclasses import dataclass

from ..model import Subject
from .environments import Environment, tree_environment
from .model import Deployment

README = re.compile(r"^readme(\.(md|markdown|rst|txt))?$", re.I)
CLAIM = re.compile(
    r"\bproduction[- ](?:ready|grade)\b|\bfor (?:use in )?production\b|\bproduction (?:deployments?|use|usage)\b",
    re.I,
)
DENIAL = re.compile(r"\bnot\b[^.]{0,40}\bproduction\b|\bnon-production\b|\bbefore\b[^.]{0,20}\bproduction\b", re.I)
# An opening that says the folder is for learning or trying out, not for running.
DISOWNING = re.compile(
    r"\btutorials?\b|\bnot (?:meant |intended |suitable |ready )?for production\b|"
    r"\bfor (?:local )?(?:development|testing)\b",
    re.I,
)
LINK = re.compile(r"\]\(\s*(?!https?:|mailto:|#)([^)\s#]+)")
SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z*_`\[])")
OPENING_LINES = 8  # non-empty lines after the title that still introduce the folder


@dataclass(frozen=True)
class Claim:
    folder: str  # repository-relative; never the root (a root README speaks for the whole repository)
    where: Subject
    words: str


def readme_paths(paths: list[str]) -> list[str]:
    return sorted(p for p in paths if README.match(posixpath.basename(p)) and not tree_environment(p))


def claims(readmes: list[tuple[str, str]], is_dir: Callable[[str], bool]) -> list[Claim]:
    """Production claims: a README whose opening calls its own folder production-grade, and a sentence that
    says production and then links a folder of the repository ("for production, use [the chart](charts/x)")."""
    out: list[Claim] = []
    for path, text in readmes:
        here = posixpath.dirname(path)
        lines = text.splitlines()
        opening = _opening(lines)
        for number, line in enumerate(lines, 1):
            for sentence in SENTENCE.split(line):
                m = CLAIM.search(sentence)
                if not m or DENIAL.search(sentence):
                    continue
                where, words = Subject(path=path, line=number), _excerpt(sentence, m)
                targets = [t for t in LINK.findall(sentence[m.start() :]) if not t.startswith("/")]
                if not targets and number in opening and here:
                    out.append(Claim(here, where, words))
                for target in targets:
                    folder = posixpath.normpath(posixpath.join(here, target)).strip("/")
                    if folder.startswith("..") or folder in ("", "."):
                        continue
                    if not is_dir(folder):
                        if not README.match(posixpath.basename(folder)):
                            continue  # a file named beside the word (".env ... for production use")
                        folder = posixpath.dirname(folder)
                    if folder and not tree_environment(folder + "/x"):
                        out.append(Claim(folder, where, words))
    return out


def disowned(readmes: list[tuple[str, str]], found: list[Claim]) -> dict[str, Subject]:
    """Folders whose README opens by sending production elsewhere or by calling its contents tutorials, when
    the repository names its production path at all (kubernetes/README.md: "For production, use the [Helm
    chart](../charts/app/). The raw manifests below are intended for tutorial-based deployments")."""
    if not found:
        return {}
    claimed = {c.folder for c in found}
    out: dict[str, Subject] = {}
    for path, text in readmes:
        here = posixpath.dirname(path)
        if not here or here in claimed:
            continue
        lines = text.splitlines()
        for number in sorted(_opening(lines)):
            line = lines[number - 1]
            sends_away = any(c.where.path == path and c.where.line == number for c in found)
            if sends_away or (DISOWNING.search(line) and not CLAIM.search(line)):
                out[here] = Subject(path=path, line=number)
                break
    return out


def _opening(lines: list[str]) -> set[int]:
    """Line numbers of the first paragraphs under the title, before the next heading."""
    out: set[int] = set()
    seen_title = False
    for number, line in enumerate(lines, 1):
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith("#") or re.fullmatch(r"[=-]{3,}", stripped):
            if seen_title:
                break
            seen_title = True
            continue
        out.add(number)
        if len(out) >= OPENING_LINES:
            break
    return out


def _excerpt(line: str, m: re.Match) -> str:
    start, end = max(0, m.start() - 40), min(len(line), m.end() + 40)
    return ("…" if start else "") + line[start:end].strip(" >*") + ("…" if end < len(line) else "")


def apply_claims(deployments: list[Deployment], found: list[Claim]) -> list[Deployment]:
    """Deployments inside a claimed folder become production; then production deployments that were only
    assumed become other install paths. Names and deploy scripts stay as they are."""
    claimed: dict[str, Claim] = {}
    for d in deployments:
        if d.environment not in (Environment.PRODUCTION, Environment.UNNAMED):
            continue
        claim = next((c for c in found if any(_within(posixpath.dirname(f), c.folder) for f in d.files)), None)
        if claim is not None:
            claimed[d.name] = claim
    if not claimed:
        return deployments
    first = next(iter(claimed.values()))
    out = []
    for d in deployments:
        if d.name in claimed:
            c = claimed[d.name]
            why = f"{c.where.describe()} calls {c.folder}/ production ({c.words!r})"
            d = dataclasses.replace(d, environment=Environment.PRODUCTION, reasons=(*d.reasons, why), assumed=False)
        elif d.production and d.assumed:
            why = (
                f"the repository's documents name {first.folder}/ as production ({first.where.describe()}): "
                "this is another install path"
            )
            d = dataclasses.replace(d, environment=Environment.UNNAMED, reasons=(*d.reasons, why))
        out.append(d)
    return out


def _within(inner: str, outer: str) -> bool:
    return inner == outer or inner.startswith(outer + "/")
