"""A report's sections built apart (on a Dask cluster's workers) and put together as one build does.

Each section of the weekly and monthly reports appends its figures, tables, charts, notes and breakdowns
to the report and reads nothing another section wrote. So building each section on an empty report of its
own and appending the contributions in section order gives exactly the report one build gives; the
builds themselves are written that way (``weekly.build_kpis``), so there is one code path, wherever the
sections run.

That is how the report aggregations are split: by section, not by SKU. Their totals add values of every
SKU (revenue, stock value, the category mix), and a float sum taken in parts rounds differently from one
taken whole; a section's figures are computed whole, in one place.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from jtl_automator.reports.data import ReportData, ReportParams
from jtl_automator.reports.model import Report

#: One section of a report: adds what it computes from the data to the report.
Section = Callable[[Report, ReportData, ReportParams], None]


def section_part(section: Section, data: ReportData, params: ReportParams, like: Report) -> Report:
    """What ``section`` adds, on an empty report with ``like``'s name, title, period and time."""
    part = Report(like.name, like.title, like.period, like.generated_at)
    section(part, data, params)
    return part


def assemble(report: Report, parts: Sequence[Report]) -> Report:
    """``report`` with every part's contributions appended, in the parts' order."""
    for part in parts:
        report.kpis += part.kpis
        report.tables += part.tables
        report.charts += part.charts
        report.notes += part.notes
        report.history += part.history
    return report
