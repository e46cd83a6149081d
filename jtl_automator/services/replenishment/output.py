"""What the replenishment hands to people: draft restock plans, the workbook, the summary table.

Plans are made through ``PlanStore.create_or_get`` (kind ``restock``, scope supplier + warehouses, the
period), so a rerun in the same period updates the open draft instead of proposing a second one. A plan
someone already approved is left alone and reported, never changed behind their back.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill
from openpyxl.worksheet.worksheet import Worksheet

from jtl_automator.plans import NewLine, Opened, PlanNotEditable, PlanScope, PlanStatus, PlanStore
from jtl_automator.transforms.replenishment import ORDER, low_stock_alerts

KIND = "restock"
LOW_STOCK_TAB = "Low stock"
NOT_ORDERABLE_TAB = "Not orderable"
APPROVAL_HEADER = "Freigabe (x)"
#: The plan id on every supplier row: with SKU and warehouse it names exactly one plan line, so an
#: approval read back from the workbook never has to guess which plan a row meant.
PLAN_HEADER = "Plan"
#: Columns of a supplier tab: header -> line column.
SUPPLIER_COLUMNS: dict[str, str] = {
    "SKU": "merchant_sku",
    "Warehouse": "warehouse_id",
    "Order quantity": "order_quantity",
    "Cover days": "cover_days",
    "Demand per day": "daily_demand",
    "Available": "available",
    "On order": "on_order",
    "Lead time (days)": "lead_time_days",
    "Reorder point": "reorder_point",
    "Score": "score",
    "Reason": "reason",
}
ISSUE_COLUMNS: dict[str, str] = {
    "SKU": "merchant_sku",
    "Warehouse": "warehouse_id",
    "Supplier": "supplier_name",
    "Status": "status",
    "Cover days": "cover_days",
    "Demand per day": "daily_demand",
    "Available": "available",
    "Lead time (days)": "lead_time_days",
    "Reason": "reason",
}
_BAD_TAB_CHARS = re.compile(r"[\[\]:*?/\\]")


@dataclass(frozen=True)
class ProposedPlan:
    """One supplier's plan after this run: its id, lines written, or why it was left alone."""

    supplier_id: int
    supplier_name: str
    plan_id: int
    lines: int
    units: int
    skipped: str | None = None


def _supplier_key(supplier_id: int) -> str:
    """The plan scope's supplier: the Wawi supplier Id as text (names change, Ids do not)."""
    return str(supplier_id)


def propose_restock_plans(
    lines: pd.DataFrame, plans: PlanStore, period: str, *, created_by: str | None = None
) -> list[ProposedPlan]:
    """One draft restock plan per supplier with its ``order`` lines (quantity, reason, score, details)."""
    orders = lines[lines["status"] == ORDER]
    # the run's warehouses, not the supplier's lines' ones: one plan per supplier and period however the
    # needs move between warehouses from one run to the next
    warehouses = tuple(lines["warehouse_id"].dropna().unique())
    result: list[ProposedPlan] = []
    for supplier_id, group in orders.groupby("supplier_id", sort=True):
        sid = int(str(supplier_id))
        name = (
            str(group["supplier_name"].dropna().iloc[0]) if group["supplier_name"].notna().any() else str(sid)
        )
        scope = PlanScope(supplier=_supplier_key(sid), warehouses=warehouses)
        opened = open_restock_plan(plans, scope, period, created_by=created_by)
        new = [
            NewLine(
                sku=str(row["merchant_sku"]),
                warehouse=str(row["warehouse_id"]),
                quantity=math.ceil(row["order_quantity"]),
                reason=str(row["reason"]),
                score=float(row["score"]),
                details={
                    "cover_days": _finite(row["cover_days"]),
                    "daily_demand": float(row["daily_demand"]),
                    "available": float(row["available"]),
                    "on_order": float(row["on_order"]),
                    "lead_time_days": float(row["lead_time_days"]),
                    "low_stock": bool(row["low_stock"]),
                },
            )
            for row in group.to_dict("records")
        ]
        units = sum(line.quantity for line in new)
        try:
            plans.add_lines(opened.plan.id, new)
        except PlanNotEditable as error:
            result.append(ProposedPlan(sid, name, opened.plan.id, 0, 0, skipped=str(error)))
            continue
        result.append(ProposedPlan(sid, name, opened.plan.id, len(new), units))
    return result


#: Follow-up plans of one period at most (a safety bound; a week has far fewer runs).
MAX_FOLLOW_UPS = 100


def open_restock_plan(
    plans: PlanStore, scope: PlanScope, period: str, *, created_by: str | None = None
) -> Opened:
    """The period's plan of this supplier; once that was executed, its follow-up (``2026-W48/2``, ``/3`` …).

    A need found after the week's order went out (a sales spike on Wednesday) gets its own order now
    instead of waiting for next week: the executed order's units are on order in FFN by then (their
    inbound was announced), so the follow-up proposes only what is still missing. An approved or
    executing plan is returned as it is (its units are not on order yet: proposing again could order
    them twice), and so is a cancelled one (a person decided against this period's order).
    """
    opened = plans.create_or_get(KIND, scope, period, created_by=created_by)
    for number in range(2, MAX_FOLLOW_UPS + 2):
        if opened.plan.status != PlanStatus.DONE:
            break
        opened = plans.create_or_get(KIND, scope, f"{period}/{number}", created_by=created_by)
    return opened


