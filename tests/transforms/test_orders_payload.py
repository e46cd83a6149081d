"""FFN outbound create body, the per-order outcomes and the run summary."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from jtl_automator.transforms.allocation import (
    AllocationParams,
    allocate_stock,
    available_stock,
    outcomes_frame,
)
from jtl_automator.transforms.orders import (
    OUTCOMES_DTYPES,
    OutboundPayloadError,
    orders_frame,
    outbound_payload,
    summarise,
)
from jtl_automator.transforms.orders_rules import ValidationParams, validate_orders
from tests.support import openapi
from tests.transforms.orders_data import (
    SKU_MAP,
    WAREHOUSE_1,
    WAREHOUSE_2,
    address,
    line_item,
    sales_order,
    shipping_line,
)

SHIPPING_METHODS = {3: "FULF0A0001"}


def frames(order: dict[str, Any], order_lines: list[dict[str, Any]]) -> tuple[pd.Series, pd.DataFrame]:
    orders_df, lines_df = orders_frame([order], {order["Id"]: order_lines})
    return orders_df.iloc[0], lines_df


def test_full_body_for_a_paid_order() -> None:
    order = sales_order(
        1,
        ExternalNumber="EB-77",
        Shipmentaddress=address(Company="ACME GmbH", Address2="Hinterhaus", MobilePhoneNumber="+49 160 1"),
    )
    row, lines = frames(
        order,
        [
            line_item(11, "SKU-1", 2),
            line_item(12, "SKU-2", 1, Discount=10, SalesPriceGross=20.0),
            line_item(13, None, 1, Type=0, Name="Geschenkverpackung gewünscht"),
            shipping_line(14, 4.9),
        ],
    )
    body = outbound_payload(row, lines, SKU_MAP, WAREHOUSE_1, SHIPPING_METHODS)
    assert body == {
        "merchantOutboundNumber": "AU-1",
        "externalNumber": "EB-77",
        "warehouseId": WAREHOUSE_1,
        "currency": "EUR",
        "shippingMethodId": "FULF0A0001",
        "shippingAddress": {
            "salutation": "Herr",
            "firstname": "Max",
            "lastname": "Muster",
            "company": "ACME GmbH",
            "street": "Hauptstr. 1",
            "extraAddressLine": "Hinterhaus",
            "zip": "10115",
            "city": "Berlin",
            "country": "DE",
            "email": "max@example.org",
            "phone": "+49 30 123456",
            "mobile": "+49 160 1",
        },
        "orderValue": 40.6,
        "shippingFee": 4.9,
        "items": [
            {
                "outboundItemId": "11",
                "itemType": "Product",
                "jfsku": "MERC01PRD01",
                "merchantSku": "SKU-1",
                "name": "Article SKU-1",
                "quantity": 2,
                "price": 11.9,
                "vat": 19.0,
            },
            {
                "outboundItemId": "12",
                "itemType": "Product",
                "jfsku": "MERC01PRD02",
                "merchantSku": "SKU-2",
                "name": "Article SKU-2",
                "quantity": 1,
                "price": 18.0,
                "vat": 19.0,
            },
        ],
    }


def test_body_uses_only_fields_the_ffn_spec_knows() -> None:
    schemas = openapi.schemas("ffn")
    row, lines = frames(sales_order(1), [line_item(11, "SKU-1", 2)])
    body = outbound_payload(row, lines, SKU_MAP, WAREHOUSE_1)
    assert set(body) <= set(schemas["Outbound"]["properties"])
    for item in body["items"]:
        assert set(item) <= set(schemas["OutboundItem"]["properties"])
    assert not openapi.problems(openapi.validator("ffn", "Address"), body["shippingAddress"])


@pytest.mark.parametrize(
    ("wawi_method", "mapping", "default", "expected"),
    [
        pytest.param(3, SHIPPING_METHODS, "Standard", {"shippingMethodId": "FULF0A0001"}, id="mapped"),
        pytest.param(4, SHIPPING_METHODS, "Standard", {"shippingType": "Standard"}, id="not-in-map"),
        pytest.param(3, None, "Expedited", {"shippingType": "Expedited"}, id="no-map-custom-type"),
        pytest.param(
            None, SHIPPING_METHODS, "Standard", {"shippingType": "Standard"}, id="order-has-no-method"
        ),
    ],
)
@pytest.mark.slow
def test_shipping_method_or_type_never_both(wawi_method, mapping, default, expected) -> None:
    order = sales_order(1, SalesOrderShippingDetail={"ShippingMethodId": wawi_method})
    row, lines = frames(order, [line_item(11)])
    body = outbound_payload(row, lines, SKU_MAP, WAREHOUSE_1, mapping, default)
    assert {k: body[k] for k in ("shippingMethodId", "shippingType") if k in body} == expected


def test_an_unknown_shipping_type_is_refused() -> None:
    row, lines = frames(sales_order(1), [line_item(11)])
    with pytest.raises(OutboundPayloadError, match="shippingType"):
        outbound_payload(row, lines, SKU_MAP, WAREHOUSE_1, None, "Overnight")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("order", "order_lines", "warehouse", "problem"),
    [
        pytest.param(
            sales_order(1, Shipmentaddress=address(Street=None), BillingAddress=None),
            [line_item(11)],
            WAREHOUSE_1,
            "shippingAddress.street",
            id="street-missing",
        ),
        pytest.param(
            sales_order(1, Shipmentaddress=address(LastName=None), BillingAddress=None),
            [line_item(11)],
            WAREHOUSE_1,
            "one of lastname or company",
            id="nobody-named",
        ),
        pytest.param(
            sales_order(1), [line_item(11, "NOPE")], WAREHOUSE_1, "'NOPE' has no jfsku", id="sku-unmapped"
        ),
        pytest.param(
            sales_order(1), [line_item(11, "SKU-1", 0)], WAREHOUSE_1, "items.0.quantity", id="quantity-zero"
        ),
        pytest.param(sales_order(1), [line_item(11, None, 1, Type=2)], WAREHOUSE_1, "items", id="no-items"),
        pytest.param(sales_order(1), [line_item(11)], "W1", "warehouseId", id="warehouse-id-too-short"),
        pytest.param(
            sales_order(1, Number=None),
            [line_item(11)],
            WAREHOUSE_1,
            "merchantOutboundNumber",
            id="no-number",
        ),
        pytest.param(
            sales_order(1, SalesOrderPaymentDetails={"TotalGrossAmount": -5}),
            [line_item(11)],
            WAREHOUSE_1,
            "orderValue",
            id="negative-order-value",
        ),
    ],
)
@pytest.mark.slow
def test_bad_bodies_fail_before_any_http_call(order, order_lines, warehouse, problem) -> None:
    row, lines = frames(order, order_lines)
    with pytest.raises(OutboundPayloadError) as caught:
        outbound_payload(row, lines, SKU_MAP, warehouse)
    assert problem in str(caught.value)
    assert caught.value.order_number == (None if row["order_number"] is pd.NA else row["order_number"])
    for personal in ("Muster", "Hauptstr", "max@example.org", "Berlin"):
        assert personal not in str(caught.value)


def test_order_value_is_summed_from_lines_when_wawi_leaves_it_out() -> None:
    order = sales_order(1, SalesOrderPaymentDetails={"PaymentStatus": 2})
    row, lines = frames(order, [line_item(11, "SKU-1", 2), shipping_line(12, 4.9)])
    body = outbound_payload(row, lines, SKU_MAP, WAREHOUSE_1)
    assert body["orderValue"] == 28.7  # 2 x 11.90 + 4.90
    assert body["currency"] == "EUR"  # from DepartureCountry


def test_net_only_prices_are_grossed_up_and_missing_prices_are_left_out() -> None:
    row, lines = frames(
        sales_order(1),
        [
            line_item(11, "SKU-1", 1, SalesPriceGross=None),
            line_item(12, "SKU-2", 1, SalesPriceGross=None, SalesPriceNet=None),
        ],
    )
    items = outbound_payload(row, lines, SKU_MAP, WAREHOUSE_1)["items"]
    assert items[0]["price"] == 11.9
    assert "price" not in items[1]


def test_item_ids_fall_back_to_positions_when_line_ids_are_missing_or_repeated() -> None:
    row, lines = frames(
        sales_order(1), [line_item(5, "SKU-1"), line_item(5, "SKU-2"), line_item(6, "SKU-3", Id=None)]
    )
    items = outbound_payload(row, lines, SKU_MAP, WAREHOUSE_1)["items"]
    assert [item["outboundItemId"] for item in items] == ["1", "2", "3"]


def test_oversized_order_and_long_names() -> None:
    order_lines = [line_item(1000 + i, f"SKU-{i % 9 + 1}", 1, Name="x" * 300) for i in range(150)]
    row, lines = frames(sales_order(1), order_lines)
    items = outbound_payload(row, lines, SKU_MAP, WAREHOUSE_1)["items"]
    assert len(items) == 150
    assert {len(item["name"]) for item in items} == {255}


def test_plain_mappings_work_as_well_as_frames() -> None:
    row, lines = frames(sales_order(1), [line_item(11, "SKU-1", 2)])
    from_frames = outbound_payload(row, lines, SKU_MAP, WAREHOUSE_1)
    from_dicts = outbound_payload(
        {str(k): v for k, v in row.items()},
        [{str(k): v for k, v in line.items()} for line in lines.to_dict("records")],
        SKU_MAP,
        WAREHOUSE_1,
    )
    assert from_dicts == from_frames


# ------------------------------------------------------------------------------------------------ outcomes


@pytest.mark.slow
def test_outcomes_and_summary_for_a_mixed_batch() -> None:
    batch = [
        sales_order(1),  # ships
        sales_order(2, SalesOrderDate="2024-03-02T10:00:00+00:00"),  # out of stock after order 1
        sales_order(3, IsCancelled=True),  # invalid
        sales_order(4, Shipmentaddress=address(PostalCode="123"), BillingAddress=None),  # invalid
        {"Number": "AU-X"},  # no Id
    ]
    order_lines = {
        1: [line_item(11, "SKU-1", 2)],
        2: [line_item(21, "SKU-1", 2)],
        3: [line_item(31)],
        4: [line_item(41)],
    }
    orders_df, lines_df = orders_frame(batch, order_lines)
    failures = validate_orders(orders_df, lines_df, ValidationParams(), SKU_MAP)
    stock = available_stock(
        [{"jfsku": SKU_MAP["SKU-1"], "warehouses": [{"warehouseId": WAREHOUSE_2, "stockLevel": 3}]}]
    )
    valid = orders_df.loc[orders_df["order_id"].isin([1, 2])]
    allocation = allocate_stock(valid, lines_df, stock, AllocationParams(), SKU_MAP)

    outcomes = outcomes_frame(orders_df, failures, allocation)
    expected = pd.DataFrame(
        [
            (1, "AU-1", "allocated", WAREHOUSE_2, None),
            (2, "AU-2", "held", None, "insufficient_stock"),
            (3, "AU-3", "invalid", None, "ORDER_CANCELLED: order is cancelled (IsCancelled)"),
            (
                4,
                "AU-4",
                "invalid",
                None,
                "POSTCODE_INVALID: postcode (PostalCode) '123' is not valid for DE (expected 5 digits)",
            ),
            (None, "AU-X", "invalid", None, "ORDER_ID_MISSING: order Id is missing or not an integer"),
        ],
        columns=list(OUTCOMES_DTYPES),
    ).astype(OUTCOMES_DTYPES)
    assert_frame_equal(outcomes, expected)

    summary = summarise(outcomes)
    assert summary == {
        "total": 5,
        "counts": {"allocated": 1, "held": 1, "invalid": 3},
        "held": [
            {"order_id": 2, "order_number": "AU-2", "outcome": "held", "reason": "insufficient_stock"},
            {
                "order_id": 3,
                "order_number": "AU-3",
                "outcome": "invalid",
                "reason": expected.loc[2, "reason"],
            },
            {
                "order_id": 4,
                "order_number": "AU-4",
                "outcome": "invalid",
                "reason": expected.loc[3, "reason"],
            },
            {
                "order_id": None,
                "order_number": "AU-X",
                "outcome": "invalid",
                "reason": expected.loc[4, "reason"],
            },
        ],
    }
    json.dumps(summary)  # the artifact needs plain JSON types


@pytest.mark.slow
def test_orders_in_neither_input_are_reported_unallocated() -> None:
    orders_df, lines_df = orders_frame([sales_order(1)], {1: [line_item(11)]})
    failures = validate_orders(orders_df, lines_df, ValidationParams(), SKU_MAP)
    nothing = allocate_stock(orders_df.iloc[0:0], lines_df, available_stock([]), AllocationParams(), SKU_MAP)
    outcomes = outcomes_frame(orders_df, failures, nothing)
    assert outcomes[["outcome", "reason"]].to_numpy().tolist() == [["unallocated", "not in the allocation"]]


def test_summary_counts_flow_outcomes_too_and_handles_an_empty_run() -> None:
    outcomes = pd.DataFrame(
        [
            (1, "AU-1", "created", WAREHOUSE_1, None),
            (2, "AU-2", "failed", None, "HTTP 422 from FFN"),
            (3, "AU-3", None, None, None),
        ],
        columns=list(OUTCOMES_DTYPES),
    ).astype(OUTCOMES_DTYPES)
    summary = summarise(outcomes)
    assert summary["counts"] == {"created": 1, "failed": 1, "unknown": 1}
    assert summary["held"] == [
        {"order_id": 2, "order_number": "AU-2", "outcome": "failed", "reason": "HTTP 422 from FFN"}
    ]
    empty = summarise(outcomes.iloc[0:0])
    assert empty == {"total": 0, "counts": {}, "held": []}
