"""A report as a formatted Excel workbook with native charts (XlsxWriter).

Why XlsxWriter and not openpyxl (which edits the Inbound Control workbook): a report workbook is
generated from nothing on every run, never edited in place, and XlsxWriter is built for exactly that:
complete, native charts (line with a secondary axis, bar, stacked bar) and conditional formats that
Excel and LibreOffice open without repair, number formats, frozen panes, autofilters and column widths,
writing fast and in little memory. openpyxl stays the project's reader and editor of existing files.

Layout: a *Summary* sheet (the headline figures, their previous-period and last-year values and change,
red/amber/green on targets as conditional formats, then every statement of missing data), then one
sheet per table (title, note, a frozen header row with an autofilter, formatted columns, red/amber/green
on the columns that have a target) with its chart beside it. A missing table keeps its sheet and says
why it is missing, in red, where the rows would be.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any

import xlsxwriter
from xlsxwriter.format import Format
from xlsxwriter.utility import xl_rowcol_to_cell
from xlsxwriter.workbook import Workbook
from xlsxwriter.worksheet import Worksheet

from jtl_automator.reports.model import Chart, Column, Kpi, Report, Table, Target, Unit, plain
from jtl_automator.reports.periods import TIMEZONE

#: Number formats per unit (Excel's codes; the euro sign after the number, as German users read it).
NUMBER_FORMATS: dict[Unit, str] = {
    "eur": '#,##0.00 "€"',
    "pct": "0.0%",
    "count": "#,##0",
    "number": "#,##0.00",
    "hours": "#,##0.0",
    "days": "#,##0.0",
    "text": "@",
    "date": "yyyy-mm-dd",
    "datetime": "yyyy-mm-dd hh:mm",
}
#: Fill and font colours of red/amber/green (Excel's "good, neutral, bad" palette).
RAG_COLOURS = {
    "green": ("#C6EFCE", "#006100"),
    "amber": ("#FFEB9C", "#9C5700"),
    "red": ("#FFC7CE", "#9C0006"),
}
HEADER_FILL = "#1F4E78"
SUMMARY = "Summary"
#: The first row of a table sheet's data: title (row 0), note (row 1), header (row 2).
TITLE_ROW, NOTE_ROW, HEADER_ROW = 0, 1, 2
_BAD_SHEET_CHARS = re.compile(r"[\[\]:*?/\\]")


def sheet_name(title: str, taken: set[str]) -> str:
    r"""An Excel sheet name: no ``[]:*?/\``, at most 31 characters, unique ignoring case."""
    base = _BAD_SHEET_CHARS.sub("_", title).strip().strip("'")[:31].strip().strip("'") or "Sheet"
    candidate, n = base, 2
    while candidate.lower() in taken:
        suffix = f" ({n})"
        candidate, n = base[: 31 - len(suffix)].rstrip().rstrip("'") + suffix, n + 1
    taken.add(candidate.lower())
    return candidate


def excel_value(value: Any) -> Any:
    """A cell value XlsxWriter can write: Berlin local time for instants (Excel has no time zones)."""
    value = plain(value)
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(TIMEZONE).replace(tzinfo=None)
    return value


class _Formats:
    """The workbook's formats, made once each."""

    def __init__(self, book: Workbook) -> None:
        self.book = book
        self.title = book.add_format({"bold": True, "font_size": 14})
        self.subtitle = book.add_format({"italic": True, "font_color": "#595959"})
        self.missing = book.add_format({"italic": True, "font_color": "#9C0006"})
        self.header = book.add_format(
            {
                "bold": True,
                "font_color": "#FFFFFF",
                "bg_color": HEADER_FILL,
                "border": 1,
                "text_wrap": True,
                "valign": "top",
            }
        )
        self.label = book.add_format({"bold": True})
        self.points = book.add_format({"num_format": '+0.0" pp";-0.0" pp";0.0" pp"'})
        self._units: dict[Unit, Format] = {}
        self.rag = {
            name: book.add_format({"bg_color": fill, "font_color": font})
            for name, (fill, font) in RAG_COLOURS.items()
        }

    def unit(self, unit: Unit) -> Format:
        if unit not in self._units:
            self._units[unit] = self.book.add_format({"num_format": NUMBER_FORMATS[unit]})
        return self._units[unit]


def _width(column: Column) -> int:
    if column.width:
        return column.width
    base = {
        "eur": 14,
        "pct": 9,
        "count": 10,
        "number": 11,
        "hours": 10,
        "days": 10,
        "date": 11,
        "datetime": 16,
    }
    return max(base.get(column.unit, 14), min(len(column.label) + 2, 22))


def _cell(row: int, col: int) -> str:
    return str(xl_rowcol_to_cell(row, col))


