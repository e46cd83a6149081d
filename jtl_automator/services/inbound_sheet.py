"""The sheet side of the inbound verification: read the rows, write results only where each row still is.

Reading finds the header row by the configured header names (ignoring case and spacing; a column given
as ``letter:B`` is taken by its letter) and reads only the key columns below it (SKU, units, inbound,
warehouse). Blank rows and repeated header rows (a row equal to the header, e.g. after pasting two
blocks) get no result and are never written.

Writing re-reads the key columns first, because people edit the sheet while a run is busy with FFN: a
row inserted or deleted above others shifts every row below it. Each result goes to the row where its
(SKU, inbound, warehouse) now is, the k-th copy of a key to the k-th copy; a row whose units were edited
meanwhile, a row that vanished, and the copies of a key that gained or lost a copy are not written but
reported (the next run checks them). If the header itself moved to other columns or was renamed, nothing
is written (:class:`SheetChanged`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, field_validator

from jtl_automator.sheets.a1 import ColumnValues, column_index
from jtl_automator.sheets.base import (
    ColumnRef,
    HeaderNotFound,
    SheetBackend,
    SheetError,
    WorksheetNotFound,
    find_header_row,
    header_key,
    resolve_title,
)
from jtl_automator.transforms.inbound import SHEET_SCHEMA, duplicate_note, duplicate_what

DEFAULT_WORKSHEET = "Inbound Control"
REQUIRED = ("sku", "units", "status", "note")
KEY_NAMES = ("sku", "units", "inbound", "warehouse")  # what is read; units are content, the rest identity
IDENTITY = ("sku", "inbound", "warehouse")

SkipReason = Literal["vanished", "changed", "copies changed"]
REASONS: dict[str, str] = {
    "vanished": "no longer in the sheet",
    "changed": "units edited during the run",
    "copies changed": "a copy of this row was added or removed during the run",
}


class SheetColumns(BaseModel):
    """Where things are in the sheet: a header name (matched ignoring case and spacing) or ``letter:B``."""

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
    def _required(cls, value: str) -> str:
        return str(ColumnRef.parse(value))

    @field_validator("inbound", "warehouse", "checked_at")
    @classmethod
    def _optional(cls, value: str | None) -> str | None:
        return str(ColumnRef.parse(value)) if value and value.strip() else None

    def refs(self) -> dict[str, ColumnRef]:
        """Every configured column by role (``sku``, ..., ``checked_at``)."""
        roles = ("sku", "units", "status", "note", "inbound", "warehouse", "checked_at")
        return {role: ColumnRef.parse(spec) for role in roles if (spec := getattr(self, role))}


class SheetChanged(SheetError):
    """The sheet's header moved to other columns or was renamed during the run: nothing was written."""


@dataclass(frozen=True)
class InboundSheet:
    """The sheet's rows in the shape ``reconcile`` takes, and where to write results."""

    worksheet: str
    header_row: int
    rows: pd.DataFrame  # row_number, sku, units[, inbound][, warehouse] as stripped text
    status_col: str
    note_col: str
    checked_col: str | None
    key_cols: Mapping[str, str] = field(default_factory=dict)  # sku, units[, inbound][, warehouse] -> letter
    header: Mapping[str, str] = field(default_factory=dict)  # letter -> header text of every mapped column
    repeated_headers: tuple[int, ...] = ()  # rows equal to the header: skipped, never written


def _resolve(refs: Mapping[str, ColumnRef], cells: Sequence[str], worksheet: str, row: int) -> dict[str, str]:
    """Role -> letter in this header row; every required role must be there, no two on one column."""
    found: dict[str, str] = {}
    missing: list[str] = []
    for role, ref in refs.items():
        letter = ref.find(cells, worksheet, row)
        if letter:
            found[role] = letter
        elif role in REQUIRED:
            missing.append(str(ref))
    if missing:
        raise HeaderNotFound(missing, worksheet, row)
    by_letter: dict[str, str] = {}
    for role, letter in found.items():
        if letter in by_letter:
            raise SheetError(
                f"worksheet {worksheet!r}: {by_letter[letter]} and {role} are both column {letter}; "
                "each needs its own column"
            )
        by_letter[letter] = role
    return found


def _header_text(cells: Sequence[str], letter: str) -> str:
    i = column_index(letter) - 1
    return cells[i].strip() if i < len(cells) else ""


def _stripped(cells: Sequence[str], height: int) -> np.ndarray:
    """Trimmed text, one string object per distinct value.

    A million rows naming 20,000 inbounds then hold 20,000 strings, not a million.
    """
    out = np.full(height, "", dtype=object)
    out[: len(cells)] = [c.strip() for c in cells]
    codes, distinct = pd.factorize(out)
    return np.asarray(distinct, dtype=object)[codes] if len(codes) else out


