"""Kubernetes checks judged per workload (namespaces, network policy, scaling, disruption, rollout) and RBAC."""

from __future__ import annotations

from typing import Any

from readiness import yaml_lines
from readiness.model import Status

from .kubernetes_checks import (
    AUTOSCALING,
    DISRUPTION_BUDGET,
    NETWORK_POLICIES,
    NO_HOST_NAMESPACES,
    RBAC_LEAST_PRIVILEGE,
    RESTART_POLICY,
    ROLLOUT_STRATEGY,
    RUNTIME_SOCKETS,
)
from .kubernetes_model import (
    SCALABLE_KINDS,
    Finding,
    K8sObject,
    Workload,
    _line,
    _mapping,
    _sequence,
    selector_matches,
)

# --- workload-level checks -------------------------------------------------------------------


def judge_host_namespaces(wl: Workload) -> Finding:
    """hostNetwork/hostPID/hostIPC set to true, or a hostPath volume of a container-runtime socket, fail."""
    spec = wl.pod_spec
    here = getattr(spec, "line", wl.obj.line)
    shared = [key for key in ("hostNetwork", "hostPID", "hostIPC") if spec.get(key) is True]
    sockets = []
    for volume in _sequence(spec.get("volumes"), "volumes"):
        host_path = _mapping(volume, "volumes[]").get("hostPath")
        path = host_path.get("path") if isinstance(host_path, dict) else None
        if isinstance(path, str) and path.rstrip("/") in RUNTIME_SOCKETS:
            sockets.append(path)
    if shared or sockets:
        line = _line(spec, shared[0], here) if shared else _line(spec, "volumes", here)
        parts = [f"{key}: true" for key in shared] + [f"hostPath {path}" for path in sockets]
        return Finding(
            NO_HOST_NAMESPACES.id,
            Status.FAIL,
            "shares the host's " + ", ".join(parts),
            line,
            facts={"host_namespaces": shared, "runtime_sockets": sockets},
        )
    return Finding(NO_HOST_NAMESPACES.id, Status.PASS, "no host namespace, no runtime socket", here, explicit=False)


def _counts_for(wl: Workload, other: K8sObject) -> bool:
    """An object covers a workload when it is in the same namespace, at least as production, and of the same
    chart rendering (or both plain manifests)."""
    same_rendering = other.rendered == wl.obj.rendered
    return other.namespace == wl.obj.namespace and (other.production or not wl.obj.production) and same_rendering


def _allows_all_ingress(spec: dict[str, Any]) -> bool:
    """An ingress rule that is empty (``- {}``) admits every source on every port: it isolates nothing."""
    return any(isinstance(rule, dict) and not rule for rule in spec.get("ingress") or [])


def judge_network_policy(wl: Workload, policies: list[K8sObject]) -> Finding:
    """Pass when a NetworkPolicy of the namespace selects the workload's pods (and does not admit everything)."""
    allow_all = []
    for pol in policies:
        if not _counts_for(wl, pol):
            continue
        spec = pol.doc.get("spec")
        if not isinstance(spec, dict):
            continue
        # podSelector is a required, non-pointer field: null means {} (every pod).
        selector = spec.get("podSelector") if spec.get("podSelector") is not None else {}
        if not selector_matches(selector, wl.labels):
            continue
        if _allows_all_ingress(spec):
            allow_all.append(pol.ref)
            continue
        what = "selects every pod of the namespace" if not selector else "selects its pods"
        facts = {"network_policy": pol.ref, "declared_in": pol.where}
        msg = f"{pol.ref} ({pol.where}) {what}"
        return Finding(NETWORK_POLICIES.id, Status.PASS, msg, wl.obj.line, facts=facts)
    msg = f"no NetworkPolicy in namespace {wl.obj.namespace} selects its pods (labels {dict(wl.labels)})"
    if allow_all:
        msg = f"only {', '.join(allow_all)} select its pods, with an empty ingress rule that admits all traffic"
    return Finding(NETWORK_POLICIES.id, Status.FAIL, msg, wl.obj.line, explicit=False)


