"""Stage 1, import: which Wawi sales orders this run looks at, read once into the orders and lines frames.

The listing starts at the watermark (minus an overlap) and reaches back to the oldest open order, so
held orders are re-read every run. Orders the ledger shows as finished, and orders Wawi marks delivered
complete (``DeliveryCompleteStatus`` 1 or 2), are skipped at the door without further requests; orders
whose every item line was delivered another way (``QuantityDelivered``) are skipped once their lines are
read, and the lines of the others are reduced to what is still open. Line items cost one GET per order (Wawi
1.0 has no embedded lines); a small thread pool shares the client's rate limiter for them. Orders whose
lines were not read by the import's deadline (the run's time budget) are handed over: recorded
``imported`` in the ledger, so the next run's window reaches back to them, and nothing else is done.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd

from jtl_automator.clients.errors import ClientError
from jtl_automator.clients.pagination import flatten
from jtl_automator.clients.wawi.client import WawiClient
from jtl_automator.correlation import correlated_logger, in_context
from jtl_automator.services.order_processing.changes import Change, detect_changes
from jtl_automator.services.order_processing.params import (
    DELIVERED_ELSEWHERE,
    OPEN_STATUSES,
    SKIP_STATUSES,
    WATCH_STATUSES,
    WAWI_WATERMARK,
    OrderProcessingParams,
)
from jtl_automator.services.order_processing.report import Outcome
from jtl_automator.store import StateStore, iso, parse_iso
from jtl_automator.store.store import OrderRecord
from jtl_automator.transforms.orders import line_items_frame, open_lines, sales_orders_frame

log = correlated_logger("jtl_automator.orders")

#: DeliveryCompleteStatus: 0 DeliveryNotComplete, 1 DeliveryComplete, 2 DeliveryCompleteWithoutNote.
DELIVERED_STATUSES = (1, 2)


@dataclass
class ImportedBatch:
    """The orders this run evaluates (``orders``/``lines`` frames), and what was skipped at the door."""

    window_start: datetime
    started_at: datetime
    orders: pd.DataFrame
    lines: pd.DataFrame
    ledger: dict[str, OrderRecord]
    outcomes: list[Outcome] = field(default_factory=list)
    partially_delivered: frozenset[int] = frozenset()  # order ids whose lines were reduced to the open part
    #: The lines as Wawi has them, before the reduction to the open part (the ordered units the order ledger
    #: records as demand); None: ``lines`` are those.
    ordered_lines: pd.DataFrame | None = None
    changes: list[Change] = field(default_factory=list)  # cancelled or re-addressed after the outbound
    listed: int = 0
    requests: int = 0
    #: False once the run handed orders over to the next (time budget): the Wawi watermark stays then.
    complete: bool = True

    @property
    def next_watermark(self) -> str:
        """Where the next run's listing starts: this run's start (the overlap is applied when reading)."""
        return iso(self.started_at)

    def order_numbers(self) -> list[str]:
        """Numbers of the orders to evaluate (the keys of the exactly-once lookup)."""
        return [str(n) for n in self.orders["order_number"].dropna().tolist()]


def import_window(
    store: StateStore, params: OrderProcessingParams, since: datetime | None, now: datetime
) -> datetime:
    """Start of the Wawi listing.

    ``since`` wins when given. Otherwise the watermark (minus the overlap; first run: ``lookback_days``),
    moved back to the oldest open (held, failed …) order or unshipped outbound, so one listing re-reads
    them too (and sees cancellations and new addresses), but never further back than ``max_lookback_days``.
    """
    if since is not None:
        return since if since.tzinfo else since.replace(tzinfo=UTC)
    overlap = timedelta(minutes=params.overlap_minutes)
    mark = parse_iso(store.get_watermark(WAWI_WATERMARK))
    start = mark - overlap if mark else now - timedelta(days=params.lookback_days)
    open_dates = [r.order_date for r in store.orders_in_status(WATCH_STATUSES) if r.order_date is not None]
    if open_dates:
        start = min(start, min(open_dates))
    return max(start, now - timedelta(days=params.max_lookback_days))


#: What :func:`fetch_line_items` answers for an order it did not read before its deadline.
NOT_REACHED = "not reached within the run's time budget"


def fetch_line_items(
    wawi: WawiClient, order_ids: Sequence[int], workers: int, *, deadline: float | None = None
) -> tuple[dict[int, list[Any]], dict[int, str]]:
    """Lines per order from a small thread pool (the v1 API has no embedded lines; one GET per order).

    The threads share the client, hence its rate limiter, in-flight limit and connection pool. An order
    that vanished (404) or whose lines Wawi refuses is reported per order; retryable and auth errors
    propagate. No read starts after ``deadline`` (monotonic): those orders are reported :data:`NOT_REACHED`.
    """
    lines: dict[int, list[Any]] = {}
    problems: dict[int, str] = {}

    def one(order_id: int) -> tuple[int, list[Any] | None, str | None]:
        if deadline is not None and time.monotonic() >= deadline:
            return order_id, None, NOT_REACHED
        try:
            return order_id, wawi.sales_orders.raw_line_items(order_id), None
        except ClientError as exc:
            return order_id, None, str(exc)

    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="wawi-lines") as pool:
        for order_id, found, problem in pool.map(in_context(one), order_ids):
            if found is not None:
                lines[order_id] = found
            else:
                problems[order_id] = problem or "line items could not be read"
    return lines, problems


def _value(value: Any) -> Any:
    """A frame cell as plain Python (missing markers become None)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    return value.to_pydatetime() if isinstance(value, pd.Timestamp) else value


