"""The Terraform probe on real fixture modules: passing, failing, and values it cannot know."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import REPO
from readiness.probes.terraform import TerraformProbe
from readiness.probes.terraform_checks import JUDGES

from readiness import runner
from readiness.config import Config
from readiness.discovery import discover
from readiness.inventory import Inventory
from readiness.model import Observation, Status
from readiness.probe import Files, Gap

FIXTURES = REPO / "fixtures"
CHECK_IDS = [check.id for check, _ in JUDGES]


def run_probe(root: Path, settings: dict | None = None) -> tuple[list[Observation], list[Gap]]:
    """Run the probe as an audit does (discovery, claims, unreadable inputs, silence)."""
    config = Config(probes={"terraform": settings} if settings else {})
    found = discover(root, config)
    observations, gaps, _run = runner.run_probe(TerraformProbe, found, Files(found.root), Inventory(), config)
    return observations, gaps


def copy_fixture(name: str, tmp_path: Path) -> Path:
    dest = tmp_path / name
    shutil.copytree(FIXTURES / name, dest)
    return dest


def write_module(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def by_check(observations: list[Observation], check: str) -> list[Observation]:
    return [o for o in observations if o.check == check]


def one(observations: list[Observation], check: str, name: str) -> Observation:
    found = [o for o in observations if o.check == check and o.subject.name == name]
    assert len(found) == 1, (check, name, [(o.subject.name, o.status) for o in by_check(observations, check)])
    return found[0]


@pytest.fixture(scope="module")
def hardened(tmp_path_factory):
    return run_probe(copy_fixture("terraform-hardened", tmp_path_factory.mktemp("tf")))


@pytest.fixture(scope="module")
def insecure(tmp_path_factory):
    return run_probe(copy_fixture("terraform-insecure", tmp_path_factory.mktemp("tf")))


def test_hardened_passes_every_check(hardened):
    observations, gaps = hardened
    assert gaps == []
    for check in CHECK_IDS:
        statuses = {o.status for o in by_check(observations, check)}
        assert statuses == {Status.PASS}, (
            check,
            [(o.subject.describe(), o.message) for o in by_check(observations, check)],
        )


def test_insecure_fails_every_check_it_should(insecure):
    observations, _ = insecure
    expected_pass = {"terraform.iac_present", "terraform.load_balancer", "terraform.cdn", "terraform.central_logging"}
    for check in CHECK_IDS:
        statuses = {o.status for o in by_check(observations, check)}
        if check in expected_pass:
            assert statuses == {Status.PASS}, check
        else:
            assert Status.FAIL in statuses, (check, statuses)


def test_findings_name_resource_address_and_file_line(insecure):
    observations, _ = insecure
    ssh = one(observations, "terraform.sg_no_open_admin_ports", "aws_security_group.ssh")
    assert (ssh.subject.path, ssh.subject.line) == ("main.tf", 38)  # the offending ingress block
    assert ssh.message == "port 22 open to 0.0.0.0/0"
    rdp = one(observations, "terraform.sg_no_open_admin_ports", "aws_security_group_rule.rdp")
    assert rdp.status is Status.FAIL and "3389" in rdp.message and "::/0" in rdp.message
    for obs in observations:
        if obs.subject.name and not obs.subject.name.startswith("estate"):
            assert obs.subject.path and obs.subject.line, obs


def test_rds_backup_retention_absent_fails_on_the_aws_default(insecure):
    observations, _ = insecure
    db = one(observations, "terraform.db_backups", "aws_db_instance.db")
    assert db.status is Status.FAIL
    assert "AWS default: 1 day" in db.message
    assert db.facts["backup_retention_period"] is None


def test_secret_values_are_never_reported(insecure):
    observations, _ = insecure
    literal = one(observations, "terraform.secrets_manager", "aws_db_instance.db")
    assert literal.status is Status.FAIL
    assert "the default of variable db_password" in literal.message
    variable = one(observations, "terraform.secrets_manager", "var.db_password")
    assert variable.status is Status.FAIL and variable.subject.line == 7
    dumped = json.dumps([(o.message, o.facts) for o in observations])  # facts are plain JSON data
    assert "fixture-not-a-real-password" not in dumped


def test_tfvars_value_beats_the_variable_default(hardened):
    observations, _ = hardened
    db = one(observations, "terraform.db_backups", "aws_db_instance.main")
    assert db.status is Status.PASS and db.facts["backup_retention_period"] == 14  # default is 3
    assert (db.subject.path, db.subject.line) == ("database.tf", 19)


def test_local_module_resources_resolve_with_their_inputs(hardened):
    observations, _ = hardened
    logs = one(observations, "terraform.log_retention", "module.network.aws_cloudwatch_log_group.flow")
    assert logs.status is Status.PASS and logs.facts["retention_in_days"] == 365  # root var -> module input
    assert logs.subject.path == "modules/network/main.tf"
    subnets = by_check(observations, "terraform.private_subnets")
    assert [o.facts["private"] for o in subnets] == [["module.network.aws_subnet.private"]]
    assert subnets[0].facts["public"] == ["module.network.aws_subnet.public"]


def test_split_s3_resources_link_by_reference_and_by_name(hardened):
    observations, _ = hardened
    assets = one(observations, "terraform.encryption_at_rest", "aws_s3_bucket.assets")
    assert assets.facts["configured_by"] == "aws_s3_bucket_server_side_encryption_configuration.assets"
    replica = one(observations, "terraform.encryption_at_rest", "aws_s3_bucket.replica")
    assert replica.facts["configured_by"] == "aws_s3_bucket_server_side_encryption_configuration.replica"
    legacy = one(observations, "terraform.encryption_at_rest", "aws_s3_bucket.logs")
    assert legacy.message == "inline server_side_encryption_configuration"
    crr = one(observations, "terraform.cross_region_backups", "aws_s3_bucket_replication_configuration.assets")
    assert crr.status is Status.PASS and "another region" in crr.message


def test_unknowable_values_are_unknown_with_reasons(tmp_path):
    observations, gaps = run_probe(copy_fixture("terraform-unknowable", tmp_path))
    backups = one(observations, "terraform.db_backups", "aws_db_instance.main")
    assert backups.status is Status.UNKNOWN
    assert "variable retention_days has no default" in backups.message
    sg = one(observations, "terraform.sg_no_open_admin_ports", "aws_security_group.admin")
    assert sg.status is Status.UNKNOWN and "admin_cidr" in sg.message
    enc = one(observations, "terraform.encryption_at_rest", "aws_db_instance.main")
    assert enc.status is Status.UNKNOWN and "condition" in enc.message
    replica = one(observations, "terraform.deletion_protection", "aws_db_instance.replica")
    assert "count is known only at plan time" in replica.message
    password = one(observations, "terraform.secrets_manager", "aws_db_instance.main")
    assert password.status is Status.PASS and "Secrets Manager" in password.message
    # Estate-level absence is not concluded while a remote module is unread.
    trail = [o for o in by_check(observations, "terraform.audit_logging") if o.status is not Status.ERROR]
    assert [o.status for o in trail] == [Status.UNKNOWN]
    assert "terraform-aws-modules/vpc/aws" in trail[0].message
    reasons = {(g.subject.path, g.reason.split(":")[0]) for g in gaps}
    assert ("main.tf", "module source terraform-aws-modules/vpc/aws is not local") in reasons
    assert ("prod.tfvars", "tfvars file not auto-loaded and not in probes.terraform.var_files") in reasons


def test_unparsable_file_is_an_error_naming_file_and_line_and_the_rest_goes_on(tmp_path):
    observations, gaps = run_probe(copy_fixture("terraform-unknowable", tmp_path))
    errors = [o for o in observations if o.status is Status.ERROR]
    assert {o.check for o in errors} == set(CHECK_IDS)
    assert {(o.subject.path, o.subject.line) for o in errors} == {("broken.tf", 2)}
    assert any(g.subject.path == "broken.tf" and "does not parse" in g.reason for g in gaps)
    assert one(observations, "terraform.db_replication", "aws_db_instance.main").status is Status.PASS


def test_var_files_setting_applies_a_named_tfvars(tmp_path):
    observations, gaps = run_probe(copy_fixture("terraform-unknowable", tmp_path), {"var_files": ["prod.tfvars"]})
    backups = one(observations, "terraform.db_backups", "aws_db_instance.main")
    assert backups.status is Status.PASS and backups.facts["backup_retention_period"] == 30
    sg = one(observations, "terraform.sg_no_open_admin_ports", "aws_security_group.admin")
    assert sg.status is Status.FAIL and sg.message == "port 22 open to 0.0.0.0/0"
    assert not any(g.subject.path == "prod.tfvars" for g in gaps)


def test_estate_level_facts(tmp_path):
    root = write_module(
        tmp_path,
        {
            "main.tf": """
