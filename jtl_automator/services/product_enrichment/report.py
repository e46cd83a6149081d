"""Stage 4: what a person reads: the workbook (before/after, conflicts, rejected rows, quality), the summary.

The workbook is written in every run, a dry run included (then it shows what *would* be filled and
assigned). It is streamed with openpyxl's write-only mode, so 100,000 quality rows cost no more memory
than one row. Tabs: ``Summary``, ``Fills`` (before/after per item and field), ``Conflicts`` (Wawi's value
and the feed's side by side), ``Feed rows rejected``, ``Not matched``, ``Categories`` (before/after),
``No rule``, ``Quality``; a tab is left out when its part did not run.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from jtl_automator.services.product_enrichment.apply import WriteOutcome, outcome_rows
from jtl_automator.transforms.categorisation import ASSIGN, NO_RULE
from jtl_automator.transforms.product_enrichment import CONFLICT, WRITES
from jtl_automator.transforms.product_quality import quality_counts

SUMMARY_TAB = "Summary"
FILLS_TAB = "Fills"
CONFLICTS_TAB = "Conflicts"
REJECTED_TAB = "Feed rows rejected"
UNMATCHED_TAB = "Not matched"
CATEGORIES_TAB = "Categories"
NO_RULE_TAB = "No rule"
QUALITY_TAB = "Quality"


@dataclass
class RunParts:
    """The frames a run produced (None: that part did not run)."""

    feed_rows: int = 0
    rejected: pd.DataFrame | None = None
    matches: pd.DataFrame | None = None
    decisions: pd.DataFrame | None = None
    same: int = 0
    categorised: pd.DataFrame | None = None
    quality: pd.DataFrame | None = None
    outcomes: list[WriteOutcome] = field(default_factory=list)
    settled: list[WriteOutcome] = field(default_factory=list)


def _cell(value: Any) -> Any:
    if value is None or value is pd.NA or (isinstance(value, float) and not math.isfinite(value)):
        return None
    return value.item() if hasattr(value, "item") else value


def _tab(book: Workbook, title: str, headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    sheet: WriteOnlyWorksheet = book.create_sheet(title)
    sheet.freeze_panes = "A2"
    for index, header in enumerate(headers):
        letter = chr(ord("A") + index)
        sheet.column_dimensions[letter].width = 48 if header in ("Reason", "Detail", "Note", "Name") else 18
    bold = []
    for header in headers:
        cell = WriteOnlyCell(sheet, value=header)
        cell.font = Font(bold=True)
        bold.append(cell)
    sheet.append(bold)
    for row in rows:
        sheet.append([_cell(v) for v in row])


def _results(parts: RunParts) -> dict[tuple[int, str], tuple[str, str]]:
    return {(o.item_id, o.target): (o.result, o.reason) for o in parts.outcomes}


def write_workbook(path: Path, parts: RunParts, summary: dict[str, Any], *, dry_run: bool) -> Path:
    """The run's workbook at ``path`` (see the module for the tabs)."""
    book = Workbook(write_only=True)
    _tab(book, SUMMARY_TAB, ["What", "Value"], _summary_lines(summary))
    results = _results(parts)
    if parts.decisions is not None:
        writes = parts.decisions[parts.decisions["status"].isin(WRITES)]
        _tab(
            book,
            FILLS_TAB,
            ["SKU", "Item Id", "Field", "Wawi before", "After", "Decision", "Result", "Reason", "Feed row"],
            (
                [
                    r.sku,
                    r.item_id,
                    r.field,
                    r.wawi_value,
                    r.feed_value,
                    r.status,
                    "dry run" if dry_run else results.get((int(str(r.item_id)), str(r.field)), ("", ""))[0],
                    "" if dry_run else results.get((int(str(r.item_id)), str(r.field)), ("", ""))[1],
                    r.row,
                ]
                for r in writes.itertuples(index=False)
            ),
        )
        conflicts = parts.decisions[parts.decisions["status"] == CONFLICT]
        _tab(
            book,
            CONFLICTS_TAB,
            ["SKU", "Item Id", "Field", "Wawi value", "Feed value", "Feed row"],
            (
                [r.sku, r.item_id, r.field, r.wawi_value, r.feed_value, r.row]
                for r in conflicts.itertuples(index=False)
            ),
        )
    if parts.rejected is not None:
        _tab(
            book,
            REJECTED_TAB,
            ["Feed row", "Supplier SKU", "Reason"],
            ([r.row, r.supplier_sku, r.reason] for r in parts.rejected.itertuples(index=False)),
        )
    if parts.matches is not None:
        open_rows = parts.matches[parts.matches["item_id"].isna()]
        _tab(
            book,
            UNMATCHED_TAB,
            ["Feed row", "Matched by", "Note"],
            ([r.row, r.matched_by, r.note] for r in open_rows.itertuples(index=False)),
        )
    if parts.categorised is not None:
        chosen = parts.categorised[parts.categorised["status"] != NO_RULE]
        _tab(
            book,
            CATEGORIES_TAB,
            ["SKU", "Name", "Rule", "Before", "After (added)", "Decision", "Result", "Reason"],
            (
                [
                    r.sku,
                    r.name,
                    r.rule,
                    r.current,
                    r.category,
                    r.status,
                    ("dry run" if dry_run else results.get((int(str(r.item_id)), "category"), ("", ""))[0])
                    if r.status == ASSIGN
                    else "",
                    "" if dry_run else results.get((int(str(r.item_id)), "category"), ("", ""))[1],
                ]
                for r in chosen.itertuples(index=False)
            ),
        )
        none = parts.categorised[parts.categorised["status"] == NO_RULE]
        _tab(
            book,
            NO_RULE_TAB,
            ["SKU", "Name", "Categories now"],
            ([r.sku, r.name, r.current] for r in none.itertuples(index=False)),
        )
    if parts.quality is not None:
        _tab(
            book,
            QUALITY_TAB,
            ["SKU", "Name", "Check", "Value", "Detail"],
            ([r.sku, r.name, r.check, r.value, r.detail] for r in parts.quality.itertuples(index=False)),
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    book.save(path)
    return path


def _summary_lines(summary: dict[str, Any]) -> list[list[Any]]:
    lines: list[list[Any]] = []
    for key, value in summary.items():
        if isinstance(value, dict):
            lines.extend([f"{key}: {k}", v] for k, v in value.items())
        elif not isinstance(value, list):
            lines.append([key, value])
    return lines


def _counts(values: Iterable[str]) -> dict[str, int]:
    counted = pd.Series(list(values), dtype="string").value_counts()
    return {str(k): int(v) for k, v in sorted(counted.items(), key=lambda kv: str(kv[0]))}


def summary(
    parts: RunParts,
    *,
    dry_run: bool,
    table_rows: int,
    feed: str | None = None,
    supplier: str | None = None,
    notes: Sequence[str] = (),
) -> dict[str, Any]:
    """The run's result: counts per decision and outcome, and the first ``table_rows`` rows of each table."""
    result: dict[str, Any] = {"dry_run": dry_run}
    if feed is not None:
        result["feed"] = feed
        result["supplier"] = supplier
        result["feed_rows"] = parts.feed_rows
        result["rejected_rows"] = len(parts.rejected) if parts.rejected is not None else 0
    if parts.matches is not None:
        result["matched_by"] = _counts(parts.matches["matched_by"])
    if parts.decisions is not None:
        counts = _counts(parts.decisions["status"])
        result["decisions"] = {**counts, "same": parts.same}
        result["conflicts"] = (
            parts.decisions[parts.decisions["status"] == CONFLICT]
            .head(table_rows)[["sku", "field", "wawi_value", "feed_value", "row"]]
            .astype(object)
            .where(lambda f: f.notna(), None)
            .to_dict("records")
        )
        result["fills"] = (
            parts.decisions[parts.decisions["status"].isin(WRITES)]
            .head(table_rows)[["sku", "field", "wawi_value", "feed_value", "status"]]
            .astype(object)
            .where(lambda f: f.notna(), None)
            .to_dict("records")
        )
    if parts.rejected is not None:
        result["rejected"] = (
            parts.rejected.head(table_rows).astype(object).where(lambda f: f.notna(), None).to_dict("records")
        )
    if parts.matches is not None:
        unmatched = parts.matches[parts.matches["item_id"].isna()]
        result["not_matched"] = unmatched.head(table_rows)[["row", "matched_by", "note"]].to_dict("records")
    if parts.categorised is not None:
        result["categories"] = _counts(parts.categorised["status"])
        result["assignments"] = (
            parts.categorised[parts.categorised["status"] == ASSIGN]
            .head(table_rows)[["sku", "rule", "category", "current"]]
            .astype(object)
            .where(lambda f: f.notna(), None)
            .to_dict("records")
        )
        result["no_rule"] = (
            parts.categorised[parts.categorised["status"] == NO_RULE].head(table_rows)["sku"].tolist()
        )
    if parts.quality is not None:
        result["quality"] = quality_counts(parts.quality)
    result["outcomes"] = _counts(o.result for o in parts.outcomes)
    result["failed"] = [r for r in outcome_rows(parts.outcomes) if r["result"] in ("failed", "conflict")][
        :table_rows
    ]
    result["settled_from_earlier_runs"] = len(parts.settled)
    result["notes"] = list(notes)
    return result


def summary_markdown(result: dict[str, Any]) -> str:
    """The artifact's text."""
    if "skipped" in result:
        return f"# Product enrichment\n\nSkipped: {result['skipped']}\n"
    lines = ["# Product enrichment" + (" (dry run)" if result.get("dry_run") else ""), ""]
    if "feed" in result:
        lines.append(
            f"Feed `{result['feed']}` of supplier **{result['supplier']}**: {result['feed_rows']:,} rows, "
            f"{result['rejected_rows']:,} rejected."
        )
        lines.append(f"Matched by: {result.get('matched_by', {})}; decisions: {result.get('decisions', {})}.")
    if "categories" in result:
        lines.append(f"Categorisation: {result['categories']}.")
    if "quality" in result:
        found = {k: v for k, v in result["quality"].items() if v}
        lines.append(f"Quality problems: {found or 'none'}.")
    lines.append(f"Outcomes: {result.get('outcomes') or 'nothing written'}.")
    if result.get("workbook"):
        lines.append(f"Workbook: `{result['workbook']}`.")
    for note in result.get("notes", []):
        lines.append(f"- {note}")
    return "\n".join(lines) + "\n"
