"""Before an audit: the third-party packages imported by name are the distributions readiness was built on.

Two distributions can install the same top-level package. Checkov's fork ``bc-python-hcl2`` installs ``hcl2``
exactly like ``python-hcl2`` does, ``pip check`` sees no conflict, and whichever was installed last wins: every
``.tf`` file then fails to parse, one by one. Reading the installed distributions' metadata (no import) finds it
before the audit starts.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Expected:
    distribution: str  # the distribution readiness depends on for this import name
    marker: str  # a file, relative to the package folder, that only the supported versions ship
    supported: str  # the version range, as pyproject.toml declares it


EXPECTED: dict[str, Expected] = {
    "hcl2": Expected("python-hcl2", "rules/base.py", ">=8.1,<9"),
}

FIX = (
    "Install readiness in its own environment so nothing else replaces its dependencies: "
    "`pipx install readiness` (or `uv tool install readiness`, or a virtualenv of its own)."
)


class ForeignDependency(Exception):
    """An import name readiness needs is provided by another distribution, or by an unsupported version."""


def _top_levels(dist: importlib.metadata.Distribution) -> set[str]:
    listed = dist.read_text("top_level.txt")
    if listed is not None:
        return set(listed.split())
    record = dist.read_text("RECORD") or ""
    return {line.split("/", 1)[0] for line in record.splitlines() if "/" in line.split(",", 1)[0]}


def owners() -> dict[str, list[str]]:
    """For each import name in :data:`EXPECTED`, the installed distributions that ship a package of that name."""
    found: dict[str, list[str]] = {name: [] for name in EXPECTED}
    for dist in importlib.metadata.distributions():
        tops = _top_levels(dist)
        for name in EXPECTED:
            if name in tops:
                found[name].append(dist.metadata["Name"] or "?")
    return found


def problems() -> list[str]:
    """One sentence per import name that is missing, shared with another distribution, or the wrong version."""
    out: list[str] = []
    for name, dists in owners().items():
        want = EXPECTED[name]
        foreign = sorted({d for d in dists if d.lower() != want.distribution})
        if foreign:
            out.append(
                f"the `{name}` package is also installed by {', '.join(foreign)}"
                + (" (Checkov's fork of python-hcl2)" if "bc-python-hcl2" in foreign else "")
                + f"; readiness needs {want.distribution} {want.supported}, and both write the same `{name}` "
                "folder, so whichever was installed last breaks the other"
            )
            continue
        spec = importlib.util.find_spec(name)
        where = [Path(p) for p in (spec.submodule_search_locations or [])] if spec else []
        if not where:
            out.append(f"the `{name}` package is missing; readiness needs {want.distribution} {want.supported}")
        elif not any((p / want.marker).is_file() for p in where):
            version = _version(want.distribution)
            out.append(
                f"the `{name}` package at {where[0]} is not {want.distribution} {want.supported}"
                + (f" (metadata says {version})" if version else "")
            )
    return out


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def check() -> None:
    """Raise :class:`ForeignDependency` with every problem and the fix; silent when the environment is sound."""
    found = problems()
    if found:
        raise ForeignDependency("; ".join(found) + ". " + FIX)
