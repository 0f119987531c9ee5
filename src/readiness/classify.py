"""One pass that decides, for every discovered file, which probes' claims take it.

Matching each file against each probe's globs one probe at a time costs
files x patterns regular-expression searches. Here every claim's patterns are
compiled once and sorted by shape:

- a pattern without a slash (``*.yaml``, ``docker-compose*.yml``, ``Makefile``)
  matches a path exactly when it matches one of the path's components, so it is
  tested once per distinct component name, and only against names that end
  with its literal tail (``.yaml``);
- a pattern with a slash (``**/nginx/**/*.conf``) is tested on the whole path,
  once the path contains each of its literal parts (``nginx``, ``.conf``);
- a claim holding a negation (``!*.example``) keeps gitignore's last-match-wins
  rule: a path one of its include patterns matches is decided by the claim's
  own ``GitIgnoreSpec``.

Content sniffs read each file's first 8 KiB once, however many claims sniff it.
The result is the same as ``GitIgnoreSpec.match_file`` per claim (a test keeps
the per-probe algorithm as the reference).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pathspec
from pathspec.util import normalize_file

from .model import Artifact, VcsState

if TYPE_CHECKING:
    from .probe import Claim, Files, Probe

# Characters that make a pattern more than plain text and `*`/`?` wildcards: such
# patterns are never put in the by-name index (no tail can be trusted).
_PLAIN_COMPONENT = re.compile(r"[A-Za-z0-9._*?@+=,%~-]+")
# Patterns made of these characters, not starting with `!` or `#`, are sure to be include patterns.
_SURELY_INCLUDE = re.compile(r"[A-Za-z0-9._*?@+=,%~/\[\]-][A-Za-z0-9._*?@+=,%~/\[\]!#-]*")
_LITERAL_RUNS = re.compile(r"[^*?\[\]\\/!]+")
TAIL_KEY = 3  # names are indexed by their last three characters


@dataclass(frozen=True)
class _Entry:
    """One claim of one probe."""

    probe: type
    index: int
    claim: Claim


def _probe_class(probe: Probe | type[Probe]) -> type[Probe]:
    return probe if isinstance(probe, type) else type(probe)


def _literal_tail(pattern: str) -> str:
    """The literal text after the last wildcard: every name the pattern matches ends with it."""
    return re.split(r"[*?]", pattern)[-1]


def _literals(pattern: str) -> tuple[str, ...]:
    """Runs of plain characters every path the pattern matches contains (none when escapes or classes
    make that unsafe to say)."""
    if "\\" in pattern or "[" in pattern:
        return ()
    return tuple(_LITERAL_RUNS.findall(pattern))


class Classification:
    """Which artifacts each probe claims (``claimed``), and which unreadable ones it wanted
    (``unreadable_claims``), decided for all the given probes in one pass over the files.

    A probe not given at construction is classified on first request, alone.
    """

    def __init__(
        self, probes: Iterable[Probe | type[Probe]], artifacts: Iterable[Artifact], files: Files | None
    ) -> None:
        """``files`` reads the heads that sniffing claims need (``None`` only when every artifact is skipped)."""
        self.artifacts = list(artifacts)
        self.files = files
        self._claimed: dict[type, list[Artifact]] = {}
        self._unreadable: dict[type, list[tuple[Artifact, Claim]]] = {}
        self._classify([_probe_class(p) for p in probes])

    def claimed(self, probe: Probe | type[Probe]) -> list[Artifact]:
        """The artifacts this probe claims, in path order (see ``Probe.claimed``)."""
        cls = _probe_class(probe)
        if cls not in self._claimed:
            self._classify([cls])
        return self._claimed[cls]

    def unreadable_claims(self, probe: Probe | type[Probe]) -> list[tuple[Artifact, Claim]]:
        """Skipped files this probe's globs match, with the first claim that matched, in path order."""
        cls = _probe_class(probe)
        if cls not in self._unreadable:
            self._classify([cls])
        return self._unreadable[cls]

    def _classify(self, classes: list[type[Probe]]) -> None:
        classes = [c for c in dict.fromkeys(classes) if c not in self._claimed]
        entries = [_Entry(cls, i, claim) for cls in classes for i, claim in enumerate(cls.claims)]
        matcher = _Matcher(entries)
        claimed: dict[type, dict[str, Artifact]] = {cls: {} for cls in classes}
        unreadable: dict[type, dict[str, tuple[int, Artifact, Claim]]] = {cls: {} for cls in classes}
        for art in self.artifacts:
            matched = matcher.match(art.path)
            if not matched:
                continue
            if art.vcs is VcsState.IGNORED:
                matched = [e for e in matched if e.claim.include_ignored]
            sniffs: dict[int, bool] = {}
            head: bytes | None = None
            for entry in matched:
                if art.skipped:
                    seen = unreadable[entry.probe].get(art.path)
                    if seen is None or entry.index < seen[0]:
                        unreadable[entry.probe][art.path] = (entry.index, art, entry.claim)
                sniff = entry.claim.sniff
                if sniff is None:
                    claimed[entry.probe][art.path] = art
                    continue
                if art.skipped is not None:
                    continue
                if id(sniff) not in sniffs:
                    if head is None:
                        if self.files is None:
                            raise ValueError("classifying readable files needs Files to sniff them")
                        head = self.files.head(art)
                    sniffs[id(sniff)] = sniff.search(head) is not None
                if sniffs[id(sniff)]:
                    claimed[entry.probe][art.path] = art
        for cls in classes:
            self._claimed[cls] = [claimed[cls][p] for p in sorted(claimed[cls])]
            self._unreadable[cls] = [unreadable[cls][p][1:] for p in sorted(unreadable[cls])]


