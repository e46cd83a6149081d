"""Shop sync check transforms: tiny literal rows and frames, one rule per test, malformed rows included."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import pandera.errors
import pytest

from jtl_automator.clients.shop.models import ShopCart, ShopOrder, ShopProduct
from jtl_automator.transforms import shop_sync as t

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def _order(order_id: int, number: str | None, minutes_ago: float, state: str = "1") -> ShopOrder:
    created = (NOW - timedelta(minutes=minutes_ago)).astimezone(t.UTC)
    return ShopOrder.model_validate(
        {
            "id": order_id,
            "cartID": 1000 + order_id,
            "orderNO": number,
            "state": state,
            "created": {"date": created.strftime("%Y-%m-%d %H:%M:%S.000000"), "timezone": "UTC"},
            "total": 12,
        }
    )


def _checked(
    rows: list[tuple[str, float, str | None, bool | None, str | None]],
    grace: float = 30,
) -> pd.DataFrame:
    """(order number, minutes ago, shop state, found in Wawi, Wawi status) -> check_orders' output."""
    frame = pd.DataFrame(
        {
            "shop_order_id": pd.Series(range(1, len(rows) + 1), dtype="Int64"),
            "order_no": pd.Series([r[0] for r in rows], dtype="string"),
            "state": pd.Series([r[2] for r in rows], dtype="string"),
            "created_at": pd.Series(
                [NOW - timedelta(minutes=r[1]) for r in rows], dtype="datetime64[us, UTC]"
            ),
            "units": pd.Series([2.0] * len(rows), dtype="float64"),
            "total": pd.Series([10.0] * len(rows), dtype="float64"),
            "wawi_found": pd.Series([r[3] for r in rows], dtype="boolean"),
            "wawi_status": pd.Series([r[4] for r in rows], dtype="string"),
            "wawi_numbers": pd.Series(["AU1" if r[3] else None for r in rows], dtype="string"),
        }
    )
    return t.check_orders(frame, NOW, t.OrderCheckParams(grace_minutes=grace))


def _status(frame: pd.DataFrame, key: str, column: str = "order_no") -> str:
    rows = frame[frame[column] == key]
    assert len(rows) == 1, rows
    return str(rows.iloc[0]["status"])


# -- orders -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        pytest.param(("B1", 45, "1", False, None), t.STUCK, id="missing-after-grace-is-stuck"),
        pytest.param(("B1", 30, "1", False, None), t.STUCK, id="exactly-at-grace-is-stuck"),
        pytest.param(("B1", 29.9, "1", False, None), t.WAITING, id="young-order-waits"),
        pytest.param(("B1", 900, "3", True, "open"), t.IN_WAWI, id="found-in-wawi"),
        pytest.param(("B1", 900, None, False, None), t.STUCK, id="no-state-is-not-cancelled"),
        pytest.param(("B1", 900, "-1", False, None), t.CANCELLED, id="cancelled-before-wawi-pulled-it"),
        pytest.param(("B1", 900, "-1", True, "open"), t.CANCELLED_OPEN, id="cancelled-in-shop-open-in-wawi"),
        pytest.param(("B1", 900, "-1", True, "shipped"), t.CANCELLED_OPEN, id="cancelled-but-shipped"),
        pytest.param(("B1", 900, "-1", True, "cancelled"), t.CANCELLED, id="cancelled-on-both-sides"),
        pytest.param(("B1", 900, "1", None, None), t.UNCHECKED, id="wawi-not-asked"),
    ],
)
def test_order_status(row: tuple[str, float, str | None, bool | None, str | None], expected: str) -> None:
    assert _status(_checked([row]), "B1") == expected


