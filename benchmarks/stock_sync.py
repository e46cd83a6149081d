"""Issue 11: the stock sync FFN -> Wawi over loopback HTTP, full and incremental, requests vs lower bound.

A generated world of ``skus`` items in ``warehouses`` FFN warehouses (each mapped to the Wawi warehouse
whose Code is its id) is served by the sandbox. The full run reads every FFN stock page, the Wawi items,
warehouses and stock pages, and sends one ``POST /stocks`` per (warehouse, item) whose Wawi level differs
from FFN's. Then ``changed_share`` of the FFN (warehouse, item) pairs get a fulfiller adjustment, and the
incremental run reads FFN's ``/stocks/updates`` feed from its watermark and touches only those pairs.
The lower bounds: every collection read in pages of the client's size, plus one call per changed pair.
"""

from __future__ import annotations

import math
import os
import random
import tempfile
import time
from typing import Any

from benchmarks._common import (
    Metric,
    Result,
    client_env,
    fmt_int,
    fmt_s,
    fmt_x,
    in_subprocess,
    peak_rss_mb,
    reset_peak_rss,
    rss_mb,
    serve_sandbox,
    served_by_api,
)
from jtl_automator.sandbox.config import SandboxConfig
from jtl_automator.sandbox.generator import generate

NAME = "stock_sync"
TITLE = "stock_sync: 100,000 SKUs x 3 warehouses, full and incremental, over loopback HTTP (issue 11)"
#: Page size of both clients (JTL_FFN_PAGE_SIZE, JTL_WAWI_PAGE_SIZE defaults).
PAGE = 1000
#: A full run may spend this much over the lower bound (token, empty last pages) and still pass.
REQUEST_SLACK = 1.05


def _sync(env: dict[str, str], full: bool) -> dict[str, Any]:
    """Client process: one stock sync run, as the flow does it, without Prefect."""
    os.environ.update(env)
    from jtl_automator.clients.ffn.client import FfnClient
    from jtl_automator.clients.wawi.client import WawiClient
    from jtl_automator.services.stock_sync.pipeline import run_stock_sync
    from jtl_automator.settings import Settings
    from jtl_automator.store import StateStore

    settings = Settings(_env_file=None)
    store = StateStore(settings.database_url)
    ffn, wawi = FfnClient.from_settings(settings, store), WawiClient.from_settings(settings)
    rss_before = rss_mb()
    reset_peak_rss()
    start = time.perf_counter()
    result = run_stock_sync(wawi, ffn, store, full=full, run_id="bench-full" if full else "bench-incr")
    seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "mode": result["mode"],
        "decisions": result["decisions"],
        "outcomes": result["outcomes"],
        "failed": len(result["failed"]),
        "peak_rss_mb": peak_rss_mb(),
        "rss_before_mb": rss_before,
    }


def _change_pairs(state: Any, share: float, seed: int) -> int:
    """Give ``share`` of the FFN (warehouse, item) rows with stock a fulfiller adjustment; how many."""
    from jtl_automator.sandbox.ffn.stock import adjust_stock

    rows = [
        (jfsku, str(row["warehouseId"]), int(row.get("stockLevel") or 0))
        for jfsku, stock in state.data.ffn.stocks.items()
        for row in stock.get("warehouses") or []
    ]
    rng = random.Random(seed)
    picked = rng.sample(rows, max(1, round(len(rows) * share)))
    for jfsku, warehouse_id, level in picked:
        adjust_stock(state, jfsku, warehouse_id, -1 if level > 0 and rng.random() < 0.5 else 3, note="bench")
    return len(picked)


