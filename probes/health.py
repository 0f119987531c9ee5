"""Live HTTP health endpoints: does each one the user names answer healthy, now?

Targets come from ``live.health`` in ``.readiness.yaml`` (or ``--health URL``)::

    live:
      health:
        - https://api.example.com/healthz
        - url: https://api.example.com/actuator/health
          expect_status: [200]
          body_contains: '"db":"up"'
          headers_from_env: {Authorization: HEALTH_AUTH_HEADER}
          ca_bundle: certs/internal-ca.pem

An endpoint is healthy when it answers with an expected status (any 2xx by
default) and, when the body is JSON with a top-level ``status`` (Spring Boot
Actuator's ``UP``/``DOWN``, the IETF health-check draft's ``pass``/``warn``/
``fail``, ``ok``/``healthy``), that status says so. A 200 whose body says
``DOWN`` is not healthy. Credentials in a URL and header values taken from the
environment never appear in the evidence.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from readiness import budget
from readiness import redact as redact_module
from readiness.model import Check, Observation, Status, Strength, Subject
from readiness.probe import CliOption, Probe, ProbeContext

ENDPOINTS_HEALTHY = Check(
    id="health.endpoints_healthy",
    title="The health endpoints named in the configuration answer healthy",
    rationale="Health endpoints drive restarts and traffic routing; a deployment is verified only when they answer "
    "healthy from where the traffic comes.",
    remediation="Fix the failing dependency the endpoint reports, or the endpoint itself; name every service's "
    "health URL under `live.health` so the audit checks it.",
    when_absent=Status.UNKNOWN,
)

HEALTHY_WORDS = frozenset({"up", "ok", "pass", "passing", "healthy", "green", "serving"})
WARN_WORDS = frozenset({"warn", "warning", "degraded", "yellow"})
UNHEALTHY_WORDS = frozenset({"down", "fail", "failing", "unhealthy", "red", "error", "out_of_service", "not_serving"})
MAX_BODY = 64 * 1024
MAX_REDIRECTS = 5
DEFAULT_TIMEOUT = 5.0

TARGET_OBJECT = {
    "type": "object",
    "additionalProperties": False,
    "required": ["url"],
    "properties": {
        "url": {"type": "string", "pattern": "^https?://"},
        "expect_status": {"type": "array", "items": {"type": "integer", "minimum": 100, "maximum": 599}},
        "body_contains": {"type": "string", "minLength": 1},
        "headers_from_env": {
            "type": "object",
            "description": "header name -> name of the environment variable holding its value",
            "additionalProperties": {"type": "string", "minLength": 1},
        },
        "ca_bundle": {"type": "string", "minLength": 1},
        "timeout_seconds": {"type": "number", "exclusiveMinimum": 0, "maximum": 120},
        "max_latency_ms": {"type": "number", "exclusiveMinimum": 0},
    },
}


@dataclass(frozen=True)
class Target:
    url: str
    expect_status: tuple[int, ...] = ()
    body_contains: str | None = None
    headers_from_env: tuple[tuple[str, str], ...] = ()
    ca_bundle: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    max_latency_ms: float | None = None

    @classmethod
    def of(cls, raw: str | dict[str, Any]) -> Target:
        if isinstance(raw, str):
            return cls(raw)
        return cls(
            raw["url"],
            tuple(raw.get("expect_status") or ()),
            raw.get("body_contains"),
            tuple(sorted((raw.get("headers_from_env") or {}).items())),
            raw.get("ca_bundle"),
            float(raw.get("timeout_seconds") or DEFAULT_TIMEOUT),
            raw.get("max_latency_ms"),
        )

    @property
    def shown(self) -> str:
        """The URL as evidence: no user info, no query values (either may carry a token)."""
        return redact(self.url)


def redact(url: str) -> str:
    """The URL parsed by ``readiness.redact``: no user info, no query values, no fragment."""
    return redact_module.url(url, user=False)


def body_status(body: bytes, content_type: str) -> str | None:
    """The top-level ``status`` of a JSON health document, lower-cased, if there is one."""
    if "json" not in content_type.lower() and not body.lstrip().startswith(b"{"):
        return None
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(doc, dict):
        return None
    value = doc.get("status", doc.get("Status"))
    return str(value).strip().lower() if isinstance(value, str | bool) else None


def judge(target: Target, status: int, body: bytes, content_type: str, latency_ms: float) -> tuple[Status, str]:
    expected = target.expect_status
    if (status not in expected) if expected else not 200 <= status < 300:
        wanted = ", ".join(map(str, expected)) if expected else "2xx"
        return Status.FAIL, f"answered HTTP {status}, expected {wanted}"
    said = body_status(body, content_type)
    if said in UNHEALTHY_WORDS:
        return Status.FAIL, f"answered HTTP {status} but the body's status is {said!r}"
    if target.body_contains is not None and target.body_contains.encode() not in body:
        return Status.FAIL, f"answered HTTP {status} but the body lacks the expected {target.body_contains!r}"
    if target.max_latency_ms is not None and latency_ms > target.max_latency_ms:
        return Status.FAIL, f"answered healthy in {latency_ms:.0f} ms, over the {target.max_latency_ms:g} ms allowed"
    if said in WARN_WORDS:
        return Status.PASS, f"answered HTTP {status}, healthy with warnings (body status {said!r})"
    how = f"body status {said!r}" if said else "no status in the body"
    return Status.PASS, f"answered HTTP {status} ({how})"


class HealthProbe(Probe):
    name = "health"
    version = "0.1.0"
    kind = "live"
    description = "Live HTTP health endpoints named in the configuration: status code and health document."
    checks = (ENDPOINTS_HEALTHY,)
    targets_schema = {"type": "array", "items": {"oneOf": [{"type": "string", "pattern": "^https?://"}, TARGET_OBJECT]}}
    cli_options = (
        CliOption(
            "--health",
            "an HTTP(S) health endpoint that must answer healthy (repeatable)",
            ("live", "health"),
            multiple=True,
            metavar="URL",
        ),
    )

    def run(self, ctx: ProbeContext) -> Iterator[Observation]:
        import requests  # imported when an endpoint is checked, not when the probe loads

        with requests.Session() as session:
            session.max_redirects = MAX_REDIRECTS
            session.trust_env = False  # a proxy from the environment would answer instead of the endpoint
            for raw in ctx.targets or []:
                yield self._check(ctx, session, Target.of(raw))

    def _check(self, ctx: ProbeContext, session: Any, target: Target) -> Observation:
        import requests

        subject = Subject(endpoint=target.shown)
        headers, missing = {}, []
        for header, variable in target.headers_from_env:
            if variable in os.environ:
                headers[header] = os.environ[variable]
            else:
                missing.append(variable)
        if missing:
            reason = f"environment variable(s) {', '.join(missing)} for the request headers are not set"
            return ctx.errors(subject, reason)[0]
        verify: bool | str = str(ctx.root / target.ca_bundle) if target.ca_bundle else True
        start = time.perf_counter()
        deadline = time.monotonic() + 2 * target.timeout
        try:
            with (
                budget.exchange(2 * target.timeout, target.url),  # a trickling server never trips a per-read timeout
                session.get(
                    target.url, headers=headers, timeout=(target.timeout, target.timeout), verify=verify, stream=True
                ) as response,
            ):
                body = _read_body(response.raw, deadline)
                latency_ms = (time.perf_counter() - start) * 1000
                status, message = judge(
                    target, response.status_code, body, response.headers.get("Content-Type", ""), latency_ms
                )
                facts = {
                    "http_status": response.status_code,
                    "body_status": body_status(body, response.headers.get("Content-Type", "")),
                    "latency_ms": round(latency_ms, 1),
                    "redirects": len(response.history),
                    "final_url": redact(response.url),
                }
        except requests.exceptions.SSLError as exc:
            return ctx.errors(subject, f"TLS handshake failed: {_first_line(exc, target.url)}")[0]
        except (budget.ExchangeTimeout, BodyTooLarge) as exc:
            return ctx.errors(subject, str(exc))[0]
        except (requests.Timeout, TimeoutError):
            return ctx.errors(subject, f"no answer within {target.timeout:g} s")[0]
        except requests.TooManyRedirects:
            return ctx.errors(subject, f"more than {MAX_REDIRECTS} redirects")[0]
        except (requests.RequestException, OSError) as exc:
            return ctx.errors(subject, f"request failed: {_first_line(exc, target.url)}")[0]
        return ctx.observe(ENDPOINTS_HEALTHY.id, status, subject, message, strength=Strength.LIVE, facts=facts)


def _first_line(exc: BaseException, url: str) -> str:
    """A short reason that never echoes the URL's secrets: requests puts the URL, query and all, in its
    messages; the secrets are found by parsing the URL (``readiness.redact``), not by a pattern."""
    text = redact_module.scrub(str(exc), url)
    errno = re.search(r"\[Errno -?\d+\] [^'\")]+", text)
    if errno:
        return errno.group(0).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:200]


def _read_body(raw: Any, deadline: float) -> bytes:
    """At most MAX_BODY bytes, and no longer than the deadline: a server trickling its body is not healthy."""
    chunks, size = [], 0
    while size <= MAX_BODY:
        chunk = raw.read(min(8192, MAX_BODY + 1 - size), decode_content=True)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
        if time.monotonic() > deadline:
            raise TimeoutError("the body did not arrive in time")
    if size > MAX_BODY:  # what it says past the cap (a "down" status) is unknown: no verdict from a part
        raise BodyTooLarge(f"the body is over {MAX_BODY // 1024} KiB: not read whole, its health cannot be judged")
    return b"".join(chunks)


class BodyTooLarge(ValueError):
    pass