def _repeated_headers(values: Mapping[str, np.ndarray], texts: Mapping[str, str]) -> np.ndarray:
    """Rows whose every key cell with a header text repeats that text (compared as header_key)."""
    named = {role: header_key(texts[role]) for role in values if texts.get(role)}
    if not named:
        return np.zeros(len(next(iter(values.values()))), dtype=bool)
    repeated: np.ndarray | None = None
    for role, key in named.items():
        codes, distinct = pd.factorize(values[role])  # header_key once per distinct value
        hit = np.array([header_key(str(d)) == key for d in distinct] + [False], dtype=bool)
        row_hit = hit[codes]
        repeated = row_hit if repeated is None else repeated & row_hit
    assert repeated is not None
    return repeated


def read_inbound_sheet(backend: SheetBackend, worksheet: str | None, columns: SheetColumns) -> InboundSheet:
    """Read the Inbound Control worksheet. Fails with a named error before anything is written."""
    if worksheet is None:  # "Inbound Control", else the first visible tab (one metadata read either way)
        title = backend.default_worksheet(DEFAULT_WORKSHEET)
    else:
        titles = backend.worksheet_names()
        found = resolve_title(worksheet, titles)
        if found is None:
            raise WorksheetNotFound(worksheet, titles)
        title = found
    refs = columns.refs()
    letters: dict[str, str] = {}

    def locate(top: Sequence[Sequence[str]]) -> tuple[int, list[str]]:
        index = find_header_row(top, [refs[r] for r in REQUIRED], title)
        letters.clear()
        letters.update(_resolve(refs, top[index], title, index + 1))
        return index, [letters[r] for r in KEY_NAMES if r in letters]

    block = backend.read_table(title, locate)
    keys = {role: letters[role] for role in KEY_NAMES if role in letters}
    header = {letter: _header_text(block.header, letter) for letter in letters.values()}
    height = block.height
    values = {role: _stripped(block.columns[letter], height) for role, letter in keys.items()}
    numbers = np.arange(block.header_row + 1, block.header_row + 1 + height, dtype=np.int64)
    blank = np.logical_and.reduce([v == "" for v in values.values()])
    repeated = _repeated_headers(values, {role: header[letter] for role, letter in keys.items()})
    keep = ~blank & ~repeated
    rows = pd.DataFrame(
        {"row_number": numbers[keep], **{r: pd.array(v[keep], dtype="str") for r, v in values.items()}}
    )
    SHEET_SCHEMA.validate(rows)
    return InboundSheet(
        worksheet=title,
        header_row=block.header_row,
        rows=rows,
        status_col=letters["status"],
        note_col=letters["note"],
        checked_col=letters.get("checked_at"),
        key_cols=keys,
        header=header,
        repeated_headers=tuple(numbers[repeated & ~blank].tolist()),
    )


def decide_mode(sheet: InboundSheet, mode: Literal["inbound", "stock"] | None) -> Literal["inbound", "stock"]:
    """``inbound`` where the sheet has an inbound column, else ``stock``; an explicit choice is checked."""
    if mode is None:
        return "inbound" if "inbound" in sheet.rows.columns else "stock"
    if mode == "inbound" and "inbound" not in sheet.rows.columns:
        raise HeaderNotFound(["Inbound (needed for mode 'inbound')"], sheet.worksheet, sheet.header_row)
    return mode


# -- re-check before the write ------------------------------------------------------------------------


@dataclass(frozen=True)
class Fresh:
    """The key columns as they are now, from row 1 down (index i is sheet row i + 1)."""

    cells: Mapping[str, np.ndarray]  # role -> stripped text

    @classmethod
    def of(cls, sheet: InboundSheet, columns: Mapping[str, list[str]]) -> Fresh:
        """The key columns of ``sheet`` from a re-read (letter -> cells from row 1)."""
        height = max((len(cells) for cells in columns.values()), default=0)
        return cls({role: _stripped(columns[letter], height) for role, letter in sheet.key_cols.items()})

    @property
    def height(self) -> int:
        """Rows read (the longest column)."""
        return len(next(iter(self.cells.values()))) if self.cells else 0


