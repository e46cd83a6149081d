"""The sandbox's JTL-Shop mirrors its Wawi (SKUs, stock, prices per customer group, orders by external
number) except for the drift the config asks for, deterministically; and its cost model and hooks.

The expectations are computed here from the Wawi world by the rules docs/shop.md states, independently of
the shop builder's code, so a builder that drifts from them fails.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from jtl_automator.sandbox import shop as shop_sandbox
from jtl_automator.sandbox.app import create_app
from jtl_automator.sandbox.config import SandboxConfig
from jtl_automator.sandbox.data import SandboxData, ShopData
from jtl_automator.sandbox.fault_engine import SHOP_API
from jtl_automator.sandbox.faults import PROFILES, FaultProfile, FaultRule, set_profile
from jtl_automator.sandbox.generator import DEFAULT_BASE_DATE, SHOP_CHANNEL, generate
from jtl_automator.sandbox.shop import api as shop_api
from jtl_automator.sandbox.shop.world import build_shop

SMALL: dict[str, Any] = {"seed": 42, "skus": 60, "orders": 50, "customers": 20, "suppliers": 4}
NO_DRIFT: dict[str, Any] = {
    "shop_orders_missing_in_wawi": 0,
    "shop_orders_cancelled_in_shop": 0,
    "shop_stock_over": 0,
    "shop_stock_under": 0,
    "shop_price_drift": 0,
}


@pytest.fixture(scope="module")
def wawi_world() -> SandboxData:
    return generate(**SMALL)


def expected_stock(data: SandboxData, warehouses: set[int]) -> dict[int, dict[int, float]]:
    """Item -> warehouse -> what Wawi has available there (total minus locks and pick lists, >= 0)."""
    sums: dict[int, dict[int, float]] = defaultdict(lambda: defaultdict(float))
    for row in data.wawi.stocks:
        if row["WarehouseId"] in warehouses:
            sums[row["ItemId"]][row["WarehouseId"]] += (
                row["QuantityTotal"]
                - row["QuantityLockedForShipment"]
                - row["QuantityLockedForAvailability"]
                - row["QuantityInPickingLists"]
            )
    return {item: {w: max(0.0, q) for w, q in rows.items()} for item, rows in sums.items()}


def expected_base_price(data: SandboxData, item_id: int, group: int) -> float:
    """The group's Onlineshop channel price, else the all-groups one, else the base price (net)."""
    base = data.wawi.items[item_id]["ItemPriceData"]["SalesPriceNet"]
    rows = {
        row["CustomerGroupId"]: row
        for row in data.wawi.sales_channel_prices.get(item_id, [])
        if row["SalesChannelId"] == SHOP_CHANNEL and row["FromQuantity"] == 0
    }
    row = rows.get(group) or rows.get(0)
    if row is None:
        return round(base, 4)
    if row["ReduceStandardPriceByPercent"]:
        return round(base * (1 - row["ReduceStandardPriceByPercent"] / 100), 4)
    return round(row["NetPrice"], 4)


def base_tier(shop: ShopData, product_id: int, group: int) -> float:
    price_id = next(
        i for i, p in shop.prices.items() if p["productID"] == product_id and p["customerGroupID"] == group
    )
    tiers = shop.price_details[price_id]
    return float(next(t["netPrice"] for t in tiers if t["amountFrom"] == 0))


