"""add_items_to_plan on in-memory plan data and a real state store: every strategy, reruns, simulation."""

from __future__ import annotations

import math
from typing import Any

import pytest
from pydantic import ValidationError

from jtl_automator.plans import PlanNotEditable, PlanScope, PlanStore
from jtl_automator.store import StateStore
from jtl_automator.transforms.markdown import markdown_frame
from jtl_automator.transforms.pricing import MarkdownRules
from jtl_automator.transforms.replenishment import (
    ORDER,
    ReplenishmentParams,
    demand_frame,
    replenishment_lines,
)
from jtl_automator.workflows.actions.plan_data import FramePlanData
from jtl_automator.workflows.actions.plan_items import AddItemsParams, add_items_to_plan
from tests.workflows.actions.conftest import MakeCtx


def plan(store: StateStore, kind: str = "restock", **scope: Any) -> int:
    return PlanStore(store).create_or_get(kind, PlanScope(**scope), "2026-W45").plan.id


def params(plan_id: int | None, **values: Any) -> AddItemsParams:
    return AddItemsParams.model_validate({"plan_id": plan_id, **values})


def lines_of(store: StateStore, plan_id: int) -> dict[tuple[str, str], Any]:
    return {(line.sku, line.warehouse): line for line in PlanStore(store).get(plan_id).lines}


@pytest.mark.slow
def test_restock_fill_to_cover_target(make_ctx: MakeCtx, store: StateStore, plan_data: FramePlanData) -> None:
    pid = plan(store)
    p = params(pid, warehouses="all", quantity={"strategy": "fill_to_target", "target_cover_days": 30})
    result = add_items_to_plan(p, make_ctx(plan_data=plan_data))
    got = {key: line.quantity for key, line in lines_of(store, pid).items()}
    # A@W1: 2/d * 30 d - 5 = 55; B@W2: 1/d * 30 - 0 = 30; C@W1: 30 - 5 - 3 on order = 22
    assert got == {("A", "W1"): 55, ("B", "W2"): 30, ("C", "W1"): 22}
    out = result.output
    assert (out["added"], out["updated"], out["already_there"], out["units"]) == (3, 0, 0, 107)
    skipped = {(s["sku"], s["warehouse"]): s["reason"] for s in out["skipped_items"]}
    assert set(skipped) == {("A", "W2"), ("B", "W1")}
    assert skipped[("A", "W2")].startswith("at or above the target")
    line = lines_of(store, pid)[("A", "W1")]
    assert "target 30 d of cover (60 units)" in (line.reason or "") and "available 5" in (line.reason or "")
    assert line.details == {
        "strategy": "fill_to_target",
        "available": 5.0,
        "on_order": 0.0,
        "daily_demand": 2.0,
        "cover_days": 2.5,
        "target_units": 60.0,
    }


@pytest.mark.slow
def test_restock_fixed_below_a_stock_threshold_for_named_skus_in_the_plans_warehouses(
    make_ctx: MakeCtx, store: StateStore, plan_data: FramePlanData
) -> None:
    pid = plan(store, warehouses=("W1",))
    p = params(pid, skus="A, B, C, NOPE", below_stock=50, quantity={"strategy": "fixed", "quantity": 12})
    out = add_items_to_plan(p, make_ctx(plan_data=plan_data)).output
    assert {k: v.quantity for k, v in lines_of(store, pid).items()} == {("A", "W1"): 12, ("C", "W1"): 12}
    reasons = {s["sku"]: s["reason"] for s in out["skipped_items"]}
    assert reasons["B"].startswith("available not below 50; available 100")
    assert "no stock, demand or goods on order" in reasons["NOPE"]


@pytest.mark.slow
def test_restock_score_is_the_replenishment_rule_and_the_plan_supplier_limits_the_items(
    make_ctx: MakeCtx, store: StateStore, plan_data: FramePlanData
) -> None:
    pid = plan(store, supplier="9")
    q = {"strategy": "score", "target_cover_days": 45, "service_level": 0.9}
    out = add_items_to_plan(params(pid, quantity=q), make_ctx(plan_data=plan_data)).output
    inputs = plan_data.replenishment_inputs(90)
    formula = ReplenishmentParams(target_cover_days=45, service_level=0.9)
    expected = replenishment_lines(
        demand_frame(inputs.order_lines, inputs.stockouts, inputs.window),
        inputs.stock,
        inputs.on_order,
        inputs.suppliers,
        formula,
    )
    row = expected[(expected["merchant_sku"] == "C") & (expected["status"] == ORDER)].iloc[0]
    [line] = PlanStore(store).get(pid).lines
    assert (line.sku, line.warehouse) == ("C", "W1")
    assert (
        line.quantity == math.ceil(row["order_quantity"]) and line.quantity % 10 == 0
    )  # minimum purchase 10
    assert line.score == pytest.approx(row["score"]) and line.reason == row["reason"]
    assert out["added"] == 1 and {s["sku"] for s in out["skipped_items"]} == set()


