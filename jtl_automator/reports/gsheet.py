"""A report as one Google Sheets tab: its values and the formatting requests that go with them.

The tab holds, top to bottom, the title, the headline figures (value, previous period, change, last year,
change, note), every statement of missing data, then each table under its title with a styled header
row. Numbers are written as numbers (RAW) and formatted by ``repeatCell`` number formats; red/amber/green
are conditional format rules (custom formulas) on the figures and columns that have a target, as in the
workbook. ``GoogleSheetsBackend.rewrite_tab`` sends it all as one structural and one values request.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from jtl_automator.reports.markdown import format_value
from jtl_automator.reports.model import Report, Target, Unit, plain
from jtl_automator.reports.periods import TIMEZONE
from jtl_automator.sheets.base import CellValue

#: Google's number formats per unit (text, dates and times are written as text).
SHEET_FORMATS: dict[Unit, tuple[str, str]] = {
    "eur": ("CURRENCY", '#,##0.00 "€"'),
    "pct": ("PERCENT", "0.0%"),
    "count": ("NUMBER", "#,##0"),
    "number": ("NUMBER", "#,##0.00"),
    "hours": ("NUMBER", "#,##0.0"),
    "days": ("NUMBER", "#,##0.0"),
}
_RGB = {
    "green": {"red": 0.776, "green": 0.937, "blue": 0.808},
    "amber": {"red": 1.0, "green": 0.922, "blue": 0.612},
    "red": {"red": 1.0, "green": 0.78, "blue": 0.808},
    "header": {"red": 0.122, "green": 0.306, "blue": 0.471},
    "white": {"red": 1.0, "green": 1.0, "blue": 1.0},
    "missing": {"red": 0.612, "green": 0.0, "blue": 0.024},
}
SUMMARY_HEADERS = ("Figure", "Value", "Previous", "Change", "Last year", "Change", "Note")
FROZEN_ROWS = 2


def _cell(value: Any, unit: Unit) -> CellValue:
    """A value as written RAW: numbers stay numbers; dates, times and text become text."""
    value = plain(value)
    if value is None:
        return ""
    if isinstance(value, datetime | date):
        return format_value(
            value.astimezone(TIMEZONE) if isinstance(value, datetime) and value.tzinfo else value, unit
        )
    if isinstance(value, bool):
        return "yes" if value else ""
    if isinstance(value, int | float):
        return value
    return str(value)


def _points(change: float | None) -> float | None:
    """A change of a share in percentage points (0.05 -> 5.0)."""
    return None if change is None else change * 100


def _letter(col: int) -> str:
    name = ""
    col += 1
    while col:
        col, rest = divmod(col - 1, 26)
        name = chr(65 + rest) + name
    return name


@dataclass
class SheetLayout:
    """The tab's rows and, per region, what to format (row and column indexes from 0)."""

    rows: list[list[CellValue]] = field(default_factory=list)
    titles: list[int] = field(default_factory=list)
    headers: list[tuple[int, int]] = field(default_factory=list)  # (row, width)
    missing: list[int] = field(default_factory=list)
    numbers: list[tuple[int, int, int, Unit]] = field(
        default_factory=list
    )  # (first row, last row, col, unit)
    rules: list[tuple[int, int, int, Target]] = field(
        default_factory=list
    )  # (first row, last row, col, target)
    widths: dict[int, int] = field(default_factory=dict)  # column -> characters

    def add(self, row: list[CellValue]) -> int:
        """Append a row; returns its index."""
        self.rows.append(row)
        return len(self.rows) - 1

    def requests(self, sheet_id: int) -> list[dict[str, Any]]:
        """The formatting requests for the tab ``sheet_id``."""
        found: list[dict[str, Any]] = [
            {
                "updateSheetProperties": {
                    "properties": {"sheetId": sheet_id, "gridProperties": {"frozenRowCount": FROZEN_ROWS}},
                    "fields": "gridProperties.frozenRowCount",
                }
            }
        ]

        def grid(r0: int, r1: int, c0: int, c1: int) -> dict[str, int]:
            return {
                "sheetId": sheet_id,
                "startRowIndex": r0,
                "endRowIndex": r1,
                "startColumnIndex": c0,
                "endColumnIndex": c1,
            }

        def repeat(area: dict[str, int], fmt: dict[str, Any], fields: str) -> dict[str, Any]:
            return {"repeatCell": {"range": area, "cell": {"userEnteredFormat": fmt}, "fields": fields}}

        for row in self.titles:
            found.append(
                repeat(
                    grid(row, row + 1, 0, 1),
                    {"textFormat": {"bold": True, "fontSize": 13}},
                    "userEnteredFormat.textFormat",
                )
            )
        for row, width in self.headers:
            fmt = {
                "backgroundColor": _RGB["header"],
                "textFormat": {"bold": True, "foregroundColor": _RGB["white"]},
                "wrapStrategy": "WRAP",
            }
            found.append(
                repeat(
                    grid(row, row + 1, 0, width),
                    fmt,
                    "userEnteredFormat(backgroundColor,textFormat,wrapStrategy)",
                )
            )
        for row in self.missing:
            fmt = {"textFormat": {"italic": True, "foregroundColor": _RGB["missing"]}}
            found.append(repeat(grid(row, row + 1, 0, 1), fmt, "userEnteredFormat.textFormat"))
        for first, last, col, unit in self.numbers:
            if unit in SHEET_FORMATS:
                kind, pattern = SHEET_FORMATS[unit]
                found.append(
                    repeat(
                        grid(first, last + 1, col, col + 1),
                        {"numberFormat": {"type": kind, "pattern": pattern}},
                        "userEnteredFormat.numberFormat",
                    )
                )
        index = 0
        for first, last, col, target in self.rules:
            cell = f"{_letter(col)}{first + 1}"
            good = ">=" if target.higher_is_better else "<="
            bad = "<" if target.higher_is_better else ">"
            for formula, colour in (
                (f"=AND(ISNUMBER({cell}),{cell}{good}{target.green})", "green"),
                (f"=AND(ISNUMBER({cell}),{cell}{bad}{target.red})", "red"),
                (f"=ISNUMBER({cell})", "amber"),
            ):
                condition = {"type": "CUSTOM_FORMULA", "values": [{"userEnteredValue": formula}]}
                rule = {
                    "ranges": [grid(first, last + 1, col, col + 1)],
                    "booleanRule": {"condition": condition, "format": {"backgroundColor": _RGB[colour]}},
                }
                found.append({"addConditionalFormatRule": {"rule": rule, "index": index}})
                index += 1
        for col, chars in sorted(self.widths.items()):
            found.append(
                {
                    "updateDimensionProperties": {
                        "range": {
                            "sheetId": sheet_id,
                            "dimension": "COLUMNS",
                            "startIndex": col,
                            "endIndex": col + 1,
                        },
                        "properties": {"pixelSize": max(60, min(chars, 60) * 7)},
                        "fields": "pixelSize",
                    }
                }
            )
        return found


