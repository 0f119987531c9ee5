"""The probe interface, and how probes are found.

A probe declares, as data, what it is (name, version, static or live), which
files it wants (``claims``), which checks it offers, and the shape of its
settings. It yields observations and never formats output. Probes are found
through the ``readiness.probes`` entry-point group, which the built-in probes
use too, so a third-party package adds probes without touching this code.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import re
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import pathspec

from . import budget
from .discovery import GitInfo
from .inventory import Inventory

if TYPE_CHECKING:
    from .deployment import DeploymentMap
from .model import Artifact, Check, Observation, Status, Strength, Subject

ENTRY_POINT_GROUP = "readiness.probes"
SNIFF_BYTES = 8192


@dataclass(frozen=True)
class CliOption:
    """A command-line shortcut into a probe's config, e.g. ``--endpoint`` for ``live.tls``.

    ``path`` is where the value lands in the config (``("live", "tls")``):
    with ``multiple`` each value is appended to a list there, with ``is_flag``
    the value is ``True``, otherwise the value is set. The probe's schemas then
    validate the result like any config.
    """

    flag: str
    help: str
    path: tuple[str, ...]
    multiple: bool = False
    is_flag: bool = False
    metavar: str = "VALUE"


@dataclass(frozen=True)
class Gap:
    """Coverage the audit lost: a probe could not examine ``subject``."""

    probe: str
    subject: Subject
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"probe": self.probe, "subject": self.subject.to_json(), "reason": self.reason}


class ArtifactUnreadable(Exception):
    """The content of an artifact cannot be used; the message says why, ``line`` where (when known)."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


@dataclass(frozen=True)
class Claim:
    """Which files a probe wants: gitignore-style globs, optionally narrowed by content.

    ``sniff`` is matched against the first 8 KiB; it lets a probe take
    ``*.yaml`` files that really are Kubernetes manifests. ``include_ignored``
    also offers files git ignores (the secret-files probe needs those).
    """

    globs: tuple[str, ...]
    sniff: re.Pattern[bytes] | None = None
    include_ignored: bool = False
    # The checks these files feed (empty: all of the probe's). A claimed file
    # that cannot be read makes only these checks `error`.
    checks: tuple[str, ...] = ()

    def spec(self) -> pathspec.GitIgnoreSpec:
        return pathspec.GitIgnoreSpec.from_lines(self.globs)


WAIVER_MARK = b"readiness:ignore="


class Files:
    """Reads artifacts for probes and records the sha256 of what was read.

    The most recently read files are kept in memory, up to ``keep_bytes``: several probes read
    the same files, but keeping every file of a 50,000-file tree held its whole size in memory.
    A file read again must have the bytes it had the first time (the evidence records one digest).
    """

    KEEP_BYTES = 32 * 1024 * 1024

    def __init__(self, root: Path, keep_bytes: int = KEEP_BYTES) -> None:
        self.root = root
        self.keep_bytes = keep_bytes
        self._bytes: OrderedDict[str, bytes] = OrderedDict()
        self._kept = 0
        self.digests: dict[str, str] = {}
        self.marked: set[str] = set()  # files holding an inline waiver (readiness.waivers), noted as read

    def read_bytes(self, artifact: Artifact) -> bytes:
        if artifact.skipped:
            raise ArtifactUnreadable(artifact.skipped)
        data = self._bytes.get(artifact.path)
        if data is not None:
            self._bytes.move_to_end(artifact.path)
            return data
        try:
            data = (self.root / artifact.path).read_bytes()
        except OSError as exc:
            raise ArtifactUnreadable(f"cannot read: {exc.strerror or exc}") from exc
        digest = hashlib.sha256(data).hexdigest()
        if self.digests.setdefault(artifact.path, digest) != digest:
            raise ArtifactUnreadable("changed while the audit was reading it (its digest differs from the first read)")
        if WAIVER_MARK in data:
            self.marked.add(artifact.path)
        self._bytes[artifact.path] = data
        self._kept += len(data)
        while self._kept > self.keep_bytes and len(self._bytes) > 1:
            self._kept -= len(self._bytes.popitem(last=False)[1])
        return data

    def read_text(self, artifact: Artifact) -> str:
        data = self.read_bytes(artifact)
        if b"\0" in data[:SNIFF_BYTES]:
            raise ArtifactUnreadable("binary file (NUL bytes), not text")
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ArtifactUnreadable(f"not UTF-8 text (byte {exc.start})") from exc

    def head(self, artifact: Artifact) -> bytes:
        """The first bytes, for sniffing; not recorded as read."""
        try:
            with open(self.root / artifact.path, "rb") as fh:
                return fh.read(SNIFF_BYTES)
        except OSError:
            return b""