def _scale_target(obj: K8sObject) -> tuple[str, str] | None:
    spec = obj.doc.get("spec")
    ref = spec.get("scaleTargetRef") if isinstance(spec, dict) else None
    if not isinstance(ref, dict):
        return None
    return str(ref.get("kind") or "Deployment"), str(ref.get("name"))


_scaler_index: tuple[list[K8sObject], dict[tuple, list[K8sObject]]] | None = None


def autoscalers_of(wl: Workload, scalers: list[K8sObject]) -> list[K8sObject]:
    """The HorizontalPodAutoscalers (and KEDA ScaledObjects) whose scaleTargetRef names this workload."""
    global _scaler_index
    # Indexed once per list of scalers: scanning them all for every workload was quadratic in a large tree.
    if _scaler_index is None or _scaler_index[0] is not scalers:
        index: dict[tuple, list[K8sObject]] = {}
        for s in scalers:
            index.setdefault((s.namespace, _scale_target(s)), []).append(s)
        _scaler_index = (scalers, index)
    named = _scaler_index[1].get((wl.obj.namespace, (wl.obj.kind, wl.obj.name)), [])
    return [s for s in named if _counts_for(wl, s)]


def judge_autoscaling(wl: Workload, scalers: list[K8sObject], fixed_scale: frozenset[str] = frozenset()) -> Finding:
    """Deployments and StatefulSets need an autoscaler, unless the config names them as fixed-scale.

    Other kinds do not scale horizontally.
    """
    check, line = AUTOSCALING.id, wl.obj.line
    if wl.obj.kind not in SCALABLE_KINDS:
        return Finding(check, Status.NOT_APPLICABLE, f"{wl.obj.kind}: not horizontally scalable", line)
    if wl.obj.ref in fixed_scale:
        msg = f"fixed replica count by design (probes.kubernetes.fixed_scale in .readiness.yaml names {wl.obj.ref})"
        return Finding(check, Status.NOT_APPLICABLE, msg, line)
    found = autoscalers_of(wl, scalers)
    if found:
        s = found[0]
        msg = f"{s.ref} ({s.where}) targets it"
        return Finding(check, Status.PASS, msg, line, facts={"autoscaler": s.ref, "declared_in": s.where})
    msg = f"no HorizontalPodAutoscaler in namespace {wl.obj.namespace} targets {wl.obj.ref}"
    return Finding(check, Status.FAIL, msg, line, explicit=False)


