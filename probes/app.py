"""Application code and its configuration: production mode, timeouts, rate limits, CORS, resilience, pooling,
caching, audit logging, feature flags.

Python is parsed with the standard ``ast`` module, so ``requests.get(url)`` without ``timeout=`` or
``DEBUG = True`` in a settings module are found as code, not as text. Other ecosystems are read from what
declares them: dependency manifests (``package.json``, ``go.mod``, ``pom.xml``, ``build.gradle``), Spring
properties, Compose environments; their source is searched for the calls that show a library in use, and a
library that is installed but never seen in use is ``unknown``, not ``pass``. Where the thing may live
outside the code (an API gateway that rate-limits, a mesh that breaks circuits, an agent configured on the
host), absence is ``unknown`` and says so.
"""

from __future__ import annotations

import ast
import json
import posixpath
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

import yaml

from readiness import safe_load
from readiness.model import Artifact, Check, Observation, Status, Subject
from readiness.probe import ArtifactUnreadable, Claim, Probe, ProbeContext

RATIONALES = {
    "production_mode": "Debug modes show stack traces, settings and sometimes secrets to anyone who triggers an error.",
    "timeouts": "A call without a timeout waits forever on a slow dependency, holding a worker until none is left.",
    "rate_limiting": "Without a limit, one client (or one bug) can exhaust the service for everyone else.",
    "cors_restricted": "A permissive CORS policy lets any web page call the API with the user's credentials.",
    "circuit_breakers": "Retries on a failing dependency multiply its load; a breaker fails fast so it can recover.",
    "connection_pooling": "Opening a database connection per request costs latency and can exhaust the server's slots.",
    "caching": "Recomputing expensive reads on every request wastes capacity that peaks then lack.",
    "audit_logging": "Without a record of who changed what, an incident or a dispute cannot be reconstructed.",
    "feature_flags": "An unmanaged flag turns untested code on in production with no record of who did it.",
}


def _check(key: str, title: str, remediation: str) -> Check:
    return Check(f"app.{key}", title, RATIONALES[key], remediation)


PRODUCTION_MODE = _check(
    "production_mode",
    "Services run in production mode (debug off, NODE_ENV=production, ...)",
    "Turn debug off and set the framework's production mode in the production configuration.",
)
TIMEOUTS = _check(
    "timeouts",
    "Outbound connections (HTTP clients, database) have connect and read timeouts",
    "Pass timeouts to every HTTP client call and database connection.",
)
RATE_LIMITING = _check(
    "rate_limiting",
    "The application rate-limits its API",
    "Add a rate limiter (DRF throttling, slowapi, express-rate-limit, bucket4j) or rate-limit at the gateway.",
)
CORS = _check(
    "cors_restricted",
    "The application's CORS policy allows only known origins",
    "List allowed origins explicitly; never allow all origins with credentials.",
)
BREAKERS = _check(
    "circuit_breakers",
    "Calls to dependencies go through circuit breakers",
    "Wrap calls to dependencies in a circuit breaker (pybreaker, opossum, resilience4j, gobreaker).",
)
POOLING = _check(
    "connection_pooling",
    "The application uses a database connection pool with bounded size",
    "Configure a bounded pool (SQLAlchemy pool_size, CONN_MAX_AGE, HikariCP, SetMaxOpenConns).",
)
CACHING = _check(
    "caching",
    "A caching layer is configured (Redis, Memcached, HTTP caching)",
    "Configure a shared cache (Redis or Memcached) for expensive reads.",
)
AUDIT = _check(
    "audit_logging",
    "The application writes an audit log of authentication events and data-changing API calls",
    "Record who changed what (django-auditlog, Envers, an audit logger on auth and write endpoints).",
)
FLAGS = _check(
    "feature_flags",
    "Feature flags are managed explicitly per environment (no unknown or test flags enabled in production)",
    "Manage flags with a flag service or per-environment files; keep test flags off in production.",
)
CHECKS = (PRODUCTION_MODE, TIMEOUTS, RATE_LIMITING, CORS, BREAKERS, POOLING, CACHING, AUDIT, FLAGS)

