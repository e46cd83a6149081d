"""The building blocks the report modules compose: each adds its figures, tables and charts to a report.

A section reads the datasets it needs from :class:`ReportData`; where one is missing it adds the figure
or table *with the reason* instead (``Kpi.missing``, ``Table.missing``), never a zero. The figures come
from the pure transforms in ``jtl_automator.transforms.kpis``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta

import pandas as pd

from jtl_automator.reports.data import (
    DEMAND,
    FAILED_RUNS,
    FULFILMENT,
    INBOUND_CHECKS,
    ITEMS,
    OPEN_ORDERS,
    ORDERS,
    PRICE_CHANGES,
    RESTOCK,
    RETURNS,
    SHIPPED,
    SKU_SALES,
    STOCK,
    TROUBLED,
    ReportData,
    ReportParams,
)
from jtl_automator.reports.model import (
    Chart,
    Column,
    Comparison,
    Kpi,
    Report,
    Table,
    Target,
    Unit,
    breakdown,
    missing_table,
)
from jtl_automator.reports.periods import Period, berlin_day
from jtl_automator.transforms import kpis as k

# --------------------------------------------------------------------------------------------- helpers


def comparison(
    data: ReportData, key: str, period: Period, fallback: float | None, why: str | None
) -> Comparison:
    """``key`` of an earlier ``period``: the KPI history's, else ``fallback`` (computed), else why not."""
    stored = data.stored(key, period.label)
    if stored is not None and stored.value is not None:
        return Comparison(period.label, stored.value)
    if fallback is not None:
        return Comparison(period.label, fallback)
    if stored is not None:
        return Comparison(period.label, None, stored.missing or "not computed then")
    return Comparison(period.label, None, why or "no history for this period yet")


def kpi(
    data: ReportData,
    key: str,
    label: str,
    unit: Unit,
    value: float | None,
    *,
    missing: str | None = None,
    fallbacks: dict[str, dict[str, float | None]] | None = None,
    target: Target | None = None,
    target_on_change: bool = False,
    compare: bool = True,
) -> Kpi:
    """A headline figure with its previous-period and last-year comparisons (history first, then fallback)."""
    if value is not None and not math.isfinite(value):
        value = None
    previous = last_year = None
    if compare:
        fallbacks = fallbacks or {}
        prev_p, year_p = data.period.previous(), data.period.same_period_last_year()
        prev = fallbacks.get("previous", {})
        year = fallbacks.get("last_year", {})
        previous = comparison(data, key, prev_p, prev.get(key), data.facts.get("previous_missing"))
        last_year = comparison(data, key, year_p, year.get(key), data.facts.get("last_year_missing"))
    return Kpi(
        key,
        label,
        unit,
        value,
        missing=missing if value is None else None,
        previous=previous,
        last_year=last_year,
        target=target,
        target_on_change=target_on_change,
    )


def is_current(data: ReportData) -> bool:
    """Whether the run is the period's own (on the day after it ends, or during it): snapshots apply."""
    return berlin_day(data.as_of) <= data.period.end + timedelta(days=1)


def snapshot_missing(data: ReportData) -> str:
    """Why a snapshot (holds, backlog, stock-outs …) is not shown for a period run later."""
    day = (data.period.end + timedelta(days=1)).isoformat()
    return f"a snapshot of the moment the report runs: only the run of {day} shows it for {data.period}"


def _limit(frame: pd.DataFrame, rows: int) -> tuple[pd.DataFrame, str | None]:
    if len(frame) <= rows:
        return frame, None
    return frame.head(rows), f"the first {rows:,} of {len(frame):,} rows"


def trend_table(
    data: ReportData, report: Report, key: str, title: str, columns: Sequence[Column], periods: int
) -> Table:
    """The last ``periods`` periods from the KPI history and this one from ``report``, oldest first.

    A period the history does not hold a figure for shows an empty cell (not a zero).
    """
    labels = []
    cursor = data.period
    for _ in range(periods):
        cursor = cursor.previous()
        labels.append(cursor.label)
    labels.reverse()
    rows = []
    for label in labels:
        row: dict[str, object] = {"period": label}
        for column in columns:
            stored = data.stored(column.key, label)
            row[column.key] = stored.value if stored is not None else None
        rows.append(row)
    current: dict[str, object] = {"period": data.period.label}
    for column in columns:
        found = next((x for x in report.kpis if x.key == column.key), None)
        current[column.key] = found.value if found is not None else None
    rows.append(current)
    frame = pd.DataFrame(rows, columns=["period", *(c.key for c in columns)])
    for column in columns:
        frame[column.key] = pd.to_numeric(frame[column.key], errors="coerce").astype("float64")
    known = sum(1 for label in labels if any(data.stored(c.key, label) for c in columns))
    note = (
        f"{known} of {periods} earlier periods are in the KPI history; empty cells were not computed then"
        if known < periods
        else None
    )
    return Table(key, title, (Column("period", "Period", "text", 10), *columns), frame, note=note)