def _rag_rules(
    sheet: Worksheet, first: tuple[int, int], last: tuple[int, int], target: Target, f: _Formats
) -> None:
    """Red/amber/green as three conditional formats on a range (blank cells stay uncoloured)."""
    area = (first[0], first[1], last[0], last[1])
    top_left = _cell(first[0], first[1]).replace("$", "")
    good = ">=" if target.higher_is_better else "<="
    bad = "<" if target.higher_is_better else ">"
    rules = (
        (f"AND(ISNUMBER({top_left}),{top_left}{good}{target.green})", "green"),
        (f"AND(ISNUMBER({top_left}),{top_left}{bad}{target.red})", "red"),
        (f"ISNUMBER({top_left})", "amber"),
    )
    for formula, colour in rules:
        sheet.conditional_format(
            *area,
            {"type": "formula", "criteria": f"={formula}", "format": f.rag[colour], "stop_if_true": True},
        )


def _print_setup(sheet: Worksheet) -> None:
    """Printed (or converted to PDF): landscape A4, one page wide, as many pages tall as needed."""
    sheet.set_landscape()
    sheet.set_paper(9)
    sheet.fit_to_pages(1, 0)


def _write(sheet: Worksheet, row: int, col: int, value: Any, fmt: Format | None) -> None:
    value = excel_value(value)
    if value is None:
        sheet.write_blank(row, col, None, fmt)
    elif isinstance(value, datetime | date):
        sheet.write_datetime(row, col, value, fmt)
    elif isinstance(value, bool):
        sheet.write_boolean(row, col, value, fmt)
    elif isinstance(value, int | float):
        sheet.write_number(row, col, value, fmt)
    else:
        sheet.write_string(row, col, str(value), fmt)


# --------------------------------------------------------------------------------------------- summary

SUMMARY_HEADERS = ("Figure", "Value", "Previous", "Change", "Last year", "Change", "Note")


def _summary(book: Workbook, report: Report, f: _Formats, links: Mapping[str, str]) -> None:
    sheet = book.add_worksheet(SUMMARY)
    sheet.write_string(0, 0, f"{report.title} {report.period}", f.title)
    generated = report.generated_at.astimezone(TIMEZONE).strftime("%Y-%m-%d %H:%M")
    sheet.write_string(
        1, 0, f"{report.period.start} to {report.period.end}; made {generated} (Berlin)", f.subtitle
    )
    for col, header in enumerate(SUMMARY_HEADERS):
        sheet.write_string(3, col, header, f.header)
    widths = (34, 16, 16, 9, 16, 9, 70)
    for col, width in enumerate(widths):
        sheet.set_column(col, col, width)
    pct = f.unit("pct")
    for i, item in enumerate(report.kpis):
        row = 4 + i
        unit = f.unit(item.unit)
        sheet.write_string(row, 0, item.label, f.label)
        _write(sheet, row, 1, item.value, unit)
        for col, comparison in ((2, item.previous), (4, item.last_year)):
            if comparison is None:
                continue
            _write(sheet, row, col, comparison.value, unit)
            if comparison.value is not None and item.value is not None:
                value, other = _cell(row, 1), _cell(row, col)
                change = item.change(comparison)
                cached: float | None = change
                if item.change_in_points:  # a share: the difference in percentage points
                    formula, fmt, cached = f"=({value}-{other})*100", f.points, (change or 0) * 100
                else:
                    formula, fmt = f'=IF({other}=0,"",({value}-{other})/ABS({other}))', pct
                sheet.write_formula(row, col + 1, formula, fmt, cached if cached is not None else "")
        sheet.write_string(row, 6, _kpi_note(item), f.missing if item.value is None else None)
        if item.target is not None:
            col = 3 if item.target_on_change else 1
            _rag_rules(sheet, (row, col), (row, col), item.target, f)
    row = 5 + len(report.kpis)
    missing = report.missing()
    if missing:
        sheet.write_string(row, 0, "Missing data", f.label)
        for n, text in enumerate(missing, start=1):
            sheet.write_string(row + n, 0, text, f.missing)
        row += len(missing) + 2
    if links:
        sheet.write_string(row, 0, "Sheets", f.label)
        for n, (title, name) in enumerate(links.items(), start=1):
            sheet.write_url(row + n, 0, f"internal:'{name}'!A1", string=title)
    sheet.freeze_panes(4, 1)
    _print_setup(sheet)


def _kpi_note(item: Kpi) -> str:
    parts = []
    if item.value is None:
        parts.append(f"missing: {item.missing or 'not computed'}")
    for name, comparison in (("previous", item.previous), ("last year", item.last_year)):
        if comparison is not None:
            parts.append(
                f"{name}: {comparison.label}"
                + (
                    f" (missing: {comparison.missing})"
                    if comparison.value is None and comparison.missing
                    else ""
                )
            )
    if item.target is not None:
        better = ">=" if item.target.higher_is_better else "<="
        what = "change" if item.target_on_change else "target"
        parts.append(f"{what}: green {better} {item.target.green:g}, red past {item.target.red:g}")
    return "; ".join(parts)


