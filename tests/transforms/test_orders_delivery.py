"""Partly delivered orders: only what is still open goes to FFN, and no delivered unit is sent again."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jtl_automator.transforms.orders import open_lines, orders_frame, outbound_payload
from jtl_automator.transforms.orders_rules import FailureCode, ValidationParams, validate_orders
from tests.transforms.orders_data import SKU_MAP, WAREHOUSE_1, line_item, sales_order, shipping_line


def test_open_quantity_per_line_and_fully_delivered_lines_left_out() -> None:
    _, lines = orders_frame(
        [sales_order(1), sales_order(2), sales_order(3)],
        {
            1: [
                line_item(11, "SKU-1", 5, QuantityDelivered=2),
                line_item(12, "SKU-2", 1, QuantityDelivered=1),
            ],
            2: [line_item(21, "SKU-1", 2, QuantityDelivered=2), shipping_line(22)],
            3: [line_item(31, "SKU-3", 4)],
        },
    )
    opened = open_lines(lines)
    assert opened.partial == {1} and opened.complete == {2}
    left = opened.lines.set_index("line_id")
    assert left.loc[11, "quantity"] == 3 and 12 not in left.index  # 5 - 2 open; 1 of 1 delivered
    assert left.loc[31, "quantity"] == 4 and 22 in left.index  # untouched; the shipping line stays
    assert (opened.lines["quantity_delivered"] == 0).all()


@pytest.mark.parametrize("delivered", [7, -1, 1.5], ids=["more-than-ordered", "negative", "fractional"])
@pytest.mark.slow
def test_an_unreadable_delivered_quantity_holds_the_order(delivered: float) -> None:
    orders, lines = orders_frame(
        [sales_order(1)], {1: [line_item(11, "SKU-1", 5, QuantityDelivered=delivered)]}
    )
    opened = open_lines(lines)
    assert opened.lines.loc[0, "quantity"] == 5 and not opened.partial and not opened.complete
    failures = validate_orders(orders, opened.lines, ValidationParams(), SKU_MAP)
    (message,) = failures.loc[failures["code"] == FailureCode.QUANTITY_INVALID.value, "message"]
    assert "QuantityDelivered" in message and "from 0 to 5" in message


@settings(max_examples=150, deadline=None)
@pytest.mark.slow
@given(
    st.lists(
        st.tuples(st.integers(min_value=1, max_value=9), st.integers(min_value=0, max_value=9)),
        min_size=1,
        max_size=6,
    )
)
def test_no_delivered_unit_is_ever_sent_again(quantities: list[tuple[int, int]]) -> None:
    """For any whole quantities and deliveries, the outbound carries exactly the open rest of each line."""
    lines_in = [
        line_item(100 + n, f"SKU-{n % 9 + 1}", q, QuantityDelivered=min(d, q))
        for n, (q, d) in enumerate(quantities)
    ]
    orders, lines = orders_frame([sales_order(1)], {1: lines_in})
    opened = open_lines(lines)
    open_units = {100 + n: q - min(d, q) for n, (q, d) in enumerate(quantities)}
    if not any(open_units.values()):
        assert opened.complete == {1} and opened.lines.empty
        return
    body = outbound_payload(orders.iloc[0], opened.lines, SKU_MAP, WAREHOUSE_1)
    sent = {int(item["outboundItemId"]): item["quantity"] for item in body["items"]}
    assert sent == {line: units for line, units in open_units.items() if units}


def test_frames_keep_their_dtypes_when_everything_was_delivered() -> None:
    _, lines = orders_frame([sales_order(1)], {1: [line_item(11, "SKU-1", 2, QuantityDelivered=2)]})
    opened = open_lines(lines)
    assert opened.lines.empty and dict(opened.lines.dtypes) == dict(lines.dtypes)
    assert isinstance(opened.lines, pd.DataFrame)
