"""The heavy transforms in SKU parts equal the whole-frame run exactly (no cluster: the split and join)."""

from __future__ import annotations

import os
import subprocess
import sys
from functools import cache
from typing import Any

import numpy as np
import pandas as pd
import pandera.errors
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pandas.testing import assert_frame_equal

from benchmarks import reconcile_1m, replenishment_5m
from jtl_automator.transforms.inbound import ReconcileParams, reconcile
from jtl_automator.transforms.partitions import (
    MAX_PARTS,
    inbound_part_results,
    join_inbound_results,
    join_replenishment_lines,
    part_of_labels,
    part_of_rows,
    replenishment_part_lines,
    split_inbound,
    split_replenishment,
    split_rows,
)
from jtl_automator.transforms.replenishment import DemandParams, ReplenishmentParams

SKUS = [f"KAF-{i:06d}" for i in range(10_000)]


def test_parts_spread_skus_evenly_and_every_row_lands_once_in_order() -> None:
    part = part_of_labels(SKUS, 4)
    counts = np.bincount(part, minlength=4)
    assert counts.sum() == len(SKUS) and counts.min() > 0.2 * len(SKUS)  # 25% each, give or take
    positions = split_rows(part, 4)
    assert sorted(np.concatenate(positions).tolist()) == list(range(len(SKUS)))
    assert all((np.diff(p) > 0).all() and (part[p] == i).all() for i, p in enumerate(positions))


def test_a_row_gets_its_labels_part_and_stripping_is_optional() -> None:
    column = pd.Series(["B", " A ", None, "A", "B"], dtype="string")
    direct = part_of_labels(["B", " A ", "", "A", "B"], 7)
    rows = part_of_rows(column, 7)
    assert rows[[0, 1, 3, 4]].tolist() == direct[[0, 1, 3, 4]].tolist() and rows[2] == 0  # a null: part 0
    stripped = part_of_rows(column, 7, strip=True)
    assert stripped[1] == stripped[3] == part_of_labels(["A"], 7)[0]


@pytest.mark.parametrize("parts", [0, MAX_PARTS + 1])
def test_part_count_is_bounded(parts: int) -> None:
    with pytest.raises(ValueError, match="parts must be between"):
        part_of_labels(["A"], parts)


@pytest.mark.slow
def test_the_part_of_a_sku_is_the_same_in_another_process() -> None:
    """Python's own str hash changes per process (PYTHONHASHSEED); a cluster worker must agree."""
    code = (
        "import sys; from jtl_automator.transforms.partitions import part_of_labels; "
        "print(','.join(map(str, part_of_labels(sys.argv[1].split(','), 5).tolist())))"
    )
    labels = SKUS[:200]
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run(
        [sys.executable, "-c", code, ",".join(labels)], capture_output=True, text=True, check=True, env=env
    )
    assert out.stdout.strip() == ",".join(map(str, part_of_labels(labels, 5).tolist()))
    assert {hash(s) % 5 for s in labels} != set()  # (the salted hash is what was avoided)


# --------------------------------------------------------------------------------------- replenishment


@cache
def _replenishment_frames() -> dict[str, Any]:
    return replenishment_5m.build_frames(lines=30_000, skus=1_500, days=60, seed=11)


def _split(frames: dict[str, Any], parts: int, params: ReplenishmentParams | None = None) -> list[Any]:
    window = DemandParams(start=frames["window"][0], end=frames["window"][1])
    return split_replenishment(
        frames["lines"],
        frames["stockouts"],
        frames["stock"],
        frames["on_order"],
        frames["suppliers"],
        window,
        params or ReplenishmentParams(),
        parts,
    )


def _in_parts(frames: dict[str, Any], parts: int, params: ReplenishmentParams | None = None) -> pd.DataFrame:
    return join_replenishment_lines([replenishment_part_lines(p) for p in _split(frames, parts, params)])


@pytest.mark.slow
@pytest.mark.parametrize("parts", [2, 3, 8])
def test_replenishment_in_parts_equals_the_whole_run(parts: int) -> None:
    frames = _replenishment_frames()
    whole = _in_parts(frames, 1)
    split = _split(frames, parts)
    assert len(split) == parts
    assert sum(len(p.order_lines) for p in split) == len(frames["lines"])
    assert {s for p in split for s in p.suppliers["merchant_sku"]} == set(frames["suppliers"]["merchant_sku"])
    assert set(whole["status"]) >= {"order", "sufficient", "no_supplier", "invalid_input"}
    assert_frame_equal(_in_parts(frames, parts), whole, check_exact=True)


