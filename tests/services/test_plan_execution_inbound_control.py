"""The Inbound Control sheet filled from executed plans: a real .xlsx (read back with openpyxl) and the
sandbox's Google Sheet (through gspread), each line exactly once, and the inbound verification checking
the rows against the inbounds the plan execution made in the sandbox FFN."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from jtl_automator.plans import LineStatus, PlanStatus
from jtl_automator.sandbox.data import Spreadsheet, Worksheet
from jtl_automator.sandbox.ffn import receive_inbound
from jtl_automator.sandbox.sheets import make_service_account_info
from jtl_automator.services import inbound_verification as verification
from jtl_automator.services import plan_execution as svc
from jtl_automator.sheets.gsheets import GoogleSheetsBackend
from jtl_automator.sheets.xlsx import ExcelBackend
from tests.services.test_plan_execution_service import World, _two_warehouse_plan, _world

HEADER = ["SKU", "Units", "Inbound", "Warehouse", "Status", "Note", "Bearbeiter"]
STAFF_ROW = ["HAND-1", 3, "ANL-2026-0001", None, "MATCH", None, "mk"]
TODAY_AT = datetime(2026, 11, 26, 9, tzinfo=UTC)


@pytest.fixture
def world(tmp_path: Path, sandbox_config: Callable[..., Any]) -> Iterator[World]:
    yield from _world(tmp_path, sandbox_config(sheets_requests_per_minute=10_000))


def _workbook(path: Path, rows: list[list[Any]]) -> Path:
    book = openpyxl.Workbook()
    tab = book.active
    assert tab is not None
    tab.title = "Inbound Control"
    for row in rows:
        tab.append(row)
    book.create_sheet("Archiv").append(["alt"])
    book.save(path)
    return path


def _rows(path: Path, tab: str = "Inbound Control") -> list[list[Any]]:
    """The tab as openpyxl reads the file again (trailing empty cells dropped)."""
    book = openpyxl.load_workbook(path)
    values = [list(r) for r in book[tab].iter_rows(values_only=True)]
    book.close()
    out = []
    for row in values:
        while row and row[-1] is None:
            row.pop()
        out.append(row)
    return out


def _google(world: World, sid: str, rows: list[list[Any]]) -> GoogleSheetsBackend:
    world.state.data.spreadsheets[sid] = Spreadsheet(
        sid, "Inbound Control", [Worksheet("Wareneingang", 0, rows, row_count=len(rows) + 20)]
    )
    info = make_service_account_info(world.base_url)
    return GoogleSheetsBackend(sid, info, api_url=f"{world.base_url}/sheets")


def _grid(world: World, sid: str) -> list[list[Any]]:
    return list(world.state.data.spreadsheets[sid].worksheets[0].values)


def _appends(world: World) -> int:
    return int(world.state.runtime.get("sheets_requests", {}).get("values.append", 0))


def _expected(world: World, plan_id: int) -> list[list[Any]]:
    """The rows a two-warehouse plan becomes: SKU, units, merchantInboundNumber, warehouse."""
    w1, w2 = world.warehouses()[:2]
    a, b, c = world.skus(3)
    number = f"PO-{plan_id}-L10001"
    return [[a, 10, f"{number}-{w1}", w1], [b, 4, f"{number}-{w1}", w1], [c, 7, f"{number}-{w2}", w2]]


# --------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_an_executed_plan_lands_in_the_workbook_once_and_a_rerun_appends_nothing(
    world: World, tmp_path: Path
) -> None:
    path = _workbook(tmp_path / "inbound.xlsx", [["Inbound Control"], [], HEADER, STAFF_ROW])
    plan = _two_warehouse_plan(world)
    target = svc.InboundControlTarget(ExcelBackend(path), str(path))

    result = world.run(inbound_control=target)

    assert result["counts"] == {"executed": 3}
    filled = result["inbound_control"]
    assert filled["summary"] == "Inbound Control: 3 rows appended (0 already there)"
    assert (filled["worksheet"], filled["first_row"]) == ("Inbound Control", 5)
    rows = _rows(path)
    assert rows[:4] == [["Inbound Control"], [], HEADER, STAFF_ROW]  # nothing above moved or changed
    assert rows[4:] == _expected(world, plan.id)
    assert _rows(path, "Archiv") == [["alt"]]
    done = world.plans.get(plan.id)
    assert done.status is PlanStatus.DONE
    records = {
        line.sku: (line.execution.extra or {})["inbound_control"] for line in done.lines if line.execution
    }
    assert sorted(r["row"] for r in records.values()) == [5, 6, 7]
    assert {(r["sheet"], r["worksheet"], r["appended"]) for r in records.values()} == {
        (str(path), "Inbound Control", True)
    }

    stamp = path.stat().st_mtime_ns
    again = svc.fill_plans(world.plans, target, [plan.id], dry_run=False, at=datetime.now(UTC))
    assert again.summary_line() == "Inbound Control: 0 rows appended (3 already there)"
    assert [at for _, at in again.already] == [5, 6, 7]
    assert path.stat().st_mtime_ns == stamp and len(_rows(path)) == 7  # the file was not even rewritten


@pytest.mark.slow
def test_a_line_someone_already_listed_is_not_added_again_and_the_next_run_skips_listed_lines(
    world: World, tmp_path: Path
) -> None:
    plan = _two_warehouse_plan(world)
    first, _, third = _expected(world, plan.id)
    world.run()  # executed without a sheet
    inbound_id = world.inbound(str(third[2]))["inboundId"]
    # a colleague listed one line by hand, without a warehouse; another by the inbound's id
    path = _workbook(
        tmp_path / "inbound.xlsx",
        [HEADER, [first[0], 10, first[2], "", "", "", "mk"], [third[0], 7, inbound_id, third[3]]],
    )
    target = svc.InboundControlTarget(ExcelBackend(path), str(path))
    filled = svc.fill_plans(world.plans, target, [plan.id], dry_run=False, at=datetime.now(UTC))
    assert filled.summary_line() == "Inbound Control: 1 rows appended (2 already there)"
    assert _rows(path)[3:] == [_expected(world, plan.id)[1]]
    second = _expected(world, plan.id)[1]
    records = {
        line.sku: (line.execution.extra or {})["inbound_control"]
        for line in world.plans.get(plan.id).lines
        if line.execution
    }
    assert {sku: (r["row"], r["appended"]) for sku, r in records.items()} == {
        first[0]: (2, False),
        second[0]: (4, True),
        third[0]: (3, False),
    }

    # a later run of the plan's flow offers only lines no fill has listed: none here
    outcomes = [svc.LineOutcome(plan.id, str(first[0]), str(first[3]), 10, "executed")]
    assert svc.fill_after_run(world.plans, target, outcomes, dry_run=False, at=TODAY_AT).appended == ()


@pytest.mark.slow
def test_the_google_sheet_gets_the_rows_once_through_the_api(world: World) -> None:
    backend = _google(world, "ic-google", [["Inbound Control – Anlieferungen"], HEADER[:6]])
    plan = _two_warehouse_plan(world)
    target = svc.InboundControlTarget(backend, "ic-google", "Wareneingang")

    result = world.run(inbound_control=target)

    assert result["inbound_control"]["summary"] == "Inbound Control: 3 rows appended (0 already there)"
    grid = _grid(world, "ic-google")
    assert [row[:4] for row in grid[2:]] == _expected(world, plan.id)
    assert _appends(world) == 1  # one values.append for all rows

    again = svc.fill_plans(world.plans, target, [plan.id], dry_run=False, at=TODAY_AT)
    assert again.summary_line() == "Inbound Control: 0 rows appended (3 already there)"
    assert _appends(world) == 1 and _grid(world, "ic-google") == grid


@pytest.mark.slow
def test_a_sheet_without_the_header_is_a_clear_error_and_the_execution_stands(
    world: World, tmp_path: Path
) -> None:
    path = _workbook(tmp_path / "inbound.xlsx", [["Artikel", "Menge", "Lieferung", "Status", "Note"]])
    before = path.read_bytes()
    plan = _two_warehouse_plan(world)
    target = svc.InboundControlTarget(ExcelBackend(path), str(path))

    with pytest.raises(svc.InboundControlNotFilled) as failed:
        world.run(inbound_control=target)

    message = str(failed.value)
    assert "\n" not in message and "'SKU'" in message and "'Units'" in message
    assert f"jtl-automator plans fill-inbound-control {plan.id} --sheet {path}" in message
    assert path.read_bytes() == before
    done = world.plans.get(plan.id)
    assert done.status is PlanStatus.DONE  # not undone: the supplier has the order, FFN the inbounds
    assert all("inbound_control" not in (line.execution.extra or {}) for line in done.lines if line.execution)
    assert len(world.messages()) == 1

    no_inbound = _workbook(tmp_path / "stock.xlsx", [["SKU", "Units", "Status", "Note"]])
    with pytest.raises(svc.InboundControlNotFilled, match=r"'Inbound \(the fill writes"):
        svc.fill_plans(
            world.plans,
            svc.InboundControlTarget(ExcelBackend(no_inbound), str(no_inbound)),
            [plan.id],
            dry_run=False,
            at=TODAY_AT,
        )


@pytest.mark.slow
def test_a_dry_run_names_the_rows_it_would_append_and_writes_nothing(world: World, tmp_path: Path) -> None:
    path = _workbook(tmp_path / "inbound.xlsx", [HEADER])
    before = path.read_bytes()
    plan = _two_warehouse_plan(world)
    result = world.run(dry_run=True, inbound_control=svc.InboundControlTarget(ExcelBackend(path), str(path)))
    filled = result["inbound_control"]
    assert filled["summary"] == "Inbound Control (dry run): 3 rows would be appended (0 already there)"
    assert [[r["sku"], r["units"], r["inbound"], r["warehouse"]] for r in filled["rows"]] == _expected(
        world, plan.id
    )
    assert path.read_bytes() == before
    assert world.plans.get(plan.id).status is PlanStatus.APPROVED
    assert "Inbound Control (dry run): 3 rows would be appended" in svc.summary_markdown(result)


@pytest.mark.slow
def test_the_inbound_verification_then_checks_the_rows_against_the_plans_inbounds(world: World) -> None:
    """End to end: plan -> inbounds in FFN -> rows in the sheet -> the verification's statuses."""
    backend = _google(world, "ic-e2e", [HEADER[:6]])
    plan = _two_warehouse_plan(world)
    world.run(inbound_control=svc.InboundControlTarget(backend, "ic-e2e"))
    columns = verification.SheetColumns(warehouse="Warehouse")

    def check() -> dict[str, tuple[str, str]]:
        sheet = verification.read_inbound_sheet(backend, None, columns)
        mode = verification.decide_mode(sheet, None)
        items = verification.load_inbound_items(world.ffn, sheet.rows["inbound"].tolist())
        results = verification.verify(sheet, verification.load_products(world.ffn), items, None, mode)
        verification.write_results(backend, sheet, results, TODAY_AT)
        grid = _grid(world, "ic-e2e")
        return {str(row[0]): (str(row[4]), str(row[5])) for row in grid[1:]}

    a, b, c = world.skus(3)
    assert {sku: status for sku, (status, _) in check().items()} == dict.fromkeys((a, b, c), "PENDING")

    first, _, third = _expected(world, plan.id)
    jfsku = {p["merchantSku"]: p["jfsku"] for p in world.data.ffn.products.values()}
    receive_inbound(world.state, world.inbound(str(first[2]))["inboundId"], {jfsku[a]: 10, jfsku[b]: 4})
    receive_inbound(world.state, world.inbound(str(third[2]))["inboundId"], {jfsku[c]: 5})
    statuses = check()
    assert statuses[a] == statuses[b] == ("MATCH", "")
    assert statuses[c][0] == "MISMATCH" and statuses[c][1].startswith("received 5 of 7 (difference -2)")
    assert {line.status for line in world.plans.get(plan.id).lines} == {LineStatus.EXECUTED}
