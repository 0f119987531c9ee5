"""What every Terraform judge shares: the finding it yields and small helpers over resolved values."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from readiness.model import Status

from .terraform_resolve import MISSING, Block, Estate, Resource, Unknown


@dataclass
class Finding:
    """One judgement: a check, a status, why, and the resource (or the estate) it is about."""

    check: str
    status: Status
    message: str
    resource: Resource | None = None
    attr: str | None = None  # the attribute whose line is the evidence
    block: Block | None = None
    facts: dict[str, Any] = field(default_factory=dict)


Judge = Callable[[Estate], Iterator[Finding]]

ADMIN_PORTS = (22, 3389)
OPEN_CIDRS = ("0.0.0.0/0", "::/0")
MIN_BACKUP_DAYS = 7
MODERN_LB_POLICY_MARKERS = ("TLS13", "TLS-1-2", "FS-1-2", "TLS12")
MODERN_CLOUDFRONT = ("TLSv1.2_2018", "TLSv1.2_2019", "TLSv1.2_2021")
ADMIN_POLICY_ARN = "arn:aws:iam::aws:policy/AdministratorAccess"


def _truth(value: Any) -> bool | None | Unknown:
    """A Terraform boolean: True/False, None when absent, Unknown when not known statically."""
    if value is MISSING or value is None:
        return None
    if isinstance(value, Unknown):
        return value
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return Unknown(f"expected a boolean, found a {type(value).__name__}")


def _flag(check: str, res: Resource, attr: str, good: str, bad: str, block: Block | None = None) -> Finding:
    """Pass when ``attr`` is true, fail when false or absent (the AWS default is off), else unknown."""
    value = _truth(res.get(attr, block))
    if isinstance(value, Unknown):
        return Finding(check, Status.UNKNOWN, f"{attr}: {value.reason}", res, attr, block)
    if value:
        return Finding(check, Status.PASS, good, res, attr, block, {attr: True})
    why = f"{attr} = false" if value is False else f"{attr} is not set (default: off)"
    return Finding(check, Status.FAIL, f"{bad} ({why})", res, attr, block, {attr: value})


def _absent(estate: Estate, check: str, status: Status, message: str) -> Finding:
    """The estate lacks something: ``status``, unless some module could not be read (then unknown)."""
    if estate.incomplete and status is Status.FAIL:
        gaps = "; ".join(estate.incomplete[:3])
        return Finding(check, Status.UNKNOWN, f"{message}, but not every module was read: {gaps}")
    return Finding(check, status, message)


def _unlinked(estate: Estate, check: str, res: Resource, types: tuple[str, ...], attr: str, message: str) -> Finding:
    """Nothing of ``types`` refers to ``res``: fail, unless one whose ``attr`` is unknown might."""
    maybe = estate.unresolved(types, attr)
    if maybe:
        why = f"{message}, unless {_names(maybe)} applies to it (its {attr} is not known statically)"
        return Finding(check, Status.UNKNOWN, why, res, facts={"maybe_linked": [m.address for m in maybe]})
    return Finding(check, Status.FAIL, message, res)


def _names(resources: list[Resource]) -> str:
    shown = ", ".join(r.address for r in resources[:5])
    return shown + (f" and {len(resources) - 5} more" if len(resources) > 5 else "")


def _as_int(value: Any) -> int | None | Unknown:
    if value is MISSING or value is None:
        return None
    if isinstance(value, Unknown):
        return value
    try:
        return int(value)
    except (TypeError, ValueError):
        return Unknown(f"expected a number, found {type(value).__name__}")


def _entry_points(estate: Estate) -> list[Resource]:
    """Internet-facing entry points: public load balancers, CloudFront, API Gateway REST stages."""
    out = []
    for lb in estate.of("aws_lb", "aws_alb", "aws_elb"):
        if _truth(lb.get("internal")) is not True:
            out.append(lb)
    return out + estate.of("aws_cloudfront_distribution", "aws_api_gateway_stage", "aws_apigatewayv2_stage")


def _listify(value: Any) -> list[Any]:
    if value is MISSING or value is None:
        return []
    return value if isinstance(value, list) else [value]


def _absent_on(estate: Estate, check: str, res: Resource, message: str) -> Finding:
    finding = _absent(estate, check, Status.FAIL, message)
    finding.resource = res
    return finding
