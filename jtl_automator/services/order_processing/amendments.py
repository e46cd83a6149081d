"""Changes after the outbound, acted on: what ``changes`` found is carried to FFN or to a person, once.

- cancelled in Wawi: the outbound is cancelled in FFN while its status still allows; otherwise (picked,
  shipped) a person is alerted with both sides, since the parcel must be stopped or returned by hand;
- re-addressed in Wawi: the outbound's shipping address is updated while FFN still allows a change;
  otherwise a person is alerted with the old and the new address.

Everything is journaled (``changed_after_outbound``, ``outbound_cancelled``, ``outbound_readdressed``,
``change_alerted``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from jtl_automator.clients.errors import ClientError
from jtl_automator.correlation import correlated_logger
from jtl_automator.notify.mail import markdown_text
from jtl_automator.services.order_processing.changes import Change
from jtl_automator.services.order_processing.fulfilment import Context, Journal
from jtl_automator.services.order_processing.report import Outcome

log = correlated_logger("jtl_automator.orders")

#: FFN statuses in which the merchant may still change or cancel an outbound (before the fulfiller
#: acknowledged it); later a person must talk to the fulfiller.
CHANGEABLE = frozenset({"Preparation", "Pending"})


def _alert(
    ctx: Context, journal: Journal, change: Change, status: str | None, why: str, out: list[Outcome]
) -> None:
    """A person must act: both sides, once per change (the journal records the change as seen)."""
    out.append(
        Outcome(change.order_number, change.order_id, "change_alerted", why, outbound_id=change.outbound_id)
    )
    journal.add(
        "change_alerted",
        order_number=change.order_number,
        change_seen=change.change_key,  # acted on: later runs do not alert again for this change
        detail={"kind": change.kind, "outbound_id": change.outbound_id, "status": status, "why": why},
    )
    if ctx.notifier is None:
        log.warning("order %s %s after its outbound: %s", change.order_number, change.kind, why)
        return
    wawi_side = "cancelled" if change.kind == "cancelled" else "a new shipping address"
    ctx.notifier.event(
        f"order:{change.order_number}:changed_after_outbound:{change.change_key}",
        {
            "event": "order.changed_after_outbound",
            "order_number": change.order_number,
            "wawi_order_id": change.order_id,
            "change": change.kind,
            "outbound_id": change.outbound_id,
            "outbound_status": status,
            "address": change.address if change.kind == "readdressed" else None,
            "why": why,
        },
        recipients=ctx.alert_to,
        subject=f"Order {change.order_number} was {change.kind} after its FFN outbound",
        markdown=(
            f"Order **{markdown_text(change.order_number)}** was {change.kind} in Wawi after FFN outbound "
            f"{markdown_text(change.outbound_id)} was made. Wawi now: {wawi_side}. FFN: status "
            f"{markdown_text(status or 'unknown')}. {why}"
        ),
    )


def _change_body(change: Change) -> dict[str, Any]:
    if change.kind == "cancelled":
        return {"status": "Canceled", "cancelReason": "Cancelled in JTL-Wawi"}
    return {"shippingAddress": {k: v for k, v in change.address.items() if v is not None}}


def _applied(journal: Journal, change: Change, out: list[Outcome]) -> None:
    if change.kind == "cancelled":
        event, fields = "outbound_cancelled", {"status": "cancelled"}
    else:
        event, fields = "outbound_readdressed", {"sent_fingerprint": change.fingerprint}
    journal.add(
        event,
        order_number=change.order_number,
        change_seen=change.change_key,
        detail={"outbound_id": change.outbound_id},
        **fields,
    )
    out.append(Outcome(change.order_number, change.order_id, event, outbound_id=change.outbound_id))


def amend_outbounds(ctx: Context, changes: Sequence[Change]) -> list[Outcome]:
    """Carry each change to FFN while the outbound can still change, else alert a person; once each.

    A retryable error propagates without marking the change seen, so a task retry or the next run
    takes it up again; what was decided is journaled as it happens.
    """
    out: list[Outcome] = []
    journal = Journal(ctx)
    try:
        for change in changes:
            journal.add(
                "changed_after_outbound",
                order_number=change.order_number,
                detail={"kind": change.kind, "outbound_id": change.outbound_id},
            )
            if ctx.dry_run or change.outbound_id is None:
                out.append(Outcome(change.order_number, change.order_id, f"would_amend_{change.kind}"))
                continue
            try:
                status = ctx.ffn.outbounds.get(change.outbound_id).status
            except ClientError as exc:
                _alert(ctx, journal, change, None, f"The outbound could not be read ({exc.status}).", out)
                continue
            if status not in CHANGEABLE:
                why = "FFN no longer lets the merchant change it: ask the fulfiller to stop or change it."
                _alert(ctx, journal, change, status, why, out)
                continue
            try:
                ctx.ffn.outbounds.update(change.outbound_id, _change_body(change))
            except ClientError as exc:
                _alert(
                    ctx, journal, change, status, f"FFN refused the change ({exc.code or exc.status}).", out
                )
                continue
            _applied(journal, change, out)
    finally:
        journal.flush()
    return out
