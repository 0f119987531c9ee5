"""Dockerfiles: runtime user, healthcheck, stop signal, pinned bases, secrets, remote ADD.

Parsed with the ``dockerfile`` package, which wraps BuildKit's own Go parser.
Runtime facts (``USER``, ``HEALTHCHECK``, ``STOPSIGNAL``, ``CMD``) come from
the final stage and the stages it is built ``FROM`` (a stage inherits its
base stage's settings); build facts (base images, secrets, ``ADD``) from every
stage. The compose probe reuses :func:`analyse` and :func:`runtime` to judge
services built from a local Dockerfile.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

import dockerfile as dockerfile_parser

from readiness.model import Artifact, Check, Status, Strength, Subject
from readiness.probe import ArtifactUnreadable, Claim, Probe, ProbeContext

from . import built_here
from .secret_rules import is_location

DOCKERFILE_GLOBS = (
    "Dockerfile",
    "Dockerfile.*",
    "*.Dockerfile",
    "*.dockerfile",
    "Containerfile",
    "Containerfile.*",
    "!*.dockerignore",
)

NON_ROOT = Check(
    id="dockerfile.non_root",
    title="The image's final stage runs as a non-root USER",
    rationale="A process running as root in a container is root on the host once it escapes, and can "
    "modify everything in the image; without USER the base image's user applies, root for most images.",
    remediation="Create an unprivileged user and end the final stage with `USER app` (or a numeric UID other than 0).",
)
HEALTHCHECK = Check(
    id="dockerfile.healthcheck",
    title="The image's final stage declares a HEALTHCHECK",
    rationale="Without a healthcheck the engine only knows the process is running, not that it serves; "
    "orchestrators cannot replace a hung container or hold traffic until it is ready.",
    remediation="Add `HEALTHCHECK CMD <probe command>` to the final stage (and do not set `HEALTHCHECK NONE`).",
)
STOPSIGNAL = Check(
    id="dockerfile.stopsignal",
    title="The stop signal reaches the application (STOPSIGNAL, or an exec-form ENTRYPOINT/CMD)",
    rationale="With a shell-form CMD, /bin/sh is PID 1 and does not forward SIGTERM: the application is "
    "killed after the grace period instead of shutting down cleanly.",
    remediation='Use the exec form (`CMD ["app", "serve"]`), run an init such as tini, '
    "or declare the signal the application handles with STOPSIGNAL.",
)
BASE_PINNED = Check(
    id="dockerfile.base_pinned",
    title="Every base image (FROM) is pinned to a tag other than latest, or to a digest",
    rationale="An unpinned base image changes under the build: rebuilds are not reproducible and can pull "
    "in breaking or malicious changes unnoticed.",
    remediation="Pin each FROM to a version tag, best with its digest: `FROM python:3.12.7-slim@sha256:...`.",
)
NO_SECRETS = Check(
    id="dockerfile.no_secrets",
    title="No secret value is set in ENV or ARG",
    rationale="ENV and ARG values are stored in the image's metadata and history: everyone who can pull "
    "the image can read them.",
    remediation="Pass secrets at run time (compose/Kubernetes secrets, a *_FILE variable) or at build time "
    "with `RUN --mount=type=secret`; rotate any secret that was committed.",
)
NO_REMOTE_ADD = Check(
    id="dockerfile.no_remote_add",
    title="ADD does not fetch remote URLs without a checksum",
    rationale="ADD of a URL downloads whatever the server returns at build time, unverified.",
    remediation="Download with a verified checksum in a RUN step, or use `ADD --checksum=sha256:...`.",
)

ROOT_USERS = frozenset({"0", "root"})
SECRET_NAME = re.compile(
    r"PASSWORD|PASSWD|PASSPHRASE|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|ACCESS_?KEY|CREDENTIAL|AUTH_KEY",
    re.IGNORECASE,
)
# Names that point to a secret (the good pattern) or describe it, not hold it.
NOT_SECRET_SUFFIX = re.compile(
    r"_(FILE|PATH|FILENAME|DIR|URL|URI|ENDPOINT|HOST|PORT|USER|USERNAME|NAME|ID|LENGTH|TTL|EXPIRY|TIMEOUT|ENABLED)$",
    re.IGNORECASE,
)
PLACEHOLDER = re.compile(
    r"^(|changeme|change-me|change_me|placeholder|example|dummy|redacted|none|null|todo|tbd|"
    r"<[^>]*>|[x*.#_-]+|\$\{[^}]*\}|\$[A-Za-z_][A-Za-z0-9_]*)$",
    re.IGNORECASE,
)
REMOTE = re.compile(r"^(https?|ftp)://|^git@|\.git(#.*)?$", re.IGNORECASE)
VARIABLE = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?::?([-+])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))")
SHELLS = frozenset({"sh", "bash", "ash", "dash", "zsh", "/bin/sh", "/bin/bash", "/bin/ash", "/usr/bin/env"})


class DockerfileError(Exception):
    """The Dockerfile cannot be parsed; ``line`` says where, when known."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