def test_stuck_orders_carry_their_age_and_creation_as_stuck_since() -> None:
    checked = _checked(
        [("B1", 90, "1", False, None), ("B2", 5, "1", False, None), ("B3", 50, "-1", True, "open")]
    )
    assert checked.loc[checked["order_no"] == "B1", "age_minutes"].iloc[0] == 90.0
    findings = t.order_findings(checked)
    assert set(zip(findings["kind"], findings["key"], strict=True)) == {
        (t.CANCELLED_OPEN, "B3"),
        (t.STUCK_ORDER, "B1"),
    }
    stuck = findings[findings["kind"] == t.STUCK_ORDER].iloc[0]
    assert stuck["since"] == pd.Timestamp(NOW - timedelta(minutes=90))
    assert "1.5 h" in stuck["detail"]
    cancelled = findings[findings["kind"] == t.CANCELLED_OPEN].iloc[0]
    assert pd.isna(cancelled["since"]) and "open in Wawi" in cancelled["detail"]


def test_an_order_number_twice_is_refused() -> None:
    with pytest.raises(pandera.errors.SchemaError, match="order number twice"):
        _checked([("B1", 90, "1", False, None), ("B1", 80, "1", False, None)])


def test_shop_orders_frame_keeps_unusable_orders_with_their_problem() -> None:
    good = _order(1, "B-1", 10)
    no_number = _order(2, None, 10)
    no_date = ShopOrder.model_validate({"id": 3, "orderNO": "B-3", "state": "1"})
    frame = t.shop_orders_frame([good, no_number, no_date])
    assert list(frame["problem"]) == [
        "",
        "orderNO missing (Wawi keys the order by it)",
        "created missing (the grace period runs from it)",
    ]
    assert frame["created_at"].iloc[0] == pd.Timestamp(NOW - timedelta(minutes=10))
    assert frame["state"].iloc[0] == "1" and frame["cart_id"].iloc[0] == 1001


def test_shop_dates_in_berlin_time_become_utc() -> None:
    order = ShopOrder.model_validate(
        {
            "id": 1,
            "orderNO": "B",
            "created": {"date": "2026-12-01 10:15:00.000000", "timezone": "Europe/Berlin"},
        }
    )
    frame = t.shop_orders_frame([order])
    assert frame["created_at"].iloc[0] == pd.Timestamp("2026-12-01 09:15:00", tz="UTC")


@pytest.mark.parametrize(
    ("items", "lines", "problem"),
    [
        pytest.param(
            [
                {"id": 1, "posType": 1, "sku": "A", "qty": 2, "productID": 7},
                {"id": 2, "posType": 2, "qty": 1},
            ],
            [{"product_id": 7, "sku": "A", "qty": 2.0}],
            "",
            id="shipping-is-not-goods",
        ),
        pytest.param(
            [{"id": 1, "posType": 1, "sku": "A", "qty": 2}, {"id": 2, "posType": 1, "sku": "", "qty": 1}],
            [],
            "line 2: sku '', qty 1.0",
            id="a-line-without-sku-spoils-the-cart",
        ),
        pytest.param(
            [{"id": 1, "posType": 1, "sku": "A", "qty": -3}],
            [],
            "line 1: sku 'A', qty -3.0",
            id="negative-quantity",
        ),
    ],
)
def test_cart_lines(items: list[dict[str, Any]], lines: list[dict[str, Any]], problem: str) -> None:
    assert t.cart_lines(ShopCart.model_validate({"id": 9, "items": items})) == (lines, problem)


def test_pending_units_count_orders_wawi_has_not_got_unless_cancelled() -> None:
    checked = _checked(
        [
            ("B1", 5, "1", False, None),  # waiting: counts
            ("B2", 90, "1", False, None),  # stuck: counts
            ("B3", 90, "1", True, "open"),  # in Wawi: Wawi's stock already knows it
            ("B4", 90, "-1", False, None),  # cancelled: the shop gave the units back
            ("B5", 90, "1", None, None),  # Wawi not asked: the shop's deduction stands
        ]
    )
    lines = {n: [{"sku": "A", "qty": 1.0}] for n in ("B1", "B2", "B3", "B4", "B5")}
    lines["B2"] = [{"sku": "A", "qty": 2.0}, {"sku": "B", "qty": 1.0}]
    pending = t.pending_units(checked, lines)
    assert dict(zip(pending["sku"], pending["units"], strict=True)) == {"A": 4.0, "B": 1.0}


