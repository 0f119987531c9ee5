"""``--format FORMAT[=FILE]`` (repeatable) and ``--output``: which reports one run writes, and where.

A format without ``=FILE`` goes to standard output (or to ``--output``); at most one can. Colour
is for text on a terminal unless ``--color`` says otherwise; ``NO_COLOR`` turns the automatic
choice off.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..report import AuditReport, Gate
from . import REPORTERS
from .base import RenderOptions, Reporter

COLOR_MODES = ("auto", "always", "never")


class FormatError(Exception):
    """A problem with the requested formats or their files (a usage error, exit 2)."""


@dataclass(frozen=True)
class Output:
    reporter: Reporter
    path: Path | None  # None: standard output


def formats_help() -> str:
    return "Formats: " + ", ".join(REPORTERS)


def parse(values: Sequence[str], output: Path | None = None) -> list[Output]:
    outs = []
    for raw in values or ("text",):
        name, has_file, file = raw.partition("=")
        reporter = REPORTERS.get(name.strip().lower())
        if reporter is None:
            raise FormatError(f"--format {raw}: unknown format {name!r} (formats: {', '.join(REPORTERS)})")
        if has_file and not file.strip():
            raise FormatError(f"--format {raw}: no file after '=' (e.g. {name}=report.{reporter.extension})")
        outs.append(Output(reporter, Path(file.strip()) if has_file else None))
    to_stdout = [o for o in outs if o.path is None]
    if len(to_stdout) > 1:
        names = ", ".join(o.reporter.name for o in to_stdout)
        raise FormatError(
            f"--format {names}: only one format can go to standard output; give the others a file "
            f"(--format {to_stdout[1].reporter.name}=report.{to_stdout[1].reporter.extension})"
        )
    if output is not None:
        if not to_stdout:
            raise FormatError("--output: every --format already names its file")
        outs = [Output(o.reporter, output) if o.path is None else o for o in outs]
    paths = [o.path.resolve() for o in outs if o.path]
    twice = sorted({str(p) for p in paths if paths.count(p) > 1})
    if twice:
        raise FormatError(f"two formats would write the same file: {twice[0]}")
    return outs


def wants_color(mode: str, out: Output, stdout_is_tty: bool, env: Mapping[str, str] = os.environ) -> bool:
    if mode == "always":
        return True
    if mode == "never":
        return False
    return out.path is None and stdout_is_tty and not env.get("NO_COLOR")


def write(
    outs: Sequence[Output],
    report: AuditReport,
    gate: Gate,
    *,
    color: str = "auto",
    quiet: bool = False,
    max_lines: int | None = None,
    stdout_is_tty: bool = False,
) -> tuple[str | None, list[Path]]:
    """Write every report to its file; return what goes to standard output and the files written."""
    to_stdout, written = None, []
    for out in outs:
        options = RenderOptions(wants_color(color, out, stdout_is_tty), quiet, max_lines)
        stream = getattr(out.reporter, "write_to", None)  # a large report straight to its file, not held whole
        if out.path is None or stream is None:
            rendered = out.reporter.render(report, gate, options)
        if out.path is None:
            to_stdout = rendered
            continue
        try:
            if stream is None:
                out.path.write_text(rendered, encoding="utf-8")
            else:
                with out.path.open("w", encoding="utf-8") as fh:
                    stream(fh, report, gate, options)
        except OSError as exc:
            raise FormatError(f"{out.path}: cannot write the report: {exc.strerror or exc}") from exc
        written.append(out.path)
    return to_stdout, written
