"""gateway: the outbox of events accepted from outside senders

Revision ID: b7d3e5a1c2f4
Revises: fc857173a450
Create Date: 2026-12-01 09:00:00

Issue 14 (event gateway). ``gateway_events`` holds every event the gateway accepted, written before it
answers the sender: a drainer delivers the rows to Prefect in ``id`` order and marks them delivered; the
workflow runner reads them by type. ``(source, event_id)`` is unique, so a sender's retry (after a lost
answer or a crash of the gateway) is recognised as a duplicate and stored once.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b7d3e5a1c2f4"
down_revision: str | None = "fc857173a450"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply."""
    op.create_table(
        "gateway_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("event_id", sa.String(length=200), nullable=False),
        sa.Column("type", sa.String(length=100), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("client_ip", sa.String(length=64), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gateway_events")),
        sa.UniqueConstraint("source", "event_id", name="uq_gateway_events_source_event_id"),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("gateway_events") as batch:
        batch.create_index("ix_gateway_events_delivered_at_id", ["delivered_at", "id"], unique=False)
        batch.create_index("ix_gateway_events_type_id", ["type", "id"], unique=False)


def downgrade() -> None:
    """Revert."""
    with op.batch_alter_table("gateway_events") as batch:
        batch.drop_index("ix_gateway_events_type_id")
        batch.drop_index("ix_gateway_events_delivered_at_id")
    op.drop_table("gateway_events")
