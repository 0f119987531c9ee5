"""Terraform checks on encryption at rest and in transit, and HTTPS enforcement."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from readiness.model import Check, Status

from .terraform_findings import (
    MODERN_CLOUDFRONT,
    MODERN_LB_POLICY_MARKERS,
    Finding,
    _as_int,
    _flag,
    _truth,
    _unlinked,
)
from .terraform_resolve import MISSING, Block, Estate, Resource, Unknown

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
