"""The order processing run, defined once: the sequence of stages and what happens when one fails.

``run_stages`` is the only place that says in which order the stages run, that the lease is released
whatever happens, and that the watermarks move only after every chunk is recorded. A run whose time
budget (``params.time_budget_seconds``) ran out hands the orders it did not start over to the next run:
nothing of them is done, the Wawi watermark stays where it was, and the summary and a warning say so.
It takes a :class:`Stages` object that says *how* each stage runs:

- :class:`LocalStages` (here) calls the stage functions directly, the fulfil chunks on a thread pool of
  ``params.workers``: what tests and the benchmark run, without Prefect;
- ``tasks.order_processing.TaskStages`` runs each stage as a Prefect task, the chunks as submitted
  tasks, ``params.workers`` at a time: what the flow runs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeVar

from jtl_automator.clients.ffn.client import FfnClient
from jtl_automator.clients.wawi.client import WawiClient
from jtl_automator.correlation import correlated_logger, in_context
from jtl_automator.notify.notifier import Notifier
from jtl_automator.services.order_processing.amendments import amend_outbounds
from jtl_automator.services.order_processing.fulfilment import Context, apply_actions
from jtl_automator.services.order_processing.importer import ImportedBatch, import_orders
from jtl_automator.services.order_processing.lookups import FulfilmentData, load_fulfilment_data
from jtl_automator.services.order_processing.params import (
    FFN_WATERMARK,
    LEASE_NAME,
    WAWI_WATERMARK,
    OrderProcessingParams,
)
from jtl_automator.services.order_processing.planning import Action, Plan, plan_orders
from jtl_automator.services.order_processing.report import Outcome, skipped, summary
from jtl_automator.services.order_processing.shipping import sync_shipments
from jtl_automator.store import StateStore, iso
from jtl_automator.store.lease_keeper import LeaseKeeper
from jtl_automator.store.store import LeaseInfo

LEASE_HELD = "another run holds the lease"
log = correlated_logger("jtl_automator.orders")
T = TypeVar("T")


class Stages(Protocol):
    """How each stage of one run is executed; :func:`run_stages` decides when."""

    def acquire_lease(self) -> LeaseInfo | None:
        """One run at a time: None once the lease is ours (and kept alive), else who holds it."""
        ...

    def release_lease(self) -> None:
        """Give the lease back (also after a failure)."""
        ...

    def alert_lease_stuck(self, holder: LeaseInfo) -> None:
        """Tell a person that runs keep being skipped for a lease held this long."""
        ...

    def import_orders(self) -> ImportedBatch:
        """Stage 1: the orders to evaluate, with their lines."""
        ...

    def load_lookups(self, batch: ImportedBatch) -> FulfilmentData:
        """Stage 2: catalogue, stock, existing outbounds, on-hold reason ids."""
        ...

    def plan(self, batch: ImportedBatch, data: FulfilmentData) -> Plan:
        """Stage 3: one decision per order (pure)."""
        ...

    def fulfil(self, chunks: Sequence[Sequence[Action]], data: FulfilmentData) -> list[Outcome]:
        """Stage 4: every chunk carried out, ``params.workers`` at a time; the outcomes in chunk order."""
        ...

    def amend(self, batch: ImportedBatch) -> list[Outcome]:
        """Stage 5: orders cancelled or re-addressed after their outbound, carried to FFN or to a person."""
        ...

    def sync_shipments(self, batch: ImportedBatch) -> tuple[list[Outcome], str]:
        """Stage 6: shipped outbounds and their tracking; returns the FFN feed's next watermark."""
        ...

    def advance_watermarks(self, batch: ImportedBatch, ffn_watermark: str) -> None:
        """Stage 7: both watermarks move, once everything before is recorded."""
        ...


