"""terraform.audit_logging judged by the clouds a root module uses: Azure and GCP never hear of aws_cloudtrail."""

from __future__ import annotations

from test_terraform import by_check, run_probe, write_module

from readiness.model import Status

AZURE_VM = """
resource "azurerm_resource_group" "rg" {
  name     = "rg"
  location = "westeurope"
}
"""
AZURE_EXPORT = """
data "azurerm_subscription" "current" {}
resource "azurerm_log_analytics_workspace" "audit" {
  name                = "audit"
  location            = "westeurope"
  resource_group_name = "rg"
}
resource "azurerm_monitor_diagnostic_setting" "activity" {
  name                       = "activity-log"
  target_resource_id         = data.azurerm_subscription.current.id
  log_analytics_workspace_id = azurerm_log_analytics_workspace.audit.id
  enabled_log {
    category = "Administrative"
  }
  enabled_log {
    category = "Security"
  }
}
"""
GCP_BUCKET = """
resource "google_storage_bucket" "data" {
  name     = "data"
  location = "EU"
}
"""
GCP_AUDIT = """
resource "google_project_iam_audit_config" "all" {
  project = "prod"
  service = "allServices"
  audit_log_config {
    log_type = "DATA_READ"
  }
  audit_log_config {
    log_type = "DATA_WRITE"
  }
}
"""


def _audit_logging(tmp_path, files: dict[str, str]):
    observations, _ = run_probe(write_module(tmp_path / "infra", files))
    return [o for o in by_check(observations, "terraform.audit_logging") if o.status is not Status.NOT_APPLICABLE]


def test_azure_root_module_without_an_activity_log_export_gets_the_azure_fix(tmp_path):
    (finding,) = _audit_logging(tmp_path, {"main.tf": AZURE_VM})
    assert finding.status is Status.FAIL
    assert "azurerm_monitor_diagnostic_setting" in finding.message and "Activity Log" in finding.message
    assert "cloudtrail" not in finding.message.lower()


def test_azure_subscription_diagnostic_setting_passes(tmp_path):
    found = _audit_logging(tmp_path, {"main.tf": AZURE_VM + AZURE_EXPORT})
    assert [(o.status, o.subject.name) for o in found] == [(Status.PASS, "azurerm_monitor_diagnostic_setting.activity")]


def test_azure_setting_on_a_resource_not_the_subscription_does_not_count(tmp_path):
    other = AZURE_EXPORT.replace("data.azurerm_subscription.current.id", "azurerm_log_analytics_workspace.audit.id")
    found = _audit_logging(tmp_path, {"main.tf": AZURE_VM + other})
    assert [o.status for o in found] == [Status.FAIL]
    assert "not exported" in found[0].message


def test_gcp_root_module_without_data_access_logs_gets_the_gcp_fix(tmp_path):
    (finding,) = _audit_logging(tmp_path, {"main.tf": GCP_BUCKET})
    assert finding.status is Status.FAIL
    assert "google_project_iam_audit_config" in finding.message and "cloudtrail" not in finding.message.lower()


def test_gcp_audit_config_for_all_services_passes_and_a_partial_one_fails(tmp_path):
    found = _audit_logging(tmp_path / "a", {"main.tf": GCP_BUCKET + GCP_AUDIT})
    assert [(o.status, o.subject.name) for o in found] == [(Status.PASS, "google_project_iam_audit_config.all")]
    partial = GCP_AUDIT.replace('  audit_log_config {\n    log_type = "DATA_WRITE"\n  }\n', "")
    found = _audit_logging(tmp_path / "b", {"main.tf": GCP_BUCKET + partial})
    assert [o.status for o in found] == [Status.FAIL] and "DATA_WRITE" in found[0].message


def test_aws_root_module_is_still_told_about_cloudtrail_and_a_mixed_one_about_both(tmp_path):
    aws = 'resource "aws_s3_bucket" "logs" {\n  bucket = "logs"\n}\n'
    (finding,) = _audit_logging(tmp_path / "aws", {"main.tf": aws})
    assert finding.status is Status.FAIL and "aws_cloudtrail" in finding.message
    mixed = _audit_logging(tmp_path / "mixed", {"main.tf": aws + AZURE_VM})
    assert sorted(o.message.split(":")[0] for o in mixed) == [
        "no aws_cloudtrail declared",
        "the subscription Activity Log is not exported (kept 90 days)",
    ]


def test_a_module_with_no_cloud_resources_is_not_told_to_declare_a_trail(tmp_path):
    found = _audit_logging(tmp_path, {"main.tf": 'resource "random_password" "db" {\n  length = 32\n}\n'})
    assert all("cloudtrail" not in o.message.lower() for o in found)
    assert all(o.status is not Status.FAIL for o in found)
