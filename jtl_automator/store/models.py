"""SQLAlchemy 2.0 models of the state database.

Every constraint gets a deterministic name (the naming convention) so that Alembic migrations can
alter or drop it the same way on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from jtl_automator.limits import (
    EXECUTION_REF_MAX,
    FFN_TEXT_MAX,
    GATEWAY_EVENT_ID_MAX,
    GATEWAY_SOURCE_MAX,
    GATEWAY_TYPE_MAX,
    KPI_NAME_MAX,
    ORDER_NUMBER_MAX,
    PERSON_MAX,
    PLAN_KIND_MAX,
    PLAN_LINE_KEY_MAX,
    PLAN_PERIOD_MAX,
    PRICE_DECIMALS,
    PRICE_DIGITS,
    PRICE_RULE_MAX,
    PRICE_TARGET_MAX,
    REPORT_NAME_MAX,
    ROW_KEY_MAX,
    SHOP_INCIDENT_KEY_MAX,
    SHOP_INCIDENT_KIND_MAX,
    SIDE_EFFECT_KEY_MAX,
    WORKFLOW_ACTION_MAX,
    WORKFLOW_NAME_MAX,
    WORKFLOW_NODE_MAX,
    WORKFLOW_SOURCE_MAX,
    WORKFLOW_TRIGGER_KEY_MAX,
)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """Timezone-aware now; the store keeps every timestamp in UTC."""
    return datetime.now(UTC)


class Base(DeclarativeBase):
    """Declarative base with the naming convention."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: DateTime(timezone=True), dict[str, Any]: JSON}


