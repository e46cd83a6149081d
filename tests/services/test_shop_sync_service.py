"""Shop sync check without Prefect: real Shop and Wawi clients over HTTP against the sandbox, real SQLite.

The sandbox mirrors its shop from its Wawi with configured drift (orders Wawi has not fetched, orders
cancelled in the shop, stock above and below Wawi's, prices off); the check must find exactly that drift,
raise it past the thresholds, alert once, clear it once the sides agree, and leave alone what it could
not observe when one side is down.
"""

from __future__ import annotations

import copy
import math
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from jtl_automator.clients.shop import ShopClient
from jtl_automator.clients.wawi.client import WawiClient
from jtl_automator.notify.notifier import Notifier
from jtl_automator.notify.webhook import WebhookSender
from jtl_automator.resilience import RetryPolicy
from jtl_automator.sandbox.app import create_app
from jtl_automator.sandbox.faults import FaultProfile, FaultRule, set_profile
from jtl_automator.sandbox.generator import DEFAULT_BASE_DATE, generate
from jtl_automator.sandbox.server import credentials_env, serve_in_thread
from jtl_automator.sandbox.shop import resync, shop_data
from jtl_automator.services import shop_sync as svc
from jtl_automator.services.shop_sync.reads import WawiInputs
from jtl_automator.settings import Settings
from jtl_automator.store import StateStore
from jtl_automator.store.shop_sync import ShopSyncStore
from jtl_automator.transforms.shop_sync import shop_orders_frame

#: The shop world's "now" is the generator's base date; its missing orders are 10, 95 and 1500 min old.
NOW = DEFAULT_BASE_DATE + timedelta(minutes=1)
LIMIT = 7  # small pages, so paging is exercised


@dataclass
class World:
    state: Any
    store: StateStore
    shop: ShopClient
    wawi: WawiClient
    base: str
    notifier: Notifier

    @property
    def drift(self) -> dict[str, list[dict[str, Any]]]:
        return shop_data(self.state).drift

    def run(self, now: datetime = NOW, **kwargs: Any) -> dict[str, Any]:
        params = kwargs.pop("params", svc.ShopSyncParams(shop_page_size=LIMIT))
        return svc.run_shop_sync_check(
            self.shop, self.wawi, self.store, params, now=now, notifier=self.notifier, **kwargs
        )

    def received(self) -> list[dict[str, Any]]:
        return list(self.state.runtime.received)

    def shop_requests(self) -> int:
        return int(self.state.runtime["requests"]["by_api"].get("shop", 0))


def _world(tmp: Path, config: Any) -> Iterator[World]:
    app = create_app(generate(seed=5, skus=60, orders=30, customers=10), config)
    with serve_in_thread(app) as server:
        env = credentials_env(server.base_url, config, None)
        values: dict[str, Any] = {k.removeprefix("JTL_").lower(): v for k, v in env.items()}
        values.update(retry_budget_seconds=2, wawi_rate_per_second=500, shop_rate_per_second=500)
        values.update(retry_initial_delay_seconds=0.01, retry_max_delay_seconds=0.05, retry_max_attempts=2)
        conf = Settings(_env_file=None, **values)
        store = StateStore(f"sqlite:///{tmp / 'state.db'}")
        http = httpx.Client()
        hook = WebhookSender(
            http, f"{server.base_url}/_sandbox/receiver/ops", retry=RetryPolicy(max_attempts=1)
        )
        world = World(
            app.state.sandbox,
            store,
            ShopClient.from_settings(conf),
            WawiClient.from_settings(conf),
            server.base_url,
            Notifier(store, "test", webhook=hook),
        )
        yield world
        http.close()
        store.dispose()


@pytest.fixture
def world(tmp_path: Path, sandbox_config: Any) -> Iterator[World]:
    yield from _world(tmp_path, sandbox_config())


def _keys(result: dict[str, Any], kind: str, state: str | None = None) -> set[str]:
    return {
        r["key"] for r in result["incidents"] if r["kind"] == kind and (state is None or r["state"] == state)
    }


