"""``.xlsx`` backend on openpyxl, with atomic saves.

Reads use the cached values (``data_only``), so a formula cell reads as what Excel last computed. Writes
load the full workbook (formulas, styles, other sheets, defined names stay as they are), change only the
given cells and save to a temporary file in the same folder that then replaces the original with
``os.replace``: a crash mid-save leaves the old workbook untouched, never a half-written one.

Known openpyxl limit: charts and images already in a workbook are not read, so a write drops them.
Keep reports with charts in workbooks the flows generate rather than ones they edit.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import openpyxl
from openpyxl.workbook.workbook import Workbook
from openpyxl.worksheet.worksheet import Worksheet

from jtl_automator.sheets.a1 import CellUpdate, CellValue, normalize_updates
from jtl_automator.sheets.base import SheetBackend, WorksheetNotFound, resolve_title


def cell_text(value: Any) -> str:
    """A cell value as the text a user sees: ``12`` not ``12.0``, dates as ISO, text unchanged."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))
        return repr(value)
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0) and value.tzinfo is None:
            return value.date().isoformat()
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return str(value)
    return str(value)


class ExcelBackend(SheetBackend):
    """A workbook on disk; every write is load -> change -> atomic save."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"ExcelBackend({str(self.path)!r})"

    def _load(self, *, for_reading: bool) -> Workbook:
        if not self.path.exists():
            raise FileNotFoundError(f"workbook not found: {self.path}")
        if for_reading:
            return openpyxl.load_workbook(self.path, read_only=True, data_only=True)
        return openpyxl.load_workbook(self.path, keep_vba=self.path.suffix.lower() == ".xlsm")

    @staticmethod
    def _sheet(workbook: Workbook, worksheet: str) -> Any:
        title = resolve_title(worksheet, workbook.sheetnames)
        if title is None:
            raise WorksheetNotFound(worksheet, workbook.sheetnames)
        return workbook[title]

    def worksheet_names(self) -> list[str]:
        """Titles of the sheets, in workbook order."""
        workbook = self._load(for_reading=True)
        try:
            return list(workbook.sheetnames)
        finally:
            workbook.close()

    def read_grid(self, worksheet: str) -> list[list[str]]:
        """Cached values (formulas read as their last computed result) as text; trailing blank rows cut."""
        workbook = self._load(for_reading=True)
        try:
            sheet = self._sheet(workbook, worksheet)
            sheet.reset_dimensions()  # a stale <dimension> tag from another writer must not truncate rows
            grid = [[cell_text(v) for v in row] for row in sheet.iter_rows(values_only=True)]
        finally:
            workbook.close()
        while grid and not any(grid[-1]):
            grid.pop()
        return grid

    def write_cells(self, worksheet: str, updates: Sequence[CellUpdate]) -> int:
        """Change only these cells, then one atomic save."""
        cells = normalize_updates(updates)
        if not cells:
            return 0
        workbook = self._load(for_reading=False)
        sheet = self._sheet(workbook, worksheet)
        for (row, col), value in cells.items():
            _set(sheet, row, col, value)
        self._save(workbook)
        return len(cells)

    def append_rows(self, worksheet: str, rows: Sequence[Sequence[CellValue]]) -> int:
        """Write after the last row holding a value (not after rows that only carry formatting)."""
        workbook = self._load(for_reading=False)
        sheet = self._sheet(workbook, worksheet)
        first = _last_used_row(sheet) + 1
        for offset, values in enumerate(rows):
            for col, value in enumerate(values, start=1):
                _set(sheet, first + offset, col, value)
        if rows:
            self._save(workbook)
        return first

    def _save(self, workbook: Workbook) -> None:
        """Write a sibling temp file, fsync it, then ``os.replace`` it over the original."""
        fd, tmp_name = tempfile.mkstemp(prefix=f".{self.path.stem}.", suffix=".tmp", dir=self.path.parent)
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as handle:
                workbook.save(handle)
                handle.flush()
                os.fsync(handle.fileno())
            shutil.copymode(self.path, tmp)
            os.replace(tmp, self.path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        finally:
            workbook.close()


def _set(sheet: Worksheet, row: int, col: int, value: CellValue) -> None:
    cell = sheet.cell(row=row, column=col)
    cell.value = value
    if isinstance(value, str) and cell.data_type == "f":
        # RAW semantics like the Sheets backend: text that starts with "=" is data, not a formula.
        cell.data_type = "s"


def _last_used_row(sheet: Worksheet) -> int:
    """Last row with a value; ``max_row`` also counts rows that only carry formatting."""
    for row in range(sheet.max_row, 0, -1):
        if any(cell.value not in (None, "") for cell in sheet[row]):
            return row
    return 0
