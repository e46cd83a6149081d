"""Stage 4 and 5: the run's history into the state database, then the alerts it calls for.

History: the followed orders (new ones with their lines, re-read ones with their shop state), what Wawi
said of each, the order cursor (only after the orders are recorded), the channel prices read, and the
incident plan, each incident action once. Orders Wawi has and that left the recheck window are pruned
unless an open incident names them.

Alerts: one message per run for the incidents raised and not announced yet and those cleared after
their raise was announced ("stuck since" is each incident's first sight). The notifier's side-effect
ledger keys the message by the incidents it names, so a retried run does not send it twice; only after
every configured channel delivered it are the incidents marked, so a failed send is tried again by the
next run. With no channel configured nothing is marked (a channel added later announces what is open).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from jtl_automator.correlation import correlated_logger
from jtl_automator.notify.notifier import Notifier
from jtl_automator.services.shop_sync.evaluate import Evaluation
from jtl_automator.services.shop_sync.params import ShopSyncParams
from jtl_automator.services.shop_sync.reads import ShopInputs, WawiInputs
from jtl_automator.store.shop_sync import ALERT_CLEARED, ALERT_RAISED, Incident, ShopSyncStore
from jtl_automator.transforms.shop_sync import CANCELLED_OPEN, STUCK_ORDER

log = correlated_logger("jtl_automator.shop_sync")
BERLIN = ZoneInfo("Europe/Berlin")
LABELS = {
    "stuck_order": "stuck order",
    "cancelled_open": "cancelled in the shop, open in Wawi",
    "stale_stock": "stale stock",
    "price_drift": "price drift",
}


@dataclass
class Recorded:
    """What the run wrote."""

    incidents: dict[str, int] = field(default_factory=dict)
    orders_recorded: int = 0
    orders_pruned: int = 0
    cursor: int | None = None
    channel_prices_cached: int = 0


def record(
    sync: ShopSyncStore,
    shop: ShopInputs,
    wawi: WawiInputs,
    evaluation: Evaluation,
    params: ShopSyncParams,
    run_id: str,
) -> Recorded:
    """Write the run's history (see the module docstring); the incident actions last, in one transaction."""
    now = evaluation.now
    out = Recorded()
    out.orders_recorded = sync.record_orders([*shop.orders.new, *shop.orders.reread], now)
    if wawi.orders_ok and wawi.matches:
        sync.record_matches(wawi.matches.values(), now)
    if shop.orders.ok and shop.orders.cursor > shop.orders.start:
        out.cursor = sync.advance_order_cursor(shop.orders.cursor)
    if wawi.channel_reads:
        out.channel_prices_cached = sync.write_channel_prices(wawi.channel_reads, now)
    out.incidents = sync.apply(evaluation.changes, now, run_id)
    keep = {i.key for i in sync.open_incidents([STUCK_ORDER, CANCELLED_OPEN])}
    window = timedelta(hours=max(params.order_recheck_hours, params.order_grace_minutes / 60))
    out.orders_pruned = sync.prune_orders(now - window, keep)
    return out


def _when(moment: datetime | None) -> str:
    return moment.astimezone(BERLIN).strftime("%Y-%m-%d %H:%M") if moment else ""


def _line(incident: Incident, cleared: bool) -> str:
    detail = str(incident.details.get("detail") or "")
    last = f"cleared {_when(incident.cleared_at)}" if cleared else detail
    label = LABELS.get(incident.kind, incident.kind)
    return f"| {label} | {incident.key} | {_when(incident.first_seen)} | {last} |"


def alert_message(raised: Sequence[Incident], cleared: Sequence[Incident]) -> tuple[str, str, dict[str, Any]]:
    """Subject, markdown body and webhook payload of one alert."""
    subject = "Shop sync: " + ", ".join(
        part
        for part in (
            f"{len(raised)} new incident{'s' if len(raised) != 1 else ''}" if raised else "",
            f"{len(cleared)} cleared" if cleared else "",
        )
        if part
    )
    lines = [f"# {subject}", ""]
    if raised:
        lines += ["## New", "", "| kind | key | stuck since (Berlin) | what |", "|---|---|---|---|"]
        lines += [_line(i, False) for i in raised]
        lines.append("")
    if cleared:
        lines += ["## Cleared", "", "| kind | key | since (Berlin) | cleared |", "|---|---|---|---|"]
        lines += [_line(i, True) for i in cleared]
    payload = {
        "event": "shop_sync.incidents",
        "raised": [
            {
                "kind": i.kind,
                "key": i.key,
                "since": i.first_seen.isoformat(),
                "detail": i.details.get("detail"),
            }
            for i in raised
        ],
        "cleared": [
            {
                "kind": i.kind,
                "key": i.key,
                "since": i.first_seen.isoformat(),
                "cleared_at": i.cleared_at.isoformat() if i.cleared_at else None,
            }
            for i in cleared
        ],
    }
    return subject, "\n".join(lines), payload


def alert(
    sync: ShopSyncStore,
    notifier: Notifier | None,
    params: ShopSyncParams,
    now: datetime,
    recipients: Sequence[str] = (),
) -> dict[str, Any]:
    """Announce what is due (see the module docstring); returns what was announced and how."""
    raised, cleared = sync.alerts_due(params.alert_kinds)
    out: dict[str, Any] = {"raised": len(raised), "cleared": len(cleared), "sent": {}, "errors": {}}
    if not raised and not cleared:
        return out
    if notifier is None:
        out["note"] = "no notification block configured: nothing sent, nothing marked as announced"
        return out
    ident = ",".join(f"{i.id}:{'c' if i.cleared_at else 'r'}" for i in [*raised, *cleared])
    key = "shop-sync-check:alert:" + hashlib.sha256(ident.encode()).hexdigest()[:32]
    subject, markdown, payload = alert_message(raised, cleared)
    deliveries = notifier.event(key, payload, recipients=recipients, subject=subject, markdown=markdown)
    out["sent"] = dict(deliveries.sent)
    out["errors"] = {kind: str(error) for kind, error in deliveries.errors.items()}
    if deliveries.errors:
        log.warning("shop sync alert not delivered everywhere: %s", out["errors"])
        return out
    sync.mark_alerted([i.id for i in raised], ALERT_RAISED, now)
    sync.mark_alerted([i.id for i in cleared], ALERT_CLEARED, now)
    return out
