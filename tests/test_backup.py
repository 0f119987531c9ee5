"""The backup probe on fixture repositories: scheduled jobs of every kind, destinations, and drill records."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
from conftest import REPO
from readiness.probes.backup import CHECKS, BackupProbe

from readiness import runner
from readiness.config import Config
from readiness.discovery import discover
from readiness.inventory import Inventory
from readiness.model import Observation, Status, Strength
from readiness.probe import Files

FIXTURES = REPO / "fixtures"
TODAY = dt.date.today()


@pytest.fixture(autouse=True)
def observations_only(monkeypatch):
    monkeypatch.setattr(runner, "planned_checks", dict)


def copy(name: str, tmp_path: Path) -> Path:
    dest = tmp_path / name
    shutil.copytree(FIXTURES / name, dest)
    return dest


def drill(root: Path, name: str, days_ago: int, **fields) -> None:
    (root / "drills").mkdir(exist_ok=True)
    front = "\n".join(f"{k}: {v}" for k, v in {"date": TODAY - dt.timedelta(days=days_ago), **fields}.items())
    (root / "drills" / name).write_text(f"---\n{front}\n---\n# Drill\n\nWhat we did.\n")


def observe(root: Path, **settings) -> list[Observation]:
    """All probes (the compose inventory matters), observations of the backup probe only."""
    config = Config(policies=(), probes={"backup": settings} if settings else {})
    return [o for o in runner.audit(root, config, policies=[]).observations if o.probe == "backup"]


def by_check(obs: list[Observation], check: str) -> list[Observation]:
    return [o for o in obs if o.check == check]


def one(obs: list[Observation], check: str) -> Observation:
    got = by_check(obs, check)
    assert len(got) == 1, [(o.subject, o.message) for o in got]
    return got[0]


def test_complete_setup_passes_every_check_naming_the_jobs(tmp_path):
    root = copy("backup-complete", tmp_path)
    drill(root, "restore.md", 20, kind="restore", result="pass")
    drill(root, "dr.md", 40, kind="dr", result="pass", rto="45m", rpo="5m", rto_target="1h")
    obs = observe(root)
    assert {o.check for o in obs} == {c.id for c in CHECKS}
    assert all(o.status is Status.PASS for o in obs), [(o.check, o.message) for o in obs if o.status != Status.PASS]
    db = one(obs, "backup.db_automated")
    assert (db.subject.path, db.subject.line, db.subject.name) == ("k8s/db-backup.yaml", 1, "CronJob/postgres-nightly")
    assert "pg_dump" in db.message and "15 2 * * *" in db.message
    data = {o.subject.name for o in by_check(obs, "backup.config_automated")}
    assert data == {"Schedule/cluster-daily", "uploads-backup.service"}  # Velero, and restic from a systemd timer
    offsite = {(o.subject.path, tuple(o.facts["destinations"])) for o in by_check(obs, "backup.offsite")}
    assert ("ops/systemd/uploads-backup.timer", ("s3:",)) in offsite
    restore = one(obs, "backup.restore_tested")
    assert restore.subject.path == ".github/workflows/restore-test.yml" and "pg_restore" in restore.message


def test_drill_records_are_tested_evidence_and_age_out(tmp_path):
    root = tmp_path / "repo"
    root.mkdir()
    drill(root, "restore.md", 10, kind="restore", result="success")
    got = one(observe(root), "backup.restore_tested")
    assert got.status is Status.PASS and got.strength is Strength.TESTED and got.subject.path == "drills/restore.md"
    strict = one(observe(root, restore_max_age_days=7), "backup.restore_tested")
    assert strict.status is Status.FAIL and "10 days old" in strict.message


def test_the_newest_drill_decides_and_a_failed_one_fails(tmp_path):
    root = tmp_path / "repo"
    root.mkdir()
    drill(root, "old.md", 60, kind="restore", result="pass")
    drill(root, "new.md", 5, kind="restore", result="failed")
    got = one(observe(root), "backup.restore_tested")
    assert got.status is Status.FAIL and got.subject.path == "drills/new.md" and "'failed'" in got.message


def test_a_dr_drill_must_record_the_achieved_rto_and_rpo(tmp_path):
    root = tmp_path / "repo"
    root.mkdir()
    drill(root, "dr.md", 30, kind="dr", result="pass", rto="2h")
    got = one(observe(root), "backup.dr_tested")
    assert got.status is Status.FAIL and "RPO" in got.message


def test_local_only_backups_fail_offsite_and_old_drills_fail(tmp_path):
    root = copy("backup-local-only", tmp_path)
    drill(root, "restore.md", 400, kind="restore", result="pass")
    obs = observe(root)
    db = one(obs, "backup.db_automated")
    assert db.status is Status.PASS and (db.subject.path, db.subject.line) == ("crontab", 3)
    volumes = one(obs, "backup.config_automated")
    assert volumes.status is Status.PASS and volumes.subject.name == "backup"  # offen/docker-volume-backup
    offsite = one(obs, "backup.offsite")
    assert offsite.status is Status.FAIL and "only locally" in offsite.message
    assert one(obs, "backup.restore_tested").status is Status.FAIL
    assert one(obs, "backup.dr_tested").status is Status.FAIL


def test_a_database_without_any_backup_job_fails_naming_it(tmp_path):
    obs = observe(copy("backup-none", tmp_path))
    db = one(obs, "backup.db_automated")
    assert db.status is Status.FAIL and "db" in db.message and "CronJobs" in db.message
    offsite = one(obs, "backup.offsite")  # no backup at all is no off-host backup either
    assert offsite.status is Status.FAIL and "at all" in offsite.message


def test_no_database_and_no_job_is_unknown_not_fail(tmp_path):
    root = tmp_path / "repo"
    root.mkdir()
    (root / "README.md").write_text("a library\n")
    obs = observe(root)
    assert one(obs, "backup.db_automated").status is Status.UNKNOWN
    assert one(obs, "backup.offsite").status is Status.UNKNOWN


def test_a_suspended_cronjob_does_not_count(tmp_path):
    root = copy("backup-complete", tmp_path)
    manifest = root / "k8s" / "db-backup.yaml"
    manifest.write_text(
        manifest.read_text().replace('  schedule: "15 2 * * *"', '  schedule: "15 2 * * *"\n  suspend: true', 1)
    )
    db = one(observe(root), "backup.db_automated")
    assert db.status is Status.FAIL and "1 suspended" in db.message


def test_ansible_cron_tasks_are_jobs(tmp_path):
    root = tmp_path / "repo"
    (root / "roles" / "db" / "tasks").mkdir(parents=True)
    (root / "roles" / "db" / "tasks" / "main.yml").write_text(
        "- name: nightly dump\n"
        "  ansible.builtin.cron:\n"
        "    name: pg dump\n"
        '    hour: "2"\n'
        '    job: "pg_dump app | gzip > /var/backups/app.sql.gz && rclone copy /var/backups offsite:db"\n'
    )
    obs = observe(root)
    db = one(obs, "backup.db_automated")
    assert (
        db.status is Status.PASS and db.subject.path == "roles/db/tasks/main.yml" and db.subject.name == "nightly dump"
    )
    assert one(obs, "backup.offsite").status is Status.PASS


def test_malformed_yaml_is_an_error_for_that_file_and_the_rest_is_judged(tmp_path):
    root = copy("backup-complete", tmp_path)
    (root / "k8s" / "broken.yaml").write_text("kind: CronJob\nspec: [unclosed\n")
    obs = observe(root)
    broken = [o for o in obs if o.subject.path == "k8s/broken.yaml"]
    assert broken and {o.status for o in broken} == {Status.ERROR}
    assert any(o.status is Status.PASS for o in by_check(obs, "backup.db_automated"))


def test_run_probe_alone_without_inventory(tmp_path):
    root = copy("backup-complete", tmp_path)
    found = discover(root, Config())
    observations, _gaps, run = runner.run_probe(BackupProbe, found, Files(found.root), Inventory(), Config())
    assert run.crashed is None and "k8s/db-backup.yaml" in run.claimed
    assert {o.check for o in observations} == {c.id for c in CHECKS}