# --------------------------------------------------------------------------------------------- sales

SALES_DAY_COLUMNS = (
    Column("day", "Day", "date"),
    Column("orders", "Orders", "count"),
    Column("units", "Units", "count"),
    Column("net", "Revenue net", "eur"),
    Column("gross", "Revenue gross", "eur"),
    Column("aov_net", "AOV net", "eur"),
)
SALES_KPIS = ("revenue_net", "revenue_gross", "orders", "aov_net", "units")


def _coverage(data: ReportData) -> str | None:
    """Why the period's sales are missing altogether (ledger empty or starting after it), else None."""
    first: datetime | None = data.facts.get("first_order_date")
    end = data.period.utc_bounds()[1]
    if first is None:
        return "no order recorded yet: the order ledger is empty"
    if first >= end:
        return f"the order ledger starts on {berlin_day(first).isoformat()}, after this period"
    return None


def add_sales(report: Report, data: ReportData, params: ReportParams) -> None:
    """Revenue net and gross, orders, AOV, units (with comparisons), the period's days and their chart."""
    orders = data.frame(ORDERS)
    why = data.why(ORDERS) if orders is None else _coverage(data)
    fallbacks = data.facts.get("comparison_totals") or {}
    if orders is None or why is not None:
        for key, label, unit in (
            ("revenue_net", "Revenue net", "eur"),
            ("revenue_gross", "Revenue gross", "eur"),
            ("orders", "Orders", "count"),
            ("aov_net", "Average order value (net)", "eur"),
            ("units", "Units", "count"),
        ):
            report.kpis.append(kpi(data, key, label, unit, None, missing=why, fallbacks=fallbacks))  # type: ignore[arg-type]
        report.tables.append(missing_table("sales_by_day", "Sales by day", SALES_DAY_COLUMNS, why or ""))
        return
    first: datetime = data.facts["first_order_date"]
    if first > data.period.utc_bounds()[0]:
        report.notes.append(
            f"The order ledger starts on {berlin_day(first).isoformat()}: orders placed earlier in "
            f"{data.period} are not in the sales figures."
        )
    totals = k.sales_totals(orders)
    report.notes.extend(totals.notes)
    no_amounts = "the period's order lines carry no amounts (recorded before amounts were kept)"
    target = params.targets.revenue_change
    report.kpis += [
        kpi(
            data,
            "revenue_net",
            "Revenue net",
            "eur",
            totals.net,
            missing=no_amounts,
            fallbacks=fallbacks,
            target=target,
            target_on_change=True,
        ),
        kpi(
            data,
            "revenue_gross",
            "Revenue gross",
            "eur",
            totals.gross,
            missing=no_amounts,
            fallbacks=fallbacks,
        ),
        kpi(data, "orders", "Orders", "count", float(totals.orders), fallbacks=fallbacks),
        kpi(
            data,
            "aov_net",
            "Average order value (net)",
            "eur",
            totals.aov_net,
            missing=no_amounts if totals.net is None else "no order in the period",
            fallbacks=fallbacks,
        ),
        kpi(data, "units", "Units", "count", totals.units, fallbacks=fallbacks),
    ]
    days = k.daily_sales(orders, data.period.days)
    scope = "orders that became FFN outbounds through order processing (others are not in the ledger)"
    report.tables.append(Table("sales_by_day", "Sales by day", SALES_DAY_COLUMNS, days, note=scope))
    report.charts.append(
        Chart(
            "revenue_and_orders",
            "Revenue and orders per day",
            "line",
            "sales_by_day",
            "day",
            ("net", "orders"),
            secondary=("orders",),
            y_title="Revenue net (EUR)",
            y2_title="Orders",
            picture=True,
        )
    )


SKU_COLUMNS = (
    Column("sku", "SKU", "text", 18),
    Column("name", "Name", "text", 32),
    Column("category", "Category", "text", 18),
    Column("units", "Units", "count"),
    Column("net", "Revenue net", "eur"),
    Column("margin", "Margin", "eur"),
    Column("margin_pct", "Margin %", "pct"),
)
CATEGORY_COLUMNS = (
    Column("category", "Category", "text", 24),
    Column("skus", "SKUs sold", "count"),
    Column("units", "Units", "count"),
    Column("net", "Revenue net", "eur"),
    Column("share", "Share of revenue", "pct"),
    Column("margin", "Margin", "eur"),
)


