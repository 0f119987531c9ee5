"""The data that crosses boundaries: artifacts, checks, observations, verdicts.

Everything here is a frozen dataclass or an enum, so a probe cannot change
what discovery found and a reporter cannot change what a probe observed.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class Status(enum.StrEnum):
    """What a probe observed for one check on one subject."""

    PASS = "pass"
    FAIL = "fail"
    UNKNOWN = "unknown"
    ERROR = "error"
    NOT_APPLICABLE = "not_applicable"
    WAIVED = "waived"  # a failure a waiver accepts (never emitted by a probe; see readiness.waivers)


class VerdictStatus(enum.StrEnum):
    """What the policy concludes for one checklist item."""

    PASS = "pass"
    FAIL = "fail"
    UNKNOWN = "unknown"
    NOT_APPLICABLE = "not_applicable"
    MANUAL = "manual"
    WAIVED = "waived"  # it fails, and every failure behind it is waived: shown and counted, not gated


class Severity(enum.StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"

    @property
    def rank(self) -> int:
        return _SEVERITY_RANK[self]


_SEVERITY_RANK = {Severity.LOW: 1, Severity.MEDIUM: 2, Severity.HIGH: 3, Severity.CRITICAL: 4}


class Strength(enum.StrEnum):
    """How strong a piece of evidence is, weakest first.

    ``attested`` is a person's signed word on a manual item; the rest are
    machine-gathered: a file says so (``declared``), a production service uses
    that file (``deployed``), the real tool accepted it (``validated``), a running
    system showed it (``live``), a test or drill artifact proves it ran
    (``tested``).
    """

    ATTESTED = "attested"
    DECLARED = "declared"
    DEPLOYED = "deployed"
    VALIDATED = "validated"
    LIVE = "live"
    TESTED = "tested"

    @property
    def rank(self) -> int:
        return list(Strength).index(self)


class VcsState(enum.StrEnum):
    TRACKED = "tracked"
    UNTRACKED = "untracked"
    IGNORED = "ignored"
    NO_VCS = "no_vcs"


@dataclass(frozen=True, order=True)
class Subject:
    """What an observation is about: a file (and lines), an endpoint, or the repository."""

    path: str | None = None
    line: int | None = None
    end_line: int | None = None
    endpoint: str | None = None
    name: str | None = None  # e.g. a compose service, a container, a resource address

    def describe(self) -> str:
        if self.endpoint:
            where = self.endpoint
        elif self.path:
            where = self.path
            if self.line:
                where += f":{self.line}"
                if self.end_line and self.end_line != self.line:
                    where += f"-{self.end_line}"
        else:
            where = "(repository)"
        return f"{where} [{self.name}]" if self.name else where

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


REPOSITORY = Subject()


@dataclass(frozen=True)
class Check:
    """A fact a probe can establish, worded so that ``pass`` is the good state.

    ``when_absent`` is the status every production item relying on this check
    gets when the probe found nothing of its kind: a repository without
    Dockerfiles has no root containers (``not_applicable``), but a repository
    without alert rules has not configured alerts (``fail``).
    """

    id: str
    title: str
    rationale: str
    remediation: str
    when_absent: Status = Status.NOT_APPLICABLE


@dataclass(frozen=True)
class Artifact:
    """A file found by discovery. ``skipped`` says why its content is not offered."""

    path: str  # POSIX, relative to the audited root
    size: int
    mode: int
    vcs: VcsState
    production: bool
    sha256: str | None = None
    skipped: str | None = None


@dataclass(frozen=True)
class Observation:
    """One probe's finding for one check on one subject."""

    check: str
    status: Status
    subject: Subject
    message: str
    strength: Strength = Strength.DECLARED
    facts: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    production: bool = True
    probe: str = ""
    waiver: dict[str, Any] | None = field(default=None, compare=False, hash=False)  # what waived a failure

    def sort_key(self) -> tuple:
        s = self.subject
        return (
            self.check,
            s.path or "",
            s.endpoint or "",
            s.line or 0,
            s.name or "",
            self.status.value,
            self.message,
        )


@dataclass(frozen=True)
class ItemVerdict:
    """The conclusion for one checklist item, with the observations behind it."""

    pack: str
    item_id: str
    status: VerdictStatus
    severity: Severity
    reason: str
    observations: tuple[int, ...] = ()  # indexes into the report's observation list
    strength: Strength | None = None
    errored: bool = False  # a probe behind this item failed to run: the gate fails closed
    attestation: dict[str, Any] | None = None
    waiver: dict[str, Any] | None = None  # an item waiver that accepts this failing item
