"""A1 notation helpers and the grouping of single-cell updates into contiguous column ranges.

Grouping is what turns "write a status into 10,000 rows" into one range ``E2:E10001`` instead of
10,000 ranges, which keeps a Google batch request small and an Excel write a single pass.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from openpyxl.utils.cell import column_index_from_string, get_column_letter

#: What a cell write may carry. Strings are written as text (``"00123"`` stays ``"00123"``); numbers,
#: booleans and dates only when the caller passes them as such; ``None`` clears the cell.
CellValue = str | int | float | bool | dt.date | dt.datetime | None


class CellUpdate(NamedTuple):
    """One cell to write: 1-based row, column as 1-based number or letter, the value."""

    row: int
    col: int | str
    value: CellValue


def column_letter(col: int | str) -> str:
    """``3`` or ``"c"`` -> ``"C"``; validates both forms so a typo fails before any request is sent."""
    if isinstance(col, int):
        if col < 1:
            raise ValueError(f"column numbers are 1-based, got {col}")
        return str(get_column_letter(col))
    letters = col.strip().upper()
    if not letters.isalpha() or not letters.isascii():
        raise ValueError(f"not a column letter: {col!r}")
    column_index_from_string(letters)  # raises ValueError past ZZZ (Sheets and Excel stay below)
    return str(letters)


def column_index(col: int | str) -> int:
    """``"C"`` or ``3`` -> ``3`` (1-based)."""
    return int(column_index_from_string(column_letter(col)))


def quote_sheet_title(title: str) -> str:
    """Sheet titles are always quoted in ranges; embedded quotes are doubled (Sheets and Excel rule)."""
    return "'" + title.replace("'", "''") + "'"


def absolute_range(title: str, a1: str) -> str:
    """``'Inbound Control'!E2:E10001``."""
    return f"{quote_sheet_title(title)}!{a1}"


@dataclass(frozen=True)
class ColumnRun:
    """Consecutive rows of one column, written as one range."""

    col: int
    start_row: int
    cells: tuple[CellValue, ...]

    @property
    def end_row(self) -> int:
        """Last row of the run (inclusive)."""
        return self.start_row + len(self.cells) - 1

    @property
    def a1(self) -> str:
        """``E2:E10001`` (or ``E2`` for one cell), without the sheet title."""
        letter = get_column_letter(self.col)
        if len(self.cells) == 1:
            return f"{letter}{self.start_row}"
        return f"{letter}{self.start_row}:{letter}{self.end_row}"


def normalize_updates(updates: Iterable[CellUpdate]) -> dict[tuple[int, int], CellValue]:
    """Validate rows/columns and collapse repeated writes to one cell (the last one wins)."""
    cells: dict[tuple[int, int], CellValue] = {}
    for update in updates:
        row, col, value = update
        if not isinstance(row, int) or isinstance(row, bool) or row < 1:
            raise ValueError(f"row numbers are 1-based integers, got {row!r}")
        cells[(row, column_index(col))] = value
    return cells


def group_column_runs(updates: Iterable[CellUpdate]) -> list[ColumnRun]:
    """Contiguous runs per column, ordered by column then row."""
    cells = normalize_updates(updates)
    runs: list[ColumnRun] = []
    by_col: dict[int, list[int]] = {}
    for row, col in cells:
        by_col.setdefault(col, []).append(row)
    for col in sorted(by_col):
        rows = sorted(by_col[col])
        start = prev = rows[0]
        values: list[CellValue] = [cells[(start, col)]]
        for row in rows[1:]:
            if row == prev + 1:
                values.append(cells[(row, col)])
            else:
                runs.append(ColumnRun(col, start, tuple(values)))
                start, values = row, [cells[(row, col)]]
            prev = row
        runs.append(ColumnRun(col, start, tuple(values)))
    return runs


@dataclass(frozen=True)
class ColumnValues:
    """Values for some rows of one column, given column-wise.

    A million rows are one array here, not a million :class:`CellUpdate` tuples.
    """

    col: int | str
    rows: Sequence[int] | np.ndarray
    values: Sequence[CellValue] | np.ndarray

    def runs(self) -> list[ColumnRun]:
        """The contiguous runs of these rows; rows in any order, each at most once."""
        col = column_index(self.col)
        rows = np.asarray(self.rows, dtype=np.int64)
        if len(rows) != len(self.values):
            raise ValueError(f"column {column_letter(col)}: {len(rows)} rows but {len(self.values)} values")
        if len(rows) == 0:
            return []
        if rows.min() < 1:
            raise ValueError(f"row numbers are 1-based, got {int(rows.min())}")
        values = np.asarray(self.values, dtype=object)
        if (np.diff(rows) <= 0).any():
            order = np.argsort(rows, kind="stable")
            rows, values = rows[order], values[order]
            if (np.diff(rows) == 0).any():
                raise ValueError(f"column {column_letter(col)}: a row is given twice")
        breaks = [0, *(np.flatnonzero(np.diff(rows) != 1) + 1).tolist(), len(rows)]
        return [
            ColumnRun(col, int(rows[a]), tuple(values[a:b].tolist())) for a, b in itertools.pairwise(breaks)
        ]

    def updates(self) -> list[CellUpdate]:
        """The single-cell form (for backends that only take cells)."""
        letter = column_letter(self.col)
        rows = np.asarray(self.rows, dtype=np.int64).tolist()
        return [CellUpdate(r, letter, v) for r, v in zip(rows, list(self.values), strict=True)]


def column_updates(col: int | str, start_row: int, values: Sequence[CellValue]) -> list[CellUpdate]:
    """The single-cell form of a column range write."""
    letter = column_letter(col)
    if start_row < 1:
        raise ValueError(f"row numbers are 1-based, got {start_row}")
    return [CellUpdate(start_row + i, letter, value) for i, value in enumerate(values)]