def header_row_now(sheet: InboundSheet, fresh: Fresh) -> int:
    """The 1-based row where the header now is (rows inserted or deleted above it move it)."""
    texts = {role: sheet.header[letter] for role, letter in sheet.key_cols.items() if sheet.header[letter]}
    if not texts:
        return sheet.header_row  # every key column by letter without a header text: nothing to find
    at = sheet.header_row - 1
    if at < fresh.height and all(fresh.cells[r][at] == t for r, t in texts.items()):
        return sheet.header_row
    first_role, first_text = next(iter(texts.items()))
    for i in np.flatnonzero(fresh.cells[first_role] == first_text).tolist():
        if all(fresh.cells[r][i] == t for r, t in texts.items()):
            return int(i) + 1
    raise SheetChanged(
        f"worksheet {sheet.worksheet!r}: the header row ({', '.join(repr(t) for t in texts.values())}) "
        "is no longer in its columns; columns were moved or renamed during the run. Nothing was written; "
        "run the verification again."
    )


def check_header_cells(sheet: InboundSheet, row: int, cells: Sequence[str]) -> None:
    """The columns written to (status, note, checked) must still carry their header texts."""
    for letter in filter(None, (sheet.status_col, sheet.note_col, sheet.checked_col)):
        expected = sheet.header.get(letter, "")
        if header_key(_header_text(cells, letter)) != header_key(expected):
            raise SheetChanged(
                f"worksheet {sheet.worksheet!r}: column {letter} of the header row {row} was {expected!r} "
                f"and is now {_header_text(cells, letter)!r}; columns were moved or renamed during the run. "
                "Nothing was written; run the verification again."
            )


def _codes(parts: Sequence[np.ndarray]) -> np.ndarray:
    """One integer per distinct combination of the arrays' values (same length each)."""
    code: np.ndarray | None = None
    for part in parts:
        c, uniques = pd.factorize(part)
        code = c.astype(np.int64) if code is None else pd.factorize(code * (len(uniques) + 1) + c)[0]
    assert code is not None
    return code.astype(np.int64)


@dataclass(frozen=True)
class WritePlan:
    """Where each result goes now: ``target`` is its sheet row, -1 when it is not written."""

    target: np.ndarray
    reason: np.ndarray  # "" where written, else a key of REASONS
    note: np.ndarray  # the note to write (duplicate notes name the rows where the copies now are)
    in_place: int  # written to the row it was read from
    added: int  # rows in the sheet now that were not there when it was read (checked next run)

    @property
    def written(self) -> np.ndarray:
        """Per result: is it written."""
        return np.asarray(self.target >= 0)

    @property
    def moved(self) -> int:
        """Results written to another row than the one they were read from."""
        return int(self.written.sum()) - self.in_place


def plan_write(sheet: InboundSheet, results: pd.DataFrame, fresh: Fresh, header_now: int) -> WritePlan:
    """Match every result to the row where its identity now is (the k-th copy to the k-th copy).

    A result is written only where the sheet still has exactly as many rows of its (SKU, inbound,
    warehouse) as when it was read, and its units are unchanged.
    """
    n = len(results)
    read_rows = results["row_number"].to_numpy(dtype=np.int64)
    at = pd.Index(sheet.rows["row_number"].to_numpy()).get_indexer(read_rows)
    if (at < 0).any():
        raise ValueError("results name rows that were not read from the sheet")
    roles = [r for r in IDENTITY if r in sheet.key_cols]
    old = {r: sheet.rows[r].to_numpy(dtype=object)[at] for r in [*roles, "units"]}

    # the data rows now: below the header, not blank, not a repeated header
    now_rows = np.arange(header_now, fresh.height, dtype=np.int64)  # 0-based indices
    now = {r: fresh.cells[r][now_rows] for r in fresh.cells}
    texts = {role: sheet.header[letter] for role, letter in sheet.key_cols.items()}
    if len(now_rows):
        live = ~np.logical_and.reduce([v == "" for v in now.values()]) & ~_repeated_headers(now, texts)
        now_rows = now_rows[live]
        now = {r: v[live] for r, v in now.items()}

    ident = _codes([np.concatenate([old[r], now[r]]) for r in roles])
    old_id, now_id = ident[:n], ident[n:]
    size = int(ident.max()) + 1 if len(ident) else 0
    old_count = np.bincount(old_id, minlength=size)
    now_count = np.bincount(now_id, minlength=size)

    reason = np.full(n, "", dtype=object)
    position = np.full(n, -1, dtype=np.int64)  # where the row is now, if it can be told
    stable = old_count[old_id] == now_count[old_id]
    reason[~stable & (now_count[old_id] == 0)] = "vanished"
    reason[~stable & (now_count[old_id] > 0)] = "copies changed"
    # k-th copy to k-th copy: both sides sorted by (identity, row) line up within each identity
    keep_old = np.flatnonzero(stable)
    keep_now = np.flatnonzero(old_count[now_id] == now_count[now_id])
    old_order = keep_old[np.lexsort((read_rows[keep_old], old_id[keep_old]))]
    now_order = keep_now[np.lexsort((now_rows[keep_now], now_id[keep_now]))]
    position[old_order] = now_rows[now_order] + 1
    target = position.copy()
    edited = old_order[now["units"][now_order] != old["units"][old_order]]
    target[edited], reason[edited] = -1, "changed"

    note = results["note"].to_numpy(dtype=object).copy()
    if "duplicate" in results.columns:
        _renumber_duplicates(
            sheet, results["duplicate"].to_numpy(dtype=bool), old_id, read_rows, position, note
        )
    return WritePlan(
        target=target,
        reason=reason,
        note=note,
        in_place=int(((target >= 0) & (target == read_rows)).sum()),
        added=int((old_count[now_id] == 0).sum()),
    )


