"""One walk of the audited tree: which files exist, which git tracks, which are production.

In a git checkout, git itself says what is tracked, untracked or ignored (it
knows every .gitignore, info/exclude and the global excludes); elsewhere the
.gitignore files are read with pathspec. Ignored files are listed too, marked
as such, because the files people keep out of git (``.env``, keys) are exactly
the ones some probes must see. Nothing is followed out of the root, nothing
over the size cap is read, and every file passed over says why.
"""

from __future__ import annotations

import os
import stat
import subprocess
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pathspec

from . import subprocesses
from .config import Config
from .model import Artifact, VcsState

# Ignored directories that hold dependencies, caches or build output: they are
# never descended (their size is unbounded and they hold no deployment facts).
HEAVY_DIRS = frozenset(
    {
        ".git",
        "node_modules",
        ".venv",
        "venv",
        "__pycache__",
        ".tox",
        ".nox",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        "site-packages",
        ".terraform",
        ".gradle",
        ".idea",
        ".cache",
    }
)
MAX_IGNORED_FILES = 5000


@dataclass(frozen=True)
class GitInfo:
    toplevel: str
    commit: str | None
    dirty: bool


@dataclass
class Discovery:
    root: Path
    artifacts: list[Artifact]
    git: GitInfo | None
    notes: list[str] = field(default_factory=list)  # coverage the walk itself gave up
    excluded: int = 0


def _git(root: Path, *args: str) -> bytes | None:
    try:
        done = subprocesses.run(
            ["git", "-C", str(root), *args],
            capture_output=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def _git_info(root: Path) -> GitInfo | None:
    top = _git(root, "rev-parse", "--show-toplevel")
    if top is None:
        return None
    head = _git(root, "rev-parse", "--verify", "-q", "HEAD")
    status = _git(root, "status", "--porcelain", "--untracked-files=normal", "--", ".")
    return GitInfo(
        toplevel=top.decode().strip(),
        commit=head.decode().strip() if head else None,
        dirty=bool(status and status.strip()),
    )


def _split_z(out: bytes | None) -> list[str]:
    if not out:
        return []
    return [p for p in out.decode("utf-8", "surrogateescape").split("\0") if p]


def _walk_ignored_dirs(root: Path, dirs: Iterable[str], budget: int) -> tuple[list[str], list[str]]:
    """List files under ignored directories, skipping heavy ones, up to a budget."""
    files: list[str] = []
    notes: list[str] = []
    for rel in dirs:
        rel = rel.rstrip("/")
        if Path(rel).name in HEAVY_DIRS:
            continue
        for dirpath, dirnames, filenames in os.walk(root / rel):
            dirnames[:] = sorted(d for d in dirnames if d not in HEAVY_DIRS)
            for name in sorted(filenames):
                if len(files) >= budget:
                    notes.append(
                        f"stopped listing git-ignored files after {budget}; the rest of {rel}/ was not examined"
                    )
                    return files, notes
                files.append(Path(dirpath, name).relative_to(root).as_posix())
    return files, notes


def _git_listing(root: Path) -> tuple[dict[str, VcsState], list[str]] | None:
    tracked = _git(root, "ls-files", "-z", "--cached")
    if tracked is None:
        return None
    states: dict[str, VcsState] = {p: VcsState.TRACKED for p in _split_z(tracked)}
    for p in _split_z(_git(root, "ls-files", "-z", "--others", "--exclude-standard")):
        states.setdefault(p, VcsState.UNTRACKED)
    ignored = _split_z(_git(root, "ls-files", "-z", "--others", "--ignored", "--exclude-standard", "--directory"))
    ignored_files = [p for p in ignored if not p.endswith("/")]
    ignored_dirs = [p for p in ignored if p.endswith("/")]
    walked, notes = _walk_ignored_dirs(root, ignored_dirs, MAX_IGNORED_FILES)
    for p in ignored_files + walked:
        if not any(part in HEAVY_DIRS for part in Path(p).parts):
            states.setdefault(p, VcsState.IGNORED)
    return states, notes


def _gitignore_spec(root: Path) -> pathspec.GitIgnoreSpec:
    """All .gitignore files below root as one spec, patterns re-anchored at root."""
    lines: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d != ".git")
        if ".gitignore" not in filenames:
            continue
        base = Path(dirpath).relative_to(root).as_posix()
        prefix = "" if base == "." else base + "/"
        try:
            text = Path(dirpath, ".gitignore").read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        for raw in text.splitlines():
            line = raw.rstrip()
            if not line or line.startswith("#"):
                continue
            neg = line.startswith("!")
            pat = line[1:] if neg else line
            if prefix:
                anchored = "/" in pat.rstrip("/")
                pat = prefix + pat.lstrip("/") if anchored else prefix + "**/" + pat
            lines.append(("!" if neg else "") + pat)
    return pathspec.GitIgnoreSpec.from_lines(lines)


