"""Kustomize generators, the files they put into mounted ConfigMaps and Secrets, and Helm chart templates."""

from __future__ import annotations

import posixpath
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from readiness import yaml_lines
from readiness.inventory import Mount
from readiness.model import Artifact, Subject
from readiness.probe import ProbeContext

from .kubernetes_model import (
    KUSTOMIZATION_NAMES,
    MOUNT_KINDS,
    Workload,
    containers,
)


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
