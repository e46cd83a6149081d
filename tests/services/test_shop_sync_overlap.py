"""The shop sync check's reads overlap where nothing orders them, bounded, and keep their order.

A fake shop whose carts take a while: the carts of the order pages are read ``read_workers`` at a time
while the next page is read, and the new orders come out in the shop's order with their own lines.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest

from jtl_automator.clients.errors import NotFound
from jtl_automator.clients.shop.models import ShopCart, ShopOrder, ShopPage, ShopProduct
from jtl_automator.clients.wawi.client import WawiClient
from jtl_automator.services.shop_sync import ShopSyncParams
from jtl_automator.services.shop_sync.reads import (
    ShopCatalogue,
    WawiInputs,
    bounded_map,
    finish_wawi_catalogue,
    read_inputs,
    read_shop_orders,
    read_wawi_orders,
    start_wawi_listings,
)
from jtl_automator.store import StateStore
from jtl_automator.store.shop_sync import FollowedOrder, ShopSyncStore
from jtl_automator.transforms import shop_sync as t

CART_SECONDS = 0.05


class SlowCarts:
    """Three pages of four orders; every cart takes ``CART_SECONDS``; cart 2005 is gone (404)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.busy = 0
        self.peak = 0
        self.pages_read = 0
        self.carts_when_last_page_read = 0
        self.carts_done = 0

    def iter_orders(self, after_id: int = 0, page_size: int | None = None) -> Iterator[ShopPage[ShopOrder]]:
        for page in range(3):
            orders = [
                ShopOrder.model_validate(
                    {
                        "id": 1001 + n,
                        "cartID": 2001 + n,
                        "orderNO": f"SHOP-{n}",
                        "state": "1",
                        "created": "2024-12-01 10:15:00",
                    }
                )
                for n in range(page * 4, page * 4 + 4)
            ]
            self.pages_read += 1
            if self.pages_read == 3:
                self.carts_when_last_page_read = self.carts_done
            yield ShopPage[ShopOrder](items=orders, cursor=orders[-1].id)

    def get_cart(self, cart_id: int) -> ShopCart:
        with self.lock:
            self.busy += 1
            self.peak = max(self.peak, self.busy)
        time.sleep(CART_SECONDS)
        with self.lock:
            self.busy -= 1
            self.carts_done += 1
        if cart_id == 2005:
            raise NotFound("GET /cart/2005 -> 404", status=404)
        return ShopCart.model_validate(
            {"id": cart_id, "items": [{"id": cart_id, "posType": 1, "sku": f"SKU-{cart_id}", "qty": 2}]}
        )

    def iter_product_pages(
        self, page_size: int | None = None, *, after_id: int = 0
    ) -> Iterator[ShopPage[ShopProduct]]:
        return iter(())


def test_carts_are_read_side_by_side_bounded_and_in_the_shops_order(tmp_path: Path) -> None:
    shop = SlowCarts()
    sync = ShopSyncStore(StateStore(f"sqlite:///{tmp_path / 'state.db'}"))
    orders = read_shop_orders(
        shop, sync, ShopSyncParams(read_workers=3), datetime(2024, 12, 1, 12, tzinfo=UTC)
    )
    assert orders.ok and orders.carts == 12 and orders.pages == 3
    assert [o.order_no for o in orders.new] == [f"SHOP-{n}" for n in range(12)]
    lines = {o.order_no: o.lines for o in orders.new}
    assert lines["SHOP-0"] == [{"product_id": None, "sku": "SKU-2001", "qty": 2}]
    assert lines["SHOP-4"] is None  # its cart is gone: followed without lines, and said so
    assert any("cart 2005 not readable" in note for note in orders.notes)
    assert shop.peak == 3  # never more than read_workers at once
    # the pages did not wait for the carts: one at a time, the last page comes after 8 carts
    assert shop.carts_when_last_page_read < 8
    assert orders.cursor == 1012


def test_one_worker_reads_the_carts_one_at_a_time(tmp_path: Path) -> None:
    shop = SlowCarts()
    sync = ShopSyncStore(StateStore(f"sqlite:///{tmp_path / 'state.db'}"))
    orders = read_shop_orders(
        shop, sync, ShopSyncParams(read_workers=1), datetime(2024, 12, 1, 12, tzinfo=UTC)
    )
    assert shop.peak == 1 and [o.order_no for o in orders.new] == [f"SHOP-{n}" for n in range(12)]


