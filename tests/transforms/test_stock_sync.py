"""plan_stock_adjustments: tiny literal frames, one rule per test."""

from __future__ import annotations

import random
from typing import Any

import pandas as pd
import pytest

from jtl_automator.transforms.stock_sync import (
    StockPlanParams,
    adjustments,
    ffn_levels_frame,
    ffn_stock_rows,
    map_warehouses,
    merge_plans,
    plan_stock_adjustments,
    wawi_stock_frame,
)

MAP = {"W1": 2, "W2": 3}


def _item(item_id: int, sku: str, managed: bool = True) -> dict[str, Any]:
    return {"Id": item_id, "SKU": sku, "StorageOptions": {"InventoryManagementActive": managed}}


def _stock(sku: str, *rows: tuple[str, Any]) -> dict[str, Any]:
    return {
        "jfsku": f"J-{sku}",
        "merchantSku": sku,
        "warehouses": [{"warehouseId": w, "jfsku": f"J-{sku}", "stockLevel": level} for w, level in rows],
    }


def _plan(
    stocks: list[dict[str, Any]], items: list[dict[str, Any]], wawi: list[dict[str, Any]], full: bool = True
) -> pd.DataFrame:
    ffn = ffn_levels_frame(ffn_stock_rows(stocks))
    return plan_stock_adjustments(
        ffn, wawi_stock_frame(items, wawi), StockPlanParams(warehouse_map=MAP, full=full)
    )


def _row(plan: pd.DataFrame, sku: str, warehouse: str) -> dict[str, Any]:
    rows = plan[(plan["merchant_sku"] == sku) & (plan["ffn_warehouse_id"] == warehouse)]
    assert len(rows) == 1, rows
    return dict(rows.iloc[0])


def test_delta_is_target_minus_the_sum_over_locations_and_batches() -> None:
    plan = _plan(
        [_stock("A", ("W1", 10))],
        [_item(1, "A")],
        [
            {"ItemId": 1, "WarehouseId": 2, "QuantityTotal": 7},
            {"ItemId": 1, "WarehouseId": 2, "QuantityTotal": 1},
        ],
    )
    row = _row(plan, "A", "W1")
    assert (row["status"], row["target"], row["current"], row["delta"], row["wawi_warehouse_id"]) == (
        "adjust",
        10,
        8,
        2,
        2,
    )


def test_equal_levels_are_in_sync_and_not_adjusted() -> None:
    plan = _plan(
        [_stock("A", ("W1", 4))], [_item(1, "A")], [{"ItemId": 1, "WarehouseId": 2, "QuantityTotal": 4}]
    )
    assert _row(plan, "A", "W1")["status"] == "in_sync" and adjustments(plan).empty


def test_non_ffn_warehouse_is_never_touched() -> None:
    plan = _plan(
        [_stock("A", ("W1", 4))], [_item(1, "A")], [{"ItemId": 1, "WarehouseId": 1, "QuantityTotal": 50}]
    )
    assert set(plan["wawi_warehouse_id"].dropna()) == {2}
    assert adjustments(plan)["delta"].tolist() == [4]


@pytest.mark.parametrize(
    ("level", "status", "words"),
    [
        pytest.param(-3, "invalid_input", "negative", id="negative"),
        pytest.param(5e9, "invalid_input", "above the bound", id="absurd"),
        pytest.param("12", "invalid_input", "not a number: '12'", id="string"),
        pytest.param(None, "invalid_input", "missing", id="missing"),
        pytest.param(float("nan"), "invalid_input", "not a finite number", id="nan"),
    ],
)
@pytest.mark.slow
def test_bad_levels_are_refused_with_a_reason(level: Any, status: str, words: str) -> None:
    plan = _plan([_stock("A", ("W1", level)), _stock("B", ("W1", 2))], [_item(1, "A"), _item(2, "B")], [])
    row = _row(plan, "A", "W1")
    assert row["status"] == status and words in row["reason"] and "A in W1" in row["reason"]
    assert adjustments(plan)["merchant_sku"].tolist() == ["B"]  # the batch goes on


def test_unknown_sku_is_reported() -> None:
    plan = _plan([_stock("ZZ", ("W1", 1))], [_item(1, "A")], [])
    assert _row(plan, "ZZ", "W1")["status"] == "unknown_sku" and adjustments(plan).empty


def test_item_without_inventory_management_is_left_alone() -> None:
    plan = _plan([_stock("A", ("W1", 9))], [_item(1, "A", managed=False)], [])
    assert _row(plan, "A", "W1")["status"] == "no_inventory_management"


def test_item_without_storage_options_counts_as_unmanaged() -> None:
    plan = _plan([_stock("A", ("W1", 9))], [{"Id": 1, "SKU": "A"}], [])
    assert _row(plan, "A", "W1")["status"] == "no_inventory_management"


def test_unmapped_ffn_warehouse_is_reported() -> None:
    plan = _plan([_stock("A", ("W9", 9))], [_item(1, "A")], [])
    assert _row(plan, "A", "W9")["status"] == "unmapped_warehouse"


