"""demand_frame and replenishment_lines: literal frames, one rule per test, expectations from the formula."""

from __future__ import annotations

import math
from datetime import date
from statistics import NormalDist, mean, stdev
from typing import Any

import pandas as pd
import pandera.errors
import pytest

from jtl_automator.transforms.replenishment import (
    DemandParams,
    ReplenishmentParams,
    demand_frame,
    low_stock_alerts,
    replenishment_lines,
    round_order_quantity,
)

WINDOW = DemandParams(start=date(2026, 11, 1), end=date(2026, 11, 10))


def _lines(*rows: tuple[str, str, str, float]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "merchant_sku": [r[0] for r in rows],
            "warehouse_id": [r[1] for r in rows],
            "day": pd.to_datetime([r[2] for r in rows]),
            "quantity": [float(r[3]) for r in rows],
        }
    )


def _outs(*rows: tuple[str, str, str]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "merchant_sku": pd.Series([r[0] for r in rows], dtype="string"),
            "warehouse_id": pd.Series([r[1] for r in rows], dtype="string"),
            "day": pd.to_datetime(pd.Series([r[2] for r in rows], dtype="object")),
        }
    )


def _demand(sku: str, warehouse: str, d: float, sigma: float = 0.0) -> dict[str, Any]:
    return {
        "merchant_sku": sku,
        "warehouse_id": warehouse,
        "units": d * 10,
        "observed_days": 10,
        "daily_demand": d,
        "demand_std": sigma,
    }


def _stock(
    sku: str, warehouse: str, level: float, reserved: float = 0, blocked: float = 0, announced: float = 0
) -> dict[str, Any]:
    return {
        "merchant_sku": sku,
        "warehouse_id": warehouse,
        "stock_level": level,
        "reserved": reserved,
        "blocked": blocked,
        "announced": announced,
    }


def _supplier(sku: str, supplier: int | None = 1, **fields: float | None) -> dict[str, Any]:
    row: dict[str, Any] = {
        "merchant_sku": sku,
        "supplier_id": supplier,
        "supplier_name": None if supplier is None else f"S{supplier}",
        "delivery_time": 10.0,
        "procurement_time": None,
        "minimum_purchase": None,
        "permissible_quantity": None,
        "packaging_amount": None,
    }
    row.update(fields)
    return row


def _run(
    demand: list[dict[str, Any]],
    stock: list[dict[str, Any]],
    suppliers: list[dict[str, Any]],
    on_order: list[tuple[str, str, float]] = (),  # type: ignore[assignment]
    params: ReplenishmentParams | None = None,
) -> pd.DataFrame:
    columns = ["merchant_sku", "warehouse_id", "units", "observed_days", "daily_demand", "demand_std"]
    stock_cols = ["merchant_sku", "warehouse_id", "stock_level", "reserved", "blocked", "announced"]
    return replenishment_lines(
        pd.DataFrame(demand, columns=columns),
        pd.DataFrame(stock, columns=stock_cols),
        pd.DataFrame(on_order, columns=["merchant_sku", "warehouse_id", "quantity_open"]),
        pd.DataFrame(suppliers, columns=list(_supplier("x"))),
        params or ReplenishmentParams(),
    )


def _row(lines: pd.DataFrame, sku: str, warehouse: str = "W1") -> dict[str, Any]:
    rows = lines[(lines["merchant_sku"] == sku) & (lines["warehouse_id"] == warehouse)]
    assert len(rows) == 1, rows
    return dict(rows.iloc[0])


# -- demand ---------------------------------------------------------------------------------------------


def test_demand_counts_days_without_sales_as_zero() -> None:
    demand = demand_frame(_lines(("A", "W1", "2026-11-02", 4), ("A", "W1", "2026-11-05", 6)), _outs(), WINDOW)
    daily = [0.0] * 10
    daily[1], daily[4] = 4, 6
    row = demand.iloc[0]
    assert row["observed_days"] == 10
    assert row["daily_demand"] == pytest.approx(mean(daily))
    assert row["demand_std"] == pytest.approx(stdev(daily))


