"""Validation rules: each code, its trigger, its non-trigger, its message; params; determinism; speed."""

from __future__ import annotations

import random
from typing import Any

import pandas as pd
import pydantic
import pytest
from pandas.testing import assert_frame_equal

from jtl_automator.transforms.allocation import AllocationParams, allocate_stock, available_stock
from jtl_automator.transforms.orders import orders_frame
from jtl_automator.transforms.orders_rules import (
    FAILURES_DTYPES,
    FailureCode,
    ValidationParams,
    valid_orders,
    validate_orders,
)
from tests.transforms.orders_data import SKU_MAP, WAREHOUSE_1, WAREHOUSE_2, address, line_item, sales_order

DEFAULT = ValidationParams()


def run(orders: list[Any], lines: dict[int, list[Any]], params: ValidationParams = DEFAULT) -> pd.DataFrame:
    orders_df, lines_df = orders_frame(orders, lines)
    return validate_orders(orders_df, lines_df, params, SKU_MAP)


def failures_frame(rows: list[tuple[Any, Any, str, str, str]]) -> pd.DataFrame:
    columns = list(FAILURES_DTYPES)
    return (
        pd.DataFrame(rows, columns=columns).astype(FAILURES_DTYPES)
        if rows
        else pd.DataFrame({c: pd.Series(dtype=d) for c, d in FAILURES_DTYPES.items()})
    )


@pytest.mark.slow
def test_a_complete_paid_order_is_valid() -> None:
    failures = run([sales_order(1)], {1: [line_item(11, "SKU-1", 2), line_item(12, "SKU-2", 1)]})
    assert_frame_equal(failures, failures_frame([]))


def with_shipment(**fields: Any) -> dict[str, Any]:
    return sales_order(1, Shipmentaddress=address(**fields), BillingAddress=None)


GOOD_LINES = [line_item(11, "SKU-1", 1)]

# (order, lines, expected code, expected field) per rule: the order breaks exactly one rule.
RULE_CASES = [
    pytest.param(sales_order(1, Id="x"), None, "ORDER_ID_MISSING", "Id", id="order-id-unreadable"),
    pytest.param(
        sales_order(1, Number=None), GOOD_LINES, "ORDER_NUMBER_MISSING", "Number", id="number-missing"
    ),
    pytest.param(
        sales_order(1, Number="A" * 256),
        GOOD_LINES,
        "ORDER_NUMBER_TOO_LONG",
        "Number",
        id="number-longer-than-ffn-takes",
    ),
    pytest.param(
        sales_order(1, IsCancelled=True), GOOD_LINES, "ORDER_CANCELLED", "IsCancelled", id="cancelled"
    ),
    pytest.param(with_shipment(Street=None), GOOD_LINES, "ADDRESS_INCOMPLETE", "Street", id="street-missing"),
    pytest.param(with_shipment(City="  "), GOOD_LINES, "ADDRESS_INCOMPLETE", "City", id="city-blank"),
    pytest.param(
        with_shipment(CountryIso=None, PostalCode="1"),
        GOOD_LINES,
        "ADDRESS_INCOMPLETE",
        "CountryIso",
        id="country-missing",
    ),
    pytest.param(
        with_shipment(LastName=None, Company=None),
        GOOD_LINES,
        "ADDRESS_INCOMPLETE",
        "LastName or Company",
        id="nobody-to-deliver-to",
    ),
    pytest.param(
        with_shipment(CountryIso="XX"), GOOD_LINES, "COUNTRY_INVALID", "CountryIso", id="country-unknown"
    ),
    pytest.param(
        with_shipment(CountryIso="DEU"), GOOD_LINES, "COUNTRY_INVALID", "CountryIso", id="country-alpha-3"
    ),
    pytest.param(
        with_shipment(PostalCode="1011"), GOOD_LINES, "POSTCODE_INVALID", "PostalCode", id="de-4-digits"
    ),
    pytest.param(
        with_shipment(PostalCode=None), GOOD_LINES, "POSTCODE_INVALID", "PostalCode", id="postcode-missing"
    ),
    pytest.param(sales_order(1), [], "NO_LINES", "LineItems", id="no-lines"),
    pytest.param(
        sales_order(1),
        [line_item(11, None, 1, Type=2, Name="Versand"), line_item(12, None, 1, Type=0)],
        "NO_LINES",
        "LineItems",
        id="only-shipping-and-text-lines",
    ),
    pytest.param(sales_order(1), [line_item(11, "NOPE-1")], "SKU_UNKNOWN", "SKU", id="sku-not-mapped"),
    pytest.param(sales_order(1), [line_item(11, None)], "SKU_UNKNOWN", "SKU", id="item-line-without-sku"),
    pytest.param(
        sales_order(1), [line_item(11, "SKU-1", 0)], "QUANTITY_INVALID", "Quantity", id="quantity-zero"
    ),
    pytest.param(
        sales_order(1), [line_item(11, "SKU-1", -2)], "QUANTITY_INVALID", "Quantity", id="quantity-negative"
    ),
    pytest.param(
        sales_order(1),
        [line_item(11, "SKU-1", 1.5)],
        "QUANTITY_INVALID",
        "Quantity",
        id="quantity-fractional",
    ),
    pytest.param(
        sales_order(1), [line_item(11, "SKU-1", "zwei")], "QUANTITY_INVALID", "Quantity", id="quantity-text"
    ),
    pytest.param(
        sales_order(1, SalesOrderPaymentDetails={"PaymentStatus": 0, "PaymentMethodId": 1}),
        GOOD_LINES,
        "PAYMENT_NOT_CLEARED",
        "PaymentStatus",
        id="unpaid",
    ),
    pytest.param(
        sales_order(1, SalesOrderPaymentDetails={"PaymentStatus": 1, "PaymentMethodId": 1}),
        GOOD_LINES,
        "PAYMENT_NOT_CLEARED",
        "PaymentStatus",
        id="partially-paid",
    ),
    pytest.param(
        sales_order(1, SalesOrderPaymentDetails=None),
        GOOD_LINES,
        "PAYMENT_NOT_CLEARED",
        "PaymentStatus",
        id="payment-details-missing",
    ),
]


