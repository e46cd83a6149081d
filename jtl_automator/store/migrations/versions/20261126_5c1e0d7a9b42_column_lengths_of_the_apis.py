"""column lengths of the APIs: order numbers, ids, SKUs and references 255, keys 512 and 767

Revision ID: 5c1e0d7a9b42
Revises: 303b1cc61b1f
Create Date: 2026-11-26 02:10:00

PostgreSQL enforces column lengths and SQLite does not; the order rules let through what FFN takes
(255 characters), so the columns must hold that much (jtl_automator.limits).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5c1e0d7a9b42"
down_revision: str | None = "303b1cc61b1f"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_WIDER = (
    ("order_ledger", "order_number", 100, 255),
    ("order_ledger", "outbound_id", 100, 255),
    ("order_ledger", "warehouse_id", 100, 255),
    ("order_events", "order_number", 100, 255),
    ("side_effects", "key", 300, 512),
    ("inbound_checks", "row_key", 300, 767),
    ("inbound_checks", "sku", 200, 255),
    ("inbound_checks", "inbound_ref", 200, 255),
)


def _enforces_lengths() -> bool:
    """SQLite ignores VARCHAR lengths (and rebuilding order_ledger there would trip its foreign key)."""
    return op.get_bind().dialect.name != "sqlite"


def upgrade() -> None:
    """Apply."""
    if not _enforces_lengths():
        return
    for table, column, old, new in _WIDER:
        with op.batch_alter_table(table) as batch:
            batch.alter_column(column, existing_type=sa.String(old), type_=sa.String(new))


def downgrade() -> None:
    """Revert."""
    if not _enforces_lengths():
        return
    for table, column, old, new in reversed(_WIDER):
        with op.batch_alter_table(table) as batch:
            batch.alter_column(column, existing_type=sa.String(new), type_=sa.String(old))
