"""What the app probe collects from the files it reads, and the helpers that read settings and environments."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

from readiness.model import Status, Subject
from readiness.probe import ArtifactUnreadable, ProbeContext

Verdict = tuple[Status, Subject, str]


@dataclass
class PythonFacts:
    """One Python file's verdicts from its syntax tree (walked once; the tree itself is not kept)."""

    production_mode: list[Verdict]
    missing_timeouts: list[Subject]
    with_timeouts: list[Subject]
    cors: list[Verdict]
    pooling: list[Verdict]
    # CORS switches read from the environment: (line, variable, default), judged once the deployment's
    # environment is known
    cors_from_env: list[tuple[int, str, str | None]] = field(default_factory=list)


@dataclass
class Found:
    deps: dict[str, Subject] = field(default_factory=dict)  # lower-cased dependency name -> where declared
    code: dict[str, str] = field(default_factory=dict)  # path -> text of application source
    # path -> what the checks take from a Python file's syntax tree, decided when the file is read:
    # keeping the trees of a large tree's Python files held hundreds of MB.
    python: dict[str, PythonFacts] = field(default_factory=dict)
    props: dict[str, tuple[str, int, str]] = field(default_factory=dict)  # key -> (value, line, path)
    env: list[tuple[str, str, str, Subject]] = field(default_factory=list)  # service, key, value, where
    scripts: dict[str, tuple[str, Subject]] = field(default_factory=dict)
    flag_files: list[tuple[str, str]] = field(default_factory=list)
    cache_services: list[tuple[str, str, Subject]] = field(default_factory=list)  # name, image, where


TRUTHY = frozenset({"true", "1", "yes", "on"})


def _env_reference(value: ast.expr) -> tuple[str, str | None] | None:
    """A setting read from an environment variable (``os.environ.get("X", "False") == "True"``, a helper called
    with the variable's name): the variable, and the default written beside it."""
    if isinstance(value, ast.Compare):
        value = value.left
    if not isinstance(value, ast.Call) or not value.args or not isinstance(value.args[0], ast.Constant):
        return None
    default = value.args[1] if len(value.args) > 1 else None
    return str(value.args[0].value), str(default.value) if isinstance(default, ast.Constant) else None


def _cors_from_env(nodes: list[ast.AST]) -> list[tuple[int, str, str | None]]:
    out = []
    for node in nodes:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id in ("CORS_ALLOW_ALL_ORIGINS", "CORS_ORIGIN_ALLOW_ALL")
            for t in node.targets
        ):
            ref = _env_reference(node.value)
            if ref is not None:
                out.append((node.lineno, *ref))
    return out


def _judge_env_switch(path: str, line: int, name: str, default: str | None, found: Found) -> Verdict | None:
    """The production environment's value of a CORS allow-all switch decides, else its written default."""
    for _svc, key, val, where in found.env:
        if key == name:
            if val.strip().lower() in TRUTHY:
                return Status.FAIL, where, f"{name}={val}: django-cors-headers allows every origin"
            return None
    if default is not None and default.strip().lower() in TRUTHY:
        return Status.FAIL, Subject(path=path, line=line), f"{name} defaults to {default}: every origin allowed"
    return None


def _line(text: str, m: re.Match[str]) -> int:
    return text[: m.start()].count("\n") + 1


CACHE_IMAGES = re.compile(r"(^|/)(memcached|varnish)([:@]|$)")
KEY_VALUE_IMAGES = re.compile(r"(^|/)(redis|valkey|keydb|dragonfly)([:@]|$)")


def cache_services(ctx: ProbeContext) -> list[tuple[str, str, Subject]]:
    """Production compose services that are caches: memcached or varnish whatever their name, a Redis-like
    store whose service name says cache (netbox's redis-cache)."""
    out = []
    for deployment, view in ctx.compose_services():
        image = str(view.get("image") or "")
        if deployment.production and (
            CACHE_IMAGES.search(image) or (KEY_VALUE_IMAGES.search(image) and "cache" in view.name.lower())
        ):
            out.append((view.name, image, view.where("image")))
    return out


def production_environment(ctx: ProbeContext) -> list[tuple[str, str, str, Subject]]:
    """(service, variable, value, where) of every production compose service: its ``environment:`` and the
    ``env_file`` files the repository holds, as its deployment merges them."""
    out: list[tuple[str, str, str, Subject]] = []
    for deployment, view in ctx.compose_services():
        if not deployment.production:
            continue
        for path in view.env_files():
            art = ctx.artifact(path)
            try:
                text = ctx.read_text(art) if art and art.skipped is None else ""
            except ArtifactUnreadable:
                continue
            for n, line in enumerate(text.splitlines(), 1):
                m = re.match(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$", line)
                if m:
                    value = m.group(2).strip("'\"")
                    out.append((view.name, m.group(1), value, Subject(path=path, line=n, name=view.name)))
        for key, value in view.environment().items():
            out.append((view.name, key, value, view.where_env(key)))
    return out


LIMITER_SETTING = re.compile(
    r"(?m)^[ \t]*([A-Z_]*RATE_?LIMIT(?:ER|S|ING)?[A-Z_]*|DEFAULT_THROTTLE_CLASSES)\s*=\s*"
    r"[\[(\"']*[\w.]*(RateLimit|Throttl)"
)


def _limiter_setting(found: Found) -> tuple[str, int, str] | None:
    """A framework or product setting that turns a rate limiter on (SENTRY_RATELIMITER = RedisRateLimiter)."""
    for path, text in found.code.items():
        if m := LIMITER_SETTING.search(text):
            return path, _line(text, m), m.group(0).strip()[:80]
    return None


def _visible_entry_point(ctx: ProbeContext) -> tuple[Subject, str] | None:
    """The production stack's way in, when the repository holds it and it is not a gateway that may rate-limit
    out of our sight (Traefik middlewares, Kong, an API gateway)."""
    gateways = re.compile(r"(^|/)(traefik|kong|envoy|apisix|tyk|krakend|haproxy)([:@]|$)")
    for deployment in ctx.deployments.production if ctx.deployments else ():
        for unit in deployment.units:
            if unit.entry_point and not gateways.search(unit.image or ""):
                where = unit.declared_in or Subject(path=deployment.files[-1], name=unit.name)
                return where, f"service {unit.name}, {unit.image or 'built here'}"
    return None


def _debug_env(key: str, value: str) -> bool:
    """A development setting in a service's environment."""
    if key in ("DJANGO_DEBUG", "DEBUG", "FLASK_DEBUG"):
        return value.lower() in ("1", "true", "yes", "on")
    return key in ("FLASK_ENV", "RAILS_ENV", "APP_ENV", "ASPNETCORE_ENVIRONMENT") and value.lower() in (
        "development",
        "dev",
    )


def _env_default(value: ast.expr) -> object | None:
    """The default of ``os.environ.get("X", default)`` / ``os.getenv("X", default)`` / ``env.bool("X", default=..)``."""
    if not isinstance(value, ast.Call):
        for node in ast.walk(value):
            if isinstance(node, ast.Call):
                return _env_default(node)
        return None
    name = ast.unparse(value.func)
    if not re.search(r"environ\.get|getenv|env\.bool|env\(|config\(", name):
        return None
    for kw in value.keywords:
        if kw.arg == "default" and isinstance(kw.value, ast.Constant):
            return kw.value.value
    if len(value.args) > 1 and isinstance(value.args[1], ast.Constant):
        return value.args[1].value
    return "(none)"