def _expected(world: World) -> dict[str, set[str]]:
    drift = world.drift
    return {
        "stuck_order": {o["orderNO"] for o in drift["missing_orders"] if o["age_minutes"] >= 30},
        "cancelled_open": {o["orderNO"] for o in drift["cancelled_orders"]},
        "stale_stock": {d["sku"] for d in drift["stock_over"] + drift["stock_under"]},
        "price_drift": {f"{d['sku']}/{d['customerGroupID']}" for d in drift["price_drift"]},
    }


@pytest.mark.slow
def test_the_check_finds_exactly_the_configured_drift_then_raises_and_alerts_once(world: World) -> None:
    expected = _expected(world)
    assert all(expected.values()), expected  # the sandbox drifted every way
    first = world.run()
    for kind, keys in expected.items():
        assert _keys(first, kind) == keys, kind
    over = {d["sku"] for d in world.drift["stock_over"]}
    assert {r["key"] for r in first["incidents"] if r["risk"] == "oversell"} == over
    # stuck orders (past the 30-minute grace) are raised at once; the rest are watched first
    assert _keys(first, "stuck_order", "raised") == expected["stuck_order"]
    assert _keys(first, "stale_stock", "raised") == set() and first["watching"]["stale_stock"] == len(
        expected["stale_stock"]
    )
    waiting = {o["orderNO"] for o in world.drift["missing_orders"] if o["age_minutes"] < 30}
    assert waiting and first["orders"]["statuses"]["waiting"] == len(waiting)
    assert first["alerts"]["raised"] == len(expected["stuck_order"])
    assert len(world.received()) == 1
    stuck = world.received()[0]["body"]["raised"]
    assert {r["key"] for r in stuck} == expected["stuck_order"]
    by_key = {r["key"]: r for r in stuck}
    for order in world.drift["missing_orders"]:
        if order["orderNO"] in by_key:  # "stuck since" is the order's creation in the shop
            assert datetime.fromisoformat(by_key[order["orderNO"]]["since"]) == datetime.fromisoformat(
                order["created"]
            )
    # an hour later every difference has lasted past its threshold: raised, announced once
    later = world.run(NOW + timedelta(minutes=61))
    assert later["counts"] == {
        kind: len(keys) for kind, keys in expected.items() if kind != "stuck_order"
    } | {
        "stuck_order": len(expected["stuck_order"] | waiting)  # the 10-minute order is stuck by now
    }
    assert len(world.received()) == 2 and later["alerts"]["raised"] > 0
    again = world.run(NOW + timedelta(minutes=76))
    assert again["alerts"] == {"raised": 0, "cleared": 0, "sent": {}, "errors": {}}
    assert len(world.received()) == 2
    sync = ShopSyncStore(world.store)
    stuck_rows = sync.open_incidents(["stuck_order"])
    assert all(i.alert_state == "raised" for i in stuck_rows)


@pytest.mark.slow
def test_when_the_sides_agree_again_incidents_clear_and_the_all_clear_goes_out_once(world: World) -> None:
    world.run()
    world.run(NOW + timedelta(minutes=61))
    sent_before = len(world.received())
    open_before = len(ShopSyncStore(world.store).open_incidents())
    data = world.state.data
    wawi = data.wawi
    with data.lock:
        for n, missing in enumerate(world.drift["missing_orders"]):  # Wawi finally pulls them
            order = copy.deepcopy(wawi.sales_orders[1])
            order.update(
                Id=10_000 + n, Number=f"AU9{n}", ExternalNumber=missing["orderNO"], IsCancelled=False
            )
            wawi.sales_orders[order["Id"]] = order
        cancelled = {o["orderNO"] for o in world.drift["cancelled_orders"]}
        for order in wawi.sales_orders.values():  # and the merchant cancels the shop-cancelled ones
            if order.get("ExternalNumber") in cancelled:
                order["IsCancelled"] = True
    resync(world.state, drift=False)  # Wawi's stock and price push catches up
    result = world.run(NOW + timedelta(minutes=90))
    assert result["counts"] == {"stuck_order": 0, "cancelled_open": 0, "stale_stock": 0, "price_drift": 0}
    assert len(result["cleared"]) == open_before
    assert result["alerts"]["cleared"] > 0 and len(world.received()) == sent_before + 1
    world.run(NOW + timedelta(minutes=105))
    assert len(world.received()) == sent_before + 1  # the all-clear once
    assert ShopSyncStore(world.store).open_incidents() == []


