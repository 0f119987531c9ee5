"""Compose projects as deployments: which files Compose merges, what they pull in, which environment each is.

Projects come from three places, strongest first: the configuration, the
commands the repository runs (``docker compose -f a -f b up`` in a deploy
script, ``COMPOSE_FILE`` in ``.env``), and Compose's own defaults per folder
(the base file plus its override, variants stacked on the base when they
redefine its services).
"""

from __future__ import annotations

import dataclasses
import posixpath
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml

from .. import yaml_lines
from ..model import Subject
from .environments import Environment, path_environment, tree_environment, words_environment
from .model import Deployment, Unit
from .starts import StartCommand

COMPOSE_GLOBS = (
    "docker-compose*.yml",
    "docker-compose*.yaml",
    "compose.yml",
    "compose.yaml",
    "compose.*.yml",
    "compose.*.yaml",
    "*.compose.yml",
    "*.compose.yaml",
)
# The order Compose v2 looks for a project's default file, and the override it adds.
BASE_NAMES = ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml")
OVERRIDE_NAMES = {
    "compose.yaml": ("compose.override.yaml", "compose.override.yml"),
    "compose.yml": ("compose.override.yml", "compose.override.yaml"),
    "docker-compose.yaml": ("docker-compose.override.yaml", "docker-compose.override.yml"),
    "docker-compose.yml": ("docker-compose.override.yml", "docker-compose.override.yaml"),
}
PROXY_IMAGES = re.compile(r"(^|/)(nginx|openresty|traefik|caddy|haproxy|envoy|httpd|apache|nginx-proxy|swag)([:@-]|$)")
WEB_PORTS = frozenset({80, 443, 8080, 8443})
# Services an application uses but does not consist of.
BACKING_IMAGES = re.compile(
    r"(^|/)(postgres|postgis|mysql|mariadb|mongo|redis|valkey|memcached|rabbitmq|nats|minio|localstack|mailhog"
    r"|mailpit|maildev|elasticsearch|opensearch|kafka|zookeeper|clickhouse|cassandra|adminer|pgadmin4|azurite"
    r"|fake-gcs-server|s3mock|smtp4dev|dynamodb-local|keycloak)([:@]|$)"
)


class _TolerantLoader(yaml_lines.LineLoader):  # type: ignore[misc]
    """Lines kept; Compose's own tags (!reset, !override) read as the value they wrap."""


def _any_tag(loader: Any, _suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.MappingNode):
        return yaml_lines._mapping(loader, node)
    if isinstance(node, yaml.SequenceNode):
        return yaml_lines._sequence(loader, node)
    return loader.construct_scalar(node)


_TolerantLoader.add_multi_constructor("!", _any_tag)


class ComposeFileError(Exception):
    """A compose file that does not parse; ``line`` is where YAML gave up."""

    def __init__(self, message: str, line: int | None) -> None:
        super().__init__(message)
        self.line = line


def load(text: str) -> Any:
    """A compose document with lines; raises ``ComposeFileError`` when it does not parse."""
    try:
        return yaml.load(text, Loader=_TolerantLoader)
    except yaml.YAMLError as exc:
        problem = str(getattr(exc, "problem", "") or exc).splitlines()[0][:120]
        raise ComposeFileError(f"not valid YAML: {problem}", yaml_lines.error_line(exc)) from exc


@dataclass
class ServiceView:
    """One service as the files of a project merge it, remembering which file and line set each key."""

    name: str
    values: dict[str, Any] = field(default_factory=dict)
    set_at: dict[str, Subject] = field(default_factory=dict)
    declared_at: Subject | None = None
    env_at: dict[str, Subject] = field(default_factory=dict)  # where each environment variable was set

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    def where(self, key: str | None = None) -> Subject:
        return self.set_at.get(key or "", None) or self.declared_at or Subject(name=self.name)

    def where_env(self, var: str) -> Subject:
        return self.env_at.get(var) or self.where("environment")

    def env_files(self) -> list[str]:
        """Repository paths of the service's ``env_file`` entries (those inside the repository)."""
        refs = self.values.get("env_file") or []
        folder = posixpath.dirname(self.where("env_file").path or "")
        out = []
        for ref in [refs] if isinstance(refs, (str, dict)) else refs:
            src = ref.get("path") if isinstance(ref, dict) else ref
            path = repo_path(folder, str(src)) if src else None
            if path:
                out.append(path)
        return out

    def environment(self) -> dict[str, str]:
        return {k: str(v) for k, v in _env_dict(self.values.get("environment")).items()}


