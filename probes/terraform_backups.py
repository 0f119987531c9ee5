"""Terraform checks on database backups, replication and cross-region copies."""

from __future__ import annotations

from collections.abc import Iterator

from readiness.model import Check, Status

from .terraform_findings import (
    MIN_BACKUP_DAYS,
    Finding,
    _absent,
    _absent_on,
    _as_int,
    _flag,
    _names,
    _truth,
)
from .terraform_resolve import MISSING, Block, Estate, Resource, Unknown

# -- backups and replication ----------------------------------------------------------------------

DB_BACKUPS = Check(
    id="terraform.db_backups",
    title="Databases have automated backups kept at least 7 days",
    rationale="Without automated backups a bad migration or deleted table is unrecoverable; one day is too short "
    "to notice most mistakes.",
    remediation="Set backup_retention_period >= 7 on RDS/Aurora, enable point_in_time_recovery on DynamoDB, "
    "snapshot_retention_limit on ElastiCache, or cover the database with an aws_backup_plan selection.",
)


def _tag_selections(estate: Estate) -> list[Resource]:
    """AWS Backup selections that pick resources by tag, condition, wildcard or unknown list."""
    out = []
    for sel in estate.of("aws_backup_selection"):
        listed = sel.get("resources")
        wild = isinstance(listed, Unknown) or (
            isinstance(listed, list)
            and any(isinstance(r, Unknown) or (isinstance(r, str) and "*" in r) for r in listed)
        )
        if wild or sel.block.sub("selection_tag") or sel.block.sub("condition"):
            out.append(sel)
    return out


def _backup_covered(estate: Estate, res: Resource) -> list[Resource]:
    return estate.linked(res, ("aws_backup_selection",), "resources")


def db_backups(estate: Estate) -> Iterator[Finding]:
    """Per database; the AWS default retention (1 day) when the attribute is absent fails."""
    check = DB_BACKUPS.id
    for db in estate.of("aws_db_instance", "aws_rds_cluster"):
        plans = _backup_covered(estate, db)
        days = _as_int(db.get("backup_retention_period"))
        if db.get("replicate_source_db") not in (MISSING, None):
            yield Finding(check, Status.NOT_APPLICABLE, "a read replica: its source database is backed up", db)
        elif isinstance(days, Unknown) and not plans:
            yield Finding(
                check, Status.UNKNOWN, f"backup_retention_period: {days.reason}", db, "backup_retention_period"
            )
        elif isinstance(days, int) and days >= MIN_BACKUP_DAYS:
            yield Finding(
                check,
                Status.PASS,
                f"automated backups kept {days} days",
                db,
                "backup_retention_period",
                facts={"backup_retention_period": days},
            )
        elif plans:
            yield Finding(
                check,
                Status.PASS,
                f"backed up by {_names(plans)}",
                db,
                facts={"backup_selection": [p.address for p in plans]},
            )
        else:
            shown = "not set (AWS default: 1 day)" if days is None else f"{days} days"
            wide = _tag_selections(estate)
            status = Status.UNKNOWN if wide else Status.FAIL
            why = f", unless {_names(wide)} selects it by tag or condition" if wide else ""
            yield Finding(
                check,
                status,
                f"backup retention {shown}, want >= {MIN_BACKUP_DAYS}{why}",
                db,
                "backup_retention_period",
                facts={"backup_retention_period": days},
            )
    for table in estate.of("aws_dynamodb_table"):
        pitr = table.block.sub("point_in_time_recovery")
        if _backup_covered(estate, table):
            yield Finding(check, Status.PASS, "covered by an AWS Backup selection", table)
        elif pitr:
            yield _flag(check, table, "enabled", "point-in-time recovery on", "point-in-time recovery off", pitr[0])
        else:
            yield Finding(check, Status.FAIL, "point-in-time recovery not enabled", table)
    yield from cloud_sql_backups(estate)
    for group in estate.of("aws_elasticache_replication_group"):
        limit = _as_int(group.get("snapshot_retention_limit"))
        if isinstance(limit, Unknown):
            yield Finding(check, Status.UNKNOWN, limit.reason, group, "snapshot_retention_limit")
        else:
            status = Status.PASS if limit and limit > 0 else Status.FAIL
            yield Finding(check, status, f"snapshot_retention_limit = {limit}", group, "snapshot_retention_limit")


AZURE_DB_SERVERS = ("azurerm_postgresql_flexible_server", "azurerm_mysql_flexible_server")


def _gcp_sql_settings(db: Resource) -> tuple[Block | None, Block | None]:
    settings = db.block.sub("settings")
    backup = settings[0].sub("backup_configuration") if settings else []
    return (settings[0] if settings else None), (backup[0] if backup else None)


