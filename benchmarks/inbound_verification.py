"""Issue 4: the inbound verification service end to end over HTTP, without Prefect.

A 100,000-SKU sandbox world and a 20,000-row "Inbound Control" sheet built from its inbounds (every
status in the mix, German unit formats, stray whitespace, invalid rows, duplicates, blank rows). A
client process runs read_inbound_sheet -> load_products -> load_inbound_items -> verify ->
write_results (re-check, then one batched write) against the sandbox's FFN and Sheets APIs, and reports
wall time, peak memory and request counts; the parent checks what landed in the sheet. The original service's
per-row approach (one ``GET /stocks/{jfsku}`` per row) is timed on a sample and extrapolated.
"""

from __future__ import annotations

import math
import random
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
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
    peak_rss_mb,
    reset_peak_rss,
    rss_mb,
    serve_sandbox,
)
from jtl_automator.runtime import freeze_startup_objects
from jtl_automator.sandbox.config import SandboxConfig
from jtl_automator.sandbox.data import SandboxData, Spreadsheet, Worksheet
from jtl_automator.sandbox.generator import generate

NAME = "inbound_verification"
TITLE = "inbound_verification: 100,000-SKU catalogue, 20,000-row Inbound Control sheet over HTTP (issue 4)"
SPREADSHEET_ID = "bench-inbound-control"
WORKSHEET = "Inbound Control"
HEADER = ["SKU", "Units", "Inbound", "Status", "Note", "Checked", "Lieferant"]
TITLE_ROWS = 2
PAGE = 1000


def _units_text(units: int, rng: random.Random) -> Any:
    """How people type a count: mostly plain, sometimes German-grouped, padded, ``12,0`` or a number cell."""
    roll = rng.random()
    if units >= 1000 and roll < 0.5:
        return f"{units:,}".replace(",", ".")
    if roll < 0.05:
        return f" {units} "
    if roll < 0.08:
        return f"{units},0"
    if roll < 0.20:
        return units  # a number cell (UNFORMATTED_VALUE hands it over as a number)
    return str(units)


def build_sheet(data: SandboxData, rows: int, seed: int) -> tuple[list[list[Any]], Counter[str]]:
    """The Inbound Control grid: title rows, header, then ``rows`` rows; returns it and the row kinds."""
    rng = random.Random(seed)
    sku_of = {jfsku: p["merchantSku"] for jfsku, p in data.ffn.products.items()}
    pairs = [(inbound, item) for inbound in data.ffn.inbounds.values() for item in inbound["items"]]
    rng.shuffle(pairs)
    kinds: Counter[str] = Counter()
    out: list[list[Any]] = []
    written: list[tuple[str, str]] = []
    supplier = "Lindner Import GmbH"
    for i in range(rows):
        inbound, item = pairs[i % len(pairs)]
        sku, number = sku_of[item["jfsku"]], inbound["merchantInboundNumber"]
        quantity = int(item["quantity"])
        roll = rng.random()
        kind = "sent"
        units: Any = _units_text(quantity, rng)
        if i >= len(pairs):  # a tiny world has fewer items than rows: the extra rows repeat pairs
            kind = "duplicate"
        elif roll < 0.05:
            kind = "miscounted"
            units = str(max(0, quantity + rng.choice((-3, -1, 1, 2, 10))))
        elif roll < 0.06:
            kind, sku = "unknown_sku", f"ZZ-{90000 + i}"
        elif roll < 0.07:
            kind, number = "unknown_inbound", f"ANL-1999-{i:05d}"
        elif roll < 0.08:
            kind = "invalid"
            sku, units = rng.choice(((sku, "abc"), (sku, "-5"), (sku, "1,5"), ("", units), (sku, "")))
        elif roll < 0.09 and written:
            kind = "duplicate"
            sku, number = written[rng.randrange(len(written))]
        elif roll < 0.095:
            kind = "blank"
            out.append(["", "", "", "", "", "", ""])
            kinds[kind] += 1
            continue
        elif roll < 0.12:
            kind, sku = "padded_sku", f"  {sku} "
        written.append((sku, number))
        kinds[kind] += 1
        out.append([sku, units, number, "", "", "", supplier])
    title = [
        ["Inbound Control – Anlieferungen (Benchmark)", "", "", "", "", "", ""],
        ["", "", "", "", "", "", ""],
    ]
    return [*title, HEADER, *out], kinds


