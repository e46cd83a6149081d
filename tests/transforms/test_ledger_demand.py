"""The order ledger's lines as order lines, FFN outbounds before the cut-off, and the two as one frame."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pandas as pd
import pytest

from jtl_automator.transforms import ledger_demand
from jtl_automator.transforms.ledger_demand import (
    combined_order_lines,
    ledger_lines_frame,
    outbound_lines_before,
)
from jtl_automator.transforms.replenishment import DemandParams, demand_frame
from jtl_automator.transforms.replenishment_frames import outbound_lines_frame, stockout_frame


def _rows(frame: pd.DataFrame) -> list[tuple[str, str, str, float]]:
    return sorted(
        zip(
            frame["merchant_sku"].astype(str),
            frame["warehouse_id"].astype(str),
            frame["day"].dt.strftime("%Y-%m-%d"),
            frame["quantity"],
            strict=True,
        )
    )


def _outbound(created: str, *items: tuple[str, float], warehouse: str = "W1") -> dict[str, Any]:
    return {
        "outboundId": f"O-{created}",
        "status": "Shipped",
        "warehouseId": warehouse,
        "modificationInfo": {"createdAt": created},
        "items": [{"merchantSku": sku, "quantity": quantity} for sku, quantity in items],
    }


def test_ledger_rows_become_order_lines_and_malformed_ones_are_skipped() -> None:
    frame = ledger_lines_frame(
        [
            ("A", "W1", date(2026, 10, 2), 2.0),
            ("B", "W2", "2026-10-03", 1),  # SQLite's driver gives the day as ISO text
            (" C ", "W1", datetime(2026, 10, 4, 13, 30), 3.0),  # a timestamp counts on its day
            (None, "W1", date(2026, 10, 2), 1.0),
            ("   ", "W1", date(2026, 10, 2), 1.0),
            ("D", None, date(2026, 10, 2), 1.0),
            ("E", 7, date(2026, 10, 2), 1.0),
            ("F", "W1", None, 1.0),
            ("G", "W1", "not a day", 1.0),
            ("H", "W1", date(2026, 10, 2), -1.0),
            ("I", "W1", date(2026, 10, 2), 0.0),
            ("J", "W1", date(2026, 10, 2), float("nan")),
            ("K", "W1", date(2026, 10, 2), float("inf")),
            ("L", "W1", date(2026, 10, 2), None),
            ("M", "W1", date(2026, 10, 2), "2"),
            ("N", "W1", date(2026, 10, 2), True),
        ]
    )
    assert _rows(frame) == [
        ("A", "W1", "2026-10-02", 2.0),
        ("B", "W2", "2026-10-03", 1.0),
        ("C", "W1", "2026-10-04", 3.0),
    ]
    reference = outbound_lines_frame([_outbound("2026-10-02T08:00:00Z", ("A", 2.0))])
    assert frame.dtypes.to_dict() == reference.dtypes.to_dict()  # the frame FFN's outbounds give


def test_no_ledger_rows_give_an_empty_frame_of_the_same_columns() -> None:
    frame = ledger_lines_frame([])
    assert frame.empty and list(frame.columns) == ["merchant_sku", "warehouse_id", "day", "quantity"]
    assert frame.dtypes.to_dict() == outbound_lines_frame([]).dtypes.to_dict()


def test_ledger_rows_read_in_chunks_give_the_same_frame(monkeypatch: pytest.MonkeyPatch) -> None:
    rows = [(f"S{n % 4}", f"W{n % 2}", date(2026, 10, 1 + n % 9), float(n % 5)) for n in range(41)]
    whole = ledger_lines_frame(rows)
    monkeypatch.setattr(ledger_demand, "LEDGER_CHUNK_ROWS", 4)
    assert _rows(ledger_lines_frame(iter(rows))) == _rows(whole)
    assert len(whole) == 41 - 9  # quantity 0 in every fifth row


@pytest.mark.slow
def test_outbounds_before_the_cut_off_only(monkeypatch: pytest.MonkeyPatch) -> None:
    outbounds = [
        _outbound("2026-09-30T23:59:00Z", ("A", 1.0)),
        _outbound("2026-10-01T00:00:00Z", ("A", 2.0)),
        _outbound("2026-10-01T10:00:00Z", ("B", 3.0), warehouse="W2"),
        _outbound("2026-09-29T10:00:00Z", ("B", 4.0), ("C", 5.0)),
    ]
    monkeypatch.setattr(ledger_demand, "OUTBOUND_CHUNK", 1)  # streamed a chunk at a time
    before = outbound_lines_before(iter(outbounds), date(2026, 10, 1))
    assert _rows(before) == [
        ("A", "W1", "2026-09-30", 1.0),
        ("B", "W1", "2026-09-29", 4.0),
        ("C", "W1", "2026-09-29", 5.0),
    ]
    assert _rows(outbound_lines_before(outbounds, None)) == _rows(outbound_lines_frame(outbounds))
    assert outbound_lines_before([], date(2026, 10, 1)).empty


def test_the_two_sources_concatenate_whether_keys_are_strings_or_categories() -> None:
    ledger = ledger_lines_frame([("A", "W1", date(2026, 10, 2), 2.0), ("B", "W1", date(2026, 10, 3), 1.0)])
    outbound = outbound_lines_frame([_outbound("2026-09-30T08:00:00Z", ("C", 4.0), ("A", 1.0))])
    as_category = outbound.astype({"merchant_sku": "category", "warehouse_id": "category"})
    ledger_category = ledger.astype({"merchant_sku": "category"})
    expected = [
        ("A", "W1", "2026-09-30", 1.0),
        ("A", "W1", "2026-10-02", 2.0),
        ("B", "W1", "2026-10-03", 1.0),
        ("C", "W1", "2026-09-30", 4.0),
    ]
    for left, right in ((ledger, outbound), (ledger_category, as_category), (ledger, as_category)):
        both = combined_order_lines(left, right)
        assert _rows(both) == expected
        assert both["merchant_sku"].dtype == ledger["merchant_sku"].dtype  # not object
    assert combined_order_lines().empty
    assert _rows(combined_order_lines(ledger, ledger.iloc[0:0])) == _rows(ledger)


def test_demand_from_the_ledger_after_the_cut_off_and_outbounds_before_it_is_the_demand_of_both() -> None:
    window = DemandParams(start=date(2026, 9, 28), end=date(2026, 10, 4))
    # one order a day, as either source would record it
    history = [("A", "W1", window.start + timedelta(days=n), float(1 + n % 3)) for n in range(window.days)]
    outbounds = [
        _outbound(f"{day.isoformat()}T09:00:00Z", (sku, q), warehouse=wh) for sku, wh, day, q in history
    ]
    cut_off = date(2026, 10, 1)
    ledger = ledger_lines_frame(row for row in history if row[2] >= cut_off)
    both = combined_order_lines(ledger, outbound_lines_before(outbounds, cut_off))
    stockouts = stockout_frame([], window)
    from_ffn_only = demand_frame(outbound_lines_frame(outbounds), stockouts, window)
    assert demand_frame(both, stockouts, window).equals(from_ffn_only)
    assert float(from_ffn_only["units"].sum()) == sum(q for *_, q in history)  # nothing counted twice
