"""The reports' SQL reads against a literal ledger (tests/reports/ledger.py), on SQLite and PostgreSQL.

2026-W47 runs from 2026-11-15 23:00 UTC to 2026-11-22 23:00 UTC. A0 was placed at 22:30 UTC on the
15th (Sunday 23:30 in Berlin: last week); A3 at 23:30 UTC (Monday 00:30 in Berlin: this week).
"""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from jtl_automator.store import StateStore
from jtl_automator.store import reporting as q
from jtl_automator.transforms import kpis as k
from tests.reports.ledger import add_events, add_order, at, seed_week

START, END = at(2026, 11, 15, 23), at(2026, 11, 22, 23)


@pytest.mark.slow
def test_every_report_query_on_a_literal_ledger(store_url: str) -> None:
    store = StateStore(store_url)
    try:
        seed_week(store)
        orders = (
            k.ORDERS_SCHEMA.validate(q.orders_in(store, START, END)).set_index("order_number").sort_index()
        )
        assert orders.index.tolist() == ["A1", "A2", "A3", "A4", "A5", "A6"]  # not A0
        assert orders["lines"].tolist() == [2, 1, 1, 0, 1, 0]
        assert orders["units"].tolist() == pytest.approx(
            [3.0, 1.0, 2.0, float("nan"), 4.0, float("nan")], nan_ok=True
        )
        assert orders["net"].tolist() == pytest.approx(
            [50.0, 30.0, 20.0, float("nan"), 100.0, float("nan")], nan_ok=True
        )
        assert orders["gross"].loc["A1"] == pytest.approx(59.5) and orders["cost"].loc["A1"] == 20.0
        assert orders["costed_lines"].tolist() == [2, 0, 1, 0, 1, 0]  # A2's line has no purchase price
        assert orders["order_date"].loc["A3"] == pd.Timestamp("2026-11-15 23:30", tz="UTC")
        assert orders["hold_reason"].loc["A4"] == "ADDRESS_INVALID: street"

        sales = k.SKU_SALES_SCHEMA.validate(q.sku_sales(store, START, END)).set_index("sku").sort_index()
        # S1: A1 (1 unit, 20 net, cost 8) + A3 (2 units, 20 net, cost 8);
        # S2: A1 (2, 30, 12) + A2 (1, 30, no cost)
        # S3 only in the cancelled A5; A0's S1 line is last week's
        assert sales.index.tolist() == ["S1", "S2"]
        assert sales["orders"].tolist() == [2, 2] and sales["units"].tolist() == [3.0, 3.0]
        assert sales["net"].tolist() == pytest.approx([40.0, 60.0])
        assert sales["gross"].tolist() == pytest.approx([47.6, 71.4])
        assert sales["costed_lines"].tolist() == [2, 1] and sales["costed_net"].tolist() == pytest.approx(
            [40.0, 30.0]
        )
        assert sales["cost"].tolist() == pytest.approx([16.0, 12.0])

        totals = q.period_totals(store, START, END)
        assert totals == pytest.approx(
            {
                "ledger_orders": 6,
                "orders": 3,
                "units": 6,
                "lines": 4,
                "priced_lines": 4,
                "net": 100.0,
                "gross": 119.0,
                "outbound_orders_without_lines": 1,
            }
        )
        assert q.first_order_date(store) == at(2026, 11, 15, 22, 30)
        assert q.first_line_day(store) == date(2026, 11, 15)

        troubled = q.troubled_orders(store, START, END)
        assert sorted(troubled["order_number"].tolist()) == ["A3", "A4"]

        events = k.FULFILMENT_SCHEMA.validate(q.fulfilment_events(store, START, END)).set_index(
            "order_number"
        )
        assert sorted(events.index) == [
            "A0",
            "A1",
            "A2",
            "A3",
        ]  # A0's outbound was made on Monday 00:00 Berlin
        assert events.loc["A1", "created_at"] == pd.Timestamp("2026-11-16 10:00", tz="UTC")
        assert events.loc["A1", "shipped_at"] == pd.Timestamp("2026-11-17 10:00", tz="UTC")
        assert pd.isna(events.loc["A2", "shipped_at"])
        assert events.loc["A0", "order_date"] == pd.Timestamp("2026-11-15 22:30", tz="UTC")

        open_now = k.OPEN_ORDERS_SCHEMA.validate(q.open_orders(store))
        assert sorted(open_now["order_number"]) == ["A2", "A4", "A6"]

        demand = k.DEMAND_SCHEMA.validate(
            q.demand(store, date(2026, 8, 25), date(2026, 10, 26), date(2026, 11, 22))
        ).set_index(["sku", "warehouse_id"])
        # UTC order days; A5 is cancelled: S1/W1 = A0 1 + A1 1 + A3 2; S2/W1 = A1 2; S2/W2 = A2 1
        assert demand["units"].to_dict() == {("S1", "W1"): 4.0, ("S2", "W1"): 2.0, ("S2", "W2"): 1.0}
        assert demand.loc[("S2", "W2"), "last_sale"] == pd.Timestamp("2026-11-17")
        later = q.demand(store, date(2026, 8, 25), date(2026, 11, 16), date(2026, 11, 22))
        assert later.set_index(["sku", "warehouse_id"])["units"].to_dict() == {
            ("S1", "W1"): 1.0,  # A1 only: A0 and A3 are of the 15th, before the cover window
            ("S2", "W1"): 2.0,
            ("S2", "W2"): 1.0,
        }
    finally:
        store.dispose()


@pytest.mark.slow
def test_shipped_units_and_the_ledger_s_shipped_wawi_orders(store_url: str) -> None:
    store = StateStore(store_url)
    try:
        seed_week(store)
        store.record_orders(
            [
                {"order_number": "A0", "wawi_order_id": 100},
                {"order_number": "A1", "wawi_order_id": 101},
                {"order_number": "A2", "wawi_order_id": 102},
            ],
            event="seeded",
        )
        add_order(store, "B1", at(2026, 11, 10, 9), "shipped", warehouse="W1")  # an outbound without lines
        add_events(store, [("B1", "shipped", at(2026, 11, 18, 9)), ("A1", "shipped", at(2026, 11, 24, 9))])
        shipped = k.SHIPPED_SCHEMA.validate(q.shipped_units(store, START, END)).set_index("sku").sort_index()
        # first shipped in the week: A0 (S1 x 1), A1 (S1 x 1, S2 x 2; its second entry is next week's),
        # A3 (S1 x 2); A2 is not shipped, B1 has no lines
        assert shipped.index.tolist() == ["S1", "S2"]
        assert shipped["orders"].tolist() == [3, 1] and shipped["units"].tolist() == [4.0, 2.0]
        assert q.shipped_without_lines(store, START, END) == 1
        assert q.shipped_units(store, END, at(2026, 11, 30)).empty  # A1's later entry is not a shipment
        assert q.shipped_wawi_orders(store, [100, 101, 102, 999, 101]) == {100: "A0", 101: "A1"}
        assert q.shipped_wawi_orders(store, list(range(1, 1200))) == {100: "A0", 101: "A1"}  # chunked
    finally:
        store.dispose()