def add_skus(report: Report, data: ReportData, params: ReportParams) -> None:
    """Margin (with comparisons), top and bottom SKUs by revenue and by margin, the category mix."""
    sales, items = data.frame(SKU_SALES), data.frame(ITEMS)
    why = data.why(SKU_SALES) if sales is None else _coverage(data)
    n = params.top_n
    lists = (
        ("top_revenue", f"Top {n} SKUs by revenue"),
        ("bottom_revenue", f"Bottom {n} SKUs by revenue"),
        ("top_margin", f"Top {n} SKUs by margin"),
        ("bottom_margin", f"Bottom {n} SKUs by margin"),
    )
    if sales is None or why is not None:
        report.kpis.append(kpi(data, "margin", "Margin (net)", "eur", None, missing=why))
        report.kpis.append(kpi(data, "margin_pct", "Margin %", "pct", None, missing=why))
        report.tables += [missing_table(key, title, SKU_COLUMNS, why or "") for key, title in lists]
        report.tables.append(missing_table("category_mix", "Category mix", CATEGORY_COLUMNS, why or ""))
        return
    if items is None:
        report.notes.append(f"SKU names and categories are missing: {data.why(ITEMS)}")
    performance = k.sku_performance(sales, items)
    costed = performance[performance["costed_lines"] > 0]
    margin = float((costed["costed_net"] - costed["cost"]).sum()) if len(costed) else None
    costed_net = float(costed["costed_net"].sum()) if len(costed) else 0.0
    margin_pct = margin / costed_net if margin is not None and costed_net else None
    uncosted = int((performance["lines"] - performance["costed_lines"]).sum())
    no_cost = "no order line of the period has a purchase price"
    if margin is not None and uncosted:
        report.notes.append(f"{uncosted} order lines have no purchase price: the margin counts the others")
    report.kpis.append(kpi(data, "margin", "Margin (net)", "eur", margin, missing=no_cost))
    report.kpis.append(
        kpi(
            data,
            "margin_pct",
            "Margin %",
            "pct",
            margin_pct,
            missing=no_cost,
            target=params.targets.margin_pct,
        )
    )
    targets = {"margin_pct": params.targets.margin_pct}
    top, bottom = k.top_bottom(performance, "net", n)
    report.tables.append(Table("top_revenue", lists[0][1], SKU_COLUMNS, top, targets))
    report.tables.append(Table("bottom_revenue", lists[1][1], SKU_COLUMNS, bottom, targets))
    if margin is None:
        report.tables += [missing_table(key, title, SKU_COLUMNS, no_cost) for key, title in lists[2:]]
    else:
        top_m, bottom_m = k.top_bottom(performance, "margin", n)
        report.tables.append(Table("top_margin", lists[2][1], SKU_COLUMNS, top_m, targets))
        report.tables.append(Table("bottom_margin", lists[3][1], SKU_COLUMNS, bottom_m, targets))
    report.charts.append(
        Chart(
            "top_skus",
            f"Top {n} SKUs by revenue (net)",
            "bar",
            "top_revenue",
            "sku",
            ("net",),
            y_title="Revenue net (EUR)",
            picture=True,
        )
    )
    if items is None:
        report.tables.append(missing_table("category_mix", "Category mix", CATEGORY_COLUMNS, data.why(ITEMS)))
    else:
        mix = k.category_mix(performance)
        report.tables.append(Table("category_mix", "Category mix", CATEGORY_COLUMNS, mix))
        report.history += breakdown("revenue_net_by_category", mix, "category", "net")


RETURN_REASON_COLUMNS = (
    Column("reason", "Reason", "text", 32),
    Column("returns", "Returns", "count"),
    Column("units", "Units returned", "count"),
    Column("share", "Share of returned units", "pct"),
)
RETURN_SKU_COLUMNS = (
    Column("sku", "SKU", "text", 18),
    Column("name", "Name", "text", 32),
    Column("returned", "Units returned", "count"),
    Column("shipped", "Units shipped", "count"),
    Column("rate", "Return rate", "pct"),
)


def _returns_why(data: ReportData, shipped: pd.DataFrame | None) -> str | None:
    """Why the return rate cannot be given: a source missing, no ledger, or nothing shipped to divide by."""
    returns = data.frame(RETURNS)
    if returns is None:
        return data.why(RETURNS)
    if shipped is None:
        return data.why(SHIPPED)
    coverage = _coverage(data)
    if coverage is not None:
        return coverage
    if float(shipped["units"].sum()) <= 0:
        return "no order was shipped in this period: nothing to set the returns against"
    return None