@dataclass(frozen=True)
class Instruction:
    """One parsed instruction, as BuildKit's parser split it."""

    cmd: str
    values: tuple[str, ...]
    flags: tuple[str, ...]
    json: bool
    line: int


@dataclass
class Stage:
    """One build stage: its FROM and the instructions up to the next FROM."""

    index: int
    name: str | None
    base: str  # as written, e.g. ${BASE}
    base_resolved: str | None  # ARGs expanded; None when an ARG has no value
    line: int
    platform_flags: tuple[str, ...] = ()
    instructions: list[Instruction] = field(default_factory=list)
    parent: int | None = None  # index of the stage this one is built FROM


@dataclass
class Analysis:
    """A parsed Dockerfile: its stages and the ARGs declared before the first FROM."""

    stages: list[Stage]
    global_args: dict[str, str | None]
    preamble: list[Instruction]  # the ARGs before the first FROM


@dataclass(frozen=True)
class Setting:
    """A runtime setting and the stage instruction that made it (None: not set in this file)."""

    value: Instruction | None
    from_base_image: str | None  # the external image the chain starts from


def parse_repository_tag(image: str) -> tuple[str, str | None]:
    """Repository and tag (or ``sha256:`` digest) of an image reference, as the Docker SDK splits it.

    The SDK is imported here, on first use, because importing it costs a tenth of a second that
    `readiness --help` and audits without Dockerfiles should not pay.
    """
    from docker.utils import parse_repository_tag as split

    return split(image)


def expand(text: str, env: dict[str, str | None]) -> str | None:
    """Expand ``$VAR``/``${VAR}``/``${VAR:-x}``/``${VAR:+x}`` as BuildKit does; None when a variable has no value."""
    missing = False

    def sub(m: re.Match[str]) -> str:
        nonlocal missing
        name = m.group(1) or m.group(4)
        value = env.get(name)
        op, word = m.group(2), m.group(3) or ""
        if op == "-":
            return value if value else word
        if op == "+":
            return word if value else ""
        if value is None:
            missing = True
            return ""
        return value

    out = VARIABLE.sub(sub, text)
    return None if missing else out


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def arg_pairs(ins: Instruction) -> Iterator[tuple[str, str | None]]:
    """The (name, default) pairs of an ARG; default None when absent."""
    for word in ins.values:
        name, eq, default = word.partition("=")
        yield name, _unquote(default) if eq else None


def env_pairs(ins: Instruction) -> Iterator[tuple[str, str]]:
    """The (name, value) pairs of an ENV, both ``ENV A=b C=d`` and legacy ``ENV A b``."""
    vals = ins.values
    for i in range(0, len(vals) - 1, 2):
        yield vals[i], _unquote(vals[i + 1])