def test_days_out_of_stock_without_sales_are_not_observed() -> None:
    lines = _lines(("A", "W1", "2026-11-01", 3), ("A", "W1", "2026-11-03", 5))
    # Out of stock from the 3rd on: the 3rd still shipped (observed), the 4th to 10th did not count.
    outs = _outs(*(("A", "W1", f"2026-11-{day:02d}") for day in range(3, 11)))
    row = demand_frame(lines, outs, WINDOW).iloc[0]
    observed = [3.0, 0.0, 5.0]
    assert row["observed_days"] == 3
    assert row["daily_demand"] == pytest.approx(mean(observed))
    assert row["demand_std"] == pytest.approx(stdev(observed))


def test_demand_sums_lines_of_one_day_and_keeps_warehouses_apart() -> None:
    lines = _lines(("A", "W1", "2026-11-02", 1), ("A", "W1", "2026-11-02", 2), ("A", "W2", "2026-11-02", 7))
    demand = demand_frame(lines, _outs(("A", "W2", "2026-11-05")), WINDOW).set_index("warehouse_id")
    assert demand.loc["W1", "units"] == 3 and demand.loc["W1", "observed_days"] == 10
    assert demand.loc["W2", "units"] == 7 and demand.loc["W2", "observed_days"] == 9
    assert demand.loc["W2", "daily_demand"] == pytest.approx(7 / 9)


def test_lines_outside_the_window_and_stockouts_elsewhere_are_ignored() -> None:
    lines = _lines(
        ("A", "W1", "2026-10-31", 100), ("A", "W1", "2026-11-11", 100), ("A", "W1", "2026-11-04", 5)
    )
    outs = _outs(("A", "W1", "2026-10-20"), ("B", "W1", "2026-11-04"), ("A", "W9", "2026-11-04"))
    row = demand_frame(lines, outs, WINDOW).iloc[0]
    assert (row["units"], row["observed_days"]) == (5, 10)


def test_duplicate_stockout_days_count_once() -> None:
    outs = _outs(("A", "W1", "2026-11-04"), ("A", "W1", "2026-11-04"))
    row = demand_frame(_lines(("A", "W1", "2026-11-02", 9)), outs, WINDOW).iloc[0]
    assert row["observed_days"] == 9


def test_a_window_that_ends_before_it_starts_is_refused() -> None:
    with pytest.raises(ValueError, match="ends"):
        DemandParams(start=date(2026, 11, 5), end=date(2026, 11, 1))


def test_an_order_line_without_a_day_fails_validation_by_column() -> None:
    lines = _lines(("A", "W1", "2026-11-02", 1)).drop(columns="day")
    with pytest.raises(pandera.errors.SchemaError, match="day"):
        demand_frame(lines, _outs(), WINDOW)


# -- the formula ------------------------------------------------------------------------------------------


def test_reorder_point_and_quantity_follow_the_documented_formula() -> None:
    review, target, level = 5.0, 20.0, 0.9
    params = ReplenishmentParams(review_period_days=review, target_cover_days=target, service_level=level)
    d, sigma, lead = 4.0, 2.0, 10.0
    lines = _run(
        [_demand("A", "W1", d, sigma)],
        [_stock("A", "W1", 50, reserved=5, blocked=3)],
        [_supplier("A")],
        params=params,
    )
    row = _row(lines, "A")
    z = NormalDist().inv_cdf(level)
    safety = z * sigma * math.sqrt(lead + review)
    rop = d * (lead + review) + safety
    up_to = d * (lead + target) + safety
    available = 50 - 5 - 3
    assert row["available"] == available
    assert row["safety_stock"] == pytest.approx(safety)
    assert row["reorder_point"] == pytest.approx(rop)
    assert row["status"] == "order"
    assert row["order_quantity"] == math.ceil(up_to - available)
    assert row["score"] == pytest.approx((rop - available) / d)
    assert row["cover_days"] == pytest.approx(available / d)


def test_position_above_the_reorder_point_orders_nothing() -> None:
    lines = _run([_demand("A", "W1", 1.0)], [_stock("A", "W1", 100)], [_supplier("A")])
    row = _row(lines, "A")
    assert row["status"] == "sufficient" and pd.isna(row["order_quantity"])