def _verify(info: SandboxInfo, db_dir: str, naive_sample: int) -> dict[str, Any]:
    """Client process: the service functions in flow order, then the per-row baseline on a sample."""
    from jtl_automator.services import inbound_verification as svc
    from jtl_automator.sheets.gsheets import GoogleSheetsBackend
    from jtl_automator.transforms.inbound import status_counts

    assert info.service_account is not None
    ffn = ffn_client(info, db_dir, UNTHROTTLED_RATE)  # store migrations happen here, outside the timing
    backend = GoogleSheetsBackend(SPREADSHEET_ID, info.service_account, api_url=f"{info.base_url}/sheets")
    rss_before = rss_mb()
    reset_peak_rss()
    phases: dict[str, float] = {}
    start = last = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal last
        now = time.perf_counter()
        phases[name] = now - last
        last = now

    sheet = svc.read_inbound_sheet(backend, WORKSHEET, svc.SheetColumns())
    lap("read sheet")
    products = svc.load_products(ffn)
    lap("load products")
    product_requests = ffn.stats.requests
    items = svc.load_inbound_items(ffn, sheet.rows["inbound"].tolist())
    lap("load inbounds")
    results = svc.verify(sheet, products, items, None, svc.decide_mode(sheet, None))
    lap("verify")
    written = svc.write_results(backend, sheet, results, datetime.now(UTC)).cells
    lap("re-check and write back")
    seconds = time.perf_counter() - start
    peak = peak_rss_mb()
    out: dict[str, Any] = {
        "seconds": seconds,
        "phases": phases,
        "rss_before_mb": rss_before,
        "peak_rss_mb": peak,
        "rows": len(sheet.rows),
        "products": len(products),
        "inbound_items": len(items),
        "referenced_inbounds": len({r.strip() for r in sheet.rows["inbound"] if r.strip()}),
        "ffn_requests": ffn.stats.requests,
        "ffn_product_requests": product_requests,
        "sheets_client_requests": backend.stats.requests,
        "cells_written": written,
        "counts": status_counts(results),
    }

    # The original service: one stock call per row (its jfsku looked up in the catalogue just read).
    jfsku_of = dict(zip(products["merchant_sku"], products["jfsku"], strict=True))
    sample = [jfsku_of[s] for s in sheet.rows["sku"].str.strip() if s in jfsku_of][:naive_sample]
    before = ffn.stats.requests
    begin = time.perf_counter()
    for jfsku in sample:
        ffn.core.get_json(f"/v1/merchant/stocks/{jfsku}")
    out["naive"] = {"requests": ffn.stats.requests - before, "seconds": time.perf_counter() - begin}
    return out


def _sheets_requests(state: Any) -> Counter[str]:
    """Authenticated Sheets API requests so far, per endpoint (the sandbox's own counter)."""
    return Counter(state.runtime.get("sheets_requests", {}))