def _list_orders(wawi: WawiClient, start: datetime) -> pd.DataFrame:
    """The listing as the orders frame; orders without an Id first (they fail, but keep their place)."""
    # JTL_WAWI_PAGE_SIZE; after the first page, as many at once as Wawi may have on the wire
    pages = wawi.sales_orders.iter_pages(created_since=iso(start), parallel=wawi.read_parallelism)
    frame = sales_orders_frame(order for order in flatten(pages) if isinstance(order, dict))
    no_id = frame["order_id"].isna()
    return pd.concat([frame.loc[no_id], frame.loc[~no_id]], ignore_index=True)


def _door(orders: pd.DataFrame, ledger: dict[str, OrderRecord]) -> tuple[pd.Series, list[Outcome]]:
    """Which listed orders to evaluate; finished and already-delivered ones become outcomes here."""
    keep: list[bool] = []
    outcomes: list[Outcome] = []
    for order_id, number, delivered in zip(
        orders["order_id"].tolist(),
        orders["order_number"].tolist(),
        orders["delivery_status"].tolist(),
        strict=True,
    ):
        order_id, number = _value(order_id), _value(number)
        record = ledger.get(number) if number else None
        if order_id is None:
            keep.append(True)
        elif (
            record is not None and record.status in SKIP_STATUSES and record.wawi_order_id in (None, order_id)
        ):
            outcomes.append(Outcome(number, order_id, "skipped_existing", outbound_id=record.outbound_id))
            keep.append(False)
        elif record is None and _value(delivered) in DELIVERED_STATUSES:
            # Wawi delivered it completely another way: creating an outbound would ship it twice.
            outcomes.append(Outcome(number, order_id, "skipped_delivered", reason="DeliveryCompleteStatus"))
            keep.append(False)
        else:
            keep.append(True)
    return pd.Series(keep, index=orders.index, dtype=bool), outcomes


