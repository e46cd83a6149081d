"""Issue 12: the product sync Wawi -> FFN over loopback HTTP, full and incremental, requests vs lower bound.

A generated world of ``skus`` Wawi items and their FFN products is served by the sandbox; ``missing_share``
of the FFN products are deleted first, so the full run creates them (and authorises each for the world's
fulfiller). The generator lets origin countries and packaging units drift, so the full run also updates
many products. Four runs, each a freshly spawned client process:

1. **full, cold**: every Wawi item page, the manufacturers, every FFN product page; the item suppliers
   (packaging units -> bundles) are read once per item into the item cache; one write per changed product.
2. **full, warm**: the same reads with the supplier rows cached: the paging lower bound, nothing to write.
3. **incremental**: after ``changed_share`` of the Wawi items were edited (``Changed`` moves): one
   ``changedSince`` listing, the FFN products of those SKUs by ``$filter`` (or a listing, whichever is
   fewer requests), their supplier rows again (the item changed), one PATCH per changed product.
4. **incremental again**: nothing changed since: the reads only.

Lower bounds: every collection read in pages of the clients' size, plus one write per changed product
(created products add their authorisations and the one warehouse read that names the fulfillers); the
cold run's per-item supplier reads are counted apart, as what the packaging units cost the first time.
"""

from __future__ import annotations

import math
import os
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
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

NAME = "product_sync"
TITLE = "product_sync: 100,000 items Wawi -> FFN, full and incremental, over loopback HTTP (issue 12)"
#: Page size of both clients (JTL_FFN_PAGE_SIZE, JTL_WAWI_PAGE_SIZE defaults).
PAGE = 1000
#: ``$filter`` clauses per lookup request (FfnClient's FILTER_CLAUSES_MAX).
CLAUSES = 40
#: A run may spend this much over its lower bound (the token, empty last pages) and still pass.
REQUEST_SLACK = 1.05
#: The per-item Wawi reads an item listing's answers name (the bound's dependent chains).
DEPENDENTS = (("/v1/items", "/items/{id}/suppliers"), ("/v1/items", "/items/{id}/properties"))


def _sync(env: dict[str, str], full: bool, now: str) -> dict[str, Any]:
    """Client process: one product sync run, as the flow does it, without Prefect."""
    os.environ.update(env)
    from jtl_automator.clients.ffn.client import FfnClient
    from jtl_automator.clients.wawi.client import WawiClient
    from jtl_automator.services.product_sync import run_product_sync
    from jtl_automator.settings import Settings
    from jtl_automator.store import StateStore

    settings = Settings(_env_file=None)
    store = StateStore(settings.database_url)
    ffn, wawi = FfnClient.from_settings(settings, store), WawiClient.from_settings(settings)
    rss_before = rss_mb()
    reset_peak_rss()
    start = time.perf_counter()
    result = run_product_sync(
        wawi,
        ffn,
        store,
        full=full,
        run_id="bench-full" if full else "bench-incr",
        now=datetime.fromisoformat(now),
    )
    seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "mode": result["mode"],
        "counts": result["counts"],
        "outcomes": result["outcomes"],
        "reads": result["requests"],
        "peak_rss_mb": peak_rss_mb(),
        "rss_before_mb": rss_before,
    }


def _edit_items(state: Any, share: float, seed: int, moment: datetime) -> int:
    """A Wawi user edits ``share`` of the items (new name, longer box); ``Changed`` moves to ``moment``."""
    items = sorted(state.data.wawi.items)
    rng = random.Random(seed)
    picked = rng.sample(items, max(1, round(len(items) * share)))
    stamp = moment.isoformat()
    with state.data.lock:
        for item_id in picked:
            item = state.data.wawi.items[item_id]
            item["Name"] = f"{item['Name']} (neu)"[:255]
            item["Dimensions"]["Length"] = round(float(item["Dimensions"]["Length"] or 10) + 1.5, 1)
            item["Changed"] = stamp
    return len(picked)


