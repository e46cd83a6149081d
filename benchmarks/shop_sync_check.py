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
from dataclasses import replace
from datetime import timedelta
from typing import Any

from benchmarks import _latency
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
from benchmarks._latency_report import in_turn_metric
from jtl_automator.runtime import freeze_startup_objects
from jtl_automator.sandbox.config import SandboxConfig
from jtl_automator.sandbox.generator import DEFAULT_BASE_DATE, generate
from jtl_automator.sandbox.latency_model import bottleneck, in_turn_seconds, released_work_seconds

NAME = "shop_sync_check"
TITLE = "shop_sync_check: 100,000 products and a day of 10,000 orders, requests vs the bound (issue 16)"
#: Wawi's page size (JTL_WAWI_PAGE_SIZE).
WAWI_PAGE = 1000


def _check(env: dict[str, str], limit: int, as_of_minutes: float) -> dict[str, Any]:
    """Client process: one shop sync check run, as the flow does it, without Prefect."""
    os.environ.update(env)
    from jtl_automator.clients.shop import ShopClient
    from jtl_automator.clients.wawi.client import WawiClient
    from jtl_automator.services.shop_sync import LocalStages, ShopSyncParams, run_stages
    from jtl_automator.settings import Settings
    from jtl_automator.store import StateStore

    settings = Settings(_env_file=None)
    store = StateStore(settings.database_url)
    shop, wawi = ShopClient.from_settings(settings), WawiClient.from_settings(settings)
    stage_seconds: dict[str, float] = {}

    class Timed(LocalStages):
        """The plain stages (as ``run_shop_sync_check`` runs them), the reading one timed."""

        def read(self) -> Any:
            began = time.perf_counter()
            try:
                return super().read()
            finally:
                stage_seconds["read"] = time.perf_counter() - began

    params = ShopSyncParams(shop_page_size=limit)
    freeze_startup_objects()  # as a flow's run starts (its on_running hook)
    reset_peak_rss()
    start = time.perf_counter()
    stages = Timed(shop, wawi, store, params, DEFAULT_BASE_DATE + timedelta(minutes=as_of_minutes), "bench")
    result = run_stages(stages, params, dry_run=False)
    return {
        "seconds": time.perf_counter() - start,
        "stage_seconds": stage_seconds,
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
        "shop_in_flight_peak": shop.core.in_flight.peak if shop.core.in_flight else None,
        "wawi_in_flight_peak": wawi.core.in_flight.peak if wawi.core.in_flight else None,
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


# --- latency mode (issue 17) ------------------------------------------------------------------------------

#: The three measured runs: every order new; 15 minutes later (the channel prices past the first run's
#: cap still to read); 15 minutes after that (the steady state: channel prices cached, no new orders).
RUN_LABELS = ("run 1", "run 2", "run 3")
#: The sandbox's routes of the shop's reads (``latency_model.route_of``).
PRODUCT_ROUTE = "/shop/api/v1/product"
ORDER_ROUTE = "/shop/api/v1/order"
CART_ROUTE = "/shop/api/v1/cart/{id}"


def shop_bounds(stats: dict[str, Any], in_flight: int) -> dict[str, float]:
    """What the shop's latency forces for the shop requests served (``latency.stats`` of one run).

    The Shop documents no rate limit; its cursor does: each page needs the last key of the one before, so
    a list's pages cost the sum of their service times (the product pages and the order pages are two
    chains that may run side by side). Independent reads (the carts) overlap up to the client's in-flight
    limit: every shop request's service time over that limit. No schedule ends before the shop's slowest
    answer either (the carts' tail; the makespan bound ``max(sum / m, max p)``).
    """
    shop = stats.get("shop")
    if not shop:
        return {}
    routes = shop["by_route"]
    busy = lambda route: routes.get(route, {}).get("busy_seconds", 0.0)  # noqa: E731
    return {
        "Shop product pages (cursor chain)": busy(PRODUCT_ROUTE),
        "Shop order pages (cursor chain)": busy(ORDER_ROUTE),
        f"Shop requests at {in_flight} in flight (busy time / {in_flight})": shop["busy_seconds"] / in_flight,
        "Shop's longest answer": float(shop.get("max_service_seconds", 0.0)),
    }


#: The sandbox's route endings of the Wawi reads chosen from the shop's answers: the order lookups (the
#: numbers the shop's order pages named) and the channel-price reads (the items whose shop price needs one).
WAWI_ORDERS = "/salesOrders"
WAWI_CHANNEL_PRICES = "/salesChannelPrices"


def shop_releases(stats: dict[str, Any]) -> list[tuple[str, float]]:
    """(Wawi route ending, the least time before it may be asked for): the order lookups after the shop's
    order pages, the channel-price reads after its product pages (a chain: its pages' summed service)."""
    routes = stats.get("shop", {}).get("by_route", {})
    chain = lambda route: routes.get(route, {}).get("busy_seconds", 0.0)  # noqa: E731
    return [(WAWI_ORDERS, chain(ORDER_ROUTE)), (WAWI_CHANNEL_PRICES, chain(PRODUCT_ROUTE))]


def after_shop_bounds(stats: dict[str, Any], workers: int | None) -> dict[str, float]:
    """What Wawi's reads that need the shop's answers force after the shop's cursor chains.

    The order lookups cannot start before the shop's order pages are all read (they name the orders),
    the channel-price reads not before its product pages are (their prices decide which to read); a chain
    takes at least the sum of its pages' service times. From then on these Wawi requests need their busy
    time over the Wawi workers, or their longest one (``released_work_seconds``). Wawi's reads
    that need nothing from the shop (items, stock, sales channels) run beside the chains: their terms are
    Wawi's own (workers, listing chains, longest answers).
    """
    shop, wawi = stats.get("shop"), stats.get("wawi")
    if not shop or not wawi:
        return {}
    timeline = wawi.get("timeline", [])
    groups = [
        (at, [r.service for r in timeline if r.route.endswith(ending)]) for ending, at in shop_releases(stats)
    ]
    seconds = released_work_seconds(groups, workers)
    if seconds <= 0:
        return {}
    on = f"on {workers} workers" if workers else "at once"
    return {
        f"Shop cursor chains, then the Wawi order lookups and channel-price reads they name ({on})": seconds
    }


def _with_shop(bound: _latency.Bound, in_flight: int, wawi_workers: int | None) -> _latency.Bound:
    """``bound`` (from ``_latency.measure``) with the shop's terms and the Wawi reads' that wait for them.

    The largest term is the bound: Wawi's other reads start beside the shop's.
    """
    bounds = {
        **shop_bounds(bound.stats, in_flight),
        **bound.bounds,
        **after_shop_bounds(bound.stats, wawi_workers),
    }
    name, seconds = bottleneck(bounds)
    return replace(
        bound,
        bounds=bounds,
        bottleneck=name,
        seconds=seconds,
        wawi_in_turn=in_turn_after_shop(bound.stats, wawi_workers),
    )


def in_turn_after_shop(stats: dict[str, Any], workers: int | None) -> float:
    """A client asking in turn (``in_turn_seconds``), the Wawi reads the shop names after its chains."""
    wawi = stats.get("wawi")
    if not wawi or not workers:
        return 0.0
    return in_turn_seconds(
        wawi.get("asked_in_turn", wawi.get("timeline", [])),
        workers,
        released=shop_releases(stats),
        ahead=wawi.get("asked_ahead", frozenset()),
    )


def run_latency(
    profile: str = "default",
    skus: int = 5_000,
    orders: int = 1_000,
    limit: int = 250,
    seed: int = 42,
    time_scale: float = 1.0,
) -> Result:
    """The shop sync check under a latency profile: three scheduled runs (see :data:`RUN_LABELS`).

    Each run is the service pipeline (``run_shop_sync_check``, as the flow runs its stages) in a spawned
    process with the clients set to the limits (the shop: its default in-flight limit, no rate limit to
    keep to); the bound comes from the service times the sandbox drew for the requests the run made.
    """
    from jtl_automator.sandbox.shop import build_shop

    begin = time.perf_counter()
    data = generate(seed=seed, skus=skus, orders=orders, warehouses=3, customers=200, suppliers=5)
    config = _latency.profile_config(profile, time_scale, seed)
    data.shop = build_shop(data.wawi, config)
    built = time.perf_counter() - begin
    products, shop_orders = len(data.shop.products), len(data.shop.orders)
    in_flight = _latency.SHOP_MAX_IN_FLIGHT
    runs: list[dict[str, Any]] = []
    with (
        tempfile.TemporaryDirectory(prefix="bench-shop-latency-") as db_dir,
        serve_sandbox(data, config) as (info, state, _server),
    ):
        env = client_env(
            info,
            config,
            db_dir,
            JTL_WAWI_PAGE_SIZE=str(WAWI_PAGE),
            **_latency.client_limits(config),
            JTL_SHOP_TIMEOUT_SECONDS="600",
            JTL_HTTP_TIMEOUT_SECONDS="600",
        )
        # the first run at the world's base date + 61 min, then the next two schedules 15 minutes apart
        for as_of in (61.0, 76.0, 91.0):
            before = _latency.reset(state)
            out = in_subprocess(_check, env, limit, as_of)
            measured = _latency.measure(state, before, out["stage_seconds"]["read"])
            out["bound"] = _with_shop(measured, in_flight, config.wawi_onprem_concurrency)
            runs.append(out)
    real = lambda s: s * time_scale  # noqa: E731 - scaled seconds to real ones
    metrics = [
        Metric(
            "shop products / shop orders / Wawi items / Wawi stock rows",
            f"{fmt_int(products)} / {fmt_int(shop_orders)} / {fmt_int(len(data.wawi.items))} / "
            f"{fmt_int(len(data.wawi.stocks))}",
        ),
    ]
    for label, out in zip(RUN_LABELS, runs, strict=True):
        bound: _latency.Bound = out["bound"]
        achieved, possible = bound.throughput()
        stats = bound.stats.get("shop", {}).get("by_route", {})
        carts = stats.get(CART_ROUTE, {}).get("requests", 0)
        metrics += [
            Metric(
                f"{label}: wall time (real seconds): the run / its reading stage (shop and Wawi)",
                f"{fmt_s(real(out['seconds']))} / {fmt_s(real(bound.achieved_seconds))}",
            ),
            Metric(
                f"{label}: requests (sandbox count)",
                f"{bound.total_requests:,} ("
                + ", ".join(f"{k} {v:,}" for k, v in sorted(bound.requests.items()) if v)
                + f"; shop: {stats.get(PRODUCT_ROUTE, {}).get('requests', 0):,} product pages, "
                f"{stats.get(ORDER_ROUTE, {}).get('requests', 0):,} order pages, {carts:,} carts; "
                f"{out['channel_price_reads']:,} Wawi channel-price reads)",
            ),
            Metric(
                f"{label}: the limits' bounds (real seconds)",
                "; ".join(f"{k}: {fmt_s(real(v))}" for k, v in bound.bounds.items()),
            ),
            Metric(
                f"{label}: bound (the largest term)",
                f"{bound.bottleneck}: {fmt_s(real(bound.seconds))}",
            ),
            Metric(
                f"{label}: achieved / bound throughput of the reads (requests per real second)",
                f"{achieved / time_scale:,.2f} / {possible / time_scale:,.2f}",
            ),
            Metric(
                f"{label}: ratio (bound / the reading stage's wall time)",
                f"{bound.ratio:.1%}",
                f">= {_latency.RATIO_TARGET:.0%}",
                bound.ratio >= _latency.RATIO_TARGET,
            ),
            in_turn_metric(label, bound, time_scale),
            Metric(
                f"{label}: ratio over the whole run (with evaluate, record, alert: no requests)",
                f"{bound.seconds / out['seconds']:.1%}",
            ),
            Metric(
                f"{label}: the sandbox's own lateness (shop / Wawi; its CPU past a drawn service time)",
                " / ".join(
                    fmt_s(real(bound.stats.get(api, {}).get("late_seconds", 0.0))) for api in ("shop", "wawi")
                ),
            ),
            Metric(
                f"{label}: in flight at most (shop / Wawi), 429 / 503 answers",
                f"{out['shop_in_flight_peak']} / {out['wawi_in_flight_peak']}, "
                f"{bound.rate_limited} / {bound.refused}",
                "0 / 0",
                bound.rate_limited == 0 and bound.refused == 0,
            ),
            Metric(
                f"{label}: not checked",
                str(out["unchecked"] or "nothing"),
                "nothing",
                not out["unchecked"],
            ),
            Metric(
                f"{label}: peak RSS of the client process",
                f"{out['peak_rss_mb']:,.0f} MB",
            ),
        ]
    first = runs[0]
    notes = [
        *_latency.profile_notes(config),
        f"Each run: the service pipeline (run_shop_sync_check, the flow's stages as plain calls, default "
        f"params but shop pages of {limit}) in a freshly spawned process; the sandbox (lenient: no shop "
        "cost model, so a page costs its drawn latency whatever its rows) in a thread of the parent. "
        "Client limits: "
        + ", ".join(f"{k}={v}" for k, v in sorted(_latency.client_limits(config).items()))
        + " (scaled).",
        "The bound: the shop's two cursor chains (the sum of their pages' service times as the sandbox drew "
        f"them), every shop request's service time over the client's {in_flight} in flight (the carts "
        "overlap), the shop's longest answer; the Wawi workers' busy time over their number, Wawi's longest "
        "answer, its m-th plus (m+1)-th longest answers (m: the PC's workers; two of them share one), its "
        "longest listing chain (page 1, then the longest later page of that listing: the later pages "
        "cannot be asked for before page 1 says there are any); and the Wawi reads that need the shop's "
        "answers after the shop's chain they wait for: the order lookups after the order pages (which "
        "orders to look up), the channel-price reads after the product pages (the shop prices decide "
        "which to read), their busy time over the Wawi workers from then on (or the longest of them). "
        "The largest term is the bound: Wawi's item, stock and sales-channel reads need nothing from the "
        "shop and start beside its reads.",
        f"World: seed {seed}, {skus:,} SKUs, {orders:,} Wawi orders mirrored into the shop with the "
        f"sandbox's default drift, built in {fmt_s(built)}; run 1: order statuses "
        f"{first['orders']['statuses']}, Wawi lookup {first['orders']['wawi_lookup']}.",
        "Runs 15 minutes apart (the schedule): run 1 finds every order new (a cart each) and reads the "
        "first channel_price_reads_max (1,000) channel prices; run 2 reads the rest of them; run 3 is the "
        "steady state (channel prices cached, no new orders): the shop's product pages and Wawi's item, "
        "stock and order pages only.",
        "The sandbox's own lateness is the time it answered after a request's drawn service time (its CPU "
        "building a page of products, on a shared 2-core machine): the client cannot win it back, and the "
        "bound, made of drawn service times only, does not contain it.",
    ]
    raw = {
        "runs": [{k: v for k, v in r.items() if k != "bound"} for r in runs],
        "bounds": [r["bound"] for r in runs],
        "products": products,
    }
    name = config.latency_profile().name
    return Result(
        f"{NAME}-latency-{name}",
        f"shop_sync_check under the `{name}` latency profile: {skus:,} products, {orders:,} new orders, "
        "three scheduled runs (issue 17)",
        {"skus": skus, "orders": orders, "limit": limit, "profile": name, "time_scale": time_scale},
        metrics,
        notes,
        raw,
        command=f".venv/bin/python -m benchmarks {NAME} --profile {name}"
        + (f" --time-scale {time_scale:g}" if time_scale != 1 else ""),
    )
