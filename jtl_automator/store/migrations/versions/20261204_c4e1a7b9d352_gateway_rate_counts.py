"""gateway: requests per client IP and window slice, shared by every gateway process

Revision ID: c4e1a7b9d352
Revises: 3ce7b9bc7561
Create Date: 2026-12-04 09:00:00

Issue 14 (event gateway). The rate limit per client IP was kept in each process, so N processes let
N x 100 requests through. ``gateway_rate_counts`` holds one row per client IP and slice of the window
(a twentieth of it); every process adds one to its row and sums the slices the window overlaps in
one transaction, so the limit holds across processes. Rows of windows that passed are pruned.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c4e1a7b9d352"
down_revision: str | None = "3ce7b9bc7561"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply."""
    op.create_table(
        "gateway_rate_counts",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("client_ip", sa.String(length=64), nullable=False),
        sa.Column("slice_start", sa.BigInteger(), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gateway_rate_counts")),
        sa.UniqueConstraint("client_ip", "slice_start", name="uq_gateway_rate_counts_client_ip_slice_start"),
    )
    with op.batch_alter_table("gateway_rate_counts") as batch:
        batch.create_index("ix_gateway_rate_counts_ends_at", ["ends_at"], unique=False)


def downgrade() -> None:
    """Revert."""
    with op.batch_alter_table("gateway_rate_counts") as batch:
        batch.drop_index("ix_gateway_rate_counts_ends_at")
    op.drop_table("gateway_rate_counts")
