"""The Terraform checks (AWS): each a :class:`Check` beside the function that judges it.

A judge takes an :class:`Estate` (a root module with its local modules) and
yields :class:`Finding` s: per resource where the fact belongs to a resource,
or once for the estate where the checklist item is about the whole deployment
("backups are stored in another region"), naming the resources that prove it.
A value that cannot be known statically gives ``unknown`` with the reason. The
absence of something is only concluded when every module was read.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from readiness.model import Check, Status

from .terraform_resolve import MISSING, Block, Estate, Ref, Resource, Unknown, policy_document


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


# -- IaC and compute -----------------------------------------------------------------------------

IAC_PRESENT = Check(
    id="terraform.iac_present",
    title="Infrastructure is declared as code (Terraform)",
    rationale="Infrastructure built by hand cannot be reviewed, reproduced or rebuilt after a disaster.",
    remediation="Declare the infrastructure in Terraform (or another IaC tool) and apply it from version control.",
    when_absent=Status.FAIL,
)


def iac_present(estate: Estate) -> Iterator[Finding]:
    """Terraform is present when the root module declares resources or module calls."""
    calls = sum(len(i.children) + len(i.remote_calls) for i in estate.root.walk())
    facts = {"resources": len(estate.resources), "module_calls": calls, "files": len(estate.root.module.files)}
    if estate.resources or calls:
        yield Finding(
            IAC_PRESENT.id, Status.PASS, f"{len(estate.resources)} resources, {calls} module calls", facts=facts
        )
    else:
        yield Finding(IAC_PRESENT.id, Status.FAIL, "Terraform files declare no resource or module", facts=facts)


COMPUTE_PROVISIONED = Check(
    id="terraform.compute_provisioned",
    title="Compute is provisioned by code, with instance metadata protected (IMDSv2)",
    rationale="Compute declared in code is reproducible; IMDSv1 lets an SSRF bug steal the instance's credentials.",
    remediation="Declare instances, launch templates, ECS/EKS or Lambda in Terraform; set metadata_options "
    '{ http_tokens = "required" } on instances and launch templates.',
)
COMPUTE_TYPES = (
    "aws_instance",
    "aws_launch_template",
    "aws_launch_configuration",
    "aws_autoscaling_group",
    "aws_ecs_service",
    "aws_eks_cluster",
    "aws_eks_node_group",
    "aws_lambda_function",
    "aws_elastic_beanstalk_environment",
)


def compute_provisioned(estate: Estate) -> Iterator[Finding]:
    """Each compute resource is declared; instances and launch templates must require IMDSv2."""
    for res in estate.of(*COMPUTE_TYPES):
        if res.type not in ("aws_instance", "aws_launch_template", "aws_launch_configuration"):
            yield Finding(COMPUTE_PROVISIONED.id, Status.PASS, f"{res.type} declared", res)
            continue
        options = res.block.sub("metadata_options")
        if res.block.dynamic("metadata_options"):
            yield Finding(COMPUTE_PROVISIONED.id, Status.UNKNOWN, "metadata_options is generated dynamically", res)
            continue
        tokens = res.get("http_tokens", options[0]) if options else MISSING
        if isinstance(tokens, Unknown):
            yield Finding(COMPUTE_PROVISIONED.id, Status.UNKNOWN, f"http_tokens: {tokens.reason}", res)
        elif tokens == "required":
            yield Finding(COMPUTE_PROVISIONED.id, Status.PASS, "declared; IMDSv2 required", res, block=options[0])
        else:
            yield Finding(
                COMPUTE_PROVISIONED.id,
                Status.FAIL,
                'metadata_options.http_tokens is not "required": IMDSv1 allowed unless the AMI demands IMDSv2',
                res,
                facts={"http_tokens": None if tokens is MISSING else tokens},
            )


AUTOSCALING = Check(
    id="terraform.autoscaling",
    title="Compute scales automatically and never runs as a single instance",
    rationale="A fixed or single instance cannot absorb load spikes or survive the loss of one machine.",
    remediation="Use an autoscaling group (or ECS/App Auto Scaling target) with min_size >= 2 and a scaling policy.",
    when_absent=Status.UNKNOWN,
)


def autoscaling(estate: Estate) -> Iterator[Finding]:
    """Estate: autoscaling groups and App Auto Scaling targets with min > 1 and a policy."""
    for asg in estate.of("aws_autoscaling_group"):
        low = _as_int(asg.get("min_size"))
        policies = estate.linked(asg, ("aws_autoscaling_policy",), "autoscaling_group_name", by_name="name")
        if isinstance(low, Unknown):
            yield Finding(AUTOSCALING.id, Status.UNKNOWN, f"min_size: {low.reason}", asg, "min_size")
        elif low is None or low < 2:
            yield Finding(
                AUTOSCALING.id,
                Status.FAIL,
                f"min_size = {low}: a single instance can be all there is",
                asg,
                "min_size",
                facts={"min_size": low},
            )
        elif not policies:
            yield _unlinked(
                estate,
                AUTOSCALING.id,
                asg,
                ("aws_autoscaling_policy",),
                "autoscaling_group_name",
                f"min_size = {low} but no aws_autoscaling_policy scales it",
            )
        else:
            yield Finding(
                AUTOSCALING.id,
                Status.PASS,
                f"min_size = {low}, scaled by {_names(policies)}",
                asg,
                "min_size",
                facts={"min_size": low, "policies": [p.address for p in policies]},
            )
    for target in estate.of("aws_appautoscaling_target"):
        low = _as_int(target.get("min_capacity"))
        policies = estate.linked(target, ("aws_appautoscaling_policy",), "resource_id", by_name="resource_id")
        if isinstance(low, Unknown):
            yield Finding(AUTOSCALING.id, Status.UNKNOWN, f"min_capacity: {low.reason}", target, "min_capacity")
        elif low is None or low < 2:
            yield Finding(AUTOSCALING.id, Status.FAIL, f"min_capacity = {low}", target, "min_capacity")
        else:
            status = Status.PASS if policies else Status.FAIL
            why = f"scaled by {_names(policies)}" if policies else "but no aws_appautoscaling_policy scales it"
            yield Finding(AUTOSCALING.id, status, f"min_capacity = {low}, {why}", target, "min_capacity")
    for group in estate.of("aws_eks_node_group"):
        cfg = group.block.sub("scaling_config")
        low = _as_int(group.get("min_size", cfg[0])) if cfg else None
        if isinstance(low, Unknown):
            yield Finding(AUTOSCALING.id, Status.UNKNOWN, f"scaling_config.min_size: {low.reason}", group)
        elif low is None or low < 2:
            yield Finding(AUTOSCALING.id, Status.FAIL, f"node group min_size = {low}", group)
        else:
            yield Finding(AUTOSCALING.id, Status.PASS, f"node group min_size = {low}", group)
    scaled = estate.of("aws_autoscaling_group", "aws_appautoscaling_target", "aws_eks_node_group")
    fixed = estate.of("aws_instance", "aws_ecs_service")
    if fixed and not scaled:
        yield _absent(
            estate, AUTOSCALING.id, Status.FAIL, f"compute ({_names(fixed)}) but no autoscaling group or scaling target"
        )


LOAD_BALANCER = Check(
    id="terraform.load_balancer",
    title="Traffic reaches compute through a load balancer or API gateway",
    rationale="A load balancer spreads traffic, drops unhealthy targets and lets instances be replaced unseen.",
    remediation="Put an aws_lb (with listeners and target groups) or an API Gateway in front of the compute.",
    when_absent=Status.UNKNOWN,
)


def load_balancer(estate: Estate) -> Iterator[Finding]:
    """Estate: a load balancer or API gateway exists wherever compute serves traffic."""
    routers = estate.of("aws_lb", "aws_alb", "aws_elb", "aws_api_gateway_rest_api", "aws_apigatewayv2_api")
    for res in routers:
        listeners = estate.linked(res, ("aws_lb_listener", "aws_alb_listener"), "load_balancer_arn")
        facts = {"listeners": [lst.address for lst in listeners]}
        yield Finding(LOAD_BALANCER.id, Status.PASS, f"{res.type} routes traffic", res, facts=facts)
    compute = estate.of("aws_instance", "aws_autoscaling_group", "aws_ecs_service", "aws_eks_cluster")
    if compute and not routers:
        yield _absent(
            estate, LOAD_BALANCER.id, Status.FAIL, f"compute ({_names(compute)}) but no load balancer or API gateway"
        )


CDN = Check(
    id="terraform.cdn",
    title="Static assets are served through a CDN (CloudFront)",
    rationale="A CDN caches assets near users, absorbs traffic spikes and shields the origin.",
    remediation="Serve static assets through an aws_cloudfront_distribution in front of the S3 bucket or origin.",
    when_absent=Status.UNKNOWN,
)


def cdn(estate: Estate) -> Iterator[Finding]:
    """Estate: a CloudFront distribution exists where there are websites or public load balancers."""
    dists = estate.of("aws_cloudfront_distribution")
    for dist in dists:
        yield Finding(CDN.id, Status.PASS, "CloudFront distribution", dist)
    websites = estate.of("aws_s3_bucket_website_configuration") + [
        b for b in estate.of("aws_s3_bucket") if b.block.sub("website")
    ]
    public_lbs = [r for r in _entry_points(estate) if r.type in ("aws_lb", "aws_alb", "aws_elb")]
    if not dists and (websites or public_lbs):
        yield _absent(estate, CDN.id, Status.FAIL, f"web origins ({_names(websites + public_lbs)}) but no CDN")


# -- encryption -----------------------------------------------------------------------------------

ENCRYPTION_AT_REST = Check(
    id="terraform.encryption_at_rest",
    title="Data stores are encrypted at rest, and KMS keys rotate",
    rationale="Unencrypted disks, snapshots and buckets leak data when copied, shared or mis-permissioned.",
    remediation="Enable encryption on every data store (S3 SSE, storage_encrypted, encrypted = true, "
    "at_rest_encryption_enabled, EKS secrets encryption) and enable_key_rotation on KMS keys.",
)


SEARCH_DOMAINS = ("aws_elasticsearch_domain", "aws_opensearch_domain")


def _s3_encryption(estate: Estate, bucket: Resource) -> Finding:
    check = ENCRYPTION_AT_REST.id
    split = estate.linked(bucket, ("aws_s3_bucket_server_side_encryption_configuration",), "bucket", "bucket")
    if split:
        return Finding(
            check,
            Status.PASS,
            f"encrypted by {split[0].address}",
            bucket,
            facts={"configured_by": split[0].address, "file": f"{split[0].path}:{split[0].block.line}"},
        )
    if bucket.block.sub("server_side_encryption_configuration"):
        return Finding(check, Status.PASS, "inline server_side_encryption_configuration", bucket)
    return _unlinked(
        estate,
        check,
        bucket,
        ("aws_s3_bucket_server_side_encryption_configuration",),
        "bucket",
        "no server-side encryption configuration declared for the bucket",
    )


def _block_devices(res: Resource) -> Iterator[Finding]:
    check = ENCRYPTION_AT_REST.id
    devices = res.block.sub("root_block_device") + res.block.sub("ebs_block_device")
    for mapping in res.block.sub("block_device_mappings"):
        devices += mapping.sub("ebs")
    if isinstance(res.block.attrs.get("root_block_device"), Unknown):  # a plan: decided at apply time
        yield Finding(check, Status.UNKNOWN, res.block.attrs["root_block_device"].reason, res)
    elif not devices and res.type in ("aws_instance", "aws_launch_configuration"):
        yield Finding(
            check,
            Status.FAIL,
            "root volume encryption not declared (unencrypted unless EBS encryption by default is on)",
            res,
        )
    for dev in devices:
        yield _flag(check, res, "encrypted", f"{dev.kind} encrypted", f"{dev.kind} unencrypted", dev)


def encryption_at_rest(estate: Estate) -> Iterator[Finding]:
    """Per data store: S3 (inline or split SSE), RDS/Aurora, EBS, EFS, ElastiCache, SQS, SNS, EKS, KMS."""
    check = ENCRYPTION_AT_REST.id
    default_ebs = [r for r in estate.of("aws_ebs_encryption_by_default") if _truth(r.get("enabled", None)) is not False]
    for bucket in estate.of("aws_s3_bucket"):
        yield _s3_encryption(estate, bucket)
    for res in estate.of("aws_db_instance", "aws_rds_cluster", "aws_docdb_cluster", "aws_neptune_cluster"):
        yield _flag(check, res, "storage_encrypted", "storage encrypted", "storage unencrypted")
    for domain in estate.of(*SEARCH_DOMAINS):
        rest = domain.block.sub("encrypt_at_rest")
        yield (
            _flag(check, domain, "enabled", "encrypted at rest", "unencrypted at rest", rest[0])
            if rest
            else Finding(check, Status.FAIL, "no encrypt_at_rest block (default: unencrypted)", domain)
        )
    for res in estate.of("aws_ebs_volume", "aws_efs_file_system"):
        if res.type == "aws_ebs_volume" and default_ebs and res.get("encrypted") is MISSING:
            yield Finding(check, Status.PASS, f"encrypted by {default_ebs[0].address}", res)
            continue
        yield _flag(check, res, "encrypted", "encrypted", "unencrypted")
    for res in estate.of("aws_instance", "aws_launch_template", "aws_launch_configuration"):
        if default_ebs:
            yield Finding(check, Status.PASS, f"EBS volumes encrypted by {default_ebs[0].address}", res)
        else:
            yield from _block_devices(res)
    for res in estate.of("aws_elasticache_replication_group"):
        yield _flag(check, res, "at_rest_encryption_enabled", "at-rest encryption on", "at-rest encryption off")
    for res in estate.of("aws_sqs_queue"):
        if res.get("kms_master_key_id") not in (MISSING, None):
            yield Finding(check, Status.PASS, "encrypted with a KMS key", res, "kms_master_key_id")
        elif res.get("sqs_managed_sse_enabled") is MISSING:
            # AWS turns SSE-SQS on for queues created since late 2022, but not for older ones.
            yield Finding(
                check,
                Status.UNKNOWN,
                "no encryption declared: SSE-SQS is the AWS default only for queues created since late 2022",
                res,
            )
        else:
            yield _flag(check, res, "sqs_managed_sse_enabled", "SSE-SQS enabled", "queue encryption off")
    for res in estate.of("aws_sns_topic"):
        key = res.get("kms_master_key_id")
        status = Status.PASS if key not in (MISSING, None) else Status.FAIL
        yield Finding(
            check,
            status,
            "encrypted with a KMS key"
            if key not in (MISSING, None)
            else "no kms_master_key_id: the topic is not encrypted",
            res,
            "kms_master_key_id",
        )
    for res in estate.of("aws_dynamodb_table"):
        yield Finding(
            check,
            Status.PASS,
            "DynamoDB encrypts every table at rest (cannot be disabled)",
            res,
            facts={"customer_managed_key": bool(res.block.sub("server_side_encryption"))},
        )
    for res in estate.of("aws_eks_cluster"):
        configs = res.block.sub("encryption_config")
        kinds = [res.get("resources", c) for c in configs]
        if any(isinstance(k, Unknown) for k in kinds):
            yield Finding(check, Status.UNKNOWN, "encryption_config.resources is not known statically", res)
        elif any(isinstance(k, list) and "secrets" in k for k in kinds):
            yield Finding(check, Status.PASS, "Kubernetes secrets encrypted with KMS", res)
        else:
            yield Finding(check, Status.FAIL, "no encryption_config for Kubernetes secrets", res)
    for res in estate.of("aws_kms_key"):
        yield _flag(check, res, "enable_key_rotation", "key rotation enabled", "key rotation disabled")


ENCRYPTION_IN_TRANSIT = Check(
    id="terraform.encryption_in_transit",
    title="Traffic is encrypted in transit with modern TLS",
    rationale="Old TLS versions and plaintext hops let anyone on the path read or alter the traffic.",
    remediation="Use ELBSecurityPolicy-TLS13-1-2-2021-06 (or another TLS 1.2+ policy) on HTTPS listeners, "
    "minimum_protocol_version TLSv1.2_2021 on CloudFront, rds.force_ssl / require_secure_transport in DB "
    "parameter groups, and transit_encryption_enabled on ElastiCache.",
)


def _forces_tls(estate: Estate, group: Resource) -> bool | Unknown:
    for param in group.block.sub("parameter"):
        name, value = group.get("name", param), group.get("value", param)
        if isinstance(name, Unknown) or isinstance(value, Unknown):
            return Unknown(f"a parameter of {group.address} is not known statically")
        if name in ("rds.force_ssl", "require_secure_transport"):
            return str(value).lower() in ("1", "on", "true")
    return False


CLASSIC_DEFAULT_POLICY = "ELBSecurityPolicy-2016-08"  # what a classic ELB HTTPS/SSL listener gets unless told


def _classic_listeners(elb: Resource) -> Iterator[tuple[Block, Any, Any]]:
    """(listener block, lb_protocol upper-cased or Unknown, lb_port) of a classic ELB."""
    for listener in elb.block.sub("listener"):
        protocol = elb.get("lb_protocol", listener)
        if isinstance(protocol, str):
            protocol = protocol.upper()
        yield listener, protocol, elb.get("lb_port", listener)


def _classic_tls_policy(estate: Estate, elb: Resource, port: Any) -> str | Unknown:
    """The predefined security policy a classic ELB listener on ``port`` negotiates with."""
    attached = estate.linked(elb, ("aws_load_balancer_listener_policy",), "load_balancer_name", by_name="name")
    attached = [a for a in attached if a.get("load_balancer_port") in (port, str(port))]
    if not attached:
        if estate.unresolved(("aws_load_balancer_listener_policy",), "load_balancer_name"):
            return Unknown("a listener policy names its load balancer by a value not known statically")
        return CLASSIC_DEFAULT_POLICY
    names = attached[0].get("policy_names")
    for name in names if isinstance(names, list) else [names]:
        policy = estate.target(name) or next(
            (
                p
                for p in estate.of("aws_load_balancer_policy")
                if isinstance(name, str) and p.get("policy_name") == name
            ),
            None,
        )
        if policy is None:
            return Unknown(f"policy {name} is not declared here")
        for attribute in policy.block.sub("policy_attribute"):
            if policy.get("name", attribute) == "Reference-Security-Policy":
                value = policy.get("value", attribute)
                return value if isinstance(value, str | Unknown) else Unknown("the referenced policy is not a string")
    return Unknown("the listener policy sets no Reference-Security-Policy (custom negotiation settings)")


def classic_elb_in_transit(estate: Estate) -> Iterator[Finding]:
    """Classic ELB listeners: plain HTTP fails, HTTPS/SSL are judged by the security policy they negotiate."""
    check = ENCRYPTION_IN_TRANSIT.id
    for elb in estate.of("aws_elb"):
        for listener, protocol, port in _classic_listeners(elb):
            if isinstance(protocol, Unknown):
                yield Finding(check, Status.UNKNOWN, f"lb_protocol: {protocol.reason}", elb, block=listener)
            elif protocol in ("HTTPS", "SSL"):
                policy = _classic_tls_policy(estate, elb, port)
                if isinstance(policy, Unknown):
                    yield Finding(check, Status.UNKNOWN, policy.reason, elb, block=listener)
                elif any(m in policy for m in MODERN_LB_POLICY_MARKERS):
                    yield Finding(check, Status.PASS, f"{protocol} on port {port} with {policy}", elb, block=listener)
                else:
                    message = f"{protocol} listener on port {port} allows TLS < 1.2 ({policy})"
                    yield Finding(check, Status.FAIL, message, elb, block=listener, facts={"policy": policy})
            elif protocol == "HTTP":
                message = f"classic ELB listener on port {port} carries HTTP unencrypted"
                yield Finding(check, Status.FAIL, message, elb, block=listener)
            else:
                message = f"{protocol} listener on port {port}: TLS behind it cannot be seen here"
                yield Finding(check, Status.UNKNOWN, message, elb, block=listener)


def classic_elb_https(estate: Estate) -> Iterator[Finding]:
    """A classic ELB cannot redirect: an HTTP listener serves plain HTTP."""
    check = HTTPS_ENFORCED.id
    for elb in estate.of("aws_elb"):
        for listener, protocol, port in _classic_listeners(elb):
            if isinstance(protocol, Unknown):
                yield Finding(check, Status.UNKNOWN, f"lb_protocol: {protocol.reason}", elb, block=listener)
            elif protocol in ("HTTPS", "SSL"):
                yield Finding(check, Status.PASS, f"{protocol} listener on port {port}", elb, block=listener)
            elif protocol == "HTTP":
                message = f"HTTP listener on port {port} serves plain HTTP (a classic ELB cannot redirect to HTTPS)"
                yield Finding(check, Status.FAIL, message, elb, block=listener)
            else:
                message = f"{protocol} listener on port {port}: TLS behind it cannot be seen here"
                yield Finding(check, Status.UNKNOWN, message, elb, block=listener)


def encryption_in_transit(estate: Estate) -> Iterator[Finding]:
    """TLS listeners with modern policies, CloudFront TLS 1.2, DB TLS enforcement, ElastiCache TLS."""
    check = ENCRYPTION_IN_TRANSIT.id
    for lst in estate.of("aws_lb_listener", "aws_alb_listener"):
        protocol = lst.get("protocol")
        if protocol in ("HTTPS", "TLS"):
            policy = lst.get("ssl_policy")
            if isinstance(policy, Unknown):
                yield Finding(check, Status.UNKNOWN, f"ssl_policy: {policy.reason}", lst, "ssl_policy")
            elif isinstance(policy, str) and any(m in policy for m in MODERN_LB_POLICY_MARKERS):
                yield Finding(check, Status.PASS, f"{protocol} with {policy}", lst, "ssl_policy")
            else:
                shown = policy if isinstance(policy, str) else "the default ELBSecurityPolicy-2016-08"
                yield Finding(check, Status.FAIL, f"{protocol} listener allows TLS < 1.2 ({shown})", lst, "ssl_policy")
        elif isinstance(protocol, Unknown):
            yield Finding(check, Status.UNKNOWN, f"protocol: {protocol.reason}", lst, "protocol")
        elif protocol in (MISSING, "HTTP"):
            redirect = _https_redirect(lst)
            if redirect is not None:
                yield Finding(check, Status.PASS, "HTTP listener only redirects to HTTPS", lst, block=redirect)
            else:
                yield Finding(check, Status.FAIL, "HTTP listener carries traffic unencrypted", lst)
    for dist in estate.of("aws_cloudfront_distribution"):
        certs = dist.block.sub("viewer_certificate")
        version = dist.get("minimum_protocol_version", certs[0]) if certs else MISSING
        if isinstance(version, Unknown):
            yield Finding(check, Status.UNKNOWN, f"minimum_protocol_version: {version.reason}", dist)
        elif version in MODERN_CLOUDFRONT:
            yield Finding(check, Status.PASS, f"viewer TLS minimum {version}", dist, block=certs[0])
        else:
            shown = version if isinstance(version, str) else "TLSv1 (default certificate)"
            yield Finding(check, Status.FAIL, f"viewer TLS minimum is {shown}", dist)
    groups = estate.of("aws_db_parameter_group", "aws_rds_cluster_parameter_group")
    for db in estate.of("aws_db_instance", "aws_rds_cluster"):
        attr = "parameter_group_name" if db.type == "aws_db_instance" else "db_cluster_parameter_group_name"
        value = db.get(attr)
        group = estate.target(value) or next(
            (g for g in groups if isinstance(value, str) and g.get("name") == value), None
        )
        if group is None:
            if isinstance(value, Unknown | str):
                why = value.reason if isinstance(value, Unknown) else f"{value} is not declared here"
                yield Finding(check, Status.UNKNOWN, f"{attr}: {why}", db, attr)
            else:
                yield Finding(check, Status.FAIL, "default parameter group: TLS is not enforced", db)
            continue
        forced = _forces_tls(estate, group)
        if isinstance(forced, Unknown):
            yield Finding(check, Status.UNKNOWN, forced.reason, db, attr)
        else:
            yield Finding(
                check,
                Status.PASS if forced else Status.FAIL,
                f"{group.address} {'enforces' if forced else 'does not enforce'} TLS",
                db,
                attr,
                facts={"parameter_group": group.address},
            )
    for res in estate.of("aws_elasticache_replication_group"):
        yield _flag(check, res, "transit_encryption_enabled", "in-transit encryption on", "in-transit encryption off")
    for domain in estate.of(*SEARCH_DOMAINS):
        n2n = domain.block.sub("node_to_node_encryption")
        cluster = domain.block.sub("cluster_config")
        # The provider's instance_count default is 1.
        nodes = _as_int(domain.get("instance_count", cluster[0])) if cluster else 1
        nodes = 1 if nodes is None else nodes
        masters = _truth(domain.get("dedicated_master_enabled", cluster[0])) if cluster else None
        if n2n:
            yield _flag(check, domain, "enabled", "node-to-node encryption on", "node-to-node encryption off", n2n[0])
        elif isinstance(nodes, Unknown) or (nodes <= 1 and isinstance(masters, Unknown)):
            why = nodes.reason if isinstance(nodes, Unknown) else masters.reason
            yield Finding(check, Status.UNKNOWN, f"node count not known statically ({why})", domain)
        elif nodes <= 1 and masters is not True:
            # One data node and no dedicated masters: there is no traffic between nodes to encrypt.
            yield Finding(check, Status.NOT_APPLICABLE, "single-node domain: no node-to-node traffic", domain)
        else:
            yield Finding(check, Status.FAIL, "no node_to_node_encryption", domain)
        endpoint = domain.block.sub("domain_endpoint_options")
        https = _truth(domain.get("enforce_https", endpoint[0])) if endpoint else None
        if isinstance(https, Unknown):
            yield Finding(check, Status.UNKNOWN, f"enforce_https: {https.reason}", domain, block=endpoint[0])
        elif https is False:
            yield Finding(check, Status.FAIL, "endpoint allows HTTP (enforce_https = false)", domain, block=endpoint[0])
        elif endpoint:  # the provider defaults enforce_https to true inside the block
            yield Finding(check, Status.PASS, "HTTPS enforced on the endpoint", domain, block=endpoint[0])
        else:
            msg = "no domain_endpoint_options: HTTPS enforcement is left to provider and service defaults"
            yield Finding(check, Status.UNKNOWN, msg, domain)
    yield from classic_elb_in_transit(estate)


HTTPS_ENFORCED = Check(
    id="terraform.https_enforced",
    title="HTTPS is enforced: HTTP redirects to HTTPS, viewers use HTTPS",
    rationale="A plain-HTTP endpoint exposes sessions and credentials and invites downgrade attacks.",
    remediation="Make port-80 listeners redirect to HTTPS (HTTP_301), give HTTPS listeners an ACM certificate, "
    'and set viewer_protocol_policy = "redirect-to-https" (or https-only) on every CloudFront behavior.',
)


def _https_redirect(listener: Resource) -> Block | None:
    """The default_action of a listener that redirects to HTTPS, if any."""
    for action in listener.block.sub("default_action"):
        if listener.get("type", action) == "redirect" and any(
            listener.get("protocol", r) == "HTTPS" for r in action.sub("redirect")
        ):
            return action
    return None


def https_enforced(estate: Estate) -> Iterator[Finding]:
    """Per listener and CloudFront cache behavior."""
    check = HTTPS_ENFORCED.id
    for lst in estate.of("aws_lb_listener", "aws_alb_listener"):
        protocol = lst.get("protocol")
        if isinstance(protocol, Unknown):
            yield Finding(check, Status.UNKNOWN, f"protocol: {protocol.reason}", lst, "protocol")
        elif protocol in ("HTTPS", "TLS"):
            yield Finding(check, Status.PASS, f"{protocol} listener", lst, "protocol")
        elif protocol in (MISSING, "HTTP"):
            redirect = _https_redirect(lst)
            if redirect is not None:
                yield Finding(check, Status.PASS, "HTTP listener redirects to HTTPS", lst, block=redirect)
            else:
                yield Finding(check, Status.FAIL, "HTTP listener serves plain HTTP (no redirect to HTTPS)", lst)
        else:
            yield Finding(check, Status.UNKNOWN, f"{protocol} listener: TLS behind it cannot be seen here", lst)
    for dist in estate.of("aws_cloudfront_distribution"):
        behaviors = dist.block.sub("default_cache_behavior") + dist.block.sub("ordered_cache_behavior")
        for beh in behaviors:
            policy = dist.get("viewer_protocol_policy", beh)
            if isinstance(policy, Unknown):
                yield Finding(check, Status.UNKNOWN, f"viewer_protocol_policy: {policy.reason}", dist, block=beh)
            elif policy in ("redirect-to-https", "https-only"):
                yield Finding(check, Status.PASS, f"{beh.kind}: {policy}", dist, "viewer_protocol_policy", beh)
            else:
                yield Finding(
                    check,
                    Status.FAIL,
                    f"{beh.kind}: viewer_protocol_policy = {policy}",
                    dist,
                    "viewer_protocol_policy",
                    beh,
                )
    yield from classic_elb_https(estate)


# -- backups and replication ----------------------------------------------------------------------

DB_BACKUPS = Check(
    id="terraform.db_backups",
    title="Databases have automated backups kept at least 7 days",
    rationale="Without automated backups a bad migration or deleted table is unrecoverable; one day is too short "
    "to notice most mistakes.",
    remediation="Set backup_retention_period >= 7 on RDS/Aurora, enable point_in_time_recovery on DynamoDB, "
    "snapshot_retention_limit on ElastiCache, or cover the database with an aws_backup_plan selection.",
)


def _tag_selections(estate: Estate) -> list[Resource]:
    """AWS Backup selections that pick resources by tag, condition, wildcard or unknown list."""
    out = []
    for sel in estate.of("aws_backup_selection"):
        listed = sel.get("resources")
        wild = isinstance(listed, Unknown) or (
            isinstance(listed, list)
            and any(isinstance(r, Unknown) or (isinstance(r, str) and "*" in r) for r in listed)
        )
        if wild or sel.block.sub("selection_tag") or sel.block.sub("condition"):
            out.append(sel)
    return out


def _backup_covered(estate: Estate, res: Resource) -> list[Resource]:
    return estate.linked(res, ("aws_backup_selection",), "resources")


def db_backups(estate: Estate) -> Iterator[Finding]:
    """Per database; the AWS default retention (1 day) when the attribute is absent fails."""
    check = DB_BACKUPS.id
    for db in estate.of("aws_db_instance", "aws_rds_cluster"):
        plans = _backup_covered(estate, db)
        days = _as_int(db.get("backup_retention_period"))
        if db.get("replicate_source_db") not in (MISSING, None):
            yield Finding(check, Status.NOT_APPLICABLE, "a read replica: its source database is backed up", db)
        elif isinstance(days, Unknown) and not plans:
            yield Finding(
                check, Status.UNKNOWN, f"backup_retention_period: {days.reason}", db, "backup_retention_period"
            )
        elif isinstance(days, int) and days >= MIN_BACKUP_DAYS:
            yield Finding(
                check,
                Status.PASS,
                f"automated backups kept {days} days",
                db,
                "backup_retention_period",
                facts={"backup_retention_period": days},
            )
        elif plans:
            yield Finding(
                check,
                Status.PASS,
                f"backed up by {_names(plans)}",
                db,
                facts={"backup_selection": [p.address for p in plans]},
            )
        else:
            shown = "not set (AWS default: 1 day)" if days is None else f"{days} days"
            wide = _tag_selections(estate)
            status = Status.UNKNOWN if wide else Status.FAIL
            why = f", unless {_names(wide)} selects it by tag or condition" if wide else ""
            yield Finding(
                check,
                status,
                f"backup retention {shown}, want >= {MIN_BACKUP_DAYS}{why}",
                db,
                "backup_retention_period",
                facts={"backup_retention_period": days},
            )
    for table in estate.of("aws_dynamodb_table"):
        pitr = table.block.sub("point_in_time_recovery")
        if _backup_covered(estate, table):
            yield Finding(check, Status.PASS, "covered by an AWS Backup selection", table)
        elif pitr:
            yield _flag(check, table, "enabled", "point-in-time recovery on", "point-in-time recovery off", pitr[0])
        else:
            yield Finding(check, Status.FAIL, "point-in-time recovery not enabled", table)
    yield from cloud_sql_backups(estate)
    for group in estate.of("aws_elasticache_replication_group"):
        limit = _as_int(group.get("snapshot_retention_limit"))
        if isinstance(limit, Unknown):
            yield Finding(check, Status.UNKNOWN, limit.reason, group, "snapshot_retention_limit")
        else:
            status = Status.PASS if limit and limit > 0 else Status.FAIL
            yield Finding(check, status, f"snapshot_retention_limit = {limit}", group, "snapshot_retention_limit")


AZURE_DB_SERVERS = ("azurerm_postgresql_flexible_server", "azurerm_mysql_flexible_server")


def _gcp_sql_settings(db: Resource) -> tuple[Block | None, Block | None]:
    settings = db.block.sub("settings")
    backup = settings[0].sub("backup_configuration") if settings else []
    return (settings[0] if settings else None), (backup[0] if backup else None)


def cloud_sql_backups(estate: Estate) -> Iterator[Finding]:
    """GCP Cloud SQL backup configuration and Azure flexible-server retention."""
    check = DB_BACKUPS.id
    for db in estate.of("google_sql_database_instance"):
        _, backup = _gcp_sql_settings(db)
        if backup is None:
            yield Finding(check, Status.FAIL, "no settings.backup_configuration (automated backups off)", db)
        else:
            yield _flag(check, db, "enabled", "automated backups on", "automated backups off", backup)
    for server in estate.of(*AZURE_DB_SERVERS):
        days = _as_int(server.get("backup_retention_days"))
        if isinstance(days, Unknown):
            yield Finding(check, Status.UNKNOWN, days.reason, server, "backup_retention_days")
        elif days is None:
            # Azure flexible servers are always backed up; 7 days is the service's fixed default.
            yield Finding(check, Status.PASS, "always backed up; retention 7 days (Azure default)", server)
        else:
            status = Status.PASS if days >= MIN_BACKUP_DAYS else Status.FAIL
            yield Finding(check, status, f"backup retention {days} days", server, "backup_retention_days")


DB_REPLICATION = Check(
    id="terraform.db_replication",
    title="Databases are replicated for high availability (Multi-AZ, replicas)",
    rationale="A single database instance is a single point of failure: an AZ outage takes the service down.",
    remediation="Set multi_az = true on RDS, run two or more Aurora instances, and use ElastiCache replication "
    "groups with automatic failover.",
)


def db_replication(estate: Estate) -> Iterator[Finding]:
    """RDS multi_az, Aurora instance count, ElastiCache replicas with automatic failover."""
    check = DB_REPLICATION.id
    for db in estate.of("aws_db_instance"):
        if db.get("replicate_source_db") not in (MISSING, None):
            yield Finding(check, Status.PASS, "a read replica of another database", db, "replicate_source_db")
        else:
            yield _flag(check, db, "multi_az", "Multi-AZ", "single-AZ")
    for cluster in estate.of("aws_rds_cluster"):
        members = estate.linked(cluster, ("aws_rds_cluster_instance",), "cluster_identifier", "cluster_identifier")
        counts = [_as_int(m.get("count")) for m in members]
        if any(isinstance(c, Unknown) for c in counts) or any(m.get("for_each") is not MISSING for m in members):
            yield Finding(check, Status.UNKNOWN, "instance count is known only at plan time", cluster)
            continue
        total = sum(1 if c is None else c for c in counts)
        if total == 0:
            yield _absent_on(estate, check, cluster, "no aws_rds_cluster_instance joins this cluster")
            continue
        status = Status.PASS if total >= 2 else Status.FAIL
        yield Finding(check, status, f"{total} cluster instance(s)", cluster, facts={"instances": total})
    for group in estate.of("aws_elasticache_replication_group"):
        failover = _truth(group.get("automatic_failover_enabled"))
        clusters = _as_int(group.get("num_cache_clusters", default=group.get("number_cache_clusters")))
        replicas = _as_int(group.get("replicas_per_node_group"))
        if isinstance(failover, Unknown) or isinstance(clusters, Unknown) or isinstance(replicas, Unknown):
            yield Finding(check, Status.UNKNOWN, "replication settings are not known statically", group)
        elif failover and ((clusters or 0) >= 2 or (replicas or 0) >= 1):
            yield Finding(check, Status.PASS, "replicas with automatic failover", group)
        else:
            yield Finding(check, Status.FAIL, "no replica with automatic failover", group)
    for cache in estate.of("aws_elasticache_cluster"):
        if cache.get("engine") == "redis" and cache.get("replication_group_id") is MISSING:
            yield Finding(check, Status.FAIL, "single-node Redis cluster", cache)
    for db in estate.of("google_sql_database_instance"):
        settings, _ = _gcp_sql_settings(db)
        kind = db.get("availability_type", settings) if settings else MISSING
        if isinstance(kind, Unknown):
            yield Finding(check, Status.UNKNOWN, kind.reason, db)
        else:
            status = Status.PASS if kind == "REGIONAL" else Status.FAIL
            yield Finding(
                check, status, f"availability_type = {kind if kind is not MISSING else 'ZONAL (default)'}", db
            )
    for server in estate.of(*AZURE_DB_SERVERS):
        ha = server.block.sub("high_availability")
        mode = server.get("mode", ha[0]) if ha else MISSING
        if isinstance(mode, Unknown):
            yield Finding(check, Status.UNKNOWN, mode.reason, server)
        elif mode in ("ZoneRedundant", "SameZone"):
            yield Finding(check, Status.PASS, f"high availability: {mode}", server, block=ha[0])
        else:
            yield Finding(check, Status.FAIL, "no high_availability block", server)


CROSS_REGION_BACKUPS = Check(
    id="terraform.cross_region_backups",
    title="Backups are copied to another region",
    rationale="A regional outage or account-level incident can take the data and its same-region backups at once.",
    remediation="Add an aws_backup_plan copy_action to a vault in another region, S3 cross-region replication, "
    "aws_db_instance_automated_backups_replication, or DynamoDB global table replicas.",
    # Without a Terraform estate, the deployment's own backup jobs (backup.offsite) decide the item.
    when_absent=Status.NOT_APPLICABLE,
)


def _other_region(estate: Estate, source: Resource, dest: Resource | None) -> bool | Unknown:
    if dest is None:
        return Unknown("the destination is not a resource of this configuration")
    a, b = estate.region(source), estate.region(dest)
    for r in (a, b):
        if isinstance(r, Unknown):
            return r
    return a != b


def _cross_region_proofs(estate: Estate) -> Iterator[Finding]:
    check = CROSS_REGION_BACKUPS.id
    for plan in estate.of("aws_backup_plan"):
        for rule in plan.block.sub("rule"):
            for copy in rule.sub("copy_action"):
                dest = plan.get("destination_vault_arn", copy)
                vault = estate.target(dest)
                if vault is None and isinstance(dest, str) and ":backup-vault:" in dest:
                    region = estate.region(plan)
                    other = Unknown(region.reason) if isinstance(region, Unknown) else region not in dest.split(":")
                else:
                    other = _other_region(estate, plan, vault)
                yield _region_finding(check, other, plan, f"copy_action to {vault.address if vault else dest}")
    for rep in estate.of("aws_s3_bucket_replication_configuration"):
        for rule in rep.block.sub("rule"):
            for dest in rule.sub("destination"):
                bucket = estate.target(rep.get("bucket", dest))
                source = estate.target(rep.get("bucket"))
                other = _other_region(estate, source or rep, bucket)
                yield _region_finding(check, other, rep, f"replicates to {bucket.address if bucket else '?'}")
    for bucket in estate.of("aws_s3_bucket"):
        for cfg in bucket.block.sub("replication_configuration"):
            for rule in cfg.sub("rules"):
                for dest in rule.sub("destination"):
                    target = estate.target(bucket.get("bucket", dest))
                    other = _other_region(estate, bucket, target)
                    yield _region_finding(check, other, bucket, "inline replication_configuration")
    for rep in estate.of("aws_db_instance_automated_backups_replication"):
        yield Finding(check, Status.PASS, "RDS automated backups replicated to another region", rep)
    for table in estate.of("aws_dynamodb_table"):
        regions = [table.get("region_name", r) for r in table.block.sub("replica")]
        if regions:
            yield Finding(check, Status.PASS, f"global table replicas in {regions}", table, facts={"regions": regions})
    for res in estate.of("aws_rds_global_cluster"):
        yield Finding(check, Status.PASS, "Aurora global database", res)
    for server in estate.of(*AZURE_DB_SERVERS):
        if _truth(server.get("geo_redundant_backup_enabled")) is True:
            yield Finding(check, Status.PASS, "geo-redundant backups", server, "geo_redundant_backup_enabled")


def _region_finding(check: str, other: bool | Unknown, res: Resource, what: str) -> Finding:
    if isinstance(other, Unknown):
        return Finding(check, Status.UNKNOWN, f"{what}: region not known ({other.reason})", res)
    if other:
        return Finding(check, Status.PASS, f"{what}, in another region", res)
    return Finding(check, Status.FAIL, f"{what}, but in the same region", res)


def cross_region_backups(estate: Estate) -> Iterator[Finding]:
    """Estate: at least one cross-region copy exists wherever there is data; names the resources proving it."""
    proofs = list(_cross_region_proofs(estate))
    passing = [f for f in proofs if f.status is Status.PASS]
    stores = estate.of(
        *AZURE_DB_SERVERS,
        "google_sql_database_instance",
        "aws_db_instance",
        "aws_rds_cluster",
        "aws_dynamodb_table",
        "aws_s3_bucket",
        "aws_efs_file_system",
        "aws_ebs_volume",
    )
    if passing:
        # The estate item passes on the proofs; same-region copies are reported, not failed, since
        # another resource already copies across regions.
        yield from passing
        for f in proofs:
            if f.status is not Status.PASS:
                f.status, f.message = Status.NOT_APPLICABLE, f.message + " (another copy is cross-region)"
                yield f
        return
    yield from proofs
    if stores and not proofs:
        yield _absent(
            estate,
            CROSS_REGION_BACKUPS.id,
            Status.FAIL,
            f"data stores ({_names(stores)}) but no backup copy or replication to another region",
        )


# -- network --------------------------------------------------------------------------------------

SG_NO_OPEN_ADMIN_PORTS = Check(
    id="terraform.sg_no_open_admin_ports",
    title="No security group opens SSH, RDP or all ports to the internet; the default group allows nothing",
    rationale="SSH and RDP open to 0.0.0.0/0 are brute-forced within minutes of exposure.",
    remediation="Restrict 22/3389 ingress to a bastion, VPN or SSM Session Manager; never 0.0.0.0/0 or ::/0; "
    "declare aws_default_security_group with no rules.",
)


def _open_rule(cidrs: list[Any], protocol: Any, low: Any, high: Any) -> tuple[Status, str]:
    """Whether one ingress rule exposes admin ports (or everything) to the whole internet."""
    known = [c for c in cidrs if isinstance(c, str)]
    unknown = [c for c in cidrs if isinstance(c, Unknown)]
    world = [c for c in known if c in OPEN_CIDRS]
    if not world:
        if unknown:
            return Status.UNKNOWN, f"source CIDR: {unknown[0].reason}"
        return Status.PASS, "not open to the internet"
    if isinstance(protocol, Unknown):
        return Status.UNKNOWN, f"protocol: {protocol.reason}"
    if str(protocol).lower() in ("-1", "all"):
        return Status.FAIL, f"all ports open to {', '.join(world)}"
    lo, hi = _as_int(low), _as_int(high)
    if isinstance(lo, Unknown) or isinstance(hi, Unknown):
        return Status.UNKNOWN, "port range is not known statically"
    lo, hi = lo or 0, hi if hi is not None else lo or 0
    exposed = [p for p in ADMIN_PORTS if lo <= p <= hi]
    if exposed or (lo == 0 and hi >= 65535):
        shown = "all ports" if lo == 0 and hi >= 65535 else f"port {'/'.join(map(str, exposed))}"
        return Status.FAIL, f"{shown} open to {', '.join(world)}"
    return Status.PASS, f"ports {lo}-{hi} open to the internet, no admin port"


def _listify(value: Any) -> list[Any]:
    if value is MISSING or value is None:
        return []
    return value if isinstance(value, list) else [value]


def sg_no_open_admin_ports(estate: Estate) -> Iterator[Finding]:
    """Per security group (inline ingress), standalone ingress rule, and default security group."""
    check = SG_NO_OPEN_ADMIN_PORTS.id
    for sg in estate.of("aws_security_group"):
        if sg.block.dynamic("ingress"):
            yield Finding(check, Status.UNKNOWN, "ingress rules are generated by a dynamic block", sg)
            continue
        worst: tuple[Status, str, Block | None] = (Status.PASS, "no ingress open to the internet on admin ports", None)
        for rule in sg.block.sub("ingress"):
            cidrs = _listify(sg.get("cidr_blocks", rule)) + _listify(sg.get("ipv6_cidr_blocks", rule))
            status, why = _open_rule(
                cidrs, sg.get("protocol", rule), sg.get("from_port", rule), sg.get("to_port", rule)
            )
            if status is Status.FAIL or (status is Status.UNKNOWN and worst[0] is Status.PASS):
                worst = (status, why, rule)
        yield Finding(check, worst[0], worst[1], sg, block=worst[2])
    for rule in estate.of("aws_security_group_rule"):
        kind = rule.get("type")
        if kind == "egress":
            continue
        cidrs = _listify(rule.get("cidr_blocks")) + _listify(rule.get("ipv6_cidr_blocks"))
        status, why = _open_rule(cidrs, rule.get("protocol"), rule.get("from_port"), rule.get("to_port"))
        yield Finding(check, status, why, rule)
    for rule in estate.of("aws_vpc_security_group_ingress_rule"):
        cidrs = _listify(rule.get("cidr_ipv4")) + _listify(rule.get("cidr_ipv6"))
        status, why = _open_rule(cidrs, rule.get("ip_protocol"), rule.get("from_port"), rule.get("to_port"))
        yield Finding(check, status, why, rule)
    for sg in estate.of("aws_default_security_group"):
        rules = sg.block.sub("ingress") + sg.block.sub("egress")
        if rules or sg.block.dynamic("ingress") or sg.block.dynamic("egress"):
            yield Finding(
                check, Status.FAIL, "the default security group allows traffic", sg, block=rules[0] if rules else None
            )
        else:
            yield Finding(check, Status.PASS, "the default security group allows nothing", sg)
    yield from azure_gcp_open_admin_ports(estate)
    for vpc in estate.of("aws_vpc"):
        if not estate.linked(vpc, ("aws_default_security_group",), "vpc_id"):
            yield _unlinked(
                estate,
                check,
                vpc,
                ("aws_default_security_group",),
                "vpc_id",
                "no aws_default_security_group: the VPC's default group keeps AWS's allow rules",
            )


AZURE_WORLD = ("*", "0.0.0.0/0", "::/0", "Internet", "Any")


def _ports_expose(specs: list[Any]) -> bool | Unknown:
    """Whether port specs ("22", "1000-2000", "*") include an admin port or every port."""
    for spec in specs:
        if isinstance(spec, Unknown):
            return spec
        text = str(spec).strip()
        if text in ("*", "0-65535"):
            return True
        low, _, high = text.partition("-")
        try:
            lo, hi = int(low), int(high or low)
        except ValueError:
            return Unknown(f"port range {text!r} is not known statically")
        if any(lo <= p <= hi for p in ADMIN_PORTS):
            return True
    return False


def _azure_rule(owner: Resource, rule: Block | None) -> tuple[Status, str]:
    direction, access = owner.get("direction", rule), owner.get("access", rule)
    if direction != "Inbound" or access != "Allow":
        if isinstance(direction, Unknown) or isinstance(access, Unknown):
            return Status.UNKNOWN, "direction or access is not known statically"
        return Status.PASS, "not an inbound allow rule"
    sources = _listify(owner.get("source_address_prefix", rule)) + _listify(owner.get("source_address_prefixes", rule))
    if any(isinstance(x, Unknown) for x in sources):
        return Status.UNKNOWN, "source address is not known statically"
    world = [x for x in sources if x in AZURE_WORLD]
    if not world:
        return Status.PASS, "not open to the internet"
    ports = _listify(owner.get("destination_port_range", rule)) + _listify(owner.get("destination_port_ranges", rule))
    exposed = _ports_expose(ports)
    if isinstance(exposed, Unknown):
        return Status.UNKNOWN, exposed.reason
    if exposed:
        return Status.FAIL, f"admin or all ports ({', '.join(map(str, ports))}) open to {world[0]}"
    return Status.PASS, "no admin port open to the internet"


def _gcp_firewall(fw: Resource) -> tuple[Status, str]:
    direction = fw.get("direction", default="INGRESS")
    sources = _listify(fw.get("source_ranges"))
    if isinstance(direction, Unknown) or any(isinstance(x, Unknown) for x in sources):
        return Status.UNKNOWN, "direction or source ranges are not known statically"
    world = [x for x in sources if x in OPEN_CIDRS]
    if direction != "INGRESS" or not world or _truth(fw.get("disabled")) is True:
        return Status.PASS, "no enabled ingress from the internet"
    for allow in fw.block.sub("allow"):
        protocol = fw.get("protocol", allow)
        ports = _listify(fw.get("ports", allow))
        if isinstance(protocol, Unknown):
            return Status.UNKNOWN, protocol.reason
        if protocol == "all" or (protocol in ("tcp", "udp", "6", "17") and not ports):
            return Status.FAIL, f"all {protocol} ports open to {world[0]}"
        exposed = _ports_expose(ports)
        if isinstance(exposed, Unknown):
            return Status.UNKNOWN, exposed.reason
        if exposed:
            return Status.FAIL, f"ports {', '.join(map(str, ports))} open to {world[0]}"
    return Status.PASS, "no admin port open to the internet"


def azure_gcp_open_admin_ports(estate: Estate) -> Iterator[Finding]:
    """Azure network security rules and GCP firewalls that open 22/3389 or everything to the internet."""
    check = SG_NO_OPEN_ADMIN_PORTS.id
    for nsg in estate.of("azurerm_network_security_group"):
        worst: tuple[Status, str, Block | None] = (
            Status.PASS,
            "no inbound rule opens admin ports to the internet",
            None,
        )
        for rule in nsg.block.sub("security_rule"):
            status, why = _azure_rule(nsg, rule)
            if status is Status.FAIL or (status is Status.UNKNOWN and worst[0] is Status.PASS):
                worst = (status, why, rule)
        yield Finding(check, worst[0], worst[1], nsg, block=worst[2])
    for rule in estate.of("azurerm_network_security_rule"):
        status, why = _azure_rule(rule, None)
        yield Finding(check, status, why, rule)
    for fw in estate.of("google_compute_firewall"):
        status, why = _gcp_firewall(fw)
        yield Finding(check, status, why, fw)


NETWORK_SEGMENTED = Check(
    id="terraform.network_segmented",
    title="Workloads run in declared VPCs with subnets, security groups and flow logs",
    rationale="A declared VPC with subnets and security groups is the unit of network isolation; flow logs are "
    "the record of what crossed it.",
    remediation="Declare an aws_vpc with subnets and security groups for each tier, and an aws_flow_log per VPC.",
    when_absent=Status.UNKNOWN,
)


def network_segmented(estate: Estate) -> Iterator[Finding]:
    """Per VPC: subnets, security groups and a flow log refer to it; workloads without a VPC fail."""
    check = NETWORK_SEGMENTED.id
    vpcs = estate.of("aws_vpc")
    for vpc in vpcs:
        subnets = estate.linked(vpc, ("aws_subnet",), "vpc_id")
        groups = estate.linked(vpc, ("aws_security_group",), "vpc_id")
        logs = estate.linked(vpc, ("aws_flow_log",), "vpc_id")
        facts = {"subnets": len(subnets), "security_groups": len(groups), "flow_logs": [f.address for f in logs]}
        kinds = (
            ("subnets", subnets, "aws_subnet"),
            ("security groups", groups, "aws_security_group"),
            ("flow log", logs, "aws_flow_log"),
        )
        missing = [what for what, found, _ in kinds if not found]
        maybe = [r for _, found, t in kinds if not found for r in estate.unresolved((t,), "vpc_id")]
        if missing:
            message = f"{vpc.address} has no {', no '.join(missing)}"
            if maybe:
                finding = _unlinked(estate, check, vpc, tuple({m.type for m in maybe}), "vpc_id", message)
            else:
                finding = _absent(estate, check, Status.FAIL, message)
            finding.resource = vpc
            finding.facts.update(facts)
            yield finding
        else:
            yield Finding(
                check,
                Status.PASS,
                f"{len(subnets)} subnets, {len(groups)} security groups, flow log {logs[0].address}",
                vpc,
                facts=facts,
            )
    workloads = estate.of(
        "aws_instance",
        "aws_db_instance",
        "aws_rds_cluster",
        "aws_lb",
        "aws_ecs_service",
        "aws_eks_cluster",
        "aws_elasticache_replication_group",
    )
    if workloads and not vpcs:
        yield _absent(
            estate,
            check,
            Status.FAIL,
            f"workloads ({_names(workloads)}) but no VPC declared (they run in the default VPC)",
        )


PRIVATE_SUBNETS = Check(
    id="terraform.private_subnets",
    title="Private subnets exist (routed through NAT, not an internet gateway) and databases are not public",
    rationale="Only the load balancer belongs on the internet; databases and application hosts in public subnets "
    "are one security-group mistake away from exposure.",
    remediation="Route private subnets' 0.0.0.0/0 to a NAT gateway (not the internet gateway), place databases "
    "and instances there, and keep publicly_accessible = false on databases.",
    when_absent=Status.UNKNOWN,
)


def _route_kind(estate: Estate, owner: Resource, route: Block | None) -> str | Unknown:
    """'igw', 'nat' or 'other' for one route (inline block or aws_route resource)."""
    gateway = owner.get("gateway_id", route)
    nat = owner.get("nat_gateway_id", route)
    if isinstance(gateway, Unknown) or isinstance(nat, Unknown):
        return Unknown("a route target is not known statically")
    target = estate.target(gateway)
    if (target is not None and target.type == "aws_internet_gateway") or (
        isinstance(gateway, str) and gateway.startswith("igw-")
    ):
        return "igw"
    if nat not in (MISSING, None) or owner.get("network_interface_id", route) not in (MISSING, None):
        return "nat"
    return "other"


def _table_kinds(estate: Estate) -> dict[str, set[Any]]:
    kinds: dict[str, set[Any]] = {}
    for table in estate.of("aws_route_table", "aws_default_route_table"):
        kinds[table.address] = {_route_kind(estate, table, r) for r in table.block.sub("route")}
    for route in estate.of("aws_route"):
        table = estate.target(route.get("route_table_id"))
        if table is not None:
            kinds.setdefault(table.address, set()).add(_route_kind(estate, route, None))
    return kinds


def private_subnets(estate: Estate) -> Iterator[Finding]:
    """Estate: at least one subnet without an internet-gateway route; public databases fail."""
    check = PRIVATE_SUBNETS.id
    kinds = _table_kinds(estate)
    private, public, unknown = [], [], []
    for subnet in estate.of("aws_subnet"):
        assocs = estate.linked(subnet, ("aws_route_table_association",), "subnet_id")
        tables = [estate.target(a.get("route_table_id")) for a in assocs]
        if any(t is None for t in tables) or (
            not assocs and estate.unresolved(("aws_route_table_association",), "subnet_id")
        ):
            unknown.append(subnet)
            continue
        routes = set().union(*(kinds.get(t.address, set()) for t in tables if t)) if tables else set()
        if "igw" in routes or _truth(subnet.get("map_public_ip_on_launch")) is True:
            public.append(subnet)
        elif any(isinstance(r, Unknown) for r in routes):
            unknown.append(subnet)
        else:
            private.append(subnet)
    if private:
        via = "NAT or no internet route"
        yield Finding(
            check,
            Status.PASS,
            f"private subnets ({via}): {_names(private)}",
            private[0],
            facts={"private": [s.address for s in private], "public": [s.address for s in public]},
        )
    elif public and not unknown:
        yield _absent(estate, check, Status.FAIL, f"every subnet routes to an internet gateway: {_names(public)}")
    elif unknown:
        yield Finding(check, Status.UNKNOWN, f"route tables of {_names(unknown)} are not known statically", unknown[0])
    for db in estate.of("aws_db_instance", "aws_rds_cluster_instance"):
        value = _truth(db.get("publicly_accessible"))
        if value is True:
            yield Finding(check, Status.FAIL, "publicly_accessible = true", db, "publicly_accessible")
        elif isinstance(value, Unknown):
            yield Finding(check, Status.UNKNOWN, f"publicly_accessible: {value.reason}", db, "publicly_accessible")


FIREWALL_RULES = Check(
    id="terraform.firewall_rules",
    title="Network ACLs are declared and do not allow all traffic from the internet",
    rationale="Network ACLs are the subnet-level firewall; the default one allows everything in and out.",
    remediation="Declare aws_network_acl for each subnet tier with explicit allow rules; never allow all "
    "protocols or admin ports from 0.0.0.0/0.",
    when_absent=Status.UNKNOWN,
)


def firewall_rules(estate: Estate) -> Iterator[Finding]:
    """Per network ACL (inline rules or aws_network_acl_rule); a VPC with only the default ACL fails."""
    check = FIREWALL_RULES.id
    acls = estate.of("aws_network_acl", "aws_default_network_acl")
    for acl in acls:
        worst: tuple[Status, str, Block | None] = (Status.PASS, "no allow-all ingress from the internet", None)
        for rule in acl.block.sub("ingress"):
            if acl.get("action", rule) != "allow":
                continue
            status, why = _open_rule(
                [acl.get("cidr_block", rule), acl.get("ipv6_cidr_block", rule)],
                acl.get("protocol", rule),
                acl.get("from_port", rule),
                acl.get("to_port", rule),
            )
            if status is Status.FAIL or (status is Status.UNKNOWN and worst[0] is Status.PASS):
                worst = (status, why, rule)
        yield Finding(check, worst[0], worst[1], acl, block=worst[2])
    rules = [r for r in estate.of("aws_network_acl_rule") if _truth(r.get("egress")) is not True]
    for rule in rules:
        if rule.get("rule_action") != "allow":
            continue
        status, why = _open_rule(
            [rule.get("cidr_block"), rule.get("ipv6_cidr_block")],
            rule.get("protocol"),
            rule.get("from_port"),
            rule.get("to_port"),
        )
        yield Finding(check, status, why, rule)
    vpcs = estate.of("aws_vpc")
    if vpcs and not acls and not rules:
        yield _absent(estate, check, Status.FAIL, f"{_names(vpcs)}: only the default network ACL (allows all)")


BASTION_OR_VPN = Check(
    id="terraform.bastion_or_vpn",
    title="Administrative access goes through a VPN, bastion or SSM Session Manager",
    rationale="A controlled entry point for operators is what lets admin ports stay closed to the internet.",
    remediation="Declare a Client VPN / site-to-site VPN, an EC2 Instance Connect endpoint, SSM Session Manager "
    "(AmazonSSMManagedInstanceCore and ssm/ssmmessages VPC endpoints) or a hardened bastion host.",
    when_absent=Status.UNKNOWN,
)
ACCESS_TYPES = (
    "aws_ec2_client_vpn_endpoint",
    "aws_vpn_connection",
    "aws_vpn_gateway",
    "aws_ec2_instance_connect_endpoint",
)


def bastion_or_vpn(estate: Estate) -> Iterator[Finding]:
    """Estate: names the resources that provide controlled administrative access."""
    check = BASTION_OR_VPN.id
    proofs = estate.of(*ACCESS_TYPES)
    for endpoint in estate.of("aws_vpc_endpoint"):
        service = endpoint.get("service_name")
        if isinstance(service, str) and service.endswith((".ssm", ".ssmmessages")):
            proofs.append(endpoint)
    for att in estate.of("aws_iam_role_policy_attachment"):
        arn = att.get("policy_arn")
        if isinstance(arn, str) and arn.endswith("/AmazonSSMManagedInstanceCore"):
            proofs.append(att)
    for inst in estate.of("aws_instance"):
        tags = inst.get("tags")
        label = f"{inst.name} {tags.get('Name', '') if isinstance(tags, dict) else ''}".lower()
        if "bastion" in label or "jump" in label:
            proofs.append(inst)
    for proof in proofs:
        yield Finding(check, Status.PASS, f"{proof.type} provides controlled access", proof)
    hosts = estate.of("aws_instance", "aws_launch_template", "aws_eks_node_group", "aws_db_instance")
    if hosts and not proofs:
        yield _absent(estate, check, Status.FAIL, f"hosts ({_names(hosts)}) but no VPN, bastion or SSM access")


# -- edge -----------------------------------------------------------------------------------------

WAF = Check(
    id="terraform.waf",
    title="Internet-facing entry points are protected by a WAF",
    rationale="A web application firewall blocks common exploits and abusive traffic before it reaches the app.",
    remediation="Associate an aws_wafv2_web_acl with every public ALB and API Gateway stage "
    "(aws_wafv2_web_acl_association) and set web_acl_id on CloudFront distributions.",
    when_absent=Status.UNKNOWN,
)


def waf(estate: Estate) -> Iterator[Finding]:
    """Per public ALB, API Gateway REST stage and CloudFront distribution."""
    check = WAF.id
    assocs = ("aws_wafv2_web_acl_association", "aws_wafregional_web_acl_association")
    for entry in _entry_points(estate):
        if entry.type == "aws_apigatewayv2_stage":
            continue  # HTTP APIs cannot take a WAF; their protection is judged elsewhere
        if entry.type == "aws_lb" and entry.get("load_balancer_type") in ("network", "gateway"):
            continue
        if entry.type == "aws_cloudfront_distribution":
            acl = entry.get("web_acl_id")
            if isinstance(acl, Unknown):
                yield Finding(check, Status.UNKNOWN, f"web_acl_id: {acl.reason}", entry, "web_acl_id")
            elif acl not in (MISSING, None):
                yield Finding(check, Status.PASS, "web ACL attached", entry, "web_acl_id")
            else:
                yield Finding(check, Status.FAIL, "no web ACL (web_acl_id)", entry)
            continue
        linked = estate.linked(entry, assocs, "resource_arn")
        if linked:
            yield Finding(check, Status.PASS, f"web ACL attached by {linked[0].address}", entry)
        elif entry.type == "aws_elb":
            msg = "classic ELB: cannot take a WAF (move to an ALB or put CloudFront with a web ACL in front)"
            yield Finding(check, Status.FAIL, msg, entry)
        else:
            yield _unlinked(estate, check, entry, assocs, "resource_arn", "no WAF web ACL association")


DDOS_PROTECTION = Check(
    id="terraform.ddos_protection",
    title="Internet-facing entry points have AWS Shield Advanced protection",
    rationale="Shield Standard only absorbs network-layer floods; Shield Advanced adds application-layer "
    "detection, response and cost protection for the endpoints that matter.",
    remediation="Subscribe to Shield Advanced and declare aws_shield_protection for each public load balancer, "
    "CloudFront distribution, Elastic IP and Route 53 zone.",
    when_absent=Status.UNKNOWN,
)


def ddos_protection(estate: Estate) -> Iterator[Finding]:
    """Estate: Shield protections exist and name what they protect; entry points without one are listed."""
    check = DDOS_PROTECTION.id
    protections = estate.of("aws_shield_protection", "aws_shield_protection_group")
    entries = _entry_points(estate)
    protected = {t.address for p in protections if (t := estate.target(p.get("resource_arn")))}
    for prot in protections:
        yield Finding(check, Status.PASS, "Shield Advanced protection", prot)
    bare = [e for e in entries if e.address not in protected and e.type != "aws_api_gateway_stage"]
    if bare and protections:
        yield Finding(check, Status.FAIL, f"not covered by a Shield protection: {_names(bare)}", bare[0])
    elif bare:
        yield _absent(estate, check, Status.FAIL, f"entry points ({_names(bare)}) but no Shield protection")


# -- secrets and IAM -----------------------------------------------------------------------------

SECRETS_MANAGER = Check(
    id="terraform.secrets_manager",
    title="Secrets come from a secrets manager, never from literals in the code",
    rationale="A password written in Terraform (or as a variable default) is in the repository, its history "
    "and the state file forever.",
    remediation="Use manage_master_user_password = true, or read the secret from aws_secretsmanager_secret / "
    "SSM SecureString; never a literal or a variable default.",
)
PASSWORD_ATTRS = {
    "aws_db_instance": "password",
    "aws_rds_cluster": "master_password",
    "aws_docdb_cluster": "master_password",
    "aws_redshift_cluster": "master_password",
    "aws_elasticache_replication_group": "auth_token",
}
SECRET_WORDS = ("password", "passwd", "secret", "token", "api_key", "private_key")
# Names that hold metadata about a secret, not the secret itself.
NOT_SECRET_SUFFIXES = ("_arn", "_id", "_name", "_days", "_ttl", "_length", "_path", "_version", "_prefix", "_enabled")


def _secret_default(name: str, var: Block) -> bool:
    """A variable that holds a secret (by its name or ``sensitive = true``) and has a literal default."""
    default = var.attrs.get("default")
    if not isinstance(default, str) or "${" in default or not default.strip() or default.strip().isdigit():
        return False
    if var.attrs.get("sensitive") is True:
        return True
    lowered = name.lower()
    return any(w in lowered for w in SECRET_WORDS) and not lowered.endswith(NOT_SECRET_SUFFIXES)


def _literal_source(res: Resource, attr: str) -> str | None:
    """Where a literal secret comes from ('literal' or 'variable X default'), or None if it is not literal."""
    raw = res.block.attrs.get(attr)
    if isinstance(raw, str) and "${" not in raw:
        return "a literal in the code"
    if isinstance(raw, str) and raw.startswith("${var.") and raw.endswith("}"):
        name = raw[6:-1]
        var = res.instance.variables.get(name)
        if var is not None and isinstance(var.attrs.get("default"), str) and "${" not in var.attrs["default"]:
            if res.instance.inputs is None and name in res.instance.module.tfvars:
                return f"variable {name} set in a tfvars file"
            return f"the default of variable {name}"
        if res.instance.inputs is None and name in res.instance.module.tfvars:
            return f"variable {name} set in a tfvars file"
    value = res.get(attr)
    return "a literal passed into the module" if isinstance(value, str) and res.instance.inputs is not None else None


def secrets_manager(estate: Estate) -> Iterator[Finding]:
    """Per credential attribute and per stored secret; secret values are never reported."""
    check = SECRETS_MANAGER.id
    for res in estate.of(*PASSWORD_ATTRS):
        attr = PASSWORD_ATTRS[res.type]
        if _truth(res.get("manage_master_user_password")) is True:
            yield Finding(
                check,
                Status.PASS,
                "master password managed in Secrets Manager by RDS",
                res,
                "manage_master_user_password",
            )
            continue
        if attr not in res.block.attrs:
            continue
        source = _literal_source(res, attr)
        value = res.get(attr)
        if source:
            yield Finding(
                check, Status.FAIL, f"{attr} is {source} (value not shown)", res, attr, facts={"literal": True}
            )
        elif isinstance(value, Ref) and value.address.split(".")[-2] in (
            "random_password",
            "aws_secretsmanager_secret_version",
        ):
            yield Finding(check, Status.PASS, f"{attr} comes from {value.address}", res, attr)
        elif isinstance(value, Unknown) and "data source data.aws_secretsmanager" in value.reason:
            yield Finding(check, Status.PASS, f"{attr} is read from Secrets Manager", res, attr)
        else:
            why = value.reason if isinstance(value, Unknown) else "a computed value"
            yield Finding(check, Status.UNKNOWN, f"{attr} comes from {why}; its source cannot be seen", res, attr)
    for res in estate.of("aws_secretsmanager_secret"):
        yield Finding(check, Status.PASS, "secret stored in Secrets Manager", res)
    for res in estate.of("aws_ssm_parameter"):
        name = str(res.get("name", default="")).lower()
        kind = res.get("type")
        if kind == "SecureString":
            yield Finding(check, Status.PASS, "SSM SecureString parameter", res, "type")
        elif any(w in name or w in res.name.lower() for w in SECRET_WORDS) and isinstance(kind, str):
            yield Finding(check, Status.FAIL, f"a secret-looking parameter stored as {kind}", res, "type")
    for inst in estate.root.walk():
        for name, var in inst.variables.items():
            if _secret_default(name, var):
                path = next(p for p, b in inst.module.top("variable") if b is var)
                yield Finding(
                    check,
                    Status.FAIL,
                    f"variable {name} has a literal default (value not shown)",
                    Resource("variable", name, var, path, inst, mode="variable"),
                    "default",
                    facts={"literal": True},
                )


SECRET_ROTATION = Check(
    id="terraform.secret_rotation",
    title="Secrets rotate automatically",
    rationale="A credential that never changes stays valid for whoever copied it, however long ago.",
    remediation="Declare aws_secretsmanager_secret_rotation for each secret (automatically_after_days <= 90), "
    "or let RDS manage the master password.",
)


def secret_rotation(estate: Estate) -> Iterator[Finding]:
    """Per Secrets Manager secret and per RDS-managed password; long-lived IAM access keys fail."""
    check = SECRET_ROTATION.id
    for secret in estate.of("aws_secretsmanager_secret"):
        rotations = estate.linked(secret, ("aws_secretsmanager_secret_rotation",), "secret_id")
        if rotations or secret.block.attrs.get("rotation_lambda_arn"):
            yield Finding(
                check, Status.PASS, f"rotated by {rotations[0].address if rotations else 'its lambda'}", secret
            )
        else:
            yield _unlinked(
                estate,
                check,
                secret,
                ("aws_secretsmanager_secret_rotation",),
                "secret_id",
                "no aws_secretsmanager_secret_rotation",
            )
    for db in estate.of("aws_db_instance", "aws_rds_cluster"):
        if _truth(db.get("manage_master_user_password")) is True:
            yield Finding(check, Status.PASS, "RDS rotates the managed master password", db)
    for key in estate.of("aws_iam_access_key"):
        yield Finding(check, Status.FAIL, "a long-lived IAM access key is created by Terraform (no rotation)", key)


def _statements(document: Any) -> list[dict[str, Any]] | Unknown:
    if isinstance(document, Unknown):
        return document
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except ValueError:
            return Unknown("the policy is not JSON known statically")
    if not isinstance(document, dict):
        return Unknown("the policy document is not known statically")
    found = document.get("Statement", [])
    found = found if isinstance(found, list) else [found]
    return [s for s in found if isinstance(s, dict)]


def _has(value: Any, wanted: str) -> bool:
    return wanted in (value if isinstance(value, list) else [value])


POLICY_ATTRS = {
    "aws_iam_policy": "policy",
    "aws_iam_role_policy": "policy",
    "aws_iam_user_policy": "policy",
    "aws_iam_group_policy": "policy",
}

IAM_LEAST_PRIVILEGE = Check(
    id="terraform.iam_least_privilege",
    title="IAM policies grant least privilege: no Action * on Resource *, no admin policies on users",
    rationale="A wildcard policy turns any leaked credential or compromised service into full account control.",
    remediation="Name the actions and resources each role needs; attach policies to roles or groups, not users; "
    "never attach AdministratorAccess to service roles.",
)


def _policy_findings(check: str, holder: Resource, document: Any, attr: str) -> Finding:
    statements = _statements(document)
    if isinstance(statements, Unknown):
        return Finding(check, Status.UNKNOWN, statements.reason, holder, attr)
    for st in statements:
        if st.get("Effect", "Allow") != "Allow":
            continue
        # Only an unknown action can hide a wildcard grant; a computed resource ARN names one resource.
        if any(isinstance(v, Unknown) for v in _listify(st.get("Action"))):
            return Finding(check, Status.UNKNOWN, "an action is not known statically", holder, attr)
        if _has(st.get("Action"), "*") and _has(st.get("Resource"), "*"):
            return Finding(check, Status.FAIL, 'allows Action "*" on Resource "*" (full admin)', holder, attr)
        if _has(st.get("Action"), "*"):
            return Finding(check, Status.FAIL, 'allows Action "*"', holder, attr)
        # "s3:*" on every resource is admin over a whole service (TerraGoat's ec2policy: s3/ec2/rds).
        services = [a for a in _listify(st.get("Action")) if isinstance(a, str) and a.endswith(":*")]
        if services and _has(st.get("Resource"), "*"):
            shown = ", ".join(services)
            return Finding(check, Status.FAIL, f'allows service-wide {shown} on Resource "*"', holder, attr)
    return Finding(check, Status.PASS, "no wildcard admin statement", holder, attr)


def iam_least_privilege(estate: Estate) -> Iterator[Finding]:
    """Per policy document, user policy and admin attachment."""
    check = IAM_LEAST_PRIVILEGE.id
    for res in estate.of(*POLICY_ATTRS):
        finding = _policy_findings(check, res, res.get("policy"), "policy")
        if res.type == "aws_iam_user_policy" and finding.status is not Status.FAIL:
            finding = Finding(check, Status.FAIL, "inline policy on a user (attach policies to roles or groups)", res)
        yield finding
    for inst in estate.root.walk():
        for data in inst.data.values():
            if data.type == "aws_iam_policy_document":
                yield _policy_findings(check, data, policy_document(data), "statement")
    for res in estate.of(
        "aws_iam_role_policy_attachment",
        "aws_iam_user_policy_attachment",
        "aws_iam_group_policy_attachment",
        "aws_iam_policy_attachment",
    ):
        arn = res.get("policy_arn")
        if arn == ADMIN_POLICY_ARN:
            yield Finding(check, Status.FAIL, "attaches AdministratorAccess", res, "policy_arn")
        elif isinstance(arn, Unknown):
            yield Finding(check, Status.UNKNOWN, f"policy_arn: {arn.reason}", res, "policy_arn")
    for role in estate.of("aws_iam_role"):
        for inline in role.block.sub("inline_policy"):
            yield _policy_findings(check, role, role.get("policy", inline), "inline_policy")
        managed = role.get("managed_policy_arns")
        if isinstance(managed, list) and ADMIN_POLICY_ARN in managed:
            yield Finding(check, Status.FAIL, "managed_policy_arns include AdministratorAccess", role)


MFA_ENFORCED = Check(
    id="terraform.mfa_enforced",
    title="Human access declared in IAM requires MFA",
    rationale="A phished or leaked password without MFA is enough to log in to production.",
    remediation="Require aws:MultiFactorAuthPresent in the trust policy of roles people assume and deny "
    "actions without MFA for IAM users with console access (or use SSO with MFA instead of IAM users).",
    when_absent=Status.UNKNOWN,
)


def _mfa_condition(statement: dict[str, Any]) -> bool:
    return "MultiFactorAuthPresent" in json.dumps(statement.get("Condition", {}), default=str) or (
        "MultiFactorAuthAge" in json.dumps(statement.get("Condition", {}), default=str)
    )


def mfa_enforced(estate: Estate) -> Iterator[Finding]:
    """Roles people assume (AWS principals) need an MFA condition; console users need an MFA policy."""
    check = MFA_ENFORCED.id
    for role in estate.of("aws_iam_role"):
        statements = _statements(role.get("assume_role_policy"))
        if isinstance(statements, Unknown):
            yield Finding(check, Status.UNKNOWN, f"assume_role_policy: {statements.reason}", role, "assume_role_policy")
            continue
        human = [s for s in statements if isinstance(s.get("Principal"), dict) and "AWS" in s["Principal"]]
        if not human:
            continue  # assumed by services, not people
        ok = all(_mfa_condition(s) for s in human)
        status = Status.PASS if ok else Status.FAIL
        why = "requires MFA to assume" if ok else "can be assumed by IAM principals without MFA"
        yield Finding(check, status, why, role, "assume_role_policy")
    consoles = estate.of("aws_iam_user_login_profile")
    if consoles:
        documents = [(res, res.get("policy")) for res in estate.of(*POLICY_ATTRS)]
        documents += [
            (data, policy_document(data))
            for inst in estate.root.walk()
            for data in inst.data.values()
            if data.type == "aws_iam_policy_document"
        ]
        mfa_policies = []
        for holder, document in documents:
            statements = _statements(document)
            if not isinstance(statements, Unknown) and any(_mfa_condition(s) for s in statements):
                mfa_policies.append(holder)
        for login in consoles:
            if mfa_policies:
                yield Finding(check, Status.PASS, f"MFA required by {_names(mfa_policies)}", login)
            else:
                yield _absent_on(estate, check, login, "console user, and no policy requires MFA")


def _absent_on(estate: Estate, check: str, res: Resource, message: str) -> Finding:
    finding = _absent(estate, check, Status.FAIL, message)
    finding.resource = res
    return finding


SECRET_ACCESS_AUDITED = Check(
    id="terraform.secret_access_audited",
    title="Access to secrets and keys is recorded by CloudTrail",
    rationale="Without a trail of GetSecretValue and Decrypt calls a stolen secret leaves no trace.",
    remediation="Declare an aws_cloudtrail that logs read and write management events in every region.",
    when_absent=Status.UNKNOWN,
)


def secret_access_audited(estate: Estate) -> Iterator[Finding]:
    """Estate: if secrets or keys exist, a trail records read management events."""
    check = SECRET_ACCESS_AUDITED.id
    secrets = estate.of("aws_secretsmanager_secret", "aws_kms_key", "aws_ssm_parameter")
    if not secrets:
        return
    trails = estate.of("aws_cloudtrail")
    for trail in trails:
        selectors = trail.block.sub("event_selector")
        kinds = [trail.get("read_write_type", s, "All") for s in selectors]
        if any(isinstance(k, Unknown) for k in kinds):
            yield Finding(check, Status.UNKNOWN, "event selector not known statically", trail)
        elif kinds and all(k == "WriteOnly" for k in kinds):
            yield Finding(check, Status.FAIL, "trail records write events only: secret reads are not logged", trail)
        elif _truth(trail.get("enable_logging")) is False:
            yield Finding(check, Status.FAIL, "trail logging disabled", trail, "enable_logging")
        else:
            yield Finding(check, Status.PASS, f"records secret and key access ({_names(secrets)})", trail)
    if not trails:
        yield _absent(estate, check, Status.FAIL, f"secrets/keys ({_names(secrets)}) but no CloudTrail trail")


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


JUDGES: tuple[tuple[Check, Judge], ...] = (
    (IAC_PRESENT, iac_present),
    (ENCRYPTION_AT_REST, encryption_at_rest),
    (ENCRYPTION_IN_TRANSIT, encryption_in_transit),
    (DB_BACKUPS, db_backups),
    (DB_REPLICATION, db_replication),
    (CROSS_REGION_BACKUPS, cross_region_backups),
    (SG_NO_OPEN_ADMIN_PORTS, sg_no_open_admin_ports),
    (NETWORK_SEGMENTED, network_segmented),
    (PRIVATE_SUBNETS, private_subnets),
    (FIREWALL_RULES, firewall_rules),
    (BASTION_OR_VPN, bastion_or_vpn),
    (WAF, waf),
    (DDOS_PROTECTION, ddos_protection),
    (HTTPS_ENFORCED, https_enforced),
    (LOAD_BALANCER, load_balancer),
    (CDN, cdn),
    (AUTOSCALING, autoscaling),
    (COMPUTE_PROVISIONED, compute_provisioned),
    (SECRETS_MANAGER, secrets_manager),
    (SECRET_ROTATION, secret_rotation),
    (IAM_LEAST_PRIVILEGE, iam_least_privilege),
    (SECRET_ACCESS_AUDITED, secret_access_audited),
    (AUDIT_LOGGING, audit_logging),
    (LOG_RETENTION, log_retention),
    (CENTRAL_LOGGING, central_logging),
    (IMAGE_SCAN_ON_PUSH, image_scan_on_push),
    (MFA_ENFORCED, mfa_enforced),
    (COST_CONTROLS, cost_controls),
    (DELETION_PROTECTION, deletion_protection),
)