# -- stock --------------------------------------------------------------------------------------------


def _product(pid: int, sku: str | None, qty: Any, track: str | None = "Y", **extra: Any) -> ShopProduct:
    return ShopProduct.model_validate({"id": pid, "sku": sku, "stockQty": qty, "trackStock": track, **extra})


def _wawi_stock(*rows: tuple[str, int, float, float]) -> pd.DataFrame:
    items = [{"Id": i, "SKU": sku} for i, sku in enumerate(sorted({r[0] for r in rows}), start=1)]
    ids = {item["SKU"]: item["Id"] for item in items}
    stocks = [
        {"ItemId": ids[sku], "WarehouseId": wh, "QuantityTotal": total, "QuantityLockedForShipment": locked}
        for sku, wh, total, locked in rows
    ]
    return t.wawi_available_frame(items, stocks)


def _stock_check(
    products: list[ShopProduct],
    wawi: pd.DataFrame,
    pending: dict[str, float] | None = None,
    **params: Any,
) -> pd.DataFrame:
    frame, warehouses, _ = t.shop_products_frames(products)
    waiting = pd.DataFrame(
        {
            "sku": pd.Series(list(pending or {}), dtype="string"),
            "units": pd.Series(list((pending or {}).values()), dtype="float64"),
        }
    )
    defaults: dict[str, Any] = {"feeding_warehouses": (1, 2)}
    return t.check_stock(frame, warehouses, wawi, waiting, t.StockCheckParams(**(defaults | params)))


def test_wawi_available_is_total_less_locked_summed_over_locations() -> None:
    wawi = _wawi_stock(("A", 1, 10, 2), ("A", 1, 5, 0), ("A", 2, 3, 4))
    by_wh = dict(zip(wawi["wawi_warehouse_id"], wawi["available"], strict=True))
    assert by_wh == {1: 13.0, 2: 0.0}  # locked beyond the total is none available, never negative


def test_expected_is_available_over_the_feeding_warehouses_only() -> None:
    wawi = _wawi_stock(("A", 1, 10, 0), ("A", 2, 5, 0), ("A", 3, 100, 0))
    checked = _stock_check([_product(1, "A", 15)], wawi)
    row = checked.iloc[0]
    assert (row["status"], row["available"], row["difference"]) == (t.OK, 15.0, 0.0)


@pytest.mark.parametrize(
    ("shop", "pending", "tolerance", "status"),
    [
        pytest.param(12, 0, 0, t.OVERSELL, id="shop-shows-more-than-available"),
        pytest.param(8, 0, 0, t.UNDERSELL, id="shop-shows-less"),
        pytest.param(11, 0, 1, t.OK, id="within-tolerance"),
        pytest.param(8, 2, 0, t.OK, id="pending-shop-orders-explain-the-gap"),
        pytest.param(10, 2, 0, t.OK, id="or-wawi-pushed-available-since"),
        pytest.param(7, 2, 0, t.UNDERSELL, id="below-even-with-pending-orders"),
        pytest.param(11, 2, 0, t.OVERSELL, id="pending-never-excuses-oversell"),
        pytest.param(0, 15, 0, t.OK, id="expected-never-below-zero"),
    ],
)
def test_stock_difference(shop: float, pending: float, tolerance: float, status: str) -> None:
    wawi = _wawi_stock(("A", 1, 10, 0))
    checked = _stock_check([_product(1, "A", shop)], wawi, {"A": pending}, tolerance=tolerance)
    assert checked.iloc[0]["status"] == status


