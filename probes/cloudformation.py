"""CloudFormation templates (YAML and JSON): encryption, backups, replication, admin ports, deletion protection.

YAML templates are read with PyYAML through the line-keeping loader of
``readiness.yaml_lines``, taught the short-form intrinsic tags (``!Ref``,
``!If``, ...), which become their long form (``{"Ref": ...}``). Values are
resolved against parameter defaults, conditions and mappings; whatever cannot
be known statically (a parameter without a default, ``!ImportValue``, a
pseudo parameter) stays unknown with the reason. The semantics mirror the
Terraform probe's checks for the same AWS resources.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import yaml

from readiness import safe_load
from readiness.model import Check, Status, Subject
from readiness.probe import Claim, Probe, ProbeContext
from readiness.yaml_lines import LineDict, LineLoader, error_line

from .cloudformation_ecs import ECS_CHECKS, container_findings

MIN_BACKUP_DAYS = 7  # as terraform_checks.MIN_BACKUP_DAYS
ADMIN_PORTS = (22, 3389)
OPEN_CIDRS = ("0.0.0.0/0", "::/0")
DATABASES = ("AWS::RDS::DBInstance", "AWS::RDS::DBCluster")
SHORT_TAGS = ("Base64", "Cidr", "FindInMap", "GetAtt", "GetAZs", "ImportValue", "Join", "Select", "Split", "Sub")
SHORT_TAGS += ("Transform", "And", "Equals", "If", "Not", "Or")

IAC_PRESENT = Check(
    id="cloudformation.iac_present",
    title="Infrastructure is declared in CloudFormation templates that parse",
    rationale="Infrastructure declared as code can be reviewed, reproduced and audited; a template that "
    "does not parse cannot be deployed or checked.",
    remediation="Declare the stack's resources in a CloudFormation template kept in the repository, and "
    "fix any template that does not parse (cfn-lint).",
)
ENCRYPTION_AT_REST = Check(
    id="cloudformation.encryption_at_rest",
    title="Storage resources in CloudFormation are encrypted at rest",
    rationale="Unencrypted volumes, buckets, databases, tables and queues expose data to anyone who "
    "obtains a snapshot, a disk or a backup.",
    remediation="Set BucketEncryption on S3 buckets, StorageEncrypted on RDS, Encrypted on EBS volumes "
    "and EFS file systems, SSESpecification.SSEEnabled on DynamoDB, KmsMasterKeyId on SNS topics, and "
    "KmsMasterKeyId or SqsManagedSseEnabled on SQS queues.",
)
DB_BACKUPS = Check(
    id="cloudformation.db_backups",
    title=f"RDS databases in CloudFormation keep automated backups for at least {MIN_BACKUP_DAYS} days",
    rationale="Automated backups are the way back from corruption or deletion; CloudFormation's default "
    "retention is one day.",
    remediation=f"Set BackupRetentionPeriod >= {MIN_BACKUP_DAYS} on every AWS::RDS::DBInstance and DBCluster.",
)
DB_REPLICATION = Check(
    id="cloudformation.db_replication",
    title="RDS databases in CloudFormation survive the loss of one availability zone",
    rationale="A single-AZ database is down for as long as its zone or host is.",
    remediation="Set MultiAZ: true on RDS instances; run two or more instances in each Aurora cluster.",
)
SG_NO_OPEN_ADMIN_PORTS = Check(
    id="cloudformation.sg_no_open_admin_ports",
    title="No CloudFormation security group opens SSH, RDP or all ports to the internet",
    rationale="Admin ports open to 0.0.0.0/0 or ::/0 are scanned and brute-forced within minutes.",
    remediation="Restrict 22/3389 ingress to a bastion, VPN or SSM Session Manager; never 0.0.0.0/0 or ::/0; "
    "never open all ports (IpProtocol -1) to the internet.",
)
DELETION_PROTECTION = Check(
    id="cloudformation.deletion_protection",
    title="CloudFormation databases are protected from deletion",
    rationale="A stack update or delete can drop a database and its data in one step.",
    remediation="Set DeletionProtection: true and DeletionPolicy: Retain or Snapshot on every RDS "
    "instance and cluster.",
)
CHECKS = (
    IAC_PRESENT, ENCRYPTION_AT_REST, DB_BACKUPS, DB_REPLICATION, SG_NO_OPEN_ADMIN_PORTS, DELETION_PROTECTION,
    *ECS_CHECKS,
)  # fmt: skip


@dataclass(frozen=True)
class Unknown:
    """A value that cannot be known statically, and why."""

    reason: str


MISSING: Any = object()  # the attribute is not written (or is AWS::NoValue)


class _CfnLoader(LineLoader):  # type: ignore[misc, valid-type]
    """The line-keeping loader, with CloudFormation's short-form intrinsic tags."""