@pytest.mark.slow
def test_a_dry_run_reads_and_reports_but_writes_and_sends_nothing(world: World) -> None:
    result = world.run(dry_run=True)
    assert result["dry_run"] and result["recorded"] is None and result["alerts"] is None
    assert _keys(result, "stuck_order") and _keys(result, "stale_stock")
    sync = ShopSyncStore(world.store)
    assert sync.open_incidents() == [] and sync.followed_orders() == [] and sync.order_cursor() == 0
    assert world.received() == []
    markdown = svc.summary_markdown(result)
    assert markdown.startswith("# Shop sync check (dry run") and "stuck orders" in markdown


@pytest.mark.slow
def test_requests_are_the_paging_bound_plus_one_cart_per_new_order(world: World) -> None:
    shop = shop_data(world.state)
    products, orders = len(shop.products), len(shop.orders)
    before = world.shop_requests()
    result = world.run()

    def pages(n: int) -> int:
        return math.ceil(n / LIMIT) + (1 if n % LIMIT == 0 else 0)

    assert result["orders"]["new"] == orders
    assert world.shop_requests() - before == pages(products) + pages(orders) + orders
    # the next run reads only the orders after the cursor and the recheck window's pages, no carts
    before = world.shop_requests()
    again = world.run(NOW + timedelta(minutes=15))
    assert again["orders"]["new"] == 0
    recheck = again["orders"]["reread"]
    assert world.shop_requests() - before == pages(products) + pages(recheck)


@pytest.mark.slow
def test_shop_down_reports_what_it_could_not_check_and_clears_nothing(world: World) -> None:
    world.run()
    open_before = {(i.kind, i.key) for i in ShopSyncStore(world.store).open_incidents()}
    resync(world.state, drift=False)  # the sides agree now, but the check cannot see the shop
    set_profile(
        world.state, FaultProfile(name="shop-down", rules=(FaultRule(fault="error", route="/shop/"),))
    )
    result = world.run(NOW + timedelta(minutes=61))
    assert set(result["unchecked"]) == {"stock", "prices"}
    assert "could not be read" in result["unchecked"]["stock"]
    assert any("new shop orders not read" in n for n in result["notes"])
    sync = ShopSyncStore(world.store)
    still = {(i.kind, i.key) for i in sync.open_incidents()}
    assert {k for k in open_before if k[0] in ("stale_stock", "price_drift")} <= still
    assert "Not checked this run" in svc.summary_markdown(result)
    # the followed orders are still checked against Wawi: stuck ones stay stuck
    assert result["counts"]["stuck_order"] >= 2


@pytest.mark.slow
def test_wawi_down_reports_what_it_could_not_check_and_clears_nothing(world: World) -> None:
    world.run()
    open_before = {(i.kind, i.key) for i in ShopSyncStore(world.store).open_incidents()}
    set_profile(
        world.state, FaultProfile(name="wawi-down", rules=(FaultRule(fault="error", route="/wawi/"),))
    )
    resync(world.state, drift=False)
    result = world.run(NOW + timedelta(minutes=61))
    assert set(result["unchecked"]) == {"orders", "stock", "prices"}
    assert result["cleared"] == []
    assert {(i.kind, i.key) for i in ShopSyncStore(world.store).open_incidents()} == open_before


@pytest.mark.slow
def test_refused_shop_credentials_stop_the_run(world: World, tmp_path: Path) -> None:
    bad = ShopClient(httpx.Client(), f"{world.base}/shop", SecretStr("wrong-key"))
    from jtl_automator.clients.errors import AuthError

    with pytest.raises(AuthError):
        svc.run_shop_sync_check(bad, world.wawi, world.store, now=NOW)
    assert ShopSyncStore(world.store).order_cursor() == 0