@pytest.mark.parametrize(("order", "lines", "code", "field"), RULE_CASES)
@pytest.mark.slow
def test_each_rule_fires_alone_and_names_its_field(order, lines, code, field) -> None:
    failures = run([order], {1: lines} if lines is not None else {})
    assert failures["code"].tolist() == [code]
    assert failures["field"].tolist() == [field]
    message = failures["message"].iloc[0]
    assert message
    assert field.split(" ")[0] in message


@pytest.mark.slow
def test_several_address_fields_are_named_in_one_failure() -> None:
    failures = run([with_shipment(Street="", City=None, LastName=None)], {1: GOOD_LINES})
    expected = failures_frame(
        [
            (
                1,
                "AU-1",
                "ADDRESS_INCOMPLETE",
                "Street,City,LastName or Company",
                "shipping address incomplete (Shipmentaddress): Street, City, LastName or Company missing",
            )
        ]
    )
    assert_frame_equal(failures, expected)


@pytest.mark.parametrize(
    ("country", "postcode", "valid"),
    [
        pytest.param("DE", "01067", True, id="DE-ok"),
        pytest.param("DE", "1067", False, id="DE-short"),
        pytest.param("DE", "D-01067", False, id="DE-prefixed"),
        pytest.param("AT", "1010", True, id="AT-ok"),
        pytest.param("AT", "10100", False, id="AT-long"),
        pytest.param("CH", "8001", True, id="CH-ok"),
        pytest.param("CH", "80O1", False, id="CH-letter-o"),
        pytest.param("NL", "1234 AB", True, id="NL-ok"),
        pytest.param("NL", "1234ab", True, id="NL-no-space-lower-case"),
        pytest.param("NL", "1234", False, id="NL-no-letters"),
        pytest.param("FR", "75008", True, id="FR-ok"),
        pytest.param("FR", "7500", False, id="FR-short"),
        pytest.param("BE", "1000", True, id="BE-ok"),
        pytest.param("BE", "B-1000", False, id="BE-prefixed"),
        pytest.param("DK", "2100", True, id="DK-ok"),
        pytest.param("DK", "DK-2100", False, id="DK-prefixed"),
        pytest.param("PL", "00-950", True, id="PL-ok"),
        pytest.param("PL", "00950", False, id="PL-no-dash"),
        pytest.param("IT", "00184", True, id="IT-ok"),
        pytest.param("IT", "184", False, id="IT-short"),
        pytest.param("ES", "28013", True, id="ES-ok"),
        pytest.param("ES", "2801", False, id="ES-short"),
        pytest.param("GB", "SW1A 1AA", True, id="GB-ok"),
        pytest.param("GB", "m1 1ae", True, id="GB-lower-case"),
        pytest.param("GB", "EC1A1BB", True, id="GB-no-space"),
        pytest.param("GB", "GIR 0AA", True, id="GB-girobank"),
        pytest.param("GB", "12345", False, id="GB-digits"),
        pytest.param("GB", "QA1 1AA", False, id="GB-bad-first-letter"),
        pytest.param("US", "10001", True, id="US-zip"),
        pytest.param("US", "10001-1234", True, id="US-zip+4"),
        pytest.param("US", "1000", False, id="US-short"),
        pytest.param("SE", "114 55", True, id="other-country-any-text"),
        pytest.param("SE", None, False, id="other-country-empty"),
        pytest.param("DE", "١٠١١٥", False, id="DE-non-ascii-digits"),
    ],
)
@pytest.mark.slow
def test_postcode_formats(country, postcode, valid) -> None:
    failures = run([with_shipment(CountryIso=country, PostalCode=postcode)], {1: GOOD_LINES})
    assert failures["code"].tolist() == ([] if valid else ["POSTCODE_INVALID"])
    if not valid:
        assert country in failures["message"].iloc[0]