def run(skus: int = 100_000, rows: int = 20_000, naive_sample: int = 2_000, seed: int = 42) -> Result:
    """Generate, serve, run the service in a client process, check the written statuses."""
    begin = time.perf_counter()
    data = generate(seed=seed, skus=skus, orders=20, customers=20, suppliers=5)
    values, kinds = build_sheet(data, rows, seed)
    worksheet = Worksheet(WORKSHEET, 0, values, row_count=len(values) + 100, column_count=26)
    data.spreadsheets[SPREADSHEET_ID] = Spreadsheet(SPREADSHEET_ID, "Inbound Control", [worksheet])
    prepared = time.perf_counter() - begin
    total_inbounds = len(data.ffn.inbounds)
    config = SandboxConfig(seed=seed, sheets_requests_per_minute=100_000)  # 2 buckets of 100,000
    with (
        tempfile.TemporaryDirectory(prefix="bench-inbound-") as db_dir,
        serve_sandbox(data, config, service_account=True) as (info, state, _server),
    ):
        ffn_before, sheets_before = ffn_requests(state), _sheets_requests(state)
        out = in_subprocess(_verify, info, db_dir, naive_sample)
        served_ffn = ffn_requests(state) - ffn_before - out["naive"]["requests"]
        served_sheets = _sheets_requests(state) - sheets_before
        grid = worksheet.values

    writes = sum(v for k, v in served_sheets.items() if not k.endswith((".get", ".batchGet")))
    data_rows = grid[TITLE_ROWS + 1 :]
    statuses = Counter(str(r[3]) for r in data_rows if len(r) > 3 and r[3] != "")
    expected = {k: v for k, v in out["counts"].items() if v}
    if dict(statuses) != expected or sum(statuses.values()) != out["rows"]:
        raise AssertionError(f"sheet statuses {dict(statuses)} differ from the results {expected}")

    # at best one page per 1,000 inbounds wanted, and never more than it takes to list them all
    inbound_pages = math.ceil(min(out["referenced_inbounds"], total_inbounds) / PAGE)
    lower_ffn = math.ceil(out["products"] / PAGE) + inbound_pages
    lower_sheets = 5  # the header rows, the key columns, the re-check of both, one write
    per_row = out["naive"]["seconds"] / max(1, out["naive"]["requests"])
    naive_requests = out["ffn_product_requests"] + out["rows"]
    naive_seconds = out["seconds"] - out["phases"]["load inbounds"] + per_row * out["rows"]
    delta = out["peak_rss_mb"] - out["rss_before_mb"]
    metrics = [
        Metric(
            "sheet rows (non-blank) / products / inbound items loaded",
            f"{out['rows']:,} / {out['products']:,} / {out['inbound_items']:,}",
        ),
        Metric("wall time, sheet read to write-back", fmt_s(out["seconds"])),
        Metric("  phases", ", ".join(f"{k} {fmt_s(v)}" for k, v in out["phases"].items())),
        Metric(
            "peak RSS of the client process",
            f"{out['peak_rss_mb']:,.0f} MB",
        ),
        Metric("  of which the run (peak minus RSS after imports)", f"{delta:,.0f} MB"),
        Metric(
            "FFN requests (product pages + inbound $filter pages)",
            f"{out['ffn_product_requests']:,} + {out['ffn_requests'] - out['ffn_product_requests']:,} "
            f"= {out['ffn_requests']:,} (sandbox counted {served_ffn:,})",
        ),
        Metric(
            f"FFN lower bound: ceil({out['products']:,}/1000) + ceil(min({out['referenced_inbounds']:,} "
            f"referenced, {total_inbounds:,} existing inbounds)/1000)",
            fmt_int(lower_ffn),
        ),
        Metric("FFN requests / lower bound", fmt_x(out["ffn_requests"] / lower_ffn)),
        Metric(
            "Sheets requests by endpoint (sandbox)",
            ", ".join(f"{k} {v}" for k, v in sorted(served_sheets.items()))
            + f" = {sum(served_sheets.values())}",
            f"lower bound {lower_sheets} (4 reads + 1 write)",
        ),
        Metric(
            "Sheets write requests",
            str(writes),
            "1 (one batched write per run)",
            writes == 1,
        ),
        Metric(
            f"naive: one GET /stocks/{{jfsku}} per row, measured on {out['naive']['requests']:,} rows",
            f"{fmt_s(out['naive']['seconds'])} ({per_row * 1000:.2f} ms/request)",
        ),
        Metric(
            f"naive extrapolated to {out['rows']:,} rows (catalogue paged + 1 call per row)",
            f"{naive_requests:,} FFN requests, {fmt_s(naive_seconds)}",
        ),
        Metric("naive / bulk: FFN requests", fmt_x(naive_requests / out["ffn_requests"])),
        Metric("naive / bulk: wall time (loopback)", fmt_x(naive_seconds / out["seconds"])),
        Metric("statuses written", ", ".join(f"{k} {v:,}" for k, v in out["counts"].items())),
    ]
    notes = [
        f"World and sheet built in {fmt_s(prepared)} (seed {seed}, {total_inbounds:,} inbounds); sheet row "
        f"kinds as built: {', '.join(f'{k} {v:,}' for k, v in sorted(kinds.items()))}. The parent re-read "
        "the sandbox worksheet after the run and found exactly one status per non-blank row.",
        "Client process: FfnClient.from_settings (SQLite token store) and GoogleSheetsBackend (gspread) "
        "against the sandbox over loopback; the sandbox serves from a thread of the parent process.",
        "Peak memory is the spawned client process's VmHWM during the run (interpreter, pandas, gspread "
        "and the run's data); the second figure subtracts the RSS measured after imports and client "
        "set-up.",
        f"The naive figure is extrapolated: {out['naive']['requests']:,} rows' stocks were fetched one "
        f"request each and the measured {per_row * 1000:.2f} ms/request multiplied by {out['rows']:,} "
        "rows; the naive wall time keeps the sheet, catalogue, verify and write phases of the bulk run. "
        "A per-row product lookup (the original service had no jfsku) would double the requests.",
        f"Inbounds: {out['ffn_requests'] - out['ffn_product_requests']:,} requests for "
        f"{out['referenced_inbounds']:,} distinct references (unknown ones included); the lower bound "
        "counts one page per 1,000 inbounds, as if a single $filter could name them all or the full "
        f"listing ({math.ceil(total_inbounds / PAGE)} pages) were used. The sandbox evaluates $filter "
        "by scanning every inbound, so filtered requests are slow there (about 0.1 s for 20 references "
        "over 4,000 inbounds).",
        "Sheets reads: the top rows (to find the header), the key columns, and before writing the key "
        "columns and the header row again (rows inserted or deleted meanwhile are re-matched); the "
        "metadata request (worksheet titles and grid size) comes on top.",
    ]
    raw = {
        **out,
        "served_ffn": served_ffn,
        "served_sheets": dict(served_sheets),
        "sheet_writes": writes,
        "lower_ffn": lower_ffn,
        "statuses_in_sheet": dict(statuses),
        "kinds": dict(kinds),
    }
    return Result(
        NAME, TITLE, {"skus": skus, "rows": rows, "naive_sample": naive_sample}, metrics, notes, raw
    )


