"""The real Wawi client against the sandbox in both flavours, lenient and strict, in-process and over HTTP.

The sandbox's clock and the client's retry policy share one fake clock, so a Cloud rate-limit window of
45 s passes in no time: the client's wait (the ``X-RateLimit-Interval-Length-Seconds`` of a 429 without
``Retry-After``) is what moves the sandbox's window.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from jtl_automator.clients.errors import ForbiddenError, RegistrationError
from jtl_automator.clients.wawi import AppRegistration, WawiClient, register_app, wawi_auth
from jtl_automator.resilience import RetryPolicy
from jtl_automator.sandbox import wawi
from jtl_automator.sandbox.app import create_app
from jtl_automator.sandbox.config import SandboxConfig
from jtl_automator.sandbox.generator import generate
from jtl_automator.sandbox.server import asgi_transport, credentials_env, serve_in_thread
from jtl_automator.settings import WAWI_APP_SCOPES, Settings
from tests.support.clock import FakeClock, policy_on


@dataclass
class World:
    state: Any
    base: str
    http: httpx.Client
    clock: FakeClock

    def client(self, flavour: str, **overrides: Any) -> WawiClient:
        env = credentials_env(self.base, self.state.config, None, wawi_flavour=flavour)  # type: ignore[arg-type]
        values = {k.removeprefix("JTL_").lower(): v for k, v in env.items()}
        settings = Settings.from_values(**{**values, **overrides})
        policy = policy_on(self.clock, max_retry_after=60, budget_seconds=300)
        auth = wawi_auth(settings, self.http, policy)
        return WawiClient(self.http, settings.wawi_base_url, retry=policy, auth=auth)


def _world(config: SandboxConfig, transport: str) -> Iterator[World]:
    app = create_app(generate(seed=11, skus=40, orders=12, customers=6), config)
    state = app.state.sandbox
    clock = FakeClock(now=1_700_000_000.0)
    state.runtime.wawi.clock = clock
    if transport == "asgi":
        asgi = asgi_transport(app)
        with httpx.Client(transport=asgi, timeout=30) as http:
            yield World(state, "http://sandbox", http, clock)
        asgi.close()  # type: ignore[attr-defined]
    else:
        with serve_in_thread(app) as server, httpx.Client(timeout=30) as http:
            yield World(state, server.base_url, http, clock)


@pytest.fixture(params=["asgi", "http"])
def world(request: pytest.FixtureRequest) -> Iterator[World]:
    yield from _world(SandboxConfig(), request.param)


@pytest.fixture
def strict_world() -> Iterator[World]:
    yield from _world(SandboxConfig.strictest(), "asgi")


@pytest.mark.parametrize("flavour", ["onprem", "cloud"])
@pytest.mark.slow
def test_the_same_calls_work_in_both_flavours(world: World, flavour: str) -> None:
    client = world.client(flavour)
    items = list(client.items.list(page_size=7))
    assert len(items) == len(world.state.data.wawi.items)
    order = next(client.sales_orders.list(page_size=5))
    client.sales_orders.update(order.id, {"comment": f"via {flavour}"}, idempotent=True)
    assert world.state.data.wawi.sales_orders[order.id]["Comment"] == f"via {flavour}"
    assert client.info()["Type"] == ("Cloud" if flavour == "cloud" else "OnPremise")
    assert list(client.warehouses.list()) and client.on_hold_reasons()


@pytest.mark.slow
def test_cloud_fetches_one_token_and_a_new_one_after_a_401(world: World) -> None:
    client = world.client("cloud")
    client.info()
    client.info()
    tokens = client.auth.tokens  # type: ignore[attr-defined]
    assert tokens.requests == 1
    wawi.expire_cloud_tokens(world.state)  # the server forgets every token (expired early, revoked)
    assert client.info()["Type"] == "Cloud"
    assert tokens.requests == 2 and client.stats.by_status[401] == 1


@pytest.mark.slow
def test_cloud_rate_limit_is_waited_out_by_the_headers_alone(world: World) -> None:
    world.state.config.wawi_cloud_rate_limit = 4
    world.state.config.wawi_cloud_rate_interval_seconds = 45
    client = world.client("cloud")
    items = list(client.items.list(page_size=4))  # 10 pages of one endpoint: 2 windows used up
    assert len(items) == len(world.state.data.wawi.items)
    assert client.stats.rate_limited == 2
    assert world.clock.sleeps == [45.0, 45.0]  # no Retry-After: the window length, as the headers say


@pytest.mark.parametrize("flavour", ["onprem", "cloud"])
@pytest.mark.slow
def test_strict_wawi_grants_exactly_the_registered_scopes(strict_world: World, flavour: str) -> None:
    client = strict_world.client(flavour)
    assert client.info()
    order = next(client.sales_orders.list(page_size=5))
    client.sales_orders.update(
        order.id, {"comment": "strict"}, idempotent=True
    )  # salesorder.updatesalesorder
    assert "purchaseorder.createpurchaseorder" not in WAWI_APP_SCOPES
    supplier = next(iter(strict_world.state.data.wawi.suppliers))
    item = next(iter(strict_world.state.data.wawi.items))
    with pytest.raises(ForbiddenError, match="403"):
        client.purchase_orders.create(
            {"supplier_id": supplier, "line_items": [{"item_id": item, "quantity": 1}]}
        )


@pytest.mark.slow
def test_strict_wawi_rejects_another_app_id(strict_world: World) -> None:
    from jtl_automator.clients.errors import AuthError

    with pytest.raises(AuthError, match="401"):
        strict_world.client("onprem", wawi_app_id="someone/else/v1").info()


REGISTRATION = AppRegistration(
    app_id="tests/strict/v1",
    display_name="strict tests",
    description="registration against the strict sandbox",
    version="1.0.0",
    provider_name="jtl-automator",
    provider_website="https://example.com",
    mandatory_api_scopes=["all.read"],
    app_icon="iVBORw0KGgo=",
)


@pytest.mark.slow
def test_strict_registration_needs_the_window_then_yields_a_key_of_its_own(strict_world: World) -> None:
    base = f"{strict_world.base}{wawi.PREFIX}"
    with pytest.raises(RegistrationError, match="App-Registrierung"):
        register_app(strict_world.http, base, REGISTRATION, "chal-1", poll_interval=0.01)
    wawi.set_registration_window(strict_world.state, True)
    result = register_app(strict_world.http, base, REGISTRATION, "chal-1", poll_interval=0.01)
    key = result.api_key
    assert key.get_secret_value() != strict_world.state.config.wawi_api_key
    client = WawiClient(
        strict_world.http, base, key, REGISTRATION.app_id, "1.0.0", retry=RetryPolicy(max_attempts=1)
    )
    assert list(client.warehouses.list())
    order_id = next(iter(strict_world.state.data.wawi.sales_orders))
    with pytest.raises(ForbiddenError):
        client.sales_orders.update(order_id, {"comment": "not granted"})


@pytest.mark.parametrize("flavour", ["onprem", "cloud"])
@pytest.mark.slow
def test_price_calls_in_both_flavours_against_the_strict_sandbox(strict_world: World, flavour: str) -> None:
    """The price methods against the strict sandbox (the registered scopes, 404 for empty price lists)."""
    from jtl_automator.sandbox.generator import SHOP_CHANNEL

    client = strict_world.client(flavour)
    data = strict_world.state.data.wawi
    item_id = next(
        i
        for i, rows in sorted(data.sales_channel_prices.items())
        if any(
            (r["SalesChannelId"], r["CustomerGroupId"], r["FromQuantity"], r["ReduceStandardPriceByPercent"])
            == (SHOP_CHANNEL, 0, 0, 0)
            for r in rows
        )
    )
    empty = next(i for i in sorted(data.items) if i not in data.sales_channel_prices)
    assert client.items.sales_channel_prices(empty) == [] and client.items.special_price(empty) is None
    client.items.set_base_price(item_id, 21.0084)
    client.items.set_sales_channel_price(item_id, SHOP_CHANNEL, 0, 20.1597)
    rows = {(p.sales_channel_id, p.customer_group_id): p for p in client.items.sales_channel_prices(item_id)}
    assert rows[(SHOP_CHANNEL, 0)].net_price == 20.1597
    assert data.items[item_id]["ItemPriceData"]["SalesPriceNet"] == 21.0084
    client.items.set_special_price(
        item_id,
        {
            "is_active": True,
            "start_date": "2026-11-20T00:00:00+00:00",
            "end_date_active": True,
            "end_date": "2026-12-04T00:00:00+00:00",
            "special_price": [
                {
                    "is_active": True,
                    "customer_group_id": 1,
                    "net_price": 16.8,
                    "sales_channel_id": SHOP_CHANNEL,
                }
            ],
        },
    )
    special = client.items.special_price(item_id)
    assert special is not None and special.special_price[0].net_price == 16.8 and special.end_date_active
    rate = client.tax_rate(1, client.companies()[0].id, "DE", "DE")
    assert rate.rate == 19.0 and client.manufacturers() and client.customer_groups()
    assert {
        c.id for c in client.sales_channels() if c.item_capabilities and c.item_capabilities.special_prices
    }