@pytest.mark.slow
def test_postcode_message_says_what_is_expected() -> None:
    failures = run([with_shipment(CountryIso="PL", PostalCode="00950")], {1: GOOD_LINES})
    assert failures["message"].tolist() == [
        "postcode (PostalCode) '00950' is not valid for PL (expected 'NN-NNN')"
    ]


@pytest.mark.slow
def test_postcode_optional_countries() -> None:
    order = with_shipment(CountryIso="HK", PostalCode=None)
    assert run([order], {1: GOOD_LINES})["code"].tolist() == ["POSTCODE_INVALID"]
    params = ValidationParams(postcode_optional_countries=frozenset({"HK"}))
    assert run([order], {1: GOOD_LINES}, params).empty


@pytest.mark.slow
def test_allowed_countries_limit_where_orders_go() -> None:
    params = ValidationParams(allowed_countries=frozenset({"DE", "AT"}))
    failures = run([with_shipment(CountryIso="CH", PostalCode="8001")], {1: GOOD_LINES}, params)
    assert failures["code"].tolist() == ["COUNTRY_INVALID"]
    assert (
        failures["message"].iloc[0]
        == "country (CountryIso) 'CH' is not among the countries shipped to (AT, DE)"
    )
    assert run([sales_order(1)], {1: GOOD_LINES}, params).empty


@pytest.mark.parametrize(
    ("status", "method", "params", "cleared"),
    [
        pytest.param(2, 1, DEFAULT, True, id="paid"),
        pytest.param(0, 1, DEFAULT, False, id="unpaid"),
        pytest.param(
            0, 7, ValidationParams(invoice_payment_method_ids=frozenset({7})), True, id="invoice-unpaid"
        ),
        pytest.param(
            0, 9, ValidationParams(cash_on_delivery_payment_method_ids=frozenset({9})), True, id="cod-unpaid"
        ),
        pytest.param(
            0, 8, ValidationParams(invoice_payment_method_ids=frozenset({7})), False, id="other-method"
        ),
        pytest.param(
            1, 1, ValidationParams(shippable_payment_statuses=frozenset({1, 2})), True, id="partial-allowed"
        ),
        pytest.param(
            2, 1, ValidationParams(shippable_payment_statuses=frozenset()), False, id="nothing-allowed"
        ),
        pytest.param(
            None, 7, ValidationParams(invoice_payment_method_ids=frozenset({7})), True, id="no-status-invoice"
        ),
        pytest.param(None, None, DEFAULT, False, id="nothing-known"),
    ],
)
@pytest.mark.slow
def test_payment_rule_is_configurable(status, method, params, cleared) -> None:
    order = sales_order(1, SalesOrderPaymentDetails={"PaymentStatus": status, "PaymentMethodId": method})
    failures = run([order], {1: GOOD_LINES}, params)
    assert failures["code"].tolist() == ([] if cleared else ["PAYMENT_NOT_CLEARED"])


