"""Stage 4, fulfilment: carry one chunk of decisions out: holds in Wawi, outbounds in FFN, exactly once.

An FFN outbound is keyed by its merchantOutboundNumber (= the Wawi order Number). The planning stage
already looked the batch's numbers up in FFN; each create is also claimed in the state store's
side-effect ledger (``ffn-outbound:<number>``) before the POST:

- NEW claim: nobody tried before; adopt what the bulk lookup found, else POST (the client itself looks
  the number up again after a transient failure, so a lost response never becomes a second outbound).
- PENDING/FAILED claim: an earlier attempt did not finish (a crash between the POST and the ledger
  write, a timeout): look the number up, adopt what is there, create only if nothing is.
- DONE claim: created before; the stored result repairs the order ledger if the crash hit after
  ``complete`` but before the ledger write.

Item-level errors become outcomes (the batch goes on); auth errors propagate and stop the run. The
``outbound_created`` record carries the order's item lines (``ledger_lines``): the replenishment's demand.
Past the run's deadline (its time budget) no order is started: the rest become ``deferred`` outcomes with
nothing done and nothing journaled, and an order already started always finishes.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from jtl_automator.clients.errors import ClientError, ValidationFailed
from jtl_automator.clients.ffn.client import FfnClient
from jtl_automator.clients.wawi.client import WawiClient
from jtl_automator.correlation import correlated_logger
from jtl_automator.notify.mail import markdown_text
from jtl_automator.notify.notifier import Notifier
from jtl_automator.services.ffn_once import OUTBOUND_KIND, ClaimBatch, outbound_key, outbound_once
from jtl_automator.services.order_processing.params import OrderProcessingParams
from jtl_automator.services.order_processing.planning import Action, hold_reason_for
from jtl_automator.services.order_processing.report import Outcome
from jtl_automator.services.order_processing.writeback import (
    HoldKept,
    patch_order,
    release_order,
    tagged_comment,
)
from jtl_automator.store import OrderLine, StateStore
from jtl_automator.store.lease_keeper import LeaseKeeper
from jtl_automator.transforms.allocation import INSUFFICIENT_STOCK

log = correlated_logger("jtl_automator.orders")
#: The reason of an order the run did not start (its time budget was spent).
NOT_STARTED = "not started within the run's time budget"


@dataclass
class Context:
    """Clients and settings the write stages (fulfilment, shipping) need for one run."""

    wawi: WawiClient
    ffn: FfnClient
    store: StateStore
    params: OrderProcessingParams
    run_id: str
    dry_run: bool = False
    notifier: Notifier | None = None
    hold_reasons: dict[str, int] = field(default_factory=dict)
    lease: LeaseKeeper | None = None
    alert_to: Sequence[str] = ()  # told about what the run cannot fix itself (changes after the outbound)
    #: No order is started after this moment (monotonic clock; the run's time budget); None: no limit.
    deadline: float | None = None

    def out_of_time(self) -> bool:
        """Whether the run's time budget is spent (an order started before still finishes)."""
        return self.deadline is not None and time.monotonic() >= self.deadline

    def check_lease(self) -> None:
        """Raise if another run holds the lease now (ours ran out while this run was stuck)."""
        if self.lease is not None:
            self.lease.check()