@pytest.mark.slow
def test_higher_service_level_means_more_safety_stock() -> None:
    args = ([_demand("A", "W1", 2.0, 3.0)], [_stock("A", "W1", 0)], [_supplier("A")])
    low = _row(_run(*args, params=ReplenishmentParams(service_level=0.9)), "A")
    high = _row(_run(*args, params=ReplenishmentParams(service_level=0.99)), "A")
    assert high["safety_stock"] > low["safety_stock"] and high["order_quantity"] > low["order_quantity"]


def test_open_inbounds_count_as_on_order_and_announced_is_not_added_twice() -> None:
    base = _row(_run([_demand("A", "W1", 2.0)], [_stock("A", "W1", 0)], [_supplier("A")]), "A")
    lines = _run(
        [_demand("A", "W1", 2.0)],
        [_stock("A", "W1", 0, announced=8)],
        [_supplier("A")],
        on_order=[("A", "W1", 6), ("A", "W1", 4), ("A", "W2", 50)],
    )
    row = _row(lines, "A")
    assert row["on_order"] == 10  # max(6 + 4, 8), never 18
    assert row["order_quantity"] == base["order_quantity"] - 10


def test_lead_time_falls_back_from_supplier_to_item_to_default() -> None:
    suppliers = [
        _supplier("A", delivery_time=5, procurement_time=20),
        _supplier("B", delivery_time=None, procurement_time=20),
        _supplier("C", delivery_time=0, procurement_time=None),
    ]
    stock = [_stock(s, "W1", 0) for s in "ABC"]
    demand = [_demand(s, "W1", 1.0) for s in "ABC"]
    lines = _run(demand, stock, suppliers, params=ReplenishmentParams(default_lead_time_days=3))
    got = {s: (_row(lines, s)["lead_time_days"], _row(lines, s)["lead_time_source"]) for s in "ABC"}
    assert got == {"A": (5, "supplier"), "B": (20, "item"), "C": (3, "default")}


def test_without_any_lead_time_and_no_default_the_line_says_so() -> None:
    lines = _run(
        [_demand("A", "W1", 1.0), _demand("B", "W1", 1.0)],
        [_stock("A", "W1", 0), _stock("B", "W1", 0)],
        [_supplier("A", delivery_time=None), _supplier("B")],
        params=ReplenishmentParams(default_lead_time_days=None),
    )
    assert _row(lines, "A")["status"] == "no_lead_time" and "ProcurementTime" in _row(lines, "A")["reason"]
    assert _row(lines, "B")["status"] == "order"


# -- rounding ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "minimum", "permissible", "packaging", "expected"),
    [
        pytest.param(7.2, None, None, None, 8, id="whole-units"),
        pytest.param(3, 10, None, None, 10, id="minimum-purchase"),
        pytest.param(7, None, 5, None, 10, id="permissible-step"),
        pytest.param(7, None, None, 12, 12, id="packaging-unit"),
        pytest.param(7, None, 4, 6, 12, id="both-by-lcm"),
        pytest.param(11, 5, 2, 3, 12, id="minimum-then-step"),
        pytest.param(4, 5, 2, None, 6, id="minimum-rounded-to-step"),
        pytest.param(2.1, None, 1.5, None, 3.0, id="fractional-step"),
        pytest.param(12, None, 4, 6, 12, id="exact-multiple-stays"),
        pytest.param(5, None, 0, -2, 5, id="non-positive-steps-ignored"),
    ],
)
def test_order_quantity_rounding(
    raw: float, minimum: float | None, permissible: float | None, packaging: float | None, expected: float
) -> None:
    def col(value: float | None) -> pd.Series:
        return pd.Series([value], dtype="float64")

    got = round_order_quantity(col(raw), col(minimum), col(permissible), col(packaging))
    assert got.iloc[0] == pytest.approx(expected)


def test_rounding_applies_inside_the_lines() -> None:
    lines = _run(
        [_demand("A", "W1", 1.0)],
        [_stock("A", "W1", 0)],
        [_supplier("A", minimum_purchase=100, permissible_quantity=4, packaging_amount=6)],
    )
    assert _row(lines, "A")["order_quantity"] == 108  # 100 -> next multiple of lcm(4, 6) = 12


