"""What a pricing run hands to people: the workbook of changes, the result's tables and the summary.

The workbook (also in a dry run, where it is the thing to read before trusting the rules) has a tab per
kind of decision: ``Changes`` (written, or in a dry run: would be), ``Approval`` (waiting in a plan),
``Markdowns`` (proposed for slow movers), ``Not priced`` (bad input, no rule, held by a markdown) with the
reason of each row. Prices are net as Wawi keeps them, beside the gross price the customer sees.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from openpyxl import Workbook
from openpyxl.styles import Font

from jtl_automator.transforms.pricing import APPLY, INVALID_INPUT, NEEDS_APPROVAL, NO_RULE

CHANGES_TAB = "Changes"
APPROVAL_TAB = "Approval"
MARKDOWNS_TAB = "Markdowns"
NOT_PRICED_TAB = "Not priced"
HELD = "held"

#: Columns of the change tabs: header -> column of the priced rows (with ``reason``).
CHANGE_COLUMNS: dict[str, str] = {
    "SKU": "sku",
    "Item": "item_id",
    "Price": "target",
    "Rule": "rule",
    "Before (net)": "current_price",
    "After (net)": "new_price",
    "After (gross)": "new_gross",
    "Change %": "change_pct",
    "Margin %": "margin_pct",
    "Floor (net)": "floor_price",
    "Reason": "reason",
}
MARKDOWN_COLUMNS: dict[str, str] = {
    "SKU": "sku",
    "Item": "item_id",
    "Stock": "stock",
    "Demand per day": "daily_demand",
    "Cover days": "cover_days",
    "Days since sale": "days_since_sale",
    "Score": "score",
    "Before (gross)": "current_gross",
    "After (gross)": "new_gross",
    "After (net)": "new_price",
    "Discount %": "discount_pct",
    "Floor (net)": "floor_price",
    "Reason": "reason",
}
NOT_PRICED_COLUMNS: dict[str, str] = {
    "SKU": "sku",
    "Item": "item_id",
    "Price": "target",
    "Status": "status",
    "Reason": "reason",
}


def cell(value: Any) -> Any:
    """A frame value as a cell or JSON value: NA and infinity empty, floats to 4 decimals."""
    if value is None or value is pd.NA or (isinstance(value, float) and not math.isfinite(value)):
        return None
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float):
        return round(value, 4)
    return value


def records(
    frame: pd.DataFrame, columns: Mapping[str, str], limit: int | None = None
) -> list[dict[str, Any]]:
    """Rows as dicts keyed by the frame's column names (for the result JSON and artifacts)."""
    rows = frame.head(limit) if limit is not None else frame
    return [
        {name: cell(value) for name, value in zip(columns.values(), row, strict=True)}
        for row in rows[list(columns.values())].itertuples(index=False)
    ]


def by_change(frame: pd.DataFrame) -> pd.DataFrame:
    """Largest change first (absolute percent), then SKU."""
    order = frame.assign(_size=frame["change_pct"].abs().fillna(0)).sort_values(
        ["_size", "sku"], ascending=[False, True]
    )
    return order.drop(columns="_size")


def write_workbook(
    path: Path, prices: pd.DataFrame, markdowns: pd.DataFrame | None, not_priced: pd.DataFrame
) -> Path:
    """The run's workbook (see the module docstring); ``prices`` and ``markdowns`` carry ``reason``."""
    tabs: list[tuple[str, pd.DataFrame, Mapping[str, str]]] = [
        (CHANGES_TAB, by_change(prices[prices["status"] == APPLY]), CHANGE_COLUMNS),
        (APPROVAL_TAB, by_change(prices[prices["status"] == NEEDS_APPROVAL]), CHANGE_COLUMNS),
    ]
    if markdowns is not None:
        proposed = markdowns[markdowns["status"] == "markdown"].sort_values(
            ["discount_pct", "sku"], ascending=[False, True]
        )
        tabs.append((MARKDOWNS_TAB, proposed, MARKDOWN_COLUMNS))
    tabs.append((NOT_PRICED_TAB, not_priced, NOT_PRICED_COLUMNS))
    workbook = Workbook()
    first = workbook.active
    assert first is not None
    for position, (title, frame, columns) in enumerate(tabs):
        sheet = first if position == 0 else workbook.create_sheet()
        sheet.title = title
        sheet.append(list(columns))
        for header in sheet[1]:
            header.font = Font(bold=True)
        for row in frame[list(columns.values())].itertuples(index=False):
            sheet.append([cell(value) for value in row])
        sheet.freeze_panes = "A2"
        for index, header in enumerate(columns, start=1):
            width = 70 if header == "Reason" else max(10, len(header) + 2)
            sheet.column_dimensions[sheet.cell(row=1, column=index).column_letter].width = width
    path.parent.mkdir(parents=True, exist_ok=True)
    workbook.save(path)
    return path


