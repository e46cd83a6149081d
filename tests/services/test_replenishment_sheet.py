"""The Google Sheet "Bestellvorschlag" through the real gspread against the sandbox's Sheets v4 API."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jtl_automator.plans import LineKey, PlanStore
from jtl_automator.sandbox.app import create_app
from jtl_automator.sandbox.config import SandboxConfig
from jtl_automator.sandbox.data import SandboxData
from jtl_automator.sandbox.server import serve_in_thread
from jtl_automator.sandbox.sheets import make_service_account_info, new_spreadsheet
from jtl_automator.services.replenishment import propose_restock_plans, workbook_tabs
from jtl_automator.services.replenishment.approvals import approve_from_sheet
from jtl_automator.services.replenishment.output import APPROVAL_HEADER, PLAN_HEADER
from jtl_automator.services.replenishment.sheet import write_sheet
from jtl_automator.sheets.base import GOOGLE_MAX_CELL_CHARS
from jtl_automator.sheets.gsheets import GoogleSheetsBackend
from jtl_automator.store import StateStore
from tests.services.test_replenishment_output import PERIOD, _lines

ORDER = ["Low stock", "ACME_ Rohwaren", "Beta", "Not orderable"]


@pytest.fixture(params=["lenient", "strictest"])
def sandbox(request: pytest.FixtureRequest) -> Iterator[tuple[Any, str, dict[str, Any]]]:
    """Google's quotas (60 reads, 60 writes a minute), 50,000-character cells, 10 MiB bodies when strict."""
    config = SandboxConfig.strictest() if request.param == "strictest" else SandboxConfig()
    app = create_app(SandboxData(), config)
    with serve_in_thread(app) as server:
        yield app.state.sandbox, f"{server.base_url}/sheets", make_service_account_info(server.base_url)


@pytest.fixture
def plans(tmp_path: Path) -> Iterator[PlanStore]:
    store = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
    try:
        yield PlanStore(store)
    finally:
        store.dispose()


def _book(state: Any, tabs: dict[str, list[list[Any]]]) -> str:
    book = new_spreadsheet("Bestellvorschlag", tabs)
    with state.data.lock:
        state.data.spreadsheets[book.spreadsheet_id] = book
    return book.spreadsheet_id


def _tabs(state: Any, sid: str) -> dict[str, list[list[Any]]]:
    """The stored cells, trailing empty cells and rows left out (as values.get answers)."""

    def trim(row: list[Any]) -> list[Any]:
        while row and row[-1] in ("", None):
            row = row[:-1]
        return row

    tabs = {}
    for ws in state.data.spreadsheets[sid].worksheets:
        rows = [trim(list(row)) for row in ws.values]
        while rows and not rows[-1]:
            rows.pop()
        tabs[ws.title] = rows
    return tabs


@pytest.mark.slow
def test_tabs_are_written_in_order_stale_supplier_tabs_go_notes_stay(
    sandbox: tuple[Any, str, dict[str, Any]], plans: PlanStore
) -> None:
    state, api, account = sandbox
    old = [["SKU", "Warehouse", APPROVAL_HEADER, PLAN_HEADER], ["OLD", "W1", "", 1]]
    beta_before = [["stale"] * 14 for _ in range(40)]
    sid = _book(state, {"Sheet1": [], "Old supplier": old, "Beta": beta_before, "Notes": [["keep me"]]})
    lines = _lines()
    lines.loc[lines["merchant_sku"] == "A", "reason"] = "r" * (GOOGLE_MAX_CELL_CHARS + 10_000)
    proposed = propose_restock_plans(lines, plans, PERIOD)
    tabs = workbook_tabs(lines, proposed)
    state.runtime.sheets.requests.clear()
    backend = GoogleSheetsBackend(sid, account, api_url=api)
    write_sheet(backend, tabs)

    stored = _tabs(state, sid)
    assert list(stored)[:4] == ORDER and "Old supplier" not in stored
    assert stored["Notes"] == [["keep me"]] and "Sheet1" in stored
    beta = stored["Beta"]
    assert beta[0] == tabs[2].headers and len(beta) == len(tabs[2].rows) + 1 < 40  # cleared, not overlaid
    acme = stored["ACME_ Rohwaren"]
    assert [row[-1] for row in acme[1:]] == [proposed[0].plan_id] * 2
    reason = next(row[tabs[1].headers.index("Reason")] for row in acme if row[0] == "A")
    assert len(reason) == GOOGLE_MAX_CELL_CHARS  # cut to Google's cell limit, the batch still written
    calls = state.runtime.sheets.requests
    writes = calls["spreadsheets.batchUpdate"] + calls["values.batchClear"] + calls["values.batchUpdate"]
    assert writes == 3  # one structural update, one clear, one values write for all four tabs


@pytest.mark.slow
def test_marks_in_the_sheet_approve_their_lines_once(
    sandbox: tuple[Any, str, dict[str, Any]], plans: PlanStore
) -> None:
    state, api, account = sandbox
    sid = _book(state, {"Sheet1": []})
    proposed = propose_restock_plans(_lines(), plans, PERIOD)
    backend = GoogleSheetsBackend(sid, account, api_url=api)
    write_sheet(backend, workbook_tabs(_lines(), proposed))
    acme = next(ws.values for ws in state.data.spreadsheets[sid].worksheets if ws.title == "ACME_ Rohwaren")
    mark = acme[0].index(APPROVAL_HEADER)
    for row in acme[1:]:  # a person ticks B and writes "später" at A
        row[mark] = "x" if row[0] == "B" else "später"
    applied = approve_from_sheet(GoogleSheetsBackend(sid, account, api_url=api), plans, "anna")
    assert [(p.id, keys) for p, keys in applied.approved] == [(proposed[0].plan_id, [LineKey("B", "W2")])]
    assert len(applied.problems) == 1 and "'später'" in applied.problems[0]
    again = approve_from_sheet(GoogleSheetsBackend(sid, account, api_url=api), plans, "anna")
    assert again.approved == []
