"""Terraform checks on IaC itself and compute: instances, autoscaling, load balancers, CDN."""

from __future__ import annotations

from collections.abc import Iterator

from readiness.model import Check, Status

from .terraform_findings import (
    Finding,
    _absent,
    _as_int,
    _entry_points,
    _names,
    _unlinked,
)
from .terraform_resolve import MISSING, Estate, Unknown

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
