"""Sandbox spreadsheets as real ``.xlsx`` workbooks (the demo's Excel variant of the Inbound Control)."""

from __future__ import annotations

from pathlib import Path

from openpyxl import Workbook

from jtl_automator.sandbox.data import Spreadsheet


def save_as_xlsx(spreadsheet: Spreadsheet, path: Path) -> Path:
    """Write every tab with its values as they are (strings stay text, so '00123' keeps its zeros)."""
    workbook = Workbook()
    default = workbook.active
    for index, tab in enumerate(spreadsheet.worksheets):
        sheet = workbook.create_sheet(tab.title, index)
        for row in tab.values:
            sheet.append(list(row))
    if default is not None and len(spreadsheet.worksheets) > 0:
        workbook.remove(default)
    path.parent.mkdir(parents=True, exist_ok=True)
    workbook.save(path)
    return path
