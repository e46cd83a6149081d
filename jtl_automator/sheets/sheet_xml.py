"""Write cells into one worksheet part of an ``.xlsx`` by streaming its XML: nothing else changes.

Loading a workbook into a spreadsheet library and saving it again rewrites everything the library
does not model: openpyxl drops every formula's cached value, x14 extensions, charts, pivot caches.
So the writer does not load the workbook. It streams the one worksheet part through lxml (``iterparse``
in, ``xmlfile`` out, constant memory for any number of rows), copies every element it does not
target as it is (prefixes, extensions and unknown markup included), and changes only the target
cells: their value and type, nothing of their style, comments, validations or formats.

A cell is **skipped** (reported, the others are written) when writing it would destroy something of
the user's or break the file:

- it is covered by a merged range (only the range's top-left cell holds a value);
- it holds a formula, or lies in an array formula's range (the formula would be lost);
- the sheet is protected and the cell is locked (Excel would not let a user type there either).

Text is written as inline strings (the shared-strings part stays as it is), with OOXML's ``_xHHHH_``
escapes for characters XML cannot carry, and cut to Excel's 32,767 characters with a visible marker.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import re
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from lxml import etree
from openpyxl.utils.cell import column_index_from_string, get_column_letter, range_boundaries
from openpyxl.utils.datetime import CALENDAR_MAC_1904, WINDOWS_EPOCH, to_excel

from jtl_automator.sheets.a1 import CellValue
from jtl_automator.sheets.base import EXCEL_MAX_CELL_CHARS, TRUNCATED  # counted in UTF-16 units here
from jtl_automator.sheets.ooxml import Styles, q, reading
from jtl_automator.sheets.workbook_file import CorruptWorkbook

#: Excel's grid: A1:XFD1048576. A cell outside it makes Excel "repair" (drop) the sheet's data.
EXCEL_MAX_ROW, EXCEL_MAX_COL = 1_048_576, 16_384

DATE_FORMAT_ID = 14  # built-in short date, shown in the user's locale (30.06.2024 in German Excel)
DATETIME_FORMAT_ID = 22  # built-in short date and time

_ESCAPE_LIKE = re.compile(r"_(x[0-9A-Fa-f]{4}_)")
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
_XML_NS = "http://www.w3.org/XML/1998/namespace"
_XML_SPACE = f"{{{_XML_NS}}}space"
# lxml's incremental writer would invent a prefix for the xml namespace; it must stay ``xml:``.
_XML_BRACE = f"{{{_XML_NS}}}"
_XML_PREFIXED = {f"{_XML_BRACE}{name}": f"xml:{name}" for name in ("space", "lang", "base", "id")}
_WORKSHEET, _SHEET_DATA, _ROW, _COLS, _DIMENSION = (
    q(t) for t in ("worksheet", "sheetData", "row", "cols", "dimension")
)
_C, _V, _IS, _F, _T = (q(t) for t in ("c", "v", "is", "f", "t"))

Cell = tuple[int, int]  # (row, column), 1-based
Bounds = tuple[int, int, int, int]  # (min_col, min_row, max_col, max_row)


@dataclass(frozen=True)
class SkippedCell:
    """A target cell that was not written, and why (the other cells were)."""

    row: int
    col: int
    reason: str

    @property
    def coordinate(self) -> str:
        """``E8``."""
        return f"{get_column_letter(self.col)}{self.row}"

    def __str__(self) -> str:
        return f"{self.coordinate}: {self.reason}"


@dataclass
class SheetScan:
    """What a first pass over the sheet learns that the writer needs before the rows go by."""

    merged: list[Bounds] = field(default_factory=list)
    arrays: list[Bounds] = field(default_factory=list)
    protected: bool = False
    has_formulas: bool = False
    last_used_row: int = 0
    #: Formula cells the file holds no computed value for (saved by a program that does not
    #: calculate), with the formula's text ("" for a shared formula's follower).
    uncomputed: dict[Cell, str] = field(default_factory=dict)


@dataclass
class EditResult:
    """Which cells were written or skipped, whether anything changed, and the cell formats to add."""

    written: list[Cell] = field(default_factory=list)
    skipped: list[SkippedCell] = field(default_factory=list)
    changed: bool = False
    #: New cell formats, in order: (the format to copy, the number format it gets). Their indexes
    #: follow the workbook's existing formats.
    new_formats: list[tuple[int, int]] = field(default_factory=list)


def fit_cell_text(text: str) -> str:
    """Text cut to Excel's 32,767 characters (counted as Excel does, in UTF-16 units), marked as cut."""
    units = text.encode("utf-16-le", errors="surrogatepass")
    if len(units) // 2 <= EXCEL_MAX_CELL_CHARS:
        return text
    keep = units[: (EXCEL_MAX_CELL_CHARS - len(TRUNCATED)) * 2]
    if keep and 0xD8 <= keep[-1] <= 0xDB:  # never end on the first half of a surrogate pair
        keep = keep[:-2]
    return keep.decode("utf-16-le", errors="surrogatepass") + TRUNCATED


