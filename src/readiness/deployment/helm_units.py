"""What a Helm chart deployment runs, from its rendering: workloads as units, and which face the outside."""

from __future__ import annotations

from collections.abc import Iterable

import yaml

from ..model import Subject
from .helm import Rendering, kind_of
from .model import Unit

WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "Pod")


def _pod(doc: dict) -> tuple[dict, dict]:
    """(pod spec, pod labels) of a workload object; empty when its shape is not a workload's."""
    spec = doc.get("spec") if isinstance(doc.get("spec"), dict) else {}
    if doc.get("kind") == "Pod":
        meta = doc.get("metadata") if isinstance(doc.get("metadata"), dict) else {}
        return spec, meta.get("labels") or {}
    if doc.get("kind") == "CronJob":
        spec = ((spec.get("jobTemplate") or {}).get("spec") or {}) if isinstance(spec.get("jobTemplate"), dict) else {}
    template = spec.get("template") if isinstance(spec.get("template"), dict) else {}
    meta = template.get("metadata") if isinstance(template.get("metadata"), dict) else {}
    pod = template.get("spec") if isinstance(template.get("spec"), dict) else {}
    return pod, meta.get("labels") if isinstance(meta.get("labels"), dict) else {}


def units(r: Rendering) -> tuple[Unit, ...]:
    """The workloads a rendering runs; an entry point when a LoadBalancer/NodePort Service, an Ingress or an
    HTTPRoute reaches its pods."""
    docs = []
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    for template, text in r.documents:
        if kind_of(text) not in (*WORKLOADS, "Service", "Ingress", "HTTPRoute"):
            continue  # a dashboard ConfigMap can be megabytes: parse only what can run or route
        try:
            docs += [(template, d) for d in yaml.load_all(text, Loader=loader) if isinstance(d, dict)]
        except yaml.YAMLError:
            continue  # the kubernetes probe reports it
    routed = {
        str(b.get("name") or b.get("service", {}).get("name"))
        for _, d in docs
        if d.get("kind") in ("Ingress", "HTTPRoute")
        for b in _backends(d.get("spec"))
    }
    open_selectors = [
        (d.get("spec") or {}).get("selector") or {}
        for _, d in docs
        if d.get("kind") == "Service"
        and isinstance(d.get("spec"), dict)
        and (d["spec"].get("type") in ("LoadBalancer", "NodePort") or (d.get("metadata") or {}).get("name") in routed)
    ]
    out = []
    for template, d in docs:
        if d.get("kind") not in WORKLOADS:
            continue
        pod, labels = _pod(d)
        containers = [c for c in pod.get("containers") or () if isinstance(c, dict)]
        ports = tuple(
            f"{p.get('containerPort')}/{p.get('protocol', 'TCP')}"
            for c in containers
            for p in c.get("ports") or ()
            if isinstance(p, dict)
        )
        entry = any(sel and isinstance(sel, dict) and sel.items() <= labels.items() for sel in open_selectors)
        name = f"{d.get('kind')}/{(d.get('metadata') or {}).get('name')}"
        image = str(containers[0].get("image")) if containers and containers[0].get("image") else None
        out.append(Unit(name, image, None, ports, entry, Subject(path=template, name=name)))
    return tuple(out)


def _backends(spec) -> Iterable[dict]:
    """Every backend an Ingress (v1: ``service``) or an HTTPRoute (``backendRefs``) sends traffic to."""
    if not isinstance(spec, dict):
        return
    default = spec.get("defaultBackend")
    if isinstance(default, dict) and isinstance(default.get("service"), dict):
        yield default["service"]
    for rule in spec.get("rules") or ():
        if not isinstance(rule, dict):
            continue
        for path in (rule.get("http") or {}).get("paths") or () if isinstance(rule.get("http"), dict) else ():
            backend = path.get("backend") if isinstance(path, dict) else None
            if isinstance(backend, dict) and isinstance(backend.get("service"), dict):
                yield backend["service"]
        yield from (b for b in rule.get("backendRefs") or () if isinstance(b, dict))