def run_stages(stages: Stages, params: OrderProcessingParams, *, dry_run: bool) -> dict[str, Any]:
    """The run: lease → import → lookups → plan → fulfil → amend → shipping → watermarks → summary."""
    holder = None if dry_run else stages.acquire_lease()
    if holder is not None:
        held = holder.held_for()
        if held > timedelta(minutes=params.lease_alert_minutes):
            stages.alert_lease_stuck(holder)
        minutes = held.total_seconds() / 60
        return skipped(
            f"{LEASE_HELD} ({holder.owner}, for {minutes:.0f} min)",
            dry_run=dry_run,
            lease_owner=holder.owner,
            lease_held_minutes=round(minutes, 1),
        )
    seconds: dict[str, float] = {}

    def timed(stage: str, call: Callable[[], T]) -> T:
        started = time.perf_counter()
        try:
            return call()
        finally:
            seconds[stage] = round(time.perf_counter() - started, 3)

    handover: dict[str, Any] | None = None
    try:
        batch = timed("import", stages.import_orders)
        data = timed("lookups", lambda: stages.load_lookups(batch))
        plan = timed("plan", lambda: stages.plan(batch, data))
        chunks = plan.chunks(params.chunk_size)
        outcomes = [*batch.outcomes, *timed("fulfil", lambda: stages.fulfil(chunks, data))]
        if batch.changes:
            outcomes.extend(timed("amend", lambda: stages.amend(batch)))
        shipped, ffn_watermark = timed("shipping", lambda: stages.sync_shipments(batch))
        outcomes.extend(shipped)
        deferred = sum(1 for o in outcomes if o.outcome == "deferred")
        if deferred:
            batch.complete = False
            handover = handed_over(params, deferred, sum(seconds.values()))
            log.warning("order processing: %s", handover["note"])
        timed("watermarks", lambda: stages.advance_watermarks(batch, ffn_watermark))
    finally:
        if not dry_run:
            stages.release_lease()
    extra: dict[str, Any] = {"window_start": iso(batch.window_start), "stage_seconds": seconds}
    if handover is not None:
        extra["handed_over"] = handover
    return summary(outcomes, dry_run=dry_run, **extra)


def handed_over(params: OrderProcessingParams, orders: int, seconds: float) -> dict[str, Any]:
    """What the run's summary says about orders it left to the next run (time budget spent)."""
    budget = params.time_budget_seconds
    note = (
        f"{orders:,} orders were not started within the run's time budget of {budget:,.0f} s (the run took "
        f"{seconds:,.0f} s); nothing of them was done and the Wawi watermark stays where it was, so the "
        "next run takes them up. If this repeats every run, a limit of Wawi or FFN sets the pace "
        "(docs/latency.md)."
    )
    return {"orders": orders, "budget_seconds": budget, "seconds": round(seconds, 1), "note": note}


def lease_keeper(store: StateStore, params: OrderProcessingParams, run_id: str) -> LeaseKeeper:
    """The run's lease, with the merchant's time to live and heartbeat."""
    return LeaseKeeper.for_run(
        store,
        LEASE_NAME,
        run_id,
        ttl_seconds=params.lease_ttl_seconds,
        heartbeat_seconds=params.lease_heartbeat_seconds,
    )


def alert_lease_stuck(
    notifier: Notifier | None, run_id: str, holder: LeaseInfo, recipients: Sequence[str]
) -> None:
    """One alert per stuck holder (the key names it): runs have been skipped for its lease."""
    minutes = holder.held_for().total_seconds() / 60
    text = (
        f"Order processing runs are being skipped: the lease {holder.name!r} has been held by run "
        f"{holder.owner} for {minutes:.0f} minutes (it expires at {holder.expires_at.isoformat()} unless "
        "renewed). If that run is gone, `jtl-automator orders lease --break` frees it."
    )
    log.warning("%s", text)
    if notifier is not None:
        notifier.event(
            f"order-processing:lease-stuck:{holder.owner}",
            {
                "event": "order_processing.lease_stuck",
                "flow_run_id": run_id,
                "lease_owner": holder.owner,
                "held_minutes": round(minutes, 1),
            },
            recipients=recipients,
            subject="Order processing is blocked by a lease",
            markdown=text,
        )


def finish(
    store: StateStore, batch: ImportedBatch, ffn_watermark: str | None, *, dry_run: bool
) -> dict[str, str]:
    """Advance both watermarks: only called once every chunk of the batch is recorded.

    The Wawi watermark stays when the run handed orders over (``batch.complete`` False): the next run
    lists from where this one started. The FFN feed was read to its end either way.
    """
    if dry_run:
        return {}
    marks: dict[str, str] = {}
    if batch.complete:
        marks[WAWI_WATERMARK] = store.advance_watermark(WAWI_WATERMARK, batch.next_watermark)
    if ffn_watermark is not None:
        marks[FFN_WATERMARK] = store.advance_watermark(FFN_WATERMARK, ffn_watermark)
    return marks