@pytest.mark.slow
def test_a_rerun_adds_nothing_twice_and_reports_what_was_there(
    make_ctx: MakeCtx, store: StateStore, plan_data: FramePlanData
) -> None:
    pid = plan(store)
    p = params(pid, warehouses="all", quantity={"strategy": "fixed", "quantity": 5}, skus=["A"])
    first = add_items_to_plan(p, make_ctx("k1", plan_data=plan_data))
    retried = add_items_to_plan(p, make_ctx("k1", plan_data=plan_data))
    assert retried.repeated == ("k1",) and retried.output == first.output
    assert plan_data.reads == ["replenishment:90"]  # the retry did not even read

    wider = params(pid, warehouses="all", quantity={"strategy": "fixed", "quantity": 9}, skus=["A", "B"])
    out = add_items_to_plan(wider, make_ctx("k2", plan_data=plan_data)).output
    assert (out["added"], out["already_there"]) == (2, 2)
    quantities = {k: v.quantity for k, v in lines_of(store, pid).items()}
    assert quantities[("A", "W1")] == 5 and quantities[("B", "W1")] == 9  # kept, and added

    update = wider.model_copy(update={"on_existing": "update"})
    out = add_items_to_plan(update, make_ctx("k3", plan_data=plan_data)).output
    assert (out["added"], out["updated"]) == (0, 4) and lines_of(store, pid)[("A", "W1")].quantity == 9


@pytest.mark.slow
def test_simulation_computes_the_lines_and_writes_nothing(
    make_ctx: MakeCtx, store: StateStore, plan_data: FramePlanData
) -> None:
    pid = plan(store)
    p = params(pid, warehouses="all", quantity={"strategy": "fill_to_target", "target_units": 20})
    sim = add_items_to_plan(p, make_ctx("k1", simulate=True, plan_data=plan_data))
    states = {
        (line["sku"], line["warehouse"]): (line["quantity"], line["state"]) for line in sim.output["lines"]
    }
    assert states == {
        ("A", "W1"): (15, "would_added"),
        ("B", "W2"): (20, "would_added"),
        ("C", "W1"): (12, "would_added"),
    }
    assert all(line["reason"] for line in sim.output["lines"])
    assert PlanStore(store).get(pid).lines == () and store.side_effect("k1") is None
    # a simulation before the plan exists: by kind
    new = AddItemsParams.model_validate(
        {
            "plan_id": "None",
            "kind": "restock",
            "warehouses": "all",
            "quantity": {"strategy": "fixed", "quantity": 1},
        }
    )
    sim = add_items_to_plan(new, make_ctx("k2", simulate=True, plan_data=plan_data))
    assert sim.output["plan_id"] is None and sim.output["added"] == 5 and "new restock plan" in sim.summary


@pytest.mark.slow
def test_lines_go_on_a_draft_plan_only(
    make_ctx: MakeCtx, store: StateStore, plan_data: FramePlanData
) -> None:
    pid = plan(store)
    p = params(pid, warehouses="all", quantity={"strategy": "fixed", "quantity": 1}, skus=["C"])
    add_items_to_plan(p, make_ctx("k1", plan_data=plan_data))
    PlanStore(store).approve(pid, by="anna")
    with pytest.raises(PlanNotEditable, match="draft"):
        add_items_to_plan(p.model_copy(update={"skus": ["A"]}), make_ctx("k2", plan_data=plan_data))
    claim = store.side_effect("k2")
    assert claim is not None and claim.state.value == "failed"
    sim = add_items_to_plan(p, make_ctx("k3", simulate=True, plan_data=plan_data))
    assert "approved" in sim.output["refused"]


@pytest.mark.slow
def test_rebalance_by_score_moves_surplus_to_deficit(
    make_ctx: MakeCtx, store: StateStore, plan_data: FramePlanData
) -> None:
    pid = plan(store, "rebalance", warehouses=("W1", "W2"))
    p = params(pid, matching={"matching": "score", "target_cover_days": 30})
    out = add_items_to_plan(p, make_ctx(plan_data=plan_data)).output
    lines = lines_of(store, pid)
    # A: W1 needs 60 - 5 = 55, W2 keeps 30 of 200; B: W2 needs 30, W1 sells none (all 100 spare)
    assert {k: v.quantity for k, v in lines.items()} == {("A", "W2>W1"): 55, ("B", "W1>W2"): 30}
    details = lines[("A", "W2>W1")].details or {}
    assert (details["from_warehouse"], details["to_warehouse"]) == ("W2", "W1")
    assert details["from"]["available"] == 200.0 and details["to"]["cover_days"] == 2.5
    assert out["added"] == 2


