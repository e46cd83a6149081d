"""Weekly KPIs (Monday 07:00, for last week): sales, SKUs, stock, fulfilment, against last week and year.

Revenue net and gross, orders, AOV and units by day and against the previous week and the same week last
year (from the KPI history, else recomputed from the order ledger where it covers them); top and bottom
SKUs by revenue and margin; the category mix; the return rate (Wawi's returns against the units shipped)
by reason and SKU; stock value at purchase price per warehouse, the days-of-cover distribution and dead
stock; fulfilment times and first-time-right, with a trend over the last weeks from the KPI history.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from jtl_automator.reports import data as d
from jtl_automator.reports import sections as s
from jtl_automator.reports.data import ReportData, ReportDefinition, ReportParams
from jtl_automator.reports.model import Column, Report
from jtl_automator.reports.parts import Section, assemble, section_part

TREND = (
    Column("revenue_net", "Revenue net", "eur"),
    Column("revenue_gross", "Revenue gross", "eur"),
    Column("orders", "Orders", "count"),
    Column("aov_net", "AOV net", "eur"),
    Column("units", "Units", "count"),
    Column("margin_pct", "Margin %", "pct"),
    Column("first_time_right", "Without hold or error", "pct"),
    Column("return_rate", "Return rate", "pct"),
    Column("order_to_outbound_p95", "Order -> outbound p95 (h)", "hours"),
    Column("order_to_shipped_p95", "Order -> shipped p95 (h)", "hours"),
)
#: The sections of the weekly figures, in order; the monthly report reuses them.
SECTIONS: tuple[Callable[[Report, ReportData, ReportParams], None], ...] = (
    s.add_sales,
    s.add_skus,
    s.add_returns,
    s.add_stock,
    s.add_fulfilment,
)
NEEDS = frozenset(
    {d.ORDERS, d.SKU_SALES, d.TROUBLED, d.FULFILMENT, d.STOCK, d.ITEMS, d.DEMAND, d.RETURNS, d.SHIPPED}
)


def build_kpis(
    name: str,
    title: str,
    trend_title: str,
    data: ReportData,
    params: ReportParams,
    parts: Sequence[Report] | None = None,
    sections: Sequence[Section] = SECTIONS,
) -> Report:
    """The weekly figures for any period (the monthly report builds them per month).

    Each section is built on its own and the parts appended in order (``reports/parts.py``); ``parts``:
    the sections' parts built elsewhere (on a cluster), the same as they would be here.
    """
    report = Report(name, title, data.period, datetime.now(UTC))
    if parts is None:
        parts = [section_part(section, data, params, report) for section in sections]
    assemble(report, parts)
    report.tables.insert(1, s.trend_table(data, report, "trend", trend_title, TREND, params.trend_periods))
    return report


def build(data: ReportData, params: ReportParams) -> Report:
    """The weekly KPI report of ``data.period`` (an ISO week)."""
    return build_kpis("weekly", DEFINITION.title, "Last weeks", data, params)


def build_from_parts(data: ReportData, params: ReportParams, parts: Sequence[Report]) -> Report:
    """The weekly report from its sections' parts (see ``build_kpis``)."""
    return build_kpis("weekly", DEFINITION.title, "Last weeks", data, params, parts)


DEFINITION = ReportDefinition(
    name="weekly",
    title="Weekly KPIs",
    period_kind="week",
    needs=NEEDS,
    build=build,
    history=tuple(c.key for c in TREND),
    description="Sales, top and bottom SKUs, category mix, stock value, cover, dead stock, fulfilment.",
    sections=SECTIONS,
    build_from_parts=build_from_parts,
)
