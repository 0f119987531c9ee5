"""The first schema: runs and item results.

Revision ID: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

RunId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("id", RunId, primary_key=True, autoincrement=True),
        sa.Column("report_digest", sa.String(64), nullable=False),
        sa.Column("repository", sa.String(400), nullable=False),
        sa.Column("commit", sa.String(64)),
        sa.Column("dirty", sa.Boolean),
        sa.Column("deployment", sa.String(200)),
        sa.Column("started", sa.DateTime(), nullable=False),
        sa.Column("finished", sa.DateTime(), nullable=False),
        sa.Column("tool_version", sa.String(40), nullable=False),
        sa.Column("pack_versions", sa.Text, nullable=False),
        sa.Column("gate_passed", sa.Boolean, nullable=False),
        sa.Column("signature", sa.Text),
        sa.Column("pushed_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("report_digest", name="uq_runs_report_digest"),
    )
    op.create_index("ix_runs_repository_finished", "runs", ["repository", "deployment", "finished"])
    op.create_index("ix_runs_finished", "runs", ["finished"])
    op.create_table(
        "item_results",
        sa.Column("run_id", RunId, sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("pack", sa.String(100), primary_key=True),
        sa.Column("item", sa.String(200), primary_key=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("severity", sa.String(10), nullable=False),
        sa.Column("errored", sa.Boolean, nullable=False),
        sa.Column("evidence_digest", sa.String(64), nullable=False),
    )
    op.create_index("ix_item_results_item_run", "item_results", ["item", "run_id"])


def downgrade() -> None:
    op.drop_table("item_results")
    op.drop_table("runs")
