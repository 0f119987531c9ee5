"""Terraform checks on logging, image scanning, cost controls and deletion protection."""

from __future__ import annotations

from collections.abc import Iterator

from readiness.model import Check, Status

from .terraform_compute import COMPUTE_TYPES
from .terraform_findings import (
    Finding,
    _absent,
    _as_int,
    _flag,
    _names,
    _truth,
)
from .terraform_resolve import MISSING, Estate, Unknown

# -- logging --------------------------------------------------------------------------------------

AUDIT_LOGGING = Check(
    id="terraform.audit_logging",
    title="The cloud's audit log is recorded and kept (CloudTrail, Azure Activity Log, GCP audit logs)",
    rationale="The audit log is the record of every change to the account; without it an incident cannot be "
    "reconstructed, and without validation the record can be altered.",
    remediation="Each root module is judged for the clouds its resources use. AWS: declare aws_cloudtrail with "
    "is_multi_region_trail, enable_log_file_validation and kms_key_id, and an AWS Config recorder. Azure: an "
    "azurerm_monitor_diagnostic_setting on the subscription exporting the Activity Log. GCP: a "
    "google_project_iam_audit_config enabling DATA_READ and DATA_WRITE for allServices.",
    when_absent=Status.UNKNOWN,
)


def audit_logging(estate: Estate) -> Iterator[Finding]:
    """Per trail; the estate fails without one."""
    check = AUDIT_LOGGING.id
    recorders = [r.address for r in estate.of("aws_config_configuration_recorder")]
    trails = estate.of("aws_cloudtrail")
    for trail in trails:
        problems, unknown = [], []
        for attr, label in (
            ("is_multi_region_trail", "single-region"),
            ("enable_log_file_validation", "no log file validation"),
        ):
            value = _truth(trail.get(attr))
            if isinstance(value, Unknown):
                unknown.append(f"{attr}: {value.reason}")
            elif not value:
                problems.append(label)
        if trail.get("kms_key_id") in (MISSING, None):
            problems.append("not encrypted with KMS")
        if _truth(trail.get("enable_logging")) is False:
            problems.append("logging disabled")
        facts = {"config_recorders": recorders}
        if problems:
            yield Finding(check, Status.FAIL, "; ".join(problems), trail, facts=facts)
        elif unknown:
            yield Finding(check, Status.UNKNOWN, "; ".join(unknown), trail, facts=facts)
        else:
            yield Finding(check, Status.PASS, "multi-region, validated, KMS-encrypted", trail, facts=facts)
    if not trails and any(r.type.startswith("aws_") for r in estate.resources):  # Azure/GCP: terraform_audit_logs
        yield _absent(estate, check, Status.FAIL, "no aws_cloudtrail declared")


LOG_RETENTION = Check(
    id="terraform.log_retention",
    title="Log groups have a retention policy",
    rationale="Logs kept forever cost money and hold personal data too long; logs kept too briefly miss incidents.",
    remediation="Set retention_in_days on every aws_cloudwatch_log_group (e.g. 90 or 365, as policy says).",
)


def log_retention(estate: Estate) -> Iterator[Finding]:
    """Per CloudWatch log group."""
    check = LOG_RETENTION.id
    for group in estate.of("aws_cloudwatch_log_group"):
        days = _as_int(group.get("retention_in_days"))
        if isinstance(days, Unknown):
            yield Finding(check, Status.UNKNOWN, f"retention_in_days: {days.reason}", group, "retention_in_days")
        elif days and days > 0:
            yield Finding(
                check,
                Status.PASS,
                f"kept {days} days",
                group,
                "retention_in_days",
                facts={"retention_in_days": days, "kms": group.get("kms_key_id") is not MISSING},
            )
        else:
            why = "no retention_in_days" if days is None else f"retention_in_days = {days}"
            yield Finding(check, Status.FAIL, f"{why}: logs never expire", group)


CENTRAL_LOGGING = Check(
    id="terraform.central_logging",
    title="Logs are shipped to a central store",
    rationale="Logs left on instances vanish with them and cannot be searched across services during an incident.",
    remediation="Send application, trail and flow logs to CloudWatch Logs, OpenSearch or a Firehose stream.",
    when_absent=Status.UNKNOWN,
)
SINK_TYPES = (
    "aws_cloudwatch_log_group",
    "aws_cloudwatch_log_subscription_filter",
    "aws_opensearch_domain",
    "aws_elasticsearch_domain",
    "aws_kinesis_firehose_delivery_stream",
    "aws_flow_log",
)


