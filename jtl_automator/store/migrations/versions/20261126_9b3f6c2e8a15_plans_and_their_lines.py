"""plans and their lines: proposals a person approves (restock, markdown, rebalance, supplier return/exchange)

Revision ID: 9b3f6c2e8a15
Revises: 7d2a4e9c1f03
Create Date: 2026-11-26 03:40:00

One plan per kind, scope and period (uq_plans_kind_scope_period: create-or-get is race-safe); one line
per SKU and warehouse within a plan. Lengths follow jtl_automator.limits (SKUs, warehouse ids,
purchase order numbers and inbound ids as FFN's 255; prices 15 digits, 4 decimals, which
SQLite's double keeps exactly). The reserved plan_runs/plan_steps stay as they
are: they are the declarative workflows' run records, not plans.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "9b3f6c2e8a15"
down_revision: str | None = "7d2a4e9c1f03"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Apply."""
    op.create_table(
        "plans",
        sa.Column("id", _ID, nullable=False),
        sa.Column("kind", sa.String(length=50), nullable=False),
        sa.Column("scope_hash", sa.String(length=64), nullable=False),
        sa.Column("scope", sa.JSON(), nullable=False),
        sa.Column("period", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=True),
        sa.Column("approved_by", sa.String(length=200), nullable=True),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("execution_started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_by", sa.String(length=200), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plans")),
        sa.UniqueConstraint("kind", "scope_hash", "period", name="uq_plans_kind_scope_period"),
    )
    with op.batch_alter_table("plans") as batch:
        batch.create_index(batch.f("ix_plans_status"), ["status"], unique=False)

    op.create_table(
        "plan_lines",
        sa.Column("id", _ID, nullable=False),
        sa.Column("plan_id", _ID, nullable=False),
        sa.Column("sku", sa.String(length=255), nullable=False),
        sa.Column("warehouse", sa.String(length=255), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("unit_price", sa.Numeric(precision=15, scale=4), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("details", sa.JSON(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("approved_by", sa.String(length=200), nullable=True),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("purchase_order_number", sa.String(length=255), nullable=True),
        sa.Column("inbound_id", sa.String(length=255), nullable=True),
        sa.Column("execution", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["plan_id"], ["plans.id"], name=op.f("fk_plan_lines_plan_id_plans")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan_lines")),
        sa.UniqueConstraint("plan_id", "sku", "warehouse", name="uq_plan_lines_plan_sku_warehouse"),
    )
    with op.batch_alter_table("plan_lines") as batch:
        batch.create_index(batch.f("ix_plan_lines_plan_id"), ["plan_id"], unique=False)


def downgrade() -> None:
    """Revert."""
    with op.batch_alter_table("plan_lines") as batch:
        batch.drop_index(batch.f("ix_plan_lines_plan_id"))
    op.drop_table("plan_lines")
    with op.batch_alter_table("plans") as batch:
        batch.drop_index(batch.f("ix_plans_status"))
    op.drop_table("plans")