def not_priced_frame(prices: pd.DataFrame, held: Mapping[int, str], held_rows: pd.DataFrame) -> pd.DataFrame:
    """Rows the run did not price, with why: bad input, no rule, held by a markdown."""
    bad = prices[prices["status"].isin([INVALID_INPUT, NO_RULE])][
        ["sku", "item_id", "target", "status", "reason"]
    ]
    parked = pd.DataFrame(
        {
            "sku": held_rows["sku"].astype("string"),
            "item_id": held_rows["item_id"],
            "target": held_rows["target"].astype("string"),
            "status": HELD,
            "reason": [held.get(int(i), "held by a markdown") for i in held_rows["item_id"]],
        }
    )
    frames = [f for f in (bad, parked) if len(f)]
    return pd.concat(frames, ignore_index=True) if frames else bad


def summary_markdown(result: Mapping[str, Any]) -> str:
    """The run at a glance: what was written, what waits for whom, the markdowns, what could not be priced."""
    if "skipped" in result:
        return f"# Pricing\n\nSkipped: {result['skipped']}\n"
    mode = "dry run: nothing written" if result.get("dry_run") else "written to Wawi"
    statuses = result.get("statuses", {})
    writes = result.get("writes", {})
    lines = [
        f"# Pricing ({mode})",
        "",
        f"- **{statuses.get(APPLY, 0):,}** prices to write"
        + (
            f" ({writes.get('applied', 0):,} written, {writes.get('failed', 0):,} refused)"
            if not result.get("dry_run")
            else ""
        ),
        f"- **{statuses.get(NEEDS_APPROVAL, 0):,}** changes above the approval threshold wait in a plan",
        f"- {statuses.get('unchanged', 0):,} unchanged, {statuses.get(NO_RULE, 0):,} without a rule, "
        f"{statuses.get(INVALID_INPUT, 0):,} with bad input, {result.get('held', 0):,} held by a markdown",
    ]
    md = result.get("markdowns")
    if md:
        lines.append(
            f"- **{md.get('markdown', 0):,}** slow movers proposed for a markdown "
            f"({result.get('markdown_strategy')})"
        )
    for plan in result.get("plans", []):
        if plan.get("note"):
            lines.append(f"- plan {plan['plan']} ({plan['kind']}): {plan['note']}")
        else:
            lines.append(
                f"- plan **{plan['plan']}** ({plan['kind']}, {plan['lines']} lines) waits for approval: "
                f"`jtl-automator plans show {plan['plan']}`, "
                f"then `jtl-automator plans approve {plan['plan']}`"
            )
    for executed in result.get("executed_plans", []):
        lines.append(
            f"- executed plan {executed['plan']} ({executed['kind']}): "
            f"{executed['status']}, {executed['lines']}"
        )
    if result.get("settled"):
        lines.append(f"- {len(result['settled'])} writes of an interrupted run settled")
    if result.get("workbook"):
        lines.append(f"- workbook: `{result['workbook']}`")
    for note in result.get("notes", []):
        lines.append(f"- note: {note}")
    changes = result.get("changes", [])
    if changes:
        lines += [
            "",
            "## Largest changes",
            "",
            "| SKU | price | rule | before | after (net) | gross | % | status |",
            "|---|---|---|---:|---:|---:|---:|---|",
        ]
        for row in changes[:25]:
            lines.append(
                f"| {row['sku']} | {row['target']} | {row['rule']} | {_num(row['current_price'])} | "
                f"{_num(row['new_price'])} | {_num(row['new_gross'])} | {_num(row['change_pct'], 1)} | "
                f"{row['status']} |"
            )
    proposals = result.get("markdown_lines", [])
    if proposals:
        lines += [
            "",
            "## Markdowns proposed",
            "",
            "| SKU | stock | cover days | days w/o sale | gross now | gross then | % off |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for row in proposals[:25]:
            lines.append(
                f"| {row['sku']} | {_num(row['stock'], 0)} | {_num(row['cover_days'], 0)} | "
                f"{_num(row['days_since_sale'], 0)} | {_num(row['current_gross'])} | "
                f"{_num(row['new_gross'])} | {_num(row['discount_pct'], 1)} |"
            )
    failed = result.get("failed", [])
    if failed:
        lines += ["", "## Refused by Wawi", ""] + [
            f"- {f['sku']} {f['target']}: {f['reason']}" for f in failed[:25]
        ]
    return "\n".join(lines) + "\n"


def _num(value: Any, decimals: int = 2) -> str:
    if value is None:
        return ""
    return f"{float(value):,.{decimals}f}"


def status_counts(frame: pd.DataFrame) -> dict[str, int]:
    """Rows per status."""
    return {str(k): int(v) for k, v in frame["status"].value_counts().sort_index().items()}


def outcome_counts(outcomes: Sequence[Any]) -> dict[str, int]:
    """Writes per result."""
    counts: dict[str, int] = {}
    for outcome in outcomes:
        counts[outcome.result] = counts.get(outcome.result, 0) + 1
    return counts
