"""Inbound verification: check every Inbound Control row against what JTL-FFN booked, write a status.

Runs every morning (deployment ``inbound-verification-daily``) and ad hoc
(``jtl-automator run inbound-verification``). See docs/inbound-verification.md for what is compared.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from prefect import flow
from prefect.runtime import flow_run

from flows import ON_RUNNING
from jtl_automator.services.inbound_verification import SheetColumns
from tasks.cluster import cluster_address
from tasks.inbound_verification import (
    ffn_load_booked,
    inbound_publish_artifacts,
    inbound_reconcile,
    inbound_reconcile_on_cluster,
    inbound_resolve_sheet,
    sheet_read_inbound_control,
    sheet_write_statuses,
    store_record_inbound_checks,
)
from tasks.notify import notify_send
from tasks.resources import state_store


@flow(name="inbound-verification", log_prints=False, validate_parameters=True, on_running=ON_RUNNING)
def inbound_verification(
    sheet: str | None = None,
    worksheet: str | None = None,
    mode: Literal["inbound", "stock"] | None = None,
    dry_run: bool = False,
    columns: SheetColumns | None = None,
    ffn_block: str | None = None,
    sheets_block: str | None = None,
    database_block: str | None = None,
    email_block: str | None = None,
    email_to: list[str] | None = None,
    webhook_block: str | None = None,
    sheet_block: str | None = None,
    dask_address: str | None = None,
) -> dict[str, Any]:
    """Verify one Inbound Control sheet (a Google spreadsheet id or an ``.xlsx`` path).

    Args:
        sheet: Google spreadsheet id, or path of an ``.xlsx`` workbook (or from ``sheet_block``).
        worksheet: Tab name; default "Inbound Control" if present, else the first tab.
        mode: ``inbound`` (received per inbound) or ``stock`` (booked stock); default by the sheet's columns.
        dry_run: Compute and report, write nothing (no sheet, no history, no notification).
        columns: SKU, Units, Status, Note, Inbound, Warehouse and Checked columns: header names
            (matched ignoring case and spacing) or ``letter:B``.
        ffn_block: Name of a JtlFfnCredentials block (default: the JTL_FFN_* environment).
        sheets_block: Name of a GoogleSheetsCredentials block (default: the environment).
        database_block: Name of a StateDatabase block (default: JTL_DATABASE_URL).
        email_block: SmtpServer block for the mismatch e-mail.
        email_to: Recipients of the mismatch e-mail.
        webhook_block: WebhookEndpoint block called once when there are mismatches.
        sheet_block: InboundControlSheet block with the sheet, tab, mode and columns (parameters win).
        dask_address: Dask scheduler to reconcile a very large sheet on, in SKU parts (default:
            JTL_DASK_ADDRESS; none: this machine). The same results either way; see docs/production.md.
    """
    checked_at = datetime.now(UTC)
    target = inbound_resolve_sheet(sheet, worksheet, mode, columns, sheet_block)
    data = sheet_read_inbound_control(target.sheet, target.worksheet, target.columns, sheets_block)
    booked = ffn_load_booked(data, target.mode, ffn_block, database_block)
    reconciled = inbound_reconcile_on_cluster(data, booked, cluster_address(dask_address))
    results = inbound_reconcile(data, booked, target.sheet, database_block, reconciled)
    outcome = None if dry_run else sheet_write_statuses(target.sheet, data, results, checked_at, sheets_block)
    if outcome is not None:
        results = outcome.results  # row numbers where the rows are now
    counts = inbound_publish_artifacts(
        f"{target.sheet} / {data.worksheet}", results, dry_run, outcome, data.repeated_headers
    )
    summary: dict[str, Any] = {
        "mode": booked.mode,
        "rows": len(results),
        "counts": counts,
        "ffn_requests": booked.requests,
        "dry_run": dry_run,
        "cells_written": 0,
        "repeated_header_rows": len(data.repeated_headers),
    }
    if outcome is None:
        return summary
    summary.update(outcome.counts)
    store_record_inbound_checks(target.sheet, results, checked_at, database_block)
    attention = counts["MISMATCH"] + counts["UNKNOWN_SKU"] + counts["INBOUND_NOT_FOUND"]
    if attention and (email_block or webhook_block):
        summary["notified"] = notify_send(
            state_store(database_block),
            key=f"inbound-verification:{flow_run.get_id() or checked_at.isoformat()}",
            subject=f"Inbound verification: {attention} rows need a look",
            markdown=f"{attention} rows of {target.sheet} / {data.worksheet} did not match: {counts}",
            payload={"event": "inbound_verification.mismatches", "sheet": target.sheet, "counts": counts},
            email_block=email_block,
            recipients=email_to or [],
            webhook_block=webhook_block,
        )
    return summary
