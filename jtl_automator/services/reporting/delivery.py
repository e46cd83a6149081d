"""Where a report goes besides the workbook: the Google Sheet tab, the e-mail, the chart pictures.

The e-mail goes once per report, period and version of the figures: a rerun with the same figures sends
nothing; one whose figures changed (a backfill after late orders) sends the corrected report once. The
key is the report, the period and a hash of the headline figures; the send goes through the state
store's ``run_once`` and the Message-ID derives from the key, so a crash between the SMTP answer and the
record makes at most a repeat the mail server can recognise.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from jtl_automator.notify.mail import Attachment, AttachmentMailer
from jtl_automator.reports.gsheet import sheet_tab
from jtl_automator.reports.markdown import headline_markdown
from jtl_automator.reports.model import Report, plain
from jtl_automator.sheets.gsheets import GoogleSheetsBackend
from jtl_automator.store import StateStore

KIND = "report-mail"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def report_version(report: Report) -> str:
    """A short hash of what the report says at the top: its headline figures and what is missing."""
    basis = {
        "kpis": [(k.key, plain(k.value), k.missing) for k in report.kpis],
        "missing": report.missing(),
    }
    return hashlib.sha256(json.dumps(basis, sort_keys=True, default=str).encode()).hexdigest()[:16]


def mail_key(report: Report) -> str:
    """The ledger key of this report's e-mail: report, period and version of the figures."""
    return f"report:{report.name}:{report.period}:mail:{report_version(report)}"


def mail_report(
    store: StateStore,
    mailer: AttachmentMailer,
    recipients: Sequence[str],
    report: Report,
    workbook: Path,
    *,
    run_id: str,
) -> dict[str, Any]:
    """Send the headline figures with the workbook attached, unless this version went out already."""
    key = mail_key(report)
    data = workbook.read_bytes()

    def send() -> dict[str, Any]:
        sent = mailer.send(
            list(recipients),
            f"{report.title} {report.period}",
            headline_markdown(report, workbook=None),
            format="markdown",
            idempotency_key=key,
            attachments=[Attachment(f"{report.name}-{report.period}.xlsx", data, XLSX_TYPE)],
        )
        return {"message_id": str(getattr(sent, "message_id", "")), "recipients": len(recipients)}

    if store.run_once(key, KIND, send, run_id=run_id):
        return {"sent": True, "key": key, "recipients": len(recipients)}
    return {"sent": False, "key": key, "reason": "this version of the report was sent before"}


def write_report_sheet(backend: GoogleSheetsBackend, report: Report) -> int:
    """The report's tab in the spreadsheet, replaced whole and formatted; returns the requests sent."""
    title, rows, formats = sheet_tab(report)
    return backend.rewrite_tab(title, rows, formats)


def chart_pictures(report: Report) -> list[tuple[str, str, bytes]]:
    """(chart key, title, PNG) of the report's charts marked ``picture`` whose table has rows."""
    from jtl_automator.reports.picture import chart_png  # matplotlib: only where pictures are drawn

    found = []
    for chart in report.charts:
        table = report.table(chart.table)
        if chart.picture and table.rows:
            found.append((chart.key, chart.title, chart_png(chart, table)))
    return found
