"""``jtl-automator plans fill-inbound-control``: a plan executed earlier listed in a workbook, once."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

import openpyxl
import pytest
from typer.testing import CliRunner

from jtl_automator.cli import app
from jtl_automator.plans import ExecutionRef, LineKey, NewLine, PlanScope, PlanStore
from jtl_automator.services.plan_execution import LEASE_NAME

HEADER = ["SKU", "Units", "Inbound", "Status", "Note"]


def _done_plan(plans: PlanStore) -> int:
    """A plan whose two lines were executed (into one warehouse: the PO number is the inbound number)."""
    plan_id = plans.create_or_get(
        "restock", PlanScope(warehouses=("W1",), supplier="S-1"), "2026-W48"
    ).plan.id
    plans.add_lines(
        plan_id,
        [NewLine(sku="00123", warehouse="W1", quantity=12), NewLine(sku="B-7", warehouse="W1", quantity=4)],
    )
    plans.approve(plan_id, "anna")
    plans.mark_executing(plan_id)
    ref = {"merchant_inbound_number": f"PO-{plan_id}-S1"}
    plans.mark_done(
        plan_id,
        {
            LineKey("00123", "W1"): ExecutionRef(f"PO-{plan_id}-S1", "IN-1", ref),
            LineKey("B-7", "W1"): ExecutionRef(f"PO-{plan_id}-S1", "IN-1", ref),
        },
    )
    return plan_id


def _workbook(path: Path, *rows: Sequence[object]) -> Path:
    book = openpyxl.Workbook()
    tab = book.active
    assert tab is not None
    tab.title = "Inbound Control"
    for row in rows:
        tab.append(row)
    book.save(path)
    return path


def _values(path: Path) -> list[tuple[object, ...]]:
    book = openpyxl.load_workbook(path)
    try:
        return [tuple(row) for row in book["Inbound Control"].iter_rows(values_only=True)]
    finally:
        book.close()


def _fill(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["plans", "fill-inbound-control", *args])
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.slow
def test_dry_run_then_fill_then_a_rerun_that_appends_nothing(plans: PlanStore, tmp_path: Path) -> None:
    plan_id = _done_plan(plans)
    path = _workbook(tmp_path / "ic.xlsx", HEADER)
    number = f"PO-{plan_id}-S1"

    code, _, err = _fill(str(plan_id), "--sheet", str(path), "--dry-run")
    assert code == 0, err
    assert f"would append: 00123, 12 units, inbound {number}, warehouse W1 (plan {plan_id})" in err
    assert "Inbound Control (dry run): 2 rows would be appended (0 already there)" in err
    assert _values(path) == [tuple(HEADER)]

    code, _, err = _fill(str(plan_id), "--sheet", str(path))
    assert code == 0, err
    assert f"Inbound Control: 2 rows appended (0 already there) in {path} / Inbound Control" in err
    assert _values(path)[1:] == [("00123", 12, number, None, None), ("B-7", 4, number, None, None)]
    shown = CliRunner().invoke(app, ["plans", "show", str(plan_id)]).output
    assert f"listed    2 of 2 executed lines in the Inbound Control {path}" in shown

    code, _, err = _fill(str(plan_id), "--sheet", str(path))
    assert code == 0 and "Inbound Control: 0 rows appended (2 already there)" in err
    assert len(_values(path)) == 3


@pytest.mark.slow
def test_errors_are_one_line_and_write_nothing(plans: PlanStore, tmp_path: Path) -> None:
    plan_id = _done_plan(plans)
    bad = _workbook(tmp_path / "bad.xlsx", ["Artikel", "Units", "Inbound", "Status", "Note"])
    code, _, err = _fill(str(plan_id), "--sheet", str(bad))
    assert code == 1 and err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(
        "Error: fill-inbound-control: Inbound Control not filled: worksheet 'Inbound Control'"
    )
    assert "'SKU'" in err and _values(bad) == [("Artikel", "Units", "Inbound", "Status", "Note")]

    good = _workbook(tmp_path / "ic.xlsx", HEADER)
    draft = plans.create_or_get("restock", PlanScope(supplier="S-2"), "2026-W49").plan.id
    plans.add_lines(draft, [NewLine(sku="C", warehouse="W1", quantity=1)])
    code, _, err = _fill(str(draft), "--sheet", str(good))
    assert code == 1 and err == (
        f"Error: plan {draft} (restock, supplier S-2, 2026-W49) has no executed lines (it is draft): "
        "nothing to list\n"
    )

    assert plans.store.acquire_lease(LEASE_NAME, "run-42", timedelta(minutes=5))
    code, _, err = _fill(str(plan_id), "--sheet", str(good))
    assert code == 1 and "a plan-execution run (run-42) holds the lease" in err
    assert _values(good) == [tuple(HEADER)]

    code, _, err = _fill(str(plan_id), "--sheet", str(tmp_path / "ic.csv"))
    assert code == 1 and ".csv" in err and "Traceback" not in err
