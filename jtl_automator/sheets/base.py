"""One interface for the spreadsheets the flows read and write: Google Sheets and ``.xlsx`` files.

Reads give a :class:`SheetFrame`: a DataFrame of *strings* (SKUs like ``00123`` keep their zeros,
quantities stay text until a transform parses them and can report the bad row), indexed by the 1-based
sheet row number, plus the column letter of every header so results can be written to exact cells.

Blank rows (every headed cell empty) are **dropped**; the index keeps the real row numbers of the rows
that remain, so row 7 stays row 7 even when row 6 was empty. Columns without a header text are not part
of the frame. Rows above the header row (titles, notes) are skipped.

Header names are matched ignoring case and runs of whitespace (``" units  sent"`` is ``"Units sent"``),
because people retype headers; a column letter is never guessed from a name: a :class:`ColumnRef`
is a letter only when written ``letter:B``.

Writes are batched: :meth:`SheetBackend.write_cells` takes any number of cells and groups contiguous
cells of a column into one range, so a backend never issues a call per cell;
:meth:`SheetBackend.write_columns` takes the same column-wise, for a million rows.

Cell size: Google Sheets refuses a cell over :data:`GOOGLE_MAX_CELL_CHARS` characters, Excel cannot hold
more than :data:`EXCEL_MAX_CELL_CHARS`; text the flows compose is kept within :data:`MAX_CELL_CHARS`
(both) with :func:`fit_cell`, and each writer truncates what is still longer for its format.
"""

from __future__ import annotations

import abc
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import pandas as pd

from jtl_automator.sheets.a1 import (
    CellUpdate,
    CellValue,
    ColumnValues,
    column_index,
    column_letter,
    column_updates,
)

__all__ = [
    "EXCEL_MAX_CELL_CHARS",
    "GOOGLE_MAX_CELL_CHARS",
    "MAX_CELL_CHARS",
    "CellUpdate",
    "CellValue",
    "ColumnBlock",
    "ColumnRef",
    "ColumnValues",
    "DuplicateHeader",
    "HeaderNotFound",
    "SheetBackend",
    "SheetError",
    "SheetFrame",
    "WorksheetNotFound",
    "fit_cell",
    "header_key",
]

ROW_NUMBER = "row_number"

#: Google Sheets answers 400 "Your input contains more than the maximum of 50000 characters in a single
#: cell" and writes nothing of the request.
GOOGLE_MAX_CELL_CHARS = 50_000
#: Excel's limit of characters in a cell (a longer one makes Excel call the file damaged).
EXCEL_MAX_CELL_CHARS = 32_767
#: What every backend can hold: the cap for text the flows compose (notes).
MAX_CELL_CHARS = min(GOOGLE_MAX_CELL_CHARS, EXCEL_MAX_CELL_CHARS)
TRUNCATED = " … (truncated)"


def fit_cell(text: str, limit: int = MAX_CELL_CHARS) -> str:
    """``text`` itself when it fits in ``limit`` characters, else its start marked as truncated."""
    if len(text) <= limit:
        return text
    return text[: limit - len(TRUNCATED)] + TRUNCATED


def header_key(text: str) -> str:
    """How headers are compared: case-insensitive, whitespace trimmed and runs of it made one space."""
    return " ".join(text.split()).casefold()


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


_LETTERS = re.compile(r"[A-Za-z]{1,2}")


class HeaderNotFound(SheetError):
    """No row holds all the required header names (or the given header row lacks some)."""

    def __init__(
        self, missing: Sequence[str], worksheet: str, row: int | None = None, *, where: str | None = None
    ) -> None:
        self.missing = tuple(missing)
        self.worksheet = worksheet
        self.row = row
        names = ", ".join(repr(m) for m in self.missing)
        where = where or (f"header row {row}" if row is not None else "any row")
        message = f"worksheet {worksheet!r}: header(s) {names} not found in {where}"
        letters = [m for m in self.missing if _LETTERS.fullmatch(m)]
        if letters:  # an old-style letter option: say how letters are written now
            message += (
                f" (to name column {letters[0].upper()} by its letter, write 'letter:{letters[0].upper()}')"
            )
        super().__init__(message)


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
        """Column letter of ``header`` (compared as :func:`header_key`); :class:`HeaderNotFound` if absent."""
        if header in self.columns:
            return self.columns[header]
        key = header_key(header)
        found = [letter for name, letter in self.columns.items() if header_key(name) == key]
        if not found:
            raise HeaderNotFound([header], self.worksheet, self.header_row)
        return found[0]

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
    """0-based index of the first row holding every name in ``header_names`` (compared by header_key)."""
    wanted = [name.strip() for name in header_names]
    best_missing: list[str] = wanted
    for index, row in enumerate(grid):
        present = {header_key(cell) for cell in row}
        missing = [name for name in wanted if header_key(name) not in present]
        if not missing:
            return index
        if len(missing) < len(best_missing):
            best_missing = missing
    raise HeaderNotFound(best_missing, worksheet)


