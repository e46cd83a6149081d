"""Issue 9: the inbound verification of a 1,000,000-row sheet end to end, and its peak memory.

The sandbox serves a world of 100,000 products (with stocks) and 20,000 inbounds of 50 items, and three
Inbound Control sheets, from a thread of this process. For each sheet a freshly spawned client process
runs the service functions in the flow's order (read the sheet, load FFN, reconcile with the history
lookup, the artifacts' data, the re-checked write, the history records) over HTTP, under the sandbox's
strictest settings (Google's 60 read and 60 write requests per minute, 50,000 characters per cell, 10 MB
per request). This process samples the client's resident memory while it runs and stops it at a
safety cap, so a run that would take the machine down is reported, not suffered.

Cases (the issue's reports): ``unique``, 1,000,000 rows with a distinct (SKU, inbound) each, inbound
mode; ``stock_500``, 1,000,000 rows over 500 SKUs without an inbound column, stock mode (2,000 copies of
every SKU); ``copies_10k``, 10,000 copies of one SKU and inbound.
"""

from __future__ import annotations

import json
import multiprocessing
import random
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from benchmarks._common import (
    Metric,
    Result,
    SandboxInfo,
    ffn_client,
    fmt_s,
    peak_rss_mb,
    reset_peak_rss,
    rss_mb,
    serve_sandbox,
)
from jtl_automator.sandbox.config import SandboxConfig
from jtl_automator.sandbox.data import SandboxData, Spreadsheet, Worksheet

NAME = "inbound_1m"
TITLE = "inbound_1m: a 1,000,000-row Inbound Control sheet end to end over HTTP, peak memory (issue 9)"
MEMORY_TARGET_MB = 1500.0
WORKSHEET = "Inbound Control"
ITEMS_PER_INBOUND = 50
WAREHOUSES = ("FULF04XX-04109-0001", "FULF04XX-36251-0002")
STATUSES = ("Preparation", "Pending", "PartiallyReceipted", "Receipted", "Closed")
CASES = ("unique", "stock_500", "copies_10k")
#: The same cases measured before issue 9's changes (commit d8c31c2: the service then had no re-check
#: and wrote one request however large; this benchmark adapted to that API, lenient sandbox).
BEFORE = (
    "Before (commit d8c31c2, same cases and machine, 2026-11-26): unique 2,668 MB peak (history records "
    "as one list of a million dicts: +1.1 GB; artifact table 431,937 rows, 84 MB); stock_500 stopped at "
    "the 6,000 MB cap in the artifact step (every note listed its 2,000 copies' rows); copies_10k "
    "1,345 MB with a 566 MB table artifact and notes of 58,946 characters, which the real Google Sheets "
    "refuses (over 50,000) and the sandbox then accepted. Under the strict sandbox the old single write "
    "of a million rows (about 100 MB) would have been refused outright (10 MiB body limit)."
)
_PREFIXES = ("KAF", "KUE", "DRO", "GAR", "SPO", "BUE")


def _merchant_sku(i: int) -> str:
    return f"{i:05d}" if i % 7 == 0 else f"{_PREFIXES[i % 6]}-{i:05d}"


def _jfsku(i: int) -> str:
    return f"MERC{(i * 2654435761) % 16**7:07X}"


