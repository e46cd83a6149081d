"""One interface for the spreadsheets the flows read and write: Google Sheets and ``.xlsx`` files.

Reads give a :class:`SheetFrame`: a DataFrame of *strings* (SKUs like ``00123`` keep their zeros,
quantities stay text until a transform parses them and can report the bad row), indexed by the 1-based
sheet row number, plus the column letter of every header so results can be written to exact cells.

Blank rows (every headed cell empty) are **dropped**; the index keeps the real row numbers of the rows
that remain, so row 7 stays row 7 even when row 6 was empty. Columns without a header text are not part
of the frame. Rows above the header row (titles, notes) are skipped.

Writes are batched: :meth:`SheetBackend.write_cells` takes any number of cells and groups contiguous
cells of a column into one range, so a backend never issues a call per cell.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import pandas as pd

from jtl_automator.sheets.a1 import CellUpdate, CellValue, column_letter, column_updates

__all__ = [
    "CellUpdate",
    "CellValue",
    "DuplicateHeader",
    "HeaderNotFound",
    "SheetBackend",
    "SheetError",
    "SheetFrame",
    "WorksheetNotFound",
]

ROW_NUMBER = "row_number"


class SheetError(Exception):
    """Base of every spreadsheet error; messages name the worksheet (and header) at fault."""


class WorksheetNotFound(SheetError):
    """The workbook/spreadsheet has no tab with this title."""

    def __init__(self, name: str, available: Sequence[str] = (), note: str = "") -> None:
        self.name = name
        self.available = tuple(available)
        message = f"worksheet {name!r} not found"
        if self.available:
            message += f" (available: {', '.join(repr(a) for a in self.available)})"
        if note:
            message += f"; {note}"
        super().__init__(message)


class HeaderNotFound(SheetError):
    """No row holds all the required header names (or the given header row lacks some)."""

    def __init__(self, missing: Sequence[str], worksheet: str, row: int | None = None) -> None:
        self.missing = tuple(missing)
        self.worksheet = worksheet
        self.row = row
        names = ", ".join(repr(m) for m in self.missing)
        where = f"header row {row}" if row is not None else "any row"
        super().__init__(f"worksheet {worksheet!r}: header(s) {names} not found in {where}")


class DuplicateHeader(SheetError):
    """Two columns carry the same header, so a column mapping by name would be ambiguous."""

    def __init__(self, header: str, worksheet: str, letters: Sequence[str]) -> None:
        self.header = header
        self.worksheet = worksheet
        self.letters = tuple(letters)
        where = ", ".join(self.letters)
        super().__init__(f"worksheet {worksheet!r}: header {header!r} appears in several columns ({where})")


@dataclass(frozen=True)
class SheetFrame:
    """A worksheet's table: ``data`` (strings, index = 1-based sheet row) and header -> column letter."""

    worksheet: str
    header_row: int
    data: pd.DataFrame
    columns: Mapping[str, str] = field(default_factory=dict)

    def letter(self, header: str) -> str:
        """Column letter of ``header``; :class:`HeaderNotFound` names the worksheet when it is absent."""
        try:
            return self.columns[header]
        except KeyError:
            raise HeaderNotFound([header], self.worksheet, self.header_row) from None

    def cell(self, row_number: int, header: str, value: CellValue) -> CellUpdate:
        """The update that writes ``value`` into ``header``'s column of sheet row ``row_number``."""
        return CellUpdate(row_number, self.letter(header), value)

    def column_cells(self, header: str, values: Mapping[int, CellValue] | pd.Series) -> list[CellUpdate]:
        """Updates for one column from ``{row_number: value}`` (e.g. a Series indexed like ``data``)."""
        letter = self.letter(header)
        return [CellUpdate(int(str(row)), letter, value) for row, value in values.items()]


def resolve_title(name: str, titles: Sequence[str]) -> str | None:
    """Exact title, else the one title equal ignoring case (as Google resolves ranges), else None."""
    if name in titles:
        return name
    folded = [t for t in titles if t.casefold() == name.casefold()]
    return folded[0] if len(folded) == 1 else None


def _is_blank(value: str) -> bool:
    return value.strip() == ""


def locate_header(grid: Sequence[Sequence[str]], header_names: Sequence[str], worksheet: str) -> int:
    """0-based index of the first row holding every name in ``header_names`` (compared stripped)."""
    wanted = [name.strip() for name in header_names]
    best_missing: list[str] = wanted
    for index, row in enumerate(grid):
        present = {cell.strip() for cell in row}
        missing = [name for name in wanted if name not in present]
        if not missing:
            return index
        if len(missing) < len(best_missing):
            best_missing = missing
    raise HeaderNotFound(best_missing, worksheet)