def ooxml_text(text: str) -> str:
    """Text as SpreadsheetML stores it: ``_xHHHH_`` for characters XML cannot hold, literal ``_x…_`` kept."""
    text = _ESCAPE_LIKE.sub(r"_x005F_\1", text)
    return _NOT_XML.sub(lambda m: f"_x{ord(m.group()):04X}_", text)


_UNESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")


def from_ooxml_text(text: str) -> str:
    """The reverse of :func:`ooxml_text` (Excel writes ``_x000D_`` for a carriage return, for example)."""
    if "_x" not in text:
        return text
    return _UNESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)


@dataclass(frozen=True)
class Encoded:
    """A value in cell form: the ``t`` attribute, the text, and a number format it needs (dates)."""

    kind: str | None  # None: clear the value; "n", "b", "inlineStr"
    text: str = ""
    number_format: int | None = None


def encode(value: CellValue, date1904: bool) -> Encoded | str:
    """The cell form of a value, or the reason it cannot be written."""
    if value is None:
        return Encoded(None)
    if isinstance(value, bool):
        return Encoded("b", "1" if value else "0")
    if isinstance(value, int):
        return Encoded("n", str(value))
    if isinstance(value, float):
        if not math.isfinite(value):
            return f"{value!r} is not a number Excel can store"
        return Encoded("n", _number(value))
    if isinstance(value, dt.datetime | dt.date):
        if isinstance(value, dt.datetime) and value.tzinfo is not None:
            return Encoded("inlineStr", value.isoformat())  # Excel has no time zones: keep it readable
        serial = to_excel(value, CALENDAR_MAC_1904 if date1904 else WINDOWS_EPOCH)
        form = DATETIME_FORMAT_ID if isinstance(value, dt.datetime) else DATE_FORMAT_ID
        return Encoded("n", _number(serial), form)
    return Encoded("inlineStr", ooxml_text(fit_cell_text(str(value))))


def _covering(bounds: list[Bounds], row: int, col: int) -> Bounds | None:
    for found in bounds:
        min_col, min_row, max_col, max_row = found
        if min_row <= row <= max_row and min_col <= col <= max_col:
            return found
    return None


def _a1(found: Bounds) -> str:
    min_col, min_row, max_col, max_row = found
    return f"{get_column_letter(min_col)}{min_row}:{get_column_letter(max_col)}{max_row}"


def _bounds(ref: str) -> Bounds | None:
    try:
        min_col, min_row, max_col, max_row = range_boundaries(ref.split()[0])
    except (ValueError, TypeError, IndexError):
        return None
    if None in (min_col, min_row, max_col, max_row):
        return None
    return (int(min_col), int(min_row), int(max_col), int(max_row))


def _fingerprint(cell: etree._Element) -> list[tuple[Any, ...]]:
    """Comparable form of a cell: every element's tag, attributes and text (``<t/>`` equals ``<t></t>``)."""
    return [(e.tag, sorted(e.attrib.items()), e.text or "") for e in cell.iter()]


def _number(value: float) -> str:
    """A number as ``<v>`` text: integers without a trailing ``.0``, other floats exactly (``repr``)."""
    if isinstance(value, int) or value.is_integer():
        return str(int(value))
    return repr(value)


def _flag(value: str | None) -> bool:
    return value is not None and value.strip().lower() in ("1", "true")


class _BadReference(ValueError):
    """A row or cell reference that is not one (the caller names the file)."""


def _column_of(ref: str) -> int:
    """``E12`` -> 5."""
    try:
        return int(column_index_from_string(ref.rstrip("0123456789")))
    except ValueError:
        raise _BadReference(f"a cell has the reference {ref!r}") from None


def _row_number(row: etree._Element, previous: int) -> int:
    """The row's ``r``, or the one after the previous row when it has none."""
    value = row.get("r")
    if value is None:
        return previous + 1
    try:
        return int(value)
    except ValueError:
        raise _BadReference(f"a row has the number {value!r}") from None


def _cells(row: etree._Element) -> Iterator[tuple[int, etree._Element]]:
    """The row's cells with their column (a cell without ``r`` follows the one before it)."""
    previous = 0
    for cell in row.iterchildren(_C):
        ref = cell.get("r")
        previous = _column_of(ref) if ref else previous + 1
        yield previous, cell


