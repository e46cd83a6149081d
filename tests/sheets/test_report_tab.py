"""A report's tab in a Google spreadsheet (the sandbox's, through gspread): replaced whole, three requests."""

from __future__ import annotations

from typing import Any

import pytest

from jtl_automator.reports.gsheet import sheet_tab
from jtl_automator.sheets.gsheets import GoogleSheetsBackend
from tests.reports.literal import literal_report


def _tab(sheets_sandbox: Any, book: str, title: str) -> Any:
    return next(w for w in sheets_sandbox.state.data.spreadsheets[book].worksheets if w.title == title)


@pytest.mark.slow
def test_the_report_tab_is_replaced_whole_other_tabs_stay(sheets_sandbox: Any) -> None:
    book = sheets_sandbox.add_spreadsheet({"Notes": [["a person's notes"]]}, title="Reports")
    backend = GoogleSheetsBackend(book, sheets_sandbox.service_account, api_url=sheets_sandbox.api_url)

    sent = backend.rewrite_tab(*sheet_tab(literal_report(rows=6)))
    assert sent == 3
    assert sheets_sandbox.requests() == {
        "spreadsheets.get": 1,
        "spreadsheets.batchUpdate": 1,
        "values.batchUpdate": 1,
    }
    first = _tab(sheets_sandbox, book, "Weekly KPIs")
    assert [w.title for w in sheets_sandbox.state.data.spreadsheets[book].worksheets] == [
        "Weekly KPIs",
        "Notes",
    ]
    longer = len(first.values)

    sheets_sandbox.reset_counters()
    assert backend.rewrite_tab(*sheet_tab(literal_report(rows=2))) == 3
    again = _tab(sheets_sandbox, book, "Weekly KPIs")
    assert again.sheet_id != first.sheet_id  # a new tab: nothing of the old one's formats survives
    assert len(again.values) == longer - 4  # no row of the longer first run is left behind
    assert again.values[0][0] == "Weekly KPIs 2026-W47" and set(again.values[0][1:]) <= {""}  # padded rows
    assert again.values[4][:2] == ["Revenue net", 1250]
    assert _tab(sheets_sandbox, book, "Notes").values == [["a person's notes"]]


def test_a_spreadsheet_whose_only_tab_is_the_report_keeps_one(sheets_sandbox: Any) -> None:
    book = sheets_sandbox.add_spreadsheet({"Weekly KPIs": [["old"]]}, title="Reports")
    backend = GoogleSheetsBackend(book, sheets_sandbox.service_account, api_url=sheets_sandbox.api_url)
    backend.rewrite_tab(*sheet_tab(literal_report()))
    tabs = sheets_sandbox.state.data.spreadsheets[book].worksheets
    assert [w.title for w in tabs] == ["Weekly KPIs"] and tabs[0].values[0][0] == "Weekly KPIs 2026-W47"


@pytest.mark.slow
def test_the_tab_keeps_its_place_among_the_others(sheets_sandbox: Any) -> None:
    book = sheets_sandbox.add_spreadsheet(
        {"Daily operations": [["d"]], "Weekly KPIs": [["old"]], "Notes": []}
    )
    backend = GoogleSheetsBackend(book, sheets_sandbox.service_account, api_url=sheets_sandbox.api_url)
    backend.rewrite_tab(*sheet_tab(literal_report()))
    titles = [w.title for w in sheets_sandbox.state.data.spreadsheets[book].worksheets]
    assert titles == ["Daily operations", "Weekly KPIs", "Notes"]
