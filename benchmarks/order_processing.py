"""Issue 5: 10,000 sales orders (3 lines on average) end to end through the sandbox, with and without Prefect.

Two identical worlds (same seed) are served one after the other over loopback HTTP. A spawned client
process runs the order processing service functions in flow order (``run_order_processing``: import ->
bulk FFN reads -> plan -> fulfil chunks on a thread pool -> shipping sync -> watermarks); a second spawned
process runs the Prefect flow (``flows.order_processing``) under Prefect's test harness, whose server
start-up is outside the timing. Both use the same chunk size and number of workers, so the difference
is what Prefect adds: task runs, state changes and their API calls, the artifacts.
"""

from __future__ import annotations

import os
import random
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from benchmarks._common import (
    Metric,
    Result,
    client_env,
    fmt_s,
    in_subprocess,
    peak_rss_mb,
    reset_peak_rss,
    rss_mb,
    serve_sandbox,
    served_by_api,
)
from jtl_automator.runtime import freeze_startup_objects
from jtl_automator.sandbox import generator
from jtl_automator.sandbox.config import SandboxConfig
from jtl_automator.sandbox.data import SandboxData

NAME = "order_processing"
TITLE = (
    "order_processing: 10,000 orders (3 lines on average) end to end over HTTP, Prefect vs plain (issue 5)"
)
OVERHEAD_TARGET = 0.15


def build_world(orders: int, skus: int, seed: int, base: datetime) -> SandboxData:
    """Generated orders, all new (no outbound yet), 1-5 item lines each (3 on average), ample stock."""
    spread = generator.ORDER_SPREAD_DAYS
    generator.ORDER_SPREAD_DAYS = 3  # younger than 3 days: the generator gives them no outbound yet
    try:
        data = generator.generate(
            seed=seed, skus=skus, orders=orders, customers=max(50, orders // 5), base_date=base
        )
    finally:
        generator.ORDER_SPREAD_DAYS = spread
    rng = random.Random(seed)
    catalogue = [(i["SKU"], i["Id"], i["Name"]) for i in data.wawi.items.values()]
    next_line = max((line["Id"] for lines in data.wawi.line_items.values() for line in lines), default=0) + 1
    for lines in data.wawi.line_items.values():
        wanted = rng.randint(1, 5)
        del lines[wanted:]
        while len(lines) < wanted:
            sku, item_id, name = catalogue[rng.randrange(len(catalogue))]
            lines.append(
                {
                    **lines[-1],
                    "Id": next_line,
                    "SKU": sku,
                    "ItemId": item_id,
                    "Name": name,
                    "Quantity": float(rng.choice((1, 1, 1, 2, 3))),
                }
            )
            next_line += 1
    for stock in data.ffn.stocks.values():  # enough for every order: the benchmark measures the pipeline
        for row in stock.get("warehouses") or []:
            row["stockLevel"] += 10_000
        stock["stockLevel"] = sum(r["stockLevel"] for r in stock.get("warehouses") or [])
    return data


def _params(chunk_size: int, workers: int) -> Any:
    from jtl_automator.sandbox.generator import INVOICE_METHOD_ID
    from jtl_automator.services.order_processing import OrderProcessingParams
    from jtl_automator.transforms import ValidationParams

    return OrderProcessingParams(
        chunk_size=chunk_size,
        workers=workers,
        validation=ValidationParams(invoice_payment_method_ids=frozenset({INVOICE_METHOD_ID})),
    )


def _plain(env: dict[str, str], since: str, chunk_size: int, workers: int) -> dict[str, Any]:
    """Client process: the service functions without Prefect."""
    os.environ.update(env)
    from jtl_automator.clients.ffn.client import FfnClient
    from jtl_automator.clients.wawi.client import WawiClient
    from jtl_automator.services.order_processing import run_order_processing
    from jtl_automator.settings import Settings
    from jtl_automator.store import StateStore

    settings = Settings(_env_file=None)
    store = StateStore(settings.database_url)
    ffn, wawi = FfnClient.from_settings(settings, store), WawiClient.from_settings(settings)
    rss_before = rss_mb()
    reset_peak_rss()
    start = time.perf_counter()
    result = run_order_processing(
        wawi, ffn, store, _params(chunk_size, workers), since=datetime.fromisoformat(since), run_id="plain"
    )
    seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "counts": result["counts"],
        "peak_rss_mb": peak_rss_mb(),
        "rss_before_mb": rss_before,
    }


