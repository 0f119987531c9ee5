"""Whether an APM SDK the application depends on is switched on by what the repository ships.

Self-hosted products often bundle a vendor's SDK (Sentry, Datadog, New Relic, Elastic) for their own
cloud and turn it on only when a key is set: ``if (env.DD_API_KEY) tracer.init()``, ``SENTRY_DSN=`` left
empty in ``.env.sample``. Depending on the SDK is then no instrumentation at all.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass

from readiness.deployment.environments import Environment, path_environment, tree_environment
from readiness.model import Subject
from readiness.probe import ArtifactUnreadable, ProbeContext

# The variables without which each vendor's SDK sends nothing. OpenTelemetry has sane defaults: not listed.
ACTIVATION: tuple[tuple[re.Pattern[str], tuple[str, ...]], ...] = (
    (re.compile(r"sentry", re.I), ("SENTRY_DSN",)),
    (re.compile(r"dd-trace|ddtrace|dd-java-agent|DataDog", re.I), ("DD_API_KEY", "DD_TRACE_ENABLED")),
    (re.compile(r"newrelic", re.I), ("NEW_RELIC_LICENSE_KEY",)),
    (re.compile(r"elastic", re.I), ("ELASTIC_APM_SERVER_URL", "ELASTIC_APM_SECRET_TOKEN")),
)
ENV_FILE = re.compile(r"^(\.env(\.[\w-]+)?|[\w-]+\.env|env\.(example|sample|dist))$")
SOURCE = (".py", ".js", ".mjs", ".cjs", ".ts", ".go", ".java", ".rb", ".kt", ".php")
SHIPPED = (Environment.UNNAMED, Environment.PRODUCTION, Environment.EXAMPLE)
MAX_SOURCE_BYTES = 256 * 1024
MAX_SOURCES = 20_000  # bounded on monorepos: past it, an SDK counts as on, as before this check existed


@dataclass(frozen=True)
class Activation:
    on: bool
    subject: Subject | None
    why: str


def activation(ctx: ProbeContext, lib: str) -> Activation:
    """Is ``lib`` on by default? Off only when its key is named somewhere and nothing shipped sets it."""
    names = next((v for pattern, v in ACTIVATION if pattern.search(lib)), ())
    if not names:
        return Activation(True, None, "")
    for _, view in ctx.compose_services():
        for name in names:
            value = view.environment().get(name)
            if value and not value.startswith("${"):
                return Activation(True, view.where_env(name), f"{name} is set for the deployment")
    empty: Subject | None = None
    for art in ctx.all_artifacts:
        base = posixpath.basename(art.path)
        if art.skipped is not None or not ENV_FILE.match(base) or tree_environment(art.path):
            continue
        if path_environment(art.path).environment not in SHIPPED:
            continue  # .env.development, .env.test: not what a deployment starts with
        for number, line in enumerate(_text(ctx, art).splitlines(), 1):
            key, _, value = line.strip().removeprefix("export ").partition("=")
            if key.strip() in names and _:
                if value.strip().strip("'\""):
                    return Activation(True, Subject(path=art.path, line=number), f"{key.strip()} is set")
                empty = empty or Subject(path=art.path, line=number)
    if empty is not None:
        return Activation(False, empty, f"{' or '.join(names)} is left empty")
    mention = _mentioned_in_code(ctx, names)
    if mention is not None:
        return Activation(
            False, mention, f"the code reads {' or '.join(names)}, which nothing the repository ships sets"
        )
    return Activation(True, None, "")


def _mentioned_in_code(ctx: ProbeContext, names: tuple[str, ...]) -> Subject | None:
    pattern = re.compile(r"\b(" + "|".join(map(re.escape, names)) + r")\b")
    seen = 0
    for art in ctx.all_artifacts:
        if art.skipped is not None or not art.path.endswith(SOURCE) or art.size > MAX_SOURCE_BYTES:
            continue
        if tree_environment(art.path):
            continue
        seen += 1
        if seen > MAX_SOURCES:
            return None
        text = _text(ctx, art)
        if m := pattern.search(text):
            return Subject(path=art.path, line=text.count("\n", 0, m.start()) + 1)
    return None


def _text(ctx: ProbeContext, art) -> str:
    try:
        return ctx.read_text(art)
    except ArtifactUnreadable:
        return ""
