"""An ``Answer`` as text (aligned columns), JSON (its data) or Markdown (tables)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .queries import Answer


def render(answer: Answer, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(answer.data, indent=2, sort_keys=True) + "\n"
    if fmt == "markdown":
        return _markdown(answer)
    return _text(answer)


def _cell(value: object) -> str:
    return "" if value is None else str(value)


def _text(answer: Answer) -> str:
    lines = [answer.title, ""]
    for table in answer.tables:
        lines.append(f"{table.heading}:")
        if not table.rows:
            lines += ["  (none)", ""]
            continue
        cells = [[_cell(c) for c in row] for row in [table.columns, *table.rows]]
        widths = [max(len(row[i]) for row in cells) for i in range(len(table.columns))]
        for row in cells:
            lines.append("  " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
        lines.append("")
    lines += answer.notes
    return "\n".join(lines).rstrip() + "\n"


def _md_cell(value: object) -> str:
    return _cell(value).replace("|", "\\|").replace("\n", " ")


def _markdown(answer: Answer) -> str:
    lines = [f"# {answer.title}", ""]
    for table in answer.tables:
        lines += [f"## {table.heading}", ""]
        if not table.rows:
            lines += ["(none)", ""]
            continue
        lines.append("| " + " | ".join(table.columns) + " |")
        lines.append("|" + "---|" * len(table.columns))
        lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in table.rows]
        lines.append("")
    lines += [f"{note}  " for note in answer.notes]
    return "\n".join(lines).rstrip() + "\n"
