"""Stage 3: the adjustments sent to Wawi exactly once, although ``POST /stocks`` adds a delta.

A delta call is not idempotent: a lost answer followed by a blind re-send books it twice. So:

1. The intent (key, level before, delta, level after) is recorded in the state store *before* the call.
   The key is (Wawi warehouse, item, target version): FFN's ``stockVersion`` in incremental runs, the
   target and the level the delta was computed from in full runs. A key already done is never sent again.
2. After a lost answer (timeout, dropped connection, 5xx) Wawi's stock of that item and warehouse is read
   again: at the level *after*, the call landed (recorded as done); at the level *before*, it did not (sent
   again, at most ``resend_max`` times); anything else is a conflict (someone else moved the stock):
   recorded as failed with both numbers, and the next run plans from a fresh read.
3. A crash between the call and its record leaves the intent pending. Every run first settles the pending
   intents of earlier runs the same way (:func:`settle_pending`), before it reads and plans anything.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pandas as pd

from jtl_automator.clients.errors import ClientError, RetryableError
from jtl_automator.clients.wawi.client import WawiClient
from jtl_automator.correlation import correlated_logger
from jtl_automator.services.stock_sync.params import KIND, StockSyncParams
from jtl_automator.services.stock_sync.reads import wawi_level
from jtl_automator.store import StateStore
from jtl_automator.store.lease_keeper import LeaseKeeper
from jtl_automator.store.store import ClaimState

log = correlated_logger("jtl_automator.stock_sync")
_TOLERANCE = 1e-6

APPLIED = "applied"
ALREADY = "already_applied"
CONFLICT = "conflict"
FAILED = "failed"


@dataclass(frozen=True)
class Outcome:
    """What became of one planned adjustment."""

    key: str
    sku: str
    wawi_warehouse_id: int
    item_id: int
    delta: float
    result: str
    reason: str = ""
    sends: int = 0


@dataclass
class ApplyContext:
    """What the write stage needs."""

    wawi: WawiClient
    store: StateStore
    params: StockSyncParams
    run_id: str
    lease: LeaseKeeper | None = None


def _same(a: float, b: float) -> bool:
    return abs(a - b) <= _TOLERANCE


def intent_key(warehouse_id: int, item_id: int, version: str, target: float, before: float) -> str:
    """One key per (warehouse, item, target version): a rerun of the same decision finds it."""
    tag = version or f"full:{target:g}:from:{before:g}"
    return f"stock:{warehouse_id}:{item_id}:{tag}"


def settle_pending(wawi: WawiClient, store: StateStore) -> list[Outcome]:
    """Intents a crash left between call and record: done if Wawi shows *after*, else failed (re-planned)."""
    outcomes: list[Outcome] = []
    for claim in store.pending_side_effects(KIND):
        intent = claim.result or {}
        try:
            warehouse, item = int(intent["wawi_warehouse_id"]), int(intent["item_id"])
            before, after = float(intent["before"]), float(intent["after"])
        except (KeyError, TypeError, ValueError):
            store.fail(claim.key, "intent unreadable; re-planned from a fresh read")
            continue
        live = wawi_level(wawi, item, warehouse)
        outcome = Outcome(claim.key, str(intent.get("sku", "")), warehouse, item, after - before, ALREADY)
        if _same(live, after):
            store.complete(claim.key, {**intent, "settled": "found applied after an interrupted run"})
            outcomes.append(outcome)
        else:
            why = "not applied" if _same(live, before) else "conflict"
            store.fail(claim.key, f"{why}: Wawi shows {live:g} (before {before:g}, after {after:g})")
            outcomes.append(
                Outcome(
                    outcome.key,
                    outcome.sku,
                    warehouse,
                    item,
                    outcome.delta,
                    "settled_" + why.replace(" ", "_"),
                )
            )
        log.warning("settled interrupted adjustment %s: %s", claim.key, outcomes[-1].result)
    return outcomes


def apply_adjustments(ctx: ApplyContext, rows: pd.DataFrame) -> list[Outcome]:
    """Every ``adjust`` row of the plan, exactly once; a bad row is recorded and the batch goes on.

    Rows are independent (one intent per warehouse and item), so ``params.workers`` of them are sent at
    once: the time is Wawi's round trips, not this process. Outcomes keep the plan's order.
    """
    records = rows.to_dict("records")  # one dict per row: keys are the column names
    if ctx.params.workers == 1 or len(records) < 2:
        return [apply_row(ctx, row) for row in records]
    pool = ThreadPoolExecutor(max_workers=ctx.params.workers, thread_name_prefix="stock-sync")
    try:
        return list(pool.map(lambda row: apply_row(ctx, row), records))
    finally:  # after a failure (a lost lease, a crash) nothing queued is sent; the ones in flight finish
        pool.shutdown(wait=True, cancel_futures=True)


def apply_row(ctx: ApplyContext, row: Mapping[Any, Any]) -> Outcome:
    """One ``adjust`` row of the plan, exactly once; the lease is checked first (lost: nothing is sent)."""
    if ctx.lease is not None:
        ctx.lease.check()
    return _apply_one(ctx, {str(k): v for k, v in row.items()})


def _apply_one(ctx: ApplyContext, row: Mapping[str, Any]) -> Outcome:
    warehouse, item = int(row["wawi_warehouse_id"]), int(row["item_id"])
    before, delta = float(row["current"]), float(row["delta"])
    after = before + delta
    key = intent_key(warehouse, item, str(row["version"] or ""), float(row["target"]), before)
    sku = str(row["merchant_sku"])
    intent = {
        "wawi_warehouse_id": warehouse,
        "item_id": item,
        "sku": sku,
        "ffn_warehouse_id": str(row["ffn_warehouse_id"]),
        "before": before,
        "delta": delta,
        "after": after,
        "run_id": ctx.run_id,
    }
    claim = ctx.store.claim(key, KIND, ctx.run_id, intent=intent)

    def outcome(result: str, reason: str = "", sends: int = 0) -> Outcome:
        return Outcome(key, sku, warehouse, item, delta, result, reason, sends)

    if claim.state is ClaimState.DONE:
        return outcome(ALREADY, "this adjustment was recorded as done before")
    if claim.state is ClaimState.PENDING:
        # Claimed by an attempt that never recorded its end (a retried task): Wawi decides.
        live = wawi_level(ctx.wawi, item, warehouse)
        previous = claim.result or {}
        if _same(live, float(previous.get("after", after))):
            ctx.store.complete(key, {**intent, "settled": "found applied on retry"})
            return outcome(ALREADY, "an earlier attempt had applied it")
        if not _same(live, before):
            return _conflict(ctx, key, outcome, live, before, after, 0)
    return _send(ctx, key, intent, outcome, warehouse, item, before, delta, after)


def _send(
    ctx: ApplyContext,
    key: str,
    intent: dict[str, Any],
    outcome: Callable[..., Outcome],
    warehouse: int,
    item: int,
    before: float,
    delta: float,
    after: float,
) -> Outcome:
    body = {"warehouse_id": warehouse, "item_id": item, "quantity": delta, "comment": ctx.params.comment}
    sends = 0
    while True:
        sends += 1
        try:
            ctx.wawi.stocks.adjust(body, disable_workflows=ctx.params.disable_workflows)
        except ClientError as exc:  # Wawi refused it (unknown item, negative stock, ...): this line only
            reason = f"Wawi refused the adjustment: {exc}"
            ctx.store.fail(key, reason)
            return outcome(FAILED, reason, sends)
        except RetryableError as exc:
            live = wawi_level(ctx.wawi, item, warehouse)
            if _same(live, after):
                log.info("adjustment %s landed although its answer was lost (%s)", key, type(exc).__name__)
                ctx.store.complete(key, {**intent, "answer": "lost; found applied"})
                return outcome(APPLIED, "answer lost, found applied in Wawi", sends)
            if not _same(live, before):
                return _conflict(ctx, key, outcome, live, before, after, sends)
            if sends >= ctx.params.resend_max:
                reason = f"not applied after {sends} sends ({type(exc).__name__}); the next run tries again"
                ctx.store.fail(key, reason)
                return outcome(FAILED, reason, sends)
            log.warning("adjustment %s did not land (%s); sending it again", key, type(exc).__name__)
            continue
        ctx.store.complete(key, intent)
        return outcome(APPLIED, "", sends)


def _conflict(
    ctx: ApplyContext,
    key: str,
    outcome: Callable[..., Outcome],
    live: float,
    before: float,
    after: float,
    sends: int,
) -> Outcome:
    reason = f"Wawi shows {live:g}, neither {before:g} (before) nor {after:g} (after): changed meanwhile"
    ctx.store.fail(key, reason)
    return outcome(CONFLICT, reason, sends)
