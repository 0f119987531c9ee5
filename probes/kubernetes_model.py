"""Kubernetes objects as the manifests declare them: workloads, their pod templates and containers, label selectors."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from readiness import yaml_lines
from readiness.model import Status, Subject

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
    rendered: str = ""  # how helm rendered it from the template at ``path``; its lines are not the template's

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

    @property
    def where(self) -> str:
        """path:line for messages; a rendered object has only its template's path."""
        return self.path if self.rendered else f"{self.path}:{self.line}"

    def subject(self, line: int | None = None, name: str | None = None) -> Subject:
        return Subject(path=self.path, line=None if self.rendered else line or self.line, name=name or self.ref)


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
