"""Issue 12: a pricing run over the sandbox writes only changed prices, with reads at the paging lower bound.

A generated world of ``skus`` items is served by the sandbox over loopback HTTP; the pricing service runs
in a spawned client process, as the flow runs it without Prefect, with base-price rules (cost-plus per
category, no change limit, no approval threshold: every rule price is written at once). Three runs:

1. the first run writes every price the rules change: the PATCH requests sent must equal its ``apply`` rows;
2. a rerun finds every price in place: no PATCH at all;
3. after ``changed_share`` of the items got a new purchase price in Wawi, a run writes only the prices
   that moved (its ``apply`` rows), none of the others.

Reads: the item and category pages plus a few requests (manufacturers, company, the tax classes, one tax
rate per class), against the lower bound ``ceil(items / page) + ceil(categories / page) + 3 + classes``;
each base price written also reads its item's price group just before (a PATCH may replace the group
whole: see ``Items.set_base_price``), counted with its write, not in the reads. The arithmetic of
100,000 prices against bare pandas is ``pricing_100k``.
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
    in_subprocess,
    serve_sandbox,
    served_by_api,
)
from jtl_automator.sandbox.config import SandboxConfig
from jtl_automator.sandbox.generator import generate

NAME = "pricing_writes"
TITLE = "pricing_writes: a pricing run over the sandbox writes only the changed prices (issue 12)"
PAGE = 1000
#: Reads may exceed the lower bound by this much (an empty last page, the token) and still pass.
REQUEST_SLACK = 1.05
RULES: dict[str, Any] = {
    "rules": [
        {
            "name": "food",
            "match": {"category": "Lebensmittel"},
            "strategy": "target_margin",
            "margin_pct": 45,
            "endings": [0.99, 0.49],
            "floor_pct": 15,
            "max_change_pct": None,
            "approval_threshold_pct": None,
        },
        {
            "name": "rest",
            "strategy": "cost_plus",
            "markup_pct": 100,
            "endings": [0.99, 0.90],
            "floor_pct": 15,
            "max_change_pct": None,
            "approval_threshold_pct": None,
        },
    ]
}


def _price(env: dict[str, str], run_id: str) -> dict[str, Any]:
    """Client process: one pricing run, counting the write requests it sends."""
    os.environ.update(env)
    import httpx

    from jtl_automator.clients.wawi.client import WawiClient
    from jtl_automator.services.pricing import run_pricing
    from jtl_automator.settings import Settings
    from jtl_automator.store import StateStore
    from jtl_automator.transforms.pricing import PricingRules

    sent: dict[str, int] = {}

    def count(request: httpx.Request) -> None:
        sent[request.method] = sent.get(request.method, 0) + 1

    settings = Settings(_env_file=None)
    store = StateStore(settings.database_url)
    http = httpx.Client(timeout=settings.http_timeout_seconds, event_hooks={"request": [count]})
    wawi = WawiClient.from_settings(settings, http=http)
    start = time.perf_counter()
    result = run_pricing(
        wawi,
        store,
        PricingRules.model_validate(RULES),
        run_id=run_id,
        output=os.path.join(env["BENCH_DIR"], f"{run_id}.xlsx"),
    )
    seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "statuses": result["statuses"],
        "writes": result["writes"],
        "history": len(store.price_history(run_id=run_id)),
        "sent": sent,
    }


def raise_purchase_prices(state: Any, count: int, seed: int) -> list[int]:
    """New purchase prices (+18 %) for ``count`` of the sandbox's Wawi items (at least one), drawn by
    ``seed``."""
    items = state.data.wawi.items
    moved = random.Random(seed).sample(sorted(items), max(1, count))
    with state.data.lock:
        for item_id in moved:
            prices = items[item_id]["ItemPriceData"]
            prices["PurchasePriceNet"] = round(float(prices["PurchasePriceNet"]) * 1.18, 2)
    return moved


def run(skus: int = 20_000, changed_share: float = 0.05, seed: int = 7) -> Result:
    """Three runs over one generated world: first, again, after new purchase prices."""
    data = generate(seed=seed, skus=skus, orders=10, customers=10)
    config = SandboxConfig()
    categories = len(data.wawi.categories)
    # + manufacturers, company, the tax class list and a rate per class (each read ahead of the pages)
    tax_classes = len(data.wawi.tax_classes)
    bound = math.ceil(skus / PAGE) + math.ceil(categories / PAGE) + 3 + tax_classes
    with tempfile.TemporaryDirectory() as tmp, serve_sandbox(data, config) as (info, state, _server):
        env = client_env(info, config, tmp, BENCH_DIR=tmp)
        before = served_by_api(state)["wawi"]
        first = in_subprocess(_price, env, "first")
        # a base price is written with its whole price group, read just before (a PATCH may replace it)
        first_reads = first["sent"].get("GET", 0) - first["statuses"].get("apply", 0)
        again = in_subprocess(_price, env, "again")
        moved = raise_purchase_prices(state, int(skus * changed_share), seed)
        third = in_subprocess(_price, env, "after")
        served = served_by_api(state)["wawi"] - before
    writes = {
        name: r["sent"].get("PATCH", 0) + r["sent"].get("POST", 0)
        for name, r in (("first", first), ("again", again), ("after", third))
    }
    applied = {
        name: r["statuses"].get("apply", 0)
        for name, r in (("first", first), ("again", again), ("after", third))
    }
    exact = all(writes[n] == applied[n] for n in writes) and writes["again"] == 0
    reads_ok = first_reads <= bound * REQUEST_SLACK
    metrics = [
        Metric("items / categories / tax classes", f"{fmt_int(skus)} / {categories} / {tax_classes}"),
        Metric(
            "first run: prices changed (apply) / PATCH requests sent",
            f"{fmt_int(applied['first'])} / {fmt_int(writes['first'])}",
            "equal",
            writes["first"] == applied["first"],
        ),
        Metric(
            "rerun: prices changed / PATCH requests",
            f"{applied['again']} / {writes['again']}",
            "0 / 0",
            writes["again"] == 0 and applied["again"] == 0,
        ),
        Metric(
            f"after new purchase prices for {fmt_int(len(moved))} items: changed / PATCH requests",
            f"{fmt_int(applied['after'])} / {fmt_int(writes['after'])}",
            f"equal, at most {fmt_int(len(moved))}",
            writes["after"] == applied["after"] <= len(moved),
        ),
        Metric(
            "history rows = writes (each run)",
            ", ".join(f"{r['history']}" for r in (first, again, third)),
            "equal",
            [first["history"], again["history"], third["history"]]
            == [writes["first"], writes["again"], writes["after"]],
        ),
        Metric(
            "first run: GET requests (without the group read before each write) / lower bound",
            f"{first_reads} / {bound}",
            f"<= {REQUEST_SLACK:g}x",
            reads_ok,
        ),
        Metric(
            "run times (first, rerun, after)", ", ".join(fmt_s(r["seconds"]) for r in (first, again, third))
        ),
        Metric("Wawi requests the sandbox served, all runs", fmt_int(served)),
    ]
    notes = [
        "Writes are counted in the client process (every PATCH/POST it sent, retries included: none here); "
        "the sandbox's own counter of all Wawi requests is the last line.",
        f"Read lower bound: ceil({skus:,} / {PAGE}) item pages + category pages + manufacturers + company "
        f"+ the tax class list + one tax rate per tax class ({tax_classes}).",
    ]
    raw = {
        "writes": writes,
        "applied": applied,
        "exact": exact,
        "reads": first_reads,
        "bound": bound,
        "moved": len(moved),
        "history": [first["history"], again["history"], third["history"]],
    }
    return Result(NAME, TITLE, {"skus": skus, "changed_share": changed_share}, metrics, notes, raw)


# --- latency mode (issue 17) ------------------------------------------------------------------------------


#: How often the rerun (nothing to write) is measured; the fastest counts, on loopback and under latency.
#: Runs after new purchase prices measured (the median reported: one run is one draw of the long tail).
AFTER_REPEATS = 5
RERUN_REPEATS = 3


def _price_latency(env: dict[str, str], run_id: str) -> dict[str, Any]:
    """Client process: one pricing run with the merchant's defaults, its reads and writes timed."""
    from benchmarks._latency_report import measured_client_run
    from jtl_automator.services.pricing import run_pricing
    from jtl_automator.services.pricing.pipeline import LocalStages
    from jtl_automator.transforms.pricing import PricingRules

    output = os.path.join(env["BENCH_DIR"], f"{run_id}.xlsx")
    result, measured = measured_client_run(
        env,
        LocalStages,
        {"reads": "load", "writes": "write", "pages read, priced and written, overlapped": "price_and_write"},
        lambda wawi, _ffn, store: run_pricing(
            wawi, store, PricingRules.model_validate(RULES), run_id=run_id, output=output
        ),
        ffn=False,
    )
    return {**measured, "statuses": result["statuses"], "writes": result["writes"]}


