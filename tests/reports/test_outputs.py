"""The text outputs of a report (markdown, table rows, the Google Sheets layout) and its PNG charts."""

from __future__ import annotations

import pytest

from jtl_automator.reports.gsheet import sheet_layout
from jtl_automator.reports.markdown import format_value, headline_markdown, table_description, table_rows
from tests.reports.literal import literal_report


@pytest.mark.parametrize(
    ("value", "unit", "text"),
    [
        pytest.param(1234.5, "eur", "1,234.50 €", id="eur"),
        pytest.param(0.1234, "pct", "12.3 %", id="pct"),
        pytest.param(12345.0, "count", "12,345", id="count"),
        pytest.param(2.25, "hours", "2.2 h", id="hours"),
        pytest.param(None, "eur", "", id="missing-is-empty-not-zero"),
        pytest.param(float("nan"), "count", "", id="nan-is-empty"),
    ],
)
def test_values_are_formatted_by_unit(value: float | None, unit: str, text: str) -> None:
    assert format_value(value, unit) == text  # type: ignore[arg-type]


def test_the_headline_markdown_has_figures_changes_status_and_what_is_missing() -> None:
    text = headline_markdown(literal_report(), workbook="/srv/reports/weekly/2026-W47.xlsx", sheet="abc")
    assert text.startswith("# Weekly KPIs 2026-W47\n")
    assert "| Figure | Value | vs 2026-W46 | vs 2025-W47 | Status |" in text
    assert (
        "| Revenue net | 1,250.00 € | +25.0 % (1,000.00 €) | n/a: no history: the order ledger starts on"
        in text
    )
    assert "| 🟢 |" in text.splitlines()[6]  # revenue grew: green on the change
    assert "| Margin % | 40.0 % | +2.0 pp (38.0 %) |" in text  # a share: points
    assert "| Return rate | missing: no source yet |" in text
    assert "- Return rate: no source yet" in text and "- Dead stock: needs 90 days" in text
    assert "Workbook: [/srv/reports/weekly/2026-W47.xlsx](file:///srv/reports/weekly/2026-W47.xlsx)" in text
    assert "https://docs.google.com/spreadsheets/d/abc/edit" in text


def test_table_rows_are_capped_and_described() -> None:
    report = literal_report(rows=5)
    table = report.table("sales_by_day")
    rows = table_rows(table, 2)
    assert rows == [
        {"Day": "2026-11-16", "Orders": "1", "Revenue net": "100.00 €", "Late (h)": "0.0 h"},
        {"Day": "2026-11-17", "Orders": "2", "Revenue net": "200.00 €", "Late (h)": "10.0 h"},
    ]
    assert table_description(table, 2) == "Sales by day: the first 2 of 5 rows"
    assert table_description(report.table("dead_stock"), 2) == "Dead stock: missing: needs 90 days"


def test_the_sheet_layout_puts_numbers_formats_and_rules_where_the_values_are() -> None:
    layout = sheet_layout(literal_report())
    rows = layout.rows
    assert rows[0] == ["Weekly KPIs 2026-W47"] and rows[3][:2] == ["Figure", "Value"]
    assert rows[4][:4] == ["Revenue net", 1250.0, 1000.0, 0.25]
    assert rows[5][:4] == ["Margin %", 0.4, 0.38, pytest.approx(2.0)]  # points, as a number
    assert rows[6][1] == "" and rows[6][6] == "missing: no source yet"
    title = next(i for i, r in enumerate(rows) if r == ["Sales by day"])
    assert rows[title + 1] == ["Day", "Orders", "Revenue net", "Late (h)"]
    assert rows[title + 2] == ["2026-11-16", 1, 100.0, 0.0]
    requests = layout.requests(7)
    assert requests[0]["updateSheetProperties"]["properties"]["gridProperties"] == {"frozenRowCount": 2}
    formats = [r["repeatCell"] for r in requests if "repeatCell" in r]
    money = [
        f for f in formats if f["cell"]["userEnteredFormat"].get("numberFormat", {}).get("type") == "CURRENCY"
    ]
    assert {
        "sheetId": 7,
        "startRowIndex": 4,
        "endRowIndex": 5,
        "startColumnIndex": 1,
        "endColumnIndex": 2,
    } in [f["range"] for f in money]
    rules = [r["addConditionalFormatRule"] for r in requests if "addConditionalFormatRule" in r]
    formulas = [r["rule"]["booleanRule"]["condition"]["values"][0]["userEnteredValue"] for r in rules]
    assert formulas[:3] == ["=AND(ISNUMBER(D5),D5>=0.0)", "=AND(ISNUMBER(D5),D5<-0.1)", "=ISNUMBER(D5)"]
    late = [
        r
        for r in rules
        if r["rule"]["ranges"][0]["startColumnIndex"] == 3
        and r["rule"]["ranges"][0]["startRowIndex"] == title + 2
    ]
    assert len(late) == 3 and late[0]["rule"]["ranges"][0]["endRowIndex"] == title + 5  # the three data rows
    assert [r["index"] for r in rules] == list(range(len(rules)))


@pytest.mark.slow
def test_every_chart_kind_draws_a_png() -> None:
    from jtl_automator.reports.model import Chart
    from jtl_automator.reports.picture import chart_png, data_uri

    report = literal_report()
    table = report.table("sales_by_day")
    for chart in (
        report.charts[0],
        Chart("top", "Top", "bar", "sales_by_day", "day", ("net",)),
        Chart("stack", "Stack", "stacked_bar", "sales_by_day", "day", ("orders", "late")),
    ):
        png = chart_png(chart, table)
        assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 5000
    assert data_uri(b"\x89PNG").startswith("data:image/png;base64,")
