"""The inbound verification steps without Prefect: sheet mapping, bulk loading, large sheets."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import pytest

from jtl_automator.clients.ffn.client import FfnClient
from jtl_automator.sandbox.app import create_app
from jtl_automator.sandbox.config import SandboxConfig
from jtl_automator.sandbox.data import Spreadsheet, Worksheet
from jtl_automator.sandbox.generator import generate
from jtl_automator.sandbox.server import credentials_env, serve_in_thread
from jtl_automator.sandbox.sheets import make_service_account_info
from jtl_automator.services import inbound_verification as svc
from jtl_automator.settings import Settings
from jtl_automator.sheets.base import HeaderNotFound, SheetError
from jtl_automator.sheets.gsheets import GoogleSheetsBackend
from jtl_automator.store import StateStore


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("svc")
    config = SandboxConfig(sheets_requests_per_minute=10_000)
    data = generate(seed=11, skus=400, orders=20, customers=10)
    app = create_app(data, config)
    with serve_in_thread(app) as server:
        env = credentials_env(server.base_url, config, None)
        settings = Settings(**{k.removeprefix("JTL_").lower(): v for k, v in env.items()})
        store = StateStore(f"sqlite:///{tmp / 'state.db'}")
        yield {
            "state": app.state.sandbox,
            "ffn": FfnClient.from_settings(settings, store),
            "sa": make_service_account_info(server.base_url),
            "api": f"{server.base_url}/sheets",
        }


def _sheet(world: dict[str, Any], sid: str, values: list[list[Any]]) -> GoogleSheetsBackend:
    state = world["state"]
    state.data.spreadsheets[sid] = Spreadsheet(
        sid, "Test", [Worksheet("Inbound Control", 0, values, row_count=len(values) + 10)]
    )
    return GoogleSheetsBackend(sid, world["sa"], api_url=world["api"])


def _tab(world: dict[str, Any], sid: str) -> Worksheet:
    return world["state"].data.spreadsheets[sid].worksheets[0]  # type: ignore[no-any-return]


def _cells(world: dict[str, Any], sid: str) -> list[list[Any]]:
    """The stored grid of the sandbox worksheet (a list of rows, not pandas)."""
    return _tab(world, sid).values  # noqa: PD011


def _receipted_items(world: dict[str, Any]) -> list[tuple[str, str, int]]:
    data = world["state"].data
    sku_of = {p["jfsku"]: p["merchantSku"] for p in data.ffn.products.values()}
    out = []
    for inbound in data.ffn.inbounds.values():
        for item in inbound["items"]:
            out.append(
                (
                    sku_of[item["jfsku"]],
                    inbound["merchantInboundNumber"],
                    item["quantity"] - item["quantityOpen"],
                )
            )
    return out


def _verify(world: dict[str, Any], backend: GoogleSheetsBackend, **columns: Any) -> tuple[Any, Any]:
    """Read and reconcile like the flow (no history): the sheet and its results."""
    sheet = svc.read_inbound_sheet(backend, None, svc.SheetColumns(**columns))
    mode = svc.decide_mode(sheet, None)
    products = svc.load_products(world["ffn"])
    items = stocks = None
    if mode == "inbound":
        items = svc.load_inbound_items(world["ffn"], sheet.rows["inbound"])
    else:
        stocks = svc.load_stocks(world["ffn"], svc.jfskus_of(sheet, products))
    return sheet, svc.verify(sheet, products, items, stocks, mode)


def _status_of(values: list[list[Any]], row: int) -> str:
    cells = values[row - 1]
    return str(cells[3]) if len(cells) > 3 else ""


@pytest.mark.slow
def test_letters_are_taken_only_where_the_option_says_letter(world: dict[str, Any]) -> None:
    sku, ref, received = _receipted_items(world)[0]
    backend = _sheet(
        world,
        "letters",
        [["Artikel", "Menge", "Lieferung", "Ergebnis", "Hinweis"], [sku, str(received), ref, "", ""]],
    )
    columns = {"sku": "Artikel", "units": "letter:B", "inbound": "letter:c", "status": "letter:D"}
    sheet, results = _verify(world, backend, **columns, note="hinweis")
    assert (sheet.status_col, sheet.note_col) == ("D", "E")
    assert svc.decide_mode(sheet, None) == "inbound"
    assert results["status"].tolist() == ["MATCH"]
    with pytest.raises(HeaderNotFound, match=r"'B'.*write 'letter:B'"):
        svc.read_inbound_sheet(backend, None, svc.SheetColumns(sku="Artikel", units="B", status="D"))


@pytest.mark.slow
def test_a_missing_sku_header_fails_before_any_write_and_is_never_column_sku(world: dict[str, Any]) -> None:
    """Issue 9: 'SKU' was read as the column letters S-K-U, so every row became INVALID_ROW."""
    rows = [["Artikel", "Units", "Inbound", "Status", "Note"], ["A-1", "1", "X", "MATCH", "keep me"]]
    backend = _sheet(world, "nosku", rows)
    before = dict(world["state"].runtime.sheets.requests)  # empty when no earlier test asked the sheet
    for spec in ("SKU", "sku", "Sku"):
        with pytest.raises(HeaderNotFound, match=f"'{spec}'"):
            svc.read_inbound_sheet(backend, None, svc.SheetColumns(sku=spec))
    after = world["state"].runtime.sheets.requests
    assert after.get("values.batchUpdate", 0) == before.get("values.batchUpdate", 0)
    assert _cells(world, "nosku")[1][3:] == ["MATCH", "keep me"]


def test_headers_match_ignoring_case_and_spacing(world: dict[str, Any]) -> None:
    sku, ref, received = _receipted_items(world)[0]
    header = ["  sku", "UNITS", "inbound ", "Status", "note"]
    backend = _sheet(world, "spacing", [["Titel"], header, [sku, str(received), ref, "", ""]])
    sheet, results = _verify(world, backend, units="units ", status="  STATUS")
    assert sheet.header_row == 2 and sheet.key_cols == {"sku": "A", "units": "B", "inbound": "C"}
    assert results["status"].tolist() == ["MATCH"]


def test_two_roles_on_one_column_are_refused(world: dict[str, Any]) -> None:
    backend = _sheet(world, "clash", [["SKU", "Units", "Inbound", "Status", "Note"], ["A", "1", "X", "", ""]])
    with pytest.raises(SheetError, match="sku and status are both column A"):
        svc.read_inbound_sheet(backend, None, svc.SheetColumns(status="letter:A"))


def test_missing_status_header_fails_before_any_write(world: dict[str, Any]) -> None:
    backend = _sheet(world, "nostatus", [["SKU", "Units", "Inbound", "Note"], ["A", "1", "X", ""]])
    with pytest.raises(HeaderNotFound, match="Status"):
        svc.read_inbound_sheet(backend, None, svc.SheetColumns())


def test_repeated_header_rows_are_skipped_and_never_written(world: dict[str, Any]) -> None:
    items = _receipted_items(world)
    header = ["SKU", "Units", "Inbound", "Status", "Note"]
    rows = [header, [items[0][0], str(items[0][2]), items[0][1], "", ""]]
    rows += [[" sku ", "UNITS", "Inbound", "Status", "Note"]]  # a second block pasted below
    rows += [[items[1][0], str(items[1][2]), items[1][1], "", ""]]
    backend = _sheet(world, "repeated", rows)
    sheet, results = _verify(world, backend)
    assert sheet.repeated_headers == (3,)
    assert results["row_number"].tolist() == [2, 4]
    outcome = svc.write_results(backend, sheet, results, datetime.now(UTC))
    values = _cells(world, "repeated")
    assert values[2] == [" sku ", "UNITS", "Inbound", "Status", "Note"]  # untouched
    assert _status_of(values, 2) == _status_of(values, 4) == "MATCH"
    assert outcome.cells == 4


def _shifting_sheet(
    world: dict[str, Any], sid: str
) -> tuple[GoogleSheetsBackend, list[tuple[str, str, int]]]:
    """Eight rows, every other one miscounted: a shift by one row would swap MATCH and MISMATCH."""
    items = [item for item in _receipted_items(world) if item[2] > 0][:8]
    rows: list[list[Any]] = [["Inbound Control"], ["SKU", "Units", "Inbound", "Status", "Note"]]
    for i, (sku, ref, received) in enumerate(items):
        rows.append([sku, str(received + (i % 2)), ref, "", ""])
    return _sheet(world, sid, rows), items


def _expected(items: list[tuple[str, str, int]]) -> dict[str, str]:
    return {f"{sku}|{ref}": "MATCH" if i % 2 == 0 else "MISMATCH" for i, (sku, ref, _) in enumerate(items)}


def _landed(world: dict[str, Any], sid: str) -> dict[str, str]:
    values = _cells(world, sid)
    return {f"{r[0]}|{r[2]}": str(r[3]) for r in values[2:] if len(r) > 3 and r[0] and r[3]}


@pytest.mark.slow
def test_a_row_inserted_during_the_run_does_not_shift_the_statuses(world: dict[str, Any]) -> None:
    backend, items = _shifting_sheet(world, "insert")
    sheet, results = _verify(world, backend)
    tab, grid = _tab(world, "insert"), _cells(world, "insert")
    grid.insert(3, ["NEU-1", "5", "ANL-NEU", "", ""])  # a colleague inserts a row meanwhile
    tab.row_count += 1
    outcome = svc.write_results(backend, sheet, results, datetime.now(UTC))
    assert _landed(world, "insert") == _expected(items)  # every status on its own row
    assert grid[3] == ["NEU-1", "5", "ANL-NEU", "", ""]  # the new row is left for the next run
    assert (outcome.in_place, outcome.moved, outcome.added, len(outcome.skipped)) == (1, 7, 1, 0)
    assert outcome.results["row_number"].tolist() == [3, *range(5, 12)]


def test_a_row_deleted_during_the_run_is_reported_and_the_rest_land_right(world: dict[str, Any]) -> None:
    backend, items = _shifting_sheet(world, "delete")
    sheet, results = _verify(world, backend)
    grid = _cells(world, "delete")
    gone = grid.pop(4)
    outcome = svc.write_results(backend, sheet, results, datetime.now(UTC))
    expected = _expected(items)
    del expected[f"{gone[0]}|{gone[2]}"]
    assert _landed(world, "delete") == expected
    assert outcome.skipped.to_dict("records") == [
        {
            "row_number": 5,
            "sku": gone[0],
            "inbound_ref": gone[2],
            "warehouse": "",
            "reason": "no longer in the sheet",
        }
    ]
    assert len(grid) == 2 + 8 - 1  # nothing written past the data


@pytest.mark.slow
def test_rows_sorted_during_the_run_are_written_where_they_are_now(world: dict[str, Any]) -> None:
    backend, items = _shifting_sheet(world, "sorted")
    sheet, results = _verify(world, backend)
    grid = _cells(world, "sorted")
    grid[2:] = sorted(grid[2:], key=lambda r: str(r[0]), reverse=True)
    outcome = svc.write_results(backend, sheet, results, datetime.now(UTC))
    assert _landed(world, "sorted") == _expected(items)
    assert outcome.moved + outcome.in_place == 8 and len(outcome.skipped) == 0


@pytest.mark.slow
def test_units_edited_during_the_run_are_not_overwritten_with_a_stale_status(world: dict[str, Any]) -> None:
    backend, _ = _shifting_sheet(world, "edited")
    sheet, results = _verify(world, backend)
    grid = _cells(world, "edited")
    grid[3][1] = "999"  # row 4's units corrected meanwhile
    outcome = svc.write_results(backend, sheet, results, datetime.now(UTC))
    assert _status_of(grid, 4) == ""
    assert outcome.skipped["reason"].tolist() == ["units edited during the run"]
    assert len(_landed(world, "edited")) == 7


def test_a_copy_added_during_the_run_holds_back_every_copy_of_that_row(world: dict[str, Any]) -> None:
    backend, _ = _shifting_sheet(world, "copy")
    sheet, results = _verify(world, backend)
    grid = _cells(world, "copy")
    grid.append(list(grid[2]))  # row 3 pasted again at the end: now a duplicate
    outcome = svc.write_results(backend, sheet, results, datetime.now(UTC))
    assert _status_of(grid, 3) == "" and _status_of(grid, len(grid)) == ""
    assert outcome.skipped["reason"].tolist() == ["a copy of this row was added or removed during the run"]


@pytest.mark.slow
def test_duplicates_that_moved_name_the_rows_where_they_are_now(world: dict[str, Any]) -> None:
    sku, ref, received = _receipted_items(world)[0]
    row = [sku, str(received), ref, "", ""]
    backend = _sheet(
        world, "dups", [["SKU", "Units", "Inbound", "Status", "Note"], row, list(row), list(row)]
    )
    sheet, results = _verify(world, backend)
    assert results["note"].tolist() == ["duplicate row for the same SKU and inbound (rows 2, 3, 4)"] * 3
    tab, grid = _tab(world, "dups"), _cells(world, "dups")
    grid.insert(1, ["ANDERS", "1", "X", "", ""])
    tab.row_count += 1
    svc.write_results(backend, sheet, results, datetime.now(UTC))
    notes = [r[4] for r in grid[2:5]]
    assert notes == ["duplicate row for the same SKU and inbound (rows 3, 4, 5)"] * 3


@pytest.mark.parametrize("change", ["column inserted", "status renamed"])
@pytest.mark.slow
def test_a_changed_header_layout_writes_nothing(world: dict[str, Any], change: str) -> None:
    backend, _ = _shifting_sheet(world, f"layout-{change}")
    sheet, results = _verify(world, backend)
    grid = _cells(world, f"layout-{change}")
    if change == "column inserted":
        for r in grid:
            r.insert(0, "")
    else:
        grid[1][3] = "Bemerkung"
    before = [list(r) for r in grid]
    with pytest.raises(svc.SheetChanged, match="Nothing was written"):
        svc.write_results(backend, sheet, results, datetime.now(UTC))
    assert grid == before


@pytest.mark.parametrize(
    "rows",
    [
        pytest.param([], id="header-only"),
        pytest.param(
            [["A-1", "3", "ANL-NONE-1", "", ""], ["A-2", "1", "ANL-NONE-2", "", ""]], id="unknown-inbounds"
        ),
    ],
)
@pytest.mark.slow
def test_nothing_from_ffn_is_a_normal_result(world: dict[str, Any], rows: list[list[Any]]) -> None:
    """Issue 9: an empty inbound-items frame failed its schema."""
    sku = _receipted_items(world)[0][0]
    rows = [[sku, *r[1:]] for r in rows]
    backend = _sheet(world, f"empty-{len(rows)}", [["SKU", "Units", "Inbound", "Status", "Note"], *rows])
    sheet, results = _verify(world, backend)
    assert len(results) == len(rows)
    assert set(results["status"]) <= {"INBOUND_NOT_FOUND"}
    outcome = svc.write_results(backend, sheet, results, datetime.now(UTC))
    assert outcome.cells == 2 * len(rows)
    assert svc.summary_markdown("t", svc.status_counts(results), results, dry_run=False, outcome=outcome)


@pytest.mark.slow
def test_stock_mode_with_only_unknown_skus_is_a_normal_result(world: dict[str, Any]) -> None:
    backend = _sheet(world, "stock-unknown", [["SKU", "Units", "Status", "Note"], ["ZZ-1", "3", "", ""]])
    sheet, results = _verify(world, backend)
    assert results["status"].tolist() == ["UNKNOWN_SKU"]
    svc.write_results(backend, sheet, results, datetime.now(UTC))
    assert _cells(world, "stock-unknown")[1][2] == "UNKNOWN_SKU"


@pytest.mark.slow
def test_ten_thousand_copies_make_small_notes_and_small_artifacts(world: dict[str, Any]) -> None:
    """Issue 9: every copy's note listed every row: a 591 MB table artifact."""
    sku, ref, _ = _receipted_items(world)[0]
    rows = [["SKU", "Units", "Inbound", "Status", "Note"]] + [[sku, "5", ref, "", ""] for _ in range(10_000)]
    backend = _sheet(world, "copies", rows)
    _, results = _verify(world, backend)
    assert results["note"].str.len().max() < 120
    assert results["note"].iloc[0].endswith("and 9,990 more)")
    table = svc.artifact_table(results)
    assert len(table) == svc.TABLE_ROWS
    assert len(json.dumps(table)) < 300_000
    markdown = svc.summary_markdown("t", svc.status_counts(results), results, dry_run=False, run_id="r-1")
    assert len(markdown) < 20_000 and "inbound_checks (run_id 'r-1')" in markdown
    assert "first 1,000 of 10,000 rows" in svc.where_the_full_list_is(10_000, dry_run=False, run_id=None)


