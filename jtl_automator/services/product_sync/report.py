"""Stage 4: what the run decided and did, as a summary, its markdown and the diff workbook.

The workbook has one row per field that was (or, in a dry run, would be) written, with FFN's value before
and Wawi's after, plus a tab each for the items left alone (with the reason) and the FFN products that lost
their Wawi item. It is written with the project's streaming xlsx writer: a skeleton with the headers, then
each tab's rows streamed into it (:class:`jtl_automator.sheets.ExcelBackend`), so 100,000 rows never become
100,000 openpyxl cells in memory.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pandas as pd
from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from jtl_automator.services.product_sync.apply import (
    ADOPTED,
    CREATED,
    NOT_RECREATED,
    REJECTED,
    UPDATED,
    Outcome,
)
from jtl_automator.sheets.xlsx import ExcelBackend
from jtl_automator.transforms.product_sync import (
    AMBIGUOUS,
    CREATE,
    INVALID,
    UNCHANGED,
    UPDATE,
    VANISHED,
)

CHANGES_TAB = "Changes"
SKIPPED_TAB = "Not synced"
VANISHED_TAB = "Vanished"
#: Tab -> (header, column of the frame) in the order shown.
TABS: dict[str, tuple[tuple[str, str], ...]] = {
    CHANGES_TAB: (
        ("SKU", "merchant_sku"),
        ("jfsku", "jfsku"),
        ("Wawi item", "item_id"),
        ("Action", "action"),
        ("Field (FFN)", "field"),
        ("Before (FFN)", "before"),
        ("After (Wawi)", "after"),
    ),
    SKIPPED_TAB: (
        ("SKU", "merchant_sku"),
        ("Wawi item", "item_id"),
        ("Status", "status"),
        ("Reason", "reason"),
    ),
    VANISHED_TAB: (
        ("SKU", "merchant_sku"),
        ("jfsku", "jfsku"),
        ("Wawi item", "item_id"),
        ("Reason", "reason"),
    ),
}
COUNTS = ("created", "updated", "unchanged", "rejected", "vanished", "skipped")


def _records(frame: pd.DataFrame, columns: Sequence[str]) -> list[dict[str, Any]]:
    """JSON-ready rows: NA becomes None, ids become ints."""
    out = frame[list(columns)].astype(object).where(frame[list(columns)].notna(), None)
    return [
        {str(k): (int(v) if k == "item_id" and v is not None else v) for k, v in r.items()}
        for r in out.to_dict("records")
    ]


def summary(
    plan: pd.DataFrame,
    outcomes: Sequence[Outcome],
    settled: Sequence[Outcome],
    *,
    mode: str,
    dry_run: bool,
    notes: Sequence[str],
    stats: dict[str, int],
    first_rows: int,
    changes: int,
    watermark: str | None,
    workbook: str | None,
) -> dict[str, Any]:
    """Counts, the first rows of what was created and updated, and every product left alone with why."""
    decisions = Counter(plan["status"])
    results = Counter(o.result for o in outcomes)
    if dry_run:
        created = _records(plan[plan["status"] == CREATE], ["merchant_sku", "item_id", "jfsku", "changed"])
        updated = _records(plan[plan["status"] == UPDATE], ["merchant_sku", "item_id", "jfsku", "changed"])
        rejected: list[dict[str, Any]] = []
    else:
        created = [_outcome(o) for o in outcomes if o.result in (CREATED, ADOPTED)]
        updated = [_outcome(o) for o in outcomes if o.result == UPDATED]
        rejected = [_outcome(o) for o in outcomes if o.result in (REJECTED, NOT_RECREATED)]
    not_synced = _records(
        plan[plan["status"].isin([INVALID, AMBIGUOUS])], ["merchant_sku", "item_id", "status", "reason"]
    )
    vanished = _records(plan[plan["status"] == VANISHED], ["merchant_sku", "jfsku", "item_id", "reason"])
    counts = {
        "created": len(created),
        "updated": len(updated),
        "unchanged": decisions.get(UNCHANGED, 0),
        "rejected": len(rejected),
        "vanished": len(vanished),
        "skipped": len(not_synced),
    }
    return {
        "mode": mode,
        "dry_run": dry_run,
        "counts": counts,
        "decisions": dict(decisions),
        "outcomes": dict(results),
        "settled_from_earlier_runs": dict(Counter(o.result for o in settled)),
        "created": created[:first_rows],
        "updated": updated[:first_rows],
        "rejected": rejected,
        "vanished": vanished,
        "not_synced": not_synced,
        "field_changes": changes,
        "workbook": workbook,
        "requests": dict(stats),
        "notes": list(notes),
        "watermark": watermark,
    }


def _outcome(o: Outcome) -> dict[str, Any]:
    row = asdict(o)
    row["changed"] = row.pop("fields")
    row["authorized"] = list(o.authorized)
    return row


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def _table(
    title: str, rows: Sequence[dict[str, Any]], total: int, columns: Sequence[tuple[str, str]]
) -> list[str]:
    if not rows:
        return []
    shown = f"first {len(rows)} of {total}" if len(rows) < total else f"{total}"
    lines = [f"## {title} ({shown})", "", "| " + " | ".join(h for h, _ in columns) + " |"]
    lines.append("|" + "---|" * len(columns))
    lines += ["| " + " | ".join(_cell(r.get(k)) for _, k in columns) + " |" for r in rows]
    return [*lines, ""]


def summary_markdown(result: dict[str, Any], first_rows: int = 20) -> str:
    """The run at a glance: the counts, then the first rows of each kind of product."""
    counts = result["counts"]
    verb = "would be " if result["dry_run"] else ""
    lines = [
        f"# Product sync Wawi → FFN ({result['mode']}{', dry run' if result['dry_run'] else ''})",
        "",
        "| products | count |",
        "|---|---:|",
        *(f"| {verb}{name} | {counts[name]:,} |" for name in COUNTS),
        "",
    ]
    sku_item = (("SKU", "merchant_sku"), ("Wawi item", "item_id"))
    lines += _table(
        f"{verb}created".capitalize(),
        result["created"][:first_rows],
        counts["created"],
        (*sku_item, ("jfsku", "jfsku"), ("fields", "changed")),
    )
    lines += _table(
        f"{verb}updated".capitalize(),
        result["updated"][:first_rows],
        counts["updated"],
        (*sku_item, ("jfsku", "jfsku"), ("fields", "changed")),
    )
    lines += _table(
        "Rejected by FFN",
        result["rejected"][:first_rows],
        counts["rejected"],
        (*sku_item, ("FFN's error", "reason")),
    )
    lines += _table(
        "Not synced (bad input)",
        result["not_synced"][:first_rows],
        counts["skipped"],
        (*sku_item, ("status", "status"), ("reason", "reason")),
    )
    lines += _table(
        "Vanished (never deleted)",
        result["vanished"][:first_rows],
        counts["vanished"],
        (("SKU", "merchant_sku"), ("jfsku", "jfsku"), ("reason", "reason")),
    )
    if result.get("workbook"):
        lines.append(f"Diff workbook: `{result['workbook']}` ({result['field_changes']:,} field changes)")
    lines += [f"- {note}" for note in result["notes"]]
    return "\n".join(lines).rstrip() + "\n"


def _cells(frame: pd.DataFrame, columns: Iterable[str]) -> list[list[Any]]:
    """Rows of plain values for the xlsx writer (NA as empty, ids as ints)."""
    out = frame[list(columns)].astype(object).where(frame[list(columns)].notna(), None)
    return [[("" if v is None else v) for v in row] for row in out.itertuples(index=False)]


def write_diff_workbook(path: Path, plan: pd.DataFrame, changes: pd.DataFrame) -> Path:
    """The diff as a workbook: a skeleton with the tabs' headers, then every tab's rows streamed in."""
    path.parent.mkdir(parents=True, exist_ok=True)
    skeleton = Workbook()
    skeleton.remove(skeleton.active)
    for title, columns in TABS.items():
        sheet = skeleton.create_sheet(title)
        sheet.append([header for header, _ in columns])
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        sheet.freeze_panes = "A2"
        for index, (header, _) in enumerate(columns, start=1):
            width = 48 if header.startswith(("Before", "After", "Reason")) else 18
            sheet.column_dimensions[get_column_letter(index)].width = width
    skeleton.save(path)
    frames = {
        CHANGES_TAB: changes,
        SKIPPED_TAB: plan[plan["status"].isin([INVALID, AMBIGUOUS])],
        VANISHED_TAB: plan[plan["status"] == VANISHED],
    }
    backend = ExcelBackend(path)
    for title, columns in TABS.items():
        rows = _cells(frames[title], [column for _, column in columns])
        if rows:
            backend.append_rows(title, rows)
    return path


def skipped(reason: str, *, dry_run: bool, **extra: Any) -> dict[str, Any]:
    """A run that did nothing (another run holds the lease)."""
    return {"skipped": reason, "dry_run": dry_run, **extra}
