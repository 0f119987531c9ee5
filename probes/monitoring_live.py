"""A running Prometheus and Alertmanager, asked over their HTTP APIs: are targets up, are critical alerts
firing, are SLOs burning, are notifications going out?

Targets come from ``live.monitoring`` (or ``--prometheus URL``)::

    live:
      monitoring:
        prometheus: http://prometheus:9090
        alertmanager: http://alertmanager:9093
        slo_alerts: "(?i)burn|slo|error.?budget"    # which alert names are SLO alerts

Prometheus answers ``/api/v1/targets``, ``/api/v1/alerts`` and ``/api/v1/rules``; Alertmanager's own
``/metrics`` count the notifications it sent and the ones that failed. Every answer is bounded in time and
size; a server that is down or answers nonsense is an ``error`` for the checks it was to decide.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from readiness import budget
from readiness.model import Check, Observation, Status, Strength, Subject
from readiness.probe import CliOption, Probe, ProbeContext


def _check(key: str, title: str, rationale: str, remediation: str) -> Check:
    return Check(f"monitoring_live.{key}", title, rationale, remediation, when_absent=Status.UNKNOWN)


TARGETS_UP = _check(
    "targets_up",
    "Prometheus reports every production scrape target up",
    "A target that is down sends no metrics: its alerts cannot fire, so the outage they watch for goes unseen.",
    "Fix or remove the targets that are down.",
)
NO_CRITICAL = _check(
    "no_critical_alerts_firing",
    "No critical alert is currently firing",
    "Going live while a critical alert fires ships a known fault, and trains people to ignore the alert.",
    "Resolve the firing critical alerts before going live.",
)
DELIVERED = _check(
    "notifications_delivered",
    "Alertmanager has delivered notifications recently with no failed deliveries",
    "Alert rules that fire into a receiver that fails reach nobody: the page never arrives.",
    "Fix the receivers whose notifications fail.",
)
SLOS_MET = _check(
    "slos_met",
    "Every SLO is within its objective (no error-budget burn alert firing)",
    "An error budget already burning means users are failing now; a release adds risk to a service out of budget.",
    "Find what burns the error budget and fix it.",
)
CHECKS = (TARGETS_UP, NO_CRITICAL, DELIVERED, SLOS_MET)
TIMEOUT = 5.0
MAX_BYTES = 8 * 1024 * 1024
DEFAULT_SLO_ALERTS = r"(?i)burn|slo|error.?budget"

TARGET_SCHEMA = {
    "oneOf": [
        {"type": "string", "pattern": "^https?://"},
        {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "prometheus": {"type": "string", "pattern": "^https?://"},
                "alertmanager": {"type": "string", "pattern": "^https?://"},
                "slo_alerts": {"type": "string"},
                "timeout_seconds": {"type": "number", "exclusiveMinimum": 0, "maximum": 60},
            },
        },
    ]
}


class ApiError(Exception):
    pass


def _get(session: Any, url: str, timeout: float, as_json: bool = True) -> Any:
    import requests

    try:
        # The whole exchange is bounded: a server trickling bytes never trips the per-read timeout.
        with budget.exchange(2 * timeout, url), session.get(url, timeout=(timeout, timeout), stream=True) as response:
            body = response.raw.read(MAX_BYTES, decode_content=True)
            if response.status_code != 200:
                raise ApiError(f"{url} answered HTTP {response.status_code}")
    except budget.ExchangeTimeout as exc:
        raise ApiError(f"{url}: {exc}") from exc
    except requests.RequestException as exc:
        raise ApiError(f"{url}: {type(exc).__name__}") from exc
    if not as_json:
        return body.decode("utf-8", "replace")
    import json

    try:
        data = json.loads(body)
    except ValueError as exc:
        raise ApiError(f"{url} did not answer JSON") from exc
    if not isinstance(data, dict) or data.get("status") != "success":
        raise ApiError(f"{url} did not answer a Prometheus API success")
    return data["data"]


class MonitoringLiveProbe(Probe):
    name = "monitoring_live"
    version = "0.1.0"
    kind = "live"
    description = "A running Prometheus and Alertmanager: targets up, critical alerts, SLO burn, notifications."
    checks = CHECKS
    targets_schema = TARGET_SCHEMA
    cli_options = (
        CliOption(
            "--prometheus",
            "a running Prometheus to ask (targets, alerts, SLO burn)",
            ("live", "monitoring_live"),
            metavar="URL",
        ),
    )

    def run(self, ctx: ProbeContext) -> Iterator[Observation]:
        import requests

        spec = {"prometheus": ctx.targets} if isinstance(ctx.targets, str) else dict(ctx.targets)
        timeout = float(spec.get("timeout_seconds") or TIMEOUT)
        with requests.Session() as session:
            session.trust_env = False
            if spec.get("prometheus"):
                yield from self._prometheus(ctx, session, spec["prometheus"].rstrip("/"), spec, timeout)
            else:
                for check in (TARGETS_UP, NO_CRITICAL, SLOS_MET):
                    yield ctx.observe(check.id, Status.UNKNOWN, Subject(), "no prometheus URL in live.monitoring_live")
            if spec.get("alertmanager"):
                yield self._alertmanager(ctx, session, spec["alertmanager"].rstrip("/"), timeout)
            else:
                yield ctx.observe(
                    DELIVERED.id, Status.UNKNOWN, Subject(), "no alertmanager URL in live.monitoring_live"
                )

    def _prometheus(self, ctx, session, base: str, spec: dict, timeout: float) -> Iterator[Observation]:
        subject = Subject(endpoint=base)
        try:
            targets = _get(session, f"{base}/api/v1/targets?state=active", timeout)
            alerts = _get(session, f"{base}/api/v1/alerts", timeout)
            rules = _get(session, f"{base}/api/v1/rules?type=alert", timeout)
        except ApiError as exc:
            ctx.emitted.extend(
                ctx.errors(subject, f"Prometheus at {base}: {exc}", checks=(TARGETS_UP.id, NO_CRITICAL.id, SLOS_MET.id))
            )
            return
        active = targets.get("activeTargets") or []
        down = [t for t in active if t.get("health") != "up"]
        facts = {
            "targets": len(active),
            "down": [f"{t.get('labels', {}).get('job')}/{t.get('labels', {}).get('instance')}" for t in down],
        }
        production = sorted({s.name for s in ctx.inventory.services if s.production})
        jobs = " ".join(
            f"{t.get('labels', {}).get('job', '')} {t.get('labels', {}).get('instance', '')}" for t in active
        )
        missing = [s for s in production if s not in jobs]
        if down:
            message = f"{len(down)} of {len(active)} targets down: " + ", ".join(facts["down"][:5])
            yield ctx.observe(TARGETS_UP.id, Status.FAIL, subject, message, strength=Strength.LIVE, facts=facts)
        elif not active:
            yield ctx.observe(
                TARGETS_UP.id,
                Status.FAIL,
                subject,
                "Prometheus has no active target",
                strength=Strength.LIVE,
                facts=facts,
            )
        elif missing:
            message = f"all {len(active)} targets up, but no target for production service(s) {', '.join(missing)}"
            yield ctx.observe(
                TARGETS_UP.id,
                Status.FAIL,
                subject,
                message,
                strength=Strength.LIVE,
                facts={**facts, "unscraped": missing},
            )
        else:
            yield ctx.observe(
                TARGETS_UP.id,
                Status.PASS,
                subject,
                f"all {len(active)} targets up",
                strength=Strength.LIVE,
                facts=facts,
            )
        firing = [a for a in alerts.get("alerts") or [] if a.get("state") == "firing"]
        critical = [a for a in firing if (a.get("labels") or {}).get("severity") == "critical"]
        names = sorted({(a.get("labels") or {}).get("alertname", "?") for a in critical})
        if critical:
            message = f"{len(critical)} critical alert(s) firing: {', '.join(names)}"
            yield ctx.observe(
                NO_CRITICAL.id, Status.FAIL, subject, message, strength=Strength.LIVE, facts={"firing": names}
            )
        else:
            message = f"no critical alert firing ({len(firing)} other alert(s) firing)"
            yield ctx.observe(NO_CRITICAL.id, Status.PASS, subject, message, strength=Strength.LIVE)
        pattern = re.compile(spec.get("slo_alerts") or DEFAULT_SLO_ALERTS)
        slo_rules = [
            r.get("name", "")
            for g in rules.get("groups") or []
            for r in g.get("rules") or []
            if pattern.search(r.get("name", ""))
        ]
        burning = sorted(
            {
                (a.get("labels") or {}).get("alertname", "?")
                for a in firing
                if pattern.search((a.get("labels") or {}).get("alertname", ""))
            }
        )
        if burning:
            message = f"SLO alert(s) firing: {', '.join(burning)}"
            yield ctx.observe(
                SLOS_MET.id, Status.FAIL, subject, message, strength=Strength.LIVE, facts={"burning": burning}
            )
        elif slo_rules:
            message = f"none of the {len(slo_rules)} SLO alert rules is firing"
            yield ctx.observe(
                SLOS_MET.id, Status.PASS, subject, message, strength=Strength.LIVE, facts={"slo_rules": slo_rules}
            )
        else:
            message = "Prometheus has no SLO alert rule (names matching the slo_alerts pattern): nothing shows the SLOs"
            yield ctx.observe(SLOS_MET.id, Status.UNKNOWN, subject, message, strength=Strength.LIVE)

    def _alertmanager(self, ctx, session, base: str, timeout: float) -> Observation:
        subject = Subject(endpoint=base)
        try:
            text = _get(session, f"{base}/metrics", timeout, as_json=False)
        except ApiError as exc:
            return ctx.errors(subject, f"Alertmanager at {base}: {exc}", checks=(DELIVERED.id,))[0]
        sent: dict[str, float] = {}
        failed: dict[str, float] = {}
        for m in re.finditer(
            r'(?m)^alertmanager_notifications(_failed)?_total\{[^}]*integration="([^"]+)"[^}]*\}\s+([0-9.e+]+)', text
        ):
            (failed if m.group(1) else sent)[m.group(2)] = (failed if m.group(1) else sent).get(m.group(2), 0) + float(
                m.group(3)
            )
        facts = {"sent": sent, "failed": failed}
        bad = {k: v for k, v in failed.items() if v > 0}
        if bad:
            message = "failed deliveries: " + ", ".join(f"{k} {v:g}" for k, v in sorted(bad.items()))
            return ctx.observe(DELIVERED.id, Status.FAIL, subject, message, strength=Strength.LIVE, facts=facts)
        if any(v > 0 for v in sent.values()):
            message = "notifications sent, none failed: " + ", ".join(
                f"{k} {v:g}" for k, v in sorted(sent.items()) if v
            )
            return ctx.observe(DELIVERED.id, Status.PASS, subject, message, strength=Strength.LIVE, facts=facts)
        message = "Alertmanager has sent no notification since it started: delivery is not shown"
        return ctx.observe(DELIVERED.id, Status.UNKNOWN, subject, message, strength=Strength.LIVE, facts=facts)