def test_bounded_map_keeps_the_order_and_raises_the_first_error() -> None:
    seen: list[int] = []

    def slow_square(n: int) -> int:
        time.sleep(0.01 * (5 - n))
        seen.append(n)
        return n * n

    assert bounded_map(slow_square, [1, 2, 3, 4], 4, "t") == [1, 4, 9, 16]
    assert bounded_map(slow_square, [3], 4, "t") == [9]

    def fails(n: int) -> Any:
        if n == 2:
            raise ValueError("two")
        return n

    try:
        bounded_map(fails, list(range(50)), 2, "t")
    except ValueError as error:
        assert str(error) == "two"
    else:
        raise AssertionError("the error was swallowed")


# --- Wawi: what does not depend on another read goes side by side -----------------------------------


class WaitingWawi:
    """A fake Wawi whose reads each wait (up to a second) for the read that must overlap them.

    The item pages wait for the sales channels, the stock pages for a channel-price read, and each order
    looked up by number for another one: a reader that ran them one after the other would find every
    wait timing out, which the flags below record.
    """

    read_parallelism = 4
    max_in_flight = 4

    def __init__(self) -> None:
        self.channels_read = threading.Event()
        self.price_read = threading.Event()
        self.lookups = threading.Barrier(3)
        self.items_saw_channels = self.stock_saw_price = self.lookups_overlapped = False
        self.items = SimpleNamespace(iter_pages=self._items, sales_channel_prices=self._prices)
        self.stocks = SimpleNamespace(iter_pages=self._stock)
        self.sales_orders = SimpleNamespace(find_by_external_numbers=self._find)

    def _items(self, parallel: int = 1) -> Iterator[list[dict[str, Any]]]:
        self.items_saw_channels = self.channels_read.wait(1.0)
        yield [
            {"Id": 7, "SKU": "A", "ItemPriceData": {"SalesPriceNet": 10.0}, "Changed": "2024-11-30T10:00:00"}
        ]

    def _stock(self, parallel: int = 1) -> Iterator[list[dict[str, Any]]]:
        self.stock_saw_price = self.price_read.wait(1.0)
        yield [{"ItemId": 7, "WarehouseId": 1, "QuantityTotal": 5, "QuantityInOrders": 0}]

    def sales_channels(self) -> list[SimpleNamespace]:
        self.channels_read.set()
        return [SimpleNamespace(id="1-1-1", type=1)]

    def _prices(self, item_id: int) -> list[Any]:
        self.price_read.set()
        return []

    def _find(self, numbers: Any, *, created_since: Any = None) -> dict[str, list[dict[str, Any]]]:
        try:
            self.lookups.wait(1.0)
            self.lookups_overlapped = True
        except threading.BrokenBarrierError:
            pass
        return {n: [] for n in numbers}


def test_wawi_reads_that_need_no_other_go_side_by_side(tmp_path: Path) -> None:
    wawi = WaitingWawi()
    sync = ShopSyncStore(StateStore(f"sqlite:///{tmp_path / 'state.db'}"))
    now = datetime(2024, 12, 1, 12, tzinfo=UTC)
    params = ShopSyncParams(read_workers=4)
    product = ShopProduct.model_validate(
        {
            "id": 1,
            "sku": "A",
            "trackStock": "N",
            "prices": [
                {"id": 1, "productID": 1, "customerGroupID": 1, "detail": [{"amountFrom": 0, "netPrice": 12}]}
            ],
        }
    )
    catalogue = ShopCatalogue()
    catalogue.products, catalogue.warehouse_stock, catalogue.prices = t.shop_products_frames([product])
    out = WawiInputs()
    client = cast(WawiClient, wawi)
    with ThreadPoolExecutor(max_workers=6) as pool:  # what read_inputs gives them: a worker each
        finish_wawi_catalogue(
            client, catalogue, start_wawi_listings(pool, client, params, sync, now), params, out
        )
    # the sales channels beside the item pages; the channel price (12 is not the base 10) before the stock
    assert wawi.items_saw_channels and wawi.stock_saw_price
    assert out.sales_channel == "1-1-1" and out.known_items == {7} and out.stock_ok and out.prices_ok
    orders = [
        FollowedOrder(
            shop_order_id=n, order_no=f"SHOP-{n}", created_at=now, state="1", cart_id=None, total=None
        )
        for n in (1, 2, 3)
    ]
    read_wawi_orders(cast(WawiClient, wawi), orders, params, now, out)
    assert wawi.lookups_overlapped  # three numbers looked up one request each, side by side
    assert set(out.matches) == {"SHOP-1", "SHOP-2", "SHOP-3"}


