"""What a pipeline step really runs: the repository's own scripts, Make targets and local actions, followed.

Pipelines often say ``./unit-test.sh``, ``make test`` or ``uses: ./.github/actions/setup`` and keep the real
commands in the repository. A step's text is extended with what those name (two levels deep, bounded in
size), so ``pytest`` inside ``scripts/test.sh`` counts as CI running the tests, with the step's own line.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable

import yaml

MAX_DEPTH = 2
MAX_BYTES = 128 * 1024
SCRIPT = re.compile(r"(?:^|[\s;&|(`'\"])(?:bash\s+|sh\s+|source\s+|\.\s+|python3?\s+)?((?:\./|[\w.-]+/)[\w./-]*[\w-]"
                    r"(?:\.(?:sh|bash|py|ps1))?|[\w-]+\.(?:sh|bash))(?=$|[\s;&|)`'\"])", re.M)  # fmt: skip
MAKE = re.compile(r"(?:^|[\s;&|])make\s+((?:-\S+\s+)*)([\w.-]+(?:\s+[\w.-]+)*)", re.M)
LOCAL_ACTION = re.compile(r"(?:^|\s)(\./[\w./-]*)(?=\s|$)")


def make_targets(text: str) -> dict[str, str]:
    """Recipe text of each Make target (its own lines, and the targets it depends on by name)."""
    targets: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text.splitlines():
        m = re.match(r"^([\w./%-]+(?:\s+[\w./%-]+)*)\s*:(?!=)(.*)$", line)
        if m and not line.startswith("\t"):
            current = []
            for name in m.group(1).split():
                targets[name] = current
            current.append(m.group(2))  # prerequisites: often other targets
        elif current is not None and line.startswith("\t"):
            current.append(line[1:])
    return {k: "\n".join(v) for k, v in targets.items()}


class Follower:
    """Expands step text with what it calls; ``read`` returns a repository file's text or None."""

    def __init__(self, read: Callable[[str], str | None]) -> None:
        self.read = read
        self._makefile: dict[str, str] | None = None

    def expand(self, text: str, depth: int = 0, folder: str = "") -> str:
        if depth >= MAX_DEPTH:
            return ""
        extra: list[str] = []
        for m in LOCAL_ACTION.finditer(text):
            extra.append(self._action(m.group(1), depth))
        for m in SCRIPT.finditer(text):
            path = posixpath.normpath(m.group(1))
            if path.startswith(".."):
                continue
            body = self.read(path)
            if body is None and folder:  # "${SCRIPTDIR}"/build.sh: the script beside the one calling it
                body = self.read(posixpath.join(folder, posixpath.basename(path)))
            if body is not None and len(body) <= MAX_BYTES:
                extra.append(body + "\n" + self.expand(body, depth + 1, posixpath.dirname(path)))
        for m in MAKE.finditer(text):
            recipes = self._make()
            for target in m.group(2).split():
                body = recipes.get(target)
                if body:
                    extra.append(body + "\n" + self.expand(body + "\n" + self._prerequisites(body), depth + 1))
        return "\n".join(e for e in extra if e)

    def _prerequisites(self, body: str) -> str:
        first = body.splitlines()[0] if body else ""
        recipes = self._make()
        return "\n".join(recipes.get(t, "") for t in first.split())

    def _make(self) -> dict[str, str]:
        if self._makefile is None:
            text = self.read("Makefile") or self.read("makefile") or ""
            self._makefile = make_targets(text)
        return self._makefile

    def _action(self, ref: str, depth: int) -> str:
        folder = posixpath.normpath(ref)
        for name in ("action.yml", "action.yaml"):
            text = self.read(posixpath.normpath(posixpath.join(folder, name)))
            if text is None:
                continue
            try:
                doc = yaml.safe_load(text)
            except yaml.YAMLError:
                return ""
            steps = ((doc or {}).get("runs") or {}).get("steps") if isinstance(doc, dict) else None
            parts = [
                "\n".join(str(s.get(k)) for k in ("name", "uses", "run", "with") if s.get(k) is not None)
                for s in steps or ()
                if isinstance(s, dict)
            ]
            joined = "\n".join(parts)
            return joined + "\n" + self.expand(joined, depth + 1)
        return ""
