"""Terraform checks on secrets and IAM: secrets managers, rotation, least privilege, MFA, audited access."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from readiness.model import Check, Status

from .terraform_findings import (
    ADMIN_POLICY_ARN,
    Finding,
    _absent,
    _absent_on,
    _listify,
    _names,
    _truth,
    _unlinked,
)
from .terraform_resolve import Block, Estate, Ref, Resource, Unknown, policy_document

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
