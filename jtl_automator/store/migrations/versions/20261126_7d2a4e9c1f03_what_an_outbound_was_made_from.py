"""what an outbound was made from: the order ledger remembers the address it sent and the change it saw

Revision ID: 7d2a4e9c1f03
Revises: 5c1e0d7a9b42
Create Date: 2026-11-26 02:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "7d2a4e9c1f03"
down_revision: str | None = "5c1e0d7a9b42"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply."""
    with op.batch_alter_table("order_ledger") as batch:
        batch.add_column(sa.Column("sent_fingerprint", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("change_seen", sa.String(length=64), nullable=True))


def downgrade() -> None:
    """Revert."""
    with op.batch_alter_table("order_ledger") as batch:
        batch.drop_column("change_seen")
        batch.drop_column("sent_fingerprint")