def test_without_drift_the_shop_is_an_exact_mirror_of_wawi(wawi_world: SandboxData) -> None:
    shop = build_shop(wawi_world.wawi, SandboxConfig(**NO_DRIFT))
    wawi = wawi_world.wawi
    assert shop.warehouse_ids == sorted(w for w in wawi.warehouses if w != 1)  # not the Standardlager
    assert {p["sku"] for p in shop.products.values()} == {i["SKU"] for i in wawi.items.values()}
    assert all(shop.products[i]["sku"] == item["SKU"] for i, item in wawi.items.items())  # same ids
    stock = expected_stock(wawi_world, set(shop.warehouse_ids))
    for product_id, product in shop.products.items():
        rows = {
            w: shop.stock[(product_id, w)]["stock"]
            for w in shop.warehouse_ids
            if (product_id, w) in shop.stock
        }
        assert rows == stock.get(product_id, {}), product_id
        assert product["stockQty"] == sum(rows.values())
        assert product["trackStock"] == "Y"
        for group in wawi.customer_groups:
            assert base_tier(shop, product_id, group) == expected_base_price(wawi_world, product_id, group)
    scaled = [p for p, tiers in shop.price_details.items() if len(tiers) > 1]
    assert scaled  # the resellers' scale prices from 10 units on
    assert all(t[1]["amountFrom"] == 10 for t in (shop.price_details[p] for p in scaled))
    by_number = {o["orderNO"]: o for o in shop.orders.values()}
    assert set(by_number) == {o["ExternalNumber"] for o in wawi.sales_orders.values()}
    for order_id, order in wawi.sales_orders.items():
        mirrored = by_number[order["ExternalNumber"]]
        assert mirrored["fetched"] == "Y"
        lines = [
            shop.cart_items[i] for i in shop.cart_items if shop.cart_items[i]["cartID"] == mirrored["cartID"]
        ]
        products = [(x["sku"], x["qty"]) for x in lines if x["posType"] == 1]
        assert products == [(x["SKU"], x["Quantity"]) for x in wawi.line_items[order_id]]
        delivered = order["SalesOrderShippingDetail"]["DeliveryCompleteStatus"] == 2
        assert (mirrored["state"] == "4") == delivered
        assert mirrored["state"] != "-1"
    created = [o["created"]["date"] for _, o in sorted(shop.orders.items())]
    assert created == sorted(created)  # the shop numbers its orders in the order they came in
    assert shop.drift == {k: [] for k in shop.drift}


def test_the_configured_drift_is_there_and_nothing_else(wawi_world: SandboxData) -> None:
    config = SandboxConfig(
        shop_orders_missing_in_wawi=4,
        shop_missing_order_ages_minutes=(5, 40, 200),
        shop_orders_cancelled_in_shop=3,
        shop_stock_over=5,
        shop_stock_under=0.05,  # a share of the candidates
        shop_price_drift=6,
    )
    shop = build_shop(wawi_world.wawi, config)
    wawi = wawi_world.wawi
    drift = shop.drift
    assert [len(drift[k]) for k in ("missing_orders", "cancelled_orders", "stock_over", "price_drift")] == [
        4,
        3,
        5,
        6,
    ]
    assert len(drift["stock_under"]) == round(0.05 * (len(shop.products) - 5)) > 0
    # orders: the missing ones are unknown to Wawi, not fetched, with the configured ages
    numbers = {o["ExternalNumber"] for o in wawi.sales_orders.values()}
    by_number = {o["orderNO"]: o for o in shop.orders.values()}
    missing = {o for o in by_number if o not in numbers}
    assert missing == {case["orderNO"] for case in drift["missing_orders"]}
    assert all(by_number[n]["fetched"] == "N" for n in missing)
    assert [case["age_minutes"] for case in drift["missing_orders"]] == [5, 40, 200, 5]
    for case in drift["missing_orders"]:
        assert case["created"] == (DEFAULT_BASE_DATE - timedelta(minutes=case["age_minutes"])).isoformat()
    # cancelled in the shop, open in Wawi
    cancelled = {n for n, o in by_number.items() if o["state"] == "-1"}
    assert cancelled == {case["orderNO"] for case in drift["cancelled_orders"]}
    wawi_by_number = {o["ExternalNumber"]: o for o in wawi.sales_orders.values()}
    for number in cancelled:
        order = wawi_by_number[number]
        assert not order["IsCancelled"] and order["SalesOrderShippingDetail"]["DeliveryCompleteStatus"] != 2
    # stock: exactly the drifted products differ, in the drifted direction
    stock = expected_stock(wawi_world, set(shop.warehouse_ids))
    differ = {
        pid: (p["stockQty"], sum(stock.get(pid, {}).values()))
        for pid, p in shop.products.items()
        if p["stockQty"] != sum(stock.get(pid, {}).values())
    }
    assert {c["productID"] for c in drift["stock_over"]} == {p for p, (s, w) in differ.items() if s > w}
    assert {c["productID"] for c in drift["stock_under"]} == {p for p, (s, w) in differ.items() if s < w}
    assert all(
        (c["shop"], c["wawi"]) == differ[c["productID"]] for c in drift["stock_over"] + drift["stock_under"]
    )
    # prices: exactly the drifted (product, group) base tiers differ
    moved = {
        (pid, group)
        for pid in shop.products
        for group in wawi.customer_groups
        if base_tier(shop, pid, group) != expected_base_price(wawi_world, pid, group)
    }
    assert moved == {(c["productID"], c["customerGroupID"]) for c in drift["price_drift"]}