@dataclass
class LocalStages:
    """Every stage as a plain call in this process; the fulfil chunks on a thread pool."""

    wawi: WawiClient
    ffn: FfnClient
    store: StateStore
    params: OrderProcessingParams
    run_id: str = "local"
    since: datetime | None = None
    now: datetime | None = None
    dry_run: bool = False
    notifier: Notifier | None = None

    alert_to: Sequence[str] = ()

    def __post_init__(self) -> None:
        self.now = self.now or datetime.now(UTC)
        self.lease = lease_keeper(self.store, self.params, self.run_id)
        self.import_deadline, self.deadline = self.params.deadlines(time.monotonic())

    def context(self, hold_reasons: dict[str, int] | None = None) -> Context:
        """What the write stages need (no messages and no lease in a dry run)."""
        return Context(
            self.wawi,
            self.ffn,
            self.store,
            self.params,
            self.run_id,
            self.dry_run,
            None if self.dry_run else self.notifier,
            dict(hold_reasons or {}),
            lease=None if self.dry_run else self.lease,
            alert_to=self.alert_to,
            deadline=self.deadline,
        )

    def acquire_lease(self) -> LeaseInfo | None:
        """See :class:`Stages`."""
        return self.lease.take()

    def release_lease(self) -> None:
        """See :class:`Stages`."""
        self.lease.release()

    def alert_lease_stuck(self, holder: LeaseInfo) -> None:
        """See :class:`Stages`."""
        alert_lease_stuck(self.notifier, self.run_id, holder, self.alert_to)

    def import_orders(self) -> ImportedBatch:
        """See :class:`Stages`."""
        return import_orders(
            self.wawi,
            self.store,
            self.params,
            since=self.since,
            now=self.now,
            dry_run=self.dry_run,
            run_id=self.run_id,
            deadline=self.import_deadline,
        )

    def load_lookups(self, batch: ImportedBatch) -> FulfilmentData:
        """See :class:`Stages`."""
        return load_fulfilment_data(self.ffn, self.wawi, self.params, batch)

    def plan(self, batch: ImportedBatch, data: FulfilmentData) -> Plan:
        """See :class:`Stages`."""
        return plan_orders(batch, data, self.params)

    def fulfil(self, chunks: Sequence[Sequence[Action]], data: FulfilmentData) -> list[Outcome]:
        """See :class:`Stages`; chunks not started when one fails stay undone for the next run."""
        ctx = self.context(data.hold_reasons)
        apply = in_context(lambda chunk: apply_actions(ctx, chunk))
        outcomes: list[Outcome] = []
        with ThreadPoolExecutor(max_workers=self.params.workers, thread_name_prefix="orders-chunk") as pool:
            futures = [pool.submit(apply, chunk) for chunk in chunks]
            try:
                for future in futures:
                    outcomes.extend(future.result())
            except BaseException:
                for future in futures:
                    future.cancel()
                raise
        return outcomes

    def amend(self, batch: ImportedBatch) -> list[Outcome]:
        """See :class:`Stages`."""
        return amend_outbounds(self.context(), batch.changes)

    def sync_shipments(self, batch: ImportedBatch) -> tuple[list[Outcome], str]:
        """See :class:`Stages`."""
        return sync_shipments(self.context(), start=batch.window_start, now=batch.started_at)

    def advance_watermarks(self, batch: ImportedBatch, ffn_watermark: str) -> None:
        """See :class:`Stages`."""
        finish(self.store, batch, ffn_watermark, dry_run=self.dry_run)


def run_order_processing(
    wawi: WawiClient,
    ffn: FfnClient,
    store: StateStore,
    params: OrderProcessingParams | None = None,
    *,
    since: datetime | None = None,
    dry_run: bool = False,
    run_id: str = "local",
    notifier: Notifier | None = None,
    now: datetime | None = None,
    alert_to: Sequence[str] = (),
) -> dict[str, Any]:
    """The whole run as the flow does it, without Prefect (tests, benchmark)."""
    params = params or OrderProcessingParams()
    started = time.perf_counter()
    stages = LocalStages(wawi, ffn, store, params, run_id, since, now, dry_run, notifier, alert_to)
    result = run_stages(stages, params, dry_run=dry_run)
    if "skipped" not in result:
        result["seconds"] = round(time.perf_counter() - started, 3)
    return result
