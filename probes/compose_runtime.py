"""Compose judges of how a service's container runs: user, privileges, resources, health, restarts, shutdown."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from readiness.probes import dockerfile as df
from readiness.probes import image_defaults

from readiness.model import Check, Status, Strength, Subject

from .compose_checks import (
    CAP_DROP_ALL,
    DANGEROUS_CAPS,
    DOCKER_SOCKETS,
    GOOD_RESTARTS,
    GRACEFUL_SHUTDOWN,
    HEALTHCHECK,
    NO_DOCKER_SOCKET,
    NO_HOST_NAMESPACES,
    NO_NEW_PRIVILEGES,
    NON_ROOT,
    NOT_PRIVILEGED,
    READ_ONLY,
    RESOURCE_LIMITS,
    RESOURCE_RESERVATIONS,
    RESTART_POLICY,
)

# ---------------------------------------------------------------- judging services


@dataclass
class Finding:
    """One verdict on one service; ``where`` is a Subject, or key paths for the Locator."""

    check: Check
    status: Status
    message: str
    where: Subject | tuple[str, ...] = ()
    match: Callable[[Any], bool] | None = None
    facts: dict[str, Any] = field(default_factory=dict)
    strength: Strength = Strength.VALIDATED


@dataclass
class Built:
    """The Dockerfile stage a service is built from, or why it is not known."""

    analysis: df.Analysis | None
    stage: df.Stage | None
    path: str | None  # repo path of the Dockerfile (None: inline)
    reason: str = ""


def _set(value: Any) -> bool:
    return value not in (None, "", 0, "0", [], {})


def _user_is_root(user: str) -> bool:
    return user.split(":", 1)[0].strip().lower() in df.ROOT_USERS


def judge_user(svc: dict, built: Built | None) -> Finding:
    """Root unless `user:` names another; absent, the image decides (its Dockerfile, else unknown)."""
    user = svc.get("user")
    if user not in (None, ""):
        user = str(user)
        if _user_is_root(user):
            return Finding(NON_ROOT, Status.FAIL, f"user {user!r} is root", ("user",), facts={"user": user})
        return Finding(NON_ROOT, Status.PASS, f"user {user!r} is not root", ("user",), facts={"user": user})
    if built is None:
        image = str(svc.get("image") or "")
        known = image_defaults.default_user(image)
        if known == "root":
            why = f"no user: the image {image} starts as root (its Dockerfile sets no USER)"
            return Finding(NON_ROOT, Status.FAIL, why, ("image",), facts={"image_user": known})
        if known:
            why = f"no user: the image {image} runs as {known!r} (its Dockerfile's USER)"
            return Finding(NON_ROOT, Status.PASS, why, ("image",), facts={"image_user": known})
        return Finding(
            NON_ROOT,
            Status.UNKNOWN,
            f"no user: the registry image {image} decides (the live engine probe can tell)",
            ("image",),
        )
    if built.analysis is None or built.stage is None:
        return Finding(
            NON_ROOT, Status.UNKNOWN, f"no user, and its image's user is unknown: {built.reason}", ("build",)
        )
    v = df.user_verdict(built.analysis, built.stage)
    return _from_dockerfile(NON_ROOT, v, built, "no user: ")


def _from_dockerfile(check: Check, v: df.Verdict, built: Built, prefix: str) -> Finding:
    where: Subject | tuple[str, ...] = Subject(path=built.path, line=v.line) if built.path else ("build",)
    facts = {**v.facts, "dockerfile": built.path or "(inline)"}
    return Finding(
        check, v.status, f"{prefix}its Dockerfile: {v.message}", where, facts=facts, strength=Strength.DECLARED
    )


def judge_read_only(svc: dict, built: Built | None) -> Finding:
    """`read_only: true`, nothing else."""
    if svc.get("read_only") is True:
        return Finding(READ_ONLY, Status.PASS, "read_only: true", ("read_only",))
    # Compose drops `read_only: false` from the model; the locator still finds it if written.
    return Finding(READ_ONLY, Status.FAIL, "read_only is not true: the root filesystem is writable", ("read_only",))


def judge_no_new_privileges(svc: dict, built: Built | None) -> Finding:
    """The last no-new-privileges option wins; `:false`/`=false` is not enabled."""
    opts = [str(o) for o in svc.get("security_opt") or ()]
    for opt in reversed(opts):
        key, value = _split_opt(opt)
        if key.strip().lower() != "no-new-privileges":
            continue
        enabled = value.strip().lower() in ("", "true")
        status = Status.PASS if enabled else Status.FAIL
        message = f"security_opt {opt!r}: no-new-privileges is {'enabled' if enabled else 'disabled'}"
        return Finding(
            NO_NEW_PRIVILEGES, status, message, ("security_opt",), match=lambda o: "no-new-privileges" in str(o)
        )
    return Finding(NO_NEW_PRIVILEGES, Status.FAIL, "no `no-new-privileges` in security_opt", ("security_opt",))


def _split_opt(opt: str) -> tuple[str, str]:
    """A security option's key and value: both `no-new-privileges:true` and `=true` spellings."""
    parts = re.split(r"[:=]", opt, maxsplit=1)
    return parts[0], parts[1] if len(parts) > 1 else ""


