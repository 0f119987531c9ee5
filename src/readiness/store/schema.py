"""The evidence store's tables (SQLAlchemy Core). Migrations in ``migrations/versions`` create exactly these.

Times are stored as naive UTC (``timestamp without time zone`` on PostgreSQL, ISO text on SQLite), so both
backends compare and order them the same way.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

# SQLite only auto-increments a column declared exactly INTEGER PRIMARY KEY.
RunId = BigInteger().with_variant(Integer(), "sqlite")

runs = Table(
    "runs",
    metadata,
    Column("id", RunId, primary_key=True, autoincrement=True),
    # sha256 of the report's canonical JSON: the same report pushed twice is one run.
    Column("report_digest", String(64), nullable=False, unique=True),
    Column("repository", String(400), nullable=False),
    Column("commit", String(64)),
    Column("dirty", Boolean),
    Column("deployment", String(200)),
    Column("started", DateTime(), nullable=False),
    Column("finished", DateTime(), nullable=False),
    Column("tool_version", String(40), nullable=False),
    # "name@version:sha256-prefix" of each pack, comma-separated in pack order.
    Column("pack_versions", Text, nullable=False),
    Column("gate_passed", Boolean, nullable=False),
    Column("signature", Text),
    Column("pushed_at", DateTime(), nullable=False),
)
# Latest run per repository (status, diff) and runs of one repository in a period (history, period).
Index("ix_runs_repository_finished", runs.c.repository, runs.c.deployment, runs.c.finished)
# Runs of the whole estate in a period.
Index("ix_runs_finished", runs.c.finished)

item_results = Table(
    "item_results",
    metadata,
    Column("run_id", RunId, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("pack", String(100), primary_key=True),
    Column("item", String(200), primary_key=True),
    Column("status", String(20), nullable=False),
    Column("severity", String(10), nullable=False),
    Column("errored", Boolean, nullable=False),
    # sha256 of the item's status, reason and the observations behind it: evidence that changed while the
    # verdict stayed the same is visible in `store diff`.
    Column("evidence_digest", String(64), nullable=False),
)
# One item across runs (history ITEM, period per item).
Index("ix_item_results_item_run", item_results.c.item, item_results.c.run_id)
