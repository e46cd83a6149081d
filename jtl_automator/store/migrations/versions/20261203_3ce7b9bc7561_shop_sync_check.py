"""shop sync check: incidents with their history and alert state, the shop orders it follows, channel prices

Revision ID: 3ce7b9bc7561
Revises: b8d3f1a9c6e2
Create Date: 2026-12-03 09:00:00

Issue 16 (the Wawi <-> Shop sync monitor). ``shop_sync_incidents``: one row per incident (stuck order,
shop-cancelled order open in Wawi, stale stock, price drift) with first seen ("stuck since"), last seen,
when it crossed its threshold, when and why it cleared, the latest observation and the alert state;
uq_shop_sync_incidents_kind_open_key keeps one open incident per kind and key (``open_key`` is NULL once
cleared). ``shop_sync_orders``: the shop orders read by cursor, with their cart lines, until Wawi has them.
``wawi_channel_price_cache``: an item's sales-channel prices with the item's ``Changed`` they were read at.
All three start empty.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "3ce7b9bc7561"
down_revision: str | None = "b8d3f1a9c6e2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Apply."""
    op.create_table(
        "shop_sync_incidents",
        sa.Column("id", _ID, nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("open_key", sa.String(length=300), nullable=True),
        sa.Column("first_seen", _WHEN, nullable=False),
        sa.Column("last_seen", _WHEN, nullable=False),
        sa.Column("raised_at", _WHEN, nullable=True),
        sa.Column("cleared_at", _WHEN, nullable=True),
        sa.Column("clear_reason", sa.Text(), nullable=True),
        sa.Column("details", sa.JSON(), nullable=True),
        sa.Column("alert_state", sa.String(length=20), nullable=False),
        sa.Column("alerted_at", _WHEN, nullable=True),
        sa.Column("run_id", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shop_sync_incidents")),
        sa.UniqueConstraint("kind", "open_key", name="uq_shop_sync_incidents_kind_open_key"),
    )
    with op.batch_alter_table("shop_sync_incidents") as batch:
        batch.create_index("ix_shop_sync_incidents_kind_key", ["kind", "key"], unique=False)
        batch.create_index(batch.f("ix_shop_sync_incidents_cleared_at"), ["cleared_at"], unique=False)
    op.create_table(
        "shop_sync_orders",
        sa.Column("shop_order_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("order_no", sa.String(length=255), nullable=False),
        sa.Column("cart_id", sa.BigInteger(), nullable=True),
        sa.Column("state", sa.String(length=8), nullable=True),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.Column("total", sa.Float(), nullable=True),
        sa.Column("lines", sa.JSON(), nullable=True),
        sa.Column("wawi_order_id", sa.BigInteger(), nullable=True),
        sa.Column("wawi_status", sa.String(length=20), nullable=True),
        sa.Column("matched_at", _WHEN, nullable=True),
        sa.Column("read_at", _WHEN, nullable=False),
        sa.Column("checked_at", _WHEN, nullable=True),
        sa.PrimaryKeyConstraint("shop_order_id", name=op.f("pk_shop_sync_orders")),
    )
    with op.batch_alter_table("shop_sync_orders") as batch:
        batch.create_index(batch.f("ix_shop_sync_orders_order_no"), ["order_no"], unique=False)
        batch.create_index(batch.f("ix_shop_sync_orders_created_at"), ["created_at"], unique=False)
    op.create_table(
        "wawi_channel_price_cache",
        sa.Column("item_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("changed", sa.String(length=64), nullable=True),
        sa.Column("prices", sa.JSON(), nullable=False),
        sa.Column("read_at", _WHEN, nullable=False),
        sa.PrimaryKeyConstraint("item_id", name=op.f("pk_wawi_channel_price_cache")),
    )


def downgrade() -> None:
    """Revert."""
    op.drop_table("wawi_channel_price_cache")
    with op.batch_alter_table("shop_sync_orders") as batch:
        batch.drop_index(batch.f("ix_shop_sync_orders_created_at"))
        batch.drop_index(batch.f("ix_shop_sync_orders_order_no"))
    op.drop_table("shop_sync_orders")
    with op.batch_alter_table("shop_sync_incidents") as batch:
        batch.drop_index(batch.f("ix_shop_sync_incidents_cleared_at"))
        batch.drop_index("ix_shop_sync_incidents_kind_key")
    op.drop_table("shop_sync_incidents")