@pytest.mark.parametrize(
    ("product", "status"),
    [
        pytest.param(_product(1, "A", 3, track="N"), t.NOT_TRACKED, id="stock-not-managed"),
        pytest.param(_product(1, "A", 3, isParent=1), t.PARENT, id="parent-product"),
        pytest.param(_product(1, "ZZ", 3), t.UNKNOWN_SKU, id="unknown-in-wawi"),
        pytest.param(_product(1, None, 3), t.INVALID, id="no-sku"),
        pytest.param(_product(1, "A", None), t.INVALID, id="managed-without-stockQty"),
    ],
)
def test_rows_that_are_not_compared_say_why(product: ShopProduct, status: str) -> None:
    checked = _stock_check([product], _wawi_stock(("A", 1, 10, 0)))
    assert checked.iloc[0]["status"] == status and checked.iloc[0]["reason"]


def test_an_item_wawi_holds_none_of_is_zero_available_not_unknown() -> None:
    wawi = t.wawi_available_frame([{"Id": 1, "SKU": "A"}], [])
    checked = _stock_check([_product(1, "A", 2)], wawi)
    assert (checked.iloc[0]["status"], checked.iloc[0]["expected"]) == (t.OVERSELL, 0.0)


def test_oversell_comes_first_then_the_largest_difference() -> None:
    wawi = _wawi_stock(("A", 1, 10, 0), ("B", 1, 10, 0), ("C", 1, 10, 0), ("D", 1, 10, 0))
    products = [_product(1, "A", 3), _product(2, "B", 11), _product(3, "C", 14), _product(4, "D", 10)]
    checked = _stock_check(products, wawi)
    assert list(checked["sku"]) == ["C", "B", "A", "D"]
    findings = t.stock_findings(checked)
    assert list(findings["risk"]) == [t.OVERSELL, t.OVERSELL, t.UNDERSELL]
    assert list(findings["key"]) == ["C", "B", "A"]


def test_mapped_shop_warehouses_are_compared_with_their_wawi_warehouses() -> None:
    wawi = _wawi_stock(("A", 1, 10, 0), ("A", 2, 4, 0))
    product = _product(
        1,
        "A",
        14,
        stock=[
            {"productID": 1, "warehouseID": 7, "stock": 10},
            {"productID": 1, "warehouseID": 8, "stock": 9},
        ],
    )
    checked = _stock_check([product], wawi, warehouse_map={"7": (1,), "8": (2,)})
    by_key = dict(zip(checked["key"], checked["status"], strict=True))
    assert by_key == {"A": t.OK, "A@7": t.OK, "A@8": t.OVERSELL}


# -- prices -------------------------------------------------------------------------------------------


def _priced(pid: int, sku: str, *groups: tuple[int, Any], customer: int | None = None) -> ShopProduct:
    prices = [
        {
            "id": pid * 10 + g,
            "productID": pid,
            "customerGroupID": g,
            "customerID": customer,
            "detail": [{"amountFrom": 0, "netPrice": net}, {"amountFrom": 10, "netPrice": 1}],
        }
        for g, net in groups
    ]
    return ShopProduct.model_validate({"id": pid, "sku": sku, "trackStock": "N", "prices": prices})


def _price_check(
    products: list[ShopProduct],
    channel: dict[int, list[dict[str, Any]]] | None = None,
    known: tuple[int, ...] = (1, 2),
    **params: Any,
) -> pd.DataFrame:
    _, _, shop = t.shop_products_frames(products)
    items = [
        {"Id": 1, "SKU": "A", "ItemPriceData": {"SalesPriceNet": 10.0}, "Changed": "2026-12-01T00:00:00Z"},
        {"Id": 2, "SKU": "B", "ItemPriceData": {"SalesPriceNet": 20.0}},
    ]
    return t.check_prices(
        shop,
        t.wawi_prices_frame(items),
        t.channel_prices_frame(channel or {}, "1-2-1"),
        known,
        t.PriceCheckParams(**params),
    )


