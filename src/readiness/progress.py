"""Progress of an audit on stderr, only on a terminal: one line rewritten in place, with the probe count.

Off a terminal (CI logs, pipes, files) nothing is written, so logs hold the report and errors only. ``NO_COLOR``
(https://no-color.org) turns the dim styling off; ``TERM=dumb`` terminals, which cannot erase a line, get none.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TextIO

DIM, RESET, ERASE_LINE = "\033[2m", "\033[0m", "\r\033[K"


def color_allowed(stream: TextIO, env: Mapping[str, str] | None = None) -> bool:
    """Colour for ``stream``: a terminal, and NO_COLOR unset or empty."""
    env = os.environ if env is None else env
    return stream.isatty() and not env.get("NO_COLOR") and env.get("TERM") != "dumb"


class TerminalProgress:
    """Called with the runner's progress messages; counts ``probe NAME`` messages against ``total``."""

    def __init__(self, stream: TextIO, total: int, color: bool) -> None:
        self.stream = stream
        self.total = total
        self.color = color
        self.done = 0

    def __call__(self, message: str) -> None:
        if message.startswith("probe "):
            self.done += 1
            message = f"[{self.done}/{self.total}] {message}"
        text = f"{DIM}{message}{RESET}" if self.color else message
        self.stream.write(f"{ERASE_LINE}{text}")
        self.stream.flush()

    def close(self) -> None:
        self.stream.write(ERASE_LINE)
        self.stream.flush()


def for_stream(stream: TextIO, total: int, env: Mapping[str, str] | None = None) -> TerminalProgress | None:
    """A progress line for ``stream`` when it is a terminal that can erase a line, else None (silence)."""
    env = os.environ if env is None else env
    if not stream.isatty() or env.get("TERM") == "dumb":
        return None
    return TerminalProgress(stream, total, color_allowed(stream, env))
