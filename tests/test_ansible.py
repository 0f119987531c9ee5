"""The Ansible probe on real fixture trees: playbooks, roles and an inventory present and parseable."""

from __future__ import annotations

import shutil
from pathlib import Path

from conftest import REPO
from readiness.probes.ansible import CONFIG_MANAGEMENT_PRESENT, AnsibleProbe

from readiness import runner
from readiness.config import Config
from readiness.discovery import discover
from readiness.evaluate import check_result
from readiness.inventory import Inventory
from readiness.model import Observation, Status, VerdictStatus
from readiness.probe import Files
from readiness.runner import audit

FIXTURES = REPO / "fixtures"
CHECK = CONFIG_MANAGEMENT_PRESENT.id


def run_probe(root: Path) -> list[Observation]:
    """Run the probe as the audit does (discovery, claims, unreadable inputs, silence)."""
    found = discover(root, Config())
    observations, _gaps, _run = runner.run_probe(AnsibleProbe, found, Files(found.root), Inventory(), Config())
    return observations


def by_path(observations: list[Observation]) -> dict[str, tuple[Status, str]]:
    return {o.subject.path: (o.status, o.message) for o in observations}


def test_playbook_role_and_inventory_pass_naming_the_files():
    observations = run_probe(FIXTURES / "ansible-site")
    seen = by_path(observations)
    assert set(seen) == {"site.yml", "roles/web/tasks/main.yml"}
    assert {status for status, _ in seen.values()} == {Status.PASS}
    facts = observations[0].facts
    assert facts["playbooks"] == ["site.yml"]
    assert facts["roles"] == ["roles/web/tasks/main.yml"]
    assert "inventory/production.ini" in facts["inventories"]


def test_vaulted_values_parse_and_are_never_written_out():
    observations = run_probe(FIXTURES / "ansible-site")
    assert all("ANSIBLE_VAULT" not in str(o.facts) + o.message for o in observations)


def test_inventory_named_by_ansible_cfg_counts():
    seen = by_path(run_probe(FIXTURES / "ansible-cfg-inventory"))
    status, message = seen["deploy.yml"]
    assert status is Status.PASS
    assert "hosts.d" in message


def test_playbook_without_inventory_is_unknown():
    seen = by_path(run_probe(FIXTURES / "ansible-no-inventory"))
    status, message = seen["playbook.yaml"]
    assert status is Status.UNKNOWN
    assert "no inventory" in message


def test_malformed_playbook_and_role_are_errors_naming_file_and_line():
    observations = run_probe(FIXTURES / "ansible-malformed")
    errors = {(o.subject.path, o.subject.line) for o in observations if o.status is Status.ERROR}
    assert errors == {("site.yml", 7), ("roles/db/tasks/main.yml", 1)}
    assert not [o for o in observations if o.status is Status.PASS]


def test_yaml_with_hosts_that_is_not_a_playbook_is_not_applicable(tmp_path):
    (tmp_path / "values.yaml").write_text("ingress:\n  hosts:\n    - a.example\n  tasks:\n    - x\n")
    (tmp_path / "other.yml").write_text("hosts: all\ntasks: []\n")  # a mapping at top level: not even claimed
    observations = run_probe(tmp_path)
    assert {o.subject.path: o.status for o in observations} == {"values.yaml": Status.NOT_APPLICABLE}


def test_audit_without_ansible_is_not_applicable_and_with_it_passes(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "README.md").write_text("nothing\n")
    root = tmp_path / "site"
    shutil.copytree(FIXTURES / "ansible-site", root)
    for path, want in ((empty, VerdictStatus.NOT_APPLICABLE), (root, VerdictStatus.PASS)):
        report = audit(path, Config())
        assert check_result(CHECK, report.observations, {CHECK}, {}).status is want


def test_application_code_in_a_folder_named_inventory_is_no_inventory(tmp_path):
    app = tmp_path / "services" / "shop" / "src" / "inventory"
    app.mkdir(parents=True)
    for n in range(30):
        (app / f"stock_{n}.py").write_text(f"def stock_{n}():\n    return {n}\n")
    seen = run_probe(tmp_path)
    assert [(o.status, o.subject.path) for o in seen] == [(Status.NOT_APPLICABLE, None)]
    assert "30 source files in folders named inventory are application code" in seen[0].message


def test_an_executable_inventory_script_counts_and_long_lists_are_cut(tmp_path):
    shutil.copytree(FIXTURES / "ansible-site", tmp_path / "site")
    script = tmp_path / "site" / "inventory" / "ec2.py"
    script.write_text("#!/usr/bin/env python3\nprint('{}')\n")
    script.chmod(0o755)
    for n in range(25):
        (tmp_path / "site" / "inventory" / f"group_{n}.ini").write_text(f"[group{n}]\nhost{n}.example\n")
    observations = run_probe(tmp_path / "site")
    facts = observations[0].facts
    assert {o.status for o in observations} == {Status.PASS}
    every_file = [p for p in (tmp_path / "site" / "inventory").rglob("*") if p.is_file()]  # ec2.py among them
    assert len(facts["inventories"]) == 20 and 20 + facts["inventories_not_listed"] == len(every_file)
    assert "more" in observations[0].message
