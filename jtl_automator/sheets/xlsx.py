"""``.xlsx``/``.xlsm`` backend: reads through openpyxl, writes only the target cells of the file.

Reads use openpyxl in read-only mode with the cached values (``data_only``): a formula cell reads as
what Excel last computed. Writes never load and save the workbook (that would rewrite every part the
library does not model); they stream the one worksheet part and copy every other part of the zip as
it is (see :mod:`jtl_automator.sheets.sheet_xml`). After a write the workbook differs from before only
in the written cells, plus two things those cells need: a date format added to the styles when a date
goes into a cell without one, and the workbook's "recalculate on open" flag when it has formulas, so
a formula over the written cells (a count of MISMATCH rows, say) shows the new result in Excel.

The file is replaced atomically and only when safe (:mod:`jtl_automator.sheets.workbook_file`): not
while Excel or LibreOffice has it open, not when it is read-only, through a symbolic link to its
target, with its mode kept, and only after the new copy has been read back and found right.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import logging
import os
import shutil
import tempfile
import warnings
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any
from xml.etree import ElementTree

import openpyxl
from lxml import etree

from jtl_automator.sheets.a1 import CellUpdate, CellValue, normalize_updates
from jtl_automator.sheets.base import (
    EXCEL_MAX_CELL_CHARS,
    SheetBackend,
    SheetError,
    WorksheetNotFound,
    resolve_title,
)
from jtl_automator.sheets.ooxml import (
    NotAWorksheet,
    PackageIndex,
    SheetEntry,
    Styles,
    open_package,
    open_part,
    parse_part,
    q,
    read_index,
    read_styles,
    reading,
)
from jtl_automator.sheets.sheet_xml import (
    Cell,
    SheetEditor,
    SheetScan,
    SkippedCell,
    encode,
    from_ooxml_text,
    scan_sheet,
)
from jtl_automator.sheets.workbook_file import (
    CorruptWorkbook,
    FileVersion,
    WorkbookError,
    atomic_replace,
    ensure_not_locked,
    ensure_writable,
    resolve_target,
)

__all__ = ["EXCEL_MAX_CELL_CHARS", "ExcelBackend", "SkippedCell", "cell_text"]

logger = logging.getLogger(__name__)

_SPOOL_BYTES = 32 * 1024 * 1024  # a rewritten sheet part stays in memory up to this size, then on disk
_REPORTED_SKIPS = 20
# Elements that come before <calcPr> in a workbook part (the schema fixes the order).
_BEFORE_CALC = ("fileVersion", "fileSharing", "workbookPr", "workbookProtection", "bookViews", "sheets",
                "functionGroups", "externalReferences", "definedNames")  # fmt: skip


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
    """A workbook on disk. ``skipped`` lists the cells the last write left alone, with the reason."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.skipped: list[SkippedCell] = []

    def __repr__(self) -> str:
        return f"ExcelBackend({str(self.path)!r})"

    # -- reading ------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _package(self) -> Iterator[tuple[Path, zipfile.ZipFile, PackageIndex]]:
        target = resolve_target(self.path)
        with open_package(target, self.path) as package:
            yield target, package, read_index(package, self.path)

    def _entry(self, package: zipfile.ZipFile, index: PackageIndex, worksheet: str) -> SheetEntry:
        title = resolve_title(worksheet, index.titles)
        if title is None:
            raise WorksheetNotFound(worksheet, index.titles)
        entry = index.entry(title)
        if entry.kind != "worksheet":
            raise NotAWorksheet(title, entry.kind)
        if entry.part not in package.NameToInfo:
            raise CorruptWorkbook(self.path, f"lacks its part {entry.part} (the tab {title!r})")
        return entry

    def worksheet_names(self) -> list[str]:
        """Titles of the tabs, in workbook order (hidden ones included: they can be named)."""
        with self._package() as (_, _, index):
            return index.titles

    def visible_worksheet_names(self) -> list[str]:
        """Titles of the worksheets a user sees as tabs (not hidden, not chart sheets)."""
        with self._package() as (_, _, index):
            return index.visible_worksheets()

    def read_grid(self, worksheet: str) -> list[list[str]]:
        """Cached values (formulas read as their last computed result) as text; trailing blank rows cut.

        A formula the file holds no result for (the workbook was last saved by a program that does not
        calculate) reads as its formula text, ``=B4*2``, not as an empty cell: a row that depends on it
        is then reported as unreadable instead of looking blank or empty.
        """
        with self._package() as (target, package, index):
            entry = self._entry(package, index, worksheet)
            with open_part(package, entry.part, self.path) as stream:
                uncomputed = scan_sheet(stream, self.path).uncomputed
        grid = list(self._rows(target, entry.title))
        for (row, col), formula in uncomputed.items():
            while len(grid) < row:
                grid.append([])
            line = grid[row - 1]
            line.extend([""] * (col - len(line)))
            if not line[col - 1]:
                line[col - 1] = f"={formula}" if formula else "=(shared formula without a computed value)"
        while grid and not any(grid[-1]):
            grid.pop()
        return grid

    def _rows(
        self, source: Path | IO[bytes], title: str, window: tuple[int, int, int, int] | None = None
    ) -> Iterator[list[str]]:
        """The sheet's rows as text (in ``window`` = min_row, max_row, min_col, max_col, if given)."""
        try:
            with warnings.catch_warnings():
                # openpyxl warns that it would drop extensions on save; it never saves here.
                warnings.simplefilter("ignore", UserWarning)
                workbook = openpyxl.load_workbook(source, read_only=True, data_only=True)
                try:
                    sheet: Any = workbook[title]
                    sheet.reset_dimensions()  # a stale <dimension> from another writer must not cut rows
                    if window is None:
                        rows = sheet.iter_rows(values_only=True)
                    else:
                        top, bottom, left, right = window
                        rows = sheet.iter_rows(
                            min_row=top, max_row=bottom, min_col=left, max_col=right, values_only=True
                        )
                    for row in rows:
                        yield [_text(v) for v in row]
                finally:
                    workbook.close()
        except SheetError:
            raise
        except (ElementTree.ParseError, etree.XMLSyntaxError) as exc:
            raise CorruptWorkbook(self.path, f"holds a part that is not well-formed XML ({exc})") from None
        except Exception as exc:  # openpyxl raises anything on a damaged part; say which file, in one line
            raise CorruptWorkbook(self.path, f"cannot be read ({type(exc).__name__}: {exc})") from None

    # -- writing ------------------------------------------------------------------------------------

    def write_cells(self, worksheet: str, updates: Sequence[CellUpdate]) -> int:
        """Write these cells, nothing else; returns how many were written (see ``skipped`` for the rest)."""
        cells = normalize_updates(updates)
        self.skipped = []
        if not cells:
            return 0
        return self._write(worksheet, lambda _: cells)

    def append_rows(self, worksheet: str, rows: Sequence[Sequence[CellValue]]) -> int:
        """Write after the last row holding a value (not after rows that only carry formatting)."""
        first: list[int] = []

        def plan(scan: SheetScan) -> dict[Cell, CellValue]:
            first.append(scan.last_used_row + 1)
            return {
                (first[0] + offset, col): value
                for offset, values in enumerate(rows)
                for col, value in enumerate(values, start=1)
            }

        self.skipped = []
        self._write(worksheet, plan)
        return first[0]

    def _write(self, worksheet: str, plan: Callable[[SheetScan], Mapping[Cell, CellValue]]) -> int:
        target = resolve_target(self.path)
        ensure_not_locked(self.path, target)
        ensure_writable(self.path, target)
        version = FileVersion.of(target)
        with open_package(target, self.path) as package:
            index = read_index(package, self.path)
            entry = self._entry(package, index, worksheet)
            styles = read_styles(package, index, self.path)
            with open_part(package, entry.part, self.path) as stream:
                scan = scan_sheet(stream, self.path)
            cells = plan(scan)
            if not cells:
                return 0
            editor = SheetEditor(cells, scan, styles, date1904=index.date1904, shown=self.path)
            with tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES) as sheet_part:
                with open_part(package, entry.part, self.path) as stream:
                    result = editor.run(stream, sheet_part)
                self.skipped = result.skipped
                self._report(entry.title, result.skipped)
                if not result.changed:
                    return len(result.written)  # the cells already hold these values: the file stays as it is
                replaced: dict[str, IO[bytes] | bytes] = {entry.part: sheet_part}
                if result.new_formats and styles.part is not None:
                    replaced[styles.part] = _styles_with(package, styles, result.new_formats, self.path)
                if scan.has_formulas or _has_formulas(package, index, entry, self.path):
                    workbook_part = _recalculate_on_open(package, index, self.path)
                    if workbook_part is not None:
                        replaced[index.workbook_part] = workbook_part
                with atomic_replace(self.path, target, version) as handle:
                    _copy_package(package, handle, replaced, self.path)
                    self._verify(handle, entry.title, cells, set(result.written))
        return len(result.written)

    def _report(self, title: str, skipped: Sequence[SkippedCell]) -> None:
        for cell in skipped[:_REPORTED_SKIPS]:
            logger.warning("%s: %r!%s not written: %s", self.path, title, cell.coordinate, cell.reason)
        if len(skipped) > _REPORTED_SKIPS:
            logger.warning("%s: %d more cells not written", self.path, len(skipped) - _REPORTED_SKIPS)

    def _verify(
        self, handle: IO[bytes], title: str, cells: Mapping[Cell, CellValue], written: set[Cell]
    ) -> None:
        """Read the new copy back (an independent reader: openpyxl) before it replaces the workbook."""
        handle.flush()
        handle.seek(0)
        with reading(self.path), zipfile.ZipFile(handle) as check:
            broken = check.testzip()
        if broken is not None:
            raise WorkbookError(
                self.path, f"the new copy's part {broken} is damaged; the workbook is unchanged"
            )
        if not written:
            return
        by_row: dict[int, list[int]] = {}
        for row, col in written:
            by_row.setdefault(row, []).append(col)
        top, bottom = min(by_row), max(by_row)
        left, right = min(c for _, c in written), max(c for _, c in written)
        handle.seek(0)
        for row, line in enumerate(self._rows(handle, title, (top, bottom, left, right)), start=top):
            for col in by_row.pop(row, ()):
                found = line[col - left] if col - left < len(line) else ""
                self._check(title, row, col, found, cells[(row, col)])
        for row, cols in by_row.items():  # rows the reader never reached
            for col in cols:
                self._check(title, row, col, "", cells[(row, col)])

    def _check(self, title: str, row: int, col: int, found: str, value: CellValue) -> None:
        wanted = _read_back(value)
        if found != wanted:
            raise WorkbookError(
                self.path,
                f"the new copy reads {found[:40]!r} at {title!r}!{SkippedCell(row, col, '').coordinate} "
                f"instead of {wanted[:40]!r}; the workbook is unchanged",
            )


