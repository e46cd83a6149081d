"""Stage 2, lookups: what FFN and Wawi know that the decisions need, each read in bulk once per run.

The catalogue (merchantSku → jfsku) and all stocks are paged reads; the outbounds that already exist for
the batch's numbers come from chunked ``$filter`` requests (the lookup before any create); the on-hold
reason names are resolved to Wawi ids once. None of these reads depends on another, so they overlap (and
so do the ``$filter`` chunks): the clients' rate and in-flight limits bound them, not a sequential loop.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pandas as pd

from jtl_automator.clients.ffn.client import FILTER_CLAUSES_MAX, FfnClient
from jtl_automator.clients.pagination import chunked, flatten
from jtl_automator.clients.wawi.client import WawiClient
from jtl_automator.correlation import in_context
from jtl_automator.services.order_processing.importer import ImportedBatch
from jtl_automator.services.order_processing.params import ConfigurationError, OrderProcessingParams
from jtl_automator.transforms.allocation import available_stock


@dataclass
class FulfilmentData:
    """One bulk read of everything the decisions need."""

    sku_map: dict[str, str]
    available: pd.DataFrame
    existing: dict[str, dict[str, Any]]  # merchantOutboundNumber -> outboundId, status, warehouseId
    hold_reasons: dict[str, int]  # on_hold_reasons key -> Wawi OnHoldReasonId
    ffn_requests: int = 0


def _text(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None


def load_sku_map(ffn: FfnClient) -> dict[str, str]:
    """The catalogue's merchantSku -> jfsku map from one paged read."""
    found: dict[str, str] = {}
    for product in flatten(ffn.products.iter_pages(parallel=ffn.read_parallelism)):
        sku, jfsku = _text(product.get("merchantSku")), _text(product.get("jfsku"))
        if sku is not None and jfsku is not None:
            found.setdefault(sku, jfsku)
    return found


def load_available(ffn: FfnClient, default_warehouse_id: str | None = None) -> pd.DataFrame:
    """Available units per jfsku and warehouse from one paged read of all stocks."""
    pages = ffn.stocks.iter_pages(parallel=ffn.read_parallelism)
    return available_stock(flatten(pages), default_warehouse_id)


def find_existing_outbounds(
    ffn: FfnClient, numbers: Sequence[str], workers: int = 1
) -> dict[str, dict[str, Any]]:
    """Outbounds that already exist for these merchantOutboundNumbers (~N/40 requests instead of N).

    The first slice of 40 numbers goes alone (it learns whether FFN takes ``or`` filters), the others on
    ``workers`` threads at once.
    """
    slices = list(chunked(sorted({n for n in numbers if n}), FILTER_CLAUSES_MAX))
    if not slices:
        return {}
    found = ffn.outbounds.find_by_merchant_numbers(slices[0])
    if len(slices) > 1:
        with ThreadPoolExecutor(max(1, workers), thread_name_prefix="ffn-lookup") as pool:
            for part in pool.map(in_context(ffn.outbounds.find_by_merchant_numbers), slices[1:]):
                found.update(part)
    return {
        number: {
            "outboundId": outbound.get("outboundId"),
            "status": outbound.get("status"),
            "warehouseId": outbound.get("warehouseId"),
        }
        for number, outbound in found.items()
    }


def resolve_hold_reasons(wawi: WawiClient, params: OrderProcessingParams) -> dict[str, int]:
    """On-hold reason ids, names looked up once in ``/v1/onHoldReasons``; an unknown name stops the run."""
    by_name: dict[str, int] | None = None
    resolved: dict[str, int] = {}
    for key, reason in params.on_hold_reasons.items():
        if isinstance(reason, int):
            resolved[key] = reason
            continue
        if by_name is None:
            by_name = {
                str(r.get("Name")).strip().casefold(): reason_id
                for r in wawi.on_hold_reasons()
                if isinstance(r, Mapping) and (reason_id := _int(r.get("Id"))) is not None
            }
        reason_id = by_name.get(reason.strip().casefold())
        if reason_id is None:
            known = ", ".join(sorted(by_name)) or "none"
            raise ConfigurationError(
                f"on_hold_reasons[{key!r}]: Wawi has no on-hold reason named {reason!r} (known: {known})"
            )
        resolved[key] = reason_id
    return resolved


def load_fulfilment_data(
    ffn: FfnClient, wawi: WawiClient, params: OrderProcessingParams, batch: ImportedBatch
) -> FulfilmentData:
    """Catalogue, stock and existing outbounds from FFN; on-hold reason ids from Wawi: all at once."""
    before = ffn.stats.requests
    numbers = batch.order_numbers()
    has_orders = not batch.orders.empty
    with ThreadPoolExecutor(4, thread_name_prefix="orders-lookups") as pool:
        reasons = pool.submit(in_context(resolve_hold_reasons), wawi, params)
        existing = pool.submit(in_context(find_existing_outbounds), ffn, numbers, params.workers)
        warehouse = params.default_warehouse_id
        skus = pool.submit(in_context(load_sku_map), ffn) if has_orders else None
        stock = pool.submit(in_context(load_available), ffn, warehouse) if has_orders else None
        hold_reasons = reasons.result()
        found = existing.result()
        sku_map = skus.result() if skus is not None else {}
        available = stock.result() if stock is not None else available_stock([])
    return FulfilmentData(sku_map, available, found, hold_reasons, ffn.stats.requests - before)