def _replicas(wl: Workload) -> int | None:
    value = wl.spec.get("replicas", 1)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _max_replicas(scaler: K8sObject) -> int | None:
    spec = scaler.doc.get("spec")
    value = spec.get("maxReplicas", spec.get("maxReplicaCount")) if isinstance(spec, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _blocks_all_evictions(pdb_spec: dict[str, Any], replicas: int | None) -> str | None:
    """Why a PDB allows no voluntary eviction at all, or None."""
    max_unavailable, min_available = pdb_spec.get("maxUnavailable"), pdb_spec.get("minAvailable")
    if max_unavailable in (0, "0%"):
        return f"maxUnavailable: {max_unavailable} allows no eviction: node drains hang"
    if min_available == "100%":
        return "minAvailable: 100% allows no eviction: node drains hang"
    if isinstance(min_available, int) and replicas is not None and min_available >= replicas:
        return f"minAvailable: {min_available} with {replicas} replicas allows no eviction: node drains hang"
    return None


def judge_disruption_budget(wl: Workload, budgets: list[K8sObject], scalers: list[K8sObject]) -> Finding:
    """Replicated workloads (replicas > 1, or an autoscaler allowing more than one) need a PDB that allows evictions."""
    check, line = DISRUPTION_BUDGET.id, wl.obj.line
    if wl.obj.kind not in SCALABLE_KINDS:
        return Finding(check, Status.NOT_APPLICABLE, f"{wl.obj.kind}: not a replicated workload", line)
    replicas = _replicas(wl)
    scaled = [m for s in autoscalers_of(wl, scalers) if (m := _max_replicas(s)) is not None]
    if replicas is None and not scaled:
        return Finding(check, Status.UNKNOWN, f"replicas is not an integer ({wl.spec.get('replicas')!r})", line)
    if (replicas or 0) <= 1 and not any(m > 1 for m in scaled):
        msg = f"replicas: {replicas} and no autoscaler: a disruption budget would only block drains"
        return Finding(check, Status.NOT_APPLICABLE, msg, line)
    for pdb in budgets:
        if not _counts_for(wl, pdb):
            continue
        spec = pdb.doc.get("spec")
        if not isinstance(spec, dict) or not selector_matches(spec.get("selector"), wl.labels):
            continue
        facts = {"disruption_budget": pdb.ref, "declared_in": pdb.where}
        blocked = _blocks_all_evictions(spec, None if scaled else replicas)
        if blocked:
            return Finding(check, Status.FAIL, f"{pdb.ref} ({pdb.where}): {blocked}", line, facts=facts)
        return Finding(check, Status.PASS, f"{pdb.ref} ({pdb.where}) selects its pods", line, facts=facts)
    msg = f"no PodDisruptionBudget in namespace {wl.obj.namespace} selects its pods (labels {dict(wl.labels)})"
    return Finding(check, Status.FAIL, msg, line, explicit=False)


def _unavailable_is_all(value: Any, replicas: int | None) -> bool:
    """Whether maxUnavailable lets every pod go at once (``replicas`` None: unknown, e.g. a DaemonSet's nodes)."""
    if isinstance(value, str) and value.endswith("%"):
        return value[:-1].strip().isdigit() and int(value[:-1]) >= 100
    return isinstance(value, int) and replicas is not None and value >= replicas > 0


def judge_restart(wl: Workload) -> Finding:
    """Controllers restart their pods; a bare Pod restarts only with restartPolicy Always (its default)."""
    check, kind = RESTART_POLICY.id, wl.obj.kind
    if kind in ("Job", "CronJob"):
        return Finding(check, Status.NOT_APPLICABLE, f"{kind}: runs to completion by design", wl.obj.line)
    policy = wl.pod_spec.get("restartPolicy", "Always")
    line = _line(wl.pod_spec, "restartPolicy", wl.obj.line)
    if kind != "Pod":
        return Finding(check, Status.PASS, f"{kind}: the controller recreates crashed pods", line)
    if policy == "Always":
        return Finding(check, Status.PASS, "restartPolicy Always", line, facts={"restartPolicy": policy})
    message = f"a bare Pod with restartPolicy {policy}: it stays down after a crash or a node reboot"
    return Finding(check, Status.FAIL, message, line, facts={"restartPolicy": policy})


def judge_rollout(wl: Workload) -> Finding:
    """Deployment ``strategy`` / StatefulSet and DaemonSet ``updateStrategy``; absent means the API default."""
    check, kind = ROLLOUT_STRATEGY.id, wl.obj.kind
    if kind not in ("Deployment", "StatefulSet", "DaemonSet"):
        return Finding(check, Status.NOT_APPLICABLE, f"{kind}: has no rollout strategy", wl.obj.line)
    key = "strategy" if kind == "Deployment" else "updateStrategy"
    strategy = _mapping(wl.spec.get(key), f"spec.{key}")
    line = _line(wl.spec, key, wl.obj.line)
    stype = strategy.get("type", "RollingUpdate")
    facts = {key: stype, "explicit": key in wl.spec}
    if stype == "Recreate":
        return Finding(
            check, Status.FAIL, "strategy Recreate: every pod stops before new ones start", line, facts=facts
        )
    if stype == "OnDelete":
        msg = "updateStrategy OnDelete: pods are replaced only when deleted by hand; a rollout never completes itself"
        return Finding(check, Status.FAIL, msg, line, facts=facts)
    if stype != "RollingUpdate":
        return Finding(check, Status.UNKNOWN, f"unknown {key}.type {stype!r}", line, facts=facts)
    rolling = _mapping(strategy.get("rollingUpdate"), f"spec.{key}.rollingUpdate")
    max_unavailable = rolling.get("maxUnavailable", "25%" if kind == "Deployment" else 1)
    max_surge = rolling.get("maxSurge", "25%" if kind == "Deployment" else 0)
    facts |= {"maxUnavailable": max_unavailable} | ({} if kind == "StatefulSet" else {"maxSurge": max_surge})
    at = _line(rolling, "maxUnavailable", line)
    # A DaemonSet runs a pod per node (count unknown); a one-replica StatefulSet cannot roll
    # without downtime whatever its strategy, as StatefulSets never surge.
    replicas = None if kind == "DaemonSet" else _replicas(wl)
    if kind == "StatefulSet" and replicas == 1:
        replicas = None
    if _unavailable_is_all(max_unavailable, replicas):
        msg = f"RollingUpdate with maxUnavailable {max_unavailable}: every pod may be down at once"
        return Finding(check, Status.FAIL, msg, at, facts=facts)
    if kind == "Deployment" and max_unavailable in (0, "0%") and max_surge in (0, "0%"):
        return Finding(
            check, Status.FAIL, "maxUnavailable and maxSurge both 0: no rollout can proceed", at, facts=facts
        )
    how = "" if key in wl.spec else f" (no {key}: the API default)"
    surge = "" if kind == "StatefulSet" else f", maxSurge {max_surge}"
    msg = f"RollingUpdate, maxUnavailable {max_unavailable}{surge}{how}"
    return Finding(check, Status.PASS, msg, at, facts=facts)


# --- RBAC ------------------------------------------------------------------------------------


def judge_role(obj: K8sObject) -> Finding:
    """A Role or ClusterRole fails when a rule grants ``*`` verbs, resources, API groups or URLs, or reads every
    Secret of its scope."""
    check = RBAC_LEAST_PRIVILEGE.id
    if "aggregationRule" in obj.doc:
        msg = "aggregated ClusterRole: its rules are filled in by the cluster from other roles"
        return Finding(check, Status.UNKNOWN, msg, _line(obj.doc, "aggregationRule", obj.line))
    rules = _sequence(obj.doc.get("rules"), "rules")
    for i, rule in enumerate(rules):
        rule = _mapping(rule, f"rules[{i}]")
        wild = [k for k in ("verbs", "resources", "apiGroups", "nonResourceURLs") if "*" in (rule.get(k) or [])]
        if wild:
            line = rules.item_line(i) if isinstance(rules, yaml_lines.LineList) else obj.line
            msg = f"rule {i + 1} grants * in {', '.join(wild)}"
            return Finding(check, Status.FAIL, msg, line, facts={"wildcards": wild, "rule": i})
        reads = sorted(set(rule.get("verbs") or []) & {"get", "list", "watch"})
        if "secrets" in (rule.get("resources") or []) and reads and not rule.get("resourceNames"):
            # reading every Secret of the namespace is reading every credential in it: name the ones needed
            line = rules.item_line(i) if isinstance(rules, yaml_lines.LineList) else obj.line
            msg = f"rule {i + 1} lets it {'/'.join(reads)} every Secret in the namespace (no resourceNames)"
            return Finding(check, Status.FAIL, msg, line, facts={"rule": i})
    return Finding(
        check,
        Status.PASS,
        f"{len(rules)} rule(s), none with a * verb, resource or API group, none reading every Secret",
        obj.line,
    )


def judge_binding(obj: K8sObject) -> Finding:
    """A binding fails when it gives cluster-admin to a service account (or to all of them)."""
    check = RBAC_LEAST_PRIVILEGE.id
    role = _mapping(obj.doc.get("roleRef"), "roleRef", required=True)
    role_ref = f"{role.get('kind')}/{role.get('name')}"
    subjects = [_mapping(s, "subjects[]") for s in _sequence(obj.doc.get("subjects"), "subjects")]
    service_accounts = [
        f"{s.get('kind')}/{s.get('name')}"
        for s in subjects
        if s.get("kind") == "ServiceAccount"
        or (s.get("kind") == "Group" and str(s.get("name", "")).startswith("system:serviceaccounts"))
    ]
    facts = {"roleRef": role_ref, "subjects": [f"{s.get('kind')}/{s.get('name')}" for s in subjects]}
    if role.get("kind") == "ClusterRole" and role.get("name") == "cluster-admin" and service_accounts:
        msg = f"binds ClusterRole/cluster-admin to {', '.join(service_accounts)}"
        return Finding(check, Status.FAIL, msg, _line(obj.doc, "roleRef", obj.line), facts=facts)
    return Finding(
        check, Status.PASS, f"binds {role_ref}, not cluster-admin to a service account", obj.line, facts=facts
    )