def _finite(value: Any) -> float | None:
    """JSON and Excel have no infinity: a cover of 'forever' (no demand) is left empty."""
    return float(value) if value is not None and not pd.isna(value) and math.isfinite(value) else None


def tab_name(name: str, taken: set[str]) -> str:
    r"""An Excel sheet name: no ``[]:*?/\``, at most 31 characters, unique (case-insensitive)."""
    base = _BAD_TAB_CHARS.sub("_", name).strip().strip("'")[:31] or "Supplier"
    candidate, n = base, 2
    while candidate.lower() in taken:
        suffix = f" ({n})"
        candidate, n = base[: 31 - len(suffix)] + suffix, n + 1
    taken.add(candidate.lower())
    return candidate


@dataclass(frozen=True)
class Tab:
    """One tab of the Bestellvorschlag, independent of where it is written (xlsx or Google Sheet)."""

    title: str
    headers: list[str]
    rows: list[list[Any]] = field(default_factory=list)
    #: Only supplier tabs carry the approval column (and the plan id beside it).
    approval: bool = False


def _table(title: str, frame: pd.DataFrame, columns: dict[str, str], plan_id: int | None = None) -> Tab:
    """Header plus one row per line; supplier tabs end in ``Freigabe (x)`` (empty) and ``Plan``."""
    approval = columns is SUPPLIER_COLUMNS
    headers = [*columns, *([APPROVAL_HEADER, PLAN_HEADER] if approval else [])]
    tail: list[Any] = ["", plan_id] if approval else []
    values = frame[list(columns.values())].itertuples(index=False)
    rows = [[*(_cell(v) for v in row), *tail] for row in values]
    return Tab(title, headers, rows, approval)


def workbook_tabs(lines: pd.DataFrame, plans: Sequence[ProposedPlan] = ()) -> list[Tab]:
    """The tabs in order: low stock, one per supplier (with its plan id when a plan was proposed), issues.

    Lines are most urgent first within each tab. A dry run has no plans: its supplier rows carry no plan
    id, so nothing in them can be approved.
    """
    plan_of = {p.supplier_id: p.plan_id for p in plans}
    tabs = [_table(LOW_STOCK_TAB, low_stock_alerts(lines), ISSUE_COLUMNS)]
    taken = {LOW_STOCK_TAB.lower(), NOT_ORDERABLE_TAB.lower()}
    orders = lines[lines["status"] == ORDER]
    for supplier_id, group in orders.groupby("supplier_id", sort=True):
        name = group["supplier_name"].dropna()
        title = tab_name(str(name.iloc[0]) if len(name) else f"Supplier {supplier_id}", taken)
        tabs.append(_table(title, group, SUPPLIER_COLUMNS, plan_of.get(int(str(supplier_id)))))
    issues = lines[~lines["status"].isin([ORDER, "sufficient"])]
    tabs.append(_table(NOT_ORDERABLE_TAB, issues, ISSUE_COLUMNS))
    return tabs


def _write_tab(sheet: Worksheet, tab: Tab) -> None:
    """Header row in bold, the rows, the header frozen, readable widths."""
    sheet.append(tab.headers)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in tab.rows:
        sheet.append(row)
    sheet.freeze_panes = "A2"
    for index, header in enumerate(tab.headers, start=1):
        width = 60 if header == "Reason" else max(10, len(header) + 2)
        sheet.column_dimensions[sheet.cell(row=1, column=index).column_letter].width = width


def _cell(value: Any) -> Any:
    """A frame value as a cell: NA and infinity empty, floats to two decimals."""
    if value is None or value is pd.NA or (isinstance(value, float) and not math.isfinite(value)):
        return None
    if isinstance(value, float):
        return round(value, 2)
    return value.item() if hasattr(value, "item") else value


def write_workbook(lines: pd.DataFrame, path: Path, plans: Sequence[ProposedPlan] = ()) -> Path:
    """A new Bestellvorschlag workbook: the low-stock list first, then one tab per supplier.

    A last tab lists what cannot be ordered, with its reason. Supplier rows carry their plan id, so the
    ``Freigabe (x)`` marks can be read back into the plans (``jtl-automator plans approve-from``).
    """
    workbook = Workbook()
    first = workbook.active
    assert first is not None
    for position, tab in enumerate(workbook_tabs(lines, plans)):
        sheet = first if position == 0 else workbook.create_sheet()
        sheet.title = tab.title
        _write_tab(sheet, tab)
        if tab.title == LOW_STOCK_TAB:
            sheet.sheet_properties.tabColor = "C00000"
            for cell in sheet[1]:
                cell.fill = PatternFill("solid", fgColor="F4CCCC")
    path.parent.mkdir(parents=True, exist_ok=True)
    workbook.save(path)
    return path


def summary_rows(lines: pd.DataFrame, proposed: list[ProposedPlan]) -> list[dict[str, Any]]:
    """The run's table artifact: one row per supplier plan, then one per status with its count."""
    rows: list[dict[str, Any]] = [
        {
            "supplier": p.supplier_name,
            "plan": p.plan_id,
            "lines": p.lines,
            "units": p.units,
            "note": p.skipped or "",
        }
        for p in proposed
    ]
    counts = lines["status"].value_counts().sort_index()
    rows.extend(
        {"supplier": f"status {s}", "plan": None, "lines": int(n), "units": None, "note": ""}
        for s, n in counts.items()
    )
    rows.append(
        {
            "supplier": "low stock",
            "plan": None,
            "lines": int(lines["low_stock"].sum()),
            "units": None,
            "note": "",
        }
    )
    return rows
