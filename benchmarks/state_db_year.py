"""Issue 15: how large the state database grows in a year of 10,000 orders a day, measured, then projected.

A sample of days is written through the store's own write paths, as order processing writes them: per
order a ledger row, its item lines (2.5 on average), the events imported → outbound_created → shipped
and one side-effect claim; per day 400 inbound check results and 60 KPI figures. The bytes each table
grew by per day are measured (SQLite: the file after a checkpoint; PostgreSQL: ``pg_total_relation_size``,
indexes and TOAST included, after ANALYZE) and projected over 365 days with the housekeeping defaults
(order events 400 days, inbound checks 180 days, KPI history 1,100 days): ledger, lines and claims are
kept for ever, so they grow linearly; journals level off at their keep-age.
"""

from __future__ import annotations

import os
import random
import sqlite3
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from benchmarks._common import Metric, Result
from jtl_automator.store import KpiValue, OrderLine, StateStore

NAME = "state_db_year"
TITLE = "state_db_year: the state database after a year of 10,000 orders a day, projected from measured days"
POSTGRES_URL = os.environ.get("JTL_TEST_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test")
#: Days each journal is kept (the housekeeping defaults); None: kept for ever.
KEEP_DAYS: dict[str, int | None] = {
    "order_ledger": None,
    "order_lines": None,
    "side_effects": None,
    "order_events": 400,
    "inbound_checks": 180,
    "kpi_history": 1100,
}
TARGET_GB = 20.0  # a year on one modest disk, SQLite or PostgreSQL


def _write_day(store: StateStore, day: date, orders: int, rng: random.Random, start: int) -> None:
    when = datetime(day.year, day.month, day.day, 9, tzinfo=UTC)
    numbers = [f"AU-{start + i:08d}" for i in range(orders)]
    for chunk in range(0, orders, 1000):
        batch = numbers[chunk : chunk + 1000]
        store.record_orders(
            ({"order_number": n, "status": "imported", "wawi_order_id": start + i, "order_date": when}
             for i, n in enumerate(batch)),
            event="imported",
        )  # fmt: skip
        updates = []
        for n in batch:
            lines = [
                OrderLine(p, f"SKU-{rng.randrange(100_000):06d}", "WH01", rng.choice((1, 1, 2, 3)), day,
                          19.99, 23.79, 9.5)
                for p in range(1, rng.choice((1, 2, 2, 3, 4)) + 1)
            ]  # fmt: skip
            updates.append(
                {"order_number": n, "status": "outbound_created", "outbound_id": f"OB{uuid.uuid4().hex[:10]}",
                 "warehouse_id": "WH01", "lines": lines, "detail": {"outbound": "created"}}
            )  # fmt: skip
            store.claim(f"ffn_outbound:{n}", "ffn_outbound", run_id="bench")
            store.complete(f"ffn_outbound:{n}", {"outbound_id": updates[-1]["outbound_id"]})
        store.record_orders(updates, event="outbound_created")
        store.record_orders(
            ({"order_number": n, "status": "shipped", "tracking": f"00340{rng.randrange(10**12):012d}",
              "detail": {"carrier": "DHL", "tracking": "…"}} for n in batch),
            event="shipped",
        )  # fmt: skip
    store.record_inbound_checks(
        "bench",
        "inbound-control",
        (
            {"row_key": f"SKU-{i:06d}|IN-{day:%Y%m%d}|WH01", "sku": f"SKU-{i:06d}", "inbound_ref": "IN-1",
             "units_expected": 24, "units_received": 24, "status": "ok", "note": "booked", "checked_at": when}
            for i in range(400)
        ),
    )  # fmt: skip
    store.replace_kpis(
        "daily",
        day.isoformat(),
        day,
        day,
        [KpiValue(f"kpi_{k}", float(k), dimension=f"WH0{k % 3}") for k in range(60)],
    )