def _cp(group: int, net: float, reduce: float = 0, channel: str = "1-2-1", qty: int = 0) -> dict[str, Any]:
    return {
        "SalesChannelId": channel,
        "CustomerGroupId": group,
        "FromQuantity": qty,
        "NetPrice": net,
        "ReduceStandardPriceByPercent": reduce,
    }


@pytest.mark.parametrize(
    ("shop_net", "channel", "status", "source"),
    [
        pytest.param(10.0, [], t.OK, "base price", id="base-price-matches"),
        pytest.param(10.004, [], t.OK, "base price", id="within-half-a-cent"),
        pytest.param(11.0, [], t.DRIFT, "base price", id="base-price-drifted"),
        pytest.param(9.5, [_cp(1, 9.5)], t.OK, "channel price (group 1)", id="group-channel-price"),
        pytest.param(9.5, [_cp(0, 9.5)], t.OK, "channel price (all groups)", id="all-groups-channel-price"),
        pytest.param(9.7, [_cp(0, 0, 3)], t.OK, "channel price (all groups)", id="relative-channel-price"),
        pytest.param(10.0, [_cp(1, 9.5)], t.DRIFT, "channel price (group 1)", id="shop-kept-the-base-price"),
        pytest.param(10.0, [_cp(1, 9.5, channel="2-3-1")], t.OK, "base price", id="other-channel-ignored"),
        pytest.param(10.0, [_cp(1, 5, qty=10)], t.OK, "base price", id="scale-price-is-not-the-base"),
    ],
)
def test_price_against_wawi(shop_net: float, channel: list[dict[str, Any]], status: str, source: str) -> None:
    checked = _price_check([_priced(1, "A", (1, shop_net))], {1: channel})
    row = checked.iloc[0]
    assert (row["key"], row["status"], row["source"]) == ("A/1", status, source)


def test_a_difference_from_the_base_price_of_an_item_whose_channel_prices_are_unknown_needs_a_read() -> None:
    checked = _price_check([_priced(1, "A", (1, 9.5))], known=())
    assert checked.iloc[0]["status"] == t.NEEDS_READ
    assert t.price_findings(checked).empty


def test_customer_groups_map_to_wawi_groups() -> None:
    checked = _price_check([_priced(1, "A", (5, 9.0))], {1: [_cp(2, 9.0)]}, group_map={5: 2})
    assert (checked.iloc[0]["status"], checked.iloc[0]["wawi_group_id"]) == (t.OK, 2)


def test_customer_prices_are_not_list_prices() -> None:
    _, _, shop = t.shop_products_frames([_priced(1, "A", (1, 99.0), customer=42)])
    assert shop.empty


@pytest.mark.parametrize(
    ("detail", "problem"),
    [
        pytest.param([{"amountFrom": 5, "netPrice": 9}], "no tier from quantity 0", id="no-base-tier"),
        pytest.param([{"amountFrom": 0, "netPrice": -1}], "netPrice is -1.0", id="negative-price"),
    ],
)
def test_malformed_prices_are_invalid_not_drift(detail: list[dict[str, Any]], problem: str) -> None:
    product = ShopProduct.model_validate(
        {"id": 1, "sku": "A", "prices": [{"id": 1, "productID": 1, "customerGroupID": 1, "detail": detail}]}
    )
    checked = _price_check([product])
    assert (checked.iloc[0]["status"], checked.iloc[0]["reason"]) == (t.INVALID, problem)


def test_price_findings_largest_difference_first_and_unknown_skus_apart() -> None:
    checked = _price_check(
        [_priced(1, "A", (1, 10.5), (2, 13.0)), _priced(2, "B", (1, 19.0)), _priced(3, "Z", (1, 1))]
    )
    findings = t.price_findings(checked)
    assert list(findings["key"]) == ["A/2", "B/1", "A/1"]
    assert findings.iloc[0]["difference"] == 3.0 and "Wawi 10.00" in findings.iloc[0]["detail"]
    assert _status(checked, "Z/1", "key") == t.UNKNOWN_SKU


