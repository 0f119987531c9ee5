"""Application code and its configuration: production mode, timeouts, rate limits, CORS, resilience, pooling,
caching, audit logging, feature flags.

Python is parsed with the standard ``ast`` module, so ``requests.get(url)`` without ``timeout=`` or
``DEBUG = True`` in a settings module are found as code, not as text. Other ecosystems are read from what
declares them: dependency manifests (``package.json``, ``go.mod``, ``pom.xml``, ``build.gradle``), Spring
properties, Compose environments; their source is searched for the calls that show a library in use, and a
library that is installed but never seen in use is ``unknown``, not ``pass``. Where the thing may live
outside the code (an API gateway that rate-limits, a mesh that breaks circuits, an agent configured on the
host), absence is ``unknown`` and says so.

This module holds the probe; the checks are declared in app_checks, the facts it collects in app_facts,
and the checks decided from code and configuration in app_code (a class the probe inherits).
"""

from __future__ import annotations

import ast
import json
import posixpath
import re
from collections.abc import Iterator

import yaml

from readiness import safe_load
from readiness.model import Artifact, Check, Observation, Status, Subject
from readiness.probe import ArtifactUnreadable, Probe, ProbeContext

from .app_checks import (
    AUDIT,
    BREAKERS,
    CACHING,
    CHECKS,
    CLAIMS,
    CODE,
    CORS,
    FLAGS,
    LIBRARIES,
    MANIFESTS,
    POOLING,
    PRODUCTION_MODE,
    RATE_LIMITING,
    SKIP,
    TIMEOUTS,
)
from .app_code import CodeChecks
from .app_facts import (
    Found,
    _limiter_setting,
    _line,
    _visible_entry_point,
    cache_services,
    production_environment,
)


class AppProbe(CodeChecks, Probe):
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

    def _library(self, ctx: ProbeContext, found: Found, check: Check, outside: str) -> Iterator[Observation]:
        installed = [(lib, usage) for lib, usage in LIBRARIES[check.id].items() if lib.lower() in found.deps]
        # File by file, not over all the code joined: that copy of every source text was made per check.
        uses = {lib: [(p, m) for p, t in found.code.items() if (m := re.search(usage, t))] for lib, usage in installed}
        used = [(lib, usage) for lib, usage in installed if uses[lib]]
        if check is FLAGS:
            for path, text in found.flag_files:
                for m in re.finditer(
                    r"(?im)^\s*([\w.-]*(test|debug|tmp|temp|experiment)[\w.-]*)\s*:\s*(true|on|yes)\b", text
                ):
                    message = f"flag {m.group(1)} is on in {path}"
                    yield ctx.observe(check.id, Status.FAIL, Subject(path=path, line=_line(text, m)), message)
        if used:
            for lib, usage in used:
                # the use in production code, not the first match (rateLimiter.test.ts before rateLimiter.ts)
                path, m = next(((p, m) for p, m in uses[lib] if (a := ctx.artifact(p)) and a.production), uses[lib][0])
                line = _line(found.code[path], m)
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
