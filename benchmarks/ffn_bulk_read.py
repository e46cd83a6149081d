"""Issue 3: read every FFN product and stock from the sandbox over loopback HTTP, and hold a rate limit.

Part 1 reads the catalogue and all stocks with ``$top=1000`` pages and compares the request count and
wall time with (a) the original service's one ``GET /stocks/{jfsku}`` per SKU, timed on a sample and
extrapolated with the measured per-request time, and (b) the lower bound ceil(n / 1000) per resource.
Part 2 configures the client's limiter at ``rate`` req/s and the sandbox to answer 429 past
``rate * 1.1`` req/s, reads small pages for ``rate_seconds`` and reports the achieved rate and the 429s.
"""

from __future__ import annotations

import math
import tempfile
import time
from typing import Any

from benchmarks._common import (
    UNTHROTTLED_RATE,
    Metric,
    Result,
    SandboxInfo,
    ffn_client,
    ffn_requests,
    fmt_int,
    fmt_s,
    fmt_x,
    in_subprocess,
    serve_sandbox,
)
from jtl_automator.sandbox import faults
from jtl_automator.sandbox.config import SandboxConfig
from jtl_automator.sandbox.generator import generate

NAME = "ffn_bulk_read"
TITLE = "ffn_bulk_read: 100,000 FFN products and stocks over loopback HTTP (issue 3)"
PAGE = 1000
STOCK_PATH = "/v1/merchant/stocks"
#: Client-side default of the FFN rate (Settings.ffn_rate_per_second), for what the naive way costs live.
LIVE_RATE = 20.0