def run(
    skus: int = 100_000,
    missing_share: float = 0.01,
    changed_share: float = 0.01,
    seed: int = 42,
) -> Result:
    """Full (cold, warm) then incremental syncs against one world; see the module docstring."""
    begin = time.perf_counter()
    data = generate(seed=seed, skus=skus, orders=20, warehouses=2, customers=20, suppliers=5)
    rng = random.Random(seed)
    removed = rng.sample(sorted(data.ffn.products), max(1, round(skus * missing_share)))
    for jfsku in removed:
        del data.ffn.products[jfsku]
    fulfillers = len({str(w.get("fulfillerId")) for w in data.ffn.warehouses.values()})
    built = time.perf_counter() - begin
    config = SandboxConfig(seed=seed)
    runs: dict[str, dict[str, Any]] = {}
    moment = datetime.now(UTC)
    with (
        tempfile.TemporaryDirectory(prefix="bench-products-") as db_dir,
        serve_sandbox(data, config) as (info, state, _server),
    ):
        env = client_env(info, config, db_dir, JTL_FFN_PAGE_SIZE=str(PAGE), JTL_WAWI_PAGE_SIZE=str(PAGE))
        for name, full, at in (
            ("full_cold", True, moment),
            ("full_warm", True, moment + timedelta(minutes=1)),
        ):
            before = served_by_api(state)
            runs[name] = in_subprocess(_sync, env, full, at.isoformat())
            runs[name]["requests"] = dict(served_by_api(state) - before)
        changed = _edit_items(state, changed_share, seed, moment + timedelta(minutes=2))
        for name, at in (
            ("incremental", moment + timedelta(minutes=3)),
            ("again", moment + timedelta(hours=1)),
        ):
            before = served_by_api(state)
            runs[name] = in_subprocess(_sync, env, False, at.isoformat())
            runs[name]["requests"] = dict(served_by_api(state) - before)

    def pages(n: int) -> int:
        return max(1, math.ceil(n / PAGE))

    def sent(name: str) -> int:
        return int(runs[name]["requests"].get("ffn", 0) + runs[name]["requests"].get("wawi", 0))

    def writes(name: str) -> int:
        counts: dict[str, int] = runs[name]["counts"]
        created = int(counts["created"])
        return created + counts["updated"] + counts["rejected"] + created * fulfillers + (1 if created else 0)

    def bound(name: str) -> tuple[int, int]:
        """(paging lower bound + writes, the per-item supplier reads the run needed) of one run."""
        reads, full = runs[name]["reads"], runs[name]["mode"] == "full"
        items = reads["wawi_items"]
        if full:
            paging = pages(items) + 1 + pages(reads["ffn_products"])
        else:
            paging = pages(items) + 1 + (min(math.ceil(items / CLAUSES), pages(skus)) if items else 0)
        return paging + writes(name), int(reads["supplier_reads"])

    bounds = {name: bound(name) for name in runs}
    ratio = {name: sent(name) / sum(bounds[name]) for name in runs}
    cold, incr = runs["full_cold"], runs["incremental"]

    def checked(name: str, label: str) -> Metric:
        paging, suppliers = bounds[name]
        shown = f"{paging:,}" + (f" + {suppliers:,} supplier reads" if suppliers else "")
        return Metric(
            f"{label}: requests / lower bound",
            f"{sent(name):,} / {shown} = {fmt_x(ratio[name])}",
            f"<= {REQUEST_SLACK:.2f}x",
            ratio[name] <= REQUEST_SLACK,
        )

    def counts(name: str) -> str:
        return ", ".join(f"{k} {v:,}" for k, v in runs[name]["counts"].items())

    def requests(name: str) -> str:
        return ", ".join(f"{k} {v:,}" for k, v in sorted(runs[name]["requests"].items()))

    metrics = [
        Metric(
            "Wawi items / FFN products before the run (deleted to be created)",
            f"{skus:,} / {skus - len(removed):,} ({len(removed):,})",
        ),
        Metric(
            "lower bound of a run",
            "pages of 1,000 (Wawi items, FFN products; incremental: the changed items and their FFN "
            "products by $filter in chunks of 40 or a listing, whichever is fewer) + manufacturers + 1 "
            "write per changed product (created: + its authorisations + 1 warehouse read) + the supplier "
            "reads the run needed (packaging units: once per item, again when it changed)",
        ),
        Metric("full (cold cache): products", counts("full_cold")),
        Metric("full (cold cache): wall time", fmt_s(cold["seconds"])),
        Metric("full (cold cache): requests (sandbox count)", requests("full_cold")),
        checked("full_cold", "full (cold cache)"),
        Metric(
            "full (cold cache): rejected products",
            str(cold["counts"]["rejected"]),
            "0",
            cold["counts"]["rejected"] == 0,
        ),
        Metric("full (warm cache): products", counts("full_warm")),
        Metric("full (warm cache): wall time", fmt_s(runs["full_warm"]["seconds"])),
        checked("full_warm", "full (warm cache)"),
        Metric(
            "full (warm cache): writes",
            str(runs["full_warm"]["counts"]["created"] + runs["full_warm"]["counts"]["updated"]),
            "0",
            runs["full_warm"]["counts"]["created"] + runs["full_warm"]["counts"]["updated"] == 0,
        ),
        Metric("incremental: Wawi items edited", fmt_int(changed)),
        Metric("incremental: products", counts("incremental")),
        Metric("incremental: wall time", fmt_s(incr["seconds"])),
        Metric("incremental: requests (sandbox count)", requests("incremental")),
        checked("incremental", "incremental"),
        Metric(
            "incremental: products updated / items edited",
            f"{incr['counts']['updated']:,} / {changed:,}",
            "= edited",
            incr["counts"]["updated"] == changed,
        ),
        Metric("an hour later, nothing changed: products", counts("again")),
        checked("again", "an hour later, nothing changed (the 10-minute overlap reads the edits again)"),
        Metric(
            "peak RSS of the client process: full cold / incremental",
            f"{cold['peak_rss_mb']:,.0f} MB / {incr['peak_rss_mb']:,.0f} MB",
        ),
    ]
    notes = [
        f"World generated in {fmt_s(built)} (seed {seed}, {skus:,} items, {fulfillers} fulfiller); "
        f"{len(removed):,} FFN products deleted before the first run, so it creates them.",
        "Each run is a freshly spawned client process (FfnClient and WawiClient from settings, SQLite state "
        "database in a temporary directory, client rate limits unthrottled); the sandbox serves from a "
        "thread of this process and counts the requests per API (the token request is among the FFN ones).",
        "The supplier rows (packaging units -> FFN bundles) are the one per-item read: Wawi 1.0 has no bulk "
        "read of item suppliers. They are kept in the item cache and read again only for changed items or "
        "after packaging_max_age_hours (default a week), which the warm and incremental runs show.",
        f"Reads per run: cold {cold['reads']}; incremental {incr['reads']}; again {runs['again']['reads']}.",
    ]
    raw = {
        **runs,
        "changed": changed,
        "removed": len(removed),
        "bounds": bounds,
        "ratio": ratio,
        "sent": {name: sent(name) for name in runs},
    }
    return Result(
        NAME,
        TITLE,
        {"skus": skus, "missing_share": missing_share, "changed_share": changed_share},
        metrics,
        notes,
        raw,
    )