def _plain_listing(root: Path) -> tuple[dict[str, VcsState], list[str]]:
    ignore = _gitignore_spec(root)
    states: dict[str, VcsState] = {}
    ignored_count = 0
    notes: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = Path(dirpath).relative_to(root).as_posix()
        rel_dir = "" if rel_dir == "." else rel_dir + "/"
        dirnames[:] = sorted(d for d in dirnames if d not in HEAVY_DIRS)
        # os.walk lists a symlink to a directory among the directories and does
        # not follow it; like git, list it as an entry so it is accounted for.
        links = [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]
        for name in sorted(filenames + links):
            rel = rel_dir + name
            if ignore.match_file(rel):
                if ignored_count >= MAX_IGNORED_FILES:
                    continue
                ignored_count += 1
                states[rel] = VcsState.IGNORED
            else:
                states[rel] = VcsState.NO_VCS
    if ignored_count >= MAX_IGNORED_FILES:
        notes.append(f"stopped listing .gitignore'd files after {MAX_IGNORED_FILES}")
    return states, notes


def _examine(root: Path, rel: str, max_size: int) -> tuple[int, int, str | None]:
    """Size, mode and a skip reason (None when the content may be read)."""
    path = root / rel
    try:
        st = path.lstat()
    except OSError as exc:
        return 0, 0, f"cannot stat: {exc.strerror}"
    if stat.S_ISLNK(st.st_mode):
        try:
            target = path.resolve(strict=True)
        except (OSError, RuntimeError):
            return 0, st.st_mode, "broken symlink"
        if not target.is_relative_to(root):
            return 0, st.st_mode, "symlink leaves the audited root; not followed"
        try:
            st = target.stat()
        except OSError as exc:
            return 0, 0, f"cannot stat symlink target: {exc.strerror}"
        if stat.S_ISDIR(st.st_mode):
            return 0, st.st_mode, "symlink to a directory; its files are audited at their own path"
    if not stat.S_ISREG(st.st_mode):
        return 0, st.st_mode, "not a regular file"
    if st.st_size > max_size:
        return st.st_size, st.st_mode, f"too large ({st.st_size} bytes > cap {max_size})"
    if not os.access(path, os.R_OK):
        return st.st_size, st.st_mode, "unreadable: permission denied"
    return st.st_size, st.st_mode, None


def is_production(rel: str, production: pathspec.PathSpec | None, other: pathspec.PathSpec) -> bool:
    if other.match_file(rel):
        return False
    return production is None or production.match_file(rel)


def discover(root: Path, config: Config) -> Discovery:
    """Walk ``root`` once and return every file with its git state and scope."""
    root = root.resolve()
    git = _git_info(root)
    listing = _git_listing(root) if git else None
    states, notes = listing if listing else _plain_listing(root)

    exclude = pathspec.GitIgnoreSpec.from_lines(config.exclude)
    production = pathspec.GitIgnoreSpec.from_lines(config.production) if config.production else None
    other = pathspec.GitIgnoreSpec.from_lines(config.non_production)

    artifacts: list[Artifact] = []
    excluded = 0
    for rel in sorted(states):
        if exclude.match_file(rel):
            excluded += 1
            continue
        vcs = states[rel]
        path = root / rel
        if vcs is VcsState.TRACKED and not path.is_symlink() and not path.exists():
            continue  # deleted in the work tree: nothing to audit
        if path.is_dir() and not path.is_symlink():
            continue  # a submodule; its own checkout is audited separately
        size, mode, skipped = _examine(root, rel, config.max_file_size)
        artifacts.append(
            Artifact(
                path=rel,
                size=size,
                mode=stat.S_IMODE(mode),
                vcs=vcs,
                production=is_production(rel, production, other),
                skipped=skipped,
            )
        )
    return Discovery(root=root, artifacts=artifacts, git=git, notes=notes, excluded=excluded)


def iter_readable(artifacts: Iterable[Artifact]) -> Iterator[Artifact]:
    return (a for a in artifacts if a.skipped is None)