class Journal:
    """Ledger updates of one chunk, written per event in one transaction each (also when the chunk fails)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.updates: dict[str, list[dict[str, Any]]] = {}

    def add(self, event: str, **update: Any) -> None:
        """Queue one ledger update (orders without a number cannot be recorded)."""
        if update.get("order_number"):
            self.updates.setdefault(event, []).append(update)

    def status(self, action: Action, status: str, *, reason: str | None = None, **fields: Any) -> None:
        """The order's new ledger status (and reason), journaled under the status's own event."""
        self.add(
            status,
            order_number=action.order_number,
            wawi_order_id=action.order_id,
            status=status,
            hold_reason=reason,
            order_date=action.order_date,
            **fields,
        )

    def flush(self) -> None:
        """Write what is queued (nothing in a dry run)."""
        if self.ctx.dry_run:
            return
        for event, updates in self.updates.items():
            self.ctx.store.record_orders(updates, event=event, run_id=self.ctx.run_id)
        self.updates.clear()


def _hold(ctx: Context, action: Action, journal: Journal, out: list[Outcome]) -> None:
    assert action.order_id is not None
    outcome = Outcome(action.order_number, action.order_id, "held", action.reason, action.codes)
    if action.unchanged or ctx.dry_run:
        out.append(outcome)
        return
    try:
        patch_order(
            ctx.wawi,
            action.order_id,
            action.hold_reason_id,
            tagged_comment(action.comment, f"on hold: {action.reason}"),
        )
    except ClientError as exc:
        _fail(ctx, action, f"hold in Wawi failed: {exc}", journal, out)
        return
    detail = {
        "codes": list(action.codes),
        "reason": action.reason,
        "on_hold_reason_id": action.hold_reason_id,
    }
    if action.owns_number:
        journal.status(action, "held", reason=action.reason, detail=detail)
    else:  # the number's ledger row belongs to the order that keeps it: journal only
        journal.add(
            "duplicate_held",
            order_number=action.order_number,
            detail={**detail, "wawi_order_id": action.order_id},
        )
    out.append(outcome)
    if ctx.notifier is not None and action.owns_number:
        ctx.notifier.event(
            f"order:{action.order_number}:held",
            {
                "event": "order.held",
                "order_number": action.order_number,
                "wawi_order_id": action.order_id,
                "codes": list(action.codes),
                "reason": action.reason,
            },
        )


def _fail(ctx: Context, action: Action, error: str, journal: Journal, out: list[Outcome]) -> None:
    out.append(Outcome(action.order_number, action.order_id, "failed", error, action.codes))
    log.warning("order %s failed: %s", action.order_number, error)
    repeated = action.ledger_status == "failed" and action.ledger_reason == error[:2000]
    if action.owns_number and not repeated:
        journal.status(action, "failed", reason=error[:2000], detail={"error": error[:2000]})


def _outbound(
    ctx: Context, action: Action, claims: ClaimBatch | None = None
) -> tuple[dict[str, Any], bool] | None:
    """The outbound of this order: (result, created_now), or None when it vanished since the lookup.

    Exactly once (``services.ffn_once``), see the module docstring. Item-level API errors propagate.
    """
    return outbound_once(
        claims if claims is not None else ctx.store,
        ctx.ffn,
        str(action.order_number),
        action.payload,
        run_id=ctx.run_id,
        existing=action.existing,
    )


def _hold_for_stock(ctx: Context, action: Action, exc: ValidationFailed) -> Action:
    """FFN refused the create for stock that moved since we read it: hold the order, never oversell."""
    return Action(
        "hold",
        action.order_number,
        action.order_id,
        action.order_date,
        reason=f"{INSUFFICIENT_STOCK}: {exc.messages[0] if exc.messages else exc}",
        codes=(INSUFFICIENT_STOCK,),
        hold_reason_id=hold_reason_for((INSUFFICIENT_STOCK,), ctx.hold_reasons),
        comment=action.comment,
    )


def _fulfil(
    ctx: Context, action: Action, journal: Journal, out: list[Outcome], claims: ClaimBatch | None = None
) -> None:
    assert action.order_id is not None and action.order_number is not None
    if ctx.dry_run:
        kind = "created" if action.kind == "create" else "adopted"
        out.append(Outcome(action.order_number, action.order_id, kind, warehouse_id=action.warehouse_id))
        if action.was_held:
            out.append(Outcome(action.order_number, action.order_id, "released"))
        return
    try:
        got = _outbound(ctx, action, claims)
    except ValidationFailed as exc:
        if exc.code == "Stocks_NotEnoughStock":
            _hold(ctx, _hold_for_stock(ctx, action, exc), journal, out)
            return
        _fail(ctx, action, f"outbound create refused: {exc}", journal, out)
        return
    except ClientError as exc:
        _fail(ctx, action, f"outbound create refused: {exc}", journal, out)
        return
    if got is None:
        out.append(
            Outcome(action.order_number, action.order_id, "failed", "outbound vanished; retried next run")
        )
        return
    result, created = got
    outbound_id, warehouse = result.get("outboundId"), result.get("warehouseId")
    kind = "created" if created else "adopted"
    line = f"FFN outbound {outbound_id} (warehouse {warehouse})"
    try:
        comment = tagged_comment(action.comment, line)
        if action.was_held:
            release_order(ctx.wawi, action.order_id, ctx.params.hold_release_value, comment)
        else:
            patch_order(ctx.wawi, action.order_id, None, comment)
    except (ClientError, HoldKept) as exc:
        out.append(Outcome(action.order_number, action.order_id, "writeback_failed", str(exc)))
        journal.add("writeback_failed", order_number=action.order_number, detail={"error": str(exc)[:2000]})
    else:
        if action.was_held:
            out.append(Outcome(action.order_number, action.order_id, "released"))
            journal.add("released", order_number=action.order_number, detail={"outbound_id": outbound_id})
    journal.status(
        action,
        "outbound_created",
        outbound_id=outbound_id,
        warehouse_id=warehouse,
        sent_fingerprint=action.fingerprint,
        lines=ledger_lines(action, warehouse or action.warehouse_id),
        detail={
            "outbound_id": outbound_id,
            "warehouse_id": warehouse,
            "adopted": not created,
            "open_quantities_only": action.partial,
        },
    )
    out.append(
        Outcome(action.order_number, action.order_id, kind, warehouse_id=warehouse, outbound_id=outbound_id)
    )
    if ctx.notifier is not None and created:
        params = ctx.params
        ctx.notifier.event(
            f"order:{action.order_number}:outbound_created",
            {
                "event": "order.outbound_created",
                "order_number": action.order_number,
                "wawi_order_id": action.order_id,
                "outbound_id": outbound_id,
                "warehouse_id": warehouse,
            },
            recipients=[action.email] if action.email and params.notify_customers else (),
            subject=params.confirmation_subject.format(order_number=action.order_number),
            markdown=confirmation_markdown(action),
        )


def ledger_lines(action: Action, warehouse: str | None) -> list[OrderLine] | None:
    """The order's item lines for the ledger: units and amounts ordered, in the outbound's warehouse, by day.

    The day is the UTC date of the Wawi order date (the calendar FFN's timestamps are read in; an order
    without a date counts on the day its outbound is made). Without a warehouse there is nothing to
    record (None leaves the order's lines as they are).
    """
    if not warehouse:
        log.warning("order %s: outbound without a warehouse, its lines are not recorded", action.order_number)
        return None
    moment = action.order_date or datetime.now(UTC)
    day = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC).date()
    return [
        OrderLine(
            item.position,
            item.sku,
            warehouse,
            item.quantity,
            day,
            item.net_amount,
            item.gross_amount,
            item.cost_amount,
        )
        for item in action.items
    ]


def confirmation_markdown(action: Action) -> str:
    """The customer's order confirmation (items from the outbound body)."""
    greeting = f"Hello {markdown_text(action.customer)}," if action.customer else "Hello,"
    number = markdown_text(action.order_number)
    lines = [greeting, "", f"thank you for your order **{number}**. It is being packed now.", ""]
    for item in (action.payload or {}).get("items", []):
        name = markdown_text(item.get("name") or item.get("merchantSku"))
        lines.append(f"- {item.get('quantity')} × {name}")
    lines += ["", "We will write again with the tracking number as soon as the parcel ships."]
    return "\n".join(lines)


def _leave_on_hold(action: Action, journal: Journal, out: list[Outcome]) -> None:
    out.append(Outcome(action.order_number, action.order_id, "on_hold_wawi", action.reason))
    if action.ledger_status != "on_hold_wawi" or action.ledger_reason != action.reason:
        journal.status(action, "on_hold_wawi", reason=action.reason)


def apply_actions(ctx: Context, actions: Sequence[Action]) -> list[Outcome]:
    """Carry out one chunk's decisions. Item-level errors become outcomes; auth errors propagate.

    The chunk's ledger updates are written even when a retryable error ends the chunk early, so a task
    retry (or the next run) finds the finished orders finished. The chunk's outbound claims are taken in
    one transaction and settled in one (:class:`ClaimBatch`), before the order ledger is written.
    """
    ctx.check_lease()
    journal = Journal(ctx)
    out: list[Outcome] = []
    creates = [str(a.order_number) for a in actions if a.kind in ("create", "adopt") and a.order_number]
    claims = (
        None if ctx.dry_run else ClaimBatch(ctx.store, map(outbound_key, creates), OUTBOUND_KIND, ctx.run_id)
    )
    try:
        for index, action in enumerate(actions):
            if ctx.out_of_time():
                out.extend(
                    Outcome(a.order_number, a.order_id, "deferred", NOT_STARTED) for a in actions[index:]
                )
                break
            if action.kind == "hold":
                _hold(ctx, action, journal, out)
            elif action.kind in ("create", "adopt"):
                _fulfil(ctx, action, journal, out, claims)
            elif action.kind == "fail":
                _fail(ctx, action, action.reason or "failed", journal, out)
            elif action.kind == "on_hold_wawi":
                _leave_on_hold(action, journal, out)
    finally:
        try:
            if claims is not None:
                claims.settle()
        finally:
            journal.flush()
    return out