def add_returns(report: Report, data: ReportData, params: ReportParams) -> None:
    """The return rate (units returned / units shipped in the period), by reason and the most returned SKUs.

    Wawi's returns dated in the period count when the ledger knows their order as shipped: the rate
    sets them against the units the ledger's orders shipped in the same period (docs/reporting.md).
    """
    shipped = data.frame(SHIPPED)
    why = _returns_why(data, shipped)
    by_sku_title = f"Top {params.top_n} returned SKUs"
    if why is not None:
        report.kpis.append(kpi(data, "return_rate", "Return rate", "pct", None, missing=why))
        report.tables.append(
            missing_table("returns_by_reason", "Returns by reason", RETURN_REASON_COLUMNS, why)
        )
        report.tables.append(missing_table("returns_by_sku", by_sku_title, RETURN_SKU_COLUMNS, why))
        return
    returns = data.frame(RETURNS)
    assert returns is not None and shipped is not None  # _returns_why said so
    totals = k.return_totals(returns, shipped)
    report.kpis.append(
        kpi(data, "return_rate", "Return rate", "pct", totals.rate, target=params.targets.return_rate)
    )
    report.notes.append(
        f"Return rate: {totals.returned_units:,.0f} units on {totals.returns} Wawi returns dated in the "
        f"period against {totals.shipped_units:,.0f} units shipped in it"
    )
    if totals.outside_units:
        report.notes.append(
            f"{totals.outside_units:,.0f} units on {totals.outside_returns} returns belong to orders the "
            "order ledger does not know as shipped (another sales channel, or shipped before order "
            "processing recorded orders): the return rate leaves them out"
        )
    without = int(data.facts.get("shipped_without_lines") or 0)
    if without:
        report.notes.append(
            f"{without} orders shipped in the period have no recorded lines: their units are not in the "
            "return rate's base"
        )
    skipped: list[str] = data.facts.get("returns_skipped") or []
    if skipped:
        more = f" (and {len(skipped) - 1} more)" if len(skipped) > 1 else ""
        report.notes.append(
            f"{len(skipped)} rows Wawi sent for returns do not fit its schema and were left out: "
            f"{skipped[0]}{more}"
        )
    reasons = k.returns_by_reason(returns)
    report.tables.append(Table("returns_by_reason", "Returns by reason", RETURN_REASON_COLUMNS, reasons))
    report.history += breakdown("returned_units_by_reason", reasons, "reason", "units")
    by_sku = k.returns_by_sku(returns, shipped, data.frame(ITEMS), params.top_n)
    note = "return rate per SKU: its units returned / its units shipped in the period"
    report.tables.append(
        Table(
            "returns_by_sku",
            by_sku_title,
            RETURN_SKU_COLUMNS,
            by_sku,
            {"rate": params.targets.return_rate},
            note=note,
        )
    )


# --------------------------------------------------------------------------------------------- stock

STOCK_VALUE_COLUMNS = (
    Column("warehouse_id", "Warehouse", "text", 24),
    Column("skus", "SKUs in stock", "count"),
    Column("units", "Units", "count"),
    Column("value", "Value at purchase price (net)", "eur", 18),
    Column("unpriced_skus", "SKUs without purchase price", "count"),
)
COVER_COLUMNS = (
    Column("bucket", "Days of cover", "text", 14),
    Column("rows", "SKU-warehouse rows", "count"),
    Column("share", "Share", "pct"),
    Column("sellable", "Sellable units", "count"),
)
DEAD_COLUMNS = (
    Column("sku", "SKU", "text", 18),
    Column("name", "Name", "text", 32),
    Column("warehouse_id", "Warehouse", "text", 22),
    Column("stock_level", "Units", "count"),
    Column("purchase_price_net", "Purchase price (net)", "eur"),
    Column("value", "Value (net)", "eur"),
)


def _line_window(data: ReportData, days: int) -> tuple[int, str | None]:
    """Days of recorded order lines available in the ``days`` before the period's end, and a note if fewer."""
    first = data.facts.get("first_line_day")
    if first is None:
        return 0, "no order line recorded yet"
    have = k.days_between(max(first, k.window_start(data.period.end, days)), data.period.end)
    if have < days:
        return max(have, 0), f"order lines are recorded from {first.isoformat()} only"
    return days, None