def _with_prefect(env: dict[str, str], since: str, chunk_size: int, workers: int) -> dict[str, Any]:
    """Client process: the Prefect flow under the test harness (server start-up not timed)."""
    os.environ.update(env)
    import logging

    from prefect.testing.utilities import prefect_test_harness

    from flows.order_processing import order_processing

    logging.getLogger("prefect").setLevel(logging.WARNING)
    with prefect_test_harness(server_startup_timeout=180):
        rss_before = rss_mb()
        reset_peak_rss()
        start = time.perf_counter()
        result = order_processing(since=datetime.fromisoformat(since), params=_params(chunk_size, workers))
        seconds = time.perf_counter() - start
        peak = peak_rss_mb()
    return {"seconds": seconds, "counts": result["counts"], "peak_rss_mb": peak, "rss_before_mb": rss_before}


def _measure(
    data: SandboxData, config: SandboxConfig, since: str, chunk_size: int, workers: int, prefect: bool
) -> dict[str, Any]:
    with (
        tempfile.TemporaryDirectory(prefix="bench-orders-") as db_dir,
        serve_sandbox(data, config) as (info, state, _server),
    ):
        before = served_by_api(state)
        out = in_subprocess(
            _with_prefect if prefect else _plain, client_env(info, config, db_dir), since, chunk_size, workers
        )
        out["requests"] = dict(served_by_api(state) - before)
        numbers = Counter(o["merchantOutboundNumber"] for o in state.data.ffn.outbounds.values())
        out["outbounds"] = sum(numbers.values())
        out["max_outbounds_per_number"] = max(numbers.values(), default=0)
    return out


