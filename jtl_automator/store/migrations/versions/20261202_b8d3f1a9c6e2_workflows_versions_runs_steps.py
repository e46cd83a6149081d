"""workflows: definitions with their versions, and the runs and steps of their executions

Revision ID: b8d3f1a9c6e2
Revises: b7d3e5a1c2f4
Create Date: 2026-12-01 09:00:00

Issue 14 (declarative workflows). ``workflows`` holds each workflow's status and current version;
``workflow_versions`` every version's document as JSON with its hash (a change to a workflow that has
left draft makes a new version; an unchanged reload makes none). ``workflow_runs``: one execution per
workflow and trigger key (uq_workflow_runs_workflow_trigger_key: once per entity per change, however
often the change is seen), with the version it ran and its Prefect flow run; ``workflow_steps``: one
row per node of a run with its resolved inputs, output, logs and attempts. Lengths follow
jtl_automator.limits. The reserved plan_runs/plan_steps of the first migration stay as they are.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b8d3f1a9c6e2"
down_revision: str | None = "b7d3e5a1c2f4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Apply."""
    op.create_table(
        "workflows",
        sa.Column("id", _ID, nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("declared_status", sa.String(length=20), nullable=False),
        sa.Column("current_version", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=1000), nullable=True),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.Column("updated_at", _WHEN, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workflows")),
        sa.UniqueConstraint("name", name=op.f("uq_workflows_name")),
    )
    with op.batch_alter_table("workflows") as batch:
        batch.create_index(batch.f("ix_workflows_status"), ["status"], unique=False)

    op.create_table(
        "workflow_versions",
        sa.Column("id", _ID, nullable=False),
        sa.Column("workflow_id", _ID, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.ForeignKeyConstraint(
            ["workflow_id"], ["workflows.id"], name=op.f("fk_workflow_versions_workflow_id_workflows")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workflow_versions")),
        sa.UniqueConstraint("workflow_id", "version", name="uq_workflow_versions_workflow_version"),
    )
    with op.batch_alter_table("workflow_versions") as batch:
        batch.create_index(batch.f("ix_workflow_versions_workflow_id"), ["workflow_id"], unique=False)

    op.create_table(
        "workflow_runs",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("workflow_id", _ID, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("trigger_key", sa.String(length=300), nullable=False),
        sa.Column("trigger", sa.JSON(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("flow_run_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.Column("started_at", _WHEN, nullable=True),
        sa.Column("finished_at", _WHEN, nullable=True),
        sa.ForeignKeyConstraint(
            ["workflow_id"], ["workflows.id"], name=op.f("fk_workflow_runs_workflow_id_workflows")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workflow_runs")),
        sa.UniqueConstraint("workflow_id", "trigger_key", name="uq_workflow_runs_workflow_trigger_key"),
    )
    with op.batch_alter_table("workflow_runs") as batch:
        batch.create_index(batch.f("ix_workflow_runs_workflow_id"), ["workflow_id"], unique=False)
        batch.create_index(batch.f("ix_workflow_runs_status"), ["status"], unique=False)
        batch.create_index(batch.f("ix_workflow_runs_created_at"), ["created_at"], unique=False)

    op.create_table(
        "workflow_steps",
        sa.Column("id", _ID, nullable=False),
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.Column("node", sa.String(length=64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("inputs", sa.JSON(), nullable=True),
        sa.Column("output", sa.JSON(), nullable=True),
        sa.Column("logs", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("task_run_id", sa.String(length=64), nullable=True),
        sa.Column("started_at", _WHEN, nullable=True),
        sa.Column("finished_at", _WHEN, nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"], ["workflow_runs.id"], name=op.f("fk_workflow_steps_run_id_workflow_runs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workflow_steps")),
        sa.UniqueConstraint("run_id", "node", name="uq_workflow_steps_run_node"),
    )
    with op.batch_alter_table("workflow_steps") as batch:
        batch.create_index(batch.f("ix_workflow_steps_run_id"), ["run_id"], unique=False)


def downgrade() -> None:
    """Revert."""
    with op.batch_alter_table("workflow_steps") as batch:
        batch.drop_index(batch.f("ix_workflow_steps_run_id"))
    op.drop_table("workflow_steps")
    with op.batch_alter_table("workflow_runs") as batch:
        batch.drop_index(batch.f("ix_workflow_runs_created_at"))
        batch.drop_index(batch.f("ix_workflow_runs_status"))
        batch.drop_index(batch.f("ix_workflow_runs_workflow_id"))
    op.drop_table("workflow_runs")
    with op.batch_alter_table("workflow_versions") as batch:
        batch.drop_index(batch.f("ix_workflow_versions_workflow_id"))
    op.drop_table("workflow_versions")
    with op.batch_alter_table("workflows") as batch:
        batch.drop_index(batch.f("ix_workflows_status"))
    op.drop_table("workflows")