def analyse(text: str) -> Analysis:
    """Parse ``text`` into stages; raises :class:`DockerfileError` when BuildKit's parser rejects it."""
    try:
        commands = dockerfile_parser.parse_string(text)
    except dockerfile_parser.GoParseError as exc:
        m = re.search(r"line (\d+)", str(exc))
        raise DockerfileError(f"not a valid Dockerfile: {str(exc)[:200]}", int(m.group(1)) if m else None) from exc
    global_args: dict[str, str | None] = {}
    preamble: list[Instruction] = []
    stages: list[Stage] = []
    for c in commands:
        if not c.cmd:  # BuildKit's parser gives a command with no instruction for a lone backslash
            raise DockerfileError("not a valid Dockerfile: a line with no instruction", c.start_line or None)
        ins = Instruction(c.cmd.upper(), tuple(c.value), tuple(c.flags), bool(c.json), c.start_line)
        if ins.cmd == "FROM":
            if not ins.values:
                raise DockerfileError("FROM without an image", ins.line)
            base = ins.values[0]
            name = ins.values[2] if len(ins.values) >= 3 and ins.values[1].upper() == "AS" else None
            stage = Stage(len(stages), name, base, expand(base, global_args), ins.line, ins.flags)
            known = {s.name.lower(): s.index for s in stages if s.name}
            if stage.base_resolved is not None:
                ref = stage.base_resolved.lower()
                stage.parent = known.get(ref, int(ref) if ref.isdigit() and int(ref) < len(stages) else None)
            stages.append(stage)
        elif not stages:
            if ins.cmd == "ARG":
                global_args.update(arg_pairs(ins))
                preamble.append(ins)
        else:
            stages[-1].instructions.append(ins)
    if not stages:
        raise DockerfileError("no FROM instruction: not a Dockerfile", 1)
    return Analysis(stages, global_args, preamble)


def select_stage(analysis: Analysis, target: str | None = None) -> Stage | None:
    """The stage an image is built from: ``target`` by name, else the last one."""
    if target is None:
        return analysis.stages[-1]
    return next((s for s in analysis.stages if s.name and s.name.lower() == target.lower()), None)


def chain(analysis: Analysis, stage: Stage) -> list[Stage]:
    """``stage`` and the stages it is built FROM, nearest first."""
    out = [stage]
    while out[-1].parent is not None and out[-1].parent not in {s.index for s in out}:
        out.append(analysis.stages[out[-1].parent])
    return out


def runtime(analysis: Analysis, stage: Stage, cmd: str) -> Setting:
    """The last ``cmd`` instruction (USER, HEALTHCHECK, ...) in effect for ``stage``."""
    stages = chain(analysis, stage)
    for s in stages:
        found = [i for i in s.instructions if i.cmd == cmd]
        if found:
            return Setting(found[-1], None)
    return Setting(None, stages[-1].base_resolved or stages[-1].base)


def stage_env(analysis: Analysis, stage: Stage, upto_line: int) -> dict[str, str | None]:
    """Variables visible at ``upto_line`` in ``stage`` (its chain's ENV, its own ARGs), for expansion."""
    env: dict[str, str | None] = {}
    for s in reversed(chain(analysis, stage)):
        for ins in s.instructions:
            if s is stage and ins.line >= upto_line:
                break
            if ins.cmd == "ENV":
                env.update({k: expand(v, env) for k, v in env_pairs(ins)})
            elif ins.cmd == "ARG" and s is stage:
                for name, default in arg_pairs(ins):
                    env[name] = default if default is not None else analysis.global_args.get(name)
    return env


@dataclass(frozen=True)
class Verdict:
    """A decided status with its message and the line of the evidence."""

    status: Status
    message: str
    line: int | None
    facts: dict


