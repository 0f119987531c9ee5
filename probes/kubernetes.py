"""Kubernetes manifests: pod hardening, resources, probes, and the objects around workloads.

Workloads are Deployments, StatefulSets, DaemonSets, ReplicaSets, Jobs, CronJobs
(``spec.jobTemplate.spec.template``) and Pods, read from multi-document YAML
and ``kind: List`` files. Every container is judged: ``containers``,
``initContainers`` and ``ephemeralContainers``. Security settings follow the
API's precedence: a container's ``securityContext`` overrides the pod's for
``runAsUser`` and ``runAsNonRoot``; the other fields exist only per container.

What the manifests cannot say is ``unknown``, never ``pass``:

- Helm templates (files under a chart's ``templates/`` folder, files with
  ``{{`` that are not valid YAML, workloads with ``{{`` in a value) are not
  rendered; every check is ``unknown`` for them. ``{{`` in other objects
  (say, alert templates in a ConfigMap) is data and changes nothing.
- Kustomize overlays are read as plain manifests; a ``kustomization.yaml`` is
  not a workload. A file a kustomization lists as a patch is a partial
  object: only the failures it states itself are reported (``runAsUser: 0``,
  ``privileged: true``, ``Recreate`` ...); what it leaves out comes from its
  base, which is judged where it is declared, so the patch is otherwise
  silent and never passes a check. A patch that sets ``replicas`` is judged
  for its disruption budget with its base's pod labels. A workload whose
  containers lack an ``image`` but that no kustomization lists is judged the
  same way, except that what it leaves out is ``unknown``.
- ``runAsNonRoot`` and ``runAsUser`` both absent: the image's ``USER``
  decides, so ``unknown``.
- Namespaces are taken from ``metadata.namespace`` (``default`` when absent);
  a ``namespace:`` set by a kustomization is not applied.

API defaults are applied where the API documents them: an absent
``allowPrivilegeEscalation`` is true, an absent ``readOnlyRootFilesystem``
false, a missing request equals its limit, and an absent Deployment
``strategy`` is RollingUpdate with 25% unavailable (a pass, saying so).

The objects around workloads (NetworkPolicy, HorizontalPodAutoscaler or
KEDA ScaledObject, PodDisruptionBudget) count only from files of the same
scope or production ones: a NetworkPolicy under ``tests/`` does not cover a
production Deployment. Workloads also go into the deployment inventory
(origin ``kubernetes``, name ``Kind/name``, image of the first container),
with the repo files that kustomize ``configMapGenerator``/``secretGenerator``
entries put into the ConfigMaps and Secrets they mount or take as ``envFrom``
(other ConfigMaps and Secrets are not repo files).
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import PurePosixPath
from typing import Any

import yaml

from readiness import yaml_lines
from readiness.inventory import Mount, Service
from readiness.model import Artifact, Check, Observation, Status, Subject, VcsState
from readiness.probe import Claim, Probe, ProbeContext

MANIFEST_GLOBS = ("*.yaml", "*.yml")
# Only YAML that has both an apiVersion and a kind at the start of a line (or of a list item).
MANIFEST_SNIFF = re.compile(
    rb"(?ms)\A(?=.*^(?:\xef\xbb\xbf)?[ \t-]*apiVersion[ \t]*:)(?=.*^(?:\xef\xbb\xbf)?[ \t-]*kind[ \t]*:)"
)
KUSTOMIZATION_NAMES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
POD_TEMPLATE_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job")
WORKLOAD_KINDS = (*POD_TEMPLATE_KINDS, "CronJob", "Pod")
SCALABLE_KINDS = ("Deployment", "StatefulSet")
BATCH_KINDS = ("Job", "CronJob")
RBAC_ROLE_KINDS = ("Role", "ClusterRole")
RBAC_BINDING_KINDS = ("RoleBinding", "ClusterRoleBinding")
CONTAINER_FIELDS = ("containers", "initContainers", "ephemeralContainers")
DEFAULT_NAMESPACE = "default"
MOUNT_KINDS = {"configMap": "config", "secret": "secret"}  # as the inventory names them

NON_ROOT = Check(
    id="k8s.non_root",
    title="Every container of every workload runs as a non-root user",
    rationale="A root process in a container is root on the node once it escapes, and can rewrite its own image. "
    "Without runAsNonRoot or runAsUser the image's USER decides, which is root for most images.",
    remediation="Set securityContext.runAsNonRoot: true and a non-zero runAsUser on the pod (or each container); "
    "never runAsUser: 0.",
)
READ_ONLY_ROOTFS = Check(
    id="k8s.read_only_rootfs",
    title="Every container mounts its root filesystem read-only",
    rationale="A writable root filesystem lets an attacker drop tools and persist changes inside the container; "
    "readOnlyRootFilesystem defaults to false.",
    remediation="Set securityContext.readOnlyRootFilesystem: true on each container and mount emptyDir volumes "
    "where the application must write.",
)
NO_PRIVILEGE_ESCALATION = Check(
    id="k8s.no_privilege_escalation",
    title="No container can gain privileges (allowPrivilegeEscalation: false, not privileged)",
    rationale="allowPrivilegeEscalation defaults to true, so setuid binaries can raise a process's privileges; "
    "it is always true for privileged containers and those with CAP_SYS_ADMIN.",
    remediation="Set securityContext.allowPrivilegeEscalation: false on each container; drop privileged: true "
    "and SYS_ADMIN.",
)
CAP_DROP_ALL = Check(
    id="k8s.cap_drop_all",
    title="Every container drops ALL Linux capabilities (adding back only what it needs)",
    rationale="Containers start with the runtime's default capability set (NET_RAW, CHOWN, SETUID ...); each one "
    "is an avenue for privilege escalation. A privileged container has every capability whatever it drops.",
    remediation='Set securityContext.capabilities.drop: ["ALL"] (spelled ALL) and add back single capabilities '
    "such as NET_BIND_SERVICE only where needed; remove privileged: true.",
)
RESOURCES = Check(
    id="k8s.resources",
    title="Every container declares CPU and memory requests and limits",
    rationale="Without requests the scheduler cannot place pods sensibly; without limits one container can starve "
    "its node and every pod on it.",
    remediation="Set resources.requests.cpu/memory and resources.limits.cpu/memory on every container and init "
    "container (a request left out defaults to its limit).",
)
PROBES = Check(
    id="k8s.probes",
    title="Every long-running container has a liveness and a readiness probe",
    rationale="Without a readiness probe traffic reaches pods that are not ready (also during rollouts); without a "
    "liveness probe a hung process is never restarted.",
    remediation="Add livenessProbe and readinessProbe (httpGet, tcpSocket, grpc or exec) to each container; use a "
    "startupProbe for slow starts.",
)
NETWORK_POLICIES = Check(
    id="k8s.network_policies",
    title="A NetworkPolicy selects the pods of every workload (a namespace default-deny counts)",
    rationale="Pods accept traffic from every other pod in the cluster until a NetworkPolicy selects them; one "
    "compromised pod then reaches every service.",
    remediation="Add a default-deny NetworkPolicy (podSelector: {}) to each namespace and policies that allow only "
    "the traffic each workload needs.",
)
AUTOSCALING = Check(
    id="k8s.autoscaling",
    title="Every Deployment and StatefulSet is targeted by a HorizontalPodAutoscaler",
    rationale="A fixed replica count either wastes capacity or falls over under load. Every scalable workload "
    "(Deployment, StatefulSet) is expected to scale with load; DaemonSets, Jobs and bare Pods do not scale "
    "horizontally and are not applicable. A KEDA ScaledObject counts, as it drives an HPA.",
    remediation="Add an autoscaling/v2 HorizontalPodAutoscaler whose scaleTargetRef names the workload, with "
    "minReplicas >= 2 and CPU or memory targets (and resource requests, which HPA utilisation needs).",
)
DISRUPTION_BUDGET = Check(
    id="k8s.disruption_budget",
    title="Every replicated workload has a PodDisruptionBudget that still allows evictions",
    rationale="Node drains and cluster upgrades evict pods; without a PDB all replicas may go at once, and a PDB "
    "that allows no eviction blocks every drain. Workloads with one replica and no autoscaler are not "
    "applicable (a budget would only block drains).",
    remediation="Add a policy/v1 PodDisruptionBudget selecting the pods with maxUnavailable: 1 (or minAvailable "
    "below the replica count).",
)
ROLLOUT_STRATEGY = Check(
    id="k8s.rollout_strategy",
    title="Deployments, StatefulSets and DaemonSets roll out gradually (RollingUpdate with a sane maxUnavailable)",
    rationale="Recreate stops every pod before starting new ones, OnDelete never rolls out by itself, and a "
    "maxUnavailable of all replicas takes the service down during each rollout.",
    remediation="Use strategy.type: RollingUpdate (Deployments) or updateStrategy.type: RollingUpdate "
    "(StatefulSets, DaemonSets) with maxUnavailable below the replica count, e.g. 0 with maxSurge 1.",
)
RESTART_POLICY = Check(
    id="k8s.restart_policy",
    title="Long-running pods are restarted when they crash (a controller, or restartPolicy Always)",
    rationale="A bare pod with restartPolicy Never stays down after a crash or a node reboot; a Deployment, "
    "StatefulSet or DaemonSet recreates its pods.",
    remediation="Run services as a Deployment, StatefulSet or DaemonSet (restartPolicy Always), not as bare Pods.",
)
RBAC_LEAST_PRIVILEGE = Check(
    id="k8s.rbac_least_privilege",
    title="RBAC grants least privilege: no wildcard verbs or resources, no cluster-admin for service accounts",
    rationale='A "*" verb or resource grants everything, including what future API versions add; a service '
    "account bound to cluster-admin hands the whole cluster to whoever compromises one pod.",
    remediation="List the verbs and resources each Role needs; bind service accounts to narrow Roles, never to "
    "cluster-admin.",
)

NO_HOST_NAMESPACES = Check(
    id="k8s.no_host_namespaces",
    title="Pods share no host namespace (hostNetwork, hostPID, hostIPC) and mount no container-runtime socket",
    rationale="A pod in the host's network, PID or IPC namespace sees and reaches the node's processes and "
    "traffic; a mounted Docker or containerd socket is root on the node.",
    remediation="Remove hostNetwork/hostPID/hostIPC and hostPath volumes of runtime sockets; expose what the pod "
    "needs through a Service or a dedicated node agent with a narrow API.",
)
RUNTIME_SOCKETS = (
    "/var/run/docker.sock",
    "/run/docker.sock",
    "/var/run/containerd/containerd.sock",
    "/run/containerd/containerd.sock",
    "/var/run/crio/crio.sock",
)

CONTAINER_CHECKS = (NON_ROOT, READ_ONLY_ROOTFS, NO_PRIVILEGE_ESCALATION, CAP_DROP_ALL, RESOURCES, PROBES)
WORKLOAD_CHECKS = (
    *CONTAINER_CHECKS,
    NO_HOST_NAMESPACES,
    NETWORK_POLICIES,
    AUTOSCALING,
    DISRUPTION_BUDGET,
    ROLLOUT_STRATEGY,
    RESTART_POLICY,
)
ALL_CHECKS = (*WORKLOAD_CHECKS, RBAC_LEAST_PRIVILEGE)


class Malformed(Exception):
    """An object does not have the shape the Kubernetes API requires; the message says where."""


@dataclass(frozen=True)
class Finding:
    """One judgement before it becomes an observation.

    ``explicit`` is true when the manifest states the deciding value, false
    when the verdict rests on a field being absent (which a patch cannot tell).
    """

    check: str
    status: Status
    message: str
    line: int
    explicit: bool = True
    facts: dict[str, Any] = field(default_factory=dict)


@dataclass
class K8sObject:
    """One object of a manifest, with where it was written."""

    doc: yaml_lines.LineDict
    path: str
    production: bool
    patch: bool  # a kustomization lists this file as a patch
    partial: bool = False  # a patch, or a workload whose containers lack an image: only what it states counts

    @property
    def kind(self) -> str:
        return str(self.doc.get("kind"))

    @property
    def metadata(self) -> dict[str, Any]:
        meta = self.doc.get("metadata")
        return meta if isinstance(meta, dict) else {}

    @property
    def name(self) -> str:
        return str(self.metadata.get("name") or self.metadata.get("generateName") or "(unnamed)")

    @property
    def namespace(self) -> str:
        return str(self.metadata.get("namespace") or DEFAULT_NAMESPACE)

    @property
    def ref(self) -> str:
        return f"{self.kind}/{self.name}"

    @property
    def line(self) -> int:
        meta = self.doc.get("metadata")
        return meta.key_line("name") if isinstance(meta, yaml_lines.LineDict) else self.doc.line

    def subject(self, line: int | None = None, name: str | None = None) -> Subject:
        return Subject(path=self.path, line=line or self.line, name=name or self.ref)


@dataclass
class Workload:
    """A workload object and its pod template."""

    obj: K8sObject
    pod_spec: yaml_lines.LineDict
    labels: dict[str, Any]

    @property
    def spec(self) -> dict[str, Any]:
        spec = self.obj.doc.get("spec")
        return spec if isinstance(spec, dict) else {}


def _mapping(value: Any, where: str, required: bool = False) -> dict[str, Any]:
    """``value`` as a mapping ({} when absent); raise Malformed when it is something else."""
    if value is None:
        if required:
            raise Malformed(f"{where} is missing")
        return {}
    if not isinstance(value, dict):
        raise Malformed(f"{where} is a {type(value).__name__}, not a mapping")
    return value


def _sequence(value: Any, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise Malformed(f"{where} is a {type(value).__name__}, not a list")
    return value


def _line(node: Any, key: str, default: int) -> int:
    return node.key_line(key) if isinstance(node, yaml_lines.LineDict) and key in node else default


def _plain(value: Any) -> Any:
    """``value`` as JSON data: YAML may hold dates and other types the evidence cannot carry."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value if value is None or isinstance(value, str | int | float | bool) else str(value)


