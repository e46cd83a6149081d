"""Stage 6: what the run found, as a summary, a table and the markdown a person reads at a glance.

The incidents shown are the ones open after this run (in a dry run: as they would be), each with when it
began ("since") and whether it is raised (past its kind's threshold) or still only watched.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd

from jtl_automator.services.shop_sync.evaluate import Evaluation
from jtl_automator.services.shop_sync.params import ShopSyncParams
from jtl_automator.services.shop_sync.reads import ShopInputs, WawiInputs
from jtl_automator.services.shop_sync.record import LABELS, Recorded
from jtl_automator.transforms import shop_sync as t
from jtl_automator.transforms.shop_incidents import CLEAR, OPEN

BERLIN = ZoneInfo("Europe/Berlin")
RAISED = "raised"
WATCHING = "watching"


def _iso(value: Any) -> str | None:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return pd.Timestamp(value).isoformat()


def current_incidents(evaluation: Evaluation) -> list[dict[str, Any]]:
    """The incidents open after this run, with their latest observation, oldest first per kind."""
    plan = {(str(r["kind"]), str(r["key"])): r for r in evaluation.plan.to_dict("records")}
    changes = {(c.kind, c.key): c for c in evaluation.changes}
    rows: list[dict[str, Any]] = []
    for incident in evaluation.open_before:
        ident = (incident.kind, incident.key)
        action = plan.get(ident)
        if action is not None and action["action"] == CLEAR:
            continue
        details = changes[ident].details if ident in changes else incident.details
        raised = incident.raised_at is not None or bool(action is not None and action["raise"])
        rows.append(_row(incident.kind, incident.key, incident.first_seen, raised, details, new=False))
    for ident, action in plan.items():
        if action["action"] == OPEN:
            rows.append(
                _row(
                    ident[0],
                    ident[1],
                    action["first_seen"],
                    bool(action["raise"]),
                    changes[ident].details,
                    True,
                )
            )
    order = {kind: n for n, kind in enumerate(t.KINDS)}
    risk = {"oversell": 0, "undersell": 1}
    return sorted(
        rows,
        key=lambda r: (order.get(r["kind"], 9), risk.get(r.get("risk") or "", 2), r["since"] or "", r["key"]),
    )


def _row(kind: str, key: str, since: Any, raised: bool, details: dict[str, Any], new: bool) -> dict[str, Any]:
    return {
        "kind": kind,
        "key": key,
        "state": RAISED if raised else WATCHING,
        "since": _iso(since),
        "new": new,
        "risk": details.get("risk"),
        "shop": details.get("shop_value"),
        "wawi": details.get("wawi_value"),
        "difference": details.get("difference"),
        "detail": details.get("detail", ""),
    }


def summary(
    shop: ShopInputs,
    wawi: WawiInputs,
    evaluation: Evaluation,
    params: ShopSyncParams,
    *,
    dry_run: bool,
    recorded: Recorded | None = None,
    alerts: dict[str, Any] | None = None,
    requests: dict[str, int] | None = None,
) -> dict[str, Any]:
    """Counts, the incidents, what could not be checked, and what was written and sent."""
    incidents = current_incidents(evaluation)
    raised = [r for r in incidents if r["state"] == RAISED]
    plan = evaluation.plan
    cleared = plan[plan["action"] == CLEAR]
    orders = evaluation.orders
    return {
        "dry_run": dry_run,
        "now": evaluation.now.isoformat(),
        "counts": {kind: sum(1 for r in raised if r["kind"] == kind) for kind in t.KINDS},
        "watching": {
            kind: sum(1 for r in incidents if r["kind"] == kind and r["state"] == WATCHING)
            for kind in t.KINDS
        },
        "oversell_risk": sum(1 for r in raised if r["kind"] == t.STALE_STOCK and r["risk"] == t.OVERSELL),
        "opened": int((plan["action"] == OPEN).sum()),
        "raised_now": int(plan["raise"].sum()),
        "cleared": [
            {"kind": r["kind"], "key": r["key"], "reason": r["clear_reason"]}
            for r in cleared.to_dict("records")
        ],
        "unchecked": dict(evaluation.unchecked),
        "orders": {
            "new": len(shop.orders.new),
            "reread": len(shop.orders.reread),
            "followed": len(orders),
            "statuses": dict(Counter(orders["status"])),
            "cursor": shop.orders.cursor,
            "wawi_lookup": wawi.lookup,
        },
        "stock": dict(Counter(evaluation.stock["status"])),
        "prices": dict(Counter(evaluation.prices["status"])),
        "channel_price_reads": len(wawi.channel_reads),
        "incidents": incidents,
        "notes": list(dict.fromkeys(evaluation.notes)),
        "recorded": None if recorded is None else recorded.__dict__,
        "alerts": alerts,
        "requests": requests or {},
        "oldest_count": params.oldest_count,
    }


def _berlin(value: str | None) -> str:
    return pd.Timestamp(value).tz_convert(BERLIN).strftime("%d.%m. %H:%M") if value else ""


def _age(value: str | None, now: str) -> str:
    if not value:
        return ""
    hours = (pd.Timestamp(now) - pd.Timestamp(value)).total_seconds() / 3600
    return f"{hours / 24:.1f} d" if hours >= 48 else f"{hours:.1f} h"


def _number(value: Any) -> str:
    return "" if value is None else f"{value:g}"


def summary_markdown(result: dict[str, Any]) -> str:
    """The run at a glance: one sentence of counts, what was not checked, then the oldest cases per kind."""
    counts = result["counts"]
    parts = [
        f"{counts['stuck_order']} stuck orders",
        f"{counts['cancelled_open']} cancelled in the shop but open in Wawi",
        f"{counts['stale_stock']} stale stock ({result['oversell_risk']} with oversell risk)",
        f"{counts['price_drift']} price drifts",
    ]
    title = "# Shop sync check" + (" (dry run: nothing recorded, nothing sent)" if result["dry_run"] else "")
    lines = [title, "", "**" + ", ".join(parts) + ".**", ""]
    watching = sum(result["watching"].values())
    if watching:
        lines += [f"{watching} more differences are watched until they last past their threshold.", ""]
    if result["unchecked"]:
        lines += ["**Not checked this run** (its incidents are kept as they were):", ""]
        lines += [f"- {check}: {why}" for check, why in result["unchecked"].items()]
        lines.append("")
    if result["cleared"]:
        lines += [f"Cleared this run: {len(result['cleared'])}.", ""]
    now, n = result["now"], result["oldest_count"]
    raised = [r for r in result["incidents"] if r["state"] == RAISED]
    sections: list[tuple[str, str, Callable[[dict[str, Any]], list[Any]]]] = [
        (
            "stuck_order",
            "| order | stuck since | age | what |",
            lambda r: [r["key"], _berlin(r["since"]), _age(r["since"], now), r["detail"]],
        ),
        (
            "cancelled_open",
            "| order | seen since | what |",
            lambda r: [r["key"], _berlin(r["since"]), r["detail"]],
        ),
        (
            "stale_stock",
            "| SKU | risk | shop | Wawi | since |",
            lambda r: [
                r["key"],
                r["risk"] or "",
                _number(r["shop"]),
                _number(r["wawi"]),
                _berlin(r["since"]),
            ],
        ),
        (
            "price_drift",
            "| SKU / group | shop net | Wawi net | since |",
            lambda r: [r["key"], _number(r["shop"]), _number(r["wawi"]), _berlin(r["since"])],
        ),
    ]
    for kind, header, cells in sections:
        rows = [r for r in raised if r["kind"] == kind]
        if not rows:
            continue
        shown = rows if kind == "stale_stock" else sorted(rows, key=lambda r: r["since"] or "")
        title_kind = LABELS[kind][0].upper() + LABELS[kind][1:]
        lines += [
            f"## {title_kind}: {len(rows)}" + (f" (the first {n})" if len(rows) > n else ""),
            "",
            header,
        ]
        lines.append("|" + "---|" * header.count(" | ") + "---|")
        lines += ["| " + " | ".join(str(c) for c in cells(r)) + " |" for r in shown[:n]]
        lines.append("")
    orders = result["orders"]
    lines.append(
        f"Orders: {orders['new']} new, {orders['followed']} followed ({orders['statuses']}); "
        f"stock rows {result['stock']}; prices {result['prices']}."
    )
    if result["requests"]:
        lines.append(f"Requests: {result['requests']}.")
    if result["notes"]:
        lines += ["", "Notes:", *[f"- {note}" for note in result["notes"][:30]]]
    return "\n".join(lines)


def table_rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The incidents as the table artifact shows them (or one row saying there are none)."""
    rows = [
        {
            "kind": r["kind"],
            "key": r["key"],
            "state": r["state"],
            "since": r["since"],
            "shop": r["shop"],
            "wawi": r["wawi"],
            "difference": r["difference"],
            "detail": r["detail"],
        }
        for r in result["incidents"]
    ]
    return rows or [{"kind": "none", "detail": "no differences between the shop and Wawi"}]
