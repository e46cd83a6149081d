"""Inbound verification transform: one literal frame per rule, plus properties over random sheets."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pandera.errors
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jtl_automator.transforms.inbound import (
    INBOUND_ITEMS_SCHEMA,
    RESULT_SCHEMA,
    SHEET_SCHEMA,
    ReconcileParams,
    RowStatus,
    annotate_since,
    parse_units,
    reconcile,
    row_keys,
    status_counts,
)

PRODUCTS = pd.DataFrame(
    {
        "merchant_sku": ["SKU-1", "00123", "123", "SKU-4", "SKU-5"],
        "jfsku": ["MERCA", "MERCB", "MERCC", "MERCD", "MERCE"],
    }
)
ITEMS = pd.DataFrame(
    {
        "inbound_id": ["IN-1", "IN-1", "IN-1", "IN-2", "IN-3", "IN-4", "IN-4"],
        "merchant_inbound_number": ["PO-1", "PO-1", "PO-1", "PO-2", "PO-3", "PO-3", "PO-3"],
        "warehouse_id": ["WH-A", "WH-A", "WH-A", "WH-A", "WH-B", "WH-B", "WH-B"],
        "status": [
            "Receipted",
            "Receipted",
            "Receipted",
            "Pending",
            "PartiallyReceipted",
            "Receipted",
            "Receipted",
        ],
        "jfsku": ["MERCA", "MERCB", "MERCA", "MERCC", "MERCD", "MERCD", "MERCE"],
        "quantity": [10, 5, 4, 7, 20, 10, 3],
        "quantity_open": [0, 1, 0, 7, 8, 0, 0],
    }
).astype({"quantity": "int64", "quantity_open": "int64"})


def sheet(
    rows: list[tuple[str, ...]], columns: tuple[str, ...] = ("sku", "units", "inbound")
) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=list(columns), dtype=object)
    frame.insert(0, "row_number", np.arange(4, 4 + len(rows), dtype=np.int64))
    return frame


def run(rows: list[tuple[str, ...]], **kw: object) -> pd.DataFrame:
    return reconcile(sheet(rows), PRODUCTS, ITEMS, None, ReconcileParams(mode="inbound", **kw))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("row", "status", "note"),
    [
        pytest.param(("SKU-1", "14", "IN-1"), "MATCH", "", id="two-items-of-one-sku-add-up"),
        pytest.param(("00123", "4", "PO-1"), "MATCH", "", id="leading-zeros-by-merchant-number"),
        pytest.param(
            ("123", "7", "IN-1"),
            "INBOUND_NOT_FOUND",
            "inbound 'IN-1' has no item for this SKU",
            id="zeros-matter",
        ),
        pytest.param(("00123", "5", "IN-1"), "MISMATCH", "received 4 of 5 (difference -1)", id="short"),
        pytest.param(
            ("  SKU-1 ", "13", " IN-1 "),
            "MISMATCH",
            "received 14 of 13 (difference +1)",
            id="trimmed-and-over",
        ),
        pytest.param(("123", "7", "PO-2"), "PENDING", "inbound is Pending, nothing booked yet", id="pending"),
        pytest.param(
            ("SKU-4", "30", "PO-3"),
            "MISMATCH",
            "received 22 of 30 (difference -8); inbound is PartiallyReceipted/Receipted",
            id="po-shared-by-two-one-still-receiving",
        ),
        pytest.param(("SKU-4", "12", "IN-3"), "MATCH", "", id="id-wins-over-number"),
        pytest.param(
            ("NOPE", "1", "IN-1"),
            "UNKNOWN_SKU",
            "merchant SKU 'NOPE' is not in the FFN product list",
            id="unknown",
        ),
        pytest.param(
            ("SKU-1", "1", "IN-9"),
            "INBOUND_NOT_FOUND",
            "no inbound with id or number 'IN-9'",
            id="no-inbound",
        ),
        pytest.param(("", "3", "IN-1"), "INVALID_ROW", "SKU is empty", id="empty-sku"),
        pytest.param(
            ("SKU-1", "abc", "IN-1"), "INVALID_ROW", "units 'abc' are not a number", id="text-units"
        ),
        pytest.param(("SKU-1", "-2", "IN-1"), "INVALID_ROW", "units '-2' are negative", id="negative"),
        pytest.param(
            ("SKU-1", "1,5", "IN-1"), "INVALID_ROW", "units '1,5' are not a whole number", id="fraction"
        ),
        pytest.param(("SKU-1", "", "IN-1"), "INVALID_ROW", "units are empty", id="no-units"),
        pytest.param(("SKU-1", "14", ""), "INVALID_ROW", "inbound reference is empty", id="no-ref"),
        pytest.param(("SKU-1", "14,0", "IN-1"), "MATCH", "", id="decimal-comma-zero"),
    ],
)
@pytest.mark.slow
def test_each_rule(row: tuple[str, str, str], status: str, note: str) -> None:
    out = run([row])
    assert out["status"].tolist() == [status]
    assert out["note"].tolist() == [note]


def test_units_and_received_columns() -> None:
    out = run([("00123", "5", "IN-1"), ("SKU-1", "x", "IN-1")])
    assert out["units_expected"].tolist() == [5, pd.NA]
    assert out["units_received"].tolist() == [4, pd.NA]
    RESULT_SCHEMA.validate(out)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1.234", 1234),
        ("1.234,0", 1234),
        ("1.234.567", 1234567),
        ("12,0", 12),
        ("12", 12),
        ("12.0", 12),
        ("+7", 7),
        ("1 234", 1234),
        ("1\u00a0234", 1234),
        ("1'234", 1234),
        ("0", 0),
        (" 42 ", 42),
    ],
)
def test_parse_units_reads_german_and_program_formats(text: str, value: int) -> None:
    assert parse_units(text) == (value, None)


@pytest.mark.parametrize(
    "text", ["1,234", "12.5", "1.23", "-1", "1e3", "zwölf", "12 Stk", "1.234,5", "", "1,2,3"]
)
def test_parse_units_rejects(text: str) -> None:
    value, reason = parse_units(text)
    assert value is None and reason


def test_parse_units_cap() -> None:
    assert parse_units("2.000.000", max_units=1_000_000) == (None, "units '2.000.000' exceed 1,000,000")


def test_duplicates_flag_every_copy_and_name_the_rows() -> None:
    out = run([("SKU-1", "14", "IN-1"), ("00123", "4", "IN-1"), ("SKU-1 ", "14", "IN-1")])
    assert out["status"].tolist() == ["INVALID_ROW", "MATCH", "INVALID_ROW"]
    assert out["note"].iloc[0] == "duplicate row for the same SKU and inbound (rows 4, 6)"


def test_same_sku_in_two_inbounds_is_no_duplicate() -> None:
    out = run([("SKU-1", "14", "IN-1"), ("SKU-1", "0", "PO-2")])
    assert out["status"].tolist() == ["MATCH", "INBOUND_NOT_FOUND"]


def test_blank_rows_get_no_result_and_keep_their_numbers() -> None:
    out = run([("SKU-1", "14", "IN-1"), ("", "", ""), ("  ", " ", ""), ("00123", "4", "IN-1")])
    assert out["row_number"].tolist() == [4, 7]


def test_warehouse_column_must_agree_with_inbound() -> None:
    frame = sheet(
        [("SKU-1", "14", "IN-1", "WH-A"), ("00123", "4", "IN-1", "WH-B"), ("00123", "4", "IN-1", "")],
        ("sku", "units", "inbound", "warehouse"),
    )
    out = reconcile(frame, PRODUCTS, ITEMS, None, ReconcileParams())
    assert out["status"].tolist() == ["MATCH", "INBOUND_NOT_FOUND", "MATCH"]
    assert out["note"].iloc[1] == "inbound 'IN-1' is for warehouse WH-A, not WH-B"
    assert row_keys(out).tolist() == ["SKU-1|IN-1|WH-A", "00123|IN-1|WH-B", "00123|IN-1|"]


STOCKS = pd.DataFrame(
    {
        "jfsku": ["MERCA", "MERCA", "MERCB", "MERCC", "MERCD"],
        "warehouse_id": ["WH-A", "WH-B", "WH-A", "WH-A", "WH-A"],
        "stock_level": [10, 4, 0, 0, 9],
        "stock_level_announced": [0, 0, 5, 0, 0],
    }
).astype({"stock_level": "int64", "stock_level_announced": "int64"})


def test_stock_mode_sums_warehouses_and_knows_pending() -> None:
    frame = sheet(
        [("SKU-1", "14"), ("00123", "5"), ("123", "5"), ("SKU-5", "0"), ("SKU-4", "10")], ("sku", "units")
    )
    out = reconcile(frame, PRODUCTS, None, STOCKS, ReconcileParams(mode="stock"))
    assert out["status"].tolist() == ["MATCH", "PENDING", "MISMATCH", "MATCH", "MISMATCH"]
    assert out["note"].tolist()[1:3] == [
        "5 units announced, nothing booked yet",
        "received 0 of 5 (difference -5)",
    ]
    assert row_keys(out).tolist()[0] == "SKU-1"


def test_stock_mode_per_warehouse() -> None:
    frame = sheet(
        [("SKU-1", "4", "WH-B"), ("SKU-1", "14", ""), ("SKU-1", "1", "WH-X")], ("sku", "units", "warehouse")
    )
    out = reconcile(frame, PRODUCTS, None, STOCKS, ReconcileParams(mode="stock"))
    assert out["status"].tolist() == ["MATCH", "MATCH", "INVALID_ROW"]
    assert out["note"].iloc[2] == "unknown warehouse 'WH-X'"


def test_missing_columns_and_inputs_fail_loudly() -> None:
    with pytest.raises(ValueError, match="units"):
        reconcile(pd.DataFrame({"row_number": [1], "sku": ["a"]}), PRODUCTS, ITEMS, None, ReconcileParams())
    with pytest.raises(ValueError, match="inbound column"):
        reconcile(sheet([("a", "1")], ("sku", "units")), PRODUCTS, ITEMS, None, ReconcileParams())
    with pytest.raises(ValueError, match="stocks"):
        reconcile(sheet([("a", "1")], ("sku", "units")), PRODUCTS, None, None, ReconcileParams(mode="stock"))


def test_empty_sheet() -> None:
    out = run([])
    assert out.empty and list(out.columns)[:3] == ["row_number", "sku", "inbound_ref"]


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        pytest.param(
            pd.DataFrame({"row_number": [1, 1], "sku": ["a", "b"], "units": ["1", "2"]}),
            "duplicate values",
            id="dup-rows",
        ),
        pytest.param(pd.DataFrame({"row_number": [1], "sku": ["a"]}), "units", id="missing-col"),
        pytest.param(
            pd.DataFrame({"row_number": [0], "sku": ["a"], "units": ["1"]}),
            "greater_than_or_equal",
            id="row-0",
        ),
    ],
)
def test_sheet_schema_failures(frame: pd.DataFrame, message: str) -> None:
    with pytest.raises(pandera.errors.SchemaError, match=message):
        SHEET_SCHEMA.validate(frame)


def test_inbound_items_schema_rejects_negative_quantities() -> None:
    with pytest.raises(pandera.errors.SchemaError, match="greater_than_or_equal"):
        INBOUND_ITEMS_SCHEMA.validate(ITEMS.assign(quantity_open=-1))


def test_annotate_since_uses_the_current_streak() -> None:
    out = run([("00123", "5", "IN-1"), ("123", "7", "PO-2"), ("SKU-1", "14", "IN-1")])
    d = lambda day: datetime(2026, 11, day, 8, tzinfo=UTC)  # noqa: E731
    history = {
        "00123|IN-1": [(d(1), "MISMATCH"), (d(2), "MATCH"), (d(3), "MISMATCH"), (d(4), "MISMATCH")],
        "123|PO-2": [(d(5), "PENDING")],
        "SKU-1|IN-1": [(d(1), "MISMATCH")],
    }
    notes = annotate_since(out, history)["note"].tolist()
    assert notes == [
        "received 4 of 5 (difference -1); since 2026-11-03",
        "inbound is Pending, nothing booked yet; since 2026-11-05",
        "",
    ]


def test_status_counts_lists_every_status() -> None:
    counts = status_counts(run([("SKU-1", "14", "IN-1"), ("x", "1", "IN-1")]))
    assert counts == {
        "MATCH": 1,
        "MISMATCH": 0,
        "PENDING": 0,
        "UNKNOWN_SKU": 1,
        "INBOUND_NOT_FOUND": 0,
        "INVALID_ROW": 0,
    }


ROW = st.tuples(
    st.sampled_from(["SKU-1", "00123", "123", "SKU-4", "SKU-5", "NOPE", "", " SKU-1"]),
    st.sampled_from(["0", "4", "7", "14", "1.234", "abc", "", "12,0", "-1"]),
    st.sampled_from(["IN-1", "IN-2", "PO-1", "PO-3", "IN-9", ""]),
)


@pytest.mark.slow
@settings(max_examples=150, deadline=None)
@given(st.lists(ROW, max_size=30))
def test_properties_every_row_one_status_and_order_independent(rows: list[tuple[str, str, str]]) -> None:
    out = run(rows)
    nonblank = [r for r in rows if any(c.strip() for c in r)]
    assert len(out) == len(nonblank)
    assert set(out["status"]) <= {s.value for s in RowStatus}
    match = out[out["status"] == "MATCH"]
    assert (match["units_expected"] == match["units_received"]).all()
    mism = out[out["status"] == "MISMATCH"]
    assert (mism["units_expected"] != mism["units_received"]).all()
    # Reordering the sheet changes nothing but the row numbers.
    shuffled = run(list(reversed(rows)))
    key = ["row_key", "status", "units_expected", "units_received"]
    out, shuffled = out.assign(row_key=row_keys(out)), shuffled.assign(row_key=row_keys(shuffled))
    a = out[key].astype(str).sort_values(key).reset_index(drop=True)
    b = shuffled[key].astype(str).sort_values(key).reset_index(drop=True)
    if not out["note"].str.contains("duplicate").any():
        pd.testing.assert_frame_equal(a, b)