def _text(value: Any) -> str:
    """A value read from the file as text, with OOXML's ``_xHHHH_`` escapes undone."""
    return from_ooxml_text(value) if isinstance(value, str) else cell_text(value)


def _read_back(value: CellValue) -> str:
    """What the verifying read must find in a cell after ``value`` was written."""
    encoded = encode(value, date1904=False)
    if isinstance(encoded, str) or encoded.kind is None:
        return ""
    if encoded.kind == "inlineStr":
        return from_ooxml_text(encoded.text)
    if isinstance(value, dt.datetime):  # Excel keeps milliseconds; openpyxl rounds to them
        value = value.replace(microsecond=0) + dt.timedelta(milliseconds=round(value.microsecond / 1000))
    return cell_text(value)


def _copy_package(
    package: zipfile.ZipFile, out: IO[bytes], replaced: Mapping[str, IO[bytes] | bytes], shown: Path
) -> None:
    """Every part in its order with its zip metadata; the replaced parts with their new content."""
    with reading(shown), zipfile.ZipFile(out, "w") as copy_:
        copy_.comment = package.comment
        for info in package.infolist():
            entry = zipfile.ZipInfo(info.filename, info.date_time)
            entry.compress_type = info.compress_type
            entry.external_attr = info.external_attr
            entry.create_system = info.create_system
            entry.comment = info.comment
            if info.is_dir():
                copy_.writestr(entry, b"")
                continue
            new = replaced.get(info.filename)
            with copy_.open(entry, "w", force_zip64=info.file_size > 2**30) as target:
                if new is None:
                    with package.open(info) as source:
                        shutil.copyfileobj(source, target, 1024 * 1024)
                elif isinstance(new, bytes):
                    target.write(new)
                else:
                    new.seek(0)
                    shutil.copyfileobj(new, target, 1024 * 1024)
            entry.external_attr = info.external_attr  # zipfile sets 0o600 for 0 when it writes an entry


