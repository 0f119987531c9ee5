"""Redis: authentication and protected mode, from redis.conf files and the Redis services of Compose files.

Redis' own defaults decide what an absent setting means: no ``requirepass`` and no ACL users means the
``default`` user needs no password; ``protected-mode`` is on by default (since 3.2), which refuses
non-loopback clients only while no password is set, and ``bind`` defaults to loopback since 7.0. A
``--requirepass ${VAR}`` on a Compose command line counts as configured (the value is the secrets probe's
concern, and never reaches this evidence).
"""

from __future__ import annotations

import posixpath
import re
import shlex
from collections.abc import Iterator
from typing import Any

from readiness.deployment.compose import ServiceView
from readiness.model import Check, Observation, Status, Subject
from readiness.probe import Claim, Probe, ProbeContext

AUTH = Check(
    "redis.auth_required",
    "Redis requires authentication (requirepass or ACL users)",
    "An unauthenticated Redis lets anyone who reaches it read, write and often execute code on the host.",
    "Set requirepass (from a secret) or define ACL users with passwords and disable the default user.",
)
PROTECTED = Check(
    "redis.protected_mode",
    "Redis runs in protected mode or binds only to private interfaces",
    "Protected mode and a loopback or private bind keep Redis off networks it should not face.",
    "Keep protected-mode yes, and bind to loopback or private addresses only.",
)
CHECKS = (AUTH, PROTECTED)
CLAIMS = (Claim(("redis.conf", "*.redis.conf", "**/redis/*.conf", "users.acl", "**/redis/*.acl")),)
REDIS_IMAGES = re.compile(r"(^|/)(redis|redis-stack-server|valkey/valkey|bitnami/redis)(:|@|$)")
ALL_INTERFACES = {"0.0.0.0", "*", "::", "-::*", "::*"}


def settings_of(text: str) -> dict[str, list[tuple[list[str], int]]]:
    """directive -> [(arguments, line)] of a redis.conf (or of ``--directive value`` pairs)."""
    out: dict[str, list[tuple[list[str], int]]] = {}
    for no, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        try:
            words = shlex.split(line)
        except ValueError:
            words = line.split()
        out.setdefault(words[0].lower(), []).append((words[1:], no))
    return out


def from_command(command: Any) -> dict[str, list[tuple[list[str], int]]]:
    words = command if isinstance(command, list) else shlex.split(str(command or ""))
    words = [str(w) for w in words]
    out: dict[str, list[tuple[list[str], int]]] = {}
    for i, word in enumerate(words):
        if word.startswith("--"):
            args = []
            for nxt in words[i + 1 :]:
                if nxt.startswith("--"):
                    break
                args.append(nxt)
            out.setdefault(word[2:].lower(), []).append((args, 0))
    return out


def judge(
    settings: dict[str, list[tuple[list[str], int]]], subject: Subject
) -> Iterator[tuple[Check, Status, Subject, str]]:
    def at(line: int) -> Subject:
        return Subject(path=subject.path, line=line or subject.line, name=subject.name)

    password = settings.get("requirepass")
    users = settings.get("user", [])
    acl_file = settings.get("aclfile")
    default_nopass = [u for u in users if u[0] and u[0][0] == "default" and "nopass" in u[0] and "on" in u[0]]
    if default_nopass:
        yield AUTH, Status.FAIL, at(default_nopass[0][1]), "ACL user default is on with nopass"
    elif password and password[-1][0] and password[-1][0][0]:
        yield AUTH, Status.PASS, at(password[-1][1]), "requirepass is set"
    elif users or acl_file:
        where = (users or acl_file)[0][1]
        yield AUTH, Status.PASS, at(where), "ACL users are defined" + (" in an aclfile" if acl_file else "")
    else:
        yield AUTH, Status.FAIL, subject, "no requirepass and no ACL users: the default user needs no password"
    protected = settings.get("protected-mode")
    bind = settings.get("bind")
    if protected and protected[-1][0][:1] == ["no"]:
        open_bind = not bind or set(bind[-1][0]) & ALL_INTERFACES
        if open_bind:
            yield PROTECTED, Status.FAIL, at(protected[-1][1]), "protected-mode no, and bound to all interfaces"
        else:
            yield PROTECTED, Status.PASS, at(bind[-1][1]), f"protected-mode off, but bound to {' '.join(bind[-1][0])}"
    elif bind and set(bind[-1][0]) & ALL_INTERFACES:
        if password or users or acl_file:
            message = "bound to all interfaces; protected mode stops applying once a password is set"
            yield PROTECTED, Status.FAIL, at(bind[-1][1]), message
        else:
            message = "bound to all interfaces, but protected mode (on by default) refuses outside clients"
            yield PROTECTED, Status.PASS, at(bind[-1][1]), message
    else:
        how = f"bound to {' '.join(bind[-1][0])}" if bind else "protected-mode on (the default)"
        yield PROTECTED, Status.PASS, at((bind or protected or [([], subject.line or 0)])[-1][1]), how


class RedisProbe(Probe):
    name = "redis"
    version = "0.1.0"
    kind = "static"
    description = "Redis authentication (requirepass, ACL users) and protected mode, from redis.conf and Compose."
    claims = CLAIMS
    checks = CHECKS

    def run(self, ctx: ProbeContext) -> Iterator[Observation]:
        for art in ctx.artifacts:
            with ctx.guard(art):
                text = ctx.read_text(art)
                name = posixpath.basename(art.path)
                if name.endswith((".conf", ".acl")):
                    settings = settings_of(text)
                    if name.endswith(".acl"):
                        settings = {"user": settings.get("user", [])}
                    findings = judge(settings, Subject(path=art.path, line=1))
                for check, status, subject, message in findings:
                    yield ctx.observe(check.id, status, subject, message)
        for deployment, view in ctx.compose_services():
            for check, status, subject, message in self._compose(view):
                yield ctx.observe(check.id, status, subject, message, production=deployment.production)

    @staticmethod
    def _compose(view: ServiceView) -> Iterator[tuple[Check, Status, Subject, str]]:
        """One Redis service as its compose project merges it (an override's command counts)."""
        if not REDIS_IMAGES.search(str(view.get("image") or "")):
            return
        subject = view.where("image")
        settings = from_command(view.get("command"))
        mounts_conf = any("redis.conf" in str(v) for v in view.get("volumes") or [])
        if mounts_conf and not settings:
            return  # judged from the mounted redis.conf itself
        env = view.environment()
        if "REDIS_PASSWORD" in env and "requirepass" not in settings:
            settings["requirepass"] = [(["${REDIS_PASSWORD}"], 0)]  # the bitnami image reads it
        for check, status, where, message in judge(settings, subject):
            if check is PROTECTED and "protected-mode" not in settings:
                # The official image's entrypoint starts redis-server with --protected-mode no.
                if view.get("ports"):
                    yield (
                        check,
                        Status.FAIL,
                        view.where("ports"),
                        "the image turns protected mode off and ports are published",
                    )
                else:
                    message = "the image turns protected mode off, but no port is published (Compose networks only)"
                    yield check, Status.PASS, subject, message
                continue
            yield check, status, where if where.path else subject, message
