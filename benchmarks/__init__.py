"""Benchmarks of bulk paths, orders, the stock and product syncs: `python -m benchmarks [name ...]`.

Each module exposes ``NAME``, ``TITLE`` and ``run(**sizes) -> Result``; full sizes are the defaults,
the smoke test calls them tiny. Targets are checked here, never in timed tests, and every comparison
is against a baseline measured in the same run, so a slow or busy machine moves both sides.
Modules are imported on demand: the spawned client processes should not pay for the others.
"""

from __future__ import annotations

import importlib
from types import ModuleType

BENCHMARKS = (
    "ffn_bulk_read",
    "inbound_verification",
    "reconcile_1m",
    "inbound_1m",
    "order_processing",
    "stock_sync",
    "replenishment_5m",
    "pricing_100k",
    "product_sync",
    "pricing_writes",
    "report_weekly",
    "state_db_year",
    "workflow_runner",
    "shop_page_size",
    "shop_sync_check",
    "gateway_ratelimit",
    "replenishment_dask",
)


def load(name: str) -> ModuleType:
    """The benchmark module called ``name`` (one of :data:`BENCHMARKS`)."""
    if name not in BENCHMARKS:
        raise KeyError(f"unknown benchmark {name!r} (known: {', '.join(BENCHMARKS)})")
    return importlib.import_module(f"benchmarks.{name}")


__all__ = ["BENCHMARKS", "load"]
