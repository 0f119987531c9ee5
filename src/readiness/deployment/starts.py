"""How a repository starts its own deployments: the commands in its scripts, Makefiles, pipelines and README.

``docker compose -f a.yml -f b.yml up`` in ``deploy.sh`` says more about which
files make production than any file name: it is the set Compose merges, and
the script's name (or the Make target, the CI job, the README section) says
what it is for. ``COMPOSE_FILE`` in ``.env`` does the same for a bare
``docker compose up``.
"""

from __future__ import annotations

import fnmatch
import posixpath
import re
import shlex
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from ..model import Subject
from .environments import WORDS, Environment, words_environment

# Files that may start a deployment, and how to find the context a command runs in.
SCRIPT_NAMES = re.compile(
    r"(^|/)(Makefile|GNUmakefile|[^/]+\.mk|justfile|Justfile|Taskfile\.ya?ml|[^/]+\.(sh|bash)|"
    r"(bin|scripts?|tools|deploy|ops)/[^/.]+|\.github/workflows/[^/]+\.ya?ml|\.gitlab-ci\.ya?ml|"
    r"[^/]*README[^/]*\.md|INSTALL[^/]*\.md|[^/]*(deploy|install|setup|production)[^/]*\.md|\.env)$",
    re.IGNORECASE,
)
# "docker-compose.yml" names a file, not a call: the command word is not followed by a dot or dash.
COMPOSE_CALL = re.compile(r"\b(?:docker|podman)[ -]compose(?![\w.-])|\bdocker\s+stack\s+deploy\b")
FILE_FLAGS = ("-f", "--file", "-c", "--compose-file")
VERBS = frozenset({"up", "run", "start", "create", "deploy", "pull", "build", "config", "restart", "stack"})
STARTING_VERBS = frozenset({"up", "run", "start", "create", "deploy", "restart", "stack"})
# A command in a deploy or install script says "production" firmly; one under "start" or "quick start" says
# "this is how it runs" and may be a local convenience.
STRONG_WORDS = frozenset(
    {"deploy", "deployment", "deploys", "release", "install", "installation", "installer", "upgrade", "update",
     "production", "prod", "launch", "provision"}
)  # fmt: skip
WEAK_WORDS = frozenset({"quickstart", "quick", "getting", "setup", "start", "run", "up", "usage", "running"})
ASSIGNMENT = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*(?:\?|:|::|\+)?=\s*(.*?)\s*$")
REFERENCE = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)|\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)")
MAKE_TARGET = re.compile(r"^([A-Za-z0-9_./%-]+)\s*:(?!=)")
YAML_JOB = re.compile(r"^(  |\t)?([A-Za-z0-9_.-]+):\s*$")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$")
ENV_COMPOSE_FILE = re.compile(r"^\s*(?:export\s+)?COMPOSE_FILE\s*=\s*['\"]?([^'\"#\s]+)")
VARIABLE = re.compile(r"\$\{[^}]*\}|\$[A-Za-z_][A-Za-z0-9_]*|\$\([^)]*\)")


@dataclass(frozen=True)
class StartCommand:
    """One command that starts (or builds) a compose project, as the repository wrote it."""

    files: tuple[str, ...]  # repo-relative, in -f order; empty: the default project of ``folder``
    folder: str  # where the command runs, for a default project
    verb: str
    context: str  # the Make target, script, CI job or README section it sits in
    environment: Environment
    where: Subject
    strong: bool = False  # a deploy/install context, not a "quick start"

    @property
    def starts(self) -> bool:
        return self.verb in STARTING_VERBS


def context_environment(context: str) -> tuple[Environment, bool]:
    """What the surroundings of a command say it is for, and whether they say it firmly (deploy, install)."""
    named = words_environment(context)
    tokens = {t.lower() for t in re.split(r"[^A-Za-z0-9]+", context) if t}
    if named and named is not Environment.PRODUCTION:
        return named, True
    if named or tokens & STRONG_WORDS:
        return Environment.PRODUCTION, True
    return (Environment.PRODUCTION, False) if tokens & WEAK_WORDS else (Environment.UNNAMED, False)