def add_stock(report: Report, data: ReportData, params: ReportParams) -> None:
    """Stock value per warehouse, the days-of-cover distribution and dead stock (at the period's end)."""
    stock, items, demand = data.frame(STOCK), data.frame(ITEMS), data.frame(DEMAND)
    at = "at the period's end" if not is_current(data) else "now"
    if stock is None or items is None:
        why = data.why(STOCK) if stock is None else data.why(ITEMS)
        report.kpis.append(kpi(data, "stock_value", "Stock value (purchase, net)", "eur", None, missing=why))
        report.tables.append(
            missing_table("stock_value", "Stock value by warehouse", STOCK_VALUE_COLUMNS, why)
        )
    else:
        value = k.stock_value(stock, items)
        report.kpis.append(
            kpi(data, "stock_value", "Stock value (purchase, net)", "eur", float(value["value"].sum()))
        )
        report.tables.append(
            Table(
                "stock_value",
                "Stock value by warehouse",
                STOCK_VALUE_COLUMNS,
                value,
                note=f"FFN stock {at} at today's Wawi purchase prices",
            )
        )
        report.history += breakdown("stock_value", value, "warehouse_id", "value")
        unpriced = int(value["unpriced_skus"].sum())
        if unpriced:
            report.notes.append(
                f"{unpriced} SKUs in stock have no purchase price: the stock value leaves them out"
            )
    window, short = _line_window(data, params.cover_window_days)
    if stock is None or demand is None or window == 0:
        why = data.why(STOCK) if stock is None else (data.why(DEMAND) if demand is None else short or "")
        report.tables.append(missing_table("cover", "Days of cover", COVER_COLUMNS, why))
        report.kpis.append(kpi(data, "stock_outs", "Sold-out SKUs (with demand)", "count", None, missing=why))
    else:
        covered = k.cover(stock, demand, window)
        distribution = k.cover_distribution(covered)
        note = f"demand over the last {window} days" + (f" ({short})" if short else "")
        report.tables.append(Table("cover", "Days of cover", COVER_COLUMNS, distribution, note=note))
        report.history += breakdown("cover_rows", distribution, "bucket", "rows")
        report.kpis.append(
            kpi(
                data,
                "stock_outs",
                "Sold-out SKUs (with demand)",
                "count",
                float(len(k.stock_outs(covered))),
                target=params.targets.stock_outs,
            )
        )
    short = _line_window(data, params.dead_stock_days)[1]
    title = f"Dead stock (no sale in {params.dead_stock_days} days)"
    if stock is None or demand is None or short is not None:
        why = data.why(STOCK) if stock is None else (data.why(DEMAND) if demand is None else str(short))
        if short is not None and stock is not None and demand is not None:
            why = f"needs {params.dead_stock_days} days of order lines; {short}"
        report.tables.append(missing_table("dead_stock", title, DEAD_COLUMNS, why))
        report.kpis.append(kpi(data, "dead_stock_value", "Dead stock value (net)", "eur", None, missing=why))
        return
    dead = k.dead_stock(stock, demand, items)
    shown, cut = _limit(dead, params.detail_rows)
    report.tables.append(Table("dead_stock", title, DEAD_COLUMNS, shown, note=cut))
    dead_value = float(dead["value"].sum())  # rows without a purchase price add nothing
    report.kpis.append(kpi(data, "dead_stock_value", "Dead stock value (net)", "eur", dead_value))


# --------------------------------------------------------------------------------------------- fulfilment

TIMES_COLUMNS = (
    Column("warehouse_id", "Warehouse", "text", 24),
    Column("order_to_outbound_orders", "Outbounds created", "count"),
    Column("order_to_outbound_median", "Order -> outbound median (h)", "hours"),
    Column("order_to_outbound_p95", "Order -> outbound p95 (h)", "hours"),
    Column("outbound_to_shipped_orders", "Shipped", "count"),
    Column("outbound_to_shipped_median", "Outbound -> shipped median (h)", "hours"),
    Column("outbound_to_shipped_p95", "Outbound -> shipped p95 (h)", "hours"),
    Column("order_to_shipped_median", "Order -> shipped median (h)", "hours"),
    Column("order_to_shipped_p95", "Order -> shipped p95 (h)", "hours"),
)


def _all_row(times: pd.DataFrame, column: str) -> float | None:
    row = times[times["warehouse_id"] == "all"]
    if row.empty or pd.isna(row[column].iloc[0]):
        return None
    return float(row[column].iloc[0])