def import_orders(
    wawi: WawiClient,
    store: StateStore,
    params: OrderProcessingParams,
    *,
    since: datetime | None = None,
    now: datetime | None = None,
    dry_run: bool = False,
    run_id: str | None = None,
    deadline: float | None = None,
) -> ImportedBatch:
    """List Wawi orders created since the window start (paged), skip finished ones, fetch the others' lines.

    New order numbers are recorded ``imported`` (unless ``dry_run``); the watermark does NOT move here.
    Orders whose lines were not read by ``deadline`` (monotonic) are handed over (outcome ``deferred``).
    """
    started = now or datetime.now(UTC)
    start = import_window(store, params, since, started)
    before = wawi.stats.requests
    listed = _list_orders(wawi, start)
    ledger = store.orders({str(n) for n in listed["order_number"].dropna().tolist()})
    keep, outcomes = _door(listed, ledger)
    changes = detect_changes(listed.loc[~keep], ledger)
    evaluate = listed.loc[keep]

    ids = [int(i) for i in evaluate["order_id"].dropna().tolist()]
    lines, problems = fetch_line_items(wawi, ids, params.workers, deadline=deadline)
    later = [order_id for order_id, problem in problems.items() if problem == NOT_REACHED]
    deferred = evaluate["order_id"].isin(later).fillna(False).astype(bool)
    unreadable = evaluate["order_id"].isin(list(problems)).fillna(False).astype(bool) & ~deferred
    for order_id, number in zip(
        evaluate.loc[unreadable, "order_id"].tolist(),
        evaluate.loc[unreadable, "order_number"].tolist(),
        strict=True,
    ):
        outcomes.append(Outcome(_value(number), int(order_id), "failed", reason=problems[int(order_id)]))
    handed = evaluate.loc[deferred]
    for order_id, number in zip(handed["order_id"].tolist(), handed["order_number"].tolist(), strict=True):
        outcomes.append(Outcome(_value(number), int(order_id), "deferred", reason=NOT_REACHED))
    kept = evaluate.loc[~unreadable & ~deferred]
    ordered = line_items_frame(lines, kept["order_id"].dropna().tolist())
    opened = open_lines(ordered)
    delivered = kept["order_id"].isin(list(opened.complete)).fillna(False).astype(bool)
    # An order the ledger still has open (handed over before its lines were read, or held) that Wawi
    # delivered completely another way is closed, or it would pull every later listing back to it.
    closed: list[dict[str, Any]] = []
    for order_id, number in zip(
        kept.loc[delivered, "order_id"].tolist(), kept.loc[delivered, "order_number"].tolist(), strict=True
    ):
        number = _value(number)
        outcomes.append(Outcome(number, int(order_id), "skipped_delivered", reason="QuantityDelivered"))
        record = ledger.get(number) if number else None
        if record is not None and record.status in OPEN_STATUSES:
            closed.append(
                {
                    "order_number": str(number),
                    "wawi_order_id": int(order_id),
                    "status": DELIVERED_ELSEWHERE,
                    "detail": {"reason": "every line delivered in Wawi"},
                }
            )
    kept = kept.loc[~delivered].reset_index(drop=True)

    batch = ImportedBatch(
        window_start=start,
        started_at=started,
        orders=kept,
        lines=opened.lines.loc[~opened.lines["order_id"].isin(list(opened.complete))].reset_index(drop=True),
        ledger=ledger,
        outcomes=outcomes,
        partially_delivered=opened.partial,
        ordered_lines=ordered.loc[~ordered["order_id"].isin(list(opened.complete))].reset_index(drop=True),
        changes=changes,
        listed=len(listed),
        requests=wawi.stats.requests - before,
        complete=not bool(deferred.any()),
    )
    if not dry_run:
        # handed-over orders enter the ledger too: open, they pull the next run's window back to them
        _record_imported(store, pd.concat([kept, handed]), ledger, run_id)
        _record_failed(store, [o for o in outcomes if o.outcome == "failed" and o.order_number], run_id)
        if closed:
            store.record_orders(closed, event="skipped_delivered", run_id=run_id)
    log.info(
        "imported %d orders since %s (%d to evaluate, %d skipped)",
        batch.listed,
        iso(start),
        len(kept),
        len(outcomes),
    )
    return batch


def _record_imported(
    store: StateStore, orders: pd.DataFrame, ledger: dict[str, OrderRecord], run_id: str | None
) -> None:
    """Numbers seen for the first time enter the ledger as ``imported`` (the first order keeps a number)."""
    fresh: dict[str, dict[str, Any]] = {}
    for number, order_id, date in zip(
        orders["order_number"].tolist(),
        orders["order_id"].tolist(),
        orders["order_date"].tolist(),
        strict=True,
    ):
        number, order_id = _value(number), _value(order_id)
        if number and order_id is not None and number not in ledger and number not in fresh:
            fresh[number] = {
                "order_number": number,
                "wawi_order_id": int(order_id),
                "status": "imported",
                "order_date": _value(date),
            }
    store.record_orders(fresh.values(), event="imported", run_id=run_id)


def _record_failed(store: StateStore, failed: Sequence[Outcome], run_id: str | None) -> None:
    store.record_orders(
        (
            {
                "order_number": o.order_number,
                "wawi_order_id": o.order_id,
                "status": "failed",
                "hold_reason": o.reason,
                "detail": {"error": o.reason},
            }
            for o in failed
        ),
        event="failed",
        run_id=run_id,
    )