def test_history_is_stored_in_batches(world: dict[str, Any]) -> None:
    sku, ref, _ = _receipted_items(world)[0]
    backend = _sheet(
        world, "batches", [["SKU", "Units", "Inbound", "Status", "Note"], [sku, "1", ref, "", ""]]
    )
    _, results = _verify(world, backend)
    many = pd.concat([results] * 5, ignore_index=True)
    batches = list(svc.history_batches(many, datetime.now(UTC), size=2))
    assert [len(b) for b in batches] == [2, 2, 1]
    assert batches[0][0]["sku"] == sku and batches[0][0]["inbound_ref"] == ref


@pytest.mark.slow
def test_a_run_stays_within_its_request_budget_under_googles_quotas(world: dict[str, Any]) -> None:
    """Metadata, two reads for the sheet, two for the re-check, one write: no 429 at 60 a minute."""
    state = world["state"]
    state.config = SandboxConfig.strictest()  # Google's 60 reads and 60 writes a minute, 10 MiB bodies
    state.runtime.sheets.quota.clear()
    state.runtime.sheets.write_quota.clear()
    try:
        backend, _ = _shifting_sheet(world, "budget")
        before = dict(state.runtime["sheets_requests"])
        sheet, results = _verify(world, backend)
        svc.write_results(backend, sheet, results, datetime.now(UTC))
        made = {k: v - before.get(k, 0) for k, v in state.runtime["sheets_requests"].items()}
    finally:
        state.config = SandboxConfig(sheets_requests_per_minute=10_000)
    assert {k: v for k, v in made.items() if v} == {
        "spreadsheets.get": 1,
        "values.get": 2,  # the top rows (header), the header row again before writing
        "values.batchGet": 2,  # the key columns, and again before writing
        "values.batchUpdate": 1,
    }
    assert backend.stats.rate_limited == 0


