"""Findings per check capped, so the report stays proportionate to what it tells.

A file of a million ``password=`` lines gave a million observations of one
check: a report of hundreds of megabytes, held whole in memory, that says
nothing the first few hundred do not. The runner keeps at most
``MAX_PER_CHECK`` observations of each check *with each status and scope*:
a check's verdict depends only on which statuses its production observations
have (any fail, else any error, ...), so keeping some of each leaves every
verdict as it was. What is left out is counted, and the count is reported
as a coverage note naming the check.
"""

from __future__ import annotations

from collections import Counter

from .model import Observation, Subject

MAX_PER_CHECK = 500


class Cap:
    """Admits observations until a (check, status, production) group is full; counts the rest."""

    def __init__(self, limit: int = MAX_PER_CHECK) -> None:
        self.limit = limit
        self.kept: Counter[tuple] = Counter()
        self.left_out: Counter[str] = Counter()

    def admit(self, observation: Observation) -> bool:
        key = (observation.check, observation.status, observation.production)
        if self.kept[key] >= self.limit:
            self.left_out[observation.check] += 1
            return False
        self.kept[key] += 1
        return True

    def notes(self) -> list[tuple[Subject, str]]:
        """One (subject, reason) per check that lost observations, for the coverage section."""
        return [
            (Subject(), f"{check}: {n:,} more observations not listed (at most {self.limit} per check and status)")
            for check, n in sorted(self.left_out.items())
        ]