def _renumber_duplicates(
    sheet: InboundSheet,
    duplicate: np.ndarray,
    old_id: np.ndarray,
    read_rows: np.ndarray,
    position: np.ndarray,
    note: np.ndarray,
) -> None:
    """Duplicate notes list row numbers: where copies moved, list the rows where they are now."""
    moved = duplicate & (position >= 0) & (position != read_rows)
    groups = np.unique(old_id[moved])
    if not len(groups):
        return
    what = duplicate_what("inbound" in sheet.rows.columns, "warehouse" in sheet.rows.columns)
    members = np.flatnonzero(np.isin(old_id, groups) & duplicate)
    for group in groups.tolist():
        rows = members[old_id[members] == group]
        note[rows] = duplicate_note(what, np.sort(position[rows]))


def write_columns(
    sheet: InboundSheet, results: pd.DataFrame, plan: WritePlan, checked_at: datetime
) -> list[ColumnValues]:
    """Status, note and (if the sheet has the column) checked-at cells of the rows being written."""
    written = plan.written
    rows = plan.target[written]
    columns = [
        ColumnValues(sheet.status_col, rows, results["status"].to_numpy(dtype=object)[written]),
        ColumnValues(sheet.note_col, rows, plan.note[written]),
    ]
    if sheet.checked_col:
        stamp = checked_at.isoformat(timespec="seconds")
        columns.append(ColumnValues(sheet.checked_col, rows, np.full(len(rows), stamp, dtype=object)))
    return columns


@dataclass(frozen=True)
class WriteOutcome:
    """What the write did: cells, rows written in place or where they moved, rows not written."""

    cells: int
    in_place: int
    moved: int
    added: int  # rows that appeared during the run (checked next run)
    skipped: pd.DataFrame  # row_number (as read), sku, inbound_ref, warehouse, reason: not written
    results: pd.DataFrame  # the results, row_number where each row is now (as read where not written)

    @property
    def counts(self) -> dict[str, int]:
        """For the run's summary."""
        return {
            "cells_written": self.cells,
            "rows_written": self.in_place + self.moved,
            "rows_moved": self.moved,
            "rows_not_written": len(self.skipped),
            "rows_added_during_run": self.added,
        }


def write_results(
    backend: SheetBackend, sheet: InboundSheet, results: pd.DataFrame, checked_at: datetime
) -> WriteOutcome:
    """Re-read the key columns, find where each row is now, and write only there (one batched write).

    Requests: one read of the key columns, one of the header row, then the write.
    """
    columns = backend.read_columns(sheet.worksheet, list(sheet.key_cols.values()), 1)
    fresh = Fresh.of(sheet, columns)
    del columns
    header_now = header_row_now(sheet, fresh)
    cells = backend.read_rows(sheet.worksheet, header_now, header_now)
    check_header_cells(sheet, header_now, cells[0] if cells else [])
    plan = plan_write(sheet, results, fresh, header_now)
    del fresh
    written = backend.write_columns(sheet.worksheet, write_columns(sheet, results, plan, checked_at))
    skipped_at = np.flatnonzero(~plan.written)
    skipped = results.iloc[skipped_at][["row_number", "sku", "inbound_ref", "warehouse"]].assign(
        reason=[REASONS[str(r)] for r in plan.reason[skipped_at]]
    )
    now = np.where(plan.written, plan.target, results["row_number"].to_numpy(dtype=np.int64))
    moved = results.assign(row_number=now, note=pd.array(plan.note, dtype="str"))
    return WriteOutcome(
        cells=written,
        in_place=plan.in_place,
        moved=plan.moved,
        added=plan.added,
        skipped=skipped.reset_index(drop=True),
        results=moved,
    )


__all__ = [
    "DEFAULT_WORKSHEET",
    "Fresh",
    "InboundSheet",
    "SheetChanged",
    "SheetColumns",
    "WriteOutcome",
    "WritePlan",
    "check_header_cells",
    "decide_mode",
    "header_row_now",
    "plan_write",
    "read_inbound_sheet",
    "write_columns",
    "write_results",
]
