"""Every KPI transform against values computed by hand on a small literal data set (see each comment).

Week 2026-W47 is Monday 16 to Sunday 22 November 2026; Berlin is UTC+1 then, so the week runs from
2026-11-15 23:00 UTC to 2026-11-22 23:00 UTC.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime

import pandas as pd
import pytest

from jtl_automator.transforms import kpis as k
from tests.reports import frames as f
from tests.reports.frames import NAN, utc

WEEK_START, WEEK_END = datetime(2026, 11, 15, 23, tzinfo=UTC), datetime(2026, 11, 22, 23, tzinfo=UTC)

#: A1 and A3 on Monday (A3 at 00:30 Berlin, still Sunday in UTC), A2 at 00:30 Berlin on Wednesday (Tuesday
#: in UTC); A4 held, A5 cancelled (its lines are no sale), A6 an outbound whose lines were never recorded.
ORDERS = f.orders(
    [
        ("A1", utc(2026, 11, 16, 8), "shipped", None, "W1", 2, 3.0, 2, 50.0, 59.5, 2, 20.0),
        ("A2", utc(2026, 11, 17, 23, 30), "outbound_created", None, "W2", 1, 1.0, 1, 30.0, 35.7, 0, NAN),
        ("A3", utc(2026, 11, 15, 23, 30), "shipped", None, "W1", 1, 2.0, 1, 20.0, 23.8, 1, 8.0),
        ("A4", utc(2026, 11, 18, 9), "held", "ADDRESS_INVALID: street", None, 0, NAN, 0, NAN, NAN, 0, NAN),
        ("A5", utc(2026, 11, 19, 9), "cancelled", None, "W1", 1, 4.0, 1, 100.0, 119.0, 1, 50.0),
        ("A6", utc(2026, 11, 19, 10), "outbound_created", None, "W1", 0, NAN, 0, NAN, NAN, 0, NAN),
    ]
)


def test_sales_totals_count_the_sold_orders_only_and_say_what_is_unknown() -> None:
    totals = k.sales_totals(ORDERS)
    # sold: A1, A2, A3 -> 3 orders, 3 + 1 + 2 = 6 units, 50 + 30 + 20 = 100 net,
    # 59.5 + 35.7 + 23.8 = 119 gross
    assert (totals.orders, totals.units, totals.lines, totals.priced_lines) == (3, 6.0, 4, 4)
    assert totals.net == pytest.approx(100.0) and totals.gross == pytest.approx(119.0)
    assert totals.aov_net == pytest.approx(100 / 3) and totals.aov_gross == pytest.approx(119 / 3)
    assert totals.units_per_order == pytest.approx(2.0)
    assert totals.cost == pytest.approx(28.0) and totals.costed_lines == 3  # A1's 20 + A3's 8
    assert totals.outbound_orders_without_lines == 1  # A6
    assert totals.notes == [
        "1 orders became outbounds before order processing recorded their lines: their sales are not in "
        "these figures"
    ]


def test_lines_without_amounts_leave_revenue_unknown_never_zero() -> None:
    unpriced = f.orders([("B1", utc(2026, 11, 16, 8), "shipped", None, "W1", 2, 3.0, 0, NAN, NAN, 0, NAN)])
    totals = k.sales_totals(unpriced)
    assert totals.orders == 1 and totals.net is None and totals.gross is None and totals.aov_net is None
    partly = f.orders(
        [
            ("B1", utc(2026, 11, 16, 8), "shipped", None, "W1", 2, 3.0, 0, NAN, NAN, 0, NAN),
            ("B2", utc(2026, 11, 16, 9), "shipped", None, "W1", 1, 1.0, 1, 10.0, 11.9, 0, NAN),
        ]
    )
    totals = k.sales_totals(partly)
    assert totals.net == 10.0 and totals.notes == [
        "2 of 3 order lines have no amount: revenue counts the others"
    ]
    empty = k.sales_totals(ORDERS.iloc[0:0])
    assert (empty.orders, empty.net, empty.aov_net) == (0, 0.0, None)  # a week without orders: a true zero


def test_daily_sales_count_each_order_on_its_berlin_day_and_list_every_day() -> None:
    days = k.daily_sales(ORDERS, [date(2026, 11, 16) + pd.Timedelta(days=n) for n in range(7)])
    assert days["day"].tolist() == [date(2026, 11, d) for d in range(16, 23)]
    # Monday: A1 and A3 (3 + 2 units, 50 + 20 net); Wednesday: A2; the rest: no order
    assert days["orders"].tolist() == [2, 0, 1, 0, 0, 0, 0]
    assert days["units"].tolist() == [5.0, 0, 1.0, 0, 0, 0, 0]
    assert days["net"].tolist() == pytest.approx([70.0, 0, 30.0, 0, 0, 0, 0])
    assert days["gross"].tolist() == pytest.approx([83.3, 0, 35.7, 0, 0, 0, 0])
    assert days["aov_net"].tolist()[:3] == [35.0, pytest.approx(NAN, nan_ok=True), 30.0]


SKU_SALES = f.sku_sales(
    [
        # sku, orders, lines, units, priced, net, gross, costed, costed_net, cost
        ("S1", 2, 2, 3.0, 2, 60.0, 71.4, 2, 60.0, 24.0),
        ("S2", 1, 1, 1.0, 1, 30.0, 35.7, 0, NAN, NAN),
        ("S3", 1, 2, 2.0, 2, 10.0, 11.9, 1, 5.0, 2.0),  # one of its two lines has a cost
        ("S4", 1, 1, 5.0, 1, 10.0, 11.9, 1, 10.0, 12.0),  # sold below cost
    ]
)
ITEMS = f.items(
    [
        ("S1", "Espresso", "Kaffee", 4.0),
        ("S2", "Earl Grey", "Tee", 2.5),
        ("S3", "Mokka", "Kaffee", 1.0),
        ("S6", "Restposten", "Deko", 3.0),
    ]
)


def test_sku_performance_margin_counts_costed_lines_only() -> None:
    perf = k.sku_performance(SKU_SALES, ITEMS)
    assert perf["sku"].tolist() == ["S1", "S2", "S3", "S4"]  # revenue first, ties by SKU
    assert perf["category"].tolist() == ["Kaffee", "Tee", "Kaffee", pd.NA]
    # S1: 60 - 24 = 36 (60 %); S3: 5 - 2 = 3 (60 %); S4: 10 - 12 = -2 (-20 %); S2: no cost
    assert perf["margin"].tolist() == pytest.approx([36.0, NAN, 3.0, -2.0], nan_ok=True)
    assert perf["margin_pct"].tolist() == pytest.approx([0.6, NAN, 0.6, -0.2], nan_ok=True)


def test_top_and_bottom_by_revenue_and_by_margin() -> None:
    perf = k.sku_performance(SKU_SALES, ITEMS)
    top, bottom = k.top_bottom(perf, "net", 2)
    assert top["sku"].tolist() == ["S1", "S2"] and bottom["sku"].tolist() == ["S3", "S4"]  # 10 = 10: by SKU
    top, bottom = k.top_bottom(perf, "margin", 2)
    assert top["sku"].tolist() == ["S1", "S3"] and bottom["sku"].tolist() == ["S4", "S3"]  # S2 has none


def test_category_mix_shares_add_up_and_unknown_items_are_their_own_category() -> None:
    mix = k.category_mix(k.sku_performance(SKU_SALES, ITEMS))
    assert mix["category"].tolist() == ["Kaffee", "Tee", "(none)"]
    assert mix["skus"].tolist() == [2, 1, 1] and mix["units"].tolist() == [5.0, 1.0, 5.0]
    assert mix["net"].tolist() == [70.0, 30.0, 10.0]
    assert mix["share"].tolist() == pytest.approx([70 / 110, 30 / 110, 10 / 110])
    assert mix["margin"].tolist() == pytest.approx([39.0, NAN, -2.0], nan_ok=True)  # Tee: no cost, not 0


STOCK = f.stock(
    [
        ("S1", "W1", 10.0, 2.0, 0.0),
        ("S1", "W2", 0.0, 0.0, 0.0),
        ("S2", "W1", 5.0, 0.0, 1.0),
        ("S3", "W1", 100.0, 0.0, 0.0),
        ("S4", "W2", 3.0, 0.0, 0.0),
        ("S5", "W1", 0.0, 0.0, 0.0),
        ("S6", "W2", 7.0, 0.0, 0.0),
        ("S7", "W1", 2.0, 0.0, 0.0),
    ]
)
DEMAND = f.demand(
    [
        ("S1", "W1", 56.0, "2026-11-20"),
        ("S2", "W1", 0.0, "2026-09-30"),  # sold within 90 days, but not in the 28-day cover window
        ("S3", "W1", 140.0, "2026-11-21"),
        ("S4", "W2", 28.0, "2026-11-19"),
        ("S5", "W1", 14.0, "2026-11-02"),
    ]
)


def test_stock_value_per_warehouse_at_purchase_price() -> None:
    value = k.stock_value(STOCK, ITEMS)
    assert value["warehouse_id"].tolist() == ["W1", "W2"]
    # W1: S1 10 x 4 + S2 5 x 2.5 + S3 100 x 1 = 152.5 (S7: 2 units without price);
    # W2: S6 7 x 3 = 21 (S4 unpriced)
    assert value["skus"].tolist() == [4, 2] and value["units"].tolist() == [117.0, 10.0]
    assert value["value"].tolist() == [152.5, 21.0] and value["unpriced_skus"].tolist() == [1, 1]


def test_cover_buckets_and_stock_outs() -> None:
    covered = k.cover(STOCK, DEMAND, 28).set_index(["sku", "warehouse_id"])
    # S1/W1: 10 - 2 reserved = 8 sellable, 56 / 28 = 2 a day -> 4 days; S3/W1: 100 / 5 = 20 days; S4/W2: 3 / 1
    assert (
        covered.loc[("S1", "W1"), "cover_days"] == 4.0 and covered.loc[("S1", "W1"), "bucket"] == "< 7 days"
    )
    assert (
        covered.loc[("S3", "W1"), "bucket"] == "14-30 days" and covered.loc[("S4", "W2"), "cover_days"] == 3.0
    )
    assert covered.loc[("S2", "W1"), "sellable"] == 4.0 and covered.loc[("S2", "W1"), "bucket"] == k.NO_DEMAND
    assert covered.loc[("S5", "W1"), "bucket"] == covered.loc[("S1", "W2"), "bucket"] == k.STOCK_OUT
    dist = k.cover_distribution(k.cover(STOCK, DEMAND, 28)).set_index("bucket")
    assert dist["rows"].to_dict() == {
        "stock-out": 2,
        "< 7 days": 2,
        "7-14 days": 0,
        "14-30 days": 1,
        "30-60 days": 0,
        "60-90 days": 0,
        ">= 90 days": 0,
        "no demand": 3,
    }
    assert dist.loc["< 7 days", "sellable"] == 11.0 and dist.loc["no demand", "sellable"] == 13.0
    assert dist["share"].sum() == pytest.approx(1.0) and dist.loc["stock-out", "share"] == 2 / 8
    out = k.stock_outs(k.cover(STOCK, DEMAND, 28))
    assert out["sku"].tolist() == ["S5"] and out["per_day"].tolist() == [0.5]  # S1/W2 sold nothing there


def test_dead_stock_has_stock_and_no_sale_in_the_window_highest_value_first() -> None:
    dead = k.dead_stock(STOCK, DEMAND, ITEMS)
    assert dead["sku"].tolist() == ["S6", "S7"]  # S2 sold in September: not dead
    assert dead["value"].tolist() == pytest.approx([21.0, NAN], nan_ok=True)  # S7 has no purchase price


EVENTS = f.fulfilment(
    [
        ("O1", "W1", utc(2026, 11, 16, 10), utc(2026, 11, 16, 11), utc(2026, 11, 17, 11)),
        ("O2", "W1", utc(2026, 11, 16, 10), utc(2026, 11, 16, 12), utc(2026, 11, 18, 12)),
        ("O3", "W1", utc(2026, 11, 16, 10), utc(2026, 11, 16, 13), None),
        ("O4", "W2", utc(2026, 11, 17, 0), utc(2026, 11, 17, 10), utc(2026, 11, 23, 10)),  # ships next week
        (
            "O5",
            "W2",
            utc(2026, 11, 14, 10),
            utc(2026, 11, 14, 12),
            utc(2026, 11, 16, 12),
        ),  # created last week
    ]
)


def test_fulfilment_times_median_and_p95_per_warehouse_and_overall() -> None:
    times = k.fulfilment_times(EVENTS, WEEK_START, WEEK_END).set_index("warehouse_id")
    assert times.index.tolist() == ["W1", "W2", "all"]
    # order -> outbound, created this week: W1 1, 2, 3 h; W2 10 h. p95 interpolates linearly:
    # W1 rank 0.95 * 2 = 1.9 -> 2 + 0.9 * (3 - 2) = 2.9; all [1, 2, 3, 10]: rank 2.85 -> 3 + 0.85 * 7 = 8.95
    assert times["order_to_outbound_orders"].tolist() == [3, 1, 4]
    assert times["order_to_outbound_median"].tolist() == [2.0, 10.0, 2.5]
    assert times["order_to_outbound_p95"].tolist() == pytest.approx([2.9, 10.0, 8.95])
    # outbound -> shipped, shipped this week: W1 24, 48 h; W2 48 h (O5); all [24, 48, 48]
    assert times["outbound_to_shipped_orders"].tolist() == [2, 1, 3]
    assert times["outbound_to_shipped_median"].tolist() == [36.0, 48.0, 48.0]
    assert times["outbound_to_shipped_p95"].tolist() == pytest.approx([46.8, 48.0, 48.0])
    # order -> shipped: W1 25, 50 h; W2 50 h
    assert times["order_to_shipped_median"].tolist() == [37.5, 50.0, 50.0]
    assert times["order_to_shipped_p95"].tolist() == pytest.approx([48.75, 50.0, 50.0])


def test_fulfilment_times_of_a_period_without_events_are_empty_not_zero() -> None:
    times = k.fulfilment_times(EVENTS.iloc[0:0], WEEK_START, WEEK_END)
    assert times["warehouse_id"].tolist() == ["all"]
    assert times["order_to_outbound_orders"].tolist() == [0]
    assert math.isnan(times["order_to_outbound_p95"].iloc[0])


AS_OF = datetime(2026, 11, 23, 6, tzinfo=UTC)
OPEN = f.open_orders(
    [
        ("H1", "held", "ADDRESS_INVALID: street missing", None, utc(2026, 11, 22, 20), utc(2026, 11, 22, 20)),
        ("H2", "held", "ADDRESS_INVALID: postcode", None, utc(2026, 11, 21, 6), utc(2026, 11, 21, 6)),
        ("H3", "held", "PAYMENT_MISSING: prepayment", None, utc(2026, 11, 13, 6), utc(2026, 11, 13, 6)),
        ("H4", "held", None, None, utc(2026, 11, 19, 6), utc(2026, 11, 19, 6)),
        ("B1", "imported", None, None, utc(2026, 11, 22, 12), utc(2026, 11, 22, 12)),
        ("B2", "outbound_created", None, "W1", utc(2026, 11, 20, 6), utc(2026, 11, 20, 7)),
        ("B3", "failed", "outbound create refused", None, utc(2026, 11, 21, 5), utc(2026, 11, 21, 5)),
    ]
)


def test_holds_by_reason_code_and_age() -> None:
    holds = k.holds_by_reason(OPEN, AS_OF)
    assert holds["reason"].tolist() == ["ADDRESS_INVALID", "(none)", "PAYMENT_MISSING"]
    # H1 10 h old, H2 2 days, H4 4 days, H3 10 days
    assert holds[["< 1 day", "1-3 days", "3-7 days", "> 7 days", "total"]].to_numpy().tolist() == [
        [1, 1, 0, 0, 2],
        [0, 0, 1, 0, 1],
        [0, 0, 0, 1, 1],
    ]


def test_backlog_lists_open_orders_older_than_the_cutoff_oldest_first() -> None:
    late = k.backlog(OPEN, AS_OF, 24)
    assert late["order_number"].tolist() == ["H3", "H4", "B2", "B3", "H2"]  # not H1 (10 h) nor B1 (18 h)
    assert late["age_hours"].tolist() == [240.0, 96.0, 72.0, 49.0, 48.0]
    assert (
        late["stage"].tolist()
        == ["not an outbound yet"] * 2 + ["outbound not shipped"] + ["not an outbound yet"] * 2
    )


def test_flow_counts_of_a_berlin_day() -> None:
    start, end = datetime(2026, 11, 15, 23, tzinfo=UTC), datetime(2026, 11, 16, 23, tzinfo=UTC)
    # placed: A1 and A3 (00:30 Berlin); outbounds: O1 to O3; shipped: O5
    assert k.flow_counts(ORDERS, EVENTS, start, end) == {"orders_in": 2, "outbounds_created": 3, "shipped": 1}


def test_first_time_right_counts_decided_orders_that_never_were_held_or_failed() -> None:
    share, clean, decided = k.first_time_right(ORDERS, pd.Series(["A3", "A4"], dtype="string"))
    # decided: A1, A2, A3, A6 (outbounds) and A4 (held); clean: A1, A2, A6
    assert (clean, decided) == (3, 5) and share == pytest.approx(0.6)
    assert k.first_time_right(ORDERS.iloc[0:0], pd.Series([], dtype="string")) == (None, 0, 0)


CHECKS = f.checks(
    [
        (1, "r1", "S", "k1", "K1", "IN-1", 10.0, 0.0, "PENDING", utc(2026, 11, 20, 8)),
        (2, "r1", "S", "k2", "K2", "IN-1", 5.0, 5.0, "MATCH", utc(2026, 11, 20, 8)),
        (3, "r1", "S", "k3", "K3", "IN-2", 4.0, 3.0, "MISMATCH", utc(2026, 11, 20, 8)),
        (4, "r1", "S", "k4", "K4", "IN-2", 1.0, None, "UNKNOWN_SKU", utc(2026, 11, 20, 8)),
        (5, "r2", "S", "k1", "K1", "IN-1", 10.0, 0.0, "PENDING", utc(2026, 11, 21, 8)),
        (6, "r2", "S", "k2", "K2", "IN-1", 5.0, 4.0, "MISMATCH", utc(2026, 11, 21, 8)),
        (7, "r2", "S", "k3", "K3", "IN-2", 4.0, 4.0, "MATCH", utc(2026, 11, 21, 8)),
        (8, "r3", "S", "k1", "K1", "IN-1", 10.0, 8.0, "MISMATCH", utc(2026, 11, 22, 8)),
        (9, "r3", "S", "k2", "K2", "IN-1", 5.0, 4.0, "MISMATCH", utc(2026, 11, 22, 8)),
        (10, "r3", "S", "k3", "K3", "IN-2", 4.0, 0.0, "PENDING", utc(2026, 11, 22, 8)),
        (11, "t1", "T", "k1", "K9", "IN-9", 2.0, 2.0, "MATCH", utc(2026, 11, 22, 9)),
    ]
)


def test_open_discrepancies_of_the_latest_run_with_missing_since() -> None:
    found = k.open_discrepancies(CHECKS, datetime(2026, 11, 23, 8, tzinfo=UTC))
    # k1 never matched: since its first check; k2 matched on the 20th: since the 21st; k3 matched on the 21st;
    # k4 is not in the sheet's latest run any more; sheet T's only row matches
    assert found["sku"].tolist() == ["K1", "K2", "K3"]
    assert found["status"].tolist() == ["MISMATCH", "MISMATCH", "PENDING"]
    assert found["missing_since"].tolist() == [
        utc(2026, 11, 20, 8),
        utc(2026, 11, 21, 8),
        utc(2026, 11, 22, 8),
    ]
    assert found["days_open"].tolist() == [3.0, 2.0, 1.0]
    assert k.open_discrepancies(CHECKS.iloc[0:0], AS_OF).empty


def test_reorder_summary_counts_the_weeks_plan_lines() -> None:
    lines = f.restock(
        [(1, "S1", "W1", 10, True, 2.0), (1, "S2", "W1", 5, False, 9.0), (2, "S3", "W2", 1, False, NAN)]
    )
    assert k.reorder_summary(lines) == {"below_reorder_point": 3, "low_stock": 1}


def test_schemas_refuse_frames_of_the_wrong_shape() -> None:
    import pandera.errors

    with pytest.raises(pandera.errors.SchemaError, match="order_number"):
        k.ORDERS_SCHEMA.validate(ORDERS.drop(columns=["order_number"]))
    with pytest.raises(pandera.errors.SchemaError):
        k.SKU_SALES_SCHEMA.validate(pd.concat([SKU_SALES, SKU_SALES.head(1)], ignore_index=True))


# --- returns ---------------------------------------------------------------------------------------------

#: Shipped in the week: S1 4 units (3 orders), S2 2 units (1 order), S3 10 units (2 orders): 16 units.
SHIPPED = f.shipped([("S1", 3, 4.0), ("S2", 1, 2.0), ("S3", 2, 10.0)])
#: Return 1 (order A1): 1 x S1 "Wrong size", 1 x S2 "Wrong size"; return 2 (A3): 2 x S1 "Defective";
#: return 3 (A9, an order the ledger does not know as shipped): 5 x S3; return 4 (A0): 1 x S4, a SKU not
#: shipped this week (shipped last week, returned now), "Wrong size".
RETURNS = f.returns(
    [
        (1, utc(2026, 11, 17, 9), 101, "A1", "S1", 1.0, "Wrong size"),
        (1, utc(2026, 11, 17, 9), 101, "A1", "S2", 1.0, "Wrong size"),
        (2, utc(2026, 11, 18, 9), 103, "A3", "S1", 2.0, "Defective"),
        (3, utc(2026, 11, 19, 9), 109, None, "S3", 5.0, "Defective"),
        (4, utc(2026, 11, 20, 9), 100, "A0", "S4", 1.0, "Wrong size"),
    ]
)


def test_the_return_rate_sets_the_ledger_s_returned_units_against_the_shipped_ones() -> None:
    totals = k.return_totals(RETURNS, SHIPPED)
    # counted: returns 1, 2, 4 -> 1 + 1 + 2 + 1 = 5 units of 16 shipped; return 3 (5 units) left out
    assert (totals.returned_units, totals.returns, totals.shipped_units) == (5.0, 3, 16.0)
    assert totals.rate == pytest.approx(5 / 16)
    assert (totals.outside_units, totals.outside_returns) == (5.0, 1)
    assert k.return_totals(RETURNS.head(0), SHIPPED).rate == 0.0  # a week without returns: a true zero
    assert k.return_totals(RETURNS, SHIPPED.head(0)).rate is None  # nothing shipped: no rate


def test_returns_by_reason_and_the_most_returned_skus() -> None:
    reasons = k.returns_by_reason(RETURNS)
    # Wrong size: returns 1 and 4, 1 + 1 + 1 = 3 units; Defective: return 2, 2 units (return 3 left out)
    assert reasons["reason"].tolist() == ["Wrong size", "Defective"]
    assert reasons["returns"].tolist() == [2, 1] and reasons["units"].tolist() == [3.0, 2.0]
    assert reasons["share"].tolist() == pytest.approx([0.6, 0.4])
    skus = k.returns_by_sku(RETURNS, SHIPPED, f.items([("S1", "Espresso", "Kaffee", 4.0)]), 2)
    # S1: 3 of 4 shipped; then S2 and S4 with 1 each, S2 first by SKU; S4 has no shipment this week
    assert skus["sku"].tolist() == ["S1", "S2"] and skus["returned"].tolist() == [3.0, 1.0]
    assert skus["shipped"].tolist() == [4.0, 2.0] and skus["rate"].tolist() == pytest.approx([0.75, 0.5])
    assert skus["name"].tolist()[0] == "Espresso" and pd.isna(skus["name"].tolist()[1])
    every = k.returns_by_sku(RETURNS, SHIPPED, None, 10)
    assert every["sku"].tolist() == ["S1", "S2", "S4"]
    assert every["shipped"].tolist()[2] == 0.0 and math.isnan(every["rate"].tolist()[2])