@pytest.mark.slow
def test_rebalance_score_stops_at_what_the_givers_can_spare(
    make_ctx: MakeCtx, store: StateStore, plan_data: FramePlanData
) -> None:
    pid = plan(store, "rebalance")
    p = params(pid, warehouses="all", matching={"matching": "score", "target_cover_days": 150})
    out = add_items_to_plan(p, make_ctx(plan_data=plan_data)).output
    lines = lines_of(store, pid)
    # A: W2 keeps 150 of 200 and spares 50; W1 wants 300 - 5 = 295 -> 50 move, 245 still short
    assert lines[("A", "W2>W1")].quantity == 50
    assert any(s["sku"] == "A" and "245 units short" in s["reason"] for s in out["skipped_items"])


@pytest.mark.slow
def test_rebalance_fixed_pairs(make_ctx: MakeCtx, store: StateStore, plan_data: FramePlanData) -> None:
    pid = plan(store, "rebalance")
    p = params(
        pid,
        matching={"matching": "fixed_pairs", "pairs": [{"from": "W2", "to": "W1"}]},
        quantity={"strategy": "fixed", "quantity": 10},
    )
    out = add_items_to_plan(p, make_ctx(plan_data=plan_data)).output
    assert {k: v.quantity for k, v in lines_of(store, pid).items()} == {("A", "W2>W1"): 10}
    reasons = {s["sku"]: s["reason"] for s in out["skipped_items"]}
    assert reasons["B"].startswith("nothing to move") and reasons["C"] == "no stock of it in W2"

    pid2 = plan(store, "rebalance", warehouses=("X",))
    fill = p.model_copy(
        update={
            "plan_id": pid2,
            "quantity": AddItemsParams.model_validate(
                {
                    "kind": "rebalance",
                    "matching": {"matching": "fixed_pairs", "pairs": [{"from": "W1", "to": "W2"}]},
                    "quantity": {"strategy": "fill_to_target", "target_cover_days": 10},
                }
            ).quantity,
            "matching": AddItemsParams.model_validate(
                {
                    "kind": "rebalance",
                    "matching": {"matching": "fixed_pairs", "pairs": [{"from": "W1", "to": "W2"}]},
                    "quantity": {"strategy": "fixed", "quantity": 1},
                }
            ).matching,
        }
    )
    add_items_to_plan(fill, make_ctx("k2", plan_data=plan_data))
    # B: W2 needs 10 d * 1/d = 10, W1 (no demand) spares all 100 -> 10; A: W1 is short itself
    assert {k: v.quantity for k, v in lines_of(store, pid2).items()} == {("B", "W1>W2"): 10}


@pytest.mark.slow
def test_supplier_return_sends_back_what_is_above_the_target(
    make_ctx: MakeCtx, store: StateStore, plan_data: FramePlanData
) -> None:
    pid = plan(store, "supplier_return", supplier="7")
    p = params(pid, warehouses="all", quantity={"strategy": "fill_to_target", "target_cover_days": 30})
    add_items_to_plan(p, make_ctx(plan_data=plan_data))
    # A@W2: 200 - 30 = 170; B@W1: 100 - 0 (no demand) = 100; C is supplier 9's
    assert {k: v.quantity for k, v in lines_of(store, pid).items()} == {("A", "W2"): 170, ("B", "W1"): 100}

    pid2 = plan(store, "supplier_exchange", supplier="7")
    score = params(pid2, warehouses="all", quantity={"strategy": "score", "target_cover_days": 60})
    add_items_to_plan(score, make_ctx("k2", plan_data=plan_data))
    lines = lines_of(store, pid2)
    assert lines[("A", "W2")].quantity == 140 and lines[("A", "W2")].score == pytest.approx(140.0)
    assert lines[("B", "W1")].score > lines[("A", "W2")].score  # no demand at all: first to go

    fixed = params(
        pid2, warehouses=["W1"], quantity={"strategy": "fixed", "quantity": 500}, on_existing="update"
    )
    add_items_to_plan(fixed, make_ctx("k3", plan_data=plan_data))
    assert lines_of(store, pid2)[("B", "W1")].quantity == 100  # no more than is available