def frame_from_grid(
    grid: Sequence[Sequence[str]],
    worksheet: str,
    header_row: int | None = None,
    header_names: Sequence[str] | None = None,
    *,
    first_row: int = 1,
    first_col: int = 1,
) -> SheetFrame:
    """Build the :class:`SheetFrame` from a grid of strings whose first cell is (first_row, first_col)."""
    names = list(header_names or ())
    if header_row is None:
        if names:
            header_index = locate_header(grid, names, worksheet)
        else:
            header_index = next((i for i, row in enumerate(grid) if any(not _is_blank(c) for c in row)), -1)
            if header_index < 0:
                raise HeaderNotFound(["<any header>"], worksheet)
    else:
        if header_row < first_row:
            raise ValueError(f"header_row is 1-based and must be >= {first_row}, got {header_row}")
        header_index = header_row - first_row
        if header_index >= len(grid):
            raise HeaderNotFound(names or ["<any header>"], worksheet, header_row)
    header_cells = [cell.strip() for cell in grid[header_index]]
    header_sheet_row = header_index + first_row
    if names:
        missing = [n.strip() for n in names if n.strip() not in header_cells]
        if missing:
            raise HeaderNotFound(missing, worksheet, header_sheet_row)

    positions: dict[str, int] = {}
    seen: dict[str, list[str]] = {}
    for offset, name in enumerate(header_cells):
        if not name:
            continue
        seen.setdefault(name, []).append(column_letter(first_col + offset))
        positions.setdefault(name, offset)
    for name, letters in seen.items():
        if len(letters) > 1:
            raise DuplicateHeader(name, worksheet, letters)

    headers = list(positions)
    rows: list[list[str]] = []
    row_numbers: list[int] = []
    for index in range(header_index + 1, len(grid)):
        raw = grid[index]
        values = [raw[positions[h]] if positions[h] < len(raw) else "" for h in headers]
        if all(_is_blank(v) for v in values):
            continue
        rows.append(values)
        row_numbers.append(index + first_row)
    data = pd.DataFrame(
        rows,
        columns=pd.Index(headers),
        index=pd.Index(row_numbers, name=ROW_NUMBER, dtype="int64"),
        dtype=str,
    )
    columns = {h: column_letter(first_col + positions[h]) for h in headers}
    return SheetFrame(worksheet=worksheet, header_row=header_sheet_row, data=data, columns=columns)


class SheetBackend(abc.ABC):
    """What the flows need from a spreadsheet; :class:`GoogleSheetsBackend` and :class:`ExcelBackend`."""

    @abc.abstractmethod
    def worksheet_names(self) -> list[str]:
        """Titles of the tabs, in order."""

    def visible_worksheet_names(self) -> list[str]:
        """Titles of the tabs a user sees; a backend that knows of hidden tabs leaves them out."""
        return self.worksheet_names()

    def default_worksheet(self, preferred: str) -> str:
        """``preferred`` if there is such a tab, else the first tab a user sees (never a hidden one)."""
        titles = self.worksheet_names()
        found = resolve_title(preferred, titles)
        if found is not None:
            return found
        visible = self.visible_worksheet_names()
        if not visible:
            raise WorksheetNotFound(preferred, titles, "no visible tab to use instead: name the tab to use")
        return visible[0]

    @abc.abstractmethod
    def read_grid(self, worksheet: str) -> list[list[str]]:
        """Every value of the worksheet as strings, starting at A1 (ragged rows allowed)."""

    @abc.abstractmethod
    def write_cells(self, worksheet: str, updates: Sequence[CellUpdate]) -> int:
        """Write many cells in one batched operation; returns the number of cells written."""

    @abc.abstractmethod
    def append_rows(self, worksheet: str, rows: Sequence[Sequence[CellValue]]) -> int:
        """Add rows after the last non-empty row; returns the first appended row number."""

    def read_frame(
        self,
        worksheet: str,
        header_row: int | None = None,
        header_names: Sequence[str] | None = None,
    ) -> SheetFrame:
        """The worksheet as a :class:`SheetFrame` (header found by ``header_names`` if no row is given)."""
        return frame_from_grid(self.read_grid(worksheet), worksheet, header_row, header_names)

    def write_column_range(
        self, worksheet: str, column_letter: str, start_row: int, values: Iterable[CellValue]
    ) -> int:
        """Write ``values`` down one column from ``start_row``: a single range, a single request."""
        return self.write_cells(worksheet, column_updates(column_letter, start_row, list(values)))