def run(
    orders: int = 10_000,
    skus: int = 2_000,
    chunk_size: int = 100,
    workers: int = 4,
    seed: int = 42,
    repeats: int = 2,
) -> Result:
    """Run plain and Prefect alternately ``repeats`` times, each on a fresh copy of one world; best of each.

    Client, sandbox and Prefect's server share two cores, so one run can be 15% off the next; the best
    of alternating runs compares the two under the same conditions.
    """
    begin = time.perf_counter()
    base = datetime.now(UTC).replace(microsecond=0)
    world = build_world(orders, skus, seed, base)
    lines = sum(len(v) for v in world.wawi.line_items.values())
    prepared = time.perf_counter() - begin
    since = (base - timedelta(days=4)).isoformat()
    config = SandboxConfig(seed=seed)
    runs: dict[bool, list[dict[str, Any]]] = {False: [], True: []}
    for _ in range(max(1, repeats)):
        for prefect in (False, True):
            fresh = build_world(orders, skus, seed, base)  # the same seed and base date: the same world
            runs[prefect].append(_measure(fresh, config, since, chunk_size, workers, prefect=prefect))
    plain = min(runs[False], key=lambda r: r["seconds"])
    flow = min(runs[True], key=lambda r: r["seconds"])
    every = runs[False] + runs[True]
    if any(r["counts"] != plain["counts"] for r in every):
        raise AssertionError(f"the runs disagree: {[r['counts'] for r in every]}")
    if any(r["max_outbounds_per_number"] > 1 for r in every):
        raise AssertionError("an order number got more than one outbound")

    overhead = max(0.0, flow["seconds"] - plain["seconds"]) / flow["seconds"]
    total = lambda r: sum(r["requests"].values())  # noqa: E731
    counts = flow["counts"]
    metrics = [
        Metric("orders / item lines", f"{orders:,} / {lines:,} ({lines / orders:.2f} per order)"),
        Metric("outcomes (both runs)", ", ".join(f"{k} {v:,}" for k, v in counts.items() if v)),
        Metric("wall time with Prefect (flow call)", fmt_s(flow["seconds"])),
        Metric("wall time without Prefect (same service functions)", fmt_s(plain["seconds"])),
        Metric("orders/s with Prefect", f"{orders / flow['seconds']:,.0f}"),
        Metric("orders/s without Prefect", f"{orders / plain['seconds']:,.0f}"),
        Metric(
            "Prefect overhead ((with - without) / with)",
            f"{overhead:.1%}",
            f"< {OVERHEAD_TARGET:.0%}",
            overhead < OVERHEAD_TARGET,
        ),
        Metric(
            "requests per order (with Prefect; sandbox count)",
            f"{total(flow) / orders:.2f} ("
            + ", ".join(f"{k} {v:,}" for k, v in sorted(flow["requests"].items()))
            + ")",
        ),
        Metric("requests per order (without Prefect)", f"{total(plain) / orders:.2f}"),
        Metric(
            "peak RSS of the client process: with / without Prefect",
            f"{flow['peak_rss_mb']:,.0f} MB / {plain['peak_rss_mb']:,.0f} MB",
        ),
        Metric(
            "  of which the run (peak minus RSS before it)",
            f"{flow['peak_rss_mb'] - flow['rss_before_mb']:,.0f} MB / "
            f"{plain['peak_rss_mb'] - plain['rss_before_mb']:,.0f} MB",
        ),
        Metric(
            "FFN outbounds created, max per order number",
            f"{flow['outbounds']:,}, {flow['max_outbounds_per_number']}",
            "1 per number",
            flow["max_outbounds_per_number"] == 1,
        ),
    ]
    notes = [
        f"Best of {len(runs[False])} alternating runs each: plain "
        + ", ".join(fmt_s(r["seconds"]) for r in runs[False])
        + "; Prefect "
        + ", ".join(fmt_s(r["seconds"]) for r in runs[True])
        + ".",
        f"A world built in {fmt_s(prepared)} (seed {seed}, {skus:,} SKUs, 2 warehouses); every order is "
        "younger than 3 days so none has an outbound yet; lines were redrawn to 1-5 per order; every stock "
        "row got 10,000 extra units so the run measures the pipeline, not a stock-out. About 5% of the "
        "orders are invalid on purpose and get held (a Wawi PATCH each); every 50th order is on hold by a "
        "human in Wawi (the generator's customer-question hold) and is left alone (on_hold_wawi).",
        f"Both runs: chunks of {chunk_size} orders on {workers} workers (Prefect: ThreadPoolTaskRunner, one "
        "task per chunk; plain: a ThreadPoolExecutor), client rate limits unthrottled, SQLite state database "
        "in a temporary directory, sandbox in a thread of the parent process, client in a spawned process.",
        "Per order: one GET of its line items, one POST /outbounds, one PATCH of the Wawi order (status "
        "line, release); per batch: the Wawi listing pages, the catalogue and stock pages, one $filter "
        "request per 40 order numbers (the lookup before any create), the on-hold reasons and the outbound "
        "updates feed.",
        "The Prefect time is the flow call only; the test harness's server start-up is excluded. Peak memory "
        "is the client process's VmHWM during the run.",
    ]
    raw = {"plain": plain, "prefect": flow, "overhead": overhead, "lines": lines}
    return Result(
        NAME,
        TITLE,
        {"orders": orders, "skus": skus, "chunk_size": chunk_size, "workers": workers},
        metrics,
        notes,
        raw,
    )


# --- latency mode (issue 17) ------------------------------------------------------------------------------

#: The schedule interval of the order-processing deployment (prefect.yaml: every 10 minutes).
SCHEDULE_SECONDS = 600.0


def _latency_params(time_scale: float) -> Any:
    """The merchant's defaults (chunks, workers, time budget), the budget in the sandbox's scaled time."""
    from jtl_automator.sandbox.generator import INVOICE_METHOD_ID
    from jtl_automator.services.order_processing import OrderProcessingParams
    from jtl_automator.transforms import ValidationParams

    defaults = OrderProcessingParams()
    budget = defaults.time_budget_seconds
    return OrderProcessingParams(
        validation=ValidationParams(invoice_payment_method_ids=frozenset({INVOICE_METHOD_ID})),
        time_budget_seconds=None if budget is None else budget / time_scale,
    )