def run(skus: int = 100_000, warehouses: int = 3, changed_share: float = 0.01, seed: int = 42) -> Result:
    """Full then incremental sync against one world; see the module docstring."""
    begin = time.perf_counter()
    data = generate(seed=seed, skus=skus, orders=20, warehouses=warehouses, customers=20, suppliers=5)
    built = time.perf_counter() - begin
    ffn_rows = sum(len(s.get("warehouses") or []) for s in data.ffn.stocks.values())
    ffn_products = len(data.ffn.stocks)
    wawi_items = len(data.wawi.items)
    wawi_rows = len(data.wawi.stocks)
    config = SandboxConfig(seed=seed)
    with (
        tempfile.TemporaryDirectory(prefix="bench-stock-") as db_dir,
        serve_sandbox(data, config) as (info, state, _server),
    ):
        env = client_env(info, config, db_dir, JTL_FFN_PAGE_SIZE=str(PAGE), JTL_WAWI_PAGE_SIZE=str(PAGE))
        before = served_by_api(state)
        full = in_subprocess(_sync, env, True)
        full["requests"] = dict(served_by_api(state) - before)
        changed = _change_pairs(state, changed_share, seed)
        before = served_by_api(state)
        incremental = in_subprocess(_sync, env, False)
        incremental["requests"] = dict(served_by_api(state) - before)
        before = served_by_api(state)
        again = in_subprocess(_sync, env, False)
        again["requests"] = dict(served_by_api(state) - before)

    pages = lambda n: max(1, math.ceil(n / PAGE))  # noqa: E731
    full_adjusted = full["outcomes"].get("applied", 0)
    full_reads_bound = pages(ffn_products) + 1 + pages(wawi_items) + 1 + pages(wawi_rows)
    full_bound = full_reads_bound + full_adjusted
    full_sent = full["requests"].get("ffn", 0) + full["requests"].get("wawi", 0)
    incr_adjusted = incremental["outcomes"].get("applied", 0)
    incr_sent = incremental["requests"].get("ffn", 0) + incremental["requests"].get("wawi", 0)
    full_ratio = full_sent / full_bound
    metrics = [
        Metric(
            "FFN products / stock rows (warehouse x item) / Wawi items / Wawi stock rows",
            f"{fmt_int(ffn_products)} / {fmt_int(ffn_rows)} / {fmt_int(wawi_items)} / {fmt_int(wawi_rows)}",
        ),
        Metric("full: decisions", ", ".join(f"{k} {v:,}" for k, v in sorted(full["decisions"].items()))),
        Metric("full: wall time", fmt_s(full["seconds"])),
        Metric(
            "full: requests (sandbox count)",
            ", ".join(f"{k} {v:,}" for k, v in sorted(full["requests"].items())),
        ),
        Metric(
            "full: lower bound (pages of 1,000: FFN stocks + warehouses, Wawi items + warehouses + stocks; "
            "+ 1 POST per changed pair)",
            f"{fmt_int(full_reads_bound)} + {fmt_int(full_adjusted)} = {fmt_int(full_bound)}",
        ),
        Metric(
            "full: FFN + Wawi requests / lower bound",
            fmt_x(full_ratio),
            f"<= {REQUEST_SLACK:.2f}x",
            full_ratio <= REQUEST_SLACK,
        ),
        Metric("full: failed adjustments", str(full["failed"]), "0", full["failed"] == 0),
        Metric("incremental: FFN pairs changed by the fulfiller", fmt_int(changed)),
        Metric(
            "incremental: decisions",
            ", ".join(f"{k} {v:,}" for k, v in sorted(incremental["decisions"].items())),
        ),
        Metric("incremental: wall time", fmt_s(incremental["seconds"])),
        Metric(
            "incremental: requests (sandbox count)",
            ", ".join(f"{k} {v:,}" for k, v in sorted(incremental["requests"].items())),
        ),
        Metric(
            "incremental: adjustments sent / pairs changed",
            f"{fmt_int(incr_adjusted)} / {fmt_int(changed)}",
            "<= changed",
            incr_adjusted <= changed,
        ),
        Metric(
            "incremental / full: requests",
            f"{incr_sent:,} / {full_sent:,} = {incr_sent / max(1, full_sent):.1%}",
        ),
        Metric(
            "rerun after incremental: adjustments sent",
            str(again["outcomes"].get("applied", 0)),
            "0",
            again["outcomes"].get("applied", 0) == 0,
        ),
        Metric(
            "peak RSS of the client process: full / incremental",
            f"{full['peak_rss_mb']:,.0f} MB / {incremental['peak_rss_mb']:,.0f} MB",
        ),
    ]
    notes = [
        f"World generated in {fmt_s(built)} (seed {seed}, {skus:,} SKUs, {warehouses} warehouses); the "
        "generator's Wawi levels drift from FFN's on about 4% of the rows and count FFN's blocked units on "
        "top, which the full run corrects.",
        "Each run is a freshly spawned client process (FfnClient and WawiClient from settings, SQLite "
        "state database in a temporary directory, client rate limits unthrottled); the sandbox serves from "
        "a thread of this process and counts the requests per API.",
        "The incremental run reads the feed from the full run's watermark (minus the 10-minute overlap) and "
        "Wawi's stock per changed item when few changed (per_item_reads_max), else the stock listing; Wawi "
        "items (SKU -> item id) come from the item cache the full run filled, refreshed with one "
        "GET /items?changedSince= (Wawi has no SKU filter on GET /items).",
        f"Incremental requests in detail: {incremental['requests']}; the rerun: {again['requests']}.",
    ]
    raw = {
        "full": full,
        "incremental": incremental,
        "again": again,
        "changed": changed,
        "full_bound": full_bound,
        "full_sent": full_sent,
        "incr_sent": incr_sent,
    }
    return Result(
        NAME,
        TITLE,
        {"skus": skus, "warehouses": warehouses, "changed_share": changed_share},
        metrics,
        notes,
        raw,
    )


# --- latency mode (issue 17) ------------------------------------------------------------------------------


def _sync_latency(env: dict[str, str], full: bool, run_id: str) -> dict[str, Any]:
    """Client process: one stock sync run with the merchant's defaults, its reads and writes timed."""
    from benchmarks._latency_report import measured_client_run
    from jtl_automator.services.stock_sync.pipeline import LocalStages, run_stock_sync

    result, measured = measured_client_run(
        env,
        LocalStages,
        {"reads": "load", "writes": "apply", "per-item reads and writes, overlapped": "sync_items"},
        lambda wawi, ffn, store: run_stock_sync(wawi, ffn, store, full=full, run_id=run_id),
    )
    return {
        **measured,
        "mode": result["mode"],
        "decisions": result["decisions"],
        "outcomes": result["outcomes"],
        "failed": len(result["failed"]),
    }


