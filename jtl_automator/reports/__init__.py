"""Scheduled KPI reports: each defined once (its data and layout), rendered to every output.

``REPORTS`` maps a report's name to its :class:`ReportDefinition`. A new report is a module with a
``build(data, params) -> Report`` and a ``DEFINITION`` naming the datasets it reads, added here.
"""

from __future__ import annotations

from jtl_automator.reports import daily, monthly, weekly
from jtl_automator.reports.data import ReportData, ReportDefinition, ReportParams, ReportTargets
from jtl_automator.reports.model import Chart, Column, Comparison, Kpi, Report, Table, Target
from jtl_automator.reports.periods import (
    Period,
    PeriodError,
    last_complete_period,
    parse_period,
    period_range,
)

REPORTS: dict[str, ReportDefinition] = {
    definition.name: definition for definition in (daily.DEFINITION, weekly.DEFINITION, monthly.DEFINITION)
}


class UnknownReport(KeyError):
    """A report name that is not in :data:`REPORTS`."""

    def __str__(self) -> str:
        return f"unknown report {self.args[0]!r} (known: {', '.join(REPORTS)})"


def report_definition(name: str) -> ReportDefinition:
    """The report called ``name``."""
    try:
        return REPORTS[name]
    except KeyError:
        raise UnknownReport(name) from None


__all__ = [
    "REPORTS",
    "Chart",
    "Column",
    "Comparison",
    "Kpi",
    "Period",
    "PeriodError",
    "Report",
    "ReportData",
    "ReportDefinition",
    "ReportParams",
    "ReportTargets",
    "Table",
    "Target",
    "UnknownReport",
    "last_complete_period",
    "parse_period",
    "period_range",
]