def _plain_latency(env: dict[str, str], since: str, time_scale: float, run_id: str) -> dict[str, Any]:
    """Client process: one order processing run with the merchant's defaults against the profile."""
    os.environ.update(env)
    from jtl_automator.clients.ffn.client import FfnClient
    from jtl_automator.clients.wawi.client import WawiClient
    from jtl_automator.services.order_processing import run_order_processing
    from jtl_automator.settings import Settings
    from jtl_automator.store import StateStore

    settings = Settings(_env_file=None)
    store = StateStore(settings.database_url)
    ffn, wawi = FfnClient.from_settings(settings, store), WawiClient.from_settings(settings)
    rss_before = rss_mb()
    freeze_startup_objects()  # as a flow's run starts (its on_running hook)
    reset_peak_rss()
    start = time.perf_counter()
    result = run_order_processing(
        wawi, ffn, store, _latency_params(time_scale), since=datetime.fromisoformat(since), run_id=run_id
    )
    seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "counts": result["counts"],
        "stage_seconds": result.get("stage_seconds", {}),
        "handed_over": result.get("handed_over"),
        "peak_rss_mb": peak_rss_mb(),
        "rss_before_mb": rss_before,
        "client_429": ffn.stats.rate_limited + wawi.stats.rate_limited,
        "wawi_in_flight_peak": wawi.core.in_flight.peak if wawi.core.in_flight else None,
        "ffn_in_flight_peak": ffn.core.in_flight.peak if ffn.core.in_flight else None,
    }


