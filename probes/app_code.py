"""The app checks decided from code and configuration, as methods the probe inherits."""

from __future__ import annotations

import ast
import posixpath
import re
from collections.abc import Iterator

from readiness.model import Status, Subject

from .app_facts import (
    Found,
    PythonFacts,
    Verdict,
    _cors_from_env,
    _debug_env,
    _env_default,
    _judge_env_switch,
    _line,
)


class CodeChecks:
    """Per-file facts from Python syntax trees, and the checks judged from them and the configuration."""

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