def _caps(values: Any) -> list[str]:
    return [str(c).upper().removeprefix("CAP_") for c in values or ()]


def judge_caps(svc: dict, built: Built | None) -> Finding:
    """cap_drop has ALL and cap_add brings back nothing dangerous."""
    dropped, added = _caps(svc.get("cap_drop")), _caps(svc.get("cap_add"))
    facts = {"cap_drop": dropped, "cap_add": added}
    if "ALL" not in dropped:
        return Finding(CAP_DROP_ALL, Status.FAIL, "cap_drop does not include ALL", ("cap_drop",), facts=facts)
    risky = sorted(set(added) & DANGEROUS_CAPS)
    if risky:
        msg = f"drops ALL but adds back {', '.join(risky)}"
        return Finding(CAP_DROP_ALL, Status.FAIL, msg, ("cap_add",), facts=facts)
    extra = f", adds back {', '.join(added)}" if added else ""
    return Finding(CAP_DROP_ALL, Status.PASS, f"cap_drop: ALL{extra}", ("cap_drop",), facts=facts)


def judge_privileged(svc: dict, built: Built | None) -> Finding:
    """Not `privileged: true` in the resolved model (Compose's default is unprivileged)."""
    if svc.get("privileged") is True:
        return Finding(NOT_PRIVILEGED, Status.FAIL, "privileged: true", ("privileged",))
    return Finding(NOT_PRIVILEGED, Status.PASS, "not privileged", ("privileged",) if "privileged" in svc else ())


HOST_NAMESPACE_KEYS = ("pid", "ipc", "network_mode", "uts", "userns_mode", "cgroup")


def judge_namespaces(svc: dict, built: Built | None) -> list[Finding]:
    """One failure per namespace shared with the host."""
    shared = [k for k in HOST_NAMESPACE_KEYS if str(svc.get(k) or "").lower() == "host"]
    if not shared:
        return [Finding(NO_HOST_NAMESPACES, Status.PASS, "shares no host namespace")]
    return [Finding(NO_HOST_NAMESPACES, Status.FAIL, f"{k}: host", (k,), facts={"key": k}) for k in shared]


def _is_socket_mount(vol: Any) -> bool:
    source = str(vol.get("source") or "") if isinstance(vol, dict) else str(vol).split(":", 1)[0]
    source = posixpath.normpath(source) if source else ""
    # Mounting /var/run or /run exposes the socket inside them too.
    return source in DOCKER_SOCKETS or any(s.startswith(source + "/") for s in DOCKER_SOCKETS if source)


def judge_socket(svc: dict, built: Built | None) -> list[Finding]:
    """No bind mount of the Docker socket or a folder holding it."""
    bad = [
        v for v in svc.get("volumes") or () if isinstance(v, dict) and v.get("type") == "bind" and _is_socket_mount(v)
    ]
    if not bad:
        return [Finding(NO_DOCKER_SOCKET, Status.PASS, "does not mount the Docker socket")]
    return [
        Finding(
            NO_DOCKER_SOCKET,
            Status.FAIL,
            f"mounts {v.get('source')} at {v.get('target')}: the Docker socket is root on the host",
            ("volumes",),
            match=_is_socket_mount,
            facts={"source": v.get("source"), "target": v.get("target")},
        )
        for v in bad
    ]


def _resources(svc: dict, kind: str) -> dict:
    res = ((svc.get("deploy") or {}).get("resources") or {}).get(kind) or {}
    return res if isinstance(res, dict) else {}


def judge_limits(svc: dict, built: Built | None) -> Finding:
    """A memory and a CPU limit, from deploy.resources or the legacy keys."""
    limits = _resources(svc, "limits")
    memory = (
        "deploy.resources.limits.memory"
        if _set(limits.get("memory"))
        else "mem_limit"
        if _set(svc.get("mem_limit"))
        else None
    )
    cpu = (
        "deploy.resources.limits.cpus"
        if _set(limits.get("cpus"))
        else "cpus"
        if _set(svc.get("cpus"))
        else "cpu_quota"
        if _set(svc.get("cpu_quota"))
        else None
    )
    return _resource_finding(RESOURCE_LIMITS, "limit", memory, cpu)


def judge_reservations(svc: dict, built: Built | None) -> Finding:
    """A memory and a CPU reservation, from deploy.resources or the legacy keys."""
    res = _resources(svc, "reservations")
    memory = (
        "deploy.resources.reservations.memory"
        if _set(res.get("memory"))
        else "mem_reservation"
        if _set(svc.get("mem_reservation"))
        else None
    )
    cpu = (
        "deploy.resources.reservations.cpus"
        if _set(res.get("cpus"))
        else "cpu_shares"
        if _set(svc.get("cpu_shares"))
        else None
    )
    return _resource_finding(RESOURCE_RESERVATIONS, "reservation", memory, cpu)