def central_logging(estate: Estate) -> Iterator[Finding]:
    """Estate: names the log sinks; compute without any fails."""
    check = CENTRAL_LOGGING.id
    sinks = estate.of(*SINK_TYPES) + [
        t for t in estate.of("aws_cloudtrail") if t.get("cloud_watch_logs_group_arn") is not MISSING
    ]
    if sinks:
        yield Finding(
            check, Status.PASS, f"log sinks: {_names(sinks)}", sinks[0], facts={"sinks": [s.address for s in sinks]}
        )
        return
    compute = estate.of(*COMPUTE_TYPES)
    if compute:
        yield _absent(estate, check, Status.FAIL, f"compute ({_names(compute)}) but no central log store")


# -- images, cost, deletion -----------------------------------------------------------------------

IMAGE_SCAN_ON_PUSH = Check(
    id="terraform.image_scan_on_push",
    title="Container registries scan images on push",
    rationale="Scanning on push finds known vulnerabilities before an image is deployed.",
    remediation="Set image_scanning_configuration { scan_on_push = true } on aws_ecr_repository, or enhanced "
    "scanning with aws_ecr_registry_scanning_configuration.",
)


def image_scan_on_push(estate: Estate) -> Iterator[Finding]:
    """Per ECR repository; a registry-wide scanning configuration covers all repositories."""
    check = IMAGE_SCAN_ON_PUSH.id
    registry = [r for r in estate.of("aws_ecr_registry_scanning_configuration") if r.block.sub("rule")]
    for repo in estate.of("aws_ecr_repository"):
        facts = {"image_tag_mutability": repo.get("image_tag_mutability", default="MUTABLE")}
        if registry:
            yield Finding(check, Status.PASS, f"scanned by {registry[0].address}", repo, facts=facts)
            continue
        cfg = repo.block.sub("image_scanning_configuration")
        if cfg:
            finding = _flag(check, repo, "scan_on_push", "scan on push", "no scan on push", cfg[0])
            finding.facts.update(facts)
            yield finding
        else:
            yield Finding(check, Status.FAIL, "no image_scanning_configuration", repo, facts=facts)


COST_CONTROLS = Check(
    id="terraform.cost_controls",
    title="Cost controls are declared: budgets, anomaly monitors or scheduled scale-down",
    rationale="Without a budget alert a runaway autoscaler or leaked key is found on the invoice.",
    remediation="Declare an aws_budgets_budget with notifications, an aws_ce_anomaly_monitor and subscription, "
    "or aws_autoscaling_schedule actions that scale non-peak capacity down.",
    when_absent=Status.UNKNOWN,
)


def cost_controls(estate: Estate) -> Iterator[Finding]:
    """Estate: names the budgets and anomaly monitors."""
    check = COST_CONTROLS.id
    controls = estate.of(
        "aws_budgets_budget", "aws_ce_anomaly_monitor", "aws_ce_anomaly_subscription", "aws_autoscaling_schedule"
    )
    for res in controls:
        yield Finding(check, Status.PASS, f"{res.type} declared", res)
    if not controls and estate.resources:
        yield _absent(estate, check, Status.FAIL, "no budget, cost anomaly monitor or scheduled scale-down declared")


DELETION_PROTECTION = Check(
    id="terraform.deletion_protection",
    title="Production databases have deletion protection",
    rationale="One mistaken `terraform destroy` or console click should not delete the production database.",
    remediation="Set deletion_protection = true on RDS instances and clusters and deletion_protection_enabled "
    "on DynamoDB tables.",
)


def deletion_protection(estate: Estate) -> Iterator[Finding]:
    """Per database; Terraform's prevent_destroy is reported as a fact but is not AWS protection."""
    check = DELETION_PROTECTION.id
    for db in estate.of("aws_db_instance", "aws_rds_cluster"):
        yield _flag(check, db, "deletion_protection", "deletion protection on", "deletion protection off")
    for table in estate.of("aws_dynamodb_table"):
        yield _flag(check, table, "deletion_protection_enabled", "deletion protection on", "deletion protection off")