@pytest.mark.slow
def test_markdown_uses_the_pricing_rules_and_lines(
    make_ctx: MakeCtx, store: StateStore, plan_data: FramePlanData
) -> None:
    pid = plan(store, "markdown")
    discount = {"strategy": "recommended", "floor_pct": 50, "max_discount_pct": 30}
    out = add_items_to_plan(params(pid, discount=discount), make_ctx(plan_data=plan_data)).output
    rules = MarkdownRules(**discount)  # type: ignore[arg-type]
    assert plan_data.markdown is not None
    expected = markdown_frame(plan_data.markdown, rules).set_index("sku")
    [line] = PlanStore(store).get(pid).lines
    assert (line.sku, line.warehouse, line.quantity) == ("SLOW-1", "", 300)
    assert float(line.unit_price or 0) == pytest.approx(expected.loc["SLOW-1", "new_price"])
    details = line.details or {}
    assert (
        details["target"] == "special" and details["floor_pct"] == 50 and details["strategy"] == "recommended"
    )
    assert float(line.unit_price or 0) >= 10.0 * 1.5  # never below the floor
    assert details["discount_pct"] <= 30
    reasons = {s["sku"]: s["reason"] for s in out["skipped_items"]}
    assert reasons["FAST-1"].startswith("not_slow") and "no purchase price" in reasons["SLOW-2"]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"kind": "restock"}, "needs quantity"),
        ({"kind": "markdown", "quantity": {"strategy": "fixed", "quantity": 1}}, "needs discount"),
        (
            {"kind": "markdown", "discount": {}, "quantity": {"strategy": "fixed", "quantity": 1}},
            "does not use quantity",
        ),
        (
            {
                "kind": "rebalance",
                "matching": {"matching": "fixed_pairs", "pairs": [{"from": "A", "to": "B"}]},
            },
            "needs a quantity",
        ),
        (
            {
                "kind": "rebalance",
                "matching": {"matching": "fixed_pairs", "pairs": [{"from": "A", "to": "A"}]},
            },
            "to itself",
        ),
        (
            {"kind": "rebalance", "matching": {"matching": "score"}, "quantity": {"strategy": "score"}},
            "not quantity",
        ),
        ({"kind": "restock", "quantity": {"strategy": "fill_to_target"}}, "exactly one"),
        ({"kind": "restock", "quantity": {"strategy": "fixed", "quantity": 0}}, "greater than or equal to 1"),
        ({"kind": "restock", "quantity": {"strategy": "guess"}}, "does not match any of the expected tags"),
        ({"kind": "price_change"}, "add_items_to_plan fills"),
        ({"quantity": {"strategy": "fixed", "quantity": 1}}, "plan_id"),
        (
            {"kind": "restock", "quantity": {"strategy": "fixed", "quantity": 1}, "skus": [" A"]},
            "surrounding spaces",
        ),
        ({"kind": "restock", "quantity": {"strategy": "fixed", "quantity": 1}, "colour": 1}, "colour"),
    ],
)
def test_malformed_parameters_are_refused_with_what_to_do(values: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        AddItemsParams.model_validate(values)


@pytest.mark.slow
def test_the_plans_kind_decides_and_a_mismatch_is_refused(
    make_ctx: MakeCtx, store: StateStore, plan_data: FramePlanData
) -> None:
    pid = plan(store, "markdown")
    with pytest.raises(ValueError, match="needs discount"):
        add_items_to_plan(
            params(pid, quantity={"strategy": "fixed", "quantity": 1}), make_ctx(plan_data=plan_data)
        )
    with pytest.raises(ValueError, match="is a markdown plan, not restock"):
        add_items_to_plan(
            params(pid, kind="restock", quantity={"strategy": "fixed", "quantity": 1}),
            make_ctx(plan_data=plan_data),
        )
    with pytest.raises(ValueError, match="plan_id is empty"):
        add_items_to_plan(
            params(None, kind="restock", quantity={"strategy": "fixed", "quantity": 1}), make_ctx()
        )
    with pytest.raises(LookupError, match="plan_data"):
        add_items_to_plan(params(plan(store), quantity={"strategy": "fixed", "quantity": 1}), make_ctx("k9"))


@pytest.mark.slow
def test_too_many_lines_are_refused_before_anything_is_written(
    make_ctx: MakeCtx, store: StateStore, plan_data: FramePlanData
) -> None:
    pid = plan(store)
    p = params(pid, warehouses="all", quantity={"strategy": "fixed", "quantity": 1}, max_lines=2)
    with pytest.raises(ValueError, match="max_lines"):
        add_items_to_plan(p, make_ctx(plan_data=plan_data))
    assert PlanStore(store).get(pid).lines == ()


@pytest.mark.slow
def test_a_step_that_died_after_writing_its_lines_finds_them_there(
    make_ctx: MakeCtx, store: StateStore, plan_data: FramePlanData
) -> None:
    pid = plan(store)
    p = params(pid, warehouses="all", quantity={"strategy": "fixed", "quantity": 4}, skus=["A"])
    add_items_to_plan(p, make_ctx("k1", simulate=False, plan_data=plan_data))
    store.fail("k1", "pretend the record was lost")  # the lines are written, the ledger says not done
    again = add_items_to_plan(p, make_ctx("k1", plan_data=plan_data))
    assert again.effects == ("k1",) and (again.output["added"], again.output["already_there"]) == (0, 2)
    assert len(PlanStore(store).get(pid).lines) == 2
