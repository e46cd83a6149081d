"""Daily operations (07:00, for yesterday): what came in, what went out, what is stuck and what failed.

Orders in, outbounds created and shipped; fulfilment times per warehouse; orders on hold by reason and
age; the backlog older than the cut-off; open inbound discrepancies ("missing since"); SKUs sold out and
below their reorder point; failed flow runs; the shop sync check's incidents (its own tab). Holds, backlog,
discrepancies, stock and the shop sync incidents are snapshots of the
moment the report runs: a report run later for an earlier day states them as missing.
"""

from __future__ import annotations

from datetime import UTC, datetime

from jtl_automator.reports import data as d
from jtl_automator.reports import sections as s
from jtl_automator.reports.data import ReportData, ReportDefinition, ReportParams
from jtl_automator.reports.model import Chart, Column, Report
from jtl_automator.reports.shop_sync import add_shop_sync

TREND = (
    Column("orders_in", "Orders in", "count"),
    Column("outbounds_created", "Outbounds created", "count"),
    Column("shipped", "Shipped", "count"),
    Column("held_orders", "On hold", "count"),
    Column("backlog_orders", "Backlog", "count"),
    Column("order_to_outbound_p95", "Order -> outbound p95 (h)", "hours"),
)


def build(data: ReportData, params: ReportParams) -> Report:
    """The daily operations report of ``data.period`` (a day)."""
    report = Report("daily", DEFINITION.title, data.period, datetime.now(UTC))
    s.add_flow_counts(report, data)
    s.add_fulfilment(report, data, params)
    s.add_holds_and_backlog(report, data, params)
    s.add_discrepancies(report, data, params)
    s.add_stock_outs(report, data, params)
    s.add_reorder(report, data, params)
    s.add_failed_runs(report, data, params)
    add_shop_sync(report, data, params)
    report.tables.insert(0, s.trend_table(data, report, "trend", "Last days", TREND, params.trend_periods))
    report.charts.append(
        Chart(
            "flow_trend",
            "Orders in and shipped per day",
            "line",
            "trend",
            "period",
            ("orders_in", "shipped"),
            y_title="Orders",
        )
    )
    return report


DEFINITION = ReportDefinition(
    name="daily",
    title="Daily operations",
    period_kind="day",
    needs=frozenset(
        {
            d.ORDERS,
            d.TROUBLED,
            d.FULFILMENT,
            d.OPEN_ORDERS,
            d.INBOUND_CHECKS,
            d.STOCK,
            d.DEMAND,
            d.RESTOCK,
            d.FAILED_RUNS,
            d.SHOP_SYNC,
        }
    ),
    build=build,
    history=tuple(c.key for c in TREND),
    description="Orders in and out, holds, backlog, fulfilment times, inbound gaps, stock-outs, failures.",
)