@pytest.mark.slow
def test_payment_message_names_state_and_method() -> None:
    params = ValidationParams(
        invoice_payment_method_ids=frozenset({7}), cash_on_delivery_payment_method_ids={9}
    )
    order = sales_order(1, SalesOrderPaymentDetails={"PaymentStatus": 0, "PaymentMethodId": 3})
    assert run([order], {1: GOOD_LINES}, params)["message"].tolist() == [
        "PaymentStatus 0 (unpaid) with PaymentMethodId 3 does not allow shipping "
        "(allowed states: paid; invoice methods: [7]; cash on delivery methods: [9])"
    ]


@pytest.mark.slow
def test_oversized_orders_pass_by_default_and_the_cap_is_configurable() -> None:
    lines = {1: [line_item(1000 + i, f"SKU-{i % 9 + 1}", 1) for i in range(150)]}
    assert run([sales_order(1)], lines).empty
    failures = run([sales_order(1)], lines, ValidationParams(max_lines=100))
    assert failures["code"].tolist() == ["TOO_MANY_LINES"]
    assert failures["message"].iloc[0] == "order has 150 item lines (LineItems), more than the limit of 100"
    assert run([sales_order(1)], lines, ValidationParams(max_lines=None)).empty


@pytest.mark.slow
def test_too_many_lines_counts_item_lines_only() -> None:
    lines = {1: [line_item(11, "SKU-1"), line_item(12, "SKU-2"), line_item(13, None, 1, Type=2)]}
    assert run([sales_order(1)], lines, ValidationParams(max_lines=2)).empty


@pytest.mark.slow
def test_unknown_skus_are_listed_in_one_failure_per_order() -> None:
    lines = {1: [line_item(11, "SKU-1")] + [line_item(20 + i, f"GONE-{i}") for i in range(12)]}
    failures = run([sales_order(1)], lines)
    assert failures["code"].tolist() == ["SKU_UNKNOWN"]
    message = failures["message"].iloc[0]
    assert message.startswith("line 2: SKU 'GONE-0' has no jfsku (unknown to JTL-FFN), line 3: SKU 'GONE-1'")
    assert message.endswith("and 2 more")


@pytest.mark.slow
def test_duplicate_order_numbers_keep_the_earliest() -> None:
    orders = [
        sales_order(3, Number="AU-7", SalesOrderDate="2024-03-02T09:00:00+00:00"),
        sales_order(1, Number="AU-7", SalesOrderDate="2024-03-01T09:00:00+00:00"),
        sales_order(2, Number="AU-7", SalesOrderDate="2024-03-03T09:00:00+00:00"),
        sales_order(4, Number="AU-8"),
    ]
    lines = dict.fromkeys(range(1, 5), GOOD_LINES)
    message = "order Number 'AU-7' occurs more than once in the batch; the order with Id 1 is kept"
    expected = failures_frame(
        [
            (2, "AU-7", "DUPLICATE_ORDER_NUMBER", "Number", message),
            (3, "AU-7", "DUPLICATE_ORDER_NUMBER", "Number", message),
        ]
    )
    assert_frame_equal(run(orders, lines), expected)
    assert_frame_equal(run(list(reversed(orders)), lines), expected)


@pytest.mark.slow
def test_failures_are_sorted_by_order_then_rule_and_orders_without_id_come_last() -> None:
    orders = [
        {"Number": "AU-X"},
        sales_order(2, IsCancelled=True, SalesOrderPaymentDetails={"PaymentStatus": 0}),
        sales_order(1),
    ]
    failures = run(orders, {1: [line_item(11, "NOPE")], 2: GOOD_LINES})
    assert list(zip(failures["order_id"].tolist(), failures["code"].tolist(), strict=True)) == [
        (1, "SKU_UNKNOWN"),
        (2, "ORDER_CANCELLED"),
        (2, "PAYMENT_NOT_CLEARED"),
        (pd.NA, "ORDER_ID_MISSING"),
        (pd.NA, "ADDRESS_INCOMPLETE"),
        (pd.NA, "PAYMENT_NOT_CLEARED"),
    ]
    assert failures["order_number"].tolist()[-1] == "AU-X"


