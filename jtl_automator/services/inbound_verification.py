"""Inbound verification as plain functions: read the sheet, load FFN in bulk, reconcile, write back.

The Prefect flow wires these as tasks; tests and the benchmark call them directly. Every FFN read is
a paged bulk read (the product list once; inbounds and stocks by ``$filter`` on many ids or one full
listing), never a request per row, and the write-back is one batched write of the status, note and
(optional) checked-at cells, so other columns edited meanwhile are never touched.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, field_validator

from jtl_automator.clients.ffn.client import FfnClient
from jtl_automator.clients.pagination import flatten
from jtl_automator.sheets.a1 import CellUpdate, column_index, column_letter
from jtl_automator.sheets.base import (
    HeaderNotFound,
    SheetBackend,
    WorksheetNotFound,
    frame_from_grid,
    resolve_title,
)
from jtl_automator.transforms.ffn_frames import inbound_items_frame, products_frame, stocks_frame
from jtl_automator.transforms.inbound import (
    SHEET_SCHEMA,
    ReconcileParams,
    RowStatus,
    annotate_since,
    reconcile,
    row_keys,
    status_counts,
)

DEFAULT_WORKSHEET = "Inbound Control"
_LETTERS = re.compile(r"[A-Za-z]{1,3}")


class SheetColumns(BaseModel):
    """Where things are in the sheet: a header name, or a column letter (a header name wins)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sku: str = "SKU"
    units: str = "Units"
    status: str = "Status"
    note: str = "Note"
    inbound: str | None = "Inbound"
    warehouse: str | None = None
    checked_at: str | None = "Checked"

    @field_validator("sku", "units", "status", "note")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("column must be a header name or a column letter")
        return value.strip()


@dataclass(frozen=True)
class InboundSheet:
    """The sheet's rows in the shape ``reconcile`` takes, and where to write results."""

    worksheet: str
    header_row: int
    rows: pd.DataFrame  # row_number, sku, units[, inbound][, warehouse] as strings
    status_col: str
    note_col: str
    checked_col: str | None


def _resolve(spec: str, headers: dict[str, str], worksheet: str, row: int) -> str:
    """Column letter of a header name, else of a letter spec; HeaderNotFound names what is missing."""
    if spec in headers:
        return headers[spec]
    if _LETTERS.fullmatch(spec):
        return column_letter(spec)
    raise HeaderNotFound([spec], worksheet, row)


def read_inbound_sheet(backend: SheetBackend, worksheet: str | None, columns: SheetColumns) -> InboundSheet:
    """Read the Inbound Control worksheet. Fails with a named error before anything is written."""
    titles = backend.worksheet_names()
    wanted = worksheet or backend.default_worksheet(DEFAULT_WORKSHEET)
    title = resolve_title(wanted, titles)
    if title is None:
        raise WorksheetNotFound(wanted, titles)
    grid = backend.read_grid(title)
    by_name = [
        c for c in (columns.sku, columns.units, columns.status, columns.note) if not _LETTERS.fullmatch(c)
    ]
    frame = frame_from_grid(grid, title, None, by_name or None)
    headers = dict(frame.columns)
    letters = {
        name: _resolve(spec, headers, title, frame.header_row)
        for name, spec in (
            ("sku", columns.sku),
            ("units", columns.units),
            ("status", columns.status),
            ("note", columns.note),
        )
    }
    for name, optional in (("inbound", columns.inbound), ("warehouse", columns.warehouse)):
        # Optional columns: a header that is not there means the sheet simply has no such column.
        if optional and (optional in headers or _LETTERS.fullmatch(optional)):
            letters[name] = _resolve(optional, headers, title, frame.header_row)
    checked = None
    if columns.checked_at and columns.checked_at in headers:
        checked = headers[columns.checked_at]

    data_rows = grid[frame.header_row :]  # grid is 0-based; header_row is 1-based, so this starts below it
    wanted_cols = {
        name: column_index(letter) - 1 for name, letter in letters.items() if name not in ("status", "note")
    }
    records = {
        name: [row[i].strip() if i < len(row) else "" for row in data_rows] for name, i in wanted_cols.items()
    }
    rows = pd.DataFrame(records, dtype=object)
    rows.insert(0, "row_number", pd.RangeIndex(frame.header_row + 1, frame.header_row + 1 + len(data_rows)))
    rows = rows.astype({"row_number": "int64"})
    blank = (rows.drop(columns="row_number") == "").all(axis=1)
    rows = rows.loc[~blank].reset_index(drop=True)
    SHEET_SCHEMA.validate(rows.astype({c: str for c in rows.columns if c != "row_number"}))
    return InboundSheet(title, frame.header_row, rows, letters["status"], letters["note"], checked)


def decide_mode(sheet: InboundSheet, mode: Literal["inbound", "stock"] | None) -> Literal["inbound", "stock"]:
    """``inbound`` where the sheet has an inbound column, else ``stock``; an explicit choice is checked."""
    if mode is None:
        return "inbound" if "inbound" in sheet.rows.columns else "stock"
    if mode == "inbound" and "inbound" not in sheet.rows.columns:
        raise HeaderNotFound(["Inbound (needed for mode 'inbound')"], sheet.worksheet, sheet.header_row)
    return mode