def test_few_references_are_filtered_many_are_listed(world: dict[str, Any]) -> None:
    items = _receipted_items(world)
    refs = sorted({ref for _, ref, _ in items})
    before = world["ffn"].stats.requests
    few = svc.load_inbound_items(world["ffn"], [*refs[:3], "NOPE"])
    assert world["ffn"].stats.requests - before == 1
    assert set(few["merchant_inbound_number"]) == set(refs[:3])
    before = world["ffn"].stats.requests
    many = svc.load_inbound_items(world["ffn"], refs + [f"X-{i}" for i in range(200)])
    assert world["ffn"].stats.requests - before == 1  # the whole (small) inbound list is one page
    assert set(many["merchant_inbound_number"]) == set(refs)


def test_mode_inbound_needs_the_column(world: dict[str, Any]) -> None:
    backend = _sheet(world, "noinbound", [["SKU", "Units", "Status", "Note"], ["A", "1", "", ""]])
    sheet = svc.read_inbound_sheet(backend, None, svc.SheetColumns())
    assert svc.decide_mode(sheet, None) == "stock"
    with pytest.raises(HeaderNotFound, match="Inbound"):
        svc.decide_mode(sheet, "inbound")


@pytest.mark.slow
def test_fifty_thousand_rows_in_one_read_and_one_write(world: dict[str, Any]) -> None:
    items = _receipted_items(world)
    rows = [["SKU", "Units", "Inbound", "Status", "Note"]]
    for i in range(50_000):
        sku, ref, received = items[i % len(items)]
        # each row is its own (SKU, inbound) pair only once: later copies point to unknown inbounds
        ref_i = ref if i < len(items) else f"ANL-X-{i}"
        rows.append([sku, str(received), ref_i, "", ""])
    backend = _sheet(world, "big", rows)
    state = world["state"]
    before = dict(state.runtime.get("sheets_requests", {}))
    ffn_before, refused_before = world["ffn"].stats.requests, world["ffn"].page_size.refusals
    sheet = svc.read_inbound_sheet(backend, None, svc.SheetColumns())
    products = svc.load_products(world["ffn"])
    inbound_items = svc.load_inbound_items(world["ffn"], sheet.rows["inbound"])
    results = svc.verify(sheet, products, inbound_items, None, "inbound")
    state.config = SandboxConfig.strictest(sheets_requests_per_minute=10_000)  # 10 MiB request bodies
    try:
        outcome = svc.write_results(backend, sheet, results, datetime.now(UTC))
    finally:
        state.config = SandboxConfig(sheets_requests_per_minute=10_000)
    assert outcome.cells == 100_000 and outcome.in_place == 50_000
    after = state.runtime["sheets_requests"]
    assert after["values.batchUpdate"] - before.get("values.batchUpdate", 0) == 1
    assert len(results) == 50_000
    counts = svc.status_counts(results)
    assert counts["MATCH"] == len(items) and counts["INBOUND_NOT_FOUND"] == 50_000 - len(items)
    written = _cells(world, "big")
    assert written[1][3] == "MATCH" and written[-1][3] == "INBOUND_NOT_FOUND"
    # 50,000 distinct references: one listing of the products and one of the inbounds (a page each at
    # the default size; a strict sandbox's small maximum costs more pages plus one request per halving).
    size = world["ffn"].page_size.current
    pages = sum(
        max(1, math.ceil(len(found) / size)) for found in (state.data.ffn.products, state.data.ffn.inbounds)
    )
    refused = world["ffn"].page_size.refusals - refused_before
    assert world["ffn"].stats.requests - ffn_before == pages + refused
