"""One plan-execution run without Prefect: lease -> approved plans -> orders -> summary.

The flow runs the same steps as tasks (``tasks.plan_execution``); tests and the CLI's local mode call
:func:`run_plan_execution` directly.
"""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, date, datetime
from typing import Any

from jtl_automator.clients.ffn.client import FfnClient
from jtl_automator.clients.wawi.client import WawiClient
from jtl_automator.notify.mail import AttachmentMailer
from jtl_automator.plans import PlanStore
from jtl_automator.services.plan_execution.execute import (
    ExecutionContext,
    LineOutcome,
)
from jtl_automator.services.plan_execution.inbound_control import InboundControlTarget, fill_after_run
from jtl_automator.services.plan_execution.params import LEASE_NAME, PlanExecutionParams
from jtl_automator.services.plan_execution.runner import execute_plans
from jtl_automator.store import StateStore
from jtl_automator.store.lease_keeper import LeaseKeeper

LEASE_HELD = "another run holds the plan execution lease"


def lease_keeper(store: StateStore, params: PlanExecutionParams, run_id: str) -> LeaseKeeper:
    """The run's lease: only its holder executes plans, so an ``executing`` plan it finds was orphaned."""
    return LeaseKeeper.for_run(
        store,
        LEASE_NAME,
        run_id,
        ttl_seconds=params.lease_ttl_seconds,
        heartbeat_seconds=params.lease_heartbeat_seconds,
    )


def summary(outcomes: list[LineOutcome], *, dry_run: bool) -> dict[str, Any]:
    """Counts per line status, the plans touched, the purchase orders and every line as a row."""
    rows = [o.as_row() for o in outcomes]
    orders = sorted({o.purchase_order for o in outcomes if o.purchase_order})
    return {
        "dry_run": dry_run,
        "plans": sorted({o.plan_id for o in outcomes}),
        "counts": dict(Counter(o.status for o in outcomes)),
        "purchase_orders": orders,
        "inbounds": sorted({o.inbound_id for o in outcomes if o.inbound_id}),
        "outbounds": sorted({o.outbound_id for o in outcomes if o.outbound_id}),
        "shipments": shipments(outcomes),
        "exports": sorted({o.document for o in outcomes if o.document}),
        "lines": rows,
    }


def shipments(outcomes: list[LineOutcome]) -> list[dict[str, Any]]:
    """Per movement shipment (rebalance, supplier return or exchange): what it made or would make."""
    found: dict[str, dict[str, Any]] = {}
    for o in outcomes:
        if not o.shipment or o.status in ("waiting", "failed"):
            continue
        entry = found.setdefault(
            o.shipment,
            {
                "plan": o.plan_id,
                "kind": o.kind,
                "number": o.shipment,
                "status": o.status,
                "outbound_id": o.outbound_id or "",
                "inbound_id": o.inbound_id or "",
                "document": o.document or "",
                "reason": o.reason or "",
                "lines": 0,
                "units": 0,
            },
        )
        entry["lines"] += 1
        entry["units"] += o.quantity
    return [found[k] for k in sorted(found)]


def _shipment_line(entry: dict[str, Any]) -> str:
    """``- plan 9 rebalance TR-9-A-B: outbound X, inbound Y (2 lines, 12 units)``."""
    status, size = entry["status"], f"({entry['lines']} lines, {entry['units']} units)"
    head = f"- plan {entry['plan']} {entry['kind']} {entry['number']}:"
    if status == "executed":
        made = f"outbound {entry['outbound_id']}" + (
            f", inbound {entry['inbound_id']}" if entry["inbound_id"] else ""
        )
    elif status == "would_execute":
        made = "would create the outbound" + (
            " and the inbound" if entry["kind"] != "supplier_return" else ""
        )
    elif status == "exported":
        made = f"exported to {entry['document']} ({entry['reason']})"
    else:
        made = f"would be exported to {entry['document']} ({entry['reason']})"
    return f"{head} {made} {size}"


def skipped(reason: str, *, dry_run: bool) -> dict[str, Any]:
    """The result of a run that did nothing (another run holds the lease)."""
    return {**summary([], dry_run=dry_run), "skipped": reason}


def summary_markdown(result: dict[str, Any]) -> str:
    """The run in a few lines, then the lines that did not go through and why."""
    if "skipped" in result:
        return f"# Plan execution\n\nSkipped: {result['skipped']}\n"
    counts = result["counts"]
    head = "# Plan execution" + (" (dry run)" if result["dry_run"] else "")
    lines = [
        head,
        "",
        f"- plans: {len(result['plans'])}",
        f"- purchase orders: {', '.join(result['purchase_orders']) or 'none'}",
        f"- FFN inbounds: {len(result['inbounds'])}",
        "- lines: " + (", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "none"),
    ]
    filled = result.get("inbound_control")
    if filled:
        lines.append(f"- {filled.get('summary') or filled.get('error')}")
    moved = result.get("shipments") or []
    if moved:
        lines += ["", "## Transfers and supplier shipments", ""]
        lines += [_shipment_line(entry) for entry in moved]
    open_rows = [r for r in result["lines"] if r["status"] in ("waiting", "failed")]
    if open_rows:
        lines += ["", "| plan | SKU | warehouse | status | reason |", "|---|---|---|---|---|"]
        for r in open_rows:
            reason = str(r["reason"]).replace("|", "\\|")
            lines.append(f"| {r['plan']} | {r['sku']} | {r['warehouse']} | {r['status']} | {reason} |")
    return "\n".join(lines) + "\n"


def run_plan_execution(
    store: StateStore,
    ffn: FfnClient,
    wawi: WawiClient,
    params: PlanExecutionParams | None = None,
    *,
    mailer: AttachmentMailer | None = None,
    dry_run: bool = False,
    run_id: str = "local",
    today: date | None = None,
    inbound_control: InboundControlTarget | None = None,
) -> dict[str, Any]:
    """The whole run as the flow does it; a dry run takes no lease and changes nothing.

    With ``inbound_control`` the executed lines are then listed in that sheet, still under the lease (a
    dry run: which would be).
    """
    params = params or PlanExecutionParams()
    started = time.perf_counter()
    keeper = None if dry_run else lease_keeper(store, params, run_id)
    holder = keeper.take() if keeper is not None else None
    if holder is not None:
        return skipped(f"{LEASE_HELD} ({holder.owner})", dry_run=dry_run)
    filled = None
    try:
        ctx = ExecutionContext(store, ffn, wawi, params, run_id, mailer, dry_run, keeper, today)
        outcomes = execute_plans(ctx)
        if inbound_control is not None:  # under the lease, as in the flow
            ctx.check_lease()
            filled = fill_after_run(
                PlanStore(store), inbound_control, outcomes, dry_run=dry_run, at=datetime.now(UTC)
            )
    finally:
        if keeper is not None:
            keeper.release()
    result = summary(outcomes, dry_run=dry_run)
    if filled is not None:
        result["inbound_control"] = filled.as_dict()
    result["seconds"] = round(time.perf_counter() - started, 3)
    result["finished_at"] = datetime.now(UTC).isoformat()
    return result