@pytest.mark.slow
def test_the_shop_is_deterministic_by_seed_and_leaves_the_wawi_world_alone() -> None:
    first, second = generate(**SMALL), generate(**SMALL)
    a = build_shop(first.wawi, SandboxConfig(seed=42))
    b = build_shop(second.wawi, SandboxConfig(seed=42))
    c = build_shop(first.wawi, SandboxConfig(seed=43))
    assert a == b and a.drift != c.drift
    assert first.wawi == second.wawi  # building a shop changed nothing in Wawi
    assert first.shop is None  # generate() makes no shop: it is mirrored on first use


def test_other_warehouses_and_an_empty_wawi_world() -> None:
    world = generate(**SMALL)
    only_local = build_shop(world.wawi, SandboxConfig(shop_warehouse_ids=(1,), **NO_DRIFT))
    assert only_local.warehouse_ids == [1]
    assert all(w == 1 for _p, w in only_local.stock)
    empty = build_shop(SandboxData().wawi, SandboxConfig())
    assert (empty.products, empty.orders, list(empty.customer_groups)) == ({}, {}, [1])


# --- served: cost model, execution cap, hooks, faults -------------------------------------------------


@pytest.fixture
def recorded_sleeps() -> Any:
    sleeps: list[float] = []

    async def record(seconds: float) -> None:
        sleeps.append(seconds)

    original, shop_api._sleep = shop_api._sleep, record
    yield sleeps
    shop_api._sleep = original


def client_for(config: SandboxConfig) -> tuple[TestClient, Any]:
    app = create_app(generate(**SMALL), config)
    return TestClient(app, base_url="http://sandbox.test"), app.state.sandbox


@pytest.mark.slow
def test_big_pages_cost_time_per_row_and_past_the_execution_cap_fail(recorded_sleeps: list[float]) -> None:
    config = SandboxConfig.strictest(shop_max_execution_seconds=0.2)
    client, _state = client_for(config)
    key = {"X-API-KEY": config.shop_api_key}
    assert client.get("/shop/api/v1/product?limit=10", headers=key).status_code == 200
    assert recorded_sleeps == [pytest.approx(0.05 + 10 * (0.0005 + 13 * 0.0003))]
    capped = client.get("/shop/api/v1/product?limit=60", headers=key)  # 0.05 + 60 * 0.0044 > 0.2
    assert capped.status_code == 500 and capped.headers["content-type"].startswith("text/html")
    assert "Maximum execution time of 0.2 seconds exceeded" in capped.text
    assert recorded_sleeps[-1] == 0.2  # it ran until the cap
    recorded_sleeps.clear()
    client.get("/shop/api/v1/order?limit=20", headers=key)  # an order loads one relation
    assert recorded_sleeps == [pytest.approx(0.05 + 20 * (0.0005 + 1 * 0.0003))]


