"""reporting: order line amounts (net, gross, cost) and the KPI history of the reports

Revision ID: fc857173a450
Revises: e7b41c9d2f60
Create Date: 2026-11-29 09:00:00

Issue 13 (reporting). ``order_lines`` gains each line's net and gross sales and its cost at the line's
purchase price (after the line's discount; nullable: lines recorded before, or without a price, are
unknown, and the reports say how many). ``kpi_history`` keeps every figure a report computed for a
period (one row per report, period, KPI and breakdown), so trends and comparisons read it instead of
recomputing; a rerun of a period replaces that period's rows only. The ledger's ``order_date`` gets an
index: the reports read orders by the day they were placed.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "fc857173a450"
down_revision: str | None = "e7b41c9d2f60"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply."""
    with op.batch_alter_table("order_ledger") as batch:
        batch.create_index(batch.f("ix_order_ledger_order_date"), ["order_date"], unique=False)
    with op.batch_alter_table("order_lines") as batch:
        batch.add_column(sa.Column("net_amount", sa.Float(), nullable=True))
        batch.add_column(sa.Column("gross_amount", sa.Float(), nullable=True))
        batch.add_column(sa.Column("cost_amount", sa.Float(), nullable=True))
    op.create_table(
        "kpi_history",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("report", sa.String(length=50), nullable=False),
        sa.Column("period", sa.String(length=64), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("kpi", sa.String(length=100), nullable=False),
        sa.Column("dimension", sa.String(length=255), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("missing", sa.Text(), nullable=True),
        sa.Column("run_id", sa.String(length=64), nullable=True),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kpi_history")),
        sa.UniqueConstraint("report", "period", "kpi", "dimension", name="uq_kpi_history_report_period_kpi"),
    )
    with op.batch_alter_table("kpi_history") as batch:
        batch.create_index(
            "ix_kpi_history_report_kpi_period_start", ["report", "kpi", "period_start"], unique=False
        )


def downgrade() -> None:
    """Revert."""
    with op.batch_alter_table("kpi_history") as batch:
        batch.drop_index("ix_kpi_history_report_kpi_period_start")
    op.drop_table("kpi_history")
    with op.batch_alter_table("order_lines") as batch:
        batch.drop_column("cost_amount")
        batch.drop_column("gross_amount")
        batch.drop_column("net_amount")
    with op.batch_alter_table("order_ledger") as batch:
        batch.drop_index(batch.f("ix_order_ledger_order_date"))