def _env_dict(env: Any) -> dict[str, Any]:
    if isinstance(env, dict):
        return {str(k): "" if v is None else v for k, v in env.items()}
    if isinstance(env, list):
        return dict(str(e).split("=", 1) if "=" in str(e) else (str(e), "") for e in env)
    return {}


INTERPOLATION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?-)([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)")


def interpolate(value: str, env: dict[str, str]) -> str:
    """``${VAR}``, ``${VAR:-default}``, ``${VAR-default}`` and ``$VAR`` as Compose reads them from ``.env``."""

    def one(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(4)
        if name in env and (env[name] or m.group(2) != ":-"):
            return env[name]
        return m.group(3) if m.group(2) else m.group(0)

    return INTERPOLATION.sub(one, value)


def merged_services(
    files: tuple[str, ...], docs: dict[str, Any], env: dict[str, str] | None = None
) -> dict[str, ServiceView]:
    """The services of a project merged in file order, as Compose merges them: mappings and environments by key,
    lists of ports and volumes appended, anything else replaced by the later file. Image names are interpolated
    from ``env`` (the project's .env, else its example env file); nothing else is, so no value from .env
    reaches a message."""
    views: dict[str, ServiceView] = {}
    for path in files:
        found = services(docs.get(path))
        for name, svc in found.items():
            if not isinstance(svc, dict):
                continue
            view = views.setdefault(str(name), ServiceView(str(name)))
            line = found.key_line(name) if hasattr(found, "key_line") else None
            view.declared_at = view.declared_at or Subject(path=path, line=line, name=str(name))
            for key, value in svc.items():
                key = str(key)
                where = Subject(path=path, line=svc.key_line(key) if hasattr(svc, "key_line") else line, name=str(name))
                old = view.values.get(key)
                if key == "environment":
                    view.values[key] = {**_env_dict(old), **_env_dict(value)}
                    for i, var in enumerate(_env_dict(value)):
                        line = value.key_line(var) if hasattr(value, "key_line") else None
                        line = value.item_line(i) if hasattr(value, "item_line") else line
                        view.env_at[var] = Subject(path=path, line=line or where.line, name=str(name))
                elif isinstance(old, dict) and isinstance(value, dict):
                    view.values[key] = {**old, **value}
                elif (
                    key in ("ports", "volumes", "expose", "env_file")
                    and isinstance(old, list)
                    and isinstance(value, list)
                ):
                    view.values[key] = old + [v for v in value if v not in old]
                else:
                    view.values[key] = (
                        interpolate(value, env or {}) if key == "image" and isinstance(value, str) else value
                    )
                view.set_at[key] = where
    return views


def services(doc: Any) -> dict[str, Any]:
    found = doc.get("services") if isinstance(doc, dict) else None
    return found if isinstance(found, dict) else {}


@dataclass
class Candidate:
    files: tuple[str, ...]
    reasons: list[str] = field(default_factory=list)
    starts: list[StartCommand] = field(default_factory=list)
    configured: Environment | None = None
    assumed: bool = False  # production only by default or by a quick start, not by a name or a deploy script

    @property
    def folder(self) -> str:
        return posixpath.dirname(self.files[0])


def default_projects(paths: list[str], docs: dict[str, Any]) -> list[Candidate]:
    """Compose's defaults, per folder: the base with its override; other files stacked on the base
    when they redefine one of its services, else on their own."""
    out: list[Candidate] = []
    by_dir: dict[str, list[str]] = {}
    for p in paths:
        by_dir.setdefault(posixpath.dirname(p), []).append(p)
    for _folder, files in sorted(by_dir.items()):
        names = {posixpath.basename(f): f for f in files}
        base_name = next((n for n in BASE_NAMES if n in names), None)
        base = names.get(base_name) if base_name else None
        override = next((names[o] for o in OVERRIDE_NAMES.get(base_name or "", ()) if o in names), None)
        base_services = set(services(docs.get(base))) if base else set()
        if base:
            stack = (base, override) if override else (base,)
            why = f"Compose's default project in {posixpath.dirname(base) or 'the root'}/"
            out.append(Candidate(stack, [why + (" (base and override, merged by Compose)" if override else "")]))
        for f in sorted(files):
            if f in (base, override):
                continue
            if base and base_services & set(services(docs.get(f))) and not _complete(docs.get(f)):
                out.append(Candidate((base, f), [f"{posixpath.basename(f)} redefines services of {base}"]))
            elif _complete(docs.get(f)) or not services(docs.get(f)):
                out.append(Candidate((f,), ["a compose file on its own"]))
            # else: a fragment (services without an image or a build) that only a start command stacks
    return out


def _complete(doc: Any) -> bool:
    """Every service says what it runs (an image or a build): a stack of its own, not an override."""
    found = services(doc)
    return bool(found) and all(
        isinstance(s, dict) and (s.get("image") or s.get("build") or s.get("extends")) for s in found.values()
    )


def _default_of(folder: str, paths: set[str], docs: dict[str, Any]) -> tuple[str, ...]:
    base = next((posixpath.join(folder, n) for n in BASE_NAMES if posixpath.join(folder, n) in paths), None)
    if base is None:
        return ()
    name = posixpath.basename(base)
    override = next(
        (posixpath.join(folder, o) for o in OVERRIDE_NAMES[name] if posixpath.join(folder, o) in paths), None
    )
    return (base, override) if override else (base,)


def candidates(
    paths: list[str], docs: dict[str, Any], starts: list[StartCommand], configured: list[dict[str, Any]]
) -> list[Candidate]:
    """Every project: configured, started by the repository, and Compose's defaults; one per file set."""
    by_files: dict[tuple[str, ...], Candidate] = {}

    def add(files: tuple[str, ...]) -> Candidate:
        return by_files.setdefault(files, Candidate(files))

    for spec in configured:
        files = tuple(posixpath.normpath(f) for f in spec["files"])
        c = add(files)
        if "production" in spec:
            c.configured = Environment.PRODUCTION if spec["production"] else Environment.DEVELOPMENT
        elif spec.get("environment"):
            c.configured = Environment(spec["environment"])
        c.reasons.append("configured in .readiness.yaml")
    known = set(paths)
    for start in starts:
        files = start.files or _default_of(start.folder, known, docs) or _default_of("", known, docs)
        if not files:
            continue
        c = add(files)
        c.starts.append(start)
    for default in default_projects(paths, docs):
        add(default.files).reasons.extend(default.reasons)
    return list(by_files.values())


def _named(c: Candidate) -> tuple[Environment, str] | None:
    for f in c.files:
        tree = tree_environment(f)
        if tree:
            return tree.environment, f"{f} is {tree.reason}"
    names = [(f, words_environment(posixpath.basename(f))) for f in c.files]
    for f, env in names:
        if env is Environment.PRODUCTION:
            return env, f"{posixpath.basename(f)} names production"
    for f, env in reversed(names):
        if env:
            return env, f"{posixpath.basename(f)} names {env}"
    return None


def _start(c: Candidate) -> StartCommand | None:
    """The command that says most about this project: a deploy or install script before a quick start."""
    starting = [s for s in c.starts if s.starts] or c.starts
    return min(starting, key=lambda s: (not s.strong, s.environment is not Environment.PRODUCTION), default=None)


def _backing_only(c: Candidate, docs: dict[str, Any]) -> list[str]:
    """The images of a project that runs only backing services (databases, caches, mail catchers), if it does."""
    views = merged_services(c.files, docs)
    images = [str(v.get("image") or "") for v in views.values()]
    if not views or any(v.get("build") for v in views.values()):
        return []
    return images if all(BACKING_IMAGES.search(i) for i in images) else []


@dataclass
class _Decision:
    candidate: Candidate
    environment: Environment
    reasons: list[str]
    firm: bool = False  # named, configured or started by a deploy/install script
    variant: bool = False  # started by a variant target beside the plain one


def decide(
    cands: list[Candidate], docs: dict[str, Any], unbuilt_dockerfiles: list[str] = ()
) -> list[tuple[Candidate, Environment, list[str]]]:
    """The environment of each project, with the reasons, in a stable order.

    Strongest first: configuration; the project's own file and folder names; the command that starts it (a
    deploy or install script firmly, a README quick start or a Make target softly); then the neighbours: a
    project nothing names or starts is not production where the repository names or starts another one
    in the same place, and a stack of backing services beside an application built elsewhere is the
    developers' dependencies. Anything left is taken as production, and says so.
    """
    first: list[_Decision] = []
    for c in cands:
        reasons = list(dict.fromkeys(c.reasons))
        if c.configured:
            first.append(_Decision(c, c.configured, reasons, True))
            continue
        named, start = _named(c), _start(c)
        if start:
            reasons.append(f"started by {start.where.describe()} ({start.context}: `docker compose {start.verb}`)")
        if named:
            first.append(_Decision(c, named[0], [*reasons, named[1]], True))
        elif start and start.environment is not Environment.UNNAMED:
            first.append(_Decision(c, start.environment, reasons, start.strong))
        elif start:
            first.append(_Decision(c, Environment.PRODUCTION, [*reasons, "the repository starts it"]))
        else:
            folder = path_environment(c.files[-1])
            if folder.environment is not Environment.UNNAMED:
                first.append(_Decision(c, folder.environment, [*reasons, f"{c.files[-1]}: {folder.reason}"], True))
            else:
                first.append(_Decision(c, Environment.UNNAMED, reasons))
    _demote_variants(first)
    firm = [d for d in first if d.environment is Environment.PRODUCTION and d.firm]
    started = [d for d in first if d.environment is Environment.PRODUCTION and d.candidate.starts]
    out = []
    for d in first:
        env, reasons, folder = d.environment, d.reasons, d.candidate.folder
        shadow = next((p for p in firm if p is not d and _within(p.candidate.folder, folder)), None)
        if env is Environment.PRODUCTION and not d.firm and shadow and shadow.candidate.folder == folder:
            env = Environment.DEVELOPMENT
            reasons.append(f"the repository deploys {_name(shadow.candidate.files)} here; this is a quick start")
        elif env is Environment.UNNAMED and not d.variant:
            other = next((p for p in started if p is not d and p.candidate.folder == folder), None)
            backing = _backing_only(d.candidate, docs)
            if shadow:
                env = Environment.DEVELOPMENT
                reasons.append(f"{_name(shadow.candidate.files)} is the production variant; this stack is not")
            elif other:
                reasons.append(f"the repository starts {_name(other.candidate.files)} here; nothing starts this one")
            elif backing and unbuilt_dockerfiles:
                env = Environment.DEVELOPMENT
                reasons.append(
                    f"runs only backing services ({', '.join(sorted(set(backing))[:4])}) for an application "
                    f"the repository builds elsewhere ({unbuilt_dockerfiles[0]}): the developers' dependencies"
                )
            else:
                env = Environment.PRODUCTION
                reasons.append("nothing names another environment: taken as a production stack")
        d.candidate.assumed = env is Environment.PRODUCTION and not d.firm
        out.append((d.candidate, env, reasons))
    return sorted(out, key=lambda t: (not t[1].is_production, t[0].files))


PLAIN_TARGETS = frozenset({"start", "up", "run", "deploy", "install", "prod", "production", "serve", "all"})


def _target(start: StartCommand) -> str | None:
    m = re.search(r"target (\S+)$", start.context)
    return m.group(1) if m else None


def _demote_variants(decisions: list[_Decision]) -> None:
    """`make start` beside `make start-profiling` and `make start-minimal`: the plain target starts the stack,
    the others start variants of it, which are not what production runs."""
    soft = [d for d in decisions if d.environment is Environment.PRODUCTION and not d.firm and d.candidate.starts]
    plain_folders = {d.candidate.folder for d in soft if any(_target(s) in PLAIN_TARGETS for s in d.candidate.starts)}
    for d in soft:
        targets = [_target(s) for s in d.candidate.starts]
        if d.candidate.folder in plain_folders and targets and all(t and t not in PLAIN_TARGETS for t in targets):
            d.environment, d.variant = Environment.UNNAMED, True
            d.reasons.append(f"a variant (make {targets[0]}) beside the plain start target: not production")


def _within(inner: str, outer: str) -> bool:
    """``inner`` is ``outer`` or below it."""
    return inner == outer or outer == "" or inner.startswith(outer + "/")


def deployment(c: Candidate, env: Environment, reasons: list[str], docs: dict[str, Any]) -> Deployment:
    units: dict[str, Unit] = {}
    uses: list[str] = []
    for path in c.files:
        doc = docs.get(path)
        for name, svc in services(doc).items():
            if not isinstance(svc, dict):
                continue
            units[str(name)] = _unit(str(name), svc, path, units.get(str(name)))
            uses.extend(_pulled_in(svc, posixpath.dirname(path)))
        uses.extend(_top_level_files(doc, posixpath.dirname(path)))
    name = _name(c.files)
    publishing = [u for u in units.values() if u.ports and not BACKING_IMAGES.search(u.image or "")]
    if not any(u.entry_point for u in units.values()) and len(publishing) == 1:
        units[publishing[0].name] = dataclasses.replace(publishing[0], entry_point=True)  # the one way in
    return Deployment(
        name=name,
        kind="compose",
        files=c.files,
        environment=env,
        reasons=tuple(reasons),
        units=tuple(units[n] for n in sorted(units)),
        uses=tuple(sorted(set(uses) - set(c.files))),
        started_by=tuple(s.where for s in c.starts),
        assumed=c.assumed,
    )


def _name(files: tuple[str, ...]) -> str:
    return "compose:" + "+".join(files)


def _unit(name: str, svc: dict[str, Any], path: str, before: Unit | None) -> Unit:
    image = str(svc["image"]) if svc.get("image") else (before.image if before else None)
    build = svc.get("build")
    context = build.get("context", ".") if isinstance(build, dict) else build
    folder = posixpath.dirname(path)
    build_path = repo_path(folder, str(context)) if context else (before.build if before else None)
    ports = tuple(_port_text(p) for p in svc.get("ports") or () if p is not None)
    ports = ports or (before.ports if before else ())
    backing = bool(image and BACKING_IMAGES.search(image))
    entry = bool(ports) and not backing and (bool(image and PROXY_IMAGES.search(image)) or any(map(_web_port, ports)))
    return Unit(
        name, image, build_path, ports, entry or bool(before and before.entry_point), Subject(path=path, name=name)
    )


def _port_text(p: Any) -> str:
    if isinstance(p, dict):
        return f"{p.get('host_ip', '')}:{p.get('published', '')}:{p.get('target', '')}".lstrip(":")
    return str(p)


def _web_port(port: str) -> bool:
    target = port.rsplit(":", 1)[-1].split("/")[0]
    return target.isdigit() and int(target) in WEB_PORTS


def repo_path(folder: str, source: str) -> str | None:
    """The repository path a compose path names, or None when it depends on the environment or leaves the repo."""
    if "$" in source or source.startswith("~") or posixpath.isabs(source):
        return None
    joined = posixpath.normpath(posixpath.join(folder, source))
    return None if joined == ".." or joined.startswith("../") else joined


def _pulled_in(svc: dict[str, Any], folder: str) -> Iterator[str]:
    for vol in svc.get("volumes") or ():
        source = None
        if isinstance(vol, str) and ":" in vol and vol.startswith((".", "/", "~", "$")):
            source = vol.split(":")[0]
        elif isinstance(vol, dict) and vol.get("type") == "bind":
            source = str(vol.get("source", ""))
        path = repo_path(folder, source) if source else None
        if path:
            yield path
    env_files = svc.get("env_file") or ()
    for ref in [env_files] if isinstance(env_files, str) else env_files:
        src = ref.get("path") if isinstance(ref, dict) else ref
        path = repo_path(folder, str(src)) if src else None
        if path:
            yield path
    build = svc.get("build")
    context = build.get("context", ".") if isinstance(build, dict) else build
    if context:
        ctx = repo_path(folder, str(context))
        if ctx is not None:
            dockerfile = build.get("dockerfile", "Dockerfile") if isinstance(build, dict) else "Dockerfile"
            df = repo_path(ctx, str(dockerfile))
            if df:
                yield df
    extends = svc.get("extends")
    if isinstance(extends, dict) and extends.get("file"):
        path = repo_path(folder, str(extends["file"]))
        if path:
            yield path


def _top_level_files(doc: Any, folder: str) -> Iterator[str]:
    if not isinstance(doc, dict):
        return
    for kind in ("secrets", "configs"):
        for spec in (doc.get(kind) or {}).values() if isinstance(doc.get(kind), dict) else ():
            if isinstance(spec, dict) and isinstance(spec.get("file"), str):
                path = repo_path(folder, spec["file"])
                if path:
                    yield path
    for inc in doc.get("include") or () if isinstance(doc.get("include"), list) else ():
        refs = inc.get("path") if isinstance(inc, dict) else inc
        for ref in [refs] if isinstance(refs, str) else refs or ():
            path = repo_path(folder, str(ref))
            if path:
                yield path


def built_dockerfiles(files: tuple[str, ...], docs: dict[str, Any]) -> list[str]:
    """The Dockerfiles the project's services build from."""
    out = []
    for path in files:
        for svc in services(docs.get(path)).values():
            if isinstance(svc, dict) and svc.get("build"):
                out += [p for p in _pulled_in({"build": svc["build"]}, posixpath.dirname(path))]
    return out
