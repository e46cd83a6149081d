"""orders_frame: Wawi SalesOrder / SalesOrderLineItem JSON to two typed frames, whatever the payload."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from jtl_automator.transforms.orders import LINES_DTYPES, ORDERS_DTYPES, orders_frame
from tests.transforms.orders_data import address, line_item, sales_order, shipping_line

ADDRESS_VIEW = ["order_id", "address_source", "lastname", "company", "street", "postcode", "city", "country"]


def test_flattens_orders_and_lines_with_explicit_dtypes() -> None:
    orders, lines = orders_frame(
        [sales_order(7, ExternalNumber="EB-1"), sales_order(8, Shipmentaddress=address(Company="ACME GmbH"))],
        {7: [line_item(71, "SKU-1", 2), shipping_line(72)], 8: [line_item(81, "SKU-2", 1, Discount=10)]},
    )

    assert dict(orders.dtypes.astype(str)) == ORDERS_DTYPES
    assert dict(lines.dtypes.astype(str)) == LINES_DTYPES
    expected_orders = pd.DataFrame(
        {
            "order_id": pd.array([7, 8], dtype="Int64"),
            "order_number": pd.array(["AU-7", "AU-8"], dtype="string"),
            "external_number": pd.array(["EB-1", None], dtype="string"),
            "order_date": pd.to_datetime(["2024-03-01T10:07:00Z", "2024-03-01T10:08:00Z"]).astype(
                "datetime64[us, UTC]"
            ),
            "customer_id": pd.array([1007, 1008], dtype="Int64"),
            "payment_status": pd.array([2, 2], dtype="Int64"),
            "payment_method_id": pd.array([1, 1], dtype="Int64"),
            "shipping_method_id": pd.array([3, 3], dtype="Int64"),
            "total_gross": pd.array([40.6, 40.6], dtype="Float64"),
            "currency": pd.array(["EUR", "EUR"], dtype="string"),
            "is_cancelled": pd.array([False, False], dtype="boolean"),
            "on_hold_reason_id": pd.array([None, None], dtype="Int64"),
            "delivery_status": pd.array([0, 0], dtype="Int64"),
            "comment": pd.array([None, None], dtype="string"),
            "contact_email": pd.array(["max@example.org"] * 2, dtype="string"),
            "contact_name": pd.array(["Max Muster"] * 2, dtype="string"),
            "address_source": pd.array(["shipment", "shipment"], dtype="string"),
            "salutation": pd.array(["Herr", "Herr"], dtype="string"),
            "firstname": pd.array(["Max", "Max"], dtype="string"),
            "lastname": pd.array(["Muster", "Muster"], dtype="string"),
            "company": pd.array([None, "ACME GmbH"], dtype="string"),
            "street": pd.array(["Hauptstr. 1"] * 2, dtype="string"),
            "address2": pd.array([None, None], dtype="string"),
            "postcode": pd.array(["10115"] * 2, dtype="string"),
            "city": pd.array(["Berlin"] * 2, dtype="string"),
            "state": pd.array([None, None], dtype="string"),
            "country": pd.array(["DE"] * 2, dtype="string"),
            "email": pd.array(["max@example.org"] * 2, dtype="string"),
            "phone": pd.array(["+49 30 123456"] * 2, dtype="string"),
            "mobile": pd.array([None, None], dtype="string"),
        }
    )
    assert_frame_equal(orders, expected_orders)
    expected_lines = pd.DataFrame(
        {
            "order_id": pd.array([7, 7, 8], dtype="Int64"),
            "position": pd.array([1, 2, 1], dtype="int64"),
            "line_id": pd.array([71, 72, 81], dtype="Int64"),
            "item_id": pd.array([5071, 5072, 5081], dtype="Int64"),
            "sku": pd.array(["SKU-1", None, "SKU-2"], dtype="string"),
            "name": pd.array(["Article SKU-1", "Versand", "Article SKU-2"], dtype="string"),
            "type": pd.array([1, 2, 1], dtype="Int64"),
            "is_item": pd.array([True, False, True], dtype="bool"),
            "quantity": pd.array([2.0, 1.0, 1.0], dtype="Float64"),
            "quantity_delivered": pd.array([0.0, 0.0, 0.0], dtype="Float64"),
            "price_net": pd.array([10.0, 4.1176, 10.0], dtype="Float64"),
            "price_gross": pd.array([11.9, 4.9, 11.9], dtype="Float64"),
            "discount": pd.array([0.0, 0.0, 10.0], dtype="Float64"),
            "tax_rate": pd.array([19.0, 19.0, 19.0], dtype="Float64"),
            "purchase_price_net": pd.array([5.0, 5.0, 5.0], dtype="Float64"),
        }
    )
    assert_frame_equal(lines, expected_lines)


@pytest.mark.parametrize(
    ("order", "source", "street", "city", "company"),
    [
        pytest.param(
            sales_order(1, Shipmentaddress=address(Street="Lieferweg 2", City="Hamburg")),
            "shipment",
            "Lieferweg 2",
            "Hamburg",
            None,
            id="shipment-address-wins-over-billing",
        ),
        pytest.param(
            sales_order(1, Shipmentaddress=None, BillingAddress=address(Street="Rechnungsweg 3")),
            "billing",
            "Rechnungsweg 3",
            "Berlin",
            None,
            id="shipment-null-falls-back-to-billing",
        ),
        pytest.param(
            {k: v for k, v in sales_order(1).items() if k != "Shipmentaddress"},
            "billing",
            "Hauptstr. 1",
            "Berlin",
            None,
            id="shipment-key-absent-falls-back",
        ),
        pytest.param(
            sales_order(1, Shipmentaddress={"Id": 5, "Street": "  ", "City": "", "FirstName": "Max"}),
            "billing",
            "Hauptstr. 1",
            "Berlin",
            None,
            id="blank-shipment-address-falls-back",
        ),
        pytest.param(
            sales_order(1, Shipmentaddress={"Company": "Lager AG"}),
            "shipment",
            None,
            None,
            "Lager AG",
            id="partial-shipment-address-is-not-mixed-with-billing",
        ),
        pytest.param(
            sales_order(1, Shipmentaddress=None, BillingAddress=None),
            "none",
            None,
            None,
            None,
            id="no-address-at-all",
        ),
        pytest.param(
            sales_order(1, Shipmentaddress="Hauptstr. 1, Berlin", BillingAddress=["x"]),
            "none",
            None,
            None,
            None,
            id="addresses-of-the-wrong-type",
        ),
    ],
)
@pytest.mark.slow
def test_shipping_address_choice(order, source, street, city, company) -> None:
    orders, _ = orders_frame([order], {})
    row = orders.iloc[0]
    assert row["address_source"] == source
    for column, expected in (("street", street), ("city", city), ("company", company)):
        assert (row[column] is pd.NA) if expected is None else row[column] == expected


def test_missing_keys_and_non_dict_orders_never_raise() -> None:
    orders, lines = orders_frame([{}, None, "AU-1", {"Id": 5}], {5: None})  # type: ignore[dict-item]

    assert len(orders) == 4
    assert orders["order_id"].tolist() == [pd.NA, pd.NA, pd.NA, 5]
    assert orders["address_source"].tolist() == ["none"] * 4
    assert orders.drop(columns=["order_id", "address_source"]).isna().all().all()
    assert lines.empty
    assert dict(lines.dtypes.astype(str)) == LINES_DTYPES


@pytest.mark.parametrize(
    ("column", "raw_key", "raw", "expected"),
    [
        pytest.param("order_id", "Id", "17", 17, id="numeric-string-id"),
        pytest.param("order_id", "Id", 17.0, 17, id="integral-float-id"),
        pytest.param("order_id", "Id", "abc", pd.NA, id="text-id"),
        pytest.param("order_id", "Id", 17.5, pd.NA, id="fractional-id"),
        pytest.param("order_id", "Id", True, pd.NA, id="bool-id"),
        pytest.param("order_number", "Number", 4711, "4711", id="int-number-as-text"),
        pytest.param("order_number", "Number", "  AU-9 ", "AU-9", id="number-stripped"),
        pytest.param("order_number", "Number", "   ", pd.NA, id="blank-number"),
        pytest.param("order_number", "Number", {"x": 1}, pd.NA, id="dict-number"),
        pytest.param("customer_id", "CustomerId", "n/a", pd.NA, id="text-customer"),
        pytest.param("is_cancelled", "IsCancelled", "true", True, id="cancelled-as-string"),
        pytest.param("is_cancelled", "IsCancelled", None, pd.NA, id="cancelled-missing"),
        pytest.param("is_cancelled", "IsCancelled", "vielleicht", pd.NA, id="cancelled-garbage"),
    ],
)
@pytest.mark.slow
def test_order_values_are_coerced_or_become_missing(column, raw_key, raw, expected) -> None:
    order = sales_order(1, **{raw_key: raw})
    orders, _ = orders_frame([order], {})
    value = orders.iloc[0][column]
    assert (value is pd.NA) if expected is pd.NA else value == expected


@pytest.mark.parametrize(
    ("details", "status", "total"),
    [
        pytest.param({"PaymentStatus": "2", "TotalGrossAmount": "12,50"}, 2, 12.5, id="numbers-as-strings"),
        pytest.param({"PaymentStatus": "bezahlt", "TotalGrossAmount": "viel"}, pd.NA, pd.NA, id="garbage"),
        pytest.param({"TotalGrossAmount": math.inf}, pd.NA, pd.NA, id="keys-missing-and-infinity"),
        pytest.param({"TotalGrossAmount": math.nan}, pd.NA, pd.NA, id="nan-total"),
    ],
)
@pytest.mark.slow
def test_payment_details_coercion(details, status, total) -> None:
    orders, _ = orders_frame([sales_order(1, SalesOrderPaymentDetails=details)], {})
    row = orders.iloc[0]
    assert (row["payment_status"] is pd.NA) if status is pd.NA else row["payment_status"] == status
    assert (row["total_gross"] is pd.NA) if total is pd.NA else row["total_gross"] == total


def test_order_dates_parse_to_utc_and_bad_ones_become_nat() -> None:
    dates = [
        "2024-03-01T12:45:00.0000000+02:00",  # Wawi's seven fractional digits and an offset
        "2024-03-01T10:00:00",  # naive: taken as UTC
        "2024-03-01T10:00:00Z",
        "01.03.2024",
        1709287200,
        None,
    ]
    orders, _ = orders_frame([sales_order(i + 1, SalesOrderDate=d) for i, d in enumerate(dates)], {})
    expected = pd.Series(
        pd.to_datetime(
            pd.Series(
                ["2024-03-01T10:45:00Z", "2024-03-01T10:00:00Z", "2024-03-01T10:00:00Z", None, None, None]
            ),
            utc=True,
        ).astype("datetime64[us, UTC]"),
        name="order_date",
    )
    pd.testing.assert_series_equal(orders["order_date"], expected)


def test_address_values_are_normalised() -> None:
    shipment = address(CountryIso=" nl ", PostalCode=1234, Street=" Damrak 1 ", City="\t", LastName=None)
    orders, _ = orders_frame([sales_order(1, Shipmentaddress=shipment)], {})
    row = orders.iloc[0]
    assert (row["country"], row["postcode"], row["street"]) == ("NL", "1234", "Damrak 1")
    assert row["city"] is pd.NA
    assert row["lastname"] is pd.NA


def test_currency_falls_back_to_departure_country() -> None:
    order = sales_order(1, SalesOrderPaymentDetails={"PaymentStatus": 2})
    order["DepartureCountry"] = {"CurrencyIso": "chf"}
    orders, _ = orders_frame([order], {})
    assert orders.iloc[0]["currency"] == "CHF"


def test_duplicate_ids_are_one_order_and_keep_the_first() -> None:
    orders, lines = orders_frame(
        [sales_order(1, Number="AU-first"), sales_order(1, Number="AU-second"), sales_order(2)],
        {1: [line_item(11)], 2: [line_item(21)]},
    )
    assert orders["order_number"].tolist() == ["AU-first", "AU-2"]
    assert lines["order_id"].tolist() == [1, 2]


def test_malformed_line_items() -> None:
    lines_by_order = {
        "1": [  # a string key from a JSON round trip still finds its order
            line_item(11, "SKU-1", "3"),
            line_item(12, "SKU-2", "drei"),
            line_item(13, "SKU-3", True),
            {"SKU": "SKU-4"},
            None,
            line_item(15, None, 1, Type=0, Name="Gratis-Hinweis"),
            line_item(16, "SKU-5", 2.5, Type="Artikel"),
        ],
        2: {"Id": 21},  # a dict where a list belongs: ignored, the order has no lines
        3: [line_item(31)],  # no such order in the batch
    }
    _, lines = orders_frame([sales_order(1), sales_order(2)], lines_by_order)  # type: ignore[arg-type]

    view = lines[["order_id", "position", "sku", "type", "is_item", "quantity"]]
    expected = pd.DataFrame(
        {
            "order_id": pd.array([1] * 7, dtype="Int64"),
            "position": pd.array([1, 2, 3, 4, 5, 6, 7], dtype="int64"),
            "sku": pd.array(["SKU-1", "SKU-2", "SKU-3", "SKU-4", None, None, "SKU-5"], dtype="string"),
            "type": pd.array([1, 1, 1, None, None, 0, None], dtype="Int64"),
            "is_item": [True, True, True, True, True, False, True],
            "quantity": pd.array([3.0, None, None, None, None, 1.0, 2.5], dtype="Float64"),
        }
    )
    assert_frame_equal(view, expected)


def test_oversized_order_keeps_every_line_in_order() -> None:
    order_lines = [line_item(1000 + i, f"SKU-{i % 9 + 1}", i % 4 + 1) for i in range(150)]
    _, lines = orders_frame([sales_order(1)], {1: list(reversed(order_lines))})
    assert len(lines) == 150
    assert lines["position"].tolist() == list(range(1, 151))
    assert lines["line_id"].tolist() == [1000 + i for i in reversed(range(150))]


def test_empty_input_gives_empty_typed_frames() -> None:
    orders, lines = orders_frame([], {})
    assert orders.empty
    assert lines.empty
    assert dict(orders.dtypes.astype(str)) == ORDERS_DTYPES
    assert dict(lines.dtypes.astype(str)) == LINES_DTYPES


@pytest.mark.parametrize(
    ("order", "email", "name"),
    [
        pytest.param(sales_order(1), "max@example.org", "Max Muster", id="shipment-address-email"),
        pytest.param(
            sales_order(
                2,
                Shipmentaddress=address(EmailAddress=None),
                BillingAddress=address(FirstName="Erika", LastName="Meyer", EmailAddress="erika@example.org"),
            ),
            "erika@example.org",
            "Erika Meyer",
            id="billing-when-shipment-has-none",
        ),
        pytest.param(
            sales_order(
                3,
                Shipmentaddress=address(
                    FirstName=None, LastName=None, Company="ACME", EmailAddress=" a@b.de "
                ),
            ),
            "a@b.de",
            "ACME",
            id="company-when-no-person",
        ),
        pytest.param(
            sales_order(4, Shipmentaddress=address(EmailAddress=""), BillingAddress=address(EmailAddress=7)),
            None,
            None,
            id="no-usable-email",
        ),
    ],
)
@pytest.mark.slow
def test_contact_is_the_first_address_with_an_email(order, email, name) -> None:
    orders, _ = orders_frame([order], {})
    assert (
        orders.loc[0, "contact_email"] is pd.NA if email is None else orders.loc[0, "contact_email"] == email
    )
    assert orders.loc[0, "contact_name"] is pd.NA if name is None else orders.loc[0, "contact_name"] == name


def test_comment_hold_and_delivery_status_are_read_once() -> None:
    shipping = {"OnHoldReasonId": "4", "DeliveryCompleteStatus": 1.0}
    orders, _ = orders_frame(
        [
            sales_order(
                1, Comment="  Kunde ruft an\n[jtl-automator] on hold  ", SalesOrderShippingDetail=shipping
            ),
            sales_order(2, Comment=12, SalesOrderShippingDetail="broken"),
        ],
        {},
    )
    assert orders.loc[0, "comment"] == "  Kunde ruft an\n[jtl-automator] on hold  "  # verbatim, not trimmed
    assert orders.loc[0, "on_hold_reason_id"] == 4
    assert orders.loc[0, "delivery_status"] == 1
    assert orders.loc[1, ["comment", "on_hold_reason_id", "delivery_status"]].isna().all()
