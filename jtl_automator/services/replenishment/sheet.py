"""The Google Sheet "Bestellvorschlag": the workbook's tabs written into one spreadsheet on every run.

The spreadsheet belongs to the run: its tabs are rewritten in place (low stock first, one per
supplier, not orderable), and supplier tabs of earlier runs that this run no longer writes are deleted,
so a stale row with an old plan id cannot be ticked by mistake. Other tabs (a person's notes) are left
alone. ``jtl-automator plans approve-from <spreadsheet id>`` reads the marks back.
"""

from __future__ import annotations

from collections.abc import Sequence

from jtl_automator.services.replenishment.output import APPROVAL_HEADER, PLAN_HEADER, Tab
from jtl_automator.sheets.base import header_key
from jtl_automator.sheets.gsheets import GoogleSheetsBackend

_OURS = frozenset({header_key(APPROVAL_HEADER), header_key(PLAN_HEADER)})


def write_sheet(backend: GoogleSheetsBackend, tabs: Sequence[Tab]) -> int:
    """Write the tabs; returns the requests sent (a few, whatever the number of suppliers)."""
    wanted = {tab.title for tab in tabs}
    stale = []
    for title in backend.worksheet_names():
        if title in wanted:
            continue
        head = backend.read_rows(title, 1, 1)
        if head and {header_key(cell) for cell in head[0]} >= _OURS:
            stale.append(title)
    return backend.replace_tabs({tab.title: [tab.headers, *tab.rows] for tab in tabs}, delete=stale)