def add_fulfilment(report: Report, data: ReportData, params: ReportParams) -> None:
    """Fulfilment times per warehouse (median, p95) and first-time-right, with their targets."""
    events, orders, troubled = data.frame(FULFILMENT), data.frame(ORDERS), data.frame(TROUBLED)
    targets = params.targets
    start, end = data.period.utc_bounds()
    if events is None:
        why = data.why(FULFILMENT)
        report.tables.append(missing_table("fulfilment_times", "Fulfilment times", TIMES_COLUMNS, why))
        for key, label in (
            ("order_to_outbound_p95", "Order -> outbound p95 (h)"),
            ("order_to_shipped_p95", "Order -> shipped p95 (h)"),
        ):
            report.kpis.append(kpi(data, key, label, "hours", None, missing=why))
    else:
        times = k.fulfilment_times(events, start, end)
        rag = {
            "order_to_outbound_p95": targets.order_to_outbound_p95_hours,
            "outbound_to_shipped_p95": targets.outbound_to_shipped_p95_hours,
            "order_to_shipped_p95": targets.order_to_shipped_p95_hours,
        }
        report.tables.append(Table("fulfilment_times", "Fulfilment times", TIMES_COLUMNS, times, rag))
        none = "no outbound was created in the period"
        report.kpis.append(
            kpi(
                data,
                "order_to_outbound_p95",
                "Order -> outbound p95 (h)",
                "hours",
                _all_row(times, "order_to_outbound_p95"),
                missing=none,
                target=targets.order_to_outbound_p95_hours,
            )
        )
        report.kpis.append(
            kpi(
                data,
                "order_to_shipped_p95",
                "Order -> shipped p95 (h)",
                "hours",
                _all_row(times, "order_to_shipped_p95"),
                missing="no order shipped in the period",
                target=targets.order_to_shipped_p95_hours,
            )
        )
        for column in ("order_to_outbound_median", "order_to_outbound_p95", "order_to_shipped_p95"):
            report.history += breakdown(column, times, "warehouse_id", column)
    if orders is None or troubled is None:
        why = data.why(ORDERS) if orders is None else data.why(TROUBLED)
        report.kpis.append(
            kpi(data, "first_time_right", "Fulfilled without hold or error", "pct", None, missing=why)
        )
        return
    share, _, decided = k.first_time_right(orders, troubled["order_number"])
    report.kpis.append(
        kpi(
            data,
            "first_time_right",
            "Fulfilled without hold or error",
            "pct",
            share,
            missing="no order of the period was decided yet" if decided == 0 else None,
            target=targets.first_time_right,
        )
    )


# --------------------------------------------------------------------------------------------- operations

HOLD_COLUMNS = (
    Column("reason", "Hold reason", "text", 28),
    *(Column(label, label, "count") for label, _, _ in k.AGE_BUCKETS),
    Column("total", "Total", "count"),
)
HOLDS_TITLE = "Orders on hold by reason and age"
BACKLOG_COLUMNS = (
    Column("order_number", "Order", "text", 14),
    Column("stage", "Stage", "text", 20),
    Column("status", "Status", "text", 16),
    Column("hold_reason", "Reason", "text", 36),
    Column("warehouse_id", "Warehouse", "text", 22),
    Column("order_date", "Ordered", "datetime"),
    Column("age_hours", "Age (h)", "hours"),
)
DISCREPANCY_COLUMNS = (
    Column("sku", "SKU", "text", 18),
    Column("inbound_ref", "Inbound", "text", 16),
    Column("status", "Status", "text", 18),
    Column("units_expected", "Expected", "count"),
    Column("units_received", "Received", "count"),
    Column("missing_since", "Missing since", "datetime"),
    Column("days_open", "Days open", "days"),
    Column("sheet", "Sheet", "text", 24),
)
STOCKOUT_COLUMNS = (
    Column("sku", "SKU", "text", 18),
    Column("warehouse_id", "Warehouse", "text", 22),
    Column("sellable", "Sellable", "count"),
    Column("per_day", "Units per day", "number"),
)
RESTOCK_COLUMNS = (
    Column("sku", "SKU", "text", 18),
    Column("warehouse_id", "Warehouse", "text", 22),
    Column("quantity", "Proposed units", "count"),
    Column("low_stock", "Runs out before delivery", "text"),
    Column("cover_days", "Days of cover", "days"),
    Column("plan_id", "Plan", "count"),
    Column("plan_status", "Plan status", "text"),
)
FAILED_RUN_COLUMNS = (
    Column("flow", "Flow", "text", 22),
    Column("run", "Run", "text", 24),
    Column("state", "State", "text", 10),
    Column("started", "Started", "datetime"),
    Column("message", "Message", "text", 60),
)


