"""Stage 0: the supplier's feed as a grid of texts, from a CSV file, an ``.xlsx`` workbook or a Google Sheet.

The source decides the reader: a path ending in ``.csv``/``.txt`` is read with pandas (``csv_grid``), an
``.xlsx``/``.xlsm`` path with the Excel backend (openpyxl), anything else is a Google spreadsheet id
(gspread, through the ``open_sheet`` the caller passes, so this module needs no credentials). Each read
has a fingerprint (SHA-256 of the file's bytes, or of the cells of the tab read), which the scheduled
check compares with the last one it processed (``only_if_changed``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from jtl_automator.sheets.base import SheetBackend, SheetError
from jtl_automator.sheets.workbook_file import workbook_path
from jtl_automator.sheets.xlsx import ExcelBackend
from jtl_automator.transforms.product_feed import (
    SHEET_NUMBERS,
    FeedError,
    FeedMapping,
    NumberFormat,
    csv_grid,
)

FeedKind = Literal["csv", "xlsx", "sheet"]
CSV_SUFFIXES = (".csv", ".txt")
SheetOpener = Callable[[str], SheetBackend]


@dataclass(frozen=True)
class FeedRead:
    """A feed as read: its cells, how numbers are written in it, and its fingerprint."""

    source: str
    kind: FeedKind
    grid: list[list[str]]
    number: NumberFormat
    fingerprint: str
    bad_lines: dict[int, str] = field(default_factory=dict)
    encoding: str | None = None
    worksheet: str | None = None


def feed_kind(source: str) -> FeedKind:
    """``csv`` for a .csv/.txt path, ``xlsx`` for a workbook path, else ``sheet`` (a spreadsheet id)."""
    if source.lower().endswith(CSV_SUFFIXES):
        return "csv"
    wrong = FeedError(f"{source}: a feed is a .csv/.txt file, an .xlsx/.xlsm workbook or a Google Sheet id")
    try:
        if workbook_path(source) is not None:
            return "xlsx"
    except SheetError:  # a path of another known format (.json, .ods, ...)
        raise wrong from None
    if "/" in source or "\\" in source or Path(source).suffix:
        raise wrong
    return "sheet"


def read_feed(source: str, mapping: FeedMapping, open_sheet: SheetOpener | None = None) -> FeedRead:
    """Read the feed ``source`` as ``mapping`` describes it; :class:`FeedError` when it cannot be read."""
    kind = feed_kind(source)
    if kind == "csv":
        path = Path(source)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise FeedError(f"{source}: cannot be read: {exc.strerror or exc}") from None
        table = csv_grid(data, mapping.csv, source)
        number = NumberFormat(decimal=mapping.csv.decimal, thousands=mapping.csv.thousands)
        fingerprint = hashlib.sha256(data).hexdigest()
        return FeedRead(source, kind, table.rows, number, fingerprint, table.bad_lines, table.encoding)
    try:
        if kind == "xlsx":
            backend: SheetBackend = ExcelBackend(source)
        elif open_sheet is None:
            raise FeedError(f"{source}: a Google Sheet feed needs Google credentials")
        else:
            backend = open_sheet(source)
        worksheet = mapping.worksheet
        if worksheet is None:
            visible = backend.visible_worksheet_names()
            if not visible:
                raise FeedError(f"{source}: the workbook has no visible tab")
            worksheet = visible[0]
        grid = backend.read_grid(worksheet)
    except (SheetError, OSError) as exc:
        raise FeedError(f"{source}: {exc}") from None
    text = json.dumps(grid, ensure_ascii=False, separators=(",", ":"))
    fingerprint = hashlib.sha256(text.encode()).hexdigest()
    return FeedRead(source, kind, grid, SHEET_NUMBERS, fingerprint, worksheet=worksheet)