def load_products(ffn: FfnClient) -> pd.DataFrame:
    """The whole catalogue's merchantSku -> jfsku map in one paged read."""
    return products_frame(flatten(ffn.products.iter_pages()))


def load_inbound_items(ffn: FfnClient, references: Iterable[str]) -> pd.DataFrame:
    """Items of the inbounds the sheet references (by id or merchant number), in the fewest requests."""
    return inbound_items_frame(ffn.inbounds.find_by_references(references))


def load_stocks(ffn: FfnClient, jfskus: Iterable[str]) -> pd.DataFrame:
    """Stocks of the given jfskus from one paged listing of all stocks.

    FFN's ``$filter`` on stocks does not offer ``jfsku`` (only levels and warehouse paths), so the
    alternative would be one ``/stocks/{jfsku}`` call per SKU, which is exactly what not to do.
    """
    keep = set(jfskus)
    return stocks_frame(s for s in flatten(ffn.stocks.iter_pages()) if s.get("jfsku") in keep)


def verify(
    sheet: InboundSheet,
    products: pd.DataFrame,
    inbound_items: pd.DataFrame | None,
    stocks: pd.DataFrame | None,
    mode: Literal["inbound", "stock"],
    history: Callable[[list[str]], Mapping[str, list[tuple[datetime, str]]]] | None = None,
) -> pd.DataFrame:
    """Reconcile and, given a history lookup (the store), say since when a row has been missing."""
    results = reconcile(sheet.rows, products, inbound_items, stocks, ReconcileParams(mode=mode))
    results["row_key"] = row_keys(results)
    if history is not None and not results.empty:
        results = annotate_since(results, history(results["row_key"].tolist()))
    return results


def jfskus_of(sheet: InboundSheet, products: pd.DataFrame) -> list[str]:
    """The jfskus the sheet's SKUs map to (for the stock lookup)."""
    skus = set(sheet.rows["sku"].astype(str).str.strip())
    matched = products.loc[products["merchant_sku"].isin(skus), "jfsku"]
    return sorted(set(matched.astype(str)))


def result_updates(sheet: InboundSheet, results: pd.DataFrame, checked_at: datetime) -> list[CellUpdate]:
    """Status, note and checked-at cells of every result row; nothing else in the sheet is touched."""
    rows = results["row_number"].tolist()
    updates = [
        CellUpdate(r, sheet.status_col, s) for r, s in zip(rows, results["status"].tolist(), strict=True)
    ]
    updates += [CellUpdate(r, sheet.note_col, n) for r, n in zip(rows, results["note"].tolist(), strict=True)]
    if sheet.checked_col:
        stamp = checked_at.isoformat(timespec="seconds")
        updates += [CellUpdate(r, sheet.checked_col, stamp) for r in rows]
    return updates


def summary_markdown(title: str, counts: dict[str, int], results: pd.DataFrame, *, dry_run: bool) -> str:
    """The run's markdown summary: counts per status and the first rows that need a look."""
    lines = [f"# Inbound verification: {title}", ""]
    if dry_run:
        lines += ["_Dry run: nothing was written._", ""]
    lines += ["| status | rows |", "|---|---:|"]
    lines += [f"| {status} | {count:,} |" for status, count in counts.items()]
    attention = exceptions(results)
    if not attention.empty:
        lines += [
            "",
            f"## Rows that need a look ({len(attention):,})",
            "",
            "| row | SKU | status | note |",
            "|---:|---|---|---|",
        ]
        for r in attention.head(50).itertuples():
            lines.append(f"| {r.row_number} | {r.sku} | {r.status} | {str(r.note).replace('|', '/')} |")
        if len(attention) > 50:
            lines.append(f"| … | | | {len(attention) - 50:,} more in the table artifact |")
    return "\n".join(lines)


def history_records(results: pd.DataFrame, checked_at: datetime) -> list[dict[str, Any]]:
    """Rows for the store's check history (plain Python values, None for unknown units)."""
    frame = results[["row_key", "sku", "inbound_ref", "units_expected", "units_received", "status", "note"]]
    records = table_records(frame)
    for record in records:
        record["inbound_ref"] = record["inbound_ref"] or None
        record["checked_at"] = checked_at
    return records


def table_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """JSON-friendly records: <NA> becomes None, numpy scalars become Python numbers."""
    plain = frame.astype(object).where(frame.notna(), None)
    return [
        {str(k): (v.item() if hasattr(v, "item") else v) for k, v in row.items()}
        for row in plain.to_dict("records")
    ]


def exceptions(results: pd.DataFrame) -> pd.DataFrame:
    """Every row that is not a MATCH, in sheet order."""
    return results.loc[results["status"] != RowStatus.MATCH.value].sort_values("row_number")


__all__ = [
    "InboundSheet",
    "SheetColumns",
    "decide_mode",
    "exceptions",
    "jfskus_of",
    "load_inbound_items",
    "load_products",
    "load_stocks",
    "read_inbound_sheet",
    "result_updates",
    "status_counts",
    "summary_markdown",
    "verify",
]
