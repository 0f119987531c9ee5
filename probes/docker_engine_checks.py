"""The live Docker engine checks, and how each judges one container from its ``docker inspect`` facts."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from readiness.probes.compose import DANGEROUS_CAPS as COMPOSE_DANGEROUS_CAPS

from readiness.model import Check, Status

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
)  # without an engine, whether rebuilds are automated (ci.base_images_updated) decides; ages corroborate
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
