"""Stage 1 of a report run: read the datasets its definition names, once each, into a ``ReportData``.

The state database's datasets are one aggregating query each (``jtl_automator.store.reporting``); FFN's
stock is one bulk read (``/stocks``, rolled back to the period's end with ``date=`` when the period is
not the latest); Wawi's items one paged listing (its pages side by side) plus the category list; Wawi's
returns every page of ``/returns`` plus the line items of the period's returns. The API reads run side by
side while the state database is queried. A source that fails (an API
unreachable after the client's retries, credentials refused) becomes a *missing* dataset with the reason,
so the report states it and still shows everything else. Failed flow runs come from the Prefect API,
which only the shell may call: it hands them in as a frame (or the reason it has none).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd

from jtl_automator.clients.errors import AuthError, JtlApiError
from jtl_automator.clients.ffn.client import FfnClient
from jtl_automator.clients.pagination import flatten
from jtl_automator.clients.wawi.client import SkippedRow, WawiClient
from jtl_automator.correlation import correlated_logger, in_context
from jtl_automator.plans import iso_week
from jtl_automator.reports import data as d
from jtl_automator.reports.data import ReportData, ReportDefinition, ReportParams
from jtl_automator.reports.periods import Period, berlin_day
from jtl_automator.store import StateStore, shop_sync
from jtl_automator.store import reporting as q
from jtl_automator.transforms import kpis as k
from jtl_automator.transforms.replenishment_frames import stock_frame

log = correlated_logger("jtl_automator.reporting")

#: The sales figures whose earlier periods are recomputed from the ledger when the history lacks them.
COMPARABLE = ("revenue_net", "revenue_gross", "orders", "aov_net", "units")


@dataclass(frozen=True)
class Sources:
    """What a run reads from: the state database, and the APIs where the report needs them."""

    store: StateStore
    ffn: FfnClient | None = None
    wawi: WawiClient | None = None
    failed_runs: pd.DataFrame | None = None
    failed_runs_missing: str | None = None
    ffn_missing: str = "no FFN client configured"
    wawi_missing: str = "no Wawi client configured"


def api_problem(system: str, error: Exception) -> str:
    """Why an API's dataset is missing, in one line that names no secret (the error's type and status)."""
    if isinstance(error, AuthError):
        return f"{system} refused the credentials ({type(error).__name__}); see jtl-automator auth"
    status = getattr(error, "status", None) or getattr(error, "status_code", None)
    return f"{system} unreachable ({type(error).__name__}{f' {status}' if status else ''})"


def validated(schema: Any, frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` checked against a pandera schema (the boundary between a source and the transforms)."""
    checked: pd.DataFrame = schema.validate(frame)
    return checked


