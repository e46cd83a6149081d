"""Issue 16: the shop sync check at 100,000 products and a day of 10,000 orders, requests vs the bound.

A generated world of ``skus`` Wawi items and ``orders`` sales orders is mirrored into the sandbox's
JTL-Shop (its configured drift included) and served over loopback HTTP. The first run finds every order
new: it reads every product page, every order page and one cart per order, and looks the orders up in
Wawi with one listing since the oldest. A second run, right after, reads only the products and the
recheck window's order pages (no new orders, no carts).

The bound on the shop side is exact: ``ceil(products / limit) + ceil(new orders / limit) + new orders``
(plus one empty page where a count is a multiple of the limit: the shop sends no totals). Wawi is held to
its paging bound (pages of 1,000: items, stock rows, sales orders since the oldest followed order, the
sales channels) plus the channel-price reads, which Wawi has no bulk read for and the check caps per run.
"""

from __future__ import annotations

import math
import os
import tempfile
import time
from datetime import timedelta
from typing import Any

from benchmarks._common import (
    UNTHROTTLED_RATE,
    Metric,
    Result,
    client_env,
    fmt_int,
    fmt_s,
    fmt_x,
    in_subprocess,
    peak_rss_mb,
    reset_peak_rss,
    serve_sandbox,
    served_by_api,
)
from jtl_automator.sandbox.config import SandboxConfig
from jtl_automator.sandbox.generator import DEFAULT_BASE_DATE, generate

NAME = "shop_sync_check"
TITLE = "shop_sync_check: 100,000 products and a day of 10,000 orders, requests vs the bound (issue 16)"
#: Wawi's page size (JTL_WAWI_PAGE_SIZE).
WAWI_PAGE = 1000


def _check(env: dict[str, str], limit: int, as_of_minutes: float) -> dict[str, Any]:
    """Client process: one shop sync check run, as the flow does it, without Prefect."""
    os.environ.update(env)
    from jtl_automator.clients.shop import ShopClient
    from jtl_automator.clients.wawi.client import WawiClient
    from jtl_automator.services.shop_sync import ShopSyncParams, run_shop_sync_check
    from jtl_automator.settings import Settings
    from jtl_automator.store import StateStore

    settings = Settings(_env_file=None)
    store = StateStore(settings.database_url)
    shop, wawi = ShopClient.from_settings(settings), WawiClient.from_settings(settings)
    reset_peak_rss()
    start = time.perf_counter()
    result = run_shop_sync_check(
        shop,
        wawi,
        store,
        ShopSyncParams(shop_page_size=limit),
        now=DEFAULT_BASE_DATE + timedelta(minutes=as_of_minutes),
        run_id="bench",
    )
    return {
        "seconds": time.perf_counter() - start,
        "counts": result["counts"],
        "watching": result["watching"],
        "orders": result["orders"],
        "stock": result["stock"],
        "prices": result["prices"],
        "channel_price_reads": result["channel_price_reads"],
        "unchecked": result["unchecked"],
        "shop_requests": shop.stats.requests,
        "wawi_requests": wawi.stats.requests,
        "peak_rss_mb": peak_rss_mb(),
    }


def _pages(n: int, size: int) -> int:
    """Requests for ``n`` rows in pages of ``size`` by a cursor without totals (an exact multiple: + 1)."""
    return math.ceil(n / size) + (1 if n % size == 0 else 0)