provider "aws" {
  region = "eu-west-1"
}
resource "aws_lb" "web" {
  name = "web"
}
resource "aws_autoscaling_group" "app" {
  min_size = 1
  max_size = 3
}
resource "aws_backup_vault" "same" {
  name = "same-region"
}
resource "aws_backup_plan" "daily" {
  name = "daily"
  rule {
    rule_name         = "daily"
    target_vault_name = aws_backup_vault.same.name
    copy_action {
      destination_vault_arn = aws_backup_vault.same.arn
    }
  }
}
resource "aws_db_instance" "db" {
  backup_retention_period = 7
  count                   = 0
}
""",
        },
    )
    observations, _ = run_probe(root)
    cdn = by_check(observations, "terraform.cdn")
    assert [o.status for o in cdn] == [Status.FAIL] and "aws_lb.web" in cdn[0].message
    asg = one(observations, "terraform.autoscaling", "aws_autoscaling_group.app")
    assert asg.status is Status.FAIL and "min_size = 1" in asg.message
    copy = one(observations, "terraform.cross_region_backups", "aws_backup_plan.daily")
    assert copy.status is Status.FAIL and "same region" in copy.message
    shield = by_check(observations, "terraform.ddos_protection")
    assert [o.status for o in shield] == [Status.FAIL]
    # count = 0: the database is never created, so nothing judges its backups.
    assert [o.status for o in by_check(observations, "terraform.db_backups")] == [Status.NOT_APPLICABLE]


def test_policy_documents_from_data_sources_and_jsonencode(tmp_path):
    root = write_module(
        tmp_path,
        {
            "iam.tf": """