# --------------------------------------------------------------------------------------------- tables


def _table(book: Workbook, table: Table, name: str, f: _Formats) -> Worksheet:
    sheet = book.add_worksheet(name)
    sheet.write_string(TITLE_ROW, 0, table.title, f.title)
    if table.missing:
        sheet.write_string(NOTE_ROW, 0, f"Missing: {table.missing}", f.missing)
    elif table.note:
        sheet.write_string(NOTE_ROW, 0, table.note, f.subtitle)
    for col, column in enumerate(table.columns):
        sheet.write_string(HEADER_ROW, col, column.label, f.header)
        sheet.set_column(col, col, _width(column), f.unit(column.unit) if column.unit != "text" else None)
    sheet.set_row(HEADER_ROW, 30)
    records = table.records()
    formats = [f.unit(c.unit) for c in table.columns]
    for r, values in enumerate(records, start=HEADER_ROW + 1):
        for c, value in enumerate(values):
            _write(sheet, r, c, value, formats[c])
    last = HEADER_ROW + max(len(records), 1)
    sheet.freeze_panes(HEADER_ROW + 1, 0)
    _print_setup(sheet)
    sheet.repeat_rows(HEADER_ROW)
    sheet.autofilter(HEADER_ROW, 0, HEADER_ROW + len(records), len(table.columns) - 1)
    if records:
        for key, target in table.targets.items():
            col = next(i for i, c in enumerate(table.columns) if c.key == key)
            _rag_rules(sheet, (HEADER_ROW + 1, col), (last, col), target, f)
    return sheet


def data_range(name: str, table: Table, key: str) -> tuple[str, int, int, int, int]:
    """The data cells of ``key``'s column on the table's sheet: (sheet, first row, col, last row, col)."""
    col = next(i for i, c in enumerate(table.columns) if c.key == key)
    return name, HEADER_ROW + 1, col, HEADER_ROW + table.rows, col


def _chart(book: Workbook, sheet: Worksheet, chart: Chart, table: Table, name: str) -> None:
    kind: dict[str, Any] = {
        "line": {"type": "line"},
        "bar": {"type": "bar"},
        "stacked_bar": {"type": "column", "subtype": "stacked"},
    }[chart.kind]
    made = book.add_chart(kind)
    assert made is not None
    labels = {c.key: c.label for c in table.columns}
    categories = list(data_range(name, table, chart.categories))
    for key in chart.series:
        series: dict[str, Any] = {
            "name": [name, HEADER_ROW, next(i for i, c in enumerate(table.columns) if c.key == key)],
            "categories": categories,
            "values": list(data_range(name, table, key)),
        }
        if key in chart.secondary:
            series["y2_axis"] = True
        if chart.kind == "line":
            series["marker"] = {"type": "circle", "size": 4}
        made.add_series(series)
    made.set_title({"name": chart.title})
    made.set_y_axis({"name": chart.y_title or labels.get(chart.series[0], "")})
    if chart.secondary:
        made.set_y2_axis({"name": chart.y2_title or labels.get(chart.secondary[0], "")})
    if chart.kind == "bar":
        made.set_y_axis({"reverse": True})  # the largest bar on top, as the table lists them
        made.set_x_axis({"name": chart.y_title or labels.get(chart.series[0], "")})
        made.set_legend({"none": True})
    else:
        made.set_legend({"position": "bottom"})
    height = max(288, 18 * table.rows + 120) if chart.kind == "bar" else 320
    made.set_size({"width": 720, "height": min(height, 900)})
    sheet.insert_chart(HEADER_ROW + 1, len(table.columns) + 1, made)


def write_workbook(report: Report, path: Path) -> Path:
    """Write ``report`` to ``path`` (its folder is made; the file is replaced atomically)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    book = xlsxwriter.Workbook(str(partial), {"default_date_format": NUMBER_FORMATS["date"]})
    try:
        f = _Formats(book)
        taken = {SUMMARY.lower()}
        names = {table.key: sheet_name(table.sheet or table.title, taken) for table in report.tables}
        _summary(book, report, f, {t.title: names[t.key] for t in report.tables})
        sheets = {table.key: _table(book, table, names[table.key], f) for table in report.tables}
        for chart in report.charts:
            table = report.table(chart.table)
            if table.rows:  # a chart over no data is left out (the sheet says why it is empty)
                _chart(book, sheets[chart.table], chart, table, names[chart.table])
        book.set_properties({"title": f"{report.title} {report.period}", "author": "jtl-automator"})
    finally:
        book.close()
    partial.replace(path)
    return path


def workbook_path(root: str | Path, report: str, period: str) -> Path:
    """``<root>/<report>/<period>.xlsx``."""
    return Path(root) / report / f"{period}.xlsx"
