"""Well-known registry modules, by what they are published to provision.

A root module that calls ``terraform-google-modules/network/google`` declares a
VPC with its subnets even though the module's own resources are not in the
repository. For the checks that ask whether something exists (a segmented
network, a secrets manager, centralised logs), such a call is declared evidence,
named as a module call, never mistaken for having read the module's resources.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from readiness.model import Status, Subject


@dataclass(frozen=True)
class Known:
    source: re.Pattern[str]
    checks: tuple[str, ...]
    provides: str
    needs: re.Pattern[str] | None = None  # an argument text the call must carry (an audit-log filter)


def _src(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.I)


KNOWN = (
    Known(
        _src(
            r"terraform-google-modules/network/google(//modules/(vpc|subnets))?$|terraform-aws-modules/vpc/aws$"
            r"|^Azure/(vnet|avm-res-network-virtualnetwork)/azurerm$"
        ),
        ("terraform.network_segmented",),
        "a VPC network with its subnets",
    ),
    Known(
        _src(r"terraform-aws-modules/vpc/aws$"),
        ("terraform.private_subnets",),
        "private subnets",
        re.compile(r"private_subnets"),
    ),
    Known(
        _src(
            r"terraform-google-modules/network/google//modules/(firewall-rules|network-firewall-policy|"
            r"hierarchical-firewall-policy)|terraform-aws-modules/security-group/aws|firewall-policy"
        ),
        ("terraform.firewall_rules",),
        "firewall rules",
    ),
    Known(
        _src(r"secret-manager/google|terraform-aws-modules/secrets-manager/aws|keyvault"),
        ("terraform.secrets_manager",),
        "a secrets manager",
    ),
    Known(
        _src(r"terraform-google-modules/log-export/google|centralized-logging|terraform-aws-modules/cloudwatch"),
        ("terraform.central_logging",),
        "log sinks exporting to a central destination",
    ),
    Known(
        _src(r"terraform-google-modules/log-export/google|centralized-logging"),
        ("terraform.audit_logging",),
        "an export of the cloud's audit logs",
        re.compile(r"cloudaudit|audit", re.I),
    ),
    Known(
        _src(r"terraform-google-modules/bastion-host/google|bastion"), ("terraform.bastion_or_vpn",), "a bastion host"
    ),
    Known(
        _src(r"terraform-google-modules/vpn/google|terraform-aws-modules/vpn-gateway/aws"),
        ("terraform.bastion_or_vpn",),
        "a VPN gateway",
    ),
)


def evidence(check: str, remote_calls: list[tuple[str, object, str]]) -> Iterator[tuple[Status, Subject, str]]:
    """(status, where, message) for each well-known module call that provides ``check``."""
    for path, block, source in remote_calls:
        bare = source.split("?")[0].removeprefix("registry.terraform.io/")
        for known in KNOWN:
            if check not in known.checks or not known.source.search(bare):
                continue
            if known.needs is not None and not known.needs.search(str(getattr(block, "attrs", ""))):
                continue
            name = f"module.{block.labels[0]}"  # type: ignore[attr-defined]
            message = f"{name} calls {bare}, published to provision {known.provides} (its resources are not read)"
            yield Status.PASS, Subject(path=path, line=block.line, name=name), message  # type: ignore[attr-defined]