@dataclass
class ProbeContext:
    """Everything a probe may use. Built by the runner, one per probe."""

    probe: Probe
    root: Path
    artifacts: list[Artifact]  # the readable files this probe claimed
    all_artifacts: list[Artifact]
    files: Files
    inventory: Inventory
    git: GitInfo | None
    settings: dict[str, Any] = field(default_factory=dict)
    targets: Any = None  # live probes: their block of `live:` in the config
    deployments: DeploymentMap | None = None  # what the repository ships, and which of it is production
    # The audit's clock: every probe judges ages and expiries against the same instant.
    now: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    emitted: list[Observation] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)
    file_seconds: float | None = None  # the per-file time budget of ``guard`` (readiness.budget)

    def __post_init__(self) -> None:
        self._compose_errors_told = False
        self._by_path = {a.path: a for a in self.all_artifacts}
        self._check_ids = self.probe.check_ids()

    def artifact(self, path: str) -> Artifact | None:
        """Any discovered file by its repo-relative path (claimed or not, readable or not)."""
        return self._by_path.get(path)

    def read_text(self, artifact: Artifact) -> str:
        return self.files.read_text(artifact)

    def read_bytes(self, artifact: Artifact) -> bytes:
        return self.files.read_bytes(artifact)

    def read_yaml(self, artifact: Artifact) -> list[Any]:
        """The YAML documents of an artifact, lines kept (see ``yaml_lines``); a file that does not parse
        raises ``ArtifactUnreadable`` naming the line, which ``guard`` turns into ``error`` observations."""
        import yaml

        from . import yaml_lines

        try:
            return yaml_lines.load_all(self.read_text(artifact))
        except yaml.YAMLError as exc:
            line = yaml_lines.error_line(exc)
            where = f" at line {line}" if line else ""
            reason = f"YAML does not parse{where}: {str(exc).splitlines()[0][:160]}"
            raise ArtifactUnreadable(reason, line) from exc

    def observe(
        self,
        check: str,
        status: Status,
        subject: Subject,
        message: str,
        *,
        strength: Strength = Strength.DECLARED,
        facts: dict[str, Any] | None = None,
        production: bool | None = None,
    ) -> Observation:
        """Build an observation of one of this probe's checks.

        ``production`` defaults to the scope of the subject's file (live
        subjects are production).
        """
        if check not in self._check_ids:
            raise ValueError(f"probe {self.probe.name} does not declare check {check}")
        if production is None:
            art = self.artifact(subject.path) if subject.path else None
            production = art.production if art else True
        return Observation(
            check=check,
            status=status,
            subject=subject,
            message=message,
            strength=strength,
            facts=facts or {},
            production=production,
            probe=self.probe.name,
        )

    @contextlib.contextmanager
    def guard(self, artifact: Artifact) -> Iterator[None]:
        """Turn a failure on one artifact into ``error`` observations; the probe goes on.

        The errors land in ``emitted``, which the runner collects beside what
        the probe yields.
        """
        try:
            with budget.deadline(self.file_seconds, "file", artifact.path):
                yield
        except budget.BudgetExceeded as exc:
            if exc.scope != "file":
                raise
            reason = f"not finished within the per-file time budget of {exc.seconds:g} s"
            self.emitted.extend(self.errors(Subject(path=artifact.path), reason, artifact.production))
        except ArtifactUnreadable as exc:
            self.emitted.extend(self.errors(Subject(path=artifact.path), str(exc), artifact.production))
        except Exception as exc:  # a probe bug must not stop the audit
            reason = f"probe failed on this file: {type(exc).__name__}: {str(exc)[:200]}"
            self.emitted.extend(self.errors(Subject(path=artifact.path), reason, artifact.production))

    def compose_services(self, checks: tuple[str, ...] = ()) -> list:
        """Every compose service as its deployment merges it, as (deployment, service view) pairs.

        A compose file that does not parse gives ``error`` observations of ``checks`` (default: all of this
        probe's) on that file, once: its services cannot be judged, so nothing they feed may pass.
        """
        if self.deployments is None:
            return []
        if self._compose_errors_told:
            return self.deployments.compose_services()
        self._compose_errors_told = True
        for path, where in sorted(self.deployments.compose_errors.items()):
            art = self.artifact(path)
            subject = Subject(path=path, line=where.line)
            self.emitted.extend(
                self.errors(subject, where.name or "does not parse", art.production if art else True, checks)
            )
        return self.deployments.compose_services()

    def gap(self, subject: Subject, reason: str) -> None:
        """Record something this probe could not examine (kept in the evidence's coverage)."""
        self.gaps.append(Gap(self.probe.name, subject, reason))

    def errors(
        self, subject: Subject, reason: str, production: bool = True, checks: tuple[str, ...] = ()
    ) -> list[Observation]:
        """``error`` observations of the given checks (default: all of this probe's), and a coverage gap."""
        self.gap(subject, reason)
        return [
            Observation(
                check=c.id,
                status=Status.ERROR,
                subject=subject,
                message=reason,
                production=production,
                probe=self.probe.name,
            )
            for c in self.probe.checks
            if not checks or c.id in checks
        ]


