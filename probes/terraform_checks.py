"""The Terraform checks (AWS): each a :class:`Check` beside the function that judges it.

A judge takes an :class:`Estate` (a root module with its local modules) and
yields :class:`Finding` s: per resource where the fact belongs to a resource,
or once for the estate where the checklist item is about the whole deployment
("backups are stored in another region"), naming the resources that prove it.
A value that cannot be known statically gives ``unknown`` with the reason. The
absence of something is only concluded when every module was read.

The judges live by topic in the
terraform_{compute,encryption,backups,network,iam,operations} modules, their shared
helpers in terraform_findings; this module lists them in :data:`JUDGES`.
"""

from __future__ import annotations

from readiness.model import Check

from .terraform_backups import (
    CROSS_REGION_BACKUPS,
    DB_BACKUPS,
    DB_REPLICATION,
    cross_region_backups,
    db_backups,
    db_replication,
)
from .terraform_compute import (
    AUTOSCALING,
    CDN,
    COMPUTE_PROVISIONED,
    IAC_PRESENT,
    LOAD_BALANCER,
    autoscaling,
    cdn,
    compute_provisioned,
    iac_present,
    load_balancer,
)
from .terraform_encryption import (
    ENCRYPTION_AT_REST,
    ENCRYPTION_IN_TRANSIT,
    HTTPS_ENFORCED,
    encryption_at_rest,
    encryption_in_transit,
    https_enforced,
)

# Re-exported: terraform.py, terraform_clouds.py and terraform_audit_logs.py import these from here.
from .terraform_findings import Finding as Finding
from .terraform_findings import Judge
from .terraform_findings import _absent as _absent
from .terraform_findings import _flag as _flag
from .terraform_findings import _truth as _truth
from .terraform_iam import (
    IAM_LEAST_PRIVILEGE,
    MFA_ENFORCED,
    SECRET_ACCESS_AUDITED,
    SECRET_ROTATION,
    SECRETS_MANAGER,
    iam_least_privilege,
    mfa_enforced,
    secret_access_audited,
    secret_rotation,
    secrets_manager,
)
from .terraform_network import (
    BASTION_OR_VPN,
    DDOS_PROTECTION,
    FIREWALL_RULES,
    NETWORK_SEGMENTED,
    PRIVATE_SUBNETS,
    SG_NO_OPEN_ADMIN_PORTS,
    WAF,
    bastion_or_vpn,
    ddos_protection,
    firewall_rules,
    network_segmented,
    private_subnets,
    sg_no_open_admin_ports,
    waf,
)
from .terraform_operations import (
    AUDIT_LOGGING,
    CENTRAL_LOGGING,
    COST_CONTROLS,
    DELETION_PROTECTION,
    IMAGE_SCAN_ON_PUSH,
    LOG_RETENTION,
    audit_logging,
    central_logging,
    cost_controls,
    deletion_protection,
    image_scan_on_push,
    log_retention,
)

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