def _tag_constructor(long_name: str):
    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> LineDict:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
            if long_name == "Fn::GetAtt" and isinstance(value, str):
                value = value.split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_object(yaml.MappingNode("tag:yaml.org,2002:map", node.value), deep=True)
        out = LineDict({long_name: value})
        out.line = node.start_mark.line + 1
        out.key_lines = {long_name: out.line}
        return out

    return construct


_CfnLoader.add_constructor("!Ref", _tag_constructor("Ref"))
_CfnLoader.add_constructor("!Condition", _tag_constructor("Condition"))
for _tag in SHORT_TAGS:
    _CfnLoader.add_constructor(f"!{_tag}", _tag_constructor(f"Fn::{_tag}"))


class NotATemplate(Exception):
    """A claimed file that parses but is no CloudFormation template (no top-level Resources)."""


class TemplateError(Exception):
    """A template that does not parse; ``line`` is where, when known."""

    def __init__(self, message: str, line: int | None) -> None:
        super().__init__(message)
        self.line = line


def parse_template(path: str, text: str) -> tuple[dict, dict[str, int]]:
    """The template and the line of each resource's logical id; raises TemplateError when malformed."""
    if path.endswith(".json") or text.lstrip().startswith("{"):
        try:
            doc = safe_load.load_json(text)
        except json.JSONDecodeError as exc:
            raise TemplateError(f"malformed JSON: {exc.msg}", exc.lineno) from exc
        lines = {}
        resources = doc.get("Resources") if isinstance(doc, dict) else None
        for logical_id in resources or {}:
            # The json module keeps no positions; a logical id is unique in a template, so the first time it
            # appears as a key after "Resources" is its line (an Output or Mapping of that name comes elsewhere).
            section = re.search(r'"Resources"\s*:\s*\{', text)
            match = re.compile(r'"' + re.escape(logical_id) + r'"\s*:').search(text, section.end() if section else 0)
            if match:
                lines[logical_id] = text.count("\n", 0, match.start()) + 1
    else:
        try:
            doc = yaml.load(text, Loader=_CfnLoader)
        except yaml.YAMLError as exc:
            raise TemplateError(f"malformed YAML: {getattr(exc, 'problem', None) or exc}", error_line(exc)) from exc
        resources = doc.get("Resources") if isinstance(doc, dict) else None
        lines = {k: resources.key_line(k) for k in resources} if isinstance(resources, LineDict) else {}
    if not isinstance(doc, dict) or not isinstance(doc.get("Resources"), dict):
        if isinstance(doc, dict) and "AWSTemplateFormatVersion" in doc:
            raise TemplateError("CloudFormation template without a Resources mapping", 1)
        raise NotATemplate("no top-level Resources mapping: not a CloudFormation template")
    return doc, lines