@pytest.mark.slow
def test_replenishment_parts_keep_skus_without_demand_and_drop_empty_parts() -> None:
    window = DemandParams(start=pd.Timestamp("2026-01-01").date(), end=pd.Timestamp("2026-01-10").date())
    lines = pd.DataFrame(
        {
            "merchant_sku": pd.array(["A", "A", "B"], dtype="string"),
            "warehouse_id": pd.array(["W1", "W1", "W2"], dtype="string"),
            "day": pd.Series(pd.to_datetime(["2026-01-02", "2026-01-03", "2026-01-04"])).astype(
                "datetime64[us]"
            ),
            "quantity": [3.0, 2.0, 1.0],
        }
    )
    stockouts = lines.iloc[0:0][["merchant_sku", "warehouse_id", "day"]]
    stock = pd.DataFrame(
        {
            "merchant_sku": pd.array(["A", "C"], dtype="string"),  # C: stock, no demand
            "warehouse_id": pd.array(["W1", "W1"], dtype="string"),
            "stock_level": [1.0, 50.0],
            "reserved": [0.0, 0.0],
            "blocked": [0.0, 0.0],
            "announced": [0.0, 0.0],
        }
    )
    on_order = pd.DataFrame(
        {
            "merchant_sku": pd.array(["D"], dtype="string"),  # D: only on order
            "warehouse_id": pd.array(["W2"], dtype="string"),
            "quantity_open": [4.0],
        }
    )
    suppliers = pd.DataFrame(
        {
            "merchant_sku": pd.array(["A", "B", "C", "D"], dtype="string"),
            "supplier_id": pd.array([1, 2, 1, None], dtype="Int64"),
            "supplier_name": pd.array(["L1", "L2", "L1", None], dtype="string"),
            "delivery_time": [5.0, 5.0, 5.0, 5.0],
            "procurement_time": [np.nan] * 4,
            "minimum_purchase": [1.0] * 4,
            "permissible_quantity": [1.0] * 4,
            "packaging_amount": [1.0] * 4,
        }
    )
    frames = {
        "lines": lines,
        "stockouts": stockouts,
        "stock": stock,
        "on_order": on_order,
        "suppliers": suppliers,
        "window": (window.start, window.end),
    }
    whole = _in_parts(frames, 1)
    assert set(whole["merchant_sku"]) == {"A", "B", "C", "D"}
    many = _split(frames, 64)
    assert 1 < len(many) <= 4  # only the parts holding a SKU
    assert_frame_equal(_in_parts(frames, 64), whole, check_exact=True)


@pytest.mark.slow
def test_a_bad_input_fails_in_its_part_as_in_the_whole_run() -> None:
    frames = dict(_replenishment_frames())
    suppliers = frames["suppliers"]
    frames["suppliers"] = pd.concat([suppliers, suppliers.iloc[[5]]])  # one SKU twice
    with pytest.raises(pandera.errors.SchemaError, match="merchant_sku"):
        _in_parts(frames, 1)
    with pytest.raises(pandera.errors.SchemaError, match="merchant_sku"):
        _in_parts(frames, 4)  # the copies land in one part, which refuses them the same way


# ----------------------------------------------------------------------------------- reconciliation

PRODUCTS = pd.DataFrame(
    {
        "merchant_sku": ["SKU-1", "00123", "123", "SKU-4", "SKU-5", " SKU-6", "SKU-1"],
        "jfsku": ["MERCA", "MERCB", "MERCC", "MERCD", "MERCE", "MERCF", "MERCG"],
    }
)
ITEMS = pd.DataFrame(
    {
        "inbound_id": ["IN-1", "IN-1", "IN-1", "IN-2", "IN-3", "IN-4", "IN-4", "IN-5", "IN-5"],
        "merchant_inbound_number": ["PO-1", "PO-1", "PO-1", "PO-2", "PO-3", "PO-3", "PO-3", "PO-5", "PO-5"],
        "warehouse_id": ["WH-A", "WH-A", "WH-A", "WH-A", "WH-B", "WH-B", "WH-B", "WH-A", "WH-A"],
        "status": [
            "Receipted",
            "Receipted",
            "Receipted",
            "Pending",
            "PartiallyReceipted",
            "Receipted",
            "Receipted",
            "Closed",
            "Closed",
        ],
        # MERCX: a jfsku no product has; MERCG: the second product of a merchant SKU listed twice
        "jfsku": ["MERCA", "MERCB", "MERCA", "MERCC", "MERCD", "MERCD", "MERCE", "MERCX", "MERCG"],
        "quantity": [10, 5, 4, 7, 20, 10, 3, 2, 6],
        "quantity_open": [0, 1, 0, 7, 8, 0, 0, 0, 0],
    }
).astype({"quantity": "int64", "quantity_open": "int64"})
STOCKS = pd.DataFrame(
    {
        # "": a stock without a jfsku, which the whole run finds for every unknown SKU's empty jfsku
        "jfsku": ["MERCA", "MERCA", "MERCB", "MERCD", "MERCE", "MERCX", "MERCF", ""],
        "warehouse_id": ["WH-A", "WH-B", "WH-A", "WH-C", "WH-B", "WH-D", "WH-A", "WH-B"],
        "stock_level": [5, 9, 0, 4, 0, 3, 8, 1],
        "stock_level_announced": [0, 0, 6, 0, 2, 0, 0, 0],
    }
).astype({"stock_level": "int64", "stock_level_announced": "int64"})

