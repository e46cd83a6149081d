"""Issue 9 in the transforms: empty FFN answers are normal results, and notes stay small."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from jtl_automator.sheets.base import MAX_CELL_CHARS
from jtl_automator.transforms.ffn_frames import inbound_items_frame, products_frame, stocks_frame
from jtl_automator.transforms.inbound import (
    INBOUND_ITEMS_SCHEMA,
    NOTE_ROWS_LISTED,
    PRODUCTS_SCHEMA,
    RESULT_SCHEMA,
    STOCKS_SCHEMA,
    ReconcileParams,
    duplicate_note,
    reconcile,
    status_counts,
)

INBOUND = {
    "inboundId": "IN-1",
    "merchantInboundNumber": "PO-1",
    "warehouseId": "WH-A",
    "status": "Receipted",
    "items": [{"jfsku": "J1", "quantity": 5, "quantityOpen": 0}],
}
STOCK = {"jfsku": "J1", "stockLevel": 5, "stockLevelAnnounced": 0}


def _sheet(
    rows: list[tuple[str, ...]], columns: tuple[str, ...] = ("sku", "units", "inbound")
) -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series([r[i] for r in rows], dtype=object) for i, c in enumerate(columns)})
    frame.insert(0, "row_number", np.arange(2, 2 + len(rows), dtype=np.int64))
    return frame


@pytest.mark.parametrize(
    ("build", "full", "schema"),
    [
        pytest.param(products_frame, [{"merchantSku": "A", "jfsku": "J1"}], PRODUCTS_SCHEMA, id="products"),
        pytest.param(inbound_items_frame, [INBOUND], INBOUND_ITEMS_SCHEMA, id="inbound-items"),
        pytest.param(stocks_frame, [STOCK], STOCKS_SCHEMA, id="stocks"),
    ],
)
def test_an_empty_answer_has_the_dtypes_of_a_full_one(build, full, schema) -> None:
    empty = build([])
    assert empty.empty
    assert empty.dtypes.to_dict() == build(full).dtypes.to_dict()
    schema.validate(empty)


@pytest.mark.parametrize(
    ("rows", "mode", "items", "stocks", "status"),
    [
        pytest.param([], "inbound", [], None, None, id="header-only-sheet"),
        pytest.param(
            [("A", "5", "PO-9")], "inbound", [], None, "INBOUND_NOT_FOUND", id="every-inbound-unknown"
        ),
        pytest.param([("ZZ", "5", "PO-1")], "inbound", [INBOUND], None, "UNKNOWN_SKU", id="unknown-sku"),
        pytest.param([("ZZ", "5")], "stock", None, [], "UNKNOWN_SKU", id="stock-only-unknown-skus"),
        pytest.param([("A", "5")], "stock", None, [], "MISMATCH", id="stock-nothing-listed"),
    ],
)
@pytest.mark.slow
def test_nothing_from_ffn_flows_through_every_frame(rows, mode, items, stocks, status) -> None:
    columns = ("sku", "units", "inbound") if mode == "inbound" else ("sku", "units")
    out = reconcile(
        _sheet(rows, columns),
        products_frame([{"merchantSku": "A", "jfsku": "J1"}]),
        None if items is None else inbound_items_frame(items),
        None if stocks is None else stocks_frame(stocks),
        ReconcileParams(mode=mode),
    )
    RESULT_SCHEMA.validate(out)
    assert out["status"].tolist() == ([status] if status else [])
    assert sum(status_counts(out).values()) == len(rows)


def test_duplicate_notes_list_ten_rows_and_count_the_rest() -> None:
    """Issue 9: 10,000 copies of one SKU made notes of ~60,000 characters each."""
    rows = [("A", "5", "PO-1")] * 10_000
    out = reconcile(
        _sheet(rows), products_frame([]), inbound_items_frame([]), None, ReconcileParams(mode="inbound")
    )
    notes = out["note"].unique().tolist()
    assert notes == [
        "duplicate row for the same SKU and inbound (rows 2, 3, 4, 5, 6, 7, 8, 9, 10, 11 and 9,990 more)"
    ]
    assert out["duplicate"].all()


@pytest.mark.parametrize(
    ("copies", "tail"),
    [(2, "(rows 4, 5)"), (NOTE_ROWS_LISTED, "13)"), (NOTE_ROWS_LISTED + 1, "13 and 1 more)")],
)
def test_duplicate_note_edges(copies: int, tail: str) -> None:
    note = duplicate_note("SKU", list(range(4, 4 + copies)))
    assert note.endswith(tail)


def test_notes_quote_sheet_text_briefly_and_fit_every_backend() -> None:
    huge = "S" * 40_000
    out = reconcile(
        _sheet([(huge, "7", "PO-1"), ("A", "x" * 60_000, "PO-1")]),
        products_frame([]),
        inbound_items_frame([INBOUND]),
        None,
        ReconcileParams(mode="inbound"),
    )
    notes = out["note"].tolist()
    assert notes[0] == "SKU is 40,000 characters; JTL-FFN takes at most 255"  # INVALID_ROW, not a lookup
    assert out["status"].tolist()[0] == "INVALID_ROW"
    assert notes[1].startswith("units 'xxx") and len(notes[1]) < 200
    assert max(map(len, notes)) <= MAX_CELL_CHARS


def test_keys_longer_than_ffn_takes_are_invalid_rows_and_stay_out_of_the_history() -> None:
    from datetime import UTC, datetime

    from jtl_automator.services.inbound_verification import history_records
    from jtl_automator.transforms.inbound import row_keys

    out = reconcile(
        _sheet([("S" * 256, "7", "PO-1"), ("A", "7", "R" * 300), ("A", "7", "PO-1")]),
        products_frame([]),
        inbound_items_frame([INBOUND]),
        None,
        ReconcileParams(mode="inbound"),
    )
    assert out["status"].tolist()[:2] == ["INVALID_ROW", "INVALID_ROW"]
    assert "inbound reference is 300 characters" in out["note"].tolist()[1]
    out["row_key"] = row_keys(out)
    kept = history_records(out, datetime.now(UTC))
    assert [r["sku"] for r in kept] == ["A"]  # only the row whose key fits the history's columns
