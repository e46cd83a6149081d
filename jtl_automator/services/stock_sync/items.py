"""Stages 1b-3 of an incremental run with few changed items: each SKU read, planned and adjusted on its own.

Outside full mode the decision for a SKU needs only its FFN rows and its Wawi stock
(``jtl_automator.transforms.stock_sync.merge_plans``), so no adjustment waits for the slowest read: the
SKUs whose stock is back are planned together and their adjustments go out while the other reads are still
on the wire. Writes have ``workers`` threads; reads as many, but never more than the Wawi client may have
on the wire, and a read overdue while a reader idles (among the last ones: one of Wawi's long answers) is
asked for a second time and the first answer used (:class:`~jtl_automator.clients.hedged.HedgedReads`).
The Wawi client's in-flight limit and rate limiter hold reads and writes together, so Wawi's workers
always have the next request queued. The plan and the outcomes are those of reading everything, planning
once and applying (same keys, same ledger).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import partial
from typing import Any

import pandas as pd

from jtl_automator.clients.hedged import HedgedReads, readers
from jtl_automator.clients.wawi.client import WawiClient
from jtl_automator.correlation import in_context
from jtl_automator.services.stock_sync.apply import ApplyContext, Outcome, apply_row
from jtl_automator.services.stock_sync.reads import SyncInputs, item_stock
from jtl_automator.services.write_pool import WritePool
from jtl_automator.transforms.stock_sync import (
    StockPlanParams,
    adjustments,
    merge_plans,
    plan_stock_adjustments,
    wawi_stock_frame,
)

_Pair = tuple[str, str]  # (FFN warehouse, SKU): one adjustment per pair
#: While reads are still on the wire, planning takes at most this share of the time: a plan of one SKU
#: costs about what one of twenty does (the frames' fixed cost, ~40 ms), and planned per answer it took
#: the CPU the reader threads need. The last reads' SKUs are planned at once.
PLAN_SHARE = 0.05
#: ... but what is back never waits longer than this to be planned: on a loaded machine a plan of 80 ms
#: would hold the next answers' adjustments 1.5 s, as long as one of Wawi's slow answers.
MAX_PLAN_HOLD_SECONDS = 0.5
#: How often, while no read is answered, the run looks whether an adjustment failed (it stops the run).
WRITES_LOOKED_AT_SECONDS = 0.05


@dataclass(frozen=True)
class Synced:
    """The run's plan (all SKUs) and what became of its adjustments, in the plan's adjustment order."""

    plan: pd.DataFrame
    outcomes: list[Outcome]


def sync_items(
    wawi: WawiClient,
    inputs: SyncInputs,
    plan_params: StockPlanParams,
    workers: int,
    ctx: ApplyContext | None,
) -> Synced:
    """Read each changed item's Wawi stock, plan its SKU when it is back, adjust it (``ctx`` None: dry run).

    A failed read or write (after the client's retries; a lost lease) stops the run: nothing queued is
    sent, the ones in flight finish, and the error is raised (the watermark stays).
    """
    by_sku: dict[str, list[dict[str, Any]]] = {}
    for item in inputs.items or []:
        sku = item.get("SKU")
        if isinstance(sku, str) and sku.strip() and isinstance(item.get("Id"), int):
            by_sku.setdefault(sku.strip(), []).append(item)
    ffn = inputs.ffn
    pieces: list[pd.DataFrame] = []
    pairs: list[_Pair] = []  # the writes' pairs, in the order they are queued
    writers: WritePool[dict[Any, Any], Outcome] | None = None
    if ctx is not None:
        writers = WritePool(partial(apply_row, ctx), workers, "stock-sync")

    def read(sku: str) -> tuple[str, list[Any]]:
        return sku, [row for item in by_sku[sku] for row in item_stock(wawi, int(item["Id"]))]

    def plan(skus: list[str], stocks: list[Any], rows: pd.DataFrame) -> None:
        items = [item for sku in skus for item in by_sku[sku]]
        piece = plan_stock_adjustments(rows, wawi_stock_frame(items, stocks), plan_params)
        pieces.append(piece)
        if writers is None:
            return
        todo = adjustments(piece).to_dict("records")
        writers.submit_all(todo)  # an earlier adjustment's failure is raised instead
        pairs.extend((str(row["ffn_warehouse_id"]), str(row["merchant_sku"])) for row in todo)

    def plan_read(done: list[tuple[str, list[Any]]]) -> None:
        skus = [sku for sku, _ in done]
        plan(skus, [row for _, rows in done for row in rows], ffn[ffn["merchant_sku"].isin(skus)])

    reads: HedgedReads[str, tuple[str, list[Any]]] = HedgedReads(
        in_context(read), readers(workers, wawi.max_in_flight), "stock-reads"
    )
    try:
        rest = ffn[~ffn["merchant_sku"].isin(list(by_sku))]
        if len(rest):  # no Wawi item (unknown SKU) or an unreadable row: nothing to read, planned now
            plan([], [], rest)
        for sku in by_sku:
            reads.submit(sku)
        pending = len(by_sku)
        ready: list[tuple[str, list[Any]]] = []
        hold_until = 0.0  # what is back waits till then to be planned, unless it is the last
        while pending:
            if writers is not None:
                writers.raise_failure()  # a failed write (a crash, a lost lease) stops the run
            now = time.monotonic()
            wait = (
                min(WRITES_LOOKED_AT_SECONDS, max(0.0, hold_until - now))
                if ready
                else WRITES_LOOKED_AT_SECONDS
            )
            sku = reads.next_answered(timeout=wait)
            while sku is not None:  # every answer in hand
                ready.append(reads.result(sku))  # a failed read raises here
                reads.forget(sku)
                pending -= 1
                sku = reads.next_answered(block=False)
            # One plan call per batch of what is back, at most PLAN_SHARE of the time while reads are
            # on the wire (their adjustments wait a little; the last read's does not)
            if ready and (not pending or time.monotonic() >= hold_until):
                began = time.monotonic()
                plan_read(ready)
                ready = []
                held = (time.monotonic() - began) * (1 / PLAN_SHARE - 1)
                hold_until = time.monotonic() + min(held, MAX_PLAN_HOLD_SECONDS)
        if ready:
            plan_read(ready)
        done = dict(zip(pairs, writers.results() if writers is not None else [], strict=True))
    finally:  # after a failure nothing queued is read or sent; the requests in flight finish
        reads.close()
        if writers is not None:
            writers.close()
    whole = merge_plans(pieces)
    todo = adjustments(whole)  # the outcomes in the order a plan made at once sends them
    order = [(str(w), str(s)) for w, s in zip(todo["ffn_warehouse_id"], todo["merchant_sku"], strict=True)]
    return Synced(whole, [done[pair] for pair in order if pair in done])