class _Glob:
    """One gitignore-style pattern, compiled on its first use (most never meet a candidate file)."""

    __slots__ = ("text", "_pattern")

    def __init__(self, text: str) -> None:
        self.text = text
        self._pattern: pathspec.Pattern | None = None

    def match(self, path: str) -> bool:
        if self._pattern is None:
            self._pattern = _compile(self.text)
        return self._pattern.match_file(path) is not None


@functools.cache
def _compile(text: str) -> pathspec.Pattern:
    return pathspec.GitIgnoreSpec.from_lines([text]).patterns[0]


def _include(text: str) -> bool | None:
    """What the pattern does: include (True), exclude (False, a negation) or nothing (None, a comment)."""
    if _SURELY_INCLUDE.fullmatch(text) and text.strip("/"):
        return True
    return _compile(text).include


class _Matcher:
    """The glob half of classification: which claims' patterns match a path."""

    def __init__(self, entries: list[_Entry]) -> None:
        self.entries = entries
        self._by_tail: dict[str, list[tuple[_Glob, int]]] = {}
        self._any_name: list[tuple[tuple[str, ...], _Glob, int]] = []
        self._path: list[tuple[str, tuple[str, ...], _Glob, int]] = []
        # Claims with a negation: their include patterns only nominate a path, their spec decides.
        self._negated: dict[int, Claim] = {}
        self._specs: dict[int, pathspec.GitIgnoreSpec] = {}
        self._names: dict[str, frozenset[int]] = {}
        for n, entry in enumerate(entries):
            kinds = [_include(text) for text in entry.claim.globs]
            if False in kinds:
                self._negated[n] = entry.claim
            for text, include in zip(entry.claim.globs, kinds, strict=True):
                if include:  # not a blank line, a comment or a negation
                    self._index(text, n)

    def _index(self, text: str, n: int) -> None:
        glob = _Glob(text)
        if _PLAIN_COMPONENT.fullmatch(text) and "**" not in text:
            tail = _literal_tail(text)
            if len(tail) >= TAIL_KEY:
                self._by_tail.setdefault(tail[-TAIL_KEY:], []).append((glob, n))
            else:
                self._any_name.append((_literals(text), glob, n))
        else:
            lits = _literals(text)
            self._path.append((max(lits, key=len, default=""), lits, glob, n))

    def _name_matches(self, name: str) -> frozenset[int]:
        """Claims whose slash-free patterns match this one path component."""
        found = self._names.get(name)
        if found is None:
            hits = {n for glob, n in self._by_tail.get(name[-TAIL_KEY:], ()) if glob.match(name)}
            hits.update(n for lits, glob, n in self._any_name if all(x in name for x in lits) and glob.match(name))
            found = self._names[name] = frozenset(hits)
        return found

    def _spec_matches(self, n: int, path: str) -> bool:
        if n not in self._negated:
            return True
        if n not in self._specs:
            self._specs[n] = self._negated[n].spec()
        return self._specs[n].match_file(path)

    def match(self, path: str) -> list[_Entry]:
        """The claims whose globs match ``path``, in claim order."""
        path = normalize_file(path)
        hits: set[int] = set()
        for name in path.split("/"):
            hits |= self._name_matches(name)
        for key, lits, glob, n in self._path:
            if key in path and n not in hits and all(x in path for x in lits) and glob.match(path):
                hits.add(n)
        return [self.entries[n] for n in sorted(hits) if self._spec_matches(n, path)]
