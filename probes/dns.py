"""DNS records of the production hostnames, resolved now, against what they should point to.

Targets come from ``live.dns``::

    live:
      dns:
        nameserver: 1.1.1.1          # optional; default: the system resolver
        records:
          - name: shop.example.com
            expect: [203.0.113.10]   # addresses, or a CNAME target ending in a dot
          - api.example.com           # must resolve, to anything

Resolution uses dnspython with a bounded lifetime per query. A name that does not exist, or that answers
with an address the user did not expect, fails; a resolver that does not answer is an error.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from readiness.model import Check, Observation, Status, Strength, Subject
from readiness.probe import Probe, ProbeContext

RECORDS_RESOLVE = Check(
    "dns.records_resolve",
    "Every production hostname resolves in public DNS to the intended endpoint",
    "A record left on an old address or a missing name is an outage that no health check inside can see.",
    "Point each production name at its load balancer or address; remove stale records.",
    when_absent=Status.UNKNOWN,
)
LIFETIME = 3.0
RECORD = {
    "oneOf": [
        {"type": "string", "minLength": 1},
        {
            "type": "object",
            "additionalProperties": False,
            "required": ["name"],
            "properties": {
                "name": {"type": "string", "minLength": 1},
                "expect": {"type": "array", "items": {"type": "string"}},
            },
        },
    ]
}
TARGETS = {
    "oneOf": [
        {"type": "array", "items": RECORD},
        {
            "type": "object",
            "additionalProperties": False,
            "required": ["records"],
            "properties": {
                "nameserver": {"type": "string"},
                "timeout_seconds": {"type": "number", "exclusiveMinimum": 0, "maximum": 30},
                "records": {"type": "array", "items": RECORD},
            },
        },
    ]
}


def resolver_for(nameserver: str | None, lifetime: float) -> Any:
    import dns.resolver

    if not nameserver:
        resolver = dns.resolver.Resolver()
    else:
        resolver = dns.resolver.Resolver(configure=False)
        host, _, port = nameserver.rpartition(":") if nameserver.count(":") == 1 else (nameserver, "", "")
        resolver.nameservers = [host]
        resolver.port = int(port) if port else 53
    resolver.lifetime = lifetime
    resolver.timeout = lifetime
    return resolver


def lookup(resolver: Any, name: str) -> tuple[list[str], list[str]]:
    """(addresses, CNAME chain) of ``name``; raises dns exceptions for NXDOMAIN and timeouts."""
    import dns.resolver

    addresses: list[str] = []
    chain: list[str] = []
    for kind in ("A", "AAAA"):
        try:
            answer = resolver.resolve(name, kind)
        except dns.resolver.NoAnswer:
            continue
        addresses += [r.to_text() for r in answer]
        chain = [str(rrset.name) for rrset in answer.response.answer if rrset.rdtype == 5] or chain
        chain += [r.to_text() for rrset in answer.response.answer if rrset.rdtype == 5 for r in rrset]
    return sorted(set(addresses)), chain


class DnsProbe(Probe):
    name = "dns"
    version = "0.1.0"
    kind = "live"
    description = "Production hostnames resolved now (dnspython) against the addresses or CNAMEs they should have."
    checks = (RECORDS_RESOLVE,)
    targets_schema = TARGETS

    def run(self, ctx: ProbeContext) -> Iterator[Observation]:
        import dns.exception
        import dns.resolver

        spec = {"records": ctx.targets} if isinstance(ctx.targets, list) else dict(ctx.targets)
        resolver = resolver_for(spec.get("nameserver"), float(spec.get("timeout_seconds") or LIFETIME))
        for record in spec["records"]:
            name, expect = (record, None) if isinstance(record, str) else (record["name"], record.get("expect"))
            subject = Subject(endpoint=f"dns:{name}", name=name)
            try:
                addresses, chain = lookup(resolver, name)
            except dns.resolver.NXDOMAIN:
                yield ctx.observe(
                    RECORDS_RESOLVE.id,
                    Status.FAIL,
                    subject,
                    f"{name} does not exist (NXDOMAIN)",
                    strength=Strength.LIVE,
                )
                continue
            except (dns.exception.Timeout, dns.resolver.NoNameservers) as exc:
                yield from ctx.errors(subject, f"no answer for {name}: {type(exc).__name__}")
                continue
            facts = {"addresses": addresses, "cname_chain": chain, "expected": expect}
            if not addresses:
                status, message = Status.FAIL, f"{name} has no A or AAAA record"
            elif expect is None:
                status, message = Status.PASS, f"{name} resolves to {', '.join(addresses)}"
            else:
                wanted_names = [e for e in expect if e.endswith(".")]
                wanted_addresses = {e for e in expect if not e.endswith(".")}
                stray = [a for a in addresses if wanted_addresses and a not in wanted_addresses]
                missing_cname = [c for c in wanted_names if c not in chain]
                if stray or missing_cname or (wanted_addresses and not set(addresses) & wanted_addresses):
                    shown = ", ".join(addresses) + (f" via {' -> '.join(chain)}" if chain else "")
                    status, message = Status.FAIL, f"{name} resolves to {shown}, expected {', '.join(expect)}"
                else:
                    status, message = Status.PASS, f"{name} resolves as expected ({', '.join(addresses)})"
            yield ctx.observe(RECORDS_RESOLVE.id, status, subject, message, strength=Strength.LIVE, facts=facts)