class Template:
    """Resolves values of one template against its parameters, conditions and mappings."""

    def __init__(self, doc: dict) -> None:
        self.parameters = doc.get("Parameters") or {}
        self.conditions = doc.get("Conditions") or {}
        self.mappings = doc.get("Mappings") or {}
        self.resources = doc.get("Resources") or {}

    def resolve(self, value: Any) -> Any:
        """A concrete value, ``MISSING`` (AWS::NoValue), or an ``Unknown`` with its reason."""
        if isinstance(value, list):
            items = [self.resolve(v) for v in value]
            return [v for v in items if v is not MISSING]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return self._ref(arg)
            if key == "Fn::If":
                return self._if(arg)
            if key == "Fn::FindInMap":
                return self._find_in_map(arg)
            if key == "Fn::Sub" and isinstance(arg, str) and "${" not in arg:
                return arg
            if key in ("Fn::Equals", "Fn::Not", "Fn::And", "Fn::Or", "Condition"):
                return self.condition_value(value)
            if key.startswith("Fn::"):
                return Unknown(f"{key} is only known at deploy time")
        return {k: self.resolve(v) for k, v in value.items()}

    def _ref(self, name: Any) -> Any:
        if name == "AWS::NoValue":
            return MISSING
        if isinstance(name, str) and name.startswith("AWS::"):
            return Unknown(f"pseudo parameter {name} is only known at deploy time")
        param = self.parameters.get(name)
        if isinstance(param, dict):
            if "Default" in param:
                return param["Default"]
            return Unknown(f"parameter {name} has no default: its value is given at deploy time")
        if name in self.resources:
            return Unknown(f"reference to resource {name}")
        return Unknown(f"reference to undefined {name}")

    def _find_in_map(self, arg: Any) -> Any:
        if not isinstance(arg, list) or len(arg) != 3:
            return Unknown("malformed Fn::FindInMap")
        keys = [self.resolve(k) for k in arg]
        for key in keys:
            if isinstance(key, Unknown):
                return Unknown(f"Fn::FindInMap key: {key.reason}")
        try:
            return self.resolve(self.mappings[keys[0]][keys[1]][keys[2]])
        except (KeyError, TypeError):
            return Unknown(f"Fn::FindInMap {'/'.join(map(str, keys))} is not in Mappings")

    def _if(self, arg: Any) -> Any:
        if not isinstance(arg, list) or len(arg) != 3:
            return Unknown("malformed Fn::If")
        cond = self.condition_value({"Condition": arg[0]})
        if isinstance(cond, Unknown):
            return Unknown(f"depends on condition {arg[0]}: {cond.reason}")
        return self.resolve(arg[1] if cond else arg[2])

    def condition_value(self, expr: Any, seen: frozenset[str] = frozenset()) -> bool | Unknown:
        """A condition expression evaluated, or Unknown when it rests on a value not known statically."""
        if isinstance(expr, bool):
            return expr
        if not isinstance(expr, dict) or len(expr) != 1:
            return Unknown("unsupported condition expression")
        ((key, arg),) = expr.items()
        if key == "Condition":
            if arg in seen or arg not in self.conditions:
                return Unknown(f"condition {arg} is undefined or circular")
            return self.condition_value(self.conditions[arg], seen | {arg})
        args = arg if isinstance(arg, list) else [arg]
        if key == "Fn::Equals" and len(args) == 2:
            left, right = (self.resolve(a) for a in args)
            for side in (left, right):
                if isinstance(side, Unknown):
                    return side
            return str(left) == str(right)
        parts = [self.condition_value(a, seen) for a in args]
        unknown = next((p for p in parts if isinstance(p, Unknown)), None)
        if key == "Fn::Not" and len(parts) == 1:
            return parts[0] if unknown else not parts[0]
        if key == "Fn::And":
            return False if False in parts else unknown or True
        if key == "Fn::Or":
            return True if True in parts else unknown or False
        return Unknown(f"unsupported condition function {key}")

    def resource_condition(self, res: dict) -> bool | Unknown | None:
        """Whether a resource with ``Condition`` is created; None when it has none."""
        if "Condition" not in res:
            return None
        return self.condition_value({"Condition": res["Condition"]})


def _truth(value: Any) -> bool | None | Unknown:
    if isinstance(value, Unknown) or value is MISSING or value is None:
        return None if value is MISSING else value
    if isinstance(value, bool):
        return value
    if str(value).lower() in ("true", "false"):
        return str(value).lower() == "true"
    return Unknown(f"not a boolean: {value!r}")


def _as_int(value: Any) -> int | None | Unknown:
    if value is MISSING or value is None or isinstance(value, Unknown):
        return None if value is MISSING or value is None else value
    try:
        return int(str(value))
    except ValueError:
        return Unknown(f"not a number: {value!r}")


@dataclass(frozen=True)
class Finding:
    check: str
    status: Status
    message: str
    facts: dict[str, Any] | None = None


def _flag(check: str, props: dict, tpl: Template, attr: str, good: str, bad: str, absent: str) -> Finding:
    value = _truth(tpl.resolve(props.get(attr, MISSING)))
    if isinstance(value, Unknown):
        return Finding(check, Status.UNKNOWN, f"{attr}: {value.reason}")
    if value is None:
        return Finding(check, Status.FAIL, f"{attr} not set: {absent}")
    return Finding(check, Status.PASS if value else Status.FAIL, f"{attr}: {value}: {good if value else bad}")


