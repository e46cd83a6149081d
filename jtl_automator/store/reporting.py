"""The reports' reads of the state database: each one SQL query that aggregates where the data lives.

Every query returns a pandas frame with the dtypes the KPI transforms' schemas expect
(``jtl_automator.transforms.kpis``). Periods arrive as UTC instants (Berlin midnights converted), so
"the orders of a week" is a range on the ledger's ``order_date`` (indexed), on SQLite and PostgreSQL alike.
Timestamps are read as the driver gives them (SQLite: ISO text) and parsed once per column.

Returns are not recorded here: they are read from Wawi at report time (``services/reporting/reads.py``),
and the two queries below give what they are set against: the units shipped in the period, and which
Wawi orders the ledger knows as shipped.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import pandas as pd
from sqlalchemy import Select, String, and_, case, func, literal, select, type_coerce

from jtl_automator.store.models import (
    CLOSED_ORDER_STATUSES,
    InboundCheck,
    OrderEvent,
    OrderLedger,
    OrderLineRow,
    PlanLineRow,
    PlanRow,
)
from jtl_automator.store.store import StateStore

#: A closed order that was never shipped (no fulfilment time).
CANCELLED = "cancelled"
#: Journal events the fulfilment times are measured between.
OUTBOUND_CREATED = "outbound_created"
SHIPPED = "shipped"


def utc_times(values: pd.Series | Sequence[Any]) -> pd.Series:
    """Timestamps as the driver gave them (ISO text or datetimes; naive is UTC) as ``datetime64[us, UTC]``."""
    series = pd.Series(values, dtype=object) if not isinstance(values, pd.Series) else values
    if series.empty:
        return pd.Series([], dtype="datetime64[us, UTC]")
    return pd.to_datetime(series, utc=True, format="ISO8601").astype("datetime64[us, UTC]")


def _days(values: pd.Series) -> pd.Series:
    """Dates as the driver gave them (ISO text or ``date``) as ``datetime64[us]`` midnights."""
    if values.empty:
        return pd.Series([], dtype="datetime64[us]")
    return pd.to_datetime(values.astype(str), format="%Y-%m-%d").astype("datetime64[us]")


def _frame(store: StateStore, stmt: Select[Any] | Any, columns: Sequence[str]) -> pd.DataFrame:
    with store.reading() as conn:
        rows = [tuple(row) for row in conn.execute(stmt)]
    return pd.DataFrame.from_records(rows, columns=list(columns))


def _text(column: Any) -> Any:
    """A timestamp column as the driver gives it: no per-row conversion, parsed by column afterwards."""
    return type_coerce(column, String)


def _float(frame: pd.DataFrame, names: Sequence[str]) -> None:
    for name in names:
        frame[name] = pd.to_numeric(frame[name], errors="coerce").astype("float64")


def _int(frame: pd.DataFrame, names: Sequence[str]) -> None:
    for name in names:
        frame[name] = pd.to_numeric(frame[name]).fillna(0).astype("int64")


def _strings(frame: pd.DataFrame, names: Sequence[str]) -> None:
    for name in names:
        frame[name] = frame[name].astype("string")


def orders_in(store: StateStore, start: datetime, end: datetime) -> pd.DataFrame:
    """Every ledger order placed in ``[start, end)`` with its status and its recorded lines' sums.

    One row per order: ``lines`` (recorded item lines), ``units``, ``priced_lines``/``net``/``gross`` (lines
    with amounts and their sums), ``costed_lines``/``cost``. Orders that never became an outbound (held,
    failed, only imported) have no lines; sums over no line are NaN.
    """
    line = OrderLineRow
    stmt = (
        select(
            OrderLedger.order_number,
            _text(OrderLedger.order_date),
            OrderLedger.status,
            OrderLedger.hold_reason,
            OrderLedger.warehouse_id,
            func.count(line.position),
            func.sum(line.quantity),
            func.count(line.net_amount),
            func.sum(line.net_amount),
            func.sum(line.gross_amount),
            func.count(line.cost_amount),
            func.sum(line.cost_amount),
        )
        .select_from(OrderLedger)
        .outerjoin(line, line.order_number == OrderLedger.order_number)
        .where(OrderLedger.order_date >= start, OrderLedger.order_date < end)
        .group_by(
            OrderLedger.order_number,
            OrderLedger.order_date,
            OrderLedger.status,
            OrderLedger.hold_reason,
            OrderLedger.warehouse_id,
        )
    )
    columns = (
        "order_number",
        "order_date",
        "status",
        "hold_reason",
        "warehouse_id",
        "lines",
        "units",
        "priced_lines",
        "net",
        "gross",
        "costed_lines",
        "cost",
    )
    frame = _frame(store, stmt, columns)
    frame["order_date"] = utc_times(frame["order_date"])
    _strings(frame, ("order_number", "status", "hold_reason", "warehouse_id"))
    _int(frame, ("lines", "priced_lines", "costed_lines"))
    _float(frame, ("units", "net", "gross", "cost"))
    return frame


def sku_sales(store: StateStore, start: datetime, end: datetime) -> pd.DataFrame:
    """Per SKU the sales of the orders placed in ``[start, end)`` (cancelled orders left out).

    ``costed_net`` is the net revenue of the lines that have a cost: the margin is ``costed_net - cost``.
    """
    line = OrderLineRow
    stmt = (
        select(
            line.sku,
            func.count(func.distinct(line.order_number)),
            func.count(line.position),
            func.sum(line.quantity),
            func.count(line.net_amount),
            func.sum(line.net_amount),
            func.sum(line.gross_amount),
            func.count(line.cost_amount),
            func.sum(case((line.cost_amount.is_not(None), line.net_amount), else_=None)),
            func.sum(line.cost_amount),
        )
        .select_from(OrderLedger)
        .join(line, line.order_number == OrderLedger.order_number)
        .where(
            OrderLedger.order_date >= start,
            OrderLedger.order_date < end,
            OrderLedger.status != CANCELLED,
        )
        .group_by(line.sku)
    )
    columns = (
        "sku",
        "orders",
        "lines",
        "units",
        "priced_lines",
        "net",
        "gross",
        "costed_lines",
        "costed_net",
        "cost",
    )
    frame = _frame(store, stmt, columns)
    _strings(frame, ("sku",))
    _int(frame, ("orders", "lines", "priced_lines", "costed_lines"))
    _float(frame, ("units", "net", "gross", "costed_net", "cost"))
    return frame


def period_totals(store: StateStore, start: datetime, end: datetime) -> dict[str, float]:
    """The sales sums of the orders placed in ``[start, end)`` that have recorded lines (not cancelled).

    ``orders``, ``units``, ``lines``, ``priced_lines``, ``net``, ``gross``; also ``ledger_orders`` (every
    order placed then, lines or not) and ``outbound_orders_without_lines``.
    """
    line = OrderLineRow
    per_order = (
        select(
            OrderLedger.order_number.label("n"),
            OrderLedger.status.label("status"),
            func.count(line.position).label("lines"),
            func.sum(line.quantity).label("units"),
            func.count(line.net_amount).label("priced"),
            func.sum(line.net_amount).label("net"),
            func.sum(line.gross_amount).label("gross"),
        )
        .select_from(OrderLedger)
        .outerjoin(line, line.order_number == OrderLedger.order_number)
        .where(OrderLedger.order_date >= start, OrderLedger.order_date < end)
        .group_by(OrderLedger.order_number, OrderLedger.status)
        .subquery()
    )
    sold = and_(per_order.c.lines > 0, per_order.c.status != CANCELLED)
    outbound = per_order.c.status.in_((OUTBOUND_CREATED, SHIPPED))
    stmt = select(
        func.count(),
        func.sum(case((sold, 1), else_=0)),
        func.sum(case((sold, per_order.c.units), else_=0)),
        func.sum(case((sold, per_order.c.lines), else_=0)),
        func.sum(case((sold, per_order.c.priced), else_=0)),
        func.sum(case((sold, per_order.c.net), else_=None)),
        func.sum(case((sold, per_order.c.gross), else_=None)),
        func.sum(case((and_(outbound, per_order.c.lines == 0), 1), else_=0)),
    )
    with store.reading() as conn:
        row = conn.execute(stmt).one()
    names = ("ledger_orders", "orders", "units", "lines", "priced_lines", "net", "gross")
    result = {name: float(value or 0) for name, value in zip(names, row[:7], strict=True)}
    result["outbound_orders_without_lines"] = float(row[7] or 0)
    for money, value in (("net", row[5]), ("gross", row[6])):
        result[money] = float("nan") if value is None else float(value)
    return result


def first_order_date(store: StateStore) -> datetime | None:
    """When the oldest order in the ledger was placed (None: the ledger is empty)."""
    with store.reading() as conn:
        value = conn.execute(select(_text(func.min(OrderLedger.order_date)))).scalar()
    return None if value is None else utc_times([value]).iloc[0].to_pydatetime()


def first_line_day(store: StateStore) -> date | None:
    """The earliest ``order_day`` of a recorded order line (None: none recorded)."""
    with store.reading() as conn:
        value = conn.execute(select(func.min(OrderLineRow.order_day))).scalar()
    return None if value is None else date.fromisoformat(str(value))


def demand(store: StateStore, first_day: date, cover_from: date, last_day: date) -> pd.DataFrame:
    """Per SKU and warehouse: units ordered from ``cover_from`` to ``last_day``, and the last day with a sale.

    Only lines with ``order_day`` in ``[first_day, last_day]`` are read (the dead-stock window), lines of
    cancelled orders are left out. ``order_day`` is the order's UTC day, as the replenishment counts it.
    """
    line = OrderLineRow
    cancelled = select(OrderLedger.order_number).where(OrderLedger.status == CANCELLED)
    stmt = (
        select(
            line.sku,
            line.warehouse_id,
            func.sum(case((line.order_day >= cover_from, line.quantity), else_=literal(0.0))),
            func.max(line.order_day),
        )
        .where(
            line.order_day >= first_day,
            line.order_day <= last_day,
            line.order_number.not_in(cancelled),
        )
        .group_by(line.sku, line.warehouse_id)
    )
    frame = _frame(store, stmt, ("sku", "warehouse_id", "units", "last_sale"))
    _strings(frame, ("sku", "warehouse_id"))
    _float(frame, ("units",))
    frame["last_sale"] = _days(frame["last_sale"])
    return frame


#: Journal entries that mean an order did not go through first time.
TROUBLE_EVENTS = ("held", "failed", "duplicate_held")


def troubled_orders(store: StateStore, start: datetime, end: datetime) -> pd.DataFrame:
    """Order numbers placed in ``[start, end)`` with a ``held`` or ``failed`` journal entry (ever)."""
    stmt = (
        select(OrderEvent.order_number)
        .join(OrderLedger, OrderLedger.order_number == OrderEvent.order_number)
        .where(
            OrderLedger.order_date >= start,
            OrderLedger.order_date < end,
            OrderEvent.event.in_(TROUBLE_EVENTS),
        )
        .distinct()
    )
    frame = _frame(store, stmt, ("order_number",))
    _strings(frame, ("order_number",))
    return frame


def fulfilment_events(store: StateStore, start: datetime, end: datetime) -> pd.DataFrame:
    """Orders whose outbound was created or that shipped in ``[start, end)``, with both moments.

    One row per order: ``order_date``, ``warehouse_id``, ``created_at`` (first ``outbound_created``
    journal entry), ``shipped_at`` (first ``shipped``); either may lie outside the window.
    """
    event = OrderEvent
    touched = (
        select(event.order_number)
        .where(event.event.in_((OUTBOUND_CREATED, SHIPPED)), event.at >= start, event.at < end)
        .distinct()
    )
    created = func.min(case((event.event == OUTBOUND_CREATED, event.at), else_=None))
    shipped = func.min(case((event.event == SHIPPED, event.at), else_=None))
    stmt = (
        select(
            OrderLedger.order_number,
            OrderLedger.warehouse_id,
            _text(OrderLedger.order_date),
            _text(created),
            _text(shipped),
        )
        .select_from(OrderLedger)
        .join(event, event.order_number == OrderLedger.order_number)
        .where(
            OrderLedger.order_number.in_(touched),
            event.event.in_((OUTBOUND_CREATED, SHIPPED)),
        )
        .group_by(OrderLedger.order_number, OrderLedger.warehouse_id, OrderLedger.order_date)
    )
    frame = _frame(store, stmt, ("order_number", "warehouse_id", "order_date", "created_at", "shipped_at"))
    _strings(frame, ("order_number", "warehouse_id"))
    for name in ("order_date", "created_at", "shipped_at"):
        frame[name] = utc_times(frame[name])
    return frame


def _first_shipped() -> Any:
    """Each order's first ``shipped`` journal entry (when order processing saw it shipped)."""
    event = OrderEvent
    return (
        select(event.order_number, func.min(event.at).label("at"))
        .where(event.event == SHIPPED)
        .group_by(event.order_number)
        .subquery()
    )