def _has_template(value: Any) -> bool:
    """True when a Helm/Go template expression (``{{``) appears anywhere in ``value``."""
    if isinstance(value, str):
        return "{{" in value
    if isinstance(value, dict):
        return any(_has_template(k) or _has_template(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_template(v) for v in value)
    return False


def _flatten(doc: Any) -> Iterator[yaml_lines.LineDict]:
    """The objects of one YAML document, unpacking ``kind: List`` (and ``*List``) items."""
    if not isinstance(doc, yaml_lines.LineDict):
        return
    kind = doc.get("kind")
    if isinstance(kind, str) and kind.endswith("List") and isinstance(doc.get("items"), list):
        for item in doc["items"]:
            yield from _flatten(item)
    elif isinstance(kind, str) and doc.get("apiVersion"):
        yield doc


def pod_template(obj: K8sObject) -> tuple[yaml_lines.LineDict, dict[str, Any]]:
    """The pod spec and pod labels of a workload object; raise Malformed when they are not there."""
    need = not obj.patch  # a patch may leave out any part
    spec = _mapping(obj.doc.get("spec"), "spec", required=need)
    if obj.kind == "Pod":
        return spec, _mapping(obj.metadata.get("labels"), "metadata.labels")  # type: ignore[return-value]
    if obj.kind == "CronJob":
        job = _mapping(spec.get("jobTemplate"), "spec.jobTemplate", required=need)
        spec = _mapping(job.get("spec"), "spec.jobTemplate.spec", required=need)
    template = _mapping(spec.get("template"), "spec.template", required=need)
    pod_spec = _mapping(template.get("spec"), "spec.template.spec", required=need)
    meta = _mapping(template.get("metadata"), "spec.template.metadata")
    return pod_spec, _mapping(meta.get("labels"), "spec.template.metadata.labels")  # type: ignore[return-value]


def containers(pod_spec: dict[str, Any]) -> Iterator[tuple[str, yaml_lines.LineDict]]:
    """Every container of a pod spec with its field (containers, initContainers, ephemeralContainers)."""
    for fld in CONTAINER_FIELDS:
        for i, c in enumerate(_sequence(pod_spec.get(fld), fld)):
            if not isinstance(c, yaml_lines.LineDict):
                raise Malformed(f"{fld}[{i}] is not a mapping")
            yield fld, c


def is_partial(obj: K8sObject, pod_spec: dict[str, Any]) -> bool:
    """A workload is partial when a kustomization lists it as a patch, or a container has no image."""
    if obj.patch:
        return True
    regular = _sequence(pod_spec.get("containers"), "containers")
    if not regular:
        return True
    return any(isinstance(c, dict) and not c.get("image") for _fld, c in containers(pod_spec))


# --- label selectors -------------------------------------------------------------------------


def selector_matches(selector: Any, labels: dict[str, Any]) -> bool | None:
    """Whether a LabelSelector selects pods with ``labels``; None when the selector is malformed.

    An empty selector selects every pod (as NetworkPolicy and policy/v1 PDB read it).
    """
    if not isinstance(selector, dict):
        return None
    match_labels = selector.get("matchLabels") or {}
    if not isinstance(match_labels, dict):
        return None
    if any(str(labels.get(k)) != str(v) or k not in labels for k, v in match_labels.items()):
        return False
    for expr in selector.get("matchExpressions") or []:
        if not isinstance(expr, dict):
            return None
        key, op, values = expr.get("key"), expr.get("operator"), [str(v) for v in expr.get("values") or []]
        present = key in labels
        if op == "In":
            ok = present and str(labels[key]) in values
        elif op == "NotIn":
            ok = not present or str(labels[key]) not in values
        elif op == "Exists":
            ok = present
        elif op == "DoesNotExist":
            ok = not present
        else:
            return None
        if not ok:
            return False
    return True


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
                return ResourceDefaults(limits, requests, f"{lr.ref} ({lr.path}:{lr.line})")
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
    """An object covers a workload when it is in the same namespace and at least as production."""
    return other.namespace == wl.obj.namespace and (other.production or not wl.obj.production)


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
        facts = {"network_policy": pol.ref, "declared_in": f"{pol.path}:{pol.line}"}
        msg = f"{pol.ref} ({pol.path}:{pol.line}) {what}"
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
        msg = f"{s.ref} ({s.path}:{s.line}) targets it"
        return Finding(check, Status.PASS, msg, line, facts={"autoscaler": s.ref, "declared_in": f"{s.path}:{s.line}"})
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
        facts = {"disruption_budget": pdb.ref, "declared_in": f"{pdb.path}:{pdb.line}"}
        blocked = _blocks_all_evictions(spec, None if scaled else replicas)
        if blocked:
            return Finding(check, Status.FAIL, f"{pdb.ref} ({pdb.path}:{pdb.line}): {blocked}", line, facts=facts)
        return Finding(check, Status.PASS, f"{pdb.ref} ({pdb.path}:{pdb.line}) selects its pods", line, facts=facts)
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
    """A Role or ClusterRole fails when a rule grants ``*`` verbs, resources, API groups or URLs."""
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
    return Finding(check, Status.PASS, f"{len(rules)} rule(s), none with a * verb, resource or API group", obj.line)


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


# --- the probe -------------------------------------------------------------------------------


@dataclass
class Surroundings:
    """The objects that cover workloads from the outside, and the full workloads patches apply to."""

    policies: list[K8sObject]
    scalers: list[K8sObject]
    budgets: list[K8sObject]
    limit_ranges: list[K8sObject]
    kustomize: Kustomizations | None = None
    fixed_scale: frozenset[str] = frozenset()
    bases: dict[tuple[str, str, str], Workload] = field(default_factory=dict)


def prepare(obj: K8sObject) -> Workload | Malformed | None:
    """The workload of ``obj``; None for a template that cannot be judged; Malformed when the shape is wrong."""
    if _has_template(obj.doc):
        return None
    try:
        pod_spec, labels = pod_template(obj)
        obj.partial = is_partial(obj, pod_spec)
    except Malformed as exc:
        return exc
    return Workload(obj, pod_spec, labels)  # type: ignore[arg-type]


@dataclass(frozen=True)
class GeneratedFile:
    """A repo file a kustomize configMapGenerator or secretGenerator puts into a ConfigMap or Secret."""

    key: str  # the data key ("" for an env file, whose lines become keys)
    source: str  # repo-relative path
    declared_in: Subject
    production: bool
    env: bool = False


@dataclass
class Kustomizations:
    """What the repository's kustomization files say: which files are patches, which are generated."""

    patches: set[str] = field(default_factory=set)
    # ("configMap" | "secret", generator name) -> the files it is built from
    generated: dict[tuple[str, str], list[GeneratedFile]] = field(default_factory=dict)


def _inside(base: str, entry: str) -> str | None:
    path = posixpath.normpath(posixpath.join(base, entry))
    return None if path == ".." or path.startswith("../") or posixpath.isabs(path) else path


def _generators(doc: dict[str, Any], art: Artifact, out: Kustomizations) -> None:
    base = posixpath.dirname(art.path)
    for kind, key in (("configMap", "configMapGenerator"), ("secret", "secretGenerator")):
        gens = doc.get(key)
        for i, gen in enumerate(gens if isinstance(gens, list) else []):
            if not isinstance(gen, dict) or not isinstance(gen.get("name"), str):
                continue
            where = Subject(path=art.path, line=gens.item_line(i), name=f"{kind}Generator {gen['name']}")
            files = [(f, False) for f in gen.get("files") or [] if isinstance(f, str)]
            envs = list(gen.get("envs") or []) + ([gen["env"]] if isinstance(gen.get("env"), str) else [])
            files += [(f, True) for f in envs if isinstance(f, str)]
            for entry, env in files:
                data_key, _, path = entry.partition("=") if "=" in entry else ("", "", entry)
                source = _inside(base, path)
                if source:
                    name = "" if env else data_key or posixpath.basename(path)
                    generated = GeneratedFile(name, source, where, art.production, env)
                    out.generated.setdefault((kind, gen["name"]), []).append(generated)


def read_kustomizations(ctx: ProbeContext) -> Kustomizations:
    """Every kustomization file of the repository (claimed or not): its patches and generators."""
    out = Kustomizations()
    for art in ctx.all_artifacts:
        if posixpath.basename(art.path) not in KUSTOMIZATION_NAMES:
            continue
        if art.skipped:
            ctx.gap(Subject(path=art.path), f"kustomization skipped ({art.skipped}); its patches are unknown")
            continue
        try:
            doc = yaml_lines.load(ctx.read_text(art))
        except Exception as exc:  # unreadable or malformed: its patches cannot be known
            ctx.gap(Subject(path=art.path), f"kustomization not read ({type(exc).__name__}); its patches unknown")
            continue
        if not isinstance(doc, dict):
            continue
        entries: list[Any] = list(doc.get("patchesStrategicMerge") or [])
        entries += [p.get("path") for p in (doc.get("patches") or []) if isinstance(p, dict)]
        for entry in entries:
            if isinstance(entry, str) and "\n" not in entry and (path := _inside(posixpath.dirname(art.path), entry)):
                out.patches.add(path)
        _generators(doc, art, out)
    return out


def _volume_sources(pod_spec: dict[str, Any]) -> dict[str, list[tuple[str, str, dict[str, str] | None]]]:
    """Volume name -> the ConfigMaps and Secrets it projects: (kind, name, {key: path} or None for all keys)."""
    out: dict[str, list[tuple[str, str, dict[str, str] | None]]] = {}
    for vol in pod_spec.get("volumes") or []:
        if not isinstance(vol, dict) or not isinstance(vol.get("name"), str):
            continue
        projected = vol.get("projected") if isinstance(vol.get("projected"), dict) else {}
        sources = [vol] + [s for s in projected.get("sources") or [] if isinstance(s, dict)]
        for src in sources:
            for kind, name_key in (("configMap", "name"), ("secret", "secretName" if src is vol else "name")):
                ref = src.get(kind)
                if isinstance(ref, dict) and isinstance(ref.get(name_key), str):
                    items = ref.get("items")
                    keys = (
                        {str(i.get("key")): str(i.get("path")) for i in items if isinstance(i, dict)} if items else None
                    )
                    out.setdefault(vol["name"], []).append((kind, ref[name_key], keys))
    return out


def generated_mounts(wl: Workload, kustomize: Kustomizations) -> Iterator[Mount]:
    """Mounts of kustomize-generated files: ConfigMap/Secret volumes and ``envFrom`` of the workload's containers."""
    volumes = _volume_sources(wl.pod_spec)
    for fld, c in containers(wl.pod_spec):
        label = f"{wl.obj.ref} {fld.removesuffix('s')} {c.get('name')}"
        mounts = c.get("volumeMounts")
        for i, vm in enumerate(mounts if isinstance(mounts, list) else []):
            if not isinstance(vm, dict) or not isinstance(vm.get("mountPath"), str):
                continue
            where = Subject(path=wl.obj.path, line=mounts.item_line(i), name=label)
            for kind, ref, keys in volumes.get(str(vm.get("name")), []):
                for gf in kustomize.generated.get((kind, ref), []):
                    if gf.env or (keys is not None and gf.key not in keys):
                        continue
                    rel = keys[gf.key] if keys is not None else gf.key
                    sub = vm.get("subPath")
                    if sub and sub != rel:
                        continue
                    target = vm["mountPath"] if sub else posixpath.join(vm["mountPath"], rel)
                    production = wl.obj.production and gf.production
                    yield Mount(wl.obj.ref, gf.source, target, where, production, MOUNT_KINDS[kind])
        env_from = c.get("envFrom")
        for i, ref in enumerate(env_from if isinstance(env_from, list) else []):
            if not isinstance(ref, dict):
                continue
            where = Subject(path=wl.obj.path, line=env_from.item_line(i), name=label)
            for kind in ("configMap", "secret"):
                target_ref = ref.get(f"{kind}Ref")
                name = target_ref.get("name") if isinstance(target_ref, dict) else None
                for gf in kustomize.generated.get((kind, str(name)), []):
                    production = wl.obj.production and gf.production
                    # A secretGenerator's source is a secret file however it is consumed.
                    as_kind = "secret" if kind == "secret" else "env_file"
                    yield Mount(wl.obj.ref, gf.source, "(environment)", where, production, as_kind)


def helm_chart_template(ctx: ProbeContext, path: str) -> bool:
    """True for a file under a ``templates/`` folder of a directory with a Chart.yaml."""
    parts = PurePosixPath(path).parts
    for i, part in enumerate(parts[:-1]):
        if part == "templates" and ctx.artifact(posixpath.join(*parts[:i], "Chart.yaml") if i else "Chart.yaml"):
            return True
    return False


class KubernetesProbe(Probe):
    name = "kubernetes"
    check_prefix = "k8s"
    version = "0.1.0"
    stage = "inventory"  # workloads go into the inventory before the check probes run
    description = "Kubernetes manifests: pod security, resources, probes, NetworkPolicy, HPA, PDB, rollout, RBAC."
    claims = (Claim(MANIFEST_GLOBS, sniff=MANIFEST_SNIFF),)
    checks = ALL_CHECKS
    settings_schema = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "fixed_scale": {
                "description": "Workloads (Kind/name) that run a fixed number of replicas on purpose, e.g. a "
                "leader-elected controller: k8s.autoscaling is not_applicable for them.",
                "type": "array",
                "items": {"type": "string", "pattern": "^(Deployment|StatefulSet)/[^/]+$"},
                "uniqueItems": True,
            }
        },
    }

    def run(self, ctx: ProbeContext) -> Iterator[Observation]:
        kustomize = read_kustomizations(ctx)
        objects: list[K8sObject] = []
        for art in ctx.artifacts:
            with ctx.guard(art):
                found = yield from self._load(ctx, art, art.path in kustomize.patches)
                objects.extend(found)
        claimed = {a.path for a in ctx.artifacts}
        for art in ctx.all_artifacts:
            # A chart template whose first 8 KiB show no apiVersion/kind (an include of a library
            # chart, say) still renders workloads: say so rather than miss it.
            unseen = art.path not in claimed and art.vcs is not VcsState.IGNORED
            if unseen and art.path.endswith((".yaml", ".yml")) and helm_chart_template(ctx, art.path):
                yield from self._helm(ctx, art, "under a Helm chart's templates/ folder")
        yield from self._judge(ctx, objects, kustomize)

    def _load(self, ctx: ProbeContext, art: Artifact, patch: bool) -> Iterator[Observation]:
        """Yield observations for files that cannot be judged; return the objects of the others."""
        text = ctx.read_text(art)
        if helm_chart_template(ctx, art.path):
            yield from self._helm(ctx, art, "under a Helm chart's templates/ folder")
            return []
        try:
            docs = yaml_lines.load_all(text)
        except yaml.YAMLError as exc:
            if "{{" in text:
                yield from self._helm(ctx, art, "contains {{ template }} expressions and is not plain YAML")
                return []
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            subject = Subject(path=art.path, line=yaml_lines.error_line(exc))
            ctx.emitted.extend(ctx.errors(subject, f"not valid YAML: {problem}", art.production))
            return []
        objs = [K8sObject(d, art.path, art.production, patch) for doc in docs for d in _flatten(doc)]
        return [o for o in objs if o.kind not in ("Kustomization", "Component")]

    def _helm(self, ctx: ProbeContext, art: Artifact, why: str) -> Iterator[Observation]:
        msg = f"Helm template, not rendered ({why}): audit the output of `helm template` instead"
        for check in ALL_CHECKS:
            yield ctx.observe(check.id, Status.UNKNOWN, Subject(path=art.path, line=1), msg)

    def _judge(self, ctx: ProbeContext, objects: list[K8sObject], kustomize: Kustomizations) -> Iterator[Observation]:
        by_kind: dict[str, list[K8sObject]] = {}
        for obj in objects:
            by_kind.setdefault(obj.kind, []).append(obj)
        around = Surroundings(
            policies=by_kind.get("NetworkPolicy", []),
            scalers=by_kind.get("HorizontalPodAutoscaler", []) + by_kind.get("ScaledObject", []),
            budgets=by_kind.get("PodDisruptionBudget", []),
            limit_ranges=by_kind.get("LimitRange", []),
            kustomize=kustomize,
            fixed_scale=frozenset(ctx.settings.get("fixed_scale") or ()),
        )
        prepared = [(obj, prepare(obj)) for obj in objects if obj.kind in WORKLOAD_KINDS]
        around.bases = {
            (wl.obj.kind, wl.obj.namespace, wl.obj.name): wl
            for _obj, wl in prepared
            if isinstance(wl, Workload) and not wl.obj.partial
        }
        for obj, wl in prepared:
            with ctx.guard(self._artifact(ctx, obj)):  # a bug on one object must not stop the others
                yield from self._workload(ctx, obj, wl, around)
        rbac = [o for o in objects if o.kind in RBAC_ROLE_KINDS + RBAC_BINDING_KINDS]
        for obj in rbac:
            with ctx.guard(self._artifact(ctx, obj)):
                yield from self._rbac(ctx, obj)
        files = sorted({o.path for o in objects})
        production = any(o.production for o in objects)
        if objects and not prepared:
            msg = f"no workload (Deployment, StatefulSet, DaemonSet, Job, CronJob, Pod) in {', '.join(files[:5])}"
            for check in WORKLOAD_CHECKS:
                yield ctx.observe(check.id, Status.NOT_APPLICABLE, Subject(), msg, production=production)
        if objects and not rbac:
            msg = f"no Role, ClusterRole or binding in {', '.join(files[:5])}"
            yield ctx.observe(RBAC_LEAST_PRIVILEGE.id, Status.NOT_APPLICABLE, Subject(), msg, production=production)

    @staticmethod
    def _artifact(ctx: ProbeContext, obj: K8sObject) -> Artifact:
        art = ctx.artifact(obj.path)
        assert art is not None  # every object came from a claimed file
        return art

    def _emit(
        self, ctx: ProbeContext, obj: K8sObject, findings: list[Finding], name: str, whole: bool = False
    ) -> Iterator[Observation]:
        """Observations of ``findings``; of a patch (unless ``whole``) only the failures it states itself."""
        for f in findings:
            status, message = f.status, f.message
            if obj.partial and not whole and not (f.status is Status.FAIL and f.explicit):
                if obj.patch:
                    continue  # a listed patch states only part of the object: the rest is its base's to judge
                status = Status.UNKNOWN
                message = (
                    f"incomplete object (a container has no image) that no kustomization lists as a patch: {message}"
                )
            facts = _plain({"kind": obj.kind, "name": obj.name, "namespace": obj.namespace, **f.facts})
            if obj.partial:
                facts["partial"] = "kustomize patch" if obj.patch else "incomplete"
            yield ctx.observe(f.check, status, obj.subject(f.line, name), message, facts=facts)

    def _malformed(
        self, ctx: ProbeContext, obj: K8sObject, exc: Malformed, checks: tuple[Check, ...]
    ) -> Iterator[Observation]:
        msg = f"malformed {obj.kind}: {exc}"
        ctx.gap(obj.subject(), msg)
        for check in checks:
            yield ctx.observe(check.id, Status.ERROR, obj.subject(), msg)

    def _workload(
        self, ctx: ProbeContext, obj: K8sObject, wl: Workload | Malformed | None, around: Surroundings
    ) -> Iterator[Observation]:
        if wl is None:
            msg = "Helm/Go template expressions ({{ }}) in the object: not rendered, cannot be judged"
            for check in WORKLOAD_CHECKS:
                yield ctx.observe(check.id, Status.UNKNOWN, obj.subject(), msg)
            return
        if isinstance(wl, Malformed):
            yield from self._malformed(ctx, obj, wl, WORKLOAD_CHECKS)
            return
        try:
            defaults = limit_range_defaults(wl, around.limit_ranges)
            per_container = [(fld, c, judge_container(wl, fld, c, defaults)) for fld, c in containers(wl.pod_spec)]
            pod_level = [
                judge_host_namespaces(wl),
                judge_network_policy(wl, around.policies),
                judge_autoscaling(wl, around.scalers, around.fixed_scale),
                judge_disruption_budget(wl, around.budgets, around.scalers),
                judge_rollout(wl),
                judge_restart(wl),
            ]
        except Malformed as exc:
            yield from self._malformed(ctx, obj, exc, WORKLOAD_CHECKS)
            return
        for fld, c, findings in per_container:
            label = {"containers": "container", "initContainers": "initContainer"}.get(fld, "ephemeralContainer")
            yield from self._emit(ctx, obj, findings, f"{obj.ref} {label} {c.get('name')}")
        yield from self._emit(ctx, obj, pod_level, obj.ref)
        base = around.bases.get((obj.kind, obj.namespace, obj.name))
        if obj.partial and "replicas" in wl.spec and base is not None:
            # A patch that changes the replica count changes whether a budget is needed; the
            # pods it selects are the base's.
            merged = Workload(obj, base.pod_spec, base.labels)
            finding = judge_disruption_budget(merged, around.budgets, around.scalers)
            finding = replace(finding, message=f"{finding.message} (pod labels from {base.obj.path}:{base.obj.line})")
            yield from self._emit(ctx, obj, [finding], obj.ref, whole=True)
        if not obj.partial:
            self._inventory(ctx, wl, around.kustomize)

    def _rbac(self, ctx: ProbeContext, obj: K8sObject) -> Iterator[Observation]:
        try:
            finding = judge_role(obj) if obj.kind in RBAC_ROLE_KINDS else judge_binding(obj)
        except Malformed as exc:
            yield from self._malformed(ctx, obj, exc, (RBAC_LEAST_PRIVILEGE,))
            return
        yield from self._emit(ctx, obj, [finding], obj.ref)

    def _inventory(self, ctx: ProbeContext, wl: Workload, kustomize: Kustomizations | None) -> None:
        """The workload as a service, and the kustomize-generated repo files it mounts."""
        regular = [c for fld, c in containers(wl.pod_spec) if fld == "containers"]
        ports = tuple(
            f"{p.get('containerPort')}/{p.get('protocol', 'TCP')}"
            for c in regular
            for p in c.get("ports") or ()
            if isinstance(p, dict)
        )
        ctx.inventory.add_service(
            Service(
                name=wl.obj.ref,
                origin=self.name,
                declared_in=wl.obj.subject(),
                production=wl.obj.production,
                image=str(regular[0].get("image")) if regular else None,
                ports=ports,
                facts={"namespace": wl.obj.namespace, "containers": [str(c.get("name")) for c in regular]},
            )
        )
        for mount in generated_mounts(wl, kustomize) if kustomize else ():
            ctx.inventory.add_mount(mount)