def cloud_sql_backups(estate: Estate) -> Iterator[Finding]:
    """GCP Cloud SQL backup configuration and Azure flexible-server retention."""
    check = DB_BACKUPS.id
    for db in estate.of("google_sql_database_instance"):
        _, backup = _gcp_sql_settings(db)
        if backup is None:
            yield Finding(check, Status.FAIL, "no settings.backup_configuration (automated backups off)", db)
        else:
            yield _flag(check, db, "enabled", "automated backups on", "automated backups off", backup)
    for server in estate.of(*AZURE_DB_SERVERS):
        days = _as_int(server.get("backup_retention_days"))
        if isinstance(days, Unknown):
            yield Finding(check, Status.UNKNOWN, days.reason, server, "backup_retention_days")
        elif days is None:
            # Azure flexible servers are always backed up; 7 days is the service's fixed default.
            yield Finding(check, Status.PASS, "always backed up; retention 7 days (Azure default)", server)
        else:
            status = Status.PASS if days >= MIN_BACKUP_DAYS else Status.FAIL
            yield Finding(check, status, f"backup retention {days} days", server, "backup_retention_days")


DB_REPLICATION = Check(
    id="terraform.db_replication",
    title="Databases are replicated for high availability (Multi-AZ, replicas)",
    rationale="A single database instance is a single point of failure: an AZ outage takes the service down.",
    remediation="Set multi_az = true on RDS, run two or more Aurora instances, and use ElastiCache replication "
    "groups with automatic failover.",
)


def db_replication(estate: Estate) -> Iterator[Finding]:
    """RDS multi_az, Aurora instance count, ElastiCache replicas with automatic failover."""
    check = DB_REPLICATION.id
    for db in estate.of("aws_db_instance"):
        if db.get("replicate_source_db") not in (MISSING, None):
            yield Finding(check, Status.PASS, "a read replica of another database", db, "replicate_source_db")
        else:
            yield _flag(check, db, "multi_az", "Multi-AZ", "single-AZ")
    for cluster in estate.of("aws_rds_cluster"):
        members = estate.linked(cluster, ("aws_rds_cluster_instance",), "cluster_identifier", "cluster_identifier")
        counts = [_as_int(m.get("count")) for m in members]
        if any(isinstance(c, Unknown) for c in counts) or any(m.get("for_each") is not MISSING for m in members):
            yield Finding(check, Status.UNKNOWN, "instance count is known only at plan time", cluster)
            continue
        total = sum(1 if c is None else c for c in counts)
        if total == 0:
            yield _absent_on(estate, check, cluster, "no aws_rds_cluster_instance joins this cluster")
            continue
        status = Status.PASS if total >= 2 else Status.FAIL
        yield Finding(check, status, f"{total} cluster instance(s)", cluster, facts={"instances": total})
    for group in estate.of("aws_elasticache_replication_group"):
        failover = _truth(group.get("automatic_failover_enabled"))
        clusters = _as_int(group.get("num_cache_clusters", default=group.get("number_cache_clusters")))
        replicas = _as_int(group.get("replicas_per_node_group"))
        if isinstance(failover, Unknown) or isinstance(clusters, Unknown) or isinstance(replicas, Unknown):
            yield Finding(check, Status.UNKNOWN, "replication settings are not known statically", group)
        elif failover and ((clusters or 0) >= 2 or (replicas or 0) >= 1):
            yield Finding(check, Status.PASS, "replicas with automatic failover", group)
        else:
            yield Finding(check, Status.FAIL, "no replica with automatic failover", group)
    for cache in estate.of("aws_elasticache_cluster"):
        if cache.get("engine") == "redis" and cache.get("replication_group_id") is MISSING:
            yield Finding(check, Status.FAIL, "single-node Redis cluster", cache)
    for db in estate.of("google_sql_database_instance"):
        settings, _ = _gcp_sql_settings(db)
        kind = db.get("availability_type", settings) if settings else MISSING
        if isinstance(kind, Unknown):
            yield Finding(check, Status.UNKNOWN, kind.reason, db)
        else:
            status = Status.PASS if kind == "REGIONAL" else Status.FAIL
            yield Finding(
                check, status, f"availability_type = {kind if kind is not MISSING else 'ZONAL (default)'}", db
            )
    for server in estate.of(*AZURE_DB_SERVERS):
        ha = server.block.sub("high_availability")
        mode = server.get("mode", ha[0]) if ha else MISSING
        if isinstance(mode, Unknown):
            yield Finding(check, Status.UNKNOWN, mode.reason, server)
        elif mode in ("ZoneRedundant", "SameZone"):
            yield Finding(check, Status.PASS, f"high availability: {mode}", server, block=ha[0])
        else:
            yield Finding(check, Status.FAIL, "no high_availability block", server)