# -- bad input and alerts -------------------------------------------------------------------------------


def test_bad_input_gets_a_reason_per_line_and_the_batch_goes_on() -> None:
    lines = _run(
        [_demand(s, "W1", 2.0) for s in "ABCDE"],
        [
            _stock("A", "W1", -4),
            _stock("B", "W1", 5e9),
            _stock("C", "W1", 5, reserved=4, blocked=3),
            _stock("D", "W1", 0),
            _stock("E", "W1", 0),
        ],
        [_supplier("A"), _supplier("B"), _supplier("C"), _supplier("D", supplier=None), _supplier("E")],
    )
    assert _row(lines, "A")["status"] == "invalid_input" and "-4" in _row(lines, "A")["reason"]
    assert _row(lines, "B")["status"] == "invalid_input" and "bound" in _row(lines, "B")["reason"]
    assert _row(lines, "C")["status"] == "invalid_input" and "exceed" in _row(lines, "C")["reason"]
    assert _row(lines, "D")["status"] == "no_supplier"
    assert _row(lines, "E")["status"] == "order"
    assert lines.loc[lines["status"] != "order", "order_quantity"].isna().all()


def test_absurd_lead_time_is_refused() -> None:
    lines = _run([_demand("A", "W1", 1.0)], [_stock("A", "W1", 0)], [_supplier("A", delivery_time=5000)])
    row = _row(lines, "A")
    assert row["status"] == "invalid_input" and "lead time" in row["reason"]


def test_demand_without_a_stock_row_is_treated_as_none_on_hand() -> None:
    lines = _run([_demand("A", "W2", 1.0)], [], [_supplier("A")])
    row = _row(lines, "A", "W2")
    assert (row["available"], row["status"], row["low_stock"]) == (0, "order", True)


def test_low_stock_is_what_runs_out_before_a_delivery_can_arrive() -> None:
    lines = _run(
        [_demand("A", "W1", 2.0), _demand("B", "W1", 2.0), _demand("C", "W1", 2.0)],
        [_stock("A", "W1", 19), _stock("B", "W1", 21), _stock("C", "W1", 1)],
        [_supplier("A"), _supplier("B"), _supplier("C", supplier=None)],  # lead time 10 days
    )
    alerts = low_stock_alerts(lines)
    assert list(alerts["merchant_sku"]) == ["C", "A"]  # fewest days first, a line without supplier too


def test_no_demand_never_orders_and_never_alerts() -> None:
    lines = _run([], [_stock("A", "W1", 0)], [_supplier("A")])
    row = _row(lines, "A")
    assert (row["status"], row["low_stock"]) == ("sufficient", False)


def test_lines_are_grouped_by_supplier_most_urgent_first() -> None:
    lines = _run(
        [_demand("A", "W1", 1.0), _demand("B", "W1", 5.0), _demand("C", "W1", 1.0)],
        [_stock("A", "W1", 0), _stock("B", "W1", 0), _stock("C", "W1", 0)],
        [
            _supplier("A", supplier=2),
            _supplier("B", supplier=2, delivery_time=30),
            _supplier("C", supplier=1),
        ],
    )
    assert list(zip(lines["supplier_id"], lines["merchant_sku"], strict=True)) == [
        (1, "C"),
        (2, "B"),
        (2, "A"),
    ]


def test_a_supplier_table_with_a_sku_twice_is_refused() -> None:
    with pytest.raises(pandera.errors.SchemaError, match="merchant_sku"):
        _run([], [], [_supplier("A"), _supplier("A", supplier=2)])


# -- the optimised demand path against a straightforward reference ------------------------------------------