def build_world(products: int, inbounds: int, seed: int) -> SandboxData:
    """Products with stocks in two warehouses, and inbounds of 50 items each, shaped as FFN returns them."""
    rng = random.Random(seed)
    data = SandboxData()
    stamp = "2026-11-10T08:00:00.000+00:00"
    for i in range(products):
        jfsku, sku = _jfsku(i), _merchant_sku(i)
        data.ffn.products[jfsku] = {
            "jfsku": jfsku,
            "merchantId": "MERC",
            "merchantSku": sku,
            "name": f"Artikel {i}",
            "modificationInfo": {"createdAt": stamp, "updatedAt": None, "state": "New"},
        }
        levels = [rng.randrange(0, 500), rng.randrange(0, 50)]
        announced = rng.randrange(0, 100)
        data.ffn.stocks[jfsku] = {
            "jfsku": jfsku,
            "merchantSku": sku,
            "stockLevel": sum(levels),
            "stockLevelReserved": 0,
            "stockLevelBlocked": 0,
            "stockLevelAnnounced": announced,
            "warehouses": [
                {
                    "jfsku": jfsku,
                    "warehouseId": wh,
                    "merchantSku": sku,
                    "stockLevel": level,
                    "stockLevelReserved": 0,
                    "stockLevelBlocked": 0,
                    "stockLevelAnnounced": announced if n == 0 else 0,
                    "fulfillerTimestamp": stamp,
                }
                for n, (wh, level) in enumerate(zip(WAREHOUSES, levels, strict=True))
            ],
            "fulfillerTimestamp": stamp,
        }
    for n in range(inbounds):
        inbound_id = f"MERC03{(n * 40503 + 7) % 16**7:07X}"
        status = rng.choices(STATUSES, weights=(10, 15, 15, 45, 15))[0]
        first = rng.randrange(products)
        items = []
        for k in range(ITEMS_PER_INBOUND):
            quantity = rng.randrange(1, 3000)
            open_ = quantity if status in ("Preparation", "Pending") else 0
            if status == "PartiallyReceipted":
                open_ = rng.randrange(0, quantity + 1)
            items.append(
                {
                    "inboundItemId": str(k + 1),
                    "jfsku": _jfsku((first + k) % products),
                    "quantity": quantity,
                    "quantityOpen": open_,
                    "supplierSku": f"L-{(first + k) % products:05d}",
                    "supplierProductName": f"Artikel {(first + k) % products}",
                    "note": None,
                }
            )
        data.ffn.inbounds[inbound_id] = {
            "inboundId": inbound_id,
            "merchantId": "MERC",
            "merchantInboundNumber": f"ANL-2026-{n + 1:05d}",
            "warehouseId": WAREHOUSES[n % 2],
            "status": status,
            "note": None,
            "modificationInfo": {"createdAt": stamp, "updatedAt": None, "state": "New"},
            "items": items,
        }
    return data


def sheet_unique(data: SandboxData, rows: int, seed: int) -> list[list[Any]]:
    """A row per inbound item (shuffled), a few miscounted: every (SKU, inbound) once."""
    rng = random.Random(seed)
    sku_of = {j: p["merchantSku"] for j, p in data.ffn.products.items()}
    grid: list[list[Any]] = [
        ["Inbound Control (Benchmark)"],
        [],
        ["SKU", "Units", "Inbound", "Status", "Note"],
    ]
    pairs = [
        (inb["merchantInboundNumber"], item) for inb in data.ffn.inbounds.values() for item in inb["items"]
    ]
    rng.shuffle(pairs)
    for number, item in pairs[:rows]:
        units = item["quantity"] + (rng.choice((-2, 1, 5)) if rng.random() < 0.05 else 0)
        grid.append([sku_of[item["jfsku"]], str(max(units, 0)), number, "", ""])
    return grid


def sheet_stock_500(data: SandboxData, rows: int, seed: int) -> list[list[Any]]:
    """``rows`` rows over 500 SKUs and no inbound column: every SKU 2,000 times (at 1,000,000 rows)."""
    rng = random.Random(seed)
    skus = [p["merchantSku"] for p in list(data.ffn.products.values())[:500]]
    grid: list[list[Any]] = [["SKU", "Units", "Status", "Note"]]
    grid += [[skus[i % len(skus)], str(rng.randrange(1, 500)), "", ""] for i in range(rows)]
    return grid


def sheet_copies(data: SandboxData, rows: int, seed: int) -> list[list[Any]]:
    """``rows`` copies of one SKU and inbound."""
    inbound = next(iter(data.ffn.inbounds.values()))
    sku = data.ffn.products[inbound["items"][0]["jfsku"]]["merchantSku"]
    grid: list[list[Any]] = [["SKU", "Units", "Inbound", "Status", "Note"]]
    grid += [[sku, "5", inbound["merchantInboundNumber"], "", ""] for _ in range(rows)]
    return grid


@dataclass(frozen=True)
class Case:
    """One sheet to verify."""

    name: str
    rows: int
    build: Callable[[SandboxData, int, int], list[list[Any]]]