class Probe:
    """Base class of every probe. Subclasses set the class attributes and ``run``."""

    name: ClassVar[str]
    version: ClassVar[str]
    # Check ids start with "<check_prefix>." (default: the probe's name): `k8s.non_root` for kubernetes.
    check_prefix: ClassVar[str | None] = None
    kind: ClassVar[Literal["static", "live"]] = "static"
    # Inventory probes run before all others, so that the rest can ask what
    # production deploys.
    stage: ClassVar[Literal["inventory", "check"]] = "check"
    claims: ClassVar[tuple[Claim, ...]] = ()
    checks: ClassVar[tuple[Check, ...]] = ()
    # Checks that claim something exists ("CI runs the tests", "a backup job"): one passing observation in
    # production proves them, and unrelated unreadable files do not block them. The rest are universal.
    existential_checks: ClassVar[frozenset[str]] = frozenset()
    description: ClassVar[str] = ""
    # JSON Schema of this probe's block under `probes:` (and, for live probes,
    # under `live:`) in .readiness.yaml.
    settings_schema: ClassVar[dict[str, Any] | None] = None
    targets_schema: ClassVar[dict[str, Any] | None] = None
    # A live probe is run only when `live.<name>` names targets, unless it also
    # reads static artifacts (e.g. certificate-renewal configs) and says so here.
    runs_without_targets: ClassVar[bool] = False
    # False when the probe calls code that does not survive fork (a Go extension whose runtime another probe
    # started): the runner then runs it in the audit's own process, never in a forked worker.
    fork_safe: ClassVar[bool] = True
    # Options `readiness audit` offers for this probe (e.g. --endpoint).
    cli_options: ClassVar[tuple[CliOption, ...]] = ()

    @classmethod
    def check_ids(cls) -> frozenset[str]:
        return frozenset(c.id for c in cls.checks)

    def claimed(self, artifacts: Iterable[Artifact], files: Files) -> list[Artifact]:
        """The artifacts this probe claims, in path order.

        A file that cannot be read is claimed when a glob alone claims it; when
        a claim also needs its content (``sniff``), an unreadable file is left
        out here and reported by ``unreadable_claims`` as a coverage gap. The
        runner classifies the files for all probes at once (``classify``).
        """
        from .classify import Classification

        return Classification([self], artifacts, files).claimed(self)

    def unreadable_claims(self, artifacts: Iterable[Artifact]) -> list[tuple[Artifact, Claim]]:
        """Skipped files this probe's globs match, with the claim that matched."""
        from .classify import Classification

        skipped = [a for a in artifacts if a.skipped]
        return Classification([self], skipped, None).unreadable_claims(self)

    def run(self, ctx: ProbeContext) -> Iterable[Observation]:
        raise NotImplementedError


class ProbeLoadError(Exception):
    pass


def load_probes() -> list[type[Probe]]:
    """Every installed probe, in run order: inventory first, then static, then live."""
    found: dict[str, type[Probe]] = {}
    owner: dict[str, str] = {}
    from importlib.metadata import entry_points  # here: importlib.metadata is slow to import

    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            cls = ep.load()
        except Exception as exc:
            raise ProbeLoadError(f"probe entry point {ep.name!r} failed to load: {exc}") from exc
        if not (isinstance(cls, type) and issubclass(cls, Probe)):
            raise ProbeLoadError(f"entry point {ep.name!r} is not a readiness Probe")
        if cls.name in found and found[cls.name] is not cls:
            raise ProbeLoadError(f"two probes are named {cls.name!r}")
        for check in cls.checks:
            if owner.setdefault(check.id, cls.name) != cls.name:
                raise ProbeLoadError(f"check {check.id} is offered by both {owner[check.id]} and {cls.name}")
        found[cls.name] = cls
    order = {"inventory": 0, "check": 1}
    return sorted(found.values(), key=lambda c: (order[c.stage], c.kind != "static", c.name))