ROW = st.tuples(
    st.sampled_from(["SKU-1", "00123", "123", "SKU-4", "SKU-5", "SKU-6", "NOPE", "", " SKU-1", "SKU-4 "]),
    st.sampled_from(["0", "4", "7", "14", "1.234", "abc", "", "12,0", "-1", "2"]),
    st.sampled_from(["IN-1", "IN-2", "PO-1", "PO-3", "PO-5", "IN-9", "", " IN-4"]),
    st.sampled_from(["", "WH-A", "WH-B", "WH-C", "WH-Z"]),
)


def _sheet(rows: list[tuple[str, ...]], columns: tuple[str, ...]) -> pd.DataFrame:
    frame = pd.DataFrame([r[: len(columns)] for r in rows], columns=list(columns), dtype=object)
    frame.insert(0, "row_number", np.arange(4, 4 + len(rows), dtype=np.int64))
    return frame


def _reconciled_in_parts(
    sheet: pd.DataFrame, parts: int, params: ReconcileParams, stock: bool
) -> pd.DataFrame:
    items, stocks = (None, STOCKS) if stock else (ITEMS, None)
    split = split_inbound(sheet, PRODUCTS, items, stocks, params, parts)
    return join_inbound_results(sheet, [inbound_part_results(p) for p in split])


@pytest.mark.slow
@settings(max_examples=120, deadline=None)
@given(
    rows=st.lists(ROW, min_size=1, max_size=40),
    parts=st.integers(2, 6),
    mode=st.sampled_from(["inbound", "inbound+warehouse", "stock", "stock+warehouse"]),
)
def test_reconciliation_in_parts_equals_the_whole_run(
    rows: list[tuple[str, ...]], parts: int, mode: str
) -> None:
    stock = mode.startswith("stock")
    columns = ("sku", "units", "inbound") + (("warehouse",) if "warehouse" in mode else ())
    if stock:
        columns = tuple(c for c in columns if c != "inbound")
        rows = [(r[0], r[1], r[3]) for r in rows]
    sheet = _sheet(rows, columns)
    params = ReconcileParams(mode="stock" if stock else "inbound")
    whole = reconcile(sheet, PRODUCTS, None if stock else ITEMS, STOCKS if stock else None, params)
    assert_frame_equal(_reconciled_in_parts(sheet, parts, params, stock), whole, check_exact=True)


@pytest.mark.slow
@pytest.mark.parametrize("parts", [2, 5])
def test_a_large_generated_sheet_in_parts_equals_the_whole_run(parts: int) -> None:
    products, items, sheet = reconcile_1m.build_frames(products=3_000, rows=20_000, seed=5)
    params = ReconcileParams()
    whole = reconcile(sheet, products, items, None, params)
    assert set(whole["status"]) == {
        "MATCH",
        "MISMATCH",
        "PENDING",
        "UNKNOWN_SKU",
        "INBOUND_NOT_FOUND",
        "INVALID_ROW",
    }
    split = split_inbound(sheet, products, items, None, params, parts)
    assert len(split) == parts and sum(len(p.sheet) for p in split) == len(sheet)
    joined = join_inbound_results(sheet, [inbound_part_results(p) for p in split])
    assert_frame_equal(joined, whole, check_exact=True)


def test_a_sheet_that_cannot_be_put_back_in_order_stays_whole() -> None:
    sheet = _sheet([("SKU-1", "14", "IN-1"), ("SKU-4", "1", "PO-3")], ("sku", "units", "inbound"))
    sheet.loc[1, "row_number"] = 4  # two rows with one number
    assert len(split_inbound(sheet, PRODUCTS, ITEMS, None, ReconcileParams(), 4)) == 1
    empty = sheet.iloc[0:0]
    assert len(split_inbound(empty, PRODUCTS, ITEMS, None, ReconcileParams(), 4)) == 1