def _client(info: SandboxInfo, db_dir: str, spreadsheet_id: str, phases: Any) -> dict[str, Any]:
    """Client process: the service functions in the flow's order; ``phases`` gets each phase's name."""
    from jtl_automator.services import inbound_verification as svc
    from jtl_automator.sheets.gsheets import GoogleSheetsBackend
    from jtl_automator.store import StateStore

    assert info.service_account is not None
    ffn = ffn_client(info, db_dir)
    store = StateStore(f"sqlite:///{db_dir}/state.db")
    backend = GoogleSheetsBackend(spreadsheet_id, info.service_account, api_url=f"{info.base_url}/sheets")
    rss_before = rss_mb()
    reset_peak_rss()
    laps: dict[str, float] = {}
    peaks: dict[str, float] = {}
    last = start = time.perf_counter()

    def lap(name: str, following: str) -> None:
        nonlocal last
        now = time.perf_counter()
        laps[name], peaks[name] = now - last, peak_rss_mb()
        last = now
        phases.put(following)

    phases.put("read sheet")
    sheet = svc.read_inbound_sheet(backend, WORKSHEET, svc.SheetColumns())
    lap("read sheet", "load FFN")
    mode = svc.decide_mode(sheet, None)
    products = svc.load_products(ffn)
    items = stocks = None
    if mode == "inbound":
        items = svc.load_inbound_items(ffn, sheet.rows["inbound"].tolist())
    else:
        stocks = svc.load_stocks(ffn, svc.jfskus_of(sheet, products))
    lap("load FFN", "reconcile")
    results = svc.verify(
        sheet, products, items, stocks, mode, history=lambda keys: store.inbound_history(spreadsheet_id, keys)
    )
    lap("reconcile", "write")
    checked_at = datetime.now(UTC)
    outcome = svc.write_results(backend, sheet, results, checked_at)
    results = outcome.results
    lap("write", "artifacts")
    counts = svc.status_counts(results)
    markdown = svc.summary_markdown(
        spreadsheet_id,
        counts,
        results,
        dry_run=False,
        outcome=outcome,
        repeated_headers=sheet.repeated_headers,
        run_id="bench",
    )
    table = svc.artifact_table(results)
    artifact_bytes = len(markdown.encode()) + len(json.dumps(table, default=str).encode())
    table_rows = len(table)
    del table, markdown
    lap("artifacts", "history")
    recorded = sum(
        store.record_inbound_checks("bench", spreadsheet_id, batch)
        for batch in svc.history_batches(results, checked_at)
    )
    lap("history", "done")
    longest_note = int(results["note"].str.len().max()) if len(results) else 0
    return {
        "seconds": time.perf_counter() - start,
        "laps": laps,
        "peaks": peaks,
        "rss_before_mb": rss_before,
        "peak_rss_mb": peak_rss_mb(),
        "mode": mode,
        "rows": len(sheet.rows),
        "counts": counts,
        "artifact_bytes": artifact_bytes,
        "table_rows": table_rows,
        "longest_note": longest_note,
        "cells_written": outcome.cells,
        "rows_not_written": len(outcome.skipped),
        "recorded": recorded,
        "sheets_requests": backend.stats.requests,
        "ffn_requests": ffn.stats.requests,
    }


def _child(conn: Any, phases: Any, args: tuple[Any, ...]) -> None:
    try:
        conn.send(("ok", _client(*args, phases)))
    except BaseException as exc:  # reported to the parent, which names the case
        conn.send(("error", f"{type(exc).__name__}: {exc}"[:2000]))


