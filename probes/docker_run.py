"""Containers a repository starts with `docker run` from its own scripts, when that is how it deploys.

Some self-hosted products ship no compose file, chart or manifest: a launcher or install script starts the
container (discourse_docker's ``launcher`` runs ``$docker_path run ... $restart_policy ... $image``). The
flags of that command are the deployment's configuration; their absence is Docker's defaults (a writable
root filesystem, the default capabilities, no memory limit). Variables set in the same script are
substituted, ``${var:-default}`` takes its default; a flag hidden in a variable the script does not set is
not seen, and the message says which variables were left unresolved.

Judged only when the repository ships no other production deployment: a README quick start beside a compose
file is not what production runs.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass, field

from readiness.model import Check, Observation, Status, Subject
from readiness.probe import Claim, Probe, ProbeContext

from .image_defaults import default_user


def _check(key: str, title: str, rationale: str, remediation: str) -> Check:
    return Check(id=f"docker_run.{key}", title=title, rationale=rationale, remediation=remediation)


RESTART = _check(
    "restart_policy",
    "Containers started by the repository's scripts restart on failure",
    "A container that exits stays down until someone notices.",
    "Add --restart unless-stopped (or always / on-failure) to the docker run command.",
)
READ_ONLY = _check(
    "read_only_rootfs",
    "Containers started by the repository's scripts have a read-only root filesystem",
    "A writable root filesystem lets an attacker drop tools and persist changes inside the container.",
    "Add --read-only and mount volumes or --tmpfs for the paths that must be written.",
)
NO_NEW_PRIVILEGES = _check(
    "no_new_privileges",
    "Containers started by the repository's scripts cannot gain new privileges",
    "setuid binaries inside the container can otherwise raise a compromised process to root.",
    "Add --security-opt no-new-privileges to the docker run command.",
)
CAP_DROP = _check(
    "cap_drop_all",
    "Containers started by the repository's scripts drop all Linux capabilities",
    "Docker's default capability set gives a compromised process powers it does not need.",
    "Add --cap-drop ALL and --cap-add only what the process needs; never --privileged.",
)
LIMITS = _check(
    "resource_limits",
    "Containers started by the repository's scripts have memory and CPU limits",
    "One runaway container without limits starves every other process on the host.",
    "Add --memory and --cpus to the docker run command.",
)
RESERVATIONS = _check(
    "resource_reservations",
    "Containers started by the repository's scripts reserve memory or CPU",
    "Without a reservation the container gets whatever is left when the host is busy.",
    "Add --memory-reservation (or --cpu-shares) to the docker run command.",
)
HEALTHCHECK = _check(
    "healthcheck",
    "Containers started by the repository's scripts have a health check",
    "Without a health check a hung process looks as healthy as a working one.",
    "Add --health-cmd (or a HEALTHCHECK in the image) to the docker run command.",
)
NON_ROOT = _check(
    "non_root",
    "Containers started by the repository's scripts run as a non-root user",
    "A container running as root turns any escape or mounted-file mistake into host-level access.",
    "Add --user with a non-root UID, or use an image whose USER is not root.",
)
CHECKS = (RESTART, READ_ONLY, NO_NEW_PRIVILEGES, CAP_DROP, LIMITS, RESERVATIONS, HEALTHCHECK, NON_ROOT)

RUN = re.compile(
    r"(?:^|[;&|(`]\s*|\s)(?:exec\s+|sudo\s+)*(?:docker|podman|\$\{?[A-Za-z_]*docker[A-Za-z_]*\}?)\s+(?:container\s+)?run\s+(?P<args>.*)$",
    re.I,
)
ASSIGN = re.compile(r"^\s*(?:export\s+|local\s+|readonly\s+)?([A-Za-z_]\w*)=(.*)$")
VAR = re.compile(r"\$\{([A-Za-z_]\w*)(?::?-([^}]*))?\}|\$([A-Za-z_]\w*)")
WITH_VALUE = frozenset(
    [
        "-p",
        "--publish",
        "-e",
        "--env",
        "-v",
        "--volume",
        "--name",
        "-h",
        "--hostname",
        "--restart",
        "-u",
        "--user",
        "-m",
        "--memory",
        "--cpus",
        "--memory-reservation",
        "--memory-swap",
        "--security-opt",
        "--cap-drop",
        "--cap-add",
        "--network",
        "--net",
        "--health-cmd",
        "--health-interval",
        "--health-timeout",
        "--health-retries",
        "--health-start-period",
        "--shm-size",
        "--mac-address",
        "--link",
        "-w",
        "--workdir",
        "--entrypoint",
        "--label",
        "-l",
        "--log-driver",
        "--log-opt",
        "--env-file",
        "--mount",
        "--add-host",
        "--dns",
        "--ulimit",
        "--device",
        "--tmpfs",
        "--cpu-shares",
        "-c",
        "--pids-limit",
        "-a",
        "--attach",
        "--platform",
        "--pull",
        "--stop-signal",
        "--stop-timeout",
        "--ip",
        "--expose",
        "--group-add",
        "--cidfile",
        "--runtime",
        "--userns",
        "--ipc",
        "--pid",
        "--uts",
        "--label-file",
        "--gpus",
    ]
)
MAX_BYTES = 256 * 1024


@dataclass
class RunCommand:
    where: Subject
    options: dict[str, list[str]] = field(default_factory=dict)
    image: str | None = None
    unresolved: list[str] = field(default_factory=list)

    def has(self, *names: str) -> bool:
        return any(n in self.options for n in names)

    def values(self, *names: str) -> list[str]:
        return [v for n in names for v in self.options.get(n, [])]

    @property
    def long_running(self) -> bool:
        restart = [v for v in self.values("--restart") if v != "no"]
        return not self.has("--rm") and (bool(restart) or self.has("-d", "--detach"))


def _logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """Lines with backslash continuations joined, each with the number of its first physical line."""
    start, parts = 0, []
    for number, line in enumerate(text.splitlines(), 1):
        if not parts:
            start = number
        if line.rstrip().endswith("\\"):
            parts.append(line.rstrip()[:-1])
            continue
        parts.append(line)
        yield start, " ".join(parts)
        parts = []
    if parts:
        yield start, " ".join(parts)


def _assignments(text: str) -> dict[str, str]:
    """Variables the script sets, where one value is known: `x=${x:-default}` gives its default (what holds
    when no option changed it); a variable set to different values in different branches is left out."""
    seen: dict[str, set[str]] = {}
    defaults: dict[str, str] = {}
    for line in text.splitlines():
        m = ASSIGN.match(line)
        if not m:
            continue
        name, value = m.group(1), m.group(2).strip().strip("'\"")
        if "$(" in value or "`" in value or value.startswith("("):
            seen.setdefault(name, set()).add("\0run-time")  # command output and arrays exist only at run time
            continue
        own = re.fullmatch(r"\$\{" + name + r":?-([^}]*)\}", value)
        if own:
            defaults[name] = own.group(1)
        else:
            seen.setdefault(name, set()).add(value)
    values = {n: next(iter(v)) for n, v in seen.items() if len(v) == 1 and "\0run-time" not in v}
    values.update(defaults)
    return {n: _expand(v, values, []) for n, v in values.items()}


def _expand(text: str, values: dict[str, str], unresolved: list[str]) -> str:
    def sub(m: re.Match) -> str:
        name = m.group(1) or m.group(3)
        if name in values and values[name] != text:
            return values[name]
        if m.group(2) is not None:
            return m.group(2)
        unresolved.append(name)
        return ""

    return VAR.sub(sub, text)


def parse_runs(path: str, text: str) -> list[RunCommand]:
    values = _assignments(text)
    runs = []
    for number, line in _logical_lines(text):
        if line.lstrip().startswith("#"):
            continue
        m = RUN.search(line)
        if not m:
            continue
        unresolved: list[str] = []
        args = _expand(m.group("args"), values, unresolved)
        try:
            tokens = shlex.split(args.split(" && ")[0].split(" | ")[0], comments=True)
        except ValueError:
            continue
        cmd = RunCommand(Subject(path=path, line=number, name="docker run"), unresolved=sorted(set(unresolved)))
        i = 0
        while i < len(tokens):
            tok = tokens[i]
            if "$" in tok or not tok:  # a variable the script does not set: what it adds is not known
                i += 1
                continue
            if not tok.startswith("-"):
                cmd.image = tok
                break
            name, eq, value = tok.partition("=")
            if eq:
                cmd.options.setdefault(name, []).append(value)
            elif name in WITH_VALUE and i + 1 < len(tokens):
                cmd.options.setdefault(name, []).append(tokens[i + 1])
                i += 1
            elif re.fullmatch(r"-[a-z]{2,}", name):  # -dit: bundled single-letter flags
                for letter in name[1:]:
                    cmd.options.setdefault(f"-{letter}", []).append("")
            else:
                cmd.options.setdefault(name, []).append("")
            i += 1
        runs.append(cmd)
    return runs


def judge(cmd: RunCommand) -> Iterator[tuple[Check, Status, str]]:
    hidden = f"; not resolved here: ${', $'.join(cmd.unresolved)}" if cmd.unresolved else ""
    restart = cmd.values("--restart")
    if any(r.split(":")[0] in ("always", "unless-stopped", "on-failure") for r in restart):
        yield RESTART, Status.PASS, f"--restart={restart[0]}"
    else:
        yield RESTART, Status.FAIL, f"no --restart: the container stays down when it exits{hidden}"
    yield (
        (READ_ONLY, Status.PASS, "--read-only")
        if cmd.has("--read-only")
        else (READ_ONLY, Status.FAIL, f"no --read-only: the root filesystem is writable{hidden}")
    )
    nnp = any(v.startswith("no-new-privileges") and not v.endswith("false") for v in cmd.values("--security-opt"))
    yield (
        (NO_NEW_PRIVILEGES, Status.PASS, "--security-opt no-new-privileges")
        if nnp
        else (NO_NEW_PRIVILEGES, Status.FAIL, f"no --security-opt no-new-privileges{hidden}")
    )
    if cmd.has("--privileged"):
        yield CAP_DROP, Status.FAIL, "--privileged: every capability and every device"
    elif any(v.upper() == "ALL" for v in cmd.values("--cap-drop")):
        yield CAP_DROP, Status.PASS, "--cap-drop ALL"
    else:
        yield CAP_DROP, Status.FAIL, f"no --cap-drop ALL: Docker's default capabilities stay{hidden}"
    memory, cpus = cmd.has("-m", "--memory"), cmd.has("--cpus", "--cpu-quota")
    if memory and cpus:
        yield LIMITS, Status.PASS, "--memory and --cpus set"
    else:
        missing = " and ".join(n for n, ok in (("--memory", memory), ("--cpus", cpus)) if not ok)
        yield LIMITS, Status.FAIL, f"no {missing}: the container may take the whole host{hidden}"
    if cmd.has("--memory-reservation", "--cpu-shares", "-c"):
        yield RESERVATIONS, Status.PASS, "a memory reservation or CPU shares set"
    else:
        yield RESERVATIONS, Status.FAIL, f"no --memory-reservation or --cpu-shares{hidden}"
    if cmd.has("--no-healthcheck"):
        yield HEALTHCHECK, Status.FAIL, "--no-healthcheck"
    elif cmd.has("--health-cmd"):
        yield HEALTHCHECK, Status.PASS, "--health-cmd set"
    else:
        yield HEALTHCHECK, Status.UNKNOWN, f"no --health-cmd: the image {cmd.image or '(not resolved)'} decides"
    user = cmd.values("-u", "--user")
    if user:
        root = user[0].split(":")[0] in ("0", "root")
        yield NON_ROOT, Status.FAIL if root else Status.PASS, f"--user {user[0]}"
    elif (known := default_user(cmd.image or "")) is not None:
        status = Status.FAIL if known == "root" else Status.PASS
        yield NON_ROOT, status, f"no --user: the image {cmd.image} runs as {known}"
    else:
        yield NON_ROOT, Status.UNKNOWN, f"no --user: the image {cmd.image or '(not resolved)'} decides"


class DockerRunProbe(Probe):
    name = "docker_run"
    version = "0.1.0"
    kind = "static"
    description = "Containers the repository's own launcher or install scripts start with docker run."
    claims = (Claim(("*.sh", "*.bash", "launcher", "bin/*", "scripts/*", "install*", "deploy*", "setup*", "start*")),)
    checks = CHECKS

    def run(self, ctx: ProbeContext) -> Iterator[Observation]:
        others = [d.name for d in ctx.deployments.production] if ctx.deployments else []
        runs: list[RunCommand] = []
        for art in ctx.artifacts:
            if art.size > MAX_BYTES:
                continue
            with ctx.guard(art):
                text = ctx.read_text(art)
                if "run" in text and "docker" in text.lower():
                    runs += [r for r in parse_runs(art.path, text) if r.long_running and art.production]
        if others or not runs:
            why = (
                f"the repository deploys with {others[0]}: its scripts' docker run commands are not production"
                if others
                else "no script starts a long-running container with docker run"
            )
            for check in CHECKS:
                yield ctx.observe(check.id, Status.NOT_APPLICABLE, Subject(), why)
            return
        for cmd in runs:
            for check, status, message in judge(cmd):
                yield ctx.observe(check.id, status, cmd.where, message, facts={"image": cmd.image})
