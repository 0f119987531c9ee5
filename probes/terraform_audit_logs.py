"""Audit logging on Azure and GCP, under the same check as AWS CloudTrail (``terraform.audit_logging``).

Each cloud keeps its control-plane record differently: Azure writes the subscription's Activity Log, kept 90
days unless a diagnostic setting on the subscription exports it; GCP always records Admin Activity, but Data
Access audit logs (who read what) are off until an IAM audit config turns them on. A root module is judged by
the clouds its resources belong to, so an Azure or GCP estate is never told to declare ``aws_cloudtrail``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from readiness.model import Status

from .terraform_checks import AUDIT_LOGGING, Finding, _absent
from .terraform_resolve import Estate, Ref, Resource, Unknown

AZURE_ACTIVITY_FIX = (
    "declare an azurerm_monitor_diagnostic_setting whose target_resource_id is the subscription "
    "(data.azurerm_subscription.current.id) with enabled_log categories Administrative, Security and Policy, "
    "sent to a Log Analytics workspace or a storage account"
)
GCP_AUDIT_FIX = (
    'declare a google_project_iam_audit_config (or the folder/organization one) with service = "allServices" '
    "and audit_log_config blocks for DATA_READ and DATA_WRITE"
)
SUBSCRIPTION_ID = re.compile(r"^/subscriptions/[^/]+/?$", re.IGNORECASE)
GCP_AUDIT_CONFIGS = (
    "google_project_iam_audit_config",
    "google_folder_iam_audit_config",
    "google_organization_iam_audit_config",
)
DATA_ACCESS = {"DATA_READ", "DATA_WRITE"}


def clouds(estate: Estate) -> set[str]:
    """The clouds the estate declares resources in: aws, azure, gcp."""
    found = set()
    for res in estate.resources:
        prefix = res.type.split("_", 1)[0]
        found.add({"aws": "aws", "azurerm": "azure", "azuread": "azure", "google": "gcp"}.get(prefix, ""))
    return found - {""}


def _targets_subscription(setting: Resource) -> bool | Unknown:
    raw = setting.block.attrs.get("target_resource_id")
    if isinstance(raw, str) and "data.azurerm_subscription." in raw:
        return True  # the subscription data source: its id is read at apply time, but it is the subscription
    value = setting.get("target_resource_id")
    if isinstance(value, Ref):
        return value.address.startswith("data.azurerm_subscription.")
    if isinstance(value, Unknown):
        return value
    return isinstance(value, str) and bool(SUBSCRIPTION_ID.match(value))


def azure(estate: Estate) -> Iterator[Finding]:
    check = AUDIT_LOGGING.id
    exported = []
    for setting in estate.of("azurerm_monitor_diagnostic_setting"):
        target = _targets_subscription(setting)
        if isinstance(target, Unknown):
            yield Finding(check, Status.UNKNOWN, f"target_resource_id: {target.reason}", setting)
        elif target:
            logs = setting.block.sub("enabled_log") + setting.block.sub("log")
            if logs:
                exported.append(setting)
                yield Finding(check, Status.PASS, "exports the subscription Activity Log", setting)
            else:
                yield Finding(check, Status.FAIL, "targets the subscription but enables no log category", setting)
    profiles = estate.of("azurerm_monitor_log_profile")  # the pre-diagnostic-settings export, removed in azurerm 4
    for profile in profiles:
        yield Finding(check, Status.PASS, "Activity Log exported by a log profile (legacy)", profile)
    if not exported and not profiles:
        yield _absent(
            estate,
            check,
            Status.FAIL,
            f"the subscription Activity Log is not exported (kept 90 days): {AZURE_ACTIVITY_FIX}",
        )


def _log_types(config: Resource) -> set[str] | Unknown:
    types = set()
    for block in config.block.sub("audit_log_config"):
        value = config.get("log_type", block)
        if isinstance(value, Unknown):
            return value
        if isinstance(value, str):
            types.add(value)
    return types


def gcp(estate: Estate) -> Iterator[Finding]:
    check = AUDIT_LOGGING.id
    covered = False
    for config in estate.of(*GCP_AUDIT_CONFIGS):
        service = config.get("service")
        types = _log_types(config)
        if isinstance(service, Unknown) or isinstance(types, Unknown):
            reason = service.reason if isinstance(service, Unknown) else types.reason  # type: ignore[union-attr]
            yield Finding(check, Status.UNKNOWN, reason, config)
            continue
        missing = sorted(DATA_ACCESS - types)
        if missing:
            yield Finding(check, Status.FAIL, f"Data Access audit logs without {', '.join(missing)}", config)
        elif service == "allServices":
            covered = True
            yield Finding(check, Status.PASS, "Data Access audit logs (read and write) for all services", config)
        else:
            yield Finding(check, Status.PASS, f"Data Access audit logs for {service} only", config)
    if not covered and not estate.of(*GCP_AUDIT_CONFIGS):
        yield _absent(
            estate, check, Status.FAIL, f"Data Access audit logs are off (only Admin Activity is kept): {GCP_AUDIT_FIX}"
        )


def audit_logging(estate: Estate) -> Iterator[Finding]:
    """Azure and GCP estates; the AWS part is ``terraform_checks.audit_logging``."""
    used = clouds(estate)
    if "azure" in used:
        yield from azure(estate)
    if "gcp" in used:
        yield from gcp(estate)