@contextlib.contextmanager
def _references(shown: Path) -> Iterator[None]:
    try:
        yield
    except _BadReference as exc:
        raise CorruptWorkbook(shown, f"is damaged: {exc}") from None


def scan_sheet(source: IO[bytes], shown: Path) -> SheetScan:
    """First pass: merged ranges, array formulas, protection, formulas, the last row with a value."""
    scan = SheetScan()
    previous_row = 0
    tags = (_ROW, q("mergeCell"), q("sheetProtection"))
    with reading(shown), _references(shown):
        for _, element in etree.iterparse(source, events=("end",), tag=tags, **_iterparse_options()):
            if element.tag == _ROW:
                number = _row_number(element, previous_row)
                previous_row = number
                for formula in element.iter(_F):
                    scan.has_formulas = True
                    if formula.get("t") in ("array", "dataTable") and formula.get("ref"):
                        found = _bounds(formula.get("ref", ""))
                        if found:
                            scan.arrays.append(found)
                if scan.has_formulas:
                    for col, cell in _cells(element):
                        formula = cell.find(_F)
                        if formula is not None and not cell.findtext(_V):
                            scan.uncomputed[(number, col)] = (formula.text or "").strip()
                if any(len(cell) for cell in element.iterchildren(_C)):
                    scan.last_used_row = number
                _drop(element)
            elif element.tag == q("mergeCell"):
                found = _bounds(element.get("ref", ""))
                if found:
                    scan.merged.append(found)
            else:
                scan.protected = _flag(element.get("sheet"))
    return scan


def _iterparse_options() -> dict[str, Any]:
    return {"resolve_entities": False, "no_network": True, "load_dtd": False, "remove_comments": False}


def _drop(element: etree._Element) -> None:
    """Free a finished element so a million rows never sit in memory at once."""
    element.clear()
    parent = element.getparent()
    if parent is not None:
        parent.remove(element)