def _rss_of(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return float(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def run_capped(args: tuple[Any, ...], cap_mb: float) -> dict[str, Any]:
    """Run the client in a spawned process, sampling its RSS; past ``cap_mb`` it is killed and reported."""
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    phases = ctx.Queue()
    process = ctx.Process(target=_child, args=(child, phases, args))
    process.start()
    phase, sampled, sampled_phase = "start-up", 0.0, "start-up"
    outcome: dict[str, Any] | None = None
    while outcome is None:
        while not phases.empty():
            phase = phases.get()
        rss = _rss_of(process.pid or 0)
        if rss > sampled:
            sampled, sampled_phase = rss, phase
        if rss > cap_mb:
            process.kill()
            outcome = {"killed": True, "phase": phase, "sampled_peak_mb": rss}
        elif parent.poll(0.05):
            kind, value = parent.recv()
            if kind == "error":
                raise RuntimeError(f"client failed in phase {phase!r}: {value}")
            outcome = {"killed": False, **value}
        elif not process.is_alive() and not parent.poll(0.2):
            raise RuntimeError(f"client died in phase {phase!r} (exit code {process.exitcode})")
    process.join(10)
    outcome.setdefault("sampled_peak_mb", sampled)
    outcome["sampled_peak_phase"] = sampled_phase
    return outcome


def run(
    rows: int = 1_000_000,
    products: int = 100_000,
    copies: int = 10_000,
    cap_mb: float = 6000.0,
    seed: int = 42,
    cases: tuple[str, ...] = CASES,
) -> Result:
    """Build the world and sheets, serve them, verify each sheet in a capped client process."""
    begin = time.perf_counter()
    data = build_world(products, max(1, rows // ITEMS_PER_INBOUND), seed)
    chosen = [
        c
        for c in (
            Case("unique", rows, sheet_unique),
            Case("stock_500", rows, sheet_stock_500),
            Case("copies_10k", copies, sheet_copies),
        )
        if c.name in cases
    ]
    grids = {}
    for case in chosen:
        grid = case.build(data, case.rows, seed)
        grids[case.name] = grid
        tab = Worksheet(WORKSHEET, 0, grid, row_count=len(grid) + 10, column_count=26)
        data.spreadsheets[f"bench-{case.name}"] = Spreadsheet(f"bench-{case.name}", case.name, [tab])
    built = time.perf_counter() - begin
    config = SandboxConfig.strictest(seed=seed)  # Google's quotas, 50,000-character cells, 10 MiB bodies
    outcomes: dict[str, dict[str, Any]] = {}
    with (
        tempfile.TemporaryDirectory(prefix="bench-inbound-1m-") as db_dir,  # one token store: tokens rotate
        serve_sandbox(data, config, service_account=True) as (info, _state, _server),
    ):
        for case in chosen:
            outcomes[case.name] = run_capped((info, db_dir, f"bench-{case.name}"), cap_mb)
    metrics: list[Metric] = []
    notes = [
        f"World built in {fmt_s(built)} (seed {seed}): {products:,} products with stocks, "
        f"{len(data.ffn.inbounds):,} inbounds of {ITEMS_PER_INBOUND} items; the sandbox serves from a "
        "thread of this process with SandboxConfig.strictest() (Google's 60 read and 60 write requests "
        "a minute, 50,000-character cells, 10 MiB request bodies).",
        "Each case runs in a freshly spawned client process: read_inbound_sheet, load_products, "
        "load_inbound_items or load_stocks, verify (with the state database's history lookup), "
        "write_results (re-read of the key columns, then the batched write), summary_markdown and "
        "artifact_table (the artifacts' data), history_batches into SQLite. Peak RSS is the client's "
        "VmHWM; the phase figures are the high-water mark after each phase. This process samples the "
        f"client's RSS and would stop it past {cap_mb:,.0f} MB.",
        BEFORE,
    ]
    for case in chosen:
        out = outcomes[case.name]
        if out["killed"]:
            metrics.append(
                Metric(
                    f"{case.name}: peak RSS of the client process",
                    f"> {cap_mb:,.0f} MB (stopped in phase {out['phase']})",
                    f"< {MEMORY_TARGET_MB:,.0f} MB",
                    False,
                )
            )
            continue
        statuses = Counter(
            str(r[-2]) for r in grids[case.name] if len(r) >= 4 and str(r[-2]) not in ("", "Status")
        )
        metrics += [
            Metric(
                f"{case.name}: peak RSS of the client process",
                f"{out['peak_rss_mb']:,.0f} MB",
                f"< {MEMORY_TARGET_MB:,.0f} MB",
                out["peak_rss_mb"] < MEMORY_TARGET_MB,
            ),
            Metric(
                f"{case.name}: rows / mode / wall time",
                f"{out['rows']:,} / {out['mode']} / {fmt_s(out['seconds'])}",
            ),
            Metric(
                f"{case.name}: phases (time, peak RSS after it)",
                ", ".join(f"{k} {fmt_s(v)} {out['peaks'][k]:,.0f} MB" for k, v in out["laps"].items()),
            ),
            Metric(
                f"{case.name}: artifact data (markdown + table JSON), table rows",
                f"{out['artifact_bytes'] / 2**20:,.2f} MB, {out['table_rows']:,}",
            ),
            Metric(f"{case.name}: longest note", f"{out['longest_note']:,} characters"),
            Metric(
                f"{case.name}: Sheets requests (client) / cells written",
                f"{out['sheets_requests']:,} / {out['cells_written']:,}",
            ),
            Metric(
                f"{case.name}: statuses in the sheet afterwards",
                ", ".join(f"{k} {v:,}" for k, v in sorted(statuses.items())),
            ),
        ]
    raw = {"outcomes": outcomes}
    params = {"rows": rows, "products": products, "copies": copies, "cap_mb": int(cap_mb)}
    return Result(NAME, TITLE, params, metrics, notes, raw)