def _kms_key(key: Any, tpl: Template) -> Finding | None:
    """A KMS key written (whatever it resolves to) encrypts; only a condition can make it uncertain."""
    if key is MISSING:
        return None
    value = tpl.resolve(key)
    if value is MISSING:
        return None
    if isinstance(value, Unknown) and value.reason.startswith("depends on condition"):
        return Finding(ENCRYPTION_AT_REST.id, Status.UNKNOWN, f"KmsMasterKeyId: {value.reason}")
    return Finding(ENCRYPTION_AT_REST.id, Status.PASS, "KmsMasterKeyId set")


def _encryption(rtype: str, props: dict, tpl: Template) -> Finding | None:
    check = ENCRYPTION_AT_REST.id
    if rtype == "AWS::S3::Bucket":
        enc = tpl.resolve(props.get("BucketEncryption", MISSING))
        if isinstance(enc, Unknown):
            return Finding(check, Status.UNKNOWN, f"BucketEncryption: {enc.reason}")
        if enc is MISSING:
            # As terraform_checks: SSE-S3 is the AWS default since January 2023, but not declared.
            return Finding(check, Status.FAIL, "no BucketEncryption declared")
        return Finding(check, Status.PASS, "BucketEncryption declared")
    if rtype in DATABASES:
        if rtype == "AWS::RDS::DBInstance" and "DBClusterIdentifier" in props:
            return None  # an Aurora member: its cluster holds the storage
        return _flag(check, props, tpl, "StorageEncrypted", "encrypted", "unencrypted", "storage is unencrypted")
    if rtype in ("AWS::EC2::Volume", "AWS::EFS::FileSystem"):
        return _flag(check, props, tpl, "Encrypted", "encrypted", "unencrypted", "unencrypted by default")
    if rtype == "AWS::DynamoDB::Table":
        # As terraform_checks: DynamoDB encrypts every table at rest; SSESpecification only picks the key.
        kms = "SSESpecification" in props
        return Finding(check, Status.PASS, "DynamoDB encrypts every table at rest (cannot be disabled)", {"kms": kms})
    if rtype in ("AWS::SNS::Topic", "AWS::SQS::Queue"):
        key = _kms_key(props.get("KmsMasterKeyId", MISSING), tpl)
        if key is not None:
            return key
    if rtype == "AWS::SNS::Topic":
        return Finding(check, Status.FAIL, "no KmsMasterKeyId: the topic is not encrypted")
    if rtype == "AWS::SQS::Queue":
        sse = _truth(tpl.resolve(props.get("SqsManagedSseEnabled", MISSING)))
        if isinstance(sse, Unknown):
            return Finding(check, Status.UNKNOWN, f"SqsManagedSseEnabled: {sse.reason}")
        if sse:
            return Finding(check, Status.PASS, "SqsManagedSseEnabled: true")
        return Finding(
            check,
            Status.FAIL,
            "no encryption declared: SSE-SQS is the AWS default only for queues created since late 2022",
        )
    return None


def _db_findings(rtype: str, res: dict, props: dict, tpl: Template) -> Iterator[Finding]:
    aurora_member = rtype == "AWS::RDS::DBInstance" and "DBClusterIdentifier" in props
    if aurora_member:
        return  # judged on its cluster
    days = _as_int(tpl.resolve(props.get("BackupRetentionPeriod", MISSING)))
    if isinstance(days, Unknown):
        yield Finding(DB_BACKUPS.id, Status.UNKNOWN, f"BackupRetentionPeriod: {days.reason}")
    else:
        shown = "not set (CloudFormation default: 1 day)" if days is None else f"{days} days"
        ok = days is not None and days >= MIN_BACKUP_DAYS
        yield Finding(
            DB_BACKUPS.id,
            Status.PASS if ok else Status.FAIL,
            f"backup retention {shown}" + ("" if ok else f", want >= {MIN_BACKUP_DAYS}"),
            {"BackupRetentionPeriod": days if days is not None else 1},
        )
    if rtype == "AWS::RDS::DBInstance":
        yield _flag(DB_REPLICATION.id, props, tpl, "MultiAZ", "Multi-AZ", "single-AZ", "single-AZ by default")
    yield _deletion(res, props, tpl)