def run(skus: int = 100_000, orders: int = 10_000, limit: int = 500, seed: int = 42) -> Result:
    """Two runs against one world; see the module docstring."""
    begin = time.perf_counter()
    data = generate(seed=seed, skus=skus, orders=orders, warehouses=3, customers=200, suppliers=5)
    config = SandboxConfig(seed=seed)
    from jtl_automator.sandbox.shop import build_shop

    data.shop = build_shop(data.wawi, config)
    built = time.perf_counter() - begin
    products, shop_orders = len(data.shop.products), len(data.shop.orders)
    wawi_items, wawi_rows, wawi_orders = (
        len(data.wawi.items),
        len(data.wawi.stocks),
        len(data.wawi.sales_orders),
    )
    with (
        tempfile.TemporaryDirectory(prefix="bench-shop-") as db_dir,
        serve_sandbox(data, config) as (info, state, _server),
    ):
        env = client_env(
            info,
            config,
            db_dir,
            JTL_WAWI_PAGE_SIZE=str(WAWI_PAGE),
            JTL_SHOP_RATE_PER_SECOND=str(UNTHROTTLED_RATE),
            # a busy 2-core machine serving pages of 100,000 products: a timeout's retry would be counted
            JTL_SHOP_TIMEOUT_SECONDS="600",
            JTL_HTTP_TIMEOUT_SECONDS="600",
        )
        before = served_by_api(state)
        first = in_subprocess(_check, env, limit, 61.0)
        first["served"] = dict(served_by_api(state) - before)
        before = served_by_api(state)
        second = in_subprocess(_check, env, limit, 76.0)
        second["served"] = dict(served_by_api(state) - before)

    new = first["orders"]["new"]
    shop_bound = _pages(products, limit) + _pages(new, limit) + new
    shop_sent = first["served"].get("shop", 0)
    reread = second["orders"]["reread"]
    second_bound = _pages(products, limit) + _pages(reread, limit)
    second_sent = second["served"].get("shop", 0)
    # Wawi: items, stock rows and the orders listed since the oldest followed one (at most all of them),
    # the sales channels; plus the capped channel-price reads.
    wawi_bound = (
        math.ceil(wawi_items / WAWI_PAGE)
        + math.ceil(wawi_rows / WAWI_PAGE)
        + math.ceil(wawi_orders / WAWI_PAGE)
        + 1
        + first["channel_price_reads"]
    )
    wawi_sent = first["served"].get("wawi", 0)
    metrics = [
        Metric(
            "shop products / shop orders / Wawi items / Wawi stock rows / Wawi orders",
            f"{fmt_int(products)} / {fmt_int(shop_orders)} / {fmt_int(wawi_items)} / {fmt_int(wawi_rows)} / "
            f"{fmt_int(wawi_orders)}",
        ),
        Metric("first run: wall time", fmt_s(first["seconds"])),
        Metric(
            f"first run: shop requests / bound (pages of {limit}: products + orders, + 1 cart per new order)",
            f"{fmt_int(shop_sent)} / {fmt_int(shop_bound)}",
            "= bound",
            shop_sent == shop_bound,
        ),
        Metric(
            "first run: Wawi requests / paging bound + channel-price reads",
            f"{fmt_int(wawi_sent)} / {fmt_int(wawi_bound)} = {fmt_x(wawi_sent / max(1, wawi_bound))}",
            "<= 1.00x",
            wawi_sent <= wawi_bound,
        ),
        Metric("first run: channel-price reads (capped per run)", fmt_int(first["channel_price_reads"])),
        Metric(
            "first run: raised / watched",
            f"{first['counts']} / {first['watching']}",
        ),
        Metric(
            "first run: not checked", str(first["unchecked"] or "nothing"), "nothing", not first["unchecked"]
        ),
        Metric("second run: wall time", fmt_s(second["seconds"])),
        Metric(
            "second run: shop requests / bound (products + the recheck window's order pages, no carts)",
            f"{fmt_int(second_sent)} / {fmt_int(second_bound)}",
            "= bound",
            second_sent == second_bound,
        ),
        Metric(
            "peak RSS of the client process: first / second",
            f"{first['peak_rss_mb']:,.0f} MB / {second['peak_rss_mb']:,.0f} MB",
        ),
    ]
    notes = [
        f"World generated and mirrored into the shop in {fmt_s(built)} (seed {seed}, {skus:,} SKUs, "
        f"{orders:,} Wawi orders, the sandbox's default drift); every shop order is new to the first run.",
        "Each run is a freshly spawned client process (ShopClient and WawiClient from settings, SQLite "
        "state database in a temporary directory, client rate limits unthrottled); the sandbox serves from "
        "a thread of this process (lenient: no per-row cost) and counts the requests per API.",
        f"Order statuses of the first run: {first['orders']['statuses']}; Wawi lookup: "
        f"{first['orders']['wawi_lookup']}. The second run re-read {reread:,} orders of the 24-hour recheck "
        "window (order pages only), which the first run's bound does not have: it had no cursor yet.",
        f"Requests per API, first run: {first['served']}; second run: {second['served']}.",
        "Channel prices: Wawi has no bulk read; the first run reads them for items whose shop price its "
        "base price does not explain (the sandbox gives every 4th item a shop channel price), at most "
        "channel_price_reads_max (1,000) a run, and caches them by the item's Changed; later runs read only "
        "what changed or was not read yet.",
    ]
    raw = {
        "first": first,
        "second": second,
        "shop_bound": shop_bound,
        "shop_sent": shop_sent,
        "second_bound": second_bound,
        "second_sent": second_sent,
        "wawi_bound": wawi_bound,
        "wawi_sent": wawi_sent,
        "products": products,
    }
    return Result(
        NAME,
        TITLE,
        {"skus": skus, "orders": orders, "limit": limit, "seed": seed},
        metrics,
        notes,
        raw,
    )