@pytest.mark.slow
def test_lenient_answers_cost_nothing(recorded_sleeps: list[float]) -> None:
    config = SandboxConfig()
    client, _state = client_for(config)
    assert (
        client.get("/shop/api/v1/product?limit=60", headers={"X-API-KEY": config.shop_api_key}).status_code
        == 200
    )
    assert recorded_sleeps == []


@pytest.mark.slow
def test_the_hooks_grant_and_revoke_keys_and_resync_the_shop() -> None:
    config = SandboxConfig()
    client, state = client_for(config)
    assert client.put("/_sandbox/shop/keys/extra", json={"permissions": 1}).status_code == 200
    assert client.get("/shop/api/v1/customerGroup", headers={"X-API-KEY": "extra"}).status_code == 200
    assert client.put("/_sandbox/shop/keys/extra", json={"permissions": 99}).status_code == 400
    assert client.delete("/_sandbox/shop/keys/extra").status_code == 200
    assert client.delete("/_sandbox/shop/keys/extra").status_code == 404
    refused = client.get("/shop/api/v1/customerGroup", headers={"X-API-KEY": "extra"})
    assert (refused.status_code, refused.json()) == (403, "No permissions for this operation")
    drift = client.get("/_sandbox/shop/drift").json()
    assert len(drift["drift"]["missing_orders"]) == config.shop_orders_missing_in_wawi
    orders_before = len(state.data.shop.orders)
    synced = client.post("/_sandbox/shop/resync", params={"drift": "false"}).json()
    assert all(cases == [] for cases in synced["drift"].values())
    assert synced["orders"] == orders_before - config.shop_orders_missing_in_wawi
    listed = client.get("/shop/api/v1/order?limit=1000", headers={"X-API-KEY": config.shop_api_key}).json()
    assert len(listed["data"]) == synced["orders"]  # the index follows the new tables


@pytest.mark.slow
def test_faults_reach_the_shop_as_html_error_pages() -> None:
    config = SandboxConfig()
    client, state = client_for(config)
    key = {"X-API-KEY": config.shop_api_key}
    for name in ("flaky", "ratelimited", "chaos"):  # the built-in profiles reach the shop too
        assert any(rule.route == SHOP_API for rule in PROFILES[name].rules), name
    set_profile(
        state, FaultProfile(name="shop-5xx", rules=(FaultRule(fault="error", route=SHOP_API, every=2),))
    )
    answers = [client.get("/shop/api/v1/customerGroup", headers=key) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 503, 200, 503]
    assert answers[1].headers["content-type"].startswith("text/html")
    set_profile(state, "ratelimited")
    limited = [
        a
        for a in (client.get("/shop/api/v1/customerGroup", headers=key) for _ in range(12))
        if a.status_code == 429
    ]
    assert limited and limited[0].headers["content-type"].startswith("text/html")
    assert limited[0].headers["retry-after"]
    assert state.runtime.requests["by_api"]["shop"] == 16


@pytest.mark.slow
def test_the_shop_answers_over_real_http_through_the_sandbox_server() -> None:
    from jtl_automator.sandbox.server import credentials_env, serve_in_thread

    config = SandboxConfig()
    app = create_app(generate(**SMALL), config)
    with serve_in_thread(app) as server:
        env = credentials_env(server.base_url, config, None)
        assert env["JTL_SHOP_URL"] == f"{server.base_url}/shop"
        answer = httpx.get(
            f"{env['JTL_SHOP_URL']}/api/v1/product/1", headers={"X-API-KEY": env["JTL_SHOP_API_KEY"]}
        )
        assert (
            answer.status_code == 200
            and answer.json()["data"]["sku"] == app.state.sandbox.data.wawi.items[1]["SKU"]
        )
    assert shop_sandbox.shop_data(app.state.sandbox) is app.state.sandbox.data.shop