def _reference_demand(lines: pd.DataFrame, outs: pd.DataFrame, window: DemandParams) -> pd.DataFrame:
    """The rule read literally: every day of the window per group, observed unless out of stock unsold."""
    days = pd.date_range(pd.Timestamp(window.start), pd.Timestamp(window.end), freq="D")
    inside = lines[(lines["day"] >= days[0]) & (lines["day"] <= days[-1]) & (lines["quantity"] > 0)]
    out_days = {(r.merchant_sku, r.warehouse_id, pd.Timestamp(r.day)) for r in outs.itertuples()}
    rows = []
    for (sku, wh), group in sorted(inside.groupby(["merchant_sku", "warehouse_id"]), key=lambda kv: kv[0]):
        per_day = group.groupby("day")["quantity"].sum()
        values = [
            float(per_day.get(day, 0.0))
            for day in days
            if day in per_day.index or (sku, wh, day) not in out_days
        ]
        rows.append(
            {
                "merchant_sku": sku,
                "warehouse_id": wh,
                "units": sum(values),
                "observed_days": len(values),
                "daily_demand": mean(values) if values else 0.0,
                "demand_std": stdev(values) if len(values) > 1 else 0.0,
            }
        )
    return pd.DataFrame(rows)


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.slow
def test_demand_matches_a_day_by_day_reference_on_random_inputs(seed: int) -> None:
    import numpy as np

    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 60))
    skus = [f"S{i}" for i in range(int(rng.integers(1, 6)))] + ["s0", "S10"]
    whs = ["W2", "W1", "W10"][: int(rng.integers(1, 4))]

    def day() -> str:
        if rng.random() < 0.1:
            return f"2026-10-{int(rng.integers(29, 32))}"
        return f"2026-11-{int(rng.integers(1, 13)):02d}"

    lines = _lines(
        *[
            (str(rng.choice(skus)), str(rng.choice(whs)), day(), float(rng.choice([0, 1, 2, 3.5, 7, -1])))
            for _ in range(n)
        ]
    )
    outs = _outs(
        *[
            (str(rng.choice(skus)), str(rng.choice([*whs, "W9"])), day())
            for _ in range(int(rng.integers(0, 40)))
        ]
    )
    got = demand_frame(lines, outs, WINDOW)
    want = _reference_demand(lines, outs, WINDOW)
    assert list(got["merchant_sku"]) == list(want.get("merchant_sku", []))
    assert list(got["warehouse_id"]) == list(want.get("warehouse_id", []))
    for column in ("units", "observed_days", "daily_demand", "demand_std"):
        assert list(got[column]) == pytest.approx(list(want.get(column, [])), rel=1e-9, abs=1e-12), column


def test_demand_refuses_lines_without_a_key_column() -> None:
    lines = _lines(("A", "W1", "2026-11-02", 2)).drop(columns=["warehouse_id"])
    with pytest.raises(pandera.errors.SchemaError, match="warehouse_id"):
        demand_frame(lines, _outs(), WINDOW)


@pytest.mark.parametrize("column", ["merchant_sku", "warehouse_id"])
def test_a_large_frame_with_one_null_key_is_refused(column: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Past the full-validation size nulls are found by the factorisation, not by a scan: still refused."""
    monkeypatch.setattr("jtl_automator.transforms.validation.FULL_VALIDATION_ROWS", 50)
    monkeypatch.setattr("jtl_automator.transforms.validation.VALIDATION_SAMPLE_ROWS", 10)
    lines = _lines(*[(f"S{i}", "W1", "2026-11-02", 1) for i in range(120)])
    lines[column] = lines[column].astype("string")
    lines.loc[100, column] = pd.NA
    with pytest.raises(pandera.errors.SchemaError, match=column):
        demand_frame(lines, _outs(), WINDOW)
    lines.loc[100, column] = "S100" if column == "merchant_sku" else "W1"
    assert demand_frame(lines, _outs(), WINDOW)["units"].sum() == 120


@pytest.mark.parametrize("prefix", [1, 3, 1000])
def test_key_codes_name_every_row_by_its_label_also_past_the_prefix(
    prefix: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Labels first seen past the prefix, and nulls (code -1), come out as factorising gives them."""
    from jtl_automator.transforms import replenishment

    monkeypatch.setattr(replenishment, "LABEL_PREFIX_ROWS", prefix)
    values = pd.Series(["B", "A", "B", None, "C", "A", "D", None, "C", "E"], dtype="string")
    codes, labels = replenishment._codes(values)
    decoded = [None if c < 0 else labels[c] for c in codes]
    assert decoded == [None if v is pd.NA else v for v in values.tolist()]
    assert sorted(labels) == ["A", "B", "C", "D", "E"] and labels.is_unique