class ChainedShop:
    """A shop whose product pages are a chain still open: the second page waits for ``last_page``."""

    def __init__(self) -> None:
        self.last_page = threading.Event()

    def iter_product_pages(self, page_size: int | None = None) -> Iterator[ShopPage[ShopProduct]]:
        for number, (pid, sku) in enumerate(((1, "A"), (2, "B"))):
            if number:
                self.last_page.wait(5.0)
            product = {
                "id": pid,
                "sku": sku,
                "trackStock": "N",
                "prices": [
                    {
                        "id": pid,
                        "productID": pid,
                        "customerGroupID": 1,
                        "detail": [{"amountFrom": 0, "netPrice": 10}],
                    }
                ],
            }
            yield ShopPage[ShopProduct](items=[ShopProduct.model_validate(product)], skipped=[], cursor=pid)


class QuickWawi:
    """Two items (base price 10), their stock and one online-shop channel, answered at once."""

    read_parallelism = 2
    max_in_flight = 2

    def __init__(self) -> None:
        self.price_reads: list[int] = []
        self.items = SimpleNamespace(iter_pages=self._items, sales_channel_prices=self._prices)
        self.stocks = SimpleNamespace(iter_pages=self._stock)

    def _items(self, parallel: int = 1) -> Iterator[list[dict[str, Any]]]:
        yield [
            {"Id": i, "SKU": sku, "ItemPriceData": {"SalesPriceNet": 10.0}, "Changed": "2024-11-30T10:00:00"}
            for i, sku in ((7, "A"), (8, "B"))
        ]

    def _stock(self, parallel: int = 1) -> Iterator[list[dict[str, Any]]]:
        yield [{"ItemId": i, "WarehouseId": 1, "QuantityTotal": 5, "QuantityInOrders": 0} for i in (7, 8)]

    def sales_channels(self) -> list[SimpleNamespace]:
        return [SimpleNamespace(id="1-1-1", type=1)]

    def _prices(self, item_id: int) -> list[Any]:
        self.price_reads.append(item_id)
        return []


def test_the_wawi_side_is_framed_while_the_shop_s_product_pages_still_come(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Wawi's frames and the cached channel prices need nothing from the shop: they are made while its
    product chain is open (it was: after its last page, 0.24 s of a steady-state check's tail)."""
    from jtl_automator.services.shop_sync import reads

    sync = ShopSyncStore(StateStore(f"sqlite:///{tmp_path / 'state.db'}"))
    now = datetime(2024, 12, 1, 12, tzinfo=UTC)
    sync.write_channel_prices({7: ("2024-11-30T10:00:00", [])}, now)
    made = {"available": threading.Event(), "known": threading.Event()}
    frame, known = t.wawi_available_frame, reads.known_channel_prices

    def framed(*args: Any) -> Any:
        if len(args[0]):  # not an empty default frame
            made["available"].set()
        return frame(*args)

    def cached(*args: Any) -> Any:
        made["known"].set()
        return known(*args)

    monkeypatch.setattr(t, "wawi_available_frame", framed)
    monkeypatch.setattr(reads, "known_channel_prices", cached)
    shop, wawi = ChainedShop(), QuickWawi()
    params = ShopSyncParams(checks=("stock", "prices"), read_workers=2)
    result: list[Any] = []
    reader = threading.Thread(
        target=lambda: result.append(read_inputs(cast(Any, shop), cast(WawiClient, wawi), sync, params, now))
    )
    reader.start()
    try:
        assert made["available"].wait(3.0) and made["known"].wait(3.0)  # the shop's last page not yet sent
    finally:
        shop.last_page.set()
        reader.join(10.0)
    shop_side, wawi_side = result[0]
    assert shop_side.catalogue.pages == 2 and len(shop_side.catalogue.products) == 2
    assert sorted(wawi_side.available["item_id"].astype(int)) == [7, 8]
    assert wawi_side.sales_channel == "1-1-1" and wawi_side.known_items == {7} and wawi.price_reads == []
