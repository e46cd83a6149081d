"""The Shop client round-trips every resource of the sandbox's shop, through ASGI and over real HTTP.

What the client reads is compared with the sandbox's tables (``state.data.shop``), not with a second
reading through the client; the sandbox itself is checked against the reference's table in
tests/sandbox/test_shop_conformance.py. The mode follows ``--sandbox`` (strict: a GET-only key, HTML
pages answered 200, session cookies and the per-row cost model, slept for real).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from jtl_automator.clients.errors import NotFound
from jtl_automator.clients.shop import (
    ShopApiUnavailable,
    ShopAuthError,
    ShopClient,
    ShopReadOnly,
    SkippedShopRow,
)
from jtl_automator.resilience import RetryPolicy
from jtl_automator.sandbox import shop as shop_sandbox
from jtl_automator.sandbox.app import create_app
from jtl_automator.sandbox.config import SandboxConfig
from jtl_automator.sandbox.data import ShopData
from jtl_automator.sandbox.fault_engine import SHOP_API
from jtl_automator.sandbox.faults import FaultProfile, FaultRule, set_profile
from jtl_automator.sandbox.generator import generate
from jtl_automator.sandbox.server import asgi_transport, serve_in_thread
from tests.support.clock import FakeClock, policy_on


@dataclass
class Sandboxed:
    base_url: str
    http: httpx.Client
    state: Any
    config: SandboxConfig

    @property
    def data(self) -> ShopData:
        return shop_sandbox.shop_data(self.state)

    def client(
        self, policy: RetryPolicy, *, key: str | None = None, page_size: int = 7, url: str = ""
    ) -> ShopClient:
        secret = SecretStr(self.config.shop_api_key if key is None else key)
        return ShopClient(
            self.http, url or f"{self.base_url}/shop", secret, retry=policy, page_size=page_size
        )


@pytest.fixture(scope="module")
def app(request: pytest.FixtureRequest) -> Any:
    strict = request.config.getoption("--sandbox") == "strict"
    config = SandboxConfig.strictest() if strict else SandboxConfig()
    return create_app(generate(seed=11, skus=45, orders=35, customers=15, suppliers=3), config)


@pytest.fixture(scope="module", params=["asgi", "http"])
def sandboxed(request: pytest.FixtureRequest, app: Any) -> Iterator[Sandboxed]:
    state, config = app.state.sandbox, app.state.sandbox.config
    if request.param == "asgi":
        transport = asgi_transport(app)
        with httpx.Client(transport=transport, timeout=30) as http:
            yield Sandboxed("http://sandbox.test", http, state, config)
        transport.close()  # type: ignore[attr-defined]
    else:
        with serve_in_thread(app) as server, httpx.Client(timeout=30) as http:
            yield Sandboxed(server.base_url, http, state, config)


@pytest.fixture
def policy() -> RetryPolicy:
    return policy_on(FakeClock())


@pytest.mark.slow
def test_products_with_their_stock_and_prices_round_trip(sandboxed: Sandboxed, policy: RetryPolicy) -> None:
    shop = sandboxed.client(policy)
    data = sandboxed.data
    skipped: list[SkippedShopRow] = []
    products = list(shop.iter_products(skipped=skipped))
    assert skipped == [] and [p.id for p in products] == sorted(data.products)
    assert shop.stats.requests == -(-len(data.products) // 7) + (len(data.products) % 7 == 0)
    for product in products:
        stored = data.products[product.id]
        assert (product.sku, product.stock_qty, product.track_stock) == (
            stored["sku"],
            stored["stockQty"],
            stored["trackStock"] == "Y",
        )
        assert {(s.warehouse_id, s.stock) for s in product.stock} == {
            (w, row["stock"]) for (p, w), row in data.stock.items() if p == product.id
        }
        for price in product.prices:
            tiers = data.price_details[price.id]
            assert [(t.amount_from, t.net_price) for t in price.detail] == [
                (t["amountFrom"], t["netPrice"]) for t in tiers
            ]
            assert price.customer_group_id == data.prices[price.id]["customerGroupID"]
        assert product.created is not None and product.created.tzinfo is not None
    one = shop.get_product(products[0].id, full=True)
    assert one.category_ids and one.categories[0]["name"]  # whole category objects
    assert shop.get_product(products[0].id).category_ids == one.category_ids


@pytest.mark.slow
def test_stock_in_all_three_forms(sandboxed: Sandboxed, policy: RetryPolicy) -> None:
    shop = sandboxed.client(policy)
    data = sandboxed.data
    product_id, warehouse_id = next(iter(sorted(data.stock)))
    rows = shop.stock_for_product(product_id)
    assert {(r.warehouse_id, r.stock) for r in rows} == {
        (w, row["stock"]) for (p, w), row in data.stock.items() if p == product_id
    }
    in_warehouse = shop.stock_for_warehouse(warehouse_id)
    assert sorted(r.product_id for r in in_warehouse) == sorted(p for p, w in data.stock if w == warehouse_id)
    assert shop.get_stock(product_id, warehouse_id).stock == data.stock[(product_id, warehouse_id)]["stock"]
    with pytest.raises(NotFound):
        shop.get_stock(product_id, 999)
    assert shop.stock_for_product(999_999) == []
    assert [(r.product_id, r.warehouse_id) for r in shop.first_stock_rows(5)] == sorted(data.stock)[:5]


@pytest.mark.slow
def test_prices_and_customer_groups_round_trip(sandboxed: Sandboxed, policy: RetryPolicy) -> None:
    shop = sandboxed.client(policy, page_size=50)
    data = sandboxed.data
    prices = list(shop.iter_prices())
    assert [p.id for p in prices] == sorted(data.prices)
    assert all(p.base_net_price == data.price_details[p.id][0]["netPrice"] for p in prices)
    assert shop.get_price(prices[-1].id).detail == prices[-1].detail
    groups = shop.list_customer_groups()
    assert [(g.id, g.name, g.default, g.net_prices) for g in groups] == [
        (i, g["name"], g["default"] == "Y", g["net"] == 1) for i, g in sorted(data.customer_groups.items())
    ]
    assert shop.get_customer_group(groups[-1].id) == groups[-1]


@pytest.mark.slow
def test_orders_from_a_watermark_and_their_carts(sandboxed: Sandboxed, policy: RetryPolicy) -> None:
    shop = sandboxed.client(policy)
    data = sandboxed.data
    ids = sorted(data.orders)
    pages = list(shop.iter_orders(after_id=ids[4], page_size=10))
    got = [o for p in pages for o in p.items]
    assert [o.id for o in got] == ids[5:] and pages[-1].cursor == ids[-1]
    sent = [p.cursor for p in pages]
    assert sent == sorted(sent)
    for order in got:
        stored = data.orders[order.id]
        assert (order.order_no, order.state, order.cart_id) == (
            stored["orderNO"],
            stored["state"],
            stored["cartID"],
        )
        assert order.created is not None and order.created.utcoffset() is not None
        cart = shop.get_cart(order.cart_id or 0)
        assert [(i.sku, i.qty, i.pos_type) for i in cart.items] == [
            (row["sku"], row["qty"], row["posType"])
            for row in data.cart_items.values()
            if row["cartID"] == order.cart_id
        ]
    assert shop.get_order(ids[0]).order_no == data.orders[ids[0]]["orderNO"]
    missing = {c["orderNO"] for c in data.drift["missing_orders"]}
    assert missing and {o.order_no for o in got if o.fetched is False} <= missing
    assert [c.id for c in shop.iter_carts(page_size=50)] == sorted(data.carts)
    items = list(shop.iter_cart_items(page_size=100))
    assert [i.id for i in items] == sorted(data.cart_items)
    assert shop.get_cart_item(items[0].id) == items[0]


@pytest.mark.slow
def test_categories_and_customers_round_trip(sandboxed: Sandboxed, policy: RetryPolicy) -> None:
    shop = sandboxed.client(policy)
    data = sandboxed.data
    categories = list(shop.iter_categories())
    assert [(c.id, c.parent_id, c.name) for c in categories] == [
        (i, c["parentID"], c["name"]) for i, c in sorted(data.categories.items())
    ]
    linked = {link["productID"] for link in data.category_links.values()}
    assert {p for c in categories for p in c.product_ids} == linked
    assert shop.get_category(categories[0].id).last_modified == categories[0].last_modified
    customers = list(shop.iter_customers())
    assert [(c.id, c.surname) for c in customers] == [
        (i, c["surname"]) for i, c in sorted(data.customers.items())
    ]
    picked = customers[len(customers) // 2]
    assert shop.get_customer(picked.id).surname == picked.surname  # decrypted, through the list
    with pytest.raises(NotFound):
        shop.get_customer(999_999)


@pytest.mark.slow
def test_the_sandbox_answers_a_misconfigured_client_with_typed_errors(
    sandboxed: Sandboxed, policy: RetryPolicy
) -> None:
    with pytest.raises(ShopApiUnavailable, match="SHOW_REST_API"):
        sandboxed.client(policy, url=f"{sandboxed.base_url}/shop/shop").check()
    with pytest.raises(ShopAuthError) as refused:
        sandboxed.client(policy, key="not-a-key").check()
    assert refused.value.cause == "key_refused" and "not-a-key" not in str(refused.value)
    shop = sandboxed.client(policy)
    with pytest.raises(NotFound):
        shop.get_order(1)
    expected = ShopAuthError if sandboxed.config.shop_api_key_permissions & 4 == 0 else ShopReadOnly
    with pytest.raises(expected):
        shop.core.request("PUT", "/stock/1", json={"stock": 1})


@pytest.mark.slow
def test_a_key_revoked_mid_run_stops_the_read_with_the_auth_error(
    sandboxed: Sandboxed, policy: RetryPolicy
) -> None:
    key = f"rotating-{sandboxed.base_url[-5:]}"
    shop_sandbox.grant_key(sandboxed.state, key, 1)
    shop = sandboxed.client(policy, key=key, page_size=5)
    read: list[int] = []
    with pytest.raises(ShopAuthError) as raised:
        for page in shop.iter_orders():
            read.extend(o.id for o in page.items)
            shop_sandbox.revoke_key(sandboxed.state, key)  # the admin deletes the key
    assert raised.value.cause == "key_refused" and read == sorted(sandboxed.data.orders)[:5]
    assert shop.stats.retries == 0


@pytest.mark.slow
def test_shop_5xx_pages_are_retried_and_nothing_is_lost(sandboxed: Sandboxed) -> None:
    clock = FakeClock()
    shop = sandboxed.client(policy_on(clock), page_size=10)
    profile = FaultProfile(name="shop-flaky", rules=(FaultRule(fault="error", route=SHOP_API, every=3),))
    set_profile(sandboxed.state, profile)
    try:
        got = [o.id for p in shop.iter_orders() for o in p.items]
    finally:
        set_profile(sandboxed.state, "none")
    assert got == sorted(sandboxed.data.orders)
    assert shop.stats.retries >= 1 and len(clock.sleeps) == shop.stats.retries
