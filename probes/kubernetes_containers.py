"""Kubernetes checks judged once per container: security context, resources, probes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from readiness import yaml_lines
from readiness.model import Status

from .kubernetes_checks import (
    CAP_DROP_ALL,
    NO_PRIVILEGE_ESCALATION,
    NON_ROOT,
    PROBES,
    READ_ONLY_ROOTFS,
    RESOURCES,
)
from .kubernetes_model import (
    BATCH_KINDS,
    Finding,
    K8sObject,
    Workload,
    _line,
    _mapping,
    _sequence,
)
from .kubernetes_workloads import _counts_for

# --- container checks ------------------------------------------------------------------------


def _effective(key: str, c_sc: dict[str, Any], pod_sc: dict[str, Any], c_line: int) -> tuple[Any, int, str]:
    """A pod-or-container security field: the container's value overrides the pod's."""
    if key in c_sc:
        return c_sc[key], _line(c_sc, key, c_line), "container"
    if key in pod_sc:
        return pod_sc[key], _line(pod_sc, key, c_line), "pod"
    return None, c_line, ""


def judge_non_root(c_sc: dict[str, Any], pod_sc: dict[str, Any], pod_spec: dict[str, Any], line: int) -> Finding:
    """runAsUser decides when set (0 is root, whatever runAsNonRoot says); else runAsNonRoot: true; else the image."""
    user, user_line, user_from = _effective("runAsUser", c_sc, pod_sc, line)
    non_root, nr_line, nr_from = _effective("runAsNonRoot", c_sc, pod_sc, line)
    facts = {"runAsUser": user, "runAsUser_from": user_from, "runAsNonRoot": non_root, "runAsNonRoot_from": nr_from}
    os_name = _mapping(pod_spec.get("os"), "os").get("name")
    if os_name == "windows" or "windowsOptions" in c_sc or "windowsOptions" in pod_sc:
        return Finding(NON_ROOT.id, Status.UNKNOWN, "Windows container: runAsUser/runAsNonRoot do not apply", line)
    if user is not None and (isinstance(user, bool) or not isinstance(user, int)):
        return Finding(NON_ROOT.id, Status.UNKNOWN, f"runAsUser is not an integer ({user!r})", user_line, facts=facts)
    if user == 0:
        msg = f"runAsUser: 0 ({user_from} securityContext): runs as root"
        if non_root is True:
            msg += (
                f", although runAsNonRoot: true ({nr_from} securityContext); the kubelet refuses to start "
                "such a container (CreateContainerConfigError), so this pod never runs"
            )
        return Finding(NON_ROOT.id, Status.FAIL, msg, user_line, facts=facts)
    if user is not None:
        return Finding(
            NON_ROOT.id, Status.PASS, f"runAsUser: {user} ({user_from} securityContext)", user_line, facts=facts
        )
    if non_root is True:
        msg = f"runAsNonRoot: true ({nr_from} securityContext): the kubelet refuses to start it as root"
        return Finding(NON_ROOT.id, Status.PASS, msg, nr_line, facts=facts)
    if non_root is False:
        msg = f"runAsNonRoot: false ({nr_from} securityContext) and no runAsUser: the image's USER decides"
        return Finding(NON_ROOT.id, Status.UNKNOWN, msg, nr_line, explicit=False, facts=facts)
    if non_root is not None:
        return Finding(NON_ROOT.id, Status.UNKNOWN, f"runAsNonRoot is not a boolean ({non_root!r})", nr_line)
    msg = "neither runAsNonRoot nor runAsUser is set (pod or container): the image's USER decides"
    return Finding(NON_ROOT.id, Status.UNKNOWN, msg, line, explicit=False, facts=facts)


def judge_read_only(c_sc: dict[str, Any], line: int) -> Finding:
    """readOnlyRootFilesystem must be true; absent means false."""
    value = c_sc.get("readOnlyRootFilesystem")
    at = _line(c_sc, "readOnlyRootFilesystem", line)
    if value is True:
        return Finding(READ_ONLY_ROOTFS.id, Status.PASS, "readOnlyRootFilesystem: true", at)
    if value is False:
        return Finding(READ_ONLY_ROOTFS.id, Status.FAIL, "readOnlyRootFilesystem: false: writable root", at)
    if value is None:
        msg = "readOnlyRootFilesystem not set: the root filesystem is writable (default false)"
        return Finding(READ_ONLY_ROOTFS.id, Status.FAIL, msg, at, explicit=False)
    return Finding(READ_ONLY_ROOTFS.id, Status.UNKNOWN, f"readOnlyRootFilesystem is not a boolean ({value!r})", at)


def _caps(c_sc: dict[str, Any], key: str) -> list[str]:
    caps = _mapping(c_sc.get("capabilities"), "securityContext.capabilities")
    return [str(c) for c in _sequence(caps.get(key), f"securityContext.capabilities.{key}")]


def judge_no_privilege_escalation(c_sc: dict[str, Any], line: int) -> Finding:
    """allowPrivilegeEscalation must be explicitly false; privileged or SYS_ADMIN force it true."""
    check = NO_PRIVILEGE_ESCALATION.id
    if c_sc.get("privileged") is True:
        msg = "privileged: true: privilege escalation is always allowed"
        return Finding(check, Status.FAIL, msg, _line(c_sc, "privileged", line))
    added = [c for c in _caps(c_sc, "add") if c.upper().removeprefix("CAP_") == "SYS_ADMIN"]
    if added:
        msg = f"adds capability {added[0]}: privilege escalation is always allowed"
        return Finding(check, Status.FAIL, msg, _line(c_sc, "capabilities", line))
    value = c_sc.get("allowPrivilegeEscalation")
    at = _line(c_sc, "allowPrivilegeEscalation", line)
    if value is False:
        return Finding(check, Status.PASS, "allowPrivilegeEscalation: false", at)
    if value is True:
        return Finding(check, Status.FAIL, "allowPrivilegeEscalation: true", at)
    if value is None:
        msg = "allowPrivilegeEscalation not set: it defaults to true (no_new_privs is not set)"
        return Finding(check, Status.FAIL, msg, at, explicit=False)
    return Finding(check, Status.UNKNOWN, f"allowPrivilegeEscalation is not a boolean ({value!r})", at)


def judge_cap_drop(c_sc: dict[str, Any], line: int) -> Finding:
    """capabilities.drop must contain "ALL" (as Kubernetes spells it); privileged gets every capability anyway."""
    check = CAP_DROP_ALL.id
    if c_sc.get("privileged") is True:
        msg = "privileged: true: the container has every capability, whatever it drops"
        return Finding(check, Status.FAIL, msg, _line(c_sc, "privileged", line))
    drop, add = _caps(c_sc, "drop"), _caps(c_sc, "add")
    caps = c_sc.get("capabilities")
    at = _line(caps, "drop", _line(c_sc, "capabilities", line))
    facts = {"drop": drop, "add": add}
    if "ALL" in drop:
        msg = "drops ALL capabilities" + (f", adds back {', '.join(add)}" if add else "")
        return Finding(check, Status.PASS, msg, at, facts=facts)
    misspelled = [c for c in drop if c.upper() == "ALL"]
    if misspelled:
        msg = f'drops "{misspelled[0]}": write "ALL", the only spelling Pod Security "restricted" accepts'
        return Finding(check, Status.FAIL, msg, at, facts=facts)
    if drop:
        return Finding(check, Status.FAIL, f"drops only {', '.join(drop)}, not ALL", at, facts=facts)
    msg = "capabilities.drop not set: the runtime's default capabilities remain"
    return Finding(check, Status.FAIL, msg, at, explicit=False, facts=facts)


@dataclass(frozen=True)
class ResourceDefaults:
    """The container limits and requests a LimitRange fills in at admission, and which one."""

    limits: dict[str, Any]
    requests: dict[str, Any]
    source: str


def limit_range_defaults(wl: Workload, ranges: list[K8sObject]) -> ResourceDefaults | None:
    """Defaults from the first LimitRange of the workload's namespace with a Container item.

    As the API defaults a LimitRange: ``default`` falls back to ``max``, ``defaultRequest`` to
    ``default`` and then ``min``.
    """
    for lr in ranges:
        if not _counts_for(wl, lr):
            continue
        spec = lr.doc.get("spec")
        for item in (spec.get("limits") if isinstance(spec, dict) else None) or []:
            if not isinstance(item, dict) or item.get("type") != "Container":
                continue
            part = {k: item.get(k) if isinstance(item.get(k), dict) else {} for k in ("default", "max", "min")}
            limits = {**part["max"], **part["default"]}
            given = item.get("defaultRequest") if isinstance(item.get("defaultRequest"), dict) else {}
            requests = {**part["min"], **limits, **given}
            if limits or requests:
                return ResourceDefaults(limits, requests, f"{lr.ref} ({lr.where})")
    return None


def judge_resources(
    container: dict[str, Any], fld: str, line: int, defaults: ResourceDefaults | None = None
) -> Finding:
    """CPU and memory limits and requests, after the API's defaulting.

    A request left out equals the container's own limit; a LimitRange of the namespace fills in
    what the container leaves out.
    """
    check = RESOURCES.id
    if fld == "ephemeralContainers":
        return Finding(check, Status.NOT_APPLICABLE, "ephemeral containers may not set resources", line)
    res = _mapping(container.get("resources"), "resources")
    limits = _mapping(res.get("limits"), "resources.limits")
    requests = _mapping(res.get("requests"), "resources.requests")
    at = _line(container, "resources", line)
    missing, from_limit, from_range = [], [], []
    for r in ("cpu", "memory"):
        if limits.get(r) in (None, ""):
            (from_range if defaults and defaults.limits.get(r) else missing).append(f"limits.{r}")
        if requests.get(r) in (None, ""):
            if limits.get(r) not in (None, ""):
                from_limit.append(f"requests.{r}")
            else:
                (from_range if defaults and defaults.requests.get(r) else missing).append(f"requests.{r}")
    facts: dict[str, Any] = {
        "limits": {k: str(v) for k, v in limits.items()},
        "requests": {k: str(v) for k, v in requests.items()},
    }
    notes = []
    if from_limit:
        notes.append(f"{' and '.join(from_limit)} default{'s' if len(from_limit) == 1 else ''} to the limit")
    if from_range and defaults:
        notes.append(f"{', '.join(from_range)} from {defaults.source}")
        facts["limit_range"] = defaults.source
    note = f" ({'; '.join(notes)})" if notes else ""
    if missing:
        return Finding(check, Status.FAIL, f"missing {', '.join(missing)}{note}", at, explicit=False, facts=facts)
    return Finding(check, Status.PASS, f"requests and limits set for cpu and memory{note}", at, facts=facts)


def _has_handler(probe: Any) -> bool:
    return isinstance(probe, dict) and any(h in probe for h in ("exec", "httpGet", "tcpSocket", "grpc"))


def judge_probes(container: dict[str, Any], fld: str, kind: str, line: int) -> Finding:
    """Liveness and readiness probes on long-running containers (sidecar init containers included)."""
    check = PROBES.id
    if fld == "ephemeralContainers":
        return Finding(check, Status.NOT_APPLICABLE, "ephemeral containers may not have probes", line)
    if fld == "initContainers" and container.get("restartPolicy") != "Always":
        return Finding(check, Status.NOT_APPLICABLE, "init container: runs to completion, probes not allowed", line)
    if kind in BATCH_KINDS:
        return Finding(check, Status.NOT_APPLICABLE, f"{kind}: runs to completion, serves no traffic", line)
    problems, explicit = [], False
    for key in ("livenessProbe", "readinessProbe"):
        if key not in container:
            problems.append(f"no {key}")
        elif not _has_handler(container[key]):
            problems.append(f"{key} has no handler (exec, httpGet, tcpSocket or grpc)")
            explicit = True
    at = _line(container, "readinessProbe", _line(container, "livenessProbe", line))
    if problems:
        return Finding(check, Status.FAIL, "; ".join(problems), at, explicit=explicit)
    return Finding(check, Status.PASS, "livenessProbe and readinessProbe set", at)


def judge_container(
    wl: Workload, fld: str, container: yaml_lines.LineDict, defaults: ResourceDefaults | None = None
) -> list[Finding]:
    """Every container-level check on one container."""
    line = container.line
    pod_sc = _mapping(wl.pod_spec.get("securityContext"), "securityContext")
    c_sc = _mapping(container.get("securityContext"), "securityContext")
    return [
        judge_non_root(c_sc, pod_sc, wl.pod_spec, line),
        judge_read_only(c_sc, line),
        judge_no_privilege_escalation(c_sc, line),
        judge_cap_drop(c_sc, line),
        judge_resources(container, fld, line, defaults),
        judge_probes(container, fld, wl.obj.kind, line),
    ]