locals {
  admin = "*"
}
data "aws_iam_policy_document" "wide" {
  statement {
    actions   = [local.admin]
    resources = ["*"]
  }
}
resource "aws_iam_role_policy" "wide" {
  role   = "r"
  policy = data.aws_iam_policy_document.wide.json
}
resource "aws_iam_role" "people" {
  assume_role_policy = jsonencode({
    Statement = [{
      Effect    = "Allow"
      Action    = "sts:AssumeRole"
      Principal = { AWS = var.trusted }
      Condition = { Bool = { "aws:MultiFactorAuthPresent" = "true" } }
    }]
  })
}
variable "trusted" {
  default = "arn:aws:iam::111122223333:root"
}
""",
        },
    )
    observations, _ = run_probe(root)
    wide = one(observations, "terraform.iam_least_privilege", "aws_iam_role_policy.wide")
    assert wide.status is Status.FAIL and "full admin" in wide.message
    assert one(observations, "terraform.mfa_enforced", "aws_iam_role.people").status is Status.PASS


def test_no_terraform_makes_iac_fail_and_estate_items_unknown(tmp_path):
    write_module(tmp_path, {"README.md": "no infrastructure here\n"})
    observations, gaps = run_probe(tmp_path)
    assert gaps == []
    status = {o.check: o.status for o in observations}
    assert set(status) == set(CHECK_IDS)
    assert all("no artifact of this kind" in o.message for o in observations)
    assert status["terraform.iac_present"] is Status.FAIL
    assert status["terraform.waf"] is Status.UNKNOWN  # estate items cannot be decided
    # ...except where the deployment's own files decide the item instead (backup.offsite)
    assert status["terraform.cross_region_backups"] is Status.NOT_APPLICABLE
    assert status["terraform.encryption_at_rest"] is Status.NOT_APPLICABLE


def test_full_audit_reports_terraform_checks(tmp_path):
    from readiness.runner import audit

    report = audit(copy_fixture("terraform-insecure", tmp_path), Config())
    mine = [o for o in report.observations if o.probe == "terraform"]
    assert {o.check for o in mine} == set(CHECK_IDS)
    assert any(o.check == "terraform.db_backups" and o.status is Status.FAIL for o in mine)


def test_templates_refs_and_defaults_that_are_not_known(tmp_path):
    root = write_module(
        tmp_path,
        {
            "main.tf": """