def test_wawi_order_status() -> None:
    assert t.wawi_order_status({"IsCancelled": True}) == "cancelled"
    assert t.wawi_order_status({"SalesOrderShippingDetail": {"DeliveryCompleteStatus": 2}}) == "shipped"
    assert t.wawi_order_status({"SalesOrderShippingDetail": {"DeliveryCompleteStatus": 0}}) == "open"
    assert t.wawi_order_status({"SalesOrderShippingDetail": None}) == "open"


def test_malformed_wawi_rows_are_left_out() -> None:
    items: list[dict[str, Any]] = [
        {"Id": 1, "SKU": "A", "ItemPriceData": {"SalesPriceNet": "zehn"}},
        {"Id": "2", "SKU": "B"},
        {"Id": 3, "SKU": ""},
        {"Id": 4, "SKU": "A"},  # the same SKU again: the first item stands
    ]
    prices = t.wawi_prices_frame(items)
    assert list(prices["sku"]) == ["A"] and prices["base_net"].isna().all()
    stocks = [
        {"ItemId": 1, "WarehouseId": None, "QuantityTotal": 3},
        {"ItemId": 1, "WarehouseId": 1, "QuantityTotal": True},
    ]
    available = t.wawi_available_frame(items, stocks)
    assert list(available["available"]) == [
        0.0,
        0.0,
    ]  # a bool is no quantity; the row without warehouse left out


# -- how Wawi is asked (the service's pure lookup plan) ---------------------------------------------------


def _followed(n_recent: int, n_old: int) -> list[Any]:
    from jtl_automator.store.shop_sync import FollowedOrder

    recent = [FollowedOrder(i, f"R{i}", NOW - timedelta(minutes=i)) for i in range(n_recent)]
    old = [FollowedOrder(1000 + i, f"O{i}", NOW - timedelta(days=3, minutes=i)) for i in range(n_old)]
    return recent + old


@pytest.mark.parametrize(
    ("recent", "old", "by_number", "listing"),
    [
        pytest.param(5, 0, 5, False, id="few-one-by-one"),
        pytest.param(30, 0, 0, True, id="many-one-listing"),
        pytest.param(30, 3, 3, True, id="a-few-old-stuck-ones-by-number"),
        pytest.param(30, 300, 0, True, id="many-old-ones-one-listing"),
    ],
)
def test_lookup_plan(recent: int, old: int, by_number: int, listing: bool) -> None:
    from jtl_automator.services.shop_sync.params import ShopSyncParams
    from jtl_automator.services.shop_sync.reads import lookup_plan

    orders = _followed(recent, old)
    numbers, since = lookup_plan(orders, ShopSyncParams(), NOW)
    assert len(numbers) == by_number and (since is not None) == listing
    if listing and by_number:
        assert since == NOW - timedelta(minutes=recent - 1) - timedelta(minutes=60)
    if listing and not by_number:
        oldest = min(o.created_at for o in orders)
        assert since == oldest - timedelta(minutes=60)


def test_product_columns_filled_page_by_page_make_the_same_frames() -> None:
    products = [
        _priced(1, "A", (1, 10.0)),
        _product(2, None, 3),
        _priced(3, "C", (1, 7.5), (2, 6.0)),
        _product(4, "D", None, stock=[{"productID": 4, "warehouseID": 2, "stock": 5}]),
    ]
    columns = t.ShopProductColumns()
    columns.add(products[:2])
    columns.add([])
    columns.add(products[2:])
    for paged, whole in zip(columns.frames(), t.shop_products_frames(products), strict=True):
        pd.testing.assert_frame_equal(paged, whole)
    assert len(columns.frames()[2]) == 3 and len(columns.frames()[1]) == 1
