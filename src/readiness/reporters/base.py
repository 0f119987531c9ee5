"""The one interface every report format implements, and the options they share."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from ..report import AuditReport, Gate


@dataclass(frozen=True)
class RenderOptions:
    """What the command line asked of the rendering; formats ignore what does not concern them."""

    color: bool = False  # text only
    quiet: bool = False  # text only: the gate's failures and the gate line
    max_lines: int | None = None  # markdown only: a cap so the report fits a pull-request comment

    def exit_code(self, gate: Gate) -> int:
        return 0 if gate.passed else 1


class Reporter(ABC):
    """A report format: a name for ``--format``, a file extension, and a pure render.

    A reporter only renders; it never decides a verdict or an exit code.
    """

    name: str
    extension: str
    description: str

    @abstractmethod
    def render(self, report: AuditReport, gate: Gate, options: RenderOptions) -> str: ...
