"""A report as text: headline figures with their change (markdown artifact, e-mail), tables as rows.

The markdown goes into the Prefect UI and the e-mail body; the rows into Prefect table artifacts. Missing
figures are written out with the reason.
"""

from __future__ import annotations

import math
from datetime import date, datetime
from typing import Any

from jtl_automator.reports.model import Comparison, Kpi, Report, Table, Unit, plain
from jtl_automator.reports.periods import TIMEZONE

RAG_MARK = {"green": "🟢", "amber": "🟡", "red": "🔴"}


def _escape(text: str) -> str:
    """Text inside a markdown table cell: pipes and line breaks would end the cell."""
    return text.replace("|", "\\|").replace("\n", " ")


def format_value(value: Any, unit: Unit) -> str:
    """A figure as people read it: ``1,234.50 €``, ``12.3 %``, ``1,234``, ``12.5 h`` (empty for None)."""
    value = plain(value)
    if value is None:
        return ""
    if isinstance(value, datetime):
        moment = value.astimezone(TIMEZONE) if value.tzinfo else value
        return moment.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if not isinstance(value, int | float) or isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return ""
    return {
        "eur": f"{value:,.2f} €",
        "pct": f"{value * 100:,.1f} %",
        "count": f"{value:,.0f}",
        "number": f"{value:,.2f}",
        "hours": f"{value:,.1f} h",
        "days": f"{value:,.1f} d",
    }.get(unit, str(value))


def change_text(item: Kpi, against: Comparison | None) -> str:
    """``+25.0 % (80.00 €)``, or why there is nothing to compare with."""
    if against is None:
        return ""
    if against.value is None:
        return f"n/a: {against.missing}" if against.missing else "n/a"
    change = item.change(against)
    before = format_value(against.value, item.unit)
    if change is None:
        return f"({before})"
    return f"{change * 100:+.1f} {'pp' if item.change_in_points else '%'} ({before})"


def headline_markdown(report: Report, *, workbook: str | None = None, sheet: str | None = None) -> str:
    """The headline figures as a markdown table with their changes and targets, then what is missing."""
    period = report.period
    first = report.kpis[0] if report.kpis else None
    previous = first.previous.label if first and first.previous else "previous"
    last_year = first.last_year.label if first and first.last_year else "last year"
    lines = [
        f"# {report.title} {period}",
        "",
        f"{period.start.isoformat()} to {period.end.isoformat()} (Berlin).",
        "",
        f"| Figure | Value | vs {previous} | vs {last_year} | Status |",
        "|---|---:|---:|---:|---|",
    ]
    for item in report.kpis:
        value = format_value(item.value, item.unit) if item.value is not None else f"missing: {item.missing}"
        lines.append(
            f"| {_escape(item.label)} | {_escape(value)} | {_escape(change_text(item, item.previous))} | "
            f"{_escape(change_text(item, item.last_year))} | {RAG_MARK.get(item.rag or '', '')} |"
        )
    missing = report.missing()
    if missing:
        lines += ["", "**Missing data** (not shown as zero):", "", *(f"- {_escape(m)}" for m in missing)]
    links = []
    if workbook:
        links.append(f"Workbook: [{workbook}]({workbook_link(workbook)})")
    if sheet:
        links.append(f"Google Sheet: [{sheet}](https://docs.google.com/spreadsheets/d/{sheet}/edit)")
    if links:
        lines += ["", *links]
    return "\n".join(lines)


def workbook_link(location: str) -> str:
    """A link to the workbook: URLs as they are, local paths as ``file://`` URIs."""
    if "://" in location:
        return location
    from pathlib import Path

    return Path(location).resolve().as_uri()


def table_rows(table: Table, limit: int) -> list[dict[str, Any]]:
    """At most ``limit`` rows of ``table`` for a table artifact, values formatted as in the workbook."""
    rows = [
        {
            column.label: format_value(value, column.unit)
            for column, value in zip(table.columns, row, strict=True)
        }
        for row in table.records()[:limit]
    ]
    return rows


def table_description(table: Table, limit: int) -> str:
    """What the table artifact shows: its title, how many rows, or why it is missing."""
    if table.missing:
        return f"{table.title}: missing: {table.missing}"
    shown = f"the first {limit} of {table.rows}" if table.rows > limit else f"{table.rows}"
    return f"{table.title}: {shown} rows" + (f" ({table.note})" if table.note else "")
