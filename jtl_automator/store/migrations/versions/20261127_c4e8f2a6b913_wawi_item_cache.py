"""wawi item cache: SKU -> item id, stock flags and supplier rows, so runs need not list every item

Revision ID: c4e8f2a6b913
Revises: 9b3f6c2e8a15
Create Date: 2026-11-27 09:00:00

One row per Wawi item (its Id is the key; SKUs as FFN's 255 characters since FFN's merchantSku is what is
looked up). ``seen_at`` is when a listing last returned it, ``changed`` Wawi's ``Changed`` then;
``suppliers`` the item's supplier rows read at ``suppliers_at``. How fresh the rows are is the service's
rule (jtl_automator/services/wawi_item_cache.py); the last full and incremental refreshes are watermarks.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c4e8f2a6b913"
down_revision: str | None = "9b3f6c2e8a15"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply."""
    op.create_table(
        "wawi_item_cache",
        sa.Column("item_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("sku", sa.String(length=255), nullable=True),
        sa.Column("inventory_managed", sa.Boolean(), nullable=False),
        sa.Column("procurement_time", sa.Float(), nullable=True),
        sa.Column("changed", sa.String(length=64), nullable=True),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("suppliers", sa.JSON(), nullable=True),
        sa.Column("suppliers_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("item_id", name=op.f("pk_wawi_item_cache")),
    )
    with op.batch_alter_table("wawi_item_cache") as batch:
        batch.create_index(batch.f("ix_wawi_item_cache_sku"), ["sku"], unique=False)


def downgrade() -> None:
    """Revert."""
    with op.batch_alter_table("wawi_item_cache") as batch:
        batch.drop_index(batch.f("ix_wawi_item_cache_sku"))
    op.drop_table("wawi_item_cache")