def run_latency(
    profile: str = "default",
    orders: int = 2_000,
    skus: int = 2_000,
    seed: int = 42,
    time_scale: float = 1.0,
    max_runs: int = 8,
) -> Result:
    """``orders`` new orders under a latency profile: scheduled runs until every order is done.

    Each run is the service pipeline with the merchant's defaults (workers, chunks, the time budget) in a
    spawned process, as the schedule would start it; a run that cannot finish hands over and the next run
    (the next schedule) goes on. The first run's figures answer "do 2,000 orders fit in 10 minutes".
    """
    from benchmarks import _latency

    base = datetime.now(UTC).replace(microsecond=0)
    world = build_world(orders, skus, seed, base)
    lines = sum(len(v) for v in world.wawi.line_items.values())
    since = (base - timedelta(days=4)).isoformat()
    config = _latency.profile_config(profile, time_scale, seed)
    runs: list[dict[str, Any]] = []
    with (
        tempfile.TemporaryDirectory(prefix="bench-orders-latency-") as db_dir,
        serve_sandbox(world, config) as (info, state, _server),
    ):
        env = client_env(info, config, db_dir, **_latency.client_limits(config))
        for number in range(1, max_runs + 1):
            before = _latency.reset(state)
            out = in_subprocess(_plain_latency, env, since, time_scale, f"latency-{number}")
            out["bound"] = _latency.measure(state, before, out["seconds"])
            runs.append(out)
            if not out["handed_over"]:
                break
        numbers = Counter(o["merchantOutboundNumber"] for o in state.data.ffn.outbounds.values())
        ledger_open = _open_orders(db_dir)
    first = runs[0]
    bound: _latency.Bound = first["bound"]
    achieved, possible = bound.throughput()
    done_first = sum(
        first["counts"].get(k, 0) for k in ("created", "adopted", "held", "on_hold_wawi", "failed")
    )
    real = lambda s: s * time_scale  # noqa: E731 - scaled seconds to real ones
    within = real(first["seconds"]) <= SCHEDULE_SECONDS and not first["handed_over"]
    metrics = [
        Metric("orders / item lines", f"{orders:,} / {lines:,}"),
        Metric(
            "run 1: wall time (real seconds)",
            fmt_s(real(first["seconds"])),
            f"<= {SCHEDULE_SECONDS:.0f} s (one schedule interval), or a clean handover",
            within or bool(first["handed_over"]),
        ),
        Metric(
            "run 1: orders decided (created, held, left on hold, failed)", f"{done_first:,} of {orders:,}"
        ),
        Metric(
            "run 1: requests (sandbox count)",
            f"{bound.total_requests:,} ("
            + ", ".join(f"{k} {v:,}" for k, v in sorted(bound.requests.items()) if v)
            + ")",
        ),
        Metric(
            "run 1: the limits' bound (real seconds)",
            "; ".join(f"{k}: {fmt_s(real(v))}" for k, v in bound.bounds.items()),
        ),
        Metric("run 1: bottleneck", f"{bound.bottleneck}: {fmt_s(real(bound.seconds))}"),
        Metric(
            "run 1: achieved / bound throughput (requests per real second)",
            f"{achieved / time_scale:,.2f} / {possible / time_scale:,.2f}",
        ),
        Metric(
            "run 1: ratio",
            f"{bound.ratio:.1%}",
            f">= {_latency.RATIO_TARGET:.0%}",
            bound.ratio >= _latency.RATIO_TARGET,
        ),
        Metric(
            "429 answers (sandbox) / 503 busy refusals, all runs",
            f"{sum(r['bound'].rate_limited for r in runs)} / {sum(r['bound'].refused for r in runs)}",
            "0 / 0",
            all(r["bound"].rate_limited == 0 and r["bound"].refused == 0 for r in runs),
        ),
        Metric(
            "run 1: stages (real seconds)",
            ", ".join(f"{k} {fmt_s(real(v))}" for k, v in first["stage_seconds"].items()),
        ),
        Metric(
            "run 1: peak RSS of the client process (of which the run)",
            f"{first['peak_rss_mb']:,.0f} MB ({first['peak_rss_mb'] - first['rss_before_mb']:,.0f} MB)",
        ),
        Metric(
            "runs until every order was decided",
            f"{len(runs)}: "
            + "; ".join(
                f"run {i}: {fmt_s(real(r['seconds']))}, ratio {r['bound'].ratio:.0%}, "
                f"handed over {r['handed_over']['orders'] if r['handed_over'] else 0:,}"
                for i, r in enumerate(runs, 1)
            ),
        ),
        Metric(
            "FFN outbounds, max per order number; orders still open in the ledger",
            f"{sum(numbers.values()):,}, {max(numbers.values(), default=0)}; {ledger_open}",
            "1 per number; 0 open",
            max(numbers.values(), default=0) <= 1 and ledger_open == 0,
        ),
    ]
    notes = [
        *_latency.profile_notes(config),
        f"Each run: the service pipeline (run_order_processing) with the merchant's defaults (workers, "
        f"chunk size, time budget {_default_budget()} s) in a freshly spawned process, as a "
        "schedule starts it; the sandbox in a thread of the parent. Client limits set to the server's: "
        + ", ".join(f"{k}={v}" for k, v in sorted(_latency.client_limits(config).items()))
        + " (scaled).",
        "The bound: the largest of the Wawi workers' busy time (the sandbox's measured service times) "
        "divided by their number, and FFN's fixed window for its busiest endpoint (whole windows before "
        "the last). Ratio = bound / wall time. See docs/latency.md.",
        f"World: seed {seed}, {skus:,} SKUs, every order younger than 3 days and new, 1-5 lines, ample "
        "stock; about 5% invalid (held) and every 50th on hold by a person in Wawi (left alone).",
    ]
    raw = {"runs": runs, "lines": lines, "ledger_open": ledger_open}
    return Result(
        f"{NAME}-latency-{config.latency_profile().name}",
        f"order_processing under the `{config.latency_profile().name}` latency profile: {orders:,} new "
        "orders, scheduled runs until done (issue 17)",
        {"orders": orders, "skus": skus, "profile": config.latency_profile().name, "time_scale": time_scale},
        metrics,
        notes,
        raw,
        command=f".venv/bin/python -m benchmarks {NAME} --profile {config.latency_profile().name}"
        + (f" --time-scale {time_scale:g}" if time_scale != 1 else ""),
    )


def _default_budget() -> str:
    """The merchant's default time budget of a run, as text."""
    from jtl_automator.services.order_processing import OrderProcessingParams

    budget = OrderProcessingParams().time_budget_seconds
    return "none" if budget is None else f"{budget:g}"


def _open_orders(db_dir: str) -> int:
    """Orders the ledger still holds as imported (not decided) after the last run."""
    from jtl_automator.store import StateStore

    store = StateStore(f"sqlite:///{db_dir}/state.db")
    try:
        return len(store.orders_in_status(("imported",)))
    finally:
        store.dispose()