def _expand(text: str) -> str:
    """Make and shell variables defined in the same file, substituted (``$(COMPOSE) $(FILES) up``)."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        m = ASSIGNMENT.match(line)
        if m and not line.startswith("\t"):
            values[m.group(1)] = m.group(2).strip("'\"")
    if not values:
        return text

    def sub(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(2) or m.group(3)
        return values.get(name, m.group(0))

    lines = []
    for line in text.splitlines():
        if ASSIGNMENT.match(line) and not line.startswith("\t"):
            lines.append("")  # keep the numbering; an assignment starts nothing
            continue
        for _ in range(8):  # nested definitions, bounded
            expanded = REFERENCE.sub(sub, line)
            if expanded == line:
                break
            line = expanded
        lines.append(line)
    return "\n".join(lines)


def _logical_lines(text: str) -> Iterable[tuple[int, str]]:
    """Lines with backslash continuations joined, numbered by their first line."""
    buf, start = "", 0
    for n, raw in enumerate(text.splitlines(), 1):
        if not buf:
            start = n
        if raw.rstrip().endswith("\\"):
            buf += raw.rstrip()[:-1] + " "
            continue
        yield start, buf + raw
        buf = ""
    if buf:
        yield start, buf


def _arguments(segment: str) -> tuple[list[str], str]:
    """The -f files and the verb of one compose call (the text after ``docker compose``)."""
    segment = re.split(r"\s(?:&&|\|\||;|\|)\s|[;&|]", segment, maxsplit=1)[0]
    try:
        words = shlex.split(segment, comments=True)
    except ValueError:
        words = segment.split()
    files: list[str] = []
    verb = ""
    i = 0
    while i < len(words):
        w = words[i]
        if w in FILE_FLAGS and i + 1 < len(words):
            files.append(words[i + 1])
            i += 2
            continue
        for flag in ("--file=", "--compose-file="):
            if w.startswith(flag):
                files.append(w[len(flag) :])
        if not verb and w in VERBS:
            verb = w
        i += 1
    return files, verb


def _resolve(name: str, bases: list[str], exists: Callable[[str], bool], candidates: list[str]) -> list[str]:
    """Repository paths a -f argument may name: tried from each base folder; variables match any text."""
    if name.startswith(("~", "/")) or name == "-":
        return []
    pattern = VARIABLE.sub("*", name)
    for base in bases:
        joined = posixpath.normpath(posixpath.join(base, pattern))
        if joined.startswith(".."):
            continue
        if "*" in pattern:
            hits = sorted(c for c in candidates if fnmatch.fnmatchcase(c, joined))
            if hits:
                return hits
        elif exists(joined):
            return [joined]
    return []


def _context(path: str, lines: list[str], index: int) -> str:
    """The nearest Make target, CI job or Markdown heading above line ``index`` (0-based), else the file name."""
    name = posixpath.basename(path)
    for line in reversed(lines[: index + 1]):
        if name.lower().endswith(".md"):
            m = HEADING.match(line)
            if m:
                return f"{name} section {m.group(1)!r}"
        elif name.endswith((".yml", ".yaml")):
            m = YAML_JOB.match(line)
            if m and m.group(2) not in {"steps", "script", "run", "with", "env", "jobs", "services", "variables"}:
                return f"{name} job {m.group(2)}"
        elif re.match(r"(?i)(GNU)?makefile$|.*\.mk$|justfile$", name):
            m = MAKE_TARGET.match(line)
            if m and not line.startswith("\t"):
                return f"{name} target {m.group(1)}"
    return name


def find_starts(
    texts: Iterable[tuple[str, str]], exists: Callable[[str], bool], compose_files: list[str]
) -> list[StartCommand]:
    """Every compose start the given (path, text) pairs contain."""
    found: list[StartCommand] = []
    for path, text in texts:
        folder = posixpath.dirname(path)
        bases = [folder, ""] if folder else [""]
        lines = text.splitlines()
        if posixpath.basename(path) == ".env":
            for n, line in enumerate(lines, 1):
                m = ENV_COMPOSE_FILE.match(line)
                if m:
                    files = [f for part in re.split(r"[:;]", m.group(1)) if part
                             for f in _resolve(part, bases, exists, compose_files)]  # fmt: skip
                    if files:
                        where = Subject(path=path, line=n)
                        found.append(StartCommand(tuple(files), folder, "up", ".env COMPOSE_FILE",
                                                  Environment.UNNAMED, where))  # fmt: skip
            continue
        for n, line in _logical_lines(_expand(text)):
            for m in COMPOSE_CALL.finditer(line):
                raw_files, verb = _arguments(line[m.end() :])
                if "stack" in m.group(0):
                    verb = "deploy"
                if not verb:
                    continue
                files = [f for raw in raw_files for f in _resolve(raw, bases, exists, compose_files)]
                if raw_files and not files:
                    continue  # names files this checkout does not hold
                context = _context(path, lines, n - 1)
                env, strong = context_environment(context)
                where = Subject(path=path, line=n)
                found.append(StartCommand(tuple(files), folder, verb, context, env, where, strong))
    return found


def is_start_script(path: str) -> bool:
    return bool(SCRIPT_NAMES.search(path))


__all__ = ["WORDS", "StartCommand", "context_environment", "find_starts", "is_start_script"]
