"""Plans as plain-text tables for the command line (a person reads them before approving)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from jtl_automator.plans.model import Plan


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned columns, two spaces apart, a dashed rule under the header; no trailing spaces.

    Line breaks in a cell (a reason typed in a sheet) become spaces so a row stays one line.
    """
    rows = [[" ".join(cell.split("\n")) for cell in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)])


def _when(value: datetime | None) -> str:
    return value.isoformat(timespec="minutes") if value is not None else "-"


def _price(value: Decimal | None) -> str:
    """At least two decimals, more only where the price has them (purchase prices often do)."""
    if value is None:
        return "-"
    places = max(2, -value.normalize().as_tuple().exponent)  # type: ignore[operator]
    return f"{value:.{places}f}"


def plans_table(plans: Sequence[Plan]) -> str:
    """One row per plan: what ``plans list`` prints."""
    rows = [
        [
            str(p.id),
            p.kind,
            p.status.value,
            p.period,
            p.scope.describe(),
            f"{p.approved_count}/{p.line_count}",
            _when(p.deadline),
            _when(p.created_at),
        ]
        for p in plans
    ]
    return table(["id", "kind", "status", "period", "scope", "approved", "deadline", "created"], rows)


def plan_detail(plan: Plan) -> str:
    """The plan's header lines and its lines as a table: what ``plans show`` prints."""
    head = [
        f"plan {plan.id}: {plan.kind}, {plan.status.value}",
        f"scope     {plan.scope.describe()}",
        f"period    {plan.period}",
        f"deadline  {_when(plan.deadline)}",
        f"created   {_when(plan.created_at)}" + (f" by {plan.created_by}" if plan.created_by else ""),
    ]
    if plan.approved_by:
        head.append(f"approved  {_when(plan.approved_at)} by {plan.approved_by}")
    if plan.execution_started_at:
        head.append(f"executing since {_when(plan.execution_started_at)}")
    if plan.done_at:
        head.append(f"done      {_when(plan.done_at)}")
    if plan.cancelled_by:
        head.append(f"cancelled {_when(plan.cancelled_at)} by {plan.cancelled_by}")
    if plan.note:
        head.append(f"note      {plan.note}")
    head.append(f"lines     {plan.line_count} ({plan.approved_count} approved)")
    listed = [  # what the plan execution's Inbound Control fill recorded on each line
        str(record.get("sheet"))
        for line in plan.lines
        if line.execution and isinstance(record := (line.execution.extra or {}).get("inbound_control"), dict)
    ]
    if listed:
        executed = sum(1 for line in plan.lines if line.execution is not None)
        sheets = ", ".join(sorted(set(listed)))
        head.append(f"listed    {len(listed)} of {executed} executed lines in the Inbound Control {sheets}")
    if not plan.lines:
        return "\n".join(head)
    rows = [
        [
            line.sku,
            line.warehouse or "-",
            str(line.quantity),
            _price(line.unit_price),
            f"{line.score:g}" if line.score is not None else "-",
            line.status.value,
            line.approved_by or "-",
            (line.execution.purchase_order_number or "-") if line.execution else "-",
            (line.execution.inbound_id or "-") if line.execution else "-",
            line.reason or "",
        ]
        for line in plan.lines
    ]
    headers = [
        "sku",
        "warehouse",
        "qty",
        "price",
        "score",
        "status",
        "approved by",
        "po",
        "inbound",
        "reason",
    ]
    return "\n".join([*head, "", table(headers, rows)])