@pytest.mark.slow
def test_full_mode_zeroes_a_known_sku_ffn_holds_none_of_and_spares_skus_ffn_does_not_know() -> None:
    wawi = [
        {"ItemId": 1, "WarehouseId": 3, "QuantityTotal": 6},
        {"ItemId": 2, "WarehouseId": 2, "QuantityTotal": 3},
    ]
    plan = _plan([_stock("A", ("W1", 1))], [_item(1, "A"), _item(2, "F")], wawi)
    zero = _row(plan, "A", "W2")
    assert (zero["status"], zero["target"], zero["delta"]) == ("adjust", 0, -6)
    assert _row(plan, "F", "W1")["status"] == "not_in_ffn"
    incremental = _plan([_stock("A", ("W1", 1))], [_item(1, "A"), _item(2, "F")], wawi, full=False)
    assert set(incremental["merchant_sku"]) == {"A"} and len(incremental) == 1


def test_feed_keeps_the_newest_change_per_warehouse_and_sku() -> None:
    changes = [
        {
            "stockChangeId": {"warehouseId": "W1", "jfsku": "J", "stockVersion": v},
            "merchantSku": "A",
            "stockLevel": lvl,
        }
        for v, lvl in ((12, 7), (9, 3))
    ]
    changes.append({"stockChangeId": {"warehouseId": "W1"}, "stockLevel": 1})  # malformed: no SKU, no version
    plan = plan_stock_adjustments(
        ffn_levels_frame(changes, versioned=True),
        wawi_stock_frame([_item(1, "A")], []),
        StockPlanParams(warehouse_map=MAP, full=False),
    )
    row = _row(plan, "A", "W1")
    assert (row["target"], row["version"]) == (7, "v12")
    bad = plan[plan["merchant_sku"] == ""].iloc[0]
    assert bad["status"] == "invalid_input" and "merchantSku, stockVersion missing" in bad["reason"]


def test_plan_columns_and_dtypes_are_fixed_even_when_empty() -> None:
    plan = _plan([], [], [])
    assert plan.empty and str(plan["delta"].dtype) == "Float64" and str(plan["item_id"].dtype) == "Int64"


def test_map_warehouses_by_code_with_explicit_override() -> None:
    wawi = [{"Id": 2, "Code": "W1"}, {"Id": 3, "Code": "W2"}, {"Id": 4, "Code": None}]
    mapping, problems = map_warehouses(["W1", "W2", "W3"], wawi, {"W2": 4})
    assert mapping == {"W1": 2, "W2": 4} and len(problems) == 1 and "W3" in problems[0]
    _, bad = map_warehouses(["W1"], wawi, {"W1": 99})
    assert "99" in bad[0]


def _feed(rng: random.Random, skus: list[str]) -> list[Any]:
    """Change-feed rows over a few SKUs: several versions per pair, bad levels, an unmapped warehouse."""
    rows: list[Any] = []
    for version in range(1, 60):
        sku = rng.choice([*skus, "GHOST", ""])
        level = rng.choice([0, 1, 3, 7, 7.5, -2, 5e9, None, "x"])
        warehouse = rng.choice(["W1", "W2", "W9"])
        jfsku = rng.choice([f"J-{sku}", f"J-{sku}", "J-OTHER"])
        ident = {"warehouseId": warehouse, "jfsku": jfsku, "stockVersion": version}
        rows.append({"stockChangeId": ident, "merchantSku": sku, "stockLevel": level})
    rows.append("not an object")
    return rows


@pytest.mark.parametrize("seed", range(12))
def test_planning_the_skus_in_pieces_gives_the_plan_of_all_of_them(seed: int) -> None:
    """Incremental mode: a SKU's decision needs only its own rows, so the run may plan SKUs as they come."""
    rng = random.Random(seed)
    skus = [f"S{i}" for i in range(8)]
    items = [_item(i, sku, managed=rng.random() > 0.2) for i, sku in enumerate(skus[:6], start=1)]
    items.append(_item(40, "S0"))  # a second item with an SKU already taken
    stocks = [
        {
            "ItemId": rng.randint(1, 6),
            "WarehouseId": rng.choice([1, 2, 3]),
            "QuantityTotal": rng.randint(0, 9),
        }
        for _ in range(25)
    ]
    ffn = ffn_levels_frame(_feed(rng, skus), versioned=True)
    params = StockPlanParams(warehouse_map=MAP, full=False)
    whole = plan_stock_adjustments(ffn, wawi_stock_frame(items, stocks), params)
    groups: dict[int, list[str]] = {}
    for sku in sorted(set(ffn["merchant_sku"])):
        groups.setdefault(rng.randint(0, 3), []).append(sku)
    pieces = []
    for part in groups.values():
        ids = {i["Id"] for i in items if i["SKU"] in part}
        part_items = [i for i in items if i["SKU"] in part]
        part_stocks = [r for r in stocks if r["ItemId"] in ids]
        rows = ffn[ffn["merchant_sku"].isin(part)]
        pieces.append(plan_stock_adjustments(rows, wawi_stock_frame(part_items, part_stocks), params))
    rng.shuffle(pieces)
    merged = merge_plans(pieces)
    pd.testing.assert_frame_equal(merged, whole)
    pd.testing.assert_frame_equal(adjustments(merged), adjustments(whole))
    assert set(whole["status"]) >= {"adjust", "invalid_input"}


def test_merging_no_pieces_is_an_empty_plan() -> None:
    empty = merge_plans([])
    assert empty.empty and list(empty.columns) == list(_plan([], [], []).columns)