def run_latency(
    profile: str = "default",
    skus: int = 10_000,
    warehouses: int = 3,
    changed_share: float = 0.01,
    seed: int = 42,
    time_scale: float = 1.0,
) -> Result:
    """A full run, then an incremental one after ``changed_share`` of the pairs moved, under a profile.

    Each run is the service pipeline with the merchant's defaults in a spawned process (as the schedule
    starts it), its requests measured against the least time the APIs' limits allow for them.
    """
    from benchmarks import _latency
    from benchmarks._latency_report import peaks, refusals_metric, run_metrics, scale_note

    data = generate(seed=seed, skus=skus, orders=20, warehouses=warehouses, customers=20, suppliers=5)
    ffn_rows = sum(len(s.get("warehouses") or []) for s in data.ffn.stocks.values())
    config = _latency.profile_config(profile, time_scale, seed)
    runs: dict[str, dict[str, Any]] = {}
    with (
        tempfile.TemporaryDirectory(prefix="bench-stock-latency-") as db_dir,
        serve_sandbox(data, config) as (info, state, _server),
    ):
        env = client_env(info, config, db_dir, **_latency.client_limits(config))
        before = _latency.reset(state)
        runs["full"] = in_subprocess(_sync_latency, env, True, "latency-full")
        runs["full"]["bound"] = _latency.measure(state, before, runs["full"]["seconds"])
        changed = _change_pairs(state, changed_share, seed)
        before = _latency.reset(state)
        runs["incremental"] = in_subprocess(_sync_latency, env, False, "latency-incr")
        runs["incremental"]["bound"] = _latency.measure(state, before, runs["incremental"]["seconds"])
    full, incr = runs["full"], runs["incremental"]
    name = config.latency_profile().name

    def outcomes(run: dict[str, Any]) -> str:
        return ", ".join(f"{k} {v:,}" for k, v in sorted(run["outcomes"].items())) or "none"

    metrics = [
        Metric("SKUs x warehouses (FFN stock rows)", f"{skus:,} x {warehouses} ({ffn_rows:,})"),
        Metric("full: adjustments", outcomes(full), "0 failed", full["failed"] == 0),
        *run_metrics("full", full, time_scale),
        Metric("incremental: FFN pairs changed by the fulfiller", fmt_int(changed)),
        Metric(
            "incremental: adjustments",
            outcomes(incr),
            "<= changed",
            incr["outcomes"].get("applied", 0) <= changed and incr["failed"] == 0,
        ),
        *run_metrics("incremental", incr, time_scale),
        refusals_metric(runs.values()),
        Metric(
            "full / incremental: peak RSS of the client process; in flight", f"{peaks(full)} / {peaks(incr)}"
        ),
    ]
    notes = [
        *_latency.profile_notes(config),
        scale_note(f"{skus:,} SKUs x {warehouses} warehouses (issue 11: 100,000), seed {seed}", time_scale),
        "Each run: run_stock_sync with the merchant's defaults (StockSyncParams(): "
        f"{_workers()} adjustment workers) in a freshly spawned process; the sandbox in a thread of the "
        "parent. Client limits set to the "
        "server's: "
        + ", ".join(f"{k}={v}" for k, v in sorted(_latency.client_limits(config).items()))
        + " (scaled). Wall time split: reads = the load stage (both sides' bulk reads, or the incremental "
        "run's listings), writes = the apply stage (one POST /stocks per changed pair); the incremental run "
        "reads each changed item's stock and plans and adjusts its SKU as soon as it is back (the overlapped "
        "stage).",
        "The bound: the largest of the Wawi workers' busy time (the sandbox's measured service times) "
        "divided by their number, Wawi's longest answers and listing chain, and FFN's fixed window for its "
        "busiest endpoint. Ratio = bound / wall time. See docs/latency.md.",
        "Why a run can stay below the bound: the full run's plan needs both sides whole (an item FFN holds "
        "none of gets target 0), so its reads (bulk pages the client and the sandbox spend CPU on: the CPU "
        "row) come before its writes; the incremental run's last write waits for its slowest read (the "
        "longest-answer row).",
    ]
    raw = {"runs": runs, "changed": changed, "ffn_rows": ffn_rows}
    return Result(
        f"{NAME}-latency-{name}",
        f"stock_sync under the `{name}` latency profile: {skus:,} SKUs x {warehouses} warehouses, full and "
        "incremental (issue 17)",
        {"skus": skus, "warehouses": warehouses, "profile": name, "time_scale": time_scale},
        metrics,
        notes,
        raw,
        command=f".venv/bin/python -m benchmarks {NAME} --profile {name}"
        + (f" --time-scale {time_scale:g}" if time_scale != 1 else ""),
    )


def _workers() -> int:
    """The merchant's default number of adjustments in progress at once."""
    from jtl_automator.services.stock_sync.params import StockSyncParams

    return StockSyncParams().workers