def _deletion(res: dict, props: dict, tpl: Template) -> Finding:
    """DeletionProtection must be on; an explicit DeletionPolicy: Delete fails too.

    Without DeletionPolicy, CloudFormation snapshots RDS clusters and stand-alone instances on stack deletion.
    """
    flag = _flag(DELETION_PROTECTION.id, props, tpl, "DeletionProtection", "on", "off", "off by default")
    policy = tpl.resolve(res.get("DeletionPolicy", MISSING))
    if policy is MISSING:
        return Finding(flag.check, flag.status, f"{flag.message}; DeletionPolicy not set (default Snapshot)")
    if isinstance(policy, Unknown):
        status = Status.FAIL if flag.status is Status.FAIL else Status.UNKNOWN
        return Finding(flag.check, status, f"{flag.message}; DeletionPolicy: {policy.reason}")
    if policy == "Delete":
        return Finding(flag.check, Status.FAIL, f"{flag.message}; DeletionPolicy: Delete drops the data with the stack")
    return Finding(flag.check, flag.status, f"{flag.message}; DeletionPolicy: {policy}")


def _open_rule(rule: dict, tpl: Template) -> Finding:
    check = SG_NO_OPEN_ADMIN_PORTS.id
    cidrs = [tpl.resolve(rule.get(k, MISSING)) for k in ("CidrIp", "CidrIpv6")]
    unknown = [c for c in cidrs if isinstance(c, Unknown)]
    world = [c for c in cidrs if isinstance(c, str) and c in OPEN_CIDRS]
    if not world:
        if unknown:
            return Finding(check, Status.UNKNOWN, f"source CIDR: {unknown[0].reason}")
        return Finding(check, Status.PASS, "not open to the internet")
    protocol = tpl.resolve(rule.get("IpProtocol", MISSING))
    if isinstance(protocol, Unknown):
        return Finding(check, Status.UNKNOWN, f"IpProtocol: {protocol.reason}")
    if str(protocol).lower() in ("-1", "all"):
        return Finding(check, Status.FAIL, f"all ports open to {', '.join(world)}")
    lo, hi = _as_int(tpl.resolve(rule.get("FromPort", MISSING))), _as_int(tpl.resolve(rule.get("ToPort", MISSING)))
    if isinstance(lo, Unknown) or isinstance(hi, Unknown):
        return Finding(check, Status.UNKNOWN, "port range is not known statically")
    lo, hi = lo or 0, hi if hi is not None else lo or 0
    if hi == -1:
        hi = 65535
    exposed = [p for p in ADMIN_PORTS if lo <= p <= hi]
    if exposed or (lo == 0 and hi >= 65535):
        shown = "all ports" if lo == 0 and hi >= 65535 else f"port {'/'.join(map(str, exposed))}"
        return Finding(check, Status.FAIL, f"{shown} open to {', '.join(world)}")
    return Finding(check, Status.PASS, f"ports {lo}-{hi} open to the internet, no admin port")


def _sg_findings(rtype: str, props: dict, tpl: Template) -> Iterator[Finding]:
    if rtype == "AWS::EC2::SecurityGroupIngress":
        yield _open_rule(props, tpl)
        return
    rules = tpl.resolve(props.get("SecurityGroupIngress", MISSING))
    if isinstance(rules, Unknown):
        yield Finding(SG_NO_OPEN_ADMIN_PORTS.id, Status.UNKNOWN, f"SecurityGroupIngress: {rules.reason}")
        return
    if rules is MISSING or not rules:
        yield Finding(SG_NO_OPEN_ADMIN_PORTS.id, Status.PASS, "no inline ingress rules")
        return
    findings = [_open_rule(r, tpl) if isinstance(r, dict) else None for r in rules]
    for status in (Status.FAIL, Status.UNKNOWN):
        worst = [f for f in findings if f and f.status is status]
        if worst:
            yield Finding(SG_NO_OPEN_ADMIN_PORTS.id, status, "; ".join(f.message for f in worst))
            return
    yield Finding(SG_NO_OPEN_ADMIN_PORTS.id, Status.PASS, f"{len(rules)} ingress rule(s), none open to admin ports")


