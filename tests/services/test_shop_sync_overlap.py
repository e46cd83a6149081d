"""The shop sync check's reads overlap where nothing orders them, bounded, and keep their order.

A fake shop whose carts take a while: the carts of the order pages are read ``read_workers`` at a time
while the next page is read, and the new orders come out in the shop's order with their own lines.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jtl_automator.clients.errors import NotFound
from jtl_automator.clients.shop.models import ShopCart, ShopOrder, ShopPage, ShopProduct
from jtl_automator.services.shop_sync import ShopSyncParams
from jtl_automator.services.shop_sync.reads import bounded_map, read_shop_orders
from jtl_automator.store import StateStore
from jtl_automator.store.shop_sync import ShopSyncStore

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
