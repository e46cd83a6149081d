"""price history: every price the pricing flow wrote to Wawi, with before, after, reason and origin

Revision ID: e7b41c9d2f60
Revises: a54654d2b843
Create Date: 2026-11-29 09:00:00

One row per price written (an item's base price, a sales-channel price or a special price): net values to
4 decimals as plan lines keep them, the rule or markdown strategy and the reason in words, the run that
wrote it and, for an approved price change or markdown, its plan. Read by item and price (indexed with
the time) and by source (the markdown holds). The table starts empty.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e7b41c9d2f60"
down_revision: str | None = "a54654d2b843"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply."""
    op.create_table(
        "price_history",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("item_id", sa.BigInteger(), nullable=False),
        sa.Column("sku", sa.String(length=255), nullable=True),
        sa.Column("target", sa.String(length=100), nullable=False),
        sa.Column("before", sa.Numeric(precision=15, scale=4), nullable=True),
        sa.Column("after", sa.Numeric(precision=15, scale=4), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("rule", sa.String(length=100), nullable=True),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("run_id", sa.String(length=64), nullable=True),
        sa.Column("plan_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["plan_id"], ["plans.id"], name=op.f("fk_price_history_plan_id_plans")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_price_history")),
    )
    with op.batch_alter_table("price_history") as batch:
        batch.create_index("ix_price_history_item_id_target_at", ["item_id", "target", "at"], unique=False)
        batch.create_index(batch.f("ix_price_history_source"), ["source"], unique=False)
        batch.create_index(batch.f("ix_price_history_run_id"), ["run_id"], unique=False)
        batch.create_index(batch.f("ix_price_history_plan_id"), ["plan_id"], unique=False)
        batch.create_index(batch.f("ix_price_history_at"), ["at"], unique=False)


def downgrade() -> None:
    """Revert."""
    with op.batch_alter_table("price_history") as batch:
        batch.drop_index(batch.f("ix_price_history_at"))
        batch.drop_index(batch.f("ix_price_history_plan_id"))
        batch.drop_index(batch.f("ix_price_history_run_id"))
        batch.drop_index(batch.f("ix_price_history_source"))
        batch.drop_index("ix_price_history_item_id_target_at")
    op.drop_table("price_history")