def user_verdict(analysis: Analysis, stage: Stage) -> Verdict:
    """Whether ``stage`` runs as a non-root user."""
    setting = runtime(analysis, stage, "USER")
    if setting.value is None:
        return Verdict(
            Status.FAIL,
            f"no USER in the final stage or the stages it builds on: the base image {setting.from_base_image} "
            "decides, root unless it says otherwise",
            stage.line,
            {"base_image": setting.from_base_image},
        )
    ins = setting.value
    raw = ins.values[0] if ins.values else ""
    owner = next(s for s in chain(analysis, stage) if ins in s.instructions)
    value = expand(raw, stage_env(analysis, owner, ins.line))
    if value is None:
        return Verdict(Status.UNKNOWN, f"USER {raw}: a variable has no value, the user is unknown", ins.line, {})
    user = value.split(":", 1)[0].strip()
    facts = {"user": value}
    if user.lower() in ROOT_USERS:
        return Verdict(Status.FAIL, f"USER {value}: runs as root", ins.line, facts)
    if not user:
        return Verdict(Status.UNKNOWN, f"USER {raw}: empty user", ins.line, facts)
    return Verdict(Status.PASS, f"USER {value}: runs as a non-root user", ins.line, facts)


def healthcheck_verdict(analysis: Analysis, stage: Stage) -> Verdict:
    """Whether ``stage`` declares a healthcheck (HEALTHCHECK NONE disables an inherited one)."""
    setting = runtime(analysis, stage, "HEALTHCHECK")
    if setting.value is None:
        return Verdict(
            Status.FAIL,
            f"no HEALTHCHECK in the final stage or the stages it builds on (base image {setting.from_base_image})",
            stage.line,
            {"base_image": setting.from_base_image},
        )
    ins = setting.value
    if ins.values and ins.values[0].upper() == "NONE":
        return Verdict(Status.FAIL, "HEALTHCHECK NONE disables the healthcheck", ins.line, {})
    return Verdict(Status.PASS, "declares a HEALTHCHECK", ins.line, {})


def stopsignal_verdict(analysis: Analysis, stage: Stage) -> Verdict:
    """Whether the stop signal reaches the application."""
    signal = runtime(analysis, stage, "STOPSIGNAL").value
    if signal is not None:
        value = signal.values[0] if signal.values else ""
        return Verdict(Status.PASS, f"STOPSIGNAL {value}", signal.line, {"stop_signal": value})
    entry = runtime(analysis, stage, "ENTRYPOINT").value
    cmd = runtime(analysis, stage, "CMD").value
    process = entry or cmd
    if process is None:
        return Verdict(
            Status.UNKNOWN,
            "no STOPSIGNAL, ENTRYPOINT or CMD: the base image's command decides how SIGTERM is handled",
            stage.line,
            {},
        )
    what = process.cmd
    if not process.json and process.values and process.values[0].lstrip().startswith("exec "):
        return Verdict(
            Status.PASS, f"shell-form {what} starting with exec: the shell hands PID 1 over", process.line, {}
        )
    if not process.json:
        return Verdict(
            Status.FAIL,
            f"shell-form {what}: /bin/sh is PID 1 and does not forward SIGTERM to the application",
            process.line,
            {"form": "shell"},
        )
    argv = process.values
    shell = len(argv) >= 3 and posixpath.basename(argv[0]) in {posixpath.basename(s) for s in SHELLS}
    if shell and argv[1] == "-c" and not argv[2].lstrip().startswith("exec "):
        return Verdict(
            Status.FAIL,
            f"exec-form {what} runs a shell (`{argv[0]} -c`), which does not forward SIGTERM",
            process.line,
            {"form": "exec-shell"},
        )
    return Verdict(
        Status.PASS, f"exec-form {what}: SIGTERM is delivered to the process", process.line, {"form": "exec"}
    )


def base_verdict(analysis: Analysis, stage: Stage) -> Verdict | None:
    """Whether the stage's base image is pinned; None when it builds on an earlier stage or scratch."""
    if stage.parent is not None:
        return None
    if stage.base_resolved is None:
        return Verdict(
            Status.UNKNOWN,
            f"FROM {stage.base}: a build ARG without default decides the image",
            stage.line,
            {"image": stage.base},
        )
    image = stage.base_resolved
    if image.lower() == "scratch":
        return None
    repo, tag = parse_repository_tag(image)
    facts = {"image": image}
    if tag and tag.startswith("sha256:"):
        return Verdict(Status.PASS, f"FROM {image}: pinned by digest", stage.line, facts)
    if not tag:
        return Verdict(Status.FAIL, f"FROM {image}: no tag, so `latest`", stage.line, facts)
    if tag.lower() == "latest":
        return Verdict(Status.FAIL, f"FROM {image}: the `latest` tag moves", stage.line, facts)
    return Verdict(Status.PASS, f"FROM {image}: pinned to tag {tag}", stage.line, facts)