class OAuthToken(Base):
    """Current OAuth2 token pair of one API account; refresh tokens rotate, so this row is the truth."""

    __tablename__ = "oauth_tokens"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    refresh_token: Mapped[str | None] = mapped_column(Text)
    access_token: Mapped[str | None] = mapped_column(Text)
    access_expires_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Watermark(Base):
    """High-watermark of an incremental sync job (an ISO timestamp or an opaque cursor)."""

    __tablename__ = "watermarks"

    job: Mapped[str] = mapped_column(String(200), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class SideEffect(Base):
    """Idempotency ledger: one row per side effect key (outbound, email, sheet write ...)."""

    __tablename__ = "side_effects"

    key: Mapped[str] = mapped_column(String(SIDE_EFFECT_KEY_MAX), primary_key=True)
    kind: Mapped[str] = mapped_column(String(50), index=True)
    status: Mapped[str] = mapped_column(String(20))  # claimed | done | failed
    result: Mapped[dict[str, Any] | None]
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    run_id: Mapped[str | None] = mapped_column(String(64))
    claimed_at: Mapped[datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[datetime | None]


class InboundCheck(Base):
    """One verification result of one Inbound Control row; the history answers 'missing since when'."""

    __tablename__ = "inbound_checks"
    __table_args__ = (Index("ix_inbound_checks_row_key_checked_at", "row_key", "checked_at"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    run_id: Mapped[str] = mapped_column(String(64), index=True)
    sheet: Mapped[str] = mapped_column(String(300))
    row_key: Mapped[str] = mapped_column(String(ROW_KEY_MAX))  # sku|inbound|warehouse
    sku: Mapped[str | None] = mapped_column(String(FFN_TEXT_MAX))
    inbound_ref: Mapped[str | None] = mapped_column(String(FFN_TEXT_MAX))
    units_expected: Mapped[int | None] = mapped_column(BigInteger)
    units_received: Mapped[int | None] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(30))
    note: Mapped[str | None] = mapped_column(Text)
    checked_at: Mapped[datetime] = mapped_column(default=utcnow)


#: Ledger statuses after which nothing more happens to an order: its events are history (retention), it is
#: not open (reports). ``delivered_elsewhere``: Wawi delivered every line without this project.
CLOSED_ORDER_STATUSES = ("shipped", "cancelled", "delivered_elsewhere")


class OrderLedger(Base):
    """Where each sales order is on its journey; the key is the Wawi order number."""

    __tablename__ = "order_ledger"

    order_number: Mapped[str] = mapped_column(String(ORDER_NUMBER_MAX), primary_key=True)
    wawi_order_id: Mapped[int | None] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(30), index=True)
    hold_reason: Mapped[str | None] = mapped_column(Text)
    outbound_id: Mapped[str | None] = mapped_column(String(FFN_TEXT_MAX))
    warehouse_id: Mapped[str | None] = mapped_column(String(FFN_TEXT_MAX))
    tracking: Mapped[str | None] = mapped_column(Text)
    # What the outbound was made from (address fingerprint), and the last change after it we acted on.
    sent_fingerprint: Mapped[str | None] = mapped_column(String(64))
    change_seen: Mapped[str | None] = mapped_column(String(64))
    order_date: Mapped[datetime | None] = mapped_column(index=True)  # the reports read orders by it
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class OrderLineRow(Base):
    """One item line of an order that became an FFN outbound: the replenishment's demand, the reports' sales.

    Written with the order's ``outbound_created`` record, which replaces the order's earlier lines (a rerun
    never doubles them). ``quantity`` is what the customer ordered (also when the outbound carries only
    the open rest); ``warehouse_id`` the outbound's; ``order_day`` the UTC date of the Wawi order date.
    """

    __tablename__ = "order_lines"

    order_number: Mapped[str] = mapped_column(ForeignKey("order_ledger.order_number"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    sku: Mapped[str] = mapped_column(String(FFN_TEXT_MAX))
    warehouse_id: Mapped[str] = mapped_column(String(FFN_TEXT_MAX))
    quantity: Mapped[float] = mapped_column(Float)
    order_day: Mapped[date] = mapped_column(Date, index=True)
    # The line's totals after its discount, in the order's currency (the reports' sales and margin);
    # None for lines recorded before they were kept, or where Wawi gave no price.
    net_amount: Mapped[float | None] = mapped_column(Float)
    gross_amount: Mapped[float | None] = mapped_column(Float)
    cost_amount: Mapped[float | None] = mapped_column(Float)


class OrderEvent(Base):
    """Append-only journal of one order's journey (imported, held, outbound created, shipped ...)."""

    __tablename__ = "order_events"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    order_number: Mapped[str] = mapped_column(ForeignKey("order_ledger.order_number"), index=True)
    event: Mapped[str] = mapped_column(String(50))
    detail: Mapped[dict[str, Any] | None]
    run_id: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class Lease(Base):
    """A named lease with an expiry: one run of a job at a time, even across machines."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    owner: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[datetime]
    acquired_at: Mapped[datetime] = mapped_column(default=utcnow)


class PlanRun(Base):
    """One execution of a declarative plan workflow."""

    __tablename__ = "plan_runs"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    workflow: Mapped[str] = mapped_column(String(200), index=True)
    status: Mapped[str] = mapped_column(String(20))  # pending | running | completed | failed | cancelled
    trigger: Mapped[dict[str, Any] | None]
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]


class PlanStep(Base):
    """One node of a plan workflow run, with its resolved inputs and output."""

    __tablename__ = "plan_steps"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("plan_runs.id"), index=True)
    node: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(
        String(20)
    )  # pending | running | succeeded | failed | skipped | cancelled
    inputs: Mapped[dict[str, Any] | None]
    output: Mapped[dict[str, Any] | None]
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]


class PlanRow(Base):
    """A plan: item lines a person reviews and approves, then executed once (see jtl_automator.plans).

    One plan per kind, scope and period (the unique constraint): a rerun of the job that proposes it
    finds the same row instead of making a second plan.
    """

    __tablename__ = "plans"
    __table_args__ = (UniqueConstraint("kind", "scope_hash", "period", name="uq_plans_kind_scope_period"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(PLAN_KIND_MAX))
    # sha256 of the canonical scope key: a bounded, deterministic column for the unique constraint.
    scope_hash: Mapped[str] = mapped_column(String(64))
    scope: Mapped[dict[str, Any]]
    period: Mapped[str] = mapped_column(String(PLAN_PERIOD_MAX))
    status: Mapped[str] = mapped_column(String(20), index=True)
    deadline: Mapped[datetime | None]
    created_by: Mapped[str | None] = mapped_column(String(PERSON_MAX))
    approved_by: Mapped[str | None] = mapped_column(String(PERSON_MAX))
    approved_at: Mapped[datetime | None]
    execution_started_at: Mapped[datetime | None]
    done_at: Mapped[datetime | None]
    cancelled_by: Mapped[str | None] = mapped_column(String(PERSON_MAX))
    cancelled_at: Mapped[datetime | None]
    note: Mapped[str | None] = mapped_column(Text)  # why it was cancelled, or the last failed execution
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class PlanLineRow(Base):
    """One item line of a plan, keyed by SKU and warehouse within its plan."""

    __tablename__ = "plan_lines"
    __table_args__ = (
        UniqueConstraint("plan_id", "sku", "warehouse", name="uq_plan_lines_plan_sku_warehouse"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    plan_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), ForeignKey("plans.id"), index=True
    )
    sku: Mapped[str] = mapped_column(String(PLAN_LINE_KEY_MAX))
    warehouse: Mapped[str] = mapped_column(String(PLAN_LINE_KEY_MAX))  # "" where none applies
    quantity: Mapped[int] = mapped_column(BigInteger)
    unit_price: Mapped[Decimal | None] = mapped_column(Numeric(PRICE_DIGITS, PRICE_DECIMALS))
    reason: Mapped[str | None] = mapped_column(Text)
    score: Mapped[float | None] = mapped_column(Float)
    details: Mapped[dict[str, Any] | None]  # what a kind needs beyond the common columns
    status: Mapped[str] = mapped_column(String(20))  # proposed | approved | executed
    approved_by: Mapped[str | None] = mapped_column(String(PERSON_MAX))
    approved_at: Mapped[datetime | None]
    purchase_order_number: Mapped[str | None] = mapped_column(String(EXECUTION_REF_MAX))
    inbound_id: Mapped[str | None] = mapped_column(String(EXECUTION_REF_MAX))
    execution: Mapped[dict[str, Any] | None]  # further references the execution created
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class WawiItemCacheRow(Base):
    """One Wawi item as the stock sync and the replenishment need it: SKU, stock flags, supplier rows.

    ``seen_at``: when a listing last returned the item (a full listing deletes rows it did not return);
    ``changed``: Wawi's ``Changed`` then (a different one clears ``suppliers_at``, so they are read again);
    ``suppliers``: the item's ``GET /items/{id}/suppliers`` rows (the fields the replenishment uses),
    read at ``suppliers_at`` (None: not read yet).
    """

    __tablename__ = "wawi_item_cache"

    item_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    sku: Mapped[str | None] = mapped_column(String(FFN_TEXT_MAX), index=True)
    inventory_managed: Mapped[bool] = mapped_column(Boolean)
    procurement_time: Mapped[float | None] = mapped_column(Float)
    changed: Mapped[str | None] = mapped_column(String(64))
    seen_at: Mapped[datetime]
    suppliers: Mapped[list[Any] | None] = mapped_column(JSON)
    suppliers_at: Mapped[datetime | None]


class PriceHistoryRow(Base):
    """One price written to Wawi: which item and price, before and after, why, by which run or plan.

    ``target`` is ``base`` (``ItemPriceData.SalesPriceNet``), ``<sales channel>/<customer group>`` (a
    sales-channel price) or ``special`` (a special price, valid from ``starts_at`` to ``ends_at``).
    ``source``: ``rule`` (a price rule applied it), ``plan`` (an approved price change), ``markdown``
    (an approved markdown). Prices are net, 4 decimals; ``before`` is None where none was known.
    """

    __tablename__ = "price_history"
    __table_args__ = (Index("ix_price_history_item_id_target_at", "item_id", "target", "at"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    item_id: Mapped[int] = mapped_column(BigInteger)
    sku: Mapped[str | None] = mapped_column(String(FFN_TEXT_MAX))
    target: Mapped[str] = mapped_column(String(PRICE_TARGET_MAX))
    before: Mapped[Decimal | None] = mapped_column(Numeric(PRICE_DIGITS, PRICE_DECIMALS))
    after: Mapped[Decimal] = mapped_column(Numeric(PRICE_DIGITS, PRICE_DECIMALS))
    reason: Mapped[str | None] = mapped_column(Text)
    rule: Mapped[str | None] = mapped_column(String(PRICE_RULE_MAX))
    source: Mapped[str] = mapped_column(String(20), index=True)  # rule | plan | markdown
    run_id: Mapped[str | None] = mapped_column(String(64), index=True)
    plan_id: Mapped[int | None] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), ForeignKey("plans.id"), index=True
    )
    starts_at: Mapped[datetime | None]
    ends_at: Mapped[datetime | None]
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class KpiHistoryRow(Base):
    """One figure of one report for one period: what trends and comparisons read instead of recomputing.

    ``dimension`` names a breakdown (a warehouse, a cover bucket; "" for the headline figure). ``value``
    None means the figure could not be computed, and ``missing`` says why (a source unreachable, no
    history yet): never a zero. A rerun of a period replaces that report's rows of that period only.
    """

    __tablename__ = "kpi_history"
    __table_args__ = (
        UniqueConstraint("report", "period", "kpi", "dimension", name="uq_kpi_history_report_period_kpi"),
        Index("ix_kpi_history_report_kpi_period_start", "report", "kpi", "period_start"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    report: Mapped[str] = mapped_column(String(REPORT_NAME_MAX))
    period: Mapped[str] = mapped_column(String(PLAN_PERIOD_MAX))
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    kpi: Mapped[str] = mapped_column(String(KPI_NAME_MAX))
    dimension: Mapped[str] = mapped_column(String(FFN_TEXT_MAX), default="")
    value: Mapped[float | None] = mapped_column(Float)
    missing: Mapped[str | None] = mapped_column(Text)
    run_id: Mapped[str | None] = mapped_column(String(64))
    computed_at: Mapped[datetime] = mapped_column(default=utcnow)


class GatewayEventRow(Base):
    """One event the gateway accepted: the durable outbox the drainer delivers to Prefect, in ``id`` order.

    ``(source, event_id)`` is unique: a sender's retry of an event is recognised and never stored twice.
    ``delivered_at`` None means not yet in Prefect; ``attempts``, ``next_attempt_at`` and ``last_error``
    describe failed deliveries of the oldest undelivered row (the drainer never skips past it). Rows stay
    after delivery: the workflow runner reads events by type and by id.
    """

    __tablename__ = "gateway_events"
    __table_args__ = (
        UniqueConstraint("source", "event_id", name="uq_gateway_events_source_event_id"),
        Index("ix_gateway_events_delivered_at_id", "delivered_at", "id"),
        Index("ix_gateway_events_type_id", "type", "id"),
        # Ids never come back after rows are pruned: readers keep "events since id" as their mark.
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    source: Mapped[str] = mapped_column(String(GATEWAY_SOURCE_MAX))
    event_id: Mapped[str] = mapped_column(String(GATEWAY_EVENT_ID_MAX))
    type: Mapped[str] = mapped_column(String(GATEWAY_TYPE_MAX))
    data: Mapped[dict[str, Any]]
    occurred_at: Mapped[datetime | None]
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    client_ip: Mapped[str | None] = mapped_column(String(64))
    delivered_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)


_ID = BigInteger().with_variant(Integer, "sqlite")


class WorkflowRow(Base):
    """A declarative workflow (see jtl_automator.workflows): its status and the version that runs.

    ``status`` is what the CLI set last; ``declared_status`` what the file said when it was last synced
    (a file that changes its ``status:`` moves the workflow, one that keeps it leaves the CLI's choice).
    """

    __tablename__ = "workflows"

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    name: Mapped[str] = mapped_column(String(WORKFLOW_NAME_MAX), unique=True)
    status: Mapped[str] = mapped_column(String(20), index=True)  # draft | active | paused | archived
    declared_status: Mapped[str] = mapped_column(String(20))
    current_version: Mapped[int] = mapped_column(Integer)
    source: Mapped[str | None] = mapped_column(String(WORKFLOW_SOURCE_MAX))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class WorkflowVersionRow(Base):
    """One version of a workflow's document (JSON) with its hash; runs record the version they ran."""

    __tablename__ = "workflow_versions"
    __table_args__ = (
        UniqueConstraint("workflow_id", "version", name="uq_workflow_versions_workflow_version"),
    )

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    workflow_id: Mapped[int] = mapped_column(_ID, ForeignKey("workflows.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    document: Mapped[dict[str, Any]]
    content_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WorkflowRunRow(Base):
    """One execution of a workflow for one triggering change (unique per workflow and trigger key)."""

    __tablename__ = "workflow_runs"
    __table_args__ = (
        UniqueConstraint("workflow_id", "trigger_key", name="uq_workflow_runs_workflow_trigger_key"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    workflow_id: Mapped[int] = mapped_column(_ID, ForeignKey("workflows.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    trigger_key: Mapped[str] = mapped_column(String(WORKFLOW_TRIGGER_KEY_MAX))
    trigger: Mapped[dict[str, Any] | None]  # the trigger's values the templates read
    status: Mapped[str] = mapped_column(String(20), index=True)  # pending|running|completed|failed|cancelled
    error: Mapped[str | None] = mapped_column(Text)
    flow_run_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]


class WorkflowStepRow(Base):
    """One node of a run: resolved inputs, output, log lines, error, attempts (one row per node)."""

    __tablename__ = "workflow_steps"
    __table_args__ = (UniqueConstraint("run_id", "node", name="uq_workflow_steps_run_node"),)

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("workflow_runs.id"), index=True)
    node: Mapped[str] = mapped_column(String(WORKFLOW_NODE_MAX))
    position: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(WORKFLOW_ACTION_MAX))
    status: Mapped[str] = mapped_column(String(20))  # pending|running|succeeded|failed|skipped|cancelled
    inputs: Mapped[dict[str, Any] | None]
    output: Mapped[dict[str, Any] | None]
    logs: Mapped[list[Any] | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    task_run_id: Mapped[str | None] = mapped_column(String(64))
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]


class ShopSyncIncidentRow(Base):
    """One incident of the shop sync check, from the run that first saw it until one saw it resolved.

    Kinds: a stuck order, a shop-cancelled order open in Wawi, stale stock, a drifted price.
    ``first_seen`` is when the condition began as far as the check knows ("stuck since": a stuck order's
    creation in the shop, else the first run that saw it); ``raised_at`` when it crossed its kind's
    threshold (before that it is only watched); ``cleared_at`` and ``clear_reason`` when a run observed it
    gone. ``open_key`` is ``key`` while the incident is open and None once cleared, so at most one open
    incident per kind and key exists (NULLs never collide) and a condition that comes back is a new one.
    ``alert_state``: ``none``, ``raised`` (the alert went out) or ``cleared`` (the all-clear went out too).
    """

    __tablename__ = "shop_sync_incidents"
    __table_args__ = (
        UniqueConstraint("kind", "open_key", name="uq_shop_sync_incidents_kind_open_key"),
        Index("ix_shop_sync_incidents_kind_key", "kind", "key"),
    )

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    kind: Mapped[str] = mapped_column(String(SHOP_INCIDENT_KIND_MAX))
    key: Mapped[str] = mapped_column(String(SHOP_INCIDENT_KEY_MAX))
    open_key: Mapped[str | None] = mapped_column(String(SHOP_INCIDENT_KEY_MAX))
    first_seen: Mapped[datetime]
    last_seen: Mapped[datetime]
    raised_at: Mapped[datetime | None]
    cleared_at: Mapped[datetime | None] = mapped_column(index=True)
    clear_reason: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict[str, Any] | None]
    alert_state: Mapped[str] = mapped_column(String(20), default="none")
    alerted_at: Mapped[datetime | None]
    run_id: Mapped[str | None] = mapped_column(String(64))


class ShopSyncOrderRow(Base):
    """A shop order the check follows: read once by cursor (with its cart lines), then looked up in Wawi.

    ``wawi_order_id`` is set once Wawi has a sales order with the shop's order number as its external
    number (``wawi_status``: ``open``, ``shipped`` or ``cancelled`` as last seen).
    ``state`` is the shop's ``cStatus`` as last read (``-1`` cancelled). Rows leave when Wawi has the
    order and it is older than the recheck window (the service prunes them).
    """

    __tablename__ = "shop_sync_orders"

    shop_order_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    order_no: Mapped[str] = mapped_column(String(ORDER_NUMBER_MAX), index=True)
    cart_id: Mapped[int | None] = mapped_column(BigInteger)
    state: Mapped[str | None] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(index=True)
    total: Mapped[float | None] = mapped_column(Float)
    lines: Mapped[list[Any] | None] = mapped_column(JSON)
    wawi_order_id: Mapped[int | None] = mapped_column(BigInteger)
    wawi_status: Mapped[str | None] = mapped_column(String(20))
    matched_at: Mapped[datetime | None]
    read_at: Mapped[datetime]
    checked_at: Mapped[datetime | None]


class WawiChannelPriceCacheRow(Base):
    """An item's sales-channel prices as ``GET /items/{id}/salesChannelPrices`` gave them at ``read_at``.

    Wawi has no bulk read of these; a price change moves the item's ``Changed``, so a row is good while
    ``changed`` equals the item's ``Changed`` in the latest listing (and it is younger than the reader's
    maximum age). ``prices``: the rows as the client's model dumps them (channel, group, quantity, net).
    """

    __tablename__ = "wawi_channel_price_cache"

    item_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    changed: Mapped[str | None] = mapped_column(String(64))
    prices: Mapped[list[Any]] = mapped_column(JSON)
    read_at: Mapped[datetime]


class GatewayRateCountRow(Base):
    """Requests one client IP made to the gateway in one slice of the rate-limit window.

    Every gateway process on this database counts here, so the limit per IP holds across processes
    (jtl_automator.gateway.ratelimit adds the slices the window overlaps). ``slice_start`` is in unix
    milliseconds; ``ends_at`` is when the slice ended, for pruning: a row whose window has passed counts
    for nothing, and the gateway, ``gateway prune`` and housekeeping delete it.
    """

    __tablename__ = "gateway_rate_counts"
    __table_args__ = (
        UniqueConstraint("client_ip", "slice_start", name="uq_gateway_rate_counts_client_ip_slice_start"),
        Index("ix_gateway_rate_counts_ends_at", "ends_at"),
    )

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    client_ip: Mapped[str] = mapped_column(String(64))
    slice_start: Mapped[int] = mapped_column(BigInteger)
    ends_at: Mapped[datetime]
    requests: Mapped[int] = mapped_column(Integer)
