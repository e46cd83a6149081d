"""Shared by the action tests: a real state store, a context factory, and plan data in memory."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pandas as pd
import pytest

from jtl_automator.store import StateStore
from jtl_automator.transforms.replenishment import DemandParams
from jtl_automator.workflows.actions import ActionContext
from jtl_automator.workflows.actions.plan_data import FramePlanData

NOW = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)  # a Monday: ISO week 2026-W45
WINDOW = DemandParams(start=date(2026, 10, 1), end=date(2026, 10, 30))


@pytest.fixture
def store(sqlite_url: str) -> Iterator[StateStore]:
    s = StateStore(sqlite_url)
    yield s
    s.dispose()


MakeCtx = Callable[..., ActionContext]


@pytest.fixture
def make_ctx(store: StateStore) -> MakeCtx:
    def make(
        key: str = "wf:demo:v1:trigger-1:node", *, simulate: bool = False, **resources: Any
    ) -> ActionContext:
        return ActionContext(
            store=store, run_id="run-1", effect_key=key, now=NOW, simulate=simulate, resources=resources
        )

    return make


def frames() -> FramePlanData:
    """Three SKUs in two warehouses over a 30-day window.

    A: W1 5 units at 2/day (short), W2 200 units at 1/day (long); supplier 7.
    B: W1 100 units, no sale (long), W2 0 units at 1/day (short); supplier 7.
    C: W1 5 units at 1/day; supplier 9, 3 units on order, ordered in tens.
    """
    days = [WINDOW.start + timedelta(days=i) for i in range(WINDOW.days)]
    lines = [
        (sku, wh, day, qty)
        for day in days
        for sku, wh, qty in (("A", "W1", 2.0), ("A", "W2", 1.0), ("B", "W2", 1.0), ("C", "W1", 1.0))
    ]
    order_lines = pd.DataFrame(lines, columns=["merchant_sku", "warehouse_id", "day", "quantity"])
    order_lines["day"] = pd.to_datetime(order_lines["day"])
    stock = pd.DataFrame(
        [
            ("A", "W1", 5.0, 0.0, 0.0, 0.0),
            ("A", "W2", 200.0, 0.0, 0.0, 0.0),
            ("B", "W1", 100.0, 0.0, 0.0, 0.0),
            ("B", "W2", 0.0, 0.0, 0.0, 0.0),
            ("C", "W1", 5.0, 0.0, 0.0, 0.0),
        ],
        columns=["merchant_sku", "warehouse_id", "stock_level", "reserved", "blocked", "announced"],
    )
    on_order = pd.DataFrame([("C", "W1", 3.0)], columns=["merchant_sku", "warehouse_id", "quantity_open"])
    suppliers = pd.DataFrame(
        [
            ("A", 7, "Nordlicht GmbH", 10.0, None, None, None, None),
            ("B", 7, "Nordlicht GmbH", 10.0, None, None, None, None),
            ("C", 9, "Südwind AG", 5.0, None, None, 10.0, None),
        ],
        columns=[
            "merchant_sku",
            "supplier_id",
            "supplier_name",
            "delivery_time",
            "procurement_time",
            "minimum_purchase",
            "permissible_quantity",
            "packaging_amount",
        ],
    )
    stockouts = pd.DataFrame({"merchant_sku": [], "warehouse_id": [], "day": []})
    markdown = pd.DataFrame(
        [
            # slow: 300 units, 0.5/day -> 600 days of cover
            (1, "SLOW-1", 10.0, 40.0, 59.99, 19.0, float("nan"), 300.0, 0.5, 3.0, 400.0, True, False),
            # not slow: 20 units at 2/day
            (2, "FAST-1", 10.0, 40.0, 59.99, 19.0, float("nan"), 20.0, 2.0, 0.0, 400.0, True, False),
            # slow, but no purchase price: invalid
            (
                3,
                "SLOW-2",
                float("nan"),
                40.0,
                59.99,
                19.0,
                float("nan"),
                300.0,
                0.1,
                80.0,
                400.0,
                True,
                False,
            ),
        ],
        columns=[
            "item_id",
            "sku",
            "purchase_price",
            "current_price",
            "suggested_retail_price",
            "vat_rate",
            "rule_floor",
            "stock",
            "daily_demand",
            "days_since_sale",
            "added_days",
            "in_scope",
            "held",
        ],
    )
    return FramePlanData(order_lines, stockouts, stock, on_order, suppliers, WINDOW, markdown=markdown)


@pytest.fixture
def plan_data() -> FramePlanData:
    return frames()
