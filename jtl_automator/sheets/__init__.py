"""Spreadsheet access for the flows: one interface; Google Sheets (gspread) and ``.xlsx`` (openpyxl)."""

from jtl_automator.sheets.a1 import CellUpdate, CellValue
from jtl_automator.sheets.base import (
    DuplicateHeader,
    HeaderNotFound,
    SheetBackend,
    SheetError,
    SheetFrame,
    WorksheetNotFound,
)
from jtl_automator.sheets.gsheets import (
    GoogleSheetsBackend,
    SheetApiError,
    SheetAuthError,
    SheetPermissionDenied,
    SheetRateLimited,
    SheetUnavailable,
    SpreadsheetNotFound,
)
from jtl_automator.sheets.xlsx import ExcelBackend

__all__ = [
    "CellUpdate",
    "CellValue",
    "DuplicateHeader",
    "ExcelBackend",
    "GoogleSheetsBackend",
    "HeaderNotFound",
    "SheetApiError",
    "SheetAuthError",
    "SheetBackend",
    "SheetError",
    "SheetFrame",
    "SheetPermissionDenied",
    "SheetRateLimited",
    "SheetUnavailable",
    "SpreadsheetNotFound",
    "WorksheetNotFound",
]
