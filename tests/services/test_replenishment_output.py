"""Restock plans per supplier and the Bestellvorschlag workbook, from lines computed by the formula."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from openpyxl import load_workbook

from jtl_automator.plans import PlanScope, PlanStore
from jtl_automator.services.replenishment import propose_restock_plans, summary_rows, write_workbook
from jtl_automator.services.replenishment.output import APPROVAL_HEADER, tab_name
from jtl_automator.store import StateStore
from jtl_automator.transforms.replenishment import ReplenishmentParams, replenishment_lines

PERIOD = "2026-W48"


@pytest.fixture
def plans(sqlite_url: str) -> Iterator[PlanStore]:
    store = StateStore(sqlite_url)
    try:
        yield PlanStore(store)
    finally:
        store.dispose()


def _lines(level_b: float = 0) -> pd.DataFrame:
    """A, B from supplier 1 (ACME: Rohwaren), C from supplier 2, D without supplier, E with a bad level."""
    skus = ["A", "B", "C", "D", "E"]
    demand = pd.DataFrame(
        {
            "merchant_sku": skus,
            "warehouse_id": ["W1", "W2", "W1", "W1", "W1"],
            "units": [30.0] * 5,
            "observed_days": [10] * 5,
            "daily_demand": [3.0, 1.0, 2.0, 2.0, 2.0],
            "demand_std": [1.0] * 5,
        }
    )
    stock = pd.DataFrame(
        {
            "merchant_sku": skus,
            "warehouse_id": ["W1", "W2", "W1", "W1", "W1"],
            "stock_level": [2.0, level_b, 5.0, 1.0, -7.0],
            "reserved": [0.0] * 5,
            "blocked": [0.0] * 5,
            "announced": [0.0] * 5,
        }
    )
    suppliers = pd.DataFrame(
        {
            "merchant_sku": ["A", "B", "C", "E"],
            "supplier_id": [1, 1, 2, 2],
            "supplier_name": ["ACME: Rohwaren", "ACME: Rohwaren", "Beta", "Beta"],
            "delivery_time": [10.0, 10.0, 4.0, 4.0],
            "procurement_time": [None] * 4,
            "minimum_purchase": [None, 50.0, None, None],
            "permissible_quantity": [None] * 4,
            "packaging_amount": [None] * 4,
        }
    )
    on_order = pd.DataFrame({"merchant_sku": [], "warehouse_id": [], "quantity_open": []})
    return replenishment_lines(demand, stock, on_order, suppliers, ReplenishmentParams())


@pytest.mark.slow
def test_one_draft_plan_per_supplier_with_the_order_lines(plans: PlanStore) -> None:
    lines = _lines()
    proposed = propose_restock_plans(lines, plans, PERIOD, created_by="run-1")
    assert [(p.supplier_id, p.lines) for p in proposed] == [(1, 2), (2, 1)]
    plan = plans.get(proposed[0].plan_id)
    assert plan.kind == "restock" and plan.status == "draft" and plan.period == PERIOD
    assert plan.scope == PlanScope(supplier="1", warehouses=tuple(sorted(lines["warehouse_id"].unique())))
    wanted = lines[lines["status"] == "order"].set_index("merchant_sku")
    got = {line.sku: line for line in plan.lines}
    assert set(got) == {"A", "B"}
    assert got["B"].quantity == wanted.loc["B", "order_quantity"] >= 50
    assert got["A"].score == pytest.approx(wanted.loc["A", "score"])
    assert "reorder point" in (got["A"].reason or "")
    assert got["A"].details and got["A"].details["lead_time_days"] == 10


@pytest.mark.slow
def test_a_rerun_in_the_period_updates_the_same_draft(plans: PlanStore) -> None:
    first = propose_restock_plans(_lines(), plans, PERIOD)
    second = propose_restock_plans(_lines(level_b=3), plans, PERIOD)
    assert [p.plan_id for p in first] == [p.plan_id for p in second]
    assert len(plans.list_plans(kind="restock")) == 2


@pytest.mark.slow
def test_an_approved_plan_is_left_alone_and_reported(plans: PlanStore) -> None:
    first = propose_restock_plans(_lines(), plans, PERIOD)
    plans.approve(first[0].plan_id, by="buyer")
    before = plans.get(first[0].plan_id).lines
    again = propose_restock_plans(_lines(level_b=3), plans, PERIOD)
    assert again[0].skipped and again[0].lines == 0 and again[1].skipped is None
    assert plans.get(first[0].plan_id).lines == before


@pytest.mark.slow
def test_needs_after_the_weeks_order_went_out_get_a_follow_up_plan(plans: PlanStore) -> None:
    first = propose_restock_plans(_lines(), plans, PERIOD)
    plan_id = first[0].plan_id
    plans.approve(plan_id, by="buyer")
    executing = propose_restock_plans(_lines(level_b=3), plans, PERIOD)
    assert executing[0].plan_id == plan_id and executing[0].skipped  # approved: not on order yet
    plans.mark_executing(plan_id)
    plans.mark_done(plan_id)
    later = propose_restock_plans(_lines(level_b=3), plans, PERIOD)
    follow_up = plans.get(later[0].plan_id)
    assert later[0].plan_id != plan_id and later[0].skipped is None and later[0].lines == 2
    assert follow_up.period == f"{PERIOD}/2" and follow_up.status == "draft"
    assert follow_up.scope == plans.get(plan_id).scope
    again = propose_restock_plans(_lines(), plans, PERIOD)  # a rerun adds to the follow-up, no third plan
    assert again[0].plan_id == later[0].plan_id
    assert later[1].plan_id == first[1].plan_id  # the other supplier's draft is untouched by all this


@pytest.mark.slow
def test_a_cancelled_plan_gets_no_follow_up_in_its_period(plans: PlanStore) -> None:
    first = propose_restock_plans(_lines(), plans, PERIOD)
    plans.cancel(first[0].plan_id, by="buyer", reason="supplier on holiday")
    again = propose_restock_plans(_lines(level_b=3), plans, PERIOD)
    assert again[0].plan_id == first[0].plan_id and again[0].skipped
    assert len(plans.list_plans(kind="restock")) == 2


def _sheet_rows(path: Path, title: str) -> list[dict[str, Any]]:
    sheet = load_workbook(path)[title]
    rows = list(sheet.iter_rows(values_only=True))
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


@pytest.mark.slow
def test_workbook_has_the_low_stock_list_first_and_one_tab_per_supplier(tmp_path: Path) -> None:
    lines = _lines()
    path = write_workbook(lines, tmp_path / "out" / "bestellvorschlag.xlsx")
    names = load_workbook(path).sheetnames
    assert names == ["Low stock", "ACME_ Rohwaren", "Beta", "Not orderable"]
    low = _sheet_rows(path, "Low stock")
    assert [r["SKU"] for r in low] == list(
        lines.loc[lines["low_stock"]].sort_values("cover_days")["merchant_sku"]
    )
    acme = _sheet_rows(path, "ACME_ Rohwaren")
    assert {r["SKU"] for r in acme} == {"A", "B"}
    assert all(r[APPROVAL_HEADER] in (None, "") and r["Reason"] for r in acme)
    issues = {r["SKU"]: r for r in _sheet_rows(path, "Not orderable")}
    assert issues["D"]["Status"] == "no_supplier" and issues["E"]["Status"] == "invalid_input"
    assert "-7" in issues["E"]["Reason"]


def test_tab_names_are_legal_and_unique() -> None:
    taken: set[str] = set()
    long = "x" * 40
    assert tab_name("a/b", taken) == "a_b"
    assert tab_name(long, taken) == "x" * 31
    second = tab_name(long, taken)
    assert len(second) == 31 and second.endswith("(2)")


@pytest.mark.slow
def test_summary_counts_every_status_and_the_alerts(plans: PlanStore) -> None:
    lines = _lines()
    rows = summary_rows(lines, propose_restock_plans(lines, plans, PERIOD))
    by = {r["supplier"]: r for r in rows}
    assert by["status order"]["lines"] == int((lines["status"] == "order").sum())
    assert by["low stock"]["lines"] == int(lines["low_stock"].sum())
    assert by["ACME: Rohwaren"]["units"] == sum(
        lines.loc[(lines["supplier_id"] == 1) & (lines["status"] == "order"), "order_quantity"]
    )