@pytest.mark.slow
def test_valid_orders_drops_every_failing_order() -> None:
    orders_df, lines_df = orders_frame(
        [sales_order(1), sales_order(2, IsCancelled=True), {"Number": "AU-X"}], {1: GOOD_LINES, 2: GOOD_LINES}
    )
    failures = validate_orders(orders_df, lines_df, DEFAULT, SKU_MAP)
    assert valid_orders(orders_df, failures)["order_id"].tolist() == [1]


@pytest.mark.slow
def test_rules_are_pure_and_deterministic() -> None:
    rnd = random.Random(5)
    orders = [
        sales_order(i, Number=f"AU-{i % 37}", SalesOrderPaymentDetails={"PaymentStatus": i % 3})
        for i in range(1, 120)
    ]
    lines = {
        i: [line_item(i * 10 + k, rnd.choice([*SKU_MAP, "NOPE"]), rnd.choice([1, 2, 0])) for k in range(3)]
        for i in range(1, 120)
    }
    orders_df, lines_df = orders_frame(orders, lines)
    before = (orders_df.copy(), lines_df.copy())
    first = validate_orders(orders_df, lines_df, DEFAULT, SKU_MAP)
    assert_frame_equal(orders_df, before[0])
    assert_frame_equal(lines_df, before[1])
    shuffled_orders = orders_df.sample(frac=1, random_state=1)
    shuffled_lines = lines_df.sample(frac=1, random_state=2)
    assert_frame_equal(validate_orders(shuffled_orders, shuffled_lines, DEFAULT, SKU_MAP), first)
    assert set(first["code"]) >= {
        "DUPLICATE_ORDER_NUMBER",
        "SKU_UNKNOWN",
        "QUANTITY_INVALID",
        "PAYMENT_NOT_CLEARED",
    }


def test_every_code_has_a_rule() -> None:
    """Every code is a frame rule, but PARTIALLY_DELIVERED: the planner decides it from the merchant's
    partial_delivery setting and the lines as Wawi sent them (the rules see only the open lines)."""
    from jtl_automator.transforms.orders_rules import RULES

    planner_codes = [FailureCode.PARTIALLY_DELIVERED]
    assert [code for code, _ in RULES] == [c for c in FailureCode if c not in planner_codes]


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({"shippable_payment_statuses": {3}}, id="unknown-payment-state"),
        pytest.param({"allowed_countries": {"XX"}}, id="unknown-country"),
        pytest.param({"max_lines": 0}, id="zero-cap"),
        pytest.param({"max_line": 10}, id="typo-is-rejected"),
    ],
)
def test_validation_params_reject_nonsense(kwargs) -> None:
    with pytest.raises(pydantic.ValidationError):
        ValidationParams(**kwargs)


def test_validation_params_are_frozen() -> None:
    with pytest.raises(pydantic.ValidationError):
        DEFAULT.max_lines = 3  # type: ignore[misc]


@pytest.mark.slow
def test_validate_and_allocate_10k_orders() -> None:
    """Size only: the speed of a 10,000-order run is what the order benchmark measures."""
    rnd = random.Random(3)
    skus = list(SKU_MAP)
    orders = [sales_order(i) for i in range(1, 10_001)]
    lines = {
        i: [line_item(i * 10 + k, rnd.choice(skus), rnd.randint(1, 3)) for k in range(rnd.randint(1, 5))]
        for i in range(1, 10_001)
    }
    stocks = [
        {
            "jfsku": j,
            "warehouses": [{"warehouseId": w, "stockLevel": 3000} for w in (WAREHOUSE_1, WAREHOUSE_2)],
        }
        for j in SKU_MAP.values()
    ]
    orders_df, lines_df = orders_frame(orders, lines)
    available = available_stock(stocks)
    validate_orders(orders_df.head(5), lines_df.head(5), DEFAULT, SKU_MAP)  # warm-up: pandera backends

    failures = validate_orders(orders_df, lines_df, DEFAULT, SKU_MAP)
    allocation = allocate_stock(
        valid_orders(orders_df, failures), lines_df, available, AllocationParams(), SKU_MAP
    )
    assert failures.empty
    assert len(allocation.orders) == 10_000
    assert (allocation.orders["status"] == "allocated").sum() > 5_000