def _sizes(store: StateStore, sqlite_file: Path | None) -> dict[str, int]:
    if sqlite_file is None:
        with store.engine.connect() as conn:
            conn.execute(sa.text("ANALYZE"))
            return {
                t: int(conn.execute(sa.text("SELECT pg_total_relation_size(:t)"), {"t": t}).scalar_one())
                for t in KEEP_DAYS
            }
    store.dispose()  # the store's connections hold transactions; measure on a plain one
    with sqlite3.connect(sqlite_file) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        rows = conn.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name").fetchall()
    by_object = {str(name): int(size) for name, size in rows}
    # Indexes count with their table (SQLite names them ix_<table>_… or sqlite_autoindex_<table>_…).
    prefixes = {t: (f"ix_{t}_", f"sqlite_autoindex_{t}_") for t in KEEP_DAYS}
    return {t: sum(v for k, v in by_object.items() if k == t or k.startswith(prefixes[t])) for t in KEEP_DAYS}


def _project(per_day: dict[str, float], days: int) -> dict[str, float]:
    return {t: per_day[t] * min(days, KEEP_DAYS[t] or days) for t in per_day}


#: Tables that grow with the number of orders (the others grow by the day).
PER_ORDER = ("order_ledger", "order_lines", "side_effects", "order_events")


def _measure(url: str, sqlite_file: Path | None, days: int, orders: int, scale: float) -> dict[str, Any]:
    store = StateStore(url)
    rng = random.Random(7)
    try:
        before = _sizes(store, sqlite_file)
        started = time.perf_counter()
        for d in range(days):
            _write_day(store, date(2026, 1, 1) + timedelta(days=d), orders, rng, start=d * orders)
        seconds = time.perf_counter() - started
        after = _sizes(store, sqlite_file)
    finally:
        store.dispose()
    per_day = {t: (after[t] - before[t]) / days * (scale if t in PER_ORDER else 1.0) for t in KEEP_DAYS}
    year = _project(per_day, 365)
    return {"per_day": per_day, "year": year, "ms_per_order": seconds / days / orders * 1000}


def run(days: int = 2, sample_orders: int = 2_000, orders_per_day: int = 10_000) -> Result:
    """Measure ``days`` days of ``sample_orders`` on SQLite (and PostgreSQL), project ``orders_per_day``."""
    scale = orders_per_day / sample_orders
    measured: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        file = Path(tmp) / "state.db"
        measured["SQLite"] = _measure(f"sqlite:///{file}", file, days, sample_orders, scale)
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        try:
            url = f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
            measured["PostgreSQL"] = _measure(url, None, days, sample_orders, scale)
        finally:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    except sa.exc.OperationalError:
        pass  # no PostgreSQL here: SQLite alone
    finally:
        admin.dispose()
    metrics: list[Metric] = []
    for engine, m in measured.items():
        total_gb = sum(m["year"].values()) / 1e9
        metrics.append(
            Metric(
                f"{engine}: size after a year",
                f"{total_gb:.1f} GB",
                f"≤ {TARGET_GB:g} GB",
                total_gb <= TARGET_GB,
            )
        )
        metrics.append(Metric(f"{engine}: growth per day", f"{sum(m['per_day'].values()) / 1e6:.0f} MB"))
        for table in KEEP_DAYS:
            kept = "for ever" if KEEP_DAYS[table] is None else f"{KEEP_DAYS[table]} days"
            metrics.append(
                Metric(
                    f"{engine}: {table} ({kept})",
                    f"{m['per_day'][table] / 1e6:.1f} MB/day → {m['year'][table] / 1e9:.2f} GB in a year",
                )
            )
        metrics.append(
            Metric(
                f"{engine}: recording one order's journey", f"{m['ms_per_order']:.1f} ms (3 records, 1 claim)"
            )
        )
    return Result(
        NAME,
        TITLE,
        {"days": days, "sample_orders": sample_orders, "orders_per_day": orders_per_day},
        metrics,
        notes=[
            "The order tables' bytes per order are measured on the sample and scaled to orders_per_day; "
            "inbound checks and KPI figures are per day. Projected linearly: tables kept for ever grow by "
            "the day's bytes times 365, journals level off at their keep-age. The second year adds the "
            "for-ever tables again.",
            "The figures include indexes. PostgreSQL adds per-row headers and page fill-factor; SQLite packs "
            "tighter. VACUUM after a housekeeping run returns freed pages to the file (SQLite) or for reuse.",
        ],
        raw={k: {"per_day": v["per_day"], "year": v["year"]} for k, v in measured.items()},
    )