def shipped_units(store: StateStore, start: datetime, end: datetime) -> pd.DataFrame:
    """Per SKU the units of the orders whose first ``shipped`` journal entry falls in ``[start, end)``.

    ``units`` are the recorded lines' ordered quantities; an order shipped without recorded lines adds
    nothing (:func:`shipped_without_lines` counts those for the report's note).
    """
    first = _first_shipped()
    line = OrderLineRow
    stmt = (
        select(line.sku, func.count(func.distinct(line.order_number)), func.sum(line.quantity))
        .select_from(first)
        .join(line, line.order_number == first.c.order_number)
        .where(first.c.at >= start, first.c.at < end)
        .group_by(line.sku)
    )
    frame = _frame(store, stmt, ("sku", "orders", "units"))
    _strings(frame, ("sku",))
    _int(frame, ("orders",))
    _float(frame, ("units",))
    return frame


def shipped_without_lines(store: StateStore, start: datetime, end: datetime) -> int:
    """Orders first shipped in ``[start, end)`` without recorded lines (outbounds older than the lines)."""
    first = _first_shipped()
    has_lines = select(OrderLineRow.position).where(OrderLineRow.order_number == first.c.order_number)
    stmt = (
        select(func.count())
        .select_from(first)
        .where(first.c.at >= start, first.c.at < end, ~has_lines.exists())
    )
    with store.reading() as conn:
        return int(conn.execute(stmt).scalar_one() or 0)