def is_secret_name(name: str) -> bool:
    """Whether a variable name says it holds a secret (``DB_PASSWORD``; not ``DB_PASSWORD_FILE``)."""
    return bool(SECRET_NAME.search(name)) and not NOT_SECRET_SUFFIX.search(name)


def is_literal_secret(name: str, value: str | None) -> bool:
    """A secret-named variable with a literal value that is not a placeholder or a reference."""
    if value is None or not is_secret_name(name):
        return False
    value = value.strip().strip("'\"")
    if is_location(value):
        return False  # GOOGLE_APPLICATION_CREDENTIALS=/run/app/key.json names a file
    return not PLACEHOLDER.match(value) and "${" not in value and not value.startswith("$")


def secret_findings(analysis: Analysis) -> list[tuple[Instruction, str]]:
    """(instruction, variable name) of every ENV/ARG that sets a literal secret value."""
    out: list[tuple[Instruction, str]] = []
    for ins in analysis.preamble + [i for s in analysis.stages for i in s.instructions]:
        pairs = env_pairs(ins) if ins.cmd == "ENV" else arg_pairs(ins) if ins.cmd == "ARG" else ()
        out.extend((ins, name) for name, value in pairs if is_literal_secret(name, value))
    return out


class DockerfileProbe(Probe):
    name = "dockerfile"
    version = "1.0.0"
    kind = "static"
    description = "Dockerfiles: runtime user, healthcheck, stop signal, pinned bases, secrets and remote ADD."
    claims = (Claim(DOCKERFILE_GLOBS),)
    checks = (NON_ROOT, HEALTHCHECK, STOPSIGNAL, BASE_PINNED, NO_SECRETS, NO_REMOTE_ADD)
    # The parser is Go (cgo); the compose probe starts its runtime before the workers fork, and a forked
    # child calling into it can wait forever on a lock a Go thread held (seen at 5k and 50k files).
    fork_safe = False

    def run(self, ctx: ProbeContext):
        for art in ctx.artifacts:
            with ctx.guard(art):
                yield from self._judge(ctx, art)

    def _judge(self, ctx: ProbeContext, art: Artifact) -> Iterator:
        text = ctx.read_text(art)
        try:
            analysis = analyse(text)
        except DockerfileError as exc:
            ctx.emitted.extend(ctx.errors(Subject(path=art.path, line=exc.line), str(exc), art.production))
            return
        strength, extra = _deployment(ctx, art)
        final = analysis.stages[-1]
        stage_name = final.name or f"stage {final.index}"

        def observe(check: Check, v: Verdict, name: str | None = stage_name):
            return ctx.observe(
                check.id,
                v.status,
                Subject(path=art.path, line=v.line, name=name),
                v.message,
                strength=strength,
                facts={**v.facts, **extra},
            )

        yield observe(NON_ROOT, _base_image(art.path, _superseded(ctx, user_verdict(analysis, final), "user")))
        healthcheck = _superseded(ctx, healthcheck_verdict(analysis, final), "health check")
        yield observe(HEALTHCHECK, _base_image(art.path, healthcheck))
        yield observe(STOPSIGNAL, stopsignal_verdict(analysis, final))

        bases = [(s, base_verdict(analysis, s)) for s in analysis.stages]
        judged = [(s, v) for s, v in bases if v is not None]
        for s, v in judged:
            if v.status is Status.FAIL and (
                own := built_here.dockerfile_for(v.facts.get("image", ""), ctx.all_artifacts)
            ):
                v = Verdict(Status.PASS, f"FROM {v.facts['image']}: built by this repository ({own})", v.line, v.facts)
            yield observe(BASE_PINNED, v, s.name or f"stage {s.index}")
        if not judged:
            v = Verdict(Status.NOT_APPLICABLE, "no external base image (scratch only)", final.line, {})
            yield observe(BASE_PINNED, v)

        secrets = secret_findings(analysis)
        for ins, var in secrets:
            message = f"{ins.cmd} {var} sets a literal secret value (stored in the image)"
            v = Verdict(Status.FAIL, message, ins.line, {"variable": var})
            yield observe(NO_SECRETS, v, var)
        if not secrets:
            message = "no ENV or ARG sets a secret-named variable literally"
            yield observe(NO_SECRETS, Verdict(Status.PASS, message, None, {}))

        remote = [
            (ins, src)
            for s in analysis.stages
            for ins in s.instructions
            if ins.cmd == "ADD"
            for src in ins.values[:-1]
            if REMOTE.search(src)
        ]
        for ins, src in remote:
            checksum = any(f.startswith("--checksum=") for f in ins.flags)
            status = Status.PASS if checksum else Status.FAIL
            how = "verified by --checksum" if checksum else "fetched unverified at build time"
            # The URL is named without its query string, which may carry a token.
            url = src.split("?", 1)[0]
            yield observe(NO_REMOTE_ADD, Verdict(status, f"ADD {url}: {how}", ins.line, {"url": url}))
        if not remote:
            yield observe(NO_REMOTE_ADD, Verdict(Status.PASS, "no ADD of a remote URL", None, {}))