def _styles_with(
    package: zipfile.ZipFile, styles: Styles, new_formats: Sequence[tuple[int, int]], shown: Path
) -> bytes:
    """The styles part with the date formats a write needs appended to ``cellXfs`` (nothing else changes)."""
    assert styles.part is not None
    root = parse_part(package, styles.part, shown)
    formats = root.find(q("cellXfs"))
    if formats is None:
        formats = etree.SubElement(root, q("cellXfs"))
    existing = list(formats.iterchildren(q("xf")))
    for base, number_format in new_formats:
        if base < len(existing):
            added = copy.deepcopy(existing[base])
        else:
            added = etree.Element(q("xf"), {"fontId": "0", "fillId": "0", "borderId": "0", "xfId": "0"})
        added.set("numFmtId", str(number_format))
        added.set("applyNumberFormat", "1")
        formats.append(added)
    formats.set("count", str(len(existing) + len(new_formats)))
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True))


def _has_formulas(package: zipfile.ZipFile, index: PackageIndex, written: SheetEntry, shown: Path) -> bool:
    """Whether any other worksheet holds a formula (which may depend on the written cells)."""
    if "xl/calcChain.xml" in package.NameToInfo:  # Excel lists every formula cell there
        return True
    for entry in index.sheets:
        if entry.kind != "worksheet" or entry.part == written.part or entry.part not in package.NameToInfo:
            continue
        with open_part(package, entry.part, shown) as stream:
            if scan_sheet(stream, shown).has_formulas:
                return True
    return False


def _recalculate_on_open(package: zipfile.ZipFile, index: PackageIndex, shown: Path) -> bytes | None:
    """The workbook part with ``fullCalcOnLoad`` set, or None if it is set already.

    Formulas keep their cached values (the flow reads those); the flag only makes Excel recompute on
    open, so a formula over a written cell does not show the result from before the write.
    """
    root = parse_part(package, index.workbook_part, shown)
    calc = root.find(q("calcPr"))
    if calc is None:
        calc = etree.Element(q("calcPr"))
        before = [c for c in root if isinstance(c.tag, str) and etree.QName(c).localname in _BEFORE_CALC]
        if before:
            before[-1].addnext(calc)
        else:
            root.insert(0, calc)
    elif (calc.get("fullCalcOnLoad") or "").lower() in ("1", "true"):
        return None
    calc.set("fullCalcOnLoad", "1")
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True))
