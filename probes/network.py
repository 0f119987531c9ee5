"""Exposed ports, verified from the outside: a TCP connect scan of the addresses the user names.

Targets come from ``live.network`` (or ``--scan-host``)::

    live:
      network:
        hosts: [203.0.113.10]
        allowed_ports: [80, 443]
        ports: top100            # or a list; default top100
        timeout_seconds: 1.5

Only the named hosts are scanned, with a bounded number of connections in flight. A port that accepts the
connection is open; one that refuses is closed; one that does not answer within the timeout is filtered.
Every open port outside ``allowed_ports`` fails the check. A host where no port answered at all cannot be
judged: it is down, or everything is filtered.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from typing import Any

from readiness.model import Check, Observation, Status, Strength, Subject
from readiness.probe import CliOption, Probe, ProbeContext

EXPOSED_PORTS = Check(
    "network.exposed_ports_verified",
    "A live scan of the public addresses finds only the allowed ports open",
    "Firewall rules and security groups say what should be reachable; only a scan shows what is.",
    "Close or firewall every open port that is not in the allowed list.",
    when_absent=Status.UNKNOWN,
)
# Ports most often found open on internet hosts: web, remote access, mail, databases, caches, queues,
# container and orchestration APIs, monitoring.
TOP_PORTS = (
    21, 22, 23, 25, 53, 80, 81, 110, 111, 135, 139, 143, 443, 445, 465, 587, 631, 993, 995, 1080, 1433, 1521,
    1723, 1883, 2049, 2375, 2376, 2379, 2380, 3000, 3306, 3389, 4369, 5000, 5044, 5432, 5601, 5672, 5900,
    5984, 6379, 6443, 6667, 7001, 7474, 8000, 8008, 8080, 8081, 8086, 8088, 8443, 8500, 8888, 9000, 9042,
    9090, 9092, 9093, 9100, 9200, 9300, 9418, 10250, 10255, 11211, 15672, 27017, 27018, 50000,
)  # fmt: skip
DEFAULT_TIMEOUT = 1.5
MAX_IN_FLIGHT = 64

TARGETS = {
    "oneOf": [
        {"type": "string"},
        {
            "type": "object",
            "additionalProperties": False,
            "required": ["hosts"],
            "properties": {
                "hosts": {"type": "array", "items": {"type": "string"}, "minItems": 1},
                "allowed_ports": {"type": "array", "items": {"type": "integer", "minimum": 1, "maximum": 65535}},
                "ports": {
                    "oneOf": [
                        {"const": "top100"},
                        {"type": "array", "items": {"type": "integer", "minimum": 1, "maximum": 65535}},
                    ]
                },
                "timeout_seconds": {"type": "number", "exclusiveMinimum": 0, "maximum": 30},
            },
        },
    ]
}


async def _probe_port(host: str, port: int, timeout: float, slots: Any) -> str:
    import asyncio

    async with slots:
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
        except (ConnectionRefusedError, ConnectionResetError):
            return "closed"
        except OSError:  # TimeoutError included: no answer
            return "filtered"
        writer.close()
        with contextlib.suppress(OSError):
            await asyncio.wait_for(writer.wait_closed(), timeout)
        return "open"


async def scan(host: str, ports: list[int], timeout: float) -> dict[int, str]:
    import asyncio  # here: asyncio is start-up time for every audit that scans no host

    slots = asyncio.Semaphore(MAX_IN_FLIGHT)
    states = await asyncio.gather(*(_probe_port(host, p, timeout, slots) for p in ports))
    return dict(zip(ports, states, strict=True))


class NetworkProbe(Probe):
    name = "network"
    version = "0.1.0"
    kind = "live"
    description = "A TCP connect scan of the named public addresses against the list of allowed ports."
    checks = (EXPOSED_PORTS,)
    targets_schema = TARGETS
    cli_options = (
        CliOption(
            "--scan-host",
            "a public address to port-scan; only 80 and 443 are allowed unless live.network says otherwise",
            ("live", "network"),
            metavar="HOST",
        ),
    )

    def run(self, ctx: ProbeContext) -> Iterator[Observation]:
        spec: dict[str, Any] = {"hosts": [ctx.targets]} if isinstance(ctx.targets, str) else dict(ctx.targets)
        allowed = set(spec.get("allowed_ports") or (80, 443))
        ports = spec.get("ports") or "top100"
        ports = sorted(set(TOP_PORTS) | allowed) if ports == "top100" else sorted(set(ports))
        timeout = float(spec.get("timeout_seconds") or DEFAULT_TIMEOUT)
        for host in spec["hosts"]:
            subject = Subject(endpoint=host)
            try:
                socket.getaddrinfo(host, None)
            except socket.gaierror as exc:
                yield from ctx.errors(subject, f"cannot resolve {host}: {exc.strerror or exc}")
                continue
            import asyncio

            states = asyncio.run(scan(host, ports, timeout))
            open_ports = sorted(p for p, s in states.items() if s == "open")
            unexpected = [p for p in open_ports if p not in allowed]
            facts = {
                "open": open_ports,
                "allowed": sorted(allowed),
                "scanned": len(ports),
                "closed": sum(1 for s in states.values() if s == "closed"),
                "filtered": sum(1 for s in states.values() if s == "filtered"),
            }
            if unexpected:
                message = f"open beyond the allowed ports: {', '.join(map(str, unexpected))}"
                status = Status.FAIL
            elif facts["filtered"] == len(ports):
                message = f"none of the {len(ports)} ports answered: the host is down or everything is filtered"
                status = Status.UNKNOWN
            else:
                shown = ", ".join(map(str, open_ports)) or "none"
                message = f"open: {shown}; {len(ports)} ports scanned, all others closed or filtered"
                status = Status.PASS
            yield ctx.observe(EXPOSED_PORTS.id, status, subject, message, strength=Strength.LIVE, facts=facts)