def _deployment(ctx: ProbeContext, art: Artifact) -> tuple[Strength, dict]:
    """``deployed`` strength when a production compose service builds from this Dockerfile's folder."""
    if posixpath.basename(art.path) not in ("Dockerfile", "Containerfile"):
        return Strength.DECLARED, {}  # compose names other Dockerfiles explicitly; the inventory keeps only folders
    folder = posixpath.dirname(art.path) or "."
    users = sorted(
        s.name
        for s in ctx.inventory.services
        if s.production and s.build_context is not None and (posixpath.normpath(s.build_context) == folder)
    )
    if users:
        return Strength.DEPLOYED, {"built_by": users}
    return Strength.DECLARED, {}


def read_analysis(ctx: ProbeContext, path: str) -> Analysis:
    """Read and analyse the Dockerfile at repo path ``path`` (for the compose probe)."""
    art = ctx.artifact(path)
    if art is None:
        raise ArtifactUnreadable(f"{path} is not in the audited tree")
    return analyse(ctx.read_text(art))


def _superseded(ctx: ProbeContext, verdict: Verdict, what: str) -> Verdict:
    """An image's missing USER or HEALTHCHECK does not decide when production runs it through Compose or
    Kubernetes: their own settings override the image's, and their probes judge every service."""
    if verdict.status is not Status.FAIL:
        return verdict
    runtimes = sorted(
        {s.origin for s in ctx.inventory.services if s.production and s.origin in ("compose", "kubernetes")}
    )
    if not runtimes:
        return verdict
    runtime = " and ".join(runtimes)
    message = f"the production {runtime} configuration sets the {what} and is judged there; the image alone: "
    message += verdict.message
    return Verdict(Status.NOT_APPLICABLE, message, verdict.line, verdict.facts)


BASE_IMAGE_FILE = re.compile(
    r"(^|/)(Dockerfile[._-]base|base[._-]?Dockerfile|[^/]*\.base\.Dockerfile)$|(^|/)base(-[\w]+)?/Dockerfile$"
)


def _base_image(path: str, verdict: Verdict) -> Verdict:
    """A Dockerfile that builds a base image (Dockerfile.base, base/Dockerfile) is built FROM by the images that
    run; their USER and HEALTHCHECK decide, not the base's."""
    if verdict.status is not Status.FAIL or not BASE_IMAGE_FILE.search(path):
        return verdict
    message = f"a base image other images build FROM: the images that run decide; the base alone: {verdict.message}"
    return Verdict(Status.NOT_APPLICABLE, message, verdict.line, verdict.facts)