def judge_resource(rtype: str, res: dict, tpl: Template) -> Iterator[Finding]:
    """Every finding on one resource, before its Condition is taken into account."""
    props = tpl.resolve(res.get("Properties") or {})
    if isinstance(props, Unknown) or not isinstance(props, dict):
        return
    enc = _encryption(rtype, props, tpl)
    if enc:
        yield enc
    if rtype in DATABASES:
        yield from _db_findings(rtype, res, props, tpl)
    if rtype == "AWS::RDS::DBCluster":
        yield from _cluster_replication(res, tpl)
    if rtype in ("AWS::EC2::SecurityGroup", "AWS::EC2::SecurityGroupIngress"):
        yield from _sg_findings(rtype, props, tpl)
    if rtype == "AWS::ECS::TaskDefinition":
        for check, status, message in container_findings(props, tpl.resolve):
            yield Finding(check, status, message)


def _cluster_replication(cluster: dict, tpl: Template) -> Iterator[Finding]:
    cluster_id = next((k for k, v in tpl.resources.items() if v is cluster), None)
    members = []
    for logical_id, res in tpl.resources.items():
        if isinstance(res, dict) and res.get("Type") == "AWS::RDS::DBInstance":
            ref = (res.get("Properties") or {}).get("DBClusterIdentifier")
            if isinstance(ref, dict) and ref.get("Ref") == cluster_id:
                members.append((logical_id, tpl.resource_condition(res)))
    uncertain = [m for m, cond in members if isinstance(cond, Unknown)]
    count = sum(1 for _, cond in members if cond is None or cond is True)
    facts = {"instances": [m for m, _ in members]}
    if count >= 2:
        yield Finding(DB_REPLICATION.id, Status.PASS, f"{count} instances in the cluster", facts)
    elif uncertain:
        yield Finding(DB_REPLICATION.id, Status.UNKNOWN, f"instances {', '.join(uncertain)} depend on conditions")
    else:
        yield Finding(DB_REPLICATION.id, Status.FAIL, f"{count} instance(s) in the cluster, want 2 or more", facts)


# A template has AWSTemplateFormatVersion or a top-level Resources with an AWS:: type.
SNIFF = re.compile(
    rb"AWSTemplateFormatVersion|(?s:^Resources\s*:.*Type\s*:\s*['\"]?AWS::)|\"Type\"\s*:\s*\"AWS::", re.M
)


class CloudFormationProbe(Probe):
    name = "cloudformation"
    version = "0.1.0"
    description = (
        "CloudFormation templates: encryption at rest, RDS backups, replication and deletion protection, "
        "security groups."
    )
    claims = (Claim(("*.yaml", "*.yml", "*.json", "*.template"), sniff=SNIFF),)
    checks = CHECKS

    def run(self, ctx: ProbeContext):
        for art in ctx.artifacts:
            with ctx.guard(art):
                yield from self._template(ctx, art.path, ctx.read_text(art))

    def _template(self, ctx: ProbeContext, path: str, text: str) -> Iterator:
        try:
            doc, lines = parse_template(path, text)
        except TemplateError as exc:
            where = Subject(path=path, line=exc.line)
            ctx.emitted.extend(ctx.errors(where, str(exc)))
            return
        except NotATemplate as exc:
            for check in CHECKS:
                yield ctx.observe(check.id, Status.NOT_APPLICABLE, Subject(path=path), str(exc))
            return
        tpl = Template(doc)
        types = sorted({r.get("Type") for r in tpl.resources.values() if isinstance(r, dict)} - {None})
        yield ctx.observe(
            IAC_PRESENT.id,
            Status.PASS,
            Subject(path=path, line=1),
            f"CloudFormation template with {len(tpl.resources)} resource(s)",
            facts={"resources": len(tpl.resources), "types": types},
        )
        for logical_id, res in tpl.resources.items():
            if not isinstance(res, dict):
                continue
            rtype = str(res.get("Type"))
            subject = Subject(path=path, line=lines.get(logical_id), name=f"{rtype} {logical_id}")
            created = tpl.resource_condition(res)
            if created is False:
                continue  # the resource's condition is false with the defaults: it is not created
            for f in judge_resource(rtype, res, tpl):
                status, message = f.status, f.message
                if isinstance(created, Unknown) and status is not Status.PASS:
                    status, message = Status.UNKNOWN, f"{message}; but created only if {res['Condition']}: "
                    message += created.reason
                yield ctx.observe(f.check, status, subject, message, facts=f.facts)