def add_flow_counts(report: Report, data: ReportData) -> None:
    """Orders placed, outbounds created, orders shipped in the period."""
    orders, events = data.frame(ORDERS), data.frame(FULFILMENT)
    start, end = data.period.utc_bounds()
    labels = (("orders_in", "Orders in"), ("outbounds_created", "Outbounds created"), ("shipped", "Shipped"))
    if orders is None or events is None:
        why = data.why(ORDERS) if orders is None else data.why(FULFILMENT)
        report.kpis += [kpi(data, key, label, "count", None, missing=why) for key, label in labels]
        return
    counts = k.flow_counts(orders, events, start, end)
    coverage = _coverage(data)
    report.kpis += [
        kpi(data, key, label, "count", None if coverage else float(counts[key]), missing=coverage)
        for key, label in labels
    ]


def add_holds_and_backlog(report: Report, data: ReportData, params: ReportParams) -> None:
    """Orders on hold by reason and age (stacked bar), and the backlog older than the cut-off (snapshots)."""
    frame = data.frame(OPEN_ORDERS)
    targets = params.targets
    hours = params.backlog_cutoff_hours
    backlog_title = f"Backlog older than {hours:g} h"
    why = data.why(OPEN_ORDERS) if frame is None else (None if is_current(data) else snapshot_missing(data))
    if frame is None or why is not None:
        report.kpis.append(kpi(data, "held_orders", "Orders on hold", "count", None, missing=why))
        report.kpis.append(kpi(data, "backlog_orders", backlog_title, "count", None, missing=why))
        report.tables.append(missing_table("holds", HOLDS_TITLE, HOLD_COLUMNS, why or "", sheet="On hold"))
        report.tables.append(missing_table("backlog", backlog_title, BACKLOG_COLUMNS, why or ""))
        return
    holds = k.holds_by_reason(frame, data.as_of)
    late = k.backlog(frame, data.as_of, hours)
    report.kpis.append(
        kpi(
            data,
            "held_orders",
            "Orders on hold",
            "count",
            float(holds["total"].sum()),
            target=targets.held_orders,
        )
    )
    report.kpis.append(
        kpi(data, "backlog_orders", backlog_title, "count", float(len(late)), target=targets.backlog_orders)
    )
    report.tables.append(Table("holds", HOLDS_TITLE, HOLD_COLUMNS, holds, sheet="On hold"))
    report.history += breakdown("held_orders", holds, "reason", "total")
    shown, cut = _limit(late, params.detail_rows)
    report.tables.append(
        Table(
            "backlog",
            backlog_title,
            BACKLOG_COLUMNS,
            shown,
            {"age_hours": targets.backlog_age_hours},
            note=cut,
        )
    )
    report.charts.append(
        Chart(
            "holds_by_reason",
            "Orders on hold by reason and age",
            "stacked_bar",
            "holds",
            "reason",
            tuple(label for label, _, _ in k.AGE_BUCKETS),
            y_title="Orders",
            picture=True,
        )
    )


def add_discrepancies(report: Report, data: ReportData, params: ReportParams) -> None:
    """Inbound discrepancies still open after each sheet's latest verification, with "missing since"."""
    checks = data.frame(INBOUND_CHECKS)
    title = "Open inbound discrepancies"
    why = (
        data.why(INBOUND_CHECKS) if checks is None else (None if is_current(data) else snapshot_missing(data))
    )
    if checks is not None and why is None and checks.empty:
        why = f"no inbound verification ran in the last {params.inbound_history_days} days"
    if checks is None or why is not None:
        report.kpis.append(kpi(data, "open_discrepancies", title, "count", None, missing=why))
        report.tables.append(missing_table("discrepancies", title, DISCREPANCY_COLUMNS, why or ""))
        return
    found = k.open_discrepancies(checks, data.as_of)
    report.kpis.append(
        kpi(
            data,
            "open_discrepancies",
            title,
            "count",
            float(len(found)),
            target=params.targets.open_discrepancies,
        )
    )
    shown, cut = _limit(found, params.detail_rows)
    report.tables.append(
        Table(
            "discrepancies",
            title,
            DISCREPANCY_COLUMNS,
            shown,
            {"days_open": params.targets.discrepancy_days_open},
            note=cut,
        )
    )