SKIP = ("node_modules/", ".venv/", "venv/", "vendor/", "site-packages/", "tests/", "test/", "fixtures/", "dist/")
CODE = (".py", ".js", ".mjs", ".cjs", ".ts", ".tsx", ".jsx", ".go", ".java", ".kt", ".rb")
MANIFESTS = ("requirements.txt", "pyproject.toml", "Pipfile", "package.json", "go.mod", "pom.xml", "Gemfile")
CLAIMS = (
    Claim(tuple(f"*{ext}" for ext in CODE)),
    Claim((*MANIFESTS, "requirements*.txt", "build.gradle", "build.gradle.kts")),
    Claim(("application*.properties", "application*.yml", "application*.yaml", ".env.production", "flags*.y*ml")),
)

# library (as it appears in a manifest) -> what shows it in use in the code
LIBRARIES = {
    RATE_LIMITING.id: {
        "django-ratelimit": r"@ratelimit|ratelimit\(",
        "djangorestframework": r"DEFAULT_THROTTLE_CLASSES|throttle_classes",
        "slowapi": r"Limiter\(",
        "flask-limiter": r"Limiter\(",
        "express-rate-limit": r"rateLimit\(",
        "rate-limiter-flexible": r"RateLimiter\w+\(",
        "@nestjs/throttler": r"ThrottlerModule",
        "bucket4j": r"Bucket4j|Bandwidth",
        "resilience4j-ratelimiter": r"RateLimiter",
        "golang.org/x/time/rate": r"rate\.NewLimiter",
        "tollbooth": r"tollbooth\.",
        "rack-attack": r"Rack::Attack",
    },
    BREAKERS.id: {
        "pybreaker": r"CircuitBreaker\(",
        "circuitbreaker": r"@circuit|CircuitBreaker",
        "aiobreaker": r"CircuitBreaker\(",
        "opossum": r"new CircuitBreaker\(|CircuitBreaker\(",
        "cockatiel": r"circuitBreaker\(",
        "resilience4j-circuitbreaker": r"CircuitBreaker",
        "spring-cloud-starter-circuitbreaker-resilience4j": r"@CircuitBreaker|CircuitBreakerFactory",
        "github.com/sony/gobreaker": r"gobreaker\.NewCircuitBreaker",
        "hystrix": r"@HystrixCommand|hystrix\.",
    },
    AUDIT.id: {
        "django-auditlog": r"auditlog",
        "django-simple-history": r"HistoricalRecords",
        "django-reversion": r"reversion",
        "sqlalchemy-continuum": r"make_versioned",
        "spring-boot-starter-data-envers": r"@Audited",
        "javers": r"Javers",
        "paper_trail": r"has_paper_trail",
        "audited": r"\baudited\b",
    },
    FLAGS.id: {
        "launchdarkly-server-sdk": r"ldclient|LDClient",
        "@launchdarkly/node-server-sdk": r"LaunchDarkly|init\(",
        "UnleashClient": r"UnleashClient",
        "unleash-client": r"initialize\(|startUnleash",
        "flagsmith": r"Flagsmith",
        "openfeature-sdk": r"openfeature|OpenFeature",
        "@openfeature/server-sdk": r"OpenFeature",
        "growthbook": r"GrowthBook",
        "django-waffle": r"waffle",
        "flipper": r"Flipper",
    },
}


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


def _first_match(pattern: str, code: dict[str, str]) -> tuple[str, re.Match[str]] | None:
    """The first file (in the probe's order) where ``pattern`` matches, with the match."""
    for path, text in code.items():
        if m := re.search(pattern, text):
            return path, m
    return None