# --- latency mode (issue 17) ------------------------------------------------------------------------------


def _verify_latency(info: SandboxInfo, db_dir: str, env: dict[str, str]) -> dict[str, Any]:
    """Client process: the flow's sequence (sheet, catalogue with inbounds, verify, write) with the clients
    set to the profile's limits as a merchant would (``JTL_*`` from ``env``)."""
    import os

    os.environ.update(env)
    from jtl_automator.clients.ffn.client import FfnClient
    from jtl_automator.resilience import RateLimiter
    from jtl_automator.services import inbound_verification as svc
    from jtl_automator.settings import Settings
    from jtl_automator.sheets.gsheets import GoogleSheetsBackend
    from jtl_automator.store import StateStore
    from jtl_automator.transforms.inbound import status_counts

    assert info.service_account is not None
    settings = Settings(_env_file=None)
    ffn = FfnClient.from_settings(settings, StateStore(settings.database_url))
    per_minute = settings.sheets_requests_per_minute
    backend = GoogleSheetsBackend(
        SPREADSHEET_ID,
        info.service_account,
        api_url=f"{info.base_url}/sheets",
        limiter=RateLimiter(per_minute / 60, burst=max(1, per_minute // 6)),  # as the Sheets block builds it
    )
    rss_before = rss_mb()
    freeze_startup_objects()  # as a flow's run starts (its on_running hook)
    reset_peak_rss()
    phases: dict[str, float] = {}
    start = last = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal last
        now = time.perf_counter()
        phases[name] = now - last
        last = now

    sheet = svc.read_inbound_sheet(backend, WORKSHEET, svc.SheetColumns())
    lap("read sheet")
    products, items = svc.load_products_and_inbound_items(ffn, sheet.rows["inbound"].tolist())
    lap("load products and inbounds")
    results = svc.verify(sheet, products, items, None, svc.decide_mode(sheet, None))
    lap("verify")
    written = svc.write_results(backend, sheet, results, datetime.now(UTC)).cells
    lap("re-check and write back")
    return {
        "seconds": time.perf_counter() - start,
        "phases": phases,
        "rss_before_mb": rss_before,
        "peak_rss_mb": peak_rss_mb(),
        "rows": len(sheet.rows),
        "products": len(products),
        "cells_written": written,
        "counts": status_counts(results),
        "client_429": ffn.stats.rate_limited + backend.stats.rate_limited,
    }


def run_latency(
    profile: str = "default", skus: int = 100_000, rows: int = 20_000, seed: int = 42, time_scale: float = 1.0
) -> Result:
    """The morning check under a latency profile, with the same run on loopback as its CPU floor."""
    from benchmarks import _latency

    data = generate(seed=seed, skus=skus, orders=20, customers=20, suppliers=5)
    values, _kinds = build_sheet(data, rows, seed)
    outs: dict[str, dict[str, Any]] = {}
    bound: _latency.Bound | None = None
    # the same client settings in both runs (the profile's), so the runs differ in latency only
    limits = _latency.client_limits(_latency.profile_config(profile, time_scale, seed))
    for mode in ("loopback", "latency"):
        worksheet = Worksheet(
            WORKSHEET, 0, [list(r) for r in values], row_count=len(values) + 100, column_count=26
        )
        data.spreadsheets[SPREADSHEET_ID] = Spreadsheet(SPREADSHEET_ID, "Inbound Control", [worksheet])
        config = _latency.profile_config(profile if mode == "latency" else "none", time_scale, seed)
        with (
            tempfile.TemporaryDirectory(prefix="bench-inbound-latency-") as db_dir,
            serve_sandbox(data, config, service_account=True) as (info, state, _server),
        ):
            from jtl_automator.sandbox.server import credentials_env

            env = {
                **credentials_env(info.base_url, config, None),
                "JTL_DATABASE_URL": f"sqlite:///{db_dir}/state.db",
                **limits,
            }
            before = _latency.reset(state)
            outs[mode] = in_subprocess(_verify_latency, info, db_dir, env)
            if mode == "latency":
                bound = _latency.measure(state, before, outs[mode]["seconds"])
    assert bound is not None
    out, floor = outs["latency"], outs["loopback"]
    if out["counts"] != floor["counts"]:
        raise AssertionError(f"the runs disagree: {out['counts']} vs {floor['counts']}")
    config = _latency.profile_config(profile, time_scale, seed)
    real = lambda s: s * time_scale  # noqa: E731 - scaled seconds to real ones
    # What latency alone asks for: the Sheets chain (its requests depend on each other) plus, at the same
    # time, FFN's first catalogue page and the pages after it (they overlap); the CPU work comes on top.
    ffn_stats = bound.stats.get("ffn", {})
    chain = bound.bounds.get("Sheets chain (dependent requests' service times)", 0.0)
    latency_floor = max(bound.seconds, chain)
    added = out["seconds"] - floor["seconds"]
    ratio = latency_floor / added if added > 0 else 1.0
    achieved, possible = bound.throughput()
    metrics = [
        Metric("sheet rows / products", f"{out['rows']:,} / {out['products']:,}"),
        Metric(
            "requests (sandbox count)",
            f"{bound.total_requests:,} ("
            + ", ".join(f"{k} {v:,}" for k, v in sorted(bound.requests.items()) if v)
            + ")",
        ),
        Metric("wall time under the profile (real seconds)", fmt_s(real(out["seconds"]))),
        Metric("  phases", ", ".join(f"{k} {fmt_s(real(v))}" for k, v in out["phases"].items())),
        Metric("wall time on loopback, same world (the CPU floor)", fmt_s(floor["seconds"])),
        Metric(
            "the limits' bound (real seconds)",
            "; ".join(f"{k}: {fmt_s(real(v))}" for k, v in bound.bounds.items()) or "none binds",
        ),
        Metric(
            "achieved / bound throughput (requests per real second)",
            f"{achieved / time_scale:,.2f} / {possible / time_scale:,.2f}",
        ),
        Metric(
            "latency the run added over loopback vs the least it had to add (ratio)",
            f"{fmt_s(real(added))} vs {fmt_s(real(latency_floor))} ({ratio:.0%})",
            f">= {_latency.RATIO_TARGET:.0%}",
            ratio >= _latency.RATIO_TARGET,
        ),
        Metric(
            "429 answers (sandbox) / client-seen",
            f"{bound.rate_limited} / {out['client_429']}",
            "0 / 0",
            bound.rate_limited == 0 and out["client_429"] == 0,
        ),
        Metric(
            "FFN service time: sum / max (real seconds)",
            f"{fmt_s(real(ffn_stats.get('busy_seconds', 0.0)))} / "
            f"{fmt_s(real(ffn_stats.get('max_seconds', 0.0)))}",
        ),
        Metric(
            "peak RSS of the client process (of which the run)",
            f"{out['peak_rss_mb']:,.0f} MB ({out['peak_rss_mb'] - out['rss_before_mb']:,.0f} MB)",
        ),
    ]
    notes = [
        *_latency.profile_notes(config),
        "Both runs: the flow's sequence (sheet read, the catalogue with the referenced inbounds at the same "
        "time and the catalogue's pages several at a time, verify, re-check and one batched write) in a "
        "spawned client process against a fresh copy of the sheet; the loopback run is the same world "
        "without latency, so its wall time is the run's own CPU work.",
        "The bound here: no limit binds (FFN reads about a hundred pages, under one window; the Sheets "
        "requests are far under the quota), so the least the run must wait is the Sheets chain (each of "
        "its requests needs the answer of the one before) overlapping FFN's reads. The ratio compares "
        "that with the time the profile added to the loopback run.",
    ]
    return Result(
        f"{NAME}-latency-{config.latency_profile().name}",
        f"inbound_verification under the `{config.latency_profile().name}` latency profile: {skus:,} SKUs, "
        f"{rows:,}-row sheet (issue 17)",
        {"skus": skus, "rows": rows, "profile": config.latency_profile().name, "time_scale": time_scale},
        metrics,
        notes,
        {"latency": out, "loopback": floor, "bound": bound},
        command=f".venv/bin/python -m benchmarks {NAME} --profile {config.latency_profile().name}"
        + (f" --time-scale {time_scale:g}" if time_scale != 1 else ""),
    )