def add_stock_outs(report: Report, data: ReportData, params: ReportParams) -> None:
    """SKU-warehouse rows sold out that sold in the cover window (FFN now and the order lines)."""
    stock, demand = data.frame(STOCK), data.frame(DEMAND)
    title = "Sold out (with demand)"
    window, short = _line_window(data, params.cover_window_days)
    why = None
    if stock is None or demand is None:
        why = data.why(STOCK) if stock is None else data.why(DEMAND)
    elif not is_current(data):
        why = snapshot_missing(data)
    elif window == 0:
        why = short
    if why is not None:
        report.kpis.append(kpi(data, "stock_outs", title, "count", None, missing=why))
        report.tables.append(missing_table("stock_outs", title, STOCKOUT_COLUMNS, why))
        return
    assert stock is not None and demand is not None
    out = k.stock_outs(k.cover(stock, demand, window))
    report.kpis.append(
        kpi(data, "stock_outs", title, "count", float(len(out)), target=params.targets.stock_outs)
    )
    shown, cut = _limit(out, params.detail_rows)
    note = (
        f"demand over the last {window} days" + (f" ({short})" if short else "") + (f"; {cut}" if cut else "")
    )
    report.tables.append(Table("stock_outs", title, STOCKOUT_COLUMNS, shown, note=note))


def add_reorder(report: Report, data: ReportData, params: ReportParams) -> None:
    """Lines of this week's restock plans (each below its reorder point), low stock first."""
    restock = data.frame(RESTOCK)
    title = "Below reorder point"
    why = data.why(RESTOCK) if restock is None else (None if is_current(data) else snapshot_missing(data))
    if restock is not None and why is None and restock.empty:
        week = data.facts.get("restock_week", "this week")
        why = f"no restock plan for {week} yet (the replenishment runs daily)"
    if restock is None or why is not None:
        report.kpis.append(
            kpi(data, "below_reorder_point", "Below reorder point", "count", None, missing=why)
        )
        report.tables.append(missing_table("below_reorder_point", title, RESTOCK_COLUMNS, why or ""))
        return
    summary = k.reorder_summary(restock)
    report.kpis.append(
        kpi(
            data, "below_reorder_point", "Below reorder point", "count", float(summary["below_reorder_point"])
        )
    )
    ordered = restock.sort_values(
        ["low_stock", "cover_days", "sku"], ascending=[False, True, True], kind="stable"
    )
    frame = ordered.assign(low_stock=ordered["low_stock"].map({True: "yes", False: ""}).astype("string"))
    shown, cut = _limit(frame.reset_index(drop=True), params.detail_rows)
    note = f"the lines of the restock plans of {data.facts.get('restock_week', 'this week')}" + (
        f"; {cut}" if cut else ""
    )
    report.tables.append(Table("below_reorder_point", title, RESTOCK_COLUMNS, shown, note=note))


def add_failed_runs(report: Report, data: ReportData, params: ReportParams) -> None:
    """Flow runs that failed or crashed in the period (read from the Prefect API)."""
    runs = data.frame(FAILED_RUNS)
    if runs is None:
        why = data.why(FAILED_RUNS)
        report.kpis.append(kpi(data, "failed_runs", "Failed flow runs", "count", None, missing=why))
        report.tables.append(missing_table("failed_runs", "Failed flow runs", FAILED_RUN_COLUMNS, why))
        return
    report.kpis.append(
        kpi(
            data,
            "failed_runs",
            "Failed flow runs",
            "count",
            float(len(runs)),
            target=params.targets.failed_runs,
        )
    )
    shown, cut = _limit(runs.sort_values("started", kind="stable").reset_index(drop=True), params.detail_rows)
    report.tables.append(Table("failed_runs", "Failed flow runs", FAILED_RUN_COLUMNS, shown, note=cut))


# --------------------------------------------------------------------------------------------- pricing

PRICE_COLUMNS = (
    Column("sku", "SKU", "text", 18),
    Column("target", "Price", "text", 12),
    Column("kind", "Change", "text", 12),
    Column("old_price", "Old price (net)", "eur"),
    Column("new_price", "New price (net)", "eur"),
    Column("change", "Change", "pct"),
    Column("applied_at", "Applied", "datetime"),
)


def add_price_changes(report: Report, data: ReportData) -> None:
    """Price changes and markdowns the pricing flow applied in the period (its price history)."""
    frame = data.frame(PRICE_CHANGES)
    title = "Price changes and markdowns applied"
    if frame is None:
        why = data.why(PRICE_CHANGES)
        report.kpis.append(kpi(data, "price_changes", "Price changes applied", "count", None, missing=why))
        report.tables.append(missing_table("price_changes", title, PRICE_COLUMNS, why))
        return
    report.kpis.append(kpi(data, "price_changes", "Price changes applied", "count", float(len(frame))))
    report.tables.append(Table("price_changes", title, PRICE_COLUMNS, frame))


def history_kpis(*groups: Sequence[str]) -> tuple[str, ...]:
    """The KPI keys a report's trend reads from the history, once each."""
    return tuple(dict.fromkeys(key for group in groups for key in group))
