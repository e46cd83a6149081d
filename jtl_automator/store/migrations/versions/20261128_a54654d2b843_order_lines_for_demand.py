"""order lines for demand: the item lines of orders that became outbounds, per SKU, warehouse and day

Revision ID: a54654d2b843
Revises: c4e8f2a6b913
Create Date: 2026-11-28 09:00:00

One row per item line of an order in the ledger, keyed by the order number and the line's position in
Wawi's line list; SKUs and warehouse ids as FFN's 255 characters (the Wawi SKU is FFN's merchantSku). The
replenishment reads them by ``order_day`` (indexed) for orders not cancelled. The table starts empty: the
watermark ``order-lines:since`` says from when order processing recorded the lines of every order.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "a54654d2b843"
down_revision: str | None = "c4e8f2a6b913"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply."""
    op.create_table(
        "order_lines",
        sa.Column("order_number", sa.String(length=255), nullable=False),
        sa.Column("position", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("sku", sa.String(length=255), nullable=False),
        sa.Column("warehouse_id", sa.String(length=255), nullable=False),
        sa.Column("quantity", sa.Float(), nullable=False),
        sa.Column("order_day", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_number"],
            ["order_ledger.order_number"],
            name=op.f("fk_order_lines_order_number_order_ledger"),
        ),
        sa.PrimaryKeyConstraint("order_number", "position", name=op.f("pk_order_lines")),
    )
    with op.batch_alter_table("order_lines") as batch:
        batch.create_index(batch.f("ix_order_lines_order_day"), ["order_day"], unique=False)


def downgrade() -> None:
    """Revert."""
    with op.batch_alter_table("order_lines") as batch:
        batch.drop_index(batch.f("ix_order_lines_order_day"))
    op.drop_table("order_lines")
    op.execute(sa.text("DELETE FROM watermarks WHERE job = 'order-lines:since'"))