def _slow_shop_and_timed_wawi(world: World, monkeypatch: pytest.MonkeyPatch) -> dict[str, list[float]]:
    """Every shop page 0.1 s slower, every cart 0.3 s; when each shop read ended, each Wawi read started."""
    times: dict[str, list[float]] = defaultdict(list)

    def slow(name: str, pages: Callable[..., Iterator[Any]]) -> Callable[..., Iterator[Any]]:
        def paged(*args: Any, **kwargs: Any) -> Iterator[Any]:
            for page in pages(*args, **kwargs):
                time.sleep(0.1)
                yield page
            times[name].append(time.perf_counter())

        return paged

    def ended(name: str, read: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            time.sleep(0.3)
            try:
                return read(*args, **kwargs)
            finally:
                times[name].append(time.perf_counter())

        return timed

    def started(name: str, read: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            times[name].append(time.perf_counter())
            return read(*args, **kwargs)

        return timed

    monkeypatch.setattr(
        world.shop, "iter_product_pages", slow("products read", world.shop.iter_product_pages)
    )
    monkeypatch.setattr(world.shop, "iter_orders", slow("orders read", world.shop.iter_orders))
    monkeypatch.setattr(world.shop, "get_cart", ended("carts read", world.shop.get_cart))
    for owner, name in (
        (world.wawi.items, "iter_pages"),
        (world.wawi.stocks, "iter_pages"),
        (world.wawi.items, "sales_channel_prices"),
        (world.wawi.sales_orders, "find_by_external_numbers"),
    ):
        label = f"{type(owner).__name__}.{name}"
        monkeypatch.setattr(owner, name, started(label, getattr(owner, name)))
    return times


@pytest.mark.slow
def test_wawi_reads_needing_nothing_from_the_shop_start_beside_its_product_pages(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = _expected(world)
    times = _slow_shop_and_timed_wawi(world, monkeypatch)
    result = world.run()
    (products_read,), orders_listed = times["products read"], max(times["orders read"])
    orders_read = max([orders_listed, *times["carts read"]])
    items, stock = times["Items.iter_pages"], times["Stocks.iter_pages"]
    prices, lookups = times["Items.sales_channel_prices"], times["SalesOrders.find_by_external_numbers"]
    # Wawi's item and stock pages do not wait for the shop's (slowed) product pages
    assert items and stock and max(items + stock) < products_read
    # what needs the shop's answers waits for them: the lookups for its orders, the channel prices for
    # its product prices
    assert lookups and min(lookups) >= orders_listed
    assert prices and min(prices) >= products_read
    # but not for the shop's orders: the channel prices start while the (slowed) carts are still coming
    assert min(prices) < orders_read
    for kind, keys in expected.items():  # the same findings as ever
        assert _keys(result, kind) == keys, kind


@pytest.mark.slow
def test_the_carts_leave_the_product_pages_a_request_slot_until_they_are_read(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The product pages are the chain the channel prices wait for: carts never take every slot from them."""
    workers = 3
    lock, carts_now, seen = threading.Lock(), [0], []  # (carts in flight, product pages still coming)
    done = threading.Event()
    pages, read = world.shop.iter_product_pages, world.shop.get_cart

    def slow_pages(*args: Any, **kwargs: Any) -> Iterator[Any]:
        for page in pages(*args, **kwargs):
            time.sleep(0.1)
            yield page
        done.set()

    def cart(*args: Any, **kwargs: Any) -> Any:
        with lock:
            carts_now[0] += 1
            seen.append((carts_now[0], not done.is_set()))
        try:
            time.sleep(0.15)
            return read(*args, **kwargs)
        finally:
            with lock:
                carts_now[0] -= 1

    monkeypatch.setattr(world.shop, "iter_product_pages", slow_pages)
    monkeypatch.setattr(world.shop, "get_cart", cart)
    shop_orders_frame([])  # the process's first frames (pandera's first validation) before the clock
    WawiInputs()
    world.run(params=svc.ShopSyncParams(shop_page_size=LIMIT, read_workers=workers))
    during = [n for n, products_coming in seen if products_coming]
    after = [n for n, products_coming in seen if not products_coming]
    assert during and max(during) == workers - 1  # one slot kept for the next product page
    assert after and max(after) == workers  # and given to the carts once the pages are read


@pytest.mark.slow
def test_refused_wawi_credentials_stop_the_run_while_the_shop_is_read(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from jtl_automator.clients.errors import AuthError

    _slow_shop_and_timed_wawi(world, monkeypatch)

    def refused(*args: Any, **kwargs: Any) -> Any:
        raise AuthError("GET /items -> 401", status=401)

    monkeypatch.setattr(world.wawi.items, "iter_pages", refused)
    with pytest.raises(AuthError):
        world.run()
    assert ShopSyncStore(world.store).order_cursor() == 0