# --- latency mode (issue 17) ------------------------------------------------------------------------------


#: How often the warm run (nothing to write) is measured; the fastest counts, on loopback and under latency.
WARM_REPEATS = 3
#: Incremental runs measured, each after its own edits: one run of a few seconds is one draw of the long
#: tail (66 % to 118 % of its bound, same client, eight draws); the median run is reported.
INCREMENTAL_REPEATS = 5


def _sync_latency(env: dict[str, str], full: bool, now: str, run_id: str) -> dict[str, Any]:
    """Client process: one product sync run with the merchant's defaults, its reads and writes timed."""
    from benchmarks._latency_report import measured_client_run
    from jtl_automator.services.product_sync import run_product_sync
    from jtl_automator.services.product_sync.pipeline import LocalStages

    moment = datetime.fromisoformat(now)
    result, measured = measured_client_run(
        env,
        LocalStages,
        {"listings": "load", "supplier reads, plan and FFN writes, overlapped": "apply"},
        lambda wawi, ffn, store: run_product_sync(wawi, ffn, store, full=full, run_id=run_id, now=moment),
    )
    return {**measured, "mode": result["mode"], "counts": result["counts"], "reads": result["requests"]}


def run_latency(
    profile: str = "default",
    skus: int = 5_000,
    missing_share: float = 0.01,
    changed_share: float = 0.01,
    seed: int = 42,
    time_scale: float = 1.0,
) -> Result:
    """Full (cold, warm) then incremental product syncs under a latency profile, each against the bound.

    Each run is the service pipeline with the merchant's defaults in a spawned process (as the schedule
    starts it); the world and the edits are the loopback benchmark's.
    """
    from benchmarks import _latency
    from benchmarks._latency_report import (
        each_ratio_metric,
        median_run,
        peaks,
        refusals_metric,
        run_metrics,
        scale_note,
    )
    from jtl_automator.services.product_sync import ProductSyncParams

    config = _latency.profile_config(profile, time_scale, seed)
    limits = _latency.client_limits(config)
    moment = datetime.now(UTC)

    def sequence(served: SandboxConfig) -> tuple[dict[str, dict[str, Any]], list[int], int]:
        """Cold, warm and incremental runs against a fresh world served with ``served``."""
        data = generate(seed=seed, skus=skus, orders=20, warehouses=2, customers=20, suppliers=5)
        rng = random.Random(seed)
        removed = rng.sample(sorted(data.ffn.products), max(1, round(skus * missing_share)))
        for jfsku in removed:
            del data.ffn.products[jfsku]
        runs: dict[str, dict[str, Any]] = {}
        with (
            tempfile.TemporaryDirectory(prefix="bench-products-latency-") as db_dir,
            serve_sandbox(data, served) as (info, state, _server),
        ):
            env = client_env(info, served, db_dir, **limits)

            def one(name: str, full: bool, at: datetime) -> dict[str, Any]:
                before = _latency.reset(state)
                run = in_subprocess(_sync_latency, env, full, at.isoformat(), f"latency-{name}")
                run["bound"] = _latency.measure(state, before, run["seconds"], DEPENDENTS)
                return run

            def measured(name: str, full: bool, at: datetime) -> None:
                runs[name] = one(name, full, at)

            measured("full_cold", True, moment)
            # the warm run changes nothing: the fastest of three with the same draws
            warm_at = moment + timedelta(minutes=1)
            runs["full_warm"] = _latency.fastest_of(
                state, WARM_REPEATS, lambda: one("full_warm", True, warm_at)
            )
            changed = []
            for repeat in range(INCREMENTAL_REPEATS):
                # an hour apart, each run's edits half an hour before it: outside the next run's overlap
                at = moment + timedelta(hours=repeat + 1)
                changed.append(_edit_items(state, changed_share, seed + repeat, at - timedelta(minutes=30)))
                measured(f"incremental_{repeat}", False, at)
        return runs, changed, len(removed)

    # the same runs without latency first: each one's own work is a term of its bound
    loopback, _, _ = sequence(_latency.profile_config("none", time_scale, seed))
    runs, changed, removed = sequence(config)
    for run_name, run in runs.items():
        run["loopback_seconds"] = loopback[run_name]["seconds"]
        run["bound"] = _latency.with_floor(run["bound"], loopback[run_name]["seconds"])
    name = config.latency_profile().name

    def counts(run: str) -> str:
        return ", ".join(f"{k} {v:,}" for k, v in runs[run]["counts"].items() if v) or "none"

    repeats = [f"incremental_{repeat}" for repeat in range(INCREMENTAL_REPEATS)]
    median = median_run(runs, repeats)
    cold, warm, incr = runs["full_cold"], runs["full_warm"], runs[median]
    each = [(runs[r], edited) for r, edited in zip(repeats, changed, strict=True)]
    metrics = [
        Metric(
            "Wawi items / FFN products before the run (deleted to be created)",
            f"{skus:,} / {skus - removed:,} ({removed:,})",
        ),
        Metric(
            "full (cold cache): products",
            counts("full_cold"),
            "0 rejected",
            cold["counts"]["rejected"] == 0,
        ),
        *run_metrics("full (cold cache)", cold, time_scale),
        Metric("full (warm cache): products", counts("full_warm")),
        *run_metrics("full (warm cache)", warm, time_scale),
        Metric(
            f"incremental ({INCREMENTAL_REPEATS} runs, each after its own edits): products updated / items "
            "edited",
            ", ".join(f"{run['counts']['updated']:,} / {edited:,}" for run, edited in each),
            "= edited",
            all(run["counts"]["updated"] == edited for run, edited in each),
        ),
        each_ratio_metric("incremental", (run for run, _ in each), time_scale),
        *run_metrics("incremental (the median run)", incr, time_scale),
        refusals_metric(runs.values()),
        Metric(
            "full cold / incremental: peak RSS of the client process; in flight",
            f"{peaks(cold)} / {peaks(incr)}",
        ),
    ]
    notes = [
        *_latency.profile_notes(config),
        f"The warm run (it writes nothing) is measured {WARM_REPEATS} times in a row on loopback and under "
        "the profile, each time with the same latency draws; the fastest counts (on a shared machine a "
        "second's run varies by a third between repeats).",
        scale_note(
            f"{skus:,} items (issue 12: 100,000), {removed:,} FFN products deleted first, seed {seed}",
            time_scale,
        ),
        "Each run: run_product_sync with the merchant's defaults (ProductSyncParams(): "
        f"{ProductSyncParams().workers} workers) in a freshly spawned process; the sandbox in a thread "
        "of the parent. Client limits set to the server's: "
        + ", ".join(f"{k}={v}" for k, v in sorted(_latency.client_limits(config).items()))
        + " (scaled). Wall time split: listings = the load stage (Wawi items and manufacturers, FFN "
        "products alongside); then one overlapped stage: the supplier rows of the items not cached are read "
        "(one per item), and each chunk of answers is planned and its FFN creates, authorisations and "
        "updates sent while the next chunk is read.",
        "The bound: the largest of the Wawi workers' busy time (the sandbox's measured service times) "
        "divided by their number, Wawi's longest answers and listing chain, the item listing's page 1 "
        "followed by the supplier reads it names (their busy time over the workers), FFN's fixed window "
        "for its busiest endpoint, and the run's own work: the same runs against the same world "
        "without latency, measured first. Ratio = bound / wall time. See docs/latency.md.",
        f"The incremental run is measured {INCREMENTAL_REPEATS} times, an hour apart on the sync's clock, "
        f"each after a Wawi user edited {changed_share:.0%} of the items (a sample of its own): a run of a "
        "few seconds meets a few dozen draws of Wawi's long tail, and one draw decides where its last "
        "answer falls (a hand harness saw 66 % to 118 % of the bound for the same client). The rows "
        "below the per-run ratios are the median run's.",
        f"Reads per run: cold {cold['reads']}; warm {warm['reads']}; incremental (median) {incr['reads']}.",
        "Why a run can stay below the bound: the supplier reads of a small run cannot be spread evenly "
        "over the workers when one answer is long (the schedule learns their lengths only as they come), "
        "and the last chunk's writes follow its reads; a run that only "
        "lists (warm cache) is bound by the client's own CPU over every item (the CPU row); small runs "
        "(incremental) meet one long answer against a bound of a few seconds.",
    ]
    raw = {
        **runs,
        "incremental": incr,
        "changed": changed[repeats.index(median)],
        "changed_each": changed,
        "removed": removed,
    }
    return Result(
        f"{NAME}-latency-{name}",
        f"product_sync under the `{name}` latency profile: {skus:,} items Wawi -> FFN, full (cold, warm) "
        "and incremental (issue 17)",
        {"skus": skus, "profile": name, "time_scale": time_scale},
        metrics,
        notes,
        raw,
        command=f".venv/bin/python -m benchmarks {NAME} --profile {name}"
        + (f" --time-scale {time_scale:g}" if time_scale != 1 else ""),
    )