def shipped_wawi_orders(store: StateStore, wawi_order_ids: Sequence[int]) -> dict[int, str]:
    """Of ``wawi_order_ids``, the ones with a ``shipped`` journal entry in the ledger: id -> number."""
    found: dict[int, str] = {}
    ids = sorted({int(i) for i in wawi_order_ids})
    shipped = select(OrderEvent.order_number).where(OrderEvent.event == SHIPPED)
    with store.reading() as conn:
        for offset in range(0, len(ids), 500):  # bounded IN lists on either database
            chunk = ids[offset : offset + 500]
            stmt = select(OrderLedger.wawi_order_id, OrderLedger.order_number).where(
                OrderLedger.wawi_order_id.in_(chunk), OrderLedger.order_number.in_(shipped)
            )
            for wawi_id, number in conn.execute(stmt).all():
                if wawi_id is not None:
                    found[int(wawi_id)] = str(number)
    return found


def open_orders(store: StateStore) -> pd.DataFrame:
    """Every order not shipped or cancelled, as it stands now (status, hold reason, warehouse, dates)."""
    stmt = select(
        OrderLedger.order_number,
        OrderLedger.status,
        OrderLedger.hold_reason,
        OrderLedger.warehouse_id,
        _text(OrderLedger.order_date),
        _text(OrderLedger.updated_at),
    ).where(OrderLedger.status.not_in(CLOSED_ORDER_STATUSES))
    columns = ("order_number", "status", "hold_reason", "warehouse_id", "order_date", "updated_at")
    frame = _frame(store, stmt, columns)
    _strings(frame, ("order_number", "status", "hold_reason", "warehouse_id"))
    for name in ("order_date", "updated_at"):
        frame[name] = utc_times(frame[name])
    return frame


