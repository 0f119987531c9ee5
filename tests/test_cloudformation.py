"""The CloudFormation probe on real fixture templates (YAML and JSON): passing, failing, unknowable, malformed."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import REPO
from readiness.probes.cloudformation import CHECKS, CloudFormationProbe

from readiness import runner
from readiness.config import Config
from readiness.discovery import discover
from readiness.evaluate import check_result
from readiness.inventory import Inventory
from readiness.model import Observation, Status, VerdictStatus
from readiness.probe import Files
from readiness.runner import audit

FIXTURES = REPO / "fixtures"
JUDGED = [c.id for c in CHECKS if c.id != "cloudformation.iac_present"]


def run_probe(root: Path) -> list[Observation]:
    """Run the probe as the audit does (discovery, claims, unreadable inputs, silence)."""
    found = discover(root, Config())
    observations, _gaps, _run = runner.run_probe(CloudFormationProbe, found, Files(found.root), Inventory(), Config())
    return observations


def find(observations: list[Observation], check: str, name: str) -> Observation:
    """The one observation of ``check`` on the resource named ``name`` (type and logical id)."""
    hits = [o for o in observations if o.check == check and o.subject.name == name]
    assert len(hits) == 1, (check, name, hits)
    return hits[0]


@pytest.fixture(scope="module")
def hardened() -> list[Observation]:
    return run_probe(FIXTURES / "cloudformation-hardened")


@pytest.fixture(scope="module")
def insecure() -> list[Observation]:
    return run_probe(FIXTURES / "cloudformation-insecure")


def test_hardened_templates_pass_every_check(hardened):
    assert {o.check for o in hardened} == {c.id for c in CHECKS}
    assert [o for o in hardened if o.status is not Status.PASS] == []
    assert {o.subject.path for o in hardened if o.check == "cloudformation.iac_present"} == {
        "cluster.json",
        "stack.yaml",
    }


def test_values_resolve_through_parameters_mappings_and_conditions(hardened):
    db = "AWS::RDS::DBInstance Db"
    backups = find(hardened, "cloudformation.db_backups", db)
    assert backups.facts == {"BackupRetentionPeriod": 14}  # !Ref Retention -> its Default
    assert "Multi-AZ" in find(hardened, "cloudformation.db_replication", db).message  # !FindInMap with !Ref key
    assert "on" in find(hardened, "cloudformation.deletion_protection", db).message  # !If on a true condition


def test_findings_name_file_line_type_and_logical_id(hardened):
    obs = find(hardened, "cloudformation.encryption_at_rest", "AWS::RDS::DBInstance Db")
    assert (obs.subject.path, obs.subject.line) == ("stack.yaml", 26)
    json_obs = find(hardened, "cloudformation.db_replication", "AWS::RDS::DBCluster Cluster")
    assert (json_obs.subject.path, json_obs.subject.line) == ("cluster.json", 4)
    assert json_obs.facts == {"instances": ["Writer", "Reader"]}


def test_aurora_members_are_judged_on_their_cluster(hardened):
    assert [o for o in hardened if o.subject.name and o.subject.name.endswith(("Writer", "Reader"))] == []


@pytest.mark.parametrize(
    ("check", "name", "words"),
    [
        ("cloudformation.encryption_at_rest", "AWS::S3::Bucket Data", "no BucketEncryption"),
        ("cloudformation.encryption_at_rest", "AWS::RDS::DBInstance Db", "unencrypted"),  # !If on a false condition
        ("cloudformation.encryption_at_rest", "AWS::EC2::Volume Volume", "Encrypted not set"),
        ("cloudformation.encryption_at_rest", "AWS::SNS::Topic Topic", "no KmsMasterKeyId"),
        ("cloudformation.encryption_at_rest", "AWS::RDS::DBCluster Cluster", "unencrypted"),
        ("cloudformation.db_backups", "AWS::RDS::DBInstance Db", "default: 1 day"),
        ("cloudformation.db_backups", "AWS::RDS::DBCluster Cluster", "3 days"),
        ("cloudformation.db_replication", "AWS::RDS::DBInstance Db", "single-AZ"),
        ("cloudformation.db_replication", "AWS::RDS::DBCluster Cluster", "1 instance(s)"),
        ("cloudformation.deletion_protection", "AWS::RDS::DBInstance Db", "DeletionProtection not set"),
        ("cloudformation.deletion_protection", "AWS::RDS::DBCluster Cluster", "DeletionPolicy: Delete"),
        ("cloudformation.sg_no_open_admin_ports", "AWS::EC2::SecurityGroup Ssh", "port 22 open to 0.0.0.0/0"),
        ("cloudformation.sg_no_open_admin_ports", "AWS::EC2::SecurityGroupIngress RdpRule", "port 3389 open to ::/0"),
        ("cloudformation.sg_no_open_admin_ports", "AWS::EC2::SecurityGroup Everything", "all ports"),
    ],
)
def test_insecure_templates_fail_with_the_reason(insecure, check, name, words):
    obs = find(insecure, check, name)
    assert obs.status is Status.FAIL
    assert words in obs.message


def test_unknowable_values_stay_unknown_with_the_reason():
    observations = run_probe(FIXTURES / "cloudformation-unknowable")
    reasons = {
        ("cloudformation.encryption_at_rest", "AWS::RDS::DBInstance Db"): "Fn::ImportValue",
        ("cloudformation.db_backups", "AWS::RDS::DBInstance Db"): "parameter Retention has no default",
        ("cloudformation.db_replication", "AWS::RDS::DBInstance Db"): "depends on condition IsProd",
        ("cloudformation.deletion_protection", "AWS::RDS::DBInstance Db"): "parameter Env has no default",
        ("cloudformation.sg_no_open_admin_ports", "AWS::EC2::SecurityGroup Admin"): "parameter AdminCidr",
        ("cloudformation.encryption_at_rest", "AWS::EC2::Volume ProdOnlyVolume"): "created only if IsProd",
    }
    for (check, name), words in reasons.items():
        obs = find(observations, check, name)
        assert obs.status is Status.UNKNOWN, (check, name, obs.message)
        assert words in obs.message


def test_malformed_templates_are_errors_naming_file_and_line_and_the_rest_is_judged():
    observations = run_probe(FIXTURES / "cloudformation-malformed")
    errors = {(o.subject.path, o.subject.line) for o in observations if o.status is Status.ERROR}
    assert errors == {("broken.yaml", 6), ("broken.json", 4)}
    for path in ("broken.yaml", "broken.json"):
        assert {o.check for o in observations if o.subject.path == path} == {c.id for c in CHECKS}
    good = find(observations, "cloudformation.encryption_at_rest", "AWS::SQS::Queue Queue")
    assert good.status is Status.PASS


def test_yaml_that_only_mentions_aws_types_is_not_a_template(tmp_path):
    (tmp_path / "serverless.yml").write_text(
        "service: x\nresources:\n  Resources:\n    Q:\n      Type: AWS::SQS::Queue\n"
    )
    (tmp_path / "notes.yaml").write_text("Resources:\n  - cpu\nType: AWS::thing\n")
    observations = run_probe(tmp_path)
    assert observations and {o.status for o in observations} == {Status.NOT_APPLICABLE}


def folded(report, check: str) -> VerdictStatus:
    """The check's result from the audit's observations (whether or not a pack maps it yet)."""
    return check_result(check, report.observations, {c.id for c in CHECKS}, {}).status


def test_audit_folds_observations_into_check_results(tmp_path):
    root = tmp_path / "repo"
    shutil.copytree(FIXTURES / "cloudformation-insecure", root)
    report = audit(root, Config())
    assert folded(report, "cloudformation.iac_present") is VerdictStatus.PASS
    for check in JUDGED:
        assert folded(report, check) is VerdictStatus.FAIL, check


def test_no_template_is_not_applicable(tmp_path):
    (tmp_path / "README.md").write_text("nothing to see\n")
    report = audit(tmp_path, Config())
    for check in CHECKS:
        assert folded(report, check.id) is VerdictStatus.NOT_APPLICABLE


def test_ecs_task_definitions_are_judged_like_any_container(tmp_path):
    """n8n-hosting's production ECS tasks start an amazonlinux helper without a User and drop no capability."""
    (tmp_path / "ecs.yaml").write_text(
        "AWSTemplateFormatVersion: '2010-09-09'\nParameters:\n  RunnerUser:\n    Type: String\n    Default: '0'\n"
        "Resources:\n  Task:\n    Type: AWS::ECS::TaskDefinition\n    Properties:\n      ContainerDefinitions:\n"
        "        - Name: fetcher\n          Image: public.ecr.aws/amazonlinux/amazonlinux:2023\n"
        "        - Name: runner\n          Image: example.invalid/runner:1.0\n          User: !Ref RunnerUser\n"
        "        - Name: app\n          Image: example.invalid/app:1.0\n          User: '1000'\n"
        "          ReadonlyRootFilesystem: true\n"
        "          LinuxParameters:\n            Capabilities:\n              Drop: [ALL]\n"
    )
    obs = [o for o in run_probe(tmp_path) if o.check.startswith("cloudformation.ecs_")]
    got = {(o.check, o.message.split(":")[0]): o.status for o in obs}
    assert got[("cloudformation.ecs_non_root", "container fetcher")] is Status.FAIL  # amazonlinux has no USER
    assert got[("cloudformation.ecs_non_root", "container runner")] is Status.FAIL  # the default '0' is root
    assert got[("cloudformation.ecs_non_root", "container app")] is Status.PASS
    assert got[("cloudformation.ecs_cap_drop_all", "container fetcher")] is Status.FAIL
    assert got[("cloudformation.ecs_cap_drop_all", "container app")] is Status.PASS
    assert got[("cloudformation.ecs_read_only_rootfs", "container app")] is Status.PASS
    assert got[("cloudformation.ecs_read_only_rootfs", "container runner")] is Status.FAIL
    assert all(o.subject.path == "ecs.yaml" and o.subject.line == 7 for o in obs)
