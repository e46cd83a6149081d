"""Monthly (the 1st, 07:00, for last month): the weekly figures by month, plus price changes and markdowns.

The price changes and markdowns applied come from the pricing flow's price history (``d.PRICE_CHANGES``,
read by ``services/reporting/reads.price_changes``): every price it wrote in the month, net, with the
rule, approved change or markdown that set it.
"""

from __future__ import annotations

from collections.abc import Sequence

from jtl_automator.reports import data as d
from jtl_automator.reports import sections as s
from jtl_automator.reports import weekly
from jtl_automator.reports.data import ReportData, ReportDefinition, ReportParams
from jtl_automator.reports.model import Report


def add_price_changes(report: Report, data: ReportData, params: ReportParams) -> None:
    """The price changes and markdowns applied in the month (a section after the weekly ones)."""
    s.add_price_changes(report, data)


#: The weekly sections, then the price changes (their table and figure come last, after the trend).
SECTIONS = (*weekly.SECTIONS, add_price_changes)


def build(data: ReportData, params: ReportParams) -> Report:
    """The monthly report of ``data.period`` (a month)."""
    return weekly.build_kpis("monthly", DEFINITION.title, "Last months", data, params, sections=SECTIONS)


def build_from_parts(data: ReportData, params: ReportParams, parts: Sequence[Report]) -> Report:
    """The monthly report from its sections' parts (see ``weekly.build_kpis``)."""
    return weekly.build_kpis("monthly", DEFINITION.title, "Last months", data, params, parts)


DEFINITION = ReportDefinition(
    name="monthly",
    title="Monthly",
    period_kind="month",
    needs=weekly.NEEDS | {d.PRICE_CHANGES},
    build=build,
    history=weekly.DEFINITION.history,
    description="The weekly figures by month, plus the price changes and markdowns applied.",
    sections=SECTIONS,
    build_from_parts=build_from_parts,
)