def inbound_checks(store: StateStore, since: datetime) -> pd.DataFrame:
    """The inbound verification's results checked since ``since`` (every sheet), oldest first."""
    check = InboundCheck
    stmt = select(
        check.id,
        check.run_id,
        check.sheet,
        check.row_key,
        check.sku,
        check.inbound_ref,
        check.units_expected,
        check.units_received,
        check.status,
        check.note,
        _text(check.checked_at),
    ).where(check.checked_at >= since)
    columns = (
        "id",
        "run_id",
        "sheet",
        "row_key",
        "sku",
        "inbound_ref",
        "units_expected",
        "units_received",
        "status",
        "note",
        "checked_at",
    )
    frame = _frame(store, stmt, columns)
    _strings(frame, ("run_id", "sheet", "row_key", "sku", "inbound_ref", "status", "note"))
    _int(frame, ("id",))
    _float(frame, ("units_expected", "units_received"))
    frame["checked_at"] = utc_times(frame["checked_at"])
    return frame.sort_values(["checked_at", "id"], kind="stable").reset_index(drop=True)


def restock_lines(store: StateStore, period: str) -> pd.DataFrame:
    """The lines of the restock plans of an ISO week (``2026-W48`` and its follow-ups ``2026-W48/2`` …)."""
    plan, pl = PlanRow, PlanLineRow
    stmt = (
        select(
            plan.id,
            plan.period,
            plan.status,
            pl.sku,
            pl.warehouse,
            pl.quantity,
            pl.status,
            pl.details,
        )
        .select_from(plan)
        .join(pl, pl.plan_id == plan.id)
        .where(plan.kind == "restock", (plan.period == period) | plan.period.like(f"{period}/%"))
    )
    rows = []
    with store.reading() as conn:
        for plan_id, plan_period, plan_status, sku, warehouse, quantity, status, details in conn.execute(
            stmt
        ):
            info = details or {}
            cover = info.get("cover_days")
            rows.append(
                (
                    plan_id,
                    plan_period,
                    plan_status,
                    sku,
                    warehouse,
                    quantity,
                    status,
                    bool(info.get("low_stock")),
                    float("nan") if cover is None else float(cover),
                )
            )
    columns = (
        "plan_id",
        "plan_period",
        "plan_status",
        "sku",
        "warehouse_id",
        "quantity",
        "line_status",
        "low_stock",
        "cover_days",
    )
    frame = pd.DataFrame.from_records(rows, columns=list(columns))
    _strings(frame, ("plan_period", "plan_status", "sku", "warehouse_id", "line_status"))
    _int(frame, ("plan_id", "quantity"))
    frame["low_stock"] = frame["low_stock"].astype(bool)
    _float(frame, ("cover_days",))
    return frame