resource "aws_s3_bucket" "b" {
  bucket = "b"
}
resource "aws_iam_policy" "read" {
  policy = <<JSON
{"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "${aws_s3_bucket.b.arn}/*"}]}
JSON
}
resource "aws_iam_policy" "home" {
  policy = <<JSON
{"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/$${aws:username}/*"}]}
JSON
}
locals {
  env = "prod"
}
variable "secret_rotation_days" {
  default = "30"
}
variable "api_token_name" {
  default = "ci-token"
}
variable "db_pass" {
  sensitive = true
  default   = "fixture-not-real"
}
resource "aws_db_instance" "db" {
  multi_az            = local.env == "prod"
  deletion_protection = !(local.env != "prod")
}
resource "aws_sqs_queue" "jobs" {
  name = "jobs"
}
resource "aws_vpc" "main" {
  cidr_block = "10.0.0.0/16"
}
resource "aws_rds_cluster" "aurora" {
  cluster_identifier = "aurora"
  storage_encrypted  = true
}
resource "aws_rds_cluster_instance" "one" {
  count              = 2
  cluster_identifier = aws_rds_cluster.aurora.id
}
""",
        },
    )
    observations, _ = run_probe(root)
    read = one(observations, "terraform.iam_least_privilege", "aws_iam_policy.read")
    assert read.status is Status.PASS  # the template keeps the ARN reference; no wildcard action
    home = one(observations, "terraform.iam_least_privilege", "aws_iam_policy.home")
    assert home.status is Status.PASS  # $${aws:username} is a literal IAM policy variable, not interpolation
    assert one(observations, "terraform.db_replication", "aws_db_instance.db").status is Status.PASS
    assert one(observations, "terraform.deletion_protection", "aws_db_instance.db").status is Status.PASS
    flagged = {o.subject.name for o in by_check(observations, "terraform.secrets_manager")}
    assert "var.db_pass" in flagged  # sensitive, with a literal default
    assert not flagged & {"var.secret_rotation_days", "var.api_token_name"}  # metadata, not secrets
    queue = one(observations, "terraform.encryption_at_rest", "aws_sqs_queue.jobs")
    assert queue.status is Status.UNKNOWN and "late 2022" in queue.message
    vpc = one(observations, "terraform.sg_no_open_admin_ports", "aws_vpc.main")
    assert vpc.status is Status.FAIL and "aws_default_security_group" in vpc.message
    aurora = one(observations, "terraform.db_replication", "aws_rds_cluster.aurora")
    assert aurora.status is Status.PASS and aurora.facts["instances"] == 2


def test_plain_http_listener_fails_transit_and_https(insecure):
    observations, _ = insecure
    for check in ("terraform.encryption_in_transit", "terraform.https_enforced"):
        assert one(observations, check, "aws_lb_listener.http").status is Status.FAIL
    weak = one(observations, "terraform.encryption_in_transit", "aws_lb_listener.https")
    assert weak.status is Status.FAIL and "ELBSecurityPolicy-2016-08" in weak.message


def test_plan_json_is_judged_with_terraform_resolved_values(tmp_path):
    root = copy_fixture("terraform-plan", tmp_path)
    observations, _ = run_probe(root, {"plan_json": "plan.json"})
    assert {o.subject.path for o in observations} == {"plan.json"}
    assert {o.strength.value for o in observations} == {"validated"}
    db = one(observations, "terraform.db_backups", "aws_db_instance.db")
    assert db.status is Status.FAIL and db.facts["backup_retention_period"] == 1
    # The bucket id is known only after apply; the configuration's reference still links the split resource.
    bucket = one(observations, "terraform.encryption_at_rest", "aws_s3_bucket.data")
    assert bucket.status is Status.PASS
    root_volume = one(observations, "terraform.encryption_at_rest", "aws_instance.app[0]")
    assert root_volume.status is Status.UNKNOWN and "after apply" in root_volume.message
    assert one(observations, "terraform.sg_no_open_admin_ports", "aws_security_group.ssh").status is Status.FAIL


def test_plan_json_that_is_not_a_plan_is_an_error(tmp_path):
    write_module(tmp_path, {"plan.json": '{"not": "a plan"}'})
    observations, gaps = run_probe(tmp_path, {"plan_json": "plan.json"})
    assert {o.status for o in observations} == {Status.ERROR}
    assert "no planned_values" in observations[0].message and gaps


def test_azure_and_gcp_essentials(tmp_path):
    observations, _ = run_probe(copy_fixture("terraform-multicloud", tmp_path))
    expected = {
        ("terraform.sg_no_open_admin_ports", "azurerm_network_security_group.web"): Status.PASS,
        ("terraform.sg_no_open_admin_ports", "azurerm_network_security_rule.rdp"): Status.FAIL,
        ("terraform.sg_no_open_admin_ports", "google_compute_firewall.ssh"): Status.FAIL,
        ("terraform.sg_no_open_admin_ports", "google_compute_firewall.internal"): Status.PASS,
        ("terraform.db_backups", "azurerm_postgresql_flexible_server.good"): Status.PASS,
        ("terraform.db_backups", "azurerm_mysql_flexible_server.bad"): Status.FAIL,
        ("terraform.db_backups", "google_sql_database_instance.good"): Status.PASS,
        ("terraform.db_backups", "google_sql_database_instance.bad"): Status.FAIL,
        ("terraform.db_replication", "azurerm_postgresql_flexible_server.good"): Status.PASS,
        ("terraform.db_replication", "azurerm_mysql_flexible_server.bad"): Status.FAIL,
        ("terraform.db_replication", "google_sql_database_instance.good"): Status.PASS,
        ("terraform.db_replication", "google_sql_database_instance.bad"): Status.FAIL,
        ("terraform.cross_region_backups", "azurerm_postgresql_flexible_server.good"): Status.PASS,
    }
    for (check, name), status in expected.items():
        assert one(observations, check, name).status is status, (check, name)
    rdp = one(observations, "terraform.sg_no_open_admin_ports", "azurerm_network_security_rule.rdp")
    assert "3380-3390" in rdp.message


def test_each_root_module_is_an_estate_with_its_own_inputs(tmp_path):
    module = """
variable "days" {
  type = number
}
resource "aws_db_instance" "db" {
  backup_retention_period = var.days
}
"""
    root = write_module(
        tmp_path,
        {
            "modules/db/main.tf": module,
            "envs/prod/main.tf": 'module "db" {\n  source = "../../modules/db"\n  days   = 14\n}\n',
            "envs/staging/main.tf": 'module "db" {\n  source = "../../modules/db"\n  days   = 1\n}\n',
        },
    )
    observations, _ = run_probe(root)
    judged = {
        o.facts["root_module"]: o.status
        for o in by_check(observations, "terraform.db_backups")
        if o.subject.name == "module.db.aws_db_instance.db"
    }
    assert judged == {"envs/prod": Status.PASS, "envs/staging": Status.FAIL}
    assert all(o.subject.path == "modules/db/main.tf" for o in by_check(observations, "terraform.db_backups"))


def test_a_link_that_cannot_be_resolved_is_unknown_not_a_missing_link(tmp_path):
    root = write_module(
        tmp_path,
        {
            "main.tf": """
variable "bucket_name" {
  type = string
}
resource "aws_s3_bucket" "b" {
  bucket = "fixed-name"
}
resource "aws_s3_bucket_server_side_encryption_configuration" "b" {
  bucket = var.bucket_name
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}
resource "aws_db_instance" "db" {
  backup_retention_period = 1
}
resource "aws_backup_selection" "tagged" {
  plan_id = "p"
  selection_tag {
    type  = "STRINGEQUALS"
    key   = "backup"
    value = "daily"
  }
}
""",
        },
    )
    observations, _ = run_probe(root)
    bucket = one(observations, "terraform.encryption_at_rest", "aws_s3_bucket.b")
    assert bucket.status is Status.UNKNOWN
    assert bucket.facts["maybe_linked"] == ["aws_s3_bucket_server_side_encryption_configuration.b"]
    db = one(observations, "terraform.db_backups", "aws_db_instance.db")
    assert db.status is Status.UNKNOWN and "aws_backup_selection.tagged" in db.message


def test_search_domains_and_classic_load_balancers(hardened, insecure):
    good, _ = hardened
    assert one(good, "terraform.encryption_at_rest", "aws_opensearch_domain.search").status is Status.PASS
    in_transit = [
        o.status
        for o in by_check(good, "terraform.encryption_in_transit")
        if o.subject.name == "aws_opensearch_domain.search"
    ]
    assert in_transit == [Status.PASS, Status.PASS]  # node-to-node and HTTPS-only endpoint
    bad, _ = insecure
    assert one(bad, "terraform.encryption_at_rest", "aws_elasticsearch_domain.logs").status is Status.FAIL
    legacy = one(bad, "terraform.waf", "aws_elb.legacy")
    assert legacy.status is Status.FAIL and "classic ELB" in legacy.message


def test_parallel_parsing_gives_the_same_observations(tmp_path, monkeypatch, hardened):
    import readiness.probes.terraform as probe_module

    monkeypatch.setattr(probe_module, "PARALLEL_BYTES", 0)  # force worker processes on a small tree
    parallel, _ = run_probe(copy_fixture("terraform-hardened", tmp_path))
    serial, _ = hardened
    assert sorted(o.sort_key() for o in parallel) == sorted(o.sort_key() for o in serial)


def test_service_wide_actions_on_every_resource_fail_in_inline_role_policies(tmp_path):
    observations, _ = run_probe(copy_fixture("terraform-service-wildcard", tmp_path))
    check = "terraform.iam_least_privilege"
    heredoc = one(observations, check, "aws_iam_role_policy.heredoc_services")
    assert heredoc.status is Status.FAIL and "dynamodb:*, sqs:*" in heredoc.message
    assert one(observations, check, "aws_iam_role_policy.jsonencode_service").status is Status.FAIL
    # A whole service on one named bucket, or named actions on "*", is not a service-wide grant.
    assert one(observations, check, "aws_iam_role_policy.scoped_service").status is Status.PASS
    assert one(observations, check, "aws_iam_role_policy.named_actions").status is Status.PASS


def test_node_to_node_encryption_is_not_applicable_to_a_single_node_search_domain(tmp_path):
    observations, _ = run_probe(copy_fixture("terraform-single-node-search", tmp_path))
    n2n = {
        o.subject.name: o.status
        for o in by_check(observations, "terraform.encryption_in_transit")
        if "node" in o.message
    }
    assert n2n == {
        "aws_opensearch_domain.single": Status.NOT_APPLICABLE,
        "aws_opensearch_domain.defaults": Status.NOT_APPLICABLE,
        "aws_opensearch_domain.cluster": Status.FAIL,
        "aws_opensearch_domain.single_with_masters": Status.FAIL,
        "aws_opensearch_domain.sized_by_variable": Status.UNKNOWN,
    }


def test_classic_elb_listeners_are_judged_for_https_and_tls_policy(tmp_path):
    root = write_module(
        tmp_path,
        {
            "elb.tf": """
resource "aws_elb" "legacy" {
  name = "legacy"
  listener {
    lb_port           = 80
    lb_protocol       = "http"
    instance_port     = 8000
    instance_protocol = "http"
  }
  listener {
    lb_port            = 443
    lb_protocol        = "https"
    instance_port      = 8000
    instance_protocol  = "http"
    ssl_certificate_id = "arn:aws:acm:eu-west-1:123456789012:certificate/FAKE"
  }
}
resource "aws_elb" "modern" {
  name = "modern"
  listener {
    lb_port            = 443
    lb_protocol        = "HTTPS"
    instance_port      = 8000
    instance_protocol  = "HTTP"
    ssl_certificate_id = "arn:aws:acm:eu-west-1:123456789012:certificate/FAKE"
  }
}
resource "aws_load_balancer_policy" "tls12" {
  load_balancer_name = aws_elb.modern.name
  policy_name        = "tls12"
  policy_type_name   = "SSLNegotiationPolicyType"
  policy_attribute {
    name  = "Reference-Security-Policy"
    value = "ELBSecurityPolicy-TLS-1-2-2017-01"
  }
}
resource "aws_load_balancer_listener_policy" "modern_443" {
  load_balancer_name = aws_elb.modern.name
  load_balancer_port = 443
  policy_names       = [aws_load_balancer_policy.tls12.policy_name]
}
""",
        },
    )
    observations, _ = run_probe(root)
    https = {(o.subject.name, o.subject.line, o.status) for o in by_check(observations, "terraform.https_enforced")}
    assert https == {
        ("aws_elb.legacy", 4, Status.FAIL),
        ("aws_elb.legacy", 10, Status.PASS),
        ("aws_elb.modern", 20, Status.PASS),
    }
    transit = {(o.subject.name, o.subject.line): o for o in by_check(observations, "terraform.encryption_in_transit")}
    assert transit[("aws_elb.legacy", 4)].status is Status.FAIL
    assert transit[("aws_elb.legacy", 10)].status is Status.FAIL
    assert "ELBSecurityPolicy-2016-08" in transit[("aws_elb.legacy", 10)].message  # the classic default
    assert transit[("aws_elb.modern", 20)].status is Status.PASS


def test_azure_and_gcp_resources_feed_the_same_checks(tmp_path):
    root = write_module(
        tmp_path,
        {
            "azure.tf": """
variable "tls" {}
terraform {
  required_providers {
    azurerm = {
      source  = "hashicorp/azurerm"
      version = "~> 3.100"
    }
  }
}
resource "azurerm_storage_account" "old" {
  name                      = "old"
  min_tls_version           = "TLS1_0"
  enable_https_traffic_only = false
}
resource "azurerm_storage_account" "default" {
  name = "default"
}
resource "azurerm_mssql_server" "sql" {
  name                = "sql"
  minimum_tls_version = var.tls
}
resource "azurerm_linux_web_app" "web" {
  name = "web"
  site_config {
    minimum_tls_version = "1.1"
  }
}
resource "azurerm_key_vault" "kv" {
  name                     = "kv"
  purge_protection_enabled = true
}
resource "azurerm_key_vault_key" "k" {
  name = "k"
}
""",
            "gcp.tf": """
resource "google_sql_database_instance" "db" {
  name = "db"
  settings {
    ip_configuration {
      ssl_mode = "ENCRYPTED_ONLY"
    }
  }
}
resource "google_sql_database_instance" "open" {
  name                = "open"
  deletion_protection = false
  settings {
    tier = "db-f1-micro"
  }
}
resource "google_kms_crypto_key" "fast" {
  name            = "fast"
  rotation_period = "7776000s"
}
resource "google_kms_crypto_key" "never" {
  name = "never"
}
resource "google_compute_ssl_policy" "default_min" {
  name = "p"
}
resource "google_container_cluster" "gke" {
  name = "gke"
  database_encryption {
    state    = "ENCRYPTED"
    key_name = "projects/p/locations/l/keyRings/r/cryptoKeys/k"
  }
}
resource "google_compute_url_map" "redirect" {
  name = "redirect"
  default_url_redirect {
    https_redirect = true
    strip_query    = false
  }
}
resource "google_compute_target_http_proxy" "http" {
  name    = "http"
  url_map = google_compute_url_map.redirect.id
}
""",
        },
    )
    observations, _ = run_probe(root)

    def status(check: str, name: str) -> set[Status]:
        return {o.status for o in by_check(observations, check) if o.subject.name == name}

    transit = "terraform.encryption_in_transit"
    assert status(transit, "azurerm_storage_account.old") == {Status.FAIL}
    assert status(transit, "azurerm_storage_account.default") == {Status.PASS}  # TLS1_2 is the default
    assert status(transit, "azurerm_mssql_server.sql") == {Status.UNKNOWN}  # var.tls has no value
    assert status(transit, "azurerm_linux_web_app.web") == {Status.FAIL}
    assert status(transit, "google_sql_database_instance.db") == {Status.PASS}
    assert status(transit, "google_sql_database_instance.open") == {Status.FAIL}
    assert status(transit, "google_compute_ssl_policy.default_min") == {Status.FAIL}  # TLS_1_0 by default
    https = "terraform.https_enforced"
    assert status(https, "azurerm_linux_web_app.web") == {Status.FAIL}  # https_only defaults to false
    assert status(https, "google_compute_target_http_proxy.http") == {Status.PASS}
    rest = "terraform.encryption_at_rest"
    assert status(rest, "google_kms_crypto_key.fast") == {Status.PASS}
    assert status(rest, "google_kms_crypto_key.never") == {Status.FAIL}
    assert status(rest, "azurerm_key_vault_key.k") == {Status.FAIL}
    assert status(rest, "google_container_cluster.gke") == {Status.PASS}
    deletion = "terraform.deletion_protection"
    assert status(deletion, "google_sql_database_instance.db") == {Status.PASS}  # on by default
    assert status(deletion, "google_sql_database_instance.open") == {Status.FAIL}
    assert status(deletion, "azurerm_key_vault.kv") == {Status.PASS}
    old = next(o for o in by_check(observations, transit) if o.subject.name == "azurerm_storage_account.old")
    assert old.subject.path == "azure.tf" and old.subject.line == 13


@pytest.mark.parametrize(
    ("pin", "status"),
    [
        ('version = "~> 2.46"', Status.FAIL),
        ('version = ">= 3.0"', Status.PASS),
        ('version = ">= 2.0.0"', Status.UNKNOWN),
    ],
)
def test_azure_defaults_follow_the_pinned_provider_major(tmp_path, pin, status):
    """azurerm 3.0 moved storage accounts from TLS 1.0 to 1.2 by default: an unpinned 2.x-or-later is unknown."""
    root = write_module(
        tmp_path,
        {
            "main.tf": f'provider "azurerm" {{\n  {pin}\n}}\n'
            + 'resource "azurerm_storage_account" "s" {\n  name = "s"\n}\n'
        },
    )
    observations, _ = run_probe(root)
    (got,) = [
        o
        for o in by_check(observations, "terraform.encryption_in_transit")
        if o.subject.name == "azurerm_storage_account.s"
    ]
    assert got.status is status, got.message


def test_well_known_registry_modules_are_declared_evidence(tmp_path):
    """A root that calls terraform-google-modules/network/google and log-export with an audit filter declares a
    segmented network and exported audit logs, though the modules' resources are not in the repository."""
    (tmp_path / "main.tf").write_text(
        'module "vpc" {\n  source  = "terraform-google-modules/network/google"\n  version = "~> 9.0"\n'
        '  network_name = "prod"\n}\n'
        'module "audit" {\n  source = "terraform-google-modules/log-export/google"\n'
        '  filter = "logName: /logs/cloudaudit.googleapis.com"\n}\n'
        'module "other" {\n  source = "example-org/something/google"\n}\n'
    )
    found = discover(tmp_path, Config())
    obs = runner.run_probe(TerraformProbe, found, Files(found.root), Inventory(), Config())[0]
    passing = {(o.check, o.subject.name) for o in obs if o.status is Status.PASS}
    assert ("terraform.network_segmented", "module.vpc") in passing
    assert ("terraform.audit_logging", "module.audit") in passing
    assert not any(name == "module.other" for _, name in passing)