def _resource_finding(check: Check, what: str, memory: str | None, cpu: str | None) -> Finding:
    facts = {"memory": memory, "cpu": cpu}
    where = tuple((memory or cpu or "").split(".")) if (memory or cpu) else ()
    missing = [n for n, v in (("memory", memory), ("CPU", cpu)) if v is None]
    if missing:
        return Finding(check, Status.FAIL, f"no {' and no '.join(missing)} {what}", where, facts=facts)
    return Finding(check, Status.PASS, f"memory {what} ({memory}) and CPU {what} ({cpu})", where, facts=facts)


def official_image(image: str) -> bool:
    """A Docker Official Image (``postgres:16``, ``docker.io/library/redis``): no namespace, Docker Hub."""
    name = image.split("@")[0].rsplit(":", 1)[0] if "/" not in image.split("@")[0].rsplit(":", 1)[-1] else image
    for prefix in ("docker.io/library/", "index.docker.io/library/", "library/", "docker.io/"):
        if name.startswith(prefix) and "/" not in name[len(prefix) :]:
            return "$" not in name
    return bool(name) and "/" not in name and "$" not in name


def judge_healthcheck(svc: dict, built: Built | None) -> Finding:
    """A compose healthcheck test, else the local image's; a registry image's is unknown."""
    hc = svc.get("healthcheck")
    if isinstance(hc, dict):
        test = hc.get("test")
        if hc.get("disable") is True or (isinstance(test, list) and test[:1] == ["NONE"]):
            return Finding(HEALTHCHECK, Status.FAIL, "healthcheck is disabled", ("healthcheck",))
        if _set(test):
            return Finding(HEALTHCHECK, Status.PASS, "healthcheck with a test", ("healthcheck",))
    if built is None:
        image = str(svc.get("image") or "")
        if official_image(image):
            return Finding(
                HEALTHCHECK,
                Status.FAIL,
                f"no healthcheck test in compose, and the official image {image} declares none (Docker's official "
                "images ship no HEALTHCHECK)",
                ("image",),
            )
        return Finding(
            HEALTHCHECK,
            Status.UNKNOWN,
            f"no healthcheck test in compose: the registry image {image} may declare one "
            "(the live engine probe can tell)",
            ("image",),
        )
    if built.analysis is None or built.stage is None:
        return Finding(
            HEALTHCHECK, Status.UNKNOWN, f"no healthcheck test, and its image is unknown: {built.reason}", ("build",)
        )
    return _from_dockerfile(
        HEALTHCHECK, df.healthcheck_verdict(built.analysis, built.stage), built, "no healthcheck test: "
    )


def judge_restart(svc: dict, built: Built | None) -> Finding:
    """`restart:` always/unless-stopped/on-failure, or a swarm restart_policy that restarts."""
    restart = str(svc.get("restart") or "")
    if restart:
        ok = restart.split(":", 1)[0] in GOOD_RESTARTS
        return Finding(RESTART_POLICY, Status.PASS if ok else Status.FAIL, f"restart: {restart}", ("restart",))
    policy = (svc.get("deploy") or {}).get("restart_policy")
    if isinstance(policy, dict):
        condition = str(policy.get("condition") or "any")
        ok = condition in ("any", "on-failure")
        where = ("deploy", "restart_policy")
        return Finding(RESTART_POLICY, Status.PASS if ok else Status.FAIL, f"deploy.restart_policy: {condition}", where)
    return Finding(RESTART_POLICY, Status.FAIL, "no restart policy: a crashed or rebooted service stays down")


def judge_graceful(svc: dict, built: Built | None) -> Finding:
    """stop_grace_period, stop_signal or init in compose, or STOPSIGNAL in the local Dockerfile."""
    for key in ("stop_grace_period", "stop_signal"):
        if _set(svc.get(key)):
            return Finding(GRACEFUL_SHUTDOWN, Status.PASS, f"{key}: {svc[key]}", (key,))
    if svc.get("init") is True:
        return Finding(GRACEFUL_SHUTDOWN, Status.PASS, "init: true (a signal-forwarding PID 1)", ("init",))
    if built is not None and built.analysis is not None and built.stage is not None:
        signal = df.runtime(built.analysis, built.stage, "STOPSIGNAL").value
        if signal is not None:
            v = df.Verdict(Status.PASS, f"STOPSIGNAL {' '.join(signal.values)}", signal.line, {})
            return _from_dockerfile(GRACEFUL_SHUTDOWN, v, built, "")
    return Finding(
        GRACEFUL_SHUTDOWN, Status.FAIL, "no stop_grace_period, stop_signal or init: SIGTERM then SIGKILL after 10 s"
    )