CROSS_REGION_BACKUPS = Check(
    id="terraform.cross_region_backups",
    title="Backups are copied to another region",
    rationale="A regional outage or account-level incident can take the data and its same-region backups at once.",
    remediation="Add an aws_backup_plan copy_action to a vault in another region, S3 cross-region replication, "
    "aws_db_instance_automated_backups_replication, or DynamoDB global table replicas.",
    # Without a Terraform estate, the deployment's own backup jobs (backup.offsite) decide the item.
    when_absent=Status.NOT_APPLICABLE,
)


def _other_region(estate: Estate, source: Resource, dest: Resource | None) -> bool | Unknown:
    if dest is None:
        return Unknown("the destination is not a resource of this configuration")
    a, b = estate.region(source), estate.region(dest)
    for r in (a, b):
        if isinstance(r, Unknown):
            return r
    return a != b


def _cross_region_proofs(estate: Estate) -> Iterator[Finding]:
    check = CROSS_REGION_BACKUPS.id
    for plan in estate.of("aws_backup_plan"):
        for rule in plan.block.sub("rule"):
            for copy in rule.sub("copy_action"):
                dest = plan.get("destination_vault_arn", copy)
                vault = estate.target(dest)
                if vault is None and isinstance(dest, str) and ":backup-vault:" in dest:
                    region = estate.region(plan)
                    other = Unknown(region.reason) if isinstance(region, Unknown) else region not in dest.split(":")
                else:
                    other = _other_region(estate, plan, vault)
                yield _region_finding(check, other, plan, f"copy_action to {vault.address if vault else dest}")
    for rep in estate.of("aws_s3_bucket_replication_configuration"):
        for rule in rep.block.sub("rule"):
            for dest in rule.sub("destination"):
                bucket = estate.target(rep.get("bucket", dest))
                source = estate.target(rep.get("bucket"))
                other = _other_region(estate, source or rep, bucket)
                yield _region_finding(check, other, rep, f"replicates to {bucket.address if bucket else '?'}")
    for bucket in estate.of("aws_s3_bucket"):
        for cfg in bucket.block.sub("replication_configuration"):
            for rule in cfg.sub("rules"):
                for dest in rule.sub("destination"):
                    target = estate.target(bucket.get("bucket", dest))
                    other = _other_region(estate, bucket, target)
                    yield _region_finding(check, other, bucket, "inline replication_configuration")
    for rep in estate.of("aws_db_instance_automated_backups_replication"):
        yield Finding(check, Status.PASS, "RDS automated backups replicated to another region", rep)
    for table in estate.of("aws_dynamodb_table"):
        regions = [table.get("region_name", r) for r in table.block.sub("replica")]
        if regions:
            yield Finding(check, Status.PASS, f"global table replicas in {regions}", table, facts={"regions": regions})
    for res in estate.of("aws_rds_global_cluster"):
        yield Finding(check, Status.PASS, "Aurora global database", res)
    for server in estate.of(*AZURE_DB_SERVERS):
        if _truth(server.get("geo_redundant_backup_enabled")) is True:
            yield Finding(check, Status.PASS, "geo-redundant backups", server, "geo_redundant_backup_enabled")


def _region_finding(check: str, other: bool | Unknown, res: Resource, what: str) -> Finding:
    if isinstance(other, Unknown):
        return Finding(check, Status.UNKNOWN, f"{what}: region not known ({other.reason})", res)
    if other:
        return Finding(check, Status.PASS, f"{what}, in another region", res)
    return Finding(check, Status.FAIL, f"{what}, but in the same region", res)


def cross_region_backups(estate: Estate) -> Iterator[Finding]:
    """Estate: at least one cross-region copy exists wherever there is data; names the resources proving it."""
    proofs = list(_cross_region_proofs(estate))
    passing = [f for f in proofs if f.status is Status.PASS]
    stores = estate.of(
        *AZURE_DB_SERVERS,
        "google_sql_database_instance",
        "aws_db_instance",
        "aws_rds_cluster",
        "aws_dynamodb_table",
        "aws_s3_bucket",
        "aws_efs_file_system",
        "aws_ebs_volume",
    )
    if passing:
        # The estate item passes on the proofs; same-region copies are reported, not failed, since
        # another resource already copies across regions.
        yield from passing
        for f in proofs:
            if f.status is not Status.PASS:
                f.status, f.message = Status.NOT_APPLICABLE, f.message + " (another copy is cross-region)"
                yield f
        return
    yield from proofs
    if stores and not proofs:
        yield _absent(
            estate,
            CROSS_REGION_BACKUPS.id,
            Status.FAIL,
            f"data stores ({_names(stores)}) but no backup copy or replication to another region",
        )