def _bulk(info: SandboxInfo, db_dir: str, sample: int) -> dict[str, Any]:
    """Client process: paged reads of products and stocks, then the per-SKU stock calls on a sample."""
    ffn = ffn_client(info, db_dir, UNTHROTTLED_RATE)
    next(iter(ffn.warehouses.iter_pages()))  # token exchange and connection set-up stay out of the timings
    out: dict[str, Any] = {}
    jfskus: list[str] = []
    for resource, collection in (("products", ffn.products), ("stocks", ffn.stocks)):
        before = ffn.stats.requests
        start = time.perf_counter()
        items = 0
        for page in collection.iter_pages(top=PAGE):
            items += len(page)
            if resource == "products":
                jfskus.extend(str(p["jfsku"]) for p in page)
        out[resource] = {
            "items": items,
            "requests": ffn.stats.requests - before,
            "seconds": time.perf_counter() - start,
        }
    step = max(1, len(jfskus) // max(1, sample))
    picked = jfskus[::step][:sample]
    before = ffn.stats.requests
    start = time.perf_counter()
    for jfsku in picked:
        stock = ffn.core.get_json(f"{STOCK_PATH}/{jfsku}")
        if stock.get("jfsku") != jfsku:
            raise AssertionError(f"GET {STOCK_PATH}/{jfsku} answered for {stock.get('jfsku')!r}")
    out["naive"] = {
        "items": len(picked),
        "requests": ffn.stats.requests - before,
        "seconds": time.perf_counter() - start,
    }
    out["rate_limited"] = ffn.stats.rate_limited
    return out


def _throttled(info: SandboxInfo, db_dir: str, rate: float, seconds: float, top: int) -> dict[str, Any]:
    """Client process: read ``top``-sized product pages through a ``rate`` req/s limiter for ``seconds``."""
    ffn = ffn_client(info, db_dir, rate, burst=1)
    next(iter(ffn.warehouses.iter_pages()))  # warm-up; takes one limiter slot like any request
    before = ffn.stats.requests
    start = time.perf_counter()
    elapsed = 0.0
    items = 0
    while elapsed < seconds:  # a small catalogue is read again from the start until the time is up
        for page in ffn.products.iter_pages(top=top):
            items += len(page)
            elapsed = time.perf_counter() - start
            if elapsed >= seconds:
                break
    return {
        "requests": ffn.stats.requests - before,
        "seconds": elapsed,
        "items": items,
        "rate_limited": ffn.stats.rate_limited,
        "retries": ffn.stats.retries,
    }


def run(
    skus: int = 100_000,
    naive_sample: int = 2_000,
    rate: float = 50.0,
    rate_seconds: float = 10.0,
    rate_top: int = 50,
    seed: int = 42,
) -> Result:
    """Both parts against one generated world; see the module docstring."""
    start = time.perf_counter()
    data = generate(seed=seed, skus=skus, orders=20, customers=20, suppliers=5)
    generated = time.perf_counter() - start
    config = SandboxConfig(seed=seed)
    server_limit = round(rate * 1.1)
    with (
        tempfile.TemporaryDirectory(prefix="bench-ffn-") as db_dir,
        serve_sandbox(data, config) as (
            info,
            state,
            _server,
        ),
    ):
        served_before = ffn_requests(state)
        bulk = in_subprocess(_bulk, info, db_dir, naive_sample)
        served_bulk = ffn_requests(state) - served_before

        profile = faults.FaultProfile(
            name="bench-ratelimit",
            rules=(
                faults.FaultRule(
                    fault="rate_limit", route="/api/v1/merchant", limit=server_limit, window_seconds=1
                ),
            ),
        )
        faults.set_profile(state, profile)
        throttled = in_subprocess(_throttled, info, db_dir, rate, rate_seconds, rate_top)
        server_429 = int(state.runtime["faults"]["rate_limit"])

    n_products, n_stocks = bulk["products"]["items"], bulk["stocks"]["items"]
    if n_products != skus or n_stocks != skus:
        raise AssertionError(f"read {n_products} products and {n_stocks} stocks, expected {skus} each")
    bulk_requests = bulk["products"]["requests"] + bulk["stocks"]["requests"]
    bulk_seconds = bulk["products"]["seconds"] + bulk["stocks"]["seconds"]
    lower_bound = math.ceil(n_products / PAGE) + math.ceil(n_stocks / PAGE)
    per_call = bulk["naive"]["seconds"] / bulk["naive"]["requests"]
    naive_stock_seconds = per_call * n_stocks
    naive_requests = bulk["products"]["requests"] + n_stocks  # the catalogue still has to be read once
    naive_seconds = bulk["products"]["seconds"] + naive_stock_seconds
    achieved = throttled["requests"] / throttled["seconds"] if throttled["seconds"] else 0.0
    share = achieved / rate

    metrics = [
        Metric("products read / stocks read", f"{n_products:,} / {n_stocks:,}"),
        Metric(
            "bulk requests (products + stocks, $top=1000)",
            f"{bulk['products']['requests']:,} + {bulk['stocks']['requests']:,} = {bulk_requests:,}",
        ),
        Metric(
            "lower bound ceil(n/1000) per resource",
            fmt_int(lower_bound),
            "bulk requests = lower bound",
            bulk_requests == lower_bound,
        ),
        Metric(
            "bulk wall time (products + stocks)",
            f"{fmt_s(bulk['products']['seconds'])} + {fmt_s(bulk['stocks']['seconds'])} "
            f"= {fmt_s(bulk_seconds)}",
        ),
        Metric(
            f"naive: per-SKU GET /stocks/{{jfsku}}, measured on {bulk['naive']['requests']:,} SKUs",
            f"{fmt_s(bulk['naive']['seconds'])} ({per_call * 1000:.2f} ms/request)",
        ),
        Metric(
            f"naive extrapolated to {n_stocks:,} SKUs (products paged + 1 stock call per SKU)",
            f"{naive_requests:,} requests, {fmt_s(naive_seconds)}",
        ),
        Metric("naive / bulk: requests", fmt_x(naive_requests / bulk_requests)),
        Metric("naive / bulk: wall time (loopback)", fmt_x(naive_seconds / bulk_seconds)),
        Metric(
            f"at {LIVE_RATE:.0f} req/s (client default rate): naive vs bulk",
            f"{fmt_s(naive_requests / LIVE_RATE)} vs {fmt_s(bulk_requests / LIVE_RATE)}",
        ),
        Metric(
            f"rate limit: achieved / configured ({rate:g} req/s, $top={rate_top}, "
            f"{throttled['seconds']:.1f} s)",
            f"{achieved:.1f} / {rate:g} req/s = {share:.1%}",
            ">= 90%",
            share >= 0.9,
        ),
        Metric(
            f"rate limit: 429s received (sandbox limit {server_limit} req per 1 s window)",
            f"{throttled['rate_limited']} (sandbox counted {server_429})",
            "0",
            throttled["rate_limited"] == 0 and server_429 == 0,
        ),
    ]
    notes = [
        f"Sandbox world generated in {fmt_s(generated)} (seed {seed}); the sandbox serves from a uvicorn "
        "thread of the benchmark process, the client runs in a separately spawned process (own GIL, as "
        "with a remote API). Throughput runs use an effectively unlimited client rate so the work, not "
        "the bucket, is measured.",
        f"The naive figure is extrapolated: {bulk['naive']['requests']:,} evenly spaced jfskus were fetched "
        f"one by one (GET /stocks/{{jfsku}}) and the measured {per_call * 1000:.2f} ms per request was "
        f"multiplied by {n_stocks:,}. The sandbox answers a single stock from a dict, so real FFN "
        "latency (tens of ms per request) would widen the gap further.",
        f"The sandbox counted {served_bulk:,} FFN requests during part 1 (client: "
        f"{bulk_requests + bulk['naive']['requests']:,} timed + 1 warm-up).",
        f"Rate part: {throttled['requests']:,} requests in {throttled['seconds']:.2f} s through "
        f"RateLimiter({rate:g}/s, burst=1); client retries: {throttled['retries']}. N requests span N-1 "
        "limiter intervals plus the last response, so a share slightly above 100% is expected.",
    ]
    raw = {
        "bulk": bulk,
        "throttled": throttled,
        "server_429": server_429,
        "lower_bound": lower_bound,
        "bulk_requests": bulk_requests,
        "achieved_rate": achieved,
        "served_bulk": served_bulk,
    }
    params = {"skus": skus, "naive_sample": naive_sample, "rate": rate, "rate_seconds": rate_seconds}
    return Result(NAME, TITLE, params, metrics, notes, raw)