def sheet_layout(report: Report) -> SheetLayout:
    """The report laid out as one tab (see the module docstring)."""
    layout = SheetLayout()
    layout.titles.append(layout.add([f"{report.title} {report.period}"]))
    made = report.generated_at.astimezone(TIMEZONE).strftime("%Y-%m-%d %H:%M")
    layout.add([f"{report.period.start} to {report.period.end} (Berlin); made {made}"])
    layout.add([])
    layout.headers.append((layout.add(list(SUMMARY_HEADERS)), len(SUMMARY_HEADERS)))
    for col, width in enumerate((34, 16, 16, 10, 16, 10, 60)):
        layout.widths[col] = width
    for item in report.kpis:
        changes = [item.change(item.previous), item.change(item.last_year)]
        note = "" if item.value is not None else f"missing: {item.missing}"
        row = layout.add(
            [
                item.label,
                _cell(item.value, item.unit),
                _cell(item.previous.value if item.previous else None, item.unit),
                _cell(_points(changes[0]) if item.change_in_points else changes[0], "pct"),
                _cell(item.last_year.value if item.last_year else None, item.unit),
                _cell(_points(changes[1]) if item.change_in_points else changes[1], "pct"),
                note,
            ]
        )
        for col in (1, 2, 4):
            layout.numbers.append((row, row, col, item.unit))
        for col in (3, 5):  # a share's change is in points: shown as a number of points
            layout.numbers.append((row, row, col, "number" if item.change_in_points else "pct"))
        if item.target is not None:
            layout.rules.append((row, row, 3 if item.target_on_change else 1, item.target))
    missing = report.missing()
    if missing:
        layout.add([])
        layout.titles.append(layout.add(["Missing data (not shown as zero)"]))
        for text in missing:
            layout.missing.append(layout.add([text]))
    for table in report.tables:
        layout.add([])
        layout.titles.append(layout.add([table.title]))
        if table.missing:
            layout.missing.append(layout.add([f"Missing: {table.missing}"]))
        elif table.note:
            layout.add([table.note])
        layout.headers.append((layout.add([c.label for c in table.columns]), len(table.columns)))
        first = len(layout.rows)
        for values in table.records():
            layout.add([_cell(v, c.unit) for c, v in zip(table.columns, values, strict=True)])
        last = len(layout.rows) - 1
        if last >= first:
            for col, column in enumerate(table.columns):
                layout.numbers.append((first, last, col, column.unit))
                if column.key in table.targets:
                    layout.rules.append((first, last, col, table.targets[column.key]))
        for col, column in enumerate(table.columns):
            layout.widths[col] = max(layout.widths.get(col, 0), column.width or len(column.label) + 2)
    return layout


def sheet_tab(report: Report) -> tuple[str, list[list[CellValue]], Callable[[int], list[dict[str, Any]]]]:
    """The tab's title, rows and formatting (for ``GoogleSheetsBackend.rewrite_tab``)."""
    layout = sheet_layout(report)
    return report.title, layout.rows, layout.requests