def wawi_items_frame(items: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Wawi items as one row per SKU: name, first category's name, purchase price (net); first SKU wins."""
    rows: dict[str, tuple[Any, Any, Any]] = {}
    for item in items:
        sku = item.get("SKU")
        if not isinstance(sku, str) or not sku.strip() or sku.strip() in rows:
            continue
        categories = item.get("Categories") or []
        category = categories[0].get("Name") if categories and isinstance(categories[0], Mapping) else None
        price = (item.get("ItemPriceData") or {}).get("PurchasePriceNet")
        ok = isinstance(price, int | float) and not isinstance(price, bool) and math.isfinite(price)
        rows[sku.strip()] = (
            item.get("Name"),
            category,
            float(price) if ok and price is not None else math.nan,
        )
    frame = pd.DataFrame(
        {
            "sku": pd.Series(list(rows), dtype="string"),
            "name": pd.Series([r[0] for r in rows.values()], dtype="string"),
            "category": pd.Series([r[1] for r in rows.values()], dtype="string"),
            "purchase_price_net": pd.Series([r[2] for r in rows.values()], dtype="float64"),
        }
    )
    return validated(k.ITEMS_SCHEMA, frame)


def ffn_stock(ffn: FfnClient, at: datetime | None) -> pd.DataFrame:
    """FFN's stock per SKU and warehouse (``at``: as it stood then, FFN's ``date`` parameter).

    Its pages after the first as many at a time as FFN may have on the wire (``read_parallelism``).
    """
    params = {"date": at.isoformat()} if at is not None else None
    raw = stock_frame(flatten(ffn.stocks.iter_pages(params=params, parallel=ffn.read_parallelism)))
    frame = raw.rename(columns={"merchant_sku": "sku"})[
        ["sku", "warehouse_id", "stock_level", "reserved", "blocked"]
    ]
    return validated(k.STOCK_SCHEMA, frame)


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def wawi_returns(
    wawi: WawiClient, store: StateStore, start: datetime, end: datetime
) -> tuple[pd.DataFrame, list[str]]:
    """Wawi's return lines dated in ``[start, end)``, each with the ledger's order when it shipped that one.

    Every page of ``/returns`` (Wawi filters returns by no date), the line items of the period's returns,
    the reason names (``/returnReasons``, the Wawi's language), then one query for which of their orders
    the ledger knows as shipped. Rows Wawi sent that do not fit are left out; the second value says
    which and why (the report notes them).
    """
    skipped: list[SkippedRow] = []
    names = {reason.id: reason.label() for reason in wawi.return_reasons(skipped=skipped)}
    rows: list[tuple[Any, ...]] = []
    for found, lines in wawi.returns.dated(start, end, skipped=skipped):
        for line in lines:
            reason_id = line.return_reason_id
            reason = "(none)" if reason_id is None else names.get(reason_id, f"reason {reason_id}")
            order_id = line.sales_order_id if line.sales_order_id is not None else found.sales_order_id
            rows.append(
                (found.id, found.number, _utc(found.return_date), order_id, line.sku, line.quantity, reason)
            )
    known = q.shipped_wawi_orders(store, [row[3] for row in rows if row[3] is not None])
    frame = pd.DataFrame(
        {
            "return_id": pd.Series([r[0] for r in rows], dtype="int64"),
            "return_number": pd.Series([r[1] for r in rows], dtype="string"),
            "return_date": q.utc_times([r[2] for r in rows]),
            "sales_order_id": pd.Series([r[3] for r in rows], dtype="Int64"),
            "order_number": pd.Series([known.get(r[3]) for r in rows], dtype="string"),
            "sku": pd.Series([r[4].strip() for r in rows], dtype="string"),
            "quantity": pd.Series([r[5] for r in rows], dtype="float64"),
            "reason": pd.Series([r[6] for r in rows], dtype="string"),
        }
    )
    for row in skipped:
        log.warning("Wawi return row left out: %s", row)
    return validated(k.RETURNS_SCHEMA, frame), [str(row) for row in skipped]


#: What each price history source is called in the report.
_PRICE_KINDS = {"rule": "price rule", "plan": "approved change", "markdown": "markdown"}


def price_changes(store: StateStore, start: datetime, end: datetime) -> pd.DataFrame:
    """The prices the pricing flow wrote in ``[start, end)``, oldest first (net, as its history has them)."""
    rows = [c for c in store.price_history(since=start) if c.at is not None and c.at < end]
    rows.sort(key=lambda c: (c.at, c.item_id, c.target))
    before = pd.Series([c.before for c in rows], dtype="float64")
    after = pd.Series([c.after for c in rows], dtype="float64")
    return pd.DataFrame(
        {
            "sku": pd.Series([c.sku or str(c.item_id) for c in rows], dtype="string"),
            "target": pd.Series([c.target for c in rows], dtype="string"),
            "kind": pd.Series([_PRICE_KINDS.get(c.source, c.source) for c in rows], dtype="string"),
            "old_price": before,
            "new_price": after,
            "change": (after / before.where(before > 0) - 1).astype("float64"),
            "applied_at": pd.Series([c.at for c in rows], dtype="object"),
        }
    )


def _is_latest(period: Period, as_of: datetime) -> bool:
    return berlin_day(as_of) <= period.end + timedelta(days=1)


def history_periods(period: Period, params: ReportParams) -> list[str]:
    """The periods whose stored figures the run reads: the trend's (the previous one first), last year's."""
    labels = []
    cursor = period
    for _ in range(max(params.trend_periods, 1)):
        cursor = cursor.previous()
        labels.append(cursor.label)
    labels.append(period.same_period_last_year().label)
    return labels


def comparison_totals(
    store: StateStore, data: ReportData, first_order: datetime | None
) -> dict[str, dict[str, float | None]]:
    """The sales figures of the previous period and last year's from the ledger where history lacks them.

    A period the ledger does not fully cover gets none (the comparison then says why); one it covers
    but without any stored figure is summed by one query (``store.reporting.period_totals``).
    """
    result: dict[str, dict[str, float | None]] = {}
    for name, period in (
        ("previous", data.period.previous()),
        ("last_year", data.period.same_period_last_year()),
    ):
        if all(data.stored(key, period.label) for key in COMPARABLE):
            continue
        start, end = period.utc_bounds()
        if first_order is None or first_order > start:
            reason = (
                "no history: the order ledger is empty"
                if first_order is None
                else f"no history: the order ledger starts on {berlin_day(first_order).isoformat()}"
            )
            data.facts[f"{name}_missing"] = reason
            continue
        totals = q.period_totals(store, start, end)
        orders = totals["orders"]
        net = None if math.isnan(totals["net"]) else totals["net"]
        gross = None if math.isnan(totals["gross"]) else totals["gross"]
        result[name] = {
            "revenue_net": net,
            "revenue_gross": gross,
            "orders": orders,
            "aov_net": net / orders if net is not None and orders else None,
            "units": totals["units"],
        }
    return result


def read_data(
    definition: ReportDefinition,
    period: Period,
    params: ReportParams,
    sources: Sources,
    *,
    as_of: datetime,
) -> ReportData:
    """Every dataset ``definition.needs``, read once; failures become missing datasets with the reason."""
    data = ReportData(period, as_of)
    needs = definition.needs

    def read(name: str, reader: Callable[[], pd.DataFrame], system: str = "the state database") -> None:
        if name not in needs:
            return
        try:
            data.frames[name] = reader()
        except JtlApiError as error:
            data.missing[name] = api_problem(system, error)
            log.warning("report %s: %s missing: %s", definition.name, name, data.missing[name])

    # The API reads start at once, side by side (each client's in-flight limit holds its API) while the
    # state database is queried; each is taken below where it always was, so a failure is handled alike.
    pool = ThreadPoolExecutor(max_workers=3, thread_name_prefix="report-reads")
    try:
        _read_all(definition, period, params, sources, data, pool, read)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return data


def _read_all(
    definition: ReportDefinition,
    period: Period,
    params: ReportParams,
    sources: Sources,
    data: ReportData,
    pool: ThreadPoolExecutor,
    read: Callable[..., None],
) -> None:
    """:func:`read_data`'s reads; the API ones are started in ``pool`` first."""
    store = sources.store
    needs = definition.needs
    start, end = period.utc_bounds()
    as_of = data.as_of
    latest = _is_latest(period, as_of)
    ffn, wawi = sources.ffn, sources.wawi
    early: dict[str, Future[pd.DataFrame]] = {}
    if d.STOCK in needs and ffn is not None:
        early[d.STOCK] = pool.submit(in_context(ffn_stock), ffn, None if latest else end)
    if d.ITEMS in needs and wawi is not None:
        pages = wawi.items.iter_pages
        # the pages the item cache says there were asked for beside page 1, not after its answer
        expected = store.cached_item_count() if store is not None else None
        early[d.ITEMS] = pool.submit(
            in_context(
                lambda: wawi_items_frame(
                    flatten(pages(parallel=wawi.read_parallelism, expected_items=expected))
                )
            )
        )
    if d.RETURNS in needs and wawi is not None:

        def returns() -> pd.DataFrame:
            assert wawi is not None
            frame, skipped = wawi_returns(wawi, store, start, end)
            data.facts["returns_skipped"] = skipped
            return frame

        early[d.RETURNS] = pool.submit(in_context(returns))
    for name, why in d.NOT_RECORDED.items():
        if name in needs:
            data.missing[name] = why
    first_order = q.first_order_date(store)
    first_line = q.first_line_day(store)
    data.facts.update(first_order_date=first_order, first_line_day=first_line)
    read(d.ORDERS, lambda: validated(k.ORDERS_SCHEMA, q.orders_in(store, start, end)))
    read(d.SKU_SALES, lambda: validated(k.SKU_SALES_SCHEMA, q.sku_sales(store, start, end)))
    read(d.TROUBLED, lambda: q.troubled_orders(store, start, end))
    read(d.FULFILMENT, lambda: validated(k.FULFILMENT_SCHEMA, q.fulfilment_events(store, start, end)))
    read(d.OPEN_ORDERS, lambda: validated(k.OPEN_ORDERS_SCHEMA, q.open_orders(store)))
    since = as_of - timedelta(days=params.inbound_history_days)
    read(d.INBOUND_CHECKS, lambda: validated(k.INBOUND_CHECKS_SCHEMA, q.inbound_checks(store, since)))
    week = iso_week(berlin_day(as_of))
    data.facts["restock_week"] = week
    read(d.RESTOCK, lambda: validated(k.RESTOCK_SCHEMA, q.restock_lines(store, week)))
    read(d.PRICE_CHANGES, lambda: price_changes(store, start, end))
    if d.SHOP_SYNC in needs:
        if shop_sync.check_has_run(store):
            read(d.SHOP_SYNC, lambda: shop_sync.incidents_frame(store, start))
        else:
            data.missing[d.SHOP_SYNC] = "the shop sync check has not run against this state database"
    if d.DEMAND in needs:
        window = max(params.cover_window_days, params.dead_stock_days)
        data.frames[d.DEMAND] = validated(
            k.DEMAND_SCHEMA,
            q.demand(
                store,
                k.window_start(period.end, window),
                k.window_start(period.end, params.cover_window_days),
                period.end,
            ),
        )
    # Every query of the state database before the API answers are awaited: they overlap the reads.
    read(d.SHIPPED, lambda: validated(k.SHIPPED_SCHEMA, q.shipped_units(store, start, end)))
    if d.SHIPPED in needs:
        data.facts["shipped_without_lines"] = q.shipped_without_lines(store, start, end)
    if d.FAILED_RUNS in needs:
        if sources.failed_runs is not None:
            data.frames[d.FAILED_RUNS] = validated(k.FAILED_RUNS_SCHEMA, sources.failed_runs)
        else:
            data.missing[d.FAILED_RUNS] = sources.failed_runs_missing or "the Prefect API was not asked"
    if definition.history:
        data.history = store.kpi_history(definition.name, periods=history_periods(period, params))
    if d.ORDERS in needs:
        data.facts["comparison_totals"] = comparison_totals(store, data, first_order)
    if d.STOCK in needs:
        if sources.ffn is None:
            data.missing[d.STOCK] = sources.ffn_missing
        else:
            read(d.STOCK, early[d.STOCK].result, "FFN")
    if d.ITEMS in needs:
        if sources.wawi is None:
            data.missing[d.ITEMS] = sources.wawi_missing
        else:
            read(d.ITEMS, early[d.ITEMS].result, "Wawi")
    if d.RETURNS in needs:
        if sources.wawi is None:
            data.missing[d.RETURNS] = sources.wawi_missing
        else:
            read(d.RETURNS, early[d.RETURNS].result, "Wawi")
    log.info(
        "report %s %s: read %s; missing %s",
        definition.name,
        period,
        {name: len(frame) for name, frame in data.frames.items()},
        sorted(data.missing),
    )