class AppProbe(Probe):
    name = "app"
    version = "0.1.0"
    kind = "static"
    description = "Application code and config: production mode, timeouts, rate limits, CORS, breakers, pools, caches."
    claims = CLAIMS
    checks = CHECKS
    existential_checks = frozenset(
        {
            "app.rate_limiting",
            "app.circuit_breakers",
            "app.connection_pooling",
            "app.caching",
            "app.audit_logging",
            "app.feature_flags",
        }
    )

    def run(self, ctx: ProbeContext) -> Iterator[Observation]:
        found = Found()
        for art in ctx.artifacts:
            if art.path.startswith(SKIP) or any(f"/{d}" in f"/{art.path}" for d in SKIP):
                continue
            with ctx.guard(art):
                self._read(ctx, art, found)
        found.env += production_environment(ctx)
        found.cache_services += cache_services(ctx)
        if not found.code and not found.deps:
            for check in CHECKS:
                yield ctx.observe(
                    check.id, Status.NOT_APPLICABLE, Subject(), "no application code or dependency manifest here"
                )
            return
        for check, verdicts in (
            (PRODUCTION_MODE, self._production_mode(found)),
            (TIMEOUTS, self._timeouts(found)),
            (CORS, self._cors(found)),
            (POOLING, self._pooling(found)),
            (CACHING, self._caching(found)),
        ):
            emitted = False
            for status, subject, message in verdicts:
                emitted = True
                yield ctx.observe(check.id, status, subject, message)
            if not emitted:
                yield ctx.observe(
                    check.id, Status.UNKNOWN, Subject(), "nothing in the code or configuration shows it either way"
                )
        for check, outside in (
            (RATE_LIMITING, "an API gateway or proxy may rate-limit"),
            (BREAKERS, "a service mesh may break circuits"),
            (AUDIT, "audit events may be written by a platform outside the code"),
            (FLAGS, "flags may live in a service's UI"),
        ):
            yield from self._library(ctx, found, check, outside)

    def _read(self, ctx: ProbeContext, art: Artifact, found: Found) -> None:
        path, name = art.path, posixpath.basename(art.path)
        text = ctx.read_text(art)
        where = Subject(path=path, line=1)
        if name == "package.json":
            data = json.loads(text)
            for section in ("dependencies", "devDependencies"):
                for dep in (data.get(section) or {}) if isinstance(data, dict) else {}:
                    m = re.search(re.escape(f'"{dep}"'), text)
                    found.deps.setdefault(dep.lower(), Subject(path=path, line=_line(text, m) if m else 1))
            for script, command in ((data.get("scripts") or {}) if isinstance(data, dict) else {}).items():
                m = re.search(re.escape(f'"{script}"'), text)
                found.scripts[script] = (str(command), Subject(path=path, line=_line(text, m) if m else 1))
        elif name in MANIFESTS or name.startswith(("requirements", "build.gradle")):
            for m in re.finditer(
                r"(?m)^[\s\"']*([A-Za-z0-9_.\-/@]+[A-Za-z0-9])|<artifactId>([^<]+)</artifactId>|['\"]([\w.\-]+:[\w.\-]+):",
                text,
            ):
                dep = (m.group(1) or m.group(2) or (m.group(3) or "").split(":")[-1]).lower()
                if dep:
                    found.deps.setdefault(dep, Subject(path=path, line=_line(text, m)))
        elif name.startswith("application") or name == ".env.production":
            self._properties(path, text, found)
        elif name.startswith("flags"):
            found.flag_files.append((path, text))
        elif name.endswith(CODE):
            found.code[path] = text
            if name.endswith(".py"):
                try:
                    tree = ast.parse(text, filename=path)
                except SyntaxError as exc:
                    raise ArtifactUnreadable(f"Python does not parse at line {exc.lineno}: {exc.msg}") from exc
                found.python[path] = self._python_facts(path, text, tree)
        _ = where

    @staticmethod
    def _properties(path: str, text: str, found: Found) -> None:
        if path.endswith((".yml", ".yaml")):

            def walk(node, prefix=""):
                if isinstance(node, dict):
                    for k, v in node.items():
                        walk(v, f"{prefix}{k}.")
                else:
                    key = prefix[:-1]
                    m = re.search(re.escape(key.split(".")[-1]) + r"\s*:", text)
                    found.props[key] = (str(node), _line(text, m) if m else 1, path)

            try:
                for doc in safe_load.load_yaml_all(text):
                    walk(doc)
            except yaml.YAMLError as exc:
                raise ArtifactUnreadable(f"YAML does not parse: {str(exc)[:200]}") from exc
            return
        for no, raw in enumerate(text.splitlines(), 1):
            m = re.match(r"^\s*([\w.\-\[\]]+)\s*[=:]\s*(.*)$", raw)
            if m and not raw.lstrip().startswith("#"):
                found.props[m.group(1)] = (m.group(2).strip(), no, path)

    # -- checks decided from code and configuration -----------------------------------------------------

    def _python_facts(self, path: str, text: str, tree: ast.Module) -> PythonFacts:
        # Only these nodes matter to the checks; one walk collects them in ast.walk order.
        nodes = [n for n in ast.walk(tree) if isinstance(n, ast.Assign | ast.Call | ast.Dict)]
        missing, with_timeout = self._timeouts_in(path, nodes)
        return PythonFacts(
            production_mode=list(self._production_mode_in(path, text, nodes)),
            missing_timeouts=missing,
            with_timeouts=with_timeout,
            cors=list(self._cors_in(path, nodes)),
            cors_from_env=_cors_from_env(nodes),
            pooling=list(self._pooling_in(path, nodes)),
        )

    @staticmethod
    def _production_mode_in(path: str, text: str, nodes: list[ast.AST]) -> Iterator[Verdict]:
        settings = "INSTALLED_APPS" in text or posixpath.basename(path).startswith("settings")
        for node in nodes:
            if (
                settings
                and isinstance(node, ast.Assign)
                and any(isinstance(t, ast.Name) and t.id == "DEBUG" for t in node.targets)
            ):
                value = node.value
                if isinstance(value, ast.Constant) and value.value is True:
                    yield Status.FAIL, Subject(path=path, line=node.lineno), "DEBUG = True in a settings module"
                elif isinstance(value, ast.Constant) and value.value is False:
                    yield Status.PASS, Subject(path=path, line=node.lineno), "DEBUG = False"
                elif _env_default(value) is not None:
                    default = _env_default(value)
                    bad = str(default).lower() in ("true", "1", "yes", "on")
                    message = f"DEBUG from the environment, default {default!r}"
                    yield (Status.FAIL if bad else Status.PASS), Subject(path=path, line=node.lineno), message
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "run":
                for kw in node.keywords:
                    if kw.arg == "debug" and isinstance(kw.value, ast.Constant) and kw.value.value is True:
                        yield Status.FAIL, Subject(path=path, line=node.lineno), "app.run(debug=True)"

    def _production_mode(self, found: Found) -> Iterator[Verdict]:
        for facts in found.python.values():
            yield from facts.production_mode
        for svc, key, value, where in found.env:
            if key == "NODE_ENV":
                status = Status.PASS if value == "production" else Status.FAIL
                yield status, where, f"service {svc}: NODE_ENV={value}"
            elif _debug_env(key, value):
                yield Status.FAIL, where, f"service {svc}: {key}={value}"
        start = found.scripts.get("start")
        if start and re.search(r"\bnodemon\b|next dev|vite(?! build| preview)|ts-node-dev", start[0]):
            yield Status.FAIL, start[1], f"npm start runs a development server ({start[0]})"
        profile = found.props.get("spring.profiles.active")
        if profile:
            status = Status.FAIL if re.search(r"\b(dev|local|test)\b", profile[0]) else Status.PASS
            yield status, Subject(path=profile[2], line=profile[1]), f"spring.profiles.active={profile[0]}"

    @staticmethod
    def _timeouts_in(path: str, nodes: list[ast.AST]) -> tuple[list[Subject], list[Subject]]:
        methods = {"get", "post", "put", "patch", "delete", "head", "options", "request"}
        missing: list[Subject] = []
        with_timeout: list[Subject] = []
        for node in nodes:
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
                continue
            owner = node.func.value
            client = owner.id if isinstance(owner, ast.Name) else None
            if (
                client in ("requests", "httpx")
                and node.func.attr in methods
                or (client == "request" and node.func.attr == "urlopen")
            ):
                has = any(kw.arg == "timeout" for kw in node.keywords)
                (with_timeout if has else missing).append(
                    Subject(path=path, line=node.lineno, name=f"{client}.{node.func.attr}")
                )
        return missing, with_timeout

    def _timeouts(self, found: Found) -> Iterator[Verdict]:
        missing = [s for facts in found.python.values() for s in facts.missing_timeouts]
        with_timeout = [s for facts in found.python.values() for s in facts.with_timeouts]
        for path, text in found.code.items():
            if path.endswith(".go"):
                for m in re.finditer(r"\bhttp\.(Get|Post|Head|PostForm)\(|http\.DefaultClient", text):
                    missing.append(Subject(path=path, line=_line(text, m), name=m.group(0)))
                for m in re.finditer(r"http\.Client\{[^}]*Timeout", text):
                    with_timeout.append(Subject(path=path, line=_line(text, m), name="http.Client"))
            elif path.endswith((".js", ".ts", ".mjs", ".cjs", ".tsx", ".jsx")):
                for m in re.finditer(r"axios\.create\(\{[^}]*timeout", text, re.S):
                    with_timeout.append(Subject(path=path, line=_line(text, m), name="axios.create"))
        for subject in missing[:10]:
            yield Status.FAIL, subject, f"{subject.name} without a timeout (it can wait forever)"
        if with_timeout and not missing:
            yield Status.PASS, with_timeout[0], f"{len(with_timeout)} HTTP client call(s), all with timeouts"
        for key in ("spring.datasource.hikari.connection-timeout", "spring.mvc.async.request-timeout"):
            if key in found.props:
                value, line, path = found.props[key]
                yield Status.PASS, Subject(path=path, line=line), f"{key}={value}"

    @staticmethod
    def _cors_in(path: str, nodes: list[ast.AST]) -> Iterator[Verdict]:
        for node in nodes:
            if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id in ("CORS_ALLOW_ALL_ORIGINS", "CORS_ORIGIN_ALLOW_ALL")
                for t in node.targets
            ):
                if isinstance(node.value, ast.Constant) and node.value.value is True:
                    yield (
                        Status.FAIL,
                        Subject(path=path, line=node.lineno),
                        "django-cors-headers allows every origin",
                    )
            elif isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id in ("CORS_ALLOWED_ORIGINS", "CORS_ORIGIN_WHITELIST")
                for t in node.targets
            ):
                yield Status.PASS, Subject(path=path, line=node.lineno), "django-cors-headers with an origin list"
            elif isinstance(node, ast.Call):
                args = {kw.arg: kw.value for kw in node.keywords}
                if "allow_origins" in args:
                    wildcard = isinstance(args["allow_origins"], ast.List) and any(
                        isinstance(e, ast.Constant) and e.value == "*" for e in args["allow_origins"].elts
                    )
                    creds = (
                        isinstance(args.get("allow_credentials"), ast.Constant)
                        and args["allow_credentials"].value is True
                    )
                    status = Status.FAIL if wildcard and creds else Status.PASS
                    message = (
                        "allow_origins=['*'] with allow_credentials=True"
                        if status is Status.FAIL
                        else "CORSMiddleware with " + ("a wildcard, no credentials" if wildcard else "an origin list")
                    )
                    yield status, Subject(path=path, line=node.lineno), message

    def _cors(self, found: Found) -> Iterator[Verdict]:
        for path, facts in found.python.items():
            yield from facts.cors
            for line, name, default in facts.cors_from_env:
                verdict = _judge_env_switch(path, line, name, default, found)
                if verdict is not None:
                    yield verdict
        for path, text in found.code.items():
            if path.endswith((".js", ".ts", ".mjs", ".cjs")):
                m = re.search(r"cors\(\s*\{[^}]*origin\s*:\s*true[^}]*credentials\s*:\s*true", text, re.S)
                if m:
                    yield (
                        Status.FAIL,
                        Subject(path=path, line=_line(text, m)),
                        "cors() reflects any origin with credentials",
                    )
            if path.endswith((".java", ".kt")) and (
                m := re.search(r"allowedOrigins\(\s*\"\*\"\s*\)[^;]*allowCredentials\(\s*true", text, re.S)
            ):
                yield (
                    Status.FAIL,
                    Subject(path=path, line=_line(text, m)),
                    'allowedOrigins("*") with allowCredentials(true)',
                )

    @staticmethod
    def _pooling_in(path: str, nodes: list[ast.AST]) -> Iterator[Verdict]:
        for node in nodes:
            if isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in (
                "create_engine",
                "create_async_engine",
            ):
                args = {kw.arg: kw.value for kw in node.keywords}
                pool = args.get("poolclass")
                if isinstance(pool, ast.Name | ast.Attribute) and "NullPool" in ast.unparse(pool):
                    yield (
                        Status.FAIL,
                        Subject(path=path, line=node.lineno),
                        "create_engine(poolclass=NullPool): a new connection per use",
                    )
                else:
                    size = ast.unparse(args["pool_size"]) if "pool_size" in args else "5 (SQLAlchemy's default)"
                    yield Status.PASS, Subject(path=path, line=node.lineno), f"SQLAlchemy pool, pool_size {size}"
            if isinstance(node, ast.Dict):
                keys = [k.value for k in node.keys if isinstance(k, ast.Constant)]
                if "ENGINE" in keys and "django.db.backends" in ast.unparse(node):
                    age = next(
                        (
                            v
                            for k, v in zip(node.keys, node.values, strict=False)
                            if isinstance(k, ast.Constant) and k.value == "CONN_MAX_AGE"
                        ),
                        None,
                    )
                    if age is None or (isinstance(age, ast.Constant) and age.value == 0):
                        yield (
                            Status.FAIL,
                            Subject(path=path, line=node.lineno),
                            "Django DATABASES without CONN_MAX_AGE: a new connection per request",
                        )
                    else:
                        yield (
                            Status.PASS,
                            Subject(path=path, line=node.lineno),
                            f"Django persistent connections (CONN_MAX_AGE={ast.unparse(age)})",
                        )

    def _pooling(self, found: Found) -> Iterator[Verdict]:
        for facts in found.python.values():
            yield from facts.pooling
        for path, text in found.code.items():
            if m := re.search(r"psycopg_pool|asyncpg\.create_pool|new Pool\(|SetMaxOpenConns\(", text):
                yield (
                    Status.PASS,
                    Subject(path=path, line=_line(text, m)),
                    f"connection pool ({m.group(0).rstrip('(')})",
                )
        if key := next((k for k in found.props if k.startswith("spring.datasource.hikari.maximum-pool-size")), None):
            value, line, path = found.props[key]
            yield Status.PASS, Subject(path=path, line=line), f"HikariCP maximum-pool-size {value}"

    def _caching(self, found: Found) -> Iterator[tuple[Status, Subject, str]]:
        for path, text in found.code.items():
            if path.endswith(".py") and (m := re.search(r"django\.core\.cache\.backends\.(\w+)\.(\w+)", text)):
                local = m.group(1) in ("locmem", "dummy")
                status = Status.FAIL if local else Status.PASS
                message = f"Django cache backend {m.group(1)}.{m.group(2)}" + (
                    " (per process: not a shared cache)" if local else ""
                )
                yield status, Subject(path=path, line=_line(text, m)), message
            elif m := re.search(
                r"Cache\(app|flask_caching|@EnableCaching|@Cacheable|cache-manager|node-cache|aiocache", text
            ):
                yield Status.PASS, Subject(path=path, line=_line(text, m)), f"caching in use ({m.group(0)})"
        for key in ("spring.cache.type", "spring.data.redis.host", "spring.redis.host"):
            if key in found.props:
                value, line, path = found.props[key]
                yield Status.PASS, Subject(path=path, line=line), f"{key}={value}"
        for name, image, where in found.cache_services:
            yield Status.PASS, where, f"the production stack runs a cache service: {name} ({image})"

    def _library(self, ctx: ProbeContext, found: Found, check: Check, outside: str) -> Iterator[Observation]:
        installed = [(lib, usage) for lib, usage in LIBRARIES[check.id].items() if lib.lower() in found.deps]
        # File by file, not over all the code joined: that copy of every source text was made per check.
        first_use = {lib: _first_match(usage, found.code) for lib, usage in installed}
        used = [(lib, usage) for lib, usage in installed if first_use[lib]]
        if check is FLAGS:
            for path, text in found.flag_files:
                for m in re.finditer(
                    r"(?im)^\s*([\w.-]*(test|debug|tmp|temp|experiment)[\w.-]*)\s*:\s*(true|on|yes)\b", text
                ):
                    message = f"flag {m.group(1)} is on in {path}"
                    yield ctx.observe(check.id, Status.FAIL, Subject(path=path, line=_line(text, m)), message)
        if used:
            for lib, usage in used:
                path, m = first_use[lib] or (None, None)
                line = _line(found.code[path], m) if path and m else None
                yield ctx.observe(
                    check.id,
                    Status.PASS,
                    Subject(path=path, line=line),
                    f"{lib} is installed and used ({m.group(0) if m else usage})",
                )
            return
        if installed:
            lib = installed[0][0]
            message = f"{lib} is a dependency ({found.deps[lib.lower()].path}) but no use of it was found in the code"
            yield ctx.observe(check.id, Status.UNKNOWN, found.deps[lib.lower()], message)
            return
        if check is BREAKERS and "tenacity" in found.deps:
            yield ctx.observe(
                check.id, Status.UNKNOWN, found.deps["tenacity"], "tenacity retries calls but is not a circuit breaker"
            )
            return
        if check is RATE_LIMITING and (setting := _limiter_setting(found)) is not None:
            path, line, text = setting
            yield ctx.observe(
                check.id, Status.PASS, Subject(path=path, line=line), f"a rate limiter is configured ({text})"
            )
            return
        if check is RATE_LIMITING and (entry := _visible_entry_point(ctx)) is not None:
            where, what = entry
            message = (
                f"no rate limiter in the application, and the way in ({what}) is in the repository: "
                "nothing on the request path limits clients (a proxy that does would be judged by its own probe)"
            )
            yield ctx.observe(check.id, Status.FAIL, where, message)
            return
        yield ctx.observe(check.id, Status.UNKNOWN, Subject(), f"no library for it in the manifests ({outside})")


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