@dataclass(frozen=True)
class ColumnRef:
    """A column named by its header text, or by its letter when written ``letter:B``.

    A bare text is always a header name, so a missing ``SKU`` header fails instead of being read as
    column SKU; header names are matched with :func:`header_key`.
    """

    header: str | None = None
    letter: str | None = None

    PREFIX = "letter:"

    def __post_init__(self) -> None:
        if (self.header is None) == (self.letter is None):
            raise ValueError("a column is either a header name or a letter")

    @classmethod
    def parse(cls, spec: str) -> ColumnRef:
        """``"letter:B"`` -> column B; any other text -> that header name."""
        text = spec.strip()
        if not text:
            raise ValueError("a column must be a header name or 'letter:<column letter>'")
        if text[: len(cls.PREFIX)].casefold() == cls.PREFIX:
            letters = text[len(cls.PREFIX) :].strip()
            try:
                return cls(letter=column_letter(letters))
            except ValueError:
                raise ValueError(f"{spec!r}: {letters!r} is not a column letter (A to ZZZ)") from None
        return cls(header=text)

    def __str__(self) -> str:
        return f"{self.PREFIX}{self.letter}" if self.letter else str(self.header)

    def find(self, header_cells: Sequence[str], worksheet: str, row: int) -> str | None:
        """The column letter in this header row, None when the header is absent; two matches are ambiguous."""
        if self.letter:
            return self.letter
        key = header_key(str(self.header))
        hits = [column_letter(i + 1) for i, cell in enumerate(header_cells) if header_key(cell) == key]
        if len(hits) > 1:
            raise DuplicateHeader(str(self.header), worksheet, hits)
        return hits[0] if hits else None


def find_header_row(
    grid: Sequence[Sequence[str]],
    required: Sequence[ColumnRef],
    worksheet: str,
    *,
    scanned: str | None = None,
) -> int:
    """0-based index of the first row holding every required header; HeaderNotFound lists what lacked.

    When every required column is given by its letter, the header is the first non-blank row.
    """
    names = [str(ref.header) for ref in required if ref.header is not None]
    if names:
        try:
            return locate_header(grid, names, worksheet)
        except HeaderNotFound as missing:
            raise HeaderNotFound(missing.missing, worksheet, where=scanned) from None
    for index, row in enumerate(grid):
        if any(not _is_blank(c) for c in row):
            return index
    raise HeaderNotFound(["<any header>"], worksheet, where=scanned)


@dataclass(frozen=True)
class ColumnBlock:
    """Some columns of a worksheet below its header row, as read in one go.

    ``columns`` maps a letter to its cells from the row under the header down; Google cuts trailing
    blank cells, so the lists may differ in length: :meth:`column` pads them to :attr:`height`.
    """

    header_row: int  # 1-based
    header: tuple[str, ...]  # the header row's cells from column A
    columns: Mapping[str, list[str]]

    @property
    def height(self) -> int:
        """Rows below the header that any of the columns reaches."""
        return max((len(cells) for cells in self.columns.values()), default=0)

    def column(self, letter: str) -> list[str]:
        """The cells of one column, padded with blanks to :attr:`height`."""
        cells = self.columns[letter]
        return cells + [""] * (self.height - len(cells))


def columns_from_grid(
    grid: Sequence[Sequence[str]], letters: Iterable[str], first_row: int
) -> dict[str, list[str]]:
    """The given columns of a grid (first cell A1) from sheet row ``first_row`` down."""
    out: dict[str, list[str]] = {}
    rows = grid[first_row - 1 :]
    for letter in dict.fromkeys(letters):
        i = column_index(letter) - 1
        out[letter] = [row[i] if i < len(row) else "" for row in rows]
    return out


#: What a :meth:`SheetBackend.read_table` caller decides from the top of the sheet: the header row's
#: 0-based index and the letters of the columns to read below it.
Locate = Callable[[Sequence[Sequence[str]]], tuple[int, Sequence[str]]]


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
        present = {header_key(c) for c in header_cells}
        missing = [n.strip() for n in names if header_key(n) not in present]
        if missing:
            raise HeaderNotFound(missing, worksheet, header_sheet_row)

    positions: dict[str, int] = {}
    seen: dict[str, list[str]] = {}
    first_name: dict[str, str] = {}
    for offset, name in enumerate(header_cells):
        if not name:
            continue
        key = header_key(name)
        seen.setdefault(key, []).append(column_letter(first_col + offset))
        if key not in first_name:
            first_name[key] = name
            positions[name] = offset
    for key, letters in seen.items():
        if len(letters) > 1:
            raise DuplicateHeader(first_name[key], worksheet, letters)

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

    def write_columns(self, worksheet: str, columns: Sequence[ColumnValues]) -> int:
        """Write cells given column-wise in one batched operation; returns the number written.

        The default goes through :meth:`write_cells`; a backend overrides it where a million cells
        should not become a million objects.
        """
        return self.write_cells(worksheet, [u for column in columns for u in column.updates()])

    def read_table(self, worksheet: str, locate: Locate) -> ColumnBlock:
        """Find the header row with ``locate`` and read the columns it names below it.

        ``locate`` gets rows from the top of the sheet (at least up to the header) and returns the
        header's 0-based index and the letters to read; it raises :class:`HeaderNotFound` when the rows
        it got hold no header. The default reads the whole grid once.
        """
        grid = self.read_grid(worksheet)
        index, letters = locate(grid)
        header = tuple(grid[index]) if index < len(grid) else ()
        return ColumnBlock(index + 1, header, columns_from_grid(grid, letters, index + 2))

    def read_columns(self, worksheet: str, letters: Sequence[str], first_row: int) -> dict[str, list[str]]:
        """The given columns from ``first_row`` down (ragged: trailing blanks may be cut).

        For re-reading the key columns just before a write; the default reads the whole grid.
        """
        return columns_from_grid(self.read_grid(worksheet), letters, first_row)

    def read_rows(self, worksheet: str, first_row: int, last_row: int) -> list[list[str]]:
        """Rows ``first_row`` to ``last_row`` (1-based, inclusive; fewer where the sheet ends)."""
        return [list(row) for row in self.read_grid(worksheet)[first_row - 1 : last_row]]