def run_latency(
    profile: str = "default",
    skus: int = 5_000,
    changed_share: float = 0.05,
    seed: int = 7,
    time_scale: float = 1.0,
) -> Result:
    """The loopback benchmark's three pricing runs (first, rerun, after new purchase prices) under a
    latency profile, each against the least time the on-premise Wawi's workers allow for its requests."""
    from benchmarks import _latency
    from benchmarks._latency_report import (
        each_ratio_metric,
        median_run,
        peaks,
        refusals_metric,
        run_metrics,
        scale_note,
    )
    from jtl_automator.services.pricing import PricingParams

    config = _latency.profile_config(profile, time_scale, seed)
    limits = _latency.client_limits(config)

    def sequence(served: SandboxConfig) -> tuple[dict[str, dict[str, Any]], list[list[int]]]:
        """First run, rerun, and a run after new purchase prices, against a fresh world served with
        ``served``."""
        data = generate(seed=seed, skus=skus, orders=10, customers=10)
        runs: dict[str, dict[str, Any]] = {}
        with (
            tempfile.TemporaryDirectory(prefix="bench-pricing-latency-") as tmp,
            serve_sandbox(data, served) as (info, state, _server),
        ):
            env = client_env(info, served, tmp, BENCH_DIR=tmp, **limits)

            def one(name: str) -> dict[str, Any]:
                before = _latency.reset(state)
                run = in_subprocess(_price_latency, env, f"latency-{name}")
                run["bound"] = _latency.measure(state, before, run["seconds"])
                return run

            def measured(name: str) -> None:
                runs[name] = one(name)

            measured("first")
            # the rerun writes nothing: the fastest of three with the same draws (a second's run is as
            # noisy as it is long on a shared machine)
            runs["again"] = _latency.fastest_of(state, RERUN_REPEATS, lambda: one("again"))
            moved = []
            for repeat in range(AFTER_REPEATS):  # each after new purchase prices of its own
                moved.append(raise_purchase_prices(state, int(skus * changed_share), seed + repeat))
                measured(f"after_{repeat}")
        return runs, moved

    # the same runs without latency first: each one's own work is a term of its bound
    loopback, _ = sequence(_latency.profile_config("none", time_scale, seed))
    runs, moved = sequence(config)
    for run_name, run in runs.items():
        run["loopback_seconds"] = loopback[run_name]["seconds"]
        run["bound"] = _latency.with_floor(run["bound"], loopback[run_name]["seconds"])
    name = config.latency_profile().name
    applied = {run: runs[run]["statuses"].get("apply", 0) for run in runs}
    repeats = [f"after_{repeat}" for repeat in range(AFTER_REPEATS)]
    after = median_run(runs, repeats)
    applied["after"] = applied[after]
    each = [(runs[r], applied[r], len(raised)) for r, raised in zip(repeats, moved, strict=True)]
    metrics = [
        Metric("items", fmt_int(skus)),
        Metric("first run: prices changed (apply)", fmt_int(applied["first"])),
        *run_metrics("first run", runs["first"], time_scale),
        Metric("rerun: prices changed", str(applied["again"]), "0", applied["again"] == 0),
        *run_metrics("rerun (reads only)", runs["again"], time_scale),
        Metric(
            f"after new purchase prices ({AFTER_REPEATS} runs, each after new prices for "
            f"{fmt_int(len(moved[0]))} items): prices changed",
            ", ".join(fmt_int(changed) for _, changed, _ in each),
            f"<= {fmt_int(len(moved[0]))}",
            all(changed <= raised for _, changed, raised in each),
        ),
        each_ratio_metric("after new purchase prices", (run for run, _, _ in each), time_scale),
        *run_metrics("after new purchase prices (the median run)", runs[after], time_scale),
        refusals_metric(runs.values()),
        Metric(
            "first run / after (median): peak RSS of the client process; in flight",
            f"{peaks(runs['first'])} / {peaks(runs[after])}",
        ),
    ]
    notes = [
        *_latency.profile_notes(config),
        f"The rerun (it writes nothing) is measured {RERUN_REPEATS} times in a row on loopback and under "
        "the profile, each time with the same latency draws; the fastest counts (on a shared machine a "
        "second's run varies by a third between repeats).",
        scale_note(f"{skus:,} items, seed {seed}", time_scale),
        "Each run: run_pricing with the benchmark's base-price rules and the merchant's defaults "
        f"(PricingParams(): {PricingParams().workers} write workers) in a freshly spawned process; the "
        "sandbox in a thread of the parent. Client limits set to the server's: "
        + ", ".join(f"{k}={v}" for k, v in sorted(_latency.client_limits(config).items()))
        + " (scaled). Wall time split: with these base-price rules each item page is priced as it is read "
        "and its writes (per changed price: its item's price group read, then the PATCH) go out while the "
        "next pages come (the overlapped stage); rules that need every item first (channel prices, "
        "suppliers, markdowns) read (load), then write.",
        "The bound: the Wawi workers' busy time (the sandbox's measured service times) divided by their "
        "number, Wawi's longest answers and listing chain (pricing talks to Wawi only), and the run's own "
        "work: the same runs against the same world without latency, measured first. Ratio = bound "
        "/ wall time. See docs/latency.md.",
        f"The run after new purchase prices is measured {AFTER_REPEATS} times, each after new prices for "
        "a sample of its own: one run meets one draw of Wawi's long tail (a 10 s stall or "
        "none), which decides its ratio; the rows below the per-run ratios are the median run's.",
        "Why a run can stay below the bound: a run with few writes (rerun, after) spends most of its time "
        "listing and pricing every item on the client's CPU (the CPU row); its last write waits for the "
        "long tail's slowest answer (the longest-answer row).",
    ]
    raw = {**runs, "after": runs[after], "applied": applied, "moved": len(moved[0])}
    return Result(
        f"{NAME}-latency-{name}",
        f"pricing_writes under the `{name}` latency profile: {skus:,} items, first run, rerun, after new "
        "purchase prices (issue 17)",
        {"skus": skus, "changed_share": changed_share, "profile": name, "time_scale": time_scale},
        metrics,
        notes,
        raw,
        command=f".venv/bin/python -m benchmarks {NAME} --profile {name}"
        + (f" --time-scale {time_scale:g}" if time_scale != 1 else ""),
    )