class SheetEditor:
    """The second pass: copy the part, writing the target cells as it goes."""

    def __init__(
        self,
        cells: Mapping[Cell, CellValue],
        scan: SheetScan,
        styles: Styles,
        *,
        date1904: bool,
        shown: Path,
    ) -> None:
        self.scan = scan
        self.styles = styles
        self.date1904 = date1904
        self.shown = shown
        self.result = EditResult()
        self._by_row: dict[int, dict[int, CellValue]] = {}
        for (row, col), value in cells.items():
            self._by_row.setdefault(row, {})[col] = value
        self._pending = deque(sorted(self._by_row))  # target rows not yet reached, ascending
        self._column_styles: list[tuple[int, int, int]] = []  # (min, max, style) from <cols>
        self._new_format_index: dict[tuple[int, int], int] = {}

    # -- the stream ---------------------------------------------------------------------------------

    def run(self, source: IO[bytes], out: IO[bytes]) -> EditResult:
        """Copy ``source`` to ``out`` with the target cells written.

        Only the root, ``sheetData`` and rows raise events; everything else is copied when its turn
        comes (the elements before ``sheetData`` when it starts, those after it at the end).
        """
        tags = (_WORKSHEET, _SHEET_DATA, _ROW)
        with reading(self.shown), _references(self.shown), etree.xmlfile(out, encoding="UTF-8") as xf:
            xf.write_declaration(standalone=True)
            contexts: list[Any] = []
            root: etree._Element | None = None
            nsmap: dict[str | None, str] = {}
            sheet_data: etree._Element | None = None
            previous_row = 0
            seen_data = False
            events = etree.iterparse(source, events=("start", "end"), tag=tags, **_iterparse_options())
            for event, element in events:
                if root is None:
                    if element.tag != _WORKSHEET:
                        raise CorruptWorkbook(self.shown, "a sheet's part is not a worksheet")
                    root, nsmap = element, dict(element.nsmap)
                    contexts.append(xf.element(element.tag, self._attributes(element), nsmap=nsmap))
                    contexts[-1].__enter__()
                elif element is root:  # its end: what follows <sheetData> is complete now
                    if not seen_data:
                        raise CorruptWorkbook(self.shown, "a sheet has no <sheetData>")
                    self._emit_children(xf, root, nsmap)
                    contexts.pop().__exit__(None, None, None)
                elif element.tag == _SHEET_DATA and element.getparent() is root:
                    if event == "start":
                        self._emit_children(xf, root, nsmap, before=element)
                        seen_data, sheet_data = True, element
                        contexts.append(xf.element(element.tag, self._attributes(element)))
                        contexts[-1].__enter__()
                    else:
                        self._emit_children(xf, element, nsmap)  # comments after the last row
                        self._rows_before(xf, None, nsmap)
                        contexts.pop().__exit__(None, None, None)
                        sheet_data = None
                        _drop(element)
                elif event == "end" and sheet_data is not None and element.getparent() is sheet_data:
                    self._emit_children(xf, sheet_data, nsmap, before=element)  # comments between rows
                    number = _row_number(element, previous_row)
                    previous_row = number
                    self._rows_before(xf, number, nsmap)
                    if self._pending and self._pending[0] == number:
                        self._pending.popleft()
                        self._edit_row(element, number, self._by_row.pop(number))
                    if element.get("r") is None:
                        element.set("r", str(number))  # explicit, so a row added before it cannot shift it
                    self._emit(xf, element, nsmap)
                    _drop(element)
        return self.result

    def _emit_children(
        self, xf: Any, parent: etree._Element, nsmap: Mapping[str | None, str], before: Any = None
    ) -> None:
        """Write and free the finished children of ``parent`` (those before ``before``, if given)."""
        for child in list(parent):
            if child is before:
                break
            if child.tag == _COLS:
                self._read_column_styles(child)
            elif child.tag == _DIMENSION:
                self._widen_dimension(child)
            self._emit(xf, child, nsmap)
            parent.remove(child)

    @staticmethod
    def _attributes(element: etree._Element) -> Any:
        """The attributes as xmlfile takes them (``xml:space`` must keep its ``xml`` prefix)."""
        attributes = element.attrib
        if any(name in attributes for name in _XML_PREFIXED):
            return {_XML_PREFIXED.get(str(k), str(k)): v for k, v in attributes.items()}
        return attributes

    def _emit(self, xf: Any, element: etree._Element, inherited: Mapping[str | None, str]) -> None:
        """Write an element and its subtree, each namespace declared where the source declared it."""
        tag = element.tag
        if not isinstance(tag, str):  # comment or processing instruction
            xf.write(element, with_tail=False)
            return
        nsmap = element.nsmap
        local = None
        if nsmap != inherited:
            local = {p: u for p, u in nsmap.items() if inherited.get(p) != u}
        with xf.element(tag, self._attributes(element), nsmap=local):
            if element.text:
                xf.write(element.text)
            for child in element:
                self._emit(xf, child, nsmap)
                if child.tail:
                    xf.write(child.tail)

    def _rows_before(self, xf: Any, number: int | None, root_nsmap: Mapping[str | None, str]) -> None:
        """New rows for targets above row ``number`` (all remaining ones when None)."""
        while self._pending and (number is None or self._pending[0] < number):
            row_number = self._pending.popleft()
            row = etree.Element(_ROW, {"r": str(row_number)})
            self._edit_row(row, row_number, self._by_row.pop(row_number))
            if len(row):
                self._emit(xf, row, root_nsmap)

    def _widen_dimension(self, dimension: etree._Element) -> None:
        """The used range grows to take in the cells this write fills (it never shrinks)."""
        found = _bounds(dimension.get("ref", ""))
        filled = [
            (r, c) for r, cols in self._by_row.items() for c, value in cols.items() if value is not None
        ]
        if found is None or not filled:
            return
        rows = [r for r, _ in filled] + [found[1], found[3]]
        cols = [c for _, c in filled] + [found[0], found[2]]
        dimension.set("ref", _a1((min(cols), min(rows), max(cols), max(rows))))

    def _read_column_styles(self, cols: etree._Element) -> None:
        for col in cols.iterchildren(q("col")):
            if col.get("style") is not None:
                self._column_styles.append(
                    (int(col.get("min", "0")), int(col.get("max", "0")), int(col.get("style", "0")))
                )

    # -- one row ------------------------------------------------------------------------------------

    def _edit_row(self, row: etree._Element, number: int, targets: dict[int, CellValue]) -> None:
        existing = dict(_cells(row))
        if any(cell.get("r") is None for cell in existing.values()):
            for col, present in existing.items():  # explicit positions: an insert must not shift them
                present.set("r", f"{get_column_letter(col)}{number}")
        row_style = int(row.get("s", "0")) if _flag(row.get("customFormat")) else None
        for col in sorted(targets):
            value = targets[col]
            cell = existing.get(col)
            style = int(cell.get("s", "0")) if cell is not None else self._default_style(row_style, col)
            refusal = self._refusal(number, col, cell, style)
            encoded = encode(value, self.date1904) if refusal is None else refusal
            if isinstance(encoded, str):
                self.result.skipped.append(SkippedCell(number, col, encoded))
                continue
            if encoded.number_format is not None and self.styles.part is None:
                encoded = Encoded(
                    "inlineStr", value.isoformat() if isinstance(value, dt.date) else str(value)
                )
            if cell is None:
                if encoded.kind is None:
                    self.result.written.append((number, col))
                    continue  # clearing a cell that is not there: nothing to do
                cell = etree.Element(_C, {"r": f"{get_column_letter(col)}{number}"})
                if style:
                    cell.set("s", str(style))
                following = [c for k, c in sorted(existing.items()) if k > col]
                if following:
                    following[0].addprevious(cell)
                else:
                    row.append(cell)
                existing[col] = cell
                before: list[tuple[Any, ...]] = []
            else:
                before = _fingerprint(cell)
            self._set_value(cell, encoded, style)
            if cell.get("s") is None and encoded.kind is None and len(cell) == 0:
                row.remove(cell)
                del existing[col]
            self.result.written.append((number, col))
            if before != (_fingerprint(cell) if col in existing else []):
                self.result.changed = True
        self._widen_spans(row, existing)

    def _default_style(self, row_style: int | None, col: int) -> int:
        """What a user typing into an empty cell gets: the row's format, else the column's."""
        if row_style is not None:
            return row_style
        return next((style for low, high, style in self._column_styles if low <= col <= high), 0)

    def _refusal(self, row: int, col: int, cell: etree._Element | None, style: int) -> str | None:
        if row > EXCEL_MAX_ROW or col > EXCEL_MAX_COL:
            return "outside Excel's grid (the last cell is XFD1048576)"
        merged = _covering(self.scan.merged, row, col)
        if merged is not None and (merged[1], merged[0]) != (row, col):
            anchor = f"{get_column_letter(merged[0])}{merged[1]}"
            return f"covered by the merged cells {_a1(merged)} (only {anchor} holds a value)"
        array = _covering(self.scan.arrays, row, col)
        if array is not None:
            return f"part of the array formula in {_a1(array)}, which would be destroyed"
        if cell is not None:
            formula = cell.find(_F)
            if formula is not None:
                text = (formula.text or "").strip()
                shown = f" (={text[:60]}{'…' if len(text) > 60 else ''})" if text else ""
                return f"holds a formula{shown}, which is kept; clear the cell to let the flow write there"
        if self.scan.protected and self.styles.format(style).locked:
            return "the sheet is protected and the cell is locked (unlock the column to let the flow write)"
        return None

    def _set_value(self, cell: etree._Element, encoded: Encoded, style: int) -> None:
        for child in list(cell):
            if child.tag in (_V, _IS, _F):
                cell.remove(child)
        for attribute in ("t", "vm", "cm"):
            if attribute in cell.attrib:
                del cell.attrib[attribute]
        if encoded.kind is None:
            return
        if encoded.number_format is not None and not self.styles.format(style).is_date:
            cell.set("s", str(self._date_style(style, encoded.number_format)))
        position = 0
        if encoded.kind == "inlineStr":
            cell.set("t", "inlineStr")
            inline = etree.Element(_IS)
            text = etree.SubElement(inline, _T)
            text.text = encoded.text
            if encoded.text != encoded.text.strip() or "\n" in encoded.text:
                text.set(_XML_SPACE, "preserve")
            cell.insert(position, inline)
            return
        if encoded.kind == "b":
            cell.set("t", "b")
        value = etree.Element(_V)
        value.text = encoded.text
        cell.insert(position, value)

    def _date_style(self, style: int, number_format: int) -> int:
        """A copy of the cell's format with a date number format (added once per write)."""
        key = (style, number_format)
        if key not in self._new_format_index:
            self._new_format_index[key] = len(self.styles.formats) + len(self.result.new_formats)
            self.result.new_formats.append(key)
        return self._new_format_index[key]

    @staticmethod
    def _widen_spans(row: etree._Element, existing: Mapping[int, etree._Element]) -> None:
        """``spans`` is an optional hint of the row's columns; it must still include every cell."""
        spans = row.get("spans")
        if not spans or not existing:
            return
        bounds: list[tuple[int, int]] = []
        for part in spans.split():
            low_text, _, high_text = part.partition(":")
            if not (low_text.isdigit() and high_text.isdigit()):
                del row.attrib["spans"]  # not a hint anyone can use: drop it rather than mislead
                return
            bounds.append((int(low_text), int(high_text)))
        cols = list(existing)
        if all(any(low <= col <= high for low, high in bounds) for col in cols):
            return
        row.set("spans", f"{min(min(b[0] for b in bounds), *cols)}:{max(max(b[1] for b in bounds), *cols)}")
